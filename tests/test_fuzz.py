"""A contract fuzz run: schemathesis generates requests from the served spec, with its default
phases (explicit examples, coverage, fuzzing) and valid and invalid data alike, and runs every
check it has: no 5xx, every answer as the spec declares it, every invalid request refused
(a 413 or 414 counts), every valid one accepted, save where a rule no JSON Schema can state
refuses it: tests/schemathesis.toml says both, for the suite and the CLI alike.

Every operation is fuzzed. Before a generated request is sent, `confine` keeps its effects on
this machine and on this run's objects: containers are made from the busybox test image with
`pull: never` and the run's label; pull, push and build only ever name the loopback registry or
local images; names and references the daemon would resolve get a prefix of this run, so that
no generated name or id prefix reaches another client's container or image; the events stream
is given an `until` in the past, so that it ends. Services, secrets and configs get the run's
prefix and label, a service at most one task from the test image and no published port. The
token has every scope but admin, and belongs to a team: its prunes and bulk deletes act on
what it made alone, and no image or system prune, swarm init or leave, or node drain can run,
so the real swarm's state (if the engine is in one) stays as it is. Another team's container,
volume and network carry the names generated ones most often become; the fuzz never sees,
changes or removes them."""

import copy
import io
import re
import tarfile
import tomllib
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from service import create_app
from service.auth import hash_token
from service.gateway.registry import split_term
from service.schemas import LABELS_MAX
from tests import contract
from tests.conftest import ENGINE_URL, LABELS, RUN_ID, remove_labelled
from tests.search_index import SearchIndex

SECRET = "fuzz-token"
OTHER = "other-team-token"
app = create_app(
    {
        "TESTING": True,
        "DOCKER_URL": ENGINE_URL,
        "TOKENS": [
            {
                "name": "fuzz",
                "hash": hash_token(SECRET),
                "scopes": ["read", "operate", "exec", "write"],
                "team": "fuzz",
            },
            {"name": "other", "hash": hash_token(OTHER), "scopes": ["write"], "team": "other"},
        ],
        # no grants: each team has what it made
        "GRANTS_FILE": "",
        "AUDIT_LOG": "/dev/null",
        # schemathesis's wsgi transport never closes an answer that is not an event stream, so
        # the stream places such answers take are not given back as a server gives them back
        "MAX_STREAMS": 1_000_000,
    }
)
# how schemathesis judges the service, as the CLI is given it (a 413 or 414 is a refusal)
CONFIG_FILE = Path(__file__).with_name("schemathesis.toml")
CONFIG = SchemathesisConfig.from_path(CONFIG_FILE)
schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=CONFIG)
BODIES = contract.Checker(schema.raw_schema)
HEADER = ParameterLocation.HEADER


def body_fits(case) -> bool:
    """Whether the body sent fits what the operation declares for its media type."""
    operation = schema.raw_schema["paths"][case.path].get(case.method.lower(), {})
    media = operation.get("requestBody", {}).get("content", {}).get(case.media_type)
    if isinstance(case.body, bytes):
        return True  # only ever a tar archive confine wrote
    if media is None or not isinstance(case.body, dict | list):
        return False
    key = ("request", case.path, case.method, case.media_type)
    try:
        return BODIES.validator(key, media["schema"]).is_valid(case.body)
    except (TypeError, ValueError):
        return False  # bytes, and what JSON cannot hold


@schemathesis.serializer("application/x-tar", "application/octet-stream", "application/gzip")
def tar_bytes(ctx, value):
    # generated bodies for tar uploads: rarely archives, which the service must refuse cleanly
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


# (method, path): why the fuzz leaves it out; the coverage test below holds every other
# operation of the spec to be fuzzed
EXCLUDED: dict[tuple[str, str], str] = {}
# operations the fuzz still finds failing, with what it finds; strict, so that a fix shows
KNOWN_FAILURES = {}

# generated names and references are confined to these, so that they only meet this run's
# objects (a bare "a" would be any container whose id starts with an a)
NAME_PREFIX = f"fz{RUN_ID}-"
NAMESPACE = f"dockyard-fuzz-{RUN_ID}"
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
LABEL_ITEMS = [f"{key}={value}" for key, value in LABELS.items()]


def fuzzed_operations():
    fuzzed = schema.exclude(
        lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in EXCLUDED
    )
    return {(op.method.upper(), op.path) for op in (r.ok() for r in fuzzed.get_all_operations())}


def spec_operations():
    verbs = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {
        (method.upper(), path)
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method in verbs
    }


def test_fuzz_covers_every_operation():
    fuzzed = fuzzed_operations()
    assert fuzzed | set(EXCLUDED) == spec_operations()
    assert not fuzzed & set(EXCLUDED)
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_the_config_names_operations_of_the_document():
    """Each operation excused from a check in the config file is one the document has."""
    named = tomllib.loads(CONFIG_FILE.read_text())["operations"]
    assert named and all(entry["include-name"].split(" ", 1) for entry in named)
    assert {tuple(entry["include-name"].split(" ", 1)) for entry in named} <= spec_operations()


def safe_dockerfile(base):
    # generated dockerfiles could name any image or url: the build gets this one instead
    return f"FROM {base}\nCOPY . /context/\n"


def _prefixed(value):
    return (NAME_PREFIX + value)[:128] if isinstance(value, str) and NAME.match(value) else value


def _repository(tail):
    return f"{NAMESPACE}/{tail}"


def confine(case, base, registry):
    """Rewrite a generated request so that it touches nothing beyond this machine and this
    run: see the module's docstring."""
    op = (case.method.upper(), case.path)
    path, query = case.path_parameters, case.query
    body = case.body if isinstance(case.body, dict) else None
    pushed = f"{registry}/{NAMESPACE}/busybox:latest"
    for key in ("id", "name"):
        if path and key in path:
            path[key] = _prefixed(path[key])
    if path and isinstance(path.get("ref"), str):
        if op == ("POST", "/images/{ref}/push"):
            path["ref"] = pushed
        elif op == ("POST", "/images/{ref}/tag"):
            path["ref"] = base
        elif case.path.startswith("/teams/"):
            path["ref"] = _prefixed(path["ref"])
        elif case.method.upper() != "GET":
            path["ref"] = _repository(
                re.sub(r"[^a-z0-9]+", "-", path["ref"].lower()).strip("-") or "x"
            )
    if op == ("POST", "/containers") and body is not None:
        body["image"], body["pull"] = base, "never"
        body["labels"] = {
            **(body.get("labels") if isinstance(body.get("labels"), dict) else {}),
            **LABELS,
        }
        if "name" in body:
            body["name"] = _prefixed(body["name"])
        for mount in body.get("mounts") if isinstance(body.get("mounts"), list) else []:
            # a named volume made on the fly carries no label: anonymous ones go with the container
            if isinstance(mount, dict) and mount.get("type") == "volume":
                mount.pop("source", None)
    elif op == ("POST", "/services") and body is not None:
        # the test image, this run's label and names, at most one task, nothing published
        # (the swarm publishes on every address), no named volume made on the fly
        body["image"] = base
        given = body.get("labels")
        body["labels"] = {**(given if isinstance(given, dict) else {}), **LABELS}
        if "name" in body:
            body["name"] = _prefixed(body["name"])
        body.pop("ports", None)
        if isinstance(body.get("replicas"), int):
            body["replicas"] = min(body["replicas"], 1)
        for mount in body.get("mounts") if isinstance(body.get("mounts"), list) else []:
            if isinstance(mount, dict) and mount.get("type") == "volume":
                mount.pop("source", None)
        for key in ("networks",):
            if isinstance(body.get(key), list):
                body[key] = [_prefixed(name) for name in body[key]]
        for secret in body.get("secrets") if isinstance(body.get("secrets"), list) else []:
            if isinstance(secret, dict) and "name" in secret:
                secret["name"] = _prefixed(secret["name"])
    elif op == ("POST", "/services/{id}/update") and body is not None:
        if "image" in body:
            body["image"] = base
    elif op in (("POST", "/secrets"), ("POST", "/configs")) and body is not None:
        body["name"] = _prefixed(body.get("name") or "s")
        given = body.get("labels")
        body["labels"] = {**(given if isinstance(given, dict) else {}), **LABELS}
    elif op == ("POST", "/volumes") and body is not None:
        body["name"] = _prefixed(body.get("name") or "v")
        given = body.get("labels")
        body["labels"] = {**(given if isinstance(given, dict) else {}), **LABELS}
    elif op == ("POST", "/volumes/{name}/restore"):
        # a volume the restore makes goes with the run
        case.query = {**(query or {}), "label": LABEL_ITEMS}
    elif op == ("POST", "/images/pull") and body is not None:
        body["image"] = f"{registry}/{NAMESPACE}/busybox"
    elif op == ("POST", "/images/{ref}/tag") and body is not None:
        body["repository"] = _repository("tagged")
    elif op == ("POST", "/containers/{id}/commit") and body is not None:
        body["repository"] = _repository("committed")
    elif op == ("POST", "/images/build"):
        if query is not None:
            query["pull"] = "false"
            query.pop("dockerfile", None)
            if "tag" in query:
                query["tag"] = _repository("built")
            given = query.get("label")
            room = LABELS_MAX - len(LABEL_ITEMS)
            query["label"] = [*(given[:room] if isinstance(given, list) else []), *LABEL_ITEMS]
        if body is not None:
            body["dockerfile"], body["pull"] = safe_dockerfile(base), False
            given = body.get("labels")
            body["labels"] = {**(given if isinstance(given, dict) else {}), **LABELS}
            if "tag" in body:
                body["tag"] = _repository("built")
        elif case.media_type in ("application/x-tar", "application/octet-stream"):
            case.body = tar_of_context(base, case.body)
    elif op == ("POST", "/networks") and body is not None:
        # a generated range could shadow a real one (the host's own): the engine picks instead
        for field in ("subnet", "gateway", "ip_range"):
            body.pop(field, None)
        given = body.get("labels")
        body["labels"] = {**(given if isinstance(given, dict) else {}), **LABELS}
        if "name" in body:
            body["name"] = _prefixed(body["name"])
    elif case.path in ("/networks/{id}/connect", "/networks/{id}/disconnect") and body:
        if "container" in body:
            body["container"] = _prefixed(body["container"])
    elif op == ("GET", "/system/events") and query is not None:
        query["until"] = "1000000000"  # 2001: the stream ends once the past is told
        if "since" in query:
            query["since"] = "999999000"
    elif op == ("GET", "/registry/search") and query is not None:
        # the daemon asks the loopback index only, the service the loopback registry only
        # (the service refuses any other, but a refusal fuzzes nothing)
        term = query.get("term")
        if isinstance(term, str):
            rest = split_term(term)[1][:200].strip() or "x"
            if "registry" in query:
                query["registry"], query["term"] = registry, rest
            else:
                query["term"] = f"{app.config['SEARCH_INDEXES'][0]}/{rest}"
    elif op in (("GET", "/registry/catalog"), ("GET", "/registry/tags")) and query is not None:
        query["registry"] = registry


def tar_of_context(base, payload):
    data = payload if isinstance(payload, bytes) else str(payload).encode("utf-8", "surrogatepass")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in (("Dockerfile", safe_dockerfile(base).encode()), ("payload", data)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture(scope="session")
def fuzz_images(docker_api, busybox_image, registry):
    """The test image, and the name under which push sends it to the loopback registry (a tag
    of the test image: it goes with it when the session ends)."""
    repository = f"{registry}/{NAMESPACE}/busybox"
    docker_api.tag(busybox_image, repository, "latest")
    return busybox_image, registry


@pytest.fixture(scope="session")
def fuzz_registries(registry):
    """The loopback registry and a loopback search index, the only ones the fuzzed app may
    contact (Docker Hub's index is left out: asking it would reach for the network)."""
    with SearchIndex() as index:
        app.config.update(
            REGISTRIES=[{"host": registry, "insecure": True}],
            SEARCH_INDEXES=[index.address],
            PULL_PUSH_REGISTRIES=[registry],
            REGISTRY_TIMEOUT=5,
        )
        yield


# the names generated references become most often (hypothesis starts from the smallest)
SENTINEL = f"{NAME_PREFIX}0"


# the other team's objects outlive each test's teardown (which removes the run's label), and
# go when the module ends
SENTINEL_LABEL = "dockyard.test.sentinel"


@pytest.fixture(scope="module")
def other_team(busybox_image, docker_api):
    """Another team's container, volume and network, under the names the fuzz reaches for."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {OTHER}"}
    labels = {SENTINEL_LABEL: RUN_ID}
    body = {"image": busybox_image, "name": SENTINEL, "labels": labels, "pull": "never"}
    made = {
        "container": client.post("/containers", json=body, headers=headers),
        "volume": client.post(
            "/volumes", json={"name": SENTINEL, "labels": labels}, headers=headers
        ),
        "network": client.post(
            "/networks", json={"name": SENTINEL, "labels": labels}, headers=headers
        ),
    }
    assert all(answer.status_code == 201 for answer in made.values()), made
    yield {kind: answer.get_json() for kind, answer in made.items()}
    assert not remove_labelled(docker_api, f"{SENTINEL_LABEL}={RUN_ID}")


@schema.exclude(
    lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in EXCLUDED
).parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    # the same examples on every run: CI judges the code, not the luck of the draw
    derandomize=True,
    database=None,
)
def test_contract(case, fuzz_images, fuzz_registries, other_team, request):
    op = (case.method.upper(), case.path)
    if op in KNOWN_FAILURES:
        request.node.add_marker(pytest.mark.xfail(reason=KNOWN_FAILURES[op], strict=True))
    made = case.body
    generated = copy.deepcopy(made) if isinstance(made, dict | list | bytes | str) else None
    confine(case, *fuzz_images)
    # the token is part of the case, so that schemathesis judges the request as it is sent;
    # a case made to lack it goes without
    generated_headers = case.headers or {}
    if "Authorization" in generated_headers or not case.meta.is_negative_at(HEADER):
        case.headers = {**generated_headers, "Authorization": f"Bearer {SECRET}"}
    # (the operations that refuse some schema-valid requests are named in the config file)
    excluded = []
    if generated is not None and case.body != generated and body_fits(case):
        # confine made the body a valid one (a JSON body that fits, a tar context it wrote):
        # the request sent is no longer a negative case
        excluded.append(checks.negative_data_rejection)
    response = case.call()
    case.validate_response(response, excluded_checks=excluded)


def test_the_fuzz_left_the_other_teams_objects_alone(other_team, docker_api):
    """Run after the fuzz (the file's order): what the other team made is as it was."""
    container = docker_api.inspect_container(other_team["container"]["id"])
    assert container["Name"] == f"/{SENTINEL}" and container["State"]["Status"] == "created"
    assert docker_api.inspect_volume(SENTINEL)["Labels"]["dockyard.team"] == "other"
    assert docker_api.inspect_network(other_team["network"]["id"])["Name"] == SENTINEL

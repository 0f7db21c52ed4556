"""/registry against the real engine and real registries on loopback: docker search through
the daemon to a loopback v1 index, catalog and tags of `docker-registry` after pushing through
the service, basic (htpasswd) and bearer-token auth, and the allowlist that keeps the service
from contacting anything its configuration does not list."""

import base64
import logging
import time
import uuid

import pytest

from tests.conftest import LABELS, RUN_ID, SESSION_LABEL, make_app, make_client
from tests.search_index import (
    BlackHole,
    SearchIndex,
    htpasswd_auth,
    http_server,
    serve_registry,
    token_service,
)

NAMESPACE = f"dockyard-reg-{RUN_ID}"
USER = "dockyard"
PASSWORD = f"pw-{uuid.uuid4().hex}"  # unique: a scan for it finds only leaks
# repository -> tags, and which of the two test images each tag is
CONTENT = {
    "alpha": {"1.0": 0, "2.0": 1, "3.0": 0},
    "beta": {"1.0": 1},
    "gamma": {"1.0": 0},
    "omega": {"1.0": 0},
    "team/delta": {"latest": 1},
}


def push(client, image, remote, auth=None):
    """Tag ``image`` as ``remote`` and push it, both through the service; untag it locally.
    Answers the digest the registry stored."""
    repository, tag = remote.rsplit(":", 1)
    tagged = client.post(f"/images/{image}/tag", json={"repository": repository, "tag": tag})
    assert tagged.status_code == 201, tagged.json
    pushed = client.post(f"/images/{remote}/push", json={"auth": auth} if auth else None)
    assert pushed.status_code == 200, pushed.json
    assert client.delete(f"/images/{remote}").status_code == 200
    return pushed.json["digest"]


@pytest.fixture(scope="module")
def images(busybox_image, docker_api):
    """Two images with different digests, built by the service; gone with the module."""
    client, tags = make_client(), []
    for number in range(2):
        tag = f"dockyard-test/registry-{number}:{RUN_ID}"
        body = {
            "dockerfile": f"FROM {busybox_image}\nCOPY which /which\n",
            "files": {"which": str(number)},
            "labels": {SESSION_LABEL: RUN_ID},
            "tag": tag,
        }
        assert client.post("/images/build", json=body).status_code == 201
        tags.append(tag)
    yield tags
    for tag in tags:
        docker_api.remove_image(tag, force=True)


@pytest.fixture(scope="module")
def pushed(images, registry):
    """The CONTENT pushed through the service under this run's namespace of the session's
    registry: {"repository:tag": digest}."""
    client = make_client()
    return {
        f"{repository}:{tag}": push(
            client, images[which], f"{registry}/{NAMESPACE}/{repository}:{tag}"
        )
        for repository, tags in CONTENT.items()
        for tag, which in tags.items()
    }


@pytest.fixture(scope="module")
def index():
    with SearchIndex() as running:
        yield running


@pytest.fixture
def browser(registry, index):
    """A client whose configuration lists the session's registry and the loopback index."""
    return make_client(
        REGISTRIES=[{"host": registry, "insecure": True}],
        SEARCH_INDEXES=["docker.io", index.address],
        REGISTRY_TIMEOUT=3,
    )


# search through the daemon


def test_search_goes_through_the_daemon_to_the_index(browser, index):
    answer = browser.get(f"/registry/search?term={index.address}/busybox")
    assert answer.status_code == 200, answer.json
    assert [r["name"] for r in answer.json] == [
        "library/busybox",
        "someone/busybox-tools",
        "other/tiny-busybox",
    ]
    first = answer.json[0]
    assert first == {
        "name": "library/busybox",
        "description": "Busybox base image.",
        "star_count": 3000,
        "is_official": True,
        "is_automated": False,
        "registry": index.address,
    }
    assert index.asked[-1] == {"q": "busybox", "n": "25"}


@pytest.mark.parametrize(
    "query, names",
    [
        ("is_official=true", ["library/busybox"]),
        ("is_official=false", ["someone/busybox-tools", "other/tiny-busybox"]),
        ("is_automated=true", ["someone/busybox-tools"]),
        ("min_stars=10", ["library/busybox", "someone/busybox-tools"]),
        ("limit=2", ["library/busybox", "someone/busybox-tools"]),
    ],
)
def test_search_filters_and_limit_as_the_daemon_applies_them(browser, index, query, names):
    answer = browser.get(f"/registry/search?term={index.address}/busybox&{query}")
    assert answer.status_code == 200, answer.json
    assert [r["name"] for r in answer.json] == names
    # the limit is the index's `n`; filters are the daemon's own
    assert index.asked[-1]["n"] == ("2" if query == "limit=2" else "25")


def test_an_unreachable_hub_is_a_quick_upstream_error(registry):
    client = make_client(REGISTRY_TIMEOUT=3)
    started = time.monotonic()
    answer = client.get("/registry/search?term=busybox")
    took = time.monotonic() - started
    assert answer.status_code in (502, 504), answer.json
    assert took < 3 + 2, took
    assert "`docker.io`" in answer.json["message"]
    reason = answer.json["message"].split("`docker.io`", 1)[1]
    assert len(reason) > 20, answer.json["message"]  # the daemon's reason comes along


def test_a_hanging_index_is_a_504_within_the_timeout():
    with BlackHole() as hole:
        client = make_client(SEARCH_INDEXES=[hole.address], REGISTRY_TIMEOUT=2)
        started = time.monotonic()
        answer = client.get(f"/registry/search?term={hole.address}/busybox")
        took = time.monotonic() - started
    assert answer.status_code == 504, answer.json
    assert 2 <= took < 2 + 2, took
    assert hole.address in answer.json["message"]
    assert "within 2 s" in answer.json["message"]


def test_a_term_naming_an_unlisted_registry_is_a_403_before_the_daemon_asks(client, index):
    # the default configuration lists Docker Hub's index only
    before = len(index.seen)
    answer = client.get(f"/registry/search?term={index.address}/busybox")
    assert answer.status_code == 403
    assert index.address in answer.json["message"]
    assert "SEARCH_INDEXES" in answer.json["message"]
    assert len(index.seen) == before  # not even pinged


def test_docker_hub_can_be_left_out():
    client = make_client(SEARCH_INDEXES=[])
    answer = client.get("/registry/search?term=busybox")
    assert answer.status_code == 403
    assert "docker.io" in answer.json["message"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "term=",
        "term=%20busybox",
        "term=bus%0Abox",
        "term=busybox&limit=0",
        "term=busybox&limit=101",
        "term=busybox&limit=many",
        "term=busybox&min_stars=-1",
        "term=127.0.0.1:5000/",
        "term=busybox&registry=http://127.0.0.1:5000",
        "term=127.0.0.1:5000/x&registry=127.0.0.1:5000",
        "term=" + "a" * 256,
    ],
)
def test_search_input_is_checked(client, query):
    answer = client.get(f"/registry/search?{query}")
    assert answer.status_code == 422, answer.json
    assert answer.json["errors"]["query"]


# a private registry: catalog, tags, search by substring


def test_catalog_follows_the_registrys_pages(browser, registry, pushed):
    answer = browser.get(f"/registry/catalog?registry={registry}&q={NAMESPACE}&n=2&limit=100")
    assert answer.status_code == 200, answer.json
    names = [f"{NAMESPACE}/{name}" for name in sorted(CONTENT)]
    assert [r["name"] for r in answer.json["repositories"]] == names
    assert answer.json["next"] is None
    alpha = answer.json["repositories"][0]
    assert alpha == {
        "name": f"{NAMESPACE}/alpha",
        "reference": f"{registry}/{NAMESPACE}/alpha",
        "tags": ["1.0", "2.0", "3.0"],
    }


def test_catalog_pages_with_limit_and_next(browser, registry, pushed):
    seen, last = [], ""
    for _ in range(10):
        query = f"registry={registry}&q={NAMESPACE}&n=2&limit=2&tags=false"
        answer = browser.get(f"/registry/catalog?{query}" + (f"&last={last}" if last else ""))
        assert answer.status_code == 200, answer.json
        assert len(answer.json["repositories"]) <= 2
        assert all(r["tags"] is None for r in answer.json["repositories"])
        seen += [r["name"] for r in answer.json["repositories"]]
        last = answer.json["next"]
        if last is None:
            break
    assert seen == [f"{NAMESPACE}/{name}" for name in sorted(CONTENT)]


def test_tags_with_digests_and_sizes(browser, registry, pushed):
    repository = f"{NAMESPACE}/alpha"
    answer = browser.get(f"/registry/tags?registry={registry}&repository={repository}&digests=1")
    assert answer.status_code == 200, answer.json
    tags = answer.json["tags"]
    assert [t["name"] for t in tags] == ["1.0", "2.0", "3.0"]
    for tag in tags:
        assert tag["digest"] == pushed[f"alpha:{tag['name']}"]
        assert tag["reference"] == f"{registry}/{repository}:{tag['name']}"
        assert tag["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert tag["size"] > 1_000_000  # busybox's layer, compressed
    assert tags[0]["digest"] == tags[2]["digest"] != tags[1]["digest"]
    plain = browser.get(f"/registry/tags?registry={registry}&repository={repository}")
    assert {t["digest"] for t in plain.json["tags"]} == {None}


def test_tags_page_with_n_last_and_next(browser, registry, pushed):
    query = f"/registry/tags?registry={registry}&repository={NAMESPACE}/alpha&n=1&limit=2"
    first = browser.get(query)
    assert [t["name"] for t in first.json["tags"]] == ["1.0", "2.0"]
    assert first.json["next"] == "2.0"
    rest = browser.get(f"{query}&last=2.0")
    assert [t["name"] for t in rest.json["tags"]] == ["3.0"]
    assert rest.json["next"] is None


def test_search_a_registry_by_substring(browser, registry, pushed):
    answer = browser.get(f"/registry/search?term={registry}/{NAMESPACE}/al")
    assert answer.status_code == 200, answer.json
    assert answer.json == [
        {
            "name": f"{registry}/{NAMESPACE}/alpha",
            "description": None,
            "star_count": None,
            "is_official": None,
            "is_automated": None,
            "registry": registry,
        }
    ]
    named = browser.get(f"/registry/search?term={NAMESPACE}/TEAM&registry={registry}")
    assert [r["name"] for r in named.json] == [f"{registry}/{NAMESPACE}/team/delta"]
    limited = browser.get(f"/registry/search?term={NAMESPACE}&registry={registry}&limit=2")
    assert len(limited.json) == 2
    # a v2 registry knows no official images, nor stars
    official = browser.get(f"/registry/search?term={NAMESPACE}&registry={registry}&is_official=1")
    assert official.status_code == 200 and official.json == []


def test_an_unknown_repository_is_a_404(browser, registry):
    answer = browser.get(f"/registry/tags?registry={registry}&repository={NAMESPACE}/none")
    assert answer.status_code == 404
    assert registry in answer.json["message"] and f"{NAMESPACE}/none" in answer.json["message"]


def test_an_unlisted_registry_is_a_403_and_is_not_contacted(browser):
    with http_server(lambda path, headers: (200, {}, {"repositories": []})) as (other, seen):
        for path in (
            f"/registry/catalog?registry={other}",
            f"/registry/tags?registry={other}&repository=team/app",
            f"/registry/search?term=app&registry={other}",
            f"/registry/search?term={other}/app",
        ):
            answer = browser.get(path)
            assert answer.status_code == 403, (path, answer.json)
            assert other in answer.json["message"]
    assert seen == []


@pytest.mark.parametrize(
    "path",
    [
        "/registry/catalog",
        "/registry/catalog?registry=http://127.0.0.1:5000",
        "/registry/catalog?registry=127.0.0.1:5000/v2",
        "/registry/catalog?registry=127.0.0.1:5000&n=0",
        "/registry/catalog?registry=127.0.0.1:5000&n=1001",
        "/registry/catalog?registry=127.0.0.1:5000&limit=101",
        "/registry/catalog?registry=127.0.0.1:5000&last=../etc",
        "/registry/catalog?registry=127.0.0.1:5000&q=a%3Fb",
        "/registry/tags?registry=127.0.0.1:5000",
        "/registry/tags?registry=127.0.0.1:5000&repository=../../v2/_catalog",
        "/registry/tags?registry=127.0.0.1:5000&repository=Team/App",
        "/registry/tags?registry=127.0.0.1:5000&repository=team/app&last=a/b",
    ],
)
def test_catalog_and_tags_input_is_checked(client, path):
    answer = client.get(path)
    assert answer.status_code == 422, answer.json


def test_redirects_are_followed_on_the_same_host_only():
    with http_server(lambda path, headers: (200, {}, {"repositories": ["x/elsewhere"]})) as (
        other,
        elsewhere,
    ):
        port = other.rsplit(":", 1)[1]

        def handle(path, headers):
            if path.startswith("/v2/_catalog"):
                return 307, {"Location": "/v2/moved"}, {}
            if path.startswith("/v2/moved"):
                return 302, {"Location": f"http://127.0.0.2:{port}/v2/_catalog"}, {}
            return 404, {}, {}

        with http_server(handle) as (fake, seen):
            client = make_client(REGISTRIES=[{"host": fake, "insecure": True}])
            answer = client.get(f"/registry/catalog?registry={fake}")
    assert answer.status_code == 502, answer.json
    assert "another host" in answer.json["message"] and "127.0.0.2" in answer.json["message"]
    assert [p.split("?")[0] for p in seen] == ["/v2/_catalog", "/v2/moved"]
    assert elsewhere == []


def test_a_registry_that_hangs_is_a_504_within_the_timeout():
    with BlackHole() as hole:
        client = make_client(
            REGISTRIES=[{"host": hole.address, "insecure": True}], REGISTRY_TIMEOUT=1
        )
        started = time.monotonic()
        answer = client.get(f"/registry/catalog?registry={hole.address}")
        took = time.monotonic() - started
    assert answer.status_code == 504, answer.json
    assert took < 1 + 2 and hole.address in answer.json["message"]


def test_pull_and_push_reach_only_the_listed_registries(registry, pushed):
    client = make_client(PULL_PUSH_REGISTRIES=[registry])
    for image, host in (("busybox", "docker.io"), ("127.0.0.2:5000/team/app:1", "127.0.0.2:5000")):
        answer = client.post("/images/pull", json={"image": image})
        assert answer.status_code == 403, answer.json
        assert (
            f"`{host}`" in answer.json["message"]
            and "PULL_PUSH_REGISTRIES" in answer.json["message"]
        )
    answer = client.post("/images/127.0.0.2:5000/team/app:1/push")
    assert answer.status_code == 403 and "127.0.0.2:5000" in answer.json["message"]
    # a container create that would pull on the way is held to the same list
    create = {"image": "127.0.0.2:5000/team/app:1", "pull": "missing", "labels": LABELS}
    answer = client.post("/containers", json=create)
    assert answer.status_code == 403 and "127.0.0.2:5000" in answer.json["message"]
    remote = f"{registry}/{NAMESPACE}/beta:1.0"
    assert client.post("/images/pull", json={"image": remote}).status_code == 200
    assert client.delete(f"/images/{remote}").status_code == 200


@pytest.mark.parametrize(
    "settings",
    [
        {"REGISTRIES": [{"host": "http://127.0.0.1:5000"}]},
        {"REGISTRIES": [{"host": "127.0.0.1:5000", "password": PASSWORD, "bogus": True}]},
        {"REGISTRIES": [{"host": "127.0.0.1:5000", "password": PASSWORD, "password_file": "/x"}]},
        {"REGISTRIES": [{"host": "127.0.0.1:5000"}, {"host": "127.0.0.1:5000"}]},
        {"REGISTRIES": ["127.0.0.1:5000"]},
        {"REGISTRIES": [{"host": "127.0.0.1:5000", "password_file": "/nonexistent/password"}]},
        {"SEARCH_INDEXES": ["https://index.example"]},
        {"PULL_PUSH_REGISTRIES": ["a registry"]},
    ],
)
def test_registry_settings_are_checked_at_start(settings):
    with pytest.raises(ValueError) as refused:
        make_app(**settings)
    assert PASSWORD not in str(refused.value)


# registries with credentials: htpasswd (basic), and the bearer token dance


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("basic-registry")
    with serve_registry(root, htpasswd_auth(root, USER, PASSWORD)) as address:
        yield address


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    """A registry with token auth, its token service on another port: (registry, realm,
    the Authorization headers the token service got)."""
    root = tmp_path_factory.mktemp("token-registry")
    with token_service(root, USER, PASSWORD) as (auth, realm, given):
        with serve_registry(root, auth) as address:
            yield address, realm, given


def scan_for_secrets(answers, caplog, audit):
    """The password, alone or in a basic header, appears in no answer, log line or audit line."""
    secrets = [PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()]
    texts = [a.get_data(as_text=True) for a in answers] + [caplog.text, audit.read_text()]
    texts += [str(dict(a.headers)) for a in answers]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_basic_auth_browsing_with_configured_credentials(basic_registry, images, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    audit = tmp_path / "audit.log"
    audit.touch()
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD + "\n")
    entry = {"host": basic_registry, "insecure": True, "username": USER}
    client = make_client(
        REGISTRIES=[{**entry, "password_file": str(secret_file)}], AUDIT_LOG=str(audit)
    )
    auth = {"username": USER, "password": PASSWORD, "server_address": basic_registry}
    remote = f"{basic_registry}/{NAMESPACE}/private:1.0"
    digest = push(client, images[0], remote, auth)
    answers = [
        client.get(f"/registry/catalog?registry={basic_registry}&q={NAMESPACE}"),
        client.get(
            f"/registry/tags?registry={basic_registry}&repository={NAMESPACE}/private&digests=1"
        ),
        client.get(f"/registry/search?term={basic_registry}/priv"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.json for a in answers]
    assert answers[0].json["repositories"][0]["tags"] == ["1.0"]
    assert answers[1].json["tags"][0]["digest"] == digest
    assert answers[2].json[0]["name"] == f"{basic_registry}/{NAMESPACE}/private"
    # wrong credentials, or none: the registry's refusal, named, without the secret
    for wrong in (
        {**entry, "password": "not-" + PASSWORD[::-1]},
        {"host": basic_registry, "insecure": True},
    ):
        refused = make_client(REGISTRIES=[wrong], AUDIT_LOG=str(audit)).get(
            f"/registry/catalog?registry={basic_registry}"
        )
        assert refused.status_code == 502, refused.json
        assert basic_registry in refused.json["message"]
        assert "credentials" in refused.json["message"]
        answers.append(refused)
    scan_for_secrets(answers, caplog, audit)


def test_bearer_token_dance(token_registry, images, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    address, realm, given = token_registry
    audit = tmp_path / "audit.log"
    audit.touch()
    entry = {"host": address, "insecure": True, "username": USER, "password": PASSWORD}
    client = make_client(REGISTRIES=[{**entry, "token_realms": [realm]}], AUDIT_LOG=str(audit))
    auth = {"username": USER, "password": PASSWORD, "server_address": address}
    digest = push(client, images[1], f"{address}/{NAMESPACE}/sealed:2.0", auth)
    given.clear()
    answers = [
        client.get(f"/registry/catalog?registry={address}&q={NAMESPACE}"),
        client.get(f"/registry/tags?registry={address}&repository={NAMESPACE}/sealed&digests=1"),
    ]
    assert [a.status_code for a in answers] == [200, 200], [a.json for a in answers]
    assert answers[0].json["repositories"][0]["tags"] == ["2.0"]
    assert answers[1].json["tags"][0]["digest"] == digest
    # a token for the catalog, one for the repository (reused by the manifest)
    assert len(given) == 2 and given[0].startswith("Basic ")
    # a realm on another host than the registry's, not listed: not sent the credentials
    given.clear()
    unlisted = make_client(REGISTRIES=[entry], AUDIT_LOG=str(audit))
    answer = unlisted.get(f"/registry/catalog?registry={address}")
    assert answer.status_code == 502 and realm in answer.json["message"], answer.json
    assert "token_realms" in answer.json["message"] and given == []
    wrong = {**entry, "password": "not-" + PASSWORD[::-1], "token_realms": [realm]}
    refused = make_client(REGISTRIES=[wrong], AUDIT_LOG=str(audit)).get(
        f"/registry/catalog?registry={address}"
    )
    assert refused.status_code == 502 and "refuse" in refused.json["message"], refused.json
    scan_for_secrets([*answers, answer, refused], caplog, audit)


def test_the_configured_registries_are_listed_without_their_credentials(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("hunter2\n")
    client = make_client(
        REGISTRIES=[
            {"host": "127.0.0.1:5999", "insecure": True},
            {"host": "registry.example:5000", "username": "ci", "password_file": str(secret)},
        ]
    )
    answer = client.get("/registry/registries")
    assert answer.status_code == 200
    assert answer.json == [
        {"host": "127.0.0.1:5999", "insecure": True, "credentials": False},
        {"host": "registry.example:5000", "insecure": False, "credentials": True},
    ]
    assert b"hunter2" not in answer.get_data() and b"ci" not in answer.get_data()

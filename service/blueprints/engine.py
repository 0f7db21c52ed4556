"""/engine: Docker's own Engine API, for the tools people already use (the docker CLI,
docker-compose, docker-py), behind the service's tokens, scopes, teams, policy, redaction and
audit: ``DOCKER_HOST=tcp://127.0.0.1:8000/engine``, the token in ``~/.docker/config.json``'s
``HttpHeaders``.

A path prefix on the service's own listener rather than a listener of its own: one port, one
TLS setup, the same tokens, Host and Origin checks and caps for both APIs; the docker CLI and
docker-py keep a ``DOCKER_HOST``'s path as the base of every call. Versioned paths (``/v1.41/``)
and unversioned ones both work: the front speaks the version the service speaks to the daemon,
and says so in ``/_ping`` and ``/version``.

Deny by default: ``ROUTES`` is the front's whole table. Anything else answers 403 with a
message the docker CLI prints ("Error response from daemon: ..."). Each route names its scope
(lists and inspects `read`; start, stop, logs `operate`; create and remove `write`), what a
team's token sees is its team's (as in the REST API), a create is judged by the one policy on
the request's own ``HostConfig`` and ``NetworkingConfig`` with the service's defaults added, an
act on an existing container judges it as the engine holds it, and inspect answers hide
secrets from tokens without `exec`.
"""

import json
import re

import orjson
from flask import Blueprint, Response, g, request
from flask_smorest import abort

from .. import engines, policy
from ..auth import ANY_TOKEN, current_token
from ..extensions import gateway
from ..guards import (
    events_kept,
    guard,
    mine,
    policy_context,
    seen_container,
    seen_network,
    seen_volume,
    team,
)
from ..jsonio import loads
from ..policy import teams
from ..redaction import redact_argv, redact_engine_config
from ..schemas import sees_secrets
from ..schemas.fields import CONTAINER_REF
from ..schemas.networks import DRIVERS as NETWORK_DRIVERS
from ..streaming import reserve_stream, tar_upload
from ..streaming.hijack import Upgraded, carry, wants_upgrade
from .containers import container_ref
from .images import spooled_context
from .volumes import judged_volume

blp = Blueprint("engine", __name__, url_prefix="/engine")

_VERSIONED = re.compile(r"^/v\d+\.\d+(?=/)")
# a container's reference in a path, as the REST API takes it
_REF = CONTAINER_REF.removeprefix("^").removesuffix("$")
# a volume's or network's name or id in a path
_NAME = r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}"
# an image's reference in a path: a name with its registry, path and tag, or an id
_IMAGE = r"[a-zA-Z0-9][a-zA-Z0-9_.:/@-]{0,511}"

ROUTES: list[tuple[frozenset, re.Pattern, str, object]] = []


def route(methods: str, pattern: str, scope: str):
    """A row of the front's table: ``methods`` on the unversioned ``pattern``, for ``scope``."""

    def register(handler):
        ROUTES.append((frozenset(methods.split()), re.compile(pattern + r"\Z"), scope, handler))
        return handler

    return register


@blp.route("/", defaults={"rest": ""}, methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
@blp.route("/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
def front(rest):
    path = _VERSIONED.sub("", "/" + rest)
    for methods, pattern, scope, handler in ROUTES:
        found = pattern.match(path)
        if found and request.method in methods:
            token = current_token()
            if scope != ANY_TOKEN and scope not in token.scopes:
                abort(
                    403,
                    message=f"rule `scope`: {request.method} {path} needs the `{scope}` scope; "
                    f"token `{token.name}` has {', '.join(sorted(token.scopes)) or 'none'}",
                )
            try:
                return handler(**found.groupdict())
            except (TypeError, ValueError, AttributeError) as exc:
                # a body the front reads as Docker's, whose fields are not of Docker's types
                abort(400, message=f"{request.method} {path}: a field is not as the Engine API "
                      f"takes it ({exc})")  # fmt: skip
    abort(
        403,
        message=f"the Engine-API front does not take {request.method} {path}: what it takes "
        "is listed in the service's README (Use your docker CLI)",
    )


# any valid token reaches the table; each row checks its own scope
front.required_scope = ANY_TOKEN


def _json(data) -> Response:
    return Response(orjson.dumps(data), content_type="application/json")


def _listed(kind: str, path: str, redact=None) -> Response:
    """A list as the daemon answers it; for a team's token, its team's entries only, and for a
    token that may not see secrets, ``redact`` applied to each entry."""
    answer = gateway().engine_call("GET", path, params=_query())
    hidden = redact is not None and not sees_secrets()
    if team() is None and not hidden:
        return _passed(answer)  # an operator's: nothing to take out, the daemon's bytes
    found = loads(answer.content)
    entries = (found.get("Volumes") or []) if kind == "volumes" else found
    entries = mine(kind, entries)
    if hidden:
        entries = [redact(entry) for entry in entries]
    if kind == "volumes":
        found["Volumes"] = entries
        return _json(found)
    return _json(entries)


def _passed(answer) -> Response:
    """The daemon's answer, as it came."""
    return Response(
        answer.content,
        status=answer.status_code,
        content_type=answer.headers.get("Content-Type", "application/json"),
    )


def _query() -> list[tuple[str, str]]:
    return list(request.args.items(multi=True))


# -- the engine ------------------------------------------------------------------------------


@route("GET HEAD", r"/_ping", ANY_TOKEN)
def ping():
    answer = gateway().engine_call("GET", "/_ping")
    headers = {
        "API-Version": gateway().api_version,
        "Docker-Experimental": "false",
        "OSType": answer.headers.get("OSType", "linux"),
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
    }
    body = b"" if request.method == "HEAD" else b"OK"
    return Response(body, content_type="text/plain; charset=utf-8", headers=headers)


@route("GET", r"/version", "read")
def version():
    found = gateway().engine_call("GET", "/version").json()
    # the version the front speaks, which the client's calls are made in
    found["ApiVersion"] = gateway().api_version
    return _json(found)


@route("GET", r"/info", "read")
def info():
    return _passed(gateway().engine_call("GET", "/info"))


# -- containers ------------------------------------------------------------------------------


@route("GET", r"/containers/json", "read")
def containers():
    return _listed("containers", "/containers/json", _redact_summary)


def _redact_summary(item: dict) -> dict:
    return {**item, "Command": redact_argv(item.get("Command"))}


@route("GET", rf"/containers/(?P<ref>{_REF})/json", "read")
def container(ref):
    record = seen_container(ref)
    if not sees_secrets():
        record["Config"] = redact_engine_config(record.get("Config"))
        record["Args"] = redact_argv(record.get("Args"))
    return _json(record)


@route("POST", r"/containers/create", "write")
def create():
    body = _body()
    name = request.args.get("name")
    policy.check_container_name(name)
    body["Labels"] = teams.claim(body.get("Labels"), team())
    host = body.setdefault("HostConfig", {}) or {}
    body["HostConfig"] = _shaped(host)
    policy.judge_create(body, policy_context())
    answer = gateway().engine_call(
        "POST",
        "/containers/create",
        params=_query(),
        body=json.dumps(body),
        headers=_JSON,
    )
    g.target_id = answer.json().get("Id")
    return _passed(answer)


def _shaped(host: dict) -> dict:
    """The request's HostConfig with what the service adds to every create: its default
    limits where none is asked for, and no-new-privileges (the table judges the rest)."""
    settings = engines.settings()
    host = dict(host)
    if host.get("Memory") in (None, 0):
        host["Memory"] = settings["DEFAULT_MEMORY"]
    if host.get("PidsLimit") in (None, 0):
        host["PidsLimit"] = settings["DEFAULT_PIDS_LIMIT"]
    options = list(host.get("SecurityOpt") or [])
    if not any(o.replace("=", ":").startswith("no-new-privileges") for o in options):
        options.append("no-new-privileges:true")
    host["SecurityOpt"] = options
    return host


def _act(verb: str, ref: str, policed: bool) -> Response:
    full = guard(ref, policed=policed)
    g.target_id = full
    answer = gateway().engine_call("POST", f"/containers/{{0}}/{verb}", full, params=_query())
    return _passed(answer)


@route("POST", rf"/containers/(?P<ref>{_REF})/start", "operate")
def start(ref):
    return _act("start", ref, policed=True)


@route("POST", rf"/containers/(?P<ref>{_REF})/restart", "operate")
def restart(ref):
    return _act("restart", ref, policed=True)


@route("POST", rf"/containers/(?P<ref>{_REF})/unpause", "operate")
def unpause(ref):
    return _act("unpause", ref, policed=True)


@route("POST", rf"/containers/(?P<ref>{_REF})/(?P<verb>stop|kill|pause)", "operate")
def stop(ref, verb):
    return _act(verb, ref, policed=False)


@route("POST", rf"/containers/(?P<ref>{_REF})/wait", "operate")
def wait(ref):
    full = seen_container(ref)["Id"]
    answer = gateway().engine_call(
        "POST", "/containers/{0}/wait", full, params=_query(), stream=True
    )
    return _streamed(answer)


@route("GET", rf"/containers/(?P<ref>{_REF})/top", "operate")
def top(ref):
    full = seen_container(ref)["Id"]
    return _passed(gateway().engine_call("GET", "/containers/{0}/top", full, params=_query()))


@route("GET", rf"/containers/(?P<ref>{_REF})/changes", "read")
def changes(ref):
    full = seen_container(ref)["Id"]
    return _passed(gateway().engine_call("GET", "/containers/{0}/changes", full))


@route("POST", rf"/containers/(?P<ref>{_REF})/rename", "write")
def rename(ref):
    policy.check_container_name(request.args.get("name"))
    return _act("rename", ref, policed=True)


@route("POST", rf"/containers/(?P<ref>{_REF})/update", "write")
def update(ref):
    body = _body()
    policy.judge_update(body, policy_context())
    full = guard(ref, policed=True)
    g.target_id = full
    answer = gateway().engine_call(
        "POST", "/containers/{0}/update", full, body=json.dumps(body), headers=_JSON
    )
    return _passed(answer)


@route("GET", rf"/containers/(?P<ref>{_REF})/export", "exec")
def export(ref):
    full = guard(ref, policed=True)
    g.target_id = full
    reserve_stream()
    return _streamed(gateway().engine_call("GET", "/containers/{0}/export", full, stream=True))


@route("POST", r"/commit", "exec")
def commit():
    ref = container_ref(request.args.get("container", ""))
    body = _body()
    if teams.TEAM_LABEL in (body.get("Labels") or {}):
        raise policy.Denied("team-label", f"`{teams.TEAM_LABEL}` is set by the service")
    full = guard(ref, policed=True)
    g.target_id = full
    query = [(k, v) for k, v in _query() if k != "container"] + [("container", full)]
    answer = gateway().engine_call(
        "POST", "/commit", params=query, body=json.dumps(body) if body else None, headers=_JSON
    )
    return _passed(answer)


@route("GET HEAD PUT", rf"/containers/(?P<ref>{_REF})/archive", "exec")
def archive(ref):
    """docker cp, both ways: a container's files are all it holds, secrets included."""
    full = guard(ref, policed=True)
    g.target_id = full
    if request.method == "PUT":
        # a tar archive, at most MAX_UPLOAD_BYTES, as the REST API's copy in takes it
        gateway().copy_in_allowed(full)
        answer = gateway().engine_call(
            "PUT", "/containers/{0}/archive", full, params=_query(),
            body=tar_upload("the files"), headers={"Content-Type": "application/x-tar"},
        )  # fmt: skip
        return _passed(answer)
    answer = gateway().engine_call(
        request.method, "/containers/{0}/archive", full, params=_query(), stream=True
    )
    stat = answer.headers.get("X-Docker-Container-Path-Stat")
    if request.method == "HEAD":
        answer.close()
        return Response(status=answer.status_code, headers={"X-Docker-Container-Path-Stat": stat})
    reserve_stream(close=answer.close)
    streamed = _streamed(answer)
    streamed.headers["X-Docker-Container-Path-Stat"] = stat or ""
    return streamed


@route("DELETE", rf"/containers/(?P<ref>{_REF})", "write")
def remove(ref):
    full = guard(ref)
    g.target_id = full
    return _passed(gateway().engine_call("DELETE", "/containers/{0}", full, params=_query()))


@route("GET", rf"/containers/(?P<ref>{_REF})/(?P<what>logs|stats)", "operate")
def logs_or_stats(ref, what):
    """docker logs (-f) and docker stats: as the daemon streams them, counted as streams."""
    full = seen_container(ref)["Id"]
    reserve_stream()
    answer = gateway().engine_call(
        "GET", f"/containers/{{0}}/{what}", full, params=_query(), stream=True
    )
    return _streamed(answer)


# -- attach and exec: Docker's hijacked raw stream --------------------------------------------

_EXEC = r"[0-9a-f]{64}"
_JSON = {"Content-Type": "application/json"}


def _body() -> dict:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        abort(400, message="this call takes a JSON object")
    return body


def _never_privileged(privileged) -> None:
    if privileged:
        raise policy.Denied(
            "foreign-container", "a privileged process: this service never gives it", "Privileged"
        )


@route("POST", rf"/containers/(?P<ref>{_REF})/exec", "exec")
def exec_create(ref):
    body = _body()
    _never_privileged(body.get("Privileged"))
    full = guard(ref, policed=True)
    g.target_id = full
    answer = gateway().engine_call(
        "POST", "/containers/{0}/exec", full, body=json.dumps(body), headers=_JSON
    )
    return _passed(answer)


def _exec_of(exec_id) -> dict:
    """An exec's state, once the container it runs in passes as for an exec of its own (it
    may have been made elsewhere): a team's token, its team's containers; the policy."""
    state = gateway().engine_call("GET", "/exec/{0}/json", exec_id).json()
    _never_privileged((state.get("ProcessConfig") or {}).get("privileged"))
    g.target_id = guard(state["ContainerID"], policed=True)
    return state


@route("GET", rf"/exec/(?P<exec_id>{_EXEC})/json", "exec")
def exec_inspect(exec_id):
    return _json(_exec_of(exec_id))


@route("POST", rf"/exec/(?P<exec_id>{_EXEC})/resize", "exec")
def exec_resize(exec_id):
    _exec_of(exec_id)
    return _passed(gateway().engine_call("POST", "/exec/{0}/resize", exec_id, params=_query()))


@route("POST", rf"/exec/(?P<exec_id>{_EXEC})/start", "exec")
def exec_start(exec_id):
    _exec_of(exec_id)
    body = _body()
    if body.get("Detach"):
        answer = gateway().engine_call(
            "POST", "/exec/{0}/start", exec_id, body=json.dumps(body), headers=_JSON
        )
        return _passed(answer)
    _upgrade_asked()
    reserve_stream()
    daemon = gateway().hijack_exec(exec_id, tty=bool(body.get("Tty")))
    g.audit = {"stream": carry(request.environ, daemon)}
    return Upgraded()


@route("POST", rf"/containers/(?P<ref>{_REF})/attach", "exec")
def attach(ref):
    # what is typed goes into the container's own process
    full = guard(ref, policed=True)
    g.target_id = full
    _upgrade_asked()
    reserve_stream()
    daemon = gateway().hijack_attach(full, dict(request.args.items()))
    g.audit = {"stream": carry(request.environ, daemon)}
    return Upgraded()


@route("POST", rf"/containers/(?P<ref>{_REF})/resize", "operate")
def resize(ref):
    full = guard(ref)
    return _passed(gateway().engine_call("POST", "/containers/{0}/resize", full, params=_query()))


def _upgrade_asked() -> None:
    if not wants_upgrade(request):
        abort(400, message="attach and exec start take the connection: send Upgrade: tcp")
    if "gunicorn.socket" not in request.environ:
        abort(501, message="attach and exec need the service served by its gunicorn worker")


def _streamed(answer) -> Response:
    """A daemon stream passed on as it comes, the daemon's connection closed at its end."""

    def passed_on():
        try:
            # the head goes at once, as the daemon sends it: a client may wait for it before
            # its next call (docker run waits for its wait's head, then starts)
            yield b""
            yield from answer.iter_content(chunk_size=None)
        finally:
            answer.close()

    return Response(
        passed_on(),
        status=answer.status_code,
        content_type=answer.headers.get("Content-Type", "application/octet-stream"),
    )


@route("GET", r"/events", "read")
def events():
    """docker events: a team's token sees its team's objects' events only, as in the REST
    API's event stream."""
    kept = events_kept()
    reserve_stream()
    answer = gateway().engine_call("GET", "/events", params=_query(), stream=True)
    if kept is None:
        return _streamed(answer)

    def lines():
        buffer = b""
        try:
            yield b""
            for chunk in answer.iter_content(chunk_size=None):
                buffer += chunk
                *whole, buffer = buffer.split(b"\n")
                for line in whole:
                    event = json.loads(line) if line.strip() else {}
                    actor = event.get("Actor") or {}
                    seen = {"type": event.get("Type"), "actor_id": actor.get("ID"),
                            "attributes": actor.get("Attributes")}  # fmt: skip
                    if event and kept(seen):
                        yield line + b"\n"
        finally:
            answer.close()

    return Response(lines(), content_type=answer.headers.get("Content-Type", "application/json"))


# -- images, volumes, networks ---------------------------------------------------------------


@route("GET", r"/images/json", "read")
def images():
    return _passed(gateway().engine_call("GET", "/images/json", params=_query()))


@route("GET", rf"/images/(?P<name>{_IMAGE})/json", "read")
def image(name):
    found = gateway().engine_call("GET", "/images/{0}/json", name).json()
    if not sees_secrets():
        for key in ("Config", "ContainerConfig"):
            found[key] = redact_engine_config(found.get(key))
    return _json(found)


@route("GET", r"/volumes", "read")
def volumes():
    return _listed("volumes", "/volumes")


@route("GET", rf"/volumes/(?P<name>{_NAME})", "read")
def volume(name):
    record = seen_volume(name)
    if record is None:
        abort(404, message=f"get {name}: no such volume")
    return _json(record)


@route("GET", r"/(?P<kind>plugins|nodes|services|tasks|secrets|configs)/[^/]+(?:/json)?", "read")
def unserved(kind):
    """An inspect of a kind the front serves none of: no such object, as the daemon would say
    (`docker inspect NAME` asks each kind in turn until one knows the name)."""
    abort(404, message=f"no such object: the Engine-API front serves no {kind}")


@route("POST", r"/images/create", "write")
def pull():
    image = request.args.get("fromImage", "")
    if not image or request.args.get("fromSrc"):
        abort(403, message="the Engine-API front pulls images; an import is POST /images/import")
    tag = request.args.get("tag")
    reference = f"{image}:{tag}" if tag and ":" not in image.rsplit("/", 1)[-1] else image
    policy.registry_allowed(reference, "pull", engines.settings()["PULL_PUSH_REGISTRIES"])
    return _progress("POST", "/images/create")


@route("POST", rf"/images/(?P<name>{_IMAGE})/push", "write")
def push(name):
    tag = request.args.get("tag")
    policy.registry_allowed(name, "push", engines.settings()["PULL_PUSH_REGISTRIES"])
    return _progress("POST", "/images/{0}/push", name, tag=tag)


def _progress(method, path, *path_args, tag=None) -> Response:
    """Long work the daemon reports as it goes (pull, push), passed on as it comes; the
    client's registry credentials (X-Registry-Auth) go with the call, and nowhere else."""
    headers = {}
    if "X-Registry-Auth" in request.headers:
        headers["X-Registry-Auth"] = request.headers["X-Registry-Auth"]
    reserve_stream()
    answer = gateway().engine_call(
        method, path, *path_args, params=_query(), headers=headers, stream=True
    )
    return _streamed(answer)


# a build's query: what it may ask (Docker's names), the rest refused unless left at its default
_BUILD_TAKEN = {
    "t", "dockerfile", "q", "nocache", "pull", "rm", "forcerm", "buildargs", "labels", "target",
    "cachefrom", "platform", "version", "memory", "memswap", "cpuperiod", "cpuquota",
}  # fmt: skip
# what a client sends for an option it leaves alone
_UNSET = ("", "0", "false", "null", "[]", "{}")
_BUILD_DEFAULTS = {"networkmode": (*_UNSET, "default", "bridge", "none")}


@route("POST", r"/build", "write")
def build():
    """docker build with the classic builder: the context spooled and its Dockerfile judged
    (every image it may fetch from an allowed registry), each RUN step held to a container's
    limits, the team's label on the image; the daemon's progress passed on as it comes."""
    query = request.args.to_dict()
    if query.get("version") == "2":
        abort(403, message=BUILDKIT)
    for key, value in query.items():
        if key not in _BUILD_TAKEN and value not in _BUILD_DEFAULTS.get(key, _UNSET):
            raise policy.Denied("build-options", f"a build may not set `{key}` here", key)
    settings = engines.settings()
    try:
        labels = json.loads(query.get("labels") or "{}")
        build_args = json.loads(query.get("buildargs") or "{}")
    except ValueError:
        abort(400, message="labels and buildargs are JSON objects")
    query["labels"] = json.dumps(teams.claim(labels, team()))
    # each RUN step's container: at most what a container may take
    memory = min(
        int(query.get("memory") or 0) or settings["DEFAULT_MEMORY"], settings["MAX_MEMORY"]
    )
    query.update(memory=str(memory), memswap=str(memory * 2), cpuperiod="100000",
                 cpuquota=str(int(settings["MAX_CPUS"] * 100000)))  # fmt: skip
    context = tar_upload("the build context")
    allowed = settings["PULL_PUSH_REGISTRIES"]
    if "*" not in allowed:
        spooled = spooled_context(context, query.get("dockerfile") or "Dockerfile")
        options = {"pull": query.get("pull") not in (None, "", "0", "false"),
                   "build_args": build_args, "target": query.get("target")}  # fmt: skip
        policy.check_build(spooled.dockerfile, options, allowed, gateway().image_record)
        context = spooled
    reserve_stream()
    headers = {"Content-Type": "application/x-tar"}
    if "X-Registry-Config" in request.headers:
        headers["X-Registry-Config"] = request.headers["X-Registry-Config"]
    answer = gateway().engine_call(
        "POST", "/build", params=query, body=context, headers=headers, stream=True
    )
    return _streamed(answer)


BUILDKIT = (
    "the Engine-API front builds with the classic builder only (BuildKit sessions are not "
    "taken): build with DOCKER_BUILDKIT=0"
)


@route("POST GET", r"/(?:session|grpc)", ANY_TOKEN)
def buildkit():
    abort(403, message=BUILDKIT)


@route("POST", rf"/images/(?P<name>{_IMAGE})/tag", "write")
def tag(name):
    return _passed(gateway().engine_call("POST", "/images/{0}/tag", name, params=_query()))


@route("DELETE", rf"/images/(?P<name>{_IMAGE})", "write")
def image_remove(name):
    return _passed(gateway().engine_call("DELETE", "/images/{0}", name, params=_query()))


@route("POST", r"/volumes/create", "write")
def volume_create():
    body = _body()
    args = {
        "name": body.get("Name") or None,
        "driver": body.get("Driver") or "local",
        "driver_opts": body.get("DriverOpts") or {},
        "labels": body.get("Labels") or {},
    }
    engine = judged_volume(args)
    answer = gateway().engine_call(
        "POST", "/volumes/create", body=json.dumps(engine), headers=_JSON
    )
    return _passed(answer)


@route("DELETE", rf"/volumes/(?P<name>{_NAME})", "write")
def volume_remove(name):
    if seen_volume(name) is None:
        abort(404, message=f"get {name}: no such volume")
    if name in policy_context().held()[0]:
        raise policy.Denied("self-protection", f"volume {name} holds the service's own data")
    return _passed(gateway().engine_call("DELETE", "/volumes/{0}", name, params=_query()))


# what a network create may ask, as the REST API's: anything else (driver options, a config
# network, an ingress) is refused
_NETWORK_FIELDS = {
    "Name", "CheckDuplicate", "Driver", "Internal", "Attachable", "EnableIPv6", "IPAM", "Labels",
    "Options", "Scope",
}  # fmt: skip


@route("POST", r"/networks/create", "write")
def network_create():
    body = _body()
    unknown = sorted(key for key, value in body.items() if key not in _NETWORK_FIELDS and value)
    if body.get("Options") or unknown:
        raise policy.Denied(
            "network-options",
            f"a network create may not set {', '.join(unknown) or 'driver options'} here",
        )
    driver = body.get("Driver") or "bridge"
    if driver not in NETWORK_DRIVERS:
        raise policy.Denied("network-driver", f"driver {driver}: {', '.join(NETWORK_DRIVERS)} only")
    body["Labels"] = teams.claim(body.get("Labels"), team())
    answer = gateway().engine_call("POST", "/networks/create", body=json.dumps(body), headers=_JSON)
    g.target_id = answer.json().get("Id")
    return _passed(answer)


@route("DELETE", rf"/networks/(?P<ref>{_NAME})", "write")
def network_remove(ref):
    record = seen_network(ref)
    policy.check_network_removal(record)
    g.target_id = record["Id"]
    return _passed(gateway().engine_call("DELETE", "/networks/{0}", record["Id"]))


@route("POST", rf"/networks/(?P<ref>{_NAME})/(?P<verb>connect|disconnect)", "write")
def network_connect(ref, verb):
    record = seen_network(ref)
    if verb == "connect":
        policy.judge_network(record, "network")
    body = _body()
    body["Container"] = guard(container_ref(str(body.get("Container") or "")))
    answer = gateway().engine_call(
        "POST", f"/networks/{{0}}/{verb}", record["Id"], body=json.dumps(body), headers=_JSON
    )
    return _passed(answer)


@route("GET", r"/networks", "read")
def networks():
    return _listed("networks", "/networks")


@route("GET", rf"/networks/(?P<ref>{_NAME})", "read")
def network(ref):
    return _json(seen_network(ref))

"""Engines by name: the engines one service drives, and the one each request targets.

The settings name them (``ENGINES``, or the JSON file ``ENGINES_FILE``), each with its ``url``
(``unix:///path``, ``tcp://host:port``, ``ssh://user@host``), for ``tcp`` the files of a TLS
client (``tls``: ``ca_file``, ``cert_file``, ``key_file``, as ``docker --tlsverify`` takes
them), its own ``api_version``, and ``settings`` of the policy that differ from the service's
(bind roots, registries, limits). One is the ``default``. Without any, the one engine is
``DOCKER_URL``'s, named ``default``.

A request names its engine by a path prefix, ``/engines/{name}/...`` before any path of the
API (the Engine-API front's included); a plain path is the default engine's. The prefix is taken
off before routing (it becomes the request's script root), so that one route serves every
engine. Each engine has its own gateway, its own connections and negotiated version: an engine
that does not answer fails its own requests (503), never another's.

A token may be limited to some engines (its entry's ``engines``): any other answers 403.
"""

import json
import os
import re
import time
from collections import ChainMap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from flask import current_app, g, request
from flask_smorest import abort

from . import metrics
from .auth import ENGINE_NAME as ENGINE_NAME_PATTERN
from .config import temporary_dir
from .errors import describe as failure_of
from .events import EventHub
from .gateway import DaemonSettings, DockerGateway
from .gateway.client import TLSFiles
from .gateway.mirror import KINDS, Mirror, WriteMark
from .policy import SETTINGS

ENGINE_NAME = ENGINE_NAME_PATTERN.pattern
_NAME = ENGINE_NAME_PATTERN
_PREFIX = re.compile(rf"/engines/({ENGINE_NAME})(/.*)")
# what the prefix leaves in a request's environ: the engine it names
ENVIRON_KEY = "dockyard.engine"
DEFAULT_NAME = "default"
SCHEMES = ("unix://", "tcp://", "ssh://")
# the policy's settings an engine may set for itself
ENGINE_SETTINGS = (*SETTINGS, "SEARCH_INDEXES")
# the blueprints whose every operation needs a swarm, which Podman has not
NEEDS_SWARM = frozenset({"swarm", "services", "secrets"})
_ENTRY_KEYS = {"name", "url", "default", "tls", "api_version", "settings"}
_TLS_KEYS = {"ca_file", "cert_file", "key_file"}


@dataclass
class Engine:
    name: str
    url: str
    default: bool
    gateway: DockerGateway
    # the policy's settings of its own, over the service's
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        # the worker's one subscription to its events, opened by the first client to follow
        self.hub = EventHub(self.gateway.events)

    @property
    def transport(self) -> str:
        if self.gateway.clients.settings.tls is not None:
            return "tls"
        return self.url.split("://", 1)[0]


class Engines:
    """The configured engines, by name, and the default one."""

    def __init__(self, engines: list[Engine]):
        self.by_name = {engine.name: engine for engine in engines}
        self.default = next(engine for engine in engines if engine.default)

    def __iter__(self):
        return iter(self.by_name.values())

    def get(self, name: str) -> Engine | None:
        return self.by_name.get(name)

    def __len__(self):
        return len(self.by_name)


def load_engines(config) -> Engines:
    """The engines the settings name; a malformed entry stops the service from starting."""
    entries = list(config.get("ENGINES") or [])
    if config.get("ENGINES_FILE"):
        with open(config["ENGINES_FILE"], encoding="utf-8") as file:
            entries += json.load(file)
    if not entries:
        gateway = DockerGateway(DaemonSettings.from_config(config), DEFAULT_NAME)
        return Engines([Engine(DEFAULT_NAME, str(config["DOCKER_URL"]), True, gateway)])
    engines, seen = [], set()
    for entry in entries:
        engines.append(_engine(entry, config, seen))
    defaults = [engine.name for engine in engines if engine.default]
    if len(defaults) > 1:
        raise ValueError(f"engines {defaults} are each marked default: mark one")
    if not defaults:
        engines[0].default = True
    return Engines(engines)


def _engine(entry, config, seen: set) -> Engine:
    if not isinstance(entry, dict):
        raise ValueError(f"engine entry {entry!r}: must be an object with a name and a url")
    name = entry.get("name")
    where = f"engine {name!r}"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{where}: a name is lowercase letters, digits, `_`, `.`, `-` (≤ 63)")
    if name in seen:
        raise ValueError(f"{where}: named twice")
    seen.add(name)
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(SCHEMES):
        raise ValueError(f"{where}: url must begin with one of {', '.join(SCHEMES)}")
    tls = entry.get("tls")
    if tls is not None:
        if not url.startswith("tcp://"):
            raise ValueError(f"{where}: tls is for tcp:// engines")
        if not isinstance(tls, dict) or set(tls) != _TLS_KEYS:
            raise ValueError(f"{where}: tls needs exactly {sorted(_TLS_KEYS)} (file paths)")
        for key, path in tls.items():
            try:
                with open(path, "rb"):
                    pass
            except (OSError, TypeError) as exc:
                raise ValueError(f"{where}: tls {key} cannot be read ({exc})") from None
        tls = TLSFiles(tls["ca_file"], tls["cert_file"], tls["key_file"])
    settings = entry.get("settings") or {}
    if not isinstance(settings, dict) or set(settings) - set(ENGINE_SETTINGS):
        raise ValueError(f"{where}: settings may set {', '.join(ENGINE_SETTINGS)}")
    for key, value in settings.items():
        default = config[key]
        kind = type(default)
        fits = (
            isinstance(value, int | float) and not isinstance(value, bool)
            if kind in (int, float)
            else isinstance(value, kind)
        )
        if not fits:
            raise ValueError(f"{where}: settings {key} must be of the kind of DOCKYARD_{key}")
    if settings.get("ALLOWED_BIND_ROOTS") and not url.startswith("unix://"):
        raise ValueError(
            f"{where}: bind mounts name paths of the engine's host, which this service cannot "
            "see on a remote engine: ALLOWED_BIND_ROOTS is for engines on this machine"
        )
    api_version = entry.get("api_version", "auto")
    if not isinstance(api_version, str) or not re.fullmatch(r"auto|1\.\d{1,2}", api_version):
        raise ValueError(f"{where}: api_version is `auto` or 1.NN")
    daemon = DaemonSettings.from_config(config, url=url, api_version=api_version, tls=tls)
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise ValueError(f"{where}: default is true or false")
    return Engine(name, url, default, DockerGateway(daemon, name), settings)


def check_settings(config, engines: Engines, check) -> None:
    """``check`` (the policy's) on the settings each engine works under, and no remote engine
    with the service's bind roots."""
    for engine in engines:
        try:
            check(ChainMap(engine.settings, config))
        except ValueError as exc:
            if not engine.settings:
                raise
            raise ValueError(f"engine {engine.name!r}, with its settings: {exc}") from None
        if config["ALLOWED_BIND_ROOTS"] and not engine.url.startswith("unix://"):
            if "ALLOWED_BIND_ROOTS" not in engine.settings:
                raise ValueError(
                    f"engine {engine.name!r} is remote: give it its own ALLOWED_BIND_ROOTS "
                    "(`[]`) in its settings; its host's paths are not this machine's"
                )


# -- the engine a request targets --------------------------------------------------------------


class EnginePrefix:
    """WSGI: ``/engines/{name}/rest`` is ``/rest`` on engine ``name``; the prefix becomes the
    script root, so that the paths the service answers with keep it."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        found = _PREFIX.fullmatch(environ.get("PATH_INFO", ""))
        if found:
            name, rest = found.groups()
            environ[ENVIRON_KEY] = name
            environ["SCRIPT_NAME"] = f"{environ.get('SCRIPT_NAME', '')}/engines/{name}"
            environ["PATH_INFO"] = rest
        return self.app(environ, start_response)


def init_app(app, engines: Engines):
    """Route by engine; a token limited to an engine that is not configured stops the
    service from starting (after auth.init_app, whose tokens it checks)."""
    for token in app.extensions["dockyard_tokens"]:
        unknown = sorted((token.engines or set()) - set(engines.by_name))
        if unknown:
            raise ValueError(f"token {token.name!r}: no engine is named {', '.join(unknown)}")
    app.extensions["dockyard_engines"] = engines
    app.wsgi_app = EnginePrefix(app.wsgi_app)
    app.before_request(_choose)
    directory = app.config["SHARED_DIR"] or temporary_dir()
    for engine in engines:
        engine.gateway.mirror = mirror_of(engine, app.config, directory)
    app.after_request(_written)


def mirror_of(engine: Engine, config, directory: str) -> Mirror:
    """The engine's mirror in each worker: its reads answered without the daemon, kept current
    by the engine's events (the hub's one subscription) and by the write mark the workers
    share in ``directory``."""
    gateway = engine.gateway
    mirror = Mirror(
        lambda: gateway.clients.control,
        lambda: engine.hub.subscribe({}),
        lambda: gateway.kind() == "docker",
        WriteMark(os.path.join(directory, f"writes-{engine.name}")),
        int(config["READ_CACHE_MAX_BYTES"]),
        float(config["READ_CACHE_MAX_AGE"]),
        enabled=bool(config["READ_CACHE"]),
    )
    if config["METRICS"]:
        # each read counts: the counters' children found once
        counted = {
            (kind, hit): metrics.READ_CACHE_READS.labels(
                engine.name, kind, "hit" if hit else "miss"
            )
            for kind in KINDS
            for hit in (True, False)
        }
        mirror.observe = lambda kind, hit: counted[kind, hit].inc()
        mirror.held = metrics.READ_CACHE_BYTES.labels(engine.name).set
    return mirror


def _written(response):
    """A request that may have changed its engine moves the engine's write mark before it
    answers (and again when a streamed answer ends): the next read of any worker asks the
    daemon again what its mirror read before."""
    engine = g.get("engine")
    if request.method in ("GET", "HEAD", "OPTIONS") or engine is None:
        return response
    mirror = engine.gateway.mirror
    if mirror is not None and mirror.enabled:
        mirror.mark.move()
        if response.is_streamed:
            response.call_on_close(mirror.mark.move)
    return response


def engines() -> Engines:
    return current_app.extensions["dockyard_engines"]


def _choose():
    """The request's engine: the one its prefix names (403 when the token may not use it,
    404 when none has that name), else the default one."""
    g.engine = engines().default
    name = request.environ.get(ENVIRON_KEY)
    if name is not None:
        g.engine = named(name)
    if request.blueprint in NEEDS_SWARM and current().gateway.kind() == "podman":
        abort(
            501,
            message=f"engine `{g.engine.name}` is Podman, which has no swarm: "
            f"{request.method} {request.path} needs one",
        )


def current() -> Engine:
    """The engine of the request; refused (403) when the token may not use it, the default
    engine of a plain path included. Every view reaches its engine through here."""
    engine = g.get("engine") or engines().default
    if not may_use(engine.name):
        abort(
            403,
            message=f"rule `engines`: {_token_says()} may not use engine `{engine.name}`; name "
            f"one of {', '.join(allowed_names())} with /engines/NAME/...",
        )
    return engine


def named(name: str) -> Engine:
    """An engine by name for this request's token: a 404 when none has that name, a 403 when
    the token may not use it."""
    engine = engines().get(name)
    # a token limited to some engines learns no other's name
    if not may_use(name):
        abort(403, message=f"rule `engines`: {_token_says()} may not use engine `{name}`")
    if engine is None:
        abort(404, message=f"no engine is named `{name}`: GET /engines lists them")
    return engine


def allowed_names() -> list[str] | None:
    token = g.get("token")
    limited = getattr(token, "engines", None)
    return None if limited is None else sorted(limited)


def may_use(name: str) -> bool:
    allowed = allowed_names()
    return allowed is None or name in allowed


def settings() -> ChainMap:
    """The settings the policy reads for this request: its engine's own over the service's."""
    return ChainMap(current().settings, current_app.config)


def _token_says() -> str:
    token = g.get("token")
    return f"token `{token.name}`" if token is not None else "this request"


# -- what each engine is -------------------------------------------------------------------------


def describe(engine: Engine, timeout: float) -> dict:
    """What GET /engines says of one engine: asked now, waiting ``timeout`` at most."""
    started = time.monotonic()
    answer = {
        "name": engine.name,
        "default": engine.default,
        "transport": engine.transport,
        "reachable": False,
        "latency_ms": None,
        "kind": None,
        "version": None,
        "api_version": None,
        "swarm": None,
        "error": None,
    }
    try:
        found = engine.gateway.identity(timeout)
    except Exception as exc:  # any failure of one engine is its own answer, never the list's
        answer["error"] = failure_of(exc).message
        answer["latency_ms"] = round((time.monotonic() - started) * 1000, 2)
        return answer
    answer.update(found, reachable=True)
    answer["latency_ms"] = round((time.monotonic() - started) * 1000, 2)
    return answer


def describe_all(chosen: list[Engine], timeout: float) -> list[dict]:
    """Each engine described at once, side by side: a slow one delays none of the others."""
    app = current_app._get_current_object()

    def one(engine: Engine) -> dict:
        with app.app_context():
            g.engine = engine
            return describe(engine, timeout)

    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        return list(pool.map(one, chosen))

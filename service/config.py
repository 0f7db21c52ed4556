"""Settings with defaults, overridable from DOCKYARD_* environment variables.

Precedence, lowest first: the defaults below, the environment (read when the app or the
gunicorn configuration is created, never at import), then the mapping given to create_app.
The engine's address is DOCKYARD_DOCKER_URL, else DOCKER_HOST, else the default socket.
Environment values are parsed as JSON when they can be (``DOCKYARD_DOCKER_TIMEOUT=10`` is a
number), otherwise kept as strings.
"""

import os
import tempfile

import flask

ENV_PREFIX = "DOCKYARD"


class Config:
    # where the docker engine listens: unix:///path, tcp://host:port
    DOCKER_URL = "unix:///var/run/docker.sock"
    # several engines, by name: a JSON list of {"name", "url", "default", "tls": {"ca_file",
    # "cert_file", "key_file"}, "api_version", "settings": {...}} (service.engines); given,
    # DOCKER_URL is not read. ENGINES_FILE: a JSON file with more of them
    ENGINES = []
    ENGINES_FILE = ""
    # engine api version to speak; "auto" negotiates with the daemon on first use
    DOCKER_API_VERSION = "auto"
    # seconds to wait for the daemon on control calls (inspect, list, start...)
    DOCKER_TIMEOUT = 30
    # seconds to wait between two chunks of a long call (pull, build, push, streams)
    DOCKER_LONG_TIMEOUT = 3600
    # seconds the readiness probe waits for the daemon's _ping
    READY_TIMEOUT = 3
    # connections kept to the daemon per worker process and client; 0 means the worker's stream
    # ceiling (MAX_STREAMS as it works out, at most WORKER_CONNECTIONS) + 32, so that every open
    # stream and the control requests beside them have a connection of their own
    DOCKER_POOL_SIZE = 0
    # seconds a client is told to wait (Retry-After) when the daemon cannot be reached
    RETRY_AFTER = 5

    # bytes a JSON request body may hold (a JSON build's files included); larger is a 413
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    # bytes an uploaded tar (build context, image archive) may hold; larger is a 413
    MAX_UPLOAD_BYTES = 16 * 1024**3
    # where a restore archive waits, checked, before it is written to the volume ("": the
    # system's temporary directory); it needs room for the largest archive
    SPOOL_DIR = ""
    # a restore archive's bounds once unpacked: bytes of its files, and entries (a small gzip
    # can unpack to far more than MAX_UPLOAD_BYTES); past either it is a 413, nothing written
    RESTORE_MAX_BYTES = 64 * 1024**3
    RESTORE_MAX_ENTRIES = 1_000_000
    # host address published ports bind to when a request names none
    PUBLISH_HOST_IP = "127.0.0.1"
    # host directories under which bind mounts are allowed; none by default (bind mounts off)
    ALLOWED_BIND_ROOTS = []
    # let bind mounts be writable (a writable bind lets a container plant symlinks that a
    # later bind of the same root would follow: only for roots no container writes to)
    ALLOW_WRITABLE_BINDS = False
    # host addresses ports may be published on
    ALLOWED_PUBLISH_IPS = ["127.0.0.1", "::1"]
    # allow publishing on host ports below 1024
    ALLOW_LOW_PORTS = False
    # limits given to a container whose request sets none: memory in bytes, processes
    DEFAULT_MEMORY = 1024**3
    DEFAULT_PIDS_LIMIT = 1024
    # caps a create or update request may not exceed: memory in bytes, processes, CPUs
    MAX_MEMORY = 8 * 1024**3
    MAX_PIDS_LIMIT = 4096
    MAX_CPUS = 8.0
    # volume drivers a container may mount volumes of (a plugin's volumes are its own world)
    ALLOWED_VOLUME_DRIVERS = ["local"]
    # resolve symlinks of bind mount sources that exist on this machine before the checks
    POLICY_RESOLVE_SYMLINKS = True
    # id of the service's own container, which no request may stop, remove or exec into;
    # empty: found from /proc/self/mountinfo when the service runs in a container
    SELF_CONTAINER = ""
    # bytes of an exec's output kept (stdout and stderr together); the rest is cut
    EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024
    # seconds between heartbeat comments of an event stream while the daemon is quiet
    STREAM_HEARTBEAT = 15
    # streams (logs, events, stats, progress, tar downloads) one worker serves at once; beyond
    # them a new stream is a 503 at once, so that control requests keep connections (and the
    # daemon its sockets); 0: three quarters of WORKER_CONNECTIONS
    MAX_STREAMS = 0
    # streams one token holds open at once, across the service's workers (a token's own
    # `streams`, in its entry, overrides it); past it, that token's next stream is a 503
    TOKEN_STREAMS = 64
    # seconds a terminal's ticket stays valid; a terminal with nothing either way for
    # TERMINAL_IDLE_SECONDS ends
    TERMINAL_TICKET_SECONDS = 10
    TERMINAL_IDLE_SECONDS = 900
    # a directory the workers of one service share (stream quotas; metrics under gunicorn);
    # "": a new one, made when the service starts
    SHARED_DIR = ""
    # Prometheus metrics at /metrics (the `metrics` scope); off, nothing is counted
    METRICS = True
    # lists and inspects of containers, images, volumes and networks answered from each
    # worker's mirror of the engine, kept current by its events (service.gateway.mirror); off,
    # every read asks the daemon
    READ_CACHE = True
    # bytes (as JSON) one worker's mirror of one engine may hold; a kind past it is read from
    # the daemon
    READ_CACHE_MAX_BYTES = 64 * 1024 * 1024
    # seconds a mirrored record is answered at most before the daemon is asked again: the
    # bound for a change the engine announces by no event
    READ_CACHE_MAX_AGE = 5.0

    # registries the service may browse (catalog, tags, search by substring), a JSON list of
    # {"host": "127.0.0.1:5000", "insecure": true, "username": "...", "password_file": "..."
    # (or "password"), "token_realms": ["auth.example.com"]}; any other registry is a 403
    REGISTRIES = []
    # seconds the service waits for a registry, or the daemon for its search, before a 504
    REGISTRY_TIMEOUT = 5
    # v1 search indexes the daemon's search may ask: `docker.io` is Docker Hub's (a term that
    # names no registry), others host[:port] as a term names them; any other is a 403
    SEARCH_INDEXES = ["docker.io"]
    # registries pull and push may reach: `*` for any, `docker.io` for Docker Hub, host[:port]
    PULL_PUSH_REGISTRIES = ["*"]

    # bearer tokens: a JSON list of {"name", "hash": "sha256:...", "scopes": [...], "expires"}
    TOKENS = []
    # a JSON file holding more such tokens
    TOKENS_FILE = ""
    # where audit lines go: `-` for standard output, or a file path
    AUDIT_LOG = "-"
    # browser origins allowed to call the API (CORS), and so to change state cross-site
    CORS_ORIGINS = []
    # host names a request's Host header may carry (the port aside): loopback names by default,
    # so that a web page whose name was rebound to 127.0.0.1 is refused
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "::1"]
    # with no token configured: the file holding the administrator token made at first start
    # (readable by the service's user only; its content works with `curl -H @FILE`)
    ADMIN_TOKEN_FILE = "~/.dockyard/admin-token"
    # what an administrator gave to teams (objects the engine cannot relabel): a JSON file the
    # service writes; the workers, and replicas driving one engine, must share it
    GRANTS_FILE = "~/.dockyard/grants.json"
    # serve without any token: every caller is the administrator. Only on unix sockets
    # (BIND=unix:/path), whose file permissions then say who may call
    OPEN_ACCESS = False

    # gunicorn: address to serve on, worker processes, connections one (gevent) worker holds
    # at once, streams included
    BIND = "127.0.0.1:8000"
    WORKERS = 2
    WORKER_CONNECTIONS = 2000
    # gunicorn: seconds a worker gets to finish its requests on shutdown
    GRACEFUL_TIMEOUT = 30
    # gunicorn: seconds a connection has to send its request line and headers once taken up
    HEADER_TIMEOUT = 10
    # gunicorn: seconds a request body (or a response) may stall before the connection is cut
    BODY_TIMEOUT = 60
    # gunicorn: connections one client address may hold on one worker while they wait for a
    # request's head, or serve one with no valid token; one more takes the place of the one
    # that waited longest (or is closed, when none waits)
    MAX_CLIENT_CONNECTIONS = 64
    LOG_LEVEL = "info"

    # flask-smorest / OpenAPI document (not meant to be changed by operators)
    API_TITLE = "Dockyard"
    API_VERSION = "0.1.0"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/docs/assets/"


def load_settings(target: flask.Config, overrides=None) -> flask.Config:
    """Fill ``target`` with the defaults, then the environment, then ``overrides``; a value
    of the wrong kind stops the service (a list given as a bare string would be read one
    character at a time, which the security checks must never see)."""
    target.from_object(Config)
    target.from_prefixed_env(ENV_PREFIX)
    # as every docker tool does, DOCKER_HOST says where the engine is when nothing else here does
    given = f"{ENV_PREFIX}_DOCKER_URL" in os.environ or "DOCKER_URL" in (overrides or {})
    if not given and os.environ.get("DOCKER_HOST"):
        target["DOCKER_URL"] = os.environ["DOCKER_HOST"]
    if overrides:
        target.update(overrides)
    for key, default in vars(Config).items():
        if not key.isupper() or default is None:
            continue
        value, kind = target[key], type(default)
        if kind in (int, float):
            fits = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            fits = isinstance(value, kind)
        if not fits:
            example = {list: '["..."]', bool: "true or false", int: "a number"}.get(kind, "text")
            raise ValueError(f"{ENV_PREFIX}_{key} must be {example}, not {value!r}")
    return target


def current_settings(overrides=None) -> flask.Config:
    """The settings outside of an app (the gunicorn configuration reads them here)."""
    return load_settings(flask.Config("."), overrides)


def stream_ceiling(config) -> int:
    """The streams one worker serves at once: MAX_STREAMS, or three quarters of the
    connections the worker holds."""
    return int(config["MAX_STREAMS"]) or max(1, int(config["WORKER_CONNECTIONS"]) * 3 // 4)


def temporary_dir() -> str:
    """A new directory of this user's for counts the workers share, in memory where the
    system has /dev/shm (counters are written on every request: never to a disk)."""
    memory = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="dockyard-", dir=memory)

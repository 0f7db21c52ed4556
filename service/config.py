"""Settings with defaults, overridable from DOCKYARD_* environment variables.

Precedence, lowest first: the defaults below, the environment (read when the app or the
gunicorn configuration is created, never at import), then the mapping given to create_app.
Environment values are parsed as JSON when they can be (``DOCKYARD_DOCKER_TIMEOUT=10`` is a
number), otherwise kept as strings.
"""

import flask

ENV_PREFIX = "DOCKYARD"


class Config:
    # where the docker engine listens: unix:///path, tcp://host:port
    DOCKER_URL = "unix:///var/run/docker.sock"
    # engine api version to speak; "auto" negotiates with the daemon on first use
    DOCKER_API_VERSION = "auto"
    # seconds to wait for the daemon on control calls (inspect, list, start...)
    DOCKER_TIMEOUT = 30
    # seconds to wait between two chunks of a long call (pull, build, push, streams)
    DOCKER_LONG_TIMEOUT = 3600
    # seconds the readiness probe waits for the daemon's _ping
    READY_TIMEOUT = 3
    # connections kept to the daemon per worker process and client; 0 means THREADS + 8,
    # so that every thread plus a few open streams has a connection of its own
    DOCKER_POOL_SIZE = 0
    # seconds a client is told to wait (Retry-After) when the daemon cannot be reached
    RETRY_AFTER = 5

    # bytes a JSON request body may hold (a JSON build's files included); larger is a 413
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    # bytes an uploaded tar (build context, image archive) may hold; larger is a 413
    MAX_UPLOAD_BYTES = 16 * 1024**3
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
    # resolve symlinks of bind mount sources that exist on this machine before the checks
    POLICY_RESOLVE_SYMLINKS = True
    # id of the service's own container, which no request may stop, remove or exec into;
    # empty: found from /proc/self/mountinfo when the service runs in a container
    SELF_CONTAINER = ""
    # bytes of an exec's output kept (stdout and stderr together); the rest is cut
    EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024
    # seconds between heartbeat comments of an event stream while the daemon is quiet
    STREAM_HEARTBEAT = 15

    # bearer tokens: a JSON list of {"name", "hash": "sha256:...", "scopes": [...], "expires"}
    TOKENS = []
    # a JSON file holding more such tokens
    TOKENS_FILE = ""
    # where audit lines go: `-` for standard output, or a file path
    AUDIT_LOG = "-"
    # browser origins allowed to call the API (CORS); none by default
    CORS_ORIGINS = []

    # gunicorn: address to serve on, worker processes, threads per worker
    BIND = "127.0.0.1:8000"
    WORKERS = 2
    THREADS = 32
    # gunicorn: seconds a worker gets to finish its requests on shutdown
    GRACEFUL_TIMEOUT = 30
    LOG_LEVEL = "info"

    # flask-smorest / OpenAPI document (not meant to be changed by operators)
    API_TITLE = "Dockyard"
    API_VERSION = "0.1.0"
    OPENAPI_VERSION = "3.0.3"
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

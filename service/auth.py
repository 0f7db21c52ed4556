"""Bearer tokens with scopes, request ids, audit lines and CORS.

Tokens come from the settings (``TOKENS``, or the JSON file ``TOKENS_FILE``), each with a
``name``, the sha256 ``hash`` of the secret (never the secret itself), its ``scopes`` and an
optional ``expires`` (RFC 3339). Scopes, each granted on its own:

- ``read``: metadata (GET of lists, inspect, history, info, events)
- ``operate``: lifecycle, logs, stats, top, exec, wait
- ``write``: create, delete, pull, build, push, tag, import, export, copy, commit
- ``admin``: prune, bulk delete, secrets shown in inspect answers

Every operation declares the scope it needs with ``requires``; one that declares none needs
``admin``. With no token configured, every request is served as the local administrator, and
the gunicorn configuration refuses to serve on anything but a loopback address.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import click
from flask import current_app, g, request
from flask_smorest import abort

SCOPES = ("read", "operate", "write", "admin")
# endpoints anyone may call: probes, the contract, the docs, the course
PUBLIC_ENDPOINTS = {
    "system.Health",
    "system.Ready",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
    "docs_assets.asset",
}
PUBLIC_BLUEPRINTS = {"concepts"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    name: str
    digest: str
    scopes: frozenset
    expires: datetime | None = None


LOCAL_ADMIN = Token("local", "", frozenset(SCOPES))


def hash_token(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> str:
    return "dy_" + secrets.token_urlsafe(32)


def load_tokens(config) -> list[Token]:
    """The configured tokens; a malformed entry stops the service from starting."""
    entries = config.get("TOKENS") or []
    if isinstance(entries, str):
        entries = json.loads(entries)
    if config.get("TOKENS_FILE"):
        with open(config["TOKENS_FILE"], encoding="utf-8") as file:
            entries = [*entries, *json.load(file)]
    tokens = []
    for entry in entries:
        scopes = frozenset(entry.get("scopes") or [])
        digest = str(entry.get("hash", ""))
        if not entry.get("name") or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise ValueError(f"token entry {entry.get('name')!r}: needs a name and a sha256 hash")
        if not scopes <= set(SCOPES):
            raise ValueError(
                f"token {entry['name']!r}: unknown scopes {sorted(scopes - set(SCOPES))}"
            )
        expires = entry.get("expires")
        if expires:
            expires = datetime.fromisoformat(expires.replace("Z", "+00:00"))
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
        tokens.append(Token(entry["name"], digest, scopes, expires))
    return tokens


class AuditTrail:
    """One JSON line per mutating request, to a file or to standard output (`-`)."""

    def __init__(self, target: str):
        self.target = target
        self._lock = threading.Lock()

    def write(self, record: dict):
        line = json.dumps(record) + "\n"
        with self._lock:
            if self.target == "-":
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                with open(self.target, "a", encoding="utf-8") as file:
                    file.write(line)


def loopback_only(bind: str) -> bool:
    """Whether a gunicorn bind address (host:port, [v6]:port, unix:path) stays on this host."""
    if bind.startswith("unix:"):
        return True
    host = bind.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings, binds) -> None:
    """Without tokens the service is open: it must then serve on loopback only."""
    if load_tokens(settings):
        return
    exposed = [b for b in binds if not loopback_only(b)]
    if exposed:
        raise SystemExit(
            f"refusing to serve on {', '.join(exposed)} without tokens: configure "
            "DOCKYARD_TOKENS or DOCKYARD_TOKENS_FILE, or bind to 127.0.0.1"
        )
    log.warning(
        "no token configured: serving on loopback only, every request acts as the local admin"
    )


def init_app(app):
    app.cli.add_command(token_cli)
    app.extensions["dockyard_tokens"] = load_tokens(app.config)
    app.extensions["dockyard_audit"] = AuditTrail(str(app.config["AUDIT_LOG"]))
    app.before_request(_identify)
    app.before_request(_authorize)
    app.after_request(_finish)


def current_token() -> Token:
    return g.get("token") or LOCAL_ADMIN


def has_scope(scope: str) -> bool:
    return scope in current_token().scopes


def _identify():
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.started = time.monotonic()


def _authorize():
    if request.method == "OPTIONS" or request.endpoint is None:
        return  # CORS preflight, or a 404/405 that the error handler answers
    tokens = current_app.extensions["dockyard_tokens"]
    if not tokens:
        g.token = LOCAL_ADMIN
        return
    public = request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS
    token = _token_from_header(tokens)
    if public:
        g.token = token
        return
    if token is None:
        abort(
            401,
            message="this operation needs a token: send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": 'Bearer realm="dockyard"'},
        )
    g.token = token
    scope = required_scope()
    if scope not in token.scopes:
        abort(
            403,
            message=f"rule `scope`: {request.method} {request.path} needs the `{scope}` scope; "
            f"token `{token.name}` has {', '.join(sorted(token.scopes)) or 'none'}",
        )


def _token_from_header(tokens) -> Token | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    kind, _, secret = header.partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        _refuse("send the token as `Authorization: Bearer <token>`")
    digest = hash_token(secret.strip())
    found = None
    for token in tokens:  # compare with every one, in constant time
        if hmac.compare_digest(token.digest, digest):
            found = token
    if found is None:
        _refuse("unknown token")
    if found.expires is not None and found.expires <= datetime.now(UTC):
        _refuse(f"token `{found.name}` expired at {found.expires.isoformat()}")
    return found


def _refuse(message):
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def required_scope() -> str:
    """The scope the view serving this request declared; `admin` when it declared none."""
    view = current_app.view_functions.get(request.endpoint)
    method = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    return getattr(method, "required_scope", "admin")


def _finish(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    _cors(response)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        current_app.extensions["dockyard_audit"].write(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "request_id": g.get("request_id"),
                "token": getattr(g.get("token"), "name", None),
                "method": request.method,
                "path": request.path,
                "target": request.view_args or {},
                "status": response.status_code,
                "remote": request.remote_addr,
                "ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1000),
            }
        )
    return response


def _cors(response):
    origin = request.headers.get("Origin")
    if not origin or origin not in (current_app.config.get("CORS_ORIGINS") or []):
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, Accept, X-Request-ID"
        )
        response.headers["Access-Control-Max-Age"] = "600"


token_cli = click.Group("token", help="Tokens of the service.")


@token_cli.command("new")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES), required=True)
@click.option("--expires", help="RFC 3339 time after which the token is refused")
def new_token_command(name, scopes, expires):
    """Make a token: print its secret once, and the entry to configure (its hash only)."""
    secret = new_token()
    entry = {"name": name, "hash": hash_token(secret), "scopes": sorted(set(scopes))}
    if expires:
        entry["expires"] = expires
    click.echo(f"token (shown once): {secret}")
    click.echo(f"entry for DOCKYARD_TOKENS: {json.dumps(entry)}")

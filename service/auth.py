"""Bearer tokens with scopes.

Tokens come from the settings (``TOKENS``, or the JSON file ``TOKENS_FILE``), each with a
``name``, the sha256 ``hash`` of the secret (never the secret itself), its ``scopes`` and an
optional ``expires`` (RFC 3339). Scopes, each granted on its own, follow power:

- ``read``: metadata (lists, inspect, history, info, events); secrets hidden
- ``operate``: lifecycle, logs, stats, top, wait
- ``exec``: what reaches inside a container, and so sees all it holds, secrets included:
  exec, copy in and out, export, commit
- ``write``: create, delete, pull, build, push, tag, import, image export
- ``admin``: prune, bulk delete, secrets shown in inspect answers

Every operation declares the scope it needs with ``requires``; one that declares none needs
``admin``. With no token configured the service makes an administrator token at first start
and keeps it in ``ADMIN_TOKEN_FILE``, readable by its own user only. Serving without any
token (``OPEN_ACCESS``) is only allowed on unix sockets, whose permissions say who may call.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime

import click
from flask import current_app, g, request
from flask_smorest import abort

from . import metrics
from .policy import teams
from .scopes import SCOPES, SEES_SECRETS

# what a view declares when any valid token may call it, whatever its scopes
ANY_TOKEN = "any-token"
# what a view declares when it is called with a ticket it redeems itself (a terminal's
# WebSocket: a browser sends no header on an upgrade, and a token goes in no URL)
BY_TICKET = "by-ticket"
# endpoints anyone may call: probes, the contract, the docs, the course
PUBLIC_ENDPOINTS = {
    "system.Health",
    "system.Ready",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
    "docs_assets.asset",
    # the course is for anyone; its live state asks for the `read` scope itself
    "concepts.Concepts",
    "concepts.Concept",
    "concepts.Diagram",
    # the web console's page and files: its calls to the API carry the token
    "console.page",
    "console.asset",
}
PUBLIC_BLUEPRINTS = {"concepts"}
ADMIN_TOKEN_NAME = "admin"
# what the worker puts in a request's environ: called once the request's token is valid
EARNED = "dockyard.earned"
_HEADER = "Authorization: Bearer "

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    name: str
    digest: str
    scopes: frozenset
    expires: datetime | None = None
    # the team whose objects alone it sees and drives; None: an operator, who sees all
    team: str | None = None
    # the streams it may hold at once; None: TOKEN_STREAMS
    streams: int | None = None
    # the engines it may use, by name; None: every engine
    engines: frozenset | None = None


TEAM_NAME = re.compile(teams.TEAM_NAME)
ENGINE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")


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
        team = entry.get("team")
        if team is not None and not (isinstance(team, str) and TEAM_NAME.fullmatch(team)):
            raise ValueError(
                f"token {entry['name']!r}: team {team!r} is not a team name "
                "(lowercase letters, digits, `_`, `.`, `-`, at most 64)"
            )
        streams = entry.get("streams")
        if streams is not None and not (
            isinstance(streams, int) and not isinstance(streams, bool) and streams >= 0
        ):
            raise ValueError(f"token {entry['name']!r}: streams must be a whole number, 0 or more")
        engines = entry.get("engines")
        if engines is not None:
            if not isinstance(engines, list) or not all(
                isinstance(name, str) and ENGINE_NAME.fullmatch(name) for name in engines
            ):
                raise ValueError(f"token {entry['name']!r}: engines must be a list of engine names")
            engines = frozenset(engines)
        tokens.append(Token(entry["name"], digest, scopes, expires, team, streams, engines))
    return tokens


def admin_token_path(config) -> str:
    return os.path.expanduser(str(config["ADMIN_TOKEN_FILE"]))


def admin_token(config) -> Token:
    """The administrator token of a service configured with none: read from its file, or
    made and written there on first start (only this user may read it)."""
    path = admin_token_path(config)
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    if not os.path.lexists(path):
        # written aside, then linked into place: a concurrent start reads a whole file
        spare = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(f"{_HEADER}{new_token()}\n")
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(spare)
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ValueError(
            f"{path} must be a regular file of this user that no one else may read or write "
            "(chmod 600): it holds the administrator token"
        )
    with open(path, encoding="ascii") as file:
        line = file.readline().strip()
    if not line.startswith(_HEADER) or len(line) <= len(_HEADER):
        raise ValueError(f"{path} must hold one line `{_HEADER}<token>`")
    return Token(ADMIN_TOKEN_NAME, hash_token(line[len(_HEADER) :]), frozenset(SCOPES))


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
    """Before serving: open access only on unix sockets; without tokens, say where the
    administrator token is (made now if it is the first start)."""
    if settings["OPEN_ACCESS"]:
        exposed = [b for b in binds if not b.startswith("unix:")]
        if exposed:
            raise SystemExit(
                f"refusing to serve {', '.join(exposed)} with DOCKYARD_OPEN_ACCESS: open access "
                "is only served on a unix socket (DOCKYARD_BIND=unix:/path), whose file "
                "permissions say who may call"
            )
        log.warning("open access: anyone who can reach %s is the administrator", binds)
        return
    if load_tokens(settings):
        return
    admin_token(settings)
    path = admin_token_path(settings)
    where = binds[0] if binds and not binds[0].startswith("unix:") else "127.0.0.1:8000"
    log.warning(
        "no token configured: the administrator token is in %s (readable by this user only); "
        "call with: curl -H @%s http://%s/system/info",
        path,
        path,
        where,
    )


def init_app(app):
    app.cli.add_command(token_cli)
    if app.config["OPEN_ACCESS"]:
        tokens = []
    else:
        tokens = load_tokens(app.config) or [admin_token(app.config)]
    app.extensions["dockyard_tokens"] = tokens
    app.before_request(_authorize)


def current_token() -> Token:
    return g.get("token") or LOCAL_ADMIN


def has_scope(scope: str) -> bool:
    return scope in current_token().scopes


def _admit(token: Token | None) -> None:
    """The request's token, and whether its answers may show the secrets they carry (the
    schemas read `g.sees_secrets`). A valid token earns its connection a place of its own:
    it no longer counts against its address (service.worker)."""
    g.token = token
    g.sees_secrets = bool(token and token.scopes & SEES_SECRETS)
    earned = request.environ.get(EARNED)
    if token is not None and earned is not None:
        earned()


def _authorize():
    if request.method == "OPTIONS" or request.endpoint is None:
        return  # CORS preflight, or a 404/405 that the error handler answers
    tokens = current_app.extensions["dockyard_tokens"]
    if not tokens:
        _admit(LOCAL_ADMIN)
        return
    if required_scope() == BY_TICKET:
        _admit(None)
        return
    public = request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS
    token = _token_from_header(tokens)
    if public:
        _admit(token)
        return
    if token is None:
        metrics.refused_token("missing")
        abort(
            401,
            message="this operation needs a token: send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": 'Bearer realm="dockyard"'},
        )
    _admit(token)
    scope = required_scope()
    # a team's token may take some operators' actions on its team's objects alone
    team_scope = required_scope("team_scope") if token.team else None
    if team_scope and team_scope in token.scopes:
        return
    if scope != ANY_TOKEN and scope not in token.scopes:
        metrics.refused_token("scope")
        abort(
            403,
            message=f"rule `scope`: {request.method} {request.path} needs the `{scope}` scope; "
            f"token `{token.name}` has {', '.join(sorted(token.scopes)) or 'none'}",
        )


def admit_ticket_holder(name: str, scope: str) -> Token:
    """Admit the token a ticket was issued to, by its name, as it stands now: a token removed
    or expired since, or one without ``scope``, is refused (403)."""
    tokens = current_app.extensions["dockyard_tokens"]
    found = LOCAL_ADMIN if not tokens else next((t for t in tokens if t.name == name), None)
    if found is None or (found.expires is not None and found.expires <= datetime.now(UTC)):
        abort(403, message=f"token `{name}`, to which the ticket was issued, is no longer valid")
    _admit(found)
    if scope not in found.scopes:
        abort(403, message=f"rule `scope`: token `{name}` no longer has the `{scope}` scope")
    return found


def _token_from_header(tokens) -> Token | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    kind, _, secret = header.partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        _refuse("malformed", "send the token as `Authorization: Bearer <token>`")
    digest = hash_token(secret.strip())
    found = None
    for token in tokens:  # compare with every one, in constant time
        if hmac.compare_digest(token.digest, digest):
            found = token
    if found is None:
        _refuse("unknown", "unknown token")
    if found.expires is not None and found.expires <= datetime.now(UTC):
        _refuse("expired", f"token `{found.name}` expired at {found.expires.isoformat()}")
    return found


def _refuse(reason, message):
    metrics.refused_token(reason)
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def required_scope(kind: str = "required_scope") -> str | None:
    """The scope the view serving this request declared (`ANY_TOKEN` for what any valid
    token may call); `admin` when it declared none. HEAD is served by the GET view, and
    takes its scope. With ``kind="team_scope"``: the scope that lets a team's token take the
    action on its team's objects alone, None when there is none."""
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)
    method = request.method.lower()
    if method == "head" and not hasattr(view_class, "head"):
        method = "get"
    default = "admin" if kind == "required_scope" else None
    return getattr(getattr(view_class, method, view), kind, default)


token_cli = click.Group("token", help="Tokens of the service.")


@token_cli.command("new")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES), required=True)
@click.option("--expires", help="RFC 3339 time after which the token is refused")
@click.option("--team", help="the team whose objects alone the token sees and drives")
@click.option("--engine", "engines", multiple=True, help="an engine the token may use (all: none)")
def new_token_command(name, scopes, expires, team, engines):
    """Make a token: print its secret once, and the entry to configure (its hash only)."""
    if team is not None and not TEAM_NAME.fullmatch(team):
        raise click.BadParameter(
            "lowercase letters, digits, `_`, `.`, `-`, at most 64", param_hint="--team"
        )
    secret = new_token()
    entry = {"name": name, "hash": hash_token(secret), "scopes": sorted(set(scopes))}
    if expires:
        entry["expires"] = expires
    if team:
        entry["team"] = team
    for engine in engines:
        if not ENGINE_NAME.fullmatch(engine):
            raise click.BadParameter("not an engine name", param_hint="--engine")
    if engines:
        entry["engines"] = sorted(set(engines))
    click.echo(f"token (shown once): {secret}")
    click.echo(f"entry for DOCKYARD_TOKENS: {json.dumps(entry)}")

"""/containers/{id}/terminal: a terminal in a container, over a WebSocket (docker exec -it,
docker attach). A session is asked for with the token (POST), which answers a single-use
ticket; the WebSocket (GET, an upgrade) presents it, with no token in any URL."""

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import abort

from .. import engines
from ..audit import now
from ..auth import admit_ticket_holder, current_token
from ..extensions import RETRY_AFTER_HEADER, Blueprint, gateway
from ..guards import guard
from ..schemas import ErrorSchema
from ..schemas import terminals as schemas
from ..streaming import reserve_stream
from ..streaming.hijack import Upgraded
from ..streaming.terminal import accept, serve
from .containers import container_ref, one_container

# a terminal runs what its user types in the container, as exec does
SCOPE = "exec"

blp = Blueprint(
    "terminals",
    __name__,
    url_prefix="/containers",
    description="Terminals: a shell or a container's own TTY, over a WebSocket",
)


def tickets():
    return current_app.extensions["dockyard_tickets"]


def _header(name: str, description: str, schema: dict) -> dict:
    return {
        "in": "header",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string", **schema},
    }


@blp.route("/<containerref:id>/terminal")
class Terminal(MethodView):
    @blp.requires(SCOPE)
    @blp.arguments(schemas.TerminalSchema)
    @blp.response(201, schemas.TicketSchema)
    @blp.alt_response(
        409, schema=ErrorSchema, description="it does not run, or (attach) has no TTY"
    )
    @blp.alt_response(
        429,
        schema=ErrorSchema,
        description="the token holds as many unused tickets as it may: use one, or wait",
        headers={"Retry-After": RETRY_AFTER_HEADER},
    )
    @one_container
    def post(self, args, id):
        """Ask for a terminal session: a single-use ticket for its WebSocket

        Needs the `exec` scope, and the container must pass the policy as it stands now, as
        for an exec. The ticket is valid for `expires_in` seconds (TERMINAL_TICKET_SECONDS),
        for one WebSocket on this container's `path`, offered as the subprotocol
        `ticket.<ticket>` beside `dockyard.terminal.v1` (a browser:
        `new WebSocket(url, ["dockyard.terminal.v1", "ticket." + ticket])`).
        """
        full = guard(container_ref(id), policed=True)
        gateway().terminal_target(full, args["mode"])
        seconds = float(current_app.config["TERMINAL_TICKET_SECONDS"])
        session = {
            "token": current_token().name,
            "engine": engines.current().name,
            "container": full,
            **{key: args.get(key) for key in ("mode", "command", "env", "workdir", "user")},
            "rows": args["rows"],
            "cols": args["cols"],
        }
        if session["mode"] == "exec" and not session["command"]:
            session["command"] = schemas.DEFAULT_SHELL
        ticket = tickets().issue(session, seconds)
        if ticket is None:
            abort(
                429,
                message=f"token `{session['token']}` holds as many unused tickets as it may: "
                "open their terminals, or wait a few seconds",
                headers={"Retry-After": str(int(seconds))},
            )
        return {
            "ticket": ticket,
            "expires_in": seconds,
            "container": full,
            "path": f"{request.script_root}/containers/{full}/terminal",
            "protocol": schemas.PROTOCOL,
        }


# an upgrade is routed apart from the POST of the same path (werkzeug: `websocket=True`)
@blp.route("/<containerref:id>/terminal", websocket=True)
class TerminalSocket(MethodView):
    @blp.requires_ticket(SCOPE)
    @blp.doc(
        responses={
            "101": {
                "description": "the WebSocket (subprotocol `dockyard.terminal.v1`): binary "
                "messages are the terminal's bytes both ways; text messages are JSON: "
                '`{"type": "resize", "rows": 40, "cols": 120}` from the client; '
                '`{"type": "error", "message": ...}` and, last, `{"type": "end", "reason": '
                '"exited" | "idle" | "stopping", "exit_code": 0}` from the service'
            }
        },
        parameters=[
            _header("Upgrade", "a WebSocket upgrade", {"enum": ["websocket"]}),
            _header("Connection", "an upgrade", {"enum": ["Upgrade"]}),
            _header("Sec-WebSocket-Version", "the WebSocket protocol's", {"enum": ["13"]}),
            _header(
                "Sec-WebSocket-Key",
                "16 random bytes, in base64",
                {"pattern": r"^[A-Za-z0-9+/]{22}==$"},
            ),
            _header(
                "Sec-WebSocket-Protocol",
                f"`{schemas.PROTOCOL}, {schemas.TICKET_PREFIX}<ticket>`: the subprotocol, and "
                "the ticket the POST answered",
                {"pattern": schemas.OFFER},
            ),
        ],
    )
    @blp.alt_response(
        400, schema=ErrorSchema, description="not a WebSocket upgrade, or not of this protocol"
    )
    @blp.alt_response(409, schema=ErrorSchema, description="the container no longer runs")
    @blp.alt_response(
        501, schema=ErrorSchema, description="the service is not served by its gunicorn worker"
    )
    @one_container
    def get(self, id):
        """Open a terminal session's WebSocket, with its ticket

        The upgrade is refused when its `Origin` is another site's (as any request that may
        change state), and the ticket is taken on the first upgrade that presents it, whatever
        follows. The session counts as a stream of its token (TOKEN_STREAMS) and of the
        worker (MAX_STREAMS); it ends when the process ends, the client leaves, or after
        TERMINAL_IDLE_SECONDS with nothing either way.
        """
        ticket = _offered_ticket()
        session = tickets().redeem(ticket)
        if session is None:
            abort(403, message="the ticket is unknown, used or expired: ask for a new one (POST)")
        admit_ticket_holder(session["token"], SCOPE)
        if session["engine"] != engines.current().name:
            abort(403, message=f"the ticket opens a terminal on engine `{session['engine']}`")
        full = guard(container_ref(id), policed=True)
        if full != session["container"]:
            abort(403, message=f"the ticket opens container {session['container'][:12]}'s terminal")
        if "gunicorn.socket" not in request.environ:
            abort(
                501,
                message="terminals need the service served by gunicorn (deploy/gunicorn.conf.py)",
            )
        reserve_stream()
        terminal = gateway().open_terminal(
            full,
            session["mode"],
            session["command"],
            session["env"],
            session["workdir"],
            session["user"],
            session["rows"],
            session["cols"],
        )
        g.target_id = full
        started = now()
        ws = accept(request.environ)
        ended = serve(ws, terminal, float(current_app.config["TERMINAL_IDLE_SECONDS"]))
        # the session's audit line: who (the line's token), what, when, how much
        g.audit = {
            "terminal": {
                "mode": session["mode"],
                "command": session["command"],
                "started": started,
                "ended": now(),
                **ended,
            }
        }
        return Upgraded()


def _offered_ticket() -> str:
    """The ticket a WebSocket upgrade offers among its subprotocols."""
    offered = [
        part.strip()
        for part in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
        if part.strip()
    ]
    if schemas.PROTOCOL not in offered:
        abort(400, message=f"offer the subprotocol `{schemas.PROTOCOL}` and `ticket.<ticket>`")
    tickets_offered = [p for p in offered if p.startswith(schemas.TICKET_PREFIX)]
    if not tickets_offered:
        abort(
            401,
            message="offer the session's ticket as the subprotocol `ticket.<ticket>` "
            "(POST /containers/{id}/terminal answers one)",
        )
    return tickets_offered[0].removeprefix(schemas.TICKET_PREFIX)

"""A terminal session: what a POST asks for, and the ticket it answers."""

import re

import marshmallow as ma

from . import Int, Reply, Schema, Str, absent, doc, given, when
from .fields import AbsolutePath, command_field, env_map, user_field

# a terminal's size, as a PTY takes it (rows and columns of 16 bits)
ROWS_MAX = COLS_MAX = 1000
# what a person at a terminal expects where the image has no other shell
DEFAULT_SHELL = ["/bin/sh"]
PROTOCOL = "dockyard.terminal.v1"
TICKET_PREFIX = "ticket."
# what a WebSocket upgrade offers as its subprotocols: the protocol, and the ticket
OFFER = rf"^{re.escape(PROTOCOL)}, ?{re.escape(TICKET_PREFIX)}[A-Za-z0-9_-]{{1,100}}$"


# what only a new process has: attach joins the container's own
EXEC_ONLY = ("command", "env", "workdir", "user")


class TerminalSchema(Schema):
    document_rules = tuple(when(given("mode", {"const": "attach"}), absent(f)) for f in EXEC_ONLY)

    mode = Str(
        load_default="exec",
        validate=ma.validate.OneOf(["exec", "attach"]),
        **doc(
            "`exec`: a new process on a TTY (a shell by default); `attach`: the container's own "
            "TTY (it must run with `tty` and `stdin_open`)"
        ),
    )
    command = command_field(f"the process to run (exec); `{' '.join(DEFAULT_SHELL)}` by default")
    env = env_map("environment of the process (exec)", load_default=ma.missing)
    workdir = AbsolutePath(**doc("working directory of the process (exec)"))
    user = user_field()
    rows = Int(
        load_default=24,
        validate=ma.validate.Range(min=1, max=ROWS_MAX),
        **doc("the terminal's height, in rows"),
    )
    cols = Int(
        load_default=80,
        validate=ma.validate.Range(min=1, max=COLS_MAX),
        **doc("the terminal's width, in columns"),
    )

    @ma.validates_schema
    def _exec_only(self, data, **kwargs):
        if data.get("mode") == "attach":
            for name in EXEC_ONLY:
                if name in data:
                    raise ma.ValidationError("attach joins the container's own process", name)


class TicketSchema(Reply):
    ticket = Str(
        **doc(
            "single use, valid for `expires_in` seconds: offered on the WebSocket upgrade as the "
            f"subprotocol `{TICKET_PREFIX}<ticket>`, beside `{PROTOCOL}`"
        )
    )
    expires_in = ma.fields.Float(**doc("seconds the ticket stays valid"))
    container = Str(**doc("the container's full id: the ticket opens its terminal only"))
    path = Str(**doc("where to open the WebSocket (ws:// or wss:// on this service)"))
    protocol = Str(**doc("the subprotocol the service speaks, offered with the ticket"))

"""Single-use tickets of terminal sessions, across the workers of one service.

A session is asked for with the token (``POST``); its WebSocket is opened with a ticket, since a
browser cannot send headers on an upgrade and a token never goes in a URL. A ticket is kept
only as its digest, is taken away by the first upgrade that presents it, and is worth nothing
after TERMINAL_TICKET_SECONDS."""

import hashlib
import secrets
import time

from .shared import SharedFile

# unused tickets one token may hold at once: each is a session it may open within seconds
PENDING_MAX = 16


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class Tickets(SharedFile):
    """``{digest: session}``: what each unused ticket opens, and until when."""

    FILE = "tickets.json"

    def issue(self, session: dict, seconds: float) -> str | None:
        """A new ticket for ``session`` (which names its ``token``); None when that token holds
        PENDING_MAX unused ones already."""
        ticket = secrets.token_urlsafe(32)
        now = time.time()
        with self.edit() as held:
            for key in [key for key, entry in held.items() if entry["expires"] <= now]:
                del held[key]
            if sum(entry["token"] == session["token"] for entry in held.values()) >= PENDING_MAX:
                return None
            held[_digest(ticket)] = {**session, "expires": now + seconds}
        return ticket

    def redeem(self, ticket: str) -> dict | None:
        """The session ``ticket`` opens, the ticket taken away; None for a ticket unknown,
        used or expired."""
        with self.edit() as held:
            session = held.pop(_digest(ticket), None)
        if session is None or session["expires"] <= time.time():
            return None
        return session

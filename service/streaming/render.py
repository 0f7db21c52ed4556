"""How an event is written: an ndjson line or an SSE message, and the error shape of the
last event of a stream that a failure ended."""

import json
import logging

from werkzeug.http import HTTP_STATUS_CODES

from ..errors import describe
from .formats import NDJSON, SSE

log = logging.getLogger(__name__)


def error_event(exc: Exception) -> dict:
    """The last event of a stream that a failure ended: the error shape, typed."""
    failure = describe(exc)
    if failure.code >= 500:
        log.warning("stream ended by an error %s: %r", failure.code, exc)
    return failure_event(failure.code, failure.message, failure.errors)


def failure_event(code: int, message: str, errors: dict | None = None) -> dict:
    return {
        "type": "error",
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Error"),
        "message": message,
        "errors": errors or {},
    }


HEARTBEATS = {NDJSON: b'{"type": "heartbeat"}\n', SSE: b": heartbeat\n\n"}


def render(kind: str, event: dict, event_id=None) -> bytes:
    """An event as an ndjson line, or as an SSE event named after its type."""
    data = json.dumps(event, default=str)
    if kind != SSE:
        return data.encode() + b"\n"
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event['type']}\ndata: {data}\n\n".encode()

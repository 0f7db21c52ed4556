"""The answers that stream: long work (pull, push, build, load), which waits for its result
or streams its progress, and live streams (logs, stats, events), until they end."""

import itertools
import logging
from collections.abc import Callable, Iterator

from flask import Response, current_app, request, stream_with_context

from .formats import TEXT, wanted_stream
from .places import reserve_stream
from .pump import HEARTBEAT, Stopping, client_gone, pumped
from .render import HEARTBEATS, error_event, failure_event, render

log = logging.getLogger(__name__)


def progress(events: Iterator[dict], finish: Callable[[list[dict]], dict], schema, status=200):
    """Answer long work. ``finish`` makes the result out of the events that were not
    byte counts (log lines, built, pushed); ``schema`` dumps it."""
    kind = wanted_stream()
    if kind is None:
        try:
            seen = [event for event in events if event["type"] != "progress"]
        finally:
            events.close()
        return finish(seen), status

    reserve_stream(events.close)
    # an immediate failure raises here, before any byte: the client gets an error status
    try:
        first = next(events, None)
    except BaseException:
        events.close()
        raise
    heartbeat = float(current_app.config["STREAM_HEARTBEAT"])
    body = _stream_body(first, events, lambda seen: schema.dump(finish(seen)), kind, heartbeat)
    return _streamed(body, kind, events, status)


def _streamed(body, kind, items, status=200) -> Response:
    reserve_stream(items.close)
    response = Response(
        stream_with_context(body),
        status=status,
        mimetype=kind,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # the daemon's stream is closed even when the body is never read (HEAD, a client gone
    # before the first byte); closing twice is harmless
    response.call_on_close(items.close)
    return response


def _stream_body(first, events, finish, kind, heartbeat):
    seen = []
    try:
        rest = pumped(events, heartbeat, stoppable=True)
        for item in itertools.chain([first] if first else [], rest):
            if item is HEARTBEAT:
                yield HEARTBEATS[kind]
                continue
            if item["type"] != "progress":
                seen.append(item)
            yield render(kind, item)
        yield render(kind, {"type": "result", "result": finish(seen)})
    except Stopping:
        # the daemon's side is closed with the stream: a build stops; ask again once it serves
        message = "the service is stopping: the work was cut off; ask for it again"
        yield render(kind, failure_event(503, message))
    except Exception as exc:
        yield render(kind, error_event(exc))


def live(items, kind: str, render_item=None, event_id=None):
    """Answer with items as the daemon produces them (logs, stats, events), as ``kind``,
    until the daemon ends the stream (then an ``end`` event) or the client leaves.
    ``render_item`` turns an item into bytes (text) or into the event sent (ndjson, SSE);
    ``event_id`` gives an SSE event its ``id:``."""
    heartbeat = float(current_app.config["STREAM_HEARTBEAT"])
    client = request.environ.get("gunicorn.socket")

    def text():
        # an empty first chunk makes the server send the headers now, not at the first item
        yield b""
        try:
            for item in pumped(items, heartbeat, client, stoppable=True):
                if item is not HEARTBEAT:
                    yield render_item(item)
        except Stopping:
            pass
        except Exception as exc:
            # text has no room for an error: it stops, and the log says why
            log.warning("text stream ended by an error: %r", exc)

    def events():
        yield b""
        try:
            for item in pumped(items, heartbeat, client, stoppable=True):
                if item is HEARTBEAT:
                    yield HEARTBEATS[kind]
                    continue
                event = render_item(item) if render_item else item
                yield render(kind, event, event_id(item) if event_id else None)
            if not client_gone(client):
                yield render(kind, {"type": "end"})
        except Stopping:
            message = "the service is stopping: connect again"
            if event_id:
                message += " (with Last-Event-ID, from the last event received)"
            yield render(kind, failure_event(503, message))
        except Exception as exc:
            failure = error_event(exc)
            if event_id and failure["code"] == 503:
                failure["message"] += (
                    ": connect again (with Last-Event-ID, from the last event received)"
                )
            yield render(kind, failure)

    return _streamed(text() if kind == TEXT else events(), kind, items)

"""Streams over HTTP, one rule for all of them (logs, stats, events, pull, push, build, load).

Each streaming operation offers a few formats and names its default; the client chooses with
its Accept header, and one the operation cannot give is a 406 (``negotiate``):

- ``application/json``: long work (pull, build, push, load) waits and answers its result.
- ``application/x-ndjson``: one JSON object a line; a ``{"type": "heartbeat"}`` line after
  STREAM_HEARTBEAT seconds of quiet.
- ``text/event-stream`` (SSE): each object is the ``data:`` of an event named after its
  ``type``, with an ``id:`` where the stream can be resumed; a ``: heartbeat`` comment while
  quiet.
- ``text/plain`` (logs): the bytes as written, with no heartbeat, no last line.

An ndjson or SSE stream always ends with one last object: ``{"type": "result", "result": ...}``
(long work: what the JSON answer would have held), ``{"type": "end"}`` (live streams, when the
daemon ends them), or ``{"type": "error", ...}`` with the error shape: a failure after the first
byte is never a cut answer. The first event of long work is read before the answer starts, so
an error the daemon reports at once still gets a real error status.

A worker serves at most MAX_STREAMS streams at once (by default three quarters of the
connections it holds), so that short requests always find room: one more stream is a 503 with
Retry-After before it starts. The ceiling, the streams open and those refused are in
/system/info. A stream costs a greenlet and a daemon connection, no thread (service.worker).
"""

import itertools
import json
import logging
import queue
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

from flask import Response, after_this_request, current_app, request, stream_with_context
from flask_smorest import abort
from gevent.monkey import get_original
from werkzeug.http import HTTP_STATUS_CODES

from . import lifecycle
from .config import stream_ceiling
from .errors import describe

log = logging.getLogger(__name__)

JSON = "application/json"
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
TEXT = "text/plain"
TAR = "application/x-tar"
GZIP = "application/gzip"
STREAMED = (NDJSON, SSE, TEXT)
_END = object()
HEARTBEAT = object()
_IDLE = object()
_FORMAT = "dockyard.format"


def negotiate(offered, default: str) -> str:
    """The format of the answer: the one of ``offered`` the Accept header prefers (the
    default for none, ``*/*`` or a tie), or a 406 naming those offered. Remembered for
    ``chosen_format``."""
    ordered = [default, *(kind for kind in offered if kind != default)]
    chosen = default
    if request.headers.get("Accept", "").strip():
        best = 0.0
        chosen = None
        for kind in ordered:
            quality = _quality(kind)
            if quality > best:
                chosen, best = kind, quality
        if chosen is None:
            abort(
                406,
                message=f"this operation answers {', '.join(ordered)} (by default {default}); "
                "the Accept header asks for none of them",
            )
    request.environ[_FORMAT] = chosen
    return chosen


def _quality(kind: str) -> float:
    # the most specific item that names the type decides: `text/event-stream;q=0, */*` refuses it
    major = kind.split("/")[0]
    matches = []
    for item, quality in request.accept_mimetypes:
        name = item.split(";")[0].strip().lower()
        specificity = {kind: 2, f"{major}/*": 1, "*/*": 0}.get(name)
        if specificity is not None:
            matches.append((specificity, quality))
    return max(matches)[1] if matches else 0.0


def chosen_format() -> str | None:
    """The format ``negotiate`` chose for this request, if it ran."""
    return request.environ.get(_FORMAT)


def wanted_stream() -> str | None:
    """The stream format of this request (ndjson or SSE), or None for a JSON answer."""
    kind = chosen_format()
    if kind is None:
        best = request.accept_mimetypes.best_match([JSON, NDJSON, SSE])
        kind = best if best and request.accept_mimetypes[best] > 0 else None
    return kind if kind in (NDJSON, SSE) else None


class StreamPlaces:
    """The worker's stream places: at most ``limit`` streams open at once; how many are open
    and how many were refused since the worker started (shown by /system/info)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open = 0
        self.refused = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                self.refused += 1
                return False
            self.open += 1
            return True

    def give_back(self):
        with self._lock:
            self.open -= 1


def stream_places(app=None) -> StreamPlaces:
    """The places of this worker (one app per worker process: its places are the process's)."""
    app = app or current_app
    places = app.extensions.get("dockyard_streams")
    if places is None:
        places = app.extensions.setdefault(
            "dockyard_streams", StreamPlaces(stream_ceiling(app.config))
        )
    return places


def reserve_stream(close=None):
    """Take a stream place for this request, or answer 503 with Retry-After at once (after
    ``close()``, which lets go of a daemon stream already opened). Called before asking the
    daemon for a stream, it refuses before any daemon call; the place is freed when the answer
    closes, whatever it is."""
    if request.environ.get("dockyard.stream_place"):
        return
    places = stream_places()
    if not places.take():
        if close is not None:
            close()
        abort(
            503,
            message=f"the service serves too many streams ({places.limit}): try again later",
            headers={"Retry-After": str(current_app.config["RETRY_AFTER"])},
        )
    request.environ["dockyard.stream_place"] = True
    freed = []

    def free():
        # once, though an error answer may replace the answer that carries it
        if not freed:
            freed.append(True)
            places.give_back()

    @after_this_request
    def free_on_close(response):
        response.call_on_close(free)
        return response


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
        for item in itertools.chain([first] if first else [], pumped(events, heartbeat)):
            if item is HEARTBEAT:
                yield HEARTBEATS[kind]
                continue
            if item["type"] != "progress":
                seen.append(item)
            yield render(kind, item)
        yield render(kind, {"type": "result", "result": finish(seen)})
    except Exception as exc:
        yield render(kind, error_event(exc))


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


def pumped(items, heartbeat, client=None, stoppable=False):
    """The daemon's items as they come, read in a thread of their own; HEARTBEAT after each
    ``heartbeat`` s of quiet; an end as soon as the client has left; with ``stoppable``,
    Stopping as soon as the worker begins to shut down. The daemon's stream is closed
    however this ends."""
    client = client if client is not None else request.environ.get("gunicorn.socket")
    pump = _Pump(items)
    try:
        for item in pump.items(min(heartbeat, 1.0), heartbeat):
            if stoppable and _worker_stopping():
                raise Stopping()
            if item is _IDLE:
                if _client_gone(client):
                    return
            else:
                yield item
    finally:
        pump.close()


class Stopping(Exception):
    """The worker shuts down: a stream that would never end by itself must end now."""


def _worker_stopping() -> bool:
    # the worker says so when it is told to stop: a stream still open when its graceful
    # timeout ends would be cut mid-answer
    return lifecycle.stopping


# the system's own poll, not gevent's: a poll of no time answers at once, without a loop turn
_poll = get_original("select", "poll")


def _client_gone(sock) -> bool:
    """Whether the client closed its connection (seen without reading its bytes)."""
    if sock is None:
        return False
    # under gevent, the system's socket inside: its non-blocking peek never waits
    raw = getattr(sock, "_sock", sock)
    try:
        poller = _poll()  # not select(): it fails past file descriptor 1023
        poller.register(raw, select.POLLIN | select.POLLHUP | select.POLLERR)
        if not poller.poll(0):
            return False
        return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


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
            if not _client_gone(client):
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


class Narrowed:
    """A daemon stream's items while ``going_on(item)`` holds, only those ``kept(item)``;
    closing it closes the daemon's stream."""

    def __init__(self, items, kept=None, going_on=None):
        self._items = items
        self._narrowed = (
            item
            for item in itertools.takewhile(going_on or (lambda _: True), items)
            if kept is None or kept(item)
        )

    def __iter__(self):
        return self._narrowed

    def interrupt(self):
        interrupt = getattr(self._items, "interrupt", None)
        if interrupt is not None:
            interrupt()

    def close(self):
        self._items.close()


HEARTBEATS = {NDJSON: b'{"type": "heartbeat"}\n', SSE: b": heartbeat\n\n"}


def render(kind: str, event: dict, event_id=None) -> bytes:
    """An event as an ndjson line, or as an SSE event named after its type."""
    data = json.dumps(event, default=str)
    if kind != SSE:
        return data.encode() + b"\n"
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event['type']}\ndata: {data}\n\n".encode()


class _Pump:
    """Reads the daemon's events in a thread (a greenlet, served by gevent) of its own, so
    that the answer can send a heartbeat while the daemon says nothing: heartbeats come from a
    timeout on the queue, and this reader is the only one ever to read the daemon's answer.
    Closing it interrupts the daemon's stream (its socket shut down, which wakes the reader),
    waits for the reader to end, and only then closes the stream: closing an answer another
    greenlet is reading is a reentrant call."""

    def __init__(self, events: Iterator[dict]):
        self._events = events
        self._queue = queue.Queue(maxsize=64)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for event in self._events:
                if not self._put(event):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the answering thread, which reports it
            self._put(exc)

    def _put(self, item) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def items(self, poll: float, heartbeat: float):
        """Items, with _IDLE every ``poll`` s and HEARTBEAT every ``heartbeat`` s of quiet."""
        quiet_since = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                yield _IDLE
                if time.monotonic() - quiet_since >= heartbeat:
                    quiet_since = time.monotonic()
                    yield HEARTBEAT
                continue
            quiet_since = time.monotonic()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self._closed.set()
        interrupt = getattr(self._events, "interrupt", None)
        if interrupt is not None and self._thread.is_alive():
            interrupt()
            self._thread.join(timeout=5)
        self._events.close()
        self._thread.join(timeout=5)


# content types a tar body may come with
TAR_TYPES = (
    "application/x-tar",
    "application/tar",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
)
# how archives docker reads begin: gzip, bzip2, xz, zstd; a tar says `ustar` at byte 257
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
_UPLOAD_CHUNK = 64 * 1024


def tar_upload(what: str) -> Iterator[bytes]:
    """The request body, a tar archive, read in chunks as the daemon takes it (never whole
    in memory), up to MAX_UPLOAD_BYTES. An empty body or one that is not an archive is a 400
    before anything reaches the daemon."""
    request.max_content_length = current_app.config["MAX_UPLOAD_BYTES"]
    stream = request.stream
    head = b""
    while len(head) < 512:
        chunk = stream.read(512 - len(head))
        if not chunk:
            break
        head += chunk
    if not head:
        abort(400, message=f"the body is empty: send {what} as a tar archive")
    if not (head.startswith(_COMPRESSED) or head[257:262] == b"ustar"):
        abort(400, message=f"the body is not a tar archive (nor gzip, bzip2, xz, zstd): {what}")

    def chunks():
        yield head
        while chunk := stream.read(_UPLOAD_CHUNK):
            yield chunk

    return chunks()


TAR_BODY = {"schema": {"type": "string", "format": "binary", "minLength": 1}}


def tar_response(description) -> dict:
    """The OpenAPI answer of an operation that sends a tar archive."""
    return {"200": {"description": description, "content": {"application/x-tar": TAR_BODY}}}


# what a file's bytes may be asked for as, whatever they are (generated clients keep these)
BYTES = "application/octet-stream"


def binary_format(native: str) -> str:
    """The one rule of file answers (archives, backups, diagrams): their own type by default,
    `application/octet-stream` (the same bytes) when Accept prefers it, and a 406 when Accept
    takes neither. Asked before any work begins."""
    return negotiate((native, BYTES), native)


def tar_answer(stream, name, compressed=False) -> Response:
    """Send a daemon's tar stream on as it comes, as a file named after ``name``
    (``compressed``: a gzip stream, `.tar.gz`), typed as ``binary_format`` chose."""
    reserve_stream(stream.close)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "archive"
    return Response(
        stream,
        mimetype=chosen_format() or ("application/gzip" if compressed else "application/x-tar"),
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.tar{".gz" * compressed}"'
        },
    )

"""Long work over HTTP: a plain JSON answer at the end, or progress as it happens.

The client chooses with its Accept header: ``application/x-ndjson`` (one JSON object a line) or
``text/event-stream`` (SSE, with a heartbeat comment while the daemon is quiet). Otherwise the
request waits and gets the final result as JSON.

In a stream, the first event is read before the answer starts, so an error the daemon reports
at once still gets a real error status. After that, a failure ends the stream with an
``{"type": "error", ...}`` event, and success with ``{"type": "result", "result": {...}}``
holding what the plain JSON request would have answered.

A worker serves at most MAX_STREAMS streams at once (by default three quarters of its threads),
so that the others keep answering short requests: one more stream is a 503 before it starts.
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

from .errors import describe

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
_END = object()
HEARTBEAT = object()
_IDLE = object()


def wanted_stream() -> str | None:
    """The stream type the client asked for, or None for a plain JSON answer."""
    best = request.accept_mimetypes.best_match(["application/json", NDJSON, SSE])
    return best if best in (NDJSON, SSE) and request.accept_mimetypes[best] > 0 else None


def reserve_stream(close=None):
    """Take a stream place for this request, or answer 503 (after ``close()``, which lets go
    of a daemon stream already opened). Called before asking the daemon for a stream, it
    refuses before any daemon call; the place is freed when the answer closes, whatever it is."""
    if request.environ.get("dockyard.stream_place"):
        return
    config = current_app.config
    limit = int(config["MAX_STREAMS"]) or max(1, int(config["THREADS"]) * 3 // 4)
    # one app per worker process: its places are the process's
    places = current_app.extensions.setdefault("dockyard_streams", threading.Semaphore(limit))
    if not places.acquire(blocking=False):
        if close is not None:
            close()
        abort(
            503,
            message=f"the service serves too many streams ({limit}): try again later",
            headers={"Retry-After": str(config["RETRY_AFTER"])},
        )
    request.environ["dockyard.stream_place"] = True
    freed = threading.Event()

    def free():
        # once, though an error answer may replace the answer that carries it
        if not freed.is_set():
            freed.set()
            places.release()

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
    render = _sse if kind == SSE else _ndjson
    seen = []
    try:
        for item in itertools.chain([first] if first else [], pumped(events, heartbeat)):
            if item is HEARTBEAT:
                if kind == SSE:
                    yield b": heartbeat\n\n"
                continue
            if item["type"] != "progress":
                seen.append(item)
            yield render(item)
        yield render({"type": "result", "result": finish(seen)})
    except Exception as exc:
        yield render(error_event(exc))


def error_event(exc: Exception) -> dict:
    """The last event of a stream that a failure ended."""
    failure = describe(exc)
    if failure.code >= 500:
        log.warning("stream ended by an error %s: %r", failure.code, exc)
    return {
        "type": "error",
        "code": failure.code,
        "message": failure.message,
        "errors": failure.errors,
    }


def pumped(items, heartbeat, client=None):
    """The daemon's items as they come, read in a thread of their own; HEARTBEAT after each
    ``heartbeat`` s of quiet; an end as soon as the client has left. The daemon's stream is
    closed however this ends."""
    client = client if client is not None else request.environ.get("gunicorn.socket")
    pump = _Pump(items)
    try:
        for item in pump.items(min(heartbeat, 1.0), heartbeat):
            if item is _IDLE:
                if _client_gone(client):
                    return
            else:
                yield item
    finally:
        pump.close()


def _client_gone(sock) -> bool:
    """Whether the client closed its connection (seen without reading its bytes)."""
    if sock is None:
        return False
    try:
        poller = select.poll()  # not select(): it fails past file descriptor 1023
        poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


def live(items, kind: str, render=None):
    """Answer with items as the daemon produces them (logs, stats, events), as ``kind``,
    until the daemon ends the stream or the client leaves. ``render`` turns an item into
    bytes (by default, a JSON line or an SSE event)."""
    render = render or (_sse if kind == SSE else _ndjson)
    heartbeat = float(current_app.config["STREAM_HEARTBEAT"])
    client = request.environ.get("gunicorn.socket")

    def body():
        # an empty first chunk makes the server send the headers now, not at the first item
        yield b""
        try:
            for item in pumped(items, heartbeat, client):
                if item is HEARTBEAT:
                    if kind == SSE:
                        yield b": heartbeat\n\n"
                    continue
                yield render(item)
        except Exception as exc:
            if kind in (SSE, NDJSON):
                yield (_sse if kind == SSE else _ndjson)(error_event(exc))
            else:
                log.warning("text stream ended by an error: %r", exc)

    return _streamed(body(), kind, items)


def _ndjson(event: dict) -> bytes:
    return json.dumps(event, default=str).encode() + b"\n"


def _sse(event: dict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, default=str)}\n\n".encode()


class _Pump:
    """Reads the daemon's events in a thread of its own, so that the answer can send a
    heartbeat while the daemon says nothing. Closing it closes the daemon's stream, which
    ends the thread even when it is blocked reading."""

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


def tar_answer(stream, name) -> Response:
    """Send a daemon's tar stream on as it comes, as a file named after ``name``."""
    reserve_stream(stream.close)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "archive"
    return Response(
        stream,
        mimetype="application/x-tar",
        headers={"Content-Disposition": f'attachment; filename="{filename}.tar"'},
    )

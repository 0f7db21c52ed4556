"""The daemon's JSON progress streams (pull, push, build, load), read as they come.

Each daemon message becomes one of our events:
``{"type": "progress", "status", "id", "current", "total"}``, ``{"type": "log", "line"}``,
``{"type": "built", "id"}`` or ``{"type": "pushed", "tag", "digest", "size"}``.
An error the daemon reports inside its stream (``errorDetail``) is raised as StreamError.
"""

import socket
from collections.abc import Iterator

import docker.errors
from docker.types import CancellableStream
from docker.utils.json_stream import json_stream


class DaemonStream:
    """What the daemon sends, item by item, with a close() that works from any thread.

    Closing shuts the daemon's socket down, which wakes a read blocked in another thread,
    then releases the response. Unlike docker-py's CancellableStream, a connection that
    breaks mid-stream raises instead of ending the iteration as if all had been said.
    """

    def __init__(self, items: Iterator, response):
        self._items = items
        self._response = response

    @classmethod
    def empty(cls) -> "DaemonStream":
        """A stream with nothing in it, where the daemon would have nothing to send."""
        return cls(iter(()), None)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._items)

    def interrupt(self):
        """Shut the daemon's socket down without closing anything: a read blocked in another
        thread or greenlet returns, and that reader ends; ``close()`` follows once it has."""
        try:
            fp = self._response.raw._fp.fp
            raw = getattr(fp, "raw", None)
            sock = getattr(raw, "sock", None) or getattr(raw, "_sock", None)
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass  # already read to its end, already closed, or a transport with no socket

    def close(self):
        if self._response is None:
            return
        try:
            CancellableStream(None, self._response).close()
        except Exception:
            pass  # already read to its end, already closed, or a transport with no socket
        finally:
            self._response.close()


class StreamError(docker.errors.DockerException):
    """The daemon reported a failure inside a stream that had already begun.

    ``kind`` says whose fault it is: ``not_found``, ``invalid`` (the client's input),
    ``conflict`` (the object's state), ``build`` (the client's Dockerfile), ``upstream`` (a
    registry or the daemon).
    """

    def __init__(self, message: str, kind: str = "upstream", details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.details = details or {}


# words of the daemon's messages that mean the image or repository does not exist
# (or no image for the platform asked of a multi-platform one)
_NOT_FOUND = (
    "not found",
    "manifest unknown",
    "does not exist",
    "name unknown",
    "no such",
    "no matching manifest",
)


def classify_registry_error(message: str) -> str:
    lowered = message.lower()
    return "not_found" if any(words in lowered for words in _NOT_FOUND) else "upstream"


def progress_events(response, classify=classify_registry_error) -> Iterator[dict]:
    """Our events out of a daemon progress stream."""
    for message in json_stream(response.iter_content(chunk_size=None)):
        if "error" in message or "errorDetail" in message:
            text = (message.get("errorDetail") or {}).get("message") or message.get("error")
            raise StreamError(str(text), classify(str(text)))
        event = _event(message)
        if event is not None:
            yield event


def _event(message: dict) -> dict | None:
    if "stream" in message:
        line = message["stream"].rstrip("\n")
        return {"type": "log", "line": line} if line.strip() else None
    aux = message.get("aux")
    if isinstance(aux, dict):
        if "ID" in aux:
            return {"type": "built", "id": aux["ID"]}
        if "Digest" in aux:
            return {
                "type": "pushed",
                "tag": aux.get("Tag"),
                "digest": aux["Digest"],
                "size": aux.get("Size"),
            }
        return None
    if "status" in message:
        event = {"type": "progress", "status": message["status"]}
        if message.get("id"):
            event["id"] = message["id"]
        detail = message.get("progressDetail") or {}
        if "current" in detail:
            event["current"] = detail["current"]
        if "total" in detail:
            event["total"] = detail["total"]
        return event
    return None

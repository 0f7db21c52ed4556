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
connections it holds), so that short requests always find room, and a token holds at most
TOKEN_STREAMS across the workers, so that one client cannot take them all: one more stream is
a 503 with Retry-After before it starts. The ceiling, the streams open and those refused,
by token too, are in /system/info. A stream costs a greenlet and a daemon connection, no
thread (service.worker).

One concern a module: ``formats`` (media types, Accept), ``places`` (admission), ``pump``
(reading a daemon stream with heartbeats, hang-ups and shutdown), ``render`` (ndjson and SSE,
the error event), ``answers`` (long work and live streams), ``files`` (tar in, files out).
"""

from .answers import live, progress
from .files import TAR_BODY, TAR_TYPES, tar_answer, tar_response, tar_upload
from .formats import (
    BYTES,
    GZIP,
    JSON,
    NDJSON,
    SSE,
    STREAMED,
    TAR,
    TEXT,
    binary_format,
    chosen_format,
    negotiate,
    wanted_stream,
)
from .logs import logs_answer
from .places import StreamPlaces, TokenStreams, reserve_stream, stream_places, token_streams
from .pump import HEARTBEAT, Narrowed, Stopping, pumped
from .render import error_event, failure_event, render

__all__ = [
    "BYTES",
    "GZIP",
    "HEARTBEAT",
    "JSON",
    "NDJSON",
    "SSE",
    "STREAMED",
    "TAR",
    "TAR_BODY",
    "TAR_TYPES",
    "TEXT",
    "Narrowed",
    "Stopping",
    "StreamPlaces",
    "TokenStreams",
    "binary_format",
    "chosen_format",
    "error_event",
    "failure_event",
    "live",
    "logs_answer",
    "negotiate",
    "progress",
    "pumped",
    "render",
    "reserve_stream",
    "stream_places",
    "tar_answer",
    "tar_response",
    "tar_upload",
    "token_streams",
    "wanted_stream",
]

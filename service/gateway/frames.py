"""The daemon's output streams as they come off the socket: multiplexed frames (an 8-byte
header, then the bytes) or a TTY's raw bytes, read in large reads."""

import struct
from collections.abc import Iterator

import requests.exceptions
import urllib3.exceptions

_STREAMS = {0: "stdin", 1: "stdout", 2: "stderr"}


# what one read of a daemon stream takes at most: a log written line by line comes in frames of
# a hundred bytes, and one greenlet switch, one queue item and one write per frame was what made
# logs slow (2 MB/s); a read takes what has come, up to this, and its frames go on together
READ_SIZE = 256 * 1024


def multiplexed_frames(response, whole=False) -> Iterator[tuple[str, bytes]]:
    """The daemon's multiplexed stream: frames of an 8-byte header (stream, size), then the
    bytes. Read in large reads (``whole``: each one filled, for a stream read to its end;
    else what has come); the frames of one read that follow each other on the same stream go
    on as one."""
    raw = response.raw
    buffer = bytearray()
    while True:
        chunk = _read_some(raw, whole)
        if not chunk:
            if buffer:
                raise requests.exceptions.ConnectionError("the daemon's stream broke off")
            return
        buffer += chunk
        kind, parts, start = None, [], 0
        while len(buffer) - start >= 8:
            stream, size = struct.unpack_from(">BxxxL", buffer, start)
            if len(buffer) - start - 8 < size:
                break
            name = _STREAMS.get(stream, "stdout")
            if name != kind and parts:
                yield kind, b"".join(parts)
                parts = []
            kind = name
            parts.append(bytes(buffer[start + 8 : start + 8 + size]))
            start += 8 + size
        del buffer[:start]
        if parts:
            yield kind, b"".join(parts)


def raw_frames(response, whole=False) -> Iterator[tuple[str, bytes]]:
    """A TTY container's output: one stream, no headers; read in large reads."""
    raw = response.raw
    while chunk := _read_some(raw, whole):
        yield "stdout", chunk


def _read_some(raw, whole) -> bytes:
    """Up to READ_SIZE bytes of the daemon's answer: with ``whole``, as many as come before
    its end; else what has come, waiting only for the first (the daemon sends each write of
    the container as a chunk of its own). Its transport errors as requests' own, which the
    one error translation knows."""
    try:
        return raw.read(READ_SIZE) if whole else raw.read1(READ_SIZE)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(str(exc)) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.exceptions.ConnectionError(str(exc)) from exc

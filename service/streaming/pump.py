"""The pump: a daemon stream's items read in a greenlet of their own, with heartbeats while it
is quiet, an end as soon as the client leaves, and Stopping when the worker shuts down."""

import itertools
import queue
import select
import socket
import threading
import time
from collections.abc import Iterator

from flask import request
from gevent.monkey import get_original

from .. import lifecycle

_END = object()


HEARTBEAT = object()


_IDLE = object()


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
                if client_gone(client):
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


def client_gone(sock) -> bool:
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

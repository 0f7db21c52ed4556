"""Live engine events: one daemon subscription per worker, shared by every client.

A client that asks for events as they happen (no ``since``, no ``until``, no Last-Event-ID)
does not open a daemon stream of its own: it subscribes to the worker's ``EventHub``, which
reads the daemon's stream (unfiltered) in one thread (a greenlet) and hands each event to every
subscriber whose filters it matches; the filters are applied here, as the daemon applies them.
The subscription opens with the first subscriber and closes with the last, giving its daemon
connection back. A subscriber too slow to take its events loses its stream (an error event),
never the others'. Replays (``since``) and bounded streams (``until``) ask the daemon, per client.
"""

import os
import queue
import threading

from .gateway.mirror import labels_match
from .gateway.streams import StreamError

# events a subscriber may have waiting before it is dropped as too slow
BACKLOG = 4096
_END = object()


def matches(event: dict, filters: dict) -> bool:
    """Whether the daemon would send ``event`` (our shape) to a client with ``filters`` (the
    daemon's names: type, event, label, container, image), each a list of values."""
    if not filters:
        return True
    kind = event.get("type") or ""
    action = event.get("action") or ""
    actor = event.get("actor_id") or ""
    attributes = event.get("attributes") or {}
    wanted = filters.get("type")
    if wanted and kind not in wanted:
        return False
    wanted = filters.get("event")
    if wanted:
        # the daemon matches health_status, exec_create and exec_start by prefix
        fuzzy = any(w in ("health_status", "exec_create", "exec_start") for w in wanted)
        if not (action in wanted or (fuzzy and any(action.startswith(w) for w in wanted if w))):
            return False
    wanted = filters.get("container")
    if wanted:
        name = attributes.get("name") or ""
        if not any(actor.startswith(w) or name.startswith(w) for w in wanted):
            return False
    wanted = filters.get("image")
    if wanted:
        name = attributes.get("name" if kind == "image" else "image") or ""
        names = {actor, name, _strip_tag(actor), _strip_tag(name)}
        if not names & set(wanted):
            return False
    wanted = filters.get("label")
    return not wanted or labels_match(attributes, wanted)


def _strip_tag(name: str) -> str:
    # `repo:tag` -> `repo`, keeping a registry's port (`host:5000/repo`)
    if ":" in name.rsplit("/", 1)[-1]:
        return name.rsplit(":", 1)[0]
    return name


class Subscription:
    """One client's events out of one hub or several (engines followed together), as a
    daemon stream would give them: iterate it, interrupt it from another thread, close it."""

    def __init__(self, hubs: list["EventHub"], filters: dict):
        self._hubs = hubs
        self.filters = filters
        self._queue = queue.Queue(maxsize=BACKLOG)
        self._closed = False

    def offer(self, item):
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            # too slow: it ends with an error, and takes no more of the hubs' memory
            self._leave()
            self._drain()
            self._queue.put_nowait(StreamError("the client read events too slowly: connect again"))

    def _drain(self):
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def __iter__(self):
        return self

    def __next__(self):
        if self._closed:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def interrupt(self):
        self._drain()
        self._queue.put_nowait(_END)

    def close(self):
        if not self._closed:
            self._closed = True
            self._leave()

    def _leave(self):
        for hub in self._hubs:
            hub.leave(self)


class EventHub:
    """The worker's one subscription to an engine's events, shared by its clients."""

    def __init__(self, open_stream):
        # open_stream(): a daemon stream of every event (our shape), with interrupt and close
        self._open_stream = open_stream
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._stream = None
        self._reader = None
        self._pid = None
        self.subscriptions_made = 0

    @property
    def daemon_subscriptions(self) -> int:
        """Daemon event streams this worker holds open: 0 or 1."""
        return int(self._stream is not None and self._pid == os.getpid())

    def subscribe(self, filters: dict) -> Subscription:
        """A new client's subscription; opens the daemon's stream if none is open (a daemon
        that does not answer raises here, before the answer starts)."""
        return subscribe([self], filters)

    def join(self, subscription: Subscription):
        """``subscription`` hears this hub's events from now on."""
        with self._lock:
            if self._stream is None or self._pid != os.getpid():
                self._stream = self._open_stream()
                self._pid = os.getpid()
                self.subscriptions_made += 1
                self._reader = threading.Thread(
                    target=self._read, args=(self._stream,), daemon=True
                )
                self._reader.start()
            self._subscribers.add(subscription)

    def leave(self, subscription: Subscription):
        with self._lock:
            self._subscribers.discard(subscription)
            if self._subscribers or self._stream is None:
                return
            stream, reader = self._stream, self._reader
            self._stream = self._reader = None
        # the last one left: the daemon's stream goes, its connection given back
        self._stop(stream, reader)

    @staticmethod
    def _stop(stream, reader):
        stream.interrupt()
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=5)
        stream.close()

    def _read(self, stream):
        failure = None
        try:
            for event in stream:
                for subscription in list(self._subscribers):
                    if matches(event, subscription.filters):
                        subscription.offer(event)
        except BaseException as exc:
            failure = exc
        with self._lock:
            if self._stream is not stream:
                return  # closed on purpose: its subscribers are gone
            # the daemon ended the stream or it broke: every subscriber hears it, the next
            # subscriber opens a new one
            self._stream = self._reader = None
            subscribers = list(self._subscribers)
            self._subscribers.clear()
        for subscription in subscribers:
            subscription.offer(
                failure
                if isinstance(failure, Exception)
                else StreamError("the daemon ended its event stream: connect again")
            )
        stream.close()


def subscribe(hubs: list[EventHub], filters: dict) -> Subscription:
    """One client's subscription to the events of every hub of ``hubs`` (opened where none
    is); a daemon that does not answer raises here, and the hubs joined are left."""
    subscription = Subscription(hubs, filters)
    try:
        for hub in hubs:
            hub.join(subscription)
    except BaseException:
        subscription.close()
        raise
    return subscription

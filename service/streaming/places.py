"""Admission of streams, by two counts, both taken before the work starts:

- the worker's ceiling: a worker serves at most MAX_STREAMS streams at once, so that short
  requests always find room;
- the token's quota: a token holds at most TOKEN_STREAMS streams at once (or its own
  `streams`), across the service's workers, so that one client cannot take every place.

Past either, the stream is a 503 with Retry-After, in the service's error shape.
"""

import os
import threading

from flask import after_this_request, current_app, request
from flask_smorest import abort

from .. import metrics
from ..auth import LOCAL_ADMIN, current_token
from ..config import stream_ceiling
from .shared import SharedFile


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


class TokenStreams(SharedFile):
    """Streams open and refused by token name, across the workers of one service: a JSON file
    in the directory they share (SHARED_DIR), ``{pid: {token: [open, refused]}}``, read and
    written under a lock. A worker's counts go with it when it ends."""

    FILE = "streams.json"

    def take(self, name: str, quota: int) -> bool:
        with self.edit() as counts:
            held = sum(tokens.get(name, (0, 0))[0] for tokens in counts.values())
            mine = counts.setdefault(str(os.getpid()), {}).setdefault(name, [0, 0])
            if held >= quota:
                mine[1] += 1
                return False
            mine[0] += 1
            return True

    def give_back(self, name: str):
        with self.edit() as counts:
            mine = counts.get(str(os.getpid()), {}).get(name)
            if mine:
                mine[0] = max(0, mine[0] - 1)

    def by_token(self) -> dict[str, tuple[int, int]]:
        """Token name -> (streams open, streams refused) of the workers alive."""
        with self.edit(write=False) as counts:
            total: dict[str, list[int]] = {}
            for tokens in counts.values():
                for name, (held, refused) in tokens.items():
                    entry = total.setdefault(name, [0, 0])
                    entry[0] += held
                    entry[1] += refused
        return {name: (held, refused) for name, (held, refused) in total.items()}

    def clear(self):
        """No stream is open: the service starts."""
        with self.edit() as counts:
            counts.clear()

    def forget(self, pid: int):
        """A worker ended: its streams are no more."""
        with self.edit() as counts:
            counts.pop(str(pid), None)


def stream_places(app=None) -> StreamPlaces:
    """The places of this worker (one app per worker process: its places are the process's)."""
    app = app or current_app
    places = app.extensions.get("dockyard_streams")
    if places is None:
        places = app.extensions.setdefault(
            "dockyard_streams", StreamPlaces(stream_ceiling(app.config))
        )
    return places


def token_streams(app=None) -> TokenStreams:
    app = app or current_app
    return app.extensions["dockyard_token_streams"]


def quota_of(token) -> int:
    """The streams ``token`` may hold at once: its own `streams`, else TOKEN_STREAMS."""
    return token.streams if token.streams is not None else int(current_app.config["TOKEN_STREAMS"])


def reserve_stream(close=None):
    """Take a stream place for this request, and one of its token's quota, or answer 503 with
    Retry-After at once (after ``close()``, which lets go of a daemon stream already opened).
    Called before asking the daemon for a stream, it refuses before any daemon call; the
    places are freed when the answer closes, whatever it is."""
    if request.environ.get("dockyard.stream_place"):
        return
    kind = metrics.stream_kind()
    places = stream_places()
    token = current_token()
    # the administrator of a service with no tokens (open access) has no one to share with
    name = None if token is LOCAL_ADMIN else token.name
    if not places.take():
        _refuse(
            close,
            kind,
            "ceiling",
            f"the service serves too many streams ({places.limit}): try again later",
        )
    held = token_streams()
    if name is not None and not held.take(name, quota_of(token)):
        places.give_back()
        _refuse(
            close,
            kind,
            "token_quota",
            f"token `{name}` holds its quota of streams ({quota_of(token)}, TOKEN_STREAMS): "
            "close one, or try again later",
        )
    request.environ["dockyard.stream_place"] = True
    counting = metrics.enabled()
    if counting:
        metrics.child(metrics.STREAMS_OPEN, kind).inc()
    freed = []

    def free():
        # once, though an error answer may replace the answer that carries it
        if not freed:
            freed.append(True)
            places.give_back()
            if name is not None:
                held.give_back(name)
            if counting:
                metrics.child(metrics.STREAMS_OPEN, kind).dec()

    @after_this_request
    def free_on_close(response):
        if not response.is_streamed:
            # an answer whole in memory (an error, most often) holds no stream
            free()
            return response
        # freed when the body ends or the answer closes, whichever comes first: a server
        # closes every answer, but a client reading the body to its end holds nothing either
        response.call_on_close(free)
        response.response = _freeing(metrics.counted(response.response, kind, "sent"), free)
        return response


def _freeing(chunks, free):
    try:
        yield from chunks
    finally:
        free()


def _refuse(close, kind, reason, message):
    if close is not None:
        close()
    if metrics.enabled():
        metrics.child(metrics.STREAMS_REFUSED, kind, reason).inc()
    abort(503, message=message, headers={"Retry-After": str(current_app.config["RETRY_AFTER"])})

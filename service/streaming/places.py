"""Admission: a worker serves at most MAX_STREAMS streams at once, so that short requests
always find room; one more is a 503 with Retry-After before it starts."""

import threading

from flask import after_this_request, current_app, request
from flask_smorest import abort

from ..config import stream_ceiling


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

"""What a stream or a file answer is sent as: the media types, and the one rule that picks
among them with the client's Accept header (a 406 names those offered)."""

from flask import request
from flask_smorest import abort

JSON = "application/json"


NDJSON = "application/x-ndjson"


SSE = "text/event-stream"


TEXT = "text/plain"


TAR = "application/x-tar"


GZIP = "application/gzip"


STREAMED = (NDJSON, SSE, TEXT)


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


# what a file's bytes may be asked for as, whatever they are (generated clients keep these)
BYTES = "application/octet-stream"


def binary_format(native: str) -> str:
    """The one rule of file answers (archives, backups, diagrams): their own type by default,
    `application/octet-stream` (the same bytes) when Accept prefers it, and a 406 when Accept
    takes neither. Asked before any work begins."""
    return negotiate((native, BYTES), native)

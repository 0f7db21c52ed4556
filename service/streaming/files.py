"""Files in and out: tar uploads read as they come (checked to be archives), and archives,
backups and diagrams sent as their own type or as bytes (``binary_format``)."""

import re
from collections.abc import Iterator

from flask import Response, current_app, request
from flask_smorest import abort

from .. import metrics
from .formats import chosen_format
from .places import reserve_stream

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

    return metrics.counted(chunks(), metrics.stream_kind(), "received")


TAR_BODY = {"schema": {"type": "string", "format": "binary", "minLength": 1}}


def tar_response(description) -> dict:
    """The OpenAPI answer of an operation that sends a tar archive."""
    return {"200": {"description": description, "content": {"application/x-tar": TAR_BODY}}}


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

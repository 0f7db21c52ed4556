"""Volume archives: what a restore archive may hold, checked in full before one byte of it is
written, and the gzip of a backup, made as it streams.

A restore archive is read once, as it arrives: each entry's header is checked while the bytes
go to a spool file (on disk, never whole in memory). Only an archive whose every entry passed
is then sent to the daemon, from that file, so a refused archive writes nothing.
"""

import posixpath
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

CHUNK = 1024 * 1024
# gzip's fastest level: a backup is bound by the compressor, and level 1 keeps most of the gain
GZIP_LEVEL = 1
_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.GNUTYPE_SPARSE: "file",
    tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hard link",
    tarfile.FIFOTYPE: "fifo",
}


class BadArchive(ValueError):
    """The archive cannot be restored: the message names the entry and why."""


@dataclass
class Spooled:
    """A checked archive waiting in a spool file: its entries and bytes counted."""

    file: object
    entries: int
    size: int

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(CHUNK):
            yield chunk

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def spool_checked(chunks: Iterator[bytes], directory: str | None = None) -> Spooled:
    """Read an archive (tar, or tar in gzip, bzip2, xz) to a spool file, checking every
    entry as it passes; BadArchive at the first entry that may not be restored."""
    spool = tempfile.TemporaryFile(dir=directory or None)
    reader = _Tee(chunks, spool)
    try:
        entries = 0
        try:
            with tarfile.open(fileobj=reader, mode="r|*") as archive:
                seen = _Seen()
                for member in archive:
                    seen.check(member)
                    entries += 1
        except tarfile.TarError as exc:
            raise BadArchive(f"not a readable tar archive (tar, gzip, bzip2 or xz): {exc}") from exc
        except (EOFError, zlib.error, OSError) as exc:
            raise BadArchive(f"the archive is cut short or corrupt: {exc}") from exc
        reader.drain()
        spool.flush()
        return Spooled(spool, entries, reader.size)
    except BaseException:
        spool.close()
        raise


class _Tee:
    """A file-like reader over the body's chunks that also writes them to the spool."""

    def __init__(self, chunks: Iterator[bytes], spool):
        self._chunks, self._spool = chunks, spool
        self._buffer = b""
        self.size = 0

    def read(self, size=-1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._spool.write(chunk)
            self.size += len(chunk)
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def drain(self):
        """The rest of the body (the padding after the last entry) to the spool too."""
        while self.read(CHUNK):
            pass


class _Seen:
    """The entries so far, to judge the next: paths stay in the volume, nothing is written
    through a link, hard links point at entries inside it."""

    def __init__(self):
        self.symlinks: set[str] = set()

    def check(self, member: tarfile.TarInfo) -> None:
        name = _inside(member.name, member.name)
        kind = _KINDS.get(member.type)
        if kind is None:
            what = "device" if member.type in (tarfile.CHRTYPE, tarfile.BLKTYPE) else "special"
            raise BadArchive(f"`{member.name}` is a {what} file: only files, directories, links")
        parts = name.split("/") if name != "." else []
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in self.symlinks:
                raise BadArchive(f"`{member.name}` would be written through a symbolic link")
        if member.type == tarfile.SYMTYPE:
            if member.linkname.startswith("/"):
                raise BadArchive(
                    f"`{member.name}` links to `{member.linkname}`, an absolute path: out of "
                    "the volume"
                )
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            if target == ".." or target.startswith("../"):
                raise BadArchive(
                    f"`{member.name}` links to `{member.linkname}`, which is out of the volume"
                )
            self.symlinks.add(name)
        elif member.type == tarfile.LNKTYPE:
            _inside(member.linkname, member.name)
        else:
            # a later entry of the same name replaces a link
            self.symlinks.discard(name)


def _inside(path: str, entry: str) -> str:
    """``path`` normalised, relative to the volume's root; BadArchive when it leaves it."""
    if path.startswith("/"):
        raise BadArchive(f"`{entry}` is an absolute path: entries are relative to the volume")
    if ".." in path.split("/"):
        raise BadArchive(f"`{entry}` climbs out with `..`: entries stay in the volume")
    return posixpath.normpath(path) if path else "."


class Gzipped:
    """A tar stream compressed as it goes, with the close() of the stream it reads."""

    def __init__(self, stream):
        self._stream = stream
        self._out = self._compress()

    def _compress(self) -> Iterator[bytes]:
        gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        for chunk in self._stream:
            out = gzip.compress(chunk)
            if out:
                yield out
        yield gzip.flush()

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        return next(self._out)

    def close(self):
        self._stream.close()

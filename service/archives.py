"""Volume archives: what a restore archive may hold, checked in full before one byte of it is
written, and the gzip of a backup, made as it streams.

A restore archive is read once, as it arrives: each entry is judged as the kernel will see it
once extracted (its links followed through the links the archive makes), then written again,
its mode bits cleared, to a plain tar in a spool file (on disk, never whole in memory). Only once
every entry passed is that tar, exactly what was checked, sent to the daemon: a refused archive
writes nothing.
"""

import bz2
import lzma
import posixpath
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from gzip import GzipFile

CHUNK = 1024 * 1024
# gzip's fastest level: a backup is bound by the compressor, and level 1 keeps most of the gain
GZIP_LEVEL = 1
# the symbolic links one path may go through, as the kernel allows (its MAXSYMLINKS)
MAX_HOPS = 40
# the characters of a path or a link's target, as the kernel takes them (its PATH_MAX): it
# also bounds the work of following links
MAX_PATH = 4096
# the bytes of an extended header (pax records, a GNU long name), which tarfile reads whole
# into memory: a path and its attributes take far less
MAX_HEADER = 64 * 1024
_EXTENDED = {
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
}
_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.GNUTYPE_SPARSE: "file",
    tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hard link",
}
# what each kind is written as in the spool: a sparse file goes as the plain file it unpacks to
_TYPES = {
    "file": tarfile.REGTYPE,
    "directory": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hard link": tarfile.LNKTYPE,
}
_REFUSED = {
    tarfile.CHRTYPE: "device file",
    tarfile.BLKTYPE: "device file",
    tarfile.FIFOTYPE: "fifo",
}
_UNREADABLE = "not a readable tar archive (tar, gzip, bzip2 or xz)"
# a compressed body, told by its first bytes
_DECOMPRESSORS = (
    (b"\x1f\x8b", lambda body: GzipFile(fileobj=body, mode="rb")),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)


class BadArchive(ValueError):
    """The archive cannot be restored: the message names the entry and why."""


class TooLarge(BadArchive):
    """The archive is past a bound (its bytes unpacked, its entries): the message names it."""


@dataclass
class Spooled:
    """A checked archive waiting in a spool file, written again as a plain tar: its entries,
    the bytes of the body it came in (``size``), the bytes of file data it unpacks to."""

    file: object
    entries: int
    size: int
    unpacked: int

    def chunks(self) -> Iterator[bytes]:
        """The spooled tar, from its start."""
        self.file.seek(0)
        while chunk := self.file.read(CHUNK):
            yield chunk

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def spool_checked(
    chunks: Iterator[bytes],
    directory: str | None = None,
    *,
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> Spooled:
    """Read an archive (tar, or tar in gzip, bzip2, xz), checking every entry as it passes and
    writing it again to a plain tar in a spool file; BadArchive at the first entry that may
    not be restored, TooLarge (before reading further) once the archive unpacks to more than
    ``max_bytes`` or holds more than ``max_entries`` entries (None: no bound)."""
    spool = tempfile.TemporaryFile(dir=directory or None)
    body = ChunkReader(chunks)
    try:
        entries = unpacked = 0
        try:
            tar = _Bounded(_decompressed(body), max_bytes)
            with (
                tarfile.open(fileobj=tar, mode="r|", tarinfo=_Header) as archive,
                tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as out,
            ):
                tree = _Tree()
                while (member := archive.next()) is not None:
                    entries += 1
                    if max_entries is not None and entries > max_entries:
                        raise TooLarge(f"it holds more than {max_entries} entries")
                    checked = tree.check(member)
                    if checked.isreg():
                        unpacked += checked.size
                        # the size is in the header: a bomb is refused before its data is read
                        if max_bytes is not None and unpacked > max_bytes:
                            raise TooLarge(
                                f"`{member.name}` takes it past {max_bytes} bytes unpacked"
                            )
                        out.addfile(checked, archive.extractfile(member))
                    else:
                        out.addfile(checked)
                    # both keep every member in a list otherwise: one at a time is all it takes
                    archive.members.clear()
                    out.members.clear()
                tree.check_links()
        except tarfile.TarError as exc:
            raise BadArchive(f"{_UNREADABLE}: {exc}") from exc
        except (EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
            # before the first entry, a body that does not even decompress is no archive
            problem = "the archive is cut short or corrupt" if entries else _UNREADABLE
            raise BadArchive(f"{problem}: {exc}") from exc
        body.drain()
        spool.flush()
        return Spooled(spool, entries, body.size, unpacked)
    except BaseException:
        spool.close()
        raise


class ChunkReader:
    """A request body's chunks as a file-like reader (a read may come short), counting the
    bytes received."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = iter(chunks)
        self._rest = memoryview(b"")
        self.size = 0

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end), left to be read."""
        head = bytes(self._rest)
        while len(head) < size and (chunk := next(self._chunks, None)) is not None:
            self.size += len(chunk)
            head += chunk
        self._rest = memoryview(head)
        return head[:size]

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the current chunk, the next one when it is spent; b"" at
        the end."""
        while not self._rest:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self.size += len(chunk)
            self._rest = memoryview(chunk)
        out, self._rest = self._rest[:size], self._rest[size:]
        return bytes(out)

    def drain(self):
        """The rest of the body (the padding after the last entry), read and counted."""
        while self.read(CHUNK):
            pass


def _decompressed(body: ChunkReader):
    """The body as a reader of tar bytes: uncompressed as it is read when it starts as gzip,
    bzip2 or xz do (and is no plain tar, whose first name could start the same)."""
    head = body.peek(tarfile.BLOCKSIZE)
    if head[257:262] != b"ustar":
        for magic, opener in _DECOMPRESSORS:
            if head.startswith(magic):
                return opener(body)
    return body


class _Bounded:
    """A reader of the uncompressed tar that counts its bytes: TooLarge as soon as they pass
    ``limit``, so that a bomb (headers, padding, data) is never unpacked whole."""

    def __init__(self, file, limit: int | None):
        self._file, self._limit = file, limit
        self.size = 0

    def read(self, size: int) -> bytes:
        data = self._file.read(size)
        self.size += len(data)
        if self._limit is not None and self.size > self._limit:
            raise TooLarge(f"it unpacks to more than {self._limit} bytes")
        return data


class _Header(tarfile.TarInfo):
    """A header as tarfile reads it, but an extended one too large to hold in memory is
    TooLarge before it is read."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        header = super().frombuf(buf, encoding, errors)
        if header.type in _EXTENDED and header.size > MAX_HEADER:
            raise TooLarge(
                f"an extended header (pax records, a long name) of {header.size} bytes: "
                f"at most {MAX_HEADER}"
            )
        return header


class _Tree:
    """The archive's tree as the kernel will see it once extracted: the symbolic links its
    entries made so far, to judge the next entry (its path, its link) and, once all are read,
    every link again against the final ones."""

    def __init__(self):
        # path -> target of each symbolic link; any other path is taken as a directory
        self.links: dict[str, str] = {}

    def check(self, member: tarfile.TarInfo) -> tarfile.TarInfo:
        """The entry as it goes to the spool (its name normalised, its mode bits cleared),
        or BadArchive."""
        name = _inside(member.name, member.name)
        kind = _KINDS.get(member.type)
        if kind is None:
            what = _REFUSED.get(
                member.type, f"special entry (type `{member.type.decode('latin-1')}`)"
            )
            raise BadArchive(
                f"`{member.name}` is a {what}: only files, directories and links are restored"
            )
        if name == "." and kind != "directory":
            raise BadArchive(f"`{member.name}` names the volume itself: only a directory may")
        if self._resolve(posixpath.dirname(name))[1]:
            raise BadArchive(f"`{member.name}` would be written through a symbolic link")
        linkname = ""
        if kind == "symlink":
            linkname = member.linkname
            self.links[name] = linkname
            self._check_link(name)
        else:
            # a later entry of the same name replaces a link
            self.links.pop(name, None)
        if kind == "hard link":
            linkname = _inside(member.linkname, member.name)
            # link() follows the links on the way, and copies a link it names: either leads
            # anywhere
            if self._resolve(linkname)[1]:
                raise BadArchive(
                    f"`{member.name}` is a hard link to `{member.linkname}`, through a "
                    "symbolic link"
                )
        return _header(member, name, kind, linkname)

    def check_links(self) -> None:
        """Every link again, against the final links: a later entry may have made or replaced
        a link on another's way."""
        for name in self.links:
            self._check_link(name)

    def _check_link(self, name: str) -> None:
        """BadArchive unless the link ``name`` leads inside the volume, the links as they are."""
        target = self.links[name]
        if target.startswith("/"):
            raise BadArchive(f"`{name}` links to `{target}`, an absolute path: out of the volume")
        if "\0" in target:
            raise BadArchive(f"`{name}` links to a path with a NUL byte")
        if len(target) > MAX_PATH:
            raise BadArchive(f"`{name}` links to a path of more than {MAX_PATH} characters")
        where, hops = self._resolve(posixpath.join(posixpath.dirname(name), target))
        if hops > MAX_HOPS:
            raise BadArchive(
                f"`{name}` links to `{target}`, through more than {MAX_HOPS} symbolic links"
            )
        if where is None:
            raise BadArchive(f"`{name}` links to `{target}`, which is out of the volume")

    def _resolve(self, path: str) -> tuple[str | None, int]:
        """Where ``path`` (from the volume's root) leads, each link of the archive on the way
        followed, the last component's too: the path, or None when it climbs out of the
        volume; and the links followed (stopping past MAX_HOPS)."""
        ahead = path.split("/")[::-1]  # the components still to walk, the next one last
        here = ""  # where the walk is: "" is the root
        hops = 0
        while ahead:
            part = ahead.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not here:
                    return None, hops
                here = here[: max(here.rfind("/"), 0)]
                continue
            step = f"{here}/{part}" if here else part
            target = self.links.get(step)
            if target is None:
                here = step
                continue
            hops += 1
            if hops > MAX_HOPS or target.startswith("/"):
                return None, hops
            # a link's target starts from the link's directory: where the walk is
            ahead.extend(target.split("/")[::-1])
        return here or ".", hops


def _inside(path: str, entry: str) -> str:
    """``path`` normalised, relative to the volume's root; BadArchive when it leaves it."""
    if path.startswith("/"):
        raise BadArchive(f"`{entry}` is an absolute path: entries are relative to the volume")
    if ".." in path.split("/"):
        raise BadArchive(f"`{entry}` climbs out with `..`: entries stay in the volume")
    if "\0" in path:
        raise BadArchive(f"`{entry}` holds a NUL byte")
    if len(path) > MAX_PATH:
        raise BadArchive(f"`{entry}` is a path of more than {MAX_PATH} characters")
    return posixpath.normpath(path) if path else "."


def _header(member: tarfile.TarInfo, name: str, kind: str, linkname: str) -> tarfile.TarInfo:
    """A new header for the spool, of what was checked only: no record of the original's
    (pax path, extended attributes, file capabilities) goes through unread."""
    header = tarfile.TarInfo(name)
    header.type = _TYPES[kind]
    # no setuid, setgid or sticky bit: a volume's file runs as whoever runs it
    header.mode = member.mode & 0o777
    header.uid, header.gid = member.uid, member.gid
    header.uname, header.gname = member.uname, member.gname
    header.mtime = member.mtime
    header.linkname = linkname
    header.size = member.size if kind == "file" else 0
    return header


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

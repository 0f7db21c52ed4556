"""The check of a restore archive (service/archives.py), on archives made here: no engine.

An archive is judged as the kernel will see it once extracted, bounded in bytes and entries,
and what goes to the daemon is the checked tar written again, nothing more.
"""

import gzip
import io
import random
import shutil
import string
import subprocess
import tarfile

import pytest

from service.archives import MAX_HEADER, BadArchive, TooLarge, spool_checked


@pytest.fixture(autouse=True)
def engine_cleanup():
    """The suite's check for objects left on the engine: these tests make none, and need no
    engine."""
    yield


def entry(name, kind=tarfile.REGTYPE, data=b"", linkname="", **fields):
    """A header and its data, for ``archive``."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(data)
    for field, value in fields.items():
        setattr(info, field, value)
    return info, data


def symlink(name, target):
    return entry(name, tarfile.SYMTYPE, linkname=target)


def hardlink(name, target):
    return entry(name, tarfile.LNKTYPE, linkname=target)


def directory(name, **fields):
    return entry(name, tarfile.DIRTYPE, **fields)


def archive(*entries, compression="", format=tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}", format=format) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


class Body:
    """A request body in chunks of ``size`` bytes, counting the chunks taken."""

    def __init__(self, data: bytes, size: int = 64 * 1024):
        self.pieces = [data[at : at + size] for at in range(0, len(data), size)]
        self.taken = 0

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self.taken == len(self.pieces):
            raise StopIteration
        self.taken += 1
        return self.pieces[self.taken - 1]


def spool(data: bytes, size: int = 64 * 1024, **bounds):
    return spool_checked(Body(data, size), **bounds)


def refusal(data: bytes, **bounds) -> str:
    """The message of the BadArchive the archive raises."""
    with pytest.raises(BadArchive) as refused:
        spool(data, **bounds).close()
    return str(refused.value)


def spooled(spooled_archive) -> list:
    """The members of the spooled tar, each with its data (None but for files)."""
    tar = tarfile.open(fileobj=io.BytesIO(b"".join(spooled_archive.chunks())), mode="r:")
    with tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar]


# links


@pytest.mark.parametrize(
    "entries",
    [
        # `a` is the root, so `a/..` is above it: lexically `.`, really out
        [symlink("a", "."), symlink("p1", "a/.."), symlink("p2", "p1/.."), symlink("d2", "p2")],
        # the link it goes through comes after it
        [symlink("l", "a/.."), symlink("a", ".")],
        # a directory replaced by a link, after a link through it was judged
        [directory("a"), symlink("l", "a/.."), symlink("a", ".")],
        # `sub/up` is the root: `sub/up/..` is above it, though lexically `sub`
        [directory("sub"), symlink("sub/up", ".."), symlink("l", "sub/up/..")],
    ],
    ids=["chain", "link-made-later", "dir-replaced-by-link", "through-a-nested-link"],
)
def test_a_link_that_resolves_out_of_the_volume_is_refused(entries):
    assert "out of the volume" in refusal(archive(*entries))


def test_links_in_a_loop_are_refused():
    message = refusal(archive(symlink("a", "b"), symlink("b", "a")))
    assert "more than 40 symbolic links" in message


def test_a_link_is_judged_as_the_kernel_resolves_it_not_as_it_reads():
    # `b/../..` reads as `..`, but `b` is `c/d`: it leads to the root
    body = archive(directory("c/d"), symlink("b", "c/d"), symlink("l", "b/../.."))
    with spool(body) as checked:
        assert [(m.name, m.linkname) for m, _ in spooled(checked)][-1] == ("l", "b/../..")


@pytest.mark.parametrize(
    "entries",
    [
        # links that stay inside, chained
        [symlink("a", "b"), symlink("b", "c"), symlink("c", "."), symlink("x/y", "../a")],
        # dangling, but inside
        [directory("a"), symlink("a/dangling", "../outside-is-fine-to-keep")],
        # a link replaced by a directory, then written into
        [symlink("d", "elsewhere"), directory("d"), entry("d/x", data=b"x")],
        # written into a directory, which a link then replaces
        [entry("d/x", data=b"x"), symlink("d", "sub")],
    ],
)
def test_links_that_stay_in_the_volume_pass(entries):
    with spool(archive(*entries)) as checked:
        assert checked.entries == len(entries)


@pytest.mark.parametrize(
    "entries",
    [
        [symlink("a", "b"), entry("a/x", data=b"x")],
        [directory("a"), symlink("a", "b"), entry("a/x", data=b"x")],
        [symlink("a", "."), directory("a/d")],
    ],
)
def test_an_entry_written_through_a_link_is_refused(entries):
    assert "written through a symbolic link" in refusal(archive(*entries))


@pytest.mark.parametrize(
    "entries",
    [
        # link() follows `d`, wherever it leads
        [directory("sub"), entry("sub/f", data=b"x"), symlink("d", "sub"), hardlink("h", "d/f")],
        # a hard link to a link is that link again, elsewhere: `h` would be `..` at the root
        [directory("sub"), symlink("sub/up", ".."), hardlink("h", "sub/up")],
    ],
    ids=["through-a-link", "to-a-link"],
)
def test_a_hard_link_through_or_to_a_link_is_refused(entries):
    assert "through a symbolic link" in refusal(archive(*entries))


@pytest.mark.parametrize(
    "target, words",
    [("../etc/passwd", "`..`"), ("/etc/passwd", "absolute path"), ("a/../../x", "`..`")],
)
def test_a_hard_link_out_of_the_volume_is_refused(target, words):
    assert words in refusal(archive(entry("a", data=b"x"), hardlink("h", target)))


def test_an_absolute_link_is_refused():
    assert "absolute path" in refusal(archive(symlink("etc", "/etc")))


def test_only_a_directory_may_name_the_volume_itself():
    with spool(archive(directory("."), directory("./"))) as checked:
        assert [m.name for m, _ in spooled(checked)] == [".", "."]
    assert "the volume itself" in refusal(archive(symlink(".", "elsewhere")))


# kinds and modes


@pytest.mark.parametrize(
    "kind, words",
    [
        (tarfile.FIFOTYPE, "is a fifo"),
        (tarfile.CHRTYPE, "is a device file"),
        (tarfile.BLKTYPE, "is a device file"),
        (b"V", "special entry (type `V`)"),
    ],
)
def test_anything_but_files_directories_and_links_is_refused(kind, words):
    message = refusal(archive(entry("fine", data=b"ok"), entry("odd", kind)))
    assert "`odd`" in message and words in message


def test_setuid_setgid_and_sticky_bits_are_cleared():
    body = archive(
        entry("suid", data=b"x", mode=0o4755),
        entry("sgid", data=b"x", mode=0o2711),
        directory("tmp", mode=0o1777),
        directory("shared", mode=0o3770),
    )
    with spool(body) as checked:
        modes = {m.name: m.mode for m, _ in spooled(checked)}
    assert modes == {"suid": 0o755, "sgid": 0o711, "tmp": 0o777, "shared": 0o770}


# what goes to the daemon


def round_trip_entries():
    data = random.Random(7).randbytes(200_000)
    long_dir = "deep/" + "x" * 120
    owned = {"uid": 1234, "gid": 5678, "uname": "ann", "gname": "staff"}
    return [
        directory(".", mode=0o755, mtime=1_600_000_000),
        directory("./docs", mode=0o750, mtime=1_600_000_001, **owned),
        entry("./docs/readme.txt", data=b"hello\n", mode=0o644, mtime=1_500_000_000, **owned),
        entry("bin/tool", data=data, mode=0o755, uid=3_000_000, gid=0, uname="x" * 40),
        entry("bin/empty", mode=0o600),
        directory("empty", mode=0o700, mtime=1_234_567_890),
        directory(long_dir, mode=0o755),
        entry(f"{long_dir}/file.txt", data=b"long", mode=0o640),
        entry("café/ñandú.txt", data="ñ".encode(), mode=0o644),
        symlink("link", "docs/readme.txt"),
        symlink("docs/up", "../bin/tool"),
        symlink("far", f"{long_dir}/file.txt"),
        hardlink("hard", "./bin/tool"),
    ]


def normalised(name: str) -> str:
    return name.removeprefix("./") or "."


@pytest.mark.parametrize(
    "compression, format, size",
    [
        ("", tarfile.PAX_FORMAT, 1),
        ("gz", tarfile.GNU_FORMAT, 3),
        ("bz2", tarfile.PAX_FORMAT, 64 * 1024),
        ("xz", tarfile.PAX_FORMAT, 64 * 1024),
    ],
)
def test_the_spool_holds_every_member_as_it_was_but_in_a_plain_pax_tar(compression, format, size):
    entries = round_trip_entries()
    body = archive(*entries, compression=compression, format=format)
    with spool(body, size) as checked:
        tar = b"".join(checked.chunks())
        members = spooled(checked)
        assert checked.entries == len(entries)
        assert checked.size == len(body)
        assert checked.unpacked == sum(info.size for info, _ in entries)
    assert tar[257:262] == b"ustar"  # plain, not compressed
    # as tarfile reads the body: a GNU tar, say, holds no uname past 32 characters
    with tarfile.open(fileobj=io.BytesIO(body)) as original:
        wanted = [(info, data) for info, (_, data) in zip(original, entries, strict=True)]
    for (want, data), (got, got_data) in zip(wanted, members, strict=True):
        assert got.name == normalised(want.name)
        assert got.type == want.type
        assert (got.mode, got.uid, got.gid) == (want.mode, want.uid, want.gid)
        assert (got.uname, got.gname, got.mtime) == (want.uname, want.gname, want.mtime)
        link = normalised(want.linkname) if want.type == tarfile.LNKTYPE else want.linkname
        assert got.linkname == link
        assert got.size == want.size
        assert got_data == (data if want.isreg() else None)


def test_the_spool_keeps_no_record_it_did_not_check():
    info, data = entry("f", data=b"x", mtime=1_700_000_000.5)
    info.pax_headers = {
        "SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
        "SCHILY.xattr.user.note": "hi",
        "comment": "hello",
    }
    with spool(archive((info, data))) as checked:
        [(got, got_data)] = spooled(checked)
    assert got.name == "f" and got_data == b"x"
    assert got.mtime == 1_700_000_000.5
    assert set(got.pax_headers) == {"mtime"}


def test_a_sparse_file_goes_as_the_plain_file_it_unpacks_to(tmp_path):
    if shutil.which("tar") is None:
        pytest.skip("no tar to make a sparse archive")
    big = tmp_path / "big"
    with big.open("wb") as out:
        out.truncate(4 * 1024 * 1024)
        out.seek(3_000_000)
        out.write(b"middle")
    body = subprocess.run(
        ["tar", "-cS", "--format=gnu", "-C", str(tmp_path), "big"],
        check=True,
        capture_output=True,
    ).stdout
    with spool(body) as checked:
        [(got, got_data)] = spooled(checked)
        assert checked.unpacked == 4 * 1024 * 1024
    assert got.type == tarfile.REGTYPE and got_data == big.read_bytes()
    with pytest.raises(TooLarge):
        spool(body, max_bytes=1024 * 1024)


def test_the_padding_after_the_last_entry_is_read_and_counted():
    body = archive(entry("a", data=b"x")) + b"\0" * 50_000
    with spool(body, 4096) as checked:
        assert checked.size == len(body) and checked.entries == 1


def test_a_body_that_is_no_archive_and_one_cut_short_are_refused():
    assert "not a readable tar archive" in refusal(b"\x1f\x8b" + b"not really gzip" * 40)
    assert "not a readable tar archive" in refusal(b"just some text" * 100)
    body = archive(entry("a", data=b"x"), entry("b", data=bytes(200_000)), compression="gz")
    assert "cut short or corrupt" in refusal(body[: len(body) // 2])


# bounds


def test_too_large_is_a_bad_archive():
    assert issubclass(TooLarge, BadArchive)


def test_more_entries_than_the_bound_are_refused():
    body = archive(*(entry(f"f{n}", data=b"x") for n in range(5)))
    with spool(body, max_entries=5) as checked:
        assert checked.entries == 5
    with pytest.raises(TooLarge, match="more than 4 entries"):
        spool(body, max_entries=4)


def test_files_past_the_bound_are_refused_before_their_data_is_read():
    zeros = io.BytesIO()
    with tarfile.open(fileobj=zeros, mode="w:gz") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    body = Body(zeros.getvalue(), 1024)
    assert len(body.pieces) > 50  # a gzip bomb: 64 MiB in some 64 KiB
    with pytest.raises(TooLarge, match=r"`zeros` takes it past 1048576 bytes"):
        spool_checked(body, max_bytes=1024 * 1024)
    assert body.taken <= 2
    with spool(zeros.getvalue(), max_bytes=65 * 1024 * 1024) as checked:
        assert checked.unpacked == 64 * 1024 * 1024


def test_many_files_past_the_bound_stop_the_reading_there():
    zeros = archive(*(entry(f"f{n}", data=bytes(64 * 1024)) for n in range(1024)))
    body = Body(gzip.compress(zeros), 1024)  # 64 MiB in some 100 KiB
    with pytest.raises(TooLarge, match="1048576 bytes"):
        spool_checked(body, max_bytes=1024 * 1024)
    assert body.taken < len(body.pieces) / 4


def test_headers_count_toward_the_bound_too():
    # no data at all, but long names: a pax record of 4 KB each (gzip reads ahead some
    # 128 KiB of its input: names that compress little)
    letters = "".join(random.Random(7).choices(string.ascii_letters, k=512 * 4000))
    names = [letters[n * 4000 : (n + 1) * 4000] for n in range(512)]
    body = Body(gzip.compress(archive(*(directory(name) for name in names))), 1024)
    with pytest.raises(TooLarge, match="unpacks to more than 1048576 bytes"):
        spool_checked(body, max_bytes=1024 * 1024)
    assert body.taken < len(body.pieces) / 2


def test_a_path_longer_than_the_kernel_takes_is_refused():
    assert "more than 4096 characters" in refusal(archive(directory("d" * 4097)))
    message = refusal(archive(symlink("l", "/".join(["."] * 2049))))
    assert "more than 4096 characters" in message


def test_an_extended_header_too_large_to_hold_is_refused_before_it_is_read():
    info, data = entry("f", data=b"x")
    info.pax_headers = {"comment": "c" * (64 * 1024 * 1024)}
    body = Body(gzip.compress(archive((info, data))), 1024)
    with pytest.raises(TooLarge, match=f"at most {MAX_HEADER}"):
        spool_checked(body)
    assert body.taken <= 2

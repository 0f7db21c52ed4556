"""The daemon's multiplexed log frames, parsed: pure logic, fed the bytes as a socket would give
them (in pieces cut anywhere)."""

import struct

import pytest
import requests

from service.gateway.frames import multiplexed_frames, raw_frames


class Pieces:
    """An answer's body arriving in the pieces given: read1 gives what has come."""

    def __init__(self, *pieces: bytes):
        self.pieces = list(pieces)

    def read1(self, size):
        return self.pieces.pop(0)[:size] if self.pieces else b""

    def read(self, size):
        data = b""
        while self.pieces and len(data) < size:
            data += self.read1(size - len(data))
        return data


class Answer:
    def __init__(self, *pieces):
        self.raw = Pieces(*pieces)


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def test_frames_of_one_read_on_one_stream_go_on_together():
    body = frame(1, b"one\n") + frame(1, b"two\n") + frame(2, b"oops\n") + frame(1, b"three\n")
    assert list(multiplexed_frames(Answer(body))) == [
        ("stdout", b"one\ntwo\n"),
        ("stderr", b"oops\n"),
        ("stdout", b"three\n"),
    ]


def test_a_frame_cut_anywhere_across_reads_is_whole():
    body = frame(1, b"hello world\n") + frame(2, b"e\n")
    for cut in range(1, len(body)):
        found = list(multiplexed_frames(Answer(body[:cut], body[cut:])))
        joined = {}
        for stream, data in found:
            joined[stream] = joined.get(stream, b"") + data
        assert joined == {"stdout": b"hello world\n", "stderr": b"e\n"}, cut


def test_an_empty_frame_and_an_unknown_stream_number_are_taken_as_stdout():
    assert list(multiplexed_frames(Answer(frame(1, b"") + frame(7, b"x")))) == [("stdout", b"x")]


def test_an_answer_that_ends_inside_a_frame_is_a_broken_stream():
    with pytest.raises(requests.exceptions.ConnectionError, match="broke off"):
        list(multiplexed_frames(Answer(frame(1, b"whole\n")[:-2])))


def test_a_tty_answer_is_its_bytes_as_they_come():
    assert list(raw_frames(Answer(b"ab", b"c"))) == [("stdout", b"ab"), ("stdout", b"c")]

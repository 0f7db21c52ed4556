"""What gunicorn answers before the app sees a request has the service's JSON error shape:
request lines and header fields over its limits (raised to their maximum), requests it cannot
parse. Below the limits, long lines and fields reach the app."""

import json
import socket
from urllib.parse import urlsplit

import pytest

from tests.conftest import served


@pytest.fixture(scope="module")
def server():
    with served() as (base, _):
        yield urlsplit(base).hostname, urlsplit(base).port


def exchange(address, raw: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(address, timeout=20) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end: the answer is still there to read
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_json_error(status, headers, body, code):
    assert status == code, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert set(error) == {"code", "status", "message", "errors"}
    assert error["code"] == code and error["errors"] == {} and error["message"]
    return error


def test_request_line_over_the_limit_is_a_json_414(server):
    raw = b"GET /health?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    error = assert_json_error(*exchange(server, raw), 414)
    assert error["status"] == "Request URI Too Long"
    assert "8190" in error["message"]


def test_request_line_under_the_limit_reaches_the_app(server):
    # twice gunicorn's default of 4094
    raw = (
        b"GET /health?x="
        + b"a" * 8100
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    status, headers, body = exchange(server, raw)
    assert status == 200, body
    assert json.loads(body) == {"status": "ok"}


def test_header_field_over_the_limit_is_a_json_431(server):
    raw = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 140_000 + b"\r\n\r\n"
    error = assert_json_error(*exchange(server, raw), 431)
    assert error["status"] == "Request Header Fields Too Large"


def test_header_field_under_the_limit_reaches_the_app(server):
    # more than twice gunicorn's default of 8190
    raw = (
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    )
    status, _, body = exchange(server, raw)
    assert status == 200, body


def test_too_many_header_fields_are_a_json_431(server):
    fields = b"".join(b"X-F%d: 1\r\n" % i for i in range(150))
    raw = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields + b"\r\n"
    assert_json_error(*exchange(server, raw), 431)


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT A REQUEST\r\n\r\n",
        b"GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
    ],
    ids=["request-line", "http-version", "header"],
)
def test_unparsable_requests_are_a_json_400(server, raw):
    assert_json_error(*exchange(server, raw), 400)

"""The service as deployed: gunicorn with deploy/gunicorn.conf.py, against the real engine."""

import contextlib
import hashlib
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.conftest import served as served_as_is

SECRET = "dy_gunicorn-tests"
HEADERS = {"Authorization": f"Bearer {SECRET}"}
AUTH = f"Authorization: Bearer {SECRET}".encode()
TOKENS = [
    {
        "name": "tests",
        "hash": "sha256:" + hashlib.sha256(SECRET.encode()).hexdigest(),
        "scopes": ["read", "write"],
    }
]


def serve(**settings):
    return served_as_is(TOKENS=json.dumps(TOKENS), **settings)


@pytest.fixture
def served():
    with serve() as (base, _):
        yield base


def get(url, timeout=10):
    call = urllib.request.Request(url, headers=HEADERS)
    with urllib.request.urlopen(call, timeout=timeout) as answer:
        return answer.status, json.load(answer)


def test_gunicorn_serves_against_the_engine(served, docker_api):
    assert get(f"{served}/health") == (200, {"status": "ok"})
    assert get(f"{served}/ready") == (200, {"status": "ready"})
    status, info = get(f"{served}/system/info")
    assert status == 200
    assert info["server_version"] == docker_api.version()["Version"]


def test_requests_are_served_while_streams_hold_their_connections(served):
    # one worker, three event streams open that never end by themselves: a server taking one
    # request at a time would answer none of the calls below
    address = urlsplit(served)
    streams = []
    try:
        for _ in range(3):
            stream = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            stream.request("GET", "/system/events", headers=HEADERS)
            # its head has come: the stream is open, and holds its connection
            assert stream.getresponse().status == 200
            streams.append(stream)
        results = []

        def call():
            results.append(get(f"{served}/system/info")[0])

        threads = [threading.Thread(target=call) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 12
    finally:
        for stream in streams:
            stream.close()


@contextlib.contextmanager
def connections(base, count, send=b""):
    """``count`` raw connections to the service, each having sent ``send``; all closed after."""
    address = urlsplit(base)
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection((address.hostname, address.port), timeout=5)
            socks.append(sock)
            if send:
                sock.sendall(send)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def read_all(sock, timeout) -> bytes:
    """What the server sends until it closes the connection (within ``timeout`` s)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def head_of(sock) -> bytes:
    """The status line and headers of the answer on ``sock`` (what came, if it closed first)."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return data
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


def test_unfinished_headers_hold_no_thread_and_are_cut_after_the_header_timeout():
    """Slowloris: ten times more unfinished heads than threads, and bare connections; every
    probe still answers at once, and the unfinished ones are cut when their time is up."""
    with serve(THREADS=4, HEADER_TIMEOUT=3, GRACEFUL_TIMEOUT=5) as (base, _):
        partial = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: "
        with connections(base, 40, partial) as socks, connections(base, 10):
            started = time.monotonic()
            for _ in range(5):
                probe = time.monotonic()
                assert get(f"{base}/health", timeout=5) == (200, {"status": "ok"})
                assert time.monotonic() - probe < 1.0
            for sock in socks:
                left = max(started + 3 + 3 - time.monotonic(), 0.1)
                assert read_all(sock, left) == b""


def test_closing_answered_connections_does_not_stall_the_others():
    """Connections answered with `Connection: close` whose clients keep them open: the
    worker lingers on them without blocking its loop."""
    with serve(THREADS=4) as (base, _):
        closing = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        with connections(base, 10, closing) as socks:
            for sock in socks:
                assert head_of(sock).startswith(b"HTTP/1.1 200")
            probe = time.monotonic()
            assert get(f"{base}/health", timeout=10) == (200, {"status": "ok"})
            assert time.monotonic() - probe < 1.0


def test_a_body_never_sent_is_cut_after_the_body_timeout():
    with serve(THREADS=4, BODY_TIMEOUT=2, GRACEFUL_TIMEOUT=5) as (base, _):
        stalled = (
            b"POST /containers/decision HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        with connections(base, 4, stalled) as socks:
            started = time.monotonic()
            assert get(f"{base}/health", timeout=6) == (200, {"status": "ok"})
            for sock in socks:
                answer = read_all(sock, max(started + 2 + 3 - time.monotonic(), 0.1))
                # the app saw a client gone, not a failure of its own
                assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer
            assert time.monotonic() - started >= 1.5


def answered(stack, base, request) -> socket.socket:
    """A connection whose request was answered 200, closed with ``stack``. Tried again for a
    while: the server may still count a connection this client has just closed."""
    deadline = time.monotonic() + 5
    while True:
        (sock,) = stack.enter_context(connections(base, 1, request))
        if head_of(sock).startswith(b"HTTP/1.1 200"):
            return sock
        sock.close()
        assert time.monotonic() < deadline, "the connection was not answered"
        time.sleep(0.2)


EVENTS = b"GET /system/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + b"\r\n\r\n"


def test_one_client_holds_at_most_max_client_connections_waiting_for_a_head():
    """Kept-alive connections wait for their next head as new ones do: one more than the cap
    takes the place of the one that waited longest, which is closed with no answer."""
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    settings = {"MAX_CLIENT_CONNECTIONS": 5, "GRACEFUL_TIMEOUT": 5}
    with serve(**settings) as (base, _), contextlib.ExitStack() as stack:
        kept = [answered(stack, base, request) for _ in range(5)]
        answered(stack, base, request)
        assert read_all(kept[0], 5) == b""
        for sock in kept[1:]:
            sock.sendall(request)
            assert head_of(sock).startswith(b"HTTP/1.1 200")


def test_connections_with_a_valid_token_do_not_count_against_their_address():
    settings = {"MAX_CLIENT_CONNECTIONS": 5, "GRACEFUL_TIMEOUT": 5}
    with serve(**settings) as (base, _), contextlib.ExitStack() as stack:
        streams = [stack.enter_context(connections(base, 1, EVENTS))[0] for _ in range(20)]
        for sock in streams:
            assert head_of(sock).startswith(b"HTTP/1.1 200")
        assert get(f"{base}/health", timeout=5) == (200, {"status": "ok"})
        assert get(f"{base}/containers", timeout=5)[0] == 200


def test_streams_beyond_max_streams_are_refused_with_503():
    settings = {"THREADS": 4, "MAX_STREAMS": 2, "RETRY_AFTER": 7, "GRACEFUL_TIMEOUT": 5}
    with serve(**settings) as (base, _), contextlib.ExitStack() as stack:
        opened = [stack.enter_context(connections(base, 1, EVENTS))[0] for _ in range(2)]
        for sock in opened:
            assert head_of(sock).startswith(b"HTTP/1.1 200")
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"{base}/system/events", timeout=5)
        with refused.value as answer:
            assert answer.code == 503
            assert answer.headers["Retry-After"] == "7"
            body = json.load(answer)
        assert body["code"] == 503 and body["errors"] == {}
        assert "too many streams" in body["message"]
        assert get(f"{base}/health", timeout=5) == (200, {"status": "ok"})

        # a stream whose client left frees its place (seen within a second)
        opened[0].close()
        answered(stack, base, EVENTS)


def test_instances_do_not_share_a_control_socket(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    with serve() as (first, _), serve() as (second, _):
        assert get(f"{first}/health")[0] == get(f"{second}/health")[0] == 200
        assert not list(tmp_path.rglob("gunicorn.ctl"))
    assert not list(tmp_path.rglob("gunicorn.ctl"))

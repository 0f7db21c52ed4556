"""Fair to every client, through gunicorn as deployed and with the default settings: many
streams from one address (loopback, a proxy's) shut no one out, a token past its quota of
streams gets a JSON 503 while other tokens and short requests go on, and unfinished heads are
still cut without stopping anyone. No timing assertion."""

import contextlib
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from service.auth import hash_token
from tests.conftest import make_client, served

READERS = [f"reader-{n}" for n in range(4)]
TOKENS = [
    *({"name": name, "hash": hash_token(name), "scopes": ["read"]} for name in READERS),
    {"name": "other", "hash": hash_token("other"), "scopes": ["read"]},
    {"name": "ops", "hash": hash_token("ops"), "scopes": ["read", "admin"]},
]
# the defaults, but for what `served` sets for the suite's smaller servers
DEFAULTS = {"WORKER_CONNECTIONS": 2000, "TOKENS": json.dumps(TOKENS)}
QUOTA = 64


def call(base, path, secret=None, timeout=10):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    request = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.load(error)


def open_stream(base, secret, stack) -> str:
    """A /system/events stream opened with ``secret``: its status line."""
    address = urlsplit(base)
    sock = stack.enter_context(socket.create_connection((address.hostname, address.port), 10))
    sock.sendall(
        b"GET /system/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/x-ndjson\r\n"
        + f"Authorization: Bearer {secret}\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


@pytest.fixture(scope="module")
def service():
    with served(**DEFAULTS) as (base, _):
        yield base


def test_unfinished_heads_do_not_stop_health(service):
    address = urlsplit(service)
    partial = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: "
    with contextlib.ExitStack() as stack:
        for _ in range(80):
            sock = stack.enter_context(socket.create_connection((address.hostname, address.port)))
            sock.sendall(partial)
        answers = [call(service, "/health")[0] for _ in range(20)]
    assert answers == [200] * 20


def test_200_streams_from_one_address_and_a_token_over_its_quota(service):
    with contextlib.ExitStack() as stack:
        # 200 streams from loopback, 50 a token: none counts against the address
        opened = [open_stream(service, READERS[n % 4], stack) for n in range(200)]
        assert opened == ["HTTP/1.1 200 OK"] * 200
        status, _, listed = call(service, "/containers?all=true", "other")
        assert status == 200 and isinstance(listed, list)
        assert [call(service, "/health")[0] for _ in range(20)] == [200] * 20

        # the first reader takes the rest of its quota; one more is a JSON 503
        more = [open_stream(service, READERS[0], stack) for _ in range(QUOTA - 50)]
        assert more == ["HTTP/1.1 200 OK"] * (QUOTA - 50)
        status, headers, error = call(service, "/system/events", READERS[0])
        assert (status, headers["Retry-After"], error["code"]) == (503, "5", 503)
        assert headers["Content-Type"] == "application/json"
        assert "quota of streams (64, TOKEN_STREAMS)" in error["message"]

        # other tokens and short requests go on
        assert call(service, "/containers", "other")[0] == 200
        assert [call(service, "/health")[0] for _ in range(20)] == [200] * 20
        assert open_stream(service, "other", stack) == "HTTP/1.1 200 OK"

        # the administrator sees every token's streams; a reader its own alone
        status, _, info = call(service, "/system/info", "ops")
        assert status == 200
        by_token = {entry["token"]: entry for entry in info["streams"]["by_token"]}
        assert by_token["reader-0"] == {"token": "reader-0", "open": 64, "refused": 1, "quota": 64}
        assert by_token["reader-1"]["open"] == 50 and by_token["other"]["open"] == 1
        status, _, info = call(service, "/system/info", "reader-1")
        assert info["streams"]["by_token"] == [
            {"token": "reader-1", "open": 50, "refused": 0, "quota": 64}
        ]


def test_an_answer_read_to_its_end_or_refused_holds_no_stream(busybox_image, labels, docker_api):
    """A client that reads a stream to its end, or gets an error answer, and never closes it
    (a WSGI server must close it; some test clients do not): its token's quota is not held."""
    one = {"name": "one", "hash": hash_token("one"), "scopes": ["operate"], "streams": 1}
    client = make_client(TOKENS=[one])
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer one"
    made = docker_api.create_container(busybox_image, command=["echo", "hi"], labels=labels)
    docker_api.start(made["Id"])
    docker_api.wait(made["Id"], timeout=30)
    for _ in range(3):
        answer = client.get(f"/containers/{made['Id']}/logs")
        assert answer.status_code == 200, answer.get_data()
        assert b"hi" in answer.get_data()
        answer = client.get("/containers/dockyard-test-none/logs")
        assert answer.status_code == 404, answer.get_data()

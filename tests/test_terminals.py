"""Terminals over a WebSocket, through gunicorn as deployed, on the real engine: a shell that
computes, resizes and exits; attach to a container's own TTY; the ticket that opens a session
(single use, short-lived, for one container, never from another site); the policy, the scopes
and the teams judged at the ticket and again at the upgrade; the stream quota; the idle end;
the audit line. No timing assertion: conditions, waited for."""

import json
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from simple_websocket import Client, ConnectionClosed

from service.auth import hash_token
from service.policy.teams import TEAM_LABEL
from tests.conftest import eventually, served
from tests.test_policy_everywhere import sleeper

PROTOCOL = "dockyard.terminal.v1"
TOKENS = [
    {"name": "ops", "hash": hash_token("ops"), "scopes": ["read", "operate", "exec", "write"]},
    {"name": "reader", "hash": hash_token("reader"), "scopes": ["read"]},
    {"name": "one", "hash": hash_token("one"), "scopes": ["read", "exec"], "streams": 1},
    {"name": "web", "hash": hash_token("web"), "scopes": ["read", "exec", "write"], "team": "web"},
]


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory):
    return tmp_path_factory.mktemp("terminal-audit") / "audit.log"


@pytest.fixture(scope="module")
def service(audit_log):
    with served(TOKENS=json.dumps(TOKENS), TERMINAL_TICKET_SECONDS=2, AUDIT_LOG=str(audit_log)) as (
        base,
        _,
    ):
        yield base


def post(base, path, secret, body=None):
    call = urllib.request.Request(
        base + path,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def ticket(base, container, secret="ops", **body):
    status, answer = post(base, f"/containers/{container}/terminal", secret, body)
    assert status == 201, answer
    return answer


def connect(base, session) -> Client:
    url = "ws" + base.removeprefix("http") + session["path"]
    return Client.connect(url, subprotocols=[PROTOCOL, "ticket." + session["ticket"]])


def upgrade(base, path, protocols=None, origin=None, upgrade=True) -> tuple[int, dict]:
    """A raw upgrade request: the status and, when refused, the JSON answer."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        head = f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        if upgrade:
            head += (
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            )
        if protocols:
            head += f"Sec-WebSocket-Protocol: {protocols}\r\n"
        if origin:
            head += f"Origin: {origin}\r\n"
        sock.sendall((head + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        status = int(data.split(b" ", 2)[1])
        if status == 101:
            return status, {}
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))  # fmt: skip
        while len(body) < length:
            body += sock.recv(65536)
        return status, json.loads(body)


def read_until(ws, needle: bytes, timeout=15) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        assert time.monotonic() < deadline, out
        message = ws.receive(timeout=0.5)
        if isinstance(message, bytes):
            out += message
    return out


def ending(ws, timeout=15) -> dict:
    """The session's last message, read to the close."""
    deadline = time.monotonic() + timeout
    last = None
    try:
        while time.monotonic() < deadline:
            message = ws.receive(timeout=0.5)
            if isinstance(message, str):
                last = json.loads(message)
    except ConnectionClosed:
        return last
    raise AssertionError(f"the session did not end: {last}")


@pytest.fixture
def box(docker_api, busybox_image, labels):
    """A running container made elsewhere (the docker CLI's way)."""
    made = sleeper(docker_api, busybox_image, labels)
    docker_api.start(made)
    return made


def test_a_shell_computes_resizes_and_exits_and_the_session_is_audited(service, box, audit_log):
    session = ticket(service, box[:12], rows=30, cols=100)
    assert session["container"] == box and session["protocol"] == PROTOCOL
    assert session["expires_in"] == 2
    ws = connect(service, session)
    assert ws.subprotocol == PROTOCOL
    ws.send(b"echo $((6*7)); stty size\n")
    assert b"42\r\n30 100" in read_until(ws, b"30 100")
    ws.send(json.dumps({"type": "resize", "rows": 40, "cols": 120}))
    ws.send(b"stty size\n")
    read_until(ws, b"40 120")
    # a control message the service cannot read is answered, and the session goes on
    ws.send(json.dumps({"type": "resize", "rows": 0, "cols": "wide"}))
    ws.send(b"exit 3\n")
    assert ending(ws) == {"type": "end", "reason": "exited", "exit_code": 3}

    def audited():
        lines = [json.loads(line) for line in audit_log.read_text().splitlines()]
        return [line for line in lines if line.get("terminal") and line["target_id"] == box]

    # written once the session's request ends, a moment after the client saw it end
    line = eventually(audited)[0]
    assert line["token"] == "ops" and line["status"] == 101
    assert line["terminal"]["command"] == ["/bin/sh"] and line["terminal"]["exit_code"] == 3
    assert line["terminal"]["bytes_in"] > 0 and line["terminal"]["bytes_out"] > 0
    assert line["terminal"]["started"] < line["terminal"]["ended"]


def test_a_command_of_its_own_and_its_exit_code(service, box):
    session = ticket(service, box, command=["sh", "-c", "echo from-$((2+2)); exit 5"])
    ws = connect(service, session)
    read_until(ws, b"from-4")
    assert ending(ws) == {"type": "end", "reason": "exited", "exit_code": 5}


def test_attach_to_a_containers_own_tty(service, docker_api, busybox_image, labels):
    status, made = post(
        service,
        "/containers",
        "ops",
        {
            "image": busybox_image,
            "command": ["sh"],
            "tty": True,
            "stdin_open": True,
            "labels": labels,
            "start": True,
        },
    )
    assert status == 201, made
    assert made["config"]["stdin_open"] is True
    ws = connect(service, ticket(service, made["id"], mode="attach"))
    ws.send(b"echo attached-$((2+3))\n")
    read_until(ws, b"attached-5")
    ws.close()
    # leaving an attach leaves the container running
    time.sleep(0.5)
    assert docker_api.inspect_container(made["id"])["State"]["Running"] is True
    # attach is to the container's own process: no command of its own
    status, answer = post(
        service, f"/containers/{made['id']}/terminal", "ops", {"mode": "attach", "command": "sh"}
    )
    assert status == 422 and "command" in answer["errors"]["json"]


def test_what_gives_no_terminal_is_a_409(service, box, docker_api, busybox_image, labels):
    # attach to a container with no TTY
    status, answer = post(service, f"/containers/{box}/terminal", "ops", {"mode": "attach"})
    assert status == 409 and "tty" in answer["message"], answer
    # a container that does not run
    stopped = sleeper(docker_api, busybox_image, labels)
    status, answer = post(service, f"/containers/{stopped}/terminal", "ops")
    assert status == 409 and "not running" in answer["message"], answer


def test_a_ticket_opens_one_session_of_one_container_for_seconds(
    service, box, docker_api, busybox_image, labels
):
    session = ticket(service, box)
    offer = f"{PROTOCOL}, ticket.{session['ticket']}"
    # from another site: refused, and the ticket is not spent by it
    status, answer = upgrade(service, session["path"], offer, origin="http://evil.example")
    assert status == 403 and "cross-site" in answer["message"], answer
    # for another container
    other = sleeper(docker_api, busybox_image, labels)
    docker_api.start(other)
    status, answer = upgrade(service, f"/containers/{other}/terminal", offer)
    assert status == 403 and "ticket opens container" in answer["message"], answer
    # the ticket was taken by that attempt: it opens nothing more
    status, answer = upgrade(service, session["path"], offer)
    assert status == 403 and "unknown, used or expired" in answer["message"], answer
    # used once
    session = ticket(service, box)
    offer = f"{PROTOCOL}, ticket.{session['ticket']}"
    assert upgrade(service, session["path"], offer)[0] == 101
    status, answer = upgrade(service, session["path"], offer)
    assert status == 403 and "unknown, used or expired" in answer["message"]
    # expired (the suite's server keeps them two seconds)
    session = ticket(service, box)
    time.sleep(2.5)
    status, answer = upgrade(service, session["path"], f"{PROTOCOL}, ticket.{session['ticket']}")
    assert status == 403 and "unknown, used or expired" in answer["message"]
    # made up
    status, answer = upgrade(service, session["path"], f"{PROTOCOL}, ticket.made-up")
    assert status == 403


def test_an_upgrade_is_refused_clearly_without_what_it_needs(service, box):
    path = f"/containers/{box}/terminal"
    status, answer = upgrade(service, path, upgrade=False)
    assert status == 400 and "WebSocket" in answer["message"]
    status, answer = upgrade(service, path, "ticket.abc")
    assert status == 400 and PROTOCOL in answer["message"]
    status, answer = upgrade(service, path, PROTOCOL)
    assert status == 401 and "ticket" in answer["message"]
    # a token is no ticket: a bearer header opens no WebSocket
    status, answer = upgrade(service, path, f"{PROTOCOL}, ticket.ops")
    assert status == 403
    # another path takes no WebSocket
    status, answer = upgrade(service, "/containers", PROTOCOL)
    assert status == 400 and "no WebSocket" in answer["message"]


def test_scopes_teams_and_the_policy_are_judged_for_a_terminal(
    service, box, docker_api, busybox_image, labels
):
    status, answer = post(service, f"/containers/{box}/terminal", "reader")
    assert status == 403 and "`exec` scope" in answer["message"]
    # another team's container is not there for a team's token
    status, answer = post(service, f"/containers/{box}/terminal", "web")
    assert status == 404
    # a container made elsewhere with powers the policy refuses: no terminal into it
    powerful = sleeper(docker_api, busybox_image, labels, host={"privileged": True})
    status, answer = post(service, f"/containers/{powerful}/terminal", "ops")
    assert status == 403 and "Privileged" in answer["message"], answer
    # the team's own container: its token opens a terminal
    status, made = post(
        service,
        "/containers",
        "web",
        {"image": busybox_image, "command": ["sleep", "300"], "labels": labels, "start": True},
    )
    assert status == 201, made
    assert docker_api.inspect_container(made["id"])["Config"]["Labels"][TEAM_LABEL] == "web"
    ws = connect(service, ticket(service, made["id"], "web"))
    ws.send(b"exit\n")
    assert ending(ws)["reason"] == "exited"


def test_the_policy_is_judged_again_at_the_upgrade(service, docker_api, busybox_image, labels):
    """A container replaced, under the same name, between the ticket and the upgrade: the
    ticket names the one judged, by id; the upgrade does not reach the other."""
    name = f"swap-{labels[next(iter(labels))]}"
    first = sleeper(docker_api, busybox_image, labels, name=name)
    docker_api.start(first)
    session = ticket(service, name)
    docker_api.remove_container(first, force=True)
    sleeper(docker_api, busybox_image, labels, name=name, host={"privileged": True})
    offer = f"{PROTOCOL}, ticket.{session['ticket']}"
    status, answer = upgrade(service, f"/containers/{name}/terminal", offer)
    assert status == 403 and "Privileged" in answer["message"], answer


def test_a_terminal_counts_as_a_stream_of_its_token(service, box):
    first = connect(service, ticket(service, box, "one"))
    try:
        session = ticket(service, box, "one")
        offer = f"{PROTOCOL}, ticket.{session['ticket']}"
        status, answer = upgrade(service, session["path"], offer)
        assert status == 503 and "quota of streams" in answer["message"], answer
    finally:
        first.close()
    # once the first ended, its place is free
    time.sleep(0.5)
    second = connect(service, ticket(service, box, "one"))
    second.send(b"exit\n")
    assert ending(second)["reason"] == "exited"


def test_a_session_with_nothing_either_way_ends(box):
    tokens = json.dumps(TOKENS[:1])
    with served(TOKENS=tokens, TERMINAL_IDLE_SECONDS=1) as (base, _):
        ws = connect(base, ticket(base, box))
        assert ending(ws) == {"type": "end", "reason": "idle", "exit_code": None}


def test_a_session_ends_with_a_word_when_the_service_stops(box):
    tokens = json.dumps(TOKENS[:1])
    with served(TOKENS=tokens) as (base, server):
        ws = connect(base, ticket(base, box))
        ws.send(b"echo before-$((1+1))\n")
        read_until(ws, b"before-2")
        server.terminate()  # gunicorn stops gracefully: its worker is told first
        assert ending(ws) == {"type": "end", "reason": "stopping", "exit_code": None}


def test_a_terminal_takes_a_place_of_its_worker(box):
    """Past the worker's ceiling of streams (MAX_STREAMS), the next upgrade is the JSON 503."""
    with served(TOKENS=json.dumps(TOKENS[:1]), MAX_STREAMS=1) as (base, _):
        first = connect(base, ticket(base, box))
        try:
            session = ticket(base, box)
            offer = f"{PROTOCOL}, ticket.{session['ticket']}"
            status, answer = upgrade(base, session["path"], offer)
            assert status == 503 and "too many streams" in answer["message"], answer
        finally:
            first.close()

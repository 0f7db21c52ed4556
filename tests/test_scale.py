"""Streams at scale, through gunicorn as deployed (gevent workers): many streams hold no
thread, so that a list request still answers while they run; streams whose clients hung up
give their daemon connections back; clients of /system/events share one daemon subscription
per worker, filtered in the service. No timing assertion: conditions, waited for."""

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from service.events import matches
from tests.conftest import admin_headers, eventually, served

FOLLOWERS = 200
SETTINGS = {
    "WORKER_CONNECTIONS": 1000,
    "MAX_STREAMS": 400,
    # one token opens every stream here
    "TOKEN_STREAMS": 1000,
    "MAX_CLIENT_CONNECTIONS": 1000,
    "STREAM_HEARTBEAT": 1,
}


def get(base, path, timeout=30):
    call = urllib.request.Request(base + path, headers=admin_headers())
    with urllib.request.urlopen(call, timeout=timeout) as answer:
        return answer.status, json.load(answer)


def open_stream(base, path, accept="application/x-ndjson") -> socket.socket:
    """A raw connection that asked for ``path``; its answer's head read, its body left."""
    address = urlsplit(base)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    auth = "".join(f"{k}: {v}\r\n" for k, v in admin_headers().items())
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n{auth}\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


def worker_of(server) -> int:
    return int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])


def daemon_sockets(worker: int) -> int:
    """Unix sockets the worker holds: its connections to the daemon's socket."""
    out = subprocess.check_output(["ss", "-xp"], text=True)
    return sum(1 for line in out.splitlines() if f"pid={worker}," in line)


def streams_info(base) -> dict:
    return get(base, "/system/info")[1]["streams"]


def warm_up(base, path):
    """One stream of ``path`` opened and closed: the clients it takes have their connections."""
    open_stream(base, path).close()
    eventually(lambda: streams_info(base)["open"] == 0, timeout=20)


@pytest.fixture
def ticking(client, busybox_image, labels):
    body = {
        "image": busybox_image,
        "command": ["sh", "-c", "while true; do echo tick; sleep 0.5; done"],
        "labels": labels,
        "start": True,
    }
    answer = client.post("/containers", json=body)
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def test_many_streams_do_not_block_a_list_and_hung_up_ones_give_their_connections_back(
    ticking,
):
    with served(**SETTINGS) as (base, server):
        worker = worker_of(server)
        # the paths this test calls, warmed up: their daemon connections are the baseline
        assert get(base, "/containers?all=true")[0] == 200
        warm_up(base, f"/containers/{ticking}/logs?follow=true")
        baseline = daemon_sockets(worker)
        followers = []
        try:
            for _ in range(FOLLOWERS):
                followers.append(open_stream(base, f"/containers/{ticking}/logs?follow=true"))
            # every follower receives the container's lines
            for sock in followers[:: FOLLOWERS // 10]:
                assert b"tick" in sock.recv(65536)
            # a list answers beside them (the old threaded worker had no thread left)
            status, listed = get(base, "/containers?all=true")
            assert status == 200 and any(c["id"] == ticking for c in listed)
            info = streams_info(base)
            assert info["open"] >= FOLLOWERS and info["limit"] == SETTINGS["MAX_STREAMS"]
            assert daemon_sockets(worker) >= baseline + FOLLOWERS
        finally:
            for sock in followers:
                sock.close()
        # within a heartbeat or so, each stream sees its client gone and lets go
        eventually(lambda: daemon_sockets(worker) <= baseline, timeout=20)
        eventually(lambda: streams_info(base)["open"] == 0, timeout=20)


def test_streams_past_the_ceiling_are_refused_at_once_and_counted():
    with served(MAX_STREAMS=3, RETRY_AFTER=4, STREAM_HEARTBEAT=1) as (base, _):
        opened = [open_stream(base, "/system/events") for _ in range(3)]
        try:
            call = urllib.request.Request(f"{base}/system/events", headers=admin_headers())
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(call, timeout=10)
            assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "4"
            refused.value.close()
            assert get(base, "/containers")[0] == 200
            info = streams_info(base)
            assert (info["limit"], info["open"], info["refused"]) == (3, 3, 1)
        finally:
            for sock in opened:
                sock.close()
        eventually(lambda: streams_info(base)["open"] == 0, timeout=20)


def read_events(sock, wanted: int, deadline: float) -> list[dict]:
    """ndjson events from ``sock`` until ``wanted`` non-heartbeat ones came."""
    data, events = b"", []
    while len(events) < wanted:
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        chunk = sock.recv(65536)
        assert chunk, events
        data += chunk
        # chunked framing: the lines are the JSON objects among the chunk sizes
        for line in data.split(b"\r\n"):
            if line.startswith(b"{"):
                event = json.loads(line)
                if event["type"] != "heartbeat" and event not in events:
                    events.append(event)
    return events


def test_event_clients_share_one_daemon_subscription(client, busybox_image, labels):
    clients = 20
    # the mirror, on, is one more client of the subscription, for as long as the worker lives
    with served(**SETTINGS, READ_CACHE="false") as (base, server):
        worker = worker_of(server)
        assert get(base, "/containers")[0] == 200
        warm_up(base, "/system/events")
        baseline = daemon_sockets(worker)
        label = ",".join(f"{k}={v}" for k, v in labels.items())
        mine = f"/system/events?type=container&action=create&label={label}"
        other = "/system/events?type=network&action=destroy&label=dockyard.none"
        socks = []
        try:
            socks += [open_stream(base, mine) for _ in range(clients)]
            socks += [open_stream(base, other) for _ in range(5)]
            info = streams_info(base)
            assert info["event_subscriptions"] == 1 and info["open"] == clients + 5
            assert daemon_sockets(worker) <= baseline + 1
            body = {"image": busybox_image, "command": ["true"], "labels": labels}
            created = client.post("/containers", json=body).json["id"]
            deadline = time.monotonic() + 20
            for sock in socks[:clients]:
                (event,) = read_events(sock, 1, deadline)
                assert (event["type"], event["action"], event["actor_id"]) == (
                    "container",
                    "create",
                    created,
                )
        finally:
            for sock in socks:
                sock.close()
        eventually(lambda: streams_info(base)["event_subscriptions"] == 0, timeout=20)
        eventually(lambda: daemon_sockets(worker) <= baseline, timeout=20)


EVENT = {
    "type": "container",
    "action": "health_status: healthy",
    "actor_id": "abc123",
    "attributes": {"name": "web", "image": "busybox:1", "com.x": "1"},
}


@pytest.mark.parametrize(
    "filters, kept",
    [
        ({}, True),
        ({"type": ["container"]}, True),
        ({"type": ["image"]}, False),
        ({"event": ["health_status"]}, True),
        ({"event": ["start"]}, False),
        ({"container": ["web"]}, True),
        ({"container": ["abc"]}, True),
        ({"container": ["db"]}, False),
        ({"image": ["busybox"]}, True),
        ({"image": ["busybox:1"]}, True),
        ({"image": ["alpine"]}, False),
        ({"label": ["com.x"]}, True),
        ({"label": ["com.x=1"]}, True),
        ({"label": ["com.x=2"]}, False),
        ({"label": ["com.x", "com.y"]}, False),
    ],
)
def test_the_hub_filters_as_the_daemon_does(filters, kept):
    assert matches(EVENT, filters) is kept

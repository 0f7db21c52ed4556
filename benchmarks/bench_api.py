"""How much the service costs over calling the Docker socket directly, in the same run.

Run on purpose, against an engine you own (it creates and removes labelled containers):

    .venv/bin/python benchmarks/bench_api.py [--containers 100] [--rounds 50]

It starts the service with gunicorn (deploy/gunicorn.conf.py) on a free loopback port, then for
each pair of (service path, daemon path) times sequential requests and a concurrent burst, and
prints latencies and the ratio service / direct. Traffic stays on this machine.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOCKET = os.environ.get("DOCKYARD_DOCKER_URL", "unix:///var/run/docker.sock").removeprefix(
    "unix://"
)
LABEL = f"dockyard.bench={uuid.uuid4().hex[:8]}"

PAIRS = [
    ("/containers?all=true", "/containers/json?all=1"),
    ("/images", "/images/json"),
    ("/system/info", "/info"),
    ("/health", "/_ping"),
]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


_local = threading.local()


def direct(path: str, api: str) -> int:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = UnixConnection(SOCKET)
    conn.request("GET", f"/v{api}{path}" if path != "/_ping" else path)
    answer = conn.getresponse()
    answer.read()
    return answer.status


def service(base: str, path: str) -> int:
    with urllib.request.urlopen(base + path, timeout=30) as answer:
        answer.read()
        return answer.status


def timed(call, rounds):
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        status = call()
        samples.append(time.perf_counter() - started)
        assert status == 200, status
    return samples


def burst(call, requests, workers):
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        statuses = list(pool.map(lambda _: call(), range(requests)))
    assert set(statuses) == {200}, set(statuses)
    return requests / (time.perf_counter() - started)


def ms(samples, q):
    return statistics.quantiles(samples, n=100)[q - 1] * 1000 if len(samples) > 1 else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    conn = UnixConnection(SOCKET)
    conn.request("GET", "/version")
    api = json.loads(conn.getresponse().read())["ApiVersion"]
    image = next(
        (i["RepoTags"][0] for i in _get(conn, api, "/images/json") if i.get("RepoTags")), None
    )
    if image is None:
        sys.exit("the engine holds no tagged image to create containers from")

    created = []
    for _ in range(args.containers):
        body = json.dumps({"Image": image, "Cmd": ["true"], "Labels": dict([LABEL.split("=")])})
        conn.request(
            "POST", f"/v{api}/containers/create", body, {"Content-Type": "application/json"}
        )
        created.append(json.loads(conn.getresponse().read())["Id"])

    port = _free_port()
    env = {**os.environ, "DOCKYARD_BIND": f"127.0.0.1:{port}", "DOCKYARD_AUDIT_LOG": os.devnull}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base + "/health")
        print(
            f"engine API {api}, {args.containers} extra containers, {args.rounds} rounds, "
            f"bursts of {args.burst} requests on {args.workers} threads\n"
        )
        print(
            f"{'service path':24} {'p50 ms':>8} {'p95 ms':>8} {'direct p50':>10} "
            f"{'ratio p50':>9} {'req/s':>8} {'direct/s':>9} {'ratio':>6}"
        )
        for ours, theirs in PAIRS:
            for _ in range(3):  # warm both paths up
                service(base, ours)
                direct(theirs, api)
            mine = timed(lambda p=ours: service(base, p), args.rounds)
            raw = timed(lambda p=theirs: direct(p, api), args.rounds)
            rate = burst(lambda p=ours: service(base, p), args.burst, args.workers)
            raw_rate = burst(lambda p=theirs: direct(p, api), args.burst, args.workers)
            print(
                f"{ours:24} {ms(mine, 50):8.2f} {ms(mine, 95):8.2f} {ms(raw, 50):10.2f} "
                f"{ms(mine, 50) / max(ms(raw, 50), 1e-6):9.1f} {rate:8.0f} {raw_rate:9.0f} "
                f"{raw_rate / rate:6.1f}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        for cid in created:
            conn.request("DELETE", f"/v{api}/containers/{cid}?force=1")
            conn.getresponse().read()


def _get(conn, api, path):
    conn.request("GET", f"/v{api}{path}")
    return json.loads(conn.getresponse().read())


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url):
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the service did not start")


if __name__ == "__main__":
    main()

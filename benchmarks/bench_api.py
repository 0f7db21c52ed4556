"""How much the service costs over calling the Docker socket directly, in the same run, and how
many streams it holds: every figure of issue 13's targets, printed with its ratio to the raw
socket and whether it meets its target.

Run on purpose (it creates and removes labelled containers and images; about 250 MB of logs go
to the engine meanwhile):

    .venv/bin/python benchmarks/bench_api.py [--repeats 5] [--rounds 60] [--streams 1000]

It builds a busybox image from /bin/busybox, creates 200 containers and 100 images (all
labelled, all removed at the end, whatever happens), and starts the service as deployed
(gunicorn with deploy/gunicorn.conf.py, 2 workers) on a free loopback port. Both sides keep
their connections alive (the service over TCP, the daemon over its unix socket). The two sides
are measured in turns, --repeats times, --rounds sequential requests a side a turn, and each
ratio is the median of the turns' ratios: a shared machine's speed moves over seconds, and a
ratio within a turn compares like with like. Then:

- plain paths: `GET /containers?all=true`, `GET /images`, `GET /containers/{id}`, `GET /health`;
- 32 concurrent clients on `GET /containers/{id}`: requests per second, both sides, three
  turns of 3 seconds;
- 1000 concurrent streams (900 log followers over 30 chatty containers, 100 event followers):
  errors, `GET /containers` p50 while they run against its idle figure, the workers' RSS growth
  per stream, and, after the clients hang up, the workers' daemon connections and threads
  against their baseline;
- log throughput: a 100 MB log, TTY and not, read whole, bytes per second both sides.

Without tokens configured, the service gets an administrator token of its own; with tokens
configured (DOCKYARD_TOKENS, DOCKYARD_TOKENS_FILE), one must be given (--token or
DOCKYARD_BENCH_TOKEN), or it refuses to run. --serve-from DIR serves another checkout (its
deploy/gunicorn.conf.py and code), to measure a before. Traffic stays on this machine.
"""

import argparse
import http.client
import io
import json
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOCKET = os.environ.get("DOCKYARD_DOCKER_URL", "unix:///var/run/docker.sock").removeprefix(
    "unix://"
)
RUN = uuid.uuid4().hex[:8]
LABEL_KEY, LABEL_VALUE = "dockyard.bench", RUN


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Side:
    """One side of the comparison: a kept-alive connection per thread."""

    def __init__(self, make, prefix="", headers=None):
        self.make, self.prefix, self.headers = make, prefix, headers or {}
        self.local = threading.local()

    def get(self, path) -> bytes:
        conn = getattr(self.local, "conn", None)
        fresh = conn is None
        if fresh:
            conn = self.local.conn = self.make()
        try:
            conn.request("GET", self.prefix + path, headers=self.headers)
            answer = conn.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            conn.close()
            if fresh:
                raise
            return self.get(path)  # a kept-alive connection the server had closed meanwhile
        if answer.status != 200:
            raise RuntimeError(f"{path}: {answer.status} {body[:200]!r}")
        return body


def p50(samples):
    return statistics.median(samples) * 1000


def latency(side, path, rounds) -> float:
    """The median latency of ``rounds`` sequential requests, in ms."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        side.get(path)
        samples.append(time.perf_counter() - started)
    return p50(samples)


def paired(ours, path, raw, theirs, rounds, repeats):
    """Both sides measured in turns, ``repeats`` times (the machine's speed moves over
    seconds; a ratio is taken within each turn): the medians of each side's runs, of the
    ratios and of the differences."""
    for _ in range(5):
        ours.get(path)
        raw.get(theirs)
    runs = []
    for _ in range(repeats):
        a, b = latency(ours, path, rounds), latency(raw, theirs, rounds)
        runs.append((a, b, a / b, a - b))
    return [statistics.median(run[i] for run in runs) for i in range(4)]


def rate(side, path, clients, seconds):
    """Requests per second of ``clients`` threads, each with its kept-alive connection."""
    stop = time.monotonic() + seconds
    counts = [0] * clients

    def client(i):
        while time.monotonic() < stop:
            side.get(path)
            counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def throughput(side, path):
    started = time.perf_counter()
    size = len(side.get(path))
    return size / (time.perf_counter() - started), size


class Daemon:
    def __init__(self):
        self.conn = UnixConnection(SOCKET, timeout=600)
        self.api = json.loads(self.call("GET", "/version", versioned=False))["ApiVersion"]

    def call(self, method, path, body=None, versioned=True, headers=None):
        data = json.dumps(body) if isinstance(body, dict) else body
        headers = headers or ({"Content-Type": "application/json"} if data else {})
        self.conn.request(method, (f"/v{self.api}" if versioned else "") + path, data, headers)
        answer = self.conn.getresponse()
        content = answer.read()
        if answer.status >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status} {content[:300]!r}")
        return content

    def create(self, image, command, tty=False, start=False):
        body = {"Image": image, "Cmd": command, "Tty": tty, "Labels": {LABEL_KEY: LABEL_VALUE}}
        cid = json.loads(self.call("POST", "/containers/create", body))["Id"]
        if start:
            self.call("POST", f"/containers/{cid}/start")
        return cid

    def cleanup(self):
        self.conn.close()  # a call that failed may have left it mid-answer
        scope = urllib.parse.quote(json.dumps({"label": [f"{LABEL_KEY}={LABEL_VALUE}"]}))
        for c in json.loads(self.call("GET", f"/containers/json?all=1&filters={scope}")):
            self.call("DELETE", f"/containers/{c['Id']}?force=1")
        # a parent image goes only once its children have: passes until none is left
        for _ in range(3):
            for image in json.loads(self.call("GET", f"/images/json?filters={scope}")):
                try:
                    self.call("DELETE", f"/images/{image['Id']}?force=1")
                except RuntimeError:
                    pass  # went with another, or a child is still there


def build_busybox(daemon) -> str:
    tag = f"dockyard-bench/busybox:{RUN}"
    dockerfile = (
        f"FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nLABEL {LABEL_KEY}={LABEL_VALUE}\n'
    ).encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(os.path.realpath("/bin/busybox"), arcname="busybox")
    out = daemon.call(
        "POST",
        f"/build?t={tag}&rm=1&forcerm=1",
        context.getvalue(),
        headers={"Content-Type": "application/x-tar"},
    )
    if b'"error"' in out:
        sys.exit(f"the busybox image did not build: {out[-300:]!r}")
    return tag


def wait_exited(daemon, cid):
    daemon.call("POST", f"/containers/{cid}/wait")


# -- the service ------------------------------------------------------------------------------


def credentials(args):
    configured = any(os.environ.get(k) for k in ("DOCKYARD_TOKENS", "DOCKYARD_TOKENS_FILE"))
    token = args.token or os.environ.get("DOCKYARD_BENCH_TOKEN")
    if configured and not token:
        sys.exit(
            "tokens are configured (DOCKYARD_TOKENS or DOCKYARD_TOKENS_FILE): give one with "
            "read scope as --token or DOCKYARD_BENCH_TOKEN, or unset them to let the benchmark "
            "serve with an administrator token of its own"
        )
    return configured, token


def serve(args, private: Path, configured, token):
    port = free_port()
    token_file = private / "admin-token"
    env = {
        **os.environ,
        "DOCKYARD_BIND": f"127.0.0.1:{port}",
        "DOCKYARD_WORKERS": "2",
        "DOCKYARD_AUDIT_LOG": os.devnull,
        "DOCKYARD_LOG_LEVEL": "warning",
        "DOCKYARD_ADMIN_TOKEN_FILE": str(token_file),
        "DOCKYARD_MAX_CLIENT_CONNECTIONS": str(args.streams + 200),
        "DOCKYARD_STREAM_HEARTBEAT": "2",
        # the old threaded worker (--serve-from) as its README served it
        "DOCKYARD_THREADS": "32",
    }
    root = Path(args.serve_from).resolve() if args.serve_from else ROOT
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(root / "deploy" / "gunicorn.conf.py")],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=open(private / "gunicorn.log", "wb"),  # noqa: SIM115
    )
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        server.terminate()
        sys.exit("the service did not start: " + (private / "gunicorn.log").read_text()[-2000:])
    if not configured:
        name, _, value = token_file.read_text().strip().partition(":")
        header = {name.strip(): value.strip()}
    else:
        header = {"Authorization": f"Bearer {token}"}
    return server, port, header


def workers(server) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def rss_kb(pids) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def threads_of(pids) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids)


def unix_sockets(pids) -> int:
    out = subprocess.run(["ss", "-xp"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() for pid in pids if f"pid={pid}," in line)


# -- many streams -----------------------------------------------------------------------------


class Streams:
    """``count`` raw streaming connections read in one thread with a selector."""

    def __init__(self, port, header, paths):
        self.selector = selectors.DefaultSelector()
        self.socks = []
        self.heads = {}
        self.bytes = 0
        self.receiving = set()
        self.errors = []
        auth = "".join(f"{k}: {v}\r\n" for k, v in header.items())
        for path, accept in paths:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n{auth}\r\n".encode()
            )
            sock.setblocking(False)
            self.socks.append(sock)
            self.heads[sock] = b""
            self.selector.register(sock, selectors.EVENT_READ)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.2):
                sock = key.fileobj
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    data = b""
                    self.errors.append(repr(exc))
                if not data:
                    self.errors.append("closed by the service")
                    self.selector.unregister(sock)
                    continue
                if sock in self.heads:
                    head = self.heads[sock] + data
                    if b"\r\n\r\n" not in head:
                        self.heads[sock] = head
                        continue
                    del self.heads[sock]
                    status, data = head.split(b"\r\n\r\n", 1)
                    if not status.startswith(b"HTTP/1.1 200"):
                        self.errors.append(status.split(b"\r\n")[0].decode())
                        self.selector.unregister(sock)
                        continue
                if b'"type": "error"' in data or b"event: error" in data:
                    self.errors.append("an error event")
                if data:
                    self.receiving.add(sock)
                self.bytes += len(data)

    def close(self):
        self.stop.set()
        self.thread.join()
        for sock in self.socks:
            sock.close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


# -- the run ----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--stream-seconds", type=float, default=20)
    parser.add_argument("--log-mb", type=int, default=100)
    parser.add_argument("--token", default="")
    parser.add_argument("--serve-from", default="", help="another checkout to serve (a before)")
    parser.add_argument("--skip", default="", help="comma list of: plain,rate,streams,logs")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    configured, token = credentials(args)

    daemon = Daemon()
    private = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    server = None
    rows = []

    def row(figure, ours, raw, shown, target, met):
        rows.append((figure, ours, raw, shown, target, "yes" if met else "NO"))
        print(f"  {figure}: {ours} (raw {raw}) -> {shown}, target {target}: {rows[-1][-1]}")

    try:
        print("setting up: busybox image, containers, images, logs ...", flush=True)
        image = build_busybox(daemon)
        base = daemon.create(image, ["true"])
        for i in range(args.images - 1):
            daemon.call(
                "POST",
                f"/commit?container={base}&changes=LABEL%20{LABEL_KEY}%3D{LABEL_VALUE}"
                f"%0ALABEL%20n%3D{i}",
            )
        containers = [daemon.create(image, ["true"]) for _ in range(args.containers - 1)]
        probe = containers[0]
        if "logs" not in skip:
            big = f"head -c {args.log_mb * 1024 * 1024} /dev/zero | tr '\\0' 'x' | fold -w 99"
            logs = {tty: daemon.create(image, ["sh", "-c", big], tty=tty) for tty in (False, True)}
            for cid in logs.values():
                daemon.call("POST", f"/containers/{cid}/start")
            for cid in logs.values():
                wait_exited(daemon, cid)

        server, port, header = serve(args, private, configured, token)
        ours = Side(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=120), "", header)
        raw = Side(lambda: UnixConnection(SOCKET, timeout=120), f"/v{daemon.api}")
        ping = Side(lambda: UnixConnection(SOCKET))
        listed = len(json.loads(ours.get("/containers?all=true")))
        imaged = len(json.loads(ours.get("/images")))
        print(
            f"engine API {daemon.api}; {listed} containers, {imaged} images on the engine; "
            f"{os.cpu_count()} CPUs; sides in turns: {args.repeats} turns of {args.rounds} requests"
            " a side\n",
            flush=True,
        )

        if "plain" not in skip:
            for path, theirs in (
                ("/containers?all=true", "/containers/json?all=1"),
                ("/images", "/images/json"),
            ):
                a, b, ratio, _ = paired(ours, path, raw, theirs, args.rounds, args.repeats)
                row(
                    f"GET {path} p50 ms",
                    f"{a:.2f}",
                    f"{b:.2f}",
                    f"{ratio:.2f}x",
                    "<= 1.3x",
                    ratio <= 1.3,
                )
            a, b, _, more = paired(
                ours,
                f"/containers/{probe}",
                raw,
                f"/containers/{probe}/json",
                args.rounds,
                args.repeats,
            )
            row(
                "GET /containers/{id} p50 ms",
                f"{a:.2f}",
                f"{b:.2f}",
                f"+{more:.2f} ms",
                "<= raw + 1 ms",
                more <= 1,
            )
            a, b, ratio, _ = paired(ours, "/health", ping, "/_ping", args.rounds, args.repeats)
            row(
                "GET /health p50 ms",
                f"{a:.2f}",
                f"{b:.2f} (_ping)",
                f"{ratio:.2f}x",
                "< 1 ms",
                a < 1,
            )

        if "rate" not in skip:
            turns = [
                (
                    rate(ours, f"/containers/{probe}", 32, 3),
                    rate(raw, f"/containers/{probe}/json", 32, 3),
                )
                for _ in range(3)
            ]
            a, b = (statistics.median(turn[i] for turn in turns) for i in (0, 1))
            ratio = statistics.median(mine / theirs for mine, theirs in turns)
            row(
                "32 clients GET /containers/{id} req/s",
                f"{a:.0f}",
                f"{b:.0f}",
                f"{ratio:.2f}x",
                ">= 0.6x",
                ratio >= 0.6,
            )

        if "logs" not in skip:
            for tty, cid in logs.items():
                a, size = throughput(ours, f"/containers/{cid}/logs")
                b, _ = throughput(raw, f"/containers/{cid}/logs?stdout=1&stderr=1")
                name = "TTY" if tty else "non-TTY"
                row(
                    f"log of {size / 1e6:.0f} MB, {name}, MB/s",
                    f"{a / 1e6:.0f}",
                    f"{b / 1e6:.0f}",
                    f"{a / b:.2f}x",
                    ">= 0.8x",
                    a / b >= 0.8,
                )

        if "streams" not in skip:
            streams_figures(args, daemon, image, server, port, header, ours, row)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        daemon.cleanup()
        shutil.rmtree(private, ignore_errors=True)

    print("\n| figure | service | raw socket | ratio | target | met |\n|---|---|---|---|---|---|")
    for figure in rows:
        print("| " + " | ".join(figure) + " |")


def streams_figures(args, daemon, image, server, port, header, ours, row):
    chatty = [
        daemon.create(image, ["sh", "-c", "while true; do echo tick; sleep 1; done"], start=True)
        for _ in range(30)
    ]
    pids = workers(server)
    idle = statistics.median(latency(ours, "/containers", args.rounds) for _ in range(args.repeats))
    ours.get("/system/info")
    base_rss, base_sockets, base_threads = rss_kb(pids), unix_sockets(pids), threads_of(pids)
    followers = args.streams * 9 // 10
    paths = [
        (f"/containers/{chatty[i % len(chatty)]}/logs?follow=true&tail=1", "text/plain")
        for i in range(followers)
    ] + [("/system/events", "application/x-ndjson")] * (args.streams - followers)
    # a first round, closed at once: the connections the control calls beside the streams
    # keep in their pool (idle, kept alive) are part of the baseline, not of the streams
    print(f"\nopening {args.streams} streams, twice ...", flush=True)
    streams = Streams(port, header, paths)
    wait_until(lambda: len(streams.receiving) >= args.streams, args.stream_seconds)
    streams.close()
    wait_until(lambda: threads_of(pids) <= base_threads, 30)
    time.sleep(5)
    base_sockets = unix_sockets(pids)
    streams = Streams(port, header, paths)
    try:
        wait_until(lambda: len(streams.receiving) >= args.streams, args.stream_seconds)
        during = statistics.median(
            latency(ours, "/containers", args.rounds) for _ in range(args.repeats)
        )
        rss = rss_kb(pids)
        receiving = len(streams.receiving)
        errors = list(streams.errors)
    finally:
        streams.close()
    per_stream = (rss - base_rss) / args.streams
    back = wait_until(
        lambda: unix_sockets(pids) <= base_sockets and threads_of(pids) <= base_threads, 30
    )
    sockets, threads = unix_sockets(pids), threads_of(pids)
    row(
        f"{args.streams} streams: errors, receiving",
        f"{len(errors)} errors, {receiving} receiving",
        "-",
        f"{errors[:3]}" if errors else "-",
        "0 errors",
        not errors and receiving == args.streams,
    )
    row(
        "GET /containers p50 ms during them, over idle",
        f"{during:.2f}",
        f"{idle:.2f} (idle)",
        f"{during / idle:.2f}x",
        "<= 1.5x",
        during / idle <= 1.5,
    )
    row(
        "worker RSS growth per stream KB",
        f"{per_stream:.1f}",
        "-",
        "-",
        "< 100 KB",
        per_stream < 100,
    )
    row(
        "after hang-up: daemon sockets, threads",
        f"{sockets}, {threads}",
        f"{base_sockets}, {base_threads} (baseline)",
        "back" if back else "NOT back",
        "baseline",
        back,
    )


if __name__ == "__main__":
    main()

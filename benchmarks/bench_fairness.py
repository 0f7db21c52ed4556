"""What the service's metrics cost, and whether its default limits share it fairly among many
streams and tokens: figures printed beside the raw Docker socket's, in the same run, each with
its target and whether it is met.

Run on purpose (it creates and removes labelled containers and an image):

    .venv/bin/python benchmarks/bench_fairness.py [--repeats 9] [--rounds 200] [--streams 1000]

It builds a busybox image from /bin/busybox (all it makes is labelled and removed at the end,
whatever happens) and starts the service as deployed (gunicorn with deploy/gunicorn.conf.py, 2
workers) twice on free loopback ports, with the same tokens (DOCKYARD_TOKENS, made for the run)
and otherwise the service's default settings: once with DOCKYARD_METRICS=true (the default),
once with false. Every DOCKYARD_* variable of the caller's environment but DOCKYARD_DOCKER_URL
is left out. Both services and the daemon keep their connections alive, and are measured in
turns, --repeats times, --rounds sequential requests a side a turn, in an order that rotates;
each ratio is the median of the turns' ratios, as in bench_api.py. Then:

- the cost of metrics: `GET /containers/{id}` p50 with metrics on, off, and on the raw socket
  (`GET /containers/{id}/json`); the on/off ratio (target: under 1.05, metrics cost under 5 %
  of the request); and one `/metrics` scrape: its bytes, series lines and time;
- default limits under --streams streams, all from 127.0.0.1 on the service with metrics on
  (nothing set but its tokens): 90 % log followers (`GET /containers/{id}/logs?follow=true`,
  ndjson) over 30 chatty containers, 10 % `/system/events` followers, spread over 16 tokens of
  `read` and `operate` scopes, each under its quota of 64 (TOKEN_STREAMS); how many opened and
  how many were refused or cut; while they run, `GET /containers` p50 (another token) against
  its idle figure and against the raw socket's, `/health` on fresh connections, and the
  service's `dockyard_streams_open` and series lines in `/metrics`, against those with no
  stream open (a first stream of each kind is opened and closed before, so that the series
  compared are those of the streams' count, not of a first call);
- one token over its quota: a 17th token opens 65 `/system/events` streams, one by one; how
  many got 200 and how many a JSON 503 with Retry-After; whether another token's requests and
  streams, and `/health`, still answer; and whether the token's place comes back once its
  streams close.

At the end, what the services logged at warning or above, and the statuses they answered
(their access logs), 5xx first. Traffic stays on this machine.
"""

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_api import (  # noqa: E402
    ROOT,
    SOCKET,
    Daemon,
    Side,
    Streams,
    UnixConnection,
    build_busybox,
    free_port,
    latency,
    paired,
    wait_until,
)

from service.auth import hash_token  # noqa: E402

STREAM_TOKENS = 16
QUOTA = 64  # TOKEN_STREAMS's default
NDJSON = "application/x-ndjson"
CHATTY = "while true; do echo line; sleep 0.2; done"


# -- tokens and services ----------------------------------------------------------------------


class Token:
    def __init__(self, name, scopes):
        self.name, self.scopes = name, scopes
        self.secret = "dy_" + secrets.token_urlsafe(32)
        self.header = {"Authorization": f"Bearer {self.secret}"}

    def entry(self):
        return {"name": self.name, "hash": hash_token(self.secret), "scopes": self.scopes}


class Service:
    """gunicorn as deployed, on a free loopback port: default settings but ``settings``."""

    def __init__(self, name, private: Path, tokens, settings=None):
        self.name, self.port = name, free_port()
        self.errors = private / f"{name}.stderr"
        self.access = private / f"{name}.stdout"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DOCKYARD_", "PROMETHEUS_")) or k == "DOCKYARD_DOCKER_URL"
        }
        env |= {
            "DOCKYARD_BIND": f"127.0.0.1:{self.port}",
            "DOCKYARD_WORKERS": "2",
            "DOCKYARD_TOKENS": json.dumps([t.entry() for t in tokens]),
            "PYTHONPATH": str(ROOT),
            **(settings or {}),
        }
        with open(self.errors, "wb") as err, open(self.access, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )
        if not wait_until(lambda: self.status("/health") == 200, 30):
            self.stop()
            sys.exit(f"the service {name} did not start: " + self.errors.read_text()[-2000:])

    def connection(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def side(self, token):
        return Side(self.connection, "", token.header)

    def status(self, path, header=None) -> int:
        """The status of ``path`` on a fresh connection; 0 when none came."""
        conn = self.connection(timeout=30)
        try:
            conn.request("GET", path, headers=header or {})
            answer = conn.getresponse()
            answer.read()
            return answer.status
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            conn.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- /metrics ---------------------------------------------------------------------------------


def series(text) -> dict[str, float]:
    """A scrape's series lines: name and labels -> value."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def streams_open(text) -> float:
    return sum(
        value
        for name, value in series(text).items()
        if name.split("{")[0] == "dockyard_streams_open"
    )


def scrape(side):
    started = time.perf_counter()
    text = side.get("/metrics").decode()
    return text, time.perf_counter() - started


# -- streams ----------------------------------------------------------------------------------


def open_streams(service, plan):
    """``plan``: (token, path, accept) a stream; one reader (bench_api.Streams) a token."""
    by_token = {}
    for token, path, accept in plan:
        by_token.setdefault(token, []).append((path, accept))
    return [Streams(service.port, token.header, paths) for token, paths in by_token.items()]


def tally(groups):
    """What the streams came to: 200 heads, other statuses, cut before a head, no head yet,
    cut after their 200, and those that received data."""
    opened = cut = pending = cut_later = receiving = 0
    statuses = Counter()
    for group in groups:
        registered = group.selector.get_map()
        refused = [e for e in list(group.errors) if e.startswith("HTTP/")]
        statuses.update(refused)
        for sock in group.socks:
            live = sock in registered
            if sock in group.heads:
                pending += live
                cut += not live
        answered = len(group.socks) - len(group.heads)
        opened += answered - len(refused)
        cut_later += sum(
            1 for sock in group.socks if sock not in group.heads and sock not in registered
        ) - len(refused)
        receiving += len(group.receiving)
    return {
        "opened": opened,
        "refused": statuses,
        "cut before a head": cut,
        "no head yet": pending,
        "cut after 200": cut_later,
        "receiving": receiving,
    }


def stream_head(service, token, path, accept=NDJSON, timeout=10):
    """One stream opened and its head read: (socket, status, headers, body of a refusal)."""
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=timeout)
    auth = "".join(f"{k}: {v}\r\n" for k, v in token.header.items())
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n{auth}\r\n".encode()
    )
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    status = int(parts[1]) if len(parts) > 1 else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if status not in (0, 200):
        length = int(headers.get("content-length", 0))
        try:
            while len(body) < length and (chunk := sock.recv(65536)):
                body += chunk
        except OSError:
            pass
    return sock, status, headers, body


def json_refusal(status, headers, body) -> bool:
    if status != 503 or not headers.get("retry-after"):
        return False
    try:
        return json.loads(body).get("code") == 503
    except ValueError:
        return False


# -- the run ----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chatty", type=int, default=30)
    parser.add_argument("--open-seconds", type=float, default=60)
    args = parser.parse_args()
    if -(-args.streams // STREAM_TOKENS) > QUOTA:
        sys.exit(f"--streams over {STREAM_TOKENS * QUOTA} puts a token over its quota")

    control = Token("bench-control", ["read", "metrics"])
    streamers = [Token(f"bench-streams-{i:02d}", ["read", "operate"]) for i in range(STREAM_TOKENS)]
    greedy = Token("bench-greedy", ["read", "operate"])
    tokens = [control, *streamers, greedy]

    daemon = Daemon()
    private = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    services = []
    held = []
    rows = []

    def row(figure, value, compared, ratio, target, met):
        rows.append((figure, value, compared, ratio, target, "yes" if met else "NO"))
        print(f"  {figure}: {value} ({compared}) -> {ratio}, target {target}: {rows[-1][-1]}")

    try:
        print("setting up: busybox image, services ...", flush=True)
        image = build_busybox(daemon)
        probe = daemon.create(image, ["true"])
        on = Service("metrics-on", private, tokens)
        services.append(on)
        off = Service("metrics-off", private, tokens, {"DOCKYARD_METRICS": "false"})
        services.append(off)
        raw = Side(lambda: UnixConnection(SOCKET, timeout=120), f"/v{daemon.api}")
        print(
            f"engine API {daemon.api}; {os.cpu_count()} CPUs; sides in turns: {args.repeats} "
            f"turns of {args.rounds} requests a side\n",
            flush=True,
        )

        print("1. the cost of metrics on GET /containers/{id}", flush=True)
        metrics_cost(args, on, off, raw, control, probe, row)

        print(f"\n2. default limits under {args.streams} streams", flush=True)
        chatty = [
            daemon.create(image, ["sh", "-c", CHATTY], start=True) for _ in range(args.chatty)
        ]
        off.stop()
        many_streams(args, on, raw, control, streamers, chatty, held, row)

        print("\n3. one token over its quota", flush=True)
        over_quota(on, control, greedy, streamers[0], held, row)
    finally:
        for sock in held:
            sock.close()
        for service in services:
            service.stop()
        daemon.cleanup()
        for service in services:
            report_logs(service)
        shutil.rmtree(private, ignore_errors=True)

    print("\n| figure | value | compared with | ratio | target | met |\n|---|---|---|---|---|---|")
    for figure in rows:
        print("| " + " | ".join(figure) + " |")


def metrics_cost(args, on, off, raw, control, probe, row):
    sides = {
        "metrics on": (on.side(control), f"/containers/{probe}"),
        "metrics off": (off.side(control), f"/containers/{probe}"),
        "raw socket": (raw, f"/containers/{probe}/json"),
    }
    for side, path in sides.values():
        for _ in range(20):
            side.get(path)
    names = list(sides)
    turns = []
    for turn in range(args.repeats):
        order = names[turn % 3 :] + names[: turn % 3]
        turns.append({name: latency(*sides[name], args.rounds) for name in order})
    median = {name: statistics.median(t[name] for t in turns) for name in names}

    def ratio(a, b):
        return statistics.median(t[a] / t[b] for t in turns)

    cost = ratio("metrics on", "metrics off")
    row(
        "GET /containers/{id} p50 ms, metrics on over off",
        f"{median['metrics on']:.3f}",
        f"off {median['metrics off']:.3f}",
        f"{cost:.3f}x ({(cost - 1) * 100:+.1f} %)",
        "< 1.05x",
        cost < 1.05,
    )
    for name in ("metrics on", "metrics off"):
        print(
            f"  GET /containers/{{id}} p50 ms, {name} over the raw socket: "
            f"{median[name]:.3f} (raw {median['raw socket']:.3f}) -> "
            f"{ratio(name, 'raw socket'):.2f}x"
        )

    watcher = on.side(control)
    scrapes = [scrape(watcher) for _ in range(5)]
    text = scrapes[-1][0]
    took = statistics.median(s for _, s in scrapes) * 1000
    print(
        f"  one /metrics scrape: {len(text.encode())} bytes, {len(series(text))} series lines, "
        f"{took:.2f} ms (median of 5)"
    )
    print(f"  /metrics with metrics off: {off.status('/metrics', control.header)}")


def many_streams(args, on, raw, control, streamers, chatty, held, row):
    ours, watcher = on.side(control), on.side(control)
    followers = args.streams * 9 // 10
    plan = [
        (
            streamers[i % len(streamers)],
            f"/containers/{chatty[i % len(chatty)]}/logs?follow=true&stdout=true",
            NDJSON,
        )
        for i in range(followers)
    ] + [
        (streamers[i % len(streamers)], "/system/events", NDJSON)
        for i in range(followers, args.streams)
    ]

    # a first stream of each kind, and the call to be measured, before the figures of none
    first = open_streams(on, [plan[0], plan[-1]])
    wait_until(lambda: tally(first)["opened"] == 2, 10)
    for group in first:
        group.close()
    wait_until(lambda: streams_open(scrape(watcher)[0]) == 0, 15)
    idle, idle_raw, idle_ratio, _ = paired(
        ours, "/containers", raw, "/containers/json", args.rounds, args.repeats
    )
    none = series(scrape(watcher)[0])

    print(
        f"  opening {args.streams} streams ({followers} log followers over {len(chatty)} "
        f"containers, {args.streams - followers} event followers, {len(streamers)} tokens) ...",
        flush=True,
    )
    started = time.monotonic()
    groups = open_streams(on, plan)
    held.extend(sock for group in groups for sock in group.socks)
    try:
        wait_until(lambda: tally(groups)["no head yet"] == 0, args.open_seconds)
        opening = time.monotonic() - started
        wait_until(lambda: tally(groups)["receiving"] >= followers, 10)
        during, during_raw, during_ratio, _ = paired(
            ours, "/containers", raw, "/containers/json", args.rounds, args.repeats
        )
        health = [on.status("/health") for _ in range(20)]
        text, took = scrape(watcher)
        counts = tally(groups)
    finally:
        for group in groups:
            group.close()
    now = series(text)
    refused = sum(counts["refused"].values())
    print(
        f"  in {opening:.1f} s: {counts['opened']} opened (200), {refused} refused "
        f"{dict(counts['refused'])}, {counts['cut before a head']} cut before a head, "
        f"{counts['no head yet']} without a head yet; then {counts['cut after 200']} cut after "
        f"their 200, {counts['receiving']} received data"
    )
    row(
        f"{args.streams} streams under default limits: opened",
        f"{counts['opened']}",
        f"{refused} refused, {counts['cut before a head'] + counts['no head yet']} no head",
        "-",
        f"all {args.streams}",
        counts["opened"] == args.streams,
    )
    row(
        "GET /containers p50 ms during them, over idle",
        f"{during:.2f}",
        f"idle {idle:.2f}",
        f"{during / idle:.2f}x",
        "<= 1.5x",
        during / idle <= 1.5,
    )
    print(
        f"  raw GET /containers/json p50 ms: idle {idle_raw:.2f}, during {during_raw:.2f}; "
        f"service over raw: idle {idle_ratio:.2f}x, during {during_ratio:.2f}x"
    )
    ok = sum(status == 200 for status in health)
    row(
        "/health during them, fresh connections",
        f"{ok}/20 answered 200",
        f"{dict(Counter(health))}",
        "-",
        "20/20",
        ok == 20,
    )
    gauge = streams_open(text)
    row(
        "dockyard_streams_open (sum) during them",
        f"{gauge:.0f}",
        f"{counts['opened']} opened",
        "-",
        "= opened",
        gauge == counts["opened"],
    )
    new = sorted(set(now) - set(none))
    growth = len(now) - len(none)
    row(
        "/metrics series lines, streams open over none",
        f"{len(now)}",
        f"none: {len(none)}",
        f"{growth:+d}",
        "no growth per stream",
        growth < args.streams / 100,
    )
    if new:
        print(f"  series new with the streams: {new[:10]}{' ...' if len(new) > 10 else ''}")
    print(f"  the scrape with the streams open: {len(text.encode())} bytes, {took * 1000:.2f} ms")
    closed = wait_until(lambda: streams_open(scrape(watcher)[0]) == 0, 30)
    after = scrape(watcher)[0]
    print(
        f"  after the clients hung up: dockyard_streams_open {streams_open(after):.0f} "
        f"({'back to 0' if closed else 'NOT back to 0 within 30 s'}), "
        f"{len(series(after))} series lines"
    )


def over_quota(on, control, greedy, other, held, row):
    answers = []
    for _ in range(QUOTA + 1):
        sock, status, headers, body = stream_head(on, greedy, "/system/events")
        held.append(sock)
        answers.append((status, headers, body))
    opened = sum(status == 200 for status, _, _ in answers)
    refusals = [a for a in answers if a[0] != 200]
    shaped = sum(json_refusal(*a) for a in refusals)
    row(
        f"one token, {QUOTA + 1} event streams: opened",
        f"{opened}",
        f"{len(refusals)} refused, {shaped} of them a JSON 503 with Retry-After",
        "-",
        f"{QUOTA} opened, 1 JSON 503",
        opened == QUOTA and len(refusals) == 1 and shaped == 1,
    )
    for status, headers, body in refusals[:2]:
        print(
            f"  the refusal: {status}, Retry-After {headers.get('retry-after')!r}, "
            f"{body[:200].decode(errors='replace').strip()}"
        )
    mine = json.loads(on.side(greedy).get("/system/info"))
    own = [t for t in mine.get("streams", {}).get("by_token", []) if t["token"] == greedy.name]
    print(f"  /system/info streams by_token, as the token sees itself: {own}")

    started = time.perf_counter()
    listing = on.status("/containers", control.header)
    listed = (time.perf_counter() - started) * 1000
    health = on.status("/health")
    sock, status, _, _ = stream_head(on, other, "/system/events")
    sock.close()
    row(
        "meanwhile: GET /containers (another token), /health, another token's stream",
        f"{listing}, {health}, {status}",
        f"GET /containers {listed:.1f} ms",
        "-",
        "200, 200, 200",
        (listing, health, status) == (200, 200, 200),
    )
    for sock in held:
        sock.close()
    held.clear()
    watcher = on.side(control)
    wait_until(lambda: streams_open(scrape(watcher)[0]) == 0, 30)
    sock, status, _, _ = stream_head(on, greedy, "/system/events")
    sock.close()
    row(
        "the token's stream once its streams closed",
        f"{status}",
        "-",
        "-",
        "200",
        status == 200,
    )


# -- what the services said -------------------------------------------------------------------

_WORTH = re.compile(r"\[(WARNING|ERROR|CRITICAL)\]|^(WARNING|ERROR|CRITICAL):|Traceback")
_STAMP = re.compile(r"^\[[^]]*\] \[\d+\] ")
_ACCESS = re.compile(r'"(\w+) (\S+) HTTP/[\d.]+" (\d{3}) ')
_ID = re.compile(r"/[0-9a-f]{12,64}(?=/|$)")


def report_logs(service):
    print(f"\n{service.name}: exit status {service.process.returncode}")
    said = service.errors.read_text(errors="replace").splitlines()
    worth = Counter(_STAMP.sub("", line) for line in said if _WORTH.search(line))
    print(f"  stderr: {len(said)} lines, {sum(worth.values())} at warning or above")
    for line, times in worth.most_common(8):
        print(f"    {times} x {line[:200]}")
    answers = Counter()
    for line in service.access.read_text(errors="replace").splitlines():
        found = _ACCESS.search(line)
        if found:
            method, path, status = found.groups()
            answers[(status, method, _ID.sub("/{id}", path))] += 1
    ordered = sorted(answers.items(), key=lambda a: (-int(a[0][0]), a[0]))
    shown = ", ".join(f"{s} {m} {p} x{n}" for (s, m, p), n in ordered)
    print(f"  answers (status, method, path): {shown or 'none'}")


if __name__ == "__main__":
    main()

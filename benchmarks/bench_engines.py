"""Several engines from one service: does an engine that does not answer slow the others, and
what does each engine's list cost through the service against its own socket, in one run.

Run on purpose (it creates and removes labelled containers and an image):

    .venv/bin/python benchmarks/bench_engines.py [--containers 30] [--rounds 60] [--repeats 5]
        [--podman unix:///run/podman/podman.sock]

It builds a busybox image from /bin/busybox, starts --containers containers that sleep, and
serves the service twice as deployed (gunicorn, 2 workers, a token of its own): once with the
test engine alone, once with the test engine, Podman (when its socket answers) and two engines
where nothing listens (a unix socket path with nothing behind it, a loopback port nothing
listens on). Each side keeps its connections alive and is measured in turns (bench_api's
`paired`):

- `GET /engines/dock/containers?all=true` with the dead engines configured against the same
  with the engine alone: the ratio (target: 1.0x, within the machine's noise);
- the same list against the daemon's own `GET /containers/json?all=1`, and Podman's list
  through the service against Podman's socket;
- how long a dead engine's own request takes to fail (its 503), and `GET /engines`, which asks
  every engine side by side.

Traffic stays on this machine.
"""

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_api import (  # noqa: E402
    SOCKET,
    Daemon,
    Side,
    UnixConnection,
    build_busybox,
    free_port,
    latency,
    p50,
    paired,
    serve,
)


def served(engines: list[dict], private: Path):
    private.mkdir()
    os.environ["DOCKYARD_ENGINES"] = json.dumps(engines)
    try:
        options = argparse.Namespace(streams=0, serve_from=None, token=None)
        server, port, header = serve(options, private, False, None)
    finally:
        del os.environ["DOCKYARD_ENGINES"]
    side = Side(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=600), headers=header)
    return server, side


def refused(side, path, rounds) -> float:
    """The median time, in ms, of a request the service must answer 503."""
    conn = side.make()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        conn.request("GET", path, headers=side.headers)
        answer = conn.getresponse()
        answer.read()
        samples.append(time.perf_counter() - started)
        if answer.status != 503:
            raise RuntimeError(f"{path}: {answer.status}, not 503")
    return p50(samples)


def answers(url: str) -> bool:
    try:
        conn = UnixConnection(url.removeprefix("unix://"), timeout=2)
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--podman", default="unix:///run/podman/podman.sock")
    args = parser.parse_args()
    daemon = Daemon()
    servers = []
    rows = []
    try:
        image = build_busybox(daemon)
        for _ in range(args.containers):
            daemon.create(image, ["sleep", "3600"], start=True)
        with tempfile.TemporaryDirectory() as private:
            dock = {"name": "dock", "url": f"unix://{SOCKET}", "default": True}
            alone_server, alone = served([dock], Path(private) / "alone")
            servers.append(alone_server)
            crowd = [
                dock,
                {"name": "gone", "url": f"unix://{private}/nothing.sock"},
                {"name": "refused", "url": f"tcp://127.0.0.1:{free_port()}"},
            ]
            podman = answers(args.podman)
            if podman:
                crowd.append({"name": "podman", "url": args.podman})
            crowd_server, crowd_side = served(crowd, Path(private) / "crowd")
            servers.append(crowd_server)
            listed = "/engines/dock/containers?all=true"
            ours, theirs, ratio, extra = paired(
                crowd_side, listed, alone, listed, args.rounds, args.repeats
            )
            rows.append(("list, dead engines beside", ours, theirs, ratio, "engine alone"))
            raw = Side(lambda: UnixConnection(SOCKET, timeout=600))
            ours, theirs, ratio, _ = paired(
                crowd_side, listed, raw, "/containers/json?all=1", args.rounds, args.repeats
            )
            rows.append(("list, against the socket", ours, theirs, ratio, "dockerd's socket"))
            if podman:
                pod = Side(lambda: UnixConnection(args.podman.removeprefix("unix://"), timeout=600))
                ours, theirs, ratio, _ = paired(
                    crowd_side,
                    "/engines/podman/containers?all=true",
                    pod,
                    "/containers/json?all=1",
                    args.rounds,
                    args.repeats,
                )
                rows.append(("Podman's list", ours, theirs, ratio, "Podman's socket"))
            for name in ("gone", "refused"):
                failed = refused(crowd_side, f"/engines/{name}/containers", args.rounds)
                rows.append((f"{name}: its 503", failed, None, None, ""))
            rows.append(("GET /engines (all)", latency(crowd_side, "/engines", 20), None, None, ""))
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)
        daemon.cleanup()
    turns = f"p50 ms of {args.rounds} calls, median of {args.repeats} turns"
    print(f"{args.containers} containers; {turns}")
    print(f"{'call':28} {'service':>8} {'against':>8} {'ratio':>7}  against")
    for name, ours, theirs, ratio, what in rows:
        against = f"{theirs:8.2f}" if theirs is not None else f"{'':8}"
        times = f"{ratio:6.2f}x" if ratio is not None else f"{'':7}"
        print(f"{name:28} {ours:8.2f} {against} {times}  {what}")


if __name__ == "__main__":
    main()

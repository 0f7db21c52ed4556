"""Reads from the engine's mirror against the Docker socket, in the same run: the list of 200
containers, 32 clients inspecting one container (with the daemon's own CPU time per request,
both sides), the same through the service with its mirror off, and with --memory what one
worker's mirror holds for 1000 containers and 500 images.

Run on purpose (it creates and removes labelled containers and images):

    .venv/bin/python benchmarks/bench_mirror.py [--repeats 5] [--rounds 60] [--memory]

The service runs as deployed (gunicorn, 2 workers) on a free loopback port; both sides keep
their connections alive and are measured in turns (bench_api.py's method): each ratio is the
median of the turns' ratios. The daemon's CPU time is read from /proc for dockerd's pid.
Traffic stays on this machine.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_api  # noqa: E402
from bench_api import Daemon, Side, UnixConnection, build_busybox, paired, rate  # noqa: E402

CLIENTS = 32


def daemon_ticks() -> int:
    """dockerd's user and system CPU time so far, in clock ticks."""
    pid = int(Path("/var/run/docker.pid").read_text())
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def measured_rate(side, path, seconds):
    """Requests per second of CLIENTS clients, and dockerd's CPU ms per request meanwhile."""
    time.sleep(
        1
    )  # what the daemon still does after the turn before (its collector) is not this one's
    before = daemon_ticks()
    per_second = rate(side, path, CLIENTS, seconds)
    ticks = daemon_ticks() - before
    cpu_ms = ticks * 1000 / os.sysconf("SC_CLK_TCK") / max(per_second * seconds, 1)
    return per_second, cpu_ms


def serve(read_cache: bool, private: Path):
    os.environ["DOCKYARD_READ_CACHE"] = "true" if read_cache else "false"
    options = argparse.Namespace(streams=100, serve_from=None)
    server, port, header = bench_api.serve(options, private, False, None)
    ours = Side(
        lambda: bench_api.http.client.HTTPConnection("127.0.0.1", port, timeout=60),
        headers=header,
    )
    return server, port, header, ours


def info(ours) -> dict:
    return json.loads(ours.get("/system/info"))["read_cache"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--memory", action="store_true", help="1000 containers, 500 images")
    args = parser.parse_args()
    daemon = Daemon()
    raw = Side(lambda: UnixConnection(bench_api.SOCKET))
    v = f"/v{daemon.api}"
    private = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    try:
        image = build_busybox(daemon)
        made = [daemon.create(image, ["sleep", "600"], start=n < 10) for n in range(200)]
        one = made[0]
        print(f"engine: {len(made)} containers of this run (10 running)")
        rows = []
        for read_cache in (True, False):
            server, _, _, ours = serve(read_cache, private)
            try:
                if read_cache:
                    ours.get("/containers")
                    for _ in range(100):
                        if info(ours)["serving"]:
                            break
                        time.sleep(0.1)
                    # each of the two workers fills its own mirror
                    for _ in range(8):
                        ours.get("/containers?all=true")
                name = "mirror on" if read_cache else "mirror off"
                a, b, ratio, _ = paired(
                    ours,
                    "/containers?all=true",
                    raw,
                    f"{v}/containers/json?all=1",
                    args.rounds,
                    args.repeats,
                )
                rows.append(
                    f"{name}: GET /containers?all=true (200) p50 {a:.2f} ms, "
                    f"socket {b:.2f} ms: {ratio:.2f}x"
                )
                turns = []
                for _ in range(3):
                    mine = measured_rate(ours, f"/containers/{one}", args.seconds)
                    theirs = measured_rate(raw, f"{v}/containers/{one}/json", args.seconds)
                    turns.append((mine, theirs, mine[0] / theirs[0]))
                mine = [statistics.median(t[0][i] for t in turns) for i in range(2)]
                theirs = [statistics.median(t[1][i] for t in turns) for i in range(2)]
                share = statistics.median(t[2] for t in turns)
                rows.append(
                    f"{name}: {CLIENTS} clients GET /containers/{{id}}: {mine[0]:.0f} req/s "
                    f"(daemon CPU {mine[1]:.3f} ms/req), socket {theirs[0]:.0f} req/s (daemon "
                    f"CPU {theirs[1]:.3f} ms/req): {share:.2f}x"
                )
                if read_cache:
                    report = info(ours)
                    rows.append(f"mirror of the answering worker: {report['bytes']} bytes held")
            finally:
                server.terminate()
                server.wait(timeout=30)
        for row in rows:
            print(row)
        if args.memory:
            memory(daemon, image, private)
    finally:
        daemon.cleanup()


def memory(daemon, image, private):
    """1000 containers and 500 images on the engine: what one worker's mirror holds."""
    have = len(json.loads(daemon.call("GET", "/containers/json?all=1")))
    for _ in range(max(0, 1000 - have)):
        daemon.create(image, ["sleep", "600"])
    images = len(json.loads(daemon.call("GET", "/images/json")))
    for n in range(max(0, 500 - images)):
        # one image each: a tiny layer of its own, with the run's label
        body = json.dumps(
            {
                "Image": image,
                "Cmd": ["true"],
                "Labels": {bench_api.LABEL_KEY: bench_api.LABEL_VALUE},
            }
        )
        cid = json.loads(daemon.call("POST", "/containers/create", body))["Id"]
        daemon.call(
            "POST",
            f"/commit?container={cid}&repo=dockyard-bench/m{n}&tag={bench_api.RUN}"
            f"&changes=LABEL%20{bench_api.LABEL_KEY}={bench_api.LABEL_VALUE}%20n={n}",
        )
        daemon.call("DELETE", f"/containers/{cid}")
    server, _, _, ours = serve(True, private)
    try:
        ours.get("/containers")
        for _ in range(100):
            if info(ours)["serving"]:
                break
            time.sleep(0.1)
        pids = bench_api.workers(server)
        before = bench_api.rss_kb(pids)
        for _ in range(6):  # both workers fill their mirrors
            containers = len(json.loads(ours.get("/containers?all=true")))
            count = len(json.loads(ours.get("/images")))
        held = max(info(ours)["bytes"] for _ in range(6))
        after = bench_api.rss_kb(pids)
        print(
            f"memory: {containers} containers, {count} images: one worker's mirror holds "
            f"{held / 1e6:.1f} MB as JSON; the two workers' RSS grew "
            f"{(after - before) / 1024:.1f} MB together"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

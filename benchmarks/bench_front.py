"""The Engine-API front (/engine) against the Docker socket itself, in the same run: what the
front's checks cost a call the docker CLI makes, with ratios.

Run on purpose (it creates and removes labelled containers and an image):

    .venv/bin/python benchmarks/bench_front.py [--containers 50] [--rounds 60] [--repeats 5]

It builds a busybox image from /bin/busybox, starts --containers containers that sleep (one of
them writes a log of --megabytes MB), and serves the service as deployed (gunicorn with
deploy/gunicorn.conf.py, 2 workers, an administrator token of its own). Both sides keep their
connections alive and are measured in turns (bench_api's `paired`): the front over TCP from
127.0.0.1 with the token, the daemon over its unix socket, on the same versioned paths:

- `GET /containers/json?all=1` (docker ps -a), `GET /containers/{id}/json` (docker inspect),
  `GET /_ping`: p50 ms each side, the ratio and the difference;
- `GET /containers/{id}/logs?stdout=1` of the big log: MB/s each side, the ratio.

Targets: inspect within 2 ms of the socket's, the list within 1.5x, the log at 0.8x or more.
Traffic stays on this machine.
"""

import argparse
import http.client
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_api import (  # noqa: E402
    SOCKET,
    Daemon,
    Side,
    UnixConnection,
    build_busybox,
    paired,
    serve,
    throughput,
    wait_exited,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    daemon = Daemon()
    server = None
    rows = []
    try:
        image = build_busybox(daemon)
        box = daemon.create(image, ["sleep", "3600"], start=True)
        for _ in range(args.containers - 1):
            daemon.create(image, ["sleep", "3600"], start=True)
        size = args.megabytes * 1_000_000
        logger = daemon.create(
            image, ["sh", "-c", f"head -c {size} /dev/zero | tr '\\0' x"], start=True
        )
        wait_exited(daemon, logger)
        with tempfile.TemporaryDirectory() as private:
            options = argparse.Namespace(streams=0, serve_from=None, token=None)
            server, port, header = serve(options, Path(private), False, None)
            version = f"/v{daemon.api}"
            front = Side(
                lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=600),
                prefix="/engine" + version,
                headers=header,
            )
            raw = Side(lambda: UnixConnection(SOCKET, timeout=600), prefix=version)
            for name, path in (
                ("docker ps -a", "/containers/json?all=1"),
                ("docker inspect", f"/containers/{box}/json"),
                ("ping", "/_ping"),
            ):
                ours, theirs, ratio, extra = paired(
                    front, path, raw, path, args.rounds, args.repeats
                )
                rows.append(
                    (name, f"{ours:.2f}", f"{theirs:.2f}", f"{ratio:.2f}x", f"{extra:+.2f} ms")
                )
            log = f"/containers/{logger}/logs?stdout=1"
            ours, _ = throughput(front, log)
            theirs, _ = throughput(raw, log)
            rows.append(("docker logs (MB/s)", f"{ours / 1e6:.1f}", f"{theirs / 1e6:.1f}",
                         f"{ours / theirs:.2f}x", ""))  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        daemon.cleanup()
    turns = f"p50 ms of {args.rounds} calls, median of {args.repeats} turns"
    print(f"{args.containers} containers; {turns}")
    print(f"{'call':22} {'front':>8} {'socket':>8} {'ratio':>7} {'diff':>10}")
    for row in rows:
        print(f"{row[0]:22} {row[1]:>8} {row[2]:>8} {row[3]:>7} {row[4]:>10}")


if __name__ == "__main__":
    main()

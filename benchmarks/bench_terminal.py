"""A terminal through the service against the Docker socket itself: how long a keystroke takes
to come back, and how fast a process's output arrives, in the same run, with their ratios.

Run on purpose (it creates and removes a labelled container and image):

    .venv/bin/python benchmarks/bench_terminal.py [--keys 300] [--megabytes 20] [--repeats 3]

It builds a busybox image from /bin/busybox, starts a container that sleeps, and serves the
service as deployed (gunicorn with deploy/gunicorn.conf.py, 2 workers, an administrator token
of its own). Each side runs a shell on a TTY in that container:

- the socket: `POST /exec/{id}/start` hijacked (`Upgrade: tcp`), the raw stream docker exec -it
  uses;
- the service: `POST /containers/{id}/terminal`, then its WebSocket with the ticket.

Then, on each side, --repeats times in turns: --keys keystrokes, one at a time, each timed from
its write to its echo (the TTY's own echo); and one command writing --megabytes MB of text,
timed from the Enter to its last byte. Targets: a keystroke's p50 within 2 ms of the socket's,
and output at half the socket's rate or more. Traffic stays on this machine.
"""

import argparse
import http.client
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_api import SOCKET, Daemon, build_busybox, serve  # noqa: E402
from simple_websocket import Client  # noqa: E402

PROMPT = b"# "


class RawSide:
    """docker exec -it on the daemon's socket: the hijacked connection, bytes both ways."""

    name = "socket"

    def __init__(self, daemon, container):
        made = json.loads(
            daemon.call(
                "POST",
                f"/containers/{container}/exec",
                {"Cmd": ["/bin/sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True},
            )
        )
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(SOCKET)
        body = json.dumps({"Detach": False, "Tty": True}).encode()
        self.sock.sendall(
            f"POST /v{daemon.api}/exec/{made['Id']}/start HTTP/1.1\r\nHost: docker\r\n"
            "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, data: bytes):
        self.sock.sendall(data)

    def receive(self) -> bytes:
        return self.sock.recv(65536)

    def close(self):
        self.sock.close()


class ServiceSide:
    """The service's terminal: a ticket asked for with the token, then its WebSocket."""

    name = "service"

    def __init__(self, port, header, container):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            f"/containers/{container}/terminal",
            json.dumps({"rows": 24, "cols": 80}),
            {**header, "Content-Type": "application/json"},
        )
        answer = json.loads(conn.getresponse().read())
        conn.close()
        self.ws = Client.connect(
            f"ws://127.0.0.1:{port}{answer['path']}",
            subprotocols=[answer["protocol"], "ticket." + answer["ticket"]],
            receive_bytes=65536,
        )

    def send(self, data: bytes):
        self.ws.send(data)

    def receive(self) -> bytes:
        message = self.ws.receive(timeout=30)
        return message if isinstance(message, bytes) else b""

    def close(self):
        self.ws.close()


def read_until(side, needle: bytes) -> None:
    # only the end of what came is kept: scanning all of it again would time the scan
    tail = b""
    while needle not in tail:
        tail = tail[-len(needle) :] + side.receive()


def keystrokes(side, keys: int) -> list[float]:
    """Each key's time from its write to its echo, in ms; the line killed after."""
    times = []
    for n in range(keys):
        key = bytes([ord("a") + n % 26])
        started = time.perf_counter()
        side.send(key)
        read_until(side, key)
        times.append((time.perf_counter() - started) * 1000)
    side.send(b"\x15")  # ^U: the line typed is dropped
    return times


def output_rate(side, megabytes: int) -> float:
    """MB/s of a command's output, from its Enter to its end marker."""
    size = megabytes * 1_000_000
    side.send(f"head -c {size} /dev/zero | tr '\\0' x; echo; echo END-$((1+1))\n".encode())
    started = time.perf_counter()
    read_until(side, b"END-2")
    return megabytes / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    daemon = Daemon()
    server = None
    try:
        image = build_busybox(daemon)
        container = daemon.create(image, ["sleep", "3600"], start=True)
        with tempfile.TemporaryDirectory() as private:
            options = argparse.Namespace(streams=0, serve_from=None, token=None)
            server, port, header = serve(options, Path(private), False, None)
            sides = [RawSide(daemon, container), ServiceSide(port, header, container)]
            for side in sides:
                read_until(side, PROMPT)
            keys = {side.name: [] for side in sides}
            rates = {side.name: [] for side in sides}
            for turn in range(args.repeats):
                for side in sides if turn % 2 == 0 else sides[::-1]:
                    keys[side.name] += keystrokes(side, args.keys)
                    rates[side.name].append(output_rate(side, args.megabytes))
            for side in sides:
                side.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        daemon.cleanup()

    def p(samples, q):
        return statistics.quantiles(samples, n=100)[q - 1]

    print(f"keystroke echo, {args.keys} keys x {args.repeats} turns (ms):")
    for name in keys:
        print(f"  {name:8} p50 {p(keys[name], 50):6.3f}  p95 {p(keys[name], 95):6.3f}")
    extra = p(keys["service"], 50) - p(keys["socket"], 50)
    ratio = p(keys["service"], 50) / p(keys["socket"], 50)
    print(f"  service - socket p50: {extra:+.3f} ms ({ratio:.2f}x)  target: within 2 ms: "
          f"{'met' if extra <= 2 else 'NOT met'}")  # fmt: skip
    print(f"output, {args.megabytes} MB a turn (MB/s, median of {args.repeats}):")
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in median.items():
        print(f"  {name:8} {value:8.1f}")
    share = median["service"] / median["socket"]
    print(f"  service / socket: {share:.2f}  target: 0.5 or more: "
          f"{'met' if share >= 0.5 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()

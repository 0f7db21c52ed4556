"""A hijacked connection (Docker's `101 UPGRADED` raw stream: attach, exec start), carried
between the client's connection and the daemon's, both ways, as bytes.

The client's input goes to the daemon until the client half-closes (its stdin ended: the
daemon is told by a half-close too, so the process reads the end of its input); the daemon's
output goes to the client until the daemon ends it (the process ended), and then the client's
side is ended too. No timeout cuts a connection while it waits for a person's input; one whose
output stalls for the worker's BODY_TIMEOUT ends.
"""

import socket
import threading

from flask import Response

READ = 64 * 1024
UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)


class Upgraded(Response):
    """The answer once a connection was taken over (a WebSocket, a raw stream): nothing more is
    written on it; gunicorn's worker takes StopIteration as "close this connection"."""

    def __init__(self):
        super().__init__(status=101)

    def __call__(self, environ, start_response):
        raise StopIteration()


def wants_upgrade(request) -> bool:
    """Whether a client asks for Docker's raw stream (`Connection: Upgrade`, `Upgrade: tcp`)."""
    connection = [word.strip() for word in request.headers.get("Connection", "").lower().split(",")]
    return "upgrade" in connection and request.headers.get("Upgrade", "").lower() == "tcp"


def carry(environ, daemon: socket.socket) -> dict:
    """Answer 101 on the client's connection, then carry the bytes both ways until the daemon
    ends its side; the bytes each way."""
    client = environ["gunicorn.socket"]
    client.sendall(UPGRADED)
    counts = {"bytes_in": 0, "bytes_out": 0}

    def inward():
        try:
            while True:
                try:
                    data = client.recv(READ)
                except TimeoutError:
                    continue  # a person may type nothing for long; writes keep their bound
                if not data:
                    break
                counts["bytes_in"] += len(data)
                daemon.sendall(data)
            daemon.shutdown(socket.SHUT_WR)  # the client's input ended: so does the process's
        except OSError:
            pass

    reader = threading.Thread(target=inward, daemon=True)
    reader.start()
    try:
        while data := daemon.recv(READ):
            counts["bytes_out"] += len(data)
            client.sendall(data)
    except OSError:
        pass
    finally:
        daemon.close()
        try:
            client.shutdown(socket.SHUT_RDWR)  # the client reads the end, and the reader wakes
        except OSError:
            pass
        reader.join(5)
    return counts

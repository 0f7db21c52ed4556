"""A terminal's WebSocket (simple-websocket, on the connection gunicorn's gevent worker gave
the request): the terminal's bytes both ways, its size, and how it ended.

- Binary messages from the client are the process's input; its output comes back as binary
  messages (a TTY merges stdout and stderr).
- Text messages are control, as JSON: ``{"type": "resize", "rows": 40, "cols": 120}``. One
  the service cannot read is answered ``{"type": "error", "message": ...}``, and ignored.
- The session ends when the process ends, the client leaves, nothing went either way for
  TERMINAL_IDLE seconds, or the worker stops. Its last message says which:
  ``{"type": "end", "reason": "exited" | "idle" | "stopping", "exit_code": 0}``, then the
  WebSocket closes (1000; 1001 when the worker stops).
"""

import json
import socket
import threading
import time

from simple_websocket import ConnectionClosed, Server

from .. import lifecycle
from ..schemas.terminals import COLS_MAX, PROTOCOL, ROWS_MAX

READ = 64 * 1024
# a client's message at most: a paste, not a file transfer
MESSAGE_MAX = 1024 * 1024
# seconds between pings: a client gone without a word is noticed within two
PING = 20


class _Whole:
    """The client's connection as simple-websocket uses it: each message written whole (its
    ``send`` may write part of one), one writer at a time (the session's output, its pings,
    its end), and closed by the server, not by the library."""

    def __init__(self, sock):
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, data):
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    def recv(self, size):
        return self._sock.recv(size)

    def fileno(self):
        return self._sock.fileno()

    def close(self):
        pass


def accept(environ) -> Server:
    """The handshake, on the connection of this request (the subprotocol chosen is PROTOCOL,
    which the client offered). Writes may stall for the worker's BODY_TIMEOUT at most; reads
    wait as long as the client is there (pings tell)."""
    own = {**environ, "gunicorn.socket": _Whole(environ["gunicorn.socket"])}
    return Server(own, subprotocols=[PROTOCOL], ping_interval=PING, max_message_size=MESSAGE_MAX)


def serve(ws: Server, terminal, idle: float) -> dict:
    """Carry the terminal until it ends; how it ended, and the bytes each way."""
    counts = {"bytes_in": 0, "bytes_out": 0}
    last = [time.monotonic()]
    ended = threading.Event()

    def outward():
        try:
            while True:
                data = terminal.sock.recv(READ)
                if not data:
                    break
                counts["bytes_out"] += len(data)
                last[0] = time.monotonic()
                ws.send(data)
        except (OSError, ConnectionClosed):
            pass
        finally:
            ended.set()

    reader = threading.Thread(target=outward, daemon=True)
    reader.start()
    reason = "exited"
    try:
        while not ended.is_set():
            left = idle - (time.monotonic() - last[0])
            if lifecycle.stopping:
                reason = "stopping"
                break
            if left <= 0:
                reason = "idle"
                break
            message = ws.receive(timeout=min(1.0, left))
            if message is None:
                continue
            last[0] = time.monotonic()
            if isinstance(message, bytes):
                counts["bytes_in"] += len(message)
                terminal.sock.sendall(message)
            else:
                _control(ws, terminal, message)
    except (ConnectionClosed, OSError):
        reason = "left"
    finally:
        _hang_up(terminal.sock)
        reader.join(5)
    exit_code = _exit_code(terminal) if reason == "exited" else None
    if ws.connected:
        try:
            ws.send(json.dumps({"type": "end", "reason": reason, "exit_code": exit_code}))
            ws.close(1001 if reason == "stopping" else 1000, reason)
        except (ConnectionClosed, OSError):
            pass
    return {"reason": reason, "exit_code": exit_code, **counts}


def _control(ws, terminal, message: str) -> None:
    try:
        asked = json.loads(message)
        if not isinstance(asked, dict) or asked.get("type") != "resize":
            raise ValueError('a control message is {"type": "resize", "rows": …, "cols": …}')
        rows, cols = asked.get("rows"), asked.get("cols")
        for value, most in ((rows, ROWS_MAX), (cols, COLS_MAX)):
            if type(value) is not int or not 1 <= value <= most:
                raise ValueError(f"rows and cols are whole numbers from 1 to {most}")
    except ValueError as error:
        ws.send(json.dumps({"type": "error", "message": str(error)}))
        return
    try:
        terminal.resize(rows, cols)
    except Exception as error:  # the process ended meanwhile: its end says the rest
        ws.send(json.dumps({"type": "error", "message": f"resize failed: {error}"}))


def _hang_up(sock) -> None:
    # the process reads the end of its input, and the reader wakes
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _exit_code(terminal) -> int | None:
    # the daemon marks the process ended a moment after its output ends
    for _ in range(20):
        code = terminal.exit_code()
        if code is not None:
            return code
        time.sleep(0.05)
    return None

"""The gunicorn worker: gthread, with limits on slow and greedy clients.

- A request's head (request line and headers) is read by the main loop, without a thread,
  as its bytes come; a thread takes the connection up only once the head is whole. A head
  not whole within HEADER_TIMEOUT seconds ends the connection. Slow clients then cost no
  thread, however many they are.
- Once the head is in, a body read or an answer write that stalls for BODY_TIMEOUT seconds
  fails, and the connection is closed.
- One client address holds at most MAX_CLIENT_CONNECTIONS connections on a worker; one more is
  closed at once. Unix socket clients are not counted.
- A connection closed after its answer lingers on the read side for a moment (so that the
  client reads the whole answer) in the main loop's poller, never blocking it.
- What gunicorn answers itself, before the app sees the request (a request line over 8190
  bytes: 414, a header field too large or too many: 431, a request it cannot parse: 400, an
  exception out of the app: 500), has the service's JSON error shape, not gunicorn's HTML.
  Connections cut without an answer stay so: a head not whole in time, one connection too
  many from an address, a TLS handshake that fails.
"""

import errno
import json
import selectors
import socket
import threading
import time
from collections import Counter
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker
from werkzeug.http import HTTP_STATUS_CODES

from .config import current_settings

# a head this large is handed to the parser as it is, which refuses what is too long
HEAD_LIMIT = 128 * 1024
LINGER = 2.0


class _Conn(TConn):
    """A connection that tells its worker once, however it is closed."""

    def __init__(self, *args, worker):
        super().__init__(*args)
        self.worker = worker
        self.head = bytearray()

    def close(self, graceful=False):
        worker, self.worker = self.worker, None
        if worker is None:
            return
        worker.closed(self)
        if graceful and threading.current_thread() is threading.main_thread():
            worker.linger(self.sock)
        else:
            super().close(graceful)


class _ErrorPage:
    """Stands for the client's socket while gunicorn writes its error page, and keeps it."""

    def __init__(self):
        self.data = bytearray()

    def gettimeout(self):
        return 0.0

    def setblocking(self, flag):
        pass

    def sendall(self, data):
        self.data += data


def json_error(status: int, message: str) -> bytes:
    """An HTTP answer in the service's error shape, closing the connection."""
    reason = HTTP_STATUS_CODES.get(status, "Error")
    body = json.dumps({"code": status, "status": reason, "message": message, "errors": {}})
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return (head + body).encode("latin-1")


class GuardedWorker(ThreadWorker):
    def init_process(self):
        settings = current_settings()
        self.header_timeout = float(settings["HEADER_TIMEOUT"])
        self.body_timeout = float(settings["BODY_TIMEOUT"])
        self.max_client_connections = int(settings["MAX_CLIENT_CONNECTIONS"])
        # all three are the main loop's alone: accept, polling and closing run there
        self.clients = Counter()
        self.heads = {}  # connection -> deadline of its head
        self.lingering = {}  # socket -> when to close it anyway
        super().init_process()

    # -- connections come in, and their heads are read without a thread -----------------------

    def accept(self, listener):
        try:
            sock, address = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            if self.clients[host] >= self.max_client_connections:
                self.log.warning(
                    "refused a connection: %s already holds %s", host, self.clients[host]
                )
                sock.close()
                return
            self.clients[host] += 1
        self.nr_conns += 1
        conn = _Conn(self.cfg, sock, address, listener.getsockname(), worker=self)
        if self.cfg.is_ssl:
            sock.setblocking(True)  # the handshake happens in a thread, as gthread does it
            self.enqueue_req(conn)
        else:
            self.read_head(conn)

    def on_client_socket_readable(self, conn, client):
        # a kept-alive connection's next request: its head too is read here first
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.read_head(conn)

    def read_head(self, conn):
        conn.sock.setblocking(False)
        self.heads[conn] = time.monotonic() + self.header_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))

    def _on_head_bytes(self, conn, sock):
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client left
            self._end_head(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.head += data
        if b"\r\n\r\n" in conn.head or b"\n\n" in conn.head or len(conn.head) >= HEAD_LIMIT:
            self._end_head(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def _end_head(self, conn):
        self.heads.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def handle(self, conn):
        if conn.head:
            # the parser reads what the main loop has read first
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(conn.head))
            conn.head = bytearray()
        return super().handle(conn)

    def handle_request(self, req, conn):
        conn.sock.settimeout(self.body_timeout)
        try:
            keepalive = super().handle_request(req, conn)
            if not getattr(req.body, "failed", False):
                return keepalive
        except TimeoutError:
            pass
        # a body or an answer that stalled: drop the connection, no lingering on it
        self.log.info("dropped %s: its body or its answer failed or stalled", conn.client)
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return False

    def handle_error(self, req, client, addr, exc):
        # gunicorn picks the status and logs; its html page is kept here and answered as json
        page = _ErrorPage()
        super().handle_error(req, page, addr, exc)
        try:
            status = int(bytes(page.data).split(b" ", 2)[1])
        except (IndexError, ValueError):
            return
        # a 5xx is the service's own failure: its details are in the log, not for the client
        message = str(exc) if status < 500 else "the service failed to answer"
        try:
            util.write_nonblock(client, json_error(status, message or HTTP_STATUS_CODES[status]))
        except Exception:
            self.log.debug("Failed to send error message.")

    # -- connections go --------------------------------------------------------------------

    def closed(self, conn):
        if isinstance(conn.client, tuple):
            host = conn.client[0]
            self.clients[host] -= 1
            if self.clients[host] <= 0:
                del self.clients[host]

    def linger(self, sock):
        """Half-close, then read what the client still sends until it closes too, or
        LINGER seconds: closing with unread bytes would reset the connection and could cut
        the answer's last bytes."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._drain)
        except (OSError, ValueError, KeyError):
            sock.close()
            return
        self.lingering[sock] = time.monotonic() + LINGER

    def _drain(self, sock):
        try:
            if sock.recv(65536):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._let_go(sock)

    def _let_go(self, sock):
        self.lingering.pop(sock, None)
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        sock.close()

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        for conn in [conn for conn, deadline in self.heads.items() if deadline <= now]:
            self.log.info(
                "dropped %s: no whole request head in %ss", conn.client, self.header_timeout
            )
            self._end_head(conn)
            self.nr_conns -= 1
            conn.close()
        for sock in [sock for sock, deadline in self.lingering.items() if deadline <= now]:
            self._let_go(sock)

"""The gunicorn worker: gevent, with limits on slow and greedy clients.

Each connection is a greenlet, not a thread: a log, event or progress stream that lasts for
minutes costs a few kilobytes and a daemon connection, and the worker serves thousands of them
(WORKER_CONNECTIONS) while short requests keep answering. The process is monkey-patched by
gevent before the service is imported (deploy/gunicorn.conf.py), so that docker-py, urllib3 and
requests all block greenlets, never the process.

- A request's head (request line and headers) must be whole within HEADER_TIMEOUT seconds of
  the connection (or of the previous answer, on a kept-alive connection), or the connection
  ends. A slow client holds a greenlet, never a thread.
- Once the head is in, a body read or an answer write that stalls for BODY_TIMEOUT seconds
  fails, and the connection is closed.
- One client address holds at most MAX_CLIENT_CONNECTIONS connections on a worker that have
  not earned a place: those waiting for a request's head (a new connection, or a kept-alive
  one between requests) and those serving a request with no valid token. A request whose token
  is valid earns its connection a place of its own while it is served (its streams then count
  against the token's quota, ``service.streaming.places``), so that many streams from one
  address (a proxy's, loopback's) never shut that address out. One connection more takes the
  place of the one of that address that has waited longest for a head, which is dropped; when
  none waits (all serve requests with no token), the new one is closed at once. Unix socket
  clients are not counted.
- A connection closed after its answer lingers on the read side for a moment (so that the
  client reads the whole answer); in its own greenlet, it blocks nothing.
- What gunicorn answers itself, before the app sees the request (a request line over 8190
  bytes: 414, a header field too large or too many: 431, a request it cannot parse: 400, an
  exception out of the app: 500), has the service's JSON error shape, not gunicorn's HTML.
  Connections cut without an answer stay so, as they have sent no whole request: a head not
  whole in time, a connection that waited for a head while others of its address came, a TLS
  handshake that fails.
- When the worker is told to stop, it says so to the app (``service.lifecycle``): streams that
  would never end by themselves end with a 503 error event, within a heartbeat.
"""

import errno
import json
import socket
import ssl
import time
from collections import Counter

import gevent
import gevent.local
from gunicorn import http, util
from gunicorn.workers.ggevent import GeventWorker
from werkzeug.http import HTTP_STATUS_CODES

from . import lifecycle
from .auth import EARNED
from .config import current_settings

# the largest header field gunicorn's parser takes (limit_request_field_size); larger is a 431
HEAD_LIMIT = 128 * 1024
LINGER = 2.0
_LINGER_DRAIN = 1024 * 1024


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


class _Dropped(Exception):
    """The connection ends without an answer and without lingering."""


class _Guest:
    """A connection from a client address, and its standing: ``counted`` against its address
    (until a request with a valid token earns it a place), ``waiting`` for a request's head."""

    __slots__ = ("host", "sock", "counted", "waiting", "evicted")

    def __init__(self, host, sock):
        self.host = host
        self.sock = sock
        self.counted = False
        self.waiting = False
        self.evicted = False


class GuardedWorker(GeventWorker):
    def init_process(self):
        settings = current_settings()
        self.header_timeout = float(settings["HEADER_TIMEOUT"])
        self.body_timeout = float(settings["BODY_TIMEOUT"])
        self.max_client_connections = int(settings["MAX_CLIENT_CONNECTIONS"])
        # greenlets share them: client address -> connections counted against it, and those
        # of them waiting for a head, the longest waiting first
        self.clients = Counter()
        self.waiting: dict[str, dict[_Guest, None]] = {}
        # the connection each greenlet serves, for the app's `dockyard.earned`
        self.current = gevent.local.local()
        lifecycle.stopping = False
        super().init_process()

    # -- stopping --------------------------------------------------------------------------

    def handle_exit(self, sig, frame):
        lifecycle.stopping = True
        super().handle_exit(sig, frame)

    def handle_quit(self, sig, frame):
        lifecycle.stopping = True
        super().handle_quit(sig, frame)

    # -- a connection, from accept to close, in its greenlet --------------------------------

    def handle(self, listener, client, addr):
        guest = _Guest(addr[0], client) if isinstance(addr, tuple) else None
        if guest is not None and not self._admit(guest):
            util.close(client)
            return
        self.current.guest = guest
        linger = True
        try:
            client.setblocking(1)
            self._serve(listener, client, addr, guest)
        except _Dropped:
            linger = False
        finally:
            if guest is not None:
                self._wait(guest, False)
                self._count(guest, False)
            if linger:
                self._linger(client)
            else:
                util.close(client)

    # -- what a client address holds -------------------------------------------------------

    def _admit(self, guest) -> bool:
        """Count a new connection against its address, in place of the one of that address
        that has waited longest for a head when the address holds its cap already."""
        host = guest.host
        if self.clients[host] >= self.max_client_connections:
            waiting = self.waiting.get(host)
            if not waiting:
                self.log.warning("refused a connection: %s holds %s", host, self.clients[host])
                return False
            self._evict(next(iter(waiting)))
        self._count(guest, True)
        self._wait(guest, True)
        return True

    def _evict(self, guest):
        self.log.info("dropped a connection of %s that waited for a head", guest.host)
        guest.evicted = True
        self._wait(guest, False)
        self._count(guest, False)
        try:
            guest.sock.shutdown(socket.SHUT_RDWR)  # its greenlet wakes, and ends
        except OSError:
            pass

    def _count(self, guest, counted: bool):
        if guest.counted == counted or (counted and guest.evicted):
            return
        guest.counted = counted
        self.clients[guest.host] += 1 if counted else -1
        if self.clients[guest.host] <= 0:
            del self.clients[guest.host]

    def _wait(self, guest, waiting: bool):
        if guest.waiting == waiting or (waiting and guest.evicted):
            return
        guest.waiting = waiting
        if waiting:
            self.waiting.setdefault(guest.host, {})[guest] = None
            return
        queue = self.waiting.get(guest.host, {})
        queue.pop(guest, None)
        if not queue:
            self.waiting.pop(guest.host, None)

    def _earned(self):
        """The request's token is valid: its connection no longer counts against its address,
        until the answer is sent."""
        guest = getattr(self.current, "guest", None)
        if guest is not None:
            self._count(guest, False)

    def load_wsgi(self):
        super().load_wsgi()
        app = self.wsgi

        def with_earned(environ, start_response):
            environ[EARNED] = self._earned
            return app(environ, start_response)

        self.wsgi = with_earned

    # -- serving ---------------------------------------------------------------------------

    def _serve(self, listener, client, addr, guest):
        req = None
        try:
            if isinstance(client, ssl.SSLSocket) and not self.cfg.do_handshake_on_connect:
                client.do_handshake()
            parser = http.get_parser(self.cfg, client, addr)
            listener_name = listener.getsockname()
            while self.alive:
                if guest is not None:
                    # between requests, a connection waits for a head as a new one does
                    self._count(guest, True)
                    self._wait(guest, True)
                req = self._next_request(parser, client)
                if guest is not None:
                    if guest.evicted:
                        raise _Dropped()
                    self._wait(guest, False)
                if not req:
                    return
                self.handle_request(listener_name, req, client, addr)
        except http.errors.NoMoreData as e:
            self.log.debug("Ignored premature client disconnection. %s", e)
        except StopIteration as e:
            self.log.debug("Closing connection. %s", e)
        except _Dropped:
            raise
        except ssl.SSLError as e:
            if e.args[0] == ssl.SSL_ERROR_EOF:
                self.log.debug("ssl connection closed")
                raise _Dropped() from e
            self.handle_error(req, client, addr, e)
        except OSError as e:
            # an evicted connection's socket was shut down under it (by another greenlet)
            evicted = guest is not None and guest.evicted
            if not evicted and e.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, None):
                self.log.exception("Socket error processing request.")
            raise _Dropped() from e
        except Exception as e:
            self.handle_error(req, client, addr, e)

    def _next_request(self, parser, client):
        # the whole head within HEADER_TIMEOUT s; the socket has no timeout while it waits
        client.settimeout(None)
        timeout = gevent.Timeout(self.header_timeout)
        timeout.start()
        try:
            return next(parser)
        except gevent.Timeout as exc:
            if exc is not timeout:
                raise
            self.log.info("dropped %s: no whole request head in %ss", _peer(client), exc.seconds)
            raise _Dropped() from None
        finally:
            timeout.close()

    def handle_request(self, listener_name, req, sock, addr):
        sock.settimeout(self.body_timeout)
        answer = _Coalescing(sock)
        try:
            try:
                keepalive = super().handle_request(listener_name, req, answer, addr)
            finally:
                answer.flush()
            if not getattr(req.body, "failed", False):
                if not self.alive:
                    raise StopIteration()
                return keepalive
        except TimeoutError:
            pass
        # a body or an answer that stalled: drop the connection, no lingering on it
        self.log.info("dropped %s: its body or its answer failed or stalled", _peer(sock))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped()

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
            client.settimeout(self.body_timeout)
            client.sendall(json_error(status, message or HTTP_STATUS_CODES[status]))
        except Exception:
            self.log.debug("Failed to send error message.")

    @staticmethod
    def _linger(sock):
        """Half-close, then read what the client still sends until it closes too, or
        LINGER seconds: closing with unread bytes would reset the connection and could cut
        the answer's last bytes."""
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            util.close(sock)
            return
        deadline = time.monotonic() + LINGER
        drained = 0
        try:
            while drained < _LINGER_DRAIN:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                data = sock.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass
        finally:
            util.close(sock)


class _Coalescing:
    """The client's socket as an answer is written to it: the head of an answer with a
    Content-Length waits for the first bytes of its body, and both go in one send (gunicorn
    sends them apart: two system calls, and two packets, for each short answer). Streamed
    answers (chunked, no Content-Length) have their head sent at once. Anything else is the
    socket's own."""

    def __init__(self, sock):
        self._real = sock
        self._head = None

    def sendall(self, data):
        if self._head is not None:
            data, self._head = self._head + data, None
        elif (
            data[:5] == b"HTTP/"
            and data[-4:] == b"\r\n\r\n"
            and b"\r\ncontent-length:" in data.lower()
        ):
            self._head = bytes(data)
            return
        self._real.sendall(data)

    def flush(self):
        # an answer with no body (HEAD, 204, 304), or one cut short: its head goes alone
        if self._head is not None:
            head, self._head = self._head, None
            try:
                self._real.sendall(head)
            except OSError:
                pass

    def sendfile(self, file, offset=0, count=None):
        # a file answer (the console's pages) goes by the socket's sendfile: after its head
        self.flush()
        return self._real.sendfile(file, offset, count)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _peer(sock):
    try:
        return sock.getpeername()
    except OSError:
        return "a client"

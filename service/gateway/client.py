"""The connection to the daemon: docker-py low-level clients, made lazily, one set per process.

Made on first use rather than at import so that each gunicorn worker, after the fork, opens its
own connections. Two clients share the negotiated API version: one with a short timeout for
control calls, one with a long timeout for pull, build, push and streams.

On a unix socket, a call whose answer is read whole (``GET`` without ``stream``: lists and
inspects, the service's hot paths) skips requests and urllib3: it goes over a kept-alive
``http.client`` connection to the socket, and its answer is handed to docker-py as a requests
``Response``, so that docker-py's verbs, its error classes and ``errors.describe`` see what they
always see. requests spent about 0.4 ms of Python on each such call (merging settings, preparing
the URL, cookies, hooks), more than the daemon takes to answer an inspect.
"""

import http.client
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import docker
import docker.errors
import docker.tls
import requests
import requests.exceptions
from docker.constants import DEFAULT_DOCKER_API_VERSION, MINIMUM_DOCKER_API_VERSION
from docker.utils import version_lt
from docker.utils.decorators import update_headers
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri

from .. import metrics
from ..config import stream_ceiling
from ..jsonio import loads


@dataclass(frozen=True)
class TLSFiles:
    """A TLS client's files, as ``docker --tlsverify`` takes them: the CA that signed the
    engine's certificate, and the client's certificate and key."""

    ca_file: str
    cert_file: str
    key_file: str


@dataclass(frozen=True)
class DaemonSettings:
    url: str
    api_version: str
    timeout: float
    long_timeout: float
    ready_timeout: float
    pool_size: int
    # each call counted in the service's metrics
    counted: bool = False
    # a tcp engine's TLS client files
    tls: TLSFiles | None = None

    @classmethod
    def from_config(cls, config, url=None, api_version=None, tls=None) -> "DaemonSettings":
        """The settings' connection to the engine, or to the engine at ``url`` (with its
        own ``api_version`` and ``tls`` files)."""
        # every open stream holds a connection, and control calls go on beside them; never
        # more than the worker holds connections (urllib3 fills its pool's queue up front)
        streams = min(stream_ceiling(config), int(config["WORKER_CONNECTIONS"]))
        pool_size = int(config["DOCKER_POOL_SIZE"]) or streams + 32
        return cls(
            url=url or str(config["DOCKER_URL"]),
            api_version=api_version or str(config["DOCKER_API_VERSION"]),
            timeout=float(config["DOCKER_TIMEOUT"]),
            long_timeout=float(config["DOCKER_LONG_TIMEOUT"]),
            ready_timeout=float(config["READY_TIMEOUT"]),
            pool_size=pool_size,
            counted=bool(config["METRICS"]),
            tls=tls,
        )


class _SocketConnection(http.client.HTTPConnection):
    """HTTP to the daemon over its unix socket (under gevent, the patched socket)."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


# what a kept-alive connection the daemon closed meanwhile raises: tried again once, afresh
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class DaemonAPI(docker.APIClient):
    """docker-py's client, whose whole-answer GETs over a unix socket skip requests."""

    def __init__(self, *args, socket_path: str | None, pool_size: int, counted=False, **kwargs):
        # set first: with version="auto", docker-py's constructor asks the daemon already
        self._socket_path = socket_path
        self._pool_size = pool_size
        self._counted = counted
        self._idle: list[_SocketConnection] = []
        super().__init__(*args, **kwargs)

    def send(self, request, **kwargs):
        send = super().send
        if not self._counted:
            return send(request, **kwargs)
        return _observed(request.method, request.path_url, lambda: send(request, **kwargs))

    @update_headers
    def _get(self, url, **kwargs):
        if self._socket_path is None or kwargs.get("stream") or set(kwargs) - {"params", "headers"}:
            return super()._get(url, **kwargs)
        params, headers = kwargs.get("params"), kwargs.get("headers") or {}
        if not self._counted:
            return self._get_whole(url, params, headers)
        path = url.removeprefix(self.base_url)
        return _observed("GET", path, lambda: self._get_whole(url, params, headers))

    def _get_whole(self, url, params, headers) -> requests.Response:
        target = requote_uri(url.removeprefix(self.base_url) or "/")
        if params:
            target = f"{target}?{_query(params)}"
        headers = {"User-Agent": self.headers["User-Agent"], **headers}
        for attempt in (1, 2):
            try:
                conn, reused = self._idle.pop(), True  # one step: another thread may pop too
            except IndexError:
                conn, reused = self._connection(), False
            try:
                conn.request("GET", target, headers=headers)
                answer = conn.getresponse()
                body = answer.read()
            except _STALE as exc:
                conn.close()
                if reused and attempt == 1:
                    continue
                raise requests.exceptions.ConnectionError(exc) from exc
            except TimeoutError as exc:
                # no socket yet: the daemon could not be reached in time, as requests says it
                connected = conn.sock is not None
                conn.close()
                if connected:
                    raise requests.exceptions.ReadTimeout(exc) from exc
                raise requests.exceptions.ConnectTimeout(exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise requests.exceptions.ConnectionError(exc) from exc
            except BaseException:  # the greenlet killed, the process stopping: half-read
                conn.close()
                raise
            if answer.will_close or len(self._idle) >= self._pool_size:
                conn.close()
            else:
                self._idle.append(conn)
            return _response(answer, body, f"{self.base_url}{target}")
        raise AssertionError("unreachable")

    def _connection(self) -> _SocketConnection:
        return _SocketConnection(self._socket_path, self.timeout)

    def close(self):
        while self._idle:
            self._idle.pop().close()
        super().close()


def _observed(verb: str, path: str, call) -> requests.Response:
    """``call()``, a call to the daemon, counted in the metrics with its time and outcome."""
    started = time.monotonic()
    outcome = None
    try:
        response = call()
        outcome = metrics.outcome_of(response.status_code)
        return response
    except requests.exceptions.Timeout:
        outcome = "timeout"
        raise
    except requests.exceptions.ConnectionError:
        outcome = "unreachable"
        raise
    finally:
        if outcome is not None:
            metrics.daemon_call(verb, path, time.monotonic() - started, outcome)


def _query(params: dict) -> str:
    """docker-py's query parameters as requests encodes them (None left out, a list as the
    key repeated), without its type checks against typing protocols (4 % of a worker's time
    on inspect)."""
    pairs = []
    for key, value in params.items():
        for one in value if isinstance(value, list | tuple) else (value,):
            if one is not None:
                pairs.append((key, one))
    return urlencode(pairs)


class _WholeAnswer(requests.Response):
    """An answer read whole, whose JSON orjson reads."""

    def json(self, **kwargs):
        return loads(self._content) if not kwargs else super().json(**kwargs)


def _response(answer: http.client.HTTPResponse, body: bytes, url: str) -> requests.Response:
    """The answer as requests would have handed it over, read whole."""
    response = _WholeAnswer()
    response.status_code = answer.status
    response.reason = answer.reason
    response.headers = CaseInsensitiveDict(answer.getheaders())
    response.url = url
    response.encoding = "utf-8"
    response._content = body
    return response


class DaemonClients:
    def __init__(self, settings: DaemonSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._pid = None
        self._control = None
        self._long = None

    def _make(self, version, timeout):
        url, tls = self.settings.url, self.settings.tls
        client = DaemonAPI(
            base_url=url,
            version=version,
            timeout=timeout,
            max_pool_size=self.settings.pool_size,
            socket_path=url.removeprefix("unix://") if url.startswith("unix://") else None,
            pool_size=self.settings.pool_size,
            counted=self.settings.counted,
            tls=(
                docker.tls.TLSConfig(
                    client_cert=(tls.cert_file, tls.key_file), ca_cert=tls.ca_file, verify=True
                )
                if tls
                else False
            ),
            # ssh://: the system's ssh client, as the docker CLI uses it
            use_ssh_client=url.startswith("ssh://"),
        )
        # requests would read the proxy variables and ~/.netrc again on every call (half a
        # millisecond each, the largest cost of a short call in the profile); the daemon is
        # reached over its own socket or the URL given, never through an HTTP proxy
        client.trust_env = False
        return client

    def _negotiate(self, timeout):
        """The API version to speak: the configured one, or the daemon's capped at docker-py's."""
        if self.settings.api_version != "auto":
            return self.settings.api_version
        probe = self._make(MINIMUM_DOCKER_API_VERSION, timeout)
        try:
            server = probe.version(api_version=False)["ApiVersion"]
        finally:
            probe.close()
        if version_lt(DEFAULT_DOCKER_API_VERSION, server):
            return DEFAULT_DOCKER_API_VERSION
        return server

    def _ensure(self, timeout=None):
        """Negotiate once a process (waiting ``timeout`` at most, else DOCKER_TIMEOUT)."""
        if self._pid == os.getpid() and self._control is not None:
            return
        with self._lock:
            if self._pid == os.getpid() and self._control is not None:
                return
            # a daemon that is down raises here; nothing is cached and the next call retries
            version = self._negotiate(timeout or self.settings.timeout)
            self._long = self._make(version, self.settings.long_timeout)
            self._control = self._make(version, self.settings.timeout)
            self._pid = os.getpid()

    @property
    def control(self) -> docker.APIClient:
        self._ensure()
        return self._control

    def probing(self) -> docker.APIClient:
        """The control client for the readiness probe: a first negotiation waits no longer
        than READY_TIMEOUT, as the probe does."""
        self._ensure(self.settings.ready_timeout)
        return self._control

    @property
    def long(self) -> docker.APIClient:
        self._ensure()
        return self._long

    def close(self):
        with self._lock:
            for client in (self._control, self._long):
                if client is not None:
                    client.close()
            self._control = self._long = self._pid = None

    def open_stream(self, method, path, *path_args, **kwargs):
        """A daemon call whose answer is read as it comes (progress, tar, logs).

        The caller owns the response and closes it, which frees the connection at once even
        when the body was not read to its end (a client that left mid-stream).
        """
        return self._request(self.long, method, path, *path_args, stream=True, **kwargs)

    def call(self, method, path, *path_args, timeout=None, **kwargs):
        """A daemon call docker-py has no verb for (or not with these parameters): its JSON."""
        response = self._request(
            self.control,
            method,
            path,
            *path_args,
            timeout=timeout or self.settings.timeout,
            **kwargs,
        )
        with response:
            # Podman answers some calls with a plain-text "OK" where Docker sends nothing
            kind = response.headers.get("Content-Type", "application/json")
            return response.json() if response.content and "json" in kind else None

    @staticmethod
    def _request(client, method, path, *path_args, **kwargs):
        response = client.request(method, client._url(path, *path_args), **kwargs)
        if response.status_code >= 400:
            # read the daemon's message, then raise docker-py's own error class for it
            try:
                response.raise_for_status()
            except requests.exceptions.HTTPError as exc:
                docker.errors.create_api_error_from_http_exception(exc)
            finally:
                response.close()
        return response


class Unsupported(Exception):
    """What the engine cannot do (a Podman engine: update a container's limits)."""

    def __init__(self, kind: str, what: str):
        super().__init__(f"{kind} cannot {what}")
        self.kind = kind
        self.what = what


class Conflict(Exception):
    """What the engine's state forbids, said by the service where the engine would not."""


def root_cause(exc: BaseException) -> str:
    """What went wrong, from the innermost of the errors requests and urllib3 nest."""
    seen = exc
    for _ in range(10):
        inner = seen.__cause__ or seen.__context__
        if inner is None and seen.args and isinstance(seen.args[0], BaseException):
            inner = seen.args[0]
        if inner is None or inner is seen:
            break
        seen = inner
    if isinstance(seen, OSError) and seen.strerror:
        return seen.strerror
    text = str(seen) or type(seen).__name__
    # urllib3 puts the connection object's repr before the reason
    return re.sub(r"^<[^>]*>: ", "", text)[:300]

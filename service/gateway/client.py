"""The connection to the daemon: docker-py low-level clients, made lazily, one set per process.

Made on first use rather than at import so that each gunicorn worker, after the fork, opens its
own connections. Two clients share the negotiated API version: one with a short timeout for
control calls, one with a long timeout for pull, build, push and streams.
"""

import os
import re
import threading
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions
from docker.constants import DEFAULT_DOCKER_API_VERSION, MINIMUM_DOCKER_API_VERSION
from docker.utils import version_lt

from ..config import stream_ceiling


@dataclass(frozen=True)
class DaemonSettings:
    url: str
    api_version: str
    timeout: float
    long_timeout: float
    ready_timeout: float
    pool_size: int

    @classmethod
    def from_config(cls, config) -> "DaemonSettings":
        # every open stream holds a connection, and control calls go on beside them; never
        # more than the worker holds connections (urllib3 fills its pool's queue up front)
        streams = min(stream_ceiling(config), int(config["WORKER_CONNECTIONS"]))
        pool_size = int(config["DOCKER_POOL_SIZE"]) or streams + 32
        return cls(
            url=str(config["DOCKER_URL"]),
            api_version=str(config["DOCKER_API_VERSION"]),
            timeout=float(config["DOCKER_TIMEOUT"]),
            long_timeout=float(config["DOCKER_LONG_TIMEOUT"]),
            ready_timeout=float(config["READY_TIMEOUT"]),
            pool_size=pool_size,
        )


class DaemonClients:
    def __init__(self, settings: DaemonSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._pid = None
        self._control = None
        self._long = None

    def _make(self, version, timeout):
        client = docker.APIClient(
            base_url=self.settings.url,
            version=version,
            timeout=timeout,
            max_pool_size=self.settings.pool_size,
        )
        # requests would read the proxy variables and ~/.netrc again on every call (half a
        # millisecond each, the largest cost of a short call in the profile); the daemon is
        # reached over its own socket or the URL given, never through an HTTP proxy
        client.trust_env = False
        return client

    def _negotiate(self):
        """The API version to speak: the configured one, or the daemon's capped at docker-py's."""
        if self.settings.api_version != "auto":
            return self.settings.api_version
        probe = self._make(MINIMUM_DOCKER_API_VERSION, self.settings.timeout)
        try:
            server = probe.version(api_version=False)["ApiVersion"]
        finally:
            probe.close()
        if version_lt(DEFAULT_DOCKER_API_VERSION, server):
            return DEFAULT_DOCKER_API_VERSION
        return server

    def _ensure(self):
        if self._pid == os.getpid() and self._control is not None:
            return
        with self._lock:
            if self._pid == os.getpid() and self._control is not None:
                return
            # a daemon that is down raises here; nothing is cached and the next call retries
            version = self._negotiate()
            self._long = self._make(version, self.settings.long_timeout)
            self._control = self._make(version, self.settings.timeout)
            self._pid = os.getpid()

    @property
    def control(self) -> docker.APIClient:
        self._ensure()
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
            return response.json() if response.content else None

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

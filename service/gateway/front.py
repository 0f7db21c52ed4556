"""The Engine-API front's calls: a request of Docker's own API sent on to the daemon as the
client wrote it (its query, body and content type), on a path the front built from what it
checked. Errors are docker-py's, as for every other call."""

import socket

import requests

from .terminals import raw_socket


class FrontVerbs:
    @property
    def api_version(self) -> str:
        """The Engine API version the service speaks to the daemon: the one the front says
        it speaks, so that a client's paths and the daemon's answers agree."""
        return self.clients.control._version

    def engine_call(
        self, method, path, *path_args, params=None, body=None, headers=None, stream=False
    ) -> requests.Response:
        """``path`` (a format, its ``path_args`` quoted into it) on the daemon, versioned as
        the service speaks to it. The caller closes a ``stream``."""
        response = self.clients.open_stream(
            method, path, *path_args, params=params, data=body, headers=headers
        )
        if not stream:
            with response:
                _ = response.content  # read whole: the connection goes back to the pool
        return response

    def hijack_exec(self, exec_id: str, tty: bool) -> socket.socket:
        """An exec's process started, its connection taken over: its input and output."""
        return raw_socket(self.clients.long.exec_start(exec_id, tty=tty, socket=True))

    def hijack_attach(self, ref: str, params: dict) -> socket.socket:
        """A container's process attached to, as ``params`` ask (stdin, stdout, stderr, stream,
        logs, detachKeys), its connection taken over."""
        return raw_socket(self.clients.long.attach_socket(ref, params=params))

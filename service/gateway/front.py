"""The Engine-API front's calls: a request of Docker's own API sent on to the daemon as the
client wrote it (its query, body and content type), on a path the front built from what it
checked. Errors are docker-py's, as for every other call."""

import requests


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

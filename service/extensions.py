"""The flask-smorest classes everything imports, and access to the per-app docker gateway."""

import logging

import flask_smorest
from flask import current_app
from flask_smorest.error_handler import ErrorSchema

from .errors import DAEMON_ERRORS, describe, http_exception
from .gateway import DockerGateway

log = logging.getLogger(__name__)


class Api(flask_smorest.Api):
    def _register_error_handlers(self):
        super()._register_error_handlers()
        for error in DAEMON_ERRORS:
            self._app.register_error_handler(error, self.handle_daemon_error)

    def handle_daemon_error(self, exc):
        failure = describe(exc)
        if failure.code >= 500:
            log.warning("daemon error answered %s: %r", failure.code, exc)
        return self.handle_http_exception(http_exception(failure))

    def handle_http_exception(self, error):
        # one shape everywhere: message and errors are always there
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        payload.setdefault("errors", {})
        return payload, code, headers


RETRY_AFTER_HEADER = {
    "description": "seconds to wait before trying again",
    "schema": {"type": "integer"},
}


class Blueprint(flask_smorest.Blueprint):
    def daemon_call(self, func):
        """Document the answers any view that talks to the daemon may give when it fails."""
        func = self.alt_response(
            502, schema=ErrorSchema, description="the Docker daemon failed; `message` says why"
        )(func)
        func = self.alt_response(
            503,
            schema=ErrorSchema,
            description="the Docker daemon cannot be reached",
            headers={"Retry-After": RETRY_AFTER_HEADER},
        )(func)
        return self.alt_response(
            504, schema=ErrorSchema, description="the Docker daemon did not answer in time"
        )(func)


def gateway() -> DockerGateway:
    """The docker gateway of the app serving the current request."""
    return current_app.extensions["docker_gateway"]

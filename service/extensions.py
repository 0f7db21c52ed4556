"""The flask-smorest classes everything imports, and access to the per-app docker gateway."""

import functools
import json
import logging

import flask_smorest
from flask import current_app, request
from flask_smorest.error_handler import ErrorSchema
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from .auth import SCOPES
from .errors import DAEMON_ERRORS, Failure, describe, http_exception
from .gateway import DockerGateway
from .routing import allowed_methods
from .streaming import reserve_stream, wanted_stream

log = logging.getLogger(__name__)


class Api(flask_smorest.Api):
    def _register_error_handlers(self):
        super()._register_error_handlers()
        for error in DAEMON_ERRORS:
            self._app.register_error_handler(error, self.handle_daemon_error)
        # JSON nested deeper than the parser recurses
        self._app.register_error_handler(RecursionError, self.handle_too_deep)

    def handle_too_deep(self, exc):
        failure = Failure(400, "the JSON body nests too deep")
        return self.handle_http_exception(http_exception(failure))

    def handle_daemon_error(self, exc):
        failure = describe(exc)
        if failure.code >= 500:
            log.warning("daemon error answered %s: %r", failure.code, exc)
        return self.handle_http_exception(http_exception(failure))

    def handle_http_exception(self, error):
        # one shape everywhere: message and errors are always there
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = _message_for(payload.get("errors")) or error.description
        payload.setdefault("errors", {})
        if getattr(error, "valid_methods", None):
            # a 405 says which methods the path takes (RFC 9110)
            headers = {**headers, "Allow": ", ".join(sorted(allowed_methods(request.path)))}
        return payload, code, headers


def _message_for(errors) -> str | None:
    """A sentence out of a validation error: the invalid fields, or what is wrong with the body."""
    if not errors:
        return None
    parts = []
    for location, messages in errors.items():
        if isinstance(messages, dict):
            where = "" if location == "json" else f"{location} "
            parts += [f"{where}{name}" for name in messages]
        else:
            parts += [f"{location}: {message}" for message in messages]
    return "invalid input: " + ", ".join(parts)


class Parser(FlaskParser):
    """A body sent with another content type than JSON is an error, not an empty body."""

    def _raw_load_json(self, req):
        if not core.is_json(req.mimetype) and req.get_data(cache=True):
            abort(
                400,
                messages={"json": [f"expected application/json, got {req.mimetype or 'none'}"]},
            )
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs answers it: invalid JSON
        except ValueError:
            # json reads an integer with int(), which refuses more than 4300 digits
            abort(400, messages={"json": ["a number in the body has too many digits"]})


RETRY_AFTER_HEADER = {
    "description": "seconds to wait before trying again",
    "schema": {"type": "integer"},
}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def daemon_call(self, func):
        """Document the answers any view that talks to the daemon may give when it fails."""
        func = self.alt_response(
            400,
            schema=ErrorSchema,
            description="the daemon refused the request; `message` says why",
        )(func)
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

    def requires(self, scope: str):
        """Declare (and document) the token scope an operation needs. Outermost decorator."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope}")

        def decorator(func):
            func = self.alt_response(
                401, schema=ErrorSchema, description="no token, or an unknown or expired one"
            )(func)
            func = self.alt_response(
                403,
                schema=ErrorSchema,
                description=f"the token lacks the `{scope}` scope, or a rule of the policy "
                "refuses the request; `message` names it",
            )(func)
            func = self.doc(security=[{"bearerAuth": []}], **{"x-scope": scope})(func)
            func.required_scope = scope
            return func

        return decorator

    def progress_stream(
        self,
        status,
        event_schema,
        description="the result as JSON; or, asked for in Accept, progress events then the result",
    ):
        """Document that the answer may also be a stream of events, on request; a stream
        takes its place among the worker's streams before the work starts (or is a 503)."""

        def decorator(view):
            @functools.wraps(view)
            def func(*args, **kwargs):
                if wanted_stream():
                    reserve_stream()
                return view(*args, **kwargs)

            for content_type in ("application/x-ndjson", "text/event-stream"):
                func = self.alt_response(
                    status,
                    schema=event_schema,
                    content_type=content_type,
                    success=True,
                    description=description,
                )(func)
            return func

        return decorator


def gateway() -> DockerGateway:
    """The docker gateway of the app serving the current request."""
    return current_app.extensions["docker_gateway"]

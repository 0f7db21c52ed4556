"""The flask-smorest classes everything imports, and access to the per-app docker gateway."""

import functools
import json
import logging
from copy import deepcopy

import flask_smorest
from flask import request
from flask_smorest.utils import resolve_schema_instance
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import BadRequest, MethodNotAllowed
from werkzeug.routing.exceptions import WebsocketMismatch

from . import engines, metrics
from .auth import ANY_TOKEN, BY_TICKET
from .errors import ANSWERED_ERRORS, Failure, describe, http_exception
from .gateway import DockerGateway
from .policy import Denied
from .routing import allowed_methods, websocket_path, websocket_upgrade
from .schemas import ErrorSchema
from .schemas import streams as stream_schemas
from .scopes import SCOPES
from .streaming import JSON, NDJSON, SSE, STREAMED, TEXT, negotiate, reserve_stream

log = logging.getLogger(__name__)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        super()._register_error_handlers()
        for error in ANSWERED_ERRORS:
            self._app.register_error_handler(error, self.handle_daemon_error)
        # JSON nested deeper than the parser recurses
        self._app.register_error_handler(RecursionError, self.handle_too_deep)

    def handle_too_deep(self, exc):
        failure = Failure(400, "the JSON body nests too deep")
        return self.handle_http_exception(http_exception(failure))

    def handle_daemon_error(self, exc):
        if isinstance(exc, Denied):
            metrics.refused_by_policy(exc.rule)
        failure = describe(exc)
        if failure.code >= 500:
            log.warning("daemon error answered %s: %r", failure.code, exc)
        return self.handle_http_exception(http_exception(failure))

    def handle_http_exception(self, error):
        # one shape everywhere: message and errors are always there
        upgrade = websocket_upgrade()
        if isinstance(error, WebsocketMismatch) or (
            isinstance(error, MethodNotAllowed)
            and request.method == "GET"
            and not upgrade
            and websocket_path(request.path)
        ):
            error = BadRequest(
                "this path takes no WebSocket"
                if upgrade
                else "this path is a WebSocket: open it with an upgrade and a ticket"
            )
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


# one server-sent event, as validators read it
SSE_EVENT = {
    "type": "object",
    "description": "one event: `data` is the JSON of one of the `x-events` schemas",
    "properties": {
        "event": {"type": "string", "description": "the event's `type`"},
        "id": {"type": "string", "description": "where the stream can be resumed from"},
        "data": {"type": "string", "description": "the event, as JSON"},
    },
    "required": ["event", "data"],
}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *args, **kwargs):
        """flask-smorest's, given a schema instance made once: given a class, webargs makes an
        instance on every request (a quarter of a millisecond of each list request). A JSON
        body none of whose fields is required may be left out, and is documented so."""
        schema = resolve_schema_instance(schema)
        if kwargs.get("location", "json") == "json" and "required" not in kwargs:
            kwargs["required"] = any(field.required for field in schema.fields.values())
        return super().arguments(schema, *args, **kwargs)

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

    def in_swarm(self, func):
        """Document the answers of an operation that needs this engine to be a swarm manager."""
        func = self.alt_response(
            409,
            schema=ErrorSchema,
            description="the engine is not in a swarm: `message` says how to init",
        )(func)
        return self.daemon_call(func)

    def file_answer(self, func):
        """Document the 406 of a file answer (``streaming.binary_format``)."""
        return self.alt_response(
            406,
            schema=ErrorSchema,
            description="Accept takes neither the file's own type nor application/octet-stream",
        )(func)

    def requires(self, scope: str, team_scope: str | None = None):
        """Declare (and document) the token scope an operation needs, and the scope with which
        a team's token may take it on its team's objects alone (`x-team-scope`). Outermost
        decorator."""
        if scope not in SCOPES or team_scope not in (None, *SCOPES):
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
            extra = {"x-team-scope": team_scope} if team_scope else {}
            func = self.doc(security=[{"bearerAuth": []}], **{"x-scope": scope, **extra})(func)
            func.required_scope = scope
            func.team_scope = team_scope
            return func

        return decorator

    def requires_token(self, func):
        """Declare (and document) an operation any valid token may call, whatever its scopes:
        what a token may learn about itself. Outermost decorator."""
        func = self.alt_response(
            401, schema=ErrorSchema, description="no token, or an unknown or expired one"
        )(func)
        func = self.doc(security=[{"bearerAuth": []}])(func)
        func.required_scope = ANY_TOKEN
        return func

    def requires_ticket(self, scope: str):
        """Declare (and document) an operation called with a ticket it redeems itself, not
        with a bearer token: the ticket's token needs ``scope``. Outermost decorator."""
        return functools.partial(self._ticketed, scope=scope)

    def _ticketed(self, func, scope):
        func = self.alt_response(401, schema=ErrorSchema, description="no ticket offered")(func)
        func = self.alt_response(
            403,
            schema=ErrorSchema,
            description="the ticket is unknown, used, expired or for another object, or a rule "
            "of the policy refuses the request; `message` says which",
        )(func)
        func = self.doc(security=[], **{"x-scope": scope})(func)
        func.required_scope = BY_TICKET
        return func

    def progress_stream(
        self,
        status,
        events,
        description="the result as JSON by default; asked for in Accept, its progress as ndjson "
        "or SSE, then the result",
    ):
        """Long work: the result as JSON by default, or ``events`` as they come (ndjson, SSE)
        and then a `result` event."""
        return self.streams(
            (JSON, NDJSON, SSE), JSON, events, status=status, description=description
        )

    def streams(self, offered, default, events=(), *, status=200, description, choose=None):
        """Declare and document the formats an operation answers in: one of ``offered``
        chosen by Accept, ``default`` without one (or with ``*/*``), any other a 406 before
        any work. An ndjson or SSE answer sends ``events`` and heartbeats, then ends with
        `result` (when JSON is offered: long work) or `end`, or with `error`.
        ``choose(*view_args)`` gives (offered, default) when they depend on the query. A stream
        takes its place among the worker's streams before the work starts (or is a 503)."""
        last = (
            stream_schemas.ResultEventSchema if JSON in offered else stream_schemas.EndEventSchema
        )
        shared = (stream_schemas.HeartbeatEventSchema, last, stream_schemas.ErrorEventSchema)

        def decorator(view):
            @functools.wraps(view)
            def func(*args, **kwargs):
                kinds, first = choose(*args) if choose else (offered, default)
                if negotiate(kinds, first) in STREAMED:
                    reserve_stream()
                return view(*args, **kwargs)

            # wraps shares the view's doc: change a copy
            func._apidoc = deepcopy(getattr(view, "_apidoc", {}))
            func._apidoc["streams"] = {
                "status": str(status),
                "offered": list(offered),
                "default": default,
                "events": [*events, *shared],
                "description": description,
            }
            if self._document_streams not in self._prepare_doc_cbks:
                self._prepare_doc_cbks.append(self._document_streams)
            return self.alt_response(
                406,
                schema=ErrorSchema,
                description="the Accept header asks for no format this operation answers in",
            )(func)

        return decorator

    def mirrored(self, view):
        """Document that a read may be answered from the engine's mirror (service.gateway.
        mirror), and how to ask the daemon itself: `Cache-Control: no-cache`."""
        view._apidoc["mirrored"] = True
        if self._document_mirror not in self._prepare_doc_cbks:
            self._prepare_doc_cbks.append(self._document_mirror)
        return view

    @staticmethod
    def _document_mirror(doc, doc_info, **kwargs):
        if doc_info.get("mirrored"):
            doc.setdefault("parameters", []).append(NO_CACHE_HEADER)
        return doc

    @staticmethod
    def _document_streams(doc, doc_info, *, api, **kwargs):
        declared = doc_info.get("streams")
        if not declared:
            return doc
        refs = [api.ma_plugin.converter.resolve_nested_schema(e) for e in declared["events"]]
        names = ", ".join(f"`{ref['$ref'].rsplit('/', 1)[-1]}`" for ref in refs)
        lines = {
            NDJSON: f"one JSON object a line, each one of {names} (see `x-events`)",
            SSE: f"SSE events named after their `type`, whose `data:` is one of {names} (see "
            "`x-events`); heartbeats are `: heartbeat` comments",
        }
        responses = doc.setdefault("responses", {})
        # the status may be there already, as a number
        status = next((key for key in responses if str(key) == declared["status"]), None)
        response = responses.setdefault(status or declared["status"], {})
        content = response.setdefault("content", {})
        for kind in declared["offered"]:
            if kind == TEXT:
                # text has no room for a heartbeat or a last line
                content[kind] = {
                    "schema": {"type": "string", "description": "the bytes as written"}
                }
            elif kind == NDJSON:
                # what each line is (OpenAPI 3.0 has no item schema for a sequence); no
                # client or validator reads this media type as one JSON document
                content[kind] = {
                    "schema": {"anyOf": refs, "description": lines[kind]},
                    "x-events": refs,
                }
            elif kind == SSE:
                # validators check each SSE event (event, id, data) against this schema, and
                # generated clients read the stream as text: one or the other matches
                content[kind] = {
                    "schema": {
                        "description": lines[kind],
                        "oneOf": [
                            {"type": "string", "description": "the stream, read whole"},
                            SSE_EVENT,
                        ],
                    },
                    "x-events": refs,
                }
        offered = ", ".join(
            f"`{kind}`" + (" (the default)" if kind == declared["default"] else "")
            for kind in declared["offered"]
        )
        response["description"] = f"{declared['description']}. Formats, chosen by Accept: {offered}"
        response["x-default-format"] = declared["default"]
        return doc


def gateway() -> DockerGateway:
    """The docker gateway of the engine the current request targets (service.engines)."""
    return engines.current().gateway


NO_CACHE_HEADER = {
    "in": "header",
    "name": "Cache-Control",
    "required": False,
    # any value is taken: what is not `no-cache` is read as none
    "schema": {"type": "string"},
    "description": "`no-cache`: the daemon answers, not the engine's mirror (the worker's copy "
    "of the engine's objects, kept current by its events; `DOCKYARD_READ_CACHE`). Any other "
    "value is read as none.",
}


def cached() -> bool:
    """Whether the request's reads may be answered from the engine's mirror: a read (GET)
    that does not ask for the daemon itself (`Cache-Control: no-cache`, `Pragma: no-cache`)."""
    environ = request.environ
    if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
        return False
    asked = environ.get("HTTP_CACHE_CONTROL")
    if asked and request.cache_control.no_cache:
        return False
    return environ.get("HTTP_PRAGMA", "").strip().lower() != "no-cache"

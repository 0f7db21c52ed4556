"""Dockyard: a Docker engine behind a documented HTTP API."""

import logging
from inspect import iscoroutinefunction

from flask import Flask, request

from . import audit, auth, concepts, engines, metrics, openapi, policy, web
from .blueprints import register_blueprints
from .config import load_settings
from .extensions import Api
from .grants import Grants
from .jsonio import JSONProvider
from .routing import allowed_methods, register_converters
from .streaming import TokenStreams
from .streaming.tickets import Tickets


class App(Flask):
    # answer fields in the order the schemas declare them, encoded by orjson
    json_provider_class = JSONProvider

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plain: set = set()

    def ensure_sync(self, func):
        # Flask asks each hook and view whether it is a coroutine at every request (twenty
        # times a request here); the answer of a function does not change: asked once
        plain = getattr(func, "__func__", func)
        if plain in self._plain:
            return func
        if iscoroutinefunction(func):
            return super().ensure_sync(func)
        self._plain.add(plain)
        return func

    def make_default_options_response(self):
        # werkzeug lists the methods of every rule whose pattern matches, even where a
        # converter declines the path; ask the routes themselves
        response = super().make_default_options_response()
        response.allow.clear()
        response.allow.update(allowed_methods(request.path))
        return response


def create_app(config=None):
    """Build the app: settings (defaults, DOCKYARD_* environment, then ``config``),
    the docker gateway, the API with its blueprints and error handlers."""
    app = App(__name__)
    load_settings(app.config, config)
    logging.basicConfig(level=str(app.config["LOG_LEVEL"]).upper())

    # counts the workers share: stream quotas by token (metrics: PROMETHEUS_MULTIPROC_DIR)
    app.extensions["dockyard_token_streams"] = TokenStreams(app.config["SHARED_DIR"])
    app.extensions["dockyard_tickets"] = Tickets(app.config["SHARED_DIR"])
    metrics.init_app(app)

    # the engines' gateways open no connection here: each worker connects on first use,
    # after the fork; the default engine's gateway serves plain paths
    found = engines.load_engines(app.config)
    app.extensions["docker_gateway"] = found.default.gateway

    api = Api(app)
    openapi.init_app(api, found.default.name)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "a token of the service"}
    )
    # the order of the checks: request id, then host and site, then the token
    audit.init_app(app)
    web.init_app(app)
    auth.init_app(app)
    engines.init_app(app, found)
    engines.check_settings(app.config, found, policy.check_settings)
    app.extensions["dockyard_grants"] = Grants(app.config["GRANTS_FILE"])
    app.extensions["dockyard_self"] = app.config["SELF_CONTAINER"] or policy.own_container_id()
    register_converters(app, api)
    register_blueprints(app, api)
    concepts.init_app(app, api)
    return app

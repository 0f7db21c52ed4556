"""Liveness, readiness and the engine's summary: /health, /ready, /system/*."""

import logging

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from ..errors import DAEMON_ERRORS, describe
from ..extensions import RETRY_AFTER_HEADER, Blueprint, gateway
from ..schemas import containers
from ..schemas import system as schemas
from ..streaming import NDJSON, SSE, live, wanted_stream

log = logging.getLogger(__name__)

blp = Blueprint("system", __name__, description="The service and the engine behind it")


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, schemas.HealthSchema)
    def get(self):
        """Liveness: the process serves, whether the daemon answers or not"""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, schemas.ReadySchema)
    @blp.alt_response(
        503,
        schema=ErrorSchema,
        description="the Docker daemon does not answer its ping",
        headers={"Retry-After": RETRY_AFTER_HEADER},
    )
    def get(self):
        """Readiness: the Docker daemon answers its ping"""
        try:
            if gateway().ping():
                return {"status": "ready"}
            reason = "the Docker daemon answered its ping with an error"
        except DAEMON_ERRORS as exc:
            # a slow daemon is as unready as an absent one; the details are for the log,
            # not for whoever calls this public probe
            log.warning("not ready: %s", describe(exc).message)
            reason = "the Docker daemon does not answer"
        abort(503, message=reason, headers={"Retry-After": str(current_app.config["RETRY_AFTER"])})


@blp.route("/system/info")
class Info(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.InfoSchema)
    @blp.daemon_call
    def get(self):
        """Engine summary (docker info)"""
        return gateway().info()


@blp.route("/system/version")
class Version(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.VersionSchema)
    @blp.daemon_call
    def get(self):
        """Versions of the service, the engine and the API"""
        versions = gateway().version()
        versions["service"] = {
            "name": current_app.config["API_TITLE"],
            "version": current_app.config["API_VERSION"],
        }
        return versions


@blp.route("/system/df")
class DiskUsage(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.DiskUsageSchema)
    @blp.daemon_call
    def get(self):
        """Disk usage by images, containers, volumes and build cache (docker system df)"""
        return gateway().disk_usage()


@blp.route("/system/prune")
class Prune(MethodView):
    @blp.requires("admin")
    @blp.arguments(schemas.PruneSchema)
    @blp.response(200, schemas.PruneReportSchema)
    @blp.daemon_call
    def post(self, args):
        """Remove stopped containers, unused networks, dangling images (volumes if asked)"""
        return gateway().prune(
            volumes=args["volumes"],
            all_images=args["all_images"],
            build_cache=args["build_cache"],
            labels=args["label"],
            until=args.get("until"),
        )


@blp.route("/system/events")
class Events(MethodView):
    @blp.requires("read")
    @blp.arguments(containers.EventsArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "engine events as they happen: SSE by default (the event name "
                "is the object type, with a heartbeat comment while quiet), JSON lines with "
                "Accept: application/x-ndjson",
                "content": {
                    SSE: {"schema": containers.EngineEventSchema},
                    NDJSON: {"schema": containers.EngineEventSchema},
                },
            }
        }
    )
    @blp.daemon_call
    def get(self, args):
        """Engine events as they happen (docker events)"""
        filters = {
            daemon_name: args[name] for name, daemon_name in EVENT_FILTERS.items() if args.get(name)
        }
        events = gateway().events(filters, since=args.get("since"), until=args.get("until"))
        return live(events, NDJSON if wanted_stream() == NDJSON else SSE)


# the service's filter names and the daemon's
EVENT_FILTERS = {
    "type": "type",
    "action": "event",
    "label": "label",
    "container": "container",
    "image": "image",
}

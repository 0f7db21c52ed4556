"""Liveness, readiness and the engine's summary: /health, /ready, /system/*."""

import logging

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import abort

from .. import engines, metrics
from ..auth import current_token, has_scope
from ..errors import DAEMON_ERRORS, describe
from ..events import subscribe
from ..extensions import RETRY_AFTER_HEADER, Blueprint, gateway
from ..guards import events_kept
from ..schemas import ErrorSchema, streams
from ..schemas import system as schemas
from ..streaming import (
    NDJSON,
    SSE,
    TEXT,
    Narrowed,
    binary_format,
    chosen_format,
    live,
    reserve_stream,
    stream_places,
    token_streams,
)
from ..streaming.places import quota_of

log = logging.getLogger(__name__)

blp = Blueprint("system", __name__, description="The service and the engine behind it")


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, schemas.HealthSchema)
    def get(self):
        """Liveness: the process serves, whether the daemon answers or not

        Open to anyone, with no token, for load balancers and orchestrators: `{"status": "ok"}`
        while the process serves. `/ready` says whether the daemon answers.
        """
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
        """Readiness: the Docker daemon answers its ping

        Open to anyone, with no token. 200 `{"status": "ready"}` when the daemon answers within
        `DOCKYARD_READY_TIMEOUT` seconds, else 503 with `Retry-After`; why it is not ready goes
        to the log only.
        """
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
        """Engine summary (docker info)

        Versions, operating system, CPUs and memory of the engine's host, counts of containers
        by state and of images, storage and logging drivers, swarm state; `streams`: the
        admission control of the worker process that answered (its ceiling, its streams open,
        those it refused, its daemon event subscriptions).
        """
        info = gateway().info()
        places = stream_places()
        info["streams"] = {
            "limit": places.limit,
            "open": places.open,
            "refused": places.refused,
            "event_subscriptions": engines.current().hub.daemon_subscriptions,
            "by_token": streams_by_token(),
        }
        info["read_cache"] = gateway().mirror.report()
        return info


def streams_by_token() -> list[dict]:
    """Streams by token name: all of them for an administrator, the caller's own for others."""
    counts = token_streams().by_token()
    caller = current_token()
    tokens = {t.name: t for t in current_app.extensions["dockyard_tokens"]}
    tokens.setdefault(caller.name, caller)
    names = sorted(set(counts) | {caller.name}) if has_scope("admin") else [caller.name]
    return [
        {
            "token": name,
            "open": counts.get(name, (0, 0))[0],
            "refused": counts.get(name, (0, 0))[1],
            "quota": quota_of(tokens[name]) if name in tokens else 0,
        }
        for name in names
    ]


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.requires("metrics")
    @blp.response(
        200,
        {"type": "string", "description": "Prometheus's text format, version 0.0.4"},
        content_type=TEXT,
        description="the service's metrics, summed over its workers",
    )
    @blp.file_answer
    def get(self):
        """Prometheus metrics

        Requests by route template, method and status (count and time); streams open and
        refused by kind and reason; daemon calls by Engine API operation (count by outcome,
        and time); policy refusals by rule; audit lines by action; token refusals by reason;
        bytes streamed by kind; and, measured at the scrape, whether the engine answers its
        ping and how fast. No label holds an id or a name. The `metrics` scope alone reads
        them: a token for Prometheus needs nothing else, and the figures of every team's
        traffic are not for a team's `read` token. 404 when `DOCKYARD_METRICS` is off.
        """
        binary_format(TEXT)
        if not metrics.enabled():
            abort(404, message="metrics are off (DOCKYARD_METRICS=false)")
        body, kind = metrics.exposition(
            {engine.name: engine.gateway.ping for engine in engines.engines()},
            current_app.config["API_VERSION"],
        )
        return Response(body, content_type=kind)


@blp.route("/system/version")
class Version(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.VersionSchema)
    @blp.daemon_call
    def get(self):
        """Versions of the service, the engine and the API

        `api_version` is the Engine API version this service speaks to the daemon;
        `engine.api_version` is the newest the daemon speaks.
        """
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
        """Disk usage by images, containers, volumes and build cache (docker system df)

        For each kind: how many objects, how many in use, the bytes they take and the bytes a
        prune would free.
        """
        return gateway().disk_usage()


@blp.route("/system/prune")
class Prune(MethodView):
    @blp.requires("admin")
    @blp.arguments(schemas.PruneSchema)
    @blp.response(200, schemas.PruneReportSchema)
    @blp.daemon_call
    def post(self, args):
        """Remove stopped containers, unused networks, dangling images (volumes if asked)

        docker system prune: `volumes` adds unused volumes, `all_images` every unused image,
        `build_cache` the builder's cache; `label` and `until` narrow what goes. Reports what
        was removed and the bytes freed.
        """
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
    @blp.arguments(streams.EventsArgsSchema, location="query")
    @blp.arguments(streams.ResumeHeadersSchema, location="headers")
    @blp.streams(
        (SSE, NDJSON),
        SSE,
        (streams.EngineEventSchema,),
        description="engine events as they happen, until `until` (then an `end` event) or the "
        "client leaves; in SSE each event is named after its object type and has the event's "
        "`time_nano` as `id:`",
    )
    @blp.daemon_call
    def get(self, args, headers):
        """Engine events as they happen (docker events)

        Filters `type`, `action`, `label`, `container`, `image`; `since` replays past events,
        `until` ends the stream with an `end` event. SSE by default, with each event's
        `time_nano` as its `id:`: `Last-Event-ID` resumes after it. JSON lines with
        `Accept: application/x-ndjson`.
        """
        filters = {
            daemon_name: args[name] for name, daemon_name in EVENT_FILTERS.items() if args.get(name)
        }
        followed = followed_engines(args["engine"])
        # a team's token: events of its team's objects only, judged here
        kept = events_kept(followed)
        live_only = not (args.get("since") or args.get("until") or headers.get("last_event_id"))
        if live_only:
            # events as they happen: the worker's one daemon subscription per engine, shared
            reserve_stream()
            events = subscribe([engine.hub for engine in followed], filters)
        else:
            if len(followed) > 1:
                abort(400, message="`since`, `until` and Last-Event-ID replay one engine's events")
            since, seen = args.get("since"), None
            if headers.get("last_event_id"):
                # the daemon takes seconds with a fraction, and gives again what came then
                seen = int(headers["last_event_id"])
                since = f"{seen // 10**9}.{seen % 10**9:09d}"
            reserve_stream()
            events = gateway().events(filters, since=since, until=args.get("until"))
            if seen is not None:
                kept = both(kept, lambda event: (event["time_nano"] or 0) > seen)
        if kept is not None:
            events = Narrowed(events, kept=kept)
        return live(events, chosen_format(), event_id=lambda event: event["time_nano"])


def followed_engines(names: list[str]) -> list:
    """The engines an events stream follows: those named (`*`: every one the token may use),
    else the request's own."""
    if not names:
        return [engines.current()]
    if "*" in names:
        return [engine for engine in engines.engines() if engines.may_use(engine.name)]
    return [engines.named(name) for name in dict.fromkeys(names)]


def both(first, second):
    """Kept by ``first`` (when there is one) and by ``second``."""
    return second if first is None else (lambda event: first(event) and second(event))


# the service's filter names and the daemon's
EVENT_FILTERS = {
    "type": "type",
    "action": "event",
    "label": "label",
    "container": "container",
    "image": "image",
}

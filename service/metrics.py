"""Prometheus metrics: what the service serves, refuses and asks of the daemon.

Counters and histograms live in this module; under gunicorn they are kept in files that the
workers share (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR, set up by
deploy/gunicorn.conf.py), so that a scrape of any worker sums them all. Without it (a test
client, `flask run`) they are the process's own.

No label holds an id, a name or a path as sent: routes are the route templates
(`/containers/{id}`), daemon calls the Engine API's path templates, streams their kind, policy
refusals their rule. Methods the service has no route for count as `other`.
"""

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

from flask import current_app, g, request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from .config import stream_ceiling

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# the same series in one process as across workers (where there are no `_created` ones)
disable_created_metrics()
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "dockyard_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "dockyard_http_request_duration_seconds",
    "Time to answer a request (to the answer's head, for a stream), by route template",
    ["method", "route"],
)
STREAMS_OPEN = Gauge(
    "dockyard_streams_open",
    "Streams open, by kind",
    ["kind"],
    multiprocess_mode="livesum",
)
STREAMS_CEILING = Gauge(
    "dockyard_streams_ceiling",
    "Streams the live workers serve at most, together (each worker's MAX_STREAMS)",
    multiprocess_mode="livesum",
)
STREAMS_REFUSED = Counter(
    "dockyard_streams_refused",
    "Streams refused with a 503: the worker's ceiling, or the token's quota",
    ["kind", "reason"],
)
STREAMED_BYTES = Counter(
    "dockyard_streamed_bytes",
    "Bytes of streams: sent to clients (logs, events, progress, archives, backups) and "
    "received from them (build contexts, restores, imports, archives)",
    ["kind", "direction"],
)
READ_CACHE_READS = Counter(
    "dockyard_read_cache_reads",
    "Reads of an engine's mirror, by kind: a hit answered without the daemon, a miss asked it "
    "(and kept its answer)",
    ["engine", "kind", "result"],
)
READ_CACHE_BYTES = Gauge(
    "dockyard_read_cache_bytes",
    "What a worker's mirror of an engine holds, measured as JSON (the largest worker's)",
    ["engine"],
    multiprocess_mode="livemax",
)
DAEMON_REQUESTS = Counter(
    "dockyard_daemon_requests",
    "Calls to the Docker daemon, by Engine API operation and outcome",
    ["operation", "outcome"],
)
DAEMON_SECONDS = Histogram(
    "dockyard_daemon_request_duration_seconds",
    "Time the daemon took to answer a call (to its answer's head, for a stream)",
    ["operation"],
)
POLICY_REFUSALS = Counter(
    "dockyard_policy_refusals", "Requests the policy refused, by rule", ["rule"]
)
AUDIT_EVENTS = Counter(
    "dockyard_audit_events",
    "Audit lines written, by action (method and route template) and status",
    ["action", "status"],
)
AUTH_FAILURES = Counter(
    "dockyard_auth_failures",
    "Requests refused for their token: missing, malformed, unknown, expired, or short of scope",
    ["reason"],
)


def init_app(app):
    """Count every answer; the worker's stream ceiling joins the service's."""
    app.extensions["dockyard_metrics"] = bool(app.config["METRICS"])
    if not app.config["METRICS"]:
        return
    STREAMS_CEILING.set(stream_ceiling(app.config))
    app.after_request(_count_answer)


def enabled() -> bool:
    return current_app.extensions.get("dockyard_metrics", False)


_TEMPLATES: dict[str, str] = {}
_CONVERTED = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route() -> str:
    """The request's route template as the document writes it, `unmatched` for none."""
    rule = request.url_rule
    if rule is None:
        return "unmatched"
    template = _TEMPLATES.get(rule.rule)
    if template is None:
        template = _TEMPLATES.setdefault(rule.rule, _CONVERTED.sub(r"{\1}", rule.rule))
    return template


def method() -> str:
    return request.method if request.method in METHODS else "other"


def child(metric, *labels):
    """``metric.labels(*labels)``, kept: the label sets are few, and looking one up costs
    as much as counting."""
    key = (metric, labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN.setdefault(key, metric.labels(*labels))
    return found


_CHILDREN: dict = {}


def _count_answer(response):
    started = g.get("started")
    name, verb = route(), method()
    child(REQUESTS, verb, name, str(response.status_code)).inc()
    if started is not None:
        child(REQUEST_SECONDS, verb, name).observe(time.monotonic() - started)
    return response


def stream_kind() -> str:
    """A stream's kind: the last fixed word of its route (`logs`, `events`, `pull`...)."""
    words = [w for w in route().split("/") if w and not w.startswith("{")]
    return words[-1] if words else "other"


def counted(chunks, kind: str, direction: str):
    """``chunks`` as they go, each one's bytes counted."""
    if not enabled():
        return chunks
    return _counting(chunks, child(STREAMED_BYTES, kind, direction))


def _counting(chunks, bytes_of):
    try:
        for chunk in chunks:
            bytes_of.inc(len(chunk))
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def refused_by_policy(rule: str) -> None:
    if enabled():
        child(POLICY_REFUSALS, rule).inc()


def refused_token(reason: str) -> None:
    if enabled():
        child(AUTH_FAILURES, reason).inc()


def audited(status: int) -> None:
    if enabled():
        child(AUDIT_EVENTS, f"{method()} {route()}", str(status)).inc()


# -- daemon calls --------------------------------------------------------------------------

# the Engine API's words that end a path (`/containers/{id}/logs`); any other is an object's
_ACTIONS = frozenset(
    "json create prune build load get search push tag history logs top stats changes export "
    "start stop restart kill pause unpause wait attach resize exec rename update archive "
    "connect disconnect inspect events info version _ping df session auth commit import "
    "leave init join unlock unlockkey rollback tasks disable enable upgrade set pull "
    "privileges".split()
)
_COLLECTIONS = frozenset(
    "containers images volumes networks exec services tasks nodes secrets configs swarm "
    "plugins distribution system build events info version _ping auth session commit".split()
)
_VERSION = re.compile(r"^/v\d+\.\d+(?=/)")


def daemon_operation(verb: str, path: str) -> str:
    """An Engine API call as a template: `GET /containers/{id}/json`. Image names hold
    slashes: whatever lies between a collection and an action word is the object."""
    path = _VERSION.sub("", path.split("?", 1)[0])
    words = [w for w in path.split("/") if w]
    if not words or words[0] not in _COLLECTIONS:
        return f"{verb} other"
    collection, rest = words[0], words[1:]
    if not rest:
        return f"{verb} /{collection}"
    if len(rest) == 1 and rest[0] in _ACTIONS:
        return f"{verb} /{collection}/{rest[0]}"
    tail = f"/{rest[-1]}" if len(rest) > 1 and rest[-1] in _ACTIONS else ""
    return f"{verb} /{collection}/{{id}}{tail}"


def daemon_call(verb: str, path: str, seconds: float, outcome: str) -> None:
    """Count one call to the daemon (``outcome``: ok, client_error, server_error,
    unreachable, timeout)."""
    operation = daemon_operation(verb, path)
    child(DAEMON_REQUESTS, operation, outcome).inc()
    child(DAEMON_SECONDS, operation).observe(seconds)


def outcome_of(status: int) -> str:
    return "ok" if status < 400 else "client_error" if status < 500 else "server_error"


# -- the exposition ------------------------------------------------------------------------


class _Now:
    """What is measured at the scrape: each engine's ping (side by side), and the service's
    version."""

    def __init__(self, pings: dict, version):
        self._pings = pings
        self._version = version

    def collect(self):
        with ThreadPoolExecutor(max_workers=max(1, len(self._pings))) as pool:
            measured = dict(zip(self._pings, pool.map(_timed, self._pings.values()), strict=True))
        up = GaugeMetricFamily(
            "dockyard_engine_up",
            "1 when the engine answered its ping at this scrape",
            labels=["engine"],
        )
        took = GaugeMetricFamily(
            "dockyard_engine_ping_seconds",
            "Time the engine took to answer (or fail) its ping at this scrape",
            labels=["engine"],
        )
        for name, (answered, seconds) in measured.items():
            up.add_metric([name], answered)
            took.add_metric([name], seconds)
        yield up
        yield took
        info = GaugeMetricFamily("dockyard_build_info", "The service's version", labels=["version"])
        info.add_metric([self._version], 1)
        yield info


def _timed(ping) -> tuple[bool, float]:
    started = time.monotonic()
    try:
        answered = bool(ping())
    except Exception:
        answered = False
    return answered, time.monotonic() - started


def exposition(pings: dict, version: str) -> tuple[bytes, str]:
    """The metrics in Prometheus's text format (0.0.4: every Prometheus reads it), and its
    media type; ``pings``: each engine's ping, by its name."""
    if MULTIPROCESS:
        shared = CollectorRegistry()
        MultiProcessCollector(shared)
    else:
        shared = REGISTRY
    now = CollectorRegistry()
    now.register(_Now(pings, version))
    # the ping first: its daemon call is counted in this scrape
    measured = generate_latest(now)
    return generate_latest(shared) + measured, CONTENT_TYPE_PLAIN_0_0_4


def process_gone(pid: int) -> None:
    """A worker ended: its live gauges (streams open, ceiling) leave the sums."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)

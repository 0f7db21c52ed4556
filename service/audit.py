"""Request ids and the audit trail: one JSON line per request that may change state.

The line names the token (never the token itself), the engine, the path, the status, and the
object acted on as resolved by the service (a container's full id, not the name that was sent).
"""

import json
import re
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

from flask import current_app, g, request

from . import metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MUTATIONS = ("POST", "PUT", "PATCH", "DELETE")


class AuditTrail:
    """One JSON line per mutating request, to a file or to standard output (`-`)."""

    def __init__(self, target: str):
        self.target = target
        self._lock = threading.Lock()

    def write(self, record: dict):
        line = json.dumps(record) + "\n"
        with self._lock:
            if self.target == "-":
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                with open(self.target, "a", encoding="utf-8") as file:
                    file.write(line)


def init_app(app):
    app.extensions["dockyard_audit"] = AuditTrail(str(app.config["AUDIT_LOG"]))
    app.before_request(_identify)
    app.after_request(_finish)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def resolved(target_id: str) -> str:
    """Record the full id of the object this request acts on, for the audit line."""
    g.target_id = target_id
    return target_id


def _identify():
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.started = time.monotonic()


def _finish(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    # a request that may change state; or one that says what it did (a terminal session)
    extra = g.get("audit")
    if request.method in MUTATIONS or extra is not None:
        metrics.audited(response.status_code)
        current_app.extensions["dockyard_audit"].write(
            {
                "time": now(),
                "request_id": g.get("request_id"),
                "token": getattr(g.get("token"), "name", None),
                "team": getattr(g.get("token"), "team", None),
                "method": request.method,
                "engine": getattr(g.get("engine"), "name", None),
                "path": request.script_root + request.path,
                "target": request.view_args or {},
                "target_id": g.get("target_id"),
                "status": response.status_code,
                "remote": request.remote_addr,
                "ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1000),
                **(extra or {}),
            }
        )
    return response

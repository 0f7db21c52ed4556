"""What a browser may do: the Host it names, the site it comes from, CORS.

A web page on the user's machine can send requests to 127.0.0.1. Two rules keep it out:
the ``Host`` header must name this service (loopback names by default), which defeats DNS
rebinding; and a request that may change state (a WebSocket upgrade included) is refused when
``Origin`` or ``Sec-Fetch-Site`` says it comes from another site, unless that origin is
configured.
Browsers send these headers on every such request, with or without CORS.
"""

from flask import current_app, request
from flask_smorest import abort

from .audit import MUTATIONS
from .routing import websocket_upgrade

# probes are called by address (a pod's, a container's) and reveal nothing
_ANY_HOST = {"system.Health", "system.Ready"}
_SAME_SITE = {"same-origin", "none"}


def init_app(app):
    app.before_request(_check_host)
    app.before_request(_check_site)
    app.after_request(_cors)


def host_name(host: str) -> str:
    """The name of a Host header, its port aside (`[::1]:8000` is `::1`)."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return (host.rsplit(":", 1)[0] if host.count(":") == 1 else host).lower()


def _check_host():
    if request.endpoint in _ANY_HOST:
        return
    allowed = {host_name(name) for name in current_app.config["ALLOWED_HOSTS"]}
    name = host_name(request.host)
    if name not in allowed:
        abort(
            403,
            message=f"rule `allowed-hosts`: this service does not answer to the host name "
            f"`{name[:100]}`; add it to DOCKYARD_ALLOWED_HOSTS if it is its own",
        )


def _check_site():
    # a WebSocket is a GET, and a terminal it opens changes anything
    if request.method not in MUTATIONS and not websocket_upgrade():
        return
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if origin is not None and origin in current_app.config["CORS_ORIGINS"]:
        return
    own = f"{request.scheme}://{request.host}"
    if (origin is None or origin == own) and (site is None or site in _SAME_SITE):
        return
    abort(
        403,
        message=f"rule `cross-site`: a request that may change state came from another site "
        f"(Origin {origin or 'not sent'}, Sec-Fetch-Site {site or 'not sent'}); a web console "
        "must be listed in DOCKYARD_CORS_ORIGINS",
    )


def _cors(response):
    origin = request.headers.get("Origin")
    if not origin or origin not in (current_app.config.get("CORS_ORIGINS") or []):
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, Accept, X-Request-ID"
        )
        response.headers["Access-Control-Max-Age"] = "600"
    return response

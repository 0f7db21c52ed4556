"""The web console: a page and its files (HTML, CSS, JavaScript modules) served from the
package, outside the API's document. The page itself needs no token; its calls to the API send
the one the person types, as a bearer header."""

from importlib.resources import files

from flask import Blueprint, send_from_directory

blp = Blueprint("console", __name__)

ROOT = str(files("service") / "console")
# what the console's pages may load and do: only this origin, no inline code, no framing
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)


@blp.route("/")
@blp.route("/console")
def page():
    return send_from_directory(ROOT, "index.html", max_age=0)


@blp.route("/console/static/<path:filename>")
# what browsers ask on any page of the service (/docs too): the console's icon
@blp.route("/favicon.ico", defaults={"filename": "icon.svg"})
def asset(filename):
    return send_from_directory(ROOT, filename, max_age=0)


@blp.after_request
def _secure(response):
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response

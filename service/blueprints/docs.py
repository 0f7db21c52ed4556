"""Swagger UI's files for /docs, served from the installed bundle so the page needs no internet."""

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

blp = Blueprint("docs_assets", __name__)


@blp.route("/docs/assets/<path:filename>")
def asset(filename):
    return send_from_directory(swagger_ui_path, filename, max_age=86400)

"""Path parameters that keep the routes unambiguous, and say in the spec what they accept.

Image references contain slashes, so ``/images/<ref>`` also matches ``/images/prune`` or
``/images/team/app/history``. These converters decline the words that name another route,
which then matches instead: an image called ``prune`` is reached as ``prune:latest`` or by
its id, a repository ending in ``/history`` with its tag.
"""

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, PathConverter, RequestRedirect, ValidationError

from .policy.teams import TEAM_NAME
from .schemas.fields import CONTAINER_REF, NAME
from .schemas.images import IMAGE, IMAGE_REF_MAX, REPOSITORY, TAG

IMAGE_ROUTES = {"pull", "build", "prune", "import"}
IMAGE_ACTIONS = {"history", "tag", "push", "export"}
# words that name routes beside an object's: an object of that name is reached by its id
CONTAINER_ROUTES = {"prune", "decision"}


class ImageRefConverter(PathConverter):
    def to_python(self, value):
        if value in IMAGE_ROUTES or ("/" in value and value.rsplit("/", 1)[1] in IMAGE_ACTIONS):
            raise ValidationError()
        return value


class ImageNameConverter(ImageRefConverter):
    """An image by name, `repository[:tag]`: what a push sends (the view answers a 400 for an
    id or a digest, which the document's pattern leaves out)."""


class ContainerRefConverter(BaseConverter):
    def to_python(self, value):
        if value in CONTAINER_ROUTES:
            raise ValidationError()
        return value


# volumes and networks have a `prune` route too, and names of the same letters
class VolumeNameConverter(ContainerRefConverter):
    """A volume's name: two characters at least, as the engine has them."""

    def to_python(self, value):
        if len(value) < 2:
            raise ValidationError()
        return super().to_python(value)


class NetworkRefConverter(ContainerRefConverter):
    pass


class SwarmRefConverter(BaseConverter):
    """A service, node, secret or config: id, short id or name (no route shares the path)."""


class TeamNameConverter(BaseConverter):
    """A team's name, as its label holds it."""

    regex = TEAM_NAME


def register_converters(app, api):
    app.url_map.converters["imageref"] = ImageRefConverter
    app.url_map.converters["imagename"] = ImageNameConverter
    app.url_map.converters["containerref"] = ContainerRefConverter
    app.url_map.converters["volumename"] = VolumeNameConverter
    app.url_map.converters["networkref"] = NetworkRefConverter
    app.url_map.converters["swarmref"] = SwarmRefConverter
    app.url_map.converters["teamname"] = TeamNameConverter
    # the patterns say what the converters decline, so that the spec tells the whole truth
    routes = "|".join(sorted(IMAGE_ROUTES))
    actions = "|".join(sorted(IMAGE_ACTIONS))
    not_an_image_route = rf"^(?!(?:{routes})$)(?!.*/(?:{actions})$)"
    image_ref = rf"{not_an_image_route}{IMAGE}$"
    not_a_route = rf"^(?!(?:{'|'.join(sorted(CONTAINER_ROUTES))})$)"
    container_ref = not_a_route + CONTAINER_REF[1:]
    for converter, pattern, what in (
        (ImageRefConverter, image_ref, "image id (full, short, sha256:) or reference"),
        (
            ImageNameConverter,
            rf"{not_an_image_route}{REPOSITORY}(?::{TAG})?$",
            "image name, repository[:tag]",
        ),
    ):
        api.register_converter(
            converter,
            lambda _, pattern=pattern, what=what: {
                "type": "string",
                "minLength": 1,
                "maxLength": IMAGE_REF_MAX,
                "pattern": pattern,
                "description": what,
            },
        )
    api.register_converter(
        ContainerRefConverter,
        lambda _: {
            "type": "string",
            "pattern": container_ref,
            "description": "container id, short id or name",
        },
    )
    api.register_converter(
        TeamNameConverter,
        lambda _: {"type": "string", "pattern": f"^{TEAM_NAME}$", "description": "a team's name"},
    )
    for converter, what, pattern in (
        (VolumeNameConverter, "volume name", rf"{not_a_route}{NAME}$"),
        (NetworkRefConverter, "network id, short id or name", container_ref),
        (SwarmRefConverter, "id, short id or name", container_ref),
    ):
        api.register_converter(
            converter,
            lambda _, what=what, pattern=pattern: {
                "type": "string",
                "pattern": pattern,
                "description": what,
            },
        )


def websocket_upgrade() -> bool:
    """Whether this request asks for a WebSocket, as the router reads it (werkzeug's rule)."""
    connection = request.headers.get("Connection", "").lower().split(",")
    return request.headers.get("Upgrade", "").lower() == "websocket" and any(
        word.strip() == "upgrade" for word in connection
    )


def websocket_path(path: str) -> bool:
    """Whether a WebSocket upgrade (a GET) would be routed at ``path``."""
    upgrade = {**request.environ, "HTTP_UPGRADE": "websocket", "HTTP_CONNECTION": "Upgrade"}
    try:
        current_app.url_map.bind_to_environ(upgrade).match(path, method="GET")
    except (HTTPException, RequestRedirect):
        return False
    return True


def allowed_methods(path: str) -> set[str]:
    """The methods some route really takes at ``path``, converters consulted (a WebSocket's
    GET among them)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    methods = {"GET"} if websocket_path(path) else set()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        try:
            adapter.match(path, method=method)
            methods.add(method)
        except (HTTPException, RequestRedirect):
            continue
    return methods

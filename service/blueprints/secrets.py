"""/secrets and /configs: payloads the swarm keeps and mounts into tasks. A secret's value
goes to the engine and never comes back."""

from flask.views import MethodView

from ..extensions import Blueprint, gateway
from ..guards import list_filters, mine, seen_swarm_object, swarm_ref, team
from ..policy import teams
from ..schemas import ErrorSchema
from ..schemas import swarm as schemas

blp = Blueprint(
    "secrets",
    __name__,
    url_prefix="",
    description="Secrets and configs: create from a body, list, remove; values never returned",
)


def _listed(kind: str, args) -> list[dict]:
    """Secrets or configs, filtered; for a team's token, its team's only."""
    filters = {"label": args["label"], "name": [args["name"]] if args.get("name") else []}
    return mine(f"{kind}s", gateway().list_payloads(kind, list_filters(f"{kind}s", filters)))


def _remove(kind: str, id: str) -> None:
    """Remove a secret or config the token may see (another team's: 404)."""
    record = gateway().payload_record(kind, swarm_ref(id, kind))
    seen_swarm_object(f"{kind}s", id, record)
    gateway().remove_payload(kind, record["ID"])


@blp.route("/secrets")
class Secrets(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.PayloadListArgsSchema, location="query")
    @blp.response(200, schemas.PayloadSchema(many=True))
    @blp.in_swarm
    def get(self, args):
        """List secrets (docker secret ls)

        Names, labels and dates: never a value.
        """
        return _listed("secret", args)

    @blp.requires("write")
    @blp.arguments(schemas.PayloadCreateSchema)
    @blp.response(201, schemas.PayloadSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="the name is in use, or no swarm")
    @blp.in_swarm
    def post(self, args):
        """Create a secret (docker secret create)

        The value (`data`, text) goes to the swarm, encrypted there, and is never answered
        nor logged; a service mounts it under /run/secrets/.
        """
        labels = teams.claim(args["labels"], team())
        return gateway().create_payload("secret", args["name"], args["data"], labels)


@blp.route("/secrets/<swarmref:id>")
class Secret(MethodView):
    @blp.requires("write")
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="no such secret")
    @blp.alt_response(409, schema=ErrorSchema, description="a service uses it, or no swarm")
    @blp.in_swarm
    def delete(self, id):
        """Remove a secret (docker secret rm)

        By id or name; one a service still mounts is refused by the engine.
        """
        _remove("secret", id)


@blp.route("/configs")
class Configs(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.PayloadListArgsSchema, location="query")
    @blp.response(200, schemas.PayloadSchema(many=True))
    @blp.in_swarm
    def get(self, args):
        """List configs (docker config ls)

        Names, labels and dates.
        """
        return _listed("config", args)

    @blp.requires("write")
    @blp.arguments(schemas.PayloadCreateSchema)
    @blp.response(201, schemas.PayloadSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="the name is in use, or no swarm")
    @blp.in_swarm
    def post(self, args):
        """Create a config (docker config create)

        Its content (`data`, text) is kept by the swarm for services to mount.
        """
        labels = teams.claim(args["labels"], team())
        return gateway().create_payload("config", args["name"], args["data"], labels)


@blp.route("/configs/<swarmref:id>")
class Config(MethodView):
    @blp.requires("write")
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="no such config")
    @blp.alt_response(409, schema=ErrorSchema, description="a service uses it, or no swarm")
    @blp.in_swarm
    def delete(self, id):
        """Remove a config (docker config rm)

        By id or name; one a service still mounts is refused by the engine.
        """
        _remove("config", id)

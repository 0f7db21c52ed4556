"""/teams: what each team made or was given, and an administrator giving objects to teams.

An object's teams are the one its label names (the team whose token made it) and those an
administrator gave it to (``service.grants``): the engine cannot relabel a container, a volume
or a network, so a grant is how an object made elsewhere becomes a team's, or one team's
network or volume is shared with another. Only an operator's token (one with no team) with the
`admin` scope lists teams and gives."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from .. import audit, policy
from ..extensions import Blueprint, gateway
from ..grants import KINDS, GrantsUnwritable
from ..guards import (
    given,
    grant_key,
    grants,
    owned_by,
    policy_context,
    team,
    team_list_filters,
)
from ..policy import teams
from ..schemas import ErrorSchema
from ..schemas import teams as schemas

blp = Blueprint(
    "teams",
    __name__,
    url_prefix="/teams",
    description="Teams: what each made or was given; an administrator gives objects to teams",
)

# each kind's list, as its own list endpoint answers it
LISTS = {
    "containers": lambda filters: gateway().list_containers(all=True, filters=filters),
    "volumes": lambda filters: gateway().list_volumes(filters),
    "networks": lambda filters: gateway().list_networks(filters=filters),
    "services": lambda filters: gateway().list_services(filters),
    "secrets": lambda filters: gateway().list_payloads("secret", filters),
    "configs": lambda filters: gateway().list_payloads("config", filters),
}
SWARM_KINDS = ("services", "secrets", "configs")


def operator_only() -> None:
    """Teams are an operator's to see and give: a team's token is refused, whatever its scopes."""
    if team() is not None:
        abort(
            403,
            message="rule `teams`: only an operator's token (one with no team) sees the teams "
            "and gives objects to them",
        )


def kinds_here() -> tuple[str, ...]:
    """The kinds this engine holds: a swarm's only on a swarm manager."""
    if gateway().swarm_state(with_tokens=False)["is_manager"]:
        return KINDS
    return tuple(kind for kind in KINDS if kind not in SWARM_KINDS)


def team_objects(name: str, kind: str) -> list[dict]:
    """What team ``name`` made or was given of ``kind``."""
    listed = LISTS[kind](team_list_filters(kind, {}, name))
    return [
        {
            "id": item.get("id") or item["name"],
            "name": item["name"],
            "given": (item.get("labels") or {}).get(teams.TEAM_LABEL) != name,
        }
        for item in owned_by(kind, listed, name)
    ]


def tokens_of(name: str) -> list[str]:
    return sorted(t.name for t in current_app.extensions["dockyard_tokens"] if t.team == name)


@blp.route("")
class Teams(MethodView):
    @blp.requires("admin")
    @blp.response(200, schemas.TeamSummarySchema(many=True))
    @blp.daemon_call
    def get(self):
        """List the teams: those tokens belong to, those objects carry, those given objects

        One list call a kind (containers, volumes, networks, and a swarm's services, secrets
        and configs), by the team label.
        """
        operator_only()
        names = {t.team for t in current_app.extensions["dockyard_tokens"] if t.team}
        for kind in kinds_here():
            for item in LISTS[kind]({"label": [teams.TEAM_LABEL]}):
                names.add((item.get("labels") or {}).get(teams.TEAM_LABEL))
        given_to = [t for grant in grants().given() for t in grant["teams"]]
        names.update(given_to)
        names.discard(None)
        return [
            {"name": name, "tokens": tokens_of(name), "given": given_to.count(name)}
            for name in sorted(names)
        ]


@blp.route("/<teamname:name>")
class Team(MethodView):
    @blp.requires("admin")
    @blp.response(200, schemas.TeamSchema)
    @blp.daemon_call
    def get(self, name):
        """What a team made and was given: containers, volumes, networks, services, secrets,
        configs

        A team no token belongs to and nothing carries is answered empty, not 404: a team is
        only a name. Images are every team's and are not listed.
        """
        operator_only()
        here = kinds_here()
        return {
            "name": name,
            "tokens": tokens_of(name),
            **{kind: team_objects(name, kind) if kind in here else [] for kind in KINDS},
        }


# each kind's record by id, short id or name, as the engine resolves it
RECORDS = {
    "containers": lambda ref: gateway().container_record(ref),
    "volumes": lambda ref: gateway().volume_record(ref),
    "networks": lambda ref: gateway().network_record(ref),
    "services": lambda ref: gateway().service_record(ref),
    "secrets": lambda ref: gateway().payload_record("secret", ref),
    "configs": lambda ref: gateway().payload_record("config", ref),
}


def described(kind: str, ref: str) -> tuple[dict, str, str, dict]:
    """The engine's record of the object, its id (a volume's name), its name and labels;
    a 404 when there is none."""
    record = RECORDS[kind](ref)
    if record is None:
        abort(404, message=f"no such volume: {ref}")
    if kind == "containers":
        return record, record["Id"], record["Name"].lstrip("/"), record["Config"].get("Labels")
    if kind in ("volumes", "networks"):
        key = record["Name"] if kind == "volumes" else record["Id"]
        return record, key, record["Name"], record.get("Labels")
    return record, record["ID"], record["Spec"]["Name"], record["Spec"].get("Labels")


def writing(action):
    """A change to the grants: a 507 when the grants file cannot be written."""
    try:
        return action()
    except GrantsUnwritable as exc:
        abort(507, message=str(exc))


class Given(MethodView):
    kind = ""

    @blp.requires("admin")
    @blp.response(200, schemas.GrantSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="no such object")
    @blp.alt_response(507, schema=ErrorSchema, description="the grants file cannot be written")
    @blp.daemon_call
    def put(self, name, ref):
        """Give an object to a team as well

        The team's tokens then see and drive it as their own; the team that made it (its
        label) keeps it. A network given to a team is no longer joined by every team. Never
        the service's own container, a volume holding its data, or a predefined network (403).
        """
        operator_only()
        record, key, object_name, labels = described(self.kind, ref)
        policy.check_giving(self.kind, record, policy_context())
        audit.resolved(key)
        created = grant_key(self.kind, record)[1]
        given_to = writing(lambda: grants().give(self.kind, key, object_name, created, name))
        made_by = (labels or {}).get(teams.TEAM_LABEL)
        return {
            "kind": self.kind,
            "id": key,
            "name": object_name,
            "teams": sorted({*given_to, *([made_by] if made_by else [])}),
        }

    @blp.requires("admin")
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="no such object, or not given to it")
    @blp.alt_response(409, schema=ErrorSchema, description="the team made it: its label stays")
    @blp.alt_response(507, schema=ErrorSchema, description="the grants file cannot be written")
    @blp.daemon_call
    def delete(self, name, ref):
        """Take back what was given to a team

        What the team made stays its own (the engine keeps its label): a 409.
        """
        operator_only()
        record, key, _, labels = described(self.kind, ref)
        audit.resolved(key)
        if name not in given(self.kind, record):
            if (labels or {}).get(teams.TEAM_LABEL) == name:
                abort(409, message=f"team {name} made {ref}: its label stays, nothing to take back")
            abort(404, message=f"{ref} was not given to team {name}")
        writing(lambda: grants().take(self.kind, key, name))


# one route a kind, each with its own path parameter
_CONVERTERS = {
    "containers": "containerref",
    "volumes": "volumename",
    "networks": "networkref",
    "services": "swarmref",
    "secrets": "swarmref",
    "configs": "swarmref",
}
for _kind in KINDS:
    blp.route(f"/<teamname:name>/{_kind}/<{_CONVERTERS[_kind]}:ref>", endpoint=f"given_{_kind}")(
        type(f"Given{_kind.title()}", (Given,), {"kind": _kind})
    )

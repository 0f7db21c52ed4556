import marshmallow as ma

from ..grants import KINDS
from . import Reply, Str, doc

Strings = ma.fields.List


class TeamObjectSchema(Reply):
    id = Str(**doc("the object's id (a volume's name)"))
    name = Str(**doc("its name"))
    given = ma.fields.Boolean(
        **doc("true: an administrator gave it to the team; false: the team's token made it")
    )


def _objects(what: str):
    return ma.fields.List(ma.fields.Nested(TeamObjectSchema), **doc(f"the team's {what}"))


class TeamSummarySchema(Reply):
    name = Str(**doc("the team's name, as its label holds it"))
    tokens = Strings(Str(), **doc("the configured tokens of the team, by name"))
    given = ma.fields.Integer(**doc("objects an administrator gave to the team"))


class TeamSchema(Reply):
    name = Str(**doc("the team's name, as its label holds it"))
    tokens = Strings(Str(), **doc("the configured tokens of the team, by name"))
    containers = _objects("containers, running or not")
    volumes = _objects("volumes")
    networks = _objects("networks")
    services = _objects("services (none on an engine in no swarm)")
    secrets = _objects("secrets")
    configs = _objects("configs")


class GrantSchema(Reply):
    kind = Str(validate=ma.validate.OneOf(KINDS), **doc("the kind of object"))
    id = Str(**doc("the object's id (a volume's name)"))
    name = Str(**doc("its name"))
    teams = Strings(
        Str(),
        **doc("every team that sees and drives it now: the one that made it, and those given it"),
    )

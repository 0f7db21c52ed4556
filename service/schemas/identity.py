import marshmallow as ma

from ..scopes import SCOPES
from . import Reply, Str, doc


class WhoAmISchema(Reply):
    name = Str(**doc("the token's name, as configured (`local` when the service is open)"))
    scopes = ma.fields.List(
        Str(validate=ma.validate.OneOf(SCOPES)),
        **doc("the scopes the token holds, in order of power; each operation's `x-scope`"),
    )
    team = Str(
        allow_none=True,
        **doc("the team whose objects alone the token sees and drives; null: an operator's"),
    )
    expires = ma.fields.DateTime(
        allow_none=True, **doc("when the token stops being accepted; null when never")
    )
    engines = ma.fields.List(
        Str(),
        allow_none=True,
        **doc("the engines the token may use, by name; null: every engine (GET /engines)"),
    )

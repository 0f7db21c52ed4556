"""The engines this service drives: /engines. Any path of the API can target one of them by
its name, as `/engines/{name}/...` (service.engines)."""

from flask import current_app
from flask.views import MethodView

from .. import engines
from ..extensions import Blueprint
from ..schemas import ErrorSchema
from ..schemas import engines as schemas

blp = Blueprint("engines", __name__, description="The engines the service drives, by name")


def _timeout() -> float:
    return float(current_app.config["READY_TIMEOUT"])


@blp.route("/engines")
class Engines(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.EngineSchema(many=True))
    def get(self):
        """The engines, each asked now (docker context ls)

        Each engine the token may use: its name, whether it is the default one, how it is
        reached, and, asked now, whether it answers, how fast, its kind (docker or podman), its
        version, the API version spoken to it and its swarm state. They are asked side by
        side, each for `DOCKYARD_READY_TIMEOUT` seconds at most: one that does not answer is
        listed with its `error`, and delays no other. Any path of the API targets an engine as
        `/engines/{name}/...`; plain paths reach the default one.
        """
        chosen = [engine for engine in engines.engines() if engines.may_use(engine.name)]
        return engines.describe_all(chosen, _timeout())


@blp.route("/engines/<string:name>")
class Engine(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.EngineSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="no engine has this name")
    def get(self, name):
        """One engine, asked now

        As in the list; a token limited to other engines gets 403.
        """
        return engines.describe_all([engines.named(name)], _timeout())[0]

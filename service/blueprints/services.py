"""/services: replicated services on the swarm, checked by the container policy."""

from flask.views import MethodView
from flask_smorest import abort

from .. import audit, engines, policy
from ..extensions import Blueprint, gateway
from ..gateway.containers import log_params
from ..gateway.services import service_body, updated_spec
from ..guards import (
    given,
    list_filters,
    mine,
    policy_context,
    seen_swarm_object,
    swarm_ref,
    team,
)
from ..policy import teams
from ..schemas import ErrorSchema, streams
from ..schemas import services as schemas
from ..streaming import NDJSON, SSE, TEXT, logs_answer

blp = Blueprint(
    "services",
    __name__,
    url_prefix="/services",
    description="Services: create, list, inspect, scale, update, roll back, logs, remove",
)


def one_service(func):
    """Document the answers of an operation on one service."""
    func = blp.alt_response(404, schema=ErrorSchema, description="no such service")(func)
    func = blp.alt_response(
        409,
        schema=ErrorSchema,
        description="the engine is not in a swarm (`message` says how to init), or the "
        "service changed meanwhile",
    )(func)
    return blp.daemon_call(func)


def service_record(id: str) -> dict:
    """The engine's record of a service the token may see (another team's: 404)."""
    record = gateway().service_record(swarm_ref(id, "service"))
    seen_swarm_object("services", id, record)
    audit.resolved(record["ID"])
    return record


def judged(spec: dict) -> dict:
    """A spec the swarm is about to run, judged in the engine's form (rule named, 403)."""
    policy.judge_service(spec, policy_context())
    return spec


@blp.route("")
class Services(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.ServiceListArgsSchema, location="query")
    @blp.response(200, schemas.ServiceSchema(many=True))
    @blp.alt_response(409, schema=ErrorSchema, description="not in a swarm: how to init")
    @blp.daemon_call
    def get(self, args):
        """List services (docker service ls)

        With replicas wanted and running, image, ports and the last update's progress; one
        call to the daemon.
        """
        filters = {"label": args["label"], "name": args["name"]}
        return mine("services", gateway().list_services(list_filters("services", filters)))

    @blp.requires("write")
    @blp.arguments(schemas.ServiceCreateSchema)
    @blp.response(201, schemas.ServiceDetailSchema)
    @blp.alt_response(403, schema=ErrorSchema, description="a policy rule refuses it")
    @blp.alt_response(
        409, schema=ErrorSchema, description="the name is in use, or not in a swarm: how to init"
    )
    @blp.daemon_call
    def post(self, args):
        """Create a service (docker service create)

        Every field is checked, then the container policy: bind mounts only under the
        configured roots, volume drivers and options as for containers, never the host's
        network, ports only where the configuration allows publishing on every address (the
        swarm publishes on all of them) and not below 1024; memory and process limits are
        injected when absent. There is no field for privileges. Secrets are named, and
        mounted under /run/secrets/.
        """
        args["labels"] = teams.claim(args["labels"], team())
        spec = policy.shape_service(args, engines.settings(), gateway().volume_record)
        secrets = gateway().secret_references(spec["secrets"])
        # another team's secret is one this token cannot name
        missing = [
            s["name"]
            for s in secrets
            if s["id"] is None or not teams.owns(s["labels"], team(), given("secrets", s))
        ]
        if missing:
            abort(404, message=f"no secret is named {', '.join(missing)}: create it first")
        return gateway().create_service(judged(service_body(spec, secrets)))


@blp.route("/<swarmref:id>")
class Service(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.ServiceDetailSchema)
    @one_service
    def get(self, id):
        """Inspect a service (docker service inspect)

        Its spec in this API's terms, running tasks and the last update's progress.
        """
        return gateway().inspect_service(service_record(id)["ID"])

    @blp.requires("write")
    @blp.response(204)
    @one_service
    def delete(self, id):
        """Remove a service (docker service rm)

        Its tasks are stopped and removed by the swarm.
        """
        gateway().remove_service(service_record(id)["ID"])


@blp.route("/<swarmref:id>/scale")
class Scale(MethodView):
    @blp.requires("operate")
    @blp.arguments(schemas.ScaleSchema)
    @blp.response(200, schemas.ServiceDetailSchema)
    @one_service
    def post(self, args, id):
        """Scale a service to a number of tasks (docker service scale)

        Only a replicated service (a global one runs one task a node: 409), and only one
        whose spec passes the policy as the engine holds it.
        """
        record = service_record(id)
        if "Replicated" not in (record["Spec"].get("Mode") or {}):
            abort(409, message="a global service runs one task a node: it cannot be scaled")
        return gateway().update_service(record, judged(updated_spec(record["Spec"], args)))


@blp.route("/<swarmref:id>/update")
class Update(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.ServiceUpdateSchema)
    @blp.response(200, schemas.ServiceDetailSchema)
    @one_service
    def post(self, args, id):
        """Roll out a new image or settings (docker service update)

        The tasks are replaced batch by batch as `update_config` says; `update_status` on
        the service shows the progress. The spec as it will be, the engine's own with the
        changes applied, passes the policy (a service made elsewhere is judged whole).
        """
        record = service_record(id)
        return gateway().update_service(record, judged(updated_spec(record["Spec"], args)))


@blp.route("/<swarmref:id>/rollback")
class Rollback(MethodView):
    @blp.requires("write")
    @blp.response(200, schemas.ServiceDetailSchema)
    @one_service
    def post(self, id):
        """Roll a service back to its previous spec (docker service rollback)

        The engine's own previous spec, judged by the policy first (another client may have
        set it); a service never updated has none (409).
        """
        record = service_record(id)
        if not record.get("PreviousSpec"):
            abort(409, message="this service has no previous spec to roll back to")
        judged(record["PreviousSpec"])
        return gateway().update_service(record, record["Spec"], rollback=True)


@blp.route("/<swarmref:id>/logs")
class Logs(MethodView):
    @blp.requires("operate")
    @blp.arguments(schemas.ServiceLogsArgsSchema, location="query")
    @blp.streams(
        (TEXT, NDJSON, SSE),
        TEXT,
        (streams.LogLineSchema,),
        description="the output of every task: as written (text), or a `LogLine` a line "
        "(ndjson, SSE events named `stdout` or `stderr`), then `end`; text has no heartbeat "
        "and no last line",
    )
    @one_service
    def get(self, args, id):
        """The output of every task of a service (docker service logs; `follow=true` is -f)

        Streamed as container logs are; with `follow`, until the service goes or the client
        leaves.
        """
        record = service_record(id)
        frames = gateway().service_logs(record["ID"], log_params(args))
        return logs_answer(frames, args["timestamps"])

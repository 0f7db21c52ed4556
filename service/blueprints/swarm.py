"""/swarm, /nodes and /tasks: the engine's own cluster, its nodes and the tasks they run."""

from flask.views import MethodView

from .. import audit
from ..auth import has_scope
from ..errors import SWARM_HINT
from ..extensions import Blueprint, gateway
from ..gateway.swarm import node_summary
from ..guards import list_filters, mine, swarm_ref, team
from ..schemas import ErrorSchema
from ..schemas import swarm as schemas

blp = Blueprint(
    "swarm",
    __name__,
    url_prefix="",
    description="Swarm: the engine's own cluster (init, leave), its nodes and its tasks",
)


@blp.route("/swarm")
class Swarm(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.SwarmSchema)
    @blp.daemon_call
    def get(self):
        """The swarm this engine is in (docker info, docker swarm join-token)

        Whether the engine is a manager, the swarm's id, its managers and workers, and the
        addresses a node joins at. Join tokens are sent only to the `admin` scope (null
        otherwise); on an engine in no swarm, `hint` says how to init one.
        """
        state = gateway().swarm_state(with_tokens=has_scope("admin"))
        state["hint"] = None if state["is_manager"] else SWARM_HINT
        return state


@blp.route("/swarm/init")
class Init(MethodView):
    @blp.requires("admin")
    @blp.arguments(schemas.SwarmInitSchema)
    @blp.response(201, schemas.SwarmSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="the engine is in a swarm already")
    @blp.daemon_call
    def post(self, args):
        """Make this engine a one-node swarm, its manager (docker swarm init)

        Needs `confirm: true`. It listens and advertises on `advertise_addr` (127.0.0.1 by
        default, a one-node swarm on loopback), port 2377, never on every address unless
        told. Answers the swarm, join tokens included.
        """
        advertise = args.get("advertise_addr") or "127.0.0.1"
        host = advertise.rsplit(":", 1)[0] if advertise.count(":") == 1 else advertise
        gateway().init_swarm(
            advertise,
            args.get("listen_addr") or f"{host}:2377",
            args.get("data_path_addr") or host,
            args["force_new_cluster"],
        )
        return {**gateway().swarm_state(with_tokens=True), "hint": None}


@blp.route("/swarm/leave")
class Leave(MethodView):
    @blp.requires("admin")
    @blp.arguments(schemas.SwarmLeaveSchema)
    @blp.response(200, schemas.SwarmSchema)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="the engine is in no swarm, or is a manager and `force` was not given",
    )
    @blp.daemon_call
    def post(self, args):
        """Leave the swarm (docker swarm leave; `force` is --force)

        Needs `confirm: true`; a manager needs `force: true` as the engine asks, and a last
        manager's leaving ends the swarm and its services. Answers the engine's state after.
        """
        gateway().leave_swarm(args["force"])
        state = gateway().swarm_state(with_tokens=False)
        return {**state, "hint": SWARM_HINT}


@blp.route("/nodes")
class Nodes(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.NodeListArgsSchema, location="query")
    @blp.response(200, schemas.NodeSchema(many=True))
    @blp.in_swarm
    def get(self, args):
        """List the swarm's nodes (docker node ls)

        Each with its role, availability and state; one call to the daemon.
        """
        return gateway().list_nodes({"role": [args["role"]]} if args.get("role") else None)


@blp.route("/nodes/<swarmref:id>")
class Node(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.NodeSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="no such node")
    @blp.in_swarm
    def get(self, id):
        """Inspect a node (docker node inspect)

        By id, short id or host name.
        """
        return node_summary(gateway().node_record(swarm_ref(id, "node")))


@blp.route("/nodes/<swarmref:id>/update")
class NodeUpdate(MethodView):
    @blp.requires("admin")
    @blp.arguments(schemas.NodeUpdateSchema)
    @blp.response(200, schemas.NodeSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="no such node")
    @blp.in_swarm
    def post(self, args, id):
        """Change a node's availability or labels (docker node update)

        `drain` moves its tasks to other nodes (on a one-node swarm, they wait), `pause`
        keeps them but schedules no new one, `active` takes work again. Needs `admin`: it
        moves every service's tasks.
        """
        record = gateway().node_record(swarm_ref(id, "node"))
        audit.resolved(record["ID"])
        return gateway().update_node(record, args)


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.TaskListArgsSchema, location="query")
    @blp.response(200, schemas.TaskSchema(many=True))
    @blp.in_swarm
    def get(self, args):
        """List tasks (docker service ps, docker node ps)

        Filtered by `service`, `node`, `desired_state` and `label`; one call to the daemon.
        """
        filters = {
            "service": [args["service"]] if args.get("service") else [],
            "node": [args["node"]] if args.get("node") else [],
            "desired-state": [args["desired_state"]] if args.get("desired_state") else [],
            "label": args["label"],
        }
        if team():
            # a team's token: the tasks of its team's services only
            services = mine("services", gateway().list_services(list_filters("services", {})))
            ours = {s["id"] for s in services} | {s["name"] for s in services}
            filters["service"] = [s for s in filters["service"] or ours if s in ours]
            if not filters["service"]:
                return []
        return gateway().list_tasks(filters)

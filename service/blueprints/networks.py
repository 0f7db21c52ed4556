"""/networks: communication between containers."""

import ipaddress
import re

from flask.views import MethodView
from flask_smorest import abort

from .. import audit, policy
from ..extensions import Blueprint, cached, gateway
from ..guards import guard, list_filters, mine, own_container, seen_network, team
from ..policy import teams
from ..schemas import ErrorSchema
from ..schemas import networks as schemas

blp = Blueprint(
    "networks",
    __name__,
    url_prefix="/networks",
    description="Networks: list, create, inspect, connect and disconnect containers, remove, prune",
)


def network_ref(id: str) -> str:
    """The {id} of a path, checked: an id, a short id or a name, else a 400."""
    if not re.fullmatch(schemas.NETWORK_REF, id):
        abort(400, message=f"`{id}` is not a network id or name")
    return id


def network_record(id: str, cached: bool = False) -> dict:
    """The engine's record of the network a path names, its full id kept for the audit."""
    record = seen_network(network_ref(id), cached)
    audit.resolved(record["Id"])
    return record


def one_network(func):
    """Document the answers of an operation on one network."""
    func = blp.alt_response(404, schema=ErrorSchema, description="no such network")(func)
    func = blp.alt_response(400, schema=ErrorSchema, description="not a network id or name")(func)
    return blp.daemon_call(func)


@blp.route("")
class Networks(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.arguments(schemas.NetworkListArgsSchema, location="query")
    @blp.response(200, schemas.NetworkSchema(many=True))
    @blp.daemon_call
    def get(self, args):
        """List networks (docker network ls)

        Answered from the engine's mirror, without the daemon; else (`Cache-Control:
        no-cache`, a filter it does not apply) by one call to the daemon, however many
        networks there are. Filters narrow the list; a list entry has no `containers`:
        inspect the network for them.
        """
        filters = {key: args[key] for key in schemas.LIST_FILTERS if args.get(key)}
        if "dangling" in args:
            filters["dangling"] = args["dangling"]
        filters = list_filters("networks", filters)
        return mine("networks", gateway().list_networks(filters=filters, cached=cached()))

    @blp.requires("write")
    @blp.arguments(schemas.NetworkCreateSchema)
    @blp.response(201, schemas.NetworkDetailSchema)
    @blp.alt_response(
        400, schema=ErrorSchema, description="the engine cannot make a network of this driver"
    )
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="the name is taken, the subnet overlaps another network's, no address "
        "range is free, or the driver needs a swarm",
    )
    @blp.daemon_call
    def post(self, args):
        """Create a network (docker network create)

        The addresses are checked before the daemon sees them: `subnet` a range with its host
        bits clear, `gateway` and `ip_range` inside it, of the same IP version (each error
        names its field, 422). A name in use or a subnet overlapping another network's is a
        409 that names what is in the way. Answers the network as inspect does.
        """
        args["labels"] = teams.claim(args.get("labels"), team())
        return gateway().create_network(args)


@blp.route("/prune")
class Prune(MethodView):
    @blp.requires("admin", team_scope="write")
    @blp.arguments(schemas.NetworkPruneSchema)
    @blp.response(200, schemas.NetworkPruneReportSchema)
    @blp.daemon_call
    def post(self, args):
        """Remove unused networks (docker network prune)

        A network no running container is attached to is unused, as the engine counts it
        (a stopped container does not keep one); predefined networks always stay. `label`
        and `until` narrow what goes. Reports the names removed.
        """
        labels = teams.team_filters({"label": args["label"]}, team())["label"]
        return gateway().prune_networks(labels, args.get("until"))


@blp.route("/<networkref:id>")
class Network(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.response(200, schemas.NetworkDetailSchema)
    @one_network
    def get(self, id):
        """Inspect a network, with the containers attached and their addresses

        By id, short id or name. `containers` lists the running containers attached, each
        with its IPv4, IPv6 and MAC address on the network.
        """
        return gateway().inspect_network(network_record(id, cached())["Id"], cached())

    @blp.requires("write")
    @blp.arguments(schemas.RemoveArgsSchema, location="query")
    @blp.response(204)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="containers are attached (use `force`); `message` names them",
    )
    @one_network
    def delete(self, args, id):
        """Remove a network (docker network rm)

        While containers are attached, running or not, it is a 409 naming them, unless
        `force=true`, which disconnects each first. Predefined networks (`bridge`, `host`,
        `none`, swarm's `ingress` and `docker_gwbridge`) are never removed (403, rule
        `predefined-network`), nor one the service's own container is attached to.
        """
        record = network_record(id)
        policy.check_network_removal(record)
        users = gateway().network_users(record["Name"])
        for user in users:
            policy.check_not_self(user["id"], own_container())
        if users and not args["force"]:
            names = ", ".join(f"`{user['name']}`" for user in users)
            abort(
                409,
                message=f"network `{record['Name']}` has containers attached: {names}; "
                "disconnect them first, or remove with force=true",
            )
        gateway().remove_network(record["Id"], detach=[user["id"] for user in users])


def _address_check(record: dict, address: str | None) -> None:
    """A chosen address must lie in one of the network's own subnets: a 400 otherwise."""
    if not address:
        return
    chosen = ipaddress.ip_address(address)
    configs = (record.get("IPAM") or {}).get("Config") or []
    subnets = [
        subnet
        for subnet in (
            ipaddress.ip_network(c["Subnet"], strict=False) for c in configs if c.get("Subnet")
        )
        if subnet.version == chosen.version
    ]
    if not subnets:
        abort(
            400,
            message=f"network `{record['Name']}` has no IPv{chosen.version} subnet of its own: "
            "an address can only be chosen on a network created with a `subnet`",
        )
    if not any(chosen in subnet for subnet in subnets):
        ranges = ", ".join(str(subnet) for subnet in subnets)
        abort(400, message=f"{chosen} is not in network `{record['Name']}`'s subnet ({ranges})")


@blp.route("/<networkref:id>/connect")
class Connect(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.ConnectSchema)
    @blp.response(204)
    @blp.alt_response(
        409, schema=ErrorSchema, description="already connected, or the address is taken"
    )
    @one_network
    def post(self, args, id):
        """Connect a container to a network (docker network connect)

        The container (id, short id or name) joins the network, reachable there by its name
        and its `aliases`; `ipv4_address` and `ipv6_address` must lie in the network's own
        subnet. The host's network is refused (403, rule `host-network`), and so is the
        service's own container. Needs `write`: it changes who may reach the container.
        """
        record = network_record(id)
        policy.judge_network(record, "network")
        full = guard(args["container"])
        for field in ("ipv4_address", "ipv6_address"):
            _address_check(record, args.get(field))
        joined = (gateway().container_record(full).get("NetworkSettings") or {}).get("Networks")
        if record["Name"] in (joined or {}):
            abort(
                409,
                message=f"container `{args['container']}` is already connected to network "
                f"`{record['Name']}`",
            )
        gateway().connect_network(
            record,
            full,
            aliases=args["aliases"],
            ipv4=args.get("ipv4_address"),
            ipv6=args.get("ipv6_address"),
        )


@blp.route("/<networkref:id>/disconnect")
class Disconnect(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.DisconnectSchema)
    @blp.response(204)
    @blp.alt_response(409, schema=ErrorSchema, description="the container is not connected")
    @one_network
    def post(self, args, id):
        """Disconnect a container from a network (docker network disconnect)

        The container (id, short id or name) leaves the network; one that is not connected
        is a 409. The service's own container is never disconnected (403).
        """
        record = network_record(id)
        gateway().disconnect_network(record, guard(args["container"]), force=args["force"])

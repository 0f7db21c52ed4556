"""Schemas of /swarm, /nodes, /tasks, /secrets and /configs."""

import ipaddress

import marshmallow as ma

from . import (
    ADDRESS_MAX,
    Bool,
    Int,
    Pattern,
    QueryArgsSchema,
    Reply,
    Schema,
    Str,
    doc,
    label_filters,
    label_map,
)
from .fields import name_string

SECRET_MAX = 500 * 1024  # what the engine takes for one secret or config


def _address(value: str) -> None:
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError as exc:
        raise ma.ValidationError("an IP address, with `:port` if need be") from exc
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ma.ValidationError("a port is 1 to 65535")


def address_field(description):
    return Str(validate=[ma.validate.Length(max=ADDRESS_MAX), _address], **doc(description))


class SwarmInitSchema(Schema):
    confirm = Bool(
        required=True,
        validate=ma.validate.Equal(
            True, error="say `confirm: true`: it turns the engine into a swarm manager"
        ),
        **doc("must be true: the engine becomes a swarm manager"),
    )
    advertise_addr = address_field(
        "address other nodes reach this one at (127.0.0.1 by default: a one-node swarm)"
    )
    listen_addr = address_field("where the manager listens; the advertised address, port 2377")
    data_path_addr = address_field("address for the tasks' traffic; the advertised one")
    force_new_cluster = Bool(load_default=False, **doc("a new cluster from this node's state"))


class SwarmLeaveSchema(Schema):
    confirm = Bool(
        required=True,
        validate=ma.validate.Equal(True, error="say `confirm: true`: the engine leaves its swarm"),
        **doc("must be true: the engine leaves its swarm, its services with it"),
    )
    force = Bool(
        load_default=False,
        **doc("needed on a manager (the engine asks for it): a last manager ends the swarm"),
    )


class JoinTokensSchema(Reply):
    worker = Str(**doc("token a worker joins with"))
    manager = Str(**doc("token a manager joins with"))


class SwarmSchema(Reply):
    state = Str(**doc("inactive, pending, active, error or locked (this engine in a swarm)"))
    is_manager = Bool(**doc("this engine is a manager: swarm endpoints work here"))
    id = Str(allow_none=True, **doc("the swarm's id; null when not a manager"))
    created = ma.fields.DateTime(allow_none=True, **doc("when the swarm was made"))
    node_id = Str(allow_none=True, **doc("this engine's node id"))
    node_addr = Str(allow_none=True, **doc("this engine's address in the swarm"))
    managers = Int(**doc("manager nodes"))
    workers = Int(**doc("worker nodes"))
    join_addresses = ma.fields.List(Str(), **doc("managers' addresses a node joins at"))
    join_tokens = ma.fields.Nested(
        JoinTokensSchema, allow_none=True, **doc("join tokens: only for the `admin` scope")
    )
    hint = Str(allow_none=True, **doc("what to do when this engine is not a manager"))


class NodeSchema(Reply):
    id = Str(**doc("node id"))
    hostname = Str(**doc("host name"))
    role = Str(**doc("manager or worker"))
    availability = Str(**doc("active, pause or drain"))
    state = Str(**doc("ready, down, unknown or disconnected"))
    address = Str(allow_none=True, **doc("its address"))
    leader = Bool(**doc("it leads the managers"))
    engine_version = Str(allow_none=True, **doc("its Docker version"))
    labels = ma.fields.Dict(Str(), Str(), **doc("node labels (for placement constraints)"))


class NodeUpdateSchema(Schema):
    availability = Str(
        validate=ma.validate.OneOf(["active", "pause", "drain"]),
        **doc("`drain` moves its tasks away, `pause` schedules no new ones"),
    )
    labels = label_map("node labels, replacing the current ones")


class NodeListArgsSchema(QueryArgsSchema):
    role = Str(validate=ma.validate.OneOf(["manager", "worker"]), **doc("only this role"))


class TaskListArgsSchema(QueryArgsSchema):
    service = Str(validate=Pattern(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$"), **doc("of a service"))
    node = Str(validate=Pattern(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$"), **doc("on a node"))
    desired_state = Str(
        validate=ma.validate.OneOf(["running", "shutdown", "accepted"]),
        **doc("what the swarm wants of it"),
    )
    label = label_filters(doc("only tasks with this label (repeatable)"))


class TaskSchema(Reply):
    id = Str(**doc("task id"))
    service_id = Str(**doc("its service"))
    node_id = Str(allow_none=True, **doc("the node it was given to"))
    slot = Int(allow_none=True, **doc("its slot in a replicated service"))
    image = Str(allow_none=True, **doc("image it runs"))
    desired_state = Str(**doc("what the swarm wants of it: running, shutdown..."))
    state = Str(**doc("where it is: new, pending, running, complete, failed, shutdown..."))
    message = Str(allow_none=True, **doc("the state in words"))
    error = Str(allow_none=True, **doc("why it failed"))
    container_id = Str(allow_none=True, **doc("its container on its node"))
    created = ma.fields.DateTime(allow_none=True, **doc("when it was made"))
    updated = ma.fields.DateTime(allow_none=True, **doc("when its state last changed"))


class PayloadCreateSchema(Schema):
    name = name_string(required=True, **doc("its name"))
    data = Str(
        required=True,
        validate=ma.validate.Length(min=1, max=SECRET_MAX),
        **doc(f"its content, as text (at most {SECRET_MAX} characters)"),
    )
    labels = label_map("labels")


class PayloadSchema(Reply):
    id = Str(**doc("its id"))
    name = Str(**doc("its name"))
    labels = ma.fields.Dict(Str(), Str(), **doc("labels"))
    created = ma.fields.DateTime(allow_none=True, **doc("when it was made"))
    updated = ma.fields.DateTime(allow_none=True, **doc("when it last changed"))


class PayloadListArgsSchema(QueryArgsSchema):
    label = label_filters(doc("only those with this label (repeatable)"))
    name = Str(validate=ma.validate.Length(min=1, max=128), **doc("name contains this"))

"""Schemas of /services: a service spec checked as a container's is, from the same fields."""

import marshmallow as ma

from . import (
    FILTERS_MAX,
    MOUNTS_MAX,
    NAME_MAX,
    PORTS_MAX,
    Bool,
    Int,
    Pattern,
    QueryArgsSchema,
    RedactedSchema,
    Reply,
    Schema,
    Str,
    absent,
    doc,
    given,
    label_filters,
    label_map,
    most,
    when,
)
from .containers import LogsArgsSchema
from .fields import (
    CONTAINER_REF,
    AbsolutePath,
    MountSchema,
    command_field,
    cpus_field,
    env_map,
    memory_field,
    name_string,
    pids_field,
    user_field,
)
from .images import reference_field

# a service, task, node, secret or config as a path addresses it: id, short id or name
SWARM_REF = CONTAINER_REF
REPLICAS_MAX = 100
NETWORKS_MAX = 16
CONSTRAINTS_MAX = 32
SECRETS_MAX = 64
# a Go duration in nanoseconds is at most ~292 years; these are seconds, bounded lower
SECONDS_MAX = 86400

_CONSTRAINT = Pattern(
    r"^[A-Za-z0-9_.-]{1,128} ?(==|!=) ?[^\x00-\x1f]{1,256}$",
    error="a constraint is `attribute==value` or `attribute!=value`, e.g. `node.role==manager`",
)


class ServicePortSchema(Schema):
    target_port = Int(
        required=True, validate=ma.validate.Range(1, 65535), **doc("port inside the tasks")
    )
    published_port = Int(
        allow_none=True,
        validate=ma.validate.Range(1, 65535),
        **doc("port published on every node; none for one the engine picks"),
    )
    protocol = Str(
        load_default="tcp", validate=ma.validate.OneOf(["tcp", "udp", "sctp"]), **doc("protocol")
    )
    publish_mode = Str(
        load_default="ingress",
        validate=ma.validate.OneOf(["ingress", "host"]),
        **doc("`ingress` (the routing mesh: every node) or `host` (the node running the task)"),
    )


class ResourcesSchema(Schema):
    memory = memory_field()
    cpus = cpus_field()
    pids_limit = pids_field()


class ServiceRestartSchema(Schema):
    condition = Str(
        load_default="any",
        validate=ma.validate.OneOf(["none", "on-failure", "any"]),
        **doc("when a task that ended is replaced"),
    )
    delay = ma.fields.Float(
        validate=ma.validate.Range(0, SECONDS_MAX), **doc("seconds between restarts")
    )
    max_attempts = Int(
        validate=ma.validate.Range(0, 1000), **doc("restarts at most this many times (0: no limit)")
    )


class UpdateConfigSchema(Schema):
    parallelism = Int(
        validate=ma.validate.Range(0, REPLICAS_MAX), **doc("tasks updated at once (0: all)")
    )
    delay = ma.fields.Float(
        validate=ma.validate.Range(0, SECONDS_MAX), **doc("seconds between batches")
    )
    failure_action = Str(
        validate=ma.validate.OneOf(["pause", "continue", "rollback"]),
        **doc("what a failed update does"),
    )
    order = Str(
        validate=ma.validate.OneOf(["stop-first", "start-first"]),
        **doc("stop the old task before starting the new one, or the reverse"),
    )
    monitor = ma.fields.Float(
        validate=ma.validate.Range(0, SECONDS_MAX),
        **doc("seconds a new task is watched for failure"),
    )


class SecretRefSchema(Schema):
    name = name_string(required=True, **doc("the secret's name"))
    target = Str(
        validate=Pattern(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$", error="a file name"),
        **doc("file name under /run/secrets/ in the tasks; the secret's name by default"),
    )


class ServiceCreateSchema(Schema):
    document_rules = (when(given("mode", {"const": "global"}), absent("replicas")),)

    name = name_string(required=True, **doc("service name"))
    image = Str(required=True, validate=reference_field, **doc("image its tasks run"))
    command = command_field("command and arguments, replacing the image's CMD")
    entrypoint = command_field("entrypoint, replacing the image's ENTRYPOINT")
    env = env_map("environment variables, by name")
    mode = Str(
        load_default="replicated",
        validate=ma.validate.OneOf(["replicated", "global"]),
        **doc("`replicated` (`replicas` tasks) or `global` (one task on every node)"),
    )
    replicas = Int(
        validate=ma.validate.Range(0, REPLICAS_MAX),
        **doc(f"replicated: tasks to run (1 by default, at most {REPLICAS_MAX})"),
    )
    ports = ma.fields.List(
        ma.fields.Nested(ServicePortSchema),
        validate=most(PORTS_MAX),
        load_default=list,
        **doc("ports to publish; the swarm publishes on every address of the node"),
    )
    mounts = ma.fields.List(
        ma.fields.Nested(MountSchema),
        validate=most(MOUNTS_MAX),
        load_default=list,
        **doc("volumes, binds and tmpfs mounts of each task, under the container policy"),
    )
    networks = ma.fields.List(
        name_string(),
        validate=most(NETWORKS_MAX),
        load_default=list,
        **doc("networks (overlay) the tasks join, by name"),
    )
    constraints = ma.fields.List(
        Str(validate=[ma.validate.Length(max=400), _CONSTRAINT]),
        validate=most(CONSTRAINTS_MAX),
        load_default=list,
        **doc("placement constraints, e.g. `node.role==manager`"),
    )
    resources = ma.fields.Nested(ResourcesSchema, **doc("limits of each task"))
    restart_policy = ma.fields.Nested(ServiceRestartSchema, **doc("restart policy"))
    update_config = ma.fields.Nested(UpdateConfigSchema, **doc("how an update rolls"))
    labels = label_map("labels of the service and of its tasks' containers")
    secrets = ma.fields.List(
        ma.fields.Nested(SecretRefSchema),
        validate=most(SECRETS_MAX),
        load_default=list,
        **doc("secrets mounted as files under /run/secrets/"),
    )
    working_dir = AbsolutePath(**doc("working directory of the command"))
    user = user_field()
    read_only = Bool(load_default=False, **doc("mount the root filesystem read-only"))

    @ma.validates_schema
    def _replicas_need_replicated(self, data, **kwargs):
        if data.get("mode") == "global" and "replicas" in data:
            raise ma.ValidationError("a global service runs one task a node", "replicas")
        targets = [mount["target"] for mount in data.get("mounts") or []]
        twice = sorted({target for target in targets if targets.count(target) > 1})
        if twice:
            raise ma.ValidationError(f"two mounts on one target: {', '.join(twice)}", "mounts")


class ServiceUpdateSchema(Schema):
    image = Str(validate=reference_field, **doc("the new image, rolled out task by task"))
    command = command_field("a new command")
    env = env_map("environment variables, replacing the current ones")
    resources = ma.fields.Nested(ResourcesSchema, **doc("new limits of each task"))
    update_config = ma.fields.Nested(UpdateConfigSchema, **doc("how this and later updates roll"))
    force = Bool(load_default=False, **doc("replace every task even if nothing changed"))


class ScaleSchema(Schema):
    replicas = Int(
        required=True, validate=ma.validate.Range(0, REPLICAS_MAX), **doc("tasks to run")
    )


class ServiceListArgsSchema(QueryArgsSchema):
    label = label_filters(doc("only services with this label, `key` or `key=value` (repeatable)"))
    name = ma.fields.List(
        Str(validate=ma.validate.Length(min=1, max=NAME_MAX)),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("name contains this (repeatable)"),
    )


class ServiceLogsArgsSchema(LogsArgsSchema):
    class Meta(LogsArgsSchema.Meta):
        exclude = ("until",)


class ServicePortOutSchema(Reply):
    target_port = Int(**doc("port inside the tasks"))
    published_port = Int(allow_none=True, **doc("port published on the nodes"))
    protocol = Str(**doc("tcp, udp or sctp"))
    publish_mode = Str(**doc("ingress or host"))


class UpdateStatusSchema(Reply):
    state = Str(
        allow_none=True,
        **doc(
            "updating, paused, completed, rollback_started, rollback_paused, "
            "rollback_completed; null before any update"
        ),
    )
    started_at = ma.fields.DateTime(allow_none=True, **doc("when it started"))
    completed_at = ma.fields.DateTime(allow_none=True, **doc("when it ended"))
    message = Str(allow_none=True, **doc("the engine's words on it"))


class ServiceSchema(Reply):
    id = Str(**doc("service id"))
    name = Str(**doc("service name"))
    image = Str(**doc("image its tasks run"))
    mode = Str(**doc("replicated or global"))
    replicas = Int(allow_none=True, **doc("tasks wanted; null for a global service"))
    running = Int(**doc("tasks running"))
    desired = Int(**doc("tasks the swarm means to run (a global service: one a node)"))
    ports = ma.fields.List(ma.fields.Nested(ServicePortOutSchema), **doc("published ports"))
    update_status = ma.fields.Nested(UpdateStatusSchema, **doc("the last update's progress"))
    labels = ma.fields.Dict(Str(), Str(), **doc("labels"))
    created = ma.fields.DateTime(allow_none=True, **doc("when it was created"))
    updated = ma.fields.DateTime(allow_none=True, **doc("when it last changed"))


class ServiceDetailSchema(ServiceSchema, RedactedSchema):
    command = ma.fields.List(Str(), allow_none=True, **doc("command (arguments)"))
    env = ma.fields.Dict(
        Str(), Str(), **doc("environment, by name (secret-looking values hidden from non-admins)")
    )
    networks = ma.fields.List(Str(), **doc("ids of the networks its tasks join"))
    constraints = ma.fields.List(Str(), **doc("placement constraints"))
    secrets = ma.fields.List(Str(), **doc("names of the secrets it mounts"))
    mounts = ma.fields.List(ma.fields.Dict(), **doc("mounts: type, source, target, read_only"))
    memory = Int(allow_none=True, **doc("memory limit of each task, in bytes"))
    cpus = ma.fields.Float(allow_none=True, **doc("CPU limit of each task"))
    pids_limit = Int(allow_none=True, **doc("process limit of each task"))
    has_previous = Bool(**doc("there is a previous spec to roll back to"))
    version = Int(**doc("the spec's version index in the swarm"))

import marshmallow as ma

from . import (
    ALIASES_MAX,
    CHANGE_MAX,
    CHANGES_MAX,
    CHANGES_TOTAL_MAX,
    COMMIT_AUTHOR_MAX,
    COMMIT_MESSAGE_MAX,
    FILTERS_MAX,
    MOUNTS_MAX,
    PORTS_MAX,
    Bool,
    DaemonTimes,
    Int,
    Pattern,
    QueryArgsSchema,
    RedactedSchema,
    Reply,
    Schema,
    Str,
    doc,
    given,
    label_filters,
    label_map,
    most,
    time_filter,
    until_filter,
    when,
)
from .fields import (
    AbsolutePath,
    MountSchema,
    PortSchema,
    RestartPolicySchema,
    command_field,
    cpus_field,
    env_map,
    filter_list,
    memory_field,
    name_string,
    pids_field,
    user_field,
)
from .images import ImageDetailSchema, reference_field, repository_field, tag_field


class ContainerCreateSchema(Schema):
    document_rules = (when(given("aliases", {"minItems": 1}), given("network")),)

    image = Str(required=True, validate=reference_field, **doc("image to run, by reference or id"))
    name = name_string(**doc("container name; one is made up when absent"))
    command = command_field("command and arguments, replacing the image's CMD")
    entrypoint = command_field("entrypoint, replacing the image's ENTRYPOINT")
    env = env_map("environment variables, by name")
    ports = ma.fields.List(
        ma.fields.Nested(PortSchema),
        validate=most(PORTS_MAX),
        load_default=list,
        **doc("ports to publish on the host"),
    )
    mounts = ma.fields.List(
        ma.fields.Nested(MountSchema),
        validate=most(MOUNTS_MAX),
        load_default=list,
        **doc("volumes, binds and tmpfs mounts, each on its own target"),
    )
    network = name_string(**doc("network to connect to instead of the default"))
    aliases = ma.fields.List(
        name_string(),
        validate=most(ALIASES_MAX),
        load_default=list,
        **doc("names on `network` for this container (only with `network`)"),
    )
    restart_policy = ma.fields.Nested(RestartPolicySchema, **doc("restart policy"))
    labels = label_map("labels to set on the container")
    working_dir = AbsolutePath(**doc("working directory of the command"))
    user = user_field()
    hostname = Str(
        validate=Pattern(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"),
        **doc("host name inside the container"),
    )
    memory = memory_field()
    cpus = cpus_field()
    pids_limit = pids_field()
    read_only = Bool(load_default=False, **doc("mount the container's root filesystem read-only"))
    tty = Bool(load_default=False, **doc("give the command a terminal"))
    stdin_open = Bool(
        load_default=False,
        **doc("keep its standard input open (docker run -i): with `tty`, a terminal to attach to"),
    )
    start = Bool(load_default=False, **doc("start it too (docker run)"))
    pull = Str(
        load_default="never",
        validate=ma.validate.OneOf(["never", "missing"]),
        **doc("pull the image first when it is not present (`missing`), or not (`never`)"),
    )

    @ma.validates_schema
    def _aliases_need_a_network(self, data, **kwargs):
        if data.get("aliases") and not data.get("network"):
            raise ma.ValidationError("aliases are names on a `network`: name it", "aliases")

    @ma.validates_schema
    def _one_mount_a_target(self, data, **kwargs):
        targets = [mount["target"] for mount in data.get("mounts") or []]
        twice = sorted({target for target in targets if targets.count(target) > 1})
        if twice:
            # the engine refuses it too
            raise ma.ValidationError(f"two mounts on one target: {', '.join(twice)}", "mounts")


class PolicyDecisionSchema(Reply):
    sometimes_absent = ("engine_config",)

    allowed = Bool(**doc("whether the policy lets the container be created"))
    rule = Str(allow_none=True, **doc("the rule that refused it; null when allowed"))
    message = Str(**doc("the decision in words"))
    engine_config = ma.fields.Dict(
        **doc("only when allowed: the body the daemon would be sent (Engine API create)")
    )


class ContainerListArgsSchema(QueryArgsSchema):
    all = Bool(load_default=False, **doc("also stopped containers (docker ps -a)"))
    status = ma.fields.List(
        Str(
            validate=ma.validate.OneOf(
                ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
            )
        ),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("only containers in this state (repeatable)"),
    )
    label = label_filters(doc("only containers with this label, `key` or `key=value` (repeatable)"))
    name = filter_list(256, "name contains this")
    ancestor = filter_list(512, "made from this image")
    network = filter_list(256, "connected to this")
    volume = filter_list(4096, "mounting this")


LIST_FILTERS = ("status", "label", "name", "ancestor", "network", "volume")


class BulkRemoveArgsSchema(ContainerListArgsSchema):
    force = Bool(
        required=True,
        validate=ma.validate.Equal(True, error="removing many containers needs force=true"),
        **doc("must be true: running containers are killed first"),
    )
    volumes = Bool(load_default=False, **doc("also remove their anonymous volumes"))


class PortOutSchema(Reply):
    container_port = Int(**doc("port inside the container"))
    protocol = Str(**doc("tcp, udp or sctp"))
    host_ip = Str(allow_none=True, **doc("host address it is published on"))
    host_port = Int(allow_none=True, **doc("host port it is published on"))


class MountOutSchema(Reply):
    type = Str(**doc("volume, bind or tmpfs"))
    name = Str(allow_none=True, **doc("volume name"))
    source = Str(allow_none=True, **doc("path on the host"))
    destination = Str(**doc("path in the container"))
    read_only = Bool(**doc("mounted read-only"))


class NetworkOutSchema(Reply):
    name = Str(**doc("network name"))
    ip_address = Str(allow_none=True, **doc("the container's address on it"))
    gateway = Str(allow_none=True, **doc("the network's gateway"))
    mac_address = Str(allow_none=True, **doc("the container's MAC address on it"))
    aliases = ma.fields.List(Str(), **doc("the container's names on it"))


class ContainerSchema(RedactedSchema):
    id = Str(**doc("container id, 64 hex digits"))
    short_id = Str(**doc("the id's first 12 hex digits"))
    name = Str(**doc("container name"))
    image = Str(**doc("image as it was asked for"))
    image_id = Str(**doc("id of the image"))
    command = Str(
        **doc("the process it runs, path and arguments joined by spaces, as `docker ps` shows it")
    )
    state = Str(**doc("created, running, paused, restarting, removing, exited or dead"))
    status = Str(
        **doc(
            "state in words, as `docker ps` shows it, e.g. `Up 3 minutes`, `Exited (0) 1 hour ago`"
        )
    )
    created = ma.fields.DateTime(allow_none=True, **doc("when it was created"))
    ports = ma.fields.List(ma.fields.Nested(PortOutSchema), **doc("published ports"))
    labels = ma.fields.Dict(Str(), Str(), **doc("labels"))
    networks = ma.fields.List(ma.fields.Nested(NetworkOutSchema), **doc("networks it is on"))
    mounts = ma.fields.List(ma.fields.Nested(MountOutSchema), **doc("mounts"))


class StateSchema(Reply):
    status = Str(**doc("created, running, paused, restarting, removing, exited or dead"))
    running = Bool(**doc("it runs (paused included)"))
    paused = Bool(**doc("it is paused"))
    restarting = Bool(**doc("it is restarting"))
    oom_killed = Bool(**doc("it was killed for lack of memory"))
    dead = Bool(**doc("it is dead"))
    pid = Int(allow_none=True, **doc("its main process on the host"))
    exit_code = Int(allow_none=True, **doc("exit code of its last run"))
    error = Str(allow_none=True, **doc("why it could not run"))
    started_at = ma.fields.DateTime(allow_none=True, **doc("when it last started"))
    finished_at = ma.fields.DateTime(allow_none=True, **doc("when it last stopped"))
    health = Str(allow_none=True, **doc("healthcheck: starting, healthy, unhealthy; none"))


class ContainerConfigSchema(Reply):
    cmd = ma.fields.List(Str(), allow_none=True, **doc("command"))
    entrypoint = ma.fields.List(Str(), allow_none=True, **doc("entrypoint"))
    env = ma.fields.Dict(Str(), Str(), **doc("environment, by name"))
    working_dir = Str(**doc("working directory"))
    user = Str(**doc("user"))
    hostname = Str(**doc("host name"))
    labels = ma.fields.Dict(Str(), Str(), **doc("labels"))
    tty = Bool(**doc("it has a terminal"))
    stdin_open = Bool(**doc("its standard input is kept open"))


class RestartPolicyOutSchema(Reply):
    name = Str(**doc("no, always, unless-stopped or on-failure"))
    maximum_retry_count = Int(**doc("on-failure: restarts at most this many times (0: no limit)"))


class HostConfigSchema(Reply):
    memory = Int(allow_none=True, **doc("memory limit in bytes; none: no limit"))
    cpus = ma.fields.Float(allow_none=True, **doc("CPU limit; none: no limit"))
    pids_limit = Int(allow_none=True, **doc("process limit; none: no limit"))
    read_only = Bool(**doc("root filesystem read-only"))
    restart_policy = ma.fields.Nested(RestartPolicyOutSchema, **doc("restart policy"))
    network_mode = Str(**doc("network mode"))


class ContainerDetailSchema(ContainerSchema):
    """What a list entry says, then the rest of the inspect answer."""

    argv = ma.fields.List(
        Str(), **doc("the process it runs, unjoined: path then arguments (`command` joins them)")
    )
    state_detail = ma.fields.Nested(
        StateSchema, **doc("its state in detail: running, exit code, times, health")
    )
    restart_count = Int(**doc("times the engine restarted it"))
    config = ma.fields.Nested(ContainerConfigSchema, **doc("how it runs"))
    host_config = ma.fields.Nested(HostConfigSchema, **doc("its limits and policies"))


class StopArgsSchema(QueryArgsSchema):
    timeout = Int(
        validate=ma.validate.Range(0, 3600),
        **doc("seconds to wait after SIGTERM before SIGKILL; the container's own by default"),
    )


class KillArgsSchema(QueryArgsSchema):
    signal = Str(
        validate=Pattern(
            r"^(SIG)?(HUP|INT|QUIT|ILL|TRAP|ABRT|BUS|FPE|KILL|USR1|SEGV|USR2|PIPE|ALRM|TERM"
            r"|STKFLT|CHLD|CONT|STOP|TSTP|TTIN|TTOU|URG|XCPU|XFSZ|VTALRM|PROF|WINCH|IO|PWR|SYS)$"
            r"|^([1-9]|[1-5][0-9]|6[0-4])$",
            error="a signal by name (TERM, SIGKILL...) or number (1 to 64)",
        ),
        **doc("signal to send, by name or number; SIGKILL by default"),
    )


class RenameSchema(Schema):
    name = name_string(required=True, **doc("the new name"))


class UpdateSchema(Schema):
    memory = memory_field()
    cpus = cpus_field()
    pids_limit = pids_field()
    restart_policy = ma.fields.Nested(RestartPolicySchema, **doc("restart policy"))


class UpdatedSchema(Reply):
    warnings = ma.fields.List(Str(), **doc("what the engine warned about"))


class RemoveArgsSchema(QueryArgsSchema):
    force = Bool(load_default=False, **doc("kill it first when it runs (docker rm -f)"))
    volumes = Bool(load_default=False, **doc("also remove its anonymous volumes"))


class RemovalFailureSchema(Reply):
    id = Str(**doc("id of the container"))
    code = Int(**doc("the HTTP status its removal alone would have had"))
    message = Str(**doc("why it could not be removed"))


class BulkRemovedSchema(Reply):
    removed = ma.fields.List(Str(), **doc("ids of the containers removed"))
    failed = ma.fields.List(
        ma.fields.Nested(RemovalFailureSchema), **doc("containers that could not be removed")
    )


class LogsArgsSchema(DaemonTimes, QueryArgsSchema):
    stdout = Bool(load_default=True, **doc("include the standard output (both false: no line)"))
    stderr = Bool(load_default=True, **doc("include the standard error (both false: no line)"))
    tail = Int(validate=ma.validate.Range(min=0), **doc("only the last lines"))
    since = Str(validate=time_filter, **doc("only lines after this time"))
    until = Str(validate=time_filter, **doc("only lines before this time"))
    timestamps = Bool(load_default=False, **doc("prefix each line with its time"))
    follow = Bool(load_default=False, **doc("go on as lines are written, until it stops"))


class StatsArgsSchema(QueryArgsSchema):
    stream = Bool(load_default=False, **doc("a sample a second, as a stream (see Accept)"))


class StatsSchema(Reply):
    read_at = ma.fields.DateTime(allow_none=True, **doc("when the sample was taken"))
    cpu_percent = ma.fields.Float(**doc("CPU use, in percent of one CPU (docker stats)"))
    online_cpus = Int(**doc("CPUs the container sees"))
    memory_usage = Int(**doc("memory used, page cache aside, in bytes"))
    memory_limit = Int(**doc("memory it may use, in bytes"))
    memory_percent = ma.fields.Float(**doc("memory_usage of memory_limit, in percent"))
    network_rx_bytes = Int(**doc("bytes received on all its networks"))
    network_tx_bytes = Int(**doc("bytes sent on all its networks"))
    block_read_bytes = Int(**doc("bytes read from block devices"))
    block_write_bytes = Int(**doc("bytes written to block devices"))
    pids = Int(allow_none=True, **doc("processes running"))


class TopArgsSchema(QueryArgsSchema):
    ps_args = Str(
        validate=Pattern(
            r"^(?:(?:-[a-zA-Z]{1,8}|[a-df-zA-Z]{1,8})(?: |$)){0,6}$",
            error="ps options such as `aux` or `-ef`; not `e` without a dash, which shows "
            "processes' environments",
        ),
        **doc("ps options, e.g. `aux` or `-ef`"),
    )


class TopSchema(Reply):
    titles = ma.fields.List(Str(), **doc("column titles"))
    processes = ma.fields.List(ma.fields.List(Str()), **doc("one row a process"))


class ChangeSchema(Reply):
    path = Str(**doc("path in the container"))
    kind = Str(**doc("added, modified or deleted"))


class ExecSchema(Schema):
    cmd = command_field("command and arguments to run", required=True)
    env = env_map("environment")
    workdir = AbsolutePath(**doc("working directory"))
    user = user_field()
    timeout = ma.fields.Float(
        load_default=60,
        validate=ma.validate.Range(min=0.1, max=3600),
        **doc("seconds to wait for the command; past them the answer is a 504"),
    )


class ExecResultSchema(Reply):
    exit_code = Int(allow_none=True, **doc("the command's exit code"))
    stdout = Str(**doc("its standard output"))
    stderr = Str(**doc("its standard error"))
    truncated = Bool(**doc("the output was longer than the service keeps, and was cut"))


class WaitArgsSchema(QueryArgsSchema):
    condition = Str(
        load_default="not-running",
        validate=ma.validate.OneOf(["not-running", "next-exit", "removed"]),
        **doc("what to wait for"),
    )
    timeout = ma.fields.Float(
        validate=ma.validate.Range(min=0.1, max=86400), **doc("seconds to wait at most; then 504")
    )


class WaitSchema(Reply):
    status_code = Int(allow_none=True, **doc("the container's exit code"))
    error = Str(allow_none=True, **doc("why waiting failed, if it did"))


_CHANGE = Pattern(
    r"^(CMD|ENTRYPOINT|ENV|EXPOSE|LABEL|USER|VOLUME|WORKDIR|STOPSIGNAL|ONBUILD) [^\n\r\x00]+$",
    error="a change is one Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, "
    "VOLUME, WORKDIR, STOPSIGNAL or ONBUILD",
)


def _changes_total(changes: list) -> None:
    # they travel in the daemon's URL
    if sum(len(change) for change in changes) > CHANGES_TOTAL_MAX:
        raise ma.ValidationError(f"changes are at most {CHANGES_TOTAL_MAX} characters in all")


class CommitSchema(Schema):
    repository = Str(validate=repository_field, **doc("repository of the new image"))
    tag = Str(validate=tag_field, **doc("tag of the new image; `latest` with a repository"))
    message = Str(validate=ma.validate.Length(max=COMMIT_MESSAGE_MAX), **doc("commit message"))
    author = Str(validate=ma.validate.Length(max=COMMIT_AUTHOR_MAX), **doc("author"))
    changes = ma.fields.List(
        Str(validate=[ma.validate.Length(max=CHANGE_MAX), _CHANGE]),
        validate=[most(CHANGES_MAX), _changes_total],
        load_default=list,
        **doc(f"Dockerfile instructions to apply; {CHANGES_TOTAL_MAX} characters in all at most"),
    )
    pause = Bool(load_default=True, **doc("pause the container while committing"))


class CommittedSchema(ImageDetailSchema):
    pass


class ArchiveArgsSchema(QueryArgsSchema):
    path = AbsolutePath(required=True, **doc("absolute path in the container"))


class ContainerPruneSchema(Schema):
    label = label_filters(doc("only containers with these labels (`key` or `key=value`)"))
    until = until_filter(doc("only containers created before this time"))


class ContainerPruneReportSchema(Reply):
    deleted = ma.fields.List(Str(), **doc("ids of the containers removed"))
    space_reclaimed = Int(**doc("bytes freed"))

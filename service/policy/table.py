"""The one table: every field of the engine's own form that can give a container something,
and what the policy lets through.

The engine's form is judged, not a request's spelling: the ``HostConfig`` a create sends or
a container has, a service's ``TaskTemplate`` and ``EndpointSpec``, after references (network
ids and names, ``container:X``, volumes) are resolved through the engine. Each field is
``allowed``, ``bounded`` (allowed within limits), ``forced`` (the service sets it at create;
what another client set is held to its bound) or ``refused`` (never set). A field the table
does not know is refused when it is not empty (rule ``unknown-field``), so that a newer
engine cannot slip a power through.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from .denied import Denied
from .own import check_not_self
from .paths import check_bind, check_volume, under
from .registries import registry_allowed
from .teams import seen, shared

ALLOWED, BOUNDED, FORCED, REFUSED = "allowed", "bounded", "forced", "refused"
# log drivers that write on the engine's host only (the others send to network addresses)
LOG_DRIVERS = ("json-file", "local", "journald", "none")
# what the engine masks and makes read-only in /proc and /sys unless told otherwise
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# mount propagation that keeps the container's mounts its own
PRIVATE_PROPAGATION = ("", "private", "rprivate")
# how deep `container:X` and volumes-from references are followed
MAX_DEPTH = 4


@dataclass
class Context:
    """What a judgment needs: the settings, and the engine to resolve references through.

    ``engine`` answers ``container_record(ref)``, ``network_record(ref)``,
    ``volume_record(name)`` (None when there is none), ``engine_root()``,
    ``engine_defaults()`` (``{"cgroupns": ..., "runtime": ...}``) and
    ``container_by_id(prefix)`` (the record of the container whose id starts so, or None).
    ``own`` is the service's own container (its id or an id prefix), when it runs in one."""

    settings: object
    engine: object
    own: str | None = None
    # the team of the calling token: what it mounts, joins or shares must be its team's
    team: str | None = None
    # the teams an object was given to: ``given(kind, record)``, kind as the paths name it
    given: Callable = lambda kind, record: []
    depth: int = 0
    _held: tuple | None = None

    def deeper(self, where: str) -> "Context":
        if self.depth >= MAX_DEPTH:
            raise Denied("references", "references follow each other too deep", where)
        return replace(self, depth=self.depth + 1)

    def held(self) -> tuple[set, list]:
        """The volumes and host paths the service's own container mounts (its tokens, its
        settings): no other container or request may reach them. Asked once a judgment."""
        if self._held is None:
            record = self.engine.container_by_id(self.own) if self.own else None
            mounts = (record or {}).get("Mounts") or []
            volumes = {m["Name"] for m in mounts if m.get("Type") == "volume" and m.get("Name")}
            paths = [m["Source"] for m in mounts if m.get("Type") == "bind" and m.get("Source")]
            self._held = (volumes, paths)
        return self._held


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    says: str
    judge: Callable | None = None
    # the rule a set value of a refused field breaks
    refusal: str = "foreign-container"


def empty(value) -> bool:
    return value in (None, "", 0, False) or value == [] or value == {}


def judge_fields(table: dict, values: dict | None, ctx: Context, where: str) -> None:
    """Judge every field of ``values`` by ``table``; Denied at the first that breaks a rule."""
    for key, value in (values or {}).items():
        path = f"{where}.{key}"
        field = table.get(key)
        if field is None:
            if not empty(value):
                raise Denied("unknown-field", "a field this policy does not know is refused", path)
        elif field.kind == REFUSED:
            if not empty(value):
                raise Denied(field.refusal, f"set to {_short(value)}: {field.says}", path)
        elif field.judge is not None:
            try:
                field.judge(value, ctx, path)
            except Denied as denied:
                denied.field = denied.field or path
                raise


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- the judges of bounded and forced fields ------------------------------------------------


def _bind(source, read_only, propagation, ctx, where) -> None:
    path = check_bind(source or "/", ctx.settings, ctx.engine.engine_root())
    for held in ctx.held()[1]:
        if under(path, held) or under(held, path):
            raise Denied("self-protection", f"{path} holds the service's own files", where)
    if propagation not in PRIVATE_PROPAGATION:
        raise Denied("mount-propagation", f"propagation {propagation} shares mounts", where)
    _read_only(read_only, f"the bind of {source}", ctx, where)


def _read_only(read_only, what, ctx, where) -> None:
    if not read_only and not ctx.settings["ALLOW_WRITABLE_BINDS"]:
        raise Denied(
            "read-only-binds",
            f"{what} is writable; this service mounts host paths read-only (ALLOW_WRITABLE_BINDS)",
            where,
        )


def _volume(name, driver_config, read_only, ctx, where) -> None:
    """A named volume as the engine will mount it: its record, or, for one the mount makes,
    the driver and options the mount gives it."""
    if name in ctx.held()[0]:
        raise Denied("self-protection", f"volume {name} holds the service's own data", where)
    record = ctx.engine.volume_record(name) if name else None
    if record is not None:
        seen("volume", name, record.get("Labels"), ctx.team, ctx.given("volumes", record))
    if record is None and driver_config:
        record = {"Driver": driver_config.get("Name"), "Options": driver_config.get("Options")}
    if check_volume(name or "(anonymous)", record, ctx.settings, ctx.engine.engine_root()):
        _read_only(read_only, f"volume {name}, which binds a host path,", ctx, where)


def judge_mounts(mounts, ctx, where) -> None:
    """``Mounts`` as a create sends them (``Type``, ``Source``, ``ReadOnly``...)."""
    for index, mount in enumerate(mounts or []):
        at, kind = f"{where}[{index}]", mount.get("Type")
        if kind == "bind":
            propagation = (mount.get("BindOptions") or {}).get("Propagation") or ""
            _bind(mount.get("Source"), mount.get("ReadOnly"), propagation, ctx, at)
        elif kind == "volume":
            driver = (mount.get("VolumeOptions") or {}).get("DriverConfig")
            _volume(mount.get("Source"), driver, mount.get("ReadOnly"), ctx, at)
        elif kind != "tmpfs":
            raise Denied("mount-type", f"a mount of type {kind}: only bind, volume, tmpfs", at)


def judge_mounted(mounts, ctx, where) -> None:
    """A container's ``Mounts`` as the engine answers them, what its binds, volumes and
    volumes-from resolved to (``Type``, ``Name``, ``Source``, ``RW``, ``Propagation``)."""
    for index, mount in enumerate(mounts or []):
        at, kind, read_only = f"{where}[{index}]", mount.get("Type"), not mount.get("RW", True)
        if kind == "bind":
            _bind(mount.get("Source"), read_only, mount.get("Propagation") or "", ctx, at)
        elif kind == "volume":
            _volume(mount.get("Name"), None, read_only, ctx, at)
        elif kind != "tmpfs":
            raise Denied("mount-type", f"a mount of type {kind}: only bind, volume, tmpfs", at)


def _binds(binds, ctx, where) -> None:
    """``Binds``: `source:target[:options]`, a host path or a volume's name."""
    for index, bind in enumerate(binds or []):
        at = f"{where}[{index}]"
        source, _, rest = bind.partition(":")
        options = rest.partition(":")[2].split(",")
        read_only = "ro" in options
        propagation = next((o for o in options if "shared" in o or "slave" in o), "")
        if source.startswith("/"):
            _bind(source, read_only, propagation, ctx, at)
        else:
            _volume(source, None, read_only, ctx, at)


def judge_network(record: dict, where: str) -> None:
    """A network a container or task joins, as the engine holds it: never the host's."""
    if record.get("Driver") == "host" or record.get("Name") == "host":
        raise Denied("host-network", "the host's network namespace is the host's", where)


def _network_mode(mode, ctx, where) -> None:
    if mode in ("", "default", "bridge", "none"):
        return
    if mode == "host":
        raise Denied("host-network", "the host's network namespace is the host's", where)
    if mode.startswith("container:"):
        # sharing another container's namespace gives what that one has: it must pass too
        target = ctx.engine.container_record(mode.partition(":")[2])
        check_not_self(target["Id"], ctx.own)
        _container_seen(mode.partition(":")[2], target, ctx)
        judge_container(target, ctx.deeper(where))
        return
    judge_network(joined(ctx.engine.network_record(mode), mode, ctx), where)


def joined(record: dict, ref: str, ctx) -> dict:
    """A network a container or task joins: its team's, or one with no team (the engine's
    own, an operator's), which every team may join; another team's answers 404."""
    labels, given = record.get("Labels") or {}, ctx.given("networks", record)
    if not shared(labels, given):
        seen("network", ref, labels, ctx.team, given)
    return record


def _container_seen(ref, record, ctx) -> None:
    """Another container a request reaches (its namespace, its volumes): its team's only."""
    seen(
        "container", ref, record["Config"].get("Labels"), ctx.team, ctx.given("containers", record)
    )


def _volumes_from(sources, ctx, where) -> None:
    for source in sources or []:
        target = ctx.engine.container_record(source.partition(":")[0])
        check_not_self(target["Id"], ctx.own)
        _container_seen(source.partition(":")[0], target, ctx)
        judge_container(target, ctx.deeper(where))


def check_ports(ports, settings) -> None:
    """Published ports only on the allowed host addresses, and not below 1024 unless allowed."""
    allowed_ips = settings["ALLOWED_PUBLISH_IPS"]
    for port in ports:
        address = port.get("host_ip") or settings["PUBLISH_HOST_IP"]
        if address not in allowed_ips:
            raise Denied(
                "publish-address",
                f"port {port['container_port']} may be published on {', '.join(allowed_ips)}, "
                f"not {address}",
            )
        if port.get("host_port") and port["host_port"] < 1024 and not settings["ALLOW_LOW_PORTS"]:
            raise Denied("low-ports", f"host port {port['host_port']} is below 1024")


def _port_bindings(bindings, ctx, where) -> None:
    ports = [
        {
            "container_port": spec,
            # what the engine binds when no address is given
            "host_ip": binding.get("HostIp") or "0.0.0.0",
            "host_port": int(binding.get("HostPort") or 0),
        }
        for spec, found in (bindings or {}).items()
        for binding in found or []
    ]
    check_ports(ports, ctx.settings)


def _publish_all(value, ctx, where) -> None:
    if value and "0.0.0.0" not in ctx.settings["ALLOWED_PUBLISH_IPS"]:
        raise Denied("publish-address", "every exposed port would be published on 0.0.0.0")


def _log_config(config, ctx, where) -> None:
    driver = (config or {}).get("Type") or ""
    if driver and driver not in LOG_DRIVERS:
        raise Denied("log-driver", f"{driver} sends logs off the host; {', '.join(LOG_DRIVERS)}")


def _log_driver(driver, ctx, where) -> None:
    _log_config({"Type": (driver or {}).get("Name")}, ctx, where)


def _one_of(*values, rule="foreign-container"):
    def judge(value, ctx, where):
        if value not in ("", None, *values):
            raise Denied(rule, f"{value} is not one of: {', '.join(values)}")

    return judge


def _security_options(options, ctx, where) -> None:
    for option in options or []:
        if option.replace("=", ":") not in ("no-new-privileges", "no-new-privileges:true"):
            raise Denied("foreign-container", f"security option {option}")


def _kept(defaults):
    def judge(paths, ctx, where):
        if paths is None:
            return  # the engine's defaults
        lifted = [path for path in defaults if path not in paths]
        if lifted:
            raise Denied("foreign-container", f"{', '.join(lifted)} no longer protected")

    return judge


def _cgroupns(mode, ctx, where) -> None:
    if mode not in ("", "private", ctx.engine.engine_defaults()["cgroupns"]):
        raise Denied("foreign-container", f"the {mode} cgroup namespace")


def _runtime(runtime, ctx, where) -> None:
    if runtime not in ("", ctx.engine.engine_defaults()["runtime"]):
        raise Denied("runtime", f"runtime {runtime}, not the engine's default")


def _cap(setting, scale=1):
    def judge(value, ctx, where):
        cap = ctx.settings[setting]
        if value and value > 0 and value > cap * scale:
            raise Denied("limits", f"{value} is over the maximum, {cap * scale:g}")

    return judge


def _at_least_zero(value, ctx, where) -> None:
    if value and value < 0:
        raise Denied("foreign-container", f"{value}: the host would kill others before it")


def _volume_driver(driver, ctx, where) -> None:
    if driver and driver not in ctx.settings["ALLOWED_VOLUME_DRIVERS"]:
        raise Denied("volume-driver", f"{driver} is not an allowed volume driver")


def _image(image, ctx, where) -> None:
    registry_allowed(image, "pull", ctx.settings["PULL_PUSH_REGISTRIES"])


def _task_networks(networks, ctx, where) -> None:
    for index, network in enumerate(networks or []):
        record = joined(ctx.engine.network_record(network.get("Target")), network["Target"], ctx)
        judge_network(record, f"{where}[{index}]")


def _service_ports(ports, ctx, where) -> None:
    # the swarm publishes on every address of every node: a service's ports have no host_ip
    check_ports(
        [
            {
                "container_port": port.get("TargetPort"),
                "host_port": port.get("PublishedPort"),
                "host_ip": "0.0.0.0",
            }
            for port in ports or []
        ],
        ctx.settings,
    )


def _limits(resources, ctx, where) -> None:
    judge_fields(RESOURCE_LIMITS, (resources or {}).get("Limits"), ctx, f"{where}.Limits")
    if ((resources or {}).get("Reservations") or {}).get("GenericResources"):
        raise Denied("foreign-container", "generic resources (devices); " + NEVER, where)


def _table(fields):
    return {field.name: field for field in fields}


def _nested(name, table, says):
    def judge(value, ctx, where):
        judge_fields(table, value, ctx, where)

    return Field(name, BOUNDED, says, judge)


def allowed(name, says="any value"):
    return Field(name, ALLOWED, says)


def refused(name, says, rule="foreign-container"):
    return Field(name, REFUSED, says, refusal=rule)


NEVER = "this service never gives it"

HOST_CONFIG = _table(
    [
        Field(
            "Binds",
            BOUNDED,
            "host paths under the bind roots, read-only; volumes by the volume rules",
            _binds,
        ),
        Field(
            "Mounts", BOUNDED, "bind, volume or tmpfs; binds and volumes as `Binds`", judge_mounts
        ),
        Field(
            "NetworkMode",
            BOUNDED,
            "bridge, none, a network that is not the host's, or "
            "container:X where X passes the policy",
            _network_mode,
        ),
        Field(
            "PortBindings",
            BOUNDED,
            "on ALLOWED_PUBLISH_IPS; host ports from 1024 unless ALLOW_LOW_PORTS",
            _port_bindings,
        ),
        Field(
            "PublishAllPorts",
            BOUNDED,
            "only where 0.0.0.0 is an allowed publish address",
            _publish_all,
        ),
        Field("VolumesFrom", BOUNDED, "containers that pass the policy", _volumes_from),
        Field("VolumeDriver", BOUNDED, "ALLOWED_VOLUME_DRIVERS", _volume_driver),
        Field(
            "LogConfig",
            BOUNDED,
            f"drivers that write on the host: {', '.join(LOG_DRIVERS)}",
            _log_config,
        ),
        Field(
            "Memory", FORCED, "DEFAULT_MEMORY when absent, at most MAX_MEMORY", _cap("MAX_MEMORY")
        ),
        Field(
            "PidsLimit",
            FORCED,
            "DEFAULT_PIDS_LIMIT when absent, at most MAX_PIDS_LIMIT",
            _cap("MAX_PIDS_LIMIT"),
        ),
        Field("NanoCpus", BOUNDED, "at most MAX_CPUS", _cap("MAX_CPUS", 1e9)),
        Field("ShmSize", BOUNDED, "at most MAX_MEMORY", _cap("MAX_MEMORY")),
        Field(
            "SecurityOpt",
            FORCED,
            "no-new-privileges (true), added at create; nothing else",
            _security_options,
        ),
        Field("MaskedPaths", FORCED, "the engine's defaults, none lifted", _kept(MASKED_PATHS)),
        Field("ReadonlyPaths", FORCED, "the engine's defaults, none lifted", _kept(READONLY_PATHS)),
        Field("CgroupnsMode", BOUNDED, "private, or the engine's default", _cgroupns),
        Field("Runtime", BOUNDED, "the engine's default runtime", _runtime),
        Field(
            "IpcMode",
            BOUNDED,
            "private, shareable or none",
            _one_of("private", "shareable", "none"),
        ),
        Field("Isolation", BOUNDED, "default", _one_of("default")),
        Field("OomScoreAdj", BOUNDED, "0 or more", _at_least_zero),
        refused("Privileged", NEVER),
        refused("CapAdd", NEVER),
        refused("Devices", NEVER),
        refused("DeviceCgroupRules", NEVER),
        refused("DeviceRequests", NEVER),
        refused("PidMode", "the host's or another container's processes; " + NEVER),
        refused("UTSMode", "the host's names; " + NEVER),
        refused("UsernsMode", "the host's user namespace; " + NEVER),
        refused("Cgroup", "another cgroup; " + NEVER),
        refused("CgroupParent", "another parent cgroup; " + NEVER),
        refused("Sysctls", NEVER),
        refused("GroupAdd", NEVER),
        refused("Ulimits", NEVER),
        refused("StorageOpt", NEVER),
        refused("OomKillDisable", NEVER),
        refused("CpuRealtimePeriod", NEVER),
        refused("CpuRealtimeRuntime", NEVER),
        refused("Links", "another container's environment, the service's own included; " + NEVER),
        allowed("ReadonlyRootfs"),
        allowed("RestartPolicy"),
        allowed("AutoRemove"),
        allowed("CapDrop", "any: dropping takes powers away"),
        allowed("ContainerIDFile"),
        allowed("ConsoleSize"),
        allowed("Dns"),
        allowed("DnsOptions"),
        allowed("DnsSearch"),
        allowed("ExtraHosts"),
        allowed("Tmpfs"),
        allowed("Init"),
        allowed("CpuShares"),
        allowed("CpuPeriod"),
        allowed("CpuQuota"),
        allowed("CpusetCpus"),
        allowed("CpusetMems"),
        allowed("CpuCount"),
        allowed("CpuPercent"),
        allowed("BlkioWeight"),
        allowed("BlkioWeightDevice"),
        allowed("BlkioDeviceReadBps"),
        allowed("BlkioDeviceWriteBps"),
        allowed("BlkioDeviceReadIOps"),
        allowed("BlkioDeviceWriteIOps"),
        allowed("IOMaximumIOps"),
        allowed("IOMaximumBandwidth"),
        allowed("KernelMemory"),
        allowed("KernelMemoryTCP"),
        allowed("MemoryReservation"),
        allowed("MemorySwap"),
        allowed("MemorySwappiness"),
    ]
)

RESOURCE_LIMITS = _table(
    [
        Field(
            "MemoryBytes",
            FORCED,
            "DEFAULT_MEMORY when absent, at most MAX_MEMORY",
            _cap("MAX_MEMORY"),
        ),
        Field("NanoCPUs", BOUNDED, "at most MAX_CPUS", _cap("MAX_CPUS", 1e9)),
        Field(
            "Pids",
            FORCED,
            "DEFAULT_PIDS_LIMIT when absent, at most MAX_PIDS_LIMIT",
            _cap("MAX_PIDS_LIMIT"),
        ),
    ]
)

CONTAINER_SPEC = _table(
    [
        Field(
            "Image",
            BOUNDED,
            "from PULL_PUSH_REGISTRIES: the swarm pulls at every task start",
            _image,
        ),
        Field("Mounts", BOUNDED, "as a container's `Mounts`", judge_mounts),
        Field("Isolation", BOUNDED, "default", _one_of("default")),
        refused("Privileges", "credential specs and SELinux contexts; " + NEVER),
        refused("CapabilityAdd", NEVER),
        refused("Sysctls", NEVER),
        refused("Groups", NEVER),
        refused("Ulimits", NEVER),
        allowed("CapabilityDrop", "any: dropping takes powers away"),
        allowed("Labels"),
        allowed("Command"),
        allowed("Args"),
        allowed("Hostname"),
        allowed("Env"),
        allowed("Dir"),
        allowed("User"),
        allowed("TTY"),
        allowed("OpenStdin"),
        allowed("ReadOnly"),
        allowed("StopSignal"),
        allowed("StopGracePeriod"),
        allowed("Healthcheck"),
        allowed("Hosts"),
        allowed("DNSConfig"),
        allowed("Secrets"),
        allowed("Configs"),
        allowed("Init"),
    ]
)

TASK_TEMPLATE = _table(
    [
        _nested("ContainerSpec", CONTAINER_SPEC, "by the ContainerSpec rows"),
        Field(
            "Resources",
            BOUNDED,
            "limits by the Resources.Limits rows; no generic resources reserved",
            _limits,
        ),
        Field("Networks", BOUNDED, "networks that are not the host's", _task_networks),
        Field(
            "LogDriver",
            BOUNDED,
            f"drivers that write on the host: {', '.join(LOG_DRIVERS)}",
            _log_driver,
        ),
        Field("Runtime", BOUNDED, "container", _one_of("container", rule="runtime")),
        refused("PluginSpec", NEVER),
        refused("NetworkAttachmentSpec", NEVER),
        allowed("RestartPolicy"),
        allowed("Placement"),
        allowed("ForceUpdate"),
    ]
)

ENDPOINT_SPEC = _table(
    [
        Field(
            "Ports",
            BOUNDED,
            "only where 0.0.0.0 is an allowed publish address (the swarm "
            "publishes on every address); host ports from 1024 unless ALLOW_LOW_PORTS",
            _service_ports,
        ),
        allowed("Mode"),
    ]
)

SERVICE_SPEC = _table(
    [
        _nested("TaskTemplate", TASK_TEMPLATE, "by the TaskTemplate rows"),
        _nested("EndpointSpec", ENDPOINT_SPEC, "by the EndpointSpec rows"),
        Field("Networks", BOUNDED, "networks that are not the host's", _task_networks),
        allowed("Name"),
        allowed("Labels"),
        allowed("Mode"),
        allowed("UpdateConfig"),
        allowed("RollbackConfig"),
    ]
)

# what the published table lists, in order: the engine's form each judges
TABLES = {
    "HostConfig": HOST_CONFIG,
    "TaskTemplate": TASK_TEMPLATE,
    "TaskTemplate.ContainerSpec": CONTAINER_SPEC,
    "TaskTemplate.Resources.Limits": RESOURCE_LIMITS,
    "EndpointSpec": ENDPOINT_SPEC,
    "ServiceSpec": SERVICE_SPEC,
}


# -- judging whole objects -----------------------------------------------------------------


def judge_container(record: dict, ctx: Context) -> None:
    """A container as the engine holds it (its inspect answer): its ``HostConfig``, and what
    its mounts resolve to now (a directory may have become a link since the create)."""
    judge_fields(HOST_CONFIG, record.get("HostConfig"), ctx, "HostConfig")
    judge_mounted(record.get("Mounts"), ctx, "Mounts")


def judge_create(config: dict, ctx: Context) -> None:
    """A container create body in the engine's form: its ``HostConfig``, and the networks its
    ``NetworkingConfig`` joins, resolved."""
    judge_fields(HOST_CONFIG, config.get("HostConfig"), ctx, "HostConfig")
    endpoints = (config.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    for network in endpoints:
        _network_mode(network, ctx, f"NetworkingConfig.EndpointsConfig.{network}")


def judge_service(spec: dict, ctx: Context) -> None:
    """A service spec in the engine's form: the one a create or update sends, the current one
    before a scale, the previous one before a rollback."""
    judge_fields(SERVICE_SPEC, spec, ctx, "Spec")


def judge_volume(record: dict, ctx: Context, writing: bool = False, writers=()) -> None:
    """A volume as the engine holds it (or as a create asks for it): its driver and options;
    never one the service's own container mounts. With ``writing``, or ``writers`` (services
    that mount it writable, by name, before it exists), one that binds a host path only where
    binds may be writable."""
    name = record.get("Name") or "(new)"
    if name in ctx.held()[0]:
        raise Denied("self-protection", f"volume {name} holds the service's own data", "Name")
    if check_volume(name, record, ctx.settings, ctx.engine.engine_root()):
        if writers:
            _read_only(False, f"volume {name} would bind a host path that services "
                       f"{', '.join(writers)} mount, and it", ctx, "Options")  # fmt: skip
        if writing:
            _read_only(False, f"volume {name}, which binds a host path,", ctx, "Options")

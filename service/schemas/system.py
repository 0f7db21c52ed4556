import marshmallow as ma

from . import Bool, Int, Reply, Schema, Str, doc, label_filters, until_filter


class HealthSchema(Reply):
    status = Str(required=True, **doc("`ok` while the process serves"))


class ReadySchema(Reply):
    status = Str(required=True, **doc("`ready` when the Docker daemon answers its ping"))


class TokenStreamsSchema(Reply):
    token = Str(**doc("the token's name"))
    open = Int(**doc("streams the token holds open now, on every worker of the service"))
    refused = Int(**doc("streams refused to the token (503) since the service started: quota full"))
    quota = Int(**doc("streams the token may hold at once: its own, else DOCKYARD_TOKEN_STREAMS"))


class StreamsSchema(Reply):
    limit = Int(**doc("streams this worker serves at once (DOCKYARD_MAX_STREAMS as it works out)"))
    open = Int(**doc("streams this worker serves now: logs, events, stats, progress, archives"))
    refused = Int(**doc("streams this worker refused with a 503 since it started: over the limit"))
    event_subscriptions = Int(
        **doc(
            "daemon event subscriptions this worker holds (0 or 1): its clients following "
            "`/system/events` share one"
        )
    )
    by_token = ma.fields.List(
        ma.fields.Nested(TokenStreamsSchema),
        **doc(
            "streams by token across the service's workers: every token that has held or "
            "been refused one, for an `admin` token; the calling token alone, for any other"
        ),
    )


class MirroredKindSchema(Reply):
    kind = Str(**doc("containers, images, volumes or networks"))
    listed = Bool(**doc("the whole list is held, current as of the last event"))
    records = Int(**doc("records held: list entries, or inspects where more"))
    bytes = Int(**doc("what they take, measured as their JSON"))
    too_large = Bool(
        **doc("the kind did not fit in DOCKYARD_READ_CACHE_MAX_BYTES: its reads go to the daemon")
    )
    hits = Int(**doc("reads answered without the daemon, since the worker started"))
    misses = Int(**doc("reads that asked the daemon and kept its answer, since then"))


class ReadCacheSchema(Reply):
    enabled = Bool(**doc("DOCKYARD_READ_CACHE, on an engine whose events are followed (Docker)"))
    serving = Bool(
        **doc(
            "the worker follows the engine's events now and answers reads from its mirror; "
            "false before the first read and while the event stream is opened again"
        )
    )
    bytes = Int(**doc("what this worker's mirror of the engine holds, measured as JSON"))
    limit_bytes = Int(**doc("DOCKYARD_READ_CACHE_MAX_BYTES: the most it may hold"))
    rebuilds = Int(**doc("times the mirror was started afresh: its event stream (re)opened"))
    kinds = ma.fields.List(ma.fields.Nested(MirroredKindSchema), **doc("by kind"))


class InfoSchema(Reply):
    name = Str(**doc("host name of the engine's machine"))
    server_version = Str(**doc("Docker Engine version, e.g. 20.10.24"))
    api_version = Str(**doc("Engine API version this service speaks to the daemon"))
    os = Str(**doc("operating system type of the engine (linux, windows)"))
    operating_system = Str(**doc("operating system name of the engine's host"))
    kernel_version = Str(**doc("kernel version of the engine's host"))
    architecture = Str(**doc("hardware architecture of the engine's host, e.g. x86_64"))
    cpus = Int(**doc("CPUs available to the engine"))
    memory_bytes = Int(**doc("memory of the engine's host, in bytes"))
    containers = Int(**doc("containers of any state"))
    containers_running = Int(**doc("running containers"))
    containers_paused = Int(**doc("paused containers"))
    containers_stopped = Int(**doc("stopped containers"))
    images = Int(**doc("images, intermediate layers included"))
    storage_driver = Str(**doc("storage driver, e.g. overlay2"))
    logging_driver = Str(**doc("default logging driver of containers"))
    cgroup_driver = Str(**doc("cgroup driver: cgroupfs or systemd"))
    docker_root_dir = Str(**doc("the engine's data directory on its host"))
    swarm = Str(**doc("swarm state of this node: inactive, pending, active, error or locked"))
    streams = ma.fields.Nested(
        StreamsSchema,
        **doc("admission control of the worker that answered: its streams, now and refused"),
    )
    read_cache = ma.fields.Nested(
        ReadCacheSchema,
        **doc("the engine's mirror in the worker that answered: what it holds and serves"),
    )


class ServiceVersionSchema(Reply):
    name = Str(**doc("name of this service"))
    version = Str(**doc("version of this service"))


class EngineVersionSchema(Reply):
    version = Str(**doc("Docker Engine version"))
    api_version = Str(**doc("newest Engine API version the daemon speaks"))
    min_api_version = Str(**doc("oldest Engine API version the daemon speaks"))
    git_commit = Str(**doc("source commit the engine was built from"))
    go_version = Str(**doc("Go version the engine was built with"))
    os = Str(**doc("operating system type of the engine"))
    arch = Str(**doc("architecture of the engine"))
    kernel_version = Str(**doc("kernel version of the engine's host"))


class VersionSchema(Reply):
    service = ma.fields.Nested(ServiceVersionSchema, **doc("this service"))
    engine = ma.fields.Nested(EngineVersionSchema, **doc("the Docker engine"))
    api_version = Str(**doc("Engine API version this service speaks to the daemon"))
    sdk_version = Str(**doc("version of the Docker SDK for Python in use"))


class UsageSchema(Reply):
    count = Int(**doc("how many objects of this kind there are"))
    active = Int(**doc("how many are in use"))
    size = Int(**doc("disk space they take, in bytes"))
    reclaimable = Int(**doc("bytes a prune of the unused ones would free"))


class DiskUsageSchema(Reply):
    images = ma.fields.Nested(UsageSchema, **doc("image layers"))
    containers = ma.fields.Nested(UsageSchema, **doc("containers' writable layers"))
    volumes = ma.fields.Nested(UsageSchema, **doc("local volumes"))
    build_cache = ma.fields.Nested(UsageSchema, **doc("the builder's cache"))


class PruneSchema(Schema):
    volumes = Bool(load_default=False, **doc("also remove volumes no container uses"))
    all_images = Bool(
        load_default=False,
        **doc("remove every image no container uses, not only dangling ones (prune -a)"),
    )
    build_cache = Bool(
        load_default=False, **doc("also remove the builder's unused cache (ignores `label`)")
    )
    label = label_filters(doc("only objects carrying these labels (`key` or `key=value`)"))
    until = until_filter(doc("only objects created before this time (not applied to volumes)"))


class PruneReportSchema(Reply):
    containers_deleted = ma.fields.List(Str(), **doc("ids of the containers removed"))
    images_deleted = ma.fields.List(Str(), **doc("ids of the images deleted"))
    images_untagged = ma.fields.List(Str(), **doc("references untagged"))
    networks_deleted = ma.fields.List(Str(), **doc("names of the networks removed"))
    volumes_deleted = ma.fields.List(Str(), **doc("names of the volumes removed"))
    build_cache_deleted = ma.fields.List(Str(), **doc("ids of the build cache records removed"))
    space_reclaimed = Int(**doc("bytes freed"))

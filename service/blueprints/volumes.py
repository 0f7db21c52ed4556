"""/volumes: persistent storage; docker volume ls, create, inspect, rm, prune; backup, restore."""

import re

from flask import request
from flask.views import MethodView
from flask_smorest import abort

from .. import engines, policy
from ..archives import BadArchive, Gzipped, TooLarge, spool_checked
from ..errors import users_named
from ..extensions import Blueprint, cached, gateway
from ..guards import (
    decision,
    given,
    guard,
    list_filters,
    mine,
    pinned_volume,
    policy_context,
    seen_volume,
    team,
)
from ..policy import teams
from ..schemas import ErrorSchema
from ..schemas import volumes as schemas
from ..schemas.containers import PolicyDecisionSchema
from ..schemas.fields import CONTAINER_REF
from ..streaming import GZIP, TAR_BODY, TAR_TYPES, binary_format, tar_answer, tar_upload

blp = Blueprint(
    "volumes",
    __name__,
    url_prefix="/volumes",
    description="Volumes: list, create, inspect, remove, prune, back up and restore",
)


def volume_name(name: str) -> str:
    """The {name} of a path, checked: a volume name, else a 400."""
    if not re.fullmatch(CONTAINER_REF, name):
        abort(400, message=f"`{name}` is not a volume name")
    return name


def one_volume(func):
    """Document the answers of an operation on one volume."""
    func = blp.alt_response(404, schema=ErrorSchema, description="no such volume")(func)
    func = blp.alt_response(400, schema=ErrorSchema, description="not a volume name")(func)
    return blp.daemon_call(func)


def existing(name: str, writing: bool = False) -> dict:
    """The engine's record of a volume, which must pass the policy as it stands: one made
    elsewhere may bind any host path (and, to be written, may bind one only where binds may
    be writable)."""
    record = seen_volume(volume_name(name))
    if record is None:
        abort(404, message=f"no such volume: {name}")
    policy.judge_volume(record, policy_context(), writing)
    return record


@blp.route("")
class Volumes(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.arguments(schemas.VolumeListArgsSchema, location="query")
    @blp.response(200, schemas.VolumeListItemSchema(many=True))
    @blp.daemon_call
    def get(self, args):
        """List volumes (docker volume ls), with the containers that use each

        Answered from the engine's mirror, without the daemon; else (`Cache-Control:
        no-cache`, a filter it does not apply) by two calls to the daemon (the volumes, the
        containers), however many volumes there are. `size=true` asks the daemon for its
        disk usage, each time: sizes are never mirrored.
        """
        filters = {key: args[key] for key in schemas.LIST_FILTERS if args.get(key)}
        if "dangling" in args:
            filters["dangling"] = args["dangling"]
        filters = list_filters("volumes", filters)
        volumes = gateway().list_volumes(filters, sizes=args["size"], cached=cached())
        return mine("volumes", volumes)

    @blp.requires("write")
    @blp.arguments(schemas.VolumeCreateSchema)
    @blp.response(201, schemas.VolumeDetailSchema)
    @blp.alt_response(403, schema=ErrorSchema, description="a policy rule refuses it")
    @blp.alt_response(409, schema=ErrorSchema, description="the name is in use by another driver")
    @blp.daemon_call
    def post(self, args):
        """Create a volume (docker volume create)

        Only the allowed drivers (`local` by default). The local driver's options may make a
        tmpfs, or bind a host path under the allowed bind roots (after the same normalisation
        as bind mounts; such a volume is then mounted read-only); any other host path, the
        Docker socket, a device or a network filesystem is refused (403, rule named).
        `POST /volumes/decision` answers the decision and creates nothing. Creating a volume
        that exists with the same driver answers it as it is, as docker does.
        """
        judged_volume(args)
        return gateway().create_volume(
            args.get("name"), args["driver"], args["driver_opts"], args["labels"]
        )


def judged_volume(args) -> dict:
    """A volume create judged: the engine's create body; Denied names the rule that refuses
    it, and a name another team holds is a 409."""
    args["labels"] = teams.claim(args["labels"], team())
    taken = gateway().volume_record(args["name"]) if args.get("name") else None
    if taken is not None and not teams.owns(taken.get("Labels"), team(), given("volumes", taken)):
        abort(409, message=f"the volume name {args['name']} is taken")
    record = {
        "Name": args.get("name"),
        "Driver": args["driver"],
        "Options": args["driver_opts"],
    }
    # services may name a volume before it exists: a binding one must not be made for them
    named = args.get("name") and args["driver_opts"]
    writers = gateway().volume_writers(args["name"]) if named else []
    policy.judge_volume(record, policy_context(), writers=writers)
    engine = {"Name": args.get("name") or "", "Driver": args["driver"]}
    return engine | {"DriverOpts": args["driver_opts"], "Labels": args["labels"]}


@blp.route("/decision")
class Decision(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.VolumeCreateSchema)
    @blp.response(200, PolicyDecisionSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="the name is another team's")
    @blp.daemon_call
    def post(self, args):
        """The policy's decision on a volume create, and nothing created

        The body of `POST /volumes`, judged as a create is: allowed, with the engine's create
        body, or refused, with the rule that refuses it.
        """
        return decision(lambda: judged_volume(args))


@blp.route("/prune")
class Prune(MethodView):
    @blp.requires("admin", team_scope="write")
    @blp.arguments(schemas.VolumePruneSchema)
    @blp.response(200, schemas.VolumePruneReportSchema)
    @blp.daemon_call
    def post(self, args):
        """Remove the volumes no container uses (docker volume prune)

        `label` narrows what goes. Reports the names removed and the bytes freed.
        """
        return gateway().prune_volumes(
            teams.team_filters({"label": args["label"]}, team())["label"]
        )


@blp.route("/<volumename:name>")
class Volume(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.response(200, schemas.VolumeDetailSchema)
    @one_volume
    def get(self, name):
        """Inspect a volume: driver, options, mountpoint, labels, who uses it

        `in_use_by` lists the containers that mount it, running or not.
        """
        if seen_volume(volume_name(name), cached()) is None:
            abort(404, message=f"no such volume: {name}")
        return gateway().inspect_volume(name, cached())

    @blp.requires("write")
    @blp.arguments(schemas.VolumeRemoveArgsSchema, location="query")
    @blp.response(204)
    @blp.alt_response(409, schema=ErrorSchema, description="containers use it (see `force`)")
    @blp.alt_response(403, schema=ErrorSchema, description="the service's own container uses it")
    @one_volume
    def delete(self, args, name):
        """Remove a volume (docker volume rm)

        While containers use it, running or not, the answer is a 409 naming them, unless
        `force=true`, which removes those containers first (running ones are killed; the
        service's own container is never removed: 403).
        """
        if seen_volume(volume_name(name)) is None:
            abort(404, message=f"no such volume: {name}")
        if args["force"]:
            for user in gateway().volume_users(name):
                gateway().remove_container(guard(user["id"]), force=True)
        # in use: a 409 naming the containers (the one error translation)
        gateway().remove_volume(name)


@blp.route("/<volumename:name>/backup")
class Backup(MethodView):
    @blp.requires("exec")
    @blp.doc(
        responses={
            "200": {
                "description": "the volume's files as a gzip-compressed tar",
                "content": {GZIP: TAR_BODY},
            }
        }
    )
    @blp.alt_response(403, schema=ErrorSchema, description="the volume's options break a rule")
    @one_volume
    @blp.file_answer
    def get(self, name):
        """Back a volume up: its files as a .tar.gz stream

        Read through a container that mounts the volume read-only and is never started (its
        image is an empty one the service makes, nothing is pulled), while the volume stays in
        use by others. Owners, modes, symbolic links (not followed), hard links and empty
        directories are kept. The archive streams as it is read and compressed: memory stays
        flat whatever the size. The helper container is removed when the stream ends, or
        when the client leaves. Needs the `exec` scope: it reads every file.
        """
        binary_format(GZIP)
        record = existing(name)
        stream = gateway().read_volume(pinned_volume(record, read_only=True))
        return tar_answer(Gzipped(stream), record["Name"], compressed=True)


@blp.route("/<volumename:name>/restore")
class Restore(MethodView):
    @blp.requires("exec")
    @blp.arguments(schemas.RestoreArgsSchema, location="query")
    @blp.doc(
        requestBody={
            "required": True,
            "content": {GZIP: TAR_BODY, "application/x-tar": TAR_BODY},
        }
    )
    @blp.response(200, schemas.RestoredSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="not an archive, or an unsafe entry")
    @blp.alt_response(403, schema=ErrorSchema, description="the volume's options break a rule")
    @blp.alt_response(409, schema=ErrorSchema, description="`replace` of a volume in use")
    @blp.alt_response(413, schema=ErrorSchema, description="the archive is too large")
    @blp.daemon_call
    def post(self, args, name):
        """Restore a volume from a .tar.gz (or plain tar) body

        The volume is created when it does not exist, before the body is read.
        `mode=merge` (default) writes the archive's files over the volume's and keeps the
        others; `mode=replace` leaves exactly the archive, and needs a volume no container
        uses (409 naming them otherwise). Every entry is checked before anything is written,
        as the kernel will see it: an absolute path, a `..`, a link that resolves out of the
        volume (through the archive's other links), a path through a link, a device file or
        a fifo refuses the whole archive (400, rule `archive`); past the configured bounds on
        unpacked bytes and entries it is a 413; setuid and setgid bits are cleared. Nothing is
        written then. The body waits in a spool file on disk, never in memory, and is written
        only into the volume that was judged (a volume made again meanwhile is a 409). Needs
        the `exec` scope.
        """
        volume_name(name)
        if request.mimetype not in TAR_TYPES:
            abort(400, message="send the archive as application/gzip or application/x-tar")
        settings = engines.settings()
        created = seen_volume(name) is None
        if created:
            # the name is taken before the body is read: no one else makes it meanwhile
            labels = dict(item.split("=", 1) for item in args["label"])
            labels = teams.claim(labels, team())
            gateway().create_volume(name, labels=labels)
            made = gateway().volume_record(name)
        try:
            record = existing(name, writing=True)
            replace = args["mode"] == "replace" and not created
            if replace:
                refuse_replace_in_use(name)
            with checked_archive(settings) as spooled:
                if replace:
                    refuse_replace_in_use(name)
                    gateway().renew_volume(record)
                    record = existing(name, writing=True)
                # written only into the volume judged: pinned, and the same one
                gateway().write_volume(pinned_volume(record, read_only=False), spooled.chunks())
        except BaseException:
            if created:
                # a refused restore leaves no volume behind: the one it made, not another
                gateway().discard_volume(made)
            raise
        return {
            "volume": gateway().inspect_volume(name),
            "mode": args["mode"],
            "created": created,
            "entries": spooled.entries,
            "bytes": spooled.size,
        }


def checked_archive(settings):
    """The request's body, every entry checked and bounded, waiting in a spool file; a 400
    (or 413) naming the entry or the bound otherwise, and nothing written."""
    try:
        return spool_checked(
            tar_upload("the volume's files"),
            settings["SPOOL_DIR"],
            max_bytes=settings["RESTORE_MAX_BYTES"],
            max_entries=settings["RESTORE_MAX_ENTRIES"],
        )
    except TooLarge as exc:
        abort(413, message=f"rule `archive`: the archive cannot be restored: {exc}")
    except BadArchive as exc:
        abort(400, message=f"rule `archive`: the archive cannot be restored: {exc}")


def refuse_replace_in_use(name: str) -> None:
    users = gateway().volume_users(name)
    if users:
        abort(
            409,
            message=f"mode=replace empties volume {name}, which is in use by "
            f"{users_named(users)}: remove them first, or use mode=merge",
        )

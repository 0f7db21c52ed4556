"""/containers: docker run, ps -a, inspect, lifecycle, logs -f, stats, exec, commit, cp, rm -f."""

import posixpath
import re

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from .. import engines, policy
from ..extensions import Blueprint, cached, gateway
from ..gateway.container_config import container_config, limits
from ..gateway.containers import log_params
from ..guards import (
    decision,
    guard,
    list_filters,
    mine,
    own_container,
    policy_context,
    seen_container,
    team,
)
from ..policy import teams
from ..schemas import ErrorSchema, streams
from ..schemas import containers as schemas
from ..schemas.fields import CONTAINER_REF
from ..streaming import (
    JSON,
    NDJSON,
    SSE,
    TAR,
    TAR_BODY,
    TAR_TYPES,
    TEXT,
    Narrowed,
    binary_format,
    chosen_format,
    live,
    logs_answer,
    tar_answer,
    tar_upload,
)

blp = Blueprint(
    "containers",
    __name__,
    url_prefix="/containers",
    description="Containers: run, list, inspect, lifecycle, logs, stats, exec, commit, copy",
)


def container_ref(id: str) -> str:
    """The {id} of a path, checked: an id, a short id or a name, else a 400."""
    if not re.fullmatch(CONTAINER_REF, id):
        abort(400, message=f"`{id}` is not a container id or name")
    return id


def one_container(func):
    """Document the answers of an operation on one container."""
    func = blp.alt_response(404, schema=ErrorSchema, description="no such container")(func)
    func = blp.alt_response(400, schema=ErrorSchema, description="not a container id or name")(func)
    return blp.daemon_call(func)


def asked_filters(args) -> dict:
    """The list's filters, as the request gives them."""
    return {key: args[key] for key in schemas.LIST_FILTERS if args.get(key)}


def seen(id: str) -> str:
    """The full id of a container the token may see (another team's: 404)."""
    return seen_container(container_ref(id))["Id"]


@blp.route("")
class Containers(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.arguments(schemas.ContainerListArgsSchema, location="query")
    @blp.response(200, schemas.ContainerSchema(many=True))
    @blp.daemon_call
    def get(self, args):
        """List containers (docker ps; `all=true` is docker ps -a)

        Answered from the engine's mirror, without the daemon; else (`Cache-Control:
        no-cache`, a filter it does not apply) by one call to the daemon, however many
        containers there are.
        """
        filters = list_filters("containers", asked_filters(args))
        found = gateway().list_containers(all=args["all"], filters=filters, cached=cached())
        return mine("containers", found)

    @blp.requires("write")
    @blp.arguments(schemas.ContainerCreateSchema)
    @blp.response(201, schemas.ContainerDetailSchema)
    @blp.alt_response(403, schema=ErrorSchema, description="a policy rule refuses it")
    @blp.alt_response(404, schema=ErrorSchema, description="no such image (see `pull`)")
    @blp.alt_response(409, schema=ErrorSchema, description="the name is in use")
    @blp.daemon_call
    def post(self, args):
        """Create a container, and with `start` run it (docker create, docker run)

        Every field is checked before the daemon sees it; the request is then built into
        the engine's own form and judged by the policy's table (`GET /policy`) after its
        references are resolved: bind mounts only under configured roots and never the
        host's system or the Docker socket, no host network (by name, id or prefix), ports
        only on allowed host addresses and not below 1024, a name that does not look like an
        id; no-new-privileges, memory and process limits are added when absent.
        `POST /containers/decision` answers the decision and creates nothing. A container
        that fails to start is removed again.
        """
        settings = engines.settings()
        spec, config = judged_create(args)
        if spec["pull"] == "missing":
            gateway().ensure_image(
                spec["image"],
                before_pull=lambda repository: policy.registry_allowed(
                    repository, "pull", settings["PULL_PUSH_REGISTRIES"]
                ),
            )
        return gateway().create_container(config, name=spec.get("name"), start=spec["start"])

    @blp.requires("admin", team_scope="write")
    @blp.arguments(schemas.BulkRemoveArgsSchema, location="query")
    @blp.response(200, schemas.BulkRemovedSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="no selection: filters or `all=true`")
    @blp.daemon_call
    def delete(self, args):
        """Remove many containers (docker rm -f $(docker ps -a -q))

        Needs `force=true` (else a 422), and either filters or `all=true` (else a 400: no
        document can tie one query parameter to another). Answers each id removed and each
        failure.
        """
        if not any(args.get(key) for key in schemas.LIST_FILTERS) and not args["all"]:
            abort(400, message="say which containers: filters, or all=true for every one")
        # a team's token: what its team made (never what it was given)
        filters = teams.team_filters(asked_filters(args), team())
        return gateway().remove_containers(
            filters=filters,
            volumes=args["volumes"],
            refused=spared,
        )


def judged_create(args) -> tuple[dict, dict]:
    """A create request shaped, built into the engine's form and judged: the spec and the
    engine's create body; Denied names the rule that refuses it."""
    settings = engines.settings()
    args["labels"] = teams.claim(args["labels"], team())
    spec = policy.shape_container(args, settings, gateway().volume_record)
    config = container_config(spec, settings["PUBLISH_HOST_IP"])
    policy.check_container_name(spec.get("name"))
    policy.judge_create(config, policy_context())
    return spec, config


@blp.route("/decision")
class Decision(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.ContainerCreateSchema)
    @blp.response(200, schemas.PolicyDecisionSchema)
    @blp.daemon_call
    def post(self, args):
        """The policy's decision on a container create, and nothing created

        The body of `POST /containers`, judged as a create is: allowed, with the engine's
        create body it would send, or refused, with the rule that refuses it. Nothing is
        pulled or made.
        """
        return decision(lambda: judged_create(args)[1])


def spared(full: str) -> str | None:
    """Why a bulk removal leaves a container (the service's own), or None."""
    try:
        policy.check_not_self(full, own_container())
    except policy.Denied as denied:
        return str(denied)
    return None


@blp.route("/prune")
class Prune(MethodView):
    @blp.requires("admin", team_scope="write")
    @blp.arguments(schemas.ContainerPruneSchema)
    @blp.response(200, schemas.ContainerPruneReportSchema)
    @blp.daemon_call
    def post(self, args):
        """Remove stopped containers (docker container prune)

        `label` and `until` narrow what goes; running containers stay. Reports the ids removed
        and the bytes freed.
        """
        labels = teams.team_filters({"label": args["label"]}, team())["label"]
        return gateway().prune_containers(labels, args.get("until"))


@blp.route("/<containerref:id>")
class Container(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.response(200, schemas.ContainerDetailSchema)
    @one_container
    def get(self, id):
        """Inspect a container: state, config, limits, networks, mounts

        Environment values whose names look secret (PASSWORD, TOKEN, KEY...) are hidden
        from tokens without the `admin` scope.
        """
        full = seen_container(container_ref(id), cached())["Id"]
        return gateway().inspect_container(full, cached())

    @blp.requires("write")
    @blp.arguments(schemas.RemoveArgsSchema, location="query")
    @blp.response(204)
    @blp.alt_response(409, schema=ErrorSchema, description="it runs (use `force`)")
    @one_container
    def delete(self, args, id):
        """Remove a container (docker rm; `force=true` is docker rm -f)

        A running container is a 409 unless `force=true`, which kills it first; `volumes=true`
        also removes its anonymous volumes. The service's own container is never removed (403).
        """
        full = guard(container_ref(id))
        gateway().remove_container(full, force=args["force"], volumes=args["volumes"])


# actions that (re)start a container's processes: it must pass the policy as it stands now
STARTING = {"start", "restart", "unpause"}


def lifecycle(action, summary, args_schema=None):
    """A view for one lifecycle action: the container's state after it, or 409."""

    class Action(MethodView):
        def post(self, *args, id):
            params = args[0] if args else {}
            full = guard(container_ref(id), policed=action in STARTING)
            gateway().container_action(full, action, **params)
            return gateway().inspect_container(full)

    Action.post.__doc__ = summary
    view = Action.post
    view = one_container(view)
    view = blp.alt_response(
        409, schema=ErrorSchema, description="its state forbids it (e.g. pausing a stopped one)"
    )(view)
    view = blp.response(200, schemas.ContainerDetailSchema)(view)
    if args_schema is not None:
        view = blp.arguments(args_schema, location="query")(view)
    Action.post = blp.requires("operate")(view)
    Action.__name__ = f"{action.capitalize()}Container"
    blp.route(f"/<containerref:id>/{action}")(Action)


lifecycle(
    "start",
    "Start a container (already running: unchanged)\n\nThe container must pass the policy as "
    "it stands now. Answers the container as it is after the action.",
)
lifecycle(
    "stop",
    "Stop a container: SIGTERM, then SIGKILL after `timeout` s\n\nWithout `timeout`, the "
    "container's own stop timeout applies. Answers the container once stopped.",
    schemas.StopArgsSchema,
)
lifecycle(
    "restart",
    "Restart a container\n\nStopped as `stop` stops it (`timeout`), then started again under "
    "the policy. Answers the container as it is after the action.",
    schemas.StopArgsSchema,
)
lifecycle(
    "kill",
    "Send a container a signal (SIGKILL by default)\n\n`signal` by name (TERM, SIGHUP...) or "
    "number. A container that does not run is a 409.",
    schemas.KillArgsSchema,
)
lifecycle(
    "pause",
    "Pause a running container's processes\n\nThe processes are frozen, not stopped; a "
    "container that does not run is a 409.",
)
lifecycle(
    "unpause",
    "Resume a paused container's processes\n\nThe container must pass the policy as it stands "
    "now; one that is not paused is a 409.",
)


@blp.route("/<containerref:id>/rename")
class Rename(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.RenameSchema)
    @blp.response(200, schemas.ContainerDetailSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="the name is in use")
    @one_container
    def post(self, args, id):
        """Rename a container

        The new name must be free (else 409) and not look like an id (403, rule
        `id-like-name`); the container must pass the policy as it stands. The answer is the
        container under its new name.
        """
        policy.check_container_name(args["name"])
        full = guard(container_ref(id), policed=True)
        gateway().rename_container(full, args["name"])
        return gateway().inspect_container(full)


@blp.route("/<containerref:id>/update")
class Update(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.UpdateSchema)
    @blp.response(200, schemas.UpdatedSchema)
    @blp.alt_response(
        501, schema=ErrorSchema, description="the engine cannot update a container (Podman)"
    )
    @one_container
    def post(self, args, id):
        """Change a container's memory, CPUs, process limit or restart policy

        Within the configured maximums (rule `limits`), and only on a container the policy
        would create. A Podman engine's compatible API has no update: a 501.
        """
        policy.judge_update(limits(args), policy_context())
        return gateway().update_container(guard(container_ref(id), policed=True), args)


@blp.route("/<containerref:id>/wait")
class Wait(MethodView):
    @blp.requires("operate")
    @blp.arguments(schemas.WaitArgsSchema, location="query")
    @blp.response(200, schemas.WaitSchema)
    @one_container
    def post(self, args, id):
        """Wait until a container stops; its exit code (docker wait)

        `condition` is `not-running` (default), `next-exit` or `removed`; past `timeout` seconds
        the answer is a 504 and the container is left as it is.
        """
        return gateway().wait_container(seen(id), args["condition"], args.get("timeout"))


@blp.route("/<containerref:id>/logs")
class Logs(MethodView):
    @blp.requires("operate")
    @blp.arguments(schemas.LogsArgsSchema, location="query")
    @blp.streams(
        (TEXT, NDJSON, SSE),
        TEXT,
        (streams.LogLineSchema,),
        description="the output: as written (text), or a `LogLine` a line (ndjson, SSE "
        "events named `stdout` or `stderr`), then `end` when the output ends; text has no "
        "heartbeat and no last line",
    )
    @one_container
    def get(self, args, id):
        """A container's output (docker logs; `follow=true` is docker logs -f)

        With `follow`, lines are sent as they are written, until the container stops or the
        client leaves.
        """
        detail = gateway().inspect_container(seen(id))
        frames = gateway().container_logs(
            detail["id"], log_params(args), tty=detail["config"]["tty"]
        )
        return logs_answer(frames, args["timestamps"])


# one sample answers JSON; a stream of them ndjson (the default) or SSE
STATS_FORMATS = {False: ((JSON,), JSON), True: ((NDJSON, SSE), NDJSON)}


@blp.route("/<containerref:id>/stats")
class Stats(MethodView):
    @blp.requires("operate")
    @blp.arguments(schemas.StatsArgsSchema, location="query")
    @blp.response(200, schemas.StatsSchema)
    @blp.streams(
        (JSON, NDJSON, SSE),
        JSON,
        (streams.StatsEventSchema,),
        description="one sample as JSON; with `stream=true` a `StatsEvent` a second, as "
        "ndjson (the default then) or SSE events named `stats`, until the container stops "
        "(then `end`) or the client leaves; JSON with `stream=true`, or a stream without it, "
        "is a 406",
        choose=lambda view, args: STATS_FORMATS[args["stream"]],
    )
    @one_container
    def get(self, args, id):
        """Resource use: CPU and memory percentages, network and block I/O (docker stats)

        One sample by default; `stream=true` sends one a second (ndjson, or SSE on request).
        """
        if not args["stream"]:
            return gateway().container_stats(seen(id), stream=False)
        samples = gateway().container_stats(seen(id), stream=True)
        # once it stops, the daemon sends empty samples for ever
        samples = Narrowed(samples, going_on=lambda sample: sample["read_at"] is not None)
        dump = schemas.StatsSchema().dump
        return live(samples, chosen_format(), lambda sample: {"type": "stats", **dump(sample)})


@blp.route("/<containerref:id>/top")
class Top(MethodView):
    @blp.requires("operate")
    @blp.arguments(schemas.TopArgsSchema, location="query")
    @blp.response(200, schemas.TopSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="it does not run")
    @one_container
    def get(self, args, id):
        """Processes running in a container (docker top)

        `ps_args` are ps options (`aux`, `-ef`); a container that does not run is a 409.
        """
        return gateway().container_top(seen(id), args.get("ps_args"))


@blp.route("/<containerref:id>/changes")
class Changes(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.ChangeSchema(many=True))
    @one_container
    def get(self, id):
        """Files added, changed or deleted since the container was created (docker diff)

        One entry a path, with its kind: `added`, `modified` or `deleted`.
        """
        return gateway().container_changes(seen(id))


@blp.route("/<containerref:id>/exec")
class Exec(MethodView):
    @blp.requires("exec")
    @blp.arguments(schemas.ExecSchema)
    @blp.response(200, schemas.ExecResultSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="it does not run")
    @one_container
    def post(self, args, id):
        """Run a command in a running container; its exit code, stdout and stderr apart

        Needs the `exec` scope: a command sees all the container holds, secrets included.
        """
        return gateway().exec_run(
            guard(container_ref(id), policed=True),
            args["cmd"],
            args["env"],
            args.get("workdir"),
            args.get("user"),
            args["timeout"],
            current_app.config["EXEC_OUTPUT_LIMIT"],
        )


@blp.route("/<containerref:id>/commit")
class Commit(MethodView):
    @blp.requires("exec")
    @blp.arguments(schemas.CommitSchema)
    @blp.response(201, schemas.CommittedSchema)
    @one_container
    def post(self, args, id):
        """A new image from a container's filesystem (docker commit)

        Needs the `exec` scope: the image holds the container's files and environment.
        """
        tag = args.get("tag") or ("latest" if args.get("repository") else None)
        if any(teams.TEAM_LABEL in change for change in args["changes"]):
            raise policy.Denied("team-label", f"`{teams.TEAM_LABEL}` is set by the service")
        if team():
            args["changes"] = [*args["changes"], f"LABEL {teams.TEAM_LABEL}={team()}"]
        return gateway().commit_container(
            guard(container_ref(id), policed=True),
            args.get("repository"),
            tag,
            args.get("message"),
            args.get("author"),
            args["changes"],
            args["pause"],
        )


@blp.route("/<containerref:id>/export")
class Export(MethodView):
    @blp.requires("exec")
    @blp.doc(
        responses={
            "200": {
                "description": "the filesystem as tar",
                "content": {TAR: TAR_BODY},
            }
        }
    )
    @one_container
    @blp.file_answer
    def get(self, id):
        """A container's whole filesystem as a tar stream (docker export)

        Needs the `exec` scope; the container must pass the policy as it stands now. The
        archive is sent as the daemon writes it.
        """
        binary_format(TAR)
        full = guard(container_ref(id), policed=True)
        return tar_answer(gateway().export_container(full), id)


@blp.route("/<containerref:id>/archive")
class Archive(MethodView):
    @blp.requires("exec")
    @blp.arguments(schemas.ArchiveArgsSchema, location="query")
    @blp.doc(responses={"200": {"description": "the path as tar", "content": {TAR: TAR_BODY}}})
    @one_container
    @blp.file_answer
    def get(self, args, id):
        """Copy a path out of a container, as a tar stream (docker cp CONTAINER:PATH -)

        A file comes as a tar holding that file, a directory with all it holds. Needs the
        `exec` scope.
        """
        binary_format(TAR)
        stream = gateway().get_archive(guard(container_ref(id), policed=True), args["path"])
        return tar_answer(stream, posixpath.basename(args["path"]) or id)

    @blp.requires("exec")
    @blp.arguments(schemas.ArchiveArgsSchema, location="query")
    @blp.doc(requestBody={"required": True, "content": {"application/x-tar": TAR_BODY}})
    @blp.response(204)
    @blp.alt_response(400, schema=ErrorSchema, description="the body is not a tar archive")
    @blp.alt_response(413, schema=ErrorSchema, description="the archive is too large")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="the path is read-only (a read-only mount or root filesystem; on Podman, "
        "any while the container does not run)",
    )
    @one_container
    def put(self, args, id):
        """Copy a tar archive's files into a container's directory (docker cp - CONTAINER:PATH)

        `path` must be an existing directory in the container; the body is a tar archive (may
        be compressed), streamed to the daemon as it arrives. Needs the `exec` scope.
        """
        if request.mimetype not in TAR_TYPES:
            abort(400, message="send the files as application/x-tar")
        full = guard(container_ref(id), policed=True)
        gateway().put_archive(full, args["path"], tar_upload("the files"))

"""/images: docker images, inspect, history, pull, build, tag, push, rmi, prune, save, load."""

import io
import re
import tarfile

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from .. import engines, policy
from ..auth import has_scope
from ..dockerfiles import ContextTooLarge, SpooledContext
from ..extensions import Blueprint, cached, gateway
from ..gateway.images import pull_target, split_reference
from ..gateway.streams import StreamError
from ..guards import team
from ..policy import teams
from ..redaction import redact_history
from ..schemas import ErrorSchema, streams
from ..schemas import images as schemas
from ..streaming import (
    TAR,
    TAR_BODY,
    TAR_TYPES,
    binary_format,
    progress,
    tar_answer,
    tar_response,
    tar_upload,
)

blp = Blueprint(
    "images",
    __name__,
    url_prefix="/images",
    description="Images: list, inspect, pull, build, tag, push, remove, prune, save and load",
)


def image_ref(ref: str) -> str:
    """The {ref} of a path, checked: an image id or reference, else a 400."""
    if not schemas.is_image_ref(ref):
        abort(400, message=f"`{ref}` is not an image id or reference (such as `team/app:1.0`)")
    return ref


def named_ref(ref: str) -> tuple[str, str]:
    """A reference that names a repository, split into repository and tag (`latest`)."""
    image_ref(ref)
    repository, tag = split_reference(ref)
    if "@" in ref or not re.fullmatch(schemas.REPOSITORY, repository):
        abort(400, message=f"`{ref}` must be a repository name with an optional tag")
    return repository, tag or "latest"


def not_found(what):
    """Document the answers of an operation on one image: it may not exist, or be misspelt."""

    def decorator(func):
        func = blp.alt_response(404, schema=ErrorSchema, description=f"no such {what}")(func)
        return blp.alt_response(
            400, schema=ErrorSchema, description="not an image id or reference"
        )(func)

    return decorator


@blp.route("")
class Images(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.arguments(schemas.ImageListArgsSchema, location="query")
    @blp.response(200, schemas.ImageSchema(many=True))
    @blp.daemon_call
    def get(self, args):
        """List images (docker images)

        Answered from the engine's mirror, without the daemon; else (`Cache-Control:
        no-cache`, `all`, `reference`) by one call to the daemon, however many images there
        are.
        """
        filters = {key: args[key] for key in ("reference", "label") if args[key]}
        if "dangling" in args:
            filters["dangling"] = args["dangling"]
        return gateway().list_images(all=args["all"], filters=filters, cached=cached())


@blp.route("/pull")
class Pull(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.PullSchema)
    @blp.response(200, schemas.ImageDetailSchema)
    @blp.progress_stream(200, streams.PULL_EVENTS)
    @blp.alt_response(404, schema=ErrorSchema, description="no such image in the registry")
    @blp.daemon_call
    def post(self, args):
        """Pull an image from its registry (docker pull)

        With `Accept: application/x-ndjson` or `text/event-stream`, the daemon's progress is
        streamed (per-layer status, current and total bytes), then the result or the error.
        """
        repository, tag, ref = pull_target(args["image"], args.get("tag"))
        policy.registry_allowed(repository, "pull", engines.settings()["PULL_PUSH_REGISTRIES"])
        events = gateway().pull_image(
            repository, tag, args.get("platform"), schemas.auth_config(args.get("auth"))
        )
        return progress(
            events, lambda seen: gateway().inspect_image(ref), schemas.ImageDetailSchema()
        )


@blp.route("/build")
class Build(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.BuildQuerySchema, location="query")
    @blp.response(201, schemas.BuiltSchema)
    @blp.progress_stream(201, streams.BUILD_EVENTS)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": schemas.BuildJsonSchema},
                "application/x-tar": TAR_BODY,
            },
        }
    )
    @blp.alt_response(400, schema=ErrorSchema, description="the context is not a tar archive")
    @blp.alt_response(413, schema=ErrorSchema, description="the context is too large")
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="invalid options, or the build failed: `errors` has the step and the log",
    )
    @blp.daemon_call
    def post(self, query):
        """Build an image (docker build)

        The context is either a tar archive (`Content-Type: application/x-tar`, may be
        compressed), streamed to the daemon as it arrives, with the options in the query
        string; or JSON with the Dockerfile's text, the other files as text, and the options
        (the query's count too: where both give one, the body's is used; build arguments and
        labels are merged, the body's first).
        """
        if request.mimetype == "application/json":
            raw = request.get_json(silent=True)
            try:
                body = schemas.BuildJsonSchema().load(raw or {})
            except ma.ValidationError as exc:
                abort(422, errors={"json": exc.messages})
            # the query's options as well, the body's own first where both give one
            options = query_options(query)
            for name, value in body.items():
                if name in ("build_args", "labels"):
                    options[name] = {**options[name], **value}
                elif name in raw:
                    options[name] = value
            # the body's text is the context's Dockerfile (a path in the query is a tar's)
            options["dockerfile"] = None
            dockerfile = body["dockerfile"]
            context = json_context(dockerfile, body["files"])
        elif request.mimetype in TAR_TYPES:
            options = query_options(query)
            context = tar_upload("the build context")
            dockerfile = None
        else:
            abort(400, message="send the context as application/x-tar, or JSON")
        # what a team's token builds carries its team's label, which no client sends
        options["labels"] = teams.claim(options.get("labels"), team())
        allowed = engines.settings()["PULL_PUSH_REGISTRIES"]
        if "*" not in allowed:
            # every image the build names is judged before the engine may fetch it
            if dockerfile is None:
                context = spooled_context(context, options.get("dockerfile") or "Dockerfile")
                dockerfile = context.dockerfile
            policy.check_build(dockerfile, options, allowed, gateway().image_record)

        def finish(seen):
            built = [event["id"] for event in seen if event["type"] == "built"]
            if not built:
                raise StreamError("the build ended without producing an image", "build")
            image = gateway().inspect_image(built[-1])
            image["log"] = [event["line"] for event in seen if event["type"] == "log"]
            return image

        # each RUN step's container gets the limits a container gets
        options["memory"] = engines.settings()["DEFAULT_MEMORY"]
        options["cpus"] = engines.settings()["MAX_CPUS"]
        events = gateway().build_image(context, options)
        return progress(events, finish, schemas.BuiltSchema(), status=201)


def query_options(query: dict) -> dict:
    """A build's options as the query gives them, in the body's shape."""
    options = {key: value for key, value in query.items() if key not in ("build_arg", "label")}
    options["build_args"] = dict(arg.split("=", 1) for arg in query["build_arg"])
    options["labels"] = dict(label.split("=", 1) for label in query["label"])
    return options


def spooled_context(chunks, path: str) -> SpooledContext:
    """A tar context read, and written again as read, before its Dockerfile is judged; a
    context that unpacks past MAX_UPLOAD_BYTES is a 413."""
    settings = current_app.config
    try:
        return SpooledContext(chunks, path, settings["SPOOL_DIR"], settings["MAX_UPLOAD_BYTES"])
    except ContextTooLarge as exc:
        abort(413, message=f"the build context is too large: {exc}")


def json_context(dockerfile: str, files: dict) -> bytes:
    """A tar build context out of the Dockerfile's text and text files (none of which is
    named `Dockerfile`: schemas.BuildJsonSchema)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, text in {"Dockerfile": dockerfile, **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@blp.route("/prune")
class Prune(MethodView):
    @blp.requires("admin")
    @blp.arguments(schemas.ImagePruneSchema)
    @blp.response(200, schemas.ImagePruneReportSchema)
    @blp.daemon_call
    def post(self, args):
        """Remove unused images: dangling ones, or with `all` every one no container uses

        `label` and `until` narrow what is removed; the answer lists the references
        untagged, the ids deleted and the bytes freed.
        """
        return gateway().prune_images(args["all"], args["label"], args.get("until"))


@blp.route("/import")
class Import(MethodView):
    @blp.requires("write")
    @blp.response(200, schemas.LoadedSchema)
    @blp.progress_stream(200, streams.LOAD_EVENTS)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"application/x-tar": TAR_BODY},
        }
    )
    @blp.alt_response(400, schema=ErrorSchema, description="the body is not an image archive")
    @blp.alt_response(413, schema=ErrorSchema, description="the archive is too large")
    @blp.daemon_call
    def post(self):
        """Load images from a tar archive (docker load)

        The archive is the one `GET /images/{ref}/export` (docker save) writes, streamed to the
        daemon as it arrives.
        """
        if request.mimetype not in TAR_TYPES:
            abort(400, message="send the archive as application/x-tar")
        events = gateway().load_images(tar_upload("the image archive"))

        def finish(seen):
            loaded = [
                line.split(":", 1)[1].strip()
                for line in (event["line"] for event in seen if event["type"] == "log")
                if line.startswith(("Loaded image:", "Loaded image ID:"))
            ]
            if not loaded:
                raise StreamError("the archive held no image", "invalid")
            return {"loaded": loaded, "images": [gateway().inspect_image(r) for r in loaded]}

        return progress(events, finish, schemas.LoadedSchema())


@blp.route("/<imageref:ref>")
class Image(MethodView):
    @blp.mirrored
    @blp.requires("read")
    @blp.response(200, schemas.ImageDetailSchema)
    @not_found("image")
    @blp.daemon_call
    def get(self, ref):
        """Inspect an image, by id or reference

        Environment values whose names look secret are hidden from tokens without `admin`.
        """
        return gateway().inspect_image(image_ref(ref), cached())

    @blp.requires("write")
    @blp.arguments(schemas.RemoveArgsSchema, location="query")
    @blp.response(200, schemas.RemovedSchema)
    @not_found("image")
    @blp.alt_response(
        409, schema=ErrorSchema, description="a container uses the image (use `force`)"
    )
    @blp.daemon_call
    def delete(self, args, ref):
        """Remove an image (docker rmi; `force=true` is docker rmi -f)

        By reference, only that name goes while the image has others; with its last name
        the image is deleted. By id, an image with several names, or one a container uses,
        is a 409 unless `force=true`.
        """
        return gateway().remove_image(image_ref(ref), force=args["force"], noprune=args["noprune"])


@blp.route("/<imageref:ref>/history")
class History(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.HistorySchema(many=True))
    @not_found("image")
    @blp.daemon_call
    def get(self, ref):
        """The image's layers, newest first (docker history)

        Build arguments, ARG defaults and ENV values whose names look secret, and passwords in
        URLs, are hidden from tokens without `admin`.
        """
        layers = gateway().image_history(image_ref(ref))
        # the whole list: the ARG steps tell where each build argument's value ends
        return layers if has_scope("admin") else redact_history(layers)


@blp.route("/<imageref:ref>/tag")
class Tag(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.TagSchema)
    @blp.response(201, schemas.ImageDetailSchema)
    @not_found("image")
    @blp.daemon_call
    def post(self, args, ref):
        """Give an image another name (docker tag)

        The image keeps its other names; the answer is the image as the new name finds it.
        """
        gateway().tag_image(image_ref(ref), args["repository"], args["tag"])
        return gateway().inspect_image(f"{args['repository']}:{args['tag']}")


@blp.route("/<imagename:ref>/push")
class Push(MethodView):
    @blp.requires("write")
    @blp.arguments(schemas.PushSchema, required=False)
    @blp.response(200, schemas.PushResultSchema)
    @blp.progress_stream(200, streams.PUSH_EVENTS)
    @not_found("image")
    @blp.daemon_call
    def post(self, args, ref):
        """Push a tag to its registry (docker push); `latest` when the reference has no tag

        The registry is the reference's host (Docker Hub when none). Credentials, if any, go
        in `auth` for this request only. The answer is the digest the registry stored; with
        `Accept: application/x-ndjson` or `text/event-stream`, the progress is streamed.
        """
        repository, tag = named_ref(ref)
        policy.registry_allowed(repository, "push", engines.settings()["PULL_PUSH_REGISTRIES"])
        events = gateway().push_image(repository, tag, schemas.auth_config(args.get("auth")))

        def finish(seen):
            pushed = [event for event in seen if event["type"] == "pushed"]
            if not pushed:
                raise StreamError("the push ended without the registry's digest")
            return {
                "repository": repository,
                "tag": pushed[-1]["tag"] or tag,
                "digest": pushed[-1]["digest"],
                "size": pushed[-1]["size"],
            }

        return progress(events, finish, schemas.PushResultSchema())


@blp.route("/<imageref:ref>/export")
class Export(MethodView):
    @blp.requires("write")
    @blp.doc(responses=tar_response("the image as a tar archive (docker save)"))
    @not_found("image")
    @blp.daemon_call
    @blp.file_answer
    def get(self, ref):
        """Save an image as a tar archive (docker save), streamed

        The archive holds the image's layers, config and names, as `POST /images/import`
        (docker load) takes it.
        """
        binary_format(TAR)
        return tar_answer(gateway().export_image(image_ref(ref)), ref)

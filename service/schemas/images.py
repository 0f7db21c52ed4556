import re

import marshmallow as ma

from . import (
    BUILD_ARG_MAX,
    BUILD_ARGS_MAX,
    BUILD_ARGS_TOTAL_MAX,
    BUILD_FILES_MAX,
    BUILD_LABELS_TOTAL_MAX,
    FILTERS_MAX,
    LABEL_KEY,
    LABELS_MAX,
    Bool,
    BoundedDict,
    Int,
    Pattern,
    QueryArgsSchema,
    RedactedSchema,
    Reply,
    Schema,
    Str,
    doc,
    given,
    having,
    label_filters,
    label_map,
    most,
    until_filter,
    when,
)

# docker's reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest]
_HOST_PART = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
# as docker reads it: a first component is a host only with a dot, a port, or as localhost
_PORT = r"(?::[0-9]{1,5})"
# (an IPv6 address in brackets is not one: the engine's reference grammar has none before 24.0)
_HOST = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})+{_PORT}?|{_HOST_PART}{_PORT}|localhost{_PORT}?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = rf"(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*"
TAG = r"[\w][\w.-]{0,127}"
DIGEST = r"(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})"
IMAGE_ID = r"(?:sha256:)?[0-9a-f]{4,64}"
REFERENCE = rf"{REPOSITORY}(?::{TAG})?(?:@{DIGEST})?"

# an image id or a reference. Docker bounds a name to 255 characters as it normalizes it
# (`docker.io/library/` before a bare one): a reference is at most 255 less those 18
IMAGE_REF_MAX = 255 - len("docker.io/library/")
IMAGE = rf"(?:{IMAGE_ID}|{REFERENCE})"
REF_OR_ID = rf"^(?=.{{1,{IMAGE_REF_MAX}}}$){IMAGE}$"
_REF_OR_ID = re.compile(REF_OR_ID)


def is_image_ref(value: str) -> bool:
    """An image id (full, short, sha256:) or a reference, as the daemon would accept it."""
    return bool(_REF_OR_ID.fullmatch(value))


# a platform as the engine parses it (containerd's platforms): system/architecture[/variant],
# or one word it knows, a system or an architecture (with the aliases it reads)
_SYSTEMS = (
    "aix android darwin dragonfly freebsd hurd illumos ios js linux macos nacl netbsd openbsd "
    "plan9 solaris windows zos"
)
_ARCHITECTURES = (
    "386 aarch64 amd64 amd64p32 arm arm64 arm64be armbe armel armhf i386 loong64 mips mips64 "
    "mips64le mips64p32 mips64p32le mipsle ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc "
    "sparc64 wasm x86_64"
)
PLATFORM = (
    rf"(?:{'|'.join(_SYSTEMS.split() + _ARCHITECTURES.split())}"
    r"|[a-z0-9_]+/[a-z0-9_.-]+(?:/[a-z0-9_.-]+)?)"
)


def _regexp(pattern, error, most: int = 255) -> list:
    """A whole value of ``pattern``, 1 to ``most`` characters: the bound is its own validator
    (the document's `maxLength`), as generators draw from a plain pattern far better."""
    return [
        ma.validate.Length(min=1, max=most, error=f"1 to {most} characters"),
        Pattern(rf"^(?:{pattern})$", error=error),
    ]


reference_field = _regexp(
    REFERENCE, "not an image reference such as `registry:5000/team/app:1.0`", IMAGE_REF_MAX
)
repository_field = _regexp(
    REPOSITORY, "not a repository name such as `registry:5000/team/app`", IMAGE_REF_MAX
)
tag_field = _regexp(TAG, "a tag is up to 128 letters, digits, `_`, `.` and `-`")
# text that can be written out as UTF-8: no NUL (a lone surrogate, which JSON may carry, is
# refused in any request by the schema's first check)
_ENCODABLE = ma.validate.Regexp(r"^[^\x00]*$", error="no NUL")
stage_field = _regexp(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", "not a build stage name")


class ImageConfigSchema(Reply):
    cmd = ma.fields.List(Str(), allow_none=True, **doc("default command"))
    entrypoint = ma.fields.List(Str(), allow_none=True, **doc("entrypoint"))
    env = ma.fields.Dict(Str(), Str(), **doc("environment variables, by name"))
    exposed_ports = ma.fields.List(Str(), **doc("ports the image exposes, e.g. `80/tcp`"))
    working_dir = Str(**doc("working directory of the command"))
    user = Str(**doc("user the command runs as"))
    volumes = ma.fields.List(Str(), **doc("paths declared as volumes"))
    stop_signal = Str(allow_none=True, **doc("signal that stops a container of this image"))


class ImageSchema(Reply):
    id = Str(**doc("image id, `sha256:` and 64 hex digits"))
    short_id = Str(**doc("the id's first 12 hex digits, as `docker images` shows it"))
    tags = ma.fields.List(Str(), **doc("references that name this image (`repo:tag`)"))
    digests = ma.fields.List(Str(), **doc("registry digests (`repo@sha256:...`)"))
    created = ma.fields.DateTime(allow_none=True, **doc("when the image was built"))
    size = Int(**doc("bytes the image takes, its layers included"))
    labels = ma.fields.Dict(Str(), Str(), **doc("the image's labels"))


class ImageDetailSchema(ImageSchema, RedactedSchema):
    architecture = Str(**doc("CPU architecture, e.g. amd64"))
    os = Str(**doc("operating system, e.g. linux"))
    parent = Str(allow_none=True, **doc("id of the parent image, for locally built images"))
    comment = Str(**doc("comment recorded with the image"))
    author = Str(**doc("author recorded with the image"))
    config = ma.fields.Nested(ImageConfigSchema, **doc("how containers of this image run"))
    layers = ma.fields.List(Str(), **doc("digests of the image's filesystem layers, base first"))


class ImageListArgsSchema(QueryArgsSchema):
    all = Bool(load_default=False, **doc("also intermediate images (`docker images -a`)"))
    reference = ma.fields.List(
        Str(
            validate=Pattern(
                r"^[a-zA-Z0-9._/:@*?-]{1,512}$",
                error="a reference, with * and ? as wildcards",
            )
        ),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("only images whose reference matches this pattern, e.g. `busybox:*` (repeatable)"),
    )
    dangling = Bool(**doc("only untagged images (true) or only tagged ones (false)"))
    label = label_filters(doc("only images with this label, `key` or `key=value` (repeatable)"))


class HistorySchema(Reply):
    id = Str(allow_none=True, **doc("id of the image this layer made, when known locally"))
    created = ma.fields.DateTime(allow_none=True, **doc("when the layer was made"))
    created_by = Str(**doc("the instruction that made the layer"))
    size = Int(**doc("bytes the layer adds"))
    tags = ma.fields.List(Str(), **doc("tags of the image this layer made"))
    comment = Str(**doc("comment recorded with the layer"))


class RegistryAuthSchema(Schema):
    username = Str(validate=ma.validate.Length(max=256), **doc("registry user"))
    password = Str(
        load_only=True, validate=ma.validate.Length(max=4096), **doc("registry password")
    )
    identity_token = Str(
        load_only=True,
        validate=ma.validate.Length(max=8192),
        **doc("registry identity token, instead of username and password"),
    )
    server_address = Str(
        validate=ma.validate.Length(max=512), **doc("registry address these credentials are for")
    )


def auth_config(auth: dict | None) -> dict | None:
    """The credentials as the daemon's X-Registry-Auth wants them."""
    if not auth:
        return None
    names = {
        "username": "username",
        "password": "password",
        "identity_token": "identitytoken",
        "server_address": "serveraddress",
    }
    return {names[key]: value for key, value in auth.items()}


class PullSchema(Schema):
    # a tag in `image` (after its last `/`) or a digest, or a `tag`: not both
    document_rules = (
        when(
            given("tag"),
            having("image", {"pattern": "^(?:[^@]*/)?[^/:@]*$"}),
        ),
    )

    image = Str(
        required=True,
        validate=reference_field,
        **doc("what to pull: `repo`, `repo:tag`, `repo@digest`, with a registry host if any"),
    )
    tag = Str(validate=tag_field, **doc("tag to pull, when `image` has none; `latest` if absent"))
    platform = Str(
        validate=_regexp(PLATFORM, "a platform is os/arch[/variant], or one word the engine knows"),
        **doc(
            "platform to pull for a multi-platform image: `system/architecture[/variant]`, "
            "e.g. `linux/arm64/v8`, or one system or architecture alone (`linux`, `arm64`); an "
            "image of one platform is pulled as it is"
        ),
    )
    auth = ma.fields.Nested(RegistryAuthSchema, **doc("credentials for this request only"))

    @ma.validates_schema
    def _one_tag(self, data, **kwargs):
        image = data.get("image", "")
        has_tag = "@" in image or ":" in image.rsplit("/", 1)[-1]
        if has_tag and data.get("tag"):
            raise ma.ValidationError("give the tag in `image` or in `tag`, not both", "tag")


class PushSchema(Schema):
    auth = ma.fields.Nested(RegistryAuthSchema, **doc("credentials for this request only"))


class PushResultSchema(Reply):
    repository = Str(**doc("repository pushed"))
    tag = Str(**doc("tag pushed"))
    digest = Str(**doc("digest of the manifest the registry stored"))
    size = Int(allow_none=True, **doc("bytes of the manifest"))


class TagSchema(Schema):
    repository = Str(required=True, validate=repository_field, **doc("repository of the new name"))
    tag = Str(load_default="latest", validate=tag_field, **doc("tag of the new name"))


class RemoveArgsSchema(QueryArgsSchema):
    force = Bool(load_default=False, **doc("remove even when used or tagged many times (rmi -f)"))
    noprune = Bool(load_default=False, **doc("keep untagged parent images"))


class RemovedSchema(Reply):
    untagged = ma.fields.List(Str(), **doc("references removed"))
    deleted = ma.fields.List(Str(), **doc("ids of the images and layers deleted"))


class ImagePruneSchema(Schema):
    all = Bool(load_default=False, **doc("every image no container uses, not only dangling ones"))
    label = label_filters(doc("only images with these labels (`key` or `key=value`)"))
    until = until_filter(doc("only images created before this time"))


class ImagePruneReportSchema(RemovedSchema):
    space_reclaimed = Int(**doc("bytes freed"))


class BuildOptionsSchema(Schema):
    # the options travel in the daemon's URL: bounded in all as well as one by one
    tag = Str(validate=reference_field, **doc("name of the image built, e.g. `team/app:1.0`"))
    build_args = BoundedDict(
        Str(validate=_regexp(r"[A-Za-z_][A-Za-z0-9_]{0,127}", "not a build argument name")),
        Str(validate=[ma.validate.Length(max=BUILD_ARG_MAX), _ENCODABLE]),
        entries=BUILD_ARGS_MAX,
        total=BUILD_ARGS_TOTAL_MAX,
        load_default=dict,
        **doc(
            "values of the Dockerfile's ARG instructions, by name (a letter or `_`, then "
            f"letters, digits and `_`); {BUILD_ARGS_TOTAL_MAX} characters in all at most"
        ),
    )
    labels = label_map(
        f"labels to set on the image; {BUILD_LABELS_TOTAL_MAX} characters in all at most",
        total=BUILD_LABELS_TOTAL_MAX,
    )
    target = Str(validate=stage_field, **doc("build stage to stop at"))
    no_cache = Bool(load_default=False, **doc("do not use the build cache"))
    pull = Bool(load_default=False, **doc("pull newer versions of the base images first"))


_FILE_PATH = r"(?!/)(?!.*(?:^|/)\.\.(?:/|$))[^\x00\n\r]{1,255}"


class BuildJsonSchema(BuildOptionsSchema):
    dockerfile = Str(
        required=True,
        validate=[ma.validate.Length(min=1, max=1024 * 1024), _ENCODABLE],
        **doc("the Dockerfile's text"),
    )
    files = BoundedDict(
        # (a lone surrogate is refused in any key, by the schema's first check)
        Str(
            validate=_regexp(
                rf"(?!Dockerfile$){_FILE_PATH}",
                "a file path is relative, without `..`; the Dockerfile goes in `dockerfile`",
            )
        ),
        Str(validate=_ENCODABLE),
        entries=BUILD_FILES_MAX,
        load_default=dict,
        **doc("other files of the build context: relative path to text content"),
    )


class BuildQuerySchema(QueryArgsSchema):
    """The options of a build in the query: a tar context's, or a JSON build's where its
    body does not give them."""

    tag = Str(validate=reference_field, **doc("name of the image built, e.g. `team/app:1.0`"))
    dockerfile = Str(
        validate=_regexp(_FILE_PATH, "a path inside the context, relative, without `..`"),
        **doc(
            "path of the Dockerfile in the tar context; `Dockerfile` by default (a JSON build "
            "has its Dockerfile in the body)"
        ),
    )
    build_arg = ma.fields.List(
        Str(
            validate=_regexp(
                r"[A-Za-z_][A-Za-z0-9_]{0,127}=[^\n\r]*", "a build argument is NAME=value"
            )
        ),
        validate=most(BUILD_ARGS_MAX),
        load_default=list,
        **doc("NAME=value for an ARG instruction (repeatable)"),
    )
    label = ma.fields.List(
        Str(validate=_regexp(rf"{LABEL_KEY}=[^\n\r]*", "a label is key=value")),
        validate=most(LABELS_MAX),
        load_default=list,
        **doc("key=value label to set on the image (repeatable)"),
    )
    target = Str(validate=stage_field, **doc("build stage to stop at"))
    no_cache = Bool(load_default=False, **doc("do not use the build cache"))
    pull = Bool(load_default=False, **doc("pull newer versions of the base images first"))


class BuiltSchema(ImageDetailSchema):
    log = ma.fields.List(Str(), **doc("the build's output, line by line"))


class LoadedSchema(Reply):
    loaded = ma.fields.List(Str(), **doc("references (or ids) the archive held"))
    images = ma.fields.List(ma.fields.Nested(ImageDetailSchema), **doc("the images now present"))

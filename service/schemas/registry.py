"""Schemas of /registry, and of the REGISTRIES setting."""

import marshmallow as ma

from ..gateway.registry import HOST, REPOSITORY, TAG, Registry, split_term
from . import Bool, Int, Pattern, QueryArgsSchema, Reply, Schema, Str, doc

# a search term as docker search takes it, optionally after `host:port/`
TERM = r"^[A-Za-z0-9._/:\[\]-][A-Za-z0-9._/:\[\] -]{0,254}$"
_HOST_ERROR = "a registry is host[:port], e.g. `127.0.0.1:5000`"
_REPOSITORY_ERROR = "a repository name as the registry knows it, e.g. `team/app` (no host)"
# (each bound its own validator, the document's `maxLength`: see images._regexp)
_BOUND = ma.validate.Length(1, 255, error="1 to 255 characters")
_host = [_BOUND, Pattern(rf"^{HOST}$", error=_HOST_ERROR)]
_repository = [
    _BOUND,
    Pattern(rf"^{REPOSITORY}$", error=_REPOSITORY_ERROR),
]
_tag = Pattern(rf"^{TAG}$", error="a tag is up to 128 letters, digits, `_`, `.` and `-`")


def _registry(required: bool):
    text = "a registry the configuration lists (`REGISTRIES`), as host[:port]"
    return Str(required=required, validate=_host, **doc(text))


def _page_size(what: str):
    text = f"{what} asked of the registry a page; the service follows its `Link` pages"
    return Int(load_default=100, validate=ma.validate.Range(1, 1000), **doc(text))


def _limit(what: str):
    text = f"most {what} answered; `next` then says where to go on"
    return Int(load_default=25, validate=ma.validate.Range(1, 100), **doc(text))


class SearchArgsSchema(QueryArgsSchema):
    term = Str(
        required=True,
        validate=Pattern(TERM, error="a search term: letters, digits, `._-/:` and spaces"),
        **doc(
            "what to look for. `host:port/term` asks that registry: a v1 search index "
            "(`SEARCH_INDEXES`) through the daemon, or a v2 registry (`REGISTRIES`) by "
            "substring over its catalog; no host asks Docker Hub's index (`docker.io`)"
        ),
    )
    registry = _registry(False)
    limit = Int(load_default=25, validate=ma.validate.Range(1, 100), **doc("most results answered"))
    is_official = Bool(**doc("only official images (true) or only others (false)"))
    is_automated = Bool(**doc("only automated builds (true) or only others (false)"))
    min_stars = Int(validate=ma.validate.Range(0, 10**9), **doc("only images with as many stars"))

    @ma.validates_schema
    def _one_registry(self, data, **kwargs):
        _, rest = split_term(data["term"])
        if data.get("registry") and rest != data["term"]:
            raise ma.ValidationError("with `registry`, the term names no host", "term")
        if not rest.strip():
            raise ma.ValidationError("the term after the registry is empty", "term")


class SearchResultSchema(Reply):
    name = Str(**doc("the repository, as `docker pull` takes it"))
    description = Str(allow_none=True, **doc("its description; null where the registry has none"))
    star_count = Int(allow_none=True, **doc("its stars; null for a v2 registry's repository"))
    is_official = Bool(allow_none=True, **doc("an official image; null where unknown"))
    is_automated = Bool(allow_none=True, **doc("an automated build; null where unknown"))
    registry = Str(**doc("where it was found: `docker.io` (Docker Hub) or host[:port]"))


class CatalogArgsSchema(QueryArgsSchema):
    registry = _registry(True)
    q = Str(
        validate=Pattern(r"^[A-Za-z0-9._/-]{1,255}$", error="letters, digits, `._-/`"),
        **doc("only repositories whose name contains this (case ignored)"),
    )
    last = Str(validate=_repository, **doc("start after this repository (a `next` answered)"))
    tags = Bool(load_default=True, **doc("list each repository's first 100 tags"))
    n = _page_size("repositories")
    limit = _limit("repositories")


class RegistryRepositorySchema(Reply):
    name = Str(**doc("the repository's name in the registry"))
    reference = Str(**doc("the name `docker pull` takes: `host:port/name`"))
    tags = ma.fields.List(
        Str(), allow_none=True, **doc("its first 100 tags, lexical order; null with `tags=false`")
    )


class RegistryCatalogSchema(Reply):
    registry = Str(**doc("the registry, host[:port]"))
    repositories = ma.fields.List(
        ma.fields.Nested(RegistryRepositorySchema), **doc("lexical order")
    )
    next = Str(allow_none=True, **doc("pass as `last` for what follows; null at the end"))


class TagsArgsSchema(QueryArgsSchema):
    registry = _registry(True)
    repository = Str(required=True, validate=_repository, **doc("the repository, without host"))
    last = Str(validate=_tag, **doc("start after this tag (a `next` answered)"))
    digests = Bool(
        load_default=False,
        **doc("also each tag's digest, media type and size (one manifest request per tag)"),
    )
    n = _page_size("tags")
    limit = _limit("tags")


class RegistryTagSchema(Reply):
    name = Str(**doc("the tag"))
    reference = Str(**doc("the name `docker pull` takes: `host:port/repository:tag`"))
    digest = Str(allow_none=True, **doc("the manifest's digest; null without `digests`"))
    media_type = Str(allow_none=True, **doc("the manifest's type (image or index, OCI or docker)"))
    size = Int(
        allow_none=True,
        **doc("bytes of the image's config and layers as stored (compressed); null for an index"),
    )


class RegistryTagsSchema(Reply):
    registry = Str(**doc("the registry, host[:port]"))
    repository = Str(**doc("the repository"))
    tags = ma.fields.List(ma.fields.Nested(RegistryTagSchema), **doc("lexical order"))
    next = Str(allow_none=True, **doc("pass as `last` for what follows; null at the end"))


class ConfiguredRegistrySchema(Reply):
    host = Str(**doc("host[:port], as catalog and tags take it in `registry`"))
    insecure = Bool(**doc("reached over plain HTTP"))
    credentials = Bool(**doc("the service signs in to it (its credentials are never shown)"))


class RegistrySettingSchema(Schema):
    """One entry of the REGISTRIES setting (not part of the API)."""

    host = Str(required=True, validate=_host, **doc("host[:port], as image references name it"))
    insecure = Bool(load_default=False, **doc("speak plain HTTP (a loopback registry)"))
    username = Str(validate=ma.validate.Length(min=1, max=256), **doc("user to log in as"))
    password = Str(validate=ma.validate.Length(min=1, max=4096), **doc("its password"))
    password_file = Str(
        validate=ma.validate.Length(min=1, max=4096), **doc("a file holding the password")
    )
    token_realms = ma.fields.List(
        Str(validate=_host),
        load_default=list,
        **doc("hosts besides its own whose token service it may send the service to"),
    )

    @ma.validates_schema
    def _one_password(self, data, **kwargs):
        if "password" in data and "password_file" in data:
            raise ma.ValidationError("give password or password_file, not both")


def parse_registries(entries, timeout) -> dict[str, Registry]:
    """The REGISTRIES setting, checked: host -> Registry. An error names the entry and the
    key, never a value (a password)."""
    registries = {}
    for index, entry in enumerate(entries):
        try:
            found = RegistrySettingSchema().load(entry)
        except ma.ValidationError as exc:
            # marshmallow's messages name the keys and rules, never the values
            raise ValueError(f"REGISTRIES[{index}]: {exc.messages}") from None
        if found["host"] in registries:
            raise ValueError(f"REGISTRIES[{index}]: `{found['host']}` is listed twice")
        found["token_realms"] = tuple(found["token_realms"])
        registries[found["host"]] = Registry(**found, timeout=float(timeout))
    return registries

"""/registry: docker search, and the private registries the configuration lists.

The service contacts no registry its configuration leaves out (rule `registries`): a search
term naming one is a 403 before the daemon is asked (the daemon would contact it); catalog and
tags take a `registry` from `REGISTRIES` only; pull and push reach only `PULL_PUSH_REGISTRIES`.
"""

import functools
import logging

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from .. import engines, policy
from ..extensions import Blueprint, gateway
from ..gateway.registry import RegistryError, is_host, split_term
from ..schemas import ErrorSchema
from ..schemas import registry as schemas

log = logging.getLogger(__name__)

blp = Blueprint(
    "registry",
    __name__,
    url_prefix="/registry",
    description="Registries: search images, browse the repositories and tags of private ones",
)

TAGS_IN_CATALOG = 100
CATALOG_PAGE = 100  # repositories asked a page when searching a catalog
# the answer to each kind of registry failure
_STATUS = {"unreachable": 502, "refused": 502, "failed": 502, "timeout": 504, "not_found": 404}


@blp.record_once
def _check_settings(state):
    """Refuse to start with registry settings the service could misread."""
    config = state.app.config
    for host, registry in schemas.parse_registries(
        config["REGISTRIES"], config["REGISTRY_TIMEOUT"]
    ).items():
        try:
            registry.secret()
        except RegistryError as exc:
            raise ValueError(f"DOCKYARD_REGISTRIES: `{host}` {exc.reason}") from None
    for key, extra in (("SEARCH_INDEXES", ()), ("PULL_PUSH_REGISTRIES", ("*",))):
        for value in config[key]:
            if not isinstance(value, str) or not (value in extra or is_host(value)):
                raise ValueError(f"DOCKYARD_{key} holds {value!r}, not host[:port]")


def registries() -> dict:
    config = current_app.config
    return schemas.parse_registries(config["REGISTRIES"], config["REGISTRY_TIMEOUT"])


def listed(host: str):
    """The configured registry ``host`` names exactly, else a 403."""
    return policy.registry_listed(host, registries())


def upstream(view):
    """A registry's failure as an answer that names it: 502, 504, or 404 for what it lacks."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except RegistryError as exc:
            status = _STATUS.get(exc.kind, 502)
            if status >= 500:
                log.warning("registry failure answered %s: %s", status, exc)
            abort(status, message=str(exc))

    return wrapper


UNLISTED = (
    "the token lacks `read`, or the registry is not one the configuration lists (rule "
    "`registries`); `message` names it"
)


def documented(daemon: bool):
    """The answers a view that talks to registries (and the daemon) may give besides its own."""
    who = "the registry (or the daemon)" if daemon else "the registry"
    answers = (
        (403, UNLISTED),
        (502, f"{who} failed or cannot be reached; `message` names it and says why"),
        (504, f"{who} did not answer within `REGISTRY_TIMEOUT`; `message` names it"),
    )

    def decorator(view):
        for status, text in answers:
            view = blp.alt_response(status, schema=ErrorSchema, description=text)(view)
        return view

    return decorator


@blp.route("/search")
class Search(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.SearchArgsSchema, location="query")
    @blp.response(200, schemas.SearchResultSchema(many=True))
    @blp.daemon_call
    @documented(daemon=True)
    @upstream
    def get(self, args):
        """Search images (docker search)

        A term without a registry asks Docker Hub's index (`docker.io`) through the daemon;
        `host:port/term` asks that registry: through the daemon when it is a v1 search index
        of `SEARCH_INDEXES`, else, when it is a v2 registry of `REGISTRIES`, by substring over
        its catalog (as does `registry=host:port`), where the fields a v2 registry cannot
        know are null. Any other registry is a 403, before anything is contacted.
        """
        config = engines.settings()
        if args.get("registry"):
            return catalog_search(listed(args["registry"]), args["term"], args)
        index, rest = split_term(args["term"])
        if index in config["SEARCH_INDEXES"]:
            filters = {}
            for name, key in (("is_official", "is-official"), ("is_automated", "is-automated")):
                if name in args:
                    filters[key] = [str(args[name]).lower()]
            if args.get("min_stars"):
                filters["stars"] = [str(args["min_stars"])]
            timeout = float(config["REGISTRY_TIMEOUT"])
            return gateway().search_index(args["term"], args["limit"], filters, timeout)
        found = policy.registry_listed(index, registries(), searched=True)
        return catalog_search(found, rest, args)


def catalog_search(registry, text: str, args) -> list[dict]:
    """docker search's answer out of a v2 registry's catalog: names containing ``text``."""
    # a v2 registry knows no stars and no official or automated images: none is known to match
    if args.get("is_official") or args.get("is_automated") or args.get("min_stars"):
        return []
    names, _ = gateway().registry_catalog(
        registry, CATALOG_PAGE, limit=args["limit"], match=text.strip()
    )
    return [
        {
            "name": f"{registry.host}/{name}",
            "description": None,
            "star_count": None,
            "is_official": None,
            "is_automated": None,
            "registry": registry.host,
        }
        for name in names
    ]


@blp.route("/registries")
class Registries(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.ConfiguredRegistrySchema(many=True))
    def get(self):
        """List the private registries the service may browse (REGISTRIES)

        Each by the `host` that catalog and tags take; whether the service signs in to it,
        never with what.
        """
        return [
            {
                "host": registry.host,
                "insecure": registry.insecure,
                "credentials": registry.username is not None,
            }
            for registry in registries().values()
        ]


@blp.route("/catalog")
class Catalog(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.CatalogArgsSchema, location="query")
    @blp.response(200, schemas.RegistryCatalogSchema)
    @documented(daemon=False)
    @upstream
    def get(self, args):
        """List a private registry's repositories, with their tags

        For a v2 registry of `REGISTRIES`: the repositories (lexical order) whose name
        contains `q`, after `last`, at most `limit`; the service asks `n` a page and follows
        the registry's `Link` pages. `next`, when not null, is the `last` of what follows.
        """
        registry = listed(args["registry"])
        names, after = gateway().registry_catalog(
            registry, args["n"], args.get("last"), args["limit"], args.get("q")
        )
        repositories = []
        for name in names:
            tags = None
            if args["tags"]:
                try:
                    tags, _ = gateway().registry_tags(registry, name, 100, None, TAGS_IN_CATALOG)
                except RegistryError as exc:
                    if exc.kind != "not_found":
                        raise
                    tags = []  # listed, but its last tag went since
            repositories.append(
                {"name": name, "reference": f"{registry.host}/{name}", "tags": tags}
            )
        return {"registry": registry.host, "repositories": repositories, "next": after}


@blp.route("/tags")
class Tags(MethodView):
    @blp.requires("read")
    @blp.arguments(schemas.TagsArgsSchema, location="query")
    @blp.response(200, schemas.RegistryTagsSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="no such repository in the registry")
    @documented(daemon=False)
    @upstream
    def get(self, args):
        """List the tags of a repository in a private registry

        For a v2 registry of `REGISTRIES`: the tags (lexical order) after `last`, at most
        `limit`, with `next` as in the catalog. With `digests=true`, each tag's manifest is
        asked (image and index types, OCI and docker) for its digest, media type and size.
        """
        registry, repository = listed(args["registry"]), args["repository"]
        names, after = gateway().registry_tags(
            registry, repository, args["n"], args.get("last"), args["limit"]
        )
        unknown = {"digest": None, "media_type": None, "size": None}
        tags = []
        for name in names:
            found = None
            if args["digests"]:
                found = gateway().registry_manifest(registry, repository, name)
            reference = f"{registry.host}/{repository}:{name}"
            tags.append({"name": name, "reference": reference, **(found or unknown)})
        return {"registry": registry.host, "repository": repository, "tags": tags, "next": after}

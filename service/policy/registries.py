"""Registries (rule ``registries``): the engine fetches only from those PULL_PUSH_REGISTRIES
lists, whatever path makes it fetch (a pull, a container created with `pull`, a service, whose
tasks pull at every start, a build's every `FROM`, `COPY --from` and `RUN --mount from=`); the
service itself browses only those REGISTRIES lists, and searches only those and the
SEARCH_INDEXES."""

from ..dockerfiles import UnresolvedSource, build_sources
from ..gateway.registry import HUB, registry_of
from .denied import Denied


def registry_allowed(reference: str, verb: str, allowed) -> None:
    """Denied unless ``allowed`` (PULL_PUSH_REGISTRIES) lets ``verb`` reach the registry of
    ``reference``."""
    host = registry_of(reference)
    if "*" not in allowed and host not in allowed:
        raise Denied(
            "registries",
            f"{verb} may not reach the registry `{host}` (it is not in PULL_PUSH_REGISTRIES)",
        )


def check_build(dockerfile, options: dict, allowed, image) -> None:
    """Denied unless every image the build may fetch is from an allowed registry, or (without
    `pull`) already on the engine. ``dockerfile`` is the Dockerfile's text, or what reads it
    (and may raise UnresolvedSource); ``image(reference)`` answers the image's record, or None
    when the engine holds none. A base
    the engine holds may carry ONBUILD triggers, which run in this build: their images count
    too. A reference that cannot be resolved before the build is refused: what it would
    fetch cannot be known."""
    if "*" in allowed:
        return
    try:
        text = dockerfile() if callable(dockerfile) else dockerfile
        sources = build_sources(text, options.get("build_args"), options.get("target"))
        _check_sources(sources, options, allowed, image, triggered=False)
    except UnresolvedSource as exc:
        raise Denied("registries", f"the build's images cannot all be known: {exc}") from exc


def _check_sources(sources, options, allowed, image, triggered) -> None:
    for source in sources:
        record = None if options.get("pull") else image(source)
        if record is None:
            registry_allowed(source, "the build", allowed)
            continue
        triggers = (record.get("Config") or {}).get("OnBuild") or []
        if triggers and not triggered:
            # the triggers run as if written after the FROM that names the image
            text = "FROM scratch\n" + "\n".join(triggers) + "\n"
            named = build_sources(text, options.get("build_args"))
            _check_sources(named, options, allowed, image, triggered=True)


def registry_listed(host: str, registries: dict, searched: bool = False):
    """The configured registry ``host`` names exactly (from REGISTRIES), else Denied; with
    ``searched``, the host a search term names, which SEARCH_INDEXES did not list either."""
    found = registries.get(host)
    if found is not None:
        return found
    if searched:
        named = "Docker Hub's index `docker.io`" if host == HUB else f"`{host}`"
        raise Denied(
            "registries",
            f"the term names {named}, which is neither a search index (SEARCH_INDEXES) nor a "
            "registry (REGISTRIES) this service may contact",
        )
    raise Denied(
        "registries",
        f"`{host}` is not a registry this service may contact (it is not in REGISTRIES)",
    )

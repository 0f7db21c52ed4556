"""Registries: the engine fetches only from those the configuration lists (rule
``registries``), whatever path makes it fetch: a pull, a container created with `pull`, a
service (the swarm pulls at every task start), a build's every `FROM`, `COPY --from` and
`RUN --mount from=`."""

from ..dockerfiles import UnresolvedSource, build_sources
from ..gateway.registry import registry_of
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


def check_build(dockerfile: str, options: dict, allowed, present) -> None:
    """Denied unless every image the build may fetch is from an allowed registry, or (without
    `pull`) already on the engine (``present(reference)``). A reference that cannot be
    resolved before the build is refused: what it would fetch cannot be known."""
    if "*" in allowed:
        return
    try:
        sources = build_sources(dockerfile, options.get("build_args"), options.get("target"))
    except UnresolvedSource as exc:
        raise Denied("registries", f"the build's images cannot all be known: {exc}") from exc
    for source in sources:
        if options.get("pull") or not present(source):
            registry_allowed(source, "the build", allowed)

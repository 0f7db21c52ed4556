"""The service's own container, which no request may stop, remove, change, enter, or reach
through another container (rule ``self-protection``), and the names that could stand for it."""

import re

from .denied import Denied

# a container name the engine would take for an id (it resolves names before id prefixes)
_ID_LIKE = re.compile(r"[0-9a-f]{12,64}")


def check_not_self(full_id: str, own: str | None) -> None:
    """Denied when ``full_id`` is the service's own container (``own``: its id or a prefix)."""
    if own and full_id.startswith(own):
        raise Denied("self-protection", "this is the service's own container")


def check_container_name(name: str | None) -> None:
    """A name of 12 to 64 hex digits is refused: the engine resolves names before id
    prefixes, so such a name would stand in for another container's id."""
    if name and _ID_LIKE.fullmatch(name.lstrip("/")):
        raise Denied(
            "id-like-name",
            f"`{name}` looks like a container id, which a name must not: the engine would "
            "take it for the container it names",
        )


def own_container_id() -> str | None:
    """The id of the container this process runs in, if it runs in one: the engine mounts
    the container's own /etc/hostname from its directory."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as file:
            for line in file:
                fields = line.split()
                if len(fields) > 4 and fields[4] == "/etc/hostname":
                    found = re.search(r"/containers/([0-9a-f]{64})/hostname$", fields[3])
                    if found:
                        return found.group(1)
    except OSError:
        pass
    return None

"""The one policy: what the engine may be made to run, judged on every path into it.

Views and the gateway hold no rule: they ask this package. A create or an update is shaped
here (bind paths normalised, binds made read-only, limits and no-new-privileges injected),
built into the engine's own form, and that form is judged by the one table (``table.py``)
after its references are resolved through the engine. Every act on an existing object
judges the object as the engine holds it first. Every refusal is ``Denied``, naming its
rule and the field; the API answers it 403.
"""

import re

from .denied import Denied
from .own import check_container_name, check_not_self, own_container_id
from .paths import check_bind_roots, check_volume, host_path
from .registries import check_build, registry_allowed, registry_listed
from .table import (
    ALLOWED,
    BOUNDED,
    FORCED,
    HOST_CONFIG,
    REFUSED,
    TABLES,
    Context,
    judge_container,
    judge_create,
    judge_fields,
    judge_network,
    judge_service,
    judge_volume,
)

__all__ = [
    "ALLOWED",
    "BOUNDED",
    "FORCED",
    "REFUSED",
    "Context",
    "Denied",
    "check_build",
    "check_container_name",
    "check_network_removal",
    "check_not_self",
    "check_settings",
    "check_volume",
    "judge_container",
    "judge_create",
    "judge_network",
    "judge_service",
    "judge_update",
    "judge_volume",
    "own_container_id",
    "published",
    "registry_allowed",
    "registry_listed",
    "shape_container",
    "shape_service",
]

_SELF = re.compile(r"[0-9a-f]{12,64}")


def check_settings(settings) -> None:
    """Stop the service on settings the policy cannot keep: defaults over the caps, bind
    roots others could change, its own container named by anything but its id."""
    for default, cap in (
        ("DEFAULT_MEMORY", "MAX_MEMORY"),
        ("DEFAULT_PIDS_LIMIT", "MAX_PIDS_LIMIT"),
    ):
        if settings[default] > settings[cap]:
            raise ValueError(f"DOCKYARD_{default} is over DOCKYARD_{cap}")
    check_bind_roots(settings["ALLOWED_BIND_ROOTS"])
    own = settings["SELF_CONTAINER"]
    if own and not _SELF.fullmatch(own):
        raise ValueError(
            "DOCKYARD_SELF_CONTAINER must be the service's container id or a prefix of it "
            "(12 to 64 hex digits), never a name: a name can be taken by another container"
        )


# -- shaping requests into the engine's form -------------------------------------------------


def shape_container(spec: dict, settings, volumes) -> dict:
    """A checked create request, shaped: bind sources as the host will see them, binds and
    volumes that bind a host path read-only unless configured otherwise, default limits and
    no-new-privileges. ``volumes(name)`` answers the engine's record of a volume (or None).
    The table judges the engine's form built from it."""
    read_only = not settings["ALLOW_WRITABLE_BINDS"]
    for mount in spec["mounts"]:
        if mount["type"] == "bind":
            mount["source"] = host_path(mount["source"], settings["POLICY_RESOLVE_SYMLINKS"])
            mount["read_only"] = mount["read_only"] or read_only
        elif mount["type"] == "volume" and mount.get("source"):
            try:
                binds = check_volume(mount["source"], volumes(mount["source"]), settings)
            except Denied:
                binds = False  # the table refuses it, naming the rule
            mount["read_only"] = mount["read_only"] or (binds and read_only)
    spec.setdefault("memory", settings["DEFAULT_MEMORY"])
    spec.setdefault("pids_limit", settings["DEFAULT_PIDS_LIMIT"])
    spec["no_new_privileges"] = True
    return spec


def shape_service(spec: dict, settings, volumes) -> dict:
    """A checked service create request, shaped as a container's: its mounts, and memory and
    process limits when absent."""
    resources = spec.setdefault("resources", {})
    shaped = shape_container({"mounts": spec["mounts"], **resources}, settings, volumes)
    spec["mounts"] = shaped["mounts"]
    resources.update(memory=shaped["memory"], pids_limit=shaped["pids_limit"])
    return spec


def judge_update(host_changes: dict, ctx: Context) -> None:
    """A container update's fields (memory, CPUs, processes, restart policy), by the table."""
    judge_fields(HOST_CONFIG, host_changes, ctx, "HostConfig")


# -- networks -------------------------------------------------------------------------------

# networks the engine makes for itself and needs (swarm's two included): never removed
PREDEFINED_NETWORKS = ("bridge", "host", "none", "ingress", "docker_gwbridge")


def check_network_removal(network: dict) -> None:
    """``network`` is the engine's record (its inspect answer): the rule judges the name an
    id or a prefix resolved to, not what the request sent. Denied for a predefined one."""
    name = network.get("Name", "")
    if name in PREDEFINED_NETWORKS or network.get("Ingress"):
        raise Denied(
            "predefined-network",
            f"`{name}` is a network the engine made for itself and needs: it cannot be removed",
        )


def check_giving(kind: str, record: dict, ctx) -> None:
    """What an administrator may give to a team (``kind`` as the paths name it): never the
    service's own container, nor a volume that holds its data, nor a network the engine made
    for itself (every team's to join, no team's to own)."""
    if kind == "containers":
        check_not_self(record["Id"], ctx.own)
    elif kind == "volumes" and record["Name"] in ctx.held()[0]:
        raise Denied("self-protection", f"volume {record['Name']} holds the service's own data")
    elif kind == "networks" and (
        record.get("Name") in PREDEFINED_NETWORKS or record.get("Ingress")
    ):
        raise Denied(
            "predefined-network",
            f"`{record.get('Name')}` is a network the engine made for itself: every team's to "
            "join, no team's to own",
        )


# -- the table, published -------------------------------------------------------------------

# the settings the rules read, published with the table
SETTINGS = (
    "ALLOWED_BIND_ROOTS",
    "ALLOW_WRITABLE_BINDS",
    "ALLOWED_VOLUME_DRIVERS",
    "ALLOWED_PUBLISH_IPS",
    "PUBLISH_HOST_IP",
    "ALLOW_LOW_PORTS",
    "DEFAULT_MEMORY",
    "MAX_MEMORY",
    "DEFAULT_PIDS_LIMIT",
    "MAX_PIDS_LIMIT",
    "MAX_CPUS",
    "PULL_PUSH_REGISTRIES",
    "RESTORE_MAX_BYTES",
    "RESTORE_MAX_ENTRIES",
)

# rules that judge something other than a field of the table
OTHER_RULES = {
    "bind-roots": "a bind's host path, normalised and its links resolved, under ALLOWED_BIND_ROOTS",
    "host-system": "never the Docker socket, the engine's data or the host's system directories",
    "socket": "never a socket, wherever it is",
    "read-only-binds": "host paths (binds, volumes that bind one) read-only unless "
    "ALLOW_WRITABLE_BINDS",
    "volume-driver": "volumes of ALLOWED_VOLUME_DRIVERS only",
    "volume-options": "volume options mount a tmpfs, or a bind under the roots, nothing else",
    "host-network": "never the host's network namespace, by name, id or container:X",
    "registries": "the engine fetches only from PULL_PUSH_REGISTRIES (pull, create with pull, "
    "services, every image a build names)",
    "self-protection": "the service's own container is never stopped, removed, changed or entered",
    "id-like-name": "no container name of 12 to 64 hex digits",
    "predefined-network": "the engine's own networks are never removed, nor given to a team",
    "team-label": "the team label is set by the service on what a team's token makes, never sent",
    "teams": "a team's token sees and drives what its team made or was given, and nothing "
    "else (404); only an operator's token lists teams and gives",
    "unknown-field": "a field the table does not know is refused when set",
    "archive": "a restore holds files, directories and links that stay in the volume; "
    "setuid and setgid bits are cleared; at most RESTORE_MAX_BYTES and RESTORE_MAX_ENTRIES",
}


def published(settings) -> dict:
    """The table as GET /policy answers it: each field, its rule, what it lets through; the
    other rules; the configured values the rules read."""
    return {
        "fields": [
            {
                "field": f"{form}.{field.name}",
                "rule": field.kind,
                "allows": field.says if field.kind != REFUSED else "nothing: " + field.says,
                "refusal": field.refusal if field.kind == REFUSED else None,
            }
            for form, table in TABLES.items()
            for field in table.values()
        ],
        "rules": [{"rule": rule, "says": says} for rule, says in OTHER_RULES.items()],
        "settings": {key.lower(): settings[key] for key in SETTINGS},
    }


def markdown() -> str:
    """The table as the README shows it (made from this code; a test checks it)."""
    rows = ["| field | rule | what it lets through |", "|---|---|---|"]
    for form, table in TABLES.items():
        for field in table.values():
            says = field.says if field.kind != REFUSED else f"nothing ({field.refusal})"
            rows.append(f"| `{form}.{field.name}` | {field.kind} | {says} |")
    return "\n".join(rows) + "\n"

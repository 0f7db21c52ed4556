"""What views ask before they act on an engine object: the policy's context, and the one
object a request may act on, resolved once, checked, and named in the audit line."""

from flask import current_app
from flask_smorest import abort

from . import audit, policy
from .auth import current_token
from .extensions import gateway
from .policy import teams


def policy_context() -> policy.Context:
    """The settings, the engine to resolve references through, the service's own container."""
    return policy.Context(current_app.config, gateway(), own_container(), team())


def own_container() -> str | None:
    """The service's own container: its id or a prefix of it (configured, or found)."""
    return current_app.extensions.get("dockyard_self")


def guard(ref: str, policed: bool = False) -> str:
    """The full id of a container a request may act on, resolved once: the action and the
    audit line then name that id, never a name that could meanwhile mean another one.

    Never the service's own (rule self-protection). ``policed``: the action starts the
    container, runs a process in it, copies into or out of it, or changes it, so the
    container as the engine holds it now must pass the policy (what it mounts now, what it
    was given elsewhere, what its references resolve to)."""
    record = seen_container(ref)
    full = audit.resolved(record["Id"])
    policy.check_not_self(full, own_container())
    if policed:
        policy.judge_container(record, policy_context())
    return full


def team() -> str | None:
    """The team of the calling token; None for an operator's."""
    return current_token().team


def seen_container(ref: str) -> dict:
    """The engine's record of a container the calling token may see (a team's token: one of
    its team's; another answers 404, as one that does not exist)."""
    record = gateway().container_record(ref)
    teams.seen("container", ref, (record.get("Config") or {}).get("Labels"), team())
    return record


def seen_volume(name: str) -> dict | None:
    """The engine's record of a volume the calling token may see, None when there is none;
    another team's answers 404."""
    record = gateway().volume_record(name)
    if record is not None:
        teams.seen("volume", name, record.get("Labels"), team())
    return record


def seen_network(ref: str) -> dict:
    """The engine's record of a network the calling token may see: its team's, or one with
    no team (the engine's own, an operator's), which every team may join; another team's
    answers 404."""
    record = gateway().network_record(ref)
    labels = record.get("Labels") or {}
    if teams.TEAM_LABEL in labels:
        teams.seen("network", ref, labels, team())
    return record


def pinned_volume(record: dict, read_only: bool) -> str:
    """A helper container holding the volume ``record`` was judged on, so that the engine
    cannot remove or replace it meanwhile; a 409 (nothing read or written) when the volume
    the name holds now is another one (made again since, with other options)."""
    helper, mounted = gateway().pin_volume(record["Name"], read_only)
    if any(mounted.get(key) != record.get(key) for key in ("CreatedAt", "Driver", "Options")):
        gateway().unpin_volume(helper)
        abort(
            409,
            message=f"volume {record['Name']} was replaced by another while the request was "
            "read: nothing was read or written",
        )
    return helper

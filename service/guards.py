"""What views ask before they act on an engine object: the policy's context, and the one
object a request may act on, resolved once, checked, and named in the audit line."""

import re

from flask import Response, current_app, jsonify
from flask_smorest import abort

from . import audit, engines, policy
from .auth import current_token
from .extensions import gateway
from .gateway.images import from_rfc3339
from .grants import Grants, GrantsView
from .policy import teams
from .schemas.services import SWARM_REF


def policy_context() -> policy.Context:
    """The settings, the engine to resolve references through, the service's own container."""
    return policy.Context(engines.settings(), gateway(), own_container(), team(), given)


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


def decision(judged) -> Response:
    """The policy's decision on a create, and nothing done: ``judged()`` gives the engine's
    create body, or raises Denied naming the rule."""
    try:
        engine = judged()
    except policy.Denied as denied:
        return jsonify(allowed=False, rule=denied.rule, message=str(denied))
    return jsonify(allowed=True, rule=None, message="allowed", engine_config=engine)


def swarm_ref(id: str, what: str) -> str:
    """The {id} of a swarm object's path (a service, node, secret, config), checked: an id, a
    short id or a name, else a 400."""
    if not re.fullmatch(SWARM_REF, id):
        abort(400, message=f"`{id}` is not a {what} id or name")
    return id


def team() -> str | None:
    """The team of the calling token; None for an operator's."""
    return current_token().team


def grants() -> Grants:
    """What an administrator gave to teams (``GRANTS_FILE``)."""
    return current_app.extensions["dockyard_grants"]


def grant_key(kind: str, record: dict) -> tuple[str, str | None]:
    """How a grant names an object, from the engine's record of it or a list's entry: its id
    (a volume's name), and for a volume its creation time (one made again is another)."""
    if kind == "volumes":
        created = record.get("created") or from_rfc3339(record.get("CreatedAt"))
        return record.get("Name") or record.get("name"), created.isoformat() if created else None
    return record.get("Id") or record.get("ID") or record.get("id"), None


def given(kind: str, record: dict, store: Grants | GrantsView | None = None) -> list[str]:
    """The teams an object was given to: ``kind`` as the paths name it (containers, volumes,
    networks, services, secrets, configs)."""
    return (store or grants()).teams(kind, *grant_key(kind, record))


def owned_by(kind: str, items: list[dict], of: str) -> list[dict]:
    """A list's entries team ``of`` made or was given (the grants read once for the list)."""
    view = grants().snapshot()
    # the service's own entries, or the engine's (its `Labels`, through the Engine-API front)
    return [
        item
        for item in items
        if teams.owns(item.get("labels", item.get("Labels")), of, given(kind, item, view))
    ]


def mine(kind: str, items: list[dict]) -> list[dict]:
    """A list's entries the calling token may see: for a team's token, those its team made
    or was given (the service's own check, after the daemon's label filter)."""
    return items if team() is None else owned_by(kind, items, team())


def team_list_filters(kind: str, filters: dict | None, of: str | None) -> dict:
    """A list's filters for the daemon: for team ``of``, the label of what it made, unless it
    was given some of ``kind`` (then the service's own check alone narrows)."""
    if of is not None and grants().naming(kind, of):
        return dict(filters or {})
    return teams.team_filters(filters, of)


def list_filters(kind: str, filters: dict | None) -> dict:
    """A list's filters for the daemon, for the calling token."""
    return team_list_filters(kind, filters, team())


def events_kept(followed=None):
    """For a team's token, whether an event is of its team's objects (None for an operator's,
    who sees all). A container's and an image's events carry their labels; a volume's, a
    network's, a service's, a secret's and a config's do not: the object is looked up once a
    stream (one removed before the stream first named it is not shown), on the engine the
    event names among ``followed`` (the request's engine by default)."""
    if team() is None:
        return None
    mine_of, store = team(), grants()
    gateways = {engine.name: engine.gateway for engine in followed or [engines.current()]}
    alone = next(iter(gateways.values()))
    lookups = {
        "volume": lambda engine, ref: engine.volume_record(ref),
        "network": lambda engine, ref: engine.network_record(ref),
        "service": lambda engine, ref: engine.service_record(ref),
        "secret": lambda engine, ref: engine.payload_record("secret", ref),
        "config": lambda engine, ref: engine.payload_record("config", ref),
    }
    known: dict[tuple, bool] = {}

    def kept(event: dict) -> bool:
        kind, actor = event.get("type") or "", event.get("actor_id") or ""
        engine = gateways.get(event.get("engine"), alone)
        attributes = event.get("attributes") or {}
        if kind == "container":
            return teams.owns(attributes, mine_of, store.teams("containers", actor))
        if kind == "image":
            # images are shared; those a team built carry its label
            return teams.TEAM_LABEL in attributes and teams.owns(attributes, mine_of)
        if kind not in lookups:
            return False  # the engine's own (daemon, node, plugin): not a team's
        if (engine, kind, actor) not in known:
            try:
                record = lookups[kind](engine, actor)
            except Exception:
                return False  # gone, or unreachable: shown to no team
            if record is None:
                return False
            labels = record.get("Labels") if "Labels" in record else record["Spec"].get("Labels")
            # a network no team made is joined by every team: its events (which name every
            # team's containers) are no one team's
            to = given(f"{kind}s", record, store)
            known[(engine, kind, actor)] = teams.owns(labels, mine_of, to)
        return known[(engine, kind, actor)]

    return kept


def seen_container(ref: str, cached: bool = False) -> dict:
    """The engine's record of a container the calling token may see (a team's token: one its
    team made or was given; another answers 404, as one that does not exist). ``cached``: as
    the engine's mirror holds it (a read's, never a policy's judgement)."""
    record = gateway().container_record(ref, cached)
    labels = (record.get("Config") or {}).get("Labels")
    teams.seen("container", ref, labels, team(), given("containers", record))
    return record


def seen_volume(name: str, cached: bool = False) -> dict | None:
    """The engine's record of a volume the calling token may see, None when there is none;
    another team's answers 404."""
    record = gateway().volume_record(name, cached)
    if record is not None:
        teams.seen("volume", name, record.get("Labels"), team(), given("volumes", record))
    return record


def seen_network(ref: str, cached: bool = False) -> dict:
    """The engine's record of a network the calling token may see: its team's, or one with
    no team (the engine's own, an operator's) given to none, which every team may join;
    another team's answers 404."""
    record = gateway().network_record(ref, cached)
    labels, to = record.get("Labels") or {}, given("networks", record)
    if not teams.shared(labels, to):
        teams.seen("network", ref, labels, team(), to)
    return record


def seen_swarm_object(kind: str, ref: str, record: dict) -> dict:
    """A service's, secret's or config's record the calling token may see (``kind``: services,
    secrets, configs); another team's answers 404."""
    labels = (record.get("Spec") or {}).get("Labels")
    teams.seen(kind.rstrip("s"), ref, labels, team(), given(kind, record))
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

"""Teams (rules ``team-label`` and ``teams``): what a team's token creates carries the team's
label, which no client sets, changes or removes; a team's token sees and drives only what
carries its team's label, and the rest answers as if it did not exist. Tokens without a team
(operators) see everything.

An administrator may give an object to other teams as well (``service.grants``): its teams
are then the label's and those given. A network with no team and given to none is the
engine's or an operator's, shared by every team."""

from .denied import Denied

TEAM_LABEL = "dockyard.team"
# a team's name, as it goes into the label of what its tokens create
TEAM_NAME = r"[a-z0-9][a-z0-9_.-]{0,63}"


class Unseen(Exception):
    """An object a team's token may not see: answered 404, as one that does not exist."""

    def __init__(self, kind: str, ref: str):
        super().__init__(f"no such {kind}: {ref}")
        self.kind, self.ref = kind, ref


def claim(labels: dict | None, team: str | None) -> dict:
    """A create's labels: the team's label added for a team's token; Denied when the client
    names that label itself."""
    if TEAM_LABEL in (labels or {}):
        raise Denied("team-label", f"the `{TEAM_LABEL}` label is set by the service, never sent")
    return {**(labels or {}), TEAM_LABEL: team} if team else dict(labels or {})


def owns(labels: dict | None, team: str | None, given=()) -> bool:
    """Whether a token of ``team`` may see an object with ``labels``, given to the teams
    ``given`` as well (an operator sees all)."""
    return team is None or (labels or {}).get(TEAM_LABEL) == team or team in given


def seen(kind: str, ref: str, labels: dict | None, team: str | None, given=()) -> None:
    """Unseen unless a token of ``team`` may see the object."""
    if not owns(labels, team, given):
        raise Unseen(kind, ref)


def shared(labels: dict | None, given=()) -> bool:
    """A network no team made and none was given: every team's to join and list."""
    return TEAM_LABEL not in (labels or {}) and not given


def team_filters(filters: dict | None, team: str | None) -> dict:
    """A list's filters narrowed, for a team's token, to what its team made (the daemon's own
    label filter: one call still). Bulk removals and prunes take these: they act on what the
    team made, never on what it was given."""
    filters = dict(filters or {})
    if team:
        filters["label"] = [*(filters.get("label") or []), f"{TEAM_LABEL}={team}"]
    return filters

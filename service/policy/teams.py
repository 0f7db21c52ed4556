"""Teams (rules ``team-label`` and ``teams``): what a team's token creates carries the team's
label, which no client sets, changes or removes; a team's token sees and drives only what
carries its team's label, and the rest answers as if it did not exist. Tokens without a team
(operators) see everything."""

from .denied import Denied

TEAM_LABEL = "dockyard.team"


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


def owns(labels: dict | None, team: str | None) -> bool:
    """Whether a token of ``team`` may see an object with ``labels`` (an operator sees all)."""
    return team is None or (labels or {}).get(TEAM_LABEL) == team


def seen(kind: str, ref: str, labels: dict | None, team: str | None) -> None:
    """Unseen unless a token of ``team`` may see the object."""
    if not owns(labels, team):
        raise Unseen(kind, ref)


def team_filters(filters: dict | None, team: str | None) -> dict:
    """A list's filters narrowed, for a team's token, to its team's objects (the daemon's own
    label filter: one call still)."""
    filters = dict(filters or {})
    if team:
        filters["label"] = [*(filters.get("label") or []), f"{TEAM_LABEL}={team}"]
    return filters

"""What an administrator gave to teams: objects the engine cannot relabel (a container's,
a volume's, a network's labels are fixed at create) given to one team or more, kept by the
service in ``GRANTS_FILE``.

An object's teams are the one its label names (the team whose token made it) and the ones
given it here. A grant adds a team and never takes the label's team away, so that what a team
made stays in its bulk removals and prunes, and nothing of another's is ever in them.

The file is JSON, written whole to a file beside it and renamed into place under a lock, so
that the workers of one service (and replicas sharing the file) read a whole file, and read it
again when it changes. A volume's grant holds its creation time: a volume of that name made
again later is another one, and is not given."""

import fcntl
import json
import os
import threading
from contextlib import contextmanager

# the kinds of object a team can be given, as the paths name them
KINDS = ("containers", "volumes", "networks", "services", "secrets", "configs")


class GrantsUnwritable(Exception):
    """The grants file cannot be written (a read-only filesystem, no permission)."""


class GrantsView:
    """The grants as they stood when read."""

    def __init__(self, entries: dict[tuple[str, str], dict]):
        self._entries = entries

    def teams(self, kind: str, key: str, created=None) -> list[str]:
        """The teams ``kind`` ``key`` was given to (none when it was given to none); for a
        volume, only when it is the one given (made at ``created``)."""
        entry = self._entries.get((kind, key))
        if entry is None or entry.get("created") != created:
            return []
        return entry["teams"]

    def naming(self, kind: str, team: str) -> bool:
        """Whether some object of ``kind`` was given to ``team``."""
        return any(k == kind and team in g["teams"] for (k, _), g in self._entries.items())


class Grants:
    def __init__(self, path: str):
        self.path = os.path.expanduser(path) if path else ""
        self._seen = None
        self._entries: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------

    def _fresh(self) -> dict[tuple[str, str], dict]:
        """The grants as the file holds them now (read again only when it changed)."""
        try:
            info = os.stat(self.path) if self.path else None
        except FileNotFoundError:
            info = None
        seen = info and (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._lock:
            if seen != self._seen:
                self._entries = self._read() if seen else {}
                self._seen = seen
            return self._entries

    def _read(self) -> dict[tuple[str, str], dict]:
        with open(self.path, encoding="utf-8") as file:
            data = json.load(file)
        return {(g["kind"], g["id"]): g for g in data.get("grants") or []}

    def snapshot(self) -> "GrantsView":
        """The grants as they stand now, for work that reads them many times (a list)."""
        return GrantsView(self._fresh())

    def teams(self, kind: str, key: str, created=None) -> list[str]:
        return self.snapshot().teams(kind, key, created)

    def naming(self, kind: str, team: str) -> bool:
        return self.snapshot().naming(kind, team)

    def given(self, team: str | None = None) -> list[dict]:
        """Every grant (to ``team``, when named): kind, id, name, created, teams."""
        return [g for g in self._fresh().values() if team is None or team in g["teams"]]

    # -- writing -----------------------------------------------------------------------------

    def give(self, kind, key, name, created, team) -> list[str]:
        """Give ``kind`` ``key`` to ``team`` as well; the teams it is given to now."""
        with self._writing() as entries:
            entry = entries.get((kind, key))
            if entry is None or entry.get("created") != created:
                entry = {"kind": kind, "id": key, "name": name, "created": created, "teams": []}
            if team not in entry["teams"]:
                entry["teams"] = sorted([*entry["teams"], team])
            entry["name"] = name
            entries[(kind, key)] = entry
            return entry["teams"]

    def take(self, kind, key, team) -> bool:
        """Take ``kind`` ``key`` back from ``team``; False when it was not given to it."""
        with self._writing() as entries:
            entry = entries.get((kind, key))
            if entry is None or team not in entry["teams"]:
                return False
            entry["teams"] = [t for t in entry["teams"] if t != team]
            if not entry["teams"]:
                del entries[(kind, key)]
            return True

    @contextmanager
    def _writing(self):
        """The grants, read under the file's lock, then written whole and renamed in place."""
        if not self.path:
            raise GrantsUnwritable("no GRANTS_FILE is set")
        try:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
            with open(f"{self.path}.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                entries = self._read() if os.path.exists(self.path) else {}
                yield entries
                spare = f"{self.path}.{os.getpid()}.new"
                with open(spare, "w", encoding="utf-8") as file:
                    grants = sorted(entries.values(), key=lambda g: (g["kind"], g["name"] or ""))
                    json.dump({"grants": grants}, file, indent=1)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(spare, self.path)
        except OSError as exc:
            raise GrantsUnwritable(f"the grants file {self.path} cannot be written: {exc}") from exc

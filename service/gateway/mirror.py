"""The engine's mirror: its containers, images, volumes and networks as the daemon lists and
inspects them, held by each worker and kept current by the engine's events.

A ``Mirror`` stands in for the few docker-py calls that read (``containers``, ``images``,
``volumes``, ``networks`` and their inspects): it answers them with the daemon's own records,
filtered here as the daemon filters them, or raises ``Miss`` and the daemon is asked.

- Filled by one list per kind at its first read (a container's inspect too: the list's
  `Status` words are the daemon's of the moment, made again here from its state at each read).
- Kept current by the worker's one subscription to the engine's events: an event marks what it
  touches stale, and the next read of it asks the daemon again, once, for every reader.
- A change made through the service (any worker) moves the engine's write mark, a counter the
  workers share in a file: what was read before it is read again. A change made elsewhere is
  seen once its event arrives; one the engine announces by no event (a stopped container
  connected to a network) once the record is ``max_age`` seconds old, when it is read again.
- Until the event stream is open, and again from the moment it breaks until it is opened
  again, every read goes to the daemon; what was held is dropped.
- What events do not follow (sizes, stats, a filter not known here) is always the daemon's.
- The records held are bounded (``limit`` bytes, counted as their JSON); a kind that does not
  fit is read from the daemon.
"""

import fcntl
import logging
import mmap
import os
import re
import struct
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import docker.errors
import orjson

from .container_views import status_text

log = logging.getLogger(__name__)

KINDS = ("containers", "images", "volumes", "networks")
# the docker-py calls a mirror answers (those it cannot answer as asked raise Miss)
_ANSWERED = frozenset(
    {
        "containers",
        "inspect_container",
        "images",
        "inspect_image",
        "volumes",
        "inspect_volume",
        "networks",
        "inspect_network",
    }
)
# seconds between two attempts to open the event stream again
RETRY = 1.0
# names the daemon's regular-expression filters take that mean the same as plain text
_PLAIN = re.compile(r"^[A-Za-z0-9_-]*$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
# container states the daemon's `status` filter knows
STATES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}


class Miss(Exception):
    """The mirror cannot answer this read as the daemon would: ask the daemon."""


class Reads:
    """docker-py's reading calls, answered by the mirror where it can, else by the daemon."""

    def __init__(self, mirror: "Mirror", api):
        self._mirror = mirror
        self._api = api

    def __getattr__(self, name):
        if name not in _ANSWERED:
            return getattr(self._api, name)

        def read(*args, **kwargs):
            try:
                return getattr(self._mirror, name)(*args, **kwargs)
            except Miss:
                return getattr(self._api, name)(*args, **kwargs)

        return read


class WriteMark:
    """A counter the workers of one service share for one engine (8 bytes of a file in their
    shared directory): a worker that changes the engine moves it before it answers, and a
    worker whose mirror read before the move reads again."""

    def __init__(self, path: str):
        self.path = path
        self._map = None
        self._pid = None

    def _mapped(self) -> mmap.mmap:
        if self._map is None or self._pid != os.getpid():
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(self.path, flags, 0o600)
            try:
                if os.fstat(fd).st_size < 8:
                    os.pwrite(fd, b"\0" * 8, 0)
                self._map = mmap.mmap(fd, 8)
            finally:
                os.close(fd)
            self._pid = os.getpid()
        return self._map

    def read(self) -> int:
        return struct.unpack_from("<Q", self._mapped(), 0)[0]

    def move(self):
        mapped = self._mapped()
        with open(self.path, "rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            struct.pack_into("<Q", mapped, 0, struct.unpack_from("<Q", mapped, 0)[0] + 1)


class _Kind:
    """What the mirror holds of one kind: the list (None: not held), inspects by id, and
    when each was read (the write mark then)."""

    def __init__(self):
        self.entries: list[dict] | None = None
        self.listed_mark = -1
        self.listed_at = 0.0
        # id -> (write mark, record, its JSON size, when it was read)
        self.details: dict[str, tuple[int, dict, int, float]] = {}
        self.entries_bytes = 0
        self.details_bytes = 0
        # id -> (record, what the service made of it): made once for each record held
        self.shaped: dict[str, tuple[dict, dict]] = {}
        # moved by every event that touches the kind: a read that began before it is not kept
        self.epoch = 0
        self.lock = threading.Lock()
        self.too_large = False

    @property
    def bytes(self) -> int:
        return self.entries_bytes + self.details_bytes

    def forget(self, key: str | None = None):
        """One inspect no longer held (None: every one)."""
        if key is None:
            self.details.clear()
            self.shaped.clear()
            self.details_bytes = 0
            return
        self.shaped.pop(key, None)
        if (held := self.details.pop(key, None)) is not None:
            self.details_bytes -= held[2]

    def drop(self):
        self.entries = None
        self.entries_bytes = 0
        self.forget()
        self.epoch += 1


class Mirror:
    """One engine's mirror in one worker (see the module's docstring)."""

    def __init__(
        self,
        api,
        subscribe,
        is_docker,
        mark: WriteMark | None,
        limit: int,
        max_age: float,
        enabled=True,
    ):
        # api(): the engine's docker-py client; subscribe(): a subscription to every event;
        # is_docker(): whether the engine is Docker's (Podman's events differ: not mirrored)
        self._api = api
        self._subscribe = subscribe
        self._is_docker = is_docker
        self._docker = None
        self.mark = mark
        self.limit = limit
        # seconds a record is answered at most: what changes with no event (a stopped
        # container connected to a network elsewhere) is seen within it
        self.max_age = max_age
        self.enabled = enabled
        self._kinds = {kind: _Kind() for kind in KINDS}
        self._ready = False
        self._pid = None
        self._reader = None
        self._start_lock = threading.Lock()
        # (kind, id or None) -> the lock of the one reader asking the daemon for it
        self._filling: dict[tuple, threading.Lock] = {}
        self._filling_lock = threading.Lock()
        self.rebuilds = 0
        # the containers' list held, and its names and ids to ids
        self._index: tuple = (None, {})
        self.hits = dict.fromkeys(KINDS, 0)
        self.misses = dict.fromkeys(KINDS, 0)
        # observe(kind, hit) at each read, held(bytes) when what is held changes: the metrics
        self.observe = lambda kind, hit: None
        self.held = lambda size: None

    # -- the event stream ----------------------------------------------------------------------

    def serving(self) -> bool:
        """Whether reads may be answered here now; starts the worker's reader the first time."""
        if not self.enabled:
            return False
        if self._docker is None:
            try:
                self._docker = bool(self._is_docker())
            except Exception:
                return False  # the engine does not answer: its reads fail as they would
        if not self._docker:
            return False
        if self._pid != os.getpid():
            with self._start_lock:
                if self._pid != os.getpid():
                    self._restart()
        return self._ready

    def _restart(self):
        # a new process (a worker after its fork): nothing of the parent's holds
        self._pid = os.getpid()
        self._ready = False
        for kind in self._kinds.values():
            kind.drop()
        self._reader = threading.Thread(target=self._follow, daemon=True, name="mirror")
        self._reader.start()

    def _follow(self):
        pid = os.getpid()
        while self._pid == pid and self.enabled:
            try:
                subscription = self._subscribe()
            except Exception as exc:
                log.debug("mirror: the event stream does not open: %s", exc)
                time.sleep(RETRY)
                continue
            # what was held may have changed unseen: the events from now on keep it current
            self._drop_all()
            self.rebuilds += 1
            self._ready = True
            try:
                for event in subscription:
                    self.apply(event)
            except Exception as exc:
                log.info("mirror: the event stream broke (%s): reads go to the daemon", exc)
            finally:
                self._ready = False
                self._drop_all()
                subscription.close()
            time.sleep(RETRY)

    def _drop_all(self):
        for kind in self._kinds.values():
            with kind.lock:
                kind.drop()
                kind.too_large = False  # afresh: it may fit now
        self.held(0)

    def apply(self, event: dict):
        """What an event (our shape) makes stale."""
        kind = event.get("type")
        action = event.get("action") or ""
        actor = event.get("actor_id") or ""
        if kind == "container":
            self._stale("containers", actor)
            # a network's inspect names the running containers on it
            if action in ("start", "die", "destroy", "create", "rename"):
                self._stale("networks")
        elif kind == "image":
            self._stale("images")
            # a container's list entry names its image by id once the image's tag is gone
            self._stale("containers")
        elif kind == "volume":
            if action not in ("mount", "unmount"):
                self._stale("volumes", actor)
        elif kind == "network":
            self._stale("networks")
            container = (event.get("attributes") or {}).get("container")
            if container:
                self._stale("containers", container)
        elif kind == "daemon":
            self._drop_all()

    def _stale(self, name: str, actor: str | None = None):
        kind = self._kinds[name]
        with kind.lock:
            kind.epoch += 1
            kind.entries = None
            kind.entries_bytes = 0
            kind.forget(actor)

    # -- reading -------------------------------------------------------------------------------

    def _now(self) -> int:
        return self.mark.read() if self.mark is not None else 0

    def _listed(self, name: str, fetch, counted=True) -> list[dict]:
        """The kind's whole list, as held or read again (``fetch()``: the daemon's);
        ``counted``: a read of its own (not the lookup of an inspect)."""
        kind = self._kinds[name]
        if kind.too_large:
            raise Miss(name)

        def current(mark, now):
            fresh = kind.listed_mark == mark and now - kind.listed_at < self.max_age
            return kind.entries if fresh else None

        def keep(entries, mark, now, size):
            kind.entries, kind.listed_mark, kind.listed_at = entries, mark, now
            kind.entries_bytes = size

        return self._answered(name, None, current, fetch, keep, counted)

    def _detail(self, name: str, key: str, fetch, force=False) -> dict:
        """One record by its id, as held or read again (``force``: read again)."""
        kind = self._kinds[name]

        def current(mark, now):
            held = kind.details.get(key)
            fresh = held is not None and held[0] == mark and now - held[3] < self.max_age
            return held[1] if fresh else None

        def keep(record, mark, now, size):
            kind.forget(key)
            kind.details[key] = (mark, record, size, now)
            kind.details_bytes += size

        return self._answered(name, key, None if force else current, fetch, keep)

    def _answered(self, name: str, key: str | None, current, fetch, keep, counted=True):
        """What the mirror holds of kind ``name`` (``key``: one record; None: the list) when
        ``current(mark, now)`` finds it current, else the daemon's answer (``fetch()``), kept
        unless an event touched the kind meanwhile. One reader at a time asks the daemon for
        the same thing; those who come meanwhile wait for its answer."""
        kind = self._kinds[name]
        found = current(self._now(), time.monotonic()) if current else None
        if found is None:
            with self._alone(name, key):
                mark, now = self._now(), time.monotonic()
                found = current(mark, now) if current else None
                if found is None:
                    with kind.lock:
                        epoch = kind.epoch
                    self._read(name, False)
                    answer = fetch()
                    size = len(orjson.dumps(answer))
                    with kind.lock:
                        if kind.epoch == epoch and self._ready and not kind.too_large:
                            keep(answer, mark, now, size)
                            self._bounded(kind)
                    return answer
        if counted:
            self._read(name, True)
        return found

    @contextmanager
    def _alone(self, name: str, key: str | None):
        """One reader at a time for the same record (or list) of a kind."""
        with self._filling_lock:
            lock = self._filling.setdefault((name, key), threading.Lock())
        with lock:
            yield
        with self._filling_lock:
            if self._filling.get((name, key)) is lock and not lock.locked():
                del self._filling[(name, key)]

    def shaped(self, name: str, record: dict, make) -> dict:
        """``make(record)``, made once for each record the mirror holds (an answer's form)."""
        kind = self._kinds[name]
        key = record.get("Id")
        held = kind.shaped.get(key)
        if held is not None and held[0] is record:
            return held[1]
        value = make(record)
        with kind.lock:
            if (kind.details.get(key) or (None, None))[1] is record:
                kind.shaped[key] = (record, value)
        return value

    def _read(self, name: str, hit: bool):
        (self.hits if hit else self.misses)[name] += 1
        self.observe(name, hit)

    def _bounded(self, kind: _Kind):
        # what is held is measured as its JSON; past the limit, the kind is the daemon's
        if self.held_bytes() > self.limit:
            log.warning("mirror: past its %d bytes; the daemon answers these reads", self.limit)
            kind.drop()
            kind.too_large = True
        self.held(self.held_bytes())

    def held_bytes(self) -> int:
        return sum(kind.bytes for kind in self._kinds.values())

    def report(self) -> dict:
        """What the mirror holds now, for /system/info and the metrics."""
        return {
            "enabled": bool(self.enabled and self._docker is not False),
            "serving": bool(self.enabled and self._ready and self._pid == os.getpid()),
            "bytes": self.held_bytes(),
            "limit_bytes": self.limit,
            "rebuilds": self.rebuilds,
            "kinds": [
                {
                    "kind": name,
                    "listed": kind.entries is not None,
                    "records": max(len(kind.entries or ()), len(kind.details)),
                    "bytes": kind.bytes,
                    "too_large": kind.too_large,
                    "hits": self.hits[name],
                    "misses": self.misses[name],
                }
                for name, kind in self._kinds.items()
            ],
        }

    # -- containers ----------------------------------------------------------------------------

    def _container_list(self, api, counted=True) -> list[tuple[dict, dict]]:
        """Every container's list entry with its state (from its inspect: the list's `Status`
        words are of the moment, made again at each read). An inspect held is kept while the
        words it gives are the daemon's; else it is read again."""
        kind = self._kinds["containers"]

        def fetch():
            now = datetime.now(UTC)
            pairs = []
            for entry in api.containers(all=True):
                held = kind.details.get(entry["Id"])
                state = (held[1].get("State") or {}) if held else None
                if state is None or status_text(state, now) != (entry.get("Status") or ""):
                    try:
                        record = self._detail(
                            "containers",
                            entry["Id"],
                            lambda e=entry: api.inspect_container(e["Id"]),
                            force=True,
                        )
                    except docker.errors.NotFound:
                        continue  # removed since the list: its event follows
                    state = record.get("State") or {}
                pairs.append((entry, state))
            return pairs

        return self._listed("containers", fetch, counted)

    def containers(self, all=False, filters=None, size=False, **rest) -> list[dict]:
        if size or rest:
            raise Miss("containers")
        wanted = _asked("containers", filters, {"label", "name", "status", "network", "volume"})
        if any(v not in STATES for v in wanted.get("status", [])):
            raise Miss("containers")
        now = datetime.now(UTC)
        return [
            {**entry, "Status": status_text(state, now)}
            for entry, state in self._container_list(self._api())
            if _container_kept(entry, wanted, all)
        ]

    def inspect_container(self, ref) -> dict:
        ref = str(ref)
        api = self._api()
        found = self._names(self._container_list(api, counted=False)).get(ref)
        if found is None:
            raise Miss("containers")
        return self._detail("containers", found, lambda: api.inspect_container(found))

    def _names(self, pairs) -> dict[str, str]:
        """Full ids and names to ids, made once for each list held."""
        if self._index[0] is not pairs:
            index = {}
            for entry, _ in pairs:
                index[entry["Id"]] = entry["Id"]
                for name in entry.get("Names") or []:
                    index[name.lstrip("/")] = entry["Id"]
            self._index = (pairs, index)
        return self._index[1]

    # -- images --------------------------------------------------------------------------------

    def images(self, name=None, quiet=False, all=False, filters=None) -> list[dict]:
        if name or quiet or all:
            raise Miss("images")
        wanted = _asked("images", filters, {"label", "dangling"})
        api = self._api()
        entries = self._listed("images", lambda: api.images())
        return [e for e in entries if _image_kept(e, wanted)]

    def inspect_image(self, ref) -> dict:
        ref = str(ref)
        api = self._api()
        entries = self._listed("images", lambda: api.images(), counted=False)
        ids = [e["Id"] for e in entries if _image_named(e, ref)]
        if len(ids) != 1:
            raise Miss("images")
        return self._detail("images", ids[0], lambda: api.inspect_image(ids[0]))

    # -- volumes -------------------------------------------------------------------------------

    def volumes(self, filters=None) -> dict:
        wanted = _asked("volumes", filters, {"label", "name"})
        api = self._api()
        entries = self._listed("volumes", lambda: api.volumes().get("Volumes") or [])
        return {
            "Volumes": [e for e in entries if _named_kept(e, wanted)],
            "Warnings": None,
        }

    def inspect_volume(self, name) -> dict:
        name = str(name)
        api = self._api()
        entries = self._listed("volumes", lambda: api.volumes().get("Volumes") or [], counted=False)
        if not any(e["Name"] == name for e in entries):
            raise Miss("volumes")
        return self._detail("volumes", name, lambda: api.inspect_volume(name))

    # -- networks ------------------------------------------------------------------------------

    def networks(self, names=None, ids=None, filters=None, greedy=False) -> list[dict]:
        if names or ids or greedy:
            raise Miss("networks")
        wanted = _asked("networks", filters, {"label", "name"})
        api = self._api()
        entries = self._listed("networks", lambda: api.networks())
        return [e for e in entries if _named_kept(e, wanted)]

    def inspect_network(self, ref, verbose=None, scope=None) -> dict:
        if verbose or scope:
            raise Miss("networks")
        ref = str(ref)
        api = self._api()
        entries = self._listed("networks", lambda: api.networks(), counted=False)
        ids = [e["Id"] for e in entries if ref in (e["Id"], e.get("Name"))]
        if len(ids) != 1:
            raise Miss("networks")
        return self._detail("networks", ids[0], lambda: api.inspect_network(ids[0]))


# -- the daemon's filters, applied here -----------------------------------------------------


def _asked(kind: str, filters, applied: set[str]) -> dict[str, list[str]]:
    """A list's filters as lists of words, as the daemon reads them; Miss when one is not
    among those ``applied`` here, or a name holds a regular expression's characters."""
    normal = {}
    for key, value in (filters or {}).items():
        values = value if isinstance(value, list | tuple | set) else [value]
        words = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
        if words:
            normal[key] = words
    if set(normal) - applied or not all(_PLAIN.match(v) for v in normal.get("name", [])):
        raise Miss(kind)
    return normal


def labels_match(labels: dict | None, wanted: list[str]) -> bool:
    """Every `key` or `key=value` of ``wanted`` is among ``labels``: the daemon's label filter
    (its MatchKVList), for lists and events alike."""
    labels = labels or {}
    for label in wanted:
        key, eq, value = label.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def _container_kept(entry: dict, wanted: dict, all: bool) -> bool:
    state = entry.get("State") or ""
    # a status filter lists stopped containers too, as `all` does
    if not (all or "status" in wanted) and state != "running":
        return False
    if "status" in wanted and state not in wanted["status"]:
        return False
    if "name" in wanted:
        names = [n.lstrip("/") for n in entry.get("Names") or []]
        if not any(v in n for v in wanted["name"] for n in names):
            return False
    if "label" in wanted and not labels_match(entry.get("Labels"), wanted["label"]):
        return False
    if "network" in wanted:
        networks = (entry.get("NetworkSettings") or {}).get("Networks") or {}
        known = set(networks) | {n.get("NetworkID") for n in networks.values()}
        if not known & set(wanted["network"]):
            return False
    if "volume" in wanted:
        mounts = entry.get("Mounts") or []
        known = {m.get("Name") for m in mounts} | {m.get("Destination") for m in mounts}
        if not known & set(wanted["volume"]):
            return False
    return True


def _image_kept(entry: dict, wanted: dict) -> bool:
    if "label" in wanted and not labels_match(entry.get("Labels"), wanted["label"]):
        return False
    if "dangling" in wanted:
        tags = [t for t in entry.get("RepoTags") or [] if t != "<none>:<none>"]
        if wanted["dangling"][-1] in ("true", "1") and tags:
            return False
        if wanted["dangling"][-1] in ("false", "0") and not tags:
            return False
    return True


def _image_named(entry: dict, ref: str) -> bool:
    if ref == entry["Id"] or (_HEX.match(ref) and entry["Id"] == f"sha256:{ref}"):
        return True
    tags = entry.get("RepoTags") or []
    last = ref.rsplit("/", 1)[-1]
    return ref in tags or (":" not in last and "@" not in ref and f"{ref}:latest" in tags)


def _named_kept(entry: dict, wanted: dict) -> bool:
    """A volume's or a network's entry: every `label` given, and any `name` within its name
    (the daemon's regular expression, for words of plain characters)."""
    if "label" in wanted and not labels_match(entry.get("Labels"), wanted["label"]):
        return False
    name = entry.get("Name") or ""
    return "name" not in wanted or any(v in name for v in wanted["name"])

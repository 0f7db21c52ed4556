"""Image verbs: list, inspect, history, pull, push, build, tag, remove, prune, save, load."""

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import docker.errors
from docker.auth import encode_header
from docker.utils import parse_repository_tag

from .streams import DaemonStream, StreamError, progress_events

DATA_CHUNK = 64 * 1024


class ImageVerbs:
    def list_images(self, all=False, filters=None, cached=False) -> list[dict]:
        # one call for the whole list (the model layer's images.list() inspects each image),
        # or none (``cached``: the engine's mirror)
        return [image_summary(i) for i in self.reads(cached).images(all=all, filters=filters)]

    def inspect_image(self, ref, cached=False) -> dict:
        return image_detail(self.reads(cached).inspect_image(ref))

    def image_history(self, ref) -> list[dict]:
        return [
            {
                "id": layer.get("Id") if layer.get("Id") != "<missing>" else None,
                "created": from_unix(layer.get("Created")),
                "created_by": layer.get("CreatedBy") or "",
                "size": layer.get("Size", 0),
                "tags": layer.get("Tags") or [],
                "comment": layer.get("Comment") or "",
            }
            for layer in self.clients.control.history(ref)
        ]

    def pull_image(self, repository, tag, platform=None, auth=None) -> DaemonStream:
        params = {"fromImage": repository, "tag": tag}
        if platform:
            params["platform"] = platform
        response = self.clients.open_stream(
            "POST", "/images/create", params=params, headers=_auth_header(auth)
        )
        return DaemonStream(progress_events(response), response)

    def ensure_image(self, ref, before_pull=None) -> None:
        """Pull ``ref`` unless it is present; wait until the pull is over. ``before_pull``
        is given the repository first, and may refuse by raising."""
        try:
            self.clients.control.inspect_image(ref)
            return
        except docker.errors.ImageNotFound:
            pass
        repository, tag, _ = pull_target(ref)
        if before_pull is not None:
            before_pull(repository)
        events = self.pull_image(repository, tag)
        try:
            for _ in events:
                pass
        finally:
            events.close()

    def push_image(self, repository, tag, auth=None) -> DaemonStream:
        response = self.clients.open_stream(
            "POST",
            "/images/{0}/push",
            repository,
            params={"tag": tag},
            # the daemon wants the header even when the registry needs no credentials
            headers={"X-Registry-Auth": encode_header(auth or {}).decode("ascii")},
        )
        return DaemonStream(progress_events(response), response)

    def build_image(self, context: bytes | Iterable[bytes], options: dict) -> DaemonStream:
        """Build from a tar context streamed to the daemon; events as the build runs.

        ``options["dockerfile"]`` is the Dockerfile's path in the context. A failing step
        raises StreamError(kind="build") with the step and the log so far; so does a context
        the daemon refuses outright (no Dockerfile, a syntax error).
        """
        params = {
            "t": options.get("tag") or None,
            "dockerfile": options.get("dockerfile") or None,
            "target": options.get("target") or None,
            "nocache": _flag(options.get("no_cache")),
            "pull": _flag(options.get("pull")),
            "rm": "1",
            "forcerm": "1",
            "buildargs": json.dumps(options.get("build_args") or {}),
            # each RUN step's container: memory (swap as much again, as for containers) and CPUs
            "memory": options.get("memory"),
            "memswap": options["memory"] * 2 if options.get("memory") else None,
            "cpuperiod": 100000 if options.get("cpus") else None,
            "cpuquota": int(options["cpus"] * 100000) if options.get("cpus") else None,
            "labels": json.dumps(options.get("labels") or {}),
        }
        try:
            response = self.clients.open_stream(
                "POST",
                "/build",
                params={k: v for k, v in params.items() if v is not None},
                data=context,
                headers={"Content-Type": "application/x-tar"},
            )
        except docker.errors.APIError as exc:
            if exc.status_code != 500:
                raise
            reason = str(exc.explanation)
            raise StreamError(reason, "build", {"step": None, "error": reason, "log": []}) from exc
        events = progress_events(response, classify=lambda _: "build")
        return DaemonStream(_build_events(events), response)

    def image_record(self, ref) -> dict | None:
        """The engine's record of an image (its inspect answer), None when it holds none of
        that reference (a build would then fetch it)."""
        try:
            return self.clients.control.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return None

    def tag_image(self, ref, repository, tag) -> None:
        self.clients.control.tag(ref, repository, tag)

    def remove_image(self, ref, force=False, noprune=False) -> dict:
        report = self.clients.control.remove_image(ref, force=force, noprune=noprune)
        return {
            "untagged": [e["Untagged"] for e in report if e.get("Untagged")],
            "deleted": [e["Deleted"] for e in report if e.get("Deleted")],
        }

    def prune_images(self, all=False, labels=(), until=None) -> dict:
        """Dangling images, or with ``all`` every image no container uses."""
        filters = {**prune_filters(labels, until), "dangling": not all}
        pruned = self.clients.long.prune_images(filters=filters)
        entries = pruned.get("ImagesDeleted") or []
        return {
            "untagged": [e["Untagged"] for e in entries if e.get("Untagged")],
            "deleted": [e["Deleted"] for e in entries if e.get("Deleted")],
            "space_reclaimed": pruned.get("SpaceReclaimed") or 0,
        }

    def export_image(self, ref) -> DaemonStream:
        """docker save: the tar as the daemon writes it. Errors (no such image) are raised
        here, before the first byte; closing the stream frees the daemon's connection."""
        response = self.clients.open_stream("GET", "/images/{0}/get", ref)
        return DaemonStream(response.iter_content(chunk_size=DATA_CHUNK), response)

    def load_images(self, archive: Iterable[bytes]) -> DaemonStream:
        """docker load: events whose log lines name the loaded images."""
        response = self.clients.open_stream(
            "POST",
            "/images/load",
            params={"quiet": "1"},
            data=archive,
            headers={"Content-Type": "application/x-tar"},
        )
        return DaemonStream(progress_events(response, classify=lambda _: "invalid"), response)


def _build_events(events: Iterator[dict]) -> Iterator[dict]:
    log, step = [], None
    try:
        for event in events:
            if event["type"] == "log":
                log.append(event["line"])
                if event["line"].startswith("Step "):
                    step = event["line"]
            yield event
    except StreamError as exc:
        raise StreamError(
            f"the build failed at {step or 'its start'}: {exc.message}",
            "build",
            {"step": step, "error": exc.message, "log": log},
        ) from exc


def prune_filters(labels=(), until=None) -> dict:
    """The daemon's prune filters: objects with all these labels, created before ``until``."""
    filters = {"label": list(labels)} if labels else {}
    if until:
        filters["until"] = until
    return filters


def pull_target(image: str, tag: str | None = None) -> tuple[str, str | None, str]:
    """What the daemon pulls for ``image`` (and a separate ``tag``): repository, tag
    (`latest` when none; none for a digest) and the reference the image then has."""
    if "@" in image:
        return image, None, image
    repository, own_tag = split_reference(image)
    tag = own_tag or tag or "latest"
    return repository, tag, f"{repository}:{tag}"


def split_reference(ref: str) -> tuple[str, str | None]:
    """``host:port/team/app:1.0`` -> (``host:port/team/app``, ``1.0``); a digest stays whole."""
    if "@" in ref:
        return ref, None
    return parse_repository_tag(ref)


def _auth_header(auth) -> dict:
    # credentials travel with this one request, never stored on the shared client
    return {"X-Registry-Auth": encode_header(auth).decode("ascii")} if auth else {}


def _flag(value) -> str | None:
    return "1" if value else None


def short_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def from_unix(seconds) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def from_rfc3339(text) -> datetime | None:
    """The daemon's timestamps carry nanoseconds; Python keeps microseconds."""
    match = _RFC3339.match(text or "")
    if not match or text.startswith("0001-01-01"):
        return None
    stamp, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{stamp}.{(fraction or '0')[:6]:0<6}{zone}").astimezone(UTC)


def _names(image: dict) -> dict:
    """What a list entry and an inspect answer share (under the same daemon names)."""
    return {
        "id": image["Id"],
        "short_id": short_id(image["Id"]),
        "tags": [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"],
        "digests": [d for d in image.get("RepoDigests") or [] if d != "<none>@<none>"],
        "size": image.get("Size", 0),
    }


def image_summary(image: dict) -> dict:
    return {
        **_names(image),
        "created": from_unix(image.get("Created")),
        "labels": image.get("Labels") or {},
    }


def image_detail(image: dict) -> dict:
    config = image.get("Config") or {}
    return {
        **_names(image),
        "created": from_rfc3339(image.get("Created")),
        "labels": config.get("Labels") or {},
        "architecture": image.get("Architecture"),
        "os": image.get("Os"),
        "parent": image.get("Parent") or None,
        "comment": image.get("Comment") or "",
        "author": image.get("Author") or "",
        "config": {
            "cmd": config.get("Cmd"),
            "entrypoint": config.get("Entrypoint"),
            "env": dict(_env_pair(e) for e in config.get("Env") or []),
            "exposed_ports": sorted(config.get("ExposedPorts") or {}),
            "working_dir": config.get("WorkingDir") or "",
            "user": config.get("User") or "",
            "volumes": sorted(config.get("Volumes") or {}),
            "stop_signal": config.get("StopSignal"),
        },
        "layers": (image.get("RootFS") or {}).get("Layers") or [],
    }


def _env_pair(entry: str) -> tuple[str, str]:
    name, _, value = entry.partition("=")
    return name, value

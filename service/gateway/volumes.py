"""Volume verbs: list, create, inspect, remove, prune, and the helper that backs one up and
restores it.

A volume's files are read and written through the Engine API's archive endpoints on a helper
container that mounts the volume and is never started: its image is an empty one this module
imports itself, so nothing is pulled and nothing runs.
"""

import hashlib
import io
import tarfile
from collections.abc import Iterator

import docker.errors

from .containers import DATA_CHUNK, PLAIN
from .images import from_rfc3339, prune_filters
from .streams import DaemonStream

# the helper's image: no files at all, made here (docker import of an empty tar)
HELPER_IMAGE = "dockyard/volume-helper:empty"
HELPER_LABEL = "dockyard.helper"
HELPER_VOLUME_LABEL = "dockyard.helper.volume"
# where the helper mounts the volume
MOUNT_POINT = "/volume"


class VolumeInUse(Exception):
    """The engine refused to remove a volume that containers use, running or not: which."""

    def __init__(self, name: str, users: list[dict]):
        super().__init__(f"volume {name} is in use")
        self.name, self.users = name, users


class VolumeVerbs:
    # -- reading -----------------------------------------------------------------------------

    def list_volumes(self, filters=None, sizes=False, cached=False) -> list[dict]:
        """Every volume the filters select, with the containers that use each: two daemon
        calls however many volumes there are (none from the mirror); with ``sizes``, a third
        (the engine's disk usage, which measures every volume, never mirrored), and each
        volume's size (None when unknown)."""
        api = self.reads(cached)
        volumes = api.volumes(filters=filters or None).get("Volumes") or []
        users = self._volume_users(api.containers(all=True))
        measured = {}
        if sizes:
            for v in self.clients.control.df().get("Volumes") or []:
                size = (v.get("UsageData") or {}).get("Size", -1)
                measured[v["Name"]] = size if size >= 0 else None
        return [
            {**volume_summary(v, users.get(v["Name"], [])), "size": measured.get(v["Name"])}
            for v in volumes
        ]

    def inspect_volume(self, name, cached=False) -> dict:
        api = self.reads(cached)
        volume = api.inspect_volume(name)
        users = self._volume_users(api.containers(all=True, filters={"volume": volume["Name"]}))
        return volume_detail(volume, users.get(volume["Name"], []))

    def volume_record(self, name, cached=False) -> dict | None:
        """The engine's own record of a volume (driver, options), or None when there is none."""
        try:
            return self.reads(cached).inspect_volume(name)
        except docker.errors.NotFound:
            return None

    def volume_writers(self, name) -> list[str]:
        """The services whose tasks mount the volume ``name`` writable, whether it exists or
        not (a task makes it when it starts): one call; none on an engine in no swarm."""
        try:
            services = self.clients.call("GET", "/services")
        except docker.errors.APIError:
            return []
        return [
            service["Spec"]["Name"]
            for service in services or []
            for mount in service["Spec"]["TaskTemplate"].get("ContainerSpec", {}).get("Mounts")
            or []
            if mount.get("Type") == "volume"
            and mount.get("Source") == name
            and not mount.get("ReadOnly")
        ]

    def volume_users(self, name) -> list[dict]:
        """The containers that mount a volume, running or not."""
        containers = self.clients.control.containers(all=True, filters={"volume": name})
        return self._volume_users(containers).get(name, [])

    @staticmethod
    def _volume_users(containers) -> dict[str, list[dict]]:
        users: dict[str, list[dict]] = {}
        for c in containers:
            names = [n.lstrip("/") for n in c.get("Names") or []]
            user = {"id": c["Id"], "name": names[0] if names else "", "state": c.get("State", "")}
            for mount in c.get("Mounts") or []:
                if mount.get("Type") == "volume" and mount.get("Name"):
                    users.setdefault(mount["Name"], []).append(user)
        return users

    # -- changing ----------------------------------------------------------------------------

    def create_volume(self, name=None, driver="local", driver_opts=None, labels=None) -> dict:
        created = self.clients.control.create_volume(
            name=name, driver=driver, driver_opts=driver_opts or None, labels=labels or None
        )
        return self.inspect_volume(created["Name"])

    def remove_volume(self, name) -> None:
        try:
            self.clients.control.remove_volume(name)
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise VolumeInUse(name, self.volume_users(name)) from exc
            raise

    def discard_volume(self, record: dict) -> None:
        """Remove the volume ``record`` is of, if nothing uses it; gone already, in use, or
        made again since (another volume of that name): left as it is."""
        current = self.volume_record(record["Name"])
        if current is None or current.get("CreatedAt") != record.get("CreatedAt"):
            return
        try:
            self.clients.control.remove_volume(record["Name"])
        except docker.errors.APIError:
            pass

    def prune_volumes(self, labels=()) -> dict:
        pruned = self.clients.long.prune_volumes(filters=prune_filters(labels))
        return {
            "deleted": pruned.get("VolumesDeleted") or [],
            "space_reclaimed": pruned.get("SpaceReclaimed") or 0,
        }

    def renew_volume(self, record: dict) -> None:
        """Remove a volume and make it again, empty, with the same driver, options and labels."""
        api = self.clients.control
        api.remove_volume(record["Name"])
        api.create_volume(
            name=record["Name"],
            driver=record.get("Driver") or "local",
            driver_opts=record.get("Options") or None,
            labels=record.get("Labels") or None,
        )

    # -- files -------------------------------------------------------------------------------

    def pin_volume(self, name, read_only) -> tuple[str, dict]:
        """A helper container that mounts the volume, created and never started, and the
        volume's record as the helper holds it: while the helper exists the engine removes
        (or replaces) that volume for no one, so what is judged is what is read or written."""
        helper = self._helper(name, read_only)
        try:
            return helper, self.clients.control.inspect_volume(name)
        except BaseException:
            self._drop(helper)
            raise

    def read_volume(self, helper) -> DaemonStream:
        """The files of a pinned volume as a tar stream (entries relative: `./etc/...`). The
        helper goes when the stream is closed, read to its end or not."""
        try:
            response = self.clients.open_stream(
                "GET",
                "/containers/{0}/archive",
                helper,
                params={"path": f"{MOUNT_POINT}/."},
                headers=PLAIN,
            )
        except BaseException:
            self._drop(helper)
            raise
        return HelperStream(response.iter_content(chunk_size=DATA_CHUNK), response, self, helper)

    def write_volume(self, helper, archive: Iterator[bytes]) -> None:
        """Unpack a tar into a pinned volume: what it holds is written over what is there; the
        rest stays. The helper goes afterwards."""
        try:
            self.put_archive(helper, MOUNT_POINT, archive)
        finally:
            self._drop(helper)

    def unpin_volume(self, helper) -> None:
        self._drop(helper)

    def _helper(self, volume, read_only) -> str:
        """A container that mounts the volume, created and never started."""
        api = self.clients.control
        config = {
            "Image": self._helper_image(),
            "Cmd": ["never-started"],
            "Labels": {HELPER_LABEL: "volume", HELPER_VOLUME_LABEL: volume},
            "NetworkDisabled": True,
            "HostConfig": {
                "NetworkMode": "none",
                "Mounts": [
                    {
                        "Type": "volume",
                        "Source": volume,
                        "Target": MOUNT_POINT,
                        "ReadOnly": read_only,
                        # whatever an image holds at the mount point is never copied in
                        "VolumeOptions": {"NoCopy": True},
                    }
                ],
            },
        }
        return api.create_container_from_config(config)["Id"]

    def _drop(self, helper) -> None:
        try:
            self.clients.control.remove_container(helper, force=True)
        except docker.errors.NotFound:
            pass

    def _helper_image(self) -> str:
        """The id of the empty helper image, imported the first time it is missing."""
        api = self.clients.control
        try:
            image = api.inspect_image(HELPER_IMAGE)
            # its one layer is the empty tar imported here (any image tagged so elsewhere
            # holds files), as Docker and Podman both record it
            if (image.get("RootFS") or {}).get("Layers") == [_EMPTY_LAYER] and (
                image.get("Config") or {}
            ).get("Labels", {}).get(HELPER_LABEL):
                return image["Id"]
        except docker.errors.ImageNotFound:
            pass
        self.clients.call(
            "POST",
            "/images/create",
            params={
                # the tag in the name: Podman reads no `tag` with `fromSrc`
                "fromSrc": "-",
                "repo": HELPER_IMAGE,
                "changes": [f"LABEL {HELPER_LABEL}=volume"],
            },
            data=_EMPTY_TAR,
            headers={"Content-Type": "application/x-tar"},
        )
        return api.inspect_image(HELPER_IMAGE)["Id"]


def _empty_layer() -> str:
    return "sha256:" + hashlib.sha256(_EMPTY_TAR).hexdigest()


def _empty_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w"):
        pass
    return buffer.getvalue()


_EMPTY_TAR = _empty_tar()
_EMPTY_LAYER = _empty_layer()


class HelperStream(DaemonStream):
    """A daemon stream read through a helper container, which goes when the stream closes."""

    def __init__(self, items, response, verbs: VolumeVerbs, helper: str):
        super().__init__(items, response)
        self._verbs, self._helper = verbs, helper

    def __next__(self):
        try:
            return super().__next__()
        except BaseException:
            # read to its end, or broken: the helper goes now, not when the answer is closed
            self.close()
            raise

    def close(self):
        try:
            super().close()
        finally:
            if self._helper is not None:
                helper, self._helper = self._helper, None
                self._verbs._drop(helper)


def volume_summary(v: dict, users: list[dict]) -> dict:
    return {
        "name": v["Name"],
        "driver": v.get("Driver") or "",
        "mountpoint": v.get("Mountpoint") or "",
        "created": from_rfc3339(v.get("CreatedAt")),
        "labels": v.get("Labels") or {},
        "scope": v.get("Scope") or "local",
        "in_use_by": users,
    }


def volume_detail(v: dict, users: list[dict]) -> dict:
    return {**volume_summary(v, users), "options": v.get("Options") or {}}

"""System verbs: ping, engine summary, versions, disk usage."""

import re

import docker

from .images import prune_filters
from .volumes import HELPER_LABEL

# what an engine may write into a container's HostConfig on its own: namespaces, runtime, limits
ENGINE_GIVEN = ("PidMode", "UTSMode", "IpcMode", "CgroupnsMode", "Runtime", "Ulimits")


def kind_of(version: dict) -> str:
    """docker or podman, from the engine's version answer (Podman names its component)."""
    names = {str(part.get("Name", "")) for part in version.get("Components") or []}
    return "podman" if any(name.startswith("Podman") for name in names) else "docker"


class SystemVerbs:
    def ping(self) -> bool:
        client = self.clients.probing()
        answer = client.get(f"{client.base_url}/_ping", timeout=self.clients.settings.ready_timeout)
        return answer.status_code == 200 and answer.text == "OK"

    def identity(self, timeout: float) -> dict:
        """What the engine is, asked now (``timeout`` seconds at most each call): its kind
        (docker or podman), version, the API version spoken to it, and its swarm state."""
        self._kind, version = self._server(timeout)
        swarm = None  # Podman has none: the capability is absent, not inactive
        if self._kind == "docker":
            info = self.clients.call("GET", "/info", timeout=timeout) or {}
            swarm = (info.get("Swarm") or {}).get("LocalNodeState") or "inactive"
        api_version = self.clients.control.api_version
        return {"kind": self._kind, "version": version, "api_version": api_version, "swarm": swarm}

    def kind(self) -> str:
        """docker or podman (asked once a process)."""
        if getattr(self, "_kind", None) is None:
            self._kind = self._server(self.clients.settings.timeout)[0]
        return self._kind

    def _server(self, timeout: float) -> tuple[str, str | None]:
        """The engine's kind and version, from its ping's `Server` header (`Docker/20.10.24`,
        `Libpod/4.3.1`), else from its version answer (Podman's takes half a second: it asks
        its runtimes theirs)."""
        client = self.clients.probing()
        answer = client.get(f"{client.base_url}/_ping", timeout=timeout)
        answer.raise_for_status()
        named = re.match(r"(Docker|Libpod)/(\S+)", answer.headers.get("Server", ""))
        if named:
            return ("podman" if named[1] == "Libpod" else "docker"), named[2]
        found = self.clients.call("GET", "/version", timeout=timeout) or {}
        return kind_of(found), found.get("Version")

    def info(self) -> dict:
        info = self.clients.control.info()
        swarm = info.get("Swarm") or {}
        return {
            "name": info.get("Name"),
            "server_version": info.get("ServerVersion"),
            "api_version": self.clients.control.api_version,
            "os": info.get("OSType"),
            "operating_system": info.get("OperatingSystem"),
            "kernel_version": info.get("KernelVersion"),
            "architecture": info.get("Architecture"),
            "cpus": info.get("NCPU"),
            "memory_bytes": info.get("MemTotal"),
            "containers": info.get("Containers"),
            "containers_running": info.get("ContainersRunning"),
            "containers_paused": info.get("ContainersPaused"),
            "containers_stopped": info.get("ContainersStopped"),
            "images": info.get("Images"),
            "storage_driver": info.get("Driver"),
            "logging_driver": info.get("LoggingDriver"),
            "cgroup_driver": info.get("CgroupDriver"),
            "docker_root_dir": info.get("DockerRootDir"),
            "swarm": swarm.get("LocalNodeState") or "inactive",
        }

    def engine_root(self) -> str:
        """The engine's data directory on its host (asked once)."""
        if getattr(self, "_engine_root", None) is None:
            self._engine_root = self.clients.control.info().get("DockerRootDir") or ""
        return self._engine_root

    def engine_defaults(self) -> dict:
        """What the engine gives a container that asks for nothing (asked once): its cgroup
        namespace (the host's on cgroup v1) and its runtime."""
        if getattr(self, "_engine_defaults", None) is None:
            info = self.clients.control.info()
            self._engine_defaults = {
                "cgroupns": "host" if str(info.get("CgroupVersion")) == "1" else "private",
                "runtime": info.get("DefaultRuntime") or "runc",
            }
        return self._engine_defaults

    def engine_given(self) -> dict:
        """What the engine writes into the HostConfig of a container that asks for none of
        ENGINE_GIVEN (Podman: a private pid and uts namespace, its `oci` runtime, the
        ulimits of its containers.conf), learnt once from a container made for it, never
        started, and removed; {} for Docker, which writes nothing there."""
        if getattr(self, "_engine_given", None) is None:
            given = {}
            if self.kind() == "podman":
                api = self.clients.control
                made = api.create_container_from_config(
                    {
                        "Image": self._helper_image(),
                        "Cmd": ["never-started"],
                        "Labels": {HELPER_LABEL: "probe"},
                        "HostConfig": {"NetworkMode": "none"},
                    }
                )["Id"]
                try:
                    host = api.inspect_container(made)["HostConfig"]
                finally:
                    api.remove_container(made, force=True)
                given = {key: host.get(key) for key in ENGINE_GIVEN if key in host}
            self._engine_given = given
        return self._engine_given

    def version(self) -> dict:
        client = self.clients.control
        engine = client.version()
        return {
            "engine": {
                "version": engine.get("Version"),
                "api_version": engine.get("ApiVersion"),
                "min_api_version": engine.get("MinAPIVersion"),
                "git_commit": engine.get("GitCommit"),
                "go_version": engine.get("GoVersion"),
                "os": engine.get("Os"),
                "arch": engine.get("Arch"),
                "kernel_version": engine.get("KernelVersion"),
            },
            "api_version": client.api_version,
            "sdk_version": docker.__version__,
        }

    def disk_usage(self) -> dict:
        df = self.clients.control.df()
        images = df.get("Images") or []
        containers = df.get("Containers") or []
        volumes = df.get("Volumes") or []
        cache = df.get("BuildCache") or []

        layers = df.get("LayersSize") or 0
        # what images in use hold exclusively cannot be reclaimed (docker system df's arithmetic)
        held = sum(
            max(i.get("Size", 0) - max(i.get("SharedSize", 0), 0), 0)
            for i in images
            if i.get("Containers", 0) > 0
        )
        volume_sizes = [(v.get("UsageData") or {}) for v in volumes]
        return {
            "images": _usage(
                count=len(images),
                active=sum(1 for i in images if i.get("Containers", 0) > 0),
                size=layers,
                reclaimable=max(layers - held, 0),
            ),
            "containers": _usage(
                count=len(containers),
                active=sum(1 for c in containers if c.get("State") == "running"),
                size=sum(c.get("SizeRw", 0) or 0 for c in containers),
                reclaimable=sum(
                    c.get("SizeRw", 0) or 0 for c in containers if c.get("State") != "running"
                ),
            ),
            "volumes": _usage(
                count=len(volumes),
                active=sum(1 for u in volume_sizes if u.get("RefCount", 0) > 0),
                size=sum(max(u.get("Size", 0), 0) for u in volume_sizes),
                reclaimable=sum(
                    max(u.get("Size", 0), 0) for u in volume_sizes if u.get("RefCount", 0) == 0
                ),
            ),
            "build_cache": _usage(
                count=len(cache),
                active=sum(1 for b in cache if b.get("InUse")),
                size=sum(b.get("Size", 0) for b in cache if not b.get("Shared")),
                reclaimable=sum(
                    b.get("Size", 0) for b in cache if not b.get("InUse") and not b.get("Shared")
                ),
            ),
        }

    def prune(self, volumes, all_images, build_cache, labels, until) -> dict:
        """docker system prune: containers, networks, then volumes and images, then cache."""
        api = self.clients.long
        scope = prune_filters(labels)
        dated = prune_filters(labels, until)
        report = {key: [] for key in PRUNE_REPORT_LISTS}
        reclaimed = 0

        containers = self.prune_containers(labels, until)
        report["containers_deleted"] = containers["deleted"]
        reclaimed += containers["space_reclaimed"]

        networks = api.prune_networks(filters=dated)
        report["networks_deleted"] = networks.get("NetworksDeleted") or []

        if volumes:
            pruned = api.prune_volumes(filters=scope)
            report["volumes_deleted"] = pruned.get("VolumesDeleted") or []
            reclaimed += pruned.get("SpaceReclaimed") or 0

        images = self.prune_images(all=all_images, labels=labels, until=until)
        report["images_deleted"] = images["deleted"]
        report["images_untagged"] = images["untagged"]
        reclaimed += images["space_reclaimed"]

        if build_cache:
            cache = api.prune_builds()
            report["build_cache_deleted"] = cache.get("CachesDeleted") or []
            reclaimed += cache.get("SpaceReclaimed") or 0

        report["space_reclaimed"] = reclaimed
        return report


PRUNE_REPORT_LISTS = (
    "containers_deleted",
    "images_deleted",
    "images_untagged",
    "networks_deleted",
    "volumes_deleted",
    "build_cache_deleted",
)


def _usage(count, active, size, reclaimable):
    return {"count": count, "active": active, "size": size, "reclaimable": reclaimable}

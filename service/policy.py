"""What a container may be given: the rules every create request passes before the daemon,
and that a container passes again before anything starts it, runs a process in it, or copies
into or out of it.

The API has no field for privileged mode, capabilities, devices, host namespaces, security
options or sysctls, so none can be asked for. What remains is checked here, deny by default,
each refusal naming its rule:

- ``bind-roots``: a bind mount's host path, normalised (``//``, ``/./``, ``..``, trailing ``/``,
  and symlinks where the path exists here), must lie under a configured root; the roots (and
  the directories above them) must be root's and writable by no one else;
- ``host-system``: never the Docker socket, the engine's data (wherever its root is), or the
  host's system directories, whatever the roots say; binds are read-only unless configured;
- ``socket``: never a socket, wherever it is;
- ``volume-driver``, ``volume-options``: a named volume of a configured driver only, whose
  options mount nothing but a tmpfs or a bind that passes the rules above (then read-only);
- ``host-network``: never the host's network namespace, nor a connect to the host's network;
- ``predefined-network``: the engine's own networks (bridge, host, none, ingress,
  docker_gwbridge) are never removed;
- ``publish-address``: published ports only on configured host addresses (loopback by default);
- ``low-ports``: no host port below 1024 unless configured;
- ``limits``: memory, processes and CPUs within the configured maximums;
- ``foreign-container``: a container made elsewhere with a power this API cannot give
  (privileged, capabilities, devices, host namespaces, security options, sysctls).

Defaults are injected: ``no-new-privileges``, and memory and process limits when absent.
The service's own container cannot be stopped, removed, changed or exec'd into
(``self-protection``).
"""

import os
import posixpath
import re
import stat
from dataclasses import dataclass

# host paths no container may mount, nor anything under them (nor any of their parents)
HOST_SYSTEM = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
)
_SOCKET = re.compile(r"(^|/)(docker|containerd|podman)\.sock$")


@dataclass
class Denied(Exception):
    rule: str
    message: str

    def __str__(self):
        return f"rule `{self.rule}`: {self.message}"


def host_path(path: str, resolve_links: bool) -> str:
    """The path as the host will see it: normalised, and with symlinks resolved when it
    exists on this machine (the service beside the engine shares its filesystem)."""
    normal = posixpath.normpath("/" + path.lstrip("/"))
    if resolve_links and os.path.lexists(normal):
        try:
            normal = os.path.realpath(normal)
        except OSError:
            pass  # unreadable here (/proc/1/root): the rules judge the path as written
    return normal


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def check_settings(settings) -> None:
    """Stop the service on settings the policy cannot keep: defaults over the caps, bind
    roots others could change."""
    for default, cap in (
        ("DEFAULT_MEMORY", "MAX_MEMORY"),
        ("DEFAULT_PIDS_LIMIT", "MAX_PIDS_LIMIT"),
    ):
        if settings[default] > settings[cap]:
            raise ValueError(f"DOCKYARD_{default} is over DOCKYARD_{cap}")
    check_bind_roots(settings["ALLOWED_BIND_ROOTS"])


def check_bind_roots(roots) -> None:
    """Stop the service when an allowed bind root could be changed by someone other than
    root: whoever may swap a directory for a symlink decides what a later bind mounts."""
    for root in roots:
        path = posixpath.normpath(root)
        if not os.path.isdir(path) or os.path.islink(path):
            raise ValueError(f"allowed bind root {path} is not a directory")
        while True:
            info = os.stat(path)
            writable = info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX
            if info.st_uid != 0 or writable:
                raise ValueError(
                    f"allowed bind root {root}: {path} must be owned by root and writable by "
                    "no one else, or a user could swap what it holds for a link to the host"
                )
            if path == "/":
                break
            path = posixpath.dirname(path)


def check_bind(source: str, settings, engine_root: str | None = None) -> str:
    """The normalised host path of a bind mount, or Denied."""
    path = host_path(source, settings["POLICY_RESOLVE_SYMLINKS"])
    system = (*HOST_SYSTEM, engine_root) if engine_root else HOST_SYSTEM
    if _SOCKET.search(path) or any(_under(path, s) or _under(s, path) for s in system):
        raise Denied("host-system", f"{path} is the engine's or the host system's")
    roots = [posixpath.normpath(r) for r in settings["ALLOWED_BIND_ROOTS"]]
    if not any(_under(path, root) for root in roots):
        where = ", ".join(roots) or "no root: bind mounts are off"
        raise Denied("bind-roots", f"bind mount of {path} refused; allowed under: {where}")
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            raise Denied("socket", f"{path} is a socket: whoever holds it drives what listens")
    except OSError:
        pass  # not here: the engine creates a missing directory
    return path


def check_volume(name: str, volume: dict | None, settings, engine_root=None) -> bool:
    """Whether a named volume binds a host path (so is mounted read-only), or Denied.

    ``volume`` is the engine's answer for it (``Driver``, ``Options``), None when it does
    not exist yet: the engine then makes a plain local one."""
    if volume is None:
        return False
    driver = volume.get("Driver") or "local"
    if driver not in settings["ALLOWED_VOLUME_DRIVERS"]:
        raise Denied("volume-driver", f"volume {name} is of driver {driver}, not an allowed one")
    options = volume.get("Options") or {}
    kind, device = options.get("type", ""), options.get("device", "")
    flags = (options.get("o") or "").split(",")
    if not options or (kind == "tmpfs" and not {"bind", "rbind"} & set(flags)):
        return False
    if kind in ("", "none") and {"bind", "rbind"} & set(flags) and device.startswith("/"):
        check_bind(device, settings, engine_root)
        return True
    raise Denied(
        "volume-options",
        f"volume {name} mounts {kind or 'something'} from {device or 'elsewhere'}: only a tmpfs "
        "or a bind under the allowed roots may be mounted",
    )


def check_limits(spec: dict, settings) -> None:
    """Memory, processes and CPUs asked for, within the configured maximums."""
    for field, cap in (
        ("memory", "MAX_MEMORY"),
        ("pids_limit", "MAX_PIDS_LIMIT"),
        ("cpus", "MAX_CPUS"),
    ):
        if field in spec and spec[field] > settings[cap]:
            raise Denied("limits", f"{field} {spec[field]} is over the maximum, {settings[cap]}")


def check_ports(ports, settings) -> None:
    allowed_ips = settings["ALLOWED_PUBLISH_IPS"]
    for port in ports:
        address = port.get("host_ip") or settings["PUBLISH_HOST_IP"]
        if address not in allowed_ips:
            raise Denied(
                "publish-address",
                f"port {port['container_port']} may be published on {', '.join(allowed_ips)}, "
                f"not {address}",
            )
        if port.get("host_port") and port["host_port"] < 1024 and not settings["ALLOW_LOW_PORTS"]:
            raise Denied("low-ports", f"host port {port['host_port']} is below 1024")


def check_container(spec: dict, settings, engine_root=None, volumes=None) -> dict:
    """Check a create request; answer it with its binds normalised and defaults injected.

    ``volumes(name)`` answers the engine's record of a named volume (None: no such one).
    Bind mounts, and volumes that bind a host path, are made read-only unless configured
    otherwise: a container that could write under an allowed root could plant a symlink
    there that the daemon would follow when it mounts the same root into another one."""
    read_only = not settings["ALLOW_WRITABLE_BINDS"]
    for mount in spec["mounts"]:
        if mount["type"] == "bind":
            mount["source"] = check_bind(mount["source"], settings, engine_root)
            mount["read_only"] = mount["read_only"] or read_only
        elif mount["type"] == "volume" and mount.get("source") and volumes is not None:
            found = volumes(mount["source"])
            if check_volume(mount["source"], found, settings, engine_root):
                mount["read_only"] = mount["read_only"] or read_only
    if spec.get("network") == "host":
        raise Denied("host-network", "a container may not share the host's network")
    check_ports(spec["ports"], settings)
    check_limits(spec, settings)
    spec.setdefault("memory", settings["DEFAULT_MEMORY"])
    spec.setdefault("pids_limit", settings["DEFAULT_PIDS_LIMIT"])
    spec["no_new_privileges"] = True
    return spec


# host namespaces this API cannot give (the cgroup namespace is the host's by default on
# cgroup v1 hosts, for every container)
_NAMESPACES = ("PidMode", "IpcMode", "UTSMode", "UsernsMode")


def check_existing(container: dict, settings, engine_root=None, volumes=None) -> None:
    """Check a container as the engine holds it (its inspect answer), before anything
    starts it, runs a process in it or copies into or out of it: what it mounts now (a
    directory may have become a symlink since it was created), and what it was given
    elsewhere. Denied when the policy would not create it."""
    host = container.get("HostConfig") or {}
    powers = []
    if host.get("Privileged"):
        powers.append("privileged")
    if host.get("CapAdd"):
        powers.append(f"capabilities {', '.join(host['CapAdd'])}")
    if host.get("Devices") or host.get("DeviceCgroupRules"):
        powers.append("devices")
    powers += [f"{mode} {host[mode]}" for mode in _NAMESPACES if host.get(mode) == "host"]
    shared = [
        mode for mode in ("PidMode", "IpcMode") if str(host.get(mode)).startswith("container:")
    ]
    powers += [f"{mode} {host[mode]}" for mode in shared]
    options = [o for o in host.get("SecurityOpt") or [] if not o.startswith("no-new-privileges")]
    if options:
        powers.append(f"security options {', '.join(options)}")
    if host.get("Sysctls"):
        powers.append("sysctls")
    if powers:
        raise Denied(
            "foreign-container",
            f"container {container.get('Name', '').lstrip('/')} was given what this service "
            f"never gives: {'; '.join(powers)}",
        )
    if host.get("NetworkMode") == "host":
        raise Denied("host-network", "the container shares the host's network")
    for mount in container.get("Mounts") or []:
        if mount.get("Type") == "bind":
            check_bind(mount.get("Source") or "/", settings, engine_root)
        elif mount.get("Type") == "volume" and mount.get("Name") and volumes is not None:
            check_volume(mount["Name"], volumes(mount["Name"]), settings, engine_root)
    ports = [
        {
            "container_port": spec,
            "host_ip": binding.get("HostIp") or "0.0.0.0",
            "host_port": int(binding.get("HostPort") or 0),
        }
        for spec, bindings in (host.get("PortBindings") or {}).items()
        for binding in bindings or []
    ]
    check_ports(ports, settings)


def own_container_id() -> str | None:
    """The id of the container this process runs in, if it runs in one: the engine mounts
    the container's own /etc/hostname from its directory."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as file:
            for line in file:
                fields = line.split()
                if len(fields) > 4 and fields[4] == "/etc/hostname":
                    found = re.search(r"/containers/([0-9a-f]{64})/hostname$", fields[3])
                    if found:
                        return found.group(1)
    except OSError:
        pass
    return None


# -- networks

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


def check_network_connect(network: dict) -> None:
    """A container may join any network but the host's (rule ``host-network``)."""
    if network.get("Driver") == "host" or network.get("Name") == "host":
        raise Denied("host-network", "a container may not share the host's network")


# -- services

# where the swarm publishes a service's ports: every address of every node (it has no host_ip)
SWARM_PUBLISH_IP = "0.0.0.0"


def check_service(spec: dict, settings, engine_root=None, volumes=None) -> dict:
    """Check a service create request by the container rules: its mounts (binds, volume
    drivers and options), its networks (never the host's), its ports (the swarm publishes on
    every address, so only where the configuration allows 0.0.0.0), its limits; memory and
    process limits are injected when absent. There is no field for privileges to ask for."""
    if "host" in spec["networks"]:
        raise Denied("host-network", "a service may not share the host's network")
    ports = [
        {
            "container_port": port["target_port"],
            "host_port": port.get("published_port"),
            "host_ip": SWARM_PUBLISH_IP,
        }
        for port in spec["ports"]
    ]
    resources = spec.setdefault("resources", {})
    shaped = check_container(
        {"mounts": spec["mounts"], "ports": ports, **resources}, settings, engine_root, volumes
    )
    spec["mounts"] = shaped["mounts"]
    resources.update(memory=shaped["memory"], pids_limit=shaped["pids_limit"])
    return spec

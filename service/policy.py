"""What a container may be given: the rules every create request passes before the daemon.

The API has no field for privileged mode, capabilities, devices, host namespaces, security
options or sysctls, so none can be asked for. What remains is checked here, deny by default,
each refusal naming its rule:

- ``bind-roots``: a bind mount's host path, normalised (``//``, ``/./``, ``..``, trailing ``/``,
  and symlinks where the path exists here), must lie under a configured root;
- ``host-system``: never the Docker socket, the engine's data (wherever its root is), or the
  host's system directories, whatever the roots say; binds are read-only unless configured;
- ``host-network``: never the host's network namespace;
- ``publish-address``: published ports only on configured host addresses (loopback by default);
- ``low-ports``: no host port below 1024 unless configured.

Defaults are injected: ``no-new-privileges``, and memory and process limits when absent.
The service's own container cannot be stopped, removed, changed or exec'd into
(``self-protection``).
"""

import os
import posixpath
import re
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
# environment names whose values inspect answers hide from tokens without `admin`
SECRET_NAME = re.compile(r"PASS|TOKEN|SECRET|KEY|CREDENTIAL|PRIVATE|AUTH|CERT", re.I)
REDACTED = "********"


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
    return path


def check_container(spec: dict, settings, engine_root: str | None = None) -> dict:
    """Check a create request; answer it with its binds normalised and defaults injected.

    Bind mounts are made read-only unless configured otherwise: a container that could
    write under an allowed root could plant a symlink there that the daemon would follow
    when it mounts the same root into another container, after these checks."""
    for mount in spec["mounts"]:
        if mount["type"] == "bind":
            mount["source"] = check_bind(mount["source"], settings, engine_root)
            if not settings["ALLOW_WRITABLE_BINDS"]:
                mount["read_only"] = True
    if spec.get("network") == "host":
        raise Denied("host-network", "a container may not share the host's network")
    allowed_ips = settings["ALLOWED_PUBLISH_IPS"]
    for port in spec["ports"]:
        address = port.get("host_ip") or settings["PUBLISH_HOST_IP"]
        if address not in allowed_ips:
            raise Denied(
                "publish-address",
                f"port {port['container_port']} may be published on {', '.join(allowed_ips)}, "
                f"not {address}",
            )
        if port.get("host_port") and port["host_port"] < 1024 and not settings["ALLOW_LOW_PORTS"]:
            raise Denied("low-ports", f"host port {port['host_port']} is below 1024")
    spec.setdefault("memory", settings["DEFAULT_MEMORY"])
    spec.setdefault("pids_limit", settings["DEFAULT_PIDS_LIMIT"])
    spec["no_new_privileges"] = True
    return spec


def redact_env(env: dict) -> dict:
    return {name: REDACTED if SECRET_NAME.search(name) else value for name, value in env.items()}


_BUILD_ARGS = re.compile(r"^\|(\d+) ")
_BUILD_ARG = re.compile(r"([^\s=]+)=(\S*)")


def redact_build_args(created_by: str) -> str:
    """docker history shows a RUN step's build arguments as `|N K=V ... cmd`: hide the
    values of those whose names look secret."""
    count = _BUILD_ARGS.match(created_by)
    if not count:
        return created_by
    head, rest = count.group(0), created_by[count.end() :]
    for _ in range(int(count.group(1))):
        arg = _BUILD_ARG.match(rest)
        if not arg:
            break
        value = REDACTED if SECRET_NAME.search(arg.group(1)) else arg.group(2)
        head += f"{arg.group(1)}={value} "
        rest = rest[arg.end() :].lstrip(" ")
    return head + rest


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

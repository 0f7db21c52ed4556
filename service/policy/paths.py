"""Host paths: what a bind mount, or a volume whose options bind one, may reach.

- ``bind-roots``: a bind's host path, normalised (``//``, ``/./``, ``..``, trailing ``/``, and
  symlinks where the path exists here), must lie under a configured root; the roots (and the
  directories above them) must be root's and writable by no one else;
- ``host-system``: never the Docker socket, the engine's data (wherever its root is), or the
  host's system directories, whatever the roots say;
- ``socket``: never a socket, wherever it is;
- ``volume-driver``, ``volume-options``: a named volume of a configured driver only, whose
  options mount nothing but a tmpfs or a bind that passes the rules above.
"""

import os
import posixpath
import re
import stat

from .denied import Denied

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


def under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies under it."""
    return path == root or path.startswith(root.rstrip("/") + "/")


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
    if _SOCKET.search(path) or any(under(path, s) or under(s, path) for s in system):
        raise Denied("host-system", f"{path} is the engine's or the host system's")
    roots = [posixpath.normpath(r) for r in settings["ALLOWED_BIND_ROOTS"]]
    if not any(under(path, root) for root in roots):
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

"""Container verbs: list, create, inspect, lifecycle, logs, stats, exec, commit, copy, events."""

import math
import struct
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import docker.errors
import requests.exceptions
import urllib3.exceptions
from docker.utils import convert_filters
from docker.utils.json_stream import json_stream

from .images import from_rfc3339, from_unix, image_detail, prune_filters, short_id
from .streams import DaemonStream, StreamError

DATA_CHUNK = 64 * 1024
# the archive endpoint gzips its tar when asked to (requests asks by default), which the
# client then has to inflate again: ask for the plain tar
PLAIN = {"Accept-Encoding": "identity"}
_STREAMS = {0: "stdin", 1: "stdout", 2: "stderr"}


class ContainerVerbs:
    # -- reading -----------------------------------------------------------------------------

    def list_containers(self, all=False, filters=None) -> list[dict]:
        # one call for the whole list: the model layer inspects each container
        return [
            container_summary(c) for c in self.clients.control.containers(all=all, filters=filters)
        ]

    def inspect_container(self, ref) -> dict:
        return container_detail(self.clients.control.inspect_container(ref))

    def container_record(self, ref) -> dict:
        """The engine's own record of a container (its inspect answer), for the policy."""
        return self.clients.control.inspect_container(ref)

    def container_by_id(self, prefix) -> dict | None:
        """The record of the container whose id starts with ``prefix``, never one a name
        matches (the engine resolves names first); None when none, or several, do."""
        found = [
            c["Id"]
            for c in self.clients.control.containers(all=True, filters={"id": prefix})
            if c["Id"].startswith(prefix)
        ]
        return self.container_record(found[0]) if len(found) == 1 else None

    def container_top(self, ref, ps_args=None) -> dict:
        top = self.clients.control.top(ref, ps_args=ps_args)
        return {"titles": top.get("Titles") or [], "processes": top.get("Processes") or []}

    def container_changes(self, ref) -> list[dict]:
        kinds = {0: "modified", 1: "added", 2: "deleted"}
        return [
            {"path": c["Path"], "kind": kinds.get(c["Kind"], str(c["Kind"]))}
            for c in self.clients.control.diff(ref) or []
        ]

    # -- creating and changing ---------------------------------------------------------------

    def create_container(self, config: dict, name=None, start=False) -> dict:
        """Create from a checked Engine API config; start it too when asked. A container
        that fails to start is removed, so that a failed run leaves nothing behind."""
        api = self.clients.control
        created = api.create_container_from_config(config, name=name)
        if start:
            try:
                api.start(created["Id"])
            except docker.errors.APIError:
                api.remove_container(created["Id"], force=True, v=True)
                raise
        return self.inspect_container(created["Id"])

    def container_action(self, ref, action, **params) -> None:
        """start, stop, restart, kill, pause, unpause: one daemon call each."""
        if action in ("stop", "restart"):
            # the daemon waits `t` seconds (or the container's own stop timeout) before it
            # kills: the call waits that much more than a control call
            wait = params.get("timeout")
            self.clients.call(
                "POST",
                f"/containers/{{0}}/{action}",
                ref,
                params={"t": wait} if wait is not None else {},
                timeout=self.clients.settings.timeout
                + (wait if wait is not None else self.clients.settings.long_timeout),
            )
            return
        api = self.clients.control
        if action == "kill":
            api.kill(ref, signal=params.get("signal"))
            return
        getattr(api, action)(ref)

    def rename_container(self, ref, name) -> None:
        self.clients.control.rename(ref, name)

    def update_container(self, ref, changes: dict) -> dict:
        body = limits(changes)
        if "memory" in changes:
            # the daemon's default swap is twice the memory; keep it so when memory changes
            body["MemorySwap"] = changes["memory"] * 2
        answer = self.clients.call("POST", "/containers/{0}/update", ref, json=body)
        return {"warnings": (answer or {}).get("Warnings") or []}

    def remove_container(self, ref, force=False, volumes=False) -> None:
        self.clients.control.remove_container(ref, force=force, v=volumes)

    def remove_containers(self, filters=None, volumes=False, refused=None) -> dict:
        """Remove every container the filters select (docker rm -f $(docker ps -a -q)), but
        those ``refused(id)`` answers a reason for (a 403 each)."""
        api = self.clients.control
        removed, failed = [], []
        for container in api.containers(all=True, filters=filters):
            reason = refused(container["Id"]) if refused else None
            if reason:
                failed.append({"id": container["Id"], "code": 403, "message": reason})
                continue
            try:
                api.remove_container(container["Id"], force=True, v=volumes)
                removed.append(container["Id"])
            except docker.errors.NotFound:
                removed.append(container["Id"])  # gone meanwhile: what was asked holds
            except docker.errors.APIError as exc:
                failed.append(
                    {
                        "id": container["Id"],
                        "code": exc.status_code,
                        "message": str(exc.explanation),
                    }
                )
        return {"removed": removed, "failed": failed}

    def prune_containers(self, labels=(), until=None) -> dict:
        pruned = self.clients.long.prune_containers(filters=prune_filters(labels, until))
        return {
            "deleted": pruned.get("ContainersDeleted") or [],
            "space_reclaimed": pruned.get("SpaceReclaimed") or 0,
        }

    def wait_container(self, ref, condition="not-running", timeout=None) -> dict:
        answer = self.clients.call(
            "POST",
            "/containers/{0}/wait",
            ref,
            params={"condition": condition},
            timeout=timeout or self.clients.settings.long_timeout,
        )
        error = (answer.get("Error") or {}).get("Message")
        return {"status_code": answer.get("StatusCode"), "error": error}

    def commit_container(self, ref, repository, tag, message, author, changes, pause) -> dict:
        committed = self.clients.long.commit(
            ref,
            repository=repository,
            tag=tag,
            message=message,
            author=author,
            changes=changes or None,
            pause=pause,
        )
        return image_detail(self.clients.control.inspect_image(committed["Id"]))

    # -- streams -----------------------------------------------------------------------------

    def container_logs(self, ref, params: dict, tty: bool) -> DaemonStream:
        """(stream, bytes) pairs as the daemon sends them; with follow, until it stops."""
        response = self.clients.open_stream("GET", "/containers/{0}/logs", ref, params=params)
        # a log read to its end fills each read; a followed one goes on with what has come
        whole = not params.get("follow")
        frames = raw_frames(response, whole) if tty else multiplexed_frames(response, whole)
        return DaemonStream(frames, response)

    def container_stats(self, ref, stream: bool) -> dict | DaemonStream:
        if not stream:
            return stats_sample(self.clients.control.stats(ref, stream=False))
        response = self.clients.open_stream(
            "GET", "/containers/{0}/stats", ref, params={"stream": "1"}
        )
        samples = (stats_sample(s) for s in json_stream(response.iter_content(chunk_size=None)))
        return DaemonStream(samples, response)

    def export_container(self, ref) -> DaemonStream:
        response = self.clients.open_stream("GET", "/containers/{0}/export", ref)
        return DaemonStream(response.iter_content(chunk_size=DATA_CHUNK), response)

    def get_archive(self, ref, path) -> DaemonStream:
        response = self.clients.open_stream(
            "GET", "/containers/{0}/archive", ref, params={"path": path}, headers=PLAIN
        )
        return DaemonStream(response.iter_content(chunk_size=DATA_CHUNK), response)

    def put_archive(self, ref, path, archive) -> None:
        self.clients.call(
            "PUT",
            "/containers/{0}/archive",
            ref,
            params={"path": path},
            data=archive,
            headers={"Content-Type": "application/x-tar"},
            timeout=self.clients.settings.long_timeout,
        )

    def exec_run(self, ref, cmd, env, workdir, user, timeout, limit) -> dict:
        """Run a command in a running container; its exit code and its output, apart.

        Past ``timeout`` seconds the call stops waiting (the command may go on running) and
        raises StreamError(kind="timeout"), a 504; past ``limit`` bytes the output is cut."""
        api = self.clients.control
        created = api.exec_create(
            ref,
            cmd,
            stdout=True,
            stderr=True,
            environment=[f"{k}={v}" for k, v in (env or {}).items()] or None,
            workdir=workdir,
            user=user or "",
            privileged=False,
        )
        response = self.clients.open_stream(
            "POST", "/exec/{0}/start", created["Id"], json={"Detach": False, "Tty": False}
        )
        stream = DaemonStream(multiplexed_frames(response, whole=True), response)
        expired = threading.Event()

        def expire():
            expired.set()
            stream.close()  # wakes the read below

        timer = threading.Timer(timeout, expire)
        timer.start()
        output = {"stdout": bytearray(), "stderr": bytearray(), "stdin": bytearray()}
        truncated = False
        try:
            for name, data in stream:
                room = limit - len(output["stdout"]) - len(output["stderr"])
                truncated = truncated or len(data) > room
                output[name].extend(data[: max(room, 0)])
        except Exception:
            if not expired.is_set():
                raise
        finally:
            timer.cancel()
            stream.close()
        state = api.exec_inspect(created["Id"])
        if state.get("Running"):
            raise StreamError(
                f"the command did not finish within {timeout:g} s; it may still be running",
                "timeout",
            )
        if not state.get("Pid") and state.get("ExitCode"):
            # no process ever ran: the daemon wrote why instead of its output
            reason = output["stdout"].decode("utf-8", "replace").strip()
            if reason.startswith(("unable to find user ", "unable to find group ")):
                raise StreamError(reason, "invalid")
        return {
            "exit_code": state.get("ExitCode"),
            "stdout": output["stdout"].decode("utf-8", "replace"),
            "stderr": output["stderr"].decode("utf-8", "replace"),
            "truncated": truncated,
        }

    def events(self, filters=None, since=None, until=None) -> DaemonStream:
        params = {"filters": convert_filters(filters)} if filters else {}
        if since:
            params["since"] = since
        if until:
            params["until"] = until
        response = self.clients.open_stream("GET", "/events", params=params)
        return DaemonStream(
            (engine_event(e) for e in json_stream(response.iter_content(chunk_size=None))),
            response,
        )


def log_params(args) -> dict:
    """The daemon's log parameters from checked query arguments (container or service):
    times already unix times (schemas.DaemonTimes)."""
    params = {
        "stdout": int(args["stdout"]),
        "stderr": int(args["stderr"]),
        "timestamps": int(args["timestamps"]),
        "follow": int(args["follow"]),
        "tail": args["tail"] if "tail" in args else "all",
    }
    for key in ("since", "until"):
        if args.get(key):
            params[key] = args[key]
    return params


# -- daemon streams ---------------------------------------------------------------------------


# what one read of a daemon stream takes at most: a log written line by line comes in frames of
# a hundred bytes, and one greenlet switch, one queue item and one write per frame was what made
# logs slow (2 MB/s); a read takes what has come, up to this, and its frames go on together
READ_SIZE = 256 * 1024


def multiplexed_frames(response, whole=False) -> Iterator[tuple[str, bytes]]:
    """The daemon's multiplexed stream: frames of an 8-byte header (stream, size), then the
    bytes. Read in large reads (``whole``: each one filled, for a stream read to its end;
    else what has come); the frames of one read that follow each other on the same stream go
    on as one."""
    raw = response.raw
    buffer = bytearray()
    while True:
        chunk = _read_some(raw, whole)
        if not chunk:
            if buffer:
                raise requests.exceptions.ConnectionError("the daemon's stream broke off")
            return
        buffer += chunk
        kind, parts, start = None, [], 0
        while len(buffer) - start >= 8:
            stream, size = struct.unpack_from(">BxxxL", buffer, start)
            if len(buffer) - start - 8 < size:
                break
            name = _STREAMS.get(stream, "stdout")
            if name != kind and parts:
                yield kind, b"".join(parts)
                parts = []
            kind = name
            parts.append(bytes(buffer[start + 8 : start + 8 + size]))
            start += 8 + size
        del buffer[:start]
        if parts:
            yield kind, b"".join(parts)


def raw_frames(response, whole=False) -> Iterator[tuple[str, bytes]]:
    """A TTY container's output: one stream, no headers; read in large reads."""
    raw = response.raw
    while chunk := _read_some(raw, whole):
        yield "stdout", chunk


def _read_some(raw, whole) -> bytes:
    """Up to READ_SIZE bytes of the daemon's answer: with ``whole``, as many as come before
    its end; else what has come, waiting only for the first (the daemon sends each write of
    the container as a chunk of its own). Its transport errors as requests' own, which the
    one error translation knows."""
    try:
        return raw.read(READ_SIZE) if whole else raw.read1(READ_SIZE)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(str(exc)) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.exceptions.ConnectionError(str(exc)) from exc


# -- shapes -----------------------------------------------------------------------------------


def container_config(spec: dict, publish_host_ip: str) -> dict:
    """The Engine API's create body, built field by field from a checked request only."""
    host = {
        **limits(spec),
        "PortBindings": {},
        "Mounts": [_mount(m) for m in spec["mounts"]],
        "ReadonlyRootfs": spec["read_only"],
    }
    exposed = {}
    for port in spec["ports"]:
        key = f"{port['container_port']}/{port['protocol']}"
        exposed[key] = {}
        host["PortBindings"].setdefault(key, []).append(
            {
                "HostIp": port.get("host_ip") or publish_host_ip,
                "HostPort": str(port["host_port"]) if port.get("host_port") else "",
            }
        )
    if spec.get("no_new_privileges"):
        host["SecurityOpt"] = ["no-new-privileges:true"]
    config = {
        "Image": spec["image"],
        "Env": [f"{name}={value}" for name, value in spec["env"].items()],
        "Labels": spec["labels"],
        "ExposedPorts": exposed,
        "Tty": spec["tty"],
        "HostConfig": host,
    }
    for field, key in (
        ("command", "Cmd"),
        ("entrypoint", "Entrypoint"),
        ("working_dir", "WorkingDir"),
        ("user", "User"),
        ("hostname", "Hostname"),
    ):
        if field in spec:
            config[key] = spec[field]
    if spec.get("network"):
        host["NetworkMode"] = spec["network"]
        config["NetworkingConfig"] = {
            "EndpointsConfig": {spec["network"]: {"Aliases": spec["aliases"]}}
        }
    return config


def limits(spec: dict) -> dict:
    """Memory, CPUs, process limit and restart policy, as create and update both take them."""
    host = {}
    if "memory" in spec:
        host["Memory"] = spec["memory"]
    if "cpus" in spec:
        host["NanoCpus"] = int(spec["cpus"] * 1e9)
    if "pids_limit" in spec:
        host["PidsLimit"] = spec["pids_limit"]
    if "restart_policy" in spec:
        policy = spec["restart_policy"]
        host["RestartPolicy"] = {
            "Name": "" if policy["name"] == "no" else policy["name"],
            "MaximumRetryCount": policy.get("maximum_retry_count", 0),
        }
    return host


def _mount(spec: dict) -> dict:
    mount = {"Type": spec["type"], "Target": spec["target"], "ReadOnly": spec["read_only"]}
    if spec.get("source"):
        mount["Source"] = spec["source"]
    if "tmpfs_size" in spec:
        mount["TmpfsOptions"] = {"SizeBytes": spec["tmpfs_size"]}
    return mount


def _ports_from_list(ports) -> list[dict]:
    return [
        {
            "container_port": p.get("PrivatePort"),
            "protocol": p.get("Type", "tcp"),
            "host_ip": p.get("IP"),
            "host_port": p.get("PublicPort"),
        }
        for p in ports or []
    ]


def _ports_from_inspect(ports) -> list[dict]:
    result = []
    for spec, bindings in sorted((ports or {}).items()):
        port, _, protocol = spec.partition("/")
        for binding in bindings or [{}]:
            result.append(
                {
                    "container_port": int(port),
                    "protocol": protocol or "tcp",
                    "host_ip": binding.get("HostIp") or None,
                    "host_port": int(binding["HostPort"]) if binding.get("HostPort") else None,
                }
            )
    return result


def _mounts(mounts) -> list[dict]:
    return [
        {
            "type": m.get("Type"),
            "name": m.get("Name") or None,
            "source": m.get("Source") or None,
            "destination": m.get("Destination"),
            "read_only": not m.get("RW", True),
        }
        for m in mounts or []
    ]


def _networks(networks) -> list[dict]:
    return [
        {
            "name": name,
            "ip_address": n.get("IPAddress") or None,
            "gateway": n.get("Gateway") or None,
            "mac_address": n.get("MacAddress") or None,
            "aliases": n.get("Aliases") or [],
        }
        for name, n in sorted((networks or {}).items())
    ]


def container_summary(c: dict) -> dict:
    return {
        "id": c["Id"],
        "short_id": short_id(c["Id"]),
        "name": (c.get("Names") or ["/"])[0].lstrip("/"),
        "image": c.get("Image"),
        "image_id": c.get("ImageID"),
        "command": c.get("Command") or "",
        "state": c.get("State"),
        "status": c.get("Status") or "",
        "created": from_unix(c.get("Created")),
        "ports": _ports_from_list(c.get("Ports")),
        "labels": c.get("Labels") or {},
        "networks": _networks((c.get("NetworkSettings") or {}).get("Networks")),
        "mounts": _mounts(c.get("Mounts")),
    }


def container_detail(c: dict) -> dict:
    """The inspect answer: what a list entry says about the container (the same fields,
    of the same types), then the rest."""
    state = c.get("State") or {}
    config = c.get("Config") or {}
    host = c.get("HostConfig") or {}
    policy = host.get("RestartPolicy") or {}
    health = state.get("Health") or {}
    network = c.get("NetworkSettings") or {}
    argv = [c["Path"], *(c.get("Args") or [])] if c.get("Path") else []
    return {
        "id": c["Id"],
        "short_id": short_id(c["Id"]),
        "name": c.get("Name", "").lstrip("/"),
        "image": config.get("Image"),
        "image_id": c.get("Image"),
        "command": command_line(argv),
        "state": state.get("Status"),
        "status": status_text(state),
        "created": from_rfc3339(c.get("Created")),
        "ports": _ports_from_inspect(network.get("Ports") or host.get("PortBindings")),
        "labels": config.get("Labels") or {},
        "networks": _networks(network.get("Networks")),
        "mounts": _mounts(c.get("Mounts")),
        "argv": argv,
        "state_detail": {
            "status": state.get("Status"),
            "running": state.get("Running", False),
            "paused": state.get("Paused", False),
            "restarting": state.get("Restarting", False),
            "oom_killed": state.get("OOMKilled", False),
            "dead": state.get("Dead", False),
            "pid": state.get("Pid") or None,
            "exit_code": state.get("ExitCode"),
            "error": state.get("Error") or None,
            "started_at": from_rfc3339(state.get("StartedAt")),
            "finished_at": from_rfc3339(state.get("FinishedAt")),
            "health": health.get("Status"),
        },
        "restart_count": c.get("RestartCount", 0),
        "config": {
            "cmd": config.get("Cmd"),
            "entrypoint": config.get("Entrypoint"),
            "env": dict(e.partition("=")[::2] for e in config.get("Env") or []),
            "working_dir": config.get("WorkingDir") or "",
            "user": config.get("User") or "",
            "hostname": config.get("Hostname") or "",
            "labels": config.get("Labels") or {},
            "tty": config.get("Tty", False),
        },
        "host_config": {
            "memory": host.get("Memory") or None,
            "cpus": (host.get("NanoCpus") or 0) / 1e9 or None,
            "pids_limit": host.get("PidsLimit") or None,
            "read_only": host.get("ReadonlyRootfs", False),
            "restart_policy": {
                "name": policy.get("Name") or "no",
                "maximum_retry_count": policy.get("MaximumRetryCount", 0),
            },
            "network_mode": host.get("NetworkMode") or "",
        },
    }


def command_line(argv: list[str]) -> str:
    """The command as the daemon's list shows it: arguments with a space quoted."""
    return " ".join([*argv[:1], *(f"'{arg}'" if " " in arg else arg for arg in argv[1:])])


def status_text(state: dict, now: datetime | None = None) -> str:
    """The state in words, as the daemon's list says it (`Up 3 minutes (Paused)`)."""
    now = now or datetime.now(UTC)
    started = from_rfc3339(state.get("StartedAt"))
    finished = from_rfc3339(state.get("FinishedAt"))
    code = state.get("ExitCode") or 0
    if state.get("Running"):
        up = f"Up {human_duration(now - started)}" if started else "Up"
        if state.get("Paused"):
            return f"{up} (Paused)"
        if state.get("Restarting"):
            ago = human_duration(now - finished) if finished else "Less than a second"
            return f"Restarting ({code}) {ago} ago"
        health = (state.get("Health") or {}).get("Status")
        if health and health != "none":
            return f"{up} (health: starting)" if health == "starting" else f"{up} ({health})"
        return up
    if state.get("Status") == "removing":
        return "Removal In Progress"
    if state.get("Dead"):
        return "Dead"
    if not started:
        return "Created"
    if not finished:
        return ""
    return f"Exited ({code}) {human_duration(now - finished)} ago"


def human_duration(delta) -> str:
    """A duration in words, rounded as docker rounds it (go-units' HumanDuration)."""
    seconds = int(delta.total_seconds())
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = math.floor(delta.total_seconds() / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{seconds // 3600 // 24 // 365} years"


def stats_sample(s: dict) -> dict:
    cpu, precpu = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        precpu.get("cpu_usage") or {}
    ).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - precpu.get("system_cpu_usage", 0)
    percpu = (cpu.get("cpu_usage") or {}).get("percpu_usage") or []
    online = cpu.get("online_cpus") or len(percpu) or 1
    cpu_percent = 0.0
    if system_delta > 0 and cpu_delta > 0:
        cpu_percent = cpu_delta / system_delta * online * 100

    memory = s.get("memory_stats") or {}
    details = memory.get("stats") or {}
    # what `docker stats` shows: the page cache is not counted as used
    cache = details.get("total_inactive_file", details.get("inactive_file", 0))
    usage = max((memory.get("usage") or 0) - (cache or 0), 0)
    limit = memory.get("limit") or 0

    networks = (s.get("networks") or {}).values()
    io = (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return {
        "read_at": from_rfc3339(s.get("read")),
        "cpu_percent": round(cpu_percent, 3),
        "online_cpus": online,
        "memory_usage": usage,
        "memory_limit": limit,
        "memory_percent": round(usage / limit * 100, 3) if limit else 0.0,
        "network_rx_bytes": sum(n.get("rx_bytes", 0) for n in networks),
        "network_tx_bytes": sum(n.get("tx_bytes", 0) for n in networks),
        "block_read_bytes": _io_bytes(io, "read"),
        "block_write_bytes": _io_bytes(io, "write"),
        "pids": (s.get("pids_stats") or {}).get("current"),
    }


def _io_bytes(entries, op) -> int:
    return sum(e.get("value", 0) for e in entries if (e.get("op") or "").lower() == op)


def engine_event(e: dict) -> dict:
    actor = e.get("Actor") or {}
    return {
        "type": e.get("Type"),
        "action": e.get("Action"),
        "actor_id": actor.get("ID"),
        "attributes": actor.get("Attributes") or {},
        "scope": e.get("scope"),
        "time": e.get("time"),
        "time_nano": e.get("timeNano"),
    }

"""Containers as the service answers them: the engine's records made into summaries, details,
stats samples and events, with their words (states, durations, command lines)."""

import math
from datetime import UTC, datetime

from .images import from_rfc3339, from_unix, short_id


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
            "stdin_open": config.get("OpenStdin", False),
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


def engine_event(e: dict, engine: str) -> dict:
    """An event of the daemon's, in our shape, naming the ``engine`` it happened on."""
    actor = e.get("Actor") or {}
    return {
        "type": e.get("Type"),
        "action": e.get("Action"),
        "actor_id": actor.get("ID"),
        "attributes": actor.get("Attributes") or {},
        "scope": e.get("scope"),
        "time": e.get("time"),
        "time_nano": e.get("timeNano"),
        "engine": engine,
    }

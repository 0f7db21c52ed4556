"""Container verbs: list, create, inspect, lifecycle, logs, stats, exec, commit, copy, events."""

import threading

import docker.errors
from docker.utils import convert_filters
from docker.utils.json_stream import json_stream

from .client import Conflict, Unsupported
from .container_config import limits
from .container_views import (
    container_detail,
    container_summary,
    engine_event,
    stats_sample,
    status_text,
)
from .frames import multiplexed_frames, raw_frames
from .images import image_detail, prune_filters
from .streams import DaemonStream, StreamError

DATA_CHUNK = 64 * 1024
# the archive endpoint gzips its tar when asked to (requests asks by default), which the
# client then has to inflate again: ask for the plain tar
PLAIN = {"Accept-Encoding": "identity"}


class ContainerVerbs:
    # -- reading -----------------------------------------------------------------------------

    def list_containers(self, all=False, filters=None, cached=False) -> list[dict]:
        # one call for the whole list (the model layer inspects each container), or none
        # (``cached``: the engine's mirror)
        return [
            container_summary(c) for c in self.reads(cached).containers(all=all, filters=filters)
        ]

    def inspect_container(self, ref, cached=False) -> dict:
        reads = self.reads(cached)
        record = reads.inspect_container(ref)
        if reads is self.clients.control:
            return container_detail(record)
        # the mirror answers the same record until it changes: its detail is made once, but
        # for its state in words, which the clock changes
        detail = self.mirror.shaped("containers", record, container_detail)
        return {**detail, "status": status_text(record.get("State") or {})}

    def container_record(self, ref, cached=False) -> dict:
        """The engine's own record of a container (its inspect answer), for the policy: what
        the engine wrote there on its own, as every container of its gets it, is left out
        (Podman names its defaults where Docker leaves the fields empty)."""
        record = self.reads(cached).inspect_container(ref)
        given = self.engine_given()
        if given:
            # a copy: the mirror's record stays as the engine answered it
            record = {**record, "HostConfig": dict(record.get("HostConfig") or {})}
        host = record.get("HostConfig") or {}
        for key, value in given.items():
            if host.get(key) == value:
                del host[key]
        return record

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
        titles, processes = top.get("Titles") or [], top.get("Processes") or []
        if len(titles) == 1 and len(titles[0].split()) > 1:
            # Podman sends ps's lines whole: split them into columns, as Docker does
            titles = titles[0].split()
            processes = [row[0].split(None, len(titles) - 1) for row in processes if row]
        return {"titles": titles, "processes": processes}

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
        if self.kind() == "podman":
            raise Unsupported("Podman", "change a container's limits or restart policy (update)")
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
        if not (params["stdout"] or params["stderr"]):
            return DaemonStream.empty()  # neither stream asked for: no line (the daemon refuses)
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

    def copy_in_allowed(self, ref) -> None:
        """A copy into a container writes nothing through a read-only mount or root
        filesystem: Docker refuses such a write itself; Podman lets it through while the
        container does not run, so that it is refused here (Conflict) before any byte."""
        if self.kind() != "podman":
            return
        record = self.clients.control.inspect_container(ref)
        if (record.get("State") or {}).get("Running"):
            return
        read_only = [m.get("Destination") for m in record.get("Mounts") or [] if not m.get("RW")]
        if (record.get("HostConfig") or {}).get("ReadonlyRootfs"):
            read_only.insert(0, "/")
        if read_only:
            raise Conflict(
                f"the container mounts {', '.join(read_only)} read-only, which Podman does not "
                "keep so while the container does not run: start it, then copy"
            )

    def put_archive(self, ref, path, archive) -> None:
        self.copy_in_allowed(ref)
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
        exec_id = create_exec(api, ref, cmd, env, workdir, user, stdout=True, stderr=True)
        response = self.clients.open_stream(
            "POST", "/exec/{0}/start", exec_id, json={"Detach": False, "Tty": False}
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
        state = api.exec_inspect(exec_id)
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
        """Events of the engine; ``since`` and ``until`` as unix times (schemas.DaemonTimes)."""
        if since and until and float(since) > float(until):
            return DaemonStream.empty()  # no event in an empty window (the daemon refuses it)
        params = {"filters": convert_filters(filters)} if filters else {}
        if since:
            params["since"] = since
        if until:
            params["until"] = until
        response = self.clients.open_stream("GET", "/events", params=params)
        return DaemonStream(
            (
                engine_event(e, self.name)
                for e in json_stream(response.iter_content(chunk_size=None))
            ),
            response,
        )


def create_exec(api, ref, cmd, env, workdir, user, **streams) -> str:
    """docker exec's first half: the process made (never privileged), not started; its id."""
    created = api.exec_create(
        ref,
        cmd,
        environment=[f"{k}={v}" for k, v in (env or {}).items()] or None,
        workdir=workdir,
        user=user or "",
        privileged=False,
        **streams,
    )
    return created["Id"]


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

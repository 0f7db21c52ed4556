"""Swarm verbs: the swarm itself, its nodes and tasks, secrets and configs."""

import base64

from .images import from_rfc3339
from .services import _filters

# kinds of payload the swarm keeps: the path of their endpoints
PAYLOADS = {"secret": "/secrets", "config": "/configs"}


class SwarmVerbs:
    # -- the swarm ---------------------------------------------------------------------------

    def swarm_state(self, with_tokens: bool) -> dict:
        """The swarm as this engine sees it; join tokens only when asked for."""
        local = self.clients.control.info().get("Swarm") or {}
        manager = bool(local.get("ControlAvailable"))
        record = self.clients.call("GET", "/swarm") if manager else {}
        tokens = record.get("JoinTokens") or {}
        managers = local.get("Managers") or 0
        return {
            "state": local.get("LocalNodeState") or "inactive",
            "is_manager": manager,
            "id": record.get("ID"),
            "created": from_rfc3339(record.get("CreatedAt")),
            "node_id": local.get("NodeID") or None,
            "node_addr": local.get("NodeAddr") or None,
            "managers": managers,
            "workers": max((local.get("Nodes") or 0) - managers, 0),
            "join_addresses": [m["Addr"] for m in local.get("RemoteManagers") or []],
            "join_tokens": (
                {"worker": tokens.get("Worker", ""), "manager": tokens.get("Manager", "")}
                if with_tokens and tokens
                else None
            ),
        }

    def init_swarm(self, advertise, listen, data_path, force_new_cluster) -> str:
        return self.clients.call(
            "POST",
            "/swarm/init",
            json={
                "AdvertiseAddr": advertise,
                "ListenAddr": listen,
                "DataPathAddr": data_path,
                "ForceNewCluster": force_new_cluster,
            },
            timeout=self.clients.settings.long_timeout,
        )

    def leave_swarm(self, force: bool) -> None:
        self.clients.call(
            "POST",
            "/swarm/leave",
            params={"force": "true" if force else "false"},
            timeout=self.clients.settings.long_timeout,
        )

    # -- nodes and tasks ---------------------------------------------------------------------

    def list_nodes(self, filters=None) -> list[dict]:
        return [
            node_summary(n)
            for n in self.clients.call("GET", "/nodes", params=_filters(filters)) or []
        ]

    def node_record(self, ref) -> dict:
        return self.clients.call("GET", "/nodes/{0}", ref)

    def update_node(self, record: dict, changes: dict) -> dict:
        spec = {**record["Spec"]}
        if "availability" in changes:
            spec["Availability"] = changes["availability"]
        if "labels" in changes:
            spec["Labels"] = changes["labels"]
        self.clients.call(
            "POST",
            "/nodes/{0}/update",
            record["ID"],
            params={"version": record["Version"]["Index"]},
            json=spec,
        )
        return node_summary(self.node_record(record["ID"]))

    def list_tasks(self, filters=None) -> list[dict]:
        return [
            task_summary(t)
            for t in self.clients.call("GET", "/tasks", params=_filters(filters)) or []
        ]

    # -- secrets and configs -----------------------------------------------------------------

    def list_payloads(self, kind, filters=None) -> list[dict]:
        found = self.clients.call("GET", PAYLOADS[kind], params=_filters(filters))
        return [payload_summary(p) for p in found or []]

    def create_payload(self, kind, name, data: str, labels) -> dict:
        created = self.clients.call(
            "POST",
            f"{PAYLOADS[kind]}/create",
            json={
                "Name": name,
                "Labels": labels,
                "Data": base64.b64encode(data.encode("utf-8")).decode("ascii"),
            },
        )
        return payload_summary(self.clients.call("GET", f"{PAYLOADS[kind]}/{{0}}", created["ID"]))

    def payload_record(self, kind, ref) -> dict:
        return self.clients.call("GET", f"{PAYLOADS[kind]}/{{0}}", ref)

    def remove_payload(self, kind, ref) -> None:
        self.clients.call("DELETE", f"{PAYLOADS[kind]}/{{0}}", ref)


def node_summary(n: dict) -> dict:
    spec, description = n.get("Spec") or {}, n.get("Description") or {}
    status, manager = n.get("Status") or {}, n.get("ManagerStatus") or {}
    return {
        "id": n["ID"],
        "hostname": description.get("Hostname", ""),
        "role": spec.get("Role", ""),
        "availability": spec.get("Availability", ""),
        "state": status.get("State", ""),
        "address": status.get("Addr") or None,
        "leader": bool(manager.get("Leader")),
        "engine_version": (description.get("Engine") or {}).get("EngineVersion"),
        "labels": spec.get("Labels") or {},
    }


def task_summary(t: dict) -> dict:
    status = t.get("Status") or {}
    container = (status.get("ContainerStatus") or {}).get("ContainerID")
    image = ((t.get("Spec") or {}).get("ContainerSpec") or {}).get("Image")
    return {
        "id": t["ID"],
        "service_id": t.get("ServiceID", ""),
        "node_id": t.get("NodeID") or None,
        "slot": t.get("Slot"),
        "image": image.split("@sha256:")[0] if image else None,
        "desired_state": t.get("DesiredState", ""),
        "state": status.get("State", ""),
        "message": status.get("Message"),
        "error": status.get("Err"),
        "container_id": container or None,
        "created": from_rfc3339(t.get("CreatedAt")),
        "updated": from_rfc3339(t.get("UpdatedAt")),
    }


def payload_summary(p: dict) -> dict:
    # `Data` is never read out: a secret's value never leaves the engine through here
    spec = p.get("Spec") or {}
    return {
        "id": p["ID"],
        "name": spec.get("Name", ""),
        "labels": spec.get("Labels") or {},
        "created": from_rfc3339(p.get("CreatedAt")),
        "updated": from_rfc3339(p.get("UpdatedAt")),
    }

"""Service verbs: list, create, inspect, scale, update, roll back, logs, remove; and the one
function that turns a checked service spec into the Engine's body."""

import json

from .container_config import mount
from .frames import multiplexed_frames
from .images import from_rfc3339
from .streams import DaemonStream

NANO = 1_000_000_000


class ServiceVerbs:
    def list_services(self, filters=None) -> list[dict]:
        # one call: `status` makes the engine count each service's running tasks
        found = self.clients.call(
            "GET", "/services", params={"status": "true", **_filters(filters)}
        )
        return [service_summary(s) for s in found or []]

    def service_record(self, ref) -> dict:
        return self.clients.call("GET", "/services/{0}", ref)

    def inspect_service(self, ref) -> dict:
        record = self.service_record(ref)
        # the running count needs the list's status; filtered to this one service by id
        listed = self.clients.call(
            "GET", "/services", params={"status": "true", **_filters({"id": [record["ID"]]})}
        )
        status = next(
            (s.get("ServiceStatus") for s in listed or [] if s["ID"] == record["ID"]), None
        )
        return service_detail({**record, "ServiceStatus": status or {}})

    def create_service(self, body: dict) -> dict:
        created = self.clients.call("POST", "/services/create", json=body)
        return self.inspect_service(created["ID"])

    def secret_references(self, wanted: list[dict]) -> list[dict]:
        """The engine's references to secrets by name: one call for them all."""
        if not wanted:
            return []
        found = self.clients.call(
            "GET", "/secrets", params=_filters({"name": [w["name"] for w in wanted]})
        )
        named = {s["Spec"]["Name"]: s for s in found or []}
        return [
            {
                "name": w["name"],
                "id": named[w["name"]]["ID"] if w["name"] in named else None,
                "labels": named[w["name"]]["Spec"].get("Labels") or {}
                if w["name"] in named
                else {},
                "target": w.get("target") or w["name"],
            }
            for w in wanted
        ]

    def update_service(self, record: dict, spec: dict, rollback=False) -> dict:
        """Send a new spec (built here from the engine's own and checked values) at the
        record's version; or, with ``rollback``, the engine's previous spec."""
        params = {"version": record["Version"]["Index"]}
        if rollback:
            params["rollback"] = "previous"
        self.clients.call("POST", "/services/{0}/update", record["ID"], params=params, json=spec)
        return self.inspect_service(record["ID"])

    def remove_service(self, ref) -> None:
        self.clients.call("DELETE", "/services/{0}", ref)

    def service_logs(self, ref, params: dict) -> DaemonStream:
        if not (params["stdout"] or params["stderr"]):
            return DaemonStream.empty()  # neither stream asked for: no line (the daemon refuses)
        response = self.clients.open_stream("GET", "/services/{0}/logs", ref, params=params)
        return DaemonStream(multiplexed_frames(response), response)


def _filters(filters) -> dict:
    filters = {key: value for key, value in (filters or {}).items() if value}
    return {"filters": json.dumps(filters)} if filters else {}


def service_body(spec: dict, secrets: list[dict]) -> dict:
    """The Engine API's service create body, built field by field from a checked spec only."""
    container = {
        "Image": spec["image"],
        "Env": [f"{name}={value}" for name, value in spec["env"].items()],
        "Labels": spec["labels"],
        "Mounts": [mount(m) for m in spec["mounts"]],
        "ReadOnly": spec["read_only"],
        "Secrets": [
            {
                "SecretID": s["id"],
                "SecretName": s["name"],
                "File": {"Name": s["target"], "UID": "0", "GID": "0", "Mode": 0o444},
            }
            for s in secrets
        ],
    }
    for field, key in (
        ("command", "Args"),
        ("entrypoint", "Command"),
        ("working_dir", "Dir"),
        ("user", "User"),
    ):
        if field in spec:
            container[key] = spec[field]
    template = {
        "ContainerSpec": container,
        "Resources": {"Limits": resource_limits(spec["resources"])},
        "Placement": {"Constraints": spec["constraints"]},
        "Networks": [{"Target": name} for name in spec["networks"]],
    }
    if "restart_policy" in spec:
        template["RestartPolicy"] = restart_policy(spec["restart_policy"])
    if spec["mode"] == "global":
        mode = {"Global": {}}
    else:
        mode = {"Replicated": {"Replicas": spec.get("replicas", 1)}}
    body = {
        "Name": spec["name"],
        "Labels": spec["labels"],
        "TaskTemplate": template,
        "Mode": mode,
        "EndpointSpec": {
            "Ports": [
                {
                    "Protocol": p["protocol"],
                    "TargetPort": p["target_port"],
                    "PublishMode": p["publish_mode"],
                    **({"PublishedPort": p["published_port"]} if p.get("published_port") else {}),
                }
                for p in spec["ports"]
            ]
        },
    }
    if "update_config" in spec:
        body["UpdateConfig"] = update_config(spec["update_config"])
    return body


def resource_limits(resources: dict) -> dict:
    limits = {}
    if "memory" in resources:
        limits["MemoryBytes"] = resources["memory"]
    if "cpus" in resources:
        limits["NanoCPUs"] = int(resources["cpus"] * NANO)
    if "pids_limit" in resources:
        limits["Pids"] = resources["pids_limit"]
    return limits


def restart_policy(policy: dict) -> dict:
    body = {"Condition": policy["condition"]}
    if "delay" in policy:
        body["Delay"] = int(policy["delay"] * NANO)
    if "max_attempts" in policy:
        body["MaxAttempts"] = policy["max_attempts"]
    return body


def update_config(config: dict, current: dict | None = None) -> dict:
    body = dict(current or {})
    for field, key, scale in (
        ("parallelism", "Parallelism", None),
        ("delay", "Delay", NANO),
        ("failure_action", "FailureAction", None),
        ("order", "Order", None),
        ("monitor", "Monitor", NANO),
    ):
        if field in config:
            body[key] = int(config[field] * scale) if scale else config[field]
    return body


def updated_spec(current: dict, changes: dict) -> dict:
    """The engine's current spec with checked changes applied: nothing else from the client."""
    spec = {**current, "TaskTemplate": {**current["TaskTemplate"]}}
    template = spec["TaskTemplate"]
    container = template["ContainerSpec"] = {**template["ContainerSpec"]}
    if "image" in changes:
        container["Image"] = changes["image"]
    if "command" in changes:
        container["Args"] = changes["command"]
    if "env" in changes:
        container["Env"] = [f"{name}={value}" for name, value in changes["env"].items()]
    if "resources" in changes:
        limits = (template.get("Resources") or {}).get("Limits") or {}
        template["Resources"] = {
            **(template.get("Resources") or {}),
            "Limits": {**limits, **resource_limits(changes["resources"])},
        }
    if "update_config" in changes:
        spec["UpdateConfig"] = update_config(changes["update_config"], spec.get("UpdateConfig"))
    if "replicas" in changes:
        spec["Mode"] = {"Replicated": {"Replicas": changes["replicas"]}}
    if changes.get("force"):
        template["ForceUpdate"] = (template.get("ForceUpdate") or 0) + 1
    return spec


def _ports(endpoint: dict) -> list[dict]:
    return [
        {
            "target_port": p.get("TargetPort"),
            "published_port": p.get("PublishedPort"),
            "protocol": p.get("Protocol", "tcp"),
            "publish_mode": p.get("PublishMode", "ingress"),
        }
        for p in (endpoint or {}).get("Ports") or []
    ]


def service_summary(s: dict) -> dict:
    spec = s["Spec"]
    replicated = (spec.get("Mode") or {}).get("Replicated")
    status = s.get("ServiceStatus") or {}
    update = s.get("UpdateStatus") or {}
    image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
    return {
        "id": s["ID"],
        "name": spec["Name"],
        # the engine pins a digest when it can resolve one: the reference as asked
        "image": image.split("@sha256:")[0],
        "mode": "replicated" if replicated is not None else "global",
        "replicas": replicated.get("Replicas", 0) if replicated is not None else None,
        "running": status.get("RunningTasks", 0),
        "desired": status.get("DesiredTasks", 0),
        "ports": _ports(s.get("Endpoint", {}).get("Spec") or spec.get("EndpointSpec")),
        "update_status": {
            "state": update.get("State"),
            "started_at": from_rfc3339(update.get("StartedAt")),
            "completed_at": from_rfc3339(update.get("CompletedAt")),
            "message": update.get("Message"),
        },
        "labels": spec.get("Labels") or {},
        "created": from_rfc3339(s.get("CreatedAt")),
        "updated": from_rfc3339(s.get("UpdatedAt")),
    }


def service_detail(s: dict) -> dict:
    spec = s["Spec"]
    template = spec["TaskTemplate"]
    container = template["ContainerSpec"]
    limits = (template.get("Resources") or {}).get("Limits") or {}
    return {
        **service_summary(s),
        "command": container.get("Args"),
        "env": dict(item.partition("=")[::2] for item in container.get("Env") or []),
        "networks": [n["Target"] for n in template.get("Networks") or []],
        "constraints": (template.get("Placement") or {}).get("Constraints") or [],
        "secrets": [x["SecretName"] for x in container.get("Secrets") or []],
        "mounts": [
            {
                "type": m.get("Type"),
                "source": m.get("Source"),
                "target": m.get("Target"),
                "read_only": bool(m.get("ReadOnly")),
            }
            for m in container.get("Mounts") or []
        ],
        "memory": limits.get("MemoryBytes"),
        "cpus": limits["NanoCPUs"] / NANO if limits.get("NanoCPUs") else None,
        "pids_limit": limits.get("Pids"),
        "has_previous": bool(s.get("PreviousSpec")),
        "version": s["Version"]["Index"],
    }

"""A container's create body for the engine, built field by field from a checked request only,
and the mounts containers and services share."""


def container_config(spec: dict, publish_host_ip: str) -> dict:
    """The Engine API's create body, built field by field from a checked request only."""
    host = {
        **limits(spec),
        "PortBindings": {},
        "Mounts": [mount(m) for m in spec["mounts"]],
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
        "OpenStdin": spec["stdin_open"],
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


def mount(spec: dict) -> dict:
    """A checked mount as the engine's `Mounts` entry (containers and services alike)."""
    engine = {"Type": spec["type"], "Target": spec["target"], "ReadOnly": spec["read_only"]}
    if spec.get("source"):
        engine["Source"] = spec["source"]
    if "tmpfs_size" in spec:
        engine["TmpfsOptions"] = {"SizeBytes": spec["tmpfs_size"]}
    return engine

"""Network verbs: list, inspect, create, connect, disconnect, remove, prune."""

import ipaddress
import re
import time

import docker.errors

from .images import from_rfc3339, prune_filters, short_id


class NetworkRefused(Exception):
    """The engine refused a network operation for a reason the request can fix.

    ``kind`` says which: ``not_found`` (no such network), ``conflict`` (the engine's state
    stands in the way: a name or an address range in use, containers attached, no swarm)
    or ``invalid`` (the engine cannot do what was asked). The message says it in words and
    ends with the engine's own reason."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


# the daemon's words for refusals the request can fix, each matched narrowly
_OVERLAP = re.compile(r"Pool overlaps with other one on this address space")
_NO_POOL = re.compile(r"could not find an available, non-overlapping (IPv[46]) address pool")
_NO_SWARM = re.compile(r"^This node is not a swarm manager\.")
_NO_PLUGIN = re.compile(r'^plugin "[^"]*" not found$')
_UNSUPPORTED = re.compile(r"(?i)\bnot supported\b")
_ACTIVE = re.compile(r"has active endpoints|is in use")
_CONNECTED = re.compile(r"^endpoint with name .+ already exists in network ")
_NOT_CONNECTED = re.compile(r"is not connected to (?:the )?network")
_ADDRESS_TAKEN = re.compile(r"Address already in use")
_NOT_IN_SUBNET = re.compile(r"does not belong to any of this network's subnets")
# seconds a new swarm network is waited for: the cluster gives it its driver and addresses a
# moment after the create is answered, and inspect shows no driver until then
ALLOCATION_WAIT = 5.0


def _reason(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return (explanation or str(exc)).strip()


class NetworkVerbs:
    # -- reading -----------------------------------------------------------------------------

    def list_networks(self, filters=None, cached=False) -> list[dict]:
        # one call (none from the mirror): the list answer holds all a summary says
        return [network_summary(n) for n in self.reads(cached).networks(filters=filters)]

    def network_record(self, ref, cached=False) -> dict:
        """The engine's own record of a network (its inspect answer), by id, short id or name."""
        try:
            return self.reads(cached).inspect_network(ref)
        except docker.errors.NotFound as exc:
            raise NetworkRefused(
                "not_found",
                f"no network is named `{ref}` or has an id starting with it: {_reason(exc)}",
            ) from exc

    def inspect_network(self, ref, cached=False) -> dict:
        return network_detail(self.network_record(ref, cached))

    def network_users(self, name, cached=False) -> list[dict]:
        """Containers attached to a network, running or not (the network's own record only
        lists those running): one call."""
        return [
            {"id": c["Id"], "name": (c.get("Names") or ["/"])[0].lstrip("/")}
            for c in self.reads(cached).containers(all=True, filters={"network": [name]})
        ]

    # -- changing ----------------------------------------------------------------------------

    def create_network(self, spec: dict) -> dict:
        """Create from a checked request; the network as inspect answers it."""
        try:
            created = self.clients.call("POST", "/networks/create", json=network_config(spec))
        except docker.errors.APIError as exc:
            refusal = self._create_refusal(spec, exc)
            if refusal is None:
                raise
            raise refusal from exc
        return network_detail(self._allocated(created["Id"]))

    def _allocated(self, network_id) -> dict:
        """The new network's record once the engine has given it its driver (at once for a
        local network; a swarm network, a moment later)."""
        deadline = time.monotonic() + ALLOCATION_WAIT
        while True:
            record = self.network_record(network_id)
            if record.get("Driver") or time.monotonic() >= deadline:
                return record
            time.sleep(0.05)

    def _create_refusal(self, spec: dict, exc: docker.errors.APIError):
        reason = _reason(exc)
        if exc.status_code == 409:
            return NetworkRefused(
                "conflict",
                f"the name `{spec['name']}` is taken: remove that network or choose another "
                f"name ({reason})",
            )
        if _OVERLAP.search(reason):
            return NetworkRefused("conflict", f"{self._overlapping(spec)} ({reason})")
        found = _NO_POOL.search(reason)
        if found:
            return NetworkRefused(
                "conflict",
                f"the engine has no free {found.group(1)} address range left to give: give the "
                f"network a `subnet` of its own ({reason})",
            )
        if _NO_SWARM.search(reason):
            return NetworkRefused(
                "conflict",
                f"`{spec['driver']}` networks span a swarm, and this engine is not a swarm "
                f"manager: init a swarm first (docker swarm init) ({reason})",
            )
        if _NO_PLUGIN.search(reason) or (
            spec["driver"] != "bridge" and _UNSUPPORTED.search(reason)
        ):
            return NetworkRefused(
                "invalid",
                f"this engine cannot make a `{spec['driver']}` network ({reason})",
            )
        return None

    def _overlapping(self, spec: dict) -> str:
        """Which networks hold an address range that the one asked for overlaps, in words."""
        if not spec.get("subnet"):
            return "the address range the engine chose overlaps one in use"
        wanted = ipaddress.ip_network(spec["subnet"])
        clashes = [
            f"{subnet['subnet']} of network `{network['name']}`"
            for network in self.list_networks()
            for subnet in network["subnets"]
            if _overlaps(wanted, subnet["subnet"])
        ]
        if not clashes:
            return f"subnet {wanted} overlaps an address range in use on this engine"
        return f"subnet {wanted} overlaps {', '.join(clashes)}"

    def remove_network(self, network_id, detach=()) -> None:
        """Remove a network; first disconnect the containers in ``detach`` (forcibly)."""
        api = self.clients.control
        for container in detach:
            try:
                api.disconnect_container_from_network(container, network_id, force=True)
            except docker.errors.NotFound:
                pass  # the container went meanwhile: it holds the network no more
            except docker.errors.APIError as exc:
                if not _NOT_CONNECTED.search(_reason(exc)):
                    raise
        try:
            api.remove_network(network_id)
        except docker.errors.APIError as exc:
            reason = _reason(exc)
            if exc.status_code == 403 and _ACTIVE.search(reason):
                # attached meanwhile
                raise NetworkRefused(
                    "conflict", f"containers are attached to the network ({reason})"
                ) from exc
            raise

    def connect_network(self, network: dict, container, aliases=(), ipv4=None, ipv6=None):
        """Connect a container (a full id) to a network (its record)."""
        endpoint = {"Aliases": list(aliases)}
        addresses = {"IPv4Address": ipv4, "IPv6Address": ipv6}
        if ipv4 or ipv6:
            endpoint["IPAMConfig"] = {key: value for key, value in addresses.items() if value}
        try:
            self.clients.call(
                "POST",
                "/networks/{0}/connect",
                network["Id"],
                json={"Container": container, "EndpointConfig": endpoint},
            )
        except docker.errors.APIError as exc:
            reason = _reason(exc)
            if _CONNECTED.search(reason):
                kind, words = "conflict", "the container is already connected to it"
            elif _ADDRESS_TAKEN.search(reason):
                kind, words = "conflict", f"address {ipv4 or ipv6} is taken on it"
            elif _NOT_IN_SUBNET.search(reason):
                kind, words = "invalid", "the address is not in its subnets"
            else:
                raise
            raise NetworkRefused(kind, f"network `{network['Name']}`: {words} ({reason})") from exc

    def disconnect_network(self, network: dict, container, force=False) -> None:
        try:
            self.clients.call(
                "POST",
                "/networks/{0}/disconnect",
                network["Id"],
                json={"Container": container, "Force": force},
            )
        except docker.errors.APIError as exc:
            reason = _reason(exc)
            if not _NOT_CONNECTED.search(reason):
                raise
            raise NetworkRefused(
                "conflict",
                f"the container is not connected to network `{network['Name']}` ({reason})",
            ) from exc

    def prune_networks(self, labels=(), until=None) -> dict:
        pruned = self.clients.long.prune_networks(filters=prune_filters(labels, until))
        return {"deleted": pruned.get("NetworksDeleted") or []}


def _overlaps(wanted, subnet: str) -> bool:
    try:
        other = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return False
    return other.version == wanted.version and other.overlaps(wanted)


# -- shapes -----------------------------------------------------------------------------------


def network_config(spec: dict) -> dict:
    """The Engine API's create body, built field by field from a checked request only."""
    ipam = {}
    for field, key in (("subnet", "Subnet"), ("gateway", "Gateway"), ("ip_range", "IPRange")):
        if spec.get(field):
            ipam[key] = spec[field]
    return {
        "Name": spec["name"],
        # a second network of the same name is refused, not made beside the first
        "CheckDuplicate": True,
        "Driver": spec["driver"],
        "Internal": spec["internal"],
        "Attachable": spec["attachable"],
        "EnableIPv6": spec["enable_ipv6"],
        "Labels": spec["labels"],
        "IPAM": {"Driver": "default", "Config": [ipam] if ipam else []},
    }


def _subnets(network: dict) -> list[dict]:
    return [
        {
            "subnet": config.get("Subnet"),
            "gateway": config.get("Gateway") or None,
            "ip_range": config.get("IPRange") or None,
        }
        for config in (network.get("IPAM") or {}).get("Config") or []
        if config.get("Subnet")
    ]


def network_summary(n: dict) -> dict:
    return {
        "id": n["Id"],
        "short_id": short_id(n["Id"]),
        "name": n.get("Name") or "",
        "driver": n.get("Driver") or "",
        "scope": n.get("Scope") or "",
        "internal": n.get("Internal", False),
        "attachable": n.get("Attachable", False),
        "ingress": n.get("Ingress", False),
        "enable_ipv6": n.get("EnableIPv6", False),
        "created": from_rfc3339(n.get("Created")),
        "labels": n.get("Labels") or {},
        "options": n.get("Options") or {},
        "subnets": _subnets(n),
    }


def _address(cidr) -> str | None:
    # the engine writes an endpoint's address with its prefix length (10.1.0.2/24)
    return (cidr or "").partition("/")[0] or None


def network_detail(n: dict) -> dict:
    """The inspect answer: what a list entry says, then the containers attached (those
    running: a stopped container holds no endpoint)."""
    return {
        **network_summary(n),
        "containers": [
            {
                "id": container_id,
                "name": endpoint.get("Name") or "",
                "ipv4_address": _address(endpoint.get("IPv4Address")),
                "ipv6_address": _address(endpoint.get("IPv6Address")),
                "mac_address": endpoint.get("MacAddress") or None,
            }
            for container_id, endpoint in sorted((n.get("Containers") or {}).items())
        ],
    }

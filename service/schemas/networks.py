"""Schemas of /networks."""

import ipaddress

import marshmallow as ma

from . import (
    ADDRESS_MAX,
    ALIASES_MAX,
    FILTERS_MAX,
    Bool,
    Pattern,
    QueryArgsSchema,
    Reply,
    Schema,
    Str,
    doc,
    given,
    label_filters,
    label_map,
    most,
    until_filter,
    when,
)
from .fields import CONTAINER_REF, IP_ADDRESS, IPV4, IPV6, SUBNET, filter_list, name_string

# a network as a path or a filter addresses it: id, short id or name (the same characters as
# a container's)
NETWORK_REF = CONTAINER_REF
# drivers a network may be created with; `host` and `null` have their one network already
DRIVERS = ("bridge", "overlay", "macvlan", "ipvlan")

container_ref_field = Pattern(CONTAINER_REF, error="not a container id or name")


class SubnetSchema(Reply):
    subnet = Str(**doc("address range of the network, e.g. `10.10.0.0/24`"))
    gateway = Str(allow_none=True, **doc("the gateway's address in it, when one is set"))
    ip_range = Str(
        allow_none=True,
        **doc("the part of the subnet containers get their addresses from, when narrowed"),
    )


class NetworkSchema(Reply):
    id = Str(**doc("network id, 64 hex digits"))
    short_id = Str(**doc("the id's first 12 hex digits"))
    name = Str(**doc("network name"))
    driver = Str(**doc("driver: bridge, host, null, overlay, macvlan, ipvlan..."))
    scope = Str(**doc("`local` (this engine) or `swarm` (the whole swarm)"))
    internal = Bool(**doc("cut off from the outside: its containers only reach each other"))
    attachable = Bool(**doc("swarm networks: plain containers may connect too, not only services"))
    ingress = Bool(**doc("the swarm's routing mesh network"))
    enable_ipv6 = Bool(**doc("its containers have IPv6 addresses too"))
    created = ma.fields.DateTime(allow_none=True, **doc("when the network was created"))
    labels = ma.fields.Dict(Str(), Str(), **doc("the network's labels"))
    options = ma.fields.Dict(Str(), Str(), **doc("the driver's options, as the engine set them"))
    subnets = ma.fields.List(
        ma.fields.Nested(SubnetSchema), **doc("its address ranges (none for host and null)")
    )


class EndpointSchema(Reply):
    id = Str(**doc("container id, 64 hex digits"))
    name = Str(**doc("container name"))
    ipv4_address = Str(allow_none=True, **doc("the container's IPv4 address on the network"))
    ipv6_address = Str(allow_none=True, **doc("the container's IPv6 address on the network"))
    mac_address = Str(allow_none=True, **doc("the container's MAC address on the network"))


class NetworkDetailSchema(NetworkSchema):
    containers = ma.fields.List(
        ma.fields.Nested(EndpointSchema),
        **doc("running containers attached, with their addresses (a stopped one has none)"),
    )


class NetworkListArgsSchema(QueryArgsSchema):
    label = label_filters(doc("only networks with this label, `key` or `key=value` (repeatable)"))
    name = filter_list(256, "name contains this (repeatable: any matches)")
    id = filter_list(64, "id starts with this (repeatable: any matches)")
    driver = filter_list(256, "made with this driver (repeatable: any matches)")
    scope = ma.fields.List(
        Str(validate=ma.validate.OneOf(["local", "swarm", "global"])),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("only networks of this scope (repeatable)"),
    )
    type = Str(
        validate=ma.validate.OneOf(["custom", "builtin"]),
        **doc("`builtin`: the networks the engine made itself; `custom`: all others"),
    )
    dangling = Bool(**doc("only networks no container uses (true), or only used ones (false)"))


LIST_FILTERS = ("label", "name", "id", "driver", "scope", "type")


def _subnet(text: str, least: int = 0):
    """An address range written with its prefix length, host bits clear; ValueError says
    what is wrong with it. ``least``: addresses it must hold."""
    if "/" not in text or "%" in text:
        raise ValueError(f"`{text}` is not an address range such as 10.10.0.0/24 or fd00:10::/64")
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"`{text}` is not an address range such as 10.10.0.0/24 or fd00:10::/64"
        ) from None
    if loose.network_address != ipaddress.ip_interface(text).ip:
        raise ValueError(f"`{text}` has host bits set: the range it lies in is {loose}")
    if loose.num_addresses < least:
        raise ValueError(
            f"{loose} is too small: a network needs room for its own address, a gateway and "
            f"containers (/{loose.max_prefixlen - 2} at most)"
        )
    if loose.is_loopback or loose.is_multicast or loose.is_link_local or loose.is_unspecified:
        raise ValueError(f"{loose} is a loopback, multicast or link-local range")
    return loose


def _address(text: str):
    if "%" in text:
        raise ValueError(f"`{text}` is not an IP address (no zone)")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"`{text}` is not an IP address") from None


_RANGE = Pattern(
    rf"^{SUBNET}$", error="`{input}` is not an address range such as 10.10.0.0/24 or fd00:10::/64"
)
_ADDRESS = Pattern(rf"^{IP_ADDRESS}$", error="`{input}` is not an IP address (no zone)")


def address_field(description: str, written: Pattern):
    """An address or an address range, as written (``_ADDRESS``, ``_RANGE``)."""
    return Str(validate=[ma.validate.Length(min=1, max=ADDRESS_MAX), written], **doc(description))


class NetworkCreateSchema(Schema):
    document_rules = (
        {"dependentRequired": {"gateway": ["subnet"], "ip_range": ["subnet"]}},
        when(given("subnet", {"pattern": ":"}), given("enable_ipv6", {"const": True})),
    )

    name = name_string(required=True, **doc("network name"))
    driver = Str(
        load_default="bridge",
        validate=ma.validate.OneOf(DRIVERS),
        **doc("`bridge` (one engine, the default); `overlay` (a swarm); `macvlan`, `ipvlan`"),
    )
    internal = Bool(load_default=False, **doc("cut it off from the outside world"))
    attachable = Bool(
        load_default=False, **doc("overlay: plain containers may connect, not only services")
    )
    enable_ipv6 = Bool(load_default=False, **doc("give containers IPv6 addresses too"))
    subnet = address_field(
        "address range, e.g. `10.10.0.0/24` (host bits clear, /30 or wider); the engine picks a "
        "free one when absent; an IPv6 one needs `enable_ipv6`",
        _RANGE,
    )
    gateway = address_field(
        "the gateway's address, in `subnet`; the engine picks when absent", _ADDRESS
    )
    ip_range = address_field(
        "the part of `subnet` containers get their addresses from, e.g. `10.10.0.128/25`",
        _RANGE,
    )
    labels = label_map("labels to set on the network")

    @ma.validates_schema
    def _addresses(self, data, **kwargs):
        """Addresses that hold together, as Python's ipaddress reads them; each error names
        its field."""
        errors = {}
        subnet = None
        if "subnet" in data:
            try:
                subnet = _subnet(data["subnet"], least=4)
            except ValueError as exc:
                errors["subnet"] = [str(exc)]
            else:
                if subnet.version == 6 and not data.get("enable_ipv6"):
                    errors["enable_ipv6"] = ["an IPv6 `subnet` needs `enable_ipv6: true`"]
        for field in ("gateway", "ip_range"):
            if field in data and "subnet" not in data:
                errors[field] = [f"a {field} lies in a `subnet`: give the subnet too"]
        if subnet is not None and "gateway" in data:
            try:
                gateway = _address(data["gateway"])
                if gateway.version != subnet.version:
                    raise ValueError(
                        f"gateway {gateway} is IPv{gateway.version}, the subnet IPv{subnet.version}"
                    )
                if gateway not in subnet:
                    raise ValueError(f"gateway {gateway} is outside the subnet {subnet}")
                if gateway == subnet.network_address or (
                    subnet.version == 4 and gateway == subnet.broadcast_address
                ):
                    raise ValueError(f"{gateway} is the subnet's own address, not a host's")
            except ValueError as exc:
                errors["gateway"] = [str(exc)]
        if subnet is not None and "ip_range" in data:
            try:
                ip_range = _subnet(data["ip_range"])
                if ip_range.version != subnet.version or not ip_range.subnet_of(subnet):
                    raise ValueError(f"ip_range {ip_range} is outside the subnet {subnet}")
            except ValueError as exc:
                errors["ip_range"] = [str(exc)]
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def _canonical(self, data, **kwargs):
        # the daemon is sent the addresses as Python writes them (a netmask as a prefix...)
        if "subnet" in data:
            data["subnet"] = str(ipaddress.ip_network(data["subnet"]))
        if "ip_range" in data:
            data["ip_range"] = str(ipaddress.ip_network(data["ip_range"]))
        if "gateway" in data:
            data["gateway"] = str(ipaddress.ip_address(data["gateway"]))
        return data


def ip_field(version: int, description: str):
    """An address of one IP version, as written without a zone."""
    written = Pattern(
        f"^{IPV4 if version == 4 else IPV6}$", error=f"`{{input}}` is not an IPv{version} address"
    )
    return Str(
        validate=[ma.validate.Length(max=ADDRESS_MAX), written],
        metadata={"description": description, "format": f"ipv{version}"},
    )


class ConnectSchema(Schema):
    container = Str(
        required=True, validate=container_ref_field, **doc("container id, short id or name")
    )
    aliases = ma.fields.List(
        name_string(),
        validate=most(ALIASES_MAX),
        load_default=list,
        **doc("more names the other containers on the network reach it by"),
    )
    ipv4_address = ip_field(4, "its IPv4 address on the network: in the network's own `subnet`")
    ipv6_address = ip_field(6, "its IPv6 address on the network: in the network's own `subnet`")

    @ma.post_load
    def _canonical(self, data, **kwargs):
        for field in ("ipv4_address", "ipv6_address"):
            if field in data:
                data[field] = str(ipaddress.ip_address(data[field]))
        return data


class DisconnectSchema(Schema):
    container = Str(
        required=True, validate=container_ref_field, **doc("container id, short id or name")
    )
    force = Bool(load_default=False, **doc("disconnect even when the engine would rather not"))


class RemoveArgsSchema(QueryArgsSchema):
    force = Bool(
        load_default=False, **doc("disconnect every container attached first, then remove")
    )


class NetworkPruneSchema(Schema):
    label = label_filters(doc("only networks with these labels (`key` or `key=value`)"))
    until = until_filter(doc("only networks created before this time"))


class NetworkPruneReportSchema(Reply):
    deleted = ma.fields.List(Str(), **doc("names of the networks removed"))

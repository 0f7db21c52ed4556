"""/networks against the real engine: containers that reach each other by name and alias on
a network of their own, and nothing else; refusals in clear words, nothing left behind."""

import ipaddress

import docker
import pytest

from service.auth import hash_token
from tests.conftest import RUN_ID, TEST_LABEL, eventually, make_client

RUN = RUN_ID


def free_subnet(api, prefix=24) -> str:
    """An IPv4 range no network of the shared engine overlaps, in 10.192.0.0/10."""
    taken = [
        ipaddress.ip_network(config["Subnet"], strict=False)
        for network in api.networks()
        for config in (network.get("IPAM") or {}).get("Config") or []
        if config.get("Subnet")
    ]
    start = int(RUN, 16) % 4096  # runs beside this one start elsewhere
    pool = list(ipaddress.ip_network("10.192.0.0/10").subnets(new_prefix=prefix))
    for subnet in pool[start:] + pool[:start]:
        if not any(subnet.overlaps(other) for other in taken if other.version == 4):
            return str(subnet)
    pytest.fail("no free IPv4 range left on the engine")


@pytest.fixture
def network(client, labels):
    """Create a network through the service; answers its detail."""

    def create(name, **fields):
        body = {"name": f"{name}-{RUN}", "labels": {**labels, **fields.pop("labels", {})}}
        answer = client.post("/networks", json={**body, **fields})
        assert answer.status_code == 201, answer.json
        return answer.json

    return create


@pytest.fixture
def run(client, busybox_image, labels):
    """Run a container through the service; answers its detail."""

    def run(name, command=("sleep", "300"), start=True, **fields):
        body = {
            "image": busybox_image,
            "name": f"{name}-{RUN}",
            "command": list(command),
            "labels": labels,
            "start": start,
            **fields,
        }
        answer = client.post("/containers", json=body)
        assert answer.status_code == 201, answer.json
        return answer.json

    return run


def fetch(client, container, target, wait=2) -> str:
    """What `target` port 80 answers, asked from inside ``container`` with busybox nc."""
    request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w {wait} {target} 80"
    answer = client.post(f"/containers/{container}/exec", json={"cmd": ["sh", "-c", request]})
    assert answer.status_code == 200, answer.json
    return answer.json["stdout"]


SERVE = "mkdir -p /www && echo hello-net > /www/index.html && httpd -f -p 80 -h /www"


def test_containers_reach_each_other_by_name_and_alias_on_their_network_only(
    client, network, run, docker_api
):
    inner = network("inner")
    outer = network("outer")
    # created on the network with an alias in one request
    server = run("server", ["sh", "-c", SERVE], network=inner["name"], aliases=["web-alias"])
    (joined,) = server["networks"]
    assert joined["name"] == inner["name"] and "web-alias" in joined["aliases"]
    engine = docker_api.inspect_container(server["id"])["NetworkSettings"]["Networks"]
    assert "web-alias" in engine[inner["name"]]["Aliases"]

    caller = run("caller", network=inner["name"])
    outsider = run("outsider", network=outer["name"])
    eventually(lambda: "hello-net" in fetch(client, caller["name"], server["name"]))
    assert "hello-net" in fetch(client, caller["name"], "web-alias")

    # another network: neither the name nor the address answers
    address = server["networks"][0]["ip_address"]
    assert "hello-net" not in fetch(client, outsider["name"], server["name"], wait=1)
    assert "hello-net" not in fetch(client, outsider["name"], address, wait=1)

    answer = client.post(
        f"/networks/{inner['name']}/disconnect", json={"container": caller["name"]}
    )
    assert answer.status_code == 204
    assert (
        inner["name"]
        not in docker_api.inspect_container(caller["id"])["NetworkSettings"]["Networks"]
    )
    assert "hello-net" not in fetch(client, caller["name"], server["name"], wait=1)
    assert "hello-net" not in fetch(client, caller["name"], address, wait=1)


def test_connect_with_aliases_and_address_then_inspect_shows_them(client, network, run, docker_api):
    subnet = ipaddress.ip_network(free_subnet(docker_api))
    net = network("addressed", subnet=str(subnet), gateway=str(subnet[1]))
    assert net["subnets"] == [{"subnet": str(subnet), "gateway": str(subnet[1]), "ip_range": None}]
    box = run("box")
    chosen = str(subnet[10])
    answer = client.post(
        f"/networks/{net['short_id']}/connect",
        json={"container": box["name"], "aliases": ["db", "cache"], "ipv4_address": chosen},
    )
    assert answer.status_code == 204, answer.json
    endpoint = docker_api.inspect_container(box["id"])["NetworkSettings"]["Networks"][net["name"]]
    assert {"db", "cache"} <= set(endpoint["Aliases"])

    detail = client.get(f"/networks/{net['name']}").json
    (attached,) = detail["containers"]
    assert attached["id"] == box["id"] and attached["name"] == box["name"]
    assert attached["ipv4_address"] == chosen and attached["ipv6_address"] is None
    assert attached["mac_address"] == endpoint["MacAddress"]

    again = client.post(f"/networks/{net['name']}/connect", json={"container": box["id"]})
    assert again.status_code == 409 and "already connected" in again.json["message"]
    other = run("other")
    taken = client.post(
        f"/networks/{net['name']}/connect",
        json={"container": other["name"], "ipv4_address": chosen},
    )
    assert taken.status_code == 409 and chosen in taken.json["message"]
    outside = client.post(
        f"/networks/{net['name']}/connect",
        json={"container": other["name"], "ipv4_address": "192.0.2.200"},
    )
    assert outside.status_code == 400 and str(subnet) in outside.json["message"]

    plain = network("plain")
    unplanned = client.post(
        f"/networks/{plain['name']}/connect",
        json={"container": other["name"], "ipv4_address": chosen},
    )
    assert unplanned.status_code == 400 and "subnet" in unplanned.json["message"]
    absent = client.post(f"/networks/{plain['name']}/disconnect", json={"container": box["name"]})
    assert absent.status_code == 409 and "not connected" in absent.json["message"]
    assert [c["Name"] for c in docker_api.inspect_network(plain["id"])["Containers"].values()] == []


def test_list_filters_by_label_and_name(client, network, labels):
    first = network("listed-a", labels={"dockyard.test.role": "a"})
    second = network("listed-b", labels={"dockyard.test.role": "b"})
    mine = f"label={TEST_LABEL}={labels[TEST_LABEL]}"
    both = client.get(f"/networks?{mine}").json
    assert sorted(n["name"] for n in both) == sorted([first["name"], second["name"]])
    assert all("containers" not in n for n in both)
    only = client.get(f"/networks?{mine}&label=dockyard.test.role=a").json
    assert [n["id"] for n in only] == [first["id"]]
    by_name = client.get(f"/networks?name={second['name']}&driver=bridge&type=custom").json
    assert [n["id"] for n in by_name] == [second["id"]]
    assert by_name[0]["labels"]["dockyard.test.role"] == "b"


def test_inspect_by_id_short_id_and_name(client, network):
    net = network("inspected")
    for ref in (net["id"], net["short_id"], net["name"]):
        answer = client.get(f"/networks/{ref}")
        assert answer.status_code == 200 and answer.json["id"] == net["id"]
        assert answer.json["containers"] == []


@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"subnet": "10.300.0.0/24"}, "subnet", "not an address range"),
        ({"subnet": "10.77.0.0"}, "subnet", "not an address range"),
        ({"subnet": "10.77.0.5/24"}, "subnet", "host bits set"),
        ({"subnet": "10.77.0.0/31"}, "subnet", "too small"),
        ({"subnet": "127.1.0.0/24"}, "subnet", "loopback"),
        ({"subnet": "10.77.0.0/24", "gateway": "10.78.0.1"}, "gateway", "outside the subnet"),
        ({"subnet": "10.77.0.0/24", "gateway": "10.77.0.0"}, "gateway", "own address"),
        ({"subnet": "10.77.0.0/24", "gateway": "fd00::1"}, "gateway", "IPv6"),
        ({"subnet": "10.77.0.0/24", "ip_range": "10.77.1.0/25"}, "ip_range", "outside"),
        ({"subnet": "10.77.0.0/24", "ip_range": "fd00::/64"}, "ip_range", "outside"),
        ({"gateway": "10.77.0.1"}, "gateway", "subnet"),
        ({"ip_range": "10.77.0.0/25"}, "ip_range", "subnet"),
        ({"subnet": "fd00:77::/64"}, "enable_ipv6", "enable_ipv6"),
        ({"driver": "host"}, "driver", "Must be one of"),
        ({"mode": "bridge"}, "mode", "Unknown field"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(
    client, labels, docker_api, fields, field, words
):
    name = f"refused-{RUN}"
    answer = client.post("/networks", json={"name": name, "labels": labels, **fields})
    assert answer.status_code == 422, answer.json
    assert words in " ".join(answer.json["errors"]["json"][field])
    assert docker_api.networks(names=[name]) == []


def test_bad_names_are_refused(client, labels, docker_api):
    for name in ("x", "-dash", "a b", "n" * 129):
        answer = client.post("/networks", json={"name": name, "labels": labels})
        assert answer.status_code == 422 and "name" in answer.json["errors"]["json"]
    assert client.post("/networks", json={"labels": labels}).status_code == 422


def test_overlapping_subnet_and_duplicate_name_are_409(client, network, labels, docker_api):
    subnet = free_subnet(docker_api, prefix=24)
    first = network("first", subnet=subnet)
    wider = str(ipaddress.ip_network(subnet).supernet(new_prefix=20))
    for overlapping in (subnet, wider):
        name = f"second-{RUN}"
        answer = client.post(
            "/networks", json={"name": name, "subnet": overlapping, "labels": labels}
        )
        assert answer.status_code == 409, answer.json
        assert first["name"] in answer.json["message"] and subnet in answer.json["message"]
        assert docker_api.networks(names=[name]) == []
    twin = client.post("/networks", json={"name": first["name"], "labels": labels})
    assert twin.status_code == 409 and "taken" in twin.json["message"]
    assert [n["Id"] for n in docker_api.networks(names=[first["name"]])] == [first["id"]]


def test_ipv6_subnet_with_enable_ipv6(client, network, run):
    # a unique-local range of this run's own
    # written as the engine answers it: a group's leading zeros dropped (`00a5` is `a5`)
    subnet = str(ipaddress.ip_network(f"fd{RUN[:2]}:{RUN[2:6]}:{RUN[6:10]}::/64"))
    net = network("six", subnet=subnet, enable_ipv6=True)
    assert net["enable_ipv6"] is True and subnet in [s["subnet"] for s in net["subnets"]]
    box = run("six-box", network=net["name"])
    (attached,) = client.get(f"/networks/{net['id']}").json["containers"]
    assert attached["id"] == box["id"]
    assert ipaddress.ip_address(attached["ipv6_address"]) in ipaddress.ip_network(subnet)


def test_swarm_driver_without_a_swarm_is_a_clear_refusal(client, labels, docker_api):
    if docker_api.info()["Swarm"]["LocalNodeState"] == "active":
        pytest.skip("the engine is a swarm node: overlay networks can be made")
    name = f"overlay-{RUN}"
    answer = client.post("/networks", json={"name": name, "driver": "overlay", "labels": labels})
    assert answer.status_code == 409 and "swarm" in answer.json["message"]
    assert docker_api.networks(names=[name]) == []


def test_remove_while_attached_is_409_naming_them_then_force(client, network, run, docker_api):
    net = network("busy")
    running = run("attached-up", network=net["name"])
    stopped = run("attached-down", network=net["name"], start=False)
    answer = client.delete(f"/networks/{net['name']}")
    assert answer.status_code == 409
    assert running["name"] in answer.json["message"] and stopped["name"] in answer.json["message"]
    assert docker_api.inspect_network(net["id"])

    assert client.delete(f"/networks/{net['name']}?force=true").status_code == 204
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_network(net["id"])
    for box in (running, stopped):
        networks = docker_api.inspect_container(box["id"])["NetworkSettings"]["Networks"]
        assert net["name"] not in networks


def test_unused_network_is_removed(client, network, docker_api):
    net = network("idle")
    assert client.delete(f"/networks/{net['short_id']}").status_code == 204
    assert docker_api.networks(ids=[net["id"]]) == []


@pytest.mark.parametrize("ref", ["bridge", "host", "none"])
def test_predefined_networks_cannot_be_removed(client, docker_api, ref):
    for sent in (ref, docker_api.inspect_network(ref)["Id"][:12]):
        answer = client.delete(f"/networks/{sent}?force=true")
        assert answer.status_code == 403
        assert "rule `predefined-network`" in answer.json["message"]
    assert docker_api.inspect_network(ref)["Name"] == ref


def test_connect_to_host_is_refused_and_none_is_a_clear_4xx(client, run, docker_api):
    box = run("hostless")
    answer = client.post("/networks/host/connect", json={"container": box["name"]})
    assert answer.status_code == 403 and "rule `host-network`" in answer.json["message"]
    none = client.post("/networks/none/connect", json={"container": box["name"]})
    assert none.status_code == 400 and "none" in none.json["message"]
    networks = docker_api.inspect_container(box["id"])["NetworkSettings"]["Networks"]
    assert set(networks) == {"bridge"}


def test_unknown_network_or_container_is_404_in_words(client, network, run):
    missing = f"no-such-net-{RUN}"
    for answer in (
        client.get(f"/networks/{missing}"),
        client.delete(f"/networks/{missing}"),
        client.post(f"/networks/{missing}/connect", json={"container": "whoever"}),
        client.post(f"/networks/{missing}/disconnect", json={"container": "whoever"}),
    ):
        assert (
            answer.status_code == 404
            and f"no network is named `{missing}`" in (answer.json["message"])
        )
    net = network("lonely")
    gone = client.post(f"/networks/{net['name']}/connect", json={"container": f"ghost-{RUN}"})
    assert gone.status_code == 404 and f"ghost-{RUN}" in gone.json["message"]
    assert client.get("/networks/not%20a%20name").status_code == 400


def test_an_id_prefix_two_networks_share_is_a_409(client, network, run):
    """Which network a shared prefix means is the engine's state, not the request's fault."""
    made = {}
    while True:  # two ids sharing a first character: at most 17 networks, a few at most often
        net = network(f"prefix{len(made)}")
        if net["id"][0] in made:
            break
        made[net["id"][0]] = net
    box = run("prefixbox")
    answer = client.post(f"/networks/{net['id'][0]}/connect", json={"container": box["id"]})
    assert answer.status_code == 409, answer.json
    assert "give more of the id" in answer.json["message"]


def test_prune_removes_unused_labelled_networks(client, network, run, docker_api):
    role = {"dockyard.test.prune": RUN}
    idle = network("prunable", labels=role)
    used = network("kept", labels=role)
    run("keeper", network=used["name"])
    answer = client.post("/networks/prune", json={"label": [f"dockyard.test.prune={RUN}"]})
    assert answer.status_code == 200
    assert answer.json == {"deleted": [idle["name"]]}
    assert docker_api.networks(ids=[idle["id"]]) == []
    assert docker_api.inspect_network(used["id"])


def test_scopes(labels, docker_api, busybox_image):
    secrets = {scope: f"net-{scope}-{RUN}" for scope in ("read", "operate", "write")}
    tokens = [
        {"name": f"{scope}-bot", "hash": hash_token(secret), "scopes": [scope]}
        for scope, secret in secrets.items()
    ]
    client = make_client(TOKENS=tokens)

    def bearer(scope):
        return {"Authorization": f"Bearer {secrets[scope]}"}

    name = f"scoped-{RUN}"
    body = {"name": name, "labels": labels}
    refused = client.post("/networks", json=body, headers=bearer("read"))
    assert refused.status_code == 403 and "`write` scope" in refused.json["message"]
    assert docker_api.networks(names=[name]) == []
    assert client.get("/networks", headers=bearer("read")).status_code == 200
    created = client.post("/networks", json=body, headers=bearer("write"))
    assert created.status_code == 201
    box = docker_api.create_container(busybox_image, "true", labels=labels)
    connect = {"container": box["Id"]}
    path = f"/networks/{name}/connect"
    # who may reach a container is its configuration: operate may start it, not connect it
    for scope in ("read", "operate"):
        assert client.post(path, json=connect, headers=bearer(scope)).status_code == 403
    assert client.post(path, json=connect, headers=bearer("write")).status_code == 204
    assert client.delete(f"/networks/{name}", headers=bearer("operate")).status_code == 403
    assert client.post("/networks/prune", json={}, headers=bearer("write")).status_code == 403

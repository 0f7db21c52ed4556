"""Teams: a token of a team sees and drives only what its team made; an operator's sees all.
Two team tokens and an operator's on the real engine."""

import pytest

from service.auth import hash_token
from service.policy.teams import TEAM_LABEL
from tests.conftest import RUN_ID, TEST_LABEL, make_client

TOKENS = [
    {"name": "web", "hash": hash_token("a"), "scopes": ["read", "operate", "exec", "write"],
     "team": "web"},
    {"name": "db", "hash": hash_token("b"), "scopes": ["read", "operate", "exec", "write"],
     "team": "db"},
    {"name": "ops", "hash": hash_token("o"), "scopes": ["read", "operate", "exec", "write"]},
]  # fmt: skip
WEB, DB, OPS = ({"Authorization": f"Bearer {secret}"} for secret in "abo")


@pytest.fixture
def client():
    return make_client(TOKENS=TOKENS)


def made(client, headers, image, labels, name):
    body = {"image": image, "labels": labels, "name": name, "command": ["sleep", "300"]}
    answer = client.post("/containers", json=body, headers=headers)
    assert answer.status_code == 201, answer.json
    return answer.json


def test_whoami_names_the_team(client):
    assert client.get("/auth/whoami", headers=WEB).json["team"] == "web"
    assert client.get("/auth/whoami", headers=OPS).json["team"] is None


def test_a_team_sees_and_drives_only_its_containers(client, docker_api, busybox_image, labels):
    web = made(client, WEB, busybox_image, labels, f"web-{RUN_ID}")
    db = made(client, DB, busybox_image, labels, f"db-{RUN_ID}")
    assert docker_api.inspect_container(web["id"])["Config"]["Labels"][TEAM_LABEL] == "web"
    scope = f"?all=true&label={TEST_LABEL}={RUN_ID}"
    listed = {c["id"] for c in client.get(f"/containers{scope}", headers=WEB).json}
    assert listed == {web["id"]}
    everyone = {c["id"] for c in client.get(f"/containers{scope}", headers=OPS).json}
    assert everyone >= {web["id"], db["id"]}
    # every way of naming the other team's container is a 404, and nothing happens to it
    for ref in (db["id"], db["id"][:12], db["name"]):
        for method, path, body in (
            ("get", "", None),
            ("get", "/logs", None),
            ("get", "/top", None),
            ("post", "/start", None),
            ("post", "/kill", None),
            ("post", "/rename", {"name": f"stolen-{RUN_ID}"}),
            ("post", "/exec", {"cmd": ["true"]}),
            ("delete", "", None),
        ):
            kwargs = {"headers": WEB, **({"json": body} if body else {})}
            answer = getattr(client, method)(f"/containers/{ref}{path}", **kwargs)
            assert answer.status_code == 404, (ref, path, answer.json)
    state = docker_api.inspect_container(db["id"])
    assert state["Name"] == f"/db-{RUN_ID}" and state["State"]["Status"] == "created"
    # its own, it drives; the operator drives both
    assert client.post(f"/containers/{web['id']}/start", headers=WEB).status_code == 200
    assert client.post(f"/containers/{db['id']}/start", headers=OPS).status_code == 200


def test_the_team_label_cannot_be_forged(client, docker_api, busybox_image, labels):
    body = {"image": busybox_image, "labels": {**labels, TEAM_LABEL: "db"}}
    for headers in (WEB, OPS):
        answer = client.post("/containers", json=body, headers=headers)
        assert answer.status_code == 403 and "rule `team-label`" in answer.json["message"]
    assert docker_api.containers(all=True, filters={"label": f"{TEST_LABEL}={RUN_ID}"}) == []


def test_a_team_sees_only_its_volumes_and_networks_and_uses_no_others(
    client, docker_api, busybox_image, labels
):
    volume = client.post(
        "/volumes", json={"name": f"dbdata-{RUN_ID}", "labels": labels}, headers=DB
    ).json
    network = client.post(
        "/networks", json={"name": f"dbnet-{RUN_ID}", "labels": labels}, headers=DB
    ).json
    assert docker_api.inspect_volume(volume["name"])["Labels"][TEAM_LABEL] == "db"
    scope = f"?label={TEST_LABEL}={RUN_ID}"
    assert client.get(f"/volumes{scope}", headers=WEB).json == []
    assert client.get(f"/networks{scope}", headers=WEB).json == []
    assert len(client.get(f"/volumes{scope}", headers=OPS).json) == 1
    for method, path in (
        ("get", f"/volumes/{volume['name']}"),
        ("get", f"/volumes/{volume['name']}/backup"),
        ("delete", f"/volumes/{volume['name']}"),
        ("get", f"/networks/{network['id']}"),
        ("get", f"/networks/{network['name']}"),
        ("delete", f"/networks/{network['id'][:12]}"),
    ):
        assert getattr(client, method)(path, headers=WEB).status_code == 404, path
    # the name is the other team's: taken, and what it holds is not answered
    again = client.post("/volumes", json={"name": volume["name"], "labels": labels}, headers=WEB)
    assert again.status_code == 409
    # no mount of the other team's volume, no joining its network; the engine's own, yes
    for extra in (
        {"mounts": [{"type": "volume", "source": volume["name"], "target": "/d"}]},
        {"network": network["name"]},
    ):
        body = {"image": busybox_image, "labels": labels, **extra}
        assert client.post("/containers", json=body, headers=WEB).status_code == 404, extra
    body = {"image": busybox_image, "labels": labels, "network": "bridge"}
    assert client.post("/containers", json=body, headers=WEB).status_code == 201
    assert docker_api.inspect_volume(volume["name"])["Name"] == volume["name"]
    assert docker_api.inspect_network(network["id"])["Name"] == network["name"]

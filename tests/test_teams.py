"""Teams: a token of a team sees and drives only what its team made; an operator's sees all.
Two team tokens and an operator's on the real engine."""

import json
import time

import pytest

from service.auth import hash_token
from service.policy.teams import TEAM_LABEL
from tests.conftest import RUN_ID, TEST_LABEL, make_client, single_node_swarm

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


@pytest.fixture(scope="module")
def swarm(docker_api):
    with single_node_swarm(docker_api) as made:
        yield made


def test_a_team_sees_and_drives_only_its_services_and_secrets(
    swarm, client, docker_api, busybox_image, labels
):
    secret = client.post(
        "/secrets", json={"name": f"dbpw-{RUN_ID}", "data": "s3cret", "labels": labels},
        headers=DB,
    ).json  # fmt: skip
    body = {
        "name": f"dbsvc-{RUN_ID}",
        "image": busybox_image,
        "labels": labels,
        "replicas": 0,
        "secrets": [{"name": secret["name"]}],
    }
    service = client.post("/services", json=body, headers=DB)
    assert service.status_code == 201, service.json
    service = service.json
    scope = f"?label={TEST_LABEL}={RUN_ID}"
    assert client.get(f"/services{scope}", headers=WEB).json == []
    assert client.get(f"/secrets{scope}", headers=WEB).json == []
    assert [s["id"] for s in client.get(f"/services{scope}", headers=OPS).json] == [service["id"]]
    assert client.get(f"/tasks?service={service['id']}", headers=WEB).json == []
    for method, path, payload in (
        ("get", f"/services/{service['id']}", None),
        ("get", f"/services/{service['name']}", None),
        ("post", f"/services/{service['id']}/scale", {"replicas": 1}),
        ("post", f"/services/{service['id']}/update", {"force": True}),
        ("delete", f"/services/{service['id']}", None),
        ("delete", f"/secrets/{secret['id']}", None),
        ("delete", f"/secrets/{secret['name']}", None),
    ):
        kwargs = {"headers": WEB, **({"json": payload} if payload else {})}
        assert getattr(client, method)(path, **kwargs).status_code == 404, path
    # naming the other team's secret in a service of one's own
    mine = {**body, "name": f"websvc-{RUN_ID}"}
    assert client.post("/services", json=mine, headers=WEB).status_code == 404
    found = docker_api.inspect_service(service["id"])
    assert found["Spec"]["Mode"]["Replicated"]["Replicas"] == 0
    assert found["Spec"]["Labels"][TEAM_LABEL] == "db"


def test_a_team_follows_only_its_own_events(client, docker_api, busybox_image, labels):
    since = docker_api.info()["SystemTime"]
    made(client, WEB, busybox_image, labels, f"webev-{RUN_ID}")
    made(client, DB, busybox_image, labels, f"dbev-{RUN_ID}")
    until = docker_api.info()["SystemTime"]
    answer = client.get(
        "/system/events",
        query_string={"since": since, "until": until, "type": "container"},
        headers={**WEB, "Accept": "application/x-ndjson"},
    )
    events = [json.loads(line) for line in answer.get_data(as_text=True).splitlines() if line]
    seen = [e for e in events if e.get("type") == "container"]
    assert seen and {e["attributes"].get(TEAM_LABEL) for e in seen} == {"web"}


def test_a_team_prunes_and_bulk_deletes_only_its_own(client, docker_api, busybox_image, labels):
    web = made(client, WEB, busybox_image, labels, f"webpr-{RUN_ID}")
    db = made(client, DB, busybox_image, labels, f"dbpr-{RUN_ID}")
    scope = {"label": [f"{TEST_LABEL}={RUN_ID}"]}
    pruned = client.post("/containers/prune", json=scope, headers=WEB)
    assert pruned.status_code == 200, pruned.json
    assert pruned.json["deleted"] == [web["id"]]
    again = made(client, WEB, busybox_image, labels, f"webbulk-{RUN_ID}")
    bulk = client.delete("/containers?force=true&all=true", headers=WEB)
    assert bulk.status_code == 200 and bulk.json["removed"] == [again["id"]]
    # the other team's is still there; without `write`, a team token may not prune
    assert docker_api.inspect_container(db["id"])["Id"] == db["id"]
    reader = make_client(
        TOKENS=[{"name": "r", "hash": hash_token("r"), "scopes": ["read"], "team": "web"}]
    )
    answer = reader.post("/containers/prune", json=scope, headers={"Authorization": "Bearer r"})
    assert answer.status_code == 403


def test_what_a_team_builds_or_commits_carries_its_label(client, docker_api, busybox_image, labels):
    built = client.post(
        "/images/build",
        json={"dockerfile": f"FROM {busybox_image}\nRUN true\n", "labels": labels},
        headers=WEB,
    )
    assert built.status_code == 201, built.json
    assert docker_api.inspect_image(built.json["id"])["Config"]["Labels"][TEAM_LABEL] == "web"
    box = made(client, WEB, busybox_image, labels, f"webcm-{RUN_ID}")
    committed = client.post(f"/containers/{box['id']}/commit", json={"pause": False}, headers=WEB)
    assert committed.status_code == 201, committed.json
    image = docker_api.inspect_image(committed.json["id"])
    assert image["Config"]["Labels"][TEAM_LABEL] == "web"
    forged = {"dockerfile": f"FROM {busybox_image}\n", "labels": {**labels, TEAM_LABEL: "db"}}
    answer = client.post("/images/build", json=forged, headers=OPS)
    assert answer.status_code == 403 and "team-label" in answer.json["message"]


def test_the_courses_live_state_shows_a_team_only_its_own(client, busybox_image, labels):
    made(client, DB, busybox_image, labels, f"dblive-{RUN_ID}")
    live = client.get("/concepts/container?live=true", headers=WEB).json["live"]
    assert f"dblive-{RUN_ID}" not in live["names"]
    assert (
        f"dblive-{RUN_ID}"
        in client.get("/concepts/container?live=true", headers=OPS).json["live"]["names"]
    )


ADMINS = [
    *TOKENS,
    {"name": "root", "hash": hash_token("r"), "scopes": ["read", "write", "admin"]},
    {"name": "webadmin", "hash": hash_token("w"), "scopes": ["read", "write", "admin"],
     "team": "web"},
]  # fmt: skip
ROOT, WEBADMIN = {"Authorization": "Bearer r"}, {"Authorization": "Bearer w"}


@pytest.fixture
def admins():
    return make_client(TOKENS=ADMINS)


def test_an_operator_gives_objects_made_elsewhere_to_a_team(
    admins, docker_api, busybox_image, labels
):
    client = admins
    box = made(client, OPS, busybox_image, labels, f"opsbox-{RUN_ID}")
    volume = client.post(
        "/volumes", json={"name": f"opsvol-{RUN_ID}", "labels": labels}, headers=OPS
    )
    network = client.post(
        "/networks", json={"name": f"opsnet-{RUN_ID}", "labels": labels}, headers=OPS
    )
    volume, network = volume.json, network.json
    assert client.get(f"/containers/{box['id']}", headers=WEB).status_code == 404
    # an operator's network with no team is every team's to join
    for headers in (WEB, DB):
        body = {"image": busybox_image, "labels": labels, "network": network["name"]}
        assert client.post("/containers", json=body, headers=headers).status_code == 201

    for kind, ref in (("containers", box["name"]), ("volumes", volume["name"]),
                      ("networks", network["id"][:12])):  # fmt: skip
        answer = client.put(f"/teams/web/{kind}/{ref}", headers=ROOT)
        assert answer.status_code == 200, answer.json
        assert answer.json["teams"] == ["web"] and answer.json["kind"] == kind
    # the team now sees and drives them; the other team still does not
    assert client.get(f"/containers/{box['name']}", headers=WEB).status_code == 200
    assert client.post(f"/containers/{box['id']}/start", headers=WEB).status_code == 200
    assert client.get(f"/containers/{box['id']}", headers=DB).status_code == 404
    scope = f"?all=true&label={TEST_LABEL}={RUN_ID}"
    assert box["id"] in {c["id"] for c in client.get(f"/containers{scope}", headers=WEB).json}
    assert [v["name"] for v in client.get("/volumes", headers=WEB).json] == [volume["name"]]
    mount = {"mounts": [{"type": "volume", "source": volume["name"], "target": "/d"}]}
    for headers, status in ((WEB, 201), (DB, 404)):
        body = {"image": busybox_image, "labels": labels, **mount}
        assert client.post("/containers", json=body, headers=headers).status_code == status
    # given to a team, the network is no longer every team's
    for headers, status in ((WEB, 201), (DB, 404)):
        body = {"image": busybox_image, "labels": labels, "network": network["name"]}
        assert client.post("/containers", json=body, headers=headers).status_code == status

    team = client.get("/teams/web", headers=ROOT).json
    assert {"id": box["id"], "name": box["name"], "given": True} in team["containers"]
    assert {"id": volume["name"], "name": volume["name"], "given": True} in team["volumes"]
    assert [n["id"] for n in team["networks"]] == [network["id"]]
    assert team["tokens"] == ["web", "webadmin"]
    summary = {t["name"]: t for t in client.get("/teams", headers=ROOT).json}
    assert summary["web"]["given"] >= 3 and summary["db"]["tokens"] == ["db"]

    # taken back: the team no longer sees it; taken twice is a 404
    assert client.delete(f"/teams/web/containers/{box['id']}", headers=ROOT).status_code == 204
    assert client.get(f"/containers/{box['id']}", headers=WEB).status_code == 404
    assert client.delete(f"/teams/web/containers/{box['id']}", headers=ROOT).status_code == 404


def test_what_a_team_made_stays_its_own_and_out_of_the_others_prunes(
    admins, docker_api, busybox_image, labels
):
    client = admins
    box = made(client, DB, busybox_image, labels, f"dbshared-{RUN_ID}")
    volume = client.post("/volumes", json={"name": f"dbshv-{RUN_ID}", "labels": labels}, headers=DB)
    assert client.put(f"/teams/web/containers/{box['id']}", headers=ROOT).json["teams"] == [
        "db",
        "web",
    ]
    assert client.put(f"/teams/web/volumes/{volume.json['name']}", headers=ROOT).status_code == 200
    # both teams see them; the label's team cannot be taken back
    for headers in (WEB, DB):
        assert client.get(f"/containers/{box['id']}", headers=headers).status_code == 200
    answer = client.delete(f"/teams/db/containers/{box['id']}", headers=ROOT)
    assert answer.status_code == 409
    # bulk removals and prunes of the team given them act on what it made only
    scope = {"label": [f"{TEST_LABEL}={RUN_ID}"]}
    assert client.post("/containers/prune", json=scope, headers=WEB).json["deleted"] == []
    assert client.delete("/containers?force=true&all=true", headers=WEB).json["removed"] == []
    assert client.post("/volumes/prune", json=scope, headers=WEB).json["deleted"] == []
    assert docker_api.inspect_container(box["id"])["Id"] == box["id"]
    assert docker_api.inspect_volume(volume.json["name"])["Name"] == volume.json["name"]


def test_only_an_operators_admin_token_gives(admins, docker_api, busybox_image, labels):
    client = admins
    box = made(client, DB, busybox_image, labels, f"dbkeep-{RUN_ID}")
    # a team's token, even with `admin`, neither lists teams nor gives itself another's
    for method, path in (
        ("get", "/teams"),
        ("get", "/teams/db"),
        ("put", f"/teams/web/containers/{box['id']}"),
    ):
        answer = getattr(client, method)(path, headers=WEBADMIN)
        assert answer.status_code == 403 and "rule `teams`" in answer.json["message"], path
    assert client.put(f"/teams/web/containers/{box['id']}", headers=OPS).status_code == 403
    assert client.get(f"/containers/{box['id']}", headers=WEB).status_code == 404
    # the engine's own networks are every team's, no team's to own
    answer = client.put("/teams/web/networks/bridge", headers=ROOT)
    assert answer.status_code == 403 and "predefined-network" in answer.json["message"]
    assert client.put(f"/teams/web/containers/nothere-{RUN_ID}", headers=ROOT).status_code == 404
    assert client.put(f"/teams/web/volumes/nothere-{RUN_ID}", headers=ROOT).status_code == 404
    assert client.put(f"/teams/Web!/containers/{box['id']}", headers=ROOT).status_code == 404


def test_a_volume_made_again_under_a_given_name_is_not_given(admins, docker_api, labels):
    client = admins
    name = f"again-{RUN_ID}"
    client.post("/volumes", json={"name": name, "labels": labels}, headers=OPS)
    assert client.put(f"/teams/web/volumes/{name}", headers=ROOT).status_code == 200
    assert client.get(f"/volumes/{name}", headers=WEB).status_code == 200
    assert client.delete(f"/volumes/{name}", headers=OPS).status_code == 204
    time.sleep(1.1)  # the engine's creation times count seconds
    client.post("/volumes", json={"name": name, "labels": labels}, headers=OPS)
    assert client.get(f"/volumes/{name}", headers=WEB).status_code == 404


def test_a_team_follows_the_events_of_its_volumes_and_networks_only(client, docker_api, labels):
    since = docker_api.info()["SystemTime"]
    for headers, team in ((WEB, "web"), (DB, "db")):
        client.post(
            "/volumes", json={"name": f"ev{team}-{RUN_ID}", "labels": labels}, headers=headers
        )
        client.post(
            "/networks", json={"name": f"ev{team}-{RUN_ID}", "labels": labels}, headers=headers
        )
    until = docker_api.info()["SystemTime"]
    answer = client.get(
        "/system/events",
        query_string={"since": since, "until": until},
        headers={**WEB, "Accept": "application/x-ndjson"},
    )
    events = [json.loads(line) for line in answer.get_data(as_text=True).splitlines() if line]
    kinds = {(e["type"], e["action"]) for e in events if e["type"] in ("volume", "network")}
    assert kinds == {("volume", "create"), ("network", "create")}
    named = {e["actor_id"] for e in events if e["type"] == "volume"}
    assert named == {f"evweb-{RUN_ID}"}
    assert all(f"evdb-{RUN_ID}" not in json.dumps(e) for e in events)


def test_a_container_given_to_a_team_still_passes_the_policy_before_it_runs(
    admins, docker_api, busybox_image, labels
):
    # made elsewhere, privileged: given to a team, its tokens see it, and every act that
    # would run it is judged as it stands (rule named), whoever holds it
    config = docker_api.create_host_config(privileged=True)
    made = docker_api.create_container(
        busybox_image, command=["sleep", "300"], labels=labels, host_config=config
    )["Id"]
    assert admins.put(f"/teams/web/containers/{made}", headers=ROOT).status_code == 200
    assert admins.get(f"/containers/{made}", headers=WEB).status_code == 200
    for method, path, body in (
        ("post", "/start", None),
        ("post", "/exec", {"cmd": ["true"]}),
        ("get", "/archive?path=/etc", None),
    ):
        kwargs = {"headers": WEB, **({"json": body} if body else {})}
        answer = getattr(admins, method)(f"/containers/{made}{path}", **kwargs)
        assert answer.status_code == 403, (path, answer.json)
        assert "rule `foreign-container`" in answer.json["message"], answer.json["message"]
    assert docker_api.inspect_container(made)["State"]["Status"] == "created"


def test_a_teams_list_reads_the_grants_once(client, busybox_image, labels, monkeypatch):
    """The grants are read once for a whole list, not once an entry."""
    for index in range(3):
        made(client, WEB, busybox_image, labels, f"web{index}-{RUN_ID}")
    store = client.application.extensions["dockyard_grants"]
    reads = []
    fresh = store._fresh
    monkeypatch.setattr(store, "_fresh", lambda: reads.append(1) or fresh())
    listed = client.get(f"/containers?all=true&label={TEST_LABEL}={RUN_ID}", headers=WEB).json
    assert len(listed) == 3
    assert len(reads) <= 2  # the daemon's filter asks whether any was given, then the list

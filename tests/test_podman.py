"""Two real engines of two kinds behind one service: the test engine (dockerd) and Podman's
Docker-compatible API (`podman system service`, which deploy/test.sh starts beside dockerd and
names in DOCKYARD_TEST_PODMAN_URL).

The same life runs on both through the one service: a container created, started, logged,
exec'd into, stopped and removed; a volume restored and backed up; a network joined and left;
a terminal. What Podman lacks is a 501 that names the engine; what Podman lets through that
Docker refuses (a copy through a read-only mount of a stopped container) the service refuses.
"""

import io
import json
import os
import tarfile
import time

import docker
import pytest

from service.auth import hash_token
from tests.conftest import (
    ENGINE_URL,
    RUN_ID,
    SESSION_LABEL,
    TEST_LABEL,
    build_busybox,
    make_app,
    remove_labelled,
    served,
)

PODMAN_URL = os.environ.get("DOCKYARD_TEST_PODMAN_URL", "")
ENGINES = [
    {"name": "docker", "url": ENGINE_URL, "default": True},
    {"name": "podman", "url": PODMAN_URL},
]
SCOPES = ["read", "operate", "exec", "write", "admin"]
TOKENS = [
    {"name": "ops", "hash": hash_token("ops"), "scopes": SCOPES},
    {"name": "pod", "hash": hash_token("pod"), "scopes": SCOPES, "engines": ["podman"]},
]
BOTH = ["docker", "podman"]


@pytest.fixture(scope="module")
def podman_api():
    """A docker-py client of Podman's, to arrange and check its state; what the tests made
    there goes when they end."""
    if not PODMAN_URL:
        pytest.skip("no Podman engine: deploy/test.sh starts one (DOCKYARD_TEST_PODMAN_URL)")
    api = docker.APIClient(base_url=PODMAN_URL, version="auto", timeout=120)
    try:
        api.ping()
    except Exception as exc:
        pytest.fail(f"the Podman engine at {PODMAN_URL} does not answer: {exc}")
    yield api
    leftovers = remove_labelled(api, f"{SESSION_LABEL}={RUN_ID}")
    api.close()
    assert not leftovers, f"session objects still on Podman: {leftovers}"


@pytest.fixture(scope="module")
def images(podman_api, busybox_image):
    """The busybox test image on each engine (Podman keeps its own images)."""
    return {"docker": busybox_image, "podman": build_busybox(podman_api)}


@pytest.fixture
def apis(podman_api, docker_api):
    yield {"docker": docker_api, "podman": podman_api}
    leftovers = remove_labelled(podman_api, f"{TEST_LABEL}={RUN_ID}")
    assert not leftovers, f"objects still on Podman after teardown: {leftovers}"


@pytest.fixture
def client(apis):
    client = make_app(ENGINES=ENGINES, TOKENS=TOKENS).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer ops"
    return client


def sleeper(client, engine, image, labels, **more) -> str:
    """A container made through the service on ``engine``, sleeping: its id."""
    made = client.post(
        f"/engines/{engine}/containers",
        json={"image": image, "command": ["sleep", "300"], "labels": labels, **more},
    )
    assert made.status_code == 201, made.json
    return made.json["id"]


def ids(api) -> set[str]:
    return {c["Id"] for c in api.containers(all=True, filters={"label": f"{TEST_LABEL}={RUN_ID}"})}


def test_each_engine_is_listed_with_its_kind(client, apis):
    found = {engine["name"]: engine for engine in client.get("/engines").json}
    assert found["docker"]["kind"] == "docker" and found["docker"]["reachable"]
    podman = found["podman"]
    assert podman["kind"] == "podman" and podman["reachable"] is True
    assert podman["version"] == apis["podman"].version()["Version"]
    assert podman["swarm"] is None  # Podman has no swarm: not "inactive"
    assert (
        client.get("/engines/podman/system/version").json["engine"]["version"] == podman["version"]
    )


@pytest.mark.parametrize("engine", BOTH)
def test_one_container_life_on_each_engine(client, apis, images, labels, engine):
    other = apis[BOTH[1 - BOTH.index(engine)]]
    before = ids(other)
    at = f"/engines/{engine}"
    made = client.post(
        f"{at}/containers",
        json={
            "image": images[engine],
            "command": ["sh", "-c", "echo started; sleep 300"],
            "labels": labels,
        },
    )
    assert made.status_code == 201, made.json
    cid = made.json["id"]
    assert cid in ids(apis[engine]) and ids(other) == before
    # the limits and no-new-privileges the service gives every container, as the engine holds them
    host = apis[engine].inspect_container(cid)["HostConfig"]
    assert host["Memory"] == 1024**3 and host["PidsLimit"] == 1024
    assert any("no-new-privileges" in option for option in host["SecurityOpt"])

    assert client.post(f"{at}/containers/{cid}/start").json["state"] == "running"
    assert apis[engine].inspect_container(cid)["State"]["Running"] is True
    ran = client.post(
        f"{at}/containers/{cid}/exec", json={"cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"]}
    )
    assert ran.status_code == 200, ran.json
    assert ran.json == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n", "truncated": False}
    for _ in range(50):
        logs = client.get(f"{at}/containers/{cid}/logs")
        if logs.data:
            break
        time.sleep(0.1)
    assert logs.status_code == 200 and logs.data == b"started\n"
    top = client.get(f"{at}/containers/{cid}/top").json
    assert "PID" in top["titles"] and any("sleep 300" in row[-1] for row in top["processes"])
    stats = client.get(f"{at}/containers/{cid}/stats")
    assert stats.status_code == 200 and stats.json["memory_limit"] == 1024**3

    stopped = client.post(f"{at}/containers/{cid}/stop?timeout=1")
    assert stopped.status_code == 200 and stopped.json["state"] == "exited"
    assert apis[engine].inspect_container(cid)["State"]["Running"] is False
    refused = client.post(f"{at}/containers/{cid}/exec", json={"cmd": ["true"]})
    assert refused.status_code == 409, refused.json
    assert client.delete(f"{at}/containers/{cid}").status_code == 204
    with pytest.raises(docker.errors.NotFound):
        apis[engine].inspect_container(cid)
    assert client.get(f"{at}/containers/{cid}").status_code == 404


def tar_of(files: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o640
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def files_of(archive: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
        return {
            member.name.removeprefix("./"): (tar.extractfile(member).read(), member.mode & 0o777)
            for member in tar.getmembers()
            if member.isfile()
        }


@pytest.mark.parametrize("engine", BOTH)
def test_a_volume_restored_then_backed_up_on_each_engine(client, apis, images, labels, engine):
    at = f"/engines/{engine}"
    name = f"vol-{engine}-{RUN_ID}"
    label = f"{TEST_LABEL}={RUN_ID}"
    files = {"./notes/a.txt": b"alpha\n", "./b.bin": bytes(range(256)) * 64}
    restored = client.post(
        f"{at}/volumes/{name}/restore?label={label}",
        data=tar_of(files),
        content_type="application/x-tar",
    )
    assert restored.status_code == 200, restored.json
    assert restored.json["created"] is True and restored.json["volume"]["labels"] == labels
    assert name in {
        v["Name"] for v in apis[engine].volumes(filters={"label": label})["Volumes"] or []
    }
    backup = client.get(f"{at}/volumes/{name}/backup")
    assert backup.status_code == 200 and backup.mimetype == "application/gzip"
    assert files_of(backup.data) == {
        key.removeprefix("./"): (data, 0o640) for key, data in files.items()
    }
    # what a container of that engine reads from it
    reader = apis[engine].create_container(
        images[engine],
        command=["cat", "/data/notes/a.txt"],
        labels=labels,
        host_config=apis[engine].create_host_config(binds={name: {"bind": "/data", "mode": "ro"}}),
    )["Id"]
    apis[engine].start(reader)
    apis[engine].wait(reader, timeout=60)
    assert apis[engine].logs(reader) == b"alpha\n"
    apis[engine].remove_container(reader, force=True)
    # no helper left on the engine
    assert not apis[engine].containers(all=True, filters={"label": "dockyard.helper"})
    assert client.delete(f"{at}/volumes/{name}").status_code == 204


@pytest.mark.parametrize("engine", BOTH)
def test_a_network_joined_and_left_on_each_engine(client, apis, images, labels, engine):
    at = f"/engines/{engine}"
    made = client.post(f"{at}/networks", json={"name": f"net-{engine}-{RUN_ID}", "labels": labels})
    assert made.status_code == 201, made.json
    network = made.json["id"]
    box = sleeper(client, engine, images[engine], labels, start=True)
    joined = client.post(
        f"{at}/networks/{network}/connect", json={"container": box, "aliases": ["db"]}
    )
    assert joined.status_code == 204, joined.json
    members = apis[engine].inspect_network(network)["Containers"] or {}
    assert box in members
    address = client.get(f"{at}/containers/{box}").json["networks"]
    assert any(entry["ip_address"] for entry in address)
    left = client.post(f"{at}/networks/{network}/disconnect", json={"container": box})
    assert left.status_code == 204, left.json
    assert box not in (apis[engine].inspect_network(network)["Containers"] or {})
    client.delete(f"{at}/containers/{box}?force=true")
    assert client.delete(f"{at}/networks/{network}").status_code == 204
    with pytest.raises(docker.errors.NotFound):
        apis[engine].inspect_network(network)


def test_what_podman_lacks_is_a_501_naming_the_engine(client, apis, images, labels):
    for path in ("/swarm", "/services", "/nodes", "/tasks", "/secrets", "/configs"):
        answer = client.get(f"/engines/podman{path}")
        assert answer.status_code == 501, (path, answer.json)
        assert answer.json["message"].startswith("engine `podman` is Podman, which has no swarm")
    assert client.post("/engines/podman/swarm/init", json={"confirm": True}).status_code == 501
    box = sleeper(client, "podman", images["podman"], labels)
    update = client.post(f"/engines/podman/containers/{box}/update", json={"memory": 64 * 1024**2})
    assert update.status_code == 501 and "engine `podman`: Podman cannot" in update.json["message"]
    assert apis["podman"].inspect_container(box)["HostConfig"]["Memory"] == 1024**3
    # the swarm on the other engine is not Podman's business: the usual answers there
    assert client.get("/engines/docker/swarm").status_code in (200, 409)


@pytest.mark.parametrize("engine", BOTH)
def test_a_copy_through_a_read_only_mount_is_refused_on_each_engine(
    client, apis, images, labels, engine
):
    at = f"/engines/{engine}"
    name = f"vol-ro-{engine}-{RUN_ID}"
    assert client.post(f"{at}/volumes", json={"name": name, "labels": labels}).status_code == 201
    mounts = [{"type": "volume", "source": name, "target": "/data", "read_only": True}]
    box = sleeper(client, engine, images[engine], labels, mounts=mounts)
    # never started: Podman itself would write into the volume
    copied = client.put(
        f"{at}/containers/{box}/archive?path=/data",
        data=tar_of({"planted": b"x"}),
        content_type="application/x-tar",
    )
    assert copied.status_code == 409, copied.json
    front = client.put(
        f"{at}/engine/v1.41/containers/{box}/archive?path=/data",
        data=tar_of({"planted": b"x"}),
        content_type="application/x-tar",
    )
    assert front.status_code in (403, 409, 500), front.get_data()
    backup = client.get(f"{at}/volumes/{name}/backup")
    assert backup.status_code == 200 and files_of(backup.data) == {}
    client.delete(f"{at}/containers/{box}?force=true")


def test_a_token_of_podman_alone_and_the_front_on_podman(client, apis, images, labels):
    pod = make_app(ENGINES=ENGINES, TOKENS=TOKENS).test_client()
    pod.environ_base["HTTP_AUTHORIZATION"] = "Bearer pod"
    made = sleeper(pod, "podman", images["podman"], labels)
    assert pod.get("/containers").status_code == 403
    assert pod.get("/engines/docker/containers").status_code == 403
    assert [engine["name"] for engine in pod.get("/engines").json] == ["podman"]
    # Podman's Engine-API front, as `docker ps` calls it (DOCKER_HOST=.../engines/podman/engine)
    listed = pod.get(
        "/engines/podman/engine/v1.41/containers/json",
        query_string={"all": "1", "filters": json.dumps({"label": [f"{TEST_LABEL}={RUN_ID}"]})},
    )
    assert listed.status_code == 200 and [c["Id"] for c in listed.json] == [made]


def test_events_of_both_engines_in_one_stream(client, apis, images, labels):
    answer = client.get(
        "/system/events?engine=docker&engine=podman&type=container&action=create"
        f"&label={TEST_LABEL}={RUN_ID}",
        headers={"Accept": "application/x-ndjson"},
        buffered=False,
    )
    assert answer.status_code == 200
    made = {
        engine: apis[engine].create_container(images[engine], command=["true"], labels=labels)["Id"]
        for engine in BOTH
    }
    seen = {}
    for chunk in answer.response:
        for line in chunk.splitlines():
            event = json.loads(line) if line.strip() else {}
            if event.get("actor_id") in made.values():
                seen[event["engine"]] = event["actor_id"]
        if len(seen) == 2:
            break
    answer.close()
    assert seen == made


def test_a_terminal_on_podman_and_its_ticket_bound_to_that_engine(apis, images, labels):
    from tests.test_terminals import PROTOCOL, connect, post, read_until, upgrade

    box = apis["podman"].create_container(
        images["podman"], command=["sleep", "300"], labels=labels
    )["Id"]
    apis["podman"].start(box)
    with served(ENGINES=json.dumps(ENGINES), TOKENS=json.dumps(TOKENS)) as (base, _):
        status, session = post(
            base, f"/engines/podman/containers/{box}/terminal", "ops", {"command": ["sh"]}
        )
        assert status == 201, session
        assert session["path"] == f"/engines/podman/containers/{box}/terminal"
        ws = connect(base, session)
        try:
            ws.send(b"echo from-$((6 * 7))\n")
            assert b"from-42" in read_until(ws, b"from-42")
        finally:
            ws.close()
        # a ticket of Podman's is no key to the same path on another engine
        status, second = post(base, f"/engines/podman/containers/{box}/terminal", "ops", {})
        assert status == 201
        status, refused = upgrade(
            base,
            f"/engines/docker/containers/{box}/terminal",
            protocols=f"{PROTOCOL}, ticket.{second['ticket']}",
        )
        assert status == 403 and "engine `podman`" in refused["message"], refused

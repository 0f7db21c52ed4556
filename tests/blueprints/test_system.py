"""/health, /ready and /system/* against the real engine."""

import docker
import pytest

from tests.conftest import eventually, ours


def test_health(client):
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}


def test_ready_with_the_engine(client):
    answer = client.get("/ready")
    assert answer.status_code == 200
    assert answer.json == {"status": "ready"}


def test_info_reports_the_real_engine(client, docker_api, busybox_image, labels):
    engine = docker_api.version()
    before = client.get("/system/info").json
    assert before["server_version"] == engine["Version"]
    assert before["api_version"] == engine["ApiVersion"]
    assert before["os"] == engine["Os"]
    assert before["cpus"] >= 1 and before["memory_bytes"] > 0
    assert before["storage_driver"] == docker_api.info()["Driver"]
    assert before["swarm"] in {"inactive", "pending", "active", "error", "locked"}

    # the counts are the engine's (the engine is shared: compared on a quiet reading, one
    # where the engine says the same before and after the service answers)
    docker_api.create_container(busybox_image, command=["true"], labels=labels)
    fields = {"containers": "Containers", "containers_stopped": "ContainersStopped"}

    def agrees():
        engine = docker_api.info()
        served = client.get("/system/info").json
        again = docker_api.info()
        return all(engine[key] == served[field] == again[key] for field, key in fields.items())

    eventually(agrees, timeout=30)
    assert client.get("/system/info").json["images"] >= 1


def test_version(client, docker_api):
    answer = client.get("/system/version")
    assert answer.status_code == 200
    body = answer.json
    engine = docker_api.version()
    assert body["engine"]["version"] == engine["Version"]
    assert body["engine"]["api_version"] == engine["ApiVersion"]
    assert body["service"] == {"name": "Dockyard", "version": "0.1.0"}
    assert body["sdk_version"] == docker.__version__
    # the service speaks the daemon's version, or docker-py's newest if the daemon is newer
    assert body["api_version"] == docker_api.api_version


def test_disk_usage_counts_what_the_engine_holds(client, docker_api, busybox_image, labels):
    docker_api.create_volume(name=f"dockyard-test-{labels['dockyard.test']}", labels=labels)
    docker_api.create_container(busybox_image, command=["true"], labels=labels)
    counted = (("images", "Images"), ("containers", "Containers"), ("volumes", "Volumes"))

    def agrees():
        # the engine is shared: a quiet reading, the same before and after the service's
        engine = docker_api.df()
        answer = client.get("/system/df")
        again = docker_api.df()
        assert answer.status_code == 200
        body = answer.json
        same = all(
            len(engine[key]) == body[field]["count"] == len(again[key]) for field, key in counted
        )
        return (
            same and body["images"]["size"] == engine["LayersSize"] == again["LayersSize"] and body
        )

    body = eventually(agrees, timeout=30)
    assert body["images"]["size"] > 0
    assert body["containers"]["count"] >= 1 and body["volumes"]["count"] >= 1
    # the new volume is unused, so reclaimable; the test image is not used by a running container
    assert body["volumes"]["reclaimable"] <= body["volumes"]["size"]
    assert 0 <= body["images"]["reclaimable"] <= body["images"]["size"]
    assert set(body["build_cache"]) == {"count", "active", "size", "reclaimable"}


def test_prune_scoped_by_label_removes_only_those_objects(
    client, docker_api, busybox_image, labels
):
    mine = docker_api.create_container(busybox_image, command=["true"], labels=labels)
    other_labels = {**labels, "dockyard.test.keep": "yes"}
    kept = docker_api.create_container(busybox_image, command=["true"], labels=other_labels)
    network = docker_api.create_network(f"dockyard-prune-{labels['dockyard.test']}", labels=labels)
    volume = docker_api.create_volume(labels=labels)

    answer = client.post(
        "/system/prune",
        json={"label": ["dockyard.test.keep=no", f"dockyard.test={labels['dockyard.test']}"]},
    )
    assert answer.status_code == 200
    # all label filters must match: nothing carries keep=no
    assert answer.json["containers_deleted"] == []

    answer = client.post(
        "/system/prune", json={"label": [f"dockyard.test={labels['dockyard.test']}"]}
    )
    assert answer.status_code == 200
    body = answer.json
    assert mine["Id"] in body["containers_deleted"]
    assert kept["Id"] in body["containers_deleted"]
    assert network["Id"] not in body["networks_deleted"]  # networks report names
    assert f"dockyard-prune-{labels['dockyard.test']}" in body["networks_deleted"]
    # volumes only when asked
    assert body["volumes_deleted"] == []
    assert docker_api.inspect_volume(volume["Name"])["Name"] == volume["Name"]
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(mine["Id"])

    answer = client.post(
        "/system/prune",
        json={"volumes": True, "label": [f"dockyard.test={labels['dockyard.test']}"]},
    )
    assert answer.json["volumes_deleted"] == [volume["Name"]]
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_volume(volume["Name"])
    assert isinstance(answer.json["space_reclaimed"], int)


def test_prune_keeps_running_containers_and_tagged_images(
    client, docker_api, busybox_image, labels
):
    running = docker_api.create_container(busybox_image, command=["sleep", "60"], labels=labels)
    docker_api.start(running["Id"])
    answer = client.post(
        "/system/prune", json={"label": [f"dockyard.test={labels['dockyard.test']}"]}
    )
    assert answer.status_code == 200
    assert running["Id"] not in answer.json["containers_deleted"]
    assert docker_api.inspect_container(running["Id"])["State"]["Running"] is True
    assert docker_api.inspect_image(busybox_image)


def test_unscoped_prune_runs_only_on_an_engine_the_harness_owns(
    owned_engine, client, docker_api, busybox_image, labels
):
    stopped = docker_api.create_container(busybox_image, command=["true"], labels=labels)
    answer = client.post("/system/prune", json={})
    assert answer.status_code == 200
    assert stopped["Id"] in answer.json["containers_deleted"]
    assert docker_api.containers(all=True, filters={"status": "exited"}) == []
    # the session's tagged test image is not dangling: it stays
    assert docker_api.inspect_image(busybox_image)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"bogus": 1}, "bogus"),
        ({"volumes": "maybe"}, "volumes"),
        ({"label": ["has space=1"]}, "label"),
        ({"label": "dockyard.test"}, "label"),
        ({"until": "yesterday"}, "until"),
        ({"until": "1h; rm -rf /"}, "until"),
    ],
)
def test_prune_rejects_bad_input_with_422_per_field(client, docker_api, body, field):
    before = ours(docker_api)
    answer = client.post("/system/prune", json=body)
    assert answer.status_code == 422
    assert answer.json["code"] == 422
    assert answer.json["status"] == "Unprocessable Entity"
    assert field in answer.json["errors"]["json"]
    assert answer.json["message"]
    assert ours(docker_api) == before

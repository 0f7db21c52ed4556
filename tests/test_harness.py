"""The harness itself: the test image runs, the loopback registry answers, teardown cleans."""

import json
import urllib.request

from tests.conftest import TEST_LABEL, remove_labelled


def test_busybox_image_runs(docker_api, busybox_image, labels):
    container = docker_api.create_container(
        busybox_image, command=["sh", "-c", "echo hello from busybox"], labels=labels
    )
    docker_api.start(container["Id"])
    assert docker_api.wait(container["Id"], timeout=30)["StatusCode"] == 0
    assert docker_api.logs(container["Id"]) == b"hello from busybox\n"


def test_registry_answers_on_loopback(registry):
    assert registry.startswith("127.0.0.1:")
    with urllib.request.urlopen(f"http://{registry}/v2/_catalog", timeout=5) as answer:
        assert isinstance(json.load(answer)["repositories"], list)


def test_teardown_removes_what_carries_the_label(docker_api, busybox_image, labels):
    label = f"{TEST_LABEL}={labels[TEST_LABEL]}"
    docker_api.create_container(busybox_image, command=["true"], labels=labels)
    docker_api.create_volume(labels=labels)
    docker_api.create_network("dockyard-test-net-" + labels[TEST_LABEL], labels=labels)
    assert remove_labelled(docker_api, label) == []
    assert docker_api.containers(all=True, filters={"label": label}) == []

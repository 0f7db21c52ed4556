"""DOCKER_HOST names the engine when DOCKYARD_DOCKER_URL does not, as with every Docker tool;
DOCKYARD_DOCKER_URL, and the app's own configuration, come first."""

import os
import socket
import subprocess
import time

import pytest

from service import create_app
from service.config import current_settings
from tests.conftest import ENGINE_URL, ROOT, admin_client


@pytest.fixture
def no_url(monkeypatch):
    monkeypatch.delenv("DOCKYARD_DOCKER_URL", raising=False)
    return monkeypatch


def make_client(**config):
    # no DOCKER_URL given, unlike the harness's own apps
    return admin_client(create_app({"TESTING": True, "AUDIT_LOG": os.devnull, **config}))


def ready(**config):
    return make_client(**config).get("/ready")


def test_docker_host_reaches_the_engine(no_url):
    no_url.setenv("DOCKER_HOST", ENGINE_URL)
    answer = ready()
    assert answer.status_code == 200, answer.get_json()


def test_docker_host_that_answers_nothing_is_named(no_url, caplog):
    no_url.setenv("DOCKER_HOST", "unix:///nonexistent")
    answer = ready()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    # /ready answers anyone, so only the log says where; an authenticated call says it too
    assert "unix:///nonexistent" in caplog.text
    answer = make_client().get("/system/info")
    assert answer.status_code == 503
    assert "unix:///nonexistent" in answer.get_json()["message"]


def test_an_engine_that_never_answers_is_unready_within_the_probes_timeout(tmp_path):
    # a daemon that takes connections and never answers (a hung engine, which the shared
    # engine of the tests cannot be made into): the socket's backlog takes the connection
    path = tmp_path / "silent.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(64)
    try:
        client = make_client(DOCKER_URL=f"unix://{path}", READY_TIMEOUT=1, DOCKER_TIMEOUT=60)
        started = time.monotonic()
        answer = client.get("/ready")
        waited = time.monotonic() - started
    finally:
        listener.close()
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    # the first negotiation waits READY_TIMEOUT as the ping does, never DOCKER_TIMEOUT
    assert waited < 30, waited


def test_dockyard_setting_comes_first(no_url):
    no_url.setenv("DOCKER_HOST", "unix:///nonexistent")
    no_url.setenv("DOCKYARD_DOCKER_URL", ENGINE_URL)
    assert current_settings()["DOCKER_URL"] == ENGINE_URL
    no_url.delenv("DOCKYARD_DOCKER_URL")
    assert current_settings({"DOCKER_URL": ENGINE_URL})["DOCKER_URL"] == ENGINE_URL
    assert ready(DOCKER_URL=ENGINE_URL).status_code == 200


def test_default_without_either(no_url):
    no_url.delenv("DOCKER_HOST", raising=False)
    assert current_settings()["DOCKER_URL"] == "unix:///var/run/docker.sock"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "unix:///var/run/docker.sock"),
        ({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, "tcp://127.0.0.1:2375"),
        (
            {"DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKYARD_DOCKER_URL": "unix:///x.sock"},
            "unix:///x.sock",
        ),
    ],
)
def test_deploy_scripts_read_it_the_same_way(env, expected):
    base = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKYARD_DOCKER_URL")}
    done = subprocess.run(
        ["bash", "-c", 'source deploy/lib.sh && printf %s "$DOCKER_URL"'],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == expected

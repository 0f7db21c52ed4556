"""One error shape, and the daemon's failures translated: down (503), silent (504)."""

import socket
import threading

import pytest

from service import create_app

ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def down_client(tmp_path):
    """The service configured with a socket path that has nothing behind it: a daemon that
    is down, for real."""
    app = create_app({"TESTING": True, "DOCKER_URL": f"unix://{tmp_path}/docker.sock"})
    return app.test_client()


@pytest.fixture
def silent_socket(tmp_path):
    """A socket that accepts and never answers. A real engine cannot be made to hang on
    demand, so this stands in for a daemon that does not answer in time."""
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"unix://{path}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_unknown_path_is_a_404_in_the_common_shape(client):
    answer = client.get("/no/such/thing")
    assert answer.status_code == 404
    assert answer.is_json
    assert set(answer.json) == ERROR_KEYS
    assert answer.json["code"] == 404 and answer.json["status"] == "Not Found"


def test_wrong_method_is_a_405_in_the_common_shape(client):
    answer = client.delete("/system/info")
    assert answer.status_code == 405
    assert set(answer.json) == ERROR_KEYS


def test_validation_error_is_a_422_with_errors_per_field(client):
    answer = client.post("/system/prune", json={"volumes": "maybe", "nope": True})
    assert answer.status_code == 422
    assert set(answer.json) == ERROR_KEYS
    assert set(answer.json["errors"]["json"]) == {"volumes", "nope"}


def test_body_that_is_not_json_is_refused(client):
    answer = client.post("/system/prune", data="{not json", content_type="application/json")
    assert answer.status_code == 400
    assert set(answer.json) == ERROR_KEYS
    assert "Invalid JSON" in answer.json["message"]


def test_body_of_another_content_type_is_refused_not_taken_as_empty(client, docker_api):
    before = docker_api.containers(all=True, quiet=True)
    answer = client.post("/system/prune", data='{"volumes": true}', content_type="text/plain")
    assert answer.status_code == 400
    assert "expected application/json" in answer.json["message"]
    assert docker_api.containers(all=True, quiet=True) == before


def test_daemon_down_health_still_ok(down_client):
    answer = down_client.get("/health")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}


def test_daemon_down_ready_is_503_with_retry_after(down_client):
    answer = down_client.get("/ready")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert set(answer.json) == ERROR_KEYS
    assert answer.json["message"] == "the Docker daemon does not answer"


@pytest.mark.parametrize("path", ["/system/info", "/system/version", "/system/df"])
def test_daemon_down_is_503_everywhere_with_the_reason(down_client, path):
    answer = down_client.get(path)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.json["code"] == 503
    assert "No such file or directory" in answer.json["message"]
    assert "Traceback" not in answer.get_data(as_text=True)


def test_daemon_that_comes_back_is_used_without_restart(tmp_path, docker_api):
    from tests.conftest import ENGINE_URL

    app = create_app({"TESTING": True, "DOCKER_URL": f"unix://{tmp_path}/docker.sock"})
    assert app.test_client().get("/ready").status_code == 503
    # the operator points the socket path at the engine: the next request connects
    (tmp_path / "docker.sock").symlink_to(ENGINE_URL.removeprefix("unix://"))
    assert app.test_client().get("/ready").status_code == 200


def test_silent_daemon_is_504(silent_socket):
    app = create_app({"TESTING": True, "DOCKER_URL": silent_socket, "DOCKER_TIMEOUT": 0.5})
    answer = app.test_client().get("/system/info")
    assert answer.status_code == 504
    assert set(answer.json) == ERROR_KEYS
    assert "did not answer in time" in answer.json["message"]


def test_silent_daemon_is_not_ready(silent_socket):
    app = create_app({"TESTING": True, "DOCKER_URL": silent_socket, "DOCKER_TIMEOUT": 0.5})
    answer = app.test_client().get("/ready")
    assert answer.status_code == 503
    assert "Retry-After" in answer.headers


def test_json_nested_too_deep_is_400(client):
    answer = client.post("/containers", data="[" * 100000, content_type="application/json")
    assert answer.status_code == 400
    assert "nests too deep" in answer.json["message"]

"""One error shape, and the daemon's failures translated: down (503), silent (504), and its
refusals of bad input answered as the client's fault (4xx), never as the daemon's (502)."""

import io
import socket
import tarfile
import threading

import pytest

from service import create_app
from service.gateway.streams import classify_registry_error
from tests.conftest import admin_client, make_client, ours

ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def down_client(tmp_path):
    """The service configured with a socket path that has nothing behind it: a daemon that
    is down, for real."""
    app = create_app({"TESTING": True, "DOCKER_URL": f"unix://{tmp_path}/docker.sock"})
    return admin_client(app)


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
    before = ours(docker_api)
    answer = client.post("/system/prune", data='{"volumes": true}', content_type="text/plain")
    assert answer.status_code == 400
    assert "expected application/json" in answer.json["message"]
    assert ours(docker_api) == before


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
    answer = admin_client(app).get("/system/info")
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


# -- the daemon's refusals of bad input ------------------------------------------------------


@pytest.fixture
def run(client, busybox_image, labels):
    """Create (and start) a container through the service; answers the raw answer."""

    def run(command=("sleep", "300"), start=True, through=client, **fields):
        body = {"image": busybox_image, "command": list(command), "labels": labels, **fields}
        return through.post("/containers", json={**body, "start": start})

    return run


def started(answer) -> str:
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


@pytest.mark.parametrize("kind", ["volume", "tmpfs"])
@pytest.mark.parametrize(
    "target", ["/", "/proc", "/proc/sys", "/sys", "/sys/kernel", "/dev", "//proc", "/tmp/../sys"]
)
def test_mount_targets_the_engine_refuses_are_a_422_before_it(run, docker_api, kind, target):
    answer = run(mounts=[{"type": kind, "target": target}])
    assert answer.status_code == 422, answer.json
    assert set(answer.json["errors"]["json"]["mounts"]["0"]) == {"target"}
    assert ours(docker_api) == []


@pytest.mark.parametrize(
    "mounts, field",
    [
        # the engine's own words: "Duplicate mount point"
        ([{"type": "tmpfs", "target": "/a"}, {"type": "volume", "target": "/a/"}], "mounts"),
        # "must not set ReadOnly mode when using anonymous volumes"
        ([{"type": "volume", "target": "/a", "read_only": True}], "mounts"),
        # "source /var/lib/docker/overlay2/.../merged/etc/hosts is not directory"
        ([{"type": "volume", "target": "/etc/hosts"}], "mounts"),
        ([{"type": "tmpfs", "target": "/etc/resolv.conf"}], "mounts"),
    ],
)
def test_mounts_the_engine_refuses_are_a_422_before_it(run, docker_api, mounts, field):
    answer = run(mounts=mounts)
    assert answer.status_code == 422, answer.json
    assert set(answer.json["errors"]["json"]) == {field}
    assert ours(docker_api) == []


def test_a_volume_onto_a_file_of_the_image_is_a_400(run, docker_api):
    # the daemon answers 500 "source .../merged/bin/busybox is not directory"
    answer = run(mounts=[{"type": "volume", "target": "/bin/sh"}], start=False)
    assert answer.status_code == 400, answer.json
    assert "is not directory" in answer.json["message"]
    assert ours(docker_api) == []


@pytest.mark.parametrize("ps_args", ["-Q", "zzz", "-o", "-p", "-ocomm", "-N"])
def test_ps_options_ps_refuses_are_a_400(run, client, ps_args):
    # the daemon answers 500 "ps: error: ...", or "Couldn't find PID field in ps output"
    container = started(run())
    answer = client.get(f"/containers/{container}/top", query_string={"ps_args": ps_args})
    assert answer.status_code == 400, answer.json
    assert "ps" in answer.json["message"]


def tar_of(*members) -> bytes:
    """A tar archive of (name, kind, link) members: files hold `hi`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, link in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            data = b"hi" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def put(client, container, path, archive):
    return client.put(
        f"/containers/{container}/archive",
        query_string={"path": path},
        data=archive,
        content_type="application/x-tar",
    )


@pytest.mark.parametrize(
    "members, words",
    [
        # "Error processing tar file(exit status 1): link /w/nosuch /w/a: no such file ..."
        ([("a", tarfile.LNKTYPE, "nosuch")], "no such file or directory"),
        ([("a", tarfile.LNKTYPE, "/etc/passwd")], "no such file or directory"),
        # "... invalid hardlink \"/etc/passwd\" -> \"../../etc/passwd\""
        ([("a", tarfile.LNKTYPE, "../../etc/passwd")], "invalid hardlink"),
        # "... link /w/d /w/a: operation not permitted"
        ([("d", tarfile.DIRTYPE, ""), ("a", tarfile.LNKTYPE, "d")], "operation not permitted"),
        # "... \"../../x\" is outside of \"/w\""
        ([("../../x", tarfile.REGTYPE, "")], "is outside of"),
    ],
)
def test_a_tar_whose_links_point_nowhere_or_outside_is_a_400(run, client, members, words):
    container = started(run())
    assert put(client, container, "/", tar_of(("w", tarfile.DIRTYPE, ""))).status_code == 204
    answer = put(client, container, "/w", tar_of(*members))
    assert answer.status_code == 400, answer.json
    assert words in answer.json["message"]


def test_copying_onto_a_file_is_a_400(run, client):
    # the daemon answers 500 "extraction point is not a directory"
    container = started(run())
    answer = put(client, container, "/bin/busybox", tar_of(("f", tarfile.REGTYPE, "")))
    assert answer.status_code == 400, answer.json
    assert "not a directory" in answer.json["message"]


def test_copying_into_a_read_only_root_filesystem_is_a_409(run, client):
    # the daemon answers 500 "container rootfs is marked read-only"
    container = started(run(read_only=True))
    answer = put(client, container, "/bin", tar_of(("f", tarfile.REGTYPE, "")))
    assert answer.status_code == 409, answer.json
    assert "read-only" in answer.json["message"]


def test_copying_into_a_read_only_bind_mount_is_a_409(run, docker_api, tmp_path):
    # the daemon answers 500 "mounted volume is marked read-only"
    (tmp_path / "data").mkdir()
    policed = make_client(ALLOWED_BIND_ROOTS=[str(tmp_path)])
    mounts = [{"type": "bind", "source": str(tmp_path / "data"), "target": "/d"}]
    container = started(run(mounts=mounts, through=policed))
    assert docker_api.inspect_container(container)["Mounts"][0]["RW"] is False
    answer = put(policed, container, "/d", tar_of(("f", tarfile.REGTYPE, "")))
    assert answer.status_code == 409, answer.json
    assert "read-only" in answer.json["message"]
    assert not (tmp_path / "data" / "f").exists()


@pytest.mark.parametrize("user", ["nosuchuser", "0:nosuchgroup"])
def test_a_run_as_a_user_the_container_does_not_know_is_a_400(run, docker_api, user):
    # the daemon answers 500 "unable to find user nosuchuser: no matching entries in passwd file"
    answer = run(user=user)
    assert answer.status_code == 400, answer.json
    assert "unable to find" in answer.json["message"]
    assert ours(docker_api) == []  # the failed run left nothing behind


@pytest.mark.parametrize("user", ["nosuchuser", "0:nosuchgroup"])
def test_an_exec_as_a_user_the_container_does_not_know_is_a_400(run, client, user):
    # the daemon starts no process and writes "unable to find user ..." in the output
    container = started(run())
    answer = client.post(f"/containers/{container}/exec", json={"cmd": ["id"], "user": user})
    assert answer.status_code == 400, answer.json
    assert "unable to find" in answer.json["message"]


def test_a_registry_failure_inside_a_stream_says_whose_it_is():
    assert classify_registry_error("manifest unknown: manifest unknown") == "not_found"
    platform = "no matching manifest for linux/s390x in the manifest list entries"
    assert classify_registry_error(platform) == "not_found"
    assert classify_registry_error("received unexpected HTTP status: 500") == "upstream"

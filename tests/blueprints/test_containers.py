"""/containers against the real engine, with the busybox test image."""

import io
import json
import subprocess
import tarfile
import time
import urllib.request
from urllib.request import Request

import docker
import pytest

from tests.conftest import (
    TEST_LABEL,
    admin_headers,
    daemon_calls,
    eventually,
    free_port,
    make_client,
    ours,
    served,
    tar_of,
    wait_for_http,
)


@pytest.fixture
def run(client, busybox_image, labels):
    """Run a container through the service; answers its detail."""

    def run(command=("sleep", "300"), start=True, **fields):
        body = {
            "image": busybox_image,
            "command": list(command),
            "labels": {**labels, **fields.pop("labels", {})},
            "start": start,
            **fields,
        }
        answer = client.post("/containers", json=body)
        assert answer.status_code == 201, answer.json
        return answer.json

    return run


def test_run_httpd_with_a_published_port_and_fetch_a_page(run, docker_api):
    port = free_port()
    container = run(
        [
            "sh",
            "-c",
            "mkdir -p /www && echo hello-page > /www/index.html && httpd -f -p 8080 -h /www",
        ],
        ports=[{"container_port": 8080, "host_port": port}],
    )
    assert container["state_detail"]["running"] is True
    assert container["ports"] == [
        {"container_port": 8080, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": port}
    ]
    with wait_for_http(f"http://127.0.0.1:{port}/index.html") as page:
        assert page.read() == b"hello-page\n"
    # published on loopback only, as the engine sees it
    bindings = docker_api.inspect_container(container["id"])["HostConfig"]["PortBindings"]
    assert bindings == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}


def test_ephemeral_port(run):
    container = run(["httpd", "-f", "-p", "80"], ports=[{"container_port": 80}])
    (port,) = container["ports"]
    assert port["host_ip"] == "127.0.0.1" and port["host_port"] > 0


def test_env_reaches_the_process(run, client):
    container = run(env={"GREETING": "bonjour", "EMPTY": ""})
    answer = client.post(f"/containers/{container['id']}/exec", json={"cmd": ["env"]})
    assert answer.status_code == 200
    assert "GREETING=bonjour" in answer.json["stdout"].splitlines()
    assert container["config"]["env"]["GREETING"] == "bonjour"


def test_named_volume_keeps_a_file_across_removal(run, client, docker_api, labels):
    volume = f"dockyard-test-vol-{labels[TEST_LABEL]}"
    docker_api.create_volume(volume, labels=labels)
    mounts = [{"type": "volume", "source": volume, "target": "/data"}]
    first = run(["sh", "-c", "echo kept > /data/file"], start=True, mounts=mounts)
    assert client.post(f"/containers/{first['id']}/wait").json["status_code"] == 0
    assert client.delete(f"/containers/{first['id']}").status_code == 204
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(first["id"])

    second = run(["cat", "/data/file"], mounts=mounts)
    assert client.post(f"/containers/{second['id']}/wait").json["status_code"] == 0
    assert client.get(f"/containers/{second['id']}/logs").get_data() == b"kept\n"


def test_tmpfs_and_read_only_root(run, client):
    container = run(
        read_only=True, mounts=[{"type": "tmpfs", "target": "/scratch", "tmpfs_size": 1048576}]
    )
    ok = client.post(
        f"/containers/{container['id']}/exec", json={"cmd": "sh -c 'echo x > /scratch/f'"}
    )
    assert ok.json["exit_code"] == 0
    refused = client.post(f"/containers/{container['id']}/exec", json={"cmd": "touch /root-file"})
    assert refused.json["exit_code"] != 0
    assert "Read-only file system" in refused.json["stderr"]


def test_exec_separates_exit_code_stdout_and_stderr(run, client):
    container = run()
    answer = client.post(
        f"/containers/{container['name']}/exec",
        json={"cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"]},
    )
    assert answer.status_code == 200
    assert answer.json == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n", "truncated": False}


def test_exec_timeout_is_504_and_workdir_user_env(run, client):
    container = run()
    answer = client.post(
        f"/containers/{container['id']}/exec",
        json={"cmd": ["sleep", "5"], "timeout": 0.5},
    )
    assert answer.status_code == 504
    assert "did not finish" in answer.json["message"]
    answer = client.post(
        f"/containers/{container['id']}/exec",
        json={
            "cmd": ["sh", "-c", "pwd; id -u; echo $X"],
            "workdir": "/bin",
            "user": "1234",
            "env": {"X": "y"},
        },
    )
    assert answer.json["stdout"] == "/bin\n1234\ny\n"


def test_exec_in_a_stopped_container_is_409(run, client):
    container = run(start=False)
    answer = client.post(f"/containers/{container['id']}/exec", json={"cmd": ["true"]})
    assert answer.status_code == 409


def test_lifecycle_follows_the_engine(run, client, docker_api):
    container = run(start=False)
    cid = container["id"]
    assert container["state"] == "created"

    def state():
        return docker_api.inspect_container(cid)["State"]

    assert client.post(f"/containers/{cid}/start").json["state"] == "running"
    assert state()["Running"] is True
    # starting again changes nothing
    assert client.post(f"/containers/{cid}/start").status_code == 200

    assert client.post(f"/containers/{cid}/pause").json["state_detail"]["paused"] is True
    assert state()["Paused"] is True
    assert client.post(f"/containers/{cid}/pause").status_code == 409
    assert client.post(f"/containers/{cid}/unpause").json["state"] == "running"
    unpause_again = client.post(f"/containers/{cid}/unpause")
    assert unpause_again.status_code == 409
    assert "not paused" in unpause_again.json["message"]

    restarted = client.post(f"/containers/{cid}/restart?timeout=1")
    assert restarted.status_code == 200 and restarted.json["state_detail"]["running"]

    stopped = client.post(f"/containers/{cid}/stop?timeout=1")
    assert stopped.status_code == 200
    assert stopped.json["state"] == "exited"
    assert state()["Running"] is False

    paused_stopped = client.post(f"/containers/{cid}/pause")
    assert paused_stopped.status_code == 409
    assert "not running" in paused_stopped.json["message"]
    assert client.post(f"/containers/{cid}/kill").status_code == 409

    client.post(f"/containers/{cid}/start")
    killed = client.post(f"/containers/{cid}/kill?signal=SIGKILL")
    assert killed.status_code == 200
    assert killed.json["state_detail"]["exit_code"] == 137
    assert client.post(f"/containers/{cid}/kill?signal=NOPE").status_code == 422


def test_remove_running_is_409_then_force(run, client, docker_api):
    container = run()
    answer = client.delete(f"/containers/{container['id']}")
    assert answer.status_code == 409
    assert docker_api.inspect_container(container["id"])["State"]["Running"]
    assert client.delete(f"/containers/{container['id']}?force=true").status_code == 204
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(container["id"])


def test_unknown_container_is_404_everywhere(client):
    for method, path in [
        ("get", "/containers/no-such-box"),
        ("post", "/containers/no-such-box/start"),
        ("post", "/containers/no-such-box/stop"),
        ("get", "/containers/no-such-box/logs"),
        ("get", "/containers/no-such-box/top"),
        ("delete", "/containers/no-such-box"),
    ]:
        answer = getattr(client, method)(path)
        assert answer.status_code == 404, (method, path, answer.json)
        assert answer.json["message"]


def test_rename_and_update(run, client, docker_api, labels):
    container = run(restart_policy={"name": "no"})
    new_name = f"dockyard-renamed-{labels[TEST_LABEL]}"
    answer = client.post(f"/containers/{container['id']}/rename", json={"name": new_name})
    assert answer.status_code == 200
    assert docker_api.inspect_container(container["id"])["Name"] == f"/{new_name}"

    updated = client.post(
        f"/containers/{new_name}/update",
        json={
            "memory": 64 * 1024 * 1024,
            "cpus": 0.5,
            "pids_limit": 50,
            "restart_policy": {"name": "on-failure", "maximum_retry_count": 2},
        },
    )
    assert updated.status_code == 200, updated.json
    host = docker_api.inspect_container(container["id"])["HostConfig"]
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 50
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}


def test_name_in_use_is_409(run, labels):
    name = f"dockyard-dup-{labels[TEST_LABEL]}"
    run(name=name, start=False)
    with pytest.raises(AssertionError, match="409"):
        run(name=name, start=False)


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"ports": [{"container_port": 70000}]}, "ports"),
        ({"ports": [{"container_port": 80, "host_ip": "not-an-ip"}]}, "ports"),
        ({"memory": -1}, "memory"),
        ({"cpus": 0}, "cpus"),
        ({"privileged": True}, "privileged"),
        ({"name": "x"}, "name"),
        ({"mounts": [{"type": "volume", "source": "../etc", "target": "/d"}]}, "mounts"),
        ({"mounts": [{"type": "bind", "source": "relative", "target": "/d"}]}, "mounts"),
        ({"restart_policy": {"name": "sometimes"}}, "restart_policy"),
        ({"aliases": ["web"]}, "aliases"),
        ({"env": {"A=B": "c"}}, "env"),
        ({"image": "UPPER"}, "image"),
    ],
)
def test_create_refuses_bad_fields_with_422(client, docker_api, busybox_image, fields, bad):
    before = ours(docker_api)
    answer = client.post("/containers", json={"image": busybox_image, **fields})
    assert answer.status_code == 422, answer.json
    assert bad in answer.json["errors"]["json"]
    assert ours(docker_api) == before


def test_bind_mounts_are_off_unless_allowed(client, docker_api, busybox_image, labels, tmp_path):
    body = {
        "image": busybox_image,
        "labels": labels,
        "mounts": [{"type": "bind", "source": "/srv/../srv/data", "target": "/host"}],
    }
    before = ours(docker_api)
    answer = client.post("/containers", json=body)
    assert answer.status_code == 403
    assert "bind-roots" in answer.json["message"]
    assert ours(docker_api) == before

    (tmp_path / "shared.txt").write_text("from the host\n")
    allowed = make_client(ALLOWED_BIND_ROOTS=[str(tmp_path)])
    body["mounts"] = [{"type": "bind", "source": f"{tmp_path}/", "target": "/host"}]
    body.update(command=["cat", "/host/shared.txt"], start=True)
    created = allowed.post("/containers", json=body)
    assert created.status_code == 201, created.json
    allowed.post(f"/containers/{created.json['id']}/wait")
    assert allowed.get(f"/containers/{created.json['id']}/logs").get_data() == b"from the host\n"
    body["mounts"] = [{"type": "bind", "source": f"{tmp_path}/../", "target": "/host"}]
    assert allowed.post("/containers", json=body).status_code == 403


def test_image_missing_is_404_unless_pulled(client, registry, busybox_image, docker_api, labels):
    remote = f"{registry}/team/runme:1"
    docker_api.tag(busybox_image, f"{registry}/team/runme", "1")
    docker_api.push(f"{registry}/team/runme", "1")
    docker_api.remove_image(remote)
    body = {"image": remote, "command": ["true"], "labels": labels}
    assert client.post("/containers", json=body).status_code == 404
    answer = client.post("/containers", json={**body, "pull": "missing"})
    assert answer.status_code == 201, answer.json
    assert docker_api.inspect_image(remote)
    client.delete(f"/containers/{answer.json['id']}")
    docker_api.remove_image(remote)


def test_list_filters_in_one_call(run, client, app, labels, monkeypatch):
    running = run()
    stopped = run(start=False)
    mine = f"label={TEST_LABEL}={labels[TEST_LABEL]}"
    assert {c["id"] for c in client.get(f"/containers?{mine}").json} == {running["id"]}
    listed = client.get(f"/containers?all=true&{mine}").json
    assert {c["id"] for c in listed} == {running["id"], stopped["id"]}
    exited = client.get(f"/containers?all=true&status=created&{mine}").json
    assert [c["id"] for c in exited] == [stopped["id"]]
    entry = next(c for c in listed if c["id"] == running["id"])
    assert entry["state"] == "running" and entry["name"] == running["name"]
    assert entry["labels"][TEST_LABEL] == labels[TEST_LABEL]

    # asked of the daemon (the mirror, on, answers with none)
    calls = daemon_calls(app, monkeypatch)
    answer = client.get("/containers?all=true", headers={"Cache-Control": "no-cache"})
    assert answer.status_code == 200
    assert len(calls) == 1


def test_bulk_delete_by_label_removes_exactly_those(client, run, docker_api, labels):
    doomed = [run(labels={"dockyard.test.bulk": "yes"}) for _ in range(2)]
    doomed.append(run(start=False, labels={"dockyard.test.bulk": "yes"}))
    kept = run(labels={"dockyard.test.bulk": "no"})
    selector = f"label=dockyard.test.bulk=yes&label={TEST_LABEL}={labels[TEST_LABEL]}"

    for no in ("", "force=false&"):
        answer = client.delete(f"/containers?{no}{selector}")
        assert answer.status_code == 422 and "force" in answer.json["errors"]["query"]
    assert client.delete("/containers?force=true").status_code == 400  # no selection

    answer = client.delete(f"/containers?force=true&{selector}")
    assert answer.status_code == 200
    assert sorted(answer.json["removed"]) == sorted(c["id"] for c in doomed)
    assert answer.json["failed"] == []
    left = docker_api.containers(all=True, filters={"label": f"{TEST_LABEL}={labels[TEST_LABEL]}"})
    assert [c["Id"] for c in left] == [kept["id"]]


def test_bulk_delete_all_only_on_an_owned_engine(owned_engine, client, run, docker_api):
    run()
    answer = client.delete("/containers?force=true&all=true")
    assert answer.status_code == 200
    assert docker_api.containers(all=True) == []


def test_logs_options_and_json_lines(run, client):
    container = run(["sh", "-c", "echo one; echo two >&2; echo three"])
    client.post(f"/containers/{container['id']}/wait")
    cid = container["id"]
    assert client.get(f"/containers/{cid}/logs?stderr=false").get_data() == b"one\nthree\n"
    assert client.get(f"/containers/{cid}/logs?stdout=false").get_data() == b"two\n"
    # the daemon cuts the tail before it filters the streams: tail a single-stream log
    only_stdout = run(["sh", "-c", "echo a; echo b; echo c"])
    client.post(f"/containers/{only_stdout['id']}/wait")
    assert client.get(f"/containers/{only_stdout['id']}/logs?tail=2").get_data() == b"b\nc\n"
    answer = client.get(
        f"/containers/{cid}/logs?timestamps=true", headers={"Accept": "application/x-ndjson"}
    )
    *lines, _ = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
    assert sorted((e["stream"], e["line"]) for e in lines) == [
        ("stderr", "two"),
        ("stdout", "one"),
        ("stdout", "three"),
    ]
    assert all(e["time"].startswith("20") for e in lines)


def test_logs_times_are_the_services_to_read_and_neither_stream_is_no_line(run, client):
    container = run(["sh", "-c", "echo one"])
    client.post(f"/containers/{container['id']}/wait")
    logs = f"/containers/{container['id']}/logs"
    # durations and dates the daemon's own parser refuses or overflows on: the service reads
    # them, and the daemon gets unix times
    for since in ("274.182108195ns09h87ms", "99999h99999h99999h", "2000-02-29T23:59:59Z"):
        answer = client.get(f"{logs}?since={since}")
        assert answer.status_code == 200 and answer.get_data() == b"one\n", (since, answer.data)
    answer = client.get(f"{logs}?until=99999h99999h")
    assert answer.status_code == 200 and answer.get_data() == b""
    # neither stream: no line, even followed (the daemon would refuse to send nothing)
    for follow in ("false", "true"):
        answer = client.get(f"{logs}?stdout=false&stderr=false&follow={follow}")
        assert answer.status_code == 200 and answer.get_data() == b"", answer.data


def test_follow_receives_a_line_written_after_the_request(run, client):
    container = run(["sh", "-c", "echo first; sleep 1; echo later; sleep 1"])
    answer = client.get(f"/containers/{container['id']}/logs?follow=true", buffered=False)
    started = time.monotonic()
    chunks = b""
    for chunk in answer.response:
        chunks += chunk
        if b"later" in chunks:
            break
    assert chunks == b"first\nlater\n"
    assert time.monotonic() - started >= 0.5  # it arrived while the request was open
    answer.close()


def test_stats_one_sample(run, client):
    container = run(memory=64 * 1024 * 1024)
    answer = client.get(f"/containers/{container['id']}/stats")
    assert answer.status_code == 200
    stats = answer.json
    assert stats["memory_limit"] == 64 * 1024 * 1024
    assert 0 < stats["memory_usage"] < stats["memory_limit"]
    assert 0 <= stats["memory_percent"] < 100
    assert stats["cpu_percent"] >= 0
    assert stats["pids"] >= 1


def test_stats_stream(run, client):
    container = run(memory=48 * 1024 * 1024)
    answer = client.get(f"/containers/{container['id']}/stats?stream=true", buffered=False)
    assert answer.mimetype == "application/x-ndjson"
    sample = json.loads(next(chunk for chunk in answer.response if chunk))
    assert sample["memory_limit"] == 48 * 1024 * 1024  # the engine's own figure for this one
    assert 0 < sample["memory_usage"] < sample["memory_limit"]
    answer.close()


def test_top_and_changes(run, client):
    container = run(["sh", "-c", "touch /made-here; exec sleep 300"])

    def sleeping():
        top = client.get(f"/containers/{container['id']}/top")
        assert top.status_code == 200
        return any("sleep 300" in " ".join(p) for p in top.json["processes"]) and top

    assert "PID" in eventually(sleeping).json["titles"]
    changes = client.get(f"/containers/{container['id']}/changes").json
    assert {"path": "/made-here", "kind": "added"} in changes


def test_commit_then_run_the_new_image(run, client, docker_api, labels):
    container = run(["sh", "-c", "echo committed > /state; sleep 300"])
    changes = f"/containers/{container['id']}/changes"
    eventually(lambda: {"path": "/state", "kind": "added"} in client.get(changes).json)
    repository = f"dockyard-test/committed-{labels[TEST_LABEL]}"
    answer = client.post(
        f"/containers/{container['id']}/commit",
        json={
            "repository": repository,
            "tag": "v1",
            "message": "snapshot",
            "changes": [f"LABEL {TEST_LABEL}={labels[TEST_LABEL]}", 'CMD ["cat", "/state"]'],
        },
    )
    assert answer.status_code == 201, answer.json
    assert f"{repository}:v1" in answer.json["tags"]
    assert answer.json["config"]["cmd"] == ["cat", "/state"]
    again = docker_api.create_container(f"{repository}:v1", labels=labels)
    docker_api.start(again["Id"])
    docker_api.wait(again["Id"], timeout=30)
    assert docker_api.logs(again["Id"]) == b"committed\n"


def test_commit_refuses_unknown_instructions(run, client):
    container = run()
    answer = client.post(
        f"/containers/{container['id']}/commit", json={"changes": ["RUN rm -rf /"]}
    )
    assert answer.status_code == 422


def test_archive_put_then_get_gives_the_same_bytes_and_export_has_it(run, client):
    container = run()
    payload = bytes(range(256)) * 100
    put = client.put(
        f"/containers/{container['id']}/archive?path=/",
        data=tar_of({"copied.bin": payload}),
        content_type="application/x-tar",
    )
    assert put.status_code == 204
    got = client.get(f"/containers/{container['id']}/archive?path=/copied.bin")
    assert got.status_code == 200 and got.mimetype == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(got.get_data())) as tar:
        assert tar.extractfile("copied.bin").read() == payload

    exported = client.get(f"/containers/{container['id']}/export")
    assert exported.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(exported.get_data())) as tar:
        assert tar.extractfile("copied.bin").read() == payload
        assert "bin/busybox" in tar.getnames()


def test_archive_errors(run, client):
    container = run()
    cid = container["id"]
    assert client.get(f"/containers/{cid}/archive?path=/no/such").status_code == 404
    assert client.get(f"/containers/{cid}/archive?path=relative").status_code == 422
    bad = client.put(
        f"/containers/{cid}/archive?path=/tmp", data=b"x" * 1024, content_type="application/x-tar"
    )
    assert bad.status_code == 400


def test_prune_containers_by_label(run, client, docker_api, labels):
    stopped = run(start=False)
    running = run()
    answer = client.post(
        "/containers/prune", json={"label": [f"{TEST_LABEL}={labels[TEST_LABEL]}"]}
    )
    assert answer.status_code == 200
    assert answer.json["deleted"] == [stopped["id"]]
    assert docker_api.inspect_container(running["id"])


def test_wait_answers_the_exit_code(run, client):
    container = run(["sh", "-c", "exit 5"])
    answer = client.post(f"/containers/{container['id']}/wait")
    assert answer.json == {"status_code": 5, "error": None}


def test_events_stream_a_start(client, run, busybox_image):
    container = run(start=False)
    since = int(time.time()) - 1
    answer = client.get(
        f"/system/events?type=container&action=start&container={container['id']}&since={since}",
        buffered=False,
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/event-stream"
    assert client.post(f"/containers/{container['id']}/start").status_code == 200
    text = b""
    for chunk in answer.response:
        text += chunk
        if b"\n\n" in text:
            break
    answer.close()
    event, data = text.decode().split("\n")[1:3]
    assert event == "event: container"
    payload = json.loads(data.removeprefix("data: "))
    assert payload["action"] == "start" and payload["actor_id"] == container["id"]


def test_events_bad_filter_is_422(client):
    assert client.get("/system/events?type=spaceship").status_code == 422


def test_follow_client_that_leaves_frees_the_daemon_socket(run):
    """Through gunicorn: after the client disconnects, the worker holds no extra socket."""
    container = run(["sh", "-c", "while true; do echo tick; sleep 0.2; done"])
    with served() as (base, server):
        worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])

        def daemon_sockets():
            # unix sockets of the worker connected to the daemon's socket
            out = subprocess.check_output(["ss", "-xp"], text=True)
            return sum(1 for line in out.splitlines() if f"pid={worker}," in line)

        # warm both clients up
        logs = f"{base}/containers/{container['id']}/logs"
        urllib.request.urlopen(Request(f"{logs}?tail=1", headers=admin_headers())).read()
        baseline = daemon_sockets()

        answer = urllib.request.urlopen(
            Request(f"{logs}?follow=true", headers=admin_headers()), timeout=10
        )
        assert answer.readline() == b"tick\n"
        during = daemon_sockets()
        assert during > baseline
        answer.close()

        deadline = time.monotonic() + 5
        while daemon_sockets() > baseline and time.monotonic() < deadline:
            time.sleep(0.1)
        assert daemon_sockets() <= baseline


def test_empty_filters_are_refused_not_taken_as_everything(client, run, docker_api, labels):
    kept = run()
    answer = client.delete("/containers?force=true&name=")
    assert answer.status_code == 422
    assert docker_api.inspect_container(kept["id"])["State"]["Running"]


def test_top_refuses_options_that_show_environments(run, client):
    container = run(env={"DB_PASSWORD": "hidden"})
    assert client.get(f"/containers/{container['id']}/top?ps_args=auxe").status_code == 422
    assert client.get(f"/containers/{container['id']}/top?ps_args=-ef").status_code == 200

"""/images against the real engine and the loopback registry."""

import io
import json
import re
import tarfile

import docker
import pytest

from tests.conftest import TEST_LABEL, daemon_calls, make_client, tar_of


def build_json(client, labels, dockerfile, files=None, tag=None, **options):
    body = {"dockerfile": dockerfile, "files": files or {}, "labels": labels, **options}
    if tag:
        body["tag"] = tag
    return client.post("/images/build", json=body)


def run_and_read(docker_api, image, command, labels):
    container = docker_api.create_container(image, command=command, labels=labels)
    docker_api.start(container["Id"])
    assert docker_api.wait(container["Id"], timeout=30)["StatusCode"] == 0
    return docker_api.logs(container["Id"], stderr=False).decode()


@pytest.fixture
def built(client, busybox_image, labels):
    """An image built by the service, tagged dockyard-test/app:<run id>."""
    tag = f"dockyard-test/app:{labels[TEST_LABEL]}"
    answer = build_json(
        client,
        labels,
        f"FROM {busybox_image}\nCOPY hello.txt /hello.txt\nRUN echo built > /built.txt\n",
        {"hello.txt": "hello from the context\n"},
        tag=tag,
    )
    assert answer.status_code == 201, answer.json
    return answer.json


def test_build_from_json_then_run_it(built, docker_api, labels):
    assert built["id"].startswith("sha256:")
    assert built["tags"] == [f"dockyard-test/app:{labels[TEST_LABEL]}"]
    assert built["labels"][TEST_LABEL] == labels[TEST_LABEL]
    assert any(re.match(r"Step 3/\d : RUN echo built", line) for line in built["log"])
    out = run_and_read(docker_api, built["id"], ["cat", "/hello.txt", "/built.txt"], labels)
    assert out == "hello from the context\nbuilt\n"


def test_build_from_a_tar_context(client, docker_api, busybox_image, labels):
    context = tar_of(
        {
            "docker/App.dockerfile": f"FROM {busybox_image}\nARG WHO\nCOPY data /data\n"
            'RUN echo "$WHO" > /who\n',
            "data/file.txt": "from the tar\n",
        }
    )
    query = "&".join(
        [
            "dockerfile=docker/App.dockerfile",
            "build_arg=WHO=tar-builder",
            f"label={TEST_LABEL}={labels[TEST_LABEL]}",
            f"tag=dockyard-test/tarapp:{labels[TEST_LABEL]}",
        ]
    )
    answer = client.post(f"/images/build?{query}", data=context, content_type="application/x-tar")
    assert answer.status_code == 201, answer.json
    out = run_and_read(docker_api, answer.json["id"], ["cat", "/data/file.txt", "/who"], labels)
    assert out == "from the tar\ntar-builder\n"


def test_failing_build_step_is_422_with_the_step_and_its_output(client, busybox_image, labels):
    answer = build_json(
        client,
        labels,
        f"FROM {busybox_image}\nRUN echo about to fail && exit 7\n",
    )
    assert answer.status_code == 422
    errors = answer.json["errors"]
    assert re.match(r"Step 2/\d : RUN echo about to fail", errors["step"])
    assert "about to fail" in "\n".join(errors["log"])
    assert "returned a non-zero code: 7" in answer.json["message"]


def test_build_streams_its_log_as_ndjson(client, busybox_image, labels):
    answer = client.post(
        "/images/build",
        json={"dockerfile": f"FROM {busybox_image}\nRUN echo streaming-build\n", "labels": labels},
        headers={"Accept": "application/x-ndjson"},
    )
    assert answer.status_code == 201
    assert answer.mimetype == "application/x-ndjson"
    events = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
    assert any(e["type"] == "log" and e["line"] == "streaming-build" for e in events)
    assert events[-1]["type"] == "result"
    assert events[-1]["result"]["id"].startswith("sha256:")


def test_build_failure_in_a_stream_ends_with_an_error_event(client, busybox_image, labels):
    answer = client.post(
        "/images/build",
        json={"dockerfile": f"FROM {busybox_image}\nRUN exit 3\n", "labels": labels},
        headers={"Accept": "text/event-stream"},
    )
    assert answer.status_code == 201  # the stream had begun
    text = answer.get_data(as_text=True)
    assert text.rstrip().split("\n\n")[-1].startswith("event: error\ndata: ")
    last = json.loads(text.rstrip().split("\n\n")[-1].split("data: ", 1)[1])
    assert last["code"] == 422 and "RUN exit 3" in last["errors"]["step"]


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"", "application/x-tar", 400),
        (b"this is not a tar archive at all" * 40, "application/x-tar", 400),
        (b"FROM scratch", "text/plain", 400),
    ],
)
def test_build_refuses_bad_contexts(client, body, content_type, status):
    answer = client.post("/images/build", data=body, content_type=content_type)
    assert answer.status_code == status
    assert answer.json["message"]


def test_a_json_build_takes_the_querys_options_the_bodys_first(
    client, busybox_image, labels, docker_api
):
    """Generated clients send a query's defaults (`no_cache=false&pull=false`) with a JSON
    build, and a script may give options in the query: they count, the body's first."""
    body = {"dockerfile": f"FROM {busybox_image}\n", "labels": labels}
    answer = client.post("/images/build?no_cache=false&pull=false", json=body)
    assert answer.status_code == 201, answer.json
    tag = f"dockyard-test/query:{labels[TEST_LABEL]}"
    body = {
        "dockerfile": f"FROM {busybox_image}\nARG A\nARG B\nLABEL a=$A b=$B\n",
        "labels": {**labels, "from": "body"},
        "build_args": {"B": "body"},
    }
    query = f"tag={tag}&label=from=query&label=q=1&build_arg=A=query&build_arg=B=query"
    answer = client.post(f"/images/build?{query}&no_cache=true", json=body)
    assert answer.status_code == 201, answer.json
    image = docker_api.inspect_image(tag)
    assert image["Id"] == answer.json["id"]
    got = image["Config"]["Labels"]
    assert (got["from"], got["q"], got["a"], got["b"]) == ("body", "1", "query", "body")


def test_build_json_validation(client):
    answer = client.post(
        "/images/build",
        json={"dockerfile": "FROM x", "files": {"../escape": "x"}, "tag": "Bad Tag", "nope": 1},
    )
    assert answer.status_code == 422
    assert {"files", "tag", "nope"} <= set(answer.json["errors"]["json"])
    # the Dockerfile is the body's `dockerfile`, not one of its files
    answer = client.post(
        "/images/build", json={"dockerfile": "FROM x", "files": {"Dockerfile": ""}}
    )
    assert answer.status_code == 422 and "files" in answer.json["errors"]["json"]


def test_build_context_over_the_limit_is_413(busybox_image):
    context = tar_of({"Dockerfile": f"FROM {busybox_image}\n", "big": "x" * 20000})
    answer = make_client(MAX_UPLOAD_BYTES=4096).post(
        "/images/build", data=context, content_type="application/x-tar"
    )
    assert answer.status_code == 413


def test_list_inspect_history(client, built, labels):
    listed = client.get(f"/images?label={TEST_LABEL}={labels[TEST_LABEL]}")
    assert listed.status_code == 200
    assert [image["id"] for image in listed.json] == [built["id"]]
    assert listed.json[0]["short_id"] == built["id"][7:19]

    by_ref = client.get(f"/images?reference=dockyard-test/app:{labels[TEST_LABEL]}")
    assert [image["id"] for image in by_ref.json] == [built["id"]]

    for ref in (built["tags"][0], built["id"], built["id"][7:19], built["id"][7:]):
        answer = client.get(f"/images/{ref}")
        assert answer.status_code == 200, ref
        assert answer.json["id"] == built["id"]
        assert answer.json["config"]["cmd"] == ["/bin/sh"]
        assert answer.json["os"] == "linux"
        assert len(answer.json["layers"]) >= 2

    history = client.get(f"/images/{built['tags'][0]}/history")
    assert history.status_code == 200
    steps = [layer["created_by"] for layer in history.json]
    assert any("echo built > /built.txt" in step for step in steps)
    assert any("COPY" in step for step in steps)


def test_list_is_one_daemon_call(client, built, app, monkeypatch):
    # asked of the daemon (the mirror, on, answers with none)
    calls = daemon_calls(app, monkeypatch)
    assert client.get("/images?all=true", headers={"Cache-Control": "no-cache"}).status_code == 200
    assert len(calls) == 1 and "/images/json" in calls[0]


def test_unknown_and_malformed_references(client):
    assert client.get("/images/dockyard-test/none:nope").status_code == 404
    assert client.get("/images/sha256:" + "0" * 64).status_code == 404
    answer = client.get("/images/Not A Ref")
    assert answer.status_code == 400
    assert "not an image id or reference" in answer.json["message"]
    assert client.post("/images/pull", json={"image": "UPPER/case"}).status_code == 422


def test_tag_push_remove_pull_back(client, built, registry, docker_api, labels):
    remote = f"{registry}/team/app"
    tagged = client.post(f"/images/{built['id']}/tag", json={"repository": remote, "tag": "1.0"})
    assert tagged.status_code == 201
    assert f"{remote}:1.0" in tagged.json["tags"]

    pushed = client.post(f"/images/{remote}:1.0/push")
    assert pushed.status_code == 200, pushed.json
    assert pushed.json["digest"].startswith("sha256:")
    assert pushed.json["tag"] == "1.0"

    removed = client.delete(f"/images/{remote}:1.0")
    assert removed.status_code == 200
    assert f"{remote}:1.0" in removed.json["untagged"]
    # the id is still tagged by the build: only the name went
    assert docker_api.inspect_image(built["id"])

    # pull it back, with the progress as ndjson
    docker_api.remove_image(built["id"], force=True)
    answer = client.post(
        "/images/pull",
        json={"image": f"{remote}:1.0"},
        headers={"Accept": "application/x-ndjson"},
    )
    assert answer.status_code == 200
    events = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
    assert all(e["type"] in {"progress", "result"} for e in events)
    assert any(e.get("status") == "Download complete" for e in events)
    assert events[-1]["type"] == "result"
    assert events[-1]["result"]["id"] == built["id"]
    assert docker_api.inspect_image(f"{remote}:1.0")["Id"] == built["id"]
    docker_api.remove_image(f"{remote}:1.0", force=True)


def test_plain_pull_answers_the_image(client, built, registry, docker_api):
    remote = f"{registry}/team/plain"
    docker_api.tag(built["id"], remote, "2.0")
    assert client.post(f"/images/{remote}:2.0/push").status_code == 200
    docker_api.remove_image(f"{remote}:2.0")
    answer = client.post("/images/pull", json={"image": remote, "tag": "2.0"})
    assert answer.status_code == 200
    assert answer.json["id"] == built["id"]
    assert f"{remote}:2.0" in answer.json["tags"]
    docker_api.remove_image(f"{remote}:2.0")
    # a platform: one word the engine knows (a system or an architecture), or system/arch
    # [/variant], which the engine takes for an image of one platform as it is
    for platform, status in (("linux/s390x", 200), ("arm64", 200), ("00", 422), ("a/b/c/d", 422)):
        answer = client.post(
            "/images/pull", json={"image": remote, "tag": "2.0", "platform": platform}
        )
        assert answer.status_code == status, (platform, answer.json)
    docker_api.remove_image(f"{remote}:2.0")


def test_pull_from_a_registry_that_does_not_exist(client):
    from tests.conftest import free_port

    answer = client.post("/images/pull", json={"image": f"127.0.0.1:{free_port()}/no/such:1"})
    assert answer.status_code == 502  # the registry failed, not the service
    assert "connection refused" in answer.json["message"]


def test_pull_of_a_missing_repository_is_404(client, registry):
    answer = client.post("/images/pull", json={"image": f"{registry}/no/such:1"})
    assert answer.status_code == 404
    assert answer.json["message"]


def test_export_remove_import_gives_the_same_image(client, built, docker_api):
    ref = built["tags"][0]
    exported = client.get(f"/images/{ref}/export")
    assert exported.status_code == 200
    assert exported.mimetype == "application/x-tar"
    archive = exported.get_data()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "manifest.json" in tar.getnames()

    docker_api.remove_image(built["id"], force=True)
    loaded = client.post("/images/import", data=archive, content_type="application/x-tar")
    assert loaded.status_code == 200, loaded.json
    assert loaded.json["loaded"] == [ref]
    assert loaded.json["images"][0]["id"] == built["id"]
    assert docker_api.inspect_image(ref)["Id"] == built["id"]


def test_import_refuses_what_is_not_an_image_archive(client):
    empty = client.post("/images/import", data=b"", content_type="application/x-tar")
    assert empty.status_code == 400
    answer = client.post("/images/import", data=b"x" * 2048, content_type="application/x-tar")
    assert answer.status_code == 400
    not_images = tar_of({"readme.txt": "no image in here"})
    answer = client.post("/images/import", data=not_images, content_type="application/x-tar")
    assert answer.status_code == 400
    assert answer.json["message"]


def test_export_of_a_missing_image_is_404(client):
    assert client.get("/images/dockyard-test/none:1/export").status_code == 404


def test_remove_an_image_in_use_is_409_then_force(client, built, docker_api, labels):
    docker_api.create_container(built["id"], command=["true"], labels=labels)
    answer = client.delete(f"/images/{built['id']}")
    assert answer.status_code == 409
    assert "container" in answer.json["message"]
    assert docker_api.inspect_image(built["id"])

    forced = client.delete(f"/images/{built['tags'][0]}?force=true")
    assert forced.status_code == 200
    assert built["tags"][0] in forced.json["untagged"]
    with pytest.raises(docker.errors.ImageNotFound):
        docker_api.inspect_image(built["tags"][0])


def test_prune_removes_a_dangling_image_and_keeps_a_tagged_one(
    client, built, busybox_image, labels, docker_api
):
    dangling = build_json(client, labels, f"FROM {busybox_image}\nRUN echo dangling > /d\n")
    assert dangling.status_code == 201
    assert dangling.json["tags"] == []
    answer = client.post("/images/prune", json={"label": [f"{TEST_LABEL}={labels[TEST_LABEL]}"]})
    assert answer.status_code == 200
    assert dangling.json["id"] in answer.json["deleted"]
    with pytest.raises(docker.errors.ImageNotFound):
        docker_api.inspect_image(dangling.json["id"])
    assert docker_api.inspect_image(built["id"])


def test_sse_sends_heartbeats_while_the_daemon_is_quiet(busybox_image, labels):
    answer = make_client(STREAM_HEARTBEAT=0.2).post(
        "/images/build",
        json={"dockerfile": f"FROM {busybox_image}\nRUN sleep 1.5\n", "labels": labels},
        headers={"Accept": "text/event-stream"},
    )
    assert answer.mimetype == "text/event-stream"
    text = answer.get_data(as_text=True)
    assert ": heartbeat\n\n" in text
    assert text.rstrip().split("\n\n")[-1].startswith("event: result\n")


def test_credentials_go_with_the_request_only(client, built, registry):
    remote = f"{registry}/team/auth"
    client.post(f"/images/{built['id']}/tag", json={"repository": remote, "tag": "1"})
    auth = {"username": "someone", "password": "secret", "server_address": registry}
    answer = client.post(f"/images/{remote}:1/push", json={"auth": auth})
    assert answer.status_code == 200
    answer = client.post("/images/pull", json={"image": f"{remote}:1", "auth": auth})
    assert answer.status_code == 200
    # the credentials are never repeated back
    assert "secret" not in answer.get_data(as_text=True)
    client.delete(f"/images/{remote}:1")


def test_json_body_over_the_limit_is_413(busybox_image):
    answer = make_client(MAX_CONTENT_LENGTH=1024).post(
        "/images/build", json={"dockerfile": f"FROM {busybox_image}\n", "files": {"a": "x" * 4096}}
    )
    assert answer.status_code == 413
    assert answer.json["code"] == 413


def test_build_text_that_cannot_be_written_is_422(client):
    body = '{"dockerfile": "FROM scratch\\n# \\ud800", "files": {"a\\ud800": "x"}}'
    answer = client.post("/images/build", data=body, content_type="application/json")
    assert answer.status_code == 422
    assert {"dockerfile", "files"} <= set(answer.json["errors"]["json"])


def test_history_hides_secret_build_arguments(busybox_image, labels):
    from service.auth import hash_token

    tokens = [
        {"name": "r", "hash": hash_token("r"), "scopes": ["read", "write"]},
        {"name": "a", "hash": hash_token("a"), "scopes": ["read", "admin"]},
    ]
    client = make_client(TOKENS=tokens)
    built = client.post(
        "/images/build",
        json={
            "dockerfile": f"FROM {busybox_image}\nARG NPM_TOKEN\nARG MODE\nRUN echo $MODE\n",
            "build_args": {"NPM_TOKEN": "s3cr3t", "MODE": "prod"},
            "labels": labels,
        },
        headers={"Authorization": "Bearer r"},
    )
    assert built.status_code == 201, built.json
    path = f"/images/{built.json['id']}/history"
    shown = client.get(path, headers={"Authorization": "Bearer r"}).get_data(as_text=True)
    assert "s3cr3t" not in shown and "NPM_TOKEN=********" in shown and "MODE=prod" in shown
    full = client.get(path, headers={"Authorization": "Bearer a"}).get_data(as_text=True)
    assert "NPM_TOKEN=s3cr3t" in full


def test_build_steps_run_under_the_container_limits(busybox_image, labels):
    """Each RUN step's container gets the memory and CPU limits containers get."""
    client = make_client(DEFAULT_MEMORY=96 * 1024**2, MAX_CPUS=0.5)
    step = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
        "2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max"
    )
    answer = client.post(
        "/images/build",
        json={"dockerfile": f"FROM {busybox_image}\nRUN {step}\n", "labels": labels},
    )
    assert answer.status_code == 201, answer.json
    log = "\n".join(answer.json["log"])
    assert str(96 * 1024**2) in log
    assert "50000" in log


def test_a_stream_refused_for_lack_of_places_starts_no_work(built, registry, docker_api):
    """With every stream place taken, a pull asked as a stream is a 503 before the daemon
    is asked to pull anything."""
    client = make_client(MAX_STREAMS=1)
    remote = f"{registry}/team/refused"
    docker_api.tag(built["id"], remote, "1.0")
    assert client.post(f"/images/{remote}:1.0/push").status_code == 200
    docker_api.remove_image(f"{remote}:1.0")
    held = client.get("/system/events", buffered=False)
    try:
        answer = client.post(
            "/images/pull",
            json={"image": remote, "tag": "1.0"},
            headers={"Accept": "application/x-ndjson"},
        )
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        assert "too many streams" in answer.json["message"]
        assert docker_api.images(name=remote) == []
    finally:
        held.close()
    pulled = client.post(
        "/images/pull",
        json={"image": remote, "tag": "1.0"},
        headers={"Accept": "application/x-ndjson"},
    )
    last = json.loads(pulled.get_data().splitlines()[-1])
    assert last["type"] == "result" and last["result"]["id"] == built["id"]
    docker_api.remove_image(f"{remote}:1.0")


def test_an_id_prefix_of_several_images_is_409(client, busybox_image, docker_api, labels):
    """The daemon answers the export of a short id that several images start with by a 500
    ("ambiguous digest string"): the engine's state, not the daemon, is at fault."""
    seen = {}
    for n in range(17):  # 16 hex digits: two of 17 images share the first
        dockerfile = f"FROM {busybox_image}\nLABEL dockyard-test.n={n}\n"
        context = io.BytesIO(tar_of({"Dockerfile": dockerfile}))
        list(docker_api.build(fileobj=context, custom_context=True, labels=labels, rm=True))
        ids = {i["Id"] for i in docker_api.images(filters={"label": f"dockyard-test.n={n}"})}
        image = ids.pop().removeprefix("sha256:")
        if image[0] in seen:
            break
        seen[image[0]] = image
    prefix = image[0]
    answer = client.get(f"/images/{prefix}/export")
    assert answer.status_code == 409, answer.get_data()[:200]
    assert "give more of the id" in answer.json["message"]
    # inspect and history: the daemon finds no image by that name, and says so
    assert client.get(f"/images/{prefix}").status_code == 404
    assert client.get(f"/images/{prefix}/history").status_code == 404
    # with more of it, the same image answers
    assert client.get(f"/images/{image[:12]}/export").status_code == 200

"""Several engines from one service: by name, each on its own, tokens limited to some.

These tests name the test engine twice (`dock`, the default, and `twin`: one engine, two
names), a third engine where nothing listens (`gone`), and a TLS engine: the test engine's
socket behind a TLS front of the test's own (socat), which asks for a client certificate
signed by the test's CA. The tests on a real engine of another kind, Podman, are in
tests/test_podman.py.
"""

import json
import socket
import subprocess

import docker
import pytest

from service import create_app
from service.auth import hash_token
from tests.conftest import (
    ENGINE_URL,
    TEST_LABEL,
    eventually,
    free_port,
    make_app,
    ours,
)

SCOPES = ["read", "operate", "exec", "write", "admin", "metrics"]
TOKENS = [
    {"name": "ops", "hash": hash_token("ops"), "scopes": SCOPES},
    {"name": "twin-only", "hash": hash_token("twin-only"), "scopes": SCOPES, "engines": ["twin"]},
    {"name": "team", "hash": hash_token("team"), "scopes": SCOPES, "team": "web"},
]


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def nowhere(tmp_path) -> str:
    """A unix socket path with nothing behind it."""
    return f"unix://{tmp_path}/nothing.sock"


@pytest.fixture
def engines(nowhere):
    return [
        {"name": "dock", "url": ENGINE_URL, "default": True},
        {
            "name": "twin",
            "url": ENGINE_URL,
            "settings": {"MAX_MEMORY": 64 * 1024**2, "DEFAULT_MEMORY": 32 * 1024**2},
        },
        {"name": "gone", "url": nowhere},
    ]


@pytest.fixture
def app(engines, tmp_path):
    return make_app(ENGINES=engines, TOKENS=TOKENS, AUDIT_LOG=str(tmp_path / "audit.log"))


@pytest.fixture
def ops(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer ops"
    return client


def body(image, labels, **more) -> dict:
    return {"image": image, "command": ["sleep", "300"], "labels": labels, **more}


def test_engines_are_listed_with_their_kind_state_and_version(ops, docker_api):
    answer = ops.get("/engines")
    assert answer.status_code == 200, answer.json
    found = {engine["name"]: engine for engine in answer.json}
    assert list(found) == ["dock", "twin", "gone"]
    version = docker_api.version()
    for name in ("dock", "twin"):
        assert found[name]["reachable"] is True
        assert found[name]["kind"] == "docker"
        assert found[name]["version"] == version["Version"]
        assert found[name]["api_version"] == version["ApiVersion"]
        assert found[name]["swarm"] in ("inactive", "active")
        assert found[name]["transport"] == "unix"
        assert found[name]["error"] is None
    assert found["dock"]["default"] is True and found["twin"]["default"] is False
    gone = found["gone"]
    assert gone["reachable"] is False and gone["kind"] is None and gone["version"] is None
    assert "engine `gone`" in gone["error"] and "nothing.sock" in gone["error"]
    assert ops.get("/engines/twin").json == {
        **found["twin"],
        "latency_ms": pytest.approx(0, abs=5e3),
    }
    missing = ops.get("/engines/nope")
    assert missing.status_code == 404 and "GET /engines" in missing.json["message"]


def test_a_prefix_targets_an_engine_and_an_unknown_one_is_a_404(
    ops, docker_api, busybox_image, labels
):
    made = ops.post("/engines/twin/containers", json=body(busybox_image, labels))
    assert made.status_code == 201, made.json
    # one engine under two names: the same container, whichever name reaches it
    assert made.json["id"] in ours(docker_api)
    assert ops.get(f"/containers/{made.json['id']}").json["id"] == made.json["id"]
    assert ops.get(f"/engines/dock/containers/{made.json['id']}").status_code == 200
    unknown = ops.get("/engines/nope/containers")
    assert unknown.status_code == 404 and "no engine is named `nope`" in unknown.json["message"]
    # the Engine-API front too: DOCKER_HOST=tcp://HOST:PORT/engines/twin/engine
    front = ops.get(f"/engines/twin/engine/v1.41/containers/{made.json['id']}/json")
    assert front.status_code == 200 and front.json["Id"] == made.json["id"]
    # what the service answers with keeps the prefix: a terminal's path
    ticket = ops.post(f"/engines/twin/containers/{made.json['id']}/terminal", json={})
    assert ticket.status_code == 409  # not running: no terminal; the route is the engine's


def test_an_engine_that_does_not_answer_is_a_503_for_itself_only(
    ops, docker_api, busybox_image, labels
):
    for path in ("/engines/gone/containers", "/engines/gone/system/info", "/engines/gone/volumes"):
        answer = ops.get(path)
        assert answer.status_code == 503, (path, answer.json)
        assert answer.json["message"].startswith("engine `gone`: ")
        assert answer.headers["Retry-After"] == "5"
    made = ops.post("/engines/gone/containers", json=body(busybox_image, labels))
    assert made.status_code == 503
    # the others answer as ever, in the same app, before and after
    assert ops.get("/engines/dock/containers").status_code == 200
    assert ops.get("/containers").status_code == 200
    assert ops.get("/engines/twin/system/info").status_code == 200
    assert ops.get("/engines/gone/ready").status_code == 503
    assert ops.get("/engines/dock/ready").json == {"status": "ready"}


def test_a_token_limited_to_an_engine_gets_403_on_the_others(app, ops, busybox_image, labels):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer twin-only"
    assert client.get("/auth/whoami").json["engines"] == ["twin"]
    assert [engine["name"] for engine in client.get("/engines").json] == ["twin"]
    assert client.get("/engines/twin/containers").status_code == 200
    for path in ("/engines/dock/containers", "/containers", "/engines/gone/containers"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "rule `engines`" in refused.json["message"]
    # an engine it may not use, or one that does not exist: the same answer, no name learnt
    assert client.get("/engines/nope/containers").status_code == 403
    assert client.get("/engines/dock").status_code == 403
    assert client.post("/containers", json=body(busybox_image, labels)).status_code == 403
    assert client.post("/engines/dock/engine/v1.41/containers/create", json={}).status_code == 403
    events = client.get("/engines/twin/system/events?engine=dock")
    assert events.status_code == 403


def test_an_engines_own_settings_judge_its_creates(ops, busybox_image, labels):
    asked = body(busybox_image, labels, memory=128 * 1024**2)
    refused = ops.post("/engines/twin/containers/decision", json=asked)
    assert refused.status_code == 200 and refused.json["allowed"] is False
    assert refused.json["rule"] == "limits"
    assert ops.post("/engines/dock/containers/decision", json=asked).json["allowed"] is True
    # and a create that asks for no memory gets the engine's cap when it is under the default
    policy = ops.get("/engines/twin/policy").json["settings"]
    assert policy["max_memory"] == 64 * 1024**2
    assert ops.get("/policy").json["settings"]["max_memory"] == 8 * 1024**3


def test_the_audit_line_names_the_engine_and_the_whole_path(
    ops, app, busybox_image, labels, tmp_path
):
    made = ops.post("/engines/twin/containers", json=body(busybox_image, labels))
    assert made.status_code == 201
    lines = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    line = next(entry for entry in lines if entry["method"] == "POST")
    assert line["engine"] == "twin" and line["path"] == "/engines/twin/containers"
    assert line["status"] == 201
    ops.delete(f"/containers/{made.json['id']}?force=true")
    lines = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert lines[-1]["engine"] == "dock" and lines[-1]["path"].startswith("/containers/")


def test_events_of_several_engines_in_one_stream_each_naming_its_engine(ops, docker_api, labels):
    name = f"vol-engines-{labels[TEST_LABEL]}"
    answer = ops.get(
        "/system/events?engine=dock&engine=twin&type=volume&action=create",
        headers={"Accept": "application/x-ndjson"},
        buffered=False,
    )
    assert answer.status_code == 200
    docker_api.create_volume(name, labels=labels)
    seen = []
    for chunk in answer.response:
        for line in chunk.splitlines():
            event = json.loads(line) if line.strip() else None
            if event and event.get("actor_id") == name:
                seen.append((event["engine"], event["action"], event["actor_id"]))
        if len(seen) >= 2:
            break
    answer.close()
    assert sorted(seen) == [("dock", "create", name), ("twin", "create", name)]
    # every engine the token may use; replays take one engine
    assert ops.get("/system/events?engine=*&until=1").status_code == 400
    assert ops.get("/system/events?engine=twin&until=1").status_code == 200
    assert ops.get("/system/events?engine=nope").status_code == 404


def test_a_swarm_operation_on_an_unreachable_engine_is_its_503(ops):
    answer = ops.get("/engines/gone/services")
    assert answer.status_code == 503 and answer.json["message"].startswith("engine `gone`")


def test_engines_settings_are_checked_when_the_service_starts(tmp_path):
    bad = [
        ([{"name": "Upper", "url": ENGINE_URL}], "a name is"),
        ([{"name": "a", "url": "http://x"}], "url must begin"),
        ([{"name": "a", "url": ENGINE_URL}, {"name": "a", "url": ENGINE_URL}], "named twice"),
        (
            [
                {"name": "a", "url": ENGINE_URL, "default": True},
                {"name": "b", "url": ENGINE_URL, "default": True},
            ],
            "mark one",
        ),
        ([{"name": "a", "url": ENGINE_URL, "tls": {"ca_file": "x"}}], "tls is for tcp"),
        (
            [
                {
                    "name": "a",
                    "url": "tcp://127.0.0.1:1",
                    "tls": {"ca_file": "/nope", "cert_file": "/nope", "key_file": "/nope"},
                }
            ],
            "cannot be read",
        ),
        ([{"name": "a", "url": ENGINE_URL, "settings": {"TOKENS": []}}], "settings may set"),
        (
            [{"name": "a", "url": ENGINE_URL, "settings": {"MAX_MEMORY": "lots"}}],
            "must be of the kind",
        ),
        (
            [
                {
                    "name": "a",
                    "url": "tcp://127.0.0.1:1",
                    "settings": {"ALLOWED_BIND_ROOTS": ["/srv"]},
                }
            ],
            "this machine",
        ),
        ([{"name": "a", "url": ENGINE_URL, "settings": {"DEFAULT_MEMORY": 10**12}}], "over"),
        ([{"name": "a", "url": ENGINE_URL, "colour": "red"}], "unknown keys"),
    ]
    for engines, words in bad:
        with pytest.raises(ValueError, match=words):
            create_app({"ENGINES": engines, "AUDIT_LOG": "/dev/null"})
    token = [{"name": "t", "hash": hash_token("t"), "scopes": ["read"], "engines": ["elsewhere"]}]
    with pytest.raises(ValueError, match="no engine is named elsewhere"):
        create_app({"TOKENS": token, "AUDIT_LOG": "/dev/null"})
    # the service's bind roots do not reach a remote engine unless it says its own
    with pytest.raises(ValueError, match="is remote"):
        create_app(
            {
                "ENGINES": [{"name": "far", "url": "tcp://127.0.0.1:1"}],
                "ALLOWED_BIND_ROOTS": [str(tmp_path)],
                "AUDIT_LOG": "/dev/null",
            }
        )
    # from a file, as DOCKYARD_ENGINES_FILE names it
    listed = tmp_path / "engines.json"
    listed.write_text(json.dumps([{"name": "one", "url": ENGINE_URL}]))
    app = create_app({"ENGINES_FILE": str(listed), "AUDIT_LOG": "/dev/null"})
    assert [engine.name for engine in app.extensions["dockyard_engines"]] == ["one"]


# -- an engine over TLS, with a client certificate ----------------------------------------------


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA, the engine's certificate for 127.0.0.1, a client's signed by the CA, and a
    stranger's (self-signed)."""
    where = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=where)  # fmt: skip
    for name, extra in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=where)  # fmt: skip
        (where / f"{name}.ext").write_text(extra + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem", cwd=where)  # fmt: skip
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=stranger",
            "-keyout", "stranger.key", "-out", "stranger.pem", cwd=where)  # fmt: skip
    return where


@pytest.fixture(scope="module")
def tls_engine(certificates):
    """The test engine's socket behind a TLS front that verifies client certificates:
    yields its tcp:// address."""
    port = free_port()
    where = certificates
    front = subprocess.Popen(
        [
            "socat",
            f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={where}/server.pem,"
            f"key={where}/server.key,cafile={where}/ca.pem,verify=1",
            f"UNIX-CONNECT:{ENGINE_URL.removeprefix('unix://')}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        eventually(lambda: _listening(port))
        yield f"tcp://127.0.0.1:{port}"
    finally:
        front.terminate()
        front.wait(timeout=10)


def _listening(port) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tls_files(where, who) -> dict:
    return {
        "ca_file": f"{where}/ca.pem",
        "cert_file": f"{where}/{who}.pem",
        "key_file": f"{where}/{who}.key",
    }


def test_a_tls_engine_answers_with_the_client_certificate_and_refuses_without(
    tls_engine, certificates, docker_api, busybox_image, labels, tmp_path
):
    app = make_app(
        ENGINES=[
            {"name": "dock", "url": ENGINE_URL},
            {
                "name": "tls",
                "url": tls_engine,
                "tls": tls_files(certificates, "client"),
                "default": True,
            },
            {"name": "stranger", "url": tls_engine, "tls": tls_files(certificates, "stranger")},
            {"name": "plain", "url": tls_engine},
        ],
        TOKENS=TOKENS[:1],
        AUDIT_LOG=str(tmp_path / "audit.log"),
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer ops"
    found = {engine["name"]: engine for engine in client.get("/engines").json}
    assert found["tls"]["reachable"] is True and found["tls"]["transport"] == "tls"
    assert found["tls"]["kind"] == "docker"
    for name in ("stranger", "plain"):
        assert found[name]["reachable"] is False, found[name]
    # plain paths reach the default engine, over TLS: a whole life, as on the socket
    made = client.post("/containers", json=body(busybox_image, labels, start=True))
    assert made.status_code == 201, made.json
    assert made.json["id"] in ours(docker_api)
    assert (
        client.post(f"/containers/{made.json['id']}/exec", json={"cmd": ["echo", "over tls"]}).json[
            "stdout"
        ]
        == "over tls\n"
    )
    assert client.get(f"/containers/{made.json['id']}/logs").status_code == 200
    assert client.delete(f"/containers/{made.json['id']}?force=true").status_code == 204
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(made.json["id"])
    for name in ("stranger", "plain"):
        refused = client.get(f"/engines/{name}/containers")
        assert refused.status_code in (502, 503), refused.json
        assert refused.json["message"].startswith(f"engine `{name}`")
    # the key is never answered nor logged
    assert "client.key" not in json.dumps(found)


def test_engine_ping_metrics_name_each_engine(ops):
    text = ops.get("/metrics", headers={"Accept": "text/plain"}).get_data(as_text=True)
    assert 'dockyard_engine_up{engine="dock"} 1.0' in text
    assert 'dockyard_engine_up{engine="twin"} 1.0' in text
    assert 'dockyard_engine_up{engine="gone"} 0.0' in text


def test_a_teams_token_sees_its_own_on_every_engine(app, ops, busybox_image, labels):
    team = app.test_client()
    team.environ_base["HTTP_AUTHORIZATION"] = "Bearer team"
    made = team.post("/engines/twin/containers", json=body(busybox_image, labels))
    assert made.status_code == 201
    other = ops.post("/containers", json=body(busybox_image, labels))
    listed = {c["id"] for c in team.get("/engines/dock/containers?all=true").json}
    assert made.json["id"] in listed and other.json["id"] not in listed
    assert team.get(f"/engines/twin/containers/{other.json['id']}").status_code == 404


def test_each_engine_speaks_its_own_api_version_and_what_an_older_one_lacks_is_a_501(tmp_path):
    app = make_app(
        ENGINES=[
            {"name": "dock", "url": ENGINE_URL, "default": True},
            {"name": "old", "url": ENGINE_URL, "api_version": "1.24"},
        ],
        TOKENS=TOKENS[:1],
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer ops"
    found = {engine["name"]: engine["api_version"] for engine in client.get("/engines").json}
    assert found["old"] == "1.24" and found["dock"] != "1.24"
    assert client.get("/engines/old/containers").status_code == 200
    # docker-py prunes volumes from API 1.25 on
    refused = client.post("/engines/old/volumes/prune", json={"label": [f"{TEST_LABEL}=none"]})
    assert refused.status_code == 501, refused.json
    assert refused.json["message"].startswith("engine `old`: the engine's API version lacks it")
    assert (
        client.post(
            "/engines/dock/volumes/prune", json={"label": [f"{TEST_LABEL}=none"]}
        ).status_code
        == 200
    )

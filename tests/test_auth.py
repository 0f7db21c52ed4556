"""Tokens and scopes, driven by the spec's own table of scopes; audit lines; CORS."""

import json
import os
import re
import stat
import subprocess
import sys
import time

import pytest

from service import create_app
from service.auth import SCOPES, hash_token
from tests.conftest import ENGINE_URL, ROOT, free_port, make_client, ours

SECRETS = {scope: f"secret-{scope}-token" for scope in SCOPES}
# matches nothing on the engine: operations the table lets through change nothing
NO_MATCH = "dockyard.test.nothing=here"


def token_entries(**extra):
    return [
        {"name": f"{scope}-bot", "hash": hash_token(secret), "scopes": [scope], **extra}
        for scope, secret in SECRETS.items()
    ]


@pytest.fixture
def audit_file(tmp_path):
    return tmp_path / "audit.log"


@pytest.fixture
def secured(audit_file):
    app = create_app(
        {
            "TESTING": True,
            "DOCKER_URL": ENGINE_URL,
            "TOKENS": token_entries(),
            "AUDIT_LOG": str(audit_file),
            "CORS_ORIGINS": ["https://console.example"],
        }
    )
    return app.test_client()


def bearer(scope):
    return {"Authorization": f"Bearer {SECRETS[scope]}"}


def operations(client):
    """Every operation of the served spec with its scope, made concrete."""
    spec = client.get("/openapi.json").json
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            # an operation called with a ticket, not a token (a terminal's WebSocket)
            if method == "parameters" or operation["security"] == []:
                continue
            ref = "no-such-box" if path.startswith("/teams/") else "dockyard-test/none:1"
            concrete = path.replace("{ref}", ref).replace("{id}", "no-such-box")
            concrete = concrete.replace("{name}", "no-such-name")
            yield method, concrete, operation.get("x-scope")


def call(client, method, path, headers):
    kwargs = {"headers": headers, "buffered": False}
    if method in ("post", "put"):
        kwargs["json"] = {"label": [NO_MATCH]}
    else:
        path += f"?label={NO_MATCH}"
    answer = getattr(client, method)(path, **kwargs)
    status = answer.status_code
    body = answer.json if answer.is_json and status >= 400 else None
    answer.close()
    return status, body


def test_every_operation_declares_a_scope_or_is_public(secured):
    public = {
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/concepts"),
        ("get", "/concepts/{id}"),
        ("get", "/concepts/{id}/diagram"),
    }
    for path, methods in secured.get("/openapi.json").json["paths"].items():
        for method, operation in methods.items():
            if method == "parameters":
                continue
            scope = operation.get("x-scope")
            if (method, path) == ("get", "/auth/whoami"):
                # what a token is: any valid token may ask, and it declares no scope
                assert scope is None and operation["security"] == [{"bearerAuth": []}]
                continue
            assert scope in SCOPES or (method, path) in public, f"{method} {path}"


def test_each_scope_is_refused_where_another_is_needed(secured, docker_api):
    before = ours(docker_api)
    for method, path, needed in operations(secured):
        if needed is None:
            continue
        for scope in SCOPES:
            status, body = call(secured, method, path, bearer(scope))
            if scope == needed:
                assert status not in (401, 403), (method, path, scope, body)
            else:
                assert status == 403, (method, path, scope, status)
                assert f"`{needed}` scope" in body["message"]
                assert f"{scope}-bot" in body["message"]
    # nothing the table let through changed the engine
    assert ours(docker_api) == before


def test_read_token_cannot_create_or_remove(secured, docker_api, busybox_image, labels):
    before = ours(docker_api)
    body = {"image": busybox_image, "labels": labels, "start": True}
    answer = secured.post("/containers", json=body, headers=bearer("read"))
    assert answer.status_code == 403
    assert secured.get("/containers", headers=bearer("read")).status_code == 200
    assert ours(docker_api) == before
    created = secured.post("/containers", json=body, headers=bearer("write"))
    assert created.status_code == 201
    cid = created.json["id"]
    assert (
        secured.delete(f"/containers/{cid}?force=true", headers=bearer("read")).status_code == 403
    )
    assert docker_api.inspect_container(cid)


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "needs a token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer"),
        ({"Authorization": "Bearer "}, "Bearer"),
        ({"Authorization": "Bearer not-a-known-token"}, "unknown token"),
    ],
)
def test_missing_or_bad_token_is_401(secured, headers, reason):
    answer = secured.get("/system/info", headers=headers)
    assert answer.status_code == 401
    assert reason in answer.json["message"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(tmp_path):
    app = create_app(
        {"DOCKER_URL": ENGINE_URL, "TOKENS": token_entries(expires="2001-01-01T00:00:00Z")}
    )
    answer = app.test_client().get("/system/info", headers=bearer("read"))
    assert answer.status_code == 401
    assert "expired" in answer.json["message"]


def test_tokens_from_a_file(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(token_entries()))
    app = create_app({"DOCKER_URL": ENGINE_URL, "TOKENS_FILE": str(path)})
    client = app.test_client()
    assert client.get("/system/info", headers=bearer("read")).status_code == 200
    assert client.get("/system/info").status_code == 401


def test_malformed_token_configuration_stops_the_service():
    with pytest.raises(ValueError, match="sha256"):
        create_app({"TOKENS": [{"name": "x", "hash": "plain-secret", "scopes": ["read"]}]})
    with pytest.raises(ValueError, match="unknown scopes"):
        create_app({"TOKENS": [{"name": "x", "hash": hash_token("s"), "scopes": ["root"]}]})


def test_whoami_takes_any_valid_token_and_says_its_scopes():
    # a checking client: each answer is held to the document
    client = make_client(TOKENS=token_entries(expires="2999-01-01T00:00:00Z"))
    for scope in SCOPES:
        answer = client.get("/auth/whoami", headers=bearer(scope))
        assert answer.status_code == 200, scope
        assert answer.json == {
            "name": f"{scope}-bot",
            "scopes": [scope],
            "team": None,
            "expires": "2999-01-01T00:00:00+00:00",
            "engines": None,
        }
    assert client.get("/auth/whoami").status_code == 401
    bad = client.get("/auth/whoami", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_public_endpoints_need_no_token(secured):
    for path in (
        "/health",
        "/ready",
        "/openapi.json",
        "/docs",
        "/concepts",
        "/concepts/image",
        "/",
    ):
        assert secured.get(path).status_code == 200, path


def test_spec_declares_the_security_scheme(secured):
    spec = secured.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    info = spec["paths"]["/system/info"]["get"]
    assert info["security"] == [{"bearerAuth": []}]
    assert {"401", "403"} <= set(info["responses"])


def test_audit_lines_for_mutations_never_hold_the_token(secured, audit_file, busybox_image, labels):
    secured.get("/system/info", headers=bearer("read"))  # not a mutation
    answer = secured.post(
        "/containers",
        json={"image": busybox_image, "labels": labels},
        headers={**bearer("write"), "X-Request-ID": "req-42"},
    )
    assert answer.status_code == 201
    assert answer.headers["X-Request-ID"] == "req-42"
    refused = secured.post("/system/prune", json={}, headers=bearer("write"))
    assert refused.status_code == 403

    lines = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert [line["method"] for line in lines] == ["POST", "POST"]
    created, denied = lines
    assert created["request_id"] == "req-42"
    assert created["token"] == "write-bot"
    assert created["path"] == "/containers" and created["status"] == 201
    assert denied["status"] == 403 and denied["path"] == "/system/prune"
    text = audit_file.read_text()
    assert not any(secret in text for secret in SECRETS.values())


def test_request_id_is_made_when_absent_or_unsafe(secured):
    made = secured.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    unsafe = secured.get("/health", headers={"X-Request-ID": "bad id; <script>" + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["X-Request-ID"])


def test_cors_only_for_configured_origins(secured):
    allowed = secured.get("/health", headers={"Origin": "https://console.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://console.example"
    other = secured.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = secured.options(
        "/containers",
        headers={"Origin": "https://console.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    "bind_env, bind_flag",
    [("0.0.0.0:{port}", []), ("unix:{sock}", ["-b", "127.0.0.1:{port}"])],
    ids=["setting", "command-line"],
)
def test_open_access_is_served_on_unix_sockets_only(tmp_path, bind_env, bind_flag):
    port, sock = free_port(), tmp_path / "api.sock"
    env = {
        "DOCKYARD_BIND": bind_env.format(port=port, sock=sock),
        "DOCKYARD_OPEN_ACCESS": "true",
        "DOCKYARD_DOCKER_URL": ENGINE_URL,
        "PATH": "/usr/bin:/bin",
    }
    conf = str(ROOT / "deploy" / "gunicorn.conf.py")
    process = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", conf, *(a.format(port=port) for a in bind_flag)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode != 0
    assert "only served on a unix socket" in process.stderr + process.stdout


def test_open_access_on_a_unix_socket_is_for_this_user_only(tmp_path):
    sock = tmp_path / "api.sock"
    env = {
        **os.environ,
        "DOCKYARD_BIND": f"unix:{sock}",
        "DOCKYARD_OPEN_ACCESS": "true",
        "DOCKYARD_DOCKER_URL": ENGINE_URL,
    }
    conf = str(ROOT / "deploy" / "gunicorn.conf.py")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", conf], cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.1)
        assert stat.S_IMODE(os.stat(sock).st_mode) & 0o077 == 0
        answer = subprocess.run(
            ["curl", "-s", "--unix-socket", str(sock), "http://localhost/system/info"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert "server_version" in json.loads(answer.stdout)
    finally:
        process.terminate()
        process.wait(timeout=30)

"""Who may call: no silent administrator, no door for web pages or other local users, scopes
that follow power, and actions that land on the container that was checked."""

import io
import json
import os
import stat
import subprocess
import urllib.error
import urllib.request

import docker
import pytest

from service.auth import SCOPES, hash_token
from tests.conftest import admin_headers, make_client, served, tar_of

SECRETS = {scope: f"secret-{scope}-token" for scope in SCOPES}


def bearer(scope):
    return {"Authorization": f"Bearer {SECRETS[scope]}"}


@pytest.fixture
def scoped():
    tokens = [
        {"name": f"{scope}-bot", "hash": hash_token(secret), "scopes": [scope]}
        for scope, secret in SECRETS.items()
    ]
    return make_client(TOKENS=tokens)


@pytest.fixture
def running(docker_api, busybox_image, labels):
    def make(**kwargs):
        created = docker_api.create_container(
            busybox_image, command=["sleep", "300"], labels=labels, **kwargs
        )
        docker_api.start(created["Id"])
        return created["Id"]

    return make


def fetch(url, method="GET", headers=None, data=None):
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_without_tokens_an_admin_token_is_made_for_this_user_only(admin_token_file):
    with served() as (base, _):
        assert fetch(f"{base}/system/info")[0] == 401
        assert fetch(f"{base}/system/info", headers=admin_headers())[0] == 200
    mode = stat.S_IMODE(os.stat(admin_token_file).st_mode)
    assert mode == 0o600
    assert admin_token_file.read_text().startswith("Authorization: Bearer dy_")


def test_another_local_user_is_not_the_administrator(admin_token_file, tmp_path):
    """`su nobody`: it can reach 127.0.0.1 but not read the token, so it gets a 401."""
    with served() as (base, _):

        def as_nobody(command):
            return subprocess.run(
                ["su", "-s", "/bin/sh", "nobody", "-c", command],
                capture_output=True,
                text=True,
                timeout=20,
            )

        code = as_nobody(f"curl -s -o /dev/null -w '%{{http_code}}' -X POST {base}/system/prune")
        assert code.stdout == "401"
        assert as_nobody(f"cat {admin_token_file}").returncode != 0
        # the owner uses the file as it is
        own = subprocess.run(
            ["curl", "-s", "-H", f"@{admin_token_file}", f"{base}/system/info"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert "server_version" in json.loads(own.stdout)


def test_a_token_file_others_may_read_stops_the_service(tmp_path):
    path = tmp_path / "admin-token"
    path.write_text("Authorization: Bearer dy_x\n")
    path.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        make_client(ADMIN_TOKEN_FILE=str(path))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},
    ],
    ids=["origin", "null-origin", "other-port", "fetch-site", "no-cors-text"],
)
def test_a_web_page_cannot_change_state(client, running, docker_api, headers):
    """A page's `fetch(..., {method: "POST", mode: "no-cors"})`: no preflight, but the browser
    says where it comes from; the container must still run afterwards."""
    box = running()
    answer = client.post(f"/containers/{box}/kill", headers=headers)
    assert answer.status_code == 403
    assert "rule `cross-site`" in answer.json["message"]
    assert docker_api.inspect_container(box)["State"]["Running"] is True
    assert client.post("/system/prune", headers=headers, data="{}").status_code == 403


def test_same_origin_and_configured_origins_may_change_state(running, docker_api):
    client = make_client(CORS_ORIGINS=["https://console.example"])
    box = running()
    same = client.post(
        f"/containers/{box}/pause",
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 200, same.json
    console = client.post(
        f"/containers/{box}/unpause",
        headers={"Origin": "https://console.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert console.status_code == 200, console.json
    assert docker_api.inspect_container(box)["State"]["Paused"] is False


def test_a_rebound_host_name_is_refused(scoped, running, docker_api):
    """DNS rebinding: the attacker's name points at 127.0.0.1; the Host header still names it."""
    box = running(environment=["DB_PASSWORD=hunter2"])
    for path in ("/system/info", f"/containers/{box}"):
        answer = scoped.get(path, headers={"Host": "attacker.example:8000", **bearer("admin")})
        assert answer.status_code == 403
        assert "rule `allowed-hosts`" in answer.json["message"]
        assert "hunter2" not in answer.get_data(as_text=True)
    assert scoped.get("/health", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
        assert (
            scoped.get("/system/info", headers={"Host": host, **bearer("read")}).status_code == 200
        )


def test_head_takes_the_scope_of_its_get(scoped):
    assert scoped.head("/system/info", headers=bearer("read")).status_code == 200
    assert scoped.head("/containers", headers=bearer("read")).status_code == 200
    assert scoped.head("/system/info", headers=bearer("operate")).status_code == 403


def test_what_reaches_inside_a_container_needs_the_exec_scope(
    scoped, running, docker_api, busybox_image, labels
):
    """An `operate` token could print every secret with exec; a `write` one with commit (no
    pause) then image export."""
    box = running(environment=["DB_PASSWORD=hunter2"])
    for scope in ("operate", "write", "read"):
        for method, path, kwargs in [
            ("post", f"/containers/{box}/exec", {"json": {"cmd": ["cat", "/proc/1/environ"]}}),
            ("post", f"/containers/{box}/commit", {"json": {"pause": False}}),
            ("get", f"/containers/{box}/export", {}),
            ("get", f"/containers/{box}/archive?path=/proc/1/environ", {}),
        ]:
            answer = getattr(scoped, method)(path, headers=bearer(scope), **kwargs)
            assert answer.status_code == 403, (scope, path)
            assert "`exec` scope" in answer.json["message"]
    ran = scoped.post(
        f"/containers/{box}/exec", json={"cmd": ["echo", "in"]}, headers=bearer("exec")
    )
    assert ran.status_code == 200 and ran.json["stdout"] == "in\n"
    spec = scoped.get("/openapi.json").json["paths"]
    assert spec["/containers/{id}/exec"]["post"]["x-scope"] == "exec"
    assert spec["/containers/{id}/archive"]["put"]["x-scope"] == "exec"


class RemovesFirst(io.BytesIO):
    """A request body that removes a container when the service starts reading it: what a
    client can do between the service's check and its call to the daemon."""

    def __init__(self, data, docker_api, victim):
        super().__init__(data)
        self._api, self._victim = docker_api, victim

    def _first(self):
        if self._victim:
            self._api.remove_container(self._victim, force=True)
            self._victim = None

    def read(self, size=-1):
        self._first()
        return super().read(size)

    def readinto(self, buffer):
        self._first()
        return super().readinto(buffer)


def test_the_action_lands_on_the_container_that_was_checked(
    running, docker_api, busybox_image, labels, tmp_path
):
    """A decoy named like a prefix of the service's own id wins the lookup; removed between
    the check and the call, the name would mean the service's own container."""
    own = running()
    decoy = docker_api.create_container(
        busybox_image, command=["sleep", "300"], labels=labels, name=own[:12]
    )["Id"]
    audit = tmp_path / "audit.log"
    client = make_client(SELF_CONTAINER=own, AUDIT_LOG=str(audit))
    body = RemovesFirst(tar_of({"planted": b"x"}), docker_api, decoy)
    answer = client.put(
        f"/containers/{own[:12]}/archive?path=/",
        input_stream=body,
        content_type="application/x-tar",
    )
    # it went to the decoy it checked, gone meanwhile; not to the service's own container
    assert answer.status_code == 404, answer.json
    assert "no such container" in answer.json["message"].lower()
    with pytest.raises(docker.errors.NotFound):
        docker_api.get_archive(own, "/planted")
    (line,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert line["target_id"] == decoy and line["target"] == {"id": own[:12]}

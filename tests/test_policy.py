"""The container policy, one case per forbidden field and per spelling; the engine is checked
after each refusal to hold no new container."""

import os

import pytest

from service import create_app
from service.auth import hash_token
from tests.conftest import ENGINE_URL, TEST_LABEL

# fields that would give a container the host: none exists in the API, in any spelling
FORBIDDEN_FIELDS = [
    {"privileged": True},
    {"Privileged": True},
    {"cap_add": ["SYS_ADMIN"]},
    {"capabilities": ["ALL"]},
    {"devices": ["/dev/sda:/dev/sda"]},
    {"network_mode": "host"},
    {"pid_mode": "host"},
    {"pid": "host"},
    {"ipc_mode": "host"},
    {"uts_mode": "host"},
    {"userns_mode": "host"},
    {"cgroupns_mode": "host"},
    {"security_opt": ["seccomp=unconfined"]},
    {"security_opt": ["apparmor:unconfined"]},
    {"security_opt": ["label=disable"]},
    {"sysctls": {"kernel.shm_rmid_forced": "1"}},
    {"binds": ["/:/host"]},
    {"Binds": ["/:/host"]},
    {"volumes": {"/": {"bind": "/host"}}},
    {"volumes_from": ["other"]},
    {"HostConfig": {"Privileged": True}},
    {"host_config": {"Binds": ["/:/host"]}},
    {"mounts": [{"type": "bind", "source": "/", "target": "/h", "propagation": "rshared"}]},
    {"mounts": [{"type": "npipe", "source": "/", "target": "/h"}]},
]


@pytest.fixture
def allowed_root(tmp_path):
    root = tmp_path / "allowed"
    root.mkdir()
    (root / "data").mkdir()
    os.symlink("/etc", root / "etc-link")
    os.symlink("/var/run/docker.sock", root / "socket-link")
    return root


@pytest.fixture
def policed(allowed_root):
    return create_app(
        {"TESTING": True, "DOCKER_URL": ENGINE_URL, "ALLOWED_BIND_ROOTS": [str(allowed_root)]}
    ).test_client()


def bind_request(image, labels, source, target):
    return {
        "image": image,
        "labels": labels,
        "mounts": [{"type": "bind", "source": source, "target": target}],
    }


def containers(docker_api):
    return docker_api.containers(all=True, quiet=True)


@pytest.mark.parametrize("field", FORBIDDEN_FIELDS, ids=lambda f: next(iter(f)))
def test_host_giving_fields_do_not_exist(policed, docker_api, busybox_image, labels, field):
    before = containers(docker_api)
    answer = policed.post("/containers", json={"image": busybox_image, "labels": labels, **field})
    assert answer.status_code == 422, answer.json
    assert containers(docker_api) == before


def bind_cases(root):
    return [
        ("/", "host-system"),
        ("//", "host-system"),
        ("/./", "host-system"),
        ("/etc", "host-system"),
        ("/etc/", "host-system"),
        ("//etc//", "host-system"),
        ("/tmp/../etc", "host-system"),
        ("/var/run/docker.sock", "host-system"),
        ("/run/docker.sock", "host-system"),
        ("//var/./run/../run/docker.sock", "host-system"),
        ("/var/lib/docker/volumes", "host-system"),
        ("/proc/1/root", "host-system"),
        ("/var", "host-system"),
        (f"{root}/etc-link", "host-system"),
        (f"{root}/etc-link/shadow", "host-system"),
        (f"{root}/socket-link", "host-system"),
        (f"{root}/../", "bind-roots"),
        (f"{root}/data/../../elsewhere", "bind-roots"),
        (f"{root}-sibling", "bind-roots"),
        ("/srv/data", "bind-roots"),
    ]


def test_bind_mounts_refused_in_every_spelling(
    policed, docker_api, busybox_image, labels, allowed_root
):
    before = containers(docker_api)
    for source, rule in bind_cases(allowed_root):
        body = bind_request(busybox_image, labels, source, "/host")
        answer = policed.post("/containers", json=body)
        assert answer.status_code == 403, (source, answer.json)
        assert f"rule `{rule}`" in answer.json["message"], source
        decision = policed.post("/containers?dry_run=true", json=body)
        assert decision.status_code == 200
        assert decision.json["allowed"] is False and decision.json["rule"] == rule, source
    assert containers(docker_api) == before


@pytest.mark.parametrize(
    "fields, rule",
    [
        ({"network": "host"}, "host-network"),
        ({"ports": [{"container_port": 80, "host_ip": "0.0.0.0"}]}, "publish-address"),
        ({"ports": [{"container_port": 80, "host_ip": "::"}]}, "publish-address"),
        ({"ports": [{"container_port": 80, "host_ip": "192.168.1.10"}]}, "publish-address"),
        ({"ports": [{"container_port": 80, "host_port": 80}]}, "low-ports"),
        ({"ports": [{"container_port": 22, "host_port": 22, "protocol": "udp"}]}, "low-ports"),
    ],
)
def test_network_and_port_rules(policed, docker_api, busybox_image, labels, fields, rule):
    before = containers(docker_api)
    answer = policed.post("/containers", json={"image": busybox_image, "labels": labels, **fields})
    assert answer.status_code == 403
    assert f"rule `{rule}`" in answer.json["message"]
    assert containers(docker_api) == before


def test_dry_run_answers_the_body_and_creates_nothing(
    policed, docker_api, busybox_image, labels, allowed_root
):
    before = containers(docker_api)
    body = bind_request(busybox_image, labels, f"{allowed_root}/data/", "/d")
    answer = policed.post("/containers?dry_run=true", json=body)
    assert answer.status_code == 200
    assert answer.json["allowed"] is True
    host = answer.json["engine_config"]["HostConfig"]
    assert host["Mounts"][0]["Source"] == f"{allowed_root}/data"
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert containers(docker_api) == before


def test_defaults_are_injected(policed, docker_api, busybox_image, labels):
    answer = policed.post("/containers", json={"image": busybox_image, "labels": labels})
    assert answer.status_code == 201
    host = docker_api.inspect_container(answer.json["id"])["HostConfig"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["Memory"] == 1024**3
    assert host["PidsLimit"] == 1024
    chosen = policed.post(
        "/containers",
        json={"image": busybox_image, "labels": labels, "memory": 8 * 1024**2, "pids_limit": 10},
    )
    host = docker_api.inspect_container(chosen.json["id"])["HostConfig"]
    assert (host["Memory"], host["PidsLimit"]) == (8 * 1024**2, 10)


def test_secrets_are_hidden_without_admin(docker_api, busybox_image, labels):
    tokens = [
        {"name": "reader", "hash": hash_token("r"), "scopes": ["read", "write"]},
        {"name": "boss", "hash": hash_token("a"), "scopes": ["read", "admin"]},
    ]
    client = create_app({"DOCKER_URL": ENGINE_URL, "TOKENS": tokens}).test_client()
    env = {"DB_PASSWORD": "hunter2", "API_TOKEN": "t0k", "aws_secret_key": "k", "PLAIN": "shown"}
    created = client.post(
        "/containers",
        json={"image": busybox_image, "labels": labels, "env": env},
        headers={"Authorization": "Bearer r"},
    )
    assert created.status_code == 201
    assert "hunter2" not in created.get_data(as_text=True)
    path = f"/containers/{created.json['id']}"
    seen = client.get(path, headers={"Authorization": "Bearer r"}).json["config"]["env"]
    assert {name: seen[name] for name in env} == {
        "DB_PASSWORD": "********",
        "API_TOKEN": "********",
        "aws_secret_key": "********",
        "PLAIN": "shown",
    }
    full = client.get(path, headers={"Authorization": "Bearer a"}).json["config"]["env"]
    assert full["DB_PASSWORD"] == "hunter2"


def test_the_services_own_container_is_protected(docker_api, busybox_image, labels):
    own = docker_api.create_container(busybox_image, command=["sleep", "300"], labels=labels)
    docker_api.start(own["Id"])
    client = create_app({"DOCKER_URL": ENGINE_URL, "SELF_CONTAINER": own["Id"]}).test_client()
    for method, path, body in [
        ("post", "stop", None),
        ("post", "kill", None),
        ("post", "pause", None),
        ("post", "exec", {"cmd": ["true"]}),
        ("post", "update", {"memory": 64 * 1024**2}),
        ("post", "rename", {"name": "stolen"}),
        ("delete", "", None),
    ]:
        url = f"/containers/{own['Id'][:12]}/{path}".rstrip("/")
        answer = getattr(client, method)(url, json=body) if body else getattr(client, method)(url)
        assert answer.status_code == 403, (path, answer.json)
        assert "self-protection" in answer.json["message"]
    bulk = client.delete(f"/containers?force=true&label={TEST_LABEL}={labels[TEST_LABEL]}")
    assert bulk.json["removed"] == []
    assert bulk.json["failed"][0]["code"] == 403
    assert docker_api.inspect_container(own["Id"])["State"]["Running"] is True


def test_bind_mounts_are_made_read_only(policed, docker_api, busybox_image, labels, allowed_root):
    body = bind_request(busybox_image, labels, f"{allowed_root}/data", "/d")
    answer = policed.post("/containers", json=body)
    assert answer.status_code == 201
    (mount,) = docker_api.inspect_container(answer.json["id"])["Mounts"]
    assert mount["RW"] is False

"""The container policy, one case per forbidden field and per spelling; the engine is checked
after each refusal to hold no new container."""

import os

import pytest

from service.auth import hash_token
from tests.conftest import TEST_LABEL, make_client, ours

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
    return make_client(ALLOWED_BIND_ROOTS=[str(allowed_root)])


def bind_request(image, labels, source, target):
    return {
        "image": image,
        "labels": labels,
        "mounts": [{"type": "bind", "source": source, "target": target}],
    }


def containers(docker_api):
    return ours(docker_api)


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
        decision = policed.post("/containers/decision", json=body)
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


def test_a_decision_answers_the_body_and_creates_nothing(
    policed, docker_api, busybox_image, labels, allowed_root
):
    before = containers(docker_api)
    body = bind_request(busybox_image, labels, f"{allowed_root}/data/", "/d")
    answer = policed.post("/containers/decision", json=body)
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
    client = make_client(TOKENS=tokens)
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
    client = make_client(SELF_CONTAINER=own["Id"])
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


def created_on(client, image, labels, mounts, **fields):
    answer = client.post(
        "/containers",
        json={"image": image, "labels": labels, "command": ["sleep", "300"], "mounts": mounts},
    )
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def test_a_bind_swapped_for_a_symlink_after_create_is_refused_at_start(
    policed, docker_api, busybox_image, labels, allowed_root
):
    """Checked at create, mounted at start: the directory became a link to `/` meanwhile."""
    (allowed_root / "x").mkdir()
    box = created_on(
        policed,
        busybox_image,
        labels,
        [{"type": "bind", "source": f"{allowed_root}/x", "target": "/h"}],
    )
    (allowed_root / "x").rmdir()
    os.symlink("/", allowed_root / "x")
    answer = policed.post(f"/containers/{box}/start")
    assert answer.status_code == 403
    assert "rule `host-system`" in answer.json["message"]
    assert docker_api.inspect_container(box)["State"]["Running"] is False
    for action in ("restart", "unpause"):
        assert policed.post(f"/containers/{box}/{action}").status_code == 403


def test_a_link_planted_by_another_container_is_refused(
    docker_api, busybox_image, labels, allowed_root
):
    """With writable binds, container A plants `w/x -> /` after B was created on `w/x`."""
    client = make_client(ALLOWED_BIND_ROOTS=[str(allowed_root)], ALLOW_WRITABLE_BINDS=True)
    (allowed_root / "w" / "x").mkdir(parents=True)
    writer = created_on(
        client,
        busybox_image,
        labels,
        [{"type": "bind", "source": f"{allowed_root}/w", "target": "/w"}],
    )
    victim = created_on(
        client,
        busybox_image,
        labels,
        [{"type": "bind", "source": f"{allowed_root}/w/x", "target": "/h"}],
    )
    assert client.post(f"/containers/{writer}/start").status_code == 200
    planted = client.post(
        f"/containers/{writer}/exec", json={"cmd": ["sh", "-c", "rmdir /w/x && ln -s / /w/x"]}
    )
    assert planted.json["exit_code"] == 0
    answer = client.post(f"/containers/{victim}/start")
    assert answer.status_code == 403
    assert "rule `host-system`" in answer.json["message"]
    assert docker_api.inspect_container(victim)["State"]["Running"] is False


@pytest.fixture
def volume(docker_api, labels):
    def make(name, **options):
        docker_api.create_volume(name, driver_opts=options, labels=labels)
        return name

    return make


def test_a_volume_that_binds_the_host_is_refused(
    policed, docker_api, busybox_image, labels, volume
):
    """`docker volume create -o type=none -o o=bind -o device=/ rootvol`, made elsewhere."""
    name = volume(f"rootvol-{labels[TEST_LABEL]}", type="none", o="bind", device="/")
    before = containers(docker_api)
    body = {
        "image": busybox_image,
        "labels": labels,
        "mounts": [{"type": "volume", "source": name, "target": "/h"}],
    }
    answer = policed.post("/containers", json=body)
    assert answer.status_code == 403
    assert "rule `host-system`" in answer.json["message"]
    decision = policed.post("/containers/decision", json=body).json
    assert decision["allowed"] is False and decision["rule"] == "host-system"
    assert containers(docker_api) == before


def test_volume_options_beyond_a_bind_under_the_roots_are_refused(
    policed, docker_api, busybox_image, labels, volume, allowed_root
):
    mounted = volume(
        f"data-{labels[TEST_LABEL]}", type="none", o="bind", device=f"{allowed_root}/data"
    )
    box = created_on(
        policed, busybox_image, labels, [{"type": "volume", "source": mounted, "target": "/d"}]
    )
    (mount,) = docker_api.inspect_container(box)["Mounts"]
    assert mount["RW"] is False  # it binds a host path: read-only like a bind
    disk = volume(f"disk-{labels[TEST_LABEL]}", type="ext4", device="/tmp/disk.img")
    nfs = volume(f"nfs-{labels[TEST_LABEL]}", type="nfs", o="addr=127.0.0.1", device=":/export")
    for name, rule in ((disk, "volume-options"), (nfs, "volume-options")):
        body = {
            "image": busybox_image,
            "labels": labels,
            "mounts": [{"type": "volume", "source": name, "target": "/d"}],
        }
        answer = policed.post("/containers", json=body)
        assert answer.status_code == 403 and f"rule `{rule}`" in answer.json["message"], name


def test_containers_made_elsewhere_with_host_powers_cannot_be_driven(
    docker_api, busybox_image, labels, running_elsewhere
):
    """An `operate` token started, and an `exec` one ran `chroot /host` in, a container made
    with `docker run -v /:/host`: the policy never saw it."""
    client = make_client(
        TOKENS=[{"name": "ops", "hash": hash_token("o"), "scopes": ["operate", "exec", "write"]}]
    )
    headers = {"Authorization": "Bearer o"}
    cases = [
        (running_elsewhere(binds=["/:/host"]), "host-system"),
        (running_elsewhere(privileged=True), "foreign-container"),
        (running_elsewhere(cap_add=["SYS_ADMIN"]), "foreign-container"),
        (running_elsewhere(pid_mode="host"), "foreign-container"),
        (running_elsewhere(network_mode="host"), "host-network"),
        (running_elsewhere(port_bindings={8080: 18080}), "publish-address"),
    ]
    for box, rule in cases:
        for method, path, body in [
            ("post", "start", None),
            ("post", "restart", None),
            ("post", "exec", {"cmd": ["chroot", "/host", "true"]}),
            ("get", "archive?path=/etc/hostname", None),
            ("get", "export", None),
            ("post", "commit", {"pause": False}),
            ("post", "update", {"pids_limit": 100}),
        ]:
            kwargs = {"headers": headers, **({"json": body} if body else {})}
            answer = getattr(client, method)(f"/containers/{box}/{path}", **kwargs)
            assert answer.status_code == 403, (rule, path, answer.status_code)
            assert f"rule `{rule}`" in answer.json["message"], (rule, path)
        # what only stops it is still allowed
        assert client.post(f"/containers/{box}/stop?timeout=0", headers=headers).status_code == 200


@pytest.fixture
def running_elsewhere(docker_api, busybox_image, labels):
    def make(**host):
        ports = list(host.get("port_bindings", {}))
        created = docker_api.create_container(
            busybox_image,
            command=["sleep", "300"],
            labels=labels,
            ports=ports,
            host_config=docker_api.create_host_config(**host),
        )
        return created["Id"]

    return make


def test_a_socket_is_never_bound(policed, docker_api, busybox_image, labels, allowed_root):
    import socket

    path = allowed_root / "data" / "app.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        body = bind_request(busybox_image, labels, str(path), "/s")
        answer = policed.post("/containers", json=body)
    assert answer.status_code == 403
    assert "rule `socket`" in answer.json["message"]


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_bind_roots_others_may_change_stop_the_service(tmp_path, mode):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(mode)
    with pytest.raises(ValueError, match="owned by root and writable by no one else"):
        make_client(ALLOWED_BIND_ROOTS=[str(root)])
    os.chown(root, 65534, 65534)
    root.chmod(0o755)
    with pytest.raises(ValueError, match="owned by root"):
        make_client(ALLOWED_BIND_ROOTS=[str(root)])


def test_limits_are_capped_at_create_and_update(client, docker_api, busybox_image, labels):
    for field, value in (("memory", 9 * 1024**3), ("pids_limit", 5000), ("cpus", 9)):
        body = {"image": busybox_image, "labels": labels, field: value}
        answer = client.post("/containers", json=body)
        assert answer.status_code == 403 and "rule `limits`" in answer.json["message"], field
    assert ours(docker_api) == []
    made = client.post("/containers", json={"image": busybox_image, "labels": labels})
    box = made.json["id"]
    answer = client.post(f"/containers/{box}/update", json={"memory": 9 * 1024**3})
    assert answer.status_code == 403 and "rule `limits`" in answer.json["message"]
    assert docker_api.inspect_container(box)["HostConfig"]["Memory"] == 1024**3
    capped = make_client(MAX_MEMORY=64 * 1024**2, DEFAULT_MEMORY=32 * 1024**2)
    assert (
        capped.post(f"/containers/{box}/update", json={"memory": 128 * 1024**2}).status_code == 403
    )

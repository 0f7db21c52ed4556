"""One policy on every path into the engine, judging what the engine will run after references
are resolved: each way around it that was found, tried as a token of each scope would, and the
engine checked afterwards. Then the table itself against the live engine."""

import gzip
import http.server
import io
import tarfile
import threading

import docker
import pytest

from service import create_app, policy
from service.auth import hash_token
from service.blueprints.policy import readme_with_table
from service.policy.table import (
    CONTAINER_SPEC,
    HOST_CONFIG,
    SERVICE_SPEC,
    TASK_TEMPLATE,
    Context,
)
from tests.conftest import (
    ENGINE_URL,
    ROOT,
    RUN_ID,
    TEST_LABEL,
    eventually,
    free_port,
    make_client,
    ours,
    single_node_swarm,
)

TOKENS = [
    {"name": "reader", "hash": hash_token("r"), "scopes": ["read"]},
    {"name": "operator", "hash": hash_token("o"), "scopes": ["read", "operate"]},
    {"name": "writer", "hash": hash_token("w"), "scopes": ["read", "write"]},
    {"name": "execer", "hash": hash_token("x"), "scopes": ["read", "write", "exec"]},
]
READ, OPERATE, WRITE, EXEC = (
    {"Authorization": f"Bearer {secret}"} for secret in ("r", "o", "w", "x")
)
SCOPE = {"label": f"{TEST_LABEL}={RUN_ID}"}


def refused(answer, rule):
    assert answer.status_code == 403, answer.json
    assert f"rule `{rule}`" in answer.json["message"], answer.json["message"]


@pytest.fixture(scope="module")
def swarm(docker_api):
    with single_node_swarm(docker_api) as made:
        yield made


def sleeper(docker_api, image, labels, name=None, **host):
    """A container made elsewhere (the docker CLI's way), with what ``host`` gives it."""
    config = docker_api.create_host_config(**host.pop("host", {}))
    config.update(host)
    return docker_api.create_container(
        image, command=["sleep", "300"], labels=labels, name=name, host_config=config
    )["Id"]


# -- 1. the host's network, by id -----------------------------------------------------------


def test_the_hosts_network_by_id_is_refused_to_containers(docker_api, busybox_image, labels):
    client = make_client(TOKENS=TOKENS)
    host = docker_api.inspect_network("host")["Id"]
    for ref in (host, host[:12], "host"):
        body = {"image": busybox_image, "labels": labels, "network": ref}
        refused(client.post("/containers", json=body, headers=WRITE), "host-network")
    assert ours(docker_api) == []


def test_the_hosts_network_by_id_is_refused_to_services(swarm, docker_api, busybox_image, labels):
    client = make_client(TOKENS=TOKENS)
    host = docker_api.inspect_network("host")["Id"]
    for index, ref in enumerate((host, host[:12])):
        body = {
            "name": f"hostnet{index}-{RUN_ID}",
            "image": busybox_image,
            "labels": labels,
            "networks": [ref],
            "command": ["sleep", "300"],
        }
        refused(client.post("/services", json=body, headers=WRITE), "host-network")
    assert docker_api.services(filters=SCOPE) == []


# -- 2. services made elsewhere -------------------------------------------------------------


def foreign_service(docker_api, image, labels, name, replicas=0, **powers):
    spec = docker.types.ContainerSpec(image, command=["sleep", "300"], **powers)
    return docker_api.create_service(
        docker.types.TaskTemplate(spec),
        name=name,
        labels=labels,
        mode=docker.types.ServiceMode("replicated", replicas),
    )["ID"]


@pytest.mark.parametrize(
    "powers, rule",
    [
        ({"cap_add": ["SYS_ADMIN"]}, "foreign-container"),
        ({"mounts": [docker.types.Mount("/host", "/", type="bind")]}, "host-system"),
        ({"sysctls": {"net.ipv4.ip_forward": "1"}}, "foreign-container"),
    ],
    ids=["cap-add", "bind-root", "sysctls"],
)
def test_a_service_made_elsewhere_with_host_powers_cannot_be_driven(
    swarm, docker_api, busybox_image, labels, powers, rule
):
    client = make_client(TOKENS=TOKENS)
    name = f"powers-{next(iter(powers)).replace('_', '')}-{RUN_ID}"
    service = foreign_service(docker_api, busybox_image, labels, name, **powers)
    before = docker_api.inspect_service(service)
    refused(client.post(f"/services/{name}/scale", json={"replicas": 1}, headers=OPERATE), rule)
    update = {"force": True, "command": ["cat", "/host/etc/shadow"]}
    refused(client.post(f"/services/{service}/update", json=update, headers=WRITE), rule)
    after = docker_api.inspect_service(service)
    assert after["Version"] == before["Version"]
    assert after["Spec"]["Mode"]["Replicated"]["Replicas"] == 0


def test_a_rollback_to_a_previous_spec_made_elsewhere_is_judged(
    swarm, docker_api, busybox_image, labels
):
    client = make_client(TOKENS=TOKENS)
    name = f"rollback-{RUN_ID}"
    bind = docker.types.Mount("/host", "/", type="bind")
    service = foreign_service(docker_api, busybox_image, labels, name, mounts=[bind])
    # made clean elsewhere: its previous spec still binds the host's root
    clean = docker.types.TaskTemplate(
        docker.types.ContainerSpec(busybox_image, command=["sleep", "300"])
    )
    version = docker_api.inspect_service(service)["Version"]["Index"]
    docker_api.update_service(
        service, version, task_template=clean, name=name, labels=labels,
        mode=docker.types.ServiceMode("replicated", 0),
    )  # fmt: skip
    before = docker_api.inspect_service(service)
    assert before["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Mounts"]
    refused(client.post(f"/services/{service}/rollback", headers=WRITE), "host-system")
    after = docker_api.inspect_service(service)
    assert after["Version"] == before["Version"]
    assert not after["Spec"]["TaskTemplate"]["ContainerSpec"].get("Mounts")


# -- 3. registries wherever the engine fetches ----------------------------------------------


@pytest.fixture
def unlisted():
    """An HTTP server on loopback standing for a registry no configuration lists: it records
    every request that reaches it."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_error(404)

        do_HEAD = do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_build_names_no_image_of_an_unlisted_registry(docker_api, busybox_image, unlisted):
    host, seen = unlisted
    client = make_client(TOKENS=TOKENS, PULL_PUSH_REGISTRIES=["127.0.0.1:5000"])
    evil = f"{host}/evil/img:1"
    dockerfiles = [
        f"FROM {evil}\n",
        f"ARG BASE={host}/evil/img\nFROM $BASE:1\n",
        f"FROM {busybox_image}\nCOPY --from={evil} /bin/sh /sh\n",
        f"FROM {busybox_image} AS one\nRUN --mount=type=bind,from={evil},target=/m true\n",
        "ARG BASE\nFROM $BASE\n",  # what it fetches cannot be known
    ]
    for dockerfile in dockerfiles:
        refused(client.post("/images/build", json={"dockerfile": dockerfile}, headers=WRITE),
                "registries")  # fmt: skip
    # the tar context's Dockerfile is read too, and a pull of a listed base checked as well
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = f"FROM {busybox_image}\nCOPY --from={evil} /a /a\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    answer = client.post(
        "/images/build",
        data=context.getvalue(),
        content_type="application/x-tar",
        headers=WRITE,
    )
    refused(answer, "registries")
    assert seen == []


def test_a_build_from_images_the_engine_holds_needs_no_registry(docker_api, busybox_image, labels):
    client = make_client(TOKENS=TOKENS, PULL_PUSH_REGISTRIES=["127.0.0.1:5000"])
    label = f"{TEST_LABEL}={labels[TEST_LABEL]}"
    body = {"dockerfile": f"FROM {busybox_image}\nRUN true\n", "labels": labels}
    built = client.post("/images/build", json=body, headers=WRITE)
    assert built.status_code == 201, built.json
    assert docker_api.images(filters={"label": label})
    # with pull, the engine would ask the base's registry: refused
    refused(client.post("/images/build", json={**body, "pull": True}, headers=WRITE),
            "registries")  # fmt: skip
    # and so when pull is asked in the query of a JSON build, which counts too
    refused(client.post("/images/build?pull=true", json=body, headers=WRITE), "registries")


def test_a_json_build_is_judged_with_the_querys_build_arguments(busybox_image, unlisted):
    """A JSON build takes the query's options: a base named by a query build argument is
    judged as one the body names."""
    host, seen = unlisted
    client = make_client(TOKENS=TOKENS, PULL_PUSH_REGISTRIES=["127.0.0.1:5000"])
    body = {"dockerfile": f"ARG BASE={busybox_image}\nFROM $BASE\n"}
    query = f"build_arg=BASE={host}/evil/img:1"
    refused(client.post(f"/images/build?{query}", json=body, headers=WRITE), "registries")
    assert not seen


def test_a_service_names_no_image_of_an_unlisted_registry(
    swarm, docker_api, busybox_image, labels, unlisted
):
    host, seen = unlisted
    client = make_client(TOKENS=TOKENS, PULL_PUSH_REGISTRIES=["127.0.0.1:5000"])
    evil = f"{host}/evil/img:1"
    body = {"name": f"evil-{RUN_ID}", "image": evil, "labels": labels}
    refused(client.post("/services", json=body, headers=WRITE), "registries")
    service = foreign_service(docker_api, "127.0.0.1:5000/ok/img:1", labels, f"ok-{RUN_ID}")
    refused(client.post(f"/services/{service}/update", json={"image": evil}, headers=WRITE),
            "registries")  # fmt: skip
    container = {"image": evil, "labels": labels, "pull": "missing"}
    refused(client.post("/containers", json=container, headers=WRITE), "registries")
    assert seen == []
    assert [s["Spec"]["Name"] for s in docker_api.services(filters=SCOPE)] == [f"ok-{RUN_ID}"]


def tar_context(*entries) -> bytes:
    """A build context: (name, text) files, (name, "->", target) symbolic links,
    (name, "=>", target) hard links, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, *rest in entries:
            info = tarfile.TarInfo(name)
            if len(rest) == 2:
                info.type = tarfile.SYMTYPE if rest[0] == "->" else tarfile.LNKTYPE
                info.linkname = rest[1]
                tar.addfile(info)
            else:
                data = rest[0].encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build(client, context, query=""):
    return client.post(
        f"/images/build?label={TEST_LABEL}={RUN_ID}{query}",
        data=context,
        content_type="application/x-tar",
        headers=WRITE,
    )


def test_the_engine_builds_from_the_context_whose_dockerfile_was_read(
    docker_api, busybox_image, labels, unlisted
):
    """A second `Dockerfile` entry whose checksum field starts with a NUL: Python's tar reader
    ends the archive there, Go's reads it, and it replaces the first."""
    host, seen = unlisted
    client = make_client(TOKENS=TOKENS, PULL_PUSH_REGISTRIES=["127.0.0.1:5000"])
    context = bytearray(
        tar_context(
            ("Dockerfile", f"FROM {busybox_image}\nRUN true\n"),
            ("Dockerfile", f"FROM {host}/evil:1\n"),
        )
    )
    second = 1024  # the first entry's header and its one block of data
    header = context[second : second + 512]
    header[148:156] = b" " * 8
    header[148:156] = b"\x00" + b"%06o" % sum(header) + b" "
    context[second : second + 512] = header
    built = build(client, bytes(context))
    assert built.status_code == 201, built.json
    assert seen == []
    assert any("RUN true" in line for line in built.json["log"])


def test_a_dockerfile_behind_a_link_is_refused(docker_api, busybox_image, unlisted):
    host, seen = unlisted
    client = make_client(TOKENS=TOKENS, PULL_PUSH_REGISTRIES=["127.0.0.1:5000"])
    through_a_directory = tar_context(
        ("sub/Dockerfile", f"FROM {busybox_image}\n"),
        ("sub", "->", "other"),
        ("other/Dockerfile", f"FROM {host}/evil:1\n"),
    )
    refused(build(client, through_a_directory, "&dockerfile=sub/Dockerfile"), "registries")
    for kind in ("->", "=>"):
        linked = tar_context(("real", f"FROM {host}/evil:1\n"), ("Dockerfile", kind, "real"))
        refused(build(client, linked), "registries")
    assert seen == []


def test_the_onbuild_triggers_of_a_base_count(docker_api, busybox_image, labels, unlisted):
    host, seen = unlisted
    client = make_client(TOKENS=TOKENS, PULL_PUSH_REGISTRIES=["127.0.0.1:5000"])
    base = f"dockyard-test/onbuild:{RUN_ID}"
    dockerfile = f"FROM {busybox_image}\nONBUILD COPY --from={host}/evil:1 /a /a\n"
    made = client.post(
        "/images/build",
        json={"dockerfile": dockerfile, "tag": base, "labels": labels},
        headers=WRITE,
    )
    assert made.status_code == 201, made.json
    body = {"dockerfile": f"FROM {base}\n", "labels": labels}
    refused(client.post("/images/build", json=body, headers=WRITE), "registries")
    assert seen == []


# -- 4, 5. restores: the volume checked is the one written, archives as the kernel sees them --


def tar_of_links(links: dict, files: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for name, data in (files or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class HeldBack(io.RawIOBase):
    """A request body whose first read first runs ``meanwhile``: what another client does
    while the service waits for the body."""

    def __init__(self, data: bytes, meanwhile):
        self._data, self._meanwhile = io.BytesIO(data), meanwhile
        self.size = len(data)

    def readable(self):
        return True

    def tell(self):
        return self._data.tell()

    def seek(self, offset, whence=io.SEEK_SET):
        return self._data.seek(offset, whence)

    def readinto(self, buffer):
        if self._meanwhile:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return self._data.readinto(buffer)


def held_back(client, path, data, meanwhile, headers):
    body = HeldBack(data, meanwhile)
    return client.post(
        path,
        input_stream=body,
        content_length=body.size,
        content_type="application/x-tar",
        headers=headers,
    )


@pytest.fixture
def bind_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    return root


def test_a_restore_writes_only_into_the_volume_it_checked(docker_api, labels, bind_root):
    client = make_client(TOKENS=TOKENS, ALLOWED_BIND_ROOTS=[str(bind_root)])
    name = f"race-{RUN_ID}"
    binding = {"type": "none", "o": "bind", "device": str(bind_root)}
    answers = []

    def meanwhile():
        # while the restore waits for its body, another client asks for the same name,
        # binding the host directory
        made = client.post(
            "/volumes",
            json={"name": name, "labels": labels, "driver_opts": binding},
            headers=EXEC,
        )
        answers.append(made.status_code)

    restored = held_back(
        client,
        f"/volumes/{name}/restore?label={TEST_LABEL}={RUN_ID}",
        tar_of_links({}, {"planted": b"x"}),
        meanwhile,
        EXEC,
    )
    assert answers, "the body was never read"
    assert restored.status_code == 200, restored.json
    assert list(bind_root.iterdir()) == []
    assert not docker_api.inspect_volume(name).get("Options")


def test_a_volume_replaced_during_a_restore_is_a_409_and_nothing_is_written(
    docker_api, labels, bind_root
):
    client = make_client(TOKENS=TOKENS, ALLOWED_BIND_ROOTS=[str(bind_root)])
    name = f"swap-{RUN_ID}"
    docker_api.create_volume(name, labels=labels)
    binding = {"type": "none", "o": "bind", "device": str(bind_root)}

    def meanwhile():
        docker_api.remove_volume(name)
        docker_api.create_volume(name, driver_opts=binding, labels=labels)

    archive = tar_of_links({}, {"planted": b"x"})
    restored = held_back(client, f"/volumes/{name}/restore", archive, meanwhile, EXEC)
    assert restored.status_code == 409, restored.json
    assert list(bind_root.iterdir()) == []


def test_a_volume_a_service_names_before_it_exists_cannot_be_made_to_bind_the_host(
    swarm, docker_api, busybox_image, labels, bind_root
):
    client = make_client(TOKENS=TOKENS, ALLOWED_BIND_ROOTS=[str(bind_root)])
    name = f"later-{RUN_ID}"
    body = {
        "name": f"later-{RUN_ID}",
        "image": busybox_image,
        "labels": labels,
        "replicas": 0,
        "mounts": [{"type": "volume", "source": name, "target": "/data"}],
    }
    assert client.post("/services", json=body, headers=WRITE).status_code == 201
    binding = {"type": "none", "o": "bind", "device": str(bind_root)}
    volume = {"name": name, "labels": labels, "driver_opts": binding}
    refused(client.post("/volumes", json=volume, headers=WRITE), "read-only-binds")
    assert docker_api.volumes(filters={"name": name}).get("Volumes") in (None, [])


def test_a_chain_of_links_that_leaves_the_volume_is_refused(client, docker_api, labels):
    name = f"chain-{RUN_ID}"
    archive = tar_of_links({"a": ".", "p1": "a/..", "p2": "p1/..", "d2": "p2"})
    answer = client.post(
        f"/volumes/{name}/restore?label={TEST_LABEL}={RUN_ID}",
        data=archive,
        content_type="application/x-tar",
    )
    assert answer.status_code == 400, answer.json
    assert "rule `archive`" in answer.json["message"]
    assert docker_api.volumes(filters={"name": name}).get("Volumes") in (None, [])


def test_an_archive_that_unpacks_past_its_bound_is_a_413(docker_api, labels):
    client = make_client(RESTORE_MAX_BYTES=1024 * 1024)
    name = f"bomb-{RUN_ID}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert len(buffer.getvalue()) < 200 * 1024  # small on the wire
    answer = client.post(
        f"/volumes/{name}/restore?label={TEST_LABEL}={RUN_ID}",
        data=buffer.getvalue(),
        content_type="application/gzip",
    )
    assert answer.status_code == 413, answer.json
    assert docker_api.volumes(filters={"name": name}).get("Volumes") in (None, [])


def test_setuid_bits_are_cleared_and_fifos_refused(client, docker_api, labels):
    name = f"setuid-{RUN_ID}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("tool")
        info.size, info.mode = 2, 0o6755
        tar.addfile(info, io.BytesIO(b"#!"))
    answer = client.post(
        f"/volumes/{name}/restore?label={TEST_LABEL}={RUN_ID}",
        data=buffer.getvalue(),
        content_type="application/x-tar",
    )
    assert answer.status_code == 200, answer.json
    backup = client.get(f"/volumes/{name}/backup")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(backup.data))) as tar:
        modes = {m.name.lstrip("./"): m.mode for m in tar.getmembers()}
    assert modes["tool"] & 0o7777 == 0o755
    fifo = io.BytesIO()
    with tarfile.open(fileobj=fifo, mode="w") as tar:
        info = tarfile.TarInfo("pipe")
        info.type = tarfile.FIFOTYPE
        tar.addfile(info)
    answer = client.post(
        f"/volumes/{name}/restore", data=fifo.getvalue(), content_type="application/x-tar"
    )
    assert answer.status_code == 400 and "pipe" in answer.json["message"]


# -- 6. the service's own container, whatever name another one takes -------------------------


def test_a_name_like_an_id_cannot_stand_for_the_services_own_container(
    docker_api, busybox_image, labels
):
    own = sleeper(docker_api, busybox_image, labels)
    docker_api.start(own)
    short = own[:12]
    client = make_client(SELF_CONTAINER=short)
    body = {"image": busybox_image, "labels": labels, "name": short}
    refused(client.post("/containers", json=body), "id-like-name")
    other = client.post("/containers", json={"image": busybox_image, "labels": labels}).json
    refused(client.post(f"/containers/{other['id']}/rename", json={"name": short}), "id-like-name")
    # a decoy made elsewhere under that name: the engine resolves it before the id prefix
    sleeper(docker_api, busybox_image, labels, name=short)
    for method, path, body in (
        ("post", "exec", {"cmd": ["true"]}),
        ("post", "terminal", {}),
        ("post", "stop", None),
        ("delete", "", None),
    ):
        url = f"/containers/{own}/{path}".rstrip("/")
        kwargs = {"json": body} if body else {}
        refused(getattr(client, method)(url, **kwargs), "self-protection")
    assert docker_api.inspect_container(own)["State"]["Running"] is True


def test_what_the_services_own_container_mounts_is_reached_by_no_other(
    client, docker_api, busybox_image, labels
):
    """Its volume holds its tokens: no restore, backup, mount, volumes-from or link."""
    data = f"own-data-{RUN_ID}"
    docker_api.create_volume(data, labels=labels)
    own = sleeper(docker_api, busybox_image, labels, host={"binds": [f"{data}:/data"]})
    guarded = make_client(TOKENS=TOKENS, SELF_CONTAINER=own[:12])
    archive = tar_of_links({}, {"tokens.json": b"[]"})
    for answer in (
        guarded.post(
            f"/volumes/{data}/restore", data=archive, content_type="application/x-tar", headers=EXEC
        ),  # fmt: skip
        guarded.get(f"/volumes/{data}/backup", headers=EXEC),
        guarded.post(
            "/containers",
            json={
                "image": busybox_image,
                "labels": labels,
                "mounts": [{"type": "volume", "source": data, "target": "/d"}],
            },
            headers=WRITE,
        ),
    ):
        refused(answer, "self-protection")
    users = docker_api.containers(all=True, filters={"volume": data, **SCOPE})
    assert [c["Id"] for c in users] == [own]
    for host in ({"volumes_from": [own]}, {"links": [(own, "svc")]}):
        box = sleeper(docker_api, busybox_image, labels, host=host)
        answer = guarded.post(f"/containers/{box}/start", headers=OPERATE)
        assert answer.status_code == 403, answer.json
        assert docker_api.inspect_container(box)["State"]["Running"] is False


def test_the_services_own_container_is_configured_by_id_only():
    with pytest.raises(ValueError, match="SELF_CONTAINER"):
        create_app({"DOCKER_URL": ENGINE_URL, "SELF_CONTAINER": "dockyard"})


# -- 7. containers made elsewhere, judged whole, references followed -------------------------


def test_a_container_on_a_host_network_containers_namespace_cannot_be_driven(
    docker_api, busybox_image, labels
):
    client = make_client(TOKENS=TOKENS)
    host = sleeper(docker_api, busybox_image, labels, host={"network_mode": "host"})
    docker_api.start(host)
    joined = sleeper(docker_api, busybox_image, labels, host={"network_mode": f"container:{host}"})
    refused(client.post(f"/containers/{joined}/start", headers=OPERATE), "host-network")
    assert docker_api.inspect_container(joined)["State"]["Running"] is False


@pytest.mark.parametrize(
    "host",
    [
        {"MaskedPaths": [], "ReadonlyPaths": []},  # --security-opt systempaths=unconfined
        {"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]},
        {"OomScoreAdj": -1000},
        {"Ulimits": [{"Name": "nofile", "Soft": 1048576, "Hard": 1048576}]},
        {"SecurityOpt": ["no-new-privileges:false"]},
    ],
    ids=["systempaths", "device-requests", "oom-score", "ulimits", "new-privileges"],
)
def test_containers_made_elsewhere_with_powers_the_old_check_missed(
    docker_api, busybox_image, labels, host
):
    client = make_client(TOKENS=TOKENS)
    box = sleeper(docker_api, busybox_image, labels, **host)
    for method, path, body, headers in (
        ("post", "start", None, OPERATE),
        ("post", "exec", {"cmd": ["true"]}, EXEC),
        ("post", "terminal", {}, EXEC),
        ("get", "archive?path=/bin", None, EXEC),
        ("post", "rename", {"name": f"renamed-{RUN_ID}"}, WRITE),
    ):
        kwargs = {"headers": headers, **({"json": body} if body else {})}
        answer = getattr(client, method)(f"/containers/{box}/{path}", **kwargs)
        assert answer.status_code == 403, (path, answer.json)
    assert docker_api.inspect_container(box)["State"]["Running"] is False


def judged(record: dict, engine) -> str | None:
    try:
        policy.judge_container(record, Context(create_app({"DOCKER_URL": ENGINE_URL}).config,
                                               engine))  # fmt: skip
    except policy.Denied as denied:
        return denied.rule
    return None


def test_what_a_real_engine_here_cannot_be_made_to_hold_is_judged_too(
    app, docker_api, busybox_image, labels
):
    """A plain container's real record, with one field as another engine would hold it: a
    runtime this engine lacks, the host's cgroup namespace on an engine whose default is a
    private one, a field a newer engine adds."""
    engine = app.extensions["docker_gateway"]
    record = docker_api.inspect_container(sleeper(docker_api, busybox_image, labels))
    assert judged(record, engine) is None
    for key, value, rule in (
        ("Runtime", "nvidia", "runtime"),
        ("Privileged", True, "foreign-container"),
        ("FutureGift", {"Host": True}, "unknown-field"),
    ):
        changed = {**record, "HostConfig": {**record["HostConfig"], key: value}}
        assert judged(changed, engine) == rule, key

    class PrivateCgroups:
        def __getattr__(self, name):
            return getattr(engine, name)

        def engine_defaults(self):
            return {**engine.engine_defaults(), "cgroupns": "private"}

    changed = {**record, "HostConfig": {**record["HostConfig"], "CgroupnsMode": "host"}}
    assert judged(changed, PrivateCgroups()) == "foreign-container"


# -- weak points: secrets in commands ---------------------------------------------------------


def test_passwords_in_commands_are_hidden_from_tokens_without_exec(
    docker_api, busybox_image, labels
):
    client = make_client(TOKENS=TOKENS)
    command = ["sh", "-c", "run --password=hunter2 postgres://app:s3cret@db --token t0k3n"]
    body = {
        "image": busybox_image,
        "labels": labels,
        "command": command,
        "entrypoint": ["env", "API_KEY=k3y"],
    }
    created = client.post("/containers", json=body, headers=WRITE)
    assert created.status_code == 201
    path = f"/containers/{created.json['id']}"
    for answer in (
        created,
        client.get(path, headers=READ),
        client.get(f"/containers?all=true&label={TEST_LABEL}={RUN_ID}", headers=READ),
    ):
        text = answer.get_data(as_text=True)
        for secret in ("hunter2", "s3cret", "t0k3n", "k3y"):
            assert secret not in text, secret
        assert "app:********@db" in text
    full = client.get(path, headers=EXEC).get_data(as_text=True)
    assert all(secret in full for secret in ("hunter2", "s3cret", "t0k3n", "k3y"))


# -- the table ------------------------------------------------------------------------------


def test_every_field_the_live_engine_answers_is_in_the_table(client, docker_api, busybox_image,
                                                             labels):  # fmt: skip
    created = client.post("/containers", json={"image": busybox_image, "labels": labels}).json
    ours_ = docker_api.inspect_container(created["id"])["HostConfig"]
    elsewhere = docker_api.inspect_container(sleeper(docker_api, busybox_image, labels))
    for host in (ours_, elsewhere["HostConfig"]):
        assert sorted(set(host) - set(HOST_CONFIG)) == []


def test_every_service_field_the_live_engine_answers_is_in_the_table(
    swarm, client, docker_api, busybox_image, labels
):
    created = client.post(
        "/services",
        json={
            "name": f"table-{RUN_ID}",
            "image": busybox_image,
            "labels": labels,
            "replicas": 0,
            "command": ["sleep", "300"],
            "env": {"A": "1"},
        },
    )
    assert created.status_code == 201, created.json
    spec = docker.types.ContainerSpec(
        busybox_image,
        command=["sleep"],
        args=["300"],
        hostname="h",
        env={"A": "1"},
        workdir="/",
        user="nobody",
        labels={"a": "b"},
        stop_grace_period=10,
        tty=True,
        open_stdin=True,
        read_only=True,
        stop_signal="SIGTERM",
        hosts={"example": "127.0.0.1"},
        dns_config=docker.types.DNSConfig(nameservers=["127.0.0.1"]),
        init=True,
        cap_drop=["NET_RAW"],
    )
    other = docker_api.create_service(
        docker.types.TaskTemplate(spec, restart_policy=docker.types.RestartPolicy()),
        name=f"wide-{RUN_ID}",
        labels=labels,
        mode=docker.types.ServiceMode("replicated", 0),
    )
    for service in (created.json["id"], other["ID"]):
        found = docker_api.inspect_service(service)["Spec"]
        assert sorted(set(found) - set(SERVICE_SPEC)) == []
        assert sorted(set(found["TaskTemplate"]) - set(TASK_TEMPLATE)) == []
        container = found["TaskTemplate"]["ContainerSpec"]
        assert sorted(set(container) - set(CONTAINER_SPEC)) == []
    eventually(lambda: docker_api.services(filters=SCOPE))


def test_the_table_is_published(docker_api, tmp_path):
    client = make_client(TOKENS=TOKENS, ALLOWED_BIND_ROOTS=[str(tmp_path)])
    answer = client.get("/policy", headers=READ)
    assert answer.status_code == 200
    fields = {row["field"]: row for row in answer.json["fields"]}
    assert fields["HostConfig.Privileged"]["rule"] == "refused"
    assert fields["HostConfig.Privileged"]["refusal"] == "foreign-container"
    assert fields["HostConfig.Binds"]["rule"] == "bounded"
    assert fields["TaskTemplate.ContainerSpec.CapabilityAdd"]["rule"] == "refused"
    assert answer.json["settings"]["allowed_bind_roots"] == [str(tmp_path)]
    assert {row["rule"] for row in answer.json["rules"]} >= {"unknown-field", "registries"}
    assert client.get("/policy").status_code == 401


def test_the_readmes_table_is_the_codes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_table(readme) == readme, (
        "the README's policy table drifted: .venv/bin/flask --app service policy readme README.md"
    )

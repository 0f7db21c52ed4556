"""The service's own image: built from the Dockerfile, run beside the engine's socket, serving.

No base image can be pulled here, so the test makes one the way an air-gapped operator
would: a Debian root filesystem from the machine's own package mirror (debootstrap), imported
as an image, and given as BASE_IMAGE; the Python packages come in as wheels built on the
host. Everything it makes carries the session's label and is removed afterwards. The images
are made once a session: tests/test_deploy.py runs the same image from its deployment files."""

import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
from pathlib import Path

import pytest

from service.auth import hash_token
from tests.conftest import (
    ENGINE_URL,
    ROOT,
    RUN_ID,
    SESSION_LABEL,
    TEST_LABEL,
    free_port,
    wait_for_http,
)

CONTEXT = [
    "Dockerfile",
    "pyproject.toml",
    "README.md",
    "requirements/service.txt",
    "service",
    "deploy/gunicorn.conf.py",
]


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (read, never written into the repository)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        if os.path.exists(path):
            found = re.search(r"(?:URIs:\s*|deb\s+)(\S+/debian)\b", Path(path).read_text())
            if found:
                return found.group(1)
    pytest.skip("no Debian mirror configured for apt on this machine")


def once(make):
    """A session fixture's work done once per session, though another module imports the
    fixture (pytest then holds a fixture per module): its answer, or its skip or failure."""
    outcome = {}

    @functools.wraps(make)
    def fixture(**arguments):
        if not outcome:
            try:
                outcome["value"] = make(**arguments)
            except BaseException as error:
                outcome["error"] = error
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return fixture


@pytest.fixture(scope="session")
@once
def base_image(docker_api, tmp_path_factory):
    """A python3 base image out of Debian's own packages."""
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is not installed (deploy/test.sh installs it)")
    rootfs = tmp_path_factory.mktemp("rootfs")
    made = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            debian_mirror(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if made.returncode != 0:
        pytest.skip(f"debootstrap could not fetch Debian's packages: {made.stderr[-500:]}")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    tag = f"dockyard-test/python-base:{RUN_ID}"
    docker_api.import_image_from_stream(
        tar.stdout,
        repository=tag.split(":")[0],
        tag=RUN_ID,
        changes=[f"LABEL {SESSION_LABEL}={RUN_ID}"],
    )
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    return tag


@pytest.fixture(scope="session")
@once
def service_image(docker_api, base_image, tmp_path_factory):
    wheels = tmp_path_factory.mktemp("wheels")
    # the locked set, then the service itself, as the Dockerfile's builder makes them
    for what in (["-r", str(ROOT / "requirements" / "service.txt")], ["--no-deps", str(ROOT)]):
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), *what],
            check=True,
            timeout=600,
        )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name in CONTEXT:
            tar.add(
                ROOT / name,
                arcname=name,
                filter=lambda info: None if "__pycache__" in info.name else info,
            )
        for wheel in wheels.iterdir():
            tar.add(wheel, arcname=f"wheels/{wheel.name}")
    context.seek(0)
    tag = f"dockyard-test/service:{RUN_ID}"
    log = list(
        docker_api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            decode=True,
            rm=True,
            forcerm=True,
            buildargs={"BASE_IMAGE": base_image},
            labels={SESSION_LABEL: RUN_ID},
        )
    )
    errors = [line["error"] for line in log if "error" in line]
    assert not errors, "".join(line.get("stream", "") for line in log)[-3000:]
    return tag


def test_the_image_serves_beside_the_engine_and_protects_itself(docker_api, service_image, labels):
    socket_path = ENGINE_URL.removeprefix("unix://")
    port = free_port()
    tokens = [
        {
            "name": "smoke",
            "hash": hash_token("smoke-secret"),
            "scopes": ["read", "operate", "write"],
        }
    ]
    container = docker_api.create_container(
        service_image,
        labels=labels,
        environment={"DOCKYARD_TOKENS": json.dumps(tokens)},
        ports=[8000],
        host_config=docker_api.create_host_config(
            port_bindings={8000: ("127.0.0.1", port)},
            binds={socket_path: {"bind": "/var/run/docker.sock", "mode": "rw"}},
            group_add=[str(os.stat(socket_path).st_gid)],
        ),
    )
    docker_api.start(container["Id"])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health", timeout=60).close()
    except OSError:
        pytest.fail(docker_api.logs(container["Id"]).decode()[-3000:])

    # not root inside, yet it reaches the engine through the socket's group
    assert docker_api.inspect_container(container["Id"])["Config"]["User"] == "10001:10001"
    with urllib.request.urlopen(f"{base}/ready", timeout=10) as ready:
        assert json.load(ready) == {"status": "ready"}

    def call(method, path):
        request = urllib.request.Request(
            base + path, method=method, headers={"Authorization": "Bearer smoke-secret"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    status, info = call("GET", "/system/info")
    assert status == 200
    assert info["server_version"] == docker_api.version()["Version"]
    # it found its own container, and will not stop it
    status, body = call("POST", f"/containers/{container['Id']}/stop")
    assert status == 403 and "self-protection" in body["message"]
    assert docker_api.inspect_container(container["Id"])["State"]["Running"]
    status, _ = call("GET", f"/containers?label={TEST_LABEL}={labels[TEST_LABEL]}")
    assert status == 200


def test_the_image_holds_the_service_and_no_build_tools(
    docker_api, service_image, base_image, labels
):
    """Multi-stage: the runtime stage gets the venv alone, labelled as OCI says."""
    image = docker_api.inspect_image(service_image)
    config = image["Config"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    oci = {
        key.removeprefix("org.opencontainers.image."): value
        for key, value in config["Labels"].items()
        if key.startswith("org.opencontainers.image.")
    }
    assert oci["title"] == "Dockyard" and oci["version"] == version
    assert oci["licenses"] == "MIT" and oci["base.name"] == base_image
    assert config["User"] == "10001:10001"
    assert "/health" in " ".join(config["Healthcheck"]["Test"])
    assert list(config["ExposedPorts"]) == ["8000/tcp"]
    # what it adds to its base: the venv (about 42 MB, gevent and greenlet included), not
    # wheels, pip or a compiler
    added = image["Size"] - docker_api.inspect_image(base_image)["Size"]
    print(f"image {image['Size'] / 1e6:.1f} MB, {added / 1e6:.1f} MB over its base")
    assert added < 55e6, f"the image adds {added / 1e6:.1f} MB to its base"

    checks = (
        "set -e; test ! -e /wheels; test ! -e /src;"
        " for tool in pip pip3 gcc cc; do if command -v $tool; then exit 1; fi; done;"
        " if python3 -m pip --version; then exit 1; fi;"
        " python3 -c 'import service, gunicorn';"
        " find / -xdev -type f -perm /6000 2>/dev/null > /tmp/setuid || true; test ! -s /tmp/setuid"
    )
    container = docker_api.create_container(
        service_image, command=["sh", "-c", checks], labels=labels
    )
    docker_api.start(container["Id"])
    status = docker_api.wait(container["Id"], timeout=60)["StatusCode"]
    assert status == 0, docker_api.logs(container["Id"]).decode()

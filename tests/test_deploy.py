"""The deployment files, each proven on this machine's engine.

deploy/compose.yaml runs with Debian's docker-compose 1.29 and deploy/stack.yaml on a
single-node swarm, both from the image tests/test_dockerfile.py builds; each then serves the
same scenario through 127.0.0.1 with a token, and leaves nothing behind. deploy/kubernetes/ is
validated offline against the Kubernetes schemas, and held to what the compose file runs.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import time
import tomllib
import urllib.error
import urllib.request

import docker
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from service.auth import hash_token
from tests import test_dockerfile
from tests.conftest import (
    ENGINE_URL,
    ROOT,
    RUN_ID,
    eventually,
    free_port,
    single_node_swarm,
)

# the image fixtures: the base and the service's image are made once a session
base_image = test_dockerfile.base_image
service_image = test_dockerfile.service_image

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
STACK = DEPLOY / "stack.yaml"
KUBERNETES = DEPLOY / "kubernetes"
SOCKET = "/var/run/docker.sock"
SCOPES = ["read", "operate", "exec", "write"]


# -- what the three ways share


def load_yaml(path):
    return yaml.safe_load(path.read_text())


def default_of(value: str) -> str:
    """A compose value as deployed with no variable set: ``${NAME:-default}`` is its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


@pytest.fixture
def token(tmp_path):
    """A token's secret, and the tokens file that holds its hash: readable by the service's
    user (uid 10001), as the README says (hashes only, no secret)."""
    secret = secrets.token_urlsafe(24)
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([{"name": "deploy", "hash": hash_token(secret), "scopes": SCOPES}]))
    path.chmod(0o644)
    return secret, path


@pytest.fixture
def deploy_env(service_image, token):
    """What an operator sets before `up` or `stack deploy`: the engine, the image, a free
    loopback port, the socket's group, the tokens file."""
    if ENGINE_URL != f"unix://{SOCKET}":
        pytest.skip(
            f"the deployment files drive the engine at {SOCKET}; the test engine is {ENGINE_URL}"
        )
    if shutil.which("docker-compose") is None or shutil.which("docker") is None:
        pytest.fail("docker-compose or docker is not installed (deploy/test.sh installs them)")
    return {
        **os.environ,
        "DOCKER_HOST": ENGINE_URL,
        "DOCKYARD_IMAGE": service_image,
        "DOCKYARD_PORT": str(free_port()),
        "DOCKER_GID": str(os.stat(SOCKET).st_gid),
        "DOCKYARD_TOKENS_HOST_FILE": str(token[1]),
    }


def run(command, env, timeout=120):
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def labelled(tmp_path, body) -> str:
    """A compose file that adds the run's label to what the deployment makes, so that the
    harness finds it should a test leave it behind."""
    path = tmp_path / "labels.yaml"
    path.write_text(json.dumps(body))
    return str(path)


def wait_healthy(docker_api, find, timeout=120.0, why=lambda: ""):
    """The container ``find()`` answers, once Docker reports it healthy."""
    deadline = time.monotonic() + timeout
    while True:
        container = find()
        if container:
            state = docker_api.inspect_container(container)["State"]
            if state.get("Health", {}).get("Status") == "healthy":
                return container
        if time.monotonic() > deadline:
            logs = docker_api.logs(container).decode()[-3000:] if container else ""
            pytest.fail(f"never healthy: {why()}\n{logs}")
        time.sleep(0.5)


def serves_with_a_token(docker_api, service, port, secret, busybox_image, labels):
    """The scenario every deployment must serve: through 127.0.0.1, with a token."""
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None, authorized=True):
        headers = {"Authorization": f"Bearer {secret}"} if authorized else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, kind, raw = answer.status, answer.headers.get_content_type(), answer.read()
        except urllib.error.HTTPError as error:
            status, kind, raw = error.code, error.headers.get_content_type(), error.read()
        return status, json.loads(raw) if raw and kind == "application/json" else raw

    assert call("GET", "/ready", authorized=False) == (200, {"status": "ready"})
    assert call("GET", "/containers", authorized=False)[0] == 401

    status, box = call(
        "POST",
        "/containers",
        {
            "image": busybox_image,
            "command": ["sh", "-c", "echo deployed-and-serving; sleep 300"],
            "labels": labels,
            "start": True,
        },
    )
    assert status == 201, box
    logs = eventually(lambda: call("GET", f"/containers/{box['id']}/logs")[1], timeout=20)
    assert logs == b"deployed-and-serving\n"
    status, answer = call("POST", f"/containers/{box['id']}/exec", {"cmd": ["echo", "inside"]})
    assert status == 200 and answer["exit_code"] == 0 and answer["stdout"] == "inside\n"
    assert call("DELETE", f"/containers/{box['id']}?force=true")[0] == 204
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(box["id"])
    # it found its own container, and will not stop it
    status, refused = call("POST", f"/containers/{service}/stop")
    assert status == 403 and "self-protection" in refused["message"]

    # not root, on a read-only root filesystem
    def inside(command, user=""):
        execution = docker_api.exec_create(service, command, user=user)
        output = docker_api.exec_start(execution["Id"]).decode()
        return docker_api.exec_inspect(execution["Id"])["ExitCode"], output

    status, process = inside(["cat", "/proc/1/status"])
    assert re.search(r"^Uid:\s+10001\s+10001\s+10001\s+10001$", process, re.M), process
    assert docker_api.inspect_container(service)["HostConfig"]["ReadonlyRootfs"] is True
    status, output = inside(["touch", "/opt/venv/written"], user="0")
    assert status != 0 and "Read-only file system" in output


# -- compose


def test_compose_serves_healthy_non_root_and_read_only(
    docker_api, deploy_env, token, busybox_image, labels, tmp_path
):
    project = f"dockyard-test-{RUN_ID}"
    scope = {"label": f"com.docker.compose.project={project}"}
    override = labelled(
        tmp_path,
        {
            "services": {"dockyard": {"labels": labels}},
            "networks": {"default": {"labels": labels}},
            "volumes": {"spool": {"labels": labels}},
        },
    )
    compose = ["docker-compose", "-p", project, "-f", str(COMPOSE), "-f", override]
    try:
        run([*compose, "up", "-d"], deploy_env)

        def find():
            found = docker_api.containers(filters=scope)
            return found[0]["Id"] if found else None

        service = wait_healthy(docker_api, find)
        host = docker_api.inspect_container(service)["HostConfig"]
        port = deploy_env["DOCKYARD_PORT"]
        assert host["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}]}
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Memory"] > 0 and host["PidsLimit"] > 0
        assert host["GroupAdd"] == [deploy_env["DOCKER_GID"]]
        serves_with_a_token(docker_api, service, port, token[0], busybox_image, labels)
    finally:
        run([*compose, "down", "-v", "--timeout", "10"], deploy_env)
    assert docker_api.containers(all=True, filters=scope) == []
    assert docker_api.networks(filters=scope) == []
    assert (docker_api.volumes(filters=scope).get("Volumes") or []) == []


# -- a swarm stack


def test_the_stack_serves_on_a_single_node_swarm(
    docker_api, deploy_env, token, busybox_image, labels, tmp_path
):
    stack = f"dockyard-test-{RUN_ID}"
    scope = {"label": f"com.docker.stack.namespace={stack}"}
    override = labelled(
        tmp_path,
        {"services": {"dockyard": {"labels": labels}}, "volumes": {"spool": {"labels": labels}}},
    )
    with single_node_swarm(docker_api):
        deploy = ["docker", "stack", "deploy", "--resolve-image", "never"]
        try:
            run([*deploy, "-c", str(STACK), "-c", override, stack], deploy_env)

            def find():
                found = docker_api.containers(filters=scope)
                return found[0]["Id"] if found else None

            def tasks():  # what swarm says of the service's tasks, should it never be healthy
                found = docker_api.tasks(filters={"service": f"{stack}_dockyard"})
                return [task["Status"] for task in found]

            service = wait_healthy(docker_api, find, why=tasks)
            port = deploy_env["DOCKYARD_PORT"]
            # on the node's loopback only: swarm cannot publish on one address
            assert docker_api.inspect_container(service)["HostConfig"]["NetworkMode"] == "host"
            (spec,) = docker_api.services(filters=scope)
            placement = spec["Spec"]["TaskTemplate"]["Placement"]["Constraints"]
            assert placement == ["node.role == manager"]
            assert spec["Spec"]["UpdateConfig"]["FailureAction"] == "rollback"
            serves_with_a_token(docker_api, service, port, token[0], busybox_image, labels)
        finally:
            subprocess.run(["docker", "stack", "rm", stack], env=deploy_env, capture_output=True)
            eventually(
                lambda: (
                    not docker_api.services(filters=scope)
                    and not docker_api.containers(all=True, filters=scope)
                ),
                timeout=60,
            )
            # stack rm leaves the volumes
            for volume in docker_api.volumes(filters=scope).get("Volumes") or []:
                docker_api.remove_volume(volume["Name"])
        assert docker_api.secrets(filters=scope) == []
        assert docker_api.networks(filters=scope) == []
        assert (docker_api.volumes(filters=scope).get("Volumes") or []) == []


# -- Kubernetes, offline


def kubernetes_documents():
    return [
        (path.name, document)
        for path in sorted(KUBERNETES.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def test_the_kubernetes_manifests_validate_against_the_schemas():
    documents = kubernetes_documents()
    kinds = sorted(document["kind"] for _, document in documents)
    assert kinds == sorted(
        ["Namespace", "ConfigMap", "Secret", "Deployment", "Service", "NetworkPolicy"]
    )
    # the oldest and the newest Kubernetes the validator knows; unknown fields are errors
    for version in (all_versions()[0], kubernetes_validate.latest_version()):
        for name, document in documents:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{name} against Kubernetes {version}: {error.message}")


def memory_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", str(text)).groups()
    units = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "Ki": 1024, "Mi": 1024**2}
    units |= {"Gi": 1024**3, "K": 1024, "M": 1024**2, "G": 1024**3}
    return int(number) * units[unit]


def test_kubernetes_and_the_stack_run_what_compose_runs():
    compose = load_yaml(COMPOSE)["services"]["dockyard"]
    stack = load_yaml(STACK)["services"]["dockyard"]
    manifests = {document["kind"]: document for _, document in kubernetes_documents()}
    pod = manifests["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

    # the same image: this version's
    image = f"dockyard:{version}"
    assert default_of(compose["image"]) == default_of(stack["image"]) == container["image"] == image
    assert f'org.opencontainers.image.version="{version}"' in dockerfile

    # the same port, 8000 in the container
    assert "EXPOSE 8000" in dockerfile
    assert compose["ports"] == ["127.0.0.1:${DOCKYARD_PORT:-8000}:8000"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    (port,) = manifests["Service"]["spec"]["ports"]
    assert port["targetPort"] == "http" and port["port"] == 8000
    (rule,) = manifests["NetworkPolicy"]["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]

    # the same probes: liveness is the health check, readiness /ready
    def checked_url(service):
        return default_of(re.search(r"http://[^']+", service["healthcheck"]["test"][-1])[0])

    assert checked_url(compose) == checked_url(stack) == "http://127.0.0.1:8000/health"
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}

    # the same settings; Kubernetes adds the Service's names to the allowed hosts
    settings = dict(compose["environment"])
    config = dict(manifests["ConfigMap"]["data"])
    hosts = set(json.loads(config.pop("DOCKYARD_ALLOWED_HOSTS")))
    assert set(json.loads(settings.pop("DOCKYARD_ALLOWED_HOSTS"))) < hosts
    assert "dockyard.dockyard.svc" in hosts
    assert config == settings
    # the stack serves on the node's loopback (DOCKYARD_BIND), not on a published port
    bind = {"DOCKYARD_BIND": "127.0.0.1:${DOCKYARD_PORT:-8000}"}
    assert stack["environment"] == {**compose["environment"], **bind}
    assert container["envFrom"] == [{"configMapRef": {"name": "dockyard"}}]

    # the same files: the socket, the tokens, the spool, a memory /tmp
    tokens = settings["DOCKYARD_TOKENS_FILE"]
    assert tokens == f"/run/secrets/{compose['secrets'][0]}"
    assert compose["volumes"] == [
        f"{SOCKET}:{SOCKET}",
        f"spool:{settings['DOCKYARD_SPOOL_DIR']}",
        "state:/var/lib/dockyard",
    ]
    assert compose["tmpfs"][0].startswith("/tmp:")
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts == {
        SOCKET: "docker-socket",
        tokens: "tokens",
        "/tmp": "tmp",
        settings["DOCKYARD_SPOOL_DIR"]: "spool",
        "/var/lib/dockyard": "state",
    }
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["docker-socket"]["hostPath"] == {"path": SOCKET, "type": "Socket"}
    assert volumes["tokens"]["secret"]["secretName"] == manifests["Secret"]["metadata"]["name"]
    assert volumes["tmp"]["emptyDir"]["medium"] == "Memory"
    assert "medium" not in volumes["spool"]["emptyDir"]  # on disk, as compose's volume
    stack_mounts = {mount["target"]: mount["type"] for mount in stack["volumes"]}
    assert stack_mounts == {
        SOCKET: "bind",
        settings["DOCKYARD_SPOOL_DIR"]: "volume",
        "/var/lib/dockyard": "volume",
        "/tmp": "tmpfs",
    }

    # the same confinement: uid 10001, read-only, no capability, no privilege gained
    assert "USER 10001:10001" in dockerfile
    security = pod["spec"]["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"], security["runAsNonRoot"]) == (
        10001,
        10001,
        True,
    )
    assert stack["user"].startswith("10001:")
    assert compose["read_only"] is stack["read_only"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert compose["cap_drop"] == stack["cap_drop"] == ["ALL"]
    assert compose["security_opt"] == ["no-new-privileges:true"]
    limit = memory_bytes(compose["mem_limit"])
    assert memory_bytes(container["resources"]["limits"]["memory"]) == limit
    assert memory_bytes(stack["deploy"]["resources"]["limits"]["memory"]) == limit
    assert stack["deploy"]["resources"]["limits"]["pids"] == compose["pids_limit"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}

    # the same grace to stop: gunicorn's 30 s and a little more
    assert compose["stop_grace_period"] == stack["stop_grace_period"] == "35s"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 35

    # the Service and the NetworkPolicy find the pod; the stack runs on a manager
    labels = pod["metadata"]["labels"]
    assert manifests["Service"]["spec"]["selector"] == labels
    assert manifests["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"] == labels
    assert stack["deploy"]["placement"]["constraints"] == ["node.role == manager"]
    assert stack["secrets"][0]["source"] == compose["secrets"][0]

"""The test harness: the real engine, the loopback registry, the busybox test image.

Every engine object a test creates carries the label ``dockyard.test=<run id>``; after each test
every object with that label is removed, and the engine is checked for leftovers. Objects the
whole session shares carry ``dockyard.test.session=<run id>`` and go when the session ends.
"""

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
from pathlib import Path

import docker
import pytest

from service import create_app
from tests import contract

ENGINE_URL = os.environ.get("DOCKYARD_TEST_DOCKER_URL", "unix:///var/run/docker.sock")
RUN_ID = uuid.uuid4().hex[:10]
TEST_LABEL = "dockyard.test"
SESSION_LABEL = "dockyard.test.session"
LABELS = {TEST_LABEL: RUN_ID}
BUSYBOX = os.environ.get("DOCKYARD_TEST_BUSYBOX", "/bin/busybox")


@pytest.fixture(scope="session")
def docker_api():
    """A docker-py client of the tests' own, to arrange and to check the engine's state.
    When the session ends, what the session's fixtures made (images...) goes too."""
    client = docker.APIClient(base_url=ENGINE_URL, version="auto", timeout=120)
    if not client.ping():
        pytest.exit(f"the Docker engine at {ENGINE_URL} does not answer", returncode=3)
    yield client
    leftovers = remove_labelled(client, f"{SESSION_LABEL}={RUN_ID}")
    client.close()
    assert not leftovers, f"session objects still on the engine: {leftovers}"


@pytest.fixture(scope="session", autouse=True)
def admin_token_file(tmp_path_factory):
    """Where apps and servers the tests start without tokens keep their administrator token
    (made by the first of them), and their grants to teams, instead of the home directory's."""
    path = tmp_path_factory.mktemp("admin") / "admin-token"
    os.environ["DOCKYARD_ADMIN_TOKEN_FILE"] = str(path)
    os.environ["DOCKYARD_GRANTS_FILE"] = str(path.parent / "grants.json")
    yield path
    os.environ.pop("DOCKYARD_ADMIN_TOKEN_FILE", None)
    os.environ.pop("DOCKYARD_GRANTS_FILE", None)


def admin_headers() -> dict:
    """The administrator token of a service configured with none, as a request header."""
    name, _, value = Path(os.environ["DOCKYARD_ADMIN_TOKEN_FILE"]).read_text().partition(": ")
    return {name: value.strip()}


def pytest_configure(config):
    # every JSON answer a test client gets is checked against the document
    config.pluginmanager.register(contract, "contract")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A console test that fails says what its open pages showed and logged: a browser's
    failure is otherwise only the locator that waited."""
    outcome = yield
    console = sys.modules.get("tests.test_console")
    if console is None:
        return
    report = outcome.get_result()
    if report.failed and console.Watched.open_pages:
        pages = "\n".join(page.described() for page in console.Watched.open_pages)
        report.sections.append(("console pages", pages))
    if call.when == "teardown":
        console.Watched.open_pages.clear()


# the engine's mirror in the suite's services: off, unless asked for (see make_app)
READ_CACHE = os.environ.get("DOCKYARD_TEST_READ_CACHE") == "1"


def make_app(**config):
    """The app as a test wants it: the test engine, no audit output, then ``config``; its
    test clients check each answer against the served document. The engine's mirror is off
    unless ``config`` (or DOCKYARD_TEST_READ_CACHE=1) turns it on: tests change the engine
    behind the service's back and read at once, which the mirror answers within its bound
    (tests/test_mirror.py)."""
    app = create_app(
        {
            "TESTING": True,
            "DOCKER_URL": ENGINE_URL,
            "AUDIT_LOG": os.devnull,
            "READ_CACHE": READ_CACHE,
            **config,
        }
    )
    app.test_client_class = contract.CheckingClient
    return app


def make_client(**config):
    """A test client of ``make_app(**config)``; with no tokens configured, it sends the
    administrator token the app made."""
    app = make_app(**config)
    if config.get("TOKENS") or config.get("TOKENS_FILE") or config.get("OPEN_ACCESS"):
        return app.test_client()
    return admin_client(app)


def admin_client(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = admin_headers()["Authorization"]
    return client


@pytest.fixture
def app():
    return make_app()


@pytest.fixture
def client(app):
    return admin_client(app)


@pytest.fixture
def labels():
    """Labels to put on every object a test creates: teardown removes what carries them."""
    return dict(LABELS)


@pytest.fixture(autouse=True)
def engine_cleanup(docker_api):
    yield
    leftovers = remove_labelled(docker_api, f"{TEST_LABEL}={RUN_ID}")
    assert not leftovers, f"objects still on the engine after teardown: {leftovers}"


def ours(api) -> list[str]:
    """Ids of the containers this run made: the engine is shared, so every assertion about
    its contents looks at these only."""
    return [c["Id"] for c in api.containers(all=True, filters={"label": f"{TEST_LABEL}={RUN_ID}"})]


def swarm_objects(api, kind, scope) -> list[dict]:
    """Services, secrets or configs with a label; none on an engine that is no manager."""
    try:
        return getattr(api, kind)(filters=scope)
    except docker.errors.APIError:
        return []


def remove_labelled(api, label):
    """Remove every service, secret, config, container, network, volume and image with
    ``label``; return what stayed."""
    scope = {"label": label}
    services = swarm_objects(api, "services", scope)
    for service in services:
        api.remove_service(service["ID"])
    if services:
        # the swarm removes the tasks' containers itself: wait for it rather than race it
        ids = {service["ID"] for service in services}

        def tasks_gone():
            return not [
                c
                for c in api.containers(all=True, filters=scope)
                if c["Labels"].get("com.docker.swarm.service.id") in ids
            ]

        eventually(tasks_gone, timeout=60)
    for kind, remove in (("secrets", api.remove_secret), ("configs", api.remove_config)):
        for item in swarm_objects(api, kind, scope):
            remove(item["ID"])
    for container in api.containers(all=True, filters=scope):
        api.remove_container(container["Id"], force=True, v=True)
    for network in api.networks(filters=scope):
        api.remove_network(network["Id"])
    for volume in api.volumes(filters=scope).get("Volumes") or []:
        api.remove_volume(volume["Name"], force=True)
    for image in api.images(filters=scope):
        try:
            api.remove_image(image["Id"], force=True)
        except docker.errors.NotFound:
            pass  # gone with a parent removed just before
    return (
        [s["Spec"]["Name"] for s in swarm_objects(api, "services", scope)]
        + [s["Spec"]["Name"] for s in swarm_objects(api, "secrets", scope)]
        + [c["Spec"]["Name"] for c in swarm_objects(api, "configs", scope)]
        + [c["Id"] for c in api.containers(all=True, filters=scope)]
        + [n["Name"] for n in api.networks(filters=scope)]
        + [v["Name"] for v in api.volumes(filters=scope).get("Volumes") or []]
        + [i["Id"] for i in api.images(filters=scope)]
    )


@contextlib.contextmanager
def single_node_swarm(docker_api):
    """The engine as a swarm manager: the swarm it is in, or one made here on loopback
    and left afterwards (never a swarm the engine was in before)."""
    swarm = docker_api.info()["Swarm"]
    made, refused = None, ""
    if swarm["LocalNodeState"] == "inactive":
        # making a swarm changes the whole engine: only one the harness started
        require_owned_engine()
        had_bridge = bool(docker_api.networks(names=["docker_gwbridge"]))
        try:
            # its control and gossip ports on loopback too
            made = docker_api.init_swarm(
                advertise_addr="127.0.0.1",
                listen_addr="127.0.0.1:2377",
                data_path_addr="127.0.0.1",
            )
        except docker.errors.APIError as error:
            refused = f" ({error.explanation})"  # another run may have made one meanwhile
        swarm = docker_api.info()["Swarm"]
    if swarm["LocalNodeState"] != "active" or not swarm["ControlAvailable"]:
        pytest.fail(f"the engine is no swarm manager: {swarm['LocalNodeState']}{refused}")
    try:
        yield made
    finally:
        if made and docker_api.info()["Swarm"].get("NodeID") == made:
            docker_api.leave_swarm(force=True)
            # the bridge the swarm made for its containers outlives it
            bridge = docker_api.networks(names=["docker_gwbridge"])
            if not had_bridge and bridge:
                if not docker_api.inspect_network(bridge[0]["Id"]).get("Containers"):
                    docker_api.remove_network(bridge[0]["Id"])


@pytest.fixture
def owned_engine():
    """Refuse to run a test that could remove objects it did not create on an engine the
    harness did not start (deploy/test.sh sets this), unless one was explicitly given."""
    require_owned_engine()


def require_owned_engine():
    if os.environ.get("DOCKYARD_TEST_ENGINE_OWNED") != "1":
        pytest.skip(
            "refusing to run against an engine the harness did not start; "
            "set DOCKYARD_TEST_ENGINE_OWNED=1 to allow it on this engine"
        )


def tar_of(files: dict) -> bytes:
    """A tar archive of regular files: {path: text or bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="session")
def busybox_image(docker_api):
    """The test image: a static busybox on scratch (sh, sleep, httpd, nc, tar...)."""
    return build_busybox(docker_api)


def build_busybox(api) -> str:
    """The busybox test image built on the engine ``api`` speaks to: its tag."""
    tag = f"dockyard-test/busybox:{RUN_ID}"
    dockerfile = (
        b"FROM scratch\n"
        b"COPY busybox /bin/busybox\n"
        b'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        b'CMD ["/bin/sh"]\n'
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(os.path.realpath(BUSYBOX), arcname="busybox")
    context.seek(0)
    log = list(
        api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            labels={SESSION_LABEL: RUN_ID},
            rm=True,
            forcerm=True,
            decode=True,
        )
    )
    errors = [line["error"] for line in log if "error" in line]
    assert not errors, f"the busybox test image did not build: {errors}"
    return tag


def daemon_calls(app, monkeypatch) -> list[str]:
    """The URLs of the daemon calls the app's control client makes from now on: its GETs read
    whole (its own path to the socket) and the rest (through requests)."""
    calls = []
    client = app.extensions["docker_gateway"].clients.control
    whole, send = client._get_whole, client.send

    def counted_whole(url, params, headers):
        calls.append(url)
        return whole(url, params, headers)

    def counted_send(request, **kwargs):
        calls.append(request.url)
        return send(request, **kwargs)

    monkeypatch.setattr(client, "_get_whole", counted_whole)
    monkeypatch.setattr(client, "send", counted_send)
    return calls


def eventually(check, timeout=10.0):
    """Wait until ``check()`` answers something true, and answer it: a condition, not a sleep."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A real distribution registry on loopback, for the session: yields ``127.0.0.1:PORT``."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed (deploy/test.sh installs it)")
    root = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {address}}}\n"
    )
    with open(root / "registry.log", "wb") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        wait_for_http(f"http://{address}/v2/").close()
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def served(**settings):
    """The service as deployed: gunicorn with deploy/gunicorn.conf.py on a free loopback
    port, one worker, against the test engine. Yields (base URL, gunicorn process)."""
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DOCKYARD_BIND": address,
        "DOCKYARD_WORKERS": "1",
        "DOCKYARD_WORKER_CONNECTIONS": "200",
        # as make_app: the mirror's own tests turn it on
        "DOCKYARD_READ_CACHE": str(READ_CACHE).lower(),
        "DOCKYARD_DOCKER_URL": ENGINE_URL,
        **{f"DOCKYARD_{key}": str(value) for key, value in settings.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_http(f"http://{address}/health").close()
        yield f"http://{address}", process
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors.decode()

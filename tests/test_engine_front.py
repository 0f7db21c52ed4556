"""The Engine-API front (/engine) with the real tools, through gunicorn as deployed, on the real
engine: the docker CLI (the machine's newer client and Debian's 20.10) and docker-py run,
list, inspect, read logs of, stop and remove containers with a token; the policy refuses what it
refuses through the REST API, with the engine left unchanged; scopes, teams, redaction, audit
and the browser's rules hold; what the front does not know is refused."""

import io
import json
import os
import pty
import re
import select
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import docker
import pytest

from service.auth import hash_token
from service.policy.teams import TEAM_LABEL
from tests.conftest import LABELS, RUN_ID, TEST_LABEL, ours, served

TOKENS = [
    {"name": "ops", "hash": hash_token("ops"), "scopes": ["read", "operate", "write", "exec"]},
    {"name": "reader", "hash": hash_token("reader"), "scopes": ["read", "operate"]},
    {
        "name": "web",
        "hash": hash_token("web"),
        "scopes": ["read", "operate", "write"],
        "team": "web",
    },
]
# the machine's docker clients: a newer one first on PATH, Debian's docker.io 20.10
CLIENTS = [
    path
    for path in dict.fromkeys(("/usr/local/bin/docker", "/usr/bin/docker"))
    if os.access(path, os.X_OK)
]
LABEL_ARGS = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    audit = tmp_path_factory.mktemp("front") / "audit.log"
    with served(TOKENS=json.dumps(TOKENS), AUDIT_LOG=str(audit)) as (base, _):
        yield base, audit


def configs(tmp_path_factory, secret) -> str:
    """A docker config folder whose HttpHeaders send the token ``secret``."""
    folder = tmp_path_factory.mktemp("docker-config")
    (folder / "config.json").write_text(
        json.dumps({"HttpHeaders": {"Authorization": f"Bearer {secret}"}})
    )
    return str(folder)


@pytest.fixture(scope="module")
def as_token(front, tmp_path_factory):
    """``as_token(secret, cli)(*args)``: the docker CLI ``cli`` run against the front with the
    token ``secret``: its exit code and what it printed."""
    base, _ = front
    folders = {}

    def runner(secret, cli=CLIENTS[0]):
        if secret not in folders:
            folders[secret] = configs(tmp_path_factory, secret)
        env = {
            **os.environ,
            "DOCKER_HOST": "tcp://" + base.removeprefix("http://") + "/engine",
            "DOCKER_CONFIG": folders[secret],
        }
        env.pop("DOCKER_CONTEXT", None)

        def run(*args, timeout=60):
            done = subprocess.run(
                [cli, *args], env=env, capture_output=True, text=True, timeout=timeout
            )
            return done.returncode, done.stdout + done.stderr

        run.env = env
        return run

    return runner


def test_the_machines_docker_clients_are_there():
    assert CLIENTS, "no docker client on this machine (deploy/test.sh installs docker.io)"
    assert shutil.which("docker")


@pytest.mark.parametrize("cli", CLIENTS)
def test_the_docker_cli_runs_lists_inspects_logs_stops_and_removes(
    as_token, front, cli, busybox_image, docker_api
):
    docker = as_token("ops", cli)
    code, out = docker("version", "--format", "{{.Server.APIVersion}}")
    assert code == 0 and re.fullmatch(r"1\.\d+", out.strip()), out
    name = f"front-{RUN_ID}-{os.path.basename(os.path.dirname(cli))}"
    code, out = docker(
        "run", "-d", *LABEL_ARGS, "--name", name, busybox_image,
        "sh", "-c", "echo hello-from-front; sleep 300",
    )  # fmt: skip
    assert code == 0, out
    made = out.strip().splitlines()[-1]
    assert docker_api.inspect_container(made)["State"]["Running"] is True
    # the service's defaults were added to what the CLI sent
    host = docker_api.inspect_container(made)["HostConfig"]
    assert "no-new-privileges:true" in host["SecurityOpt"] and host["Memory"] > 0
    code, out = docker("ps", "--filter", f"label={TEST_LABEL}={RUN_ID}", "--format", "{{.Names}}")
    assert code == 0 and name in out.split(), out
    code, out = docker("inspect", "--format", "{{.State.Status}} {{.Id}}", name)
    assert code == 0 and out.split() == ["running", made], out
    code, out = docker("logs", name)
    assert code == 0 and "hello-from-front" in out, out
    code, out = docker("stop", "-t", "1", name)
    assert code == 0, out
    assert docker_api.inspect_container(made)["State"]["Running"] is False
    code, out = docker("rm", "-f", name)
    assert code == 0, out
    assert made not in ours(docker_api)
    # each change is an audit line naming the token and the container
    lines = [json.loads(line) for line in front[1].read_text().splitlines()]
    acted = {line["path"].rsplit("/", 1)[-1] for line in lines if line["target_id"] == made}
    assert {"start", "stop", name} <= acted, acted
    assert all(line["token"] == "ops" for line in lines if line["target_id"] == made)


REFUSED = [
    (["--privileged"], "Privileged"),
    (["-v", "/:/host"], "HostConfig.Binds"),
    (["--network", "host"], "NetworkMode"),
    (["--pid", "host"], "PidMode"),
    (["--cap-add", "SYS_ADMIN"], "CapAdd"),
    (["--device", "/dev/null"], "Devices"),
    (["--security-opt", "seccomp=unconfined"], "SecurityOpt"),
]


@pytest.mark.parametrize("options,field", REFUSED, ids=[o[0] for o, _ in REFUSED])
def test_the_policy_refuses_through_the_front_and_the_engine_is_left_unchanged(
    as_token, front, busybox_image, docker_api, options, field
):
    before = ours(docker_api)
    code, out = as_token("ops")("run", "-d", *LABEL_ARGS, *options, busybox_image, "true")
    assert code != 0 and "Error response from daemon: rule `" in out and field in out, out
    assert ours(docker_api) == before
    # the refusal is audited with the token's name
    lines = [json.loads(line) for line in front[1].read_text().splitlines()]
    assert any(line["status"] == 403 and line["token"] == "ops" for line in lines)


def test_a_token_without_the_scope_runs_nothing(as_token, busybox_image, docker_api):
    before = ours(docker_api)
    code, out = as_token("reader")("run", "-d", *LABEL_ARGS, busybox_image, "true")
    assert code != 0 and "needs the `write` scope" in out, out
    assert ours(docker_api) == before


def test_what_the_front_does_not_know_is_refused_with_a_message(as_token):
    code, out = as_token("ops")("plugin", "ls")
    assert code != 0 and "the Engine-API front does not take GET /plugins" in out, out


def test_a_teams_token_sees_its_teams_containers_only(as_token, busybox_image, docker_api):
    other = docker_api.create_container(busybox_image, command=["true"], labels=dict(LABELS))["Id"]
    web = as_token("web")
    code, out = web("run", "-d", *LABEL_ARGS, busybox_image, "sleep", "300")
    assert code == 0, out
    mine = out.strip().splitlines()[-1]
    assert docker_api.inspect_container(mine)["Config"]["Labels"][TEAM_LABEL] == "web"
    code, out = web("ps", "-a", "-q", "--no-trunc", "--filter", f"label={TEST_LABEL}={RUN_ID}")
    assert code == 0 and out.split() == [mine], out
    # another team's container is no object at all for this token
    code, out = web("inspect", other)
    assert code != 0 and f"No such object: {other}" in out, out
    code, out = web("container", "inspect", other)
    assert code != 0 and "no such container" in out.lower(), out


def test_inspect_hides_secrets_from_tokens_without_exec(as_token, busybox_image, docker_api):
    made = docker_api.create_container(
        busybox_image,
        command=["sh", "-c", "sleep 1 --password hunter2"],
        environment=["DB_PASSWORD=hunter2", "MODE=demo"],
        labels=dict(LABELS),
    )["Id"]
    code, out = as_token("reader")("inspect", made)
    assert code == 0 and "hunter2" not in out and "MODE=demo" in out, out
    code, out = as_token("ops")("inspect", made)
    assert code == 0 and "DB_PASSWORD=hunter2" in out, out


def test_a_page_of_another_site_changes_nothing_through_the_front(front, busybox_image, docker_api):
    base, _ = front
    before = ours(docker_api)
    call = urllib.request.Request(
        f"{base}/engine/containers/create",
        data=json.dumps({"Image": busybox_image, "Labels": dict(LABELS)}).encode(),
        headers={
            "Authorization": "Bearer ops",
            "Content-Type": "text/plain",
            "Origin": "http://attacker.example",
            "Sec-Fetch-Site": "cross-site",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(call, timeout=10)
    assert refused.value.code == 403 and b"cross-site" in refused.value.read()
    assert ours(docker_api) == before


def test_docker_py_runs_lists_logs_and_removes(
    front, tmp_path_factory, busybox_image, docker_api, monkeypatch
):
    base, _ = front
    # docker-py sends the config file's HttpHeaders, as the CLI does
    monkeypatch.setenv("DOCKER_CONFIG", configs(tmp_path_factory, "ops"))
    client = docker.DockerClient(
        base_url="tcp://" + base.removeprefix("http://") + "/engine", version="auto"
    )
    try:
        box = client.containers.run(
            busybox_image, ["sh", "-c", "echo from-py; sleep 300"], detach=True, labels=dict(LABELS)
        )
        assert docker_api.inspect_container(box.id)["State"]["Running"] is True
        listed = client.containers.list(filters={"label": f"{TEST_LABEL}={RUN_ID}"})
        assert box.id in [c.id for c in listed]
        assert b"from-py" in box.logs()
        code, out = box.exec_run(["sh", "-c", "echo exec-$((2*3))"])
        assert code == 0 and out == b"exec-6\n"
        volume = client.volumes.create(f"front-{RUN_ID}-py", labels=dict(LABELS))
        network = client.networks.create(f"front-{RUN_ID}-py", labels=dict(LABELS))
        network.connect(box)
        assert (
            f"front-{RUN_ID}-py"
            in docker_api.inspect_container(box.id)["NetworkSettings"]["Networks"]
        )
        network.disconnect(box)
        network.remove()
        volume.remove()
        with pytest.raises(docker.errors.APIError) as refused:
            client.containers.run(
                busybox_image, "true", detach=True, privileged=True, labels=dict(LABELS)
            )
        assert refused.value.status_code == 403 and "Privileged" in str(refused.value)
        box.remove(force=True)
        assert box.id not in ours(docker_api)
    finally:
        client.close()


@pytest.fixture
def sleeping(as_token, busybox_image):
    """A container run through the front, that sleeps; its name."""
    name = f"front-{RUN_ID}-sleeping"
    code, out = as_token("ops")(
        "run", "-d", *LABEL_ARGS, "--name", name, busybox_image, "sleep", "300"
    )
    assert code == 0, out
    return name


@pytest.mark.parametrize("cli", CLIENTS)
def test_exec_and_an_attached_run_carry_output_input_and_exit_codes(
    as_token, cli, sleeping, busybox_image
):
    docker = as_token("ops", cli)
    code, out = docker("exec", sleeping, "sh", "-c", "echo out-$((1+1)); echo err >&2; exit 4")
    assert code == 4 and "out-2" in out and "err" in out, out
    # stdin to its end, then the process reads its end (the half-close is carried)
    done = subprocess.run(
        [cli, "exec", "-i", sleeping, "sh", "-c", "cat; echo after-eof"],
        env=docker.env, input="piped-in\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout == "piped-in\nafter-eof\n", done
    # docker run without -d: attach (hijacked), wait, start
    code, out = docker("run", "--rm", *LABEL_ARGS, busybox_image, "sh", "-c", "echo ran; exit 2")
    assert code == 2 and "ran" in out, out


@pytest.mark.parametrize("cli", CLIENTS)
@pytest.mark.parametrize("command", ["exec", "run"])
def test_exec_it_and_run_it_through_a_terminal(as_token, cli, command, sleeping, busybox_image):
    docker = as_token("ops", cli)
    argv = {
        "exec": [cli, "exec", "-it", sleeping, "sh"],
        "run": [cli, "run", "-it", "--rm", *LABEL_ARGS, busybox_image, "sh"],
    }[command]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the docker CLI on a terminal, and nothing else
        try:
            os.execve(cli, argv, docker.env)
        finally:
            os._exit(127)
    seen = b""

    def read_until(needle):
        nonlocal seen
        deadline = time.monotonic() + 20
        while needle not in seen:
            assert time.monotonic() < deadline, seen
            if select.select([fd], [], [], 0.5)[0]:
                seen += os.read(fd, 65536)

    read_until(b"# ")
    os.write(fd, b"echo $((6*7))\n")
    read_until(b"42")
    os.write(fd, b"exit 3\n")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 3, seen


def test_exec_is_judged_as_through_the_rest_api(as_token, sleeping, busybox_image, docker_api):
    code, out = as_token("ops")("exec", "--privileged", sleeping, "true")
    assert code != 0 and "rule `foreign-container` (Privileged)" in out, out
    code, out = as_token("reader")("exec", sleeping, "true")
    assert code != 0 and "needs the `exec` scope" in out, out
    # a container made elsewhere with powers the policy refuses: no exec into it
    powerful = docker_api.create_container(
        busybox_image, command=["sleep", "300"], labels=dict(LABELS),
        host_config=docker_api.create_host_config(cap_add=["SYS_ADMIN"]),
    )["Id"]  # fmt: skip
    code, out = as_token("ops")("exec", powerful, "true")
    assert code != 0 and "CapAdd" in out, out
    # another team's container is not there for a team's token
    code, out = as_token("web")("exec", sleeping, "true")
    assert code != 0 and "no such container" in out.lower(), out


def compose_file(folder, image, **extra) -> None:
    labels = json.dumps(dict(LABELS))
    service = {"image": image, "labels": dict(LABELS), **extra}
    (folder / "docker-compose.yml").write_text(
        json.dumps(
            {
                "version": "3.8",
                "services": {
                    # what the test asks for last: each service asks for it
                    "web": {**service, "command": ["sh", "-c", "echo web-up; sleep 300"],
                            "volumes": ["data:/data"], **extra},
                    "db": {**service, "command": ["sh", "-c", "echo db-up; sleep 300"]},
                },
                "volumes": {"data": {"labels": json.loads(labels)}},
                "networks": {"default": {"labels": json.loads(labels)}},
            }
        )
    )  # fmt: skip


def compose(as_token, folder, *args):
    env = as_token("ops").env
    done = subprocess.run(
        ["docker-compose", "-p", f"front{RUN_ID}", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_docker_compose_brings_a_two_service_file_up_and_down(
    as_token, tmp_path, busybox_image, docker_api
):
    assert shutil.which("docker-compose"), "docker-compose is not installed (deploy/test.sh)"
    compose_file(tmp_path, busybox_image)
    code, out = compose(as_token, tmp_path, "up", "-d")
    assert code == 0, out
    project = {"label": f"com.docker.compose.project=front{RUN_ID}"}
    running = docker_api.containers(filters=project)
    assert len(running) == 2, running
    code, out = compose(as_token, tmp_path, "ps")
    assert code == 0 and out.count(" Up") == 2, out
    code, out = compose(as_token, tmp_path, "logs")
    assert code == 0 and "web-up" in out and "db-up" in out, out
    code, out = compose(as_token, tmp_path, "down", "-v")
    assert code == 0, out
    assert not docker_api.containers(all=True, filters=project)
    assert not docker_api.volumes(filters=project).get("Volumes")
    assert not docker_api.networks(filters=project)


@pytest.mark.parametrize(
    "extra,field",
    [({"privileged": True}, "Privileged"), ({"network_mode": "host"}, "NetworkMode"),
     ({"cap_add": ["SYS_ADMIN"]}, "CapAdd"), ({"pid": "host"}, "PidMode"),
     ({"devices": ["/dev/null:/dev/null"]}, "Devices"),
     ({"security_opt": ["seccomp=unconfined"]}, "SecurityOpt"),
     ({"volumes": ["/:/host"]}, "Binds")],
    ids=["privileged", "network-host", "cap-add", "pid-host", "device", "seccomp", "root-bind"],
)  # fmt: skip
def test_a_compose_file_with_powers_is_refused(
    as_token, tmp_path, busybox_image, docker_api, extra, field
):
    before = ours(docker_api)
    compose_file(tmp_path, busybox_image, **extra)
    code, out = compose(as_token, tmp_path, "up", "-d")
    assert code != 0 and field in out, out
    assert ours(docker_api) == before
    compose(as_token, tmp_path, "down", "-v")


@pytest.mark.parametrize("cli", CLIENTS)
def test_docker_cp_both_ways_and_stats(as_token, cli, sleeping, tmp_path):
    docker = as_token("ops", cli)
    (tmp_path / "in.txt").write_text("copied-in\n")
    code, out = docker("cp", str(tmp_path / "in.txt"), f"{sleeping}:/in.txt")
    assert code == 0, out
    code, out = docker("exec", sleeping, "cat", "/in.txt")
    assert code == 0 and out == "copied-in\n", out
    code, out = docker("cp", f"{sleeping}:/in.txt", str(tmp_path / "out.txt"))
    assert code == 0 and (tmp_path / "out.txt").read_text() == "copied-in\n", out
    code, out = docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", sleeping)
    assert code == 0 and out.startswith(sleeping), out
    # the read token copies nothing out: files hold what the container holds
    code, out = as_token("reader", cli)("cp", f"{sleeping}:/in.txt", str(tmp_path / "no.txt"))
    assert code != 0 and "needs the `exec` scope" in out, out


def test_pull_tag_push_and_remove_with_the_loopback_registry(
    as_token, registry, busybox_image, docker_api
):
    docker = as_token("ops")
    remote = f"{registry}/front-{RUN_ID}/busybox:1"
    code, out = docker("tag", busybox_image, remote)
    assert code == 0, out
    code, out = docker("push", remote)
    assert code == 0 and "digest: sha256:" in out, out
    code, out = docker("rmi", remote)
    assert code == 0, out
    code, out = docker("pull", remote)
    assert code == 0 and remote in out, out
    assert docker_api.inspect_image(remote)["Id"] == docker_api.inspect_image(busybox_image)["Id"]
    code, out = docker("rmi", remote)
    assert code == 0, out


@pytest.mark.parametrize("cli", CLIENTS)
def test_docker_build_with_the_classic_builder(as_token, cli, tmp_path, busybox_image, docker_api):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nCOPY hello.txt /hello.txt\nRUN echo built > /built.txt\n"
    )
    (tmp_path / "hello.txt").write_text("hello\n")
    tag = f"front-{RUN_ID}/built:{os.path.basename(os.path.dirname(cli))}"
    docker = as_token("ops", cli)
    env = {**docker.env, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run(
        [cli, "build", *LABEL_ARGS, "-t", tag, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    image = docker_api.inspect_image(tag)
    assert image["Config"]["Labels"][TEST_LABEL] == RUN_ID
    # a build that would run its steps on the host's network is refused
    done = subprocess.run(
        [cli, "build", "--network", "host", *LABEL_ARGS, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "networkmode" in done.stdout + done.stderr, done


def test_docker_events_show_a_team_its_own_objects(as_token, busybox_image, docker_api):
    """docker events for a time span: the operator sees both containers' starts, the team's
    token only its own."""
    since = str(int(time.time()) - 1)
    other = docker_api.create_container(busybox_image, command=["true"], labels=dict(LABELS))["Id"]
    docker_api.start(other)
    code, out = as_token("web")("run", "-d", *LABEL_ARGS, busybox_image, "true")
    assert code == 0, out
    mine = out.strip().splitlines()[-1]
    time.sleep(1)
    until = str(int(time.time()) + 1)
    span = ("--since", since, "--until", until, "--filter", "event=start", "--format", "{{.ID}}")
    code, out = as_token("ops")("events", *span)
    assert code == 0 and {other, mine} <= set(out.split()), out
    code, out = as_token("web")("events", *span)
    assert code == 0 and mine in out.split() and other not in out.split(), out


def test_a_build_and_a_pull_reach_only_the_allowed_registries(busybox_image, registry, tmp_path):
    """With PULL_PUSH_REGISTRIES limited, what a Dockerfile would fetch from elsewhere is
    refused before the engine sees the build; so is a pull."""
    tokens = json.dumps(TOKENS[:1])
    with served(TOKENS=tokens, PULL_PUSH_REGISTRIES=json.dumps([registry])) as (base, _):
        client = docker.APIClient(
            base_url="tcp://" + base.removeprefix("http://") + "/engine", version="1.41"
        )
        client.headers["Authorization"] = "Bearer ops"
        try:
            dockerfile = io.BytesIO(b"FROM elsewhere.example:5000/team/base:1\nRUN true\n")
            with pytest.raises(docker.errors.APIError) as refused:
                list(client.build(fileobj=dockerfile, labels=dict(LABELS), rm=True))
            assert refused.value.status_code == 403 and "registries" in str(refused.value)
            with pytest.raises(docker.errors.APIError) as refused:
                client.pull("elsewhere.example:5000/team/base", tag="1")
            assert refused.value.status_code == 403 and "PULL_PUSH_REGISTRIES" in str(refused.value)
        finally:
            client.close()


def test_top_diff_rename_update_export_and_commit(as_token, sleeping, tmp_path, docker_api):
    docker = as_token("ops")
    code, out = docker("top", sleeping)
    assert code == 0 and "sleep 300" in out, out
    code, out = docker("exec", sleeping, "touch", "/made-here")
    code, out = docker("diff", sleeping)
    assert code == 0 and "A /made-here" in out, out
    renamed = f"{sleeping}-renamed"
    code, out = docker("rename", sleeping, renamed)
    assert code == 0, out
    code, out = docker("update", "--memory", "64m", "--memory-swap", "128m", renamed)
    assert code == 0, out
    assert docker_api.inspect_container(renamed)["HostConfig"]["Memory"] == 64 * 1024**2
    # past the service's maximum: the policy's rule, and nothing changed
    code, out = docker("update", "--memory", "64g", "--memory-swap", "128g", renamed)
    assert code != 0 and "rule `" in out, out
    code, out = docker("export", "-o", str(tmp_path / "fs.tar"), renamed)
    assert code == 0 and (tmp_path / "fs.tar").stat().st_size > 0, out
    image = f"front-{RUN_ID}/committed:1"
    code, out = docker("commit", "--change", f"LABEL {TEST_LABEL}={RUN_ID}", renamed, image)
    assert code == 0, out
    assert docker_api.inspect_image(image)["Config"]["Labels"][TEST_LABEL] == RUN_ID
    code, out = as_token("reader")("export", "-o", str(tmp_path / "no.tar"), renamed)
    assert code != 0 and "needs the `exec` scope" in out, out


def test_a_session_waiting_for_input_is_not_cut_by_the_body_timeout(busybox_image, tmp_path):
    """Reads wait for a person: with BODY_TIMEOUT at one second, input typed three seconds
    later still reaches the process, and its output comes back."""
    with served(TOKENS=json.dumps(TOKENS[:1]), BODY_TIMEOUT=1) as (base, _):
        folder = tmp_path / "config"
        folder.mkdir()
        (folder / "config.json").write_text(
            json.dumps({"HttpHeaders": {"Authorization": "Bearer ops"}})
        )
        env = {
            **os.environ,
            "DOCKER_HOST": "tcp://" + base.removeprefix("http://") + "/engine",
            "DOCKER_CONFIG": str(folder),
        }
        argv = [
            CLIENTS[0],
            "run",
            "-i",
            "--rm",
            *LABEL_ARGS,
            busybox_image,
            "sh",
            "-c",
            "read line; echo got-$line",
        ]
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        time.sleep(3)
        out, _ = process.communicate("late\n", timeout=60)
        assert process.returncode == 0 and out == "got-late\n", out


def test_volume_and_network_commands_follow_and_raw_calls(as_token, front, sleeping):
    docker = as_token("ops")
    name = f"front-{RUN_ID}-cli"
    for command in (
        ["volume", "create", *LABEL_ARGS, name],
        ["network", "create", *LABEL_ARGS, name],
        ["network", "connect", name, sleeping],
        ["network", "disconnect", name, sleeping],
        ["network", "rm", name],
        ["volume", "rm", name],
    ):
        code, out = docker(*command)
        assert code == 0, (command, out)
    # docker logs -f: lines as they come (the container writes one when it starts)
    follow = subprocess.Popen(
        [CLIENTS[0], "logs", "-f", sleeping], env=docker.env, stdout=subprocess.PIPE, text=True
    )
    docker("exec", sleeping, "sh", "-c", "echo late-line > /proc/1/fd/1")
    assert follow.stdout.readline() == "late-line\n"
    follow.kill()
    follow.wait()
    # unversioned paths too, and BuildKit's session refused with what to do instead
    base, _ = front
    headers = {"Authorization": "Bearer ops"}
    with urllib.request.urlopen(
        urllib.request.Request(f"{base}/engine/containers/json", headers=headers), timeout=10
    ) as answer:
        assert answer.status == 200 and isinstance(json.load(answer), list)
    call = urllib.request.Request(f"{base}/engine/v1.41/session", headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(call, timeout=10)
    assert refused.value.code == 403 and b"DOCKER_BUILDKIT=0" in refused.value.read()


def test_a_body_not_of_dockers_types_is_a_400(front, busybox_image, docker_api):
    base, _ = front
    before = ours(docker_api)
    for body in (
        {"Image": busybox_image, "Labels": dict(LABELS), "HostConfig": {"Memory": "lots"}},
        {"Image": busybox_image, "Labels": ["not", "a", "map"]},
        {"Image": busybox_image, "Labels": dict(LABELS), "HostConfig": ["not", "a", "map"]},
    ):
        call = urllib.request.Request(
            f"{base}/engine/v1.41/containers/create",
            data=json.dumps(body).encode(),
            headers={"Authorization": "Bearer ops", "Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(call, timeout=10)
        assert refused.value.code in (400, 403), (body, refused.value.read())
    assert ours(docker_api) == before

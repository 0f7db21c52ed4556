"""The served spec, as other tools read it: clients generated from it (openapi-python-client;
openapi-typescript with openapi-fetch; orval) drive the service; Spectral's and Redocly's
recommended rules find nothing in it.

The node tools come from deploy/test.sh (`ensure_node_tools`, pinned, in .run/node)."""

import base64
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    RUN_ID,
    TEST_LABEL,
    admin_headers,
    eventually,
    make_app,
    served,
    single_node_swarm,
    tar_of,
)

NODE_TOOLS = Path(os.environ.get("DOCKYARD_TEST_NODE_TOOLS", ROOT / ".run" / "node"))
VENV_BIN = Path(sys.executable).parent


def node_tool(name) -> str:
    path = NODE_TOOLS / "node_modules" / ".bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing (deploy/test.sh installs the node tools)")
    return str(path)


def run(command, cwd, timeout=300):
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "openapi.json"
    answer = make_app().test_client().get("/openapi.json")
    assert answer.status_code == 200
    path.write_text(json.dumps(answer.get_json(), indent=2))
    return path


class Generated:
    """A client openapi-python-client made of the served document, with its defaults:
    ``call("tag.operation", ...)`` runs one generated function and checks its status."""

    def __init__(self, root):
        done = run(
            [
                str(VENV_BIN / "openapi-python-client"),
                "generate",
                "--path",
                str(root / "openapi.json"),
                "--output-path",
                str(root / "dockyard_client"),
                "--meta",
                "none",
            ],
            cwd=root,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        self.warnings = done.stdout  # it sends a tar as application/octet-stream
        self.root = root
        self.client = None

    def __enter__(self):
        sys.path.insert(0, str(self.root))
        return self

    def __exit__(self, *exc):
        sys.path.remove(str(self.root))
        for name in [name for name in sys.modules if name.startswith("dockyard_client")]:
            del sys.modules[name]

    def connect(self, base, token):
        package = importlib.import_module("dockyard_client")
        self.client = package.AuthenticatedClient(base_url=base, token=token, timeout=60)
        self.models = importlib.import_module("dockyard_client.models")
        self.files = importlib.import_module("dockyard_client.types")
        return self.client

    def call(self, operation, *args, status=200, **kwargs):
        tag, name = operation.split(".")
        module = importlib.import_module(f"dockyard_client.api.{tag}.{name}")
        answer = module.sync_detailed(*args, client=self.client, **kwargs)
        assert answer.status_code == status, (operation, answer.content)
        return answer.parsed

    def model(self, name, value):
        return getattr(self.models, name).from_dict(value)

    def file(self, data: bytes):
        return self.files.File(payload=io.BytesIO(data))


@pytest.fixture(scope="module")
def generated(spec_file):
    with Generated(spec_file.parent) as made:
        yield made


def test_generated_python_client_runs_the_readme(
    generated, busybox_image, registry, labels, docker_api
):
    """The README's calls through the functions openapi-python-client generates, with its
    defaults: the same steps as the TypeScript programs (tests/fixtures/usage.ts), files both
    ways as the generated functions send and read them."""
    call, model, file = generated.call, generated.model, generated.file
    labels = {**labels, "dockyard.test.client": "python"}
    label = [f"{key}={value}" for key, value in labels.items()]
    prefix = f"py{RUN_ID}"
    app, remote = f"{prefix}/app:1", f"{registry}/{prefix}/hi"
    web, data, net = f"{prefix}-web", f"{prefix}-data", f"{prefix}-net"

    with served(REGISTRIES=json.dumps([{"host": registry, "insecure": True}])) as (base, _):
        token = admin_headers()["Authorization"].split(" ", 1)[1]
        with generated.connect(base, token):
            assert call("system.get_health").status == "ok"
            assert call("auth.get_who_am_i").name
            call("system.get_system_info")
            call("system.get_disk_usage")

            # images: build from JSON and from a tar, tag, push, pull, export, import, remove
            built = call(
                "images.build_image",
                status=201,
                body=model(
                    "BuildJson",
                    {
                        "dockerfile": f"FROM {busybox_image}\nARG MODE\nRUN echo $MODE > /m\n",
                        "tag": app,
                        "build_args": {"MODE": "prod"},
                        "labels": labels,
                    },
                ),
            )
            assert isinstance(built, generated.models.Built)
            context = tar_of({"Dockerfile": f"FROM {busybox_image}\n"})
            call(
                "images.build_image",
                status=201,
                body=file(context),
                tag=f"{prefix}/tar:1",
                label=label,
            )
            tag_body = model("Tag", {"repository": remote, "tag": "1.0"})
            call("images.tag_image", app, status=201, body=tag_body)
            pushed = call("images.push_image", f"{remote}:1.0", body=model("Push", {}))
            assert pushed.digest.startswith("sha256:")
            call("images.pull_image", body=model("Pull", {"image": f"{remote}:1.0"}))
            listed = call("images.list_images", label=label)
            assert any(f"{remote}:1.0" in image.tags for image in listed)
            saved = call("images.export_image", f"{remote}:1.0")
            assert isinstance(saved, generated.files.File)
            archive = saved.payload.read()
            call("images.remove_image", f"{remote}:1.0", force=True)
            loaded = call("images.import_images", body=file(archive))
            assert f"{remote}:1.0" in loaded.loaded

            # containers: run, list, logs, exec, copy out and in, stop, commit
            body = {
                "image": app,
                "name": web,
                "command": ["sh", "-c", "echo hello from the client; exec sleep 60"],
                "mounts": [{"type": "volume", "source": data, "target": "/data"}],
                "labels": labels,
                "start": True,
            }
            created = call(
                "containers.create_container", status=201, body=model("ContainerCreate", body)
            )
            assert isinstance(created, generated.models.ContainerDetail)
            assert docker_api.inspect_container(created.id)["State"]["Running"]
            assert [c.name for c in call("containers.list_containers", all_=True, label=label)]
            eventually(
                lambda: "hello from the client" in call("containers.get_container_logs", web)
            )
            ran = call(
                "containers.exec_in_container",
                web,
                body=model("Exec", {"cmd": ["sh", "-c", "echo kept > /data/kept.txt"]}),
            )
            assert ran.exit_code == 0
            copied = call("containers.copy_from_container", web, path="/data")
            call(
                "containers.copy_to_container",
                web,
                status=204,
                body=file(copied.payload.read()),
                path="/data",
            )
            call("containers.stop_container", web, timeout=5)
            commit = model("Commit", {"repository": f"{prefix}/web", "tag": "snap"})
            call("containers.commit_container", web, status=201, body=commit)

            # volumes: back up, restore elsewhere
            backup = call("volumes.backup_volume", data)
            restored = call(
                "volumes.restore_volume",
                f"{prefix}-data2",
                body=file(backup.payload.read()),
                label=label,
            )
            assert isinstance(restored, generated.models.Restored) and restored.entries >= 1

            # networks: create, connect, inspect, disconnect, remove
            network = {"name": net, "internal": True, "labels": labels}
            call("networks.create_network", status=201, body=model("NetworkCreate", network))
            connect = model("Connect", {"container": web, "aliases": ["api"]})
            call("networks.connect_network", net, status=204, body=connect)
            assert call("networks.inspect_network", net).name == net
            # stopped, the container is on it all the same (inspect lists running ones)
            assert net in docker_api.inspect_container(web)["NetworkSettings"]["Networks"]
            disconnect = model("Disconnect", {"container": web})
            call("networks.disconnect_network", net, status=204, body=disconnect)
            call("networks.remove_network", net, status=204, force=True)

            # remove by label; registry, course, teams
            removed = call("containers.remove_containers", force=True, label=label)
            assert removed.removed == [created.id]
            for volume in (data, f"{prefix}-data2"):
                call("volumes.remove_volume", volume, status=204, force=True)
            tags = call("registry.list_registry_tags", registry=registry, repository=f"{prefix}/hi")
            assert [tag.name for tag in tags.tags] == ["1.0"]
            assert call("concepts.list_concepts").title
            drawn = call("concepts.get_concept_diagram", "container")
            assert isinstance(drawn, generated.files.File)
            assert drawn.payload.read().lstrip().startswith(b"<svg")
            call("teams.list_teams")

    # the engine as the program left it
    scope = {"label": "dockyard.test.client=python"}
    assert not docker_api.containers(all=True, filters=scope)
    assert not docker_api.volumes(filters=scope).get("Volumes")
    tags = {tag for image in docker_api.images(filters=scope) for tag in image["RepoTags"] or []}
    assert {app, f"{prefix}/tar:1", f"{prefix}/web:snap", f"{remote}:1.0"} <= tags


def test_generated_python_client_runs_the_readmes_swarm(generated, busybox_image, docker_api):
    """The README's swarm section through the generated functions: a service with a secret,
    its tasks, scaled, updated and rolled back, its logs, a node drained and made active again
    (on a swarm made here only), then removed."""
    labels = {TEST_LABEL: RUN_ID, "dockyard.test.client": "python-swarm"}
    name, secret = f"py{RUN_ID}-web", f"py{RUN_ID}-token"
    repository, tag = busybox_image.rsplit(":", 1)
    second = f"{repository}:{tag}-py2"
    docker_api.tag(busybox_image, repository, f"{tag}-py2")  # the same image: labelled
    call, model = generated.call, generated.model
    with single_node_swarm(docker_api) as made, served() as (base, _):
        token = admin_headers()["Authorization"].split(" ", 1)[1]
        with generated.connect(base, token):
            swarm = call("swarm.inspect_swarm")
            assert swarm.is_manager
            body = {"name": secret, "data": "s3cret", "labels": labels}
            call("secrets.create_secret", status=201, body=model("PayloadCreate", body))
            body = {
                "name": name,
                "image": busybox_image,
                # stops at once when told: replaced tasks do not wait out a grace period
                "command": [
                    "sh",
                    "-c",
                    "trap 'exit 0' TERM; echo hello-from-task; sleep 600 & wait",
                ],
                "replicas": 2,
                "labels": labels,
                "update_config": {"parallelism": 2, "delay": 0, "monitor": 1},
                "secrets": [{"name": secret, "target": "api-token"}],
            }
            created = call("services.create_service", status=201, body=model("ServiceCreate", body))
            assert created.secrets == [secret]

            def running(count, image=busybox_image):
                wanted = generated.models.ListTasksDesiredState.RUNNING
                tasks = call("swarm.list_tasks", service=name, desired_state=wanted)
                return len([t for t in tasks if t.state == "running" and t.image == image]) == count

            eventually(lambda: running(2), timeout=90)
            call("services.scale_service", name, body=model("Scale", {"replicas": 3}))
            eventually(lambda: running(3), timeout=90)
            updated = call(
                "services.update_service", name, body=model("ServiceUpdate", {"image": second})
            )
            assert updated.image == second
            eventually(
                lambda: call("services.inspect_service", name).update_status.state == "completed",
                timeout=120,
            )
            assert call("services.rollback_service", name).image == busybox_image
            logs = eventually(lambda: "hello-from-task" in call("services.get_service_logs", name))
            assert logs
            if made:  # only the swarm made here: another's nodes run others' tasks
                node = swarm.node_id
                for availability in ("drain", "active"):
                    change = model("NodeUpdate", {"availability": availability})
                    assert call("swarm.update_node", node, body=change).availability == availability
            call("services.remove_service", name, status=204)
            call("secrets.remove_secret", secret, status=204)
        scope = {"label": "dockyard.test.client=python-swarm"}
        assert not docker_api.services(filters=scope) and not docker_api.secrets(filters=scope)


def test_spectral_recommended_rules_find_nothing(spec_file, tmp_path):
    ruleset = tmp_path / ".spectral.yaml"
    # a WebSocket's success is its 101 (Switching Protocols), which that rule does not count;
    # the override names the file relative to the ruleset, and the operation by JSON pointer
    where = os.path.relpath(spec_file, tmp_path)
    ruleset.write_text(
        'extends: ["spectral:oas"]\n'
        "overrides:\n"
        f'  - files: ["{where}#/paths/~1containers~1%7Bid%7D~1terminal/get"]\n'
        "    rules:\n"
        '      operation-success-response: "off"\n'
    )
    done = run(
        [
            node_tool("spectral"),
            "lint",
            str(spec_file),
            "--ruleset",
            str(ruleset),
            "--format",
            "json",
            "--quiet",
        ],
        cwd=tmp_path,
    )
    findings = json.loads(done.stdout or "[]")
    levels = {0: "error", 1: "warning", 2: "info", 3: "hint"}
    for finding in findings:  # shown with -s or when the test fails
        print(
            levels.get(finding["severity"]),
            finding["code"],
            ".".join(map(str, finding["path"])),
            finding["message"],
        )
    # none at all: errors, warnings, hints
    assert not findings, json.dumps(findings, indent=1)
    assert done.returncode == 0, done.stderr


def test_redocly_recommended_rules_find_nothing(spec_file, tmp_path):
    done = run(
        [node_tool("redocly"), "lint", str(spec_file), "--extends", "recommended"]
        + ["--format", "json"],
        cwd=tmp_path,
    )
    problems = json.loads(done.stdout)["problems"]
    found = {(p["ruleId"], p["location"][0]["pointer"]) for p in problems}
    for problem in problems:  # shown with -s or when the test fails
        print(problem["severity"], problem["ruleId"], problem["location"][0]["pointer"])
    # none at all: errors and warnings
    assert not found, problems


TSC = (
    *("--strict", "--module", "esnext", "--moduleResolution", "bundler", "--target", "es2022"),
    *("--lib", "es2022,dom,dom.iterable", "--types", "node"),
    *("--allowImportingTsExtensions", "--rewriteRelativeImportExtensions", "--outDir", "js"),
)


@pytest.mark.parametrize("generator", ["openapi-fetch", "orval"])
def test_generated_typescript_clients_run_the_readme(
    generator, spec_file, tmp_path, busybox_image, registry, labels, docker_api
):
    """The README's calls in TypeScript, over what each generator makes of the served document
    with its defaults: openapi-typescript's types with openapi-fetch (tests/fixtures/usage.ts),
    orval's fetch client (tests/fixtures/orval_usage.ts). Compiled with `tsc --strict`, then
    run with node against the service; the engine's state is checked afterwards."""
    (tmp_path / "node_modules").symlink_to(NODE_TOOLS / "node_modules")
    with served(REGISTRIES=json.dumps([{"host": registry, "insecure": True}])) as (base, _):
        if generator == "orval":
            usage = "orval_usage.ts"
            output = {
                "target": "./orval.ts",
                "client": "fetch",
                "baseUrl": base,
                "override": {"splitByContentType": True},
            }
            config = {"dockyard": {"input": {"target": str(spec_file)}, "output": output}}
            (tmp_path / "orval.config.cjs").write_text(f"module.exports = {json.dumps(config)};\n")
            generate = [node_tool("orval"), "--config", "orval.config.cjs"]
            sources = ["orval.ts", usage]
        else:
            usage = "usage.ts"
            generate = [node_tool("openapi-typescript"), str(spec_file), "-o", "dockyard.ts"]
            sources = ["dockyard.ts", usage]
        done = run(generate, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        for name in (usage, "setting.ts"):
            shutil.copy(ROOT / "tests" / "fixtures" / name, tmp_path / name)
        done = run([node_tool("tsc"), *TSC, *sources, "setting.ts"], cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        (tmp_path / "js" / "package.json").write_text('{"type": "module"}')

        prefix = f"ts{RUN_ID}-{generator.split('-')[-1]}"
        context = tar_of({"Dockerfile": f"FROM {busybox_image}\nARG MODE\nRUN echo $MODE > /m\n"})
        setting = {
            "base": base,
            "token": admin_headers()["Authorization"].split(" ", 1)[1],
            "image": busybox_image,
            "registry": registry,
            "prefix": prefix,
            "labels": {**labels, "dockyard.test.client": generator},
            "context": base64.b64encode(context).decode(),
        }
        script = tmp_path / "js" / usage.replace(".ts", ".js")
        done = run(["node", str(script), json.dumps(setting)], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout)
    print(seen)
    # each step throws on a status it did not expect: the last one ran
    assert seen[-1] == "teams 200", seen

    # the engine as the program left it
    scope = {"label": f"dockyard.test.client={generator}"}
    assert not docker_api.containers(all=True, filters=scope)  # removed by label
    assert not docker_api.volumes(filters=scope).get("Volumes")
    assert not docker_api.networks(filters=scope)
    tags = {tag for image in docker_api.images(filters=scope) for tag in image["RepoTags"] or []}
    remote = f"{registry}/{prefix}/hi:1.0"
    assert {f"{prefix}/app:1", f"{prefix}/tar:1", f"{prefix}/web:snap", remote} <= tags
    built = docker_api.inspect_image(f"{prefix}/tar:1")["Config"]["Labels"]
    assert built["dockyard.test.client"] == generator

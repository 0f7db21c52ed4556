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
import tarfile
import time
from pathlib import Path

import docker
import pytest

from tests.conftest import ROOT, RUN_ID, admin_headers, make_app, served, tar_of

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


def test_generated_python_client_drives_the_service(
    spec_file, tmp_path, busybox_image, labels, docker_api
):
    done = run(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(spec_file),
            "--output-path",
            str(tmp_path / "dockyard_client"),
            "--meta",
            "none",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)  # its warnings: tar bodies are beyond what it generates
    sys.path.insert(0, str(tmp_path))
    try:
        create = importlib.import_module("dockyard_client.api.containers.create_container")
        logs = importlib.import_module("dockyard_client.api.containers.get_container_logs")
        exec_in = importlib.import_module("dockyard_client.api.containers.exec_in_container")
        remove = importlib.import_module("dockyard_client.api.containers.remove_container")
        restore = importlib.import_module("dockyard_client.api.volumes.restore_volume")
        backup = importlib.import_module("dockyard_client.api.volumes.backup_volume")
        diagram = importlib.import_module("dockyard_client.api.concepts.get_concept_diagram")
        models = importlib.import_module("dockyard_client.models")
        files = importlib.import_module("dockyard_client.types")
        authenticated = importlib.import_module("dockyard_client").AuthenticatedClient
    finally:
        sys.path.remove(str(tmp_path))

    with served() as (base, _):
        token = admin_headers()["Authorization"].split(" ", 1)[1]
        with authenticated(base_url=base, token=token, timeout=60) as client:
            body = models.ContainerCreate.from_dict(
                {
                    "image": busybox_image,
                    "command": ["sh", "-c", "echo hello from the client; sleep 60"],
                    "labels": labels,
                    "start": True,
                }
            )
            created = create.sync_detailed(client=client, body=body)
            assert created.status_code == 201, created.content
            container = created.parsed
            assert isinstance(container, models.ContainerDetail)
            assert docker_api.inspect_container(container.id)["State"]["Running"]

            for _ in range(50):
                printed = logs.sync_detailed(container.id, client=client)
                assert printed.status_code == 200, printed.content
                if b"hello from the client" in printed.content:
                    break
                time.sleep(0.1)
            assert b"hello from the client" in printed.content

            ran = exec_in.sync_detailed(
                container.id,
                client=client,
                body=models.Exec.from_dict({"cmd": ["echo", "exec from the client"]}),
            )
            assert ran.status_code == 200, ran.content
            assert isinstance(ran.parsed, models.ExecResult)
            assert ran.parsed.exit_code == 0
            assert "exec from the client" in json.dumps(ran.parsed.to_dict())

            removed = remove.sync_detailed(container.id, client=client, force=True)
            assert removed.status_code == 204, removed.content

            # files both ways, as the generated functions send and read them: a volume
            # restored from a .tar.gz, backed up again, and a diagram's SVG
            volume = f"client-{RUN_ID}"
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w:gz") as tar:
                info = tarfile.TarInfo("note.txt")
                info.size = 5
                tar.addfile(info, io.BytesIO(b"hello"))
            label = [f"{key}={value}" for key, value in labels.items()]
            restored = restore.sync_detailed(
                volume, client=client, body=files.File(payload=io.BytesIO(archive.getvalue())),
                label=label,
            )  # fmt: skip
            assert restored.status_code == 200, restored.content
            assert isinstance(restored.parsed, models.Restored) and restored.parsed.entries == 1
            saved = backup.sync_detailed(volume, client=client)
            assert saved.status_code == 200 and isinstance(saved.parsed, files.File)
            with tarfile.open(fileobj=saved.parsed.payload, mode="r:gz") as tar:
                assert tar.extractfile("./note.txt").read() == b"hello"
            drawn = diagram.sync_detailed("container", client=client)
            assert drawn.status_code == 200 and isinstance(drawn.parsed, files.File)
            assert drawn.parsed.payload.read().lstrip().startswith(b"<svg")
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(container.id)


def test_spectral_recommended_rules_find_nothing(spec_file, tmp_path):
    ruleset = tmp_path / ".spectral.yaml"
    ruleset.write_text('extends: ["spectral:oas"]\n')
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
        shutil.copy(ROOT / "tests" / "fixtures" / usage, tmp_path / usage)
        done = run([node_tool("tsc"), *TSC, *sources], cwd=tmp_path)
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

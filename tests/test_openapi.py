"""The committed OpenAPI document is the one the code generates and serves; /docs is offline."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "openapi" / "openapi.json"


def test_served_spec_equals_the_committed_one(client):
    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json == json.loads(COMMITTED.read_text()), (
        "openapi/openapi.json drifted from the code: run "
        "`FLASK_APP=service .venv/bin/flask openapi write --format=json openapi/openapi.json`"
    )


def test_flask_openapi_write_reproduces_the_committed_file(tmp_path):
    out = tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "service", "openapi", "write", str(out)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    assert json.loads(out.read_text()) == json.loads(COMMITTED.read_text())


def test_every_operation_has_a_summary_and_documented_fields(client):
    spec = client.get("/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
    for name, schema in spec["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if name == "Error":
                continue
            assert prop.get("description") or "$ref" in prop or "allOf" in prop, (
                f"{name}.{field} is not documented"
            )


def test_daemon_failures_are_documented_where_the_daemon_is_called(client):
    spec = client.get("/openapi.json").json
    info = spec["paths"]["/system/info"]["get"]["responses"]
    assert {"502", "503", "504"} <= set(info)
    assert "Retry-After" in info["503"]["headers"]


def test_docs_load_with_no_internet(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, "the docs page loads no script"
    for url in urls:
        assert url.startswith("/"), f"/docs loads {url} from outside the service"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 1000
        asset.close()
    assert '"/openapi.json"' in html


def _operations(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def test_every_operation_has_an_id_a_description_and_its_security(client):
    from service.auth import PUBLIC_ENDPOINTS

    spec = client.get("/openapi.json").json
    assert spec["info"].get("description")
    ids = {}
    for where, operation in _operations(spec):
        assert re.fullmatch(r"[a-z][A-Za-z]+", operation.get("operationId", "")), where
        assert operation["operationId"] not in ids, (where, ids.get(operation["operationId"]))
        ids[operation["operationId"]] = where
        assert operation.get("description"), f"{where} has no description"
        assert "security" in operation, f"{where} declares no security"
    # probes, and the course (its live state asks for `read` itself)
    public = {
        "GET /health",
        "GET /ready",
        "GET /concepts",
        "GET /concepts/{id}",
        "GET /concepts/{id}/diagram",
    }
    # a terminal's WebSocket: a browser sends no header on an upgrade; it offers a ticket
    ticketed = {"GET /containers/{id}/terminal"}
    assert {"system.Health", "system.Ready"} <= PUBLIC_ENDPOINTS
    for where, operation in _operations(spec):
        assert (operation["security"] == []) == (where in public | ticketed), where
        offered = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("Sec-WebSocket-Protocol" in offered) == (where in ticketed), where
    assert ids["listContainers"] == "GET /containers"
    assert ids["createContainer"] == "POST /containers"


def test_every_json_answer_schema_lists_its_required_fields(client):
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    pending = [
        content["schema"]
        for _, operation in _operations(spec)
        for answer in operation["responses"].values()
        for media, content in answer.get("content", {}).items()
        if media == "application/json"
    ]
    seen = set()
    while pending:
        schema = pending.pop()
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                continue
            seen.add(name)
            schema = schemas[name]
            if schema.get("properties"):
                assert schema.get("required"), f"{name} lists no required field"
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                pending.append(schema[key])
        pending += list(schema.get("properties", {}).values()) + schema.get("allOf", [])
    assert {"Container", "ContainerDetail", "State", "Error", "ImageDetail"} <= seen


def test_tar_bodies_and_answers_are_binary_that_generators_keep(client):
    spec = client.get("/openapi.json").json
    archive = spec["components"]["schemas"]["TarArchive"]
    assert archive["type"] == "string" and archive["format"] == "binary"
    upload = spec["paths"]["/images/import"]["post"]["requestBody"]["content"]
    download = spec["paths"]["/images/{ref}/export"]["get"]["responses"]["200"]["content"]
    for content in (upload, download):
        assert set(content) == {"application/x-tar", "application/octet-stream"}
        for media in content.values():
            assert media["schema"] == {"$ref": "#/components/schemas/TarArchive"}


def test_the_request_line_limit_is_declared_on_every_operation(client):
    """gunicorn answers it on any path, before the service sees the request."""
    conf = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    limit = re.search(r"^limit_request_line = (\d+)$", conf, re.M).group(1)
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            too_long = operation["responses"]["414"]
            assert f"over {limit} bytes" in too_long["description"], (method, path)

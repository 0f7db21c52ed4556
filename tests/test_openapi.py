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

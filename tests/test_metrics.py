"""Prometheus metrics: what /metrics says after real calls, who may read it, that no label
grows with the engine's objects or the streams open, and the real Prometheus server scraping
the service as deployed, with a bearer token, through deploy/prometheus/prometheus.yml."""

import contextlib
import json
import re
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from service.auth import hash_token
from service.metrics import daemon_operation
from tests.conftest import ROOT, eventually, free_port, make_client, served, wait_for_http
from tests.test_monitoring import METRICS

TOKENS = [
    {"name": "prometheus", "hash": hash_token("p"), "scopes": ["metrics"]},
    {"name": "reader", "hash": hash_token("r"), "scopes": ["read"]},
    {"name": "maker", "hash": hash_token("w"), "scopes": ["read", "operate", "write"]},
]
PROMETHEUS = {"Authorization": "Bearer p"}
MAKER = {"Authorization": "Bearer w"}


def samples(text: str) -> dict[tuple, float]:
    """(name, sorted labels) -> value, of every sample of the exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> dict:
    answer = client.get("/metrics", headers=PROMETHEUS)
    assert answer.status_code == 200, answer.data
    assert answer.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return samples(answer.get_data(as_text=True))


def refused_rule(answer) -> str:
    assert answer.status_code == 403, answer.json
    return re.match(r"rule `([a-z-]+)`", answer.json["message"]).group(1)


def refused_create(image, labels) -> dict:
    """A create the policy refuses: a bind mount, with no bind root allowed."""
    mount = {"type": "bind", "source": "/etc", "target": "/host-etc"}
    return {"image": image, "labels": labels, "mounts": [mount]}


def test_metrics_count_requests_daemon_calls_refusals_and_audit(busybox_image, labels):
    client = make_client(TOKENS=TOKENS)
    before = scrape(client)
    made = client.post(
        "/containers", json={"image": busybox_image, "labels": labels}, headers=MAKER
    )
    assert made.status_code == 201, made.json
    ident, name = made.json["id"], made.json["name"]
    assert client.get(f"/containers/{ident}", headers=MAKER).status_code == 200
    rule = refused_rule(
        client.post("/containers", json=refused_create(busybox_image, labels), headers=MAKER)
    )
    assert client.get("/containers", headers={"Authorization": "Bearer nope"}).status_code == 401
    answer = client.get("/metrics", headers=PROMETHEUS)
    after = samples(answer.get_data(as_text=True))

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "GET", "route": "/containers/{id}"}
    assert grew("dockyard_http_requests_total", status="200", **route) == 1
    assert grew("dockyard_http_request_duration_seconds_count", **route) == 1
    assert grew(
        "dockyard_daemon_requests_total", operation="GET /containers/{id}/json", outcome="ok"
    )
    assert grew(
        "dockyard_daemon_request_duration_seconds_count", operation="POST /containers/create"
    )
    assert grew("dockyard_policy_refusals_total", rule=rule) == 1
    assert grew("dockyard_audit_events_total", action="POST /containers", status="201") == 1
    assert grew("dockyard_audit_events_total", action="POST /containers", status="403") == 1
    assert grew("dockyard_auth_failures_total", reason="unknown") == 1
    assert value(after, "dockyard_engine_up", engine="default") == 1
    assert value(after, "dockyard_build_info", version="0.1.0") == 1
    # no id, no name as a label; the families are the ones the monitoring files name
    text = answer.get_data(as_text=True)
    assert ident[:12] not in text and name not in text
    families = {f.name for f in text_string_to_metric_families(text)}
    exported = {n for n in families if n.startswith("dockyard_")}
    counters = {n.removesuffix("_total") for n in METRICS}
    assert exported == counters - {"up"}


def test_metrics_need_the_metrics_scope_and_a_text_format():
    client = make_client(TOKENS=TOKENS)
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer r"})
    assert refused.status_code == 403 and "`metrics` scope" in refused.json["message"]
    json_only = client.get("/metrics", headers={**PROMETHEUS, "Accept": "application/json"})
    assert json_only.status_code == 406
    prometheus_accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    answer = client.get("/metrics", headers={**PROMETHEUS, "Accept": prometheus_accept})
    assert answer.status_code == 200


def test_a_metrics_token_reaches_nothing_else(busybox_image, labels):
    client = make_client(TOKENS=TOKENS)
    attempts = [
        ("get", "/containers", None),
        ("get", "/system/info", None),
        ("get", "/system/events", None),
        ("post", "/containers", {"image": busybox_image, "labels": labels}),
        ("post", "/containers/decision", {"image": busybox_image, "privileged": True}),
        ("post", "/volumes", {"name": "metrics-made", "labels": labels}),
    ]
    for verb, path, body in attempts:
        answer = getattr(client, verb)(path, json=body, headers=PROMETHEUS)
        assert answer.status_code == 403, (path, answer.json)
        assert "needs the `" in answer.json["message"]
    assert client.get("/metrics", headers=PROMETHEUS).status_code == 200


def test_an_engine_that_is_down_is_a_zero_not_a_failure(tmp_path):
    client = make_client(TOKENS=TOKENS, DOCKER_URL=f"unix://{tmp_path}/nothing.sock")
    found = scrape(client)
    assert value(found, "dockyard_engine_up", engine="default") == 0
    assert value(
        found, "dockyard_daemon_requests_total", operation="GET /version", outcome="unreachable"
    )


def test_a_token_entry_says_its_quota_as_a_whole_number():
    for streams in (-1, 1.5, "8", True):
        entry = {**TOKENS[0], "streams": streams}
        with pytest.raises(ValueError, match="streams must be a whole number"):
            make_client(TOKENS=[entry])


def test_metrics_can_be_turned_off():
    client = make_client(TOKENS=TOKENS, METRICS=False)
    answer = client.get("/metrics", headers=PROMETHEUS)
    assert answer.status_code == 404 and "DOCKYARD_METRICS" in answer.json["message"]


@pytest.mark.parametrize(
    ("verb", "path", "operation"),
    [
        ("GET", "/v1.41/containers/json?all=1", "GET /containers/json"),
        ("GET", "/v1.41/containers/0123abcd/json", "GET /containers/{id}/json"),
        ("POST", "/v1.41/containers/web-1/start", "POST /containers/{id}/start"),
        ("DELETE", "/v1.41/containers/0123abcd?force=1", "DELETE /containers/{id}"),
        ("GET", "/v1.41/images/127.0.0.1:5000/team/app:1.0/json", "GET /images/{id}/json"),
        ("POST", "/v1.41/images/127.0.0.1:5000/team/app/push", "POST /images/{id}/push"),
        ("POST", "/v1.41/images/create?fromImage=x", "POST /images/create"),
        ("GET", "/_ping", "GET /_ping"),
        ("POST", "/v1.41/exec/abc/start", "POST /exec/{id}/start"),
        ("GET", "/v1.41/anything/else", "GET other"),
    ],
)
def test_daemon_calls_are_named_by_template(verb, path, operation):
    assert daemon_operation(verb, path) == operation


# -- as deployed ---------------------------------------------------------------------------

SERVED = {"TOKENS": json.dumps(TOKENS), "WORKERS": 2}


def series(base) -> list[str]:
    call = urllib.request.Request(base + "/metrics", headers=PROMETHEUS)
    with urllib.request.urlopen(call, timeout=10) as answer:
        return [line for line in answer.read().decode().splitlines() if not line.startswith("#")]


def open_events(base, stack):
    address = urlsplit(base)
    sock = stack.enter_context(socket.create_connection((address.hostname, address.port), 10))
    sock.sendall(
        b"GET /system/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer w\r\n\r\n"
    )
    assert sock.recv(12) == b"HTTP/1.1 200"


def test_series_do_not_grow_with_the_streams_open():
    settings = {**SERVED, "WORKER_CONNECTIONS": 1300, "MAX_STREAMS": 1100, "TOKEN_STREAMS": 1000}
    with served(**settings) as (base, _), contextlib.ExitStack() as stack:
        open_events(base, stack)
        # each route and daemon call the comparison makes, made once before it
        one = [series(base) for _ in range(3)][-1]
        for _ in range(999):
            open_events(base, stack)
        thousand = series(base)
        assert 'dockyard_streams_open{kind="events"} 1000.0' in thousand

        def names(lines):
            return sorted(line.rsplit(" ", 1)[0] for line in lines)

        assert names(thousand) == names(one)


@pytest.fixture
def prometheus(tmp_path):
    """Debian's Prometheus server, started for the test with the shipped configuration aimed
    at a service: yields (start(target) -> query function)."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (deploy/test.sh installs it)")
    processes = []

    def start(target):
        token = tmp_path / "token"
        token.write_text("p\n")
        config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(ROOT / "deploy" / "prometheus" / "alerts.yml")]
        (job,) = config["scrape_configs"]
        job.update(scrape_interval="1s")
        job["authorization"]["credentials_file"] = str(token)
        job["static_configs"] = [{"targets": [target]}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        address = f"127.0.0.1:{free_port()}"
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address={address}",
                ],
                stdout=log,
                stderr=log,
            )
        )
        wait_for_http(f"http://{address}/-/ready").close()

        def query(expression) -> list[dict]:
            url = f"http://{address}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
            with urllib.request.urlopen(url, timeout=10) as answer:
                return json.load(answer)["data"]["result"]

        return query

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def test_prometheus_scrapes_the_service(prometheus, busybox_image, labels):
    with served(**SERVED) as (base, _):
        query = prometheus(urlsplit(base).netloc)

        def call(method, path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            headers = {**MAKER, "Content-Type": "application/json"}
            request = urllib.request.Request(base + path, data, headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, json.load(answer)
            except urllib.error.HTTPError as error:
                with error:
                    return error.code, json.load(error)

        status, made = call("POST", "/containers", {"image": busybox_image, "labels": labels})
        assert status == 201, made
        assert call("GET", f"/containers/{made['id']}")[0] == 200
        status, refused = call("POST", "/containers", refused_create(busybox_image, labels))
        assert status == 403
        rule = re.match(r"rule `([a-z-]+)`", refused["message"]).group(1)

        inspect = 'operation="GET /containers/{id}/json"'
        asked = (
            'dockyard_http_requests_total{route="/containers/{id}",method="GET",status="200"}',
            f"dockyard_daemon_request_duration_seconds_bucket{{{inspect}}}",
            f'dockyard_policy_refusals_total{{rule="{rule}"}}',
            'up{job="dockyard"} == 1',
            "dockyard_engine_up == 1",
        )
        for expression in asked:
            found = eventually(lambda e=expression: query(e), timeout=30)
            assert float(found[0]["value"][1]) >= 1, (expression, found)
        buckets = query(f"dockyard_daemon_request_duration_seconds_bucket{{{inspect}}}")
        assert {b["metric"]["le"] for b in buckets} >= {"0.005", "+Inf"}

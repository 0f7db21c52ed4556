"""The monitoring files: deploy/prometheus/ checked and its alerts unit-tested with promtool,
and they and the Grafana dashboard held to the metrics the service exports."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dockyard.json"
TOKEN_FILE = "/etc/prometheus/dockyard-token"

HISTOGRAMS = {"dockyard_http_request_duration_seconds", "dockyard_daemon_request_duration_seconds"}
METRICS = HISTOGRAMS | {
    "dockyard_http_requests_total",
    "dockyard_streams_open",
    "dockyard_streams_ceiling",
    "dockyard_streams_refused_total",
    "dockyard_daemon_requests_total",
    "dockyard_policy_refusals_total",
    "dockyard_audit_events_total",
    "dockyard_auth_failures_total",
    "dockyard_engine_up",
    "dockyard_engine_ping_seconds",
    "dockyard_streamed_bytes_total",
    "dockyard_read_cache_reads_total",
    "dockyard_read_cache_bytes",
    "dockyard_build_info",
    "up",
}
METRIC_NAME = re.compile(r"\bdockyard_[a-z_]+|\bup\b")


def metrics_of(expr: str) -> set[str]:
    """The metrics an expression names, a histogram's series (_bucket...) as the histogram."""
    names = METRIC_NAME.findall(expr)
    return {b if (b := re.sub(r"_(bucket|count|sum)$", "", n)) in HISTOGRAMS else n for n in names}


def promtool(*args, cwd=PROMETHEUS):
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: deploy/test.sh installs the `prometheus` package")
    done = subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_config_is_valid(tmp_path):
    # promtool checks that the credentials file exists: a dummy token stands in for it
    token = tmp_path / "dockyard-token"
    token.write_text("dummy\n")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert TOKEN_FILE in config
    (tmp_path / "prometheus.yml").write_text(config.replace(TOKEN_FILE, str(token)))
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path)
    promtool("check", "config", "prometheus.yml", cwd=tmp_path)


def test_rules_are_valid():
    promtool("check", "rules", "alerts.yml")


def test_alerts_fire_as_their_tests_say():
    promtool("test", "rules", "alerts_test.yml")


def test_alerts_name_only_exported_metrics():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        names = metrics_of(rule["expr"])
        assert names and names <= METRICS, (rule["alert"], names - METRICS)


def test_dashboard_shows_the_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "dockyard" and dashboard["schemaVersion"] == 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    used = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            names = metrics_of(target["expr"])
            assert names and names <= METRICS, (panel["title"], names - METRICS)
            used |= names
    assert METRICS - {"dockyard_build_info"} <= used, METRICS - used

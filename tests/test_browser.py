"""A real browser (Debian's chromium, driven by Playwright) on a page of another site: it can
send requests to the service on 127.0.0.1, and none of them may change anything."""

import http.server
import json
import shutil
import threading

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import free_port, served

CHROMIUM = "/usr/bin/chromium"
# no network here: chromium's own background traffic only fails, so it is turned off
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed (deploy/test.sh installs it)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP attacker.example 127.0.0.1"],
        )
        yield launched
        launched.close()


@pytest.fixture
def attacker_page():
    """An empty page of another site, served on another loopback port."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>elsewhere</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


# what a page can send without a preflight: body-less POSTs, text/plain and form bodies
ATTACKS = """async ([base, box]) => {
  const sent = [];
  const tries = [
    [`${base}/containers/${box}/kill`, {method: "POST", mode: "no-cors"}],
    [`${base}/containers/${box}/pause`, {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: "{}"}],
    [`${base}/system/prune`, {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: '{"volumes": true}'}],
    // Docker's own API, through the front
    [`${base}/engine/containers/${box}/kill`, {method: "POST", mode: "no-cors"}],
  ];
  for (const [url, init] of tries) {
    // a network failure is tried again, as a page would: what counts is what reaches the service
    let outcome = "failed";
    for (let attempt = 0; attempt < 3 && outcome.startsWith("failed"); attempt++) {
      try { await fetch(url, init); outcome = url; } catch (e) { outcome = "failed " + e; }
    }
    sent.push(outcome);
  }
  // anything else needs a preflight, which the service does not grant to this origin
  try {
    await fetch(`${base}/containers?force=true&all=true`, {method: "DELETE"});
    sent.push("bulk delete sent");
  } catch (e) { sent.push("preflight refused"); }
  return sent;
}"""


def test_a_page_of_another_site_changes_nothing(
    browser, attacker_page, docker_api, busybox_image, labels, tmp_path
):
    box = docker_api.create_container(busybox_image, command=["sleep", "300"], labels=labels)
    docker_api.start(box["Id"])
    audit = tmp_path / "audit.log"
    with served(AUDIT_LOG=str(audit)) as (base, _):
        page = browser.new_page()
        page.goto(attacker_page)
        sent = page.evaluate(ATTACKS, [base, box["Id"]])
        page.close()
    assert len(sent) == 5 and not any(s.startswith("failed") for s in sent[:4]), sent
    assert sent[4] == "preflight refused"
    state = docker_api.inspect_container(box["Id"])["State"]
    assert state["Running"] is True and state["Paused"] is False
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    # each reached the service, and each was refused as cross-site, before any token check
    statuses = [line["status"] for line in lines]
    assert len(statuses) >= 4 and set(statuses) == {403}, statuses


def test_a_rebound_name_gets_nothing(browser):
    """DNS rebinding: the page's own name now resolves to 127.0.0.1; the Host it sends
    still names it, and the service does not answer to that name."""
    with served() as (base, _):
        port = base.rsplit(":", 1)[1]
        page = browser.new_page()
        answer = page.goto(f"http://attacker.example:{port}/openapi.json")
        assert answer.status == 403
        assert "allowed-hosts" in answer.text()
        assert page.goto(f"http://127.0.0.1:{port}/openapi.json").status == 200
        page.close()

"""The web console in a real browser (Debian's chromium, driven by Playwright) against the
service served by gunicorn on the real engine: a person with a token drives a container's
life, pulls from the loopback registry and reads the course; with a read token the actions
are disabled. Every test fails on an error in the browser's console, on a failed request, and
on any request that leaves the service's own address. Screenshots of each page are kept in
the session's temporary folder (`console-screenshots*`)."""

import json
import os
import re
import shutil
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from service.auth import hash_token
from service.blueprints.console import POLICY
from service.policy.teams import TEAM_LABEL
from tests.conftest import ROOT, RUN_ID, TEST_LABEL, eventually, served
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

TOKENS = {
    "console-write": ("write-secret-for-the-console", ["read", "operate", "exec", "write"], None),
    "console-read": ("read-secret-for-the-console", ["read"], None),
    "console-web": ("team-secret-for-the-console", ["read", "operate", "exec", "write"], "web"),
}
WRITE, READ, TEAM = (secret for secret, _, _ in TOKENS.values())
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LABEL = f"{TEST_LABEL}={RUN_ID}"
ROOT_JS = ROOT / "service" / "console" / "js"


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed (deploy/test.sh installs it)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def service(registry):
    """The service as deployed, with a write and a read token and the loopback registry."""
    entries = [
        {"name": name, "hash": hash_token(secret), "scopes": scopes, "team": team}
        for name, (secret, scopes, team) in TOKENS.items()
    ]
    with served(
        TOKENS=json.dumps(entries),
        REGISTRIES=json.dumps([{"host": registry, "insecure": True}]),
        THREADS=16,
        AUDIT_LOG=os.devnull,
    ) as (base, _):
        yield base


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("console-screenshots")


# the failures of a request that got no answer at all: the console sends it again where that
# does nothing more (api.js, boot.js). Chromium fails the requests waiting for a connection
# when the machine's addresses change, as a Docker host's do whenever a container starts or
# stops; the console's own tests abort a request so to show it.
UNANSWERED = ("net::ERR_NETWORK_CHANGED", "net::ERR_CONNECTION_FAILED")


def load(page, url=None):
    """The page at ``url`` (else reloaded), loaded again if its load got no answer: Chromium
    shows a network change's error page for a navigation under way, as a person would see."""
    for attempt in range(3):
        try:
            return page.goto(url) if url else page.reload()
        except PlaywrightError as failure:
            if "ERR_NETWORK_CHANGED" not in str(failure) or attempt == 2:
                raise


class Watched:
    """A page whose console errors, failed requests and requests elsewhere are recorded.
    The pages of a test that fails are described in its report (``described``)."""

    open_pages: list["Watched"] = []

    def __init__(self, browser, base, viewport=DESKTOP):
        Watched.open_pages.append(self)
        self.base = base
        self.context = browser.new_context(viewport=viewport, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors, self.failed, self.urls, self.expected = [], [], [], set()
        self.answers, self.answered, self.unanswered = [], set(), []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("request", lambda request: self.urls.append(request.url))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        # the console asks in its own <dialog>; a native one would block the page
        self.errors.append(f"unexpected {dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message):
        if message.type != "error":
            return
        if any(failure in message.text for failure in UNANSWERED):
            return  # the request's own failure, judged in `check`
        if any(f"status of {status}" in message.text for status, _ in self.expected):
            return
        self.errors.append(message.text)

    def _request_failed(self, request):
        # a stream the console itself cuts (leaving a section, a "try it" cut short) is aborted
        if request.failure in UNANSWERED:
            # but the icon, which the browser asks for and which only looks
            if not request.url.endswith("/console/static/icon.svg"):
                self.unanswered.append(f"{request.method} {request.url}")
        elif request.failure != "net::ERR_ABORTED":
            self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response):
        path = response.url.removeprefix(self.base).split("?")[0]
        if response.status >= 400 and (response.status, path) not in self.expected:
            self.failed.append(f"{response.request.method} {response.url}: {response.status}")
        self.answered.add(f"{response.request.method} {response.url}")
        if "/console/static/" not in response.url:
            self.answers.append(f"{response.request.method} {response.url}: {response.status}")

    def open(self, fragment="", token=None):
        load(self.page, f"{self.base}/{fragment}")
        if token:
            self.page.fill("#token", token)
            self.page.click("#token-form button[type=submit]")
            expect(self.page.locator("#identity")).to_contain_text("token console-")
        return self.page

    def go(self, section):
        self.page.click(f"#nav a[href='#{section}']")
        expect(self.page.locator("#main")).to_have_attribute("data-ready", section.split("/")[0])

    def shot(self, folder, name):
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def described(self) -> str:
        """What the page shows and logged: for the report of a test that failed."""
        try:
            messages = self.page.locator(".message, #notice").evaluate_all(
                "nodes => nodes.filter(n => n.textContent.trim())"
                ".map(n => `${n.className || n.id}: ${n.textContent.trim()}`)"
            )
        except Exception as exc:  # the page may be gone with the failure
            messages = [f"(not read: {exc})"]
        return "\n".join([
            f"page {self.page.url}",
            *(f"  shows {m}" for m in messages),
            *(f"  error {e}" for e in self.errors),
            *(f"  failed {f}" for f in self.failed),
            *(f"  unanswered {u}" for u in self.unanswered),
            *(f"  answered {a}" for a in self.answers[-30:]),
        ])  # fmt: skip

    def check(self):
        Watched.open_pages.remove(self)
        self.context.close()
        assert not self.errors, self.errors
        assert not self.failed, self.failed
        # a request that got no answer (the machine's network changed) was sent again
        assert set(self.unanswered) <= self.answered, set(self.unanswered) - self.answered
        # a terminal's WebSocket goes to the same address
        socket = "ws" + self.base.removeprefix("http") + "/"
        elsewhere = [
            url
            for url in self.urls
            if not url.startswith((self.base + "/", socket, "data:", "blob:"))
        ]
        assert not elsewhere, f"requests left the service's address: {elsewhere}"
        assert self.urls


MARKDOWN_PROBE = """async () => {
  const { markdown } = await import("/console/static/js/markdown.js");
  const text = "## T <i>\\n\\n<img src=x onerror=alert(1)> **bold** `<b>` "
    + "[js](javascript:alert(1)) [course](/concepts)\\n\\n- a <script>x</script>\\n"
    + "  continued *here*";
  const box = document.createElement("div");
  box.append(markdown(text));
  return box.innerHTML;
}"""


def confirm(page):
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-ok")
    expect(page.locator("#confirm")).to_be_hidden()


def test_write_token_runs_watches_debugs_and_removes_a_container(
    browser, service, busybox_image, docker_api, shots
):
    watched = Watched(browser, service)
    page = watched.open(token=WRITE)
    expect(page.locator("#identity")).to_contain_text("read, operate, exec, write")
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")
    page.fill("#container-filter", LABEL)
    page.press("#container-filter", "Enter")

    name = f"console-{RUN_ID}"
    page.click("#new-container summary")
    page.fill("#nc-image", busybox_image)
    page.fill("#nc-name", name)
    page.fill(
        "#nc-command", "sh -c \"trap 'exit 0' TERM; while true; do echo tick; sleep 1; done\""
    )
    page.fill("#nc-labels", LABEL)
    page.click("#nc-create")
    # the policy's decision comes first, then the question
    expect(page.locator("#nc-decision")).to_contain_text("Policy: allowed")
    expect(page.locator("#confirm-detail")).to_contain_text("Policy: allowed")
    confirm(page)
    expect(page.locator("#nc-decision")).to_contain_text(f"Created {name}")

    row = page.locator(f"tr[data-name='{name}']")
    expect(row.locator(".state")).to_contain_text("running")
    assert docker_api.inspect_container(name)["State"]["Running"] is True
    assert docker_api.inspect_container(name)["Config"]["Labels"][TEST_LABEL] == RUN_ID

    # logs follow: lines keep coming while the page is open
    logs = page.locator("#logs")
    expect(logs).to_contain_text("tick")
    seen = logs.inner_text().count("tick")
    eventually(lambda: logs.inner_text().count("tick") > seen, timeout=10)
    page.click("#logs-pause")
    expect(page.locator("#logs-state")).to_contain_text("paused")
    page.click("#logs-pause")
    expect(page.locator("#logs-state")).to_have_text("following")
    with page.expect_download() as download:
        page.click("#logs-download")
    assert download.value.suggested_filename == f"{name}.log"
    assert "tick" in open(download.value.path()).read()

    page.fill("#exec-cmd", "sh -c 'echo hello-from-exec; echo oops >&2; exit 3'")
    page.click("#exec-run")
    expect(page.locator("#exec-stdout")).to_have_text("hello-from-exec\n")
    expect(page.locator("#exec-stderr")).to_have_text("oops\n")
    expect(page.locator("#exec-exit")).to_have_text("3")

    page.click("#stats-toggle")
    chart = page.locator("svg.chart")
    eventually(lambda: int(chart.get_attribute("data-samples") or 0) >= 2, timeout=15)
    expect(page.locator("#stats-text")).to_contain_text("CPU")
    page.click("#stats-toggle")
    watched.shot(shots, "containers")

    page.go_back()  # the container's page has its own address: back is the list
    row.get_by_role("button", name="Stop").click()
    confirm(page)
    expect(row.locator(".state")).to_contain_text("exited")
    assert docker_api.inspect_container(name)["State"]["Running"] is False

    row.get_by_role("button", name="Remove").click()
    confirm(page)
    expect(row).to_have_count(0)
    assert not docker_api.containers(all=True, filters={"name": f"^/{name}$"})
    watched.check()


def test_images_build_tag_push_and_pull_from_the_loopback_registry(
    browser, service, registry, busybox_image, docker_api, shots
):
    watched = Watched(browser, service)
    page = watched.open("#images", token=WRITE)
    expect(page.locator("#main")).to_have_attribute("data-ready", "images")

    # build from a Dockerfile typed in the page, its log streaming
    built = f"dockyard-test/console:{RUN_ID}"
    page.click("text=Build from a Dockerfile")
    page.fill("#build-dockerfile", f"FROM {busybox_image}\nRUN echo built-in-the-console\n")
    page.fill("#build-tag", built)
    page.fill("#build-labels", LABEL)
    page.click("#build-run")
    expect(page.locator("#build-state")).to_contain_text("Built", timeout=60_000)
    expect(page.locator("#build-log")).to_contain_text("built-in-the-console")
    assert docker_api.inspect_image(built)["Config"]["Labels"][TEST_LABEL] == RUN_ID

    # tag it for the loopback registry and push it there, with its progress
    remote = f"{registry}/console-{RUN_ID}/built"
    page.locator("#image-list tr", has_text=built).get_by_role("button", name="Tag").click()
    expect(page.locator("#tag-source")).to_have_value(built)
    page.fill("#tag-repository", remote)
    page.fill("#tag-name", "1")
    page.click("#tag-run")
    expect(page.locator("#image-list")).to_contain_text(f"{remote}:1")
    page.click(f"button[data-push='{remote}:1']")
    confirm(page)
    push_bar = page.locator("#push-progress-bar")
    expect(push_bar).to_have_attribute("data-done", "true", timeout=60_000)
    expect(page.locator("#push-progress-text")).to_contain_text("sha256:")
    watched.shot(shots, "images-built-pushed")
    docker_api.remove_image(f"{remote}:1")

    # the registry page: the repository's tags, and a pull from there
    watched.go("registry")
    page.select_option("#registry-host", registry)
    page.fill("#registry-repository", f"console-{RUN_ID}/built")
    page.click("#registry-browse")
    page.click(f"button[data-reference='{remote}:1']")
    bar = page.locator("#pull-progress-bar")
    expect(bar).to_have_attribute("data-done", "true", timeout=60_000)
    assert bar.evaluate("bar => bar.value") == 1
    expect(page.locator("#pull-progress-text")).to_contain_text(f"Pulled {remote}:1")
    assert docker_api.inspect_image(f"{remote}:1")["Id"] == docker_api.inspect_image(built)["Id"]
    watched.shot(shots, "registry-pull")
    watched.check()


def test_volumes_backup_restore_and_networks_connect_from_the_page(
    browser, service, busybox_image, docker_api, labels, shots, tmp_path
):
    watched = Watched(browser, service)
    page = watched.open("#volumes", token=WRITE)
    expect(page.locator("#main")).to_have_attribute("data-ready", "volumes")
    volume, copy = f"console-{RUN_ID}-data", f"console-{RUN_ID}-copy"
    page.fill("#volume-name", volume)
    page.fill("#volume-labels", LABEL)
    page.click("#volume-create")
    row = page.locator(f"tr[data-name='{volume}']")
    expect(row).to_have_count(1)
    writer = docker_api.create_container(
        busybox_image,
        ["sh", "-c", "echo kept > /data/kept.txt"],
        labels=labels,
        host_config=docker_api.create_host_config(binds={volume: {"bind": "/data", "mode": "rw"}}),
    )
    docker_api.start(writer["Id"])
    assert docker_api.wait(writer["Id"], timeout=30)["StatusCode"] == 0
    docker_api.remove_container(writer["Id"])

    with page.expect_download() as download:
        row.get_by_role("button", name="Back up").click()
    archive = tmp_path / "backup.tar.gz"
    download.value.save_as(archive)
    expect(page.locator("#volume-list")).to_be_visible()
    assert archive.read_bytes()[:2] == b"\x1f\x8b"

    page.fill("#restore-volume", copy)
    page.set_input_files("#restore-file", str(archive))
    page.fill("#restore-labels", LABEL)
    page.click("#restore-run")
    confirm(page)
    expect(page.locator("#restore-state")).to_contain_text(f"into {copy}")
    assert page.locator("#restore-bar").evaluate("bar => bar.value") == 1
    reader = docker_api.create_container(
        busybox_image,
        ["cat", "/data/kept.txt"],
        labels=labels,
        host_config=docker_api.create_host_config(binds={copy: {"bind": "/data", "mode": "ro"}}),
    )
    docker_api.start(reader["Id"])
    docker_api.wait(reader["Id"], timeout=30)
    assert docker_api.logs(reader["Id"]) == b"kept\n"
    watched.shot(shots, "volumes-restored")

    box = docker_api.create_container(busybox_image, command=["sleep", "300"], labels=labels)
    docker_api.start(box["Id"])
    box_name = docker_api.inspect_container(box["Id"])["Name"].lstrip("/")
    network = f"console-{RUN_ID}-net"
    watched.go("networks")
    page.fill("#network-name", network)
    page.fill("#network-labels", LABEL)
    page.click("#network-create")
    net_row = page.locator(f"tr[data-name='{network}']")
    net_row.get_by_role("link", name=network).click()
    page.fill("#connect-container", box_name)
    page.click("#connect-run")
    detail = page.locator("#network-detail")
    expect(detail).to_contain_text(box_name)
    assert network in docker_api.inspect_container(box["Id"])["NetworkSettings"]["Networks"]
    watched.shot(shots, "networks-connected")
    detail.get_by_role("button", name="Disconnect").click()
    confirm(page)
    expect(detail).to_contain_text("No container connected.")
    assert network not in docker_api.inspect_container(box["Id"])["NetworkSettings"]["Networks"]
    net_row.get_by_role("button", name="Remove").click()
    confirm(page)
    expect(net_row).to_have_count(0)
    watched.check()


def test_the_course_in_two_languages_with_live_calls(browser, service, shots):
    watched = Watched(browser, service)
    page = watched.open("#course/container", token=WRITE)
    expect(page.locator("#main")).to_have_attribute("data-ready", "course")
    expect(page.locator("#concept-title")).to_have_text("Le conteneur Docker")
    page.click("#lang-en")
    expect(page.locator("#concept-title")).to_have_text("The Docker container")
    diagram = page.locator("img.diagram")
    eventually(lambda: diagram.evaluate("img => img.complete && img.naturalWidth") > 0)
    # rendered Markdown: headings and code, never markup from the text
    expect(page.locator("#concept .body h3").first).to_be_visible()
    expect(page.locator("#concept .body li").first).to_be_visible()
    assert "[object" not in page.locator("#concept").inner_text()
    # the renderer makes text of markup, and links of http(s) and local paths only
    rendered = page.evaluate(MARKDOWN_PROBE)
    assert "<img" not in rendered and "&lt;img src=x onerror=alert(1)&gt;" in rendered
    assert "<strong>bold</strong>" in rendered and "<code>&lt;b&gt;</code>" in rendered
    assert "javascript:" not in rendered.replace("<span>js</span>", "")
    assert '<a href="/concepts">' in rendered
    expect(page.locator("#concept-live")).to_contain_text("containers")

    first_get = page.locator("button.try[data-method='GET']").first
    answer = page.locator(f"#try-answer-{first_get.get_attribute('id').split('-')[1]}")
    first_get.click()
    expect(answer).to_contain_text("200 application/json")
    # a call that changes the engine asks first; cancelled, nothing is sent
    state_changing = page.locator("button.try[data-method='POST']").first
    state_changing.click()
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-cancel")
    watched.shot(shots, "course")
    # every concept renders, its diagram too, with nothing shown as markup or as an object
    links = page.locator(".course nav a")
    titles = links.all_inner_texts()
    assert len(titles) >= 10
    for index, title in enumerate(titles):
        links.nth(index).click()
        expect(page.locator("#concept-title")).to_have_text(title)
        text = page.locator("#concept").inner_text()
        assert "[object" not in text and "**" not in text, title
    page.set_viewport_size(PHONE)
    watched.shot(shots, "course-phone")
    watched.check()


def test_a_read_token_sees_the_actions_disabled_with_their_scope(
    browser, service, busybox_image, docker_api, labels, shots
):
    box = docker_api.create_container(busybox_image, command=["sleep", "300"], labels=labels)
    docker_api.start(box["Id"])
    watched = Watched(browser, service)
    watched.expected = {(401, "/auth/whoami")}
    page = watched.open()
    # a refused token is explained, in words
    page.fill("#token", "not-a-token")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("401")
    expect(page.locator("#notice")).to_contain_text("unknown token")
    # the browser reports that 401 on its own time, possibly after the notice shows, so the
    # refusal stays expected; the read token's identity below proves whoami then succeeds

    page.fill("#token", READ)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#identity")).to_have_text("token console-read: read")
    page.fill("#container-filter", LABEL)
    page.press("#container-filter", "Enter")
    row = page.locator(f"tr[data-id='{box['Id']}']")
    expect(row.get_by_role("button", name=re.compile("^Stop"))).to_be_disabled()
    expect(row.get_by_role("button", name=re.compile("^Stop"))).to_have_attribute(
        "data-needs", "operate"
    )
    expect(row.get_by_role("button", name=re.compile("^Remove"))).to_have_attribute(
        "data-needs", "write"
    )
    page.click("#new-container summary")
    expect(page.locator("#nc-create")).to_be_disabled()
    expect(page.locator("#nc-create")).to_have_attribute("data-needs", "write")
    # the logs need `operate`: said, not tried
    row.locator("td.name a").click()
    expect(page.locator("#logs-state")).to_contain_text("`operate` scope")
    expect(page.locator("#exec-run")).to_have_attribute("data-needs", "exec")
    watched.shot(shots, "containers-read")
    page.set_viewport_size(PHONE)
    watched.shot(shots, "containers-phone")
    page.set_viewport_size(DESKTOP)

    for section, disabled in (
        ("images", "#pull-run"),
        ("volumes", "#volume-create"),
        ("networks", "#network-create"),
        ("registry", None),
        ("events", None),
    ):
        watched.go(section)
        if disabled:
            expect(page.locator(disabled)).to_be_disabled()
            expect(page.locator(disabled)).to_have_attribute("data-needs", "write")
        if section != "events":
            watched.shot(shots, section)
    expect(page.locator("#events-state")).to_contain_text("listening")
    docker_api.stop(box["Id"], timeout=0)
    expect(page.locator("#events-feed")).to_contain_text("container die")
    watched.shot(shots, "events")
    watched.check()


def test_a_team_token_sees_its_teams_objects_only(
    browser, service, busybox_image, docker_api, labels
):
    ours, theirs = (
        docker_api.create_container(
            busybox_image,
            command=["sleep", "300"],
            name=f"console-{team}-{RUN_ID}",
            labels={**labels, TEAM_LABEL: team},
        )
        for team in ("web", "db")
    )
    operators = docker_api.create_container(busybox_image, command=["sleep", "300"], labels=labels)
    volume = docker_api.create_volume(f"console-db-{RUN_ID}", labels={**labels, TEAM_LABEL: "db"})
    watched = Watched(browser, service)
    page = watched.open(token=TEAM)
    expect(page.locator("#identity")).to_have_text(
        "token console-web (team web): read, operate, exec, write"
    )
    page.fill("#container-filter", LABEL)
    page.press("#container-filter", "Enter")
    expect(page.locator(f"tr[data-id='{ours['Id']}']")).to_have_count(1)
    for other in (theirs, operators):
        expect(page.locator(f"tr[data-id='{other['Id']}']")).to_have_count(0)
    watched.go("volumes")
    expect(page.locator("#main")).not_to_contain_text(volume["Name"])
    # the events it follows name its team's objects only
    watched.go("events")
    expect(page.locator("#events-state")).to_contain_text("listening")
    docker_api.start(theirs["Id"])
    docker_api.start(ours["Id"])
    expect(page.locator("#events-feed")).to_contain_text(f"console-web-{RUN_ID}")
    expect(page.locator("#events-feed")).not_to_contain_text(f"console-db-{RUN_ID}")
    watched.check()


def test_the_console_is_served_locked_down(service):
    for path in ("/", "/console", "/console/static/js/boot.js", "/console/static/console.css"):
        with urllib.request.urlopen(f"{service}{path}", timeout=10) as answer:
            assert answer.status == 200, path
            assert answer.headers["Content-Security-Policy"] == POLICY
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            body = answer.read().decode()
            assert body.strip()
            if path.endswith(".js"):
                assert answer.headers["Content-Type"].startswith("text/javascript")
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ):
        assert directive in POLICY
    with urllib.request.urlopen(f"{service}/", timeout=10) as answer:
        page = answer.read().decode()
    # no inline code or style, and nothing loaded from elsewhere
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="module" src="/console/static/js/boot.js">'
    ]
    # the token field is read by the console's script alone: a native submission (before the
    # script ran) would carry no token, and the page's policy blocks it anyway
    assert 'id="token"' in page and 'name="token"' not in page
    assert "<style" not in page and " style=" not in page and not re.search(r" on\w+=", page)
    assert all(url.startswith("/") for url in re.findall(r'(?:src|href)="([^"#]+)"', page))
    scripts = ROOT_JS.glob("*.js")
    for script in scripts:
        text = script.read_text()
        for unsafe in (
            ".innerHTML",
            ".outerHTML",
            "insertAdjacentHTML(",
            "document.write(",
            "eval(",
        ):
            assert unsafe not in text, f"{script.name} uses {unsafe}"
    # the page and its files need no token; the API behind them does
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{service}/containers", timeout=10)
    assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{service}/console/static/../auth.py", timeout=10)
    assert missing.value.code == 404


def test_whoami_answers_the_tokens_name_and_scopes(service):
    def whoami(secret):
        request = urllib.request.Request(
            f"{service}/auth/whoami", headers={"Authorization": f"Bearer {secret}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)

    assert whoami(READ) == {
        "name": "console-read",
        "scopes": ["read"],
        "team": None,
        "expires": None,
        "engines": None,  # every engine
    }
    assert whoami(WRITE)["scopes"] == ["read", "operate", "exec", "write"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{service}/auth/whoami", timeout=10)
    assert refused.value.code == 401

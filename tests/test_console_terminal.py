"""The console's terminal in Chromium (xterm.js, served by the service) on a busybox container:
a person types, resizes the window and exits; a page of another site cannot open a session's
WebSocket, even with a valid ticket. Screenshots at 1280 and 420 px wide are kept."""

import json
import urllib.request

from playwright.sync_api import expect

from tests import test_browser, test_console
from tests.conftest import LABELS, RUN_ID, eventually
from tests.test_console import WRITE, Watched

# the fixtures of the console's tests, and the page of another site
browser, service, shots = test_console.browser, test_console.service, test_console.shots
attacker_page = test_browser.attacker_page

NARROW = {"width": 420, "height": 800}


def api(base, method, path, body=None):
    call = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {WRITE}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(call, timeout=30) as answer:
        return json.load(answer)


def sleeper(base, image, name):
    made = api(
        base,
        "POST",
        "/containers",
        {
            "image": image,
            "name": name,
            "command": ["sleep", "300"],
            "labels": LABELS,
            "start": True,
        },
    )
    return made["id"]


def screen_text(page) -> str:
    return page.locator("#terminal .xterm-rows").inner_text()


def test_a_terminal_in_the_console_computes_resizes_and_exits(
    browser, service, busybox_image, shots
):
    name = f"term-{RUN_ID}"
    sleeper(service, busybox_image, name)
    watched = Watched(browser, service)
    page = watched.open(f"#containers/{name}", token=WRITE)
    page.click("#terminal-open")
    expect(page.locator("#terminal")).to_have_attribute("data-state", "open")
    expect(page.locator("#terminal-state")).to_contain_text("Connected")
    page.locator("#terminal .xterm-screen").click()
    page.keyboard.type("echo $((6*7))\n")
    eventually(lambda: "\n42" in screen_text(page), timeout=15)

    page.keyboard.type("stty size\n")
    eventually(lambda: len(sizes(page)) >= 1, timeout=15)
    before = sizes(page)[-1]
    watched.shot(shots, "terminal-1280")
    page.set_viewport_size(NARROW)
    # the terminal fits the narrower page, and the process is told its new size
    page.keyboard.type("clear; stty size\n")
    eventually(lambda: sizes(page) and sizes(page)[-1] != before, timeout=15)
    rows, cols = sizes(page)[-1]
    assert cols < before[1], (before, (rows, cols))
    watched.shot(shots, "terminal-420")

    page.keyboard.type("exit\n")
    expect(page.locator("#terminal-state")).to_contain_text("exited with code 0")
    expect(page.locator("#terminal")).to_have_attribute("data-state", "closed")
    watched.check()


def test_a_terminal_connection_that_never_opened_is_made_again_with_a_new_ticket(
    browser, service, busybox_image
):
    """Chromium fails a connection under way when the machine's addresses change (a container
    started or stopped): here the first connection never opens because its ticket is spoilt
    on its way to the page, which the service refuses as it would any unknown ticket."""
    name = f"term-{RUN_ID}-again"
    sleeper(service, busybox_image, name)
    watched = Watched(browser, service)
    page = watched.open(f"#containers/{name}", token=WRITE)
    tickets = []

    def spoil_the_first(route):
        answer = route.fetch()
        given = answer.json()
        tickets.append(given["ticket"])
        if len(tickets) == 1:
            given["ticket"] = "spoilt"
        route.fulfill(response=answer, json=given)

    page.route("**/terminal", spoil_the_first)
    page.click("#terminal-open")
    expect(page.locator("#terminal-state")).to_contain_text("Connected")
    assert len(tickets) == 2
    page.locator("#terminal .xterm-screen").click()
    page.keyboard.type("echo $((6*7))\n")
    eventually(lambda: "\n42" in screen_text(page), timeout=15)
    page.keyboard.type("exit\n")
    expect(page.locator("#terminal-state")).to_contain_text("exited with code 0")
    # the refused connection's own line in the page's console
    refused = [e for e in watched.errors if "WebSocket connection" in e and "403" in e]
    assert len(refused) == 1, watched.errors
    watched.errors.remove(refused[0])
    watched.check()


def sizes(page) -> list[tuple[int, int]]:
    """The `rows cols` lines `stty size` printed on the screen."""
    found = []
    for line in screen_text(page).splitlines():
        parts = line.split()
        if len(parts) == 2 and all(part.isdigit() for part in parts):
            found.append((int(parts[0]), int(parts[1])))
    return found


def test_a_page_of_another_site_opens_no_terminal_with_a_ticket(
    browser, service, busybox_image, attacker_page
):
    box = sleeper(service, busybox_image, f"term-x-{RUN_ID}")
    session = api(service, "POST", f"/containers/{box}/terminal", {})
    url = "ws" + service.removeprefix("http") + session["path"]
    offer = [session["protocol"], "ticket." + session["ticket"]]
    assert opened_from(browser, attacker_page, url, offer).startswith("closed")
    # refused for its origin, before the ticket was looked at: the person's ticket still works
    assert opened_from(browser, service + "/", url, offer) == "opened"


def opened_from(browser, origin_page, url, protocols) -> str:
    """What a page at ``origin_page`` gets when it opens the WebSocket ``url``."""
    page = browser.new_page()
    try:
        page.goto(origin_page)
        return page.evaluate(
            """([url, protocols]) => new Promise((resolve) => {
              const ws = new WebSocket(url, protocols);
              ws.onopen = () => { resolve("opened"); ws.close(); };
              ws.onclose = (event) => resolve("closed " + event.code);
            })""",
            [url, protocols],
        )
    finally:
        page.close()


def test_the_console_page_itself_cannot_reuse_or_redirect_a_ticket(browser, service, busybox_image):
    first = sleeper(service, busybox_image, f"term-a-{RUN_ID}")
    second = sleeper(service, busybox_image, f"term-b-{RUN_ID}")
    base = "ws" + service.removeprefix("http")
    page = service + "/"

    def offer(session):
        return [session["protocol"], "ticket." + session["ticket"]]

    session = api(service, "POST", f"/containers/{first}/terminal", {})
    assert opened_from(browser, page, base + session["path"], offer(session)) == "opened"
    # used once: no second session with it
    assert opened_from(browser, page, base + session["path"], offer(session)).startswith("closed")
    # for one container: not another's terminal
    session = api(service, "POST", f"/containers/{first}/terminal", {})
    other = f"{base}/containers/{second}/terminal"
    assert opened_from(browser, page, other, offer(session)).startswith("closed")

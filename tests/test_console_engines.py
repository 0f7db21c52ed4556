"""The console's engine switcher in Chromium against the service under gunicorn, configured with
two names for the test engine and one engine that does not answer: the header lists the three,
the one that does not answer marked; once another engine is chosen, every call of the console
(lists, streams, a terminal's WebSocket) goes to `/engines/{name}/...`; the choice survives a
reload of the tab but not a new tab, falls back to the default engine when it is no longer one
the token may use, and an engine that does not answer says so in the view."""

import json
import os
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from service.auth import hash_token
from tests import test_console
from tests.conftest import ENGINE_URL, LABELS, RUN_ID, served
from tests.test_console import LABEL, WRITE, Watched, load

browser = test_console.browser

GONE_SOCKET = f"/tmp/dockyard-test-{RUN_ID}-nothing-here.sock"
ENGINES = [
    {"name": "dock", "url": ENGINE_URL, "default": True},
    {"name": "other", "url": ENGINE_URL},
    {"name": "gone", "url": f"unix://{GONE_SOCKET}"},
]
LIMITED = "limited-secret-for-the-console"


@pytest.fixture(scope="module")
def service():
    """The service with three engines, a write token for all and one for `other` only."""
    write_scopes = test_console.TOKENS["console-write"][1]
    entries = [
        {"name": "console-write", "hash": hash_token(WRITE), "scopes": write_scopes},
        {
            "name": "console-other",
            "hash": hash_token(LIMITED),
            "scopes": ["read"],
            "engines": ["other"],
        },
    ]
    with served(
        TOKENS=json.dumps(entries),
        ENGINES=json.dumps(ENGINES),
        THREADS=16,
        AUDIT_LOG=os.devnull,
    ) as (base, _):
        yield base


def path_of(url: str) -> str:
    return urlsplit(url).path


def api_paths(urls, base) -> list[str]:
    """The paths of the API calls among ``urls``: neither the console's files nor the service's
    own paths (the engines' list, the token's identity, the API's document)."""
    own = ("/console/", "/auth/", "/openapi.json")
    found = [path_of(url) for url in urls if url.startswith(base + "/")]
    return [path for path in found if path not in ("/", "/engines") and not path.startswith(own)]


def only_ours(page):
    page.fill("#container-filter", LABEL)
    page.press("#container-filter", "Enter")


def test_the_switcher_sends_every_call_to_the_chosen_engine_for_this_tab_only(
    browser, service, busybox_image, docker_api
):
    name = f"engines-{RUN_ID}"
    # without a network: no interface comes and goes on the host, which Chromium would take for
    # a change of network, failing the requests under way (net::ERR_NETWORK_CHANGED)
    made = docker_api.create_container(
        busybox_image,
        ["sleep", "300"],
        name=name,
        labels=LABELS,
        host_config=docker_api.create_host_config(network_mode="none"),
    )
    docker_api.start(made["Id"])

    watched = Watched(browser, service)
    # the engine that does not answer answers 503: expected, and said in the view
    watched.expected.add((503, "/engines/gone/containers"))
    page = watched.open(token=WRITE)
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")

    # the three engines, the default one chosen, the one that does not answer marked
    select = page.locator("#engine")
    expect(select).to_be_visible()
    options = select.locator("option")
    expect(options).to_have_count(3)
    expect(select).to_have_value("dock")
    expect(select.locator("option[value=dock]")).to_contain_text("(default)")
    expect(select.locator("option[value=dock]")).to_contain_text("docker")
    expect(select.locator("option[value=other]")).to_contain_text("docker")
    gone = select.locator("option[value=gone]")
    expect(gone).to_contain_text("unreachable")
    expect(gone).to_have_class("unreachable")
    expect(gone).to_have_attribute("data-reachable", "false")
    unreachable = re.compile(f"engine `gone`.*cannot be reached.*{GONE_SOCKET}")
    expect(gone).to_have_attribute("title", unreachable)
    # on the default engine, plain paths
    assert "/containers" in api_paths(watched.urls, service)
    assert not [p for p in api_paths(watched.urls, service) if p.startswith("/engines/")]

    only_ours(page)
    expect(page.locator(f"tr[data-name='{name}']")).to_have_count(1)

    # another engine: the same section, its list asked of that engine
    before = len(watched.urls)
    with page.expect_request(lambda r: path_of(r.url) == "/engines/other/containers") as asked:
        select.select_option("other")
    assert "all=true" in asked.value.url
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")
    expect(page).to_have_title("Containers on other · Dockyard console")
    assert page.evaluate("location.hash") in ("", "#containers")
    assert page.evaluate("sessionStorage.getItem('dockyard.engine')") == "other"
    # the same engine under another name: the container is there too
    only_ours(page)
    expect(page.locator(f"tr[data-name='{name}']")).to_have_count(1)

    # its page: the inspect and the logs' stream go there too, and so does a terminal
    page.locator(f"tr[data-name='{name}'] td.name a").click()
    expect(page.locator("#container-detail h2")).to_contain_text(name)
    expect(page.locator("#logs-state")).to_have_text("following")
    with page.expect_websocket() as socket:
        page.click("#terminal-open")
    assert path_of(socket.value.url).startswith(f"/engines/other/containers/{made['Id']}/")
    expect(page.locator("#terminal")).to_have_attribute("data-state", "open")
    page.click("#nav a[href='#containers']")
    expect(page.locator("#container-list-page")).to_be_visible()
    called = api_paths(watched.urls[before:], service)
    assert any(p.endswith("/logs") for p in called), called
    assert called and all(p.startswith("/engines/other/") for p in called), called

    # a reload of the tab keeps the choice
    with page.expect_request(lambda r: path_of(r.url).endswith("/containers")) as asked:
        load(page)
    assert path_of(asked.value.url) == "/engines/other/containers"
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")
    expect(select).to_have_value("other")

    # a new tab starts on the default engine (and needs the token again: it is kept per tab)
    tab = watched.context.new_page()
    tab_urls = []
    tab.on("request", lambda request: tab_urls.append(request.url))
    load(tab, f"{service}/")
    tab.fill("#token", WRITE)
    tab.click("#token-form button[type=submit]")
    expect(tab.locator("#main")).to_have_attribute("data-ready", "containers")
    expect(tab.locator("#engine")).to_have_value("dock")
    expect(tab).to_have_title("Containers on dock · Dockyard console")
    tab_calls = api_paths(tab_urls, service)
    assert "/containers" in tab_calls and not [p for p in tab_calls if p.startswith("/engines/")]
    tab.close()
    # ... while this tab stays on its own
    expect(select).to_have_value("other")

    # the engine that does not answer: the view says so, the page stays whole
    select.select_option("gone")
    error = page.locator("#main .message.error")
    expect(error).to_contain_text("503")
    expect(error).to_contain_text("engine `gone`")
    expect(select).to_have_class("unreachable")
    expect(page.locator("#container-list-page")).to_be_visible()
    expect(page.locator("#nav")).to_be_visible()

    # back to the default one: plain paths again
    with page.expect_request(lambda r: path_of(r.url) == "/containers"):
        select.select_option("dock")
    expect(page.locator("#main .message.error")).to_be_hidden()

    # a remembered engine that is no longer one: the default one
    page.evaluate("sessionStorage.setItem('dockyard.engine', 'no-such-engine')")
    load(page)
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")
    expect(select).to_have_value("dock")
    assert page.evaluate("sessionStorage.getItem('dockyard.engine')") == "dock"
    watched.check()


def test_a_token_for_one_engine_sees_it_as_a_label_and_calls_it_by_name(browser, service):
    watched = Watched(browser, service)
    page = watched.open(token=LIMITED)
    # another tab's choice, remembered here, is not one this token may use
    page.evaluate("sessionStorage.setItem('dockyard.engine', 'dock')")
    with page.expect_request(lambda r: path_of(r.url).endswith("/containers")) as asked:
        load(page)
    assert path_of(asked.value.url) == "/engines/other/containers"
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")
    expect(page.locator("#engine")).to_be_hidden()
    expect(page.locator("#engine-box")).to_be_visible()
    expect(page.locator("#engine-only")).to_have_text(re.compile(r"^other · docker \S+$"))
    expect(page).to_have_title("Containers · Dockyard console")
    watched.check()

"""The console's views in Chromium against the service under gunicorn on the real engine:
addresses for each page and detail (a bookmark, a reload, the back button), the containers
table (search, order, bulk stop and remove of exactly the chosen ones, kill), the logs panel,
no destructive action on what the engine or the service keeps for itself, Push only for a tag
that names its registry, the registry offered by name; and each page at 1280 and 420 px wide,
without the page itself scrolling sideways. Screenshots go to the `shots` folder."""

import io
import re
import tarfile
import urllib.request

import pytest
from playwright.sync_api import expect

from tests import test_console
from tests.conftest import LABELS, RUN_ID, TEST_LABEL, eventually
from tests.test_console import LABEL, WRITE, Watched, confirm, load

# the fixtures of the console's tests: one browser and one service for the module
browser, service, shots = test_console.browser, test_console.service, test_console.shots

DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 420, "height": 900}


def started(docker_api, image, name, command=("sleep", "300"), **options):
    """A running container of this run, with the run's label."""
    made = docker_api.create_container(
        image, command=list(command), name=name, labels=dict(LABELS), **options
    )
    docker_api.start(made["Id"])
    return made["Id"]


def running_names(docker_api) -> set[str]:
    """The names of this run's running containers: the engine is shared."""
    found = docker_api.containers(filters={"label": f"{TEST_LABEL}={RUN_ID}"})
    return {c["Names"][0].lstrip("/") for c in found}


def listed(page) -> list[str]:
    """The names of the containers the table shows, in its order."""
    return page.locator("#container-list tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.name)"
    )


def only_ours(page):
    """The containers table narrowed to this run's containers."""
    page.fill("#container-filter", LABEL)
    page.press("#container-filter", "Enter")


def labelled_image(docker_api, base, *tags):
    """An image of this run (its label: removed after the test), named by each of ``tags``."""
    dockerfile = f"FROM {base}\n".encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    log = list(
        docker_api.build(
            fileobj=context, custom_context=True, tag=tags[0], labels=dict(LABELS), decode=True
        )
    )
    assert not [line for line in log if "error" in line], log
    for tag in tags[1:]:
        repository, _, version = tag.rpartition(":")
        docker_api.tag(tags[0], repository, version)


def test_a_containers_address_opens_it_after_a_reload_and_back_returns_to_the_list(
    browser, service, busybox_image, docker_api
):
    name = f"views-{RUN_ID}-page"
    ident = started(docker_api, busybox_image, name)
    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.open(token=WRITE)
    only_ours(page)
    page.locator(f"tr[data-name='{name}'] td.name a").click()
    assert page.evaluate("location.hash") == f"#containers/{name}"
    expect(page).to_have_title(f"{name} · Containers · Dockyard console")
    detail = page.locator("#container-detail")
    expect(detail.locator("h2")).to_contain_text(name)
    expect(page.locator("#container-list-page")).to_be_hidden()

    # a reload (a bookmark) opens the same container's page
    load(page)
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")
    expect(detail.locator("h2")).to_contain_text(name)
    expect(detail.locator(".id-badge")).to_contain_text(ident[:12])
    expect(page.locator("#logs-state")).to_have_text("following")

    # back: the list, the detail gone
    page.go_back()
    expect(page.locator("#container-list-page")).to_be_visible()
    expect(detail).to_be_hidden()
    expect(page.locator(f"tr[data-name='{name}']")).to_have_count(1)
    page.go_forward()
    expect(detail.locator("h2")).to_contain_text(name)

    # in another tab, the address opens the container by its id too, once a token is given
    other = Watched(browser, service, viewport=DESKTOP)
    other.open(f"#containers/{ident}", token=WRITE)
    expect(other.page.locator("#container-detail h2")).to_contain_text(name)
    other.check()
    watched.check()


def listing(browser, service, busybox_image, docker_api, *parts):
    """Containers of this run named after ``parts``, started, and the list showing them."""
    names = [f"views-{RUN_ID}-{part}" for part in parts]
    for name in names:
        started(docker_api, busybox_image, name)
    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.open(token=WRITE)
    only_ours(page)
    expect(page.locator("#container-list tbody tr")).to_have_count(len(names))
    return names, watched, page


def test_search_and_order_show_exactly_the_matching_containers(
    browser, service, busybox_image, docker_api
):
    names, watched, page = listing(browser, service, busybox_image, docker_api, "db-1", "web-2",
                                   "web-10")  # fmt: skip

    page.fill("#container-search", "WEB")  # case aside
    expect(page.locator("#container-list tbody tr")).to_have_count(2)
    assert sorted(listed(page)) == sorted(names[1:])
    page.fill("#container-search", f"{RUN_ID}-db")
    expect(page.locator("#container-list tbody tr")).to_have_count(1)
    assert listed(page) == names[:1]
    page.fill("#container-search", "no-such-name")
    expect(page.locator("#container-list")).to_contain_text("No container's name has that")
    page.fill("#container-search", "")

    # by name, as people count (web-2 before web-10); a second click turns it around
    name_header = page.locator("#container-list th", has_text="Name")
    expect(name_header).to_have_attribute("aria-sort", "ascending")
    assert listed(page) == names
    name_header.get_by_role("button").click()
    expect(name_header).to_have_attribute("aria-sort", "descending")
    assert listed(page) == names[::-1]
    created = page.locator("#container-list th", has_text="Created")
    created.get_by_role("button").click()
    expect(created).to_have_attribute("aria-sort", "ascending")
    expect(name_header).not_to_have_attribute("aria-sort", re.compile("."))
    assert listed(page) == names
    watched.check()


def test_bulk_stop_and_remove_act_on_exactly_the_selected_containers_and_kill_in_the_row(
    browser, service, busybox_image, docker_api, shots
):
    names, watched, page = listing(browser, service, busybox_image, docker_api, "one", "two",
                                   "three")  # fmt: skip
    expect(page.locator("#bulk-stop")).to_be_disabled()

    # select-all, then none
    page.check("#container-pick-all")
    expect(page.locator("#container-picked")).to_have_text("3 selected")
    page.uncheck("#container-pick-all")
    expect(page.locator("#container-picked")).to_have_text("none selected")

    # stop two of the three: sleep ignores SIGTERM, so the timeout chosen is what they get
    page.fill("#stop-timeout", "1")
    for name in names[:2]:
        page.check(f"tr[data-name='{name}'] input.pick")
    expect(page.locator("#container-picked")).to_have_text("2 selected")
    expect(page.locator("#container-pick-all")).to_have_js_property("indeterminate", True)
    watched.shot(shots, "containers-two-selected-1280")
    page.click("#bulk-stop")
    expect(page.locator("#confirm-detail")).to_have_text("\n".join(names[:2]))
    expect(page.locator("#confirm-text")).to_contain_text("Each gets 1 s")
    confirm(page)
    # both stops answered (a failure would be said here, with the service's reason)
    said = page.locator("#container-list-page > .message")
    expect(said).to_have_text(f"stopped {names[0]}, {names[1]}")
    for name in names[:2]:
        expect(page.locator(f"tr[data-name='{name}'] .state")).to_contain_text("exited")
    expect(page.locator(f"tr[data-name='{names[2]}'] .state")).to_contain_text("running")
    assert running_names(docker_api) == {names[2]}
    for name in names[:2]:
        assert docker_api.inspect_container(name)["State"]["ExitCode"] == 137  # killed after 1 s

    # kill, from the row
    row = page.locator(f"tr[data-name='{names[2]}']")
    row.get_by_role("button", name="Kill").click()
    expect(page.locator("#confirm-text")).to_have_text(f"Kill the container {names[2]}?")
    confirm(page)
    expect(row.locator(".state")).to_contain_text("exited")
    assert running_names(docker_api) == set()
    assert docker_api.inspect_container(names[2])["State"]["ExitCode"] == 137

    # remove the ones the search shows, all selected at once: the other stays
    page.fill("#container-search", "t")  # two, three
    expect(page.locator("#container-list tbody tr")).to_have_count(2)
    page.check("#container-pick-all")
    page.click("#bulk-remove")
    expect(page.locator("#confirm-detail")).to_contain_text(names[1])
    expect(page.locator("#confirm-detail")).to_contain_text(names[2])
    expect(page.locator("#confirm-detail")).not_to_contain_text(names[0])
    confirm(page)
    expect(page.locator("#container-list tbody tr")).to_have_count(0)
    page.fill("#container-search", "")
    expect(page.locator("#container-list tbody tr")).to_have_count(1)
    left = docker_api.containers(all=True, filters={"label": f"{TEST_LABEL}={RUN_ID}"})
    assert [c["Names"][0].lstrip("/") for c in left] == names[:1]
    watched.check()


def unanswered_once(page, wanted, reach=False):
    """The first request ``wanted(request)`` picks gets no answer, as when Chromium fails
    the requests waiting for a connection because the machine's addresses changed (a
    container started or stopped); with ``reach``, the service does it but its answer is
    lost. Answers the list of the requests picked."""
    picked = []

    def handle(route, request):
        if not wanted(request):
            route.fallback()
            return
        picked.append(request.url)
        if len(picked) == 1:
            if reach:
                route.fetch()
            route.abort("connectionfailed")
            return
        route.continue_()

    page.route("**/*", handle)
    return picked


@pytest.mark.parametrize("file", ["js/chart.js", "console.css"])
def test_a_file_of_the_page_whose_load_got_no_answer_is_loaded_again(browser, service, file):
    watched = Watched(browser, service, viewport=DESKTOP)
    loads = unanswered_once(watched.page, lambda r: r.url.endswith(f"/console/static/{file}"))
    page = watched.open(token=WRITE)
    expect(page.locator("#main")).to_have_attribute("data-ready", "containers")
    # styled: the sheet puts the skip link out of sight
    expect(page.locator("a.skip")).to_have_css("left", "-999px")
    assert len(loads) == 2
    assert watched.unanswered == [f"GET {service}/console/static/{file}"]
    watched.check()


def test_a_request_that_got_no_answer_is_sent_again_where_that_does_nothing_more(
    browser, service, busybox_image, docker_api
):
    names, watched, page = listing(browser, service, busybox_image, docker_api, "first",
                                   "second")  # fmt: skip
    second = docker_api.inspect_container(names[1])["Id"]
    # a stop that never reached the service: sent again, both stopped
    stops = unanswered_once(page, lambda r: r.url.split("?")[0].endswith(f"{second}/stop"))
    page.fill("#stop-timeout", "0")
    page.check("#container-pick-all")
    page.click("#bulk-stop")
    confirm(page)
    said = page.locator("#container-list-page > .message")
    expect(said).to_have_text(f"stopped {names[0]}, {names[1]}")
    assert len(stops) == 2
    assert running_names(docker_api) == set()
    page.unroute("**/*")

    # a remove the service did, its answer lost: the second try's 404 means done
    removes = unanswered_once(page, lambda r: r.method == "DELETE", reach=True)
    watched.expected.add((404, f"/containers/{second}"))  # the second try's
    row = page.locator(f"tr[data-name='{names[1]}']")
    row.get_by_role("button", name="Remove").click()
    confirm(page)
    expect(said).to_have_text(f"removed {names[1]}")
    expect(row).to_have_count(0)
    assert len(removes) == 2
    page.unroute("**/*")

    # a restart is not sent again (a second would restart again): its failure is said
    restarts = unanswered_once(page, lambda r: "/restart" in r.url)
    row = page.locator(f"tr[data-name='{names[0]}']")
    row.get_by_role("button", name="Restart").click()
    confirm(page)
    expect(said).to_contain_text("The service cannot be reached")
    assert len(restarts) == 1
    assert running_names(docker_api) == set()
    left = docker_api.containers(all=True, filters={"label": f"{TEST_LABEL}={RUN_ID}"})
    assert [c["Names"][0].lstrip("/") for c in left] == names[:1]
    watched.unanswered.remove(f"POST {restarts[0]}")  # said above: the one not sent again
    watched.check()


def test_the_logs_panel_finds_stamps_wraps_and_asks_for_fewer_lines(
    browser, service, busybox_image, docker_api, shots
):
    name = f"views-{RUN_ID}-logs"
    script = "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo line-$i; done; sleep 300"
    started(docker_api, busybox_image, name, command=("sh", "-c", script))
    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.open(f"#containers/{name}", token=WRITE)
    logs = page.locator("#logs")
    lines = logs.locator(".line")
    # the last 200 lines first
    expect(lines).to_have_count(200)
    expect(lines.first.locator(".text")).to_have_text("line-101\n")

    # a search shows only the lines with it, marked
    page.fill("#logs-search", "LINE-25")
    expect(logs.locator(".line:visible")).to_have_count(10)  # line-250 .. line-259
    expect(logs.locator("mark").first).to_have_text("line-25")
    expect(page.locator("#logs-found")).to_have_text("10 of 200 lines have it")
    page.fill("#logs-search", "")
    expect(logs.locator(".line:visible")).to_have_count(200)

    # timestamps: the engine's, shown on demand
    expect(lines.first.locator(".ts")).to_be_hidden()
    page.check("#logs-timestamps")
    expect(lines.first.locator(".ts")).to_be_visible()
    expect(lines.first.locator(".ts")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z $"))
    page.fill("#logs-search", "line-25")
    logs.evaluate("pre => { pre.scrollTop = 0; }")
    watched.shot(shots, "logs-found-stamped-1280")
    page.fill("#logs-search", "")

    # wrap: long lines wrap by default, or scroll sideways
    assert logs.evaluate("pre => getComputedStyle(pre).whiteSpace") == "pre-wrap"
    page.uncheck("#logs-wrap")
    assert logs.evaluate("pre => getComputedStyle(pre).whiteSpace") == "pre"

    # fewer lines, then every one
    page.select_option("#logs-tail", "100")
    expect(lines).to_have_count(100)
    expect(lines.first.locator(".text")).to_have_text("line-201\n")
    page.select_option("#logs-tail", "")
    expect(lines).to_have_count(300)
    watched.check()


def test_built_in_networks_offer_no_remove_and_a_network_has_an_address(
    browser, service, docker_api
):
    network = f"views-{RUN_ID}-net"
    docker_api.create_network(network, labels=dict(LABELS))
    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.open("#networks", token=WRITE)
    expect(page.locator("#main")).to_have_attribute("data-ready", "networks")
    for name in ("bridge", "host", "none"):
        row = page.locator(f"#network-list tr[data-name='{name}']")
        expect(row).to_have_count(1)
        expect(row.get_by_role("button", name="Remove")).to_have_count(0)
        expect(row).to_contain_text("built-in")
    ours = page.locator(f"#network-list tr[data-name='{network}']")
    expect(ours.get_by_role("button", name="Remove")).to_have_count(1)

    ours.get_by_role("link", name=network).click()
    assert page.evaluate("location.hash") == f"#networks/{network}"
    expect(page.locator("#network-detail h3")).to_have_text(f"Network {network}")
    load(page)
    expect(page.locator("#network-detail h3")).to_have_text(f"Network {network}")
    page.go_back()
    expect(page.locator("#network-detail")).to_be_empty()
    watched.check()


def test_volumes_are_searched_by_name_ordered_and_measured(
    browser, service, docker_api, busybox_image
):
    names = [f"views-{RUN_ID}-{part}" for part in ("cache", "data-2", "data-10")]
    for name in names:
        docker_api.create_volume(name, labels=dict(LABELS))
    # 200 kB in the first, written by a container
    writer = docker_api.create_container(
        busybox_image,
        command=["sh", "-c", "head -c 200000 /dev/zero > /v/file"],
        labels=dict(LABELS),
        host_config=docker_api.create_host_config(binds=[f"{names[0]}:/v"]),
    )
    docker_api.start(writer)
    assert docker_api.wait(writer, timeout=30)["StatusCode"] == 0
    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.open("#volumes", token=WRITE)
    rows = page.locator("#volume-list tbody tr")
    page.fill("#volume-search", f"{RUN_ID}-data")
    expect(rows).to_have_count(2)
    shown = "rows => rows.map(row => row.dataset.name)"
    assert rows.evaluate_all(shown) == names[1:]
    header = page.locator("#volume-list th", has_text="Name")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert rows.evaluate_all(shown) == names[:0:-1]
    page.fill("#volume-search", f"views-{RUN_ID}")
    expect(rows).to_have_count(3)
    # sizes, when asked for
    size = page.locator(f"#volume-list tr[data-name='{names[0]}'] td.size")
    expect(size).to_have_text("—")
    page.check("#volume-sizes")
    expect(size).to_have_text(re.compile(r"^20\d\.\d KB$"))
    watched.check()


def test_a_token_given_while_the_console_starts_draws_its_section_once(
    browser, service, docker_api
):
    """The token form is sent before the console has read its document: the section is drawn
    once, after both, and not cleared under the person by the start's own first drawing."""
    name = f"views-{RUN_ID}-early"
    docker_api.create_volume(name, labels=dict(LABELS))
    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.page
    held = []
    page.route("**/openapi.json", lambda route: held.append(route))
    lists = []  # the volume list's requests
    listing = re.compile(r"/volumes(\?|$)")
    page.on("request", lambda r: listing.search(r.url) and lists.append(r.url))
    load(page, f"{service}/#volumes")
    for _ in range(200):  # the handler runs while Playwright waits, not in a sleep
        if held:
            break
        page.wait_for_timeout(50)
    page.fill("#token", WRITE)
    page.click("#token-form button[type=submit]")
    with page.expect_response("**/openapi.json"):
        held[0].continue_()
    expect(page.locator("#identity")).to_contain_text("token console-")
    expect(page.locator("#main")).to_have_attribute("data-ready", "volumes")
    page.fill("#volume-search", name)
    rows = page.locator("#volume-list tbody tr")
    expect(rows).to_have_count(1)
    page.wait_for_timeout(500)
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.name)") == [name]
    assert len(lists) == 1, lists
    # the actions know their scopes: the document was read before the section was drawn
    expect(rows.get_by_role("button", name="Remove")).to_be_enabled()
    watched.check()


def test_push_only_for_tags_naming_a_registry_and_the_registry_offered_by_name(
    browser, service, registry, busybox_image, docker_api
):
    bare = f"views-{RUN_ID}/bare:1"
    qualified = f"{registry}/views-{RUN_ID}/qualified:1"
    local = f"localhost/views-{RUN_ID}/local:1"
    labelled_image(docker_api, busybox_image, bare, qualified, local)
    # the service's own helper image exists once a volume was backed up
    volume = docker_api.create_volume(f"views-{RUN_ID}-data", labels=dict(LABELS))["Name"]
    request = urllib.request.Request(
        f"{service}/volumes/{volume}/backup", headers={"Authorization": f"Bearer {WRITE}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()

    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.open("#images", token=WRITE)
    expect(page.locator("#main")).to_have_attribute("data-ready", "images")
    expect(page.locator(f"button[data-push='{qualified}']")).to_have_count(1)
    expect(page.locator(f"button[data-push='{local}']")).to_have_count(1)
    expect(page.locator(f"button[data-push='{bare}']")).to_have_count(0)
    helper = page.locator("#image-list tr", has_text="dockyard/volume-helper:")
    expect(helper).to_have_count(1)
    expect(helper.get_by_role("button", name=re.compile("^(Push|Remove)"))).to_have_count(0)
    expect(helper).to_contain_text("Dockyard's own")

    # the configured registries are offered by name, and only they; browsing one works
    watched.go("registry")
    expect(page.locator("#registry-host option")).to_have_count(1)
    expect(page.locator(f"#registry-host option[value='{registry}']")).to_have_count(1)
    page.select_option("#registry-host", registry)
    page.click("#registry-browse")
    expect(page.locator("#registry-tags")).to_contain_text(f"Repositories of {registry}")
    watched.check()


def test_the_new_container_form_says_the_decision_once_and_starts_over_after_a_create(
    browser, service, busybox_image
):
    name = f"views-{RUN_ID}-form"
    watched = Watched(browser, service, viewport=DESKTOP)
    page = watched.open(token=WRITE)
    page.click("#new-container summary")
    page.fill("#nc-image", busybox_image)
    page.fill("#nc-name", name)
    page.fill("#nc-command", "sleep 300")
    page.fill("#nc-labels", LABEL)
    page.click("#nc-check")
    expect(page.locator("#nc-decision")).to_have_text("Policy: allowed.")
    page.click("#nc-create")
    confirm(page)
    expect(page.locator("#container-detail h2")).to_contain_text(name)
    page.go_back()
    expect(page.locator("#container-list-page")).to_be_visible()
    for field in ("#nc-image", "#nc-name", "#nc-command", "#nc-labels"):
        expect(page.locator(field)).to_have_value("")
    expect(page.locator("#nc-decision")).to_contain_text(f"Created {name}")
    # one status line at a time: a later message replaces the form's
    only_ours(page)
    page.locator(f"tr[data-name='{name}']").get_by_role("button", name="Pause").click()
    expect(page.locator("#main .message[role=status]:visible")).to_have_count(1)
    expect(page.locator("#main .message[role=status]:visible")).to_have_text(f"pause: {name} done")
    watched.check()


def test_docs_and_every_page_get_an_icon(service):
    # browsers ask /favicon.ico on every page, /docs included: the console's icon
    with urllib.request.urlopen(f"{service}/favicon.ico", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("image/svg+xml")
        assert answer.read().startswith(b"<svg")


PAGES = ("images", "volumes", "networks", "registry", "events", "course")


@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280", "420"])
def test_every_page_fits_its_width(browser, service, busybox_image, docker_api, shots, viewport):
    width = viewport["width"]
    # a name of 64 hex digits looks like an id: the page must still tell them apart
    hexed = "f" * 8 + RUN_ID.ljust(56, "0")
    started(docker_api, busybox_image, hexed)
    checked = started(
        docker_api,
        busybox_image,
        f"views-{RUN_ID}-healthy",
        healthcheck={"test": ["CMD", "true"], "interval": 1_000_000_000},
    )
    docker_api.create_volume(f"views-{RUN_ID}-volume", labels=dict(LABELS))
    watched = Watched(browser, service, viewport=viewport)
    page = watched.open(token=WRITE)
    only_ours(page)
    row = page.locator(f"tr[data-name='{hexed}']")
    expect(row.locator("td.name a")).to_have_text(hexed)
    expect(row.locator(".id-badge")).not_to_contain_text(hexed[:12])
    expect(row.locator(".id-badge .id-kind")).to_have_text("id")
    healthy = page.locator(f"tr[data-name='views-{RUN_ID}-healthy']")
    eventually(
        lambda: docker_api.inspect_container(checked)["State"]["Health"]["Status"] == "healthy"
    )
    page.click("text=Refresh")
    expect(healthy.locator(".health")).to_have_text("healthy", timeout=15_000)
    expect(row.locator("td").nth(4)).to_have_text("—")
    page.click("#new-container summary")  # its placeholders show whole
    fits(page, width)
    headers_on_one_line(page)
    watched.shot(shots, f"containers-{width}")

    row.locator("td.name a").click()
    expect(page.locator("#container-detail h2")).to_contain_text(hexed)
    fits(page, width)
    watched.shot(shots, f"container-detail-{width}")

    for section in PAGES:
        watched.go(section)
        if section == "events":
            expect(page.locator("#events-state")).to_contain_text("listening")
            docker_api.create_volume(f"views-{RUN_ID}-{width}", labels=dict(LABELS))
            expect(page.locator("#events-feed")).to_contain_text(f"views-{RUN_ID}-{width}")
        fits(page, width)
        headers_on_one_line(page)
        watched.shot(shots, f"{section}-{width}")
    watched.check()


def fits(page, width):
    """The page does not scroll sideways: only a wide table does, in its own box."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def headers_on_one_line(page):
    """No header breaks a word ("Por / ts"): each is one line high."""
    tall = page.locator("th:visible").evaluate_all(
        "cells => cells.filter(c => c.getBoundingClientRect().height > 40).map(c => c.textContent)"
    )
    assert not tall, tall

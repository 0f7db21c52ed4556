"""What a request may send on to the daemon, against the real engine: text that can be encoded,
numbers that can be read, strings and lists no longer than the engine takes. Anything else is
refused before the daemon sees it, naming the field, and the engine is left as it was."""

import pytest

from service.schemas import (
    ALIASES_MAX,
    ARGUMENT_MAX,
    BUILD_ARGS_TOTAL_MAX,
    BUILD_LABELS_TOTAL_MAX,
    CHANGE_MAX,
    CHANGES_MAX,
    CHANGES_TOTAL_MAX,
    COMMAND_MAX,
    COMMAND_WORDS_MAX,
    COMMIT_AUTHOR_MAX,
    COMMIT_MESSAGE_MAX,
    ENV_ENTRIES_MAX,
    ENV_MAX,
    ENV_VALUE_MAX,
    EXECUTABLE_MAX,
    FILTERS_MAX,
    LABEL_VALUE_MAX,
    LABELS_MAX,
    MOUNTS_MAX,
    NAME_MAX,
    PATH_MAX,
    PATH_PART_MAX,
    PORTS_MAX,
    QUERY_TEXT_MAX,
)
from service.schemas.fields import COMMAND_TEXT_MAX
from tests.conftest import RUN_ID, TEST_LABEL, ours

# a character that takes 4 bytes in UTF-8, 12 once percent-encoded in a URL
WIDE = "\U0001f600"


@pytest.fixture
def running(client, busybox_image, labels):
    """A running container, made through the service."""
    answer = client.post(
        "/containers",
        json={"image": busybox_image, "command": ["sleep", "300"], "labels": labels, "start": True},
    )
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def fields(answer) -> set:
    return set(answer.json["errors"]["json"])


def our_images(docker_api, labels) -> list[str]:
    scope = {"label": f"{TEST_LABEL}={labels[TEST_LABEL]}"}
    return [image["Id"] for image in docker_api.images(filters=scope)]


# -- text that cannot be encoded -------------------------------------------------------------


def test_commit_text_with_a_lone_surrogate_is_a_422_naming_each_field(
    client, docker_api, running, labels
):
    body = '{"message": "\\ud800", "author": "me \\udfff", "changes": ["LABEL a=\\ud800"]}'
    answer = client.post(
        f"/containers/{running}/commit", data=body, content_type="application/json"
    )
    assert answer.status_code == 422
    assert fields(answer) == {"message", "author", "changes"}
    assert "surrogate" in answer.json["errors"]["json"]["changes"]["0"][0]
    assert our_images(docker_api, labels) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ('"env": {"A\\ud800": "x"}', "env"),
        ('"env": {"A": "\\udc00"}', "env"),
        ('"labels": {"k": "\\ud800"}', "labels"),
        ('"command": ["echo", "\\ud800"]', "command"),
        ('"command": "echo \\ud800"', "command"),
        ('"mounts": [{"type": "tmpfs", "target": "/\\ud800"}]', "mounts"),
        ('"\\ud800": 1', "\\ud800"),
    ],
)
def test_create_text_with_a_lone_surrogate_is_a_422_and_nothing_is_made(
    client, docker_api, busybox_image, body, field
):
    body = f'{{"image": "{busybox_image}", {body}}}'
    answer = client.post("/containers", data=body, content_type="application/json")
    assert answer.status_code == 422
    assert fields(answer) == {field}
    assert ours(docker_api) == []


def test_exec_text_with_a_lone_surrogate_is_a_422(client, running):
    body = '{"cmd": ["echo", "\\ud800"], "env": {"\\udfff": "x"}, "workdir": "/\\udbff"}'
    answer = client.post(f"/containers/{running}/exec", data=body, content_type="application/json")
    assert answer.status_code == 422
    assert fields(answer) == {"cmd", "env", "workdir"}


@pytest.mark.parametrize(
    "path",
    [
        "/containers?name=%ED%A0%80",
        "/containers?label=a%3D%ED%A0%80",
        "/containers?status=%ED%A0%80",
        "/containers/%ED%A0%80",
        "/containers/%ED%A0%80/top?ps_args=%ED%A0%80",
        "/containers/abc%80/logs",
        "/images/%ED%A0%80",
        "/images/busybox%ED%A0%80/history",
        "/images?reference=%ED%A0%80",
        "/no/%ED%A0%80",
    ],
)
def test_query_and_path_bytes_that_are_not_utf8_never_fail_the_service(client, path):
    # werkzeug decodes both with replacement characters: nothing unencodable reaches a view
    answer = client.get(path)
    assert answer.status_code < 500, answer.json


# -- numbers ---------------------------------------------------------------------------------

DIGITS = "1" * 5000


@pytest.mark.parametrize(
    "path, body",
    [
        ("/containers", '{"image": "busybox", "memory": N}'),
        ("/containers", '{"image": "busybox", "labels": {"a": N}}'),
        ("/containers", '{"image": "busybox", "nope": [-N]}'),
        ("/containers/abc/exec", '{"cmd": ["true"], "timeout": N}'),
        ("/containers/abc/update", '{"pids_limit": N}'),
        ("/containers/abc/commit", '{"pause": N}'),
        ("/images/pull", '{"image": N}'),
    ],
)
def test_a_number_with_more_digits_than_python_reads_is_a_client_error(
    client, docker_api, path, body
):
    # json reads such an integer with int(), which refuses more than 4300 digits
    body = body.replace("N", DIGITS)
    answer = client.post(path, data=body, content_type="application/json")
    assert answer.status_code in (400, 422), answer.json
    assert set(answer.json) == {"code", "status", "message", "errors"}
    assert ours(docker_api) == []


def test_an_integer_field_takes_no_fraction_and_no_boolean(client):
    # marshmallow's own integer takes 1.5 as 1 and true as 1: the document says integer
    for literal in ("67108864.5", "3.8e-215", "true"):
        answer = client.post(
            "/containers/decision",
            data=f'{{"image": "busybox", "memory": {literal}}}',
            content_type="application/json",
        )
        assert answer.status_code == 422 and fields(answer) == {"memory"}, literal
    answer = client.post("/containers/decision", json={"image": "busybox", "memory": 67108864.0})
    assert answer.status_code == 200


def test_a_boolean_field_takes_no_number(client):
    # marshmallow's own boolean takes 0 and 1: the document says boolean
    for literal in ("0", "1", "0.0"):
        answer = client.post(
            "/containers/decision",
            data=f'{{"image": "busybox", "tty": {literal}}}',
            content_type="application/json",
        )
        assert answer.status_code == 422 and fields(answer) == {"tty"}, literal
    # a query's text is read as before
    assert client.get("/containers?all=1").status_code == 200


def test_what_the_engine_would_refuse_is_a_422_before_it_is_asked(client, docker_api, labels):
    """An empty address range, a volume name of one character: the document says so (a
    client reads it there), and the daemon never sees them."""
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    for field in ("subnet", "gateway", "ip_range"):
        assert schemas["NetworkCreate"]["properties"][field]["minLength"] == 1
    assert schemas["VolumeCreate"]["properties"]["name"]["minLength"] == 2
    for field in ("subnet", "gateway", "ip_range"):
        body = {"name": f"empty-{RUN_ID}", "labels": labels, field: ""}
        answer = client.post("/networks", json=body)
        assert answer.status_code == 422 and fields(answer) == {field}, field
    answer = client.post("/volumes", json={"name": "v", "labels": labels})
    assert answer.status_code == 422 and fields(answer) == {"name"}
    assert ours(docker_api) == []


def test_a_retry_count_is_for_on_failure_only(client):
    body = {"image": "busybox", "restart_policy": {"name": "always", "maximum_retry_count": 3}}
    answer = client.post("/containers/decision", json=body)
    assert answer.status_code == 422 and fields(answer) == {"restart_policy"}
    body["restart_policy"]["name"] = "on-failure"
    assert client.post("/containers/decision", json=body).status_code == 200


def test_a_body_with_nothing_required_may_be_left_out(client):
    """The document says so (`requestBody.required: false`), and the service takes it."""
    spec = client.get("/openapi.json").json
    assert spec["paths"]["/volumes/decision"]["post"]["requestBody"]["required"] is False
    assert spec["paths"]["/containers"]["post"]["requestBody"]["required"] is True
    assert client.post("/volumes/decision").status_code == 200  # decides, makes nothing


@pytest.mark.parametrize(
    "literal", [f"{DIGITS}.5", "1e999", "-1e999", f'"{DIGITS}"', "1" + "0" * 400]
)
def test_numbers_out_of_any_range_are_a_422(client, literal):
    for field in ("memory", "cpus"):
        answer = client.post(
            "/containers/decision",
            data=f'{{"image": "busybox", "{field}": {literal}}}',
            content_type="application/json",
        )
        assert answer.status_code == 422, (field, literal, answer.json)
        assert fields(answer) == {field}


# -- strings and lists the engine can take ---------------------------------------------------


def test_exec_of_a_huge_executable_name_is_a_422_and_the_container_still_dies(
    client, docker_api, running
):
    # runc wedges writing its error about such a name: the container could then not be killed
    answer = client.post(f"/containers/{running}/exec", json={"cmd": ["a" * 70000], "timeout": 10})
    assert answer.status_code == 422
    assert fields(answer) == {"cmd"}
    assert "first word" in answer.json["errors"]["json"]["cmd"][0]
    docker_api.kill(running)
    assert docker_api.wait(running, timeout=10)["StatusCode"] == 137
    assert docker_api.inspect_container(running)["State"]["Status"] == "exited"


def command(first=1, other=0, words=1):
    return ["a" * first] + ["b" * other] * (words - 1)


def env(entries=1, value=1):
    return {f"V{i}": "x" * value for i in range(entries)}


@pytest.mark.parametrize(
    "field, value",
    [
        ("command", command(first=EXECUTABLE_MAX + 1)),
        ("command", command(other=ARGUMENT_MAX + 1, words=2)),
        ("command", command(other=ARGUMENT_MAX, words=COMMAND_MAX // ARGUMENT_MAX + 1)),
        ("command", command(words=COMMAND_WORDS_MAX + 1)),
        ("command", "a" * (COMMAND_MAX + 1)),
        ("command", "a" * (COMMAND_TEXT_MAX + 1)),
        ("command", "sh -c 'unclosed"),
        ("command", "a " + "b" * (ARGUMENT_MAX + 1)),
        ("entrypoint", command(first=EXECUTABLE_MAX + 1)),
        ("env", env(value=ENV_VALUE_MAX + 1)),
        ("env", env(entries=ENV_ENTRIES_MAX + 1)),
        ("env", env(entries=ENV_MAX // ENV_VALUE_MAX + 1, value=ENV_VALUE_MAX)),
        ("env", {"N" * 257: "x"}),
        ("name", "n" * (NAME_MAX + 1)),
        ("network", "n" * (NAME_MAX + 1)),
        ("labels", {f"k{i}": "v" for i in range(LABELS_MAX + 1)}),
        ("labels", {"k": "v" * (LABEL_VALUE_MAX + 1)}),
        ("labels", {"k" * 256: "v"}),
        ("ports", [{"container_port": 1 + i % 60000} for i in range(PORTS_MAX + 1)]),
        ("ports", [{"container_port": 80, "host_ip": "fe80::1%" + "x" * 100}]),
        ("mounts", [{"type": "tmpfs", "target": f"/t{i}"} for i in range(MOUNTS_MAX + 1)]),
        ("mounts", [{"type": "volume", "source": "v" * (NAME_MAX + 1), "target": "/v"}]),
        ("mounts", [{"type": "tmpfs", "target": "/" + "t" * PATH_MAX}]),
        # the engine answers 500 "file name too long" for these
        ("mounts", [{"type": "tmpfs", "target": "/" + "t" * (PATH_PART_MAX + 1)}]),
        ("working_dir", "/" + "w" * PATH_MAX),
        ("working_dir", "/" + "\u00e9" * (PATH_PART_MAX // 2 + 1)),
        ("working_dir", "/" + "/".join(["w" * 200] * 20)),
    ],
)
def test_create_fields_past_their_bound_are_a_422(client, docker_api, busybox_image, field, value):
    body = {"image": busybox_image, field: value}
    answer = client.post("/containers", json=body)
    assert answer.status_code == 422, answer.json
    assert fields(answer) == {field}
    assert ours(docker_api) == []


def test_aliases_past_their_bound_are_a_422(client, docker_api, busybox_image):
    body = {"image": busybox_image, "network": "bridge"}
    for aliases in (["a" * (NAME_MAX + 1)], [f"a{i}" for i in range(ALIASES_MAX + 1)]):
        answer = client.post("/containers", json={**body, "aliases": aliases})
        assert answer.status_code == 422
        assert fields(answer) == {"aliases"}
    assert ours(docker_api) == []


def test_a_run_at_the_bounds_is_taken_by_the_engine(client, docker_api, busybox_image, labels):
    start = ["sh", "-c", 'exit "$#"', "sh"]
    arguments = ["b" * ARGUMENT_MAX] * 3
    arguments.append("b" * (COMMAND_MAX - sum(map(len, start + arguments))))
    # 4 entries of `Vn=value`: ENV_MAX in all
    environment = {f"V{i}": "x" * (ENV_MAX // 4 - 3) for i in range(4)}
    body = {
        "image": busybox_image,
        "name": f"b{labels[TEST_LABEL]}".ljust(NAME_MAX, "n"),
        "command": start + arguments,
        "env": environment,
        "labels": {**labels, **{f"l{i}": "v" * LABEL_VALUE_MAX for i in range(LABELS_MAX - 1)}},
        "mounts": [{"type": "tmpfs", "target": f"/t{i}"} for i in range(MOUNTS_MAX)],
        "working_dir": "/" + "/".join(["w" * PATH_PART_MAX] * (PATH_MAX // (PATH_PART_MAX + 1))),
        "start": True,
    }
    assert sum(map(len, body["command"])) == COMMAND_MAX
    assert len(body["working_dir"]) == PATH_MAX
    answer = client.post("/containers", json=body)
    assert answer.status_code == 201, answer.json
    assert docker_api.wait(answer.json["id"], timeout=30)["StatusCode"] == len(arguments)
    created = docker_api.inspect_container(answer.json["id"])
    assert created["Name"] == "/" + body["name"]
    assert len(body["labels"]) == LABELS_MAX
    assert body["labels"].items() <= created["Config"]["Labels"].items()


@pytest.mark.parametrize(
    "body",
    [
        {"cmd": command(first=EXECUTABLE_MAX + 1)},
        {"cmd": command(other=ARGUMENT_MAX + 1, words=2)},
        {"cmd": "a " + "b" * COMMAND_MAX},
        {"cmd": ["true"], "env": env(value=ENV_VALUE_MAX + 1)},
        {"cmd": ["true"], "env": env(entries=ENV_ENTRIES_MAX + 1)},
    ],
)
def test_exec_fields_past_their_bound_are_a_422(client, running, body):
    answer = client.post(f"/containers/{running}/exec", json=body)
    assert answer.status_code == 422, answer.json
    assert len(fields(answer)) == 1


def test_rename_past_the_name_bound_is_a_422(client, running):
    answer = client.post(f"/containers/{running}/rename", json={"name": "n" * (NAME_MAX + 1)})
    assert answer.status_code == 422
    assert fields(answer) == {"name"}


@pytest.mark.parametrize(
    "changes",
    [
        ["LABEL a=" + "x" * CHANGE_MAX],
        [f"LABEL a{i}=x" for i in range(CHANGES_MAX + 1)],
        # within each bound, but past what the daemon's URL takes once percent-encoded
        [f"LABEL a{i}=" + WIDE * (CHANGE_MAX - 10) for i in range(CHANGES_MAX)],
    ],
)
def test_commit_changes_past_their_bound_are_a_422(client, docker_api, running, labels, changes):
    answer = client.post(f"/containers/{running}/commit", json={"changes": changes})
    assert answer.status_code == 422, answer.json
    assert fields(answer) == {"changes"}
    assert our_images(docker_api, labels) == []


def test_commit_at_its_bounds_fits_what_the_daemon_takes(client, docker_api, running, labels):
    width = CHANGE_MAX
    changes = [f"LABEL c{i:02}=" + WIDE * (width - 10) for i in range(CHANGES_TOTAL_MAX // width)]
    body = {
        "repository": f"dockyard-test/bounds-{labels[TEST_LABEL]}",
        "changes": changes,
        "message": WIDE * COMMIT_MESSAGE_MAX,
        "author": WIDE * COMMIT_AUTHOR_MAX,
    }
    answer = client.post(f"/containers/{running}/commit", json=body)
    assert answer.status_code == 201, answer.json
    image = docker_api.inspect_image(answer.json["id"])
    assert image["Config"]["Labels"]["c00"] == WIDE * (width - 10)
    assert image["Comment"] == body["message"]
    assert our_images(docker_api, labels) == [image["Id"]]


@pytest.mark.parametrize(
    "field, value",
    [
        ("labels", {f"k{i}": "v" * LABEL_VALUE_MAX for i in range(BUILD_LABELS_TOTAL_MAX // 4096)}),
        ("build_args", {f"A{i}": "v" * 20000 for i in range(BUILD_ARGS_TOTAL_MAX // 20000 + 1)}),
    ],
)
def test_build_options_past_what_the_daemon_url_takes_are_a_422(
    client, docker_api, busybox_image, labels, field, value
):
    body = {"dockerfile": f"FROM {busybox_image}\n", "labels": labels}
    body[field] = {**body.get(field, {}), **value}
    answer = client.post("/images/build", json=body)
    assert answer.status_code == 422, answer.json
    assert fields(answer) == {field}
    assert our_images(docker_api, labels) == []


@pytest.mark.parametrize(
    "path",
    [
        "/containers?" + "&".join(f"name=n{i}" for i in range(FILTERS_MAX + 1)),
        "/containers?" + "&".join(f"label=k{i}" for i in range(FILTERS_MAX + 1)),
        "/images?" + "&".join(f"reference=r{i}" for i in range(FILTERS_MAX + 1)),
        # each filter within its bound, but all of them past what the daemon's URL takes
        "/containers?" + "&".join(["volume=" + "v" * 4096] * (QUERY_TEXT_MAX // 4096 + 1)),
        # `until` in the past: were they taken, the stream would end at once
        "/system/events?until=1&" + "&".join(f"container=c{i}" for i in range(FILTERS_MAX + 1)),
        "/system/events?until=1&action=" + "a" * 65,
    ],
)
def test_query_filters_past_their_bound_are_a_422(client, path):
    answer = client.get(path)
    assert answer.status_code == 422


def test_a_build_at_its_bounds_fits_what_the_daemon_takes(
    client, docker_api, busybox_image, labels
):
    args = {f"A{i}": WIDE * (BUILD_ARGS_TOTAL_MAX // 4 - 4) for i in range(4)}
    extra = {f"k{i}": WIDE * (BUILD_LABELS_TOTAL_MAX // 8 - 4) for i in range(7)}
    body = {
        "dockerfile": f"FROM {busybox_image}\nARG A0\nRUN test ${{#A0}} -gt 0\n",
        "build_args": args,
        "labels": {**labels, **extra},
    }
    answer = client.post("/images/build", json=body)
    assert answer.status_code == 201, answer.json
    assert docker_api.inspect_image(answer.json["id"])["Config"]["Labels"]["k0"] == extra["k0"]


def test_prune_labels_at_their_bound_fit_what_the_daemon_takes(client):
    # filters no object carries: nothing is removed
    label = [f"dockyard.test.none{i}=" + WIDE * 1024 for i in range(FILTERS_MAX)]
    answer = client.post("/containers/prune", json={"label": label})
    assert answer.status_code == 200, answer.json
    assert answer.json["deleted"] == []


def test_prune_labels_past_their_bound_are_a_422(client, docker_api):
    label = [f"dockyard.test.none{i}" for i in range(FILTERS_MAX + 1)]
    answer = client.post("/containers/prune", json={"label": label})
    assert answer.status_code == 422
    assert fields(answer) == {"label"}


def test_the_contract_states_the_bounds(client):
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    create = schemas["ContainerCreate"]["properties"]
    array, string = create["command"]["oneOf"]
    assert array["maxItems"] == COMMAND_WORDS_MAX
    assert array["items"]["maxLength"] == ARGUMENT_MAX
    assert array["prefixItems"][0]["maxLength"] == EXECUTABLE_MAX
    assert string["maxLength"] == COMMAND_TEXT_MAX
    assert str(EXECUTABLE_MAX) in create["command"]["description"]
    assert create["env"]["maxProperties"] == ENV_ENTRIES_MAX
    assert create["env"]["additionalProperties"]["maxLength"] == ENV_VALUE_MAX
    assert str(ENV_MAX) in create["env"]["description"]
    assert create["name"]["maxLength"] == NAME_MAX
    assert create["network"]["maxLength"] == NAME_MAX
    assert create["aliases"]["maxItems"] == ALIASES_MAX
    assert create["aliases"]["items"]["maxLength"] == NAME_MAX
    assert create["mounts"]["maxItems"] == MOUNTS_MAX
    assert create["ports"]["maxItems"] == PORTS_MAX
    assert create["labels"]["maxProperties"] == LABELS_MAX
    assert create["labels"]["additionalProperties"]["maxLength"] == LABEL_VALUE_MAX
    assert schemas["Mount"]["properties"]["target"]["maxLength"] == PATH_MAX
    exec_ = schemas["Exec"]["properties"]
    assert exec_["cmd"]["oneOf"] == create["command"]["oneOf"]
    assert exec_["env"]["maxProperties"] == ENV_ENTRIES_MAX
    changes = schemas["Commit"]["properties"]["changes"]
    assert changes["maxItems"] == CHANGES_MAX
    assert changes["items"]["maxLength"] == CHANGE_MAX
    assert str(CHANGES_TOTAL_MAX) in changes["description"]
    build = schemas["BuildJson"]["properties"]
    assert str(BUILD_LABELS_TOTAL_MAX) in build["labels"]["description"]
    assert str(BUILD_ARGS_TOTAL_MAX) in build["build_args"]["description"]
    listing = {p["name"]: p["schema"] for p in spec["paths"]["/containers"]["get"]["parameters"]}
    assert listing["name"]["maxItems"] == FILTERS_MAX


@pytest.mark.parametrize(
    "path", ["/" + "p" * (PATH_PART_MAX + 1), "/" + "/".join(["p" * 200] * 20)]
)
def test_copy_paths_the_filesystem_cannot_take_are_a_422(client, running, path):
    # the daemon answers 500 "...: file name too long"
    answer = client.get(f"/containers/{running}/archive", query_string={"path": path})
    assert answer.status_code == 422, answer.json
    assert set(answer.json["errors"]["query"]) == {"path"}

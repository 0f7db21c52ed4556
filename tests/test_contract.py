"""The answers are what the document says, and what the daemon parses is checked first."""

import re

import jsonschema_rs
import marshmallow as ma
import pytest

from service.schemas import TIME_PATTERN, time_filter
from tests.conftest import TEST_LABEL
from tests.contract import Checker, strict

# valid forms the daemon takes, each kind of them
GOOD_TIMES = [
    "1700000000",
    "1700000000.5",
    "0",
    "24h",
    "1h30m",
    "1.5h",
    "2024-02-29",
    "2000-02-29",
    "0000-01-01",
    "2024-01-01T10:00",
    "2024-01-01T10:00Z",
    "2024-01-01T10:00:00",
    "2024-01-01T10:00:00+05:00",
    "2024-01-01T10:00:00.123456789Z",
]
BAD_TIMES = [
    "6348-65-11T16:62",  # no month 65, no minute 62
    "2023-02-29",
    "2024-04-31",
    "2024-01-01T24:00",
    "2024-01-01T10:00:60",
    "2024-01-01T10:00:00+24:00",
    "2100-02-29",
    "999999h999999h999999h",  # beyond what a go duration holds
    "yesterday",
    "2024-01-01T10",
]


@pytest.mark.parametrize("value", GOOD_TIMES)
def test_time_filter_takes_the_daemons_forms(value):
    assert time_filter(value) == value


@pytest.mark.parametrize("value", BAD_TIMES)
def test_time_filter_refuses_what_the_daemon_cannot_parse(value):
    with pytest.raises(ma.ValidationError):
        time_filter(value)
    # the document's pattern says so too, so that no client takes it for valid
    assert not re.fullmatch(TIME_PATTERN, value)


@pytest.mark.parametrize("path", ["/containers/prune", "/system/prune", "/images/prune"])
@pytest.mark.parametrize("value", BAD_TIMES[:4])
def test_prune_until_is_a_422_naming_the_field(client, path, value):
    answer = client.post(path, json={"until": value})
    assert answer.status_code == 422, answer.json
    assert "until" in answer.json["errors"]["json"]
    assert "until" in answer.json["message"]


@pytest.mark.parametrize("value", GOOD_TIMES)
def test_the_daemon_takes_every_time_the_schema_takes(client, labels, value):
    # scoped to this run's label: nothing else is removed
    body = {"label": [f"{TEST_LABEL}={labels[TEST_LABEL]}"], "until": value}
    answer = client.post("/containers/prune", json=body)
    assert answer.status_code == 200, answer.json


@pytest.mark.parametrize("name", ["since", "until"])
def test_log_times_are_checked_before_the_daemon(client, name):
    answer = client.get(f"/containers/nothing-here/logs?{name}=2024-13-01")
    assert answer.status_code == 422
    assert name in answer.json["errors"]["query"]


def test_a_list_entry_and_the_detail_agree(client, busybox_image, labels):
    body = {
        "image": busybox_image,
        "command": ["sh", "-c", "sleep 300"],
        "labels": labels,
        "start": True,
    }
    created = client.post("/containers", json=body)
    assert created.status_code == 201, created.json
    detail = client.get(f"/containers/{created.json['id']}").json
    [entry] = client.get(f"/containers?label={TEST_LABEL}={labels[TEST_LABEL]}").json
    for field, value in entry.items():
        assert type(detail[field]) is type(value), field
    for field in ("id", "name", "image", "image_id", "command", "state", "labels", "ports"):
        assert detail[field] == entry[field], field
    assert detail["command"] == "sh -c 'sleep 300'"
    assert detail["argv"] == ["sh", "-c", "sleep 300"]
    assert detail["status"].startswith("Up ") and entry["status"].startswith("Up ")
    assert detail["state_detail"]["running"] is True

    stopped = client.post(f"/containers/{created.json['id']}/kill").json
    assert stopped["state"] == "exited"
    assert stopped["status"].startswith("Exited (137) ")


def test_the_checker_refuses_a_missing_or_an_undeclared_field():
    document = {
        "paths": {},
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "gone": {"type": ["string", "null"]},
                    },
                    "required": ["name", "gone"],
                }
            }
        },
    }
    validator = Checker(document).validator("thing", {"$ref": "#/components/schemas/Thing"})
    assert validator.is_valid({"name": "a", "gone": None})
    assert not validator.is_valid({"name": "a"})
    assert not validator.is_valid({"name": "a", "gone": None, "extra": 1})
    assert not validator.is_valid({"name": None, "gone": None})


def _readable(schema):
    # rust's regex engine reads no surrogate escapes (the python patterns refusing them)
    if isinstance(schema, dict):
        return {
            key: _readable(value)
            for key, value in schema.items()
            if not (key == "pattern" and isinstance(value, str) and "\\ud800" in value)
        }
    if isinstance(schema, list):
        return [_readable(item) for item in schema]
    return schema


def test_every_example_fits_its_schema(client):
    spec = _readable(client.get("/openapi.json").json)
    definitions = {name: strict(schema) for name, schema in spec["components"]["schemas"].items()}
    examples = {
        name: s["example"] for name, s in spec["components"]["schemas"].items() if "example" in s
    }
    assert {"ContainerCreate", "ContainerDetail", "ImageDetail", "Error"} <= set(examples)
    for name, example in examples.items():
        root = {"$ref": f"#/definitions/{name}", "definitions": definitions}
        errors = [e.message for e in jsonschema_rs.Draft202012Validator(root).iter_errors(example)]
        assert not errors, f"{name}: {errors}"

"""The document's patterns and rules are the service's own checks: where a pattern stands for
a parser (IP addresses, shell words), both agree on every input tried; where a request
schema checks fields together, the JSON Schema rule it publishes refuses what it refuses."""

import ipaddress
import json
import random
import re
import shlex
from pathlib import Path

import jsonschema_rs
import marshmallow as ma
import pytest

from service import schemas
from service.schemas.fields import IP_ADDRESS, SHELL_WORDS, SUBNET
from tests.contract import strict


def _parsed_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


def _hex(draw):
    return "".join(draw.choice("0123456789abcdefABCDEF") for _ in range(draw.choice([1, 4, 5])))


def _v4(draw):
    parts = [
        str(draw.choice([0, 9, 10, 99, 199, 249, 255, 256]))
        for _ in range(draw.choice([3, 4, 4, 5]))
    ]
    if draw.random() < 0.1:
        parts[0] = "0" + parts[0]
    return ".".join(parts)


def _v6(draw):
    groups = [_hex(draw) for _ in range(draw.randint(0, 9))]
    if draw.random() < 0.6:
        at = draw.randint(0, len(groups))
        groups = [*groups[:at], "", *groups[at:]]
        if at == 0:
            groups.insert(0, "")
        if at == len(groups) - 1:
            groups.append("")
    text = ":".join(groups)
    if draw.random() < 0.3:
        text = (text.rstrip(":") + ":" if text else "::") + _v4(draw)
    return text


def test_the_address_pattern_is_what_ipaddress_reads():
    draw = random.Random(7)
    pattern = re.compile(rf"^{IP_ADDRESS}$")
    tried = [_v4(draw) if draw.random() < 0.3 else _v6(draw) for _ in range(100_000)]
    valid = [text for text in tried if _parsed_address(text)]
    assert len(valid) > 10_000  # the draw reaches both sides
    assert [t for t in tried if bool(pattern.match(t)) != _parsed_address(t)] == []


def test_the_range_pattern_takes_an_address_and_a_prefix_length():
    pattern = re.compile(rf"^{SUBNET}$")
    for good in ("10.10.0.0/24", "0.0.0.0/0", "fd00:10::/64", "::/128", "::ffff:1.2.3.4/96"):
        assert pattern.match(good), good
    for bad in ("0", "10.10.0.0", "10.10.0.0/33", "10.10.0.0/08", "fd00::/129", "::1%lo/64"):
        assert not pattern.match(bad), bad


def _split(text):
    try:
        words = shlex.split(text)
    except ValueError:
        return False
    return bool(words) and "\x00" not in text


def test_the_shell_words_pattern_is_what_shlex_splits():
    draw = random.Random(11)
    alphabet = " \t\r\n'\"\\ab\x00\x0b#"
    pattern = re.compile(SHELL_WORDS)
    tried = [
        "".join(draw.choice(alphabet) for _ in range(draw.randint(0, 9))) for _ in range(100_000)
    ]
    assert sum(map(_split, tried)) > 10_000
    assert [t for t in tried if bool(pattern.match(t)) != _split(t)] == []


MOUNT = {"target": "/data"}
# (schema, body): each judged by the schema's own checks and by its published JSON Schema
CASES = [
    (schemas.fields.MountSchema, {**MOUNT, "type": "bind", "source": "/srv"}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "bind"}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "bind", "source": "srv"}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "volume", "source": "data"}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "volume", "source": "/srv"}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "volume", "read_only": True}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "volume", "source": "d2", "read_only": True}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "tmpfs", "tmpfs_size": 1024}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "tmpfs", "source": "x"}),
    (schemas.fields.MountSchema, {**MOUNT, "type": "volume", "tmpfs_size": 1024}),
    (schemas.fields.MountSchema, {"type": "volume", "target": "/etc/hosts"}),
    (schemas.fields.MountSchema, {"type": "bind", "source": "/srv/h", "target": "/etc/hosts"}),
    (schemas.fields.RestartPolicySchema, {"name": "on-failure", "maximum_retry_count": 3}),
    (schemas.fields.RestartPolicySchema, {"name": "always", "maximum_retry_count": 3}),
    (schemas.fields.RestartPolicySchema, {"name": "always", "maximum_retry_count": 0}),
    (schemas.containers.ContainerCreateSchema, {"image": "app", "aliases": ["web"]}),
    (schemas.containers.ContainerCreateSchema, {"image": "app", "aliases": []}),
    (
        schemas.containers.ContainerCreateSchema,
        {"image": "app", "aliases": ["web"], "network": "front"},
    ),
    (schemas.services.ServiceCreateSchema, {"image": "app", "mode": "global", "replicas": 2}),
    (schemas.services.ServiceCreateSchema, {"image": "app", "mode": "global"}),
    (schemas.services.ServiceCreateSchema, {"image": "app", "replicas": 2}),
    (schemas.images.PullSchema, {"image": "nginx", "tag": "1.27"}),
    (schemas.images.PullSchema, {"image": "nginx:1.27", "tag": "1.27"}),
    (schemas.images.PullSchema, {"image": "127.0.0.1:5000/nginx", "tag": "1.27"}),
    (schemas.images.PullSchema, {"image": "127.0.0.1:5000/nginx:1", "tag": "1.27"}),
    (schemas.networks.NetworkCreateSchema, {"name": "nw", "gateway": "10.1.0.1"}),
    (schemas.networks.NetworkCreateSchema, {"name": "nw", "ip_range": "10.1.0.0/25"}),
    (schemas.networks.NetworkCreateSchema, {"name": "nw", "subnet": "fd00:1::/64"}),
    (
        schemas.networks.NetworkCreateSchema,
        {"name": "nw", "subnet": "fd00:1::/64", "enable_ipv6": True},
    ),
    (schemas.networks.NetworkCreateSchema, {"name": "nw", "subnet": "10.1.0.0/24"}),
]


@pytest.fixture(scope="module")
def components():
    # the committed document, which a test holds equal to the served one
    document = json.loads((Path(__file__).parent.parent / "openapi" / "openapi.json").read_text())
    return {name: strict(s) for name, s in document["components"]["schemas"].items()}


def _published(components, schema):
    name = schema.__name__.removesuffix("Schema")
    assert name in components, f"{schema.__name__} is not in the document"
    return {"$ref": f"#/definitions/{name}", "definitions": components}


@pytest.mark.parametrize("schema, body", CASES)
def test_a_rule_across_fields_is_published_as_it_is_checked(components, schema, body):
    try:
        schema().load(body)
    except ma.ValidationError:
        taken = False
    else:
        taken = True
    published = jsonschema_rs.Draft202012Validator(_published(components, schema))
    assert published.is_valid(body) == taken, (body, taken)


def test_every_rule_across_fields_is_tried():
    modules = (schemas.fields, schemas.containers, schemas.services, schemas.images)
    ruled = {
        klass
        for module in (*modules, schemas.networks)
        for klass in vars(module).values()
        if isinstance(klass, type) and getattr(klass, "document_rules", ())
    }
    assert ruled <= {schema for schema, _ in CASES}


def test_an_image_name_is_bounded_as_the_engine_normalizes_it():
    """Docker counts a bare name with the `docker.io/library/` it puts before it."""
    create = schemas.containers.ContainerCreateSchema()
    at_bound = "a" * schemas.images.IMAGE_REF_MAX
    assert create.load({"image": at_bound})["image"] == at_bound
    with pytest.raises(ma.ValidationError):
        create.load({"image": at_bound + "a"})
    assert len("docker.io/library/" + at_bound) == 255


def test_a_push_names_a_repository_and_a_tag():
    document = json.loads((Path(__file__).parent.parent / "openapi" / "openapi.json").read_text())
    (ref,) = document["paths"]["/images/{ref}/push"]["parameters"]
    name = re.compile(ref["schema"]["pattern"])
    assert name.match("127.0.0.1:5000/team/app:1.0") and name.match("app")
    assert not name.match("app@sha256:" + "0" * 64)
    assert not name.match("[::1]:5000/app")


def _open_dots(pattern: str) -> list[int]:
    """Where ``pattern`` has a `.` that takes any character (outside a class, an escape or a
    negative lookahead): Python's `.`, from which schemathesis draws, takes `\\r`."""
    found, stack, in_class, i = [], [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            stack.append(pattern.startswith("(?!", i))
        elif char == ")" and stack:
            stack.pop()
        elif char == "." and not any(stack):
            found.append(i)
        i += 1
    return found


def test_no_documented_pattern_lets_a_line_break_through():
    """The service refuses a line break in every single-line value (schemas.Pattern): a
    pattern whose `.` takes one promises what the service refuses (the events' `action` did)."""
    document = json.loads((Path(__file__).parents[1] / "openapi" / "openapi.json").read_text())
    patterns, pending = set(), [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            patterns.update(v for k, v in node.items() if k == "pattern" and isinstance(v, str))
            pending.extend(v for k, v in node.items() if k != "pattern")
        elif isinstance(node, list):
            pending.extend(node)
    assert patterns
    assert _open_dots(r"^[a-z_]{1,64}(: .{0,64})?$") == [16]
    assert not {p for p in patterns if _open_dots(p)}

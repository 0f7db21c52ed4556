"""The lean dump of answer schemas (service/schemas/lean.py) equals marshmallow's, on the
engine's real answers and on values of other types than the fields send."""

import json
from collections import Counter
from datetime import UTC, datetime

import marshmallow as ma
import pytest

from service.schemas import Reply
from service.schemas.containers import ContainerDetailSchema, ContainerSchema
from service.schemas.images import ImageDetailSchema, ImageSchema
from service.schemas.lean import compile_dump


def same(a, b) -> bool:
    # the order of keys too: answers list fields in the order the schemas declare them
    return json.dumps(a, default=str) == json.dumps(b, default=str)


@pytest.fixture
def compared(monkeypatch):
    """Every dump of an answer schema made both ways and compared; counts by schema."""
    counts = Counter()
    lean_dump = Reply.dump

    def checking(self, obj, *, many=None):
        lean = lean_dump(self, obj, many=many)
        full = self.marshmallow_dump(obj, many=many)
        assert same(lean, full), type(self).__name__
        counts[type(self).__name__] += 1
        return lean

    monkeypatch.setattr(Reply, "dump", checking)
    return counts


def test_lean_dumps_equal_marshmallows_on_the_engines_answers(
    client, busybox_image, labels, compared
):
    body = {
        "image": busybox_image,
        "command": ["sleep", "300"],
        "labels": labels,
        "env": {"A": "1", "API_TOKEN": "secret"},
        "start": True,
    }
    created = client.post("/containers", json=body)
    assert created.status_code == 201, created.json
    paths = [
        "/containers?all=true",
        f"/containers/{created.json['id']}",
        "/images",
        f"/images/{busybox_image}",
        "/networks",
        "/volumes",
        "/system/info",
        "/system/version",
        "/system/df",
        "/health",
    ]
    for path in paths:
        assert client.get(path).status_code == 200, path
    for name in ("ContainerSchema", "ContainerDetailSchema", "ImageSchema", "InfoSchema"):
        assert compared[name] >= 1, name


@pytest.mark.parametrize(
    "schema", [ContainerSchema, ContainerDetailSchema, ImageSchema, ImageDetailSchema]
)
def test_the_hot_answers_have_a_lean_dump(schema):
    assert compile_dump(schema()) is not None


class _Inner(Reply):
    n = ma.fields.Integer()
    s = ma.fields.String(allow_none=True)


class _Sample(Reply):
    sometimes_absent = ("gone",)
    text = ma.fields.String()
    count = ma.fields.Integer()
    ratio = ma.fields.Float()
    flag = ma.fields.Boolean()
    when = ma.fields.DateTime(allow_none=True)
    tags = ma.fields.List(ma.fields.String())
    labels = ma.fields.Dict(ma.fields.String(), ma.fields.String())
    raw = ma.fields.Raw()
    inner = ma.fields.Nested(_Inner)
    inners = ma.fields.List(ma.fields.Nested(_Inner))
    gone = ma.fields.String()


@pytest.mark.parametrize(
    "obj",
    [
        {
            "text": "a",
            "count": 1,
            "ratio": 0.5,
            "flag": True,
            "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            "tags": ["x"],
            "labels": {"k": "v"},
            "raw": {"any": [1]},
            "inner": {"n": 2, "s": None},
            "inners": [{"n": 3, "s": "t"}, None],
        },
        {
            "text": 7,
            "count": 2.0,
            "ratio": 1,
            "flag": 1,
            "when": None,
            "tags": [1, 2],
            "labels": {"k": 3},
            "raw": None,
            "inner": None,
            "inners": None,
            "gone": "here",
        },
        {"count": True, "flag": 0, "text": None},
    ],
)
def test_lean_dump_equals_marshmallows_on_values_of_other_types(obj):
    schema = _Sample()
    assert compile_dump(schema) is not None
    assert same(schema.dump(obj), schema.marshmallow_dump(obj))
    assert same(schema.dump([obj, obj], many=True), schema.marshmallow_dump([obj, obj], many=True))


def test_a_generator_that_the_lean_dump_gives_up_on_is_dumped_whole():
    class Point(Reply):
        x = ma.fields.Integer()

    class Shaped:  # an object, not a dict: the lean dump gives it to marshmallow
        x = 3

    items = ({"x": 1}, {"x": 2}, Shaped(), {"x": 4})
    assert Point(many=True).dump(item for item in items) == [{"x": n} for n in (1, 2, 3, 4)]

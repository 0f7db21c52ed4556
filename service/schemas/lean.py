"""A lean projection of an answer schema: the same output as marshmallow's ``dump``, made by a
plain function compiled once per schema.

marshmallow's dump walks every field of every object through several layers of calls (accessor,
``serialize``, ``_serialize``): for a list of 200 containers, with their ports, networks and
mounts, that was most of the service's own time on `GET /containers`. The schema still documents
the answer and still dumps what this compiler does not follow; ``compile_dump`` answers None for
a schema with pre_dump hooks, renamed or computed fields (data_key, attribute, Method, Function...),
or ``only``/``exclude``. Values of the type a field sends pass as they are; any other value goes
through the field's own ``_serialize``, so that the output is marshmallow's in every case
(tests/test_lean.py compares both on the engine's real answers).
"""

from collections.abc import Callable

import marshmallow as ma
from marshmallow.utils import missing

_PLAIN = {
    ma.fields.String: str,
    ma.fields.Integer: int,
    ma.fields.Float: float,
    ma.fields.Boolean: bool,
}


class _Unsupported(Exception):
    pass


def compile_dump(schema: ma.Schema) -> Callable[[dict], dict] | None:
    """A function dumping one object as ``schema.dump`` would, or None."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _compile(schema):
    # post_dump hooks (the redaction of env values) run after it, as after marshmallow's
    if schema._hooks[ma.decorators.PRE_DUMP]:
        raise _Unsupported
    if schema.only or schema.exclude:
        raise _Unsupported
    steps = []
    for name, field in schema.dump_fields.items():
        if field.data_key not in (None, name) or field.attribute not in (None, name):
            raise _Unsupported
        if "." in name:
            raise _Unsupported
        default = field.dump_default
        steps.append((name, _converter(field), default))

    def dump(obj):
        if not isinstance(obj, dict):
            raise TypeError("lean dumps take dicts")
        out = {}
        for name, convert, default in steps:
            if name in obj:
                value = obj[name]
            elif default is missing:
                continue
            else:
                value = default() if callable(default) else default
            out[name] = None if value is None else convert(value)
        return out

    return dump


def _converter(field: ma.fields.Field) -> Callable:
    kind = type(field)
    # a plain field, or one that only loads differently (it dumps as its base does)
    base = next((k for k in kind.__mro__ if k in _PLAIN), None)
    plain = _PLAIN[base] if base and kind._serialize is base._serialize else None
    if plain is not None:
        serialize = field._serialize
        if base in (ma.fields.Integer, ma.fields.Float) and field.as_string:
            raise _Unsupported

        def scalar(value, plain=plain, serialize=serialize):
            return value if value.__class__ is plain else serialize(value, None, None)

        return scalar
    if kind in (ma.fields.DateTime, ma.fields.Date):
        serialize = field._serialize
        return lambda value: serialize(value, None, None)
    if kind is ma.fields.Raw:
        return lambda value: value
    if kind is ma.fields.Nested:
        nested = field.schema
        if nested._hooks[ma.decorators.POST_DUMP]:
            many = nested.many or field.many
            return lambda value: nested.dump(value, many=many)
        inner = _compile(nested)
        if nested.many or field.many:
            return lambda value: [None if item is None else inner(item) for item in value]
        return inner
    if kind is ma.fields.List:
        inner = _converter(field.inner)
        return lambda value: [None if item is None else inner(item) for item in value]
    if kind is ma.fields.Dict:
        keys = _converter(field.key_field) if field.key_field is not None else None
        values = _converter(field.value_field) if field.value_field is not None else None
        if keys is None and values is None:
            return dict
        keys = keys or (lambda key: key)
        values = values or (lambda value: value)
        return lambda value: {keys(k): None if v is None else values(v) for k, v in value.items()}
    raise _Unsupported

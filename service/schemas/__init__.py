"""Schemas, one module per resource, all built on these two bases."""

import marshmallow as ma

from ..auth import has_scope
from ..policy import redact_env


class Pattern(ma.validate.Regexp):
    """A regular expression the whole single-line value must match: `$` alone would let a
    trailing newline through."""

    def __call__(self, value):
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            raise ma.ValidationError(self._format_error(value))
        return super().__call__(value)


class Schema(ma.Schema):
    """Bodies in and out: an unknown field in a request body is a 422, not silently dropped."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class RedactedEnvSchema(Schema):
    """An answer with a `config.env`: values whose names look secret are hidden from tokens
    without the `admin` scope, whichever operation sends it."""

    @ma.post_dump
    def _redact(self, data, **kwargs):
        env = (data.get("config") or {}).get("env")
        if env and not has_scope("admin"):
            data["config"]["env"] = redact_env(env)
        return data


class QueryArgsSchema(ma.Schema):
    """Query strings: parameters this operation does not know are left aside."""

    class Meta:
        unknown = ma.EXCLUDE
        ordered = True


Str = ma.fields.String
Int = ma.fields.Integer
Bool = ma.fields.Boolean


def doc(text: str) -> dict:
    """Field keywords that put ``text`` in the OpenAPI document."""
    return {"metadata": {"description": text}}


# label keys as docker accepts them: reverse-DNS-ish, no spaces or control characters
LABEL_KEY = r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}"


def label_filter(**kwargs):
    """A ``key`` or ``key=value`` label filter, as ``docker ... --filter label=...`` takes it."""
    return Str(
        validate=Pattern(
            rf"^{LABEL_KEY}(=[^\x00-\x1f]{{0,1024}})?$",
            error="a label filter is `key` or `key=value`",
        ),
        **kwargs,
    )


def label_filters(description: dict):
    """A repeatable label filter; all must match."""
    return ma.fields.List(label_filter(), load_default=list, **description)


# a point in time as the daemon takes it: unix time, a Go duration ago, or an RFC 3339 date
time_filter = Pattern(
    r"^(\d{1,12}(\.\d{1,9})?|(\d{1,6}(\.\d{1,9})?(ns|us|ms|s|m|h)){1,6}"
    r"|\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)?)?)$",
    error="a time is a unix time, a duration such as `24h`, or an RFC 3339 date",
)


def until_filter(description: dict):
    """A time filter (`until`, `since`)."""
    return Str(validate=time_filter, **description)

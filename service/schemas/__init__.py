"""Schemas, one module per resource, all built on these two bases."""

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import marshmallow as ma
from flask import g
from flask_smorest.error_handler import ErrorSchema as SmorestErrorSchema
from marshmallow.schema import SchemaMeta

from ..redaction import redact_argv, redact_env
from .lean import compile_dump

# how much a request may send on to the daemon, in characters and entries: what the engine
# takes (a command's first word past 64 KiB wedges runc; a URL past 1 MiB is refused)
EXECUTABLE_MAX = 4096  # a command's first word
ARGUMENT_MAX = 32 * 1024  # any other word of a command
COMMAND_MAX = 128 * 1024  # all the words of a command
COMMAND_WORDS_MAX = 4096
ENV_NAME_MAX = 256
ENV_VALUE_MAX = 32 * 1024
ENV_ENTRIES_MAX = 1024
ENV_MAX = 128 * 1024  # all of `NAME=value`
NAME_MAX = 128  # container, volume, network names and aliases
LABEL_KEY_MAX = 255
LABEL_VALUE_MAX = 4096
LABELS_MAX = 256
# a path inside a container, in UTF-8 bytes: the engine puts its own directory before it
PATH_MAX = 3072
PATH_PART_MAX = 255  # one name of a path, as filesystems take it
HOST_PATH_MAX = 4096  # a bind mount's source
PORTS_MAX = 256
MOUNTS_MAX = 64
ALIASES_MAX = 64
FILTERS_MAX = 32  # values of one repeatable filter, sent in the daemon's URL
QUERY_TEXT_MAX = 16 * 1024  # all the text of one query string
ADDRESS_MAX = 64  # an IP address, a scope included
# commit and build options travel in the daemon's URL, percent-encoded (up to 16 bytes a
# character): these totals keep it under the 1 MiB the engine reads
CHANGE_MAX = 4096  # one Dockerfile instruction of a commit
CHANGES_MAX = 64
CHANGES_TOTAL_MAX = 64 * 1024
COMMIT_MESSAGE_MAX = 4096
COMMIT_AUTHOR_MAX = 256
BUILD_ARG_MAX = 32 * 1024
BUILD_ARGS_MAX = 256
BUILD_ARGS_TOTAL_MAX = 32 * 1024
BUILD_LABELS_TOTAL_MAX = 16 * 1024
BUILD_FILES_MAX = 1024


class Pattern(ma.validate.Regexp):
    """A regular expression the whole single-line value must match: `$` alone would let a
    trailing newline through."""

    def __call__(self, value):
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            raise ma.ValidationError(self._format_error(value))
        return super().__call__(value)


# JSON may carry a lone surrogate (`"\ud800"`), which no encoding can send on
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _shown(key: str) -> str:
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", key)


def unencodable(document) -> dict:
    """Where strings of a JSON document, keys or values, hold a lone surrogate: an error
    dict shaped as marshmallow's, by field, index and key."""
    errors = {}
    pending = [(document, ())]
    while pending:  # a loop, not recursion: the parser already allows deep nesting
        value, path = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                _put(errors, path, "a lone surrogate cannot be encoded: send valid UTF-16 pairs")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    _put(errors, (*path, _shown(key)), "this key holds a lone surrogate")
                else:
                    pending.append((item, (*path, key)))
        elif isinstance(value, list):
            pending.extend((item, (*path, index)) for index, item in enumerate(value))
    return errors


def _put(errors: dict, path: tuple, message: str) -> None:
    *parents, last = path or ("_schema",)
    for step in parents:
        errors = errors.setdefault(step, {})
    errors[last] = [message]


class Shared:
    """A schema is not changed once made, so a copy of it is itself: flask-smorest deep-copies
    each view's documentation at every app's registration, which otherwise copied every field
    of every schema (most of the time an app takes to be made)."""

    def __deepcopy__(self, memo):
        return self


class ErrorSchema(Shared, SmorestErrorSchema):
    """Every error's answer (`code`, `status`, `message`, `errors`): flask-smorest's, named
    `Error` in the document, shared as the other schemas are."""


class Schema(Shared, ma.Schema):
    """Bodies in and out: an unknown field in a request body is a 422, not silently dropped,
    and so is text that cannot be encoded to reach the daemon. What a schema checks across
    its fields is stated for the document too, as JSON Schema, in ``document_rules``."""

    document_rules: tuple[dict, ...] = ()

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @ma.pre_load
    def _encodable(self, data, **kwargs):
        errors = unencodable(data)
        if errors:
            raise ma.ValidationError(errors)
        return data


class _AlwaysSent(SchemaMeta):
    def __new__(mcs, name, bases, attrs):
        klass = super().__new__(mcs, name, bases, attrs)
        for field_name, field in klass._declared_fields.items():
            if field_name not in klass.sometimes_absent:
                field.required = True
        return klass


class Reply(Schema, metaclass=_AlwaysSent):
    """An answer: the service sends every field it declares (`null` where unknown, for
    fields with ``allow_none``), so the document lists them all as required. Fields named
    in ``sometimes_absent`` are the exception, and say when they are there."""

    sometimes_absent: tuple[str, ...] = ()

    def dump(self, obj, *, many=None):
        # a plain function compiled once per schema instance, equal to marshmallow's dump
        # (tests/test_lean.py); marshmallow's own for what it does not follow
        lean = self.__dict__.get("_lean", _UNCOMPILED)
        if lean is _UNCOMPILED:
            lean = self._lean = compile_dump(self)
        many = self.many if many is None else bool(many)
        if lean is None or obj is None:
            return super().dump(obj, many=many)
        if many and not isinstance(obj, list | tuple):
            # taken once: marshmallow's dump, should it take over, needs all of it
            obj = list(obj)
        try:
            result = [lean(item) for item in obj] if many else lean(obj)
        except TypeError:
            return super().dump(obj, many=many)
        if self._hooks[ma.decorators.POST_DUMP]:
            result = self._invoke_dump_processors(
                ma.decorators.POST_DUMP, result, many=many, original_data=obj
            )
        return result

    def marshmallow_dump(self, obj, *, many=None):
        """marshmallow's own dump, which the lean one must equal."""
        return super().dump(obj, many=many)


_UNCOMPILED = object()


def sees_secrets() -> bool:
    """Whether the calling token reaches inside containers anyway (`exec`), or is `admin`:
    the service's authorization says so for each request."""
    return g.get("sees_secrets", False)


class RedactedSchema(Reply):
    """An answer that may carry a command or an environment (a container's, a service's):
    values that look secret in them are hidden from tokens that do not see secrets, whichever
    operation sends it."""

    @ma.post_dump(pass_collection=True)
    def _redact(self, data, many, **kwargs):
        if sees_secrets():
            return data
        for item in data if many else [data]:
            for holder in (item, item.get("config") or {}):
                for key in ("command", "argv", "cmd", "entrypoint"):
                    if holder.get(key):
                        holder[key] = redact_argv(holder[key])
                if holder.get("env"):
                    holder["env"] = redact_env(holder["env"])
        return data


class QueryArgsSchema(Shared, ma.Schema):
    """Query strings: parameters this operation does not know are left aside, and all the
    text of those it knows is bounded (filters and options go on in the daemon's URL)."""

    class Meta:
        unknown = ma.EXCLUDE
        ordered = True

    @ma.validates_schema
    def _bounded(self, data, **kwargs):
        values = [
            v for value in data.values() for v in (value if isinstance(value, list) else [value])
        ]
        if sum(len(v) for v in values if isinstance(v, str)) > QUERY_TEXT_MAX:
            raise ma.ValidationError(
                f"the query's values are at most {QUERY_TEXT_MAX} characters in all"
            )


Str = ma.fields.String


class Int(ma.fields.Integer):
    """An integer, as the document says: marshmallow's own takes 3.8 as 3 and `true` as 1;
    this one refuses a number with a fraction and a boolean (3.0 is 3, as JSON Schema has it;
    a query's text is parsed as before)."""

    def _validated(self, value):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Bool(ma.fields.Boolean):
    """A boolean, as the document says: marshmallow's own takes 0 and 1 (and 0.0) as false
    and true; this one refuses a number (a query's text is parsed as before)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


def doc(text: str) -> dict:
    """Field keywords that put ``text`` in the OpenAPI document."""
    return {"metadata": {"description": text}}


class BoundedDict(ma.fields.Dict):
    """A mapping of at most ``entries`` keys (the document's maxProperties) and, when
    ``total`` is given, at most that many characters in all, keys and values counted."""

    def __init__(self, keys, values, *, entries: int, total: int | None = None, **kwargs):
        kwargs["metadata"] = {**kwargs.get("metadata", {}), "maxProperties": entries}
        super().__init__(keys=keys, values=values, **kwargs)
        self.entries, self.total = entries, total

    def _deserialize(self, value, attr, data, **kwargs):
        # counted before each entry is checked: a huge mapping is refused at once
        if isinstance(value, Mapping) and len(value) > self.entries:
            raise ma.ValidationError(f"at most {self.entries} entries")
        result = super()._deserialize(value, attr, data, **kwargs)
        if self.total is not None:
            size = sum(len(key) + 1 + len(item) for key, item in result.items())
            if size > self.total:
                raise ma.ValidationError(f"at most {self.total} characters in all")
        return result


def when(condition: dict, then: dict) -> dict:
    """A rule of ``document_rules``: what an object that fits ``condition`` must also fit."""
    return {"if": condition, "then": then}


def having(field: str, schema: dict | bool) -> dict:
    """A part of a rule: ``field``, when sent, fits ``schema`` (``False``: it is not sent).
    The rest of the object is the object's own (`unevaluatedProperties`), which a checker
    that closes every schema by default would otherwise refuse."""
    return {"properties": {field: schema}, "unevaluatedProperties": True}


def given(field: str, schema: dict | None = None) -> dict:
    """A part of a rule: ``field`` is sent (and fits ``schema``)."""
    return {"required": [field], **having(field, schema or {})}


def absent(field: str) -> dict:
    return having(field, False)


def most(count: int):
    """A list's validator: at most ``count`` items (the document's maxItems)."""
    return ma.validate.Length(max=count, error=f"at most {count} items")


# label keys as docker accepts them: reverse-DNS-ish, no spaces or control characters
LABEL_KEY = rf"[A-Za-z0-9][A-Za-z0-9._/-]{{0,{LABEL_KEY_MAX - 1}}}"


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
    return ma.fields.List(
        label_filter(), validate=most(FILTERS_MAX), load_default=list, **description
    )


def label_map(description: str, total: int | None = None):
    """Labels to set: keys as docker takes them, bounded values, at most LABELS_MAX."""
    return BoundedDict(
        Str(
            validate=[
                ma.validate.Length(max=LABEL_KEY_MAX),
                Pattern(rf"^{LABEL_KEY}$", error="not a label key"),
            ]
        ),
        Str(validate=ma.validate.Length(max=LABEL_VALUE_MAX)),
        entries=LABELS_MAX,
        total=total,
        load_default=dict,
        **doc(
            f"{description}; each key a letter or digit, then letters, digits and `._/-` "
            f"({LABEL_KEY_MAX} characters at most), each value {LABEL_VALUE_MAX} at most"
        ),
    )


# a point in time as the daemon takes it: unix time, a Go duration ago (short enough that go
# holds it), or an RFC 3339 date; the pattern admits only real dates and times of day
_DAY = (
    r"(\d{4}-(0[13578]|1[02])-(0[1-9]|[12]\d|3[01])"
    r"|\d{4}-(0[469]|11)-(0[1-9]|[12]\d|30)"
    r"|\d{4}-02-(0[1-9]|1\d|2[0-8])"
    r"|(\d\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)"
)
_HOUR = r"([01]\d|2[0-3])"
TIME_PATTERN = (
    r"^(\d{1,12}(\.\d{1,9})?|(\d{1,5}(\.\d{1,9})?(ns|us|ms|s|m|h)){1,6}"
    rf"|{_DAY}(T{_HOUR}:[0-5]\d(:[0-5]\d(\.\d{{1,9}})?)?(Z|[+-]{_HOUR}:[0-5]\d)?)?)$"
)
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d))?)?")
TIME_ERROR = (
    "a time is a unix time, a duration such as `24h`, or an RFC 3339 date (a real date and "
    "time of day)"
)


class TimeFilter(Pattern):
    """A point in time the daemon will parse: the pattern says it, and a date is parsed
    too, so that what reaches the daemon is a real date."""

    def __init__(self):
        super().__init__(TIME_PATTERN, error=TIME_ERROR)

    def __call__(self, value):
        super().__call__(value)
        found = _DATE.match(value)
        if found:
            year, *rest = (int(part or 0) for part in found.groups())
            try:
                # year 0 is a leap year, as 2000 is; python's calendar starts at 1
                datetime(year or 2000, *rest)
            except ValueError as exc:
                raise ma.ValidationError(f"{TIME_ERROR}: {exc}") from exc
        return value


time_filter = TimeFilter()


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def unix_time(value: str, now: float | None = None) -> str:
    """A time as the daemon's events take it (unix seconds with a fraction): a unix time as
    it is, a duration as that long ago, a date (UTC when it names no zone) as its instant."""
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    now = time.time() if now is None else now
    if _DURATION.match(value):
        ago = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(value))
        return f"{max(now - ago, 0):.9f}"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ma.ValidationError("not a date") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.timestamp():.9f}"


class DaemonTimes(Shared, ma.Schema):
    """A query's `since` and `until` as the daemon takes them safely: unix seconds with a
    fraction, worked out here (a duration ago, a date's instant), so that the daemon never
    parses a duration or a date of its own (what Go's parser refuses, or overflows on)."""

    @ma.post_load
    def _daemon_times(self, data, **kwargs):
        now = time.time()
        errors = {}
        for name in ("since", "until"):
            if data.get(name):
                try:
                    data[name] = unix_time(data[name], now)
                except ma.ValidationError as exc:
                    errors[name] = exc.messages
        if errors:
            raise ma.ValidationError(errors)
        return data


def until_filter(description: dict):
    """A time filter (`until`, `since`)."""
    return Str(validate=time_filter, **description)

"""What streams send: engine events and their filters, log lines, stats samples, progress of
long work, and the lines every stream shares (heartbeat, end, result, error).

Each is one JSON object whose `type` says what it is: an ndjson line, or the `data:` of an SSE
event named after that `type`. Every field is sent unless the schema says otherwise."""

import marshmallow as ma

from ..auth import ENGINE_NAME as ENGINE_NAME_PATTERN
from . import (
    FILTERS_MAX,
    DaemonTimes,
    Int,
    Pattern,
    QueryArgsSchema,
    Reply,
    Str,
    doc,
    label_filters,
    most,
)
from . import time_filter as time_pattern
from .containers import StatsSchema
from .fields import CONTAINER_REF
from .images import reference_field

ENGINE_NAME = ENGINE_NAME_PATTERN.pattern
ENGINE_OBJECTS = [
    "container",
    "image",
    "volume",
    "network",
    "daemon",
    "plugin",
    "service",
    "node",
    "secret",
    "config",
]


def _kind(*names: str, text: str):
    return Str(required=True, validate=ma.validate.OneOf(names), metadata={"description": text})


class EventsArgsSchema(DaemonTimes, QueryArgsSchema):
    type = ma.fields.List(
        Str(validate=ma.validate.OneOf(ENGINE_OBJECTS)),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("only events about this kind of object (repeatable)"),
    )
    action = ma.fields.List(
        Str(validate=Pattern(r"^[a-z_]{1,64}(: [^\n\r]{0,64})?$")),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("only this action, e.g. start, die, pull (repeatable)"),
    )
    label = label_filters(doc("only objects with this label (repeatable)"))
    container = ma.fields.List(
        Str(validate=Pattern(CONTAINER_REF)),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("only this container (repeatable)"),
    )
    image = ma.fields.List(
        Str(validate=reference_field),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc("only this image (repeatable)"),
    )
    since = Str(
        validate=time_pattern,
        **doc(
            "replay events from this time (a unix time, a duration ago such as `10m`, or a "
            "date, UTC unless it says otherwise); a `Last-Event-ID` header takes precedence"
        ),
    )
    until = Str(validate=time_pattern, **doc("end the stream at this time (same forms)"))
    engine = ma.fields.List(
        Str(validate=Pattern(rf"^(\*|{ENGINE_NAME})$")),
        validate=most(FILTERS_MAX),
        load_default=list,
        **doc(
            "follow this engine's events (repeatable; `*`: every engine the token may use), "
            "each event naming its engine; several engines are followed live only, without "
            "`since`, `until` or Last-Event-ID. Default: the engine of the path"
        ),
    )


class ResumeHeadersSchema(QueryArgsSchema):
    last_event_id = Str(
        data_key="Last-Event-ID",
        validate=Pattern(r"^[0-9]{1,20}$", error="an event id is its `time_nano`"),
        **doc(
            "resume after this event (its `time_nano`, the SSE `id:`): the events that came "
            "after it, whatever `since` says"
        ),
    )


class EngineEventSchema(Reply):
    type = _kind(*ENGINE_OBJECTS, text="kind of object; also the SSE event's name")
    action = Str(**doc("what happened: create, start, die, pull..."))
    actor_id = Str(**doc("id of the object"))
    attributes = ma.fields.Dict(Str(), Str(), **doc("name, image, labels... of the object"))
    scope = Str(allow_none=True, **doc("local or swarm"))
    time = Int(**doc("unix time"))
    time_nano = Int(**doc("unix time in nanoseconds; also the SSE event's `id:`"))
    engine = Str(**doc("the name of the engine it happened on (GET /engines)"))


class LogLineSchema(Reply):
    type = _kind("stdout", "stderr", text="the stream the line was written to")
    stream = _kind("stdout", "stderr", text="the same as `type`")
    line = Str(required=True, **doc("the line, without its newline"))
    time = Str(
        required=True,
        allow_none=True,
        **doc("when it was written (RFC 3339, nanoseconds); null unless `timestamps=true`"),
    )


class StatsEventSchema(StatsSchema):
    type = _kind("stats", text="a sample")


class HeartbeatEventSchema(Reply):
    type = _kind(
        "heartbeat", text="sent while the stream is quiet (in SSE, a `: heartbeat` comment)"
    )


class EndEventSchema(Reply):
    type = _kind("end", text="the stream ended normally: the last line of a live stream")


class ErrorEventSchema(Reply):
    type = _kind("error", text="a failure ended the stream: the last line")
    code = Int(required=True, **doc("the HTTP status the failure would have had"))
    status = Str(required=True, **doc("that status's name"))
    message = Str(required=True, **doc("what went wrong"))
    errors = ma.fields.Dict(required=True, **doc("details (a failing build step and its log)"))


class ResultEventSchema(Reply):
    type = _kind("result", text="the work is done: the last line")
    result = ma.fields.Dict(
        required=True, **doc("what the request would have answered as application/json")
    )


class ProgressEventSchema(Reply):
    sometimes_absent = ("id", "current", "total")
    type = _kind("progress", text="the daemon's progress")
    status = Str(required=True, **doc("what the daemon is doing, e.g. Downloading"))
    id = Str(**doc("the layer it concerns"))
    current = Int(**doc("bytes done"))
    total = Int(**doc("bytes in all"))


class OutputEventSchema(Reply):
    type = _kind("log", text="a line of output (a build step's, or what a load reports)")
    line = Str(required=True, **doc("the line"))


class BuiltEventSchema(Reply):
    type = _kind("built", text="the build made an image")
    id = Str(required=True, **doc("the image's id"))


class PushedEventSchema(Reply):
    type = _kind("pushed", text="the registry stored the manifest")
    tag = Str(allow_none=True, **doc("the tag pushed"))
    digest = Str(required=True, **doc("the digest the registry stored"))
    size = Int(allow_none=True, **doc("bytes of the manifest"))


# what each stream sends besides the lines every stream shares
PULL_EVENTS = (ProgressEventSchema,)
BUILD_EVENTS = (ProgressEventSchema, OutputEventSchema, BuiltEventSchema)
PUSH_EVENTS = (ProgressEventSchema, PushedEventSchema)
LOAD_EVENTS = (ProgressEventSchema, OutputEventSchema)

"""The course's answers: the course in order, one concept whole, the live state it shows."""

import marshmallow as ma

from ..concepts import LANGS, LIVE_KINDS, METHODS
from . import Bool, Int, QueryArgsSchema, Reply, Str, doc

LIVE_NAMES_MAX = 5
HEADER_MAX = 1024


def _lang():
    # not validated by the schema: an unknown language is a 422 whose message lists the
    # known ones, said by the view
    return Str(
        metadata={
            "description": "the language of the answer; without it, `Accept-Language` chooses, "
            "else French",
            "enum": list(LANGS),
        }
    )


class CourseArgsSchema(QueryArgsSchema):
    lang = _lang()


class ConceptArgsSchema(QueryArgsSchema):
    lang = _lang()
    live = Bool(
        load_default=False,
        **doc(
            "add `live`: this engine's own objects of the kind the concept is about (needs a "
            "token with the `read` scope)"
        ),
    )


class NegotiationHeadersSchema(QueryArgsSchema):
    # declared for the document, and bounded; the views read them as werkzeug parses them
    # (q-values, lists of tags)
    accept_language = Str(
        data_key="Accept-Language",
        validate=ma.validate.Length(max=HEADER_MAX),
        **doc("languages the reader prefers, with q-values (`en-GB` counts as `en`)"),
    )
    if_none_match = Str(
        data_key="If-None-Match",
        validate=ma.validate.Length(max=HEADER_MAX),
        **doc("the `ETag` of an answer already held: 304 with no body while it still holds"),
    )


class ConceptEntrySchema(Reply):
    id = Str(**doc("the concept's id, for `GET /concepts/{id}`"))
    title = Str(**doc("the concept's title, plain text"))
    summary = Str(**doc("one or two sentences, plain text"))
    diagram = Str(
        allow_none=True, **doc("absolute URL of the concept's diagram (SVG), null without one")
    )


class CourseSchema(Reply):
    lang = Str(**doc("the language of the texts: `fr` or `en`"))
    title = Str(**doc("the course's title"))
    summary = Str(**doc("what the course teaches, one paragraph"))
    concepts = ma.fields.List(
        ma.fields.Nested(ConceptEntrySchema), **doc("every concept, in course order")
    )


class ExampleCallSchema(Reply):
    method = Str(
        metadata={"description": "the HTTP method of the operation", "enum": list(METHODS)}
    )
    path = Str(**doc("the operation's path in this document, `{}` parameters kept"))
    params = ma.fields.Dict(
        Str(), Str(), **doc("the example's value of each `{}` parameter of the path")
    )
    query = ma.fields.Dict(
        Str(),
        ma.fields.Raw(
            metadata={
                "description": "a string, or a list of them for a repeated parameter",
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            }
        ),
        **doc("the example's query parameters"),
    )
    body = ma.fields.Dict(allow_none=True, **doc("the example's JSON body; null when none is sent"))


class ConceptCommandSchema(Reply):
    cli = Str(**doc("the docker command line, exactly as typed"))
    explanation = Str(**doc("what the command does"))
    api = ma.fields.Nested(ExampleCallSchema, **doc("the same through this service"))
    curl = Str(
        **doc(
            "the `api` call as a curl command line for a POSIX shell, against the host this "
            "answer was asked of; the token is read from `$DOCKYARD_TOKEN`"
        )
    )


class OperationSchema(Reply):
    method = Str(metadata={"description": "the HTTP method", "enum": list(METHODS)})
    path = Str(**doc("the operation's path in this document"))


class LiveStateSchema(Reply):
    kind = Str(
        metadata={"description": "the kind of engine object counted", "enum": list(LIVE_KINDS)}
    )
    count = Int(**doc("how many this engine has (containers: of any state)"))
    running = Int(allow_none=True, **doc("containers: how many run now; null for other kinds"))
    names = ma.fields.List(
        Str(),
        metadata={
            "description": f"names of a few of them (at most {LIVE_NAMES_MAX}); images by "
            "their first tag, or short id when untagged",
            "maxItems": LIVE_NAMES_MAX,
        },
    )


class ConceptSchema(Reply):
    id = Str(**doc("the concept's id"))
    lang = Str(**doc("the language of the texts: `fr` or `en`"))
    title = Str(**doc("the concept's title, plain text"))
    summary = Str(**doc("one or two sentences, plain text"))
    body = Str(**doc("the lesson, in Markdown (paragraphs, `##` subheadings, lists, code)"))
    key_points = ma.fields.List(Str(), **doc("3 to 7 short sentences to remember, plain text"))
    commands = ma.fields.List(
        ma.fields.Nested(ConceptCommandSchema), **doc("what a learner types, and the same here")
    )
    related = ma.fields.List(Str(), **doc("ids of related concepts"))
    endpoints = ma.fields.List(
        ma.fields.Nested(OperationSchema), **doc("the live endpoints of this service it is about")
    )
    diagram = Str(
        allow_none=True, **doc("absolute URL of the concept's diagram (SVG), null without one")
    )
    live = ma.fields.Nested(
        LiveStateSchema,
        allow_none=True,
        **doc(
            "with `live=true`, for a concept about images, containers, volumes or networks: "
            "this engine's own; null otherwise"
        ),
    )

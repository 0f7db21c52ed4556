"""/concepts: the Docker course, as JSON, wired to the live endpoints."""

import hashlib

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import abort

from .. import concepts as course_content
from ..concepts import DEFAULT_LANG, LANGS
from ..extensions import Blueprint, gateway
from ..guards import list_filters, mine
from ..schemas import ErrorSchema
from ..schemas import concepts as schemas
from ..streaming import binary_format, chosen_format

blp = Blueprint(
    "concepts",
    __name__,
    url_prefix="/concepts",
    description="The Docker course: concepts in course order, each with its commands and diagram",
)

ANSWER_HEADERS = {
    "ETag": {"description": "a hash of the answer's body", "schema": {"type": "string"}},
    "Content-Language": {"description": "the language of the texts", "schema": {"type": "string"}},
    "Vary": {
        "description": "`Accept-Language` (and `Accept`, for a diagram)",
        "schema": {"type": "string"},
    },
}
SVG = "image/svg+xml"


def course() -> course_content.Course:
    return current_app.extensions[course_content.EXTENSION]


def base_url() -> str:
    """The service's address as the request named it (the Host header is checked against
    the allowed hosts before any view runs)."""
    return request.url_root.rstrip("/")


def language(args) -> str:
    """`lang` when given, else the first known language of `Accept-Language` by q-value
    (`en-GB` counts as `en`), else French. Kept for the answer's Content-Language."""
    lang = args.get("lang")
    if lang is None:
        lang = negotiated()
    elif lang not in LANGS:
        known = ", ".join(LANGS)
        abort(
            422,
            message=f"unknown language `{lang[:40]}`: the course speaks {known}",
            errors={"query": {"lang": [f"one of {known}"]}},
        )
    g.concepts_lang = lang
    return lang


def negotiated() -> str:
    # werkzeug orders the ranges by q-value, the header's order breaking ties
    for value, quality in request.accept_languages:
        if quality <= 0:
            continue
        if value == "*":
            return DEFAULT_LANG
        primary = value.replace("_", "-").split("-")[0].lower()
        if primary in LANGS:
            return primary
    return DEFAULT_LANG


def concept_named(concept_id: str, lang: str) -> dict:
    found = course().concept(concept_id, lang)
    if found is None:
        abort(
            404,
            message=f"no concept `{concept_id[:100]}`; the concepts are: "
            + ", ".join(course().order),
        )
    return found


def one_concept(func):
    """Document the answers of an operation on one concept."""
    func = blp.alt_response(
        404, schema=ErrorSchema, description="no such concept; `message` lists the valid ids"
    )(func)
    return negotiated_answer(func)


def negotiated_answer(func):
    """Document what every answer of the course shares: 304 and 422."""
    func = blp.alt_response(
        304,
        description="the answer is the one `If-None-Match` names: no body",
        headers={"ETag": ANSWER_HEADERS["ETag"]},
    )(func)
    return blp.alt_response(
        422,
        schema=ErrorSchema,
        description="an unknown `lang` (the message lists the known ones), or an invalid parameter",
    )(func)


def diagram_url(concept: dict, base: str, lang: str) -> str | None:
    """Where the concept's diagram is drawn in ``lang``; French needs no parameter."""
    if not concept["diagram"]:
        return None
    url = f"{base}/concepts/{concept['id']}/diagram"
    return url if lang == DEFAULT_LANG else f"{url}?lang={lang}"


def course_answer(loaded: course_content.Course, lang: str, base: str) -> dict:
    return {
        "lang": lang,
        "title": loaded.title[lang],
        "summary": loaded.summary[lang],
        "concepts": [
            {
                "id": concept["id"],
                "title": concept["title"],
                "summary": concept["summary"],
                "diagram": diagram_url(concept, base, lang),
            }
            for concept in (loaded.concept(concept_id, lang) for concept_id in loaded.order)
        ],
    }


def concept_answer(concept: dict, lang: str, base: str, live: dict | None) -> dict:
    return {
        "id": concept["id"],
        "lang": lang,
        "title": concept["title"],
        "summary": concept["summary"],
        "body": concept["body"],
        "key_points": concept["key_points"],
        "commands": [
            {
                "cli": c["cli"],
                "explanation": c["explanation"],
                "api": c["api"],
                "curl": course_content.curl(c["api"], base, c["files"]),
            }
            for c in concept["commands"]
        ],
        "related": concept["related"],
        "endpoints": concept["endpoints"],
        "diagram": diagram_url(concept, base, lang),
        "live": live,
    }


@blp.after_request
def _cacheable(response):
    """Every answer: which language, that it varies with Accept-Language; a success also
    carries its ETag, and is a 304 when If-None-Match names it."""
    response.vary.add("Accept-Language")
    if chosen_format():
        # a diagram: its type follows Accept
        response.vary.add("Accept")
    lang = g.get("concepts_lang")
    if lang and response.status_code == 200:
        response.headers["Content-Language"] = lang
    if response.status_code == 200 and request.method in ("GET", "HEAD"):
        response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
        response.make_conditional(request)
    return response


def live_state(kind: str) -> dict:
    """This engine's own objects of ``kind``, counted, a few named: one list call. The
    course is public, its live state is not: it needs the `read` scope."""
    token = g.get("token")
    if token is None:
        abort(
            401,
            message="`live=true` shows this engine's objects: send a token with the `read` "
            "scope as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": 'Bearer realm="dockyard"'},
        )
    if "read" not in token.scopes:
        abort(
            403,
            message=f"rule `scope`: `live=true` needs the `read` scope; token `{token.name}` "
            f"has {', '.join(sorted(token.scopes)) or 'none'}",
        )
    running = None
    # a team's token: its team's objects only, as its lists show them
    if kind == "containers":
        found = mine(kind, gateway().list_containers(all=True, filters=list_filters(kind, {})))
        names = [c["name"] for c in found]
        running = sum(1 for c in found if c["state"] == "running")
    elif kind == "images":
        found = gateway().list_images()
        names = [(i["tags"] or [i["short_id"]])[0] for i in found]
    elif kind == "volumes":
        found = mine(kind, gateway().list_volumes(list_filters(kind, {})))
        names = [v["name"] for v in found]
    else:
        found = mine(kind, gateway().list_networks(filters=list_filters(kind, {})))
        names = [n["name"] for n in found]
    limit = schemas.LIVE_NAMES_MAX
    return {"kind": kind, "count": len(found), "running": running, "names": names[:limit]}


@blp.route("")
class Concepts(MethodView):
    @blp.arguments(schemas.CourseArgsSchema, location="query")
    @blp.arguments(schemas.NegotiationHeadersSchema, location="headers")
    @blp.response(
        200,
        schemas.CourseSchema,
        description="the course, in the chosen language",
        headers=ANSWER_HEADERS,
    )
    @negotiated_answer
    def get(self, args, headers):
        """The course: its title, summary and concepts in course order

        Open to anyone, with no token. Each concept comes with its `id` (for
        `GET /concepts/{id}`), `title`, `summary` and the URL of its diagram. French by
        default; `lang=en` or `Accept-Language` chooses English. The answer carries an
        `ETag`: a matching `If-None-Match` gets a 304.
        """
        lang = language(args)
        return course_answer(course(), lang, base_url())


@blp.route("/<id>")
class Concept(MethodView):
    @blp.arguments(schemas.ConceptArgsSchema, location="query")
    @blp.arguments(schemas.NegotiationHeadersSchema, location="headers")
    @blp.response(
        200,
        schemas.ConceptSchema,
        description="the concept, in the chosen language",
        headers=ANSWER_HEADERS,
    )
    @blp.alt_response(
        401,
        schema=ErrorSchema,
        description="`live=true` without a token, or any request with an unknown or expired one",
    )
    @blp.alt_response(
        403, schema=ErrorSchema, description="`live=true` with a token lacking the `read` scope"
    )
    @blp.daemon_call
    @one_concept
    def get(self, args, headers, id):
        """One concept whole: its lesson, key points, commands and links

        Open to anyone, with no token. `body` is Markdown; each command gives the docker
        command line, what it does, the same call to this service (`api`) and a ready `curl`
        line against the host asked (the token from `$DOCKYARD_TOKEN`). `endpoints` are the
        operations the concept is about, `related` other concept ids. `live=true` adds, for a
        concept about images, containers, volumes or networks, this engine's own (counts, a
        few names): that needs a token with the `read` scope.
        """
        lang = language(args)
        concept = concept_named(id, lang)
        live = live_state(concept["live"]) if args["live"] and concept["live"] else None
        return concept_answer(concept, lang, base_url(), live)


@blp.route("/<id>/diagram")
class Diagram(MethodView):
    @blp.arguments(schemas.CourseArgsSchema, location="query")
    @blp.arguments(schemas.NegotiationHeadersSchema, location="headers")
    @blp.response(
        200,
        {"type": "string", "description": "an SVG document"},
        content_type=SVG,
        description="the diagram, drawn in the chosen language",
        headers=ANSWER_HEADERS,
    )
    @one_concept
    @blp.file_answer
    def get(self, args, headers, id):
        """A concept's diagram, as SVG

        Open to anyone, with no token. Boxes and arrows with their labels as text in the
        chosen language (`lang`, else `Accept-Language`, else French), with a `<title>` and a
        `<desc>` for screen readers. The SVG fetches nothing: no font, script or image. 404
        when the concept has no diagram.
        """
        kind = binary_format(SVG)
        lang = language(args)
        concept = concept_named(id, lang)
        if not concept["diagram"]:
            with_one = [c["id"] for c in course().concepts[lang].values() if c["diagram"]]
            abort(
                404,
                message=f"the concept `{id}` has no diagram; these have one: {', '.join(with_one)}",
            )
        svg = course().svgs[concept["diagram"]][lang]
        return Response(
            svg,
            mimetype=kind,
            # opened on its own, the drawing may load and run nothing
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

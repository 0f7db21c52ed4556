"""The course "Découvrir Docker": its content files (content/FORMAT.md) loaded and checked
once, when the app is made, and turned into answers at serve time.

A file that breaks a rule stops the start-up with a ContentError naming the file and the
field, never a request. Each command's `curl` line is made here from its `api` call, so
that it always matches the document.
"""

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import marshmallow as ma
import yaml

from . import diagrams

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"
ROOT = Path(__file__).resolve().parent / "content"
ID = re.compile(r"[a-z0-9-]+")
METHODS = ("GET", "POST", "PUT", "DELETE")
LIVE_KINDS = ("images", "containers", "volumes", "networks")
CONCEPT_KEYS = tuple(
    "id title summary body key_points commands related endpoints diagram live".split()
)
COURSE_KEYS = ("title", "summary", "concepts")
# the same in both languages (for commands: all but each `explanation`)
SHARED = ("related", "endpoints", "diagram", "live")
KEY_POINTS = (3, 7)
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
JSON = "application/json"
ARCHIVES = ("application/x-tar", "application/gzip")
EXTENSION = "course"


class ContentError(ValueError):
    """A content file that breaks a rule of content/FORMAT.md."""


@dataclass
class Course:
    """The whole course, checked: per language its title, summary and concepts, in course
    order; the diagrams drawn in each language."""

    order: list[str]
    title: dict[str, str]
    summary: dict[str, str]
    concepts: dict[str, dict[str, dict]]  # lang -> id -> concept
    svgs: dict[str, dict[str, str]] = field(default_factory=dict)  # diagram -> lang -> svg

    def concept(self, concept_id: str, lang: str) -> dict | None:
        return self.concepts[lang].get(concept_id)


# the course last loaded from each folder, with what it was loaded from: the stamps of its
# files and the operations it was checked against. The apps of one process (a worker's one,
# a test run's many) read and check the same files once; the course is never changed after.
_loaded: dict[str, tuple[tuple, Course]] = {}


def init_app(app, api, root=None) -> None:
    """Load the course from ``root`` (the package's content by default), checked against
    the app's operations, and keep it with the app."""
    root = Path(root or ROOT)
    known = operations(api)
    files = sorted((str(path), path.stat()) for path in root.rglob("*"))
    stamps = tuple((path, stat.st_mtime_ns, stat.st_size) for path, stat in files)
    made_of = (stamps, tuple(sorted((key, tuple(v.items())) for key, v in known.items())))
    kept = _loaded.get(str(root))
    if kept is None or kept[0] != made_of:
        kept = _loaded[str(root)] = (made_of, load(root, known))
    app.extensions[EXTENSION] = kept[1]


def operations(api) -> dict[tuple[str, str], dict]:
    """Every (METHOD, path) of the app's OpenAPI document, paths as `/containers/{id}`,
    with the archive type its body (`sends`) and its answer (`saves`) come in first, if any."""
    found = {}
    for path, methods in api.spec.to_dict()["paths"].items():
        for method, operation in methods.items():
            if method == "parameters":
                continue
            body = operation.get("requestBody", {}).get("content", {})
            responses = operation.get("responses", {})
            answer = (responses.get("200") or responses.get(200) or {}).get("content", {})
            found[(method.upper(), path)] = {
                # a body that may be JSON is sent as JSON, from `body`
                "sends": None if JSON in body else next((t for t in body if t in ARCHIVES), None),
                "saves": next((t for t in answer if t in ARCHIVES), None),
            }
    return found


def load(root, known: dict[tuple[str, str], dict]) -> Course:
    """The course under ``root``, every rule of FORMAT.md checked; ``known`` holds the
    operations the commands and endpoints may name."""
    root = Path(root)
    courses = {lang: _course(_read(root / f"course.{lang}.yaml"), root, lang) for lang in LANGS}
    first, *others = LANGS
    order = courses[first]["concepts"]
    for lang in others:
        if courses[lang]["concepts"] != order:
            raise ContentError(
                f"{root / f'course.{lang}.yaml'}: `concepts` must list the same ids in the same "
                f"order as course.{first}.yaml"
            )
    _stray_files(root, order)
    # every diagram file is checked and drawn, whether a concept shows it yet or not
    svgs = {}
    for path in sorted((root / "diagrams").glob("*.yaml")):
        name = path.name.removesuffix(".yaml")
        try:
            diagram = diagrams.check(_read(path), str(path), LANGS)
        except diagrams.DiagramError as exc:
            raise ContentError(str(exc)) from exc
        svgs[name] = {lang: diagrams.render(diagram, lang, name) for lang in LANGS}
    available = set(svgs)
    concepts = {lang: {} for lang in LANGS}
    for concept_id in order:
        for lang in LANGS:
            path = root / "concepts" / f"{concept_id}.{lang}.yaml"
            concepts[lang][concept_id] = _concept(
                _read(path), path, concept_id, set(order), available, known
            )
        _same_across(concepts, concept_id, root)
    return Course(
        order=order,
        title={lang: courses[lang]["title"] for lang in LANGS},
        summary={lang: courses[lang]["summary"] for lang in LANGS},
        concepts=concepts,
        svgs=svgs,
    )


def _read(path: Path):
    if not path.is_file():
        raise ContentError(f"{path}: the file is missing")
    try:
        with open(path, encoding="utf-8") as file:
            return yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: not valid YAML: {exc}") from exc


def _fail(path, field_name, problem):
    raise ContentError(f"{path}: `{field_name}` {problem}")


def _checked(schema: ma.Schema, data, path):
    """``data`` loaded by ``schema``; its errors, each named by where it is in the file
    (`commands[0].api.path`), stop the start-up."""
    try:
        return schema.load(data)
    except ma.ValidationError as error:
        found = sorted(_flat(error.messages), key=lambda item: item[0])
        raise ContentError(
            "; ".join(f"{path}: `{where}` {problem}" for where, problem in found)
        ) from error


def _flat(messages, where=""):
    """marshmallow's nested errors as (`a[0].b`, problem) pairs."""
    if isinstance(messages, list):
        for message in messages:
            yield where or "(file)", message
        return
    for key, inner in messages.items():
        if key == "_schema":
            step = where
        elif isinstance(key, int):
            step = f"{where}[{key}]"
        else:
            step = f"{where}.{key}" if where else str(key)
        yield from _flat(inner, step)


# what a field says when it is missing, of the wrong kind, or not a field
MISSING = {"required": "is missing", "null": "is missing"}
TEXT = {**MISSING, "invalid": "must be non-empty text"}
_NON_BLANK = ma.validate.Regexp(r"(?s).*\S", error="must be non-empty text")
_ONE_LINE = ma.validate.Regexp(r"(?s)\s*[^\n]*?\s*$", error="must be one line of plain text")


def _text(one_line=False):
    checks = [_NON_BLANK, _ONE_LINE] if one_line else [_NON_BLANK]
    return ma.fields.String(required=True, validate=checks, error_messages=TEXT)


def _list(inner, problem, **kwargs):
    return ma.fields.List(
        inner, required=True, error_messages={**MISSING, "invalid": problem}, **kwargs
    )


class _File(ma.Schema):
    """A content file: every field named, no other."""

    class Meta:
        ordered = True

    def handle_error(self, error, data, **kwargs):
        fields = ", ".join(self.fields)
        for name, problem in error.messages.items():
            if problem == ["Unknown field."]:
                error.messages[name] = [f"is not a field here (fields: {fields})"]
            elif problem == ["Invalid input type."]:
                error.messages[name] = [f"must be a mapping of {fields}"]
        raise error


class _Course(_File):
    title = _text(one_line=True)
    summary = _text()
    concepts = _list(
        ma.fields.String(
            validate=ma.validate.Regexp(
                r"[a-z0-9-]+\Z", error="{input!r} is not an id ([a-z0-9-]+)"
            ),
            error_messages={"invalid": "is not an id ([a-z0-9-]+)"},
        ),
        "must be a non-empty list of concept ids",
        validate=ma.validate.Length(min=1, error="must be a non-empty list of concept ids"),
    )

    @ma.validates("concepts")
    def _once_each(self, ids, **kwargs):
        for index, concept_id in enumerate(ids):
            if concept_id in ids[:index]:
                raise ma.ValidationError({index: [f"repeats `{concept_id}`"]})

    @ma.post_load
    def _stripped(self, data, **kwargs):
        return {**data, "title": data["title"].strip(), "summary": data["summary"].strip()}


def _course(data, root, lang) -> dict:
    return _checked(_Course(), data, root / f"course.{lang}.yaml")


class _Endpoint(_File):
    """A {method, path} of the document."""

    method = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(METHODS, error=f"must be one of {', '.join(METHODS)}"),
        error_messages={**MISSING, "invalid": f"must be one of {', '.join(METHODS)}"},
    )
    path = ma.fields.String(required=True, error_messages={**MISSING, "invalid": "must be a path"})

    def __init__(self, known, **kwargs):
        super().__init__(**kwargs)
        self.known = known

    @ma.validates_schema(skip_on_field_errors=True)
    def _in_the_document(self, data, **kwargs):
        if (data["method"], data["path"]) not in self.known:
            problem = f"{data['method']} {data['path']} is not an operation of the OpenAPI document"
            raise ma.ValidationError(problem, "path")


class _Call(_Endpoint):
    """A command's `api`: also its example's `params` (filling every `{}` of the path),
    `query` (strings, or lists of strings) and `body` (JSON, or null). The three may be left
    out: none, none, null."""

    params = ma.fields.Dict(
        keys=ma.fields.String(),
        allow_none=True,
        load_default=None,
        error_messages={"invalid": "must map each `{}` of the path to its value"},
    )
    query = ma.fields.Dict(
        keys=ma.fields.String(),
        allow_none=True,
        load_default=None,
        error_messages={"invalid": "must map query parameters to their values"},
    )
    body = ma.fields.Raw(allow_none=True, load_default=None)

    @ma.validates_schema(skip_on_field_errors=True)
    def _example(self, data, **kwargs):
        names = PLACEHOLDER.findall(data["path"])
        params, query, body = data["params"] or {}, data["query"] or {}, data["body"]
        errors = {}
        for name in names:
            if not _scalar(params.get(name)):
                problem = f"must give a value to `{{{name}}}` of {data['path']}"
                errors.setdefault("params", {})[name] = [problem]
        for name in sorted(set(params) - set(names)):
            errors.setdefault("params", {})[name] = [f"is no parameter of {data['path']}"]
        for name, item in query.items():
            items = item if isinstance(item, list) else [item]
            if not items or not all(isinstance(i, str) for i in items):
                problem = 'must be a string (quoted: "true"), or a list of them'
                errors.setdefault("query", {})[name] = [problem]
        try:
            json.dumps(body, allow_nan=False)
        except (TypeError, ValueError) as exc:
            errors["body"] = [f"must be JSON (or null): {exc}"]
        if body is not None and data["method"] in ("GET", "DELETE"):
            errors["body"] = [f"must be null: a {data['method']} sends no body"]
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def _filled(self, data, **kwargs):
        params, query = data["params"] or {}, data["query"] or {}
        return {
            **data,
            "params": {name: str(params[name]) for name in PLACEHOLDER.findall(data["path"])},
            "query": {name: list(v) if isinstance(v, list) else v for name, v in query.items()},
        }


class _Command(_File):
    cli = _text()
    explanation = _text()
    api = ma.fields.Raw(required=True, error_messages=MISSING)

    def __init__(self, known, **kwargs):
        super().__init__(**kwargs)
        self.api_schema = _Call(known)
        self.known = known

    @ma.validates("api")
    def _api(self, value, **kwargs):
        if not isinstance(value, Mapping):
            raise ma.ValidationError(f"must be a mapping of {', '.join(self.api_schema.fields)}")
        self.api_schema.load(value)  # its errors, under `api`

    @ma.post_load
    def _with_files(self, data, **kwargs):
        api = self.api_schema.load(data["api"])
        cli = data["cli"].strip()
        media = self.known[(api["method"], api["path"])]
        return {
            "cli": cli,
            "explanation": data["explanation"].strip(),
            "api": api,
            "files": _files(cli, api, media),
        }


LIVE_PROBLEM = f"must be one of {', '.join(LIVE_KINDS)}, or null"


class _Concept(_File):
    id = ma.fields.String(required=True, error_messages=TEXT)
    title = _text(one_line=True)
    summary = _text()
    body = _text()
    key_points = _list(
        ma.fields.String(validate=_NON_BLANK, error_messages=TEXT),
        f"must be a list of {KEY_POINTS[0]} to {KEY_POINTS[1]} short sentences",
        validate=ma.validate.Length(
            *KEY_POINTS,
            error=f"must be a list of {KEY_POINTS[0]} to {KEY_POINTS[1]} short sentences",
        ),
    )
    commands = ma.fields.Raw(required=True, error_messages=MISSING)
    related = _list(ma.fields.Raw(), "must be a list of concept ids")
    endpoints = ma.fields.Raw(required=True, error_messages=MISSING)
    diagram = ma.fields.Raw(required=True, allow_none=True, error_messages=MISSING)
    live = ma.fields.String(
        required=True,
        allow_none=True,
        validate=ma.validate.OneOf(LIVE_KINDS, error=LIVE_PROBLEM),
        error_messages={"required": "is missing", "invalid": LIVE_PROBLEM},
    )

    def __init__(self, concept_id, ids, available, known, **kwargs):
        super().__init__(**kwargs)
        self.concept_id, self.ids, self.available = concept_id, ids, available
        # the lists of mappings, each item checked where it is
        self.commands_field = ma.fields.List(
            ma.fields.Nested(_Command(known)),
            error_messages={"invalid": "must be a list (empty if there is none)"},
        )
        self.endpoints_field = ma.fields.List(
            ma.fields.Nested(_Endpoint(known)),
            error_messages={"invalid": "must be a list of {method, path}"},
        )

    @ma.validates("id")
    def _the_files_name(self, value, **kwargs):
        if value != self.concept_id:
            raise ma.ValidationError(f"is {value!r}, not the file's name `{self.concept_id}`")
        if not ID.fullmatch(value):
            raise ma.ValidationError("must be lowercase letters, digits and `-`")

    @ma.validates("related")
    def _other_concepts(self, related, **kwargs):
        ids = ", ".join(sorted(self.ids))
        for index, other in enumerate(related):
            if other not in self.ids or other == self.concept_id:
                problem = f"{other!r} is not another concept of the course ({ids})"
                raise ma.ValidationError({index: [problem]})

    @ma.validates("diagram")
    def _drawn(self, diagram, **kwargs):
        if diagram is not None and diagram not in self.available:
            there = sorted(self.available)
            raise ma.ValidationError(f"names no diagrams/{diagram}.yaml (there are: {there})")

    @ma.validates("commands")
    def _commands(self, value, **kwargs):
        self.commands_field.deserialize(value)

    @ma.validates("endpoints")
    def _endpoints(self, value, **kwargs):
        self.endpoints_field.deserialize(value)

    @ma.post_load
    def _answer(self, data, **kwargs):
        return {
            "id": self.concept_id,
            "title": data["title"].strip(),
            "summary": data["summary"].strip(),
            "body": data["body"],
            "key_points": [point.strip() for point in data["key_points"]],
            "commands": self.commands_field.deserialize(data["commands"]),
            "related": list(data["related"]),
            "endpoints": self.endpoints_field.deserialize(data["endpoints"]),
            "diagram": data["diagram"],
            "live": data["live"],
        }


def _concept(data, path, concept_id, ids, available, known) -> dict:
    return _checked(_Concept(concept_id, ids, available, known), data, path)


def _stray_files(root: Path, order: list[str]) -> None:
    """Every file of concepts/ is `<id>.<lang>.yaml` of a concept the course lists."""
    folder = root / "concepts"
    if not folder.is_dir():
        raise ContentError(f"{folder}: the folder of the concept files is missing")
    for path in sorted(folder.iterdir()):
        concept_id, _, lang = path.name.removesuffix(".yaml").rpartition(".")
        if not path.name.endswith(".yaml") or lang not in LANGS:
            raise ContentError(
                f"{path}: a concept file is named `<id>.<lang>.yaml` with lang one of "
                f"{', '.join(LANGS)}"
            )
        if concept_id not in order:
            raise ContentError(
                f"{path}: the concept `{concept_id}` is not in the `concepts` of course.*.yaml"
            )


def _files(cli: str, api: dict, media: dict) -> list[str]:
    """The curl words that send or save an archive, so that its line runs as it is: the
    archive its docker command names (`-i`, `-o`), else for a download the name the service
    gives (`-OJ`), for an upload the name it would have given a download of the same
    object (`web-data.tar.gz` for the volume `web-data`)."""
    try:
        words = shlex.split(cli)
    except ValueError:
        words = cli.split()
    words = [word for arg in words for word in arg.split("=", 1)]
    # an archive's name after the option; `docker run -i` is no input file
    named = {
        option: words[index + 1]
        for index, option in enumerate(words[:-1])
        if option in ("-i", "--input", "-o", "--output")
        and words[index + 1].endswith((".tar", ".tar.gz", ".tgz"))
    }
    files = []
    if media["sends"]:
        fallback = next(iter(api["params"].values()), "archive")
        suffix = ".tar.gz" if media["sends"] == "application/gzip" else ".tar"
        fallback = (re.sub(r"[^A-Za-z0-9._-]+", "_", fallback).strip("_") or "archive") + suffix
        name = named.get("-i") or named.get("--input") or fallback
        files += ["-H", f"Content-Type: {media['sends']}", "--data-binary", f"@{name}"]
    if media["saves"]:
        name = named.get("-o") or named.get("--output")
        files += ["-o", name] if name else ["-OJ"]
    return files


def _scalar(value) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _same_across(concepts, concept_id, root) -> None:
    first, *others = LANGS
    reference = concepts[first][concept_id]
    for lang in others:
        concept = concepts[lang][concept_id]
        path = root / "concepts" / f"{concept_id}.{lang}.yaml"
        for name in SHARED:
            if concept[name] != reference[name]:
                _fail(path, name, f"must be the same as in {concept_id}.{first}.yaml")
        mine, theirs = concept["commands"], reference["commands"]
        if len(mine) != len(theirs):
            _fail(path, "commands", f"must be as many as in {concept_id}.{first}.yaml")
        for index, (one, other) in enumerate(zip(mine, theirs, strict=True)):
            for name in ("cli", "api"):
                if one[name] != other[name]:
                    _fail(
                        path,
                        f"commands[{index}].{name}",
                        f"must be the same as in {concept_id}.{first}.yaml",
                    )


# -- answers, made at serve time: URLs name the host the request came to ----------------------


def url_of(api: dict, base: str) -> str:
    """The example's URL: the path's parameters filled (an image reference keeps its
    slashes: its route takes them), its query appended."""
    path = PLACEHOLDER.sub(
        lambda found: quote(api["params"][found.group(1)], safe="/:@"), api["path"]
    )
    query = urlencode(api["query"], doseq=True)
    return base + path + (f"?{query}" if query else "")


def curl(api: dict, base: str, files=()) -> str:
    """The command a learner runs: the token from $DOCKYARD_TOKEN (left for the shell to
    expand), everything else quoted for a POSIX shell; ``files``: the words that send or
    save an archive."""
    words = ["curl", "-s", '-H "Authorization: Bearer $DOCKYARD_TOKEN"']
    if api["method"] != "GET":
        words += ["-X", api["method"]]
    words.append(shlex.quote(url_of(api, base)))
    if api["body"] is not None:
        body = json.dumps(api["body"], ensure_ascii=False)
        words += ["-H", shlex.quote(f"Content-Type: {JSON}"), "-d", shlex.quote(body)]
    words += [shlex.quote(word) for word in files]
    return " ".join(words)

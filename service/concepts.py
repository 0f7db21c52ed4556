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


def init_app(app, api, root=None) -> None:
    """Load the course from ``root`` (the package's content by default), checked against
    the app's operations, and keep it with the app."""
    app.extensions[EXTENSION] = load(root or ROOT, operations(api))


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


def _fields(data, path, keys) -> None:
    if not isinstance(data, Mapping):
        _fail(path, "(file)", f"must be a mapping of {', '.join(keys)}")
    missing = [key for key in keys if key not in data]
    if missing:
        _fail(path, missing[0], "is missing")
    unknown = sorted(str(key) for key in data if key not in keys)
    if unknown:
        _fail(path, unknown[0], f"is not a field of this file (fields: {', '.join(keys)})")


def _text(data, path, name, one_line=False) -> str:
    value = data[name]
    if not isinstance(value, str) or not value.strip():
        _fail(path, name, "must be non-empty text")
    if one_line and "\n" in value.strip():
        _fail(path, name, "must be one line of plain text")
    return value.strip() if one_line else value


def _course(data, root, lang) -> dict:
    path = root / f"course.{lang}.yaml"
    _fields(data, path, COURSE_KEYS)
    ids = data["concepts"]
    if not isinstance(ids, list) or not ids:
        _fail(path, "concepts", "must be a non-empty list of concept ids")
    for index, concept_id in enumerate(ids):
        if not isinstance(concept_id, str) or not ID.fullmatch(concept_id):
            _fail(path, f"concepts[{index}]", f"{concept_id!r} is not an id ([a-z0-9-]+)")
        if concept_id in ids[:index]:
            _fail(path, f"concepts[{index}]", f"repeats `{concept_id}`")
    return {
        "title": _text(data, path, "title", one_line=True),
        "summary": _text(data, path, "summary").strip(),
        "concepts": list(ids),
    }


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


def _concept(data, path, concept_id, ids, available, known) -> dict:
    _fields(data, path, CONCEPT_KEYS)
    if data["id"] != concept_id:
        _fail(path, "id", f"is {data['id']!r}, not the file's name `{concept_id}`")
    if not ID.fullmatch(concept_id):
        _fail(path, "id", "must be lowercase letters, digits and `-`")
    points = data["key_points"]
    low, high = KEY_POINTS
    if not isinstance(points, list) or not low <= len(points) <= high:
        _fail(path, "key_points", f"must be a list of {low} to {high} short sentences")
    for index, point in enumerate(points):
        if not isinstance(point, str) or not point.strip():
            _fail(path, f"key_points[{index}]", "must be non-empty text")
    commands = data["commands"]
    if not isinstance(commands, list):
        _fail(path, "commands", "must be a list (empty if there is none)")
    related = data["related"]
    if not isinstance(related, list):
        _fail(path, "related", "must be a list of concept ids")
    for index, other in enumerate(related):
        if other not in ids or other == concept_id:
            _fail(
                path,
                f"related[{index}]",
                f"{other!r} is not another concept of the course ({', '.join(sorted(ids))})",
            )
    endpoints = data["endpoints"]
    if not isinstance(endpoints, list):
        _fail(path, "endpoints", "must be a list of {method, path}")
    diagram = data["diagram"]
    if diagram is not None and diagram not in available:
        _fail(path, "diagram", f"names no diagrams/{diagram}.yaml (there are: {sorted(available)})")
    if data["live"] is not None and data["live"] not in LIVE_KINDS:
        _fail(path, "live", f"must be one of {', '.join(LIVE_KINDS)}, or null")
    return {
        "id": concept_id,
        "title": _text(data, path, "title", one_line=True),
        "summary": _text(data, path, "summary").strip(),
        "body": _text(data, path, "body"),
        "key_points": [point.strip() for point in points],
        "commands": [
            _command(command, path, f"commands[{i}]", known) for i, command in enumerate(commands)
        ],
        "related": list(related),
        "endpoints": [
            _operation(endpoint, path, f"endpoints[{i}]", known, ("method", "path"))
            for i, endpoint in enumerate(endpoints)
        ],
        "diagram": diagram,
        "live": data["live"],
    }


def _command(command, path, at, known) -> dict:
    if not isinstance(command, Mapping):
        _fail(path, at, "must be a mapping of cli, explanation, api")
    for name in ("cli", "explanation", "api"):
        if name not in command:
            _fail(path, f"{at}.{name}", "is missing")
    unknown = sorted(str(key) for key in set(command) - {"cli", "explanation", "api"})
    if unknown:
        _fail(path, f"{at}.{unknown[0]}", "is not a field of a command")
    for name in ("cli", "explanation"):
        if not isinstance(command[name], str) or not command[name].strip():
            _fail(path, f"{at}.{name}", "must be non-empty text")
    api = _operation(
        command["api"], path, f"{at}.api", known, ("method", "path", "params", "query", "body")
    )
    cli = command["cli"].strip()
    return {
        "cli": cli,
        "explanation": command["explanation"].strip(),
        "api": api,
        "files": _files(cli, api, known[(api["method"], api["path"])]),
    }


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


def _operation(value, path, at, known, keys) -> dict:
    """A {method, path} of the document; for a command's `api`, also its example's
    `params` (filling every `{}` of the path), `query` (strings, or lists of strings) and
    `body` (JSON, or null). The three may be left out: none, none, null."""
    if not isinstance(value, Mapping):
        _fail(path, at, f"must be a mapping of {', '.join(keys)}")
    unknown = sorted(str(key) for key in set(value) - set(keys))
    if unknown:
        _fail(path, f"{at}.{unknown[0]}", f"is not a field here (fields: {', '.join(keys)})")
    method, where = value.get("method"), value.get("path")
    if method not in METHODS:
        _fail(path, f"{at}.method", f"must be one of {', '.join(METHODS)}, not {method!r}")
    if not isinstance(where, str) or (method, where) not in known:
        _fail(path, f"{at}.path", f"{method} {where} is not an operation of the OpenAPI document")
    result = {"method": method, "path": where}
    if "params" not in keys:
        return result
    params = value.get("params") or {}
    query = value.get("query") or {}
    if not isinstance(params, Mapping):
        _fail(path, f"{at}.params", "must map each `{}` of the path to its value")
    names = PLACEHOLDER.findall(where)
    for name in names:
        if not _scalar(params.get(name)):
            _fail(path, f"{at}.params.{name}", f"must give a value to `{{{name}}}` of {where}")
    extra = sorted(str(name) for name in set(params) - set(names))
    if extra:
        _fail(path, f"{at}.params.{extra[0]}", f"is no parameter of {where}")
    if not isinstance(query, Mapping):
        _fail(path, f"{at}.query", "must map query parameters to their values")
    for name, item in query.items():
        items = item if isinstance(item, list) else [item]
        if not isinstance(name, str) or not items or not all(isinstance(i, str) for i in items):
            _fail(
                path, f"{at}.query.{name}", 'must be a string (quoted: "true"), or a list of them'
            )
    body = value.get("body")
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as exc:
        _fail(path, f"{at}.body", f"must be JSON (or null): {exc}")
    if body is not None and method in ("GET", "DELETE"):
        _fail(path, f"{at}.body", f"must be null: a {method} sends no body")
    result.update(
        params={name: str(params[name]) for name in names},
        query={name: list(v) if isinstance(v, list) else v for name, v in query.items()},
        body=body,
    )
    return result


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

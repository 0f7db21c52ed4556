"""Every JSON answer the suite receives through a test client is checked against the served
document: the operation's schema for that status (or `default`), every required field sent,
no field the document does not declare, types and nulls as declared.

Streams and archives (ndjson, SSE, text, tar) are not JSON answers and are left aside. The
mismatches are gathered and fail the session at its end, with the operations seen.
"""

import copy
import json
import os
import weakref
from collections import Counter

import jsonschema_rs
import pytest
from flask.testing import FlaskClient
from flask_smorest.spec.plugins import FlaskPlugin
from werkzeug.exceptions import HTTPException

SEEN: Counter = Counter()
FAILURES: list[str] = []
DOCUMENTED: set[str] = set()
_CHECKERS = weakref.WeakKeyDictionary()
_BY_DOCUMENT: dict[str, "Checker"] = {}


def strict(schema, components=True):
    """An OpenAPI 3.1 schema as JSON Schema to check answers with: references into
    `definitions`, and objects with declared properties closed to any other."""
    if isinstance(schema, list):
        return [strict(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            result[key] = value.replace("#/components/schemas/", "#/definitions/")
        elif key in ("properties", "definitions") and isinstance(value, dict):
            result[key] = {name: strict(item, components) for name, item in value.items()}
        elif key == "example":
            continue
        else:
            result[key] = strict(value, components)
    # (an object's own schema: not a rule's `if` or `then`, which names a few of its fields)
    if result.get("type") == "object" and "properties" in result:
        result.setdefault("additionalProperties", False)
    return result


class Checker:
    def __init__(self, document: dict):
        self.document = document
        self.definitions = {
            name: strict(schema)
            for name, schema in document.get("components", {}).get("schemas", {}).items()
        }
        self._validators = {}
        for path, operations in document.get("paths", {}).items():
            for method in operations:
                if method != "parameters":
                    DOCUMENTED.add(f"{method.upper()} {path}")

    def validator(self, key, schema):
        if key not in self._validators:
            root = {**strict(copy.deepcopy(schema)), "definitions": self.definitions}
            self._validators[key] = jsonschema_rs.Draft202012Validator(root)
        return self._validators[key]

    def response(self, operation: dict, status: int):
        responses = operation.get("responses", {})
        found = responses.get(str(status)) or responses.get("default")
        if found and "$ref" in found:
            name = found["$ref"].rsplit("/", 1)[-1]
            found = self.document["components"]["responses"][name]
        return found

    def check(self, app, response) -> None:
        request = response.request
        if request.method in ("HEAD", "OPTIONS") or response.mimetype != "application/json":
            return
        body = response.get_data()
        if not body:
            return
        try:
            rule, _ = app.url_map.bind("localhost").match(
                request.path, method=request.method, return_rule=True
            )
        except HTTPException:
            rule = None
        path = FlaskPlugin.flaskpath2openapi(rule.rule) if rule else None
        operation = self.document.get("paths", {}).get(path, {}).get(request.method.lower())
        if operation is None:
            # no operation: a 404 or 405 of the routing, still in the one error shape
            if response.status_code < 400:
                return
            where, schema = f"{request.method} {request.path}", {"$ref": "#/definitions/Error"}
            key = ("error",)
        else:
            where = f"{request.method} {path}"
            SEEN[f"{where} {response.status_code}"] += 1
            declared = self.response(operation, response.status_code)
            if declared is None:
                fail(f"{where}: status {response.status_code} is not documented")
                return
            content = declared.get("content", {}).get("application/json")
            if content is None:
                fail(f"{where}: {response.status_code} sends JSON, the document declares none")
                return
            schema, key = content["schema"], (path, request.method, response.status_code)
        try:
            data = json.loads(body)
        except ValueError:
            fail(f"{where}: {response.status_code} is not valid JSON")
            return
        errors = [
            f"{'/'.join(map(str, error.instance_path)) or '(root)'}: {error.message}"
            for error in self.validator(key, schema).iter_errors(data)
        ]
        if errors:
            fail(f"{where} {response.status_code}: " + "; ".join(errors[:10]))


def fail(message: str) -> None:
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
    FAILURES.append(f"{message} (in {test})")


def checker_for(app) -> Checker:
    if app not in _CHECKERS:
        api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
        # the document as /openapi.json serves it
        text = json.dumps(api.spec.to_dict(), sort_keys=True, default=str)
        if text not in _BY_DOCUMENT:
            _BY_DOCUMENT[text] = Checker(json.loads(text))
        _CHECKERS[app] = _BY_DOCUMENT[text]
    return _CHECKERS[app]


class CheckingClient(FlaskClient):
    """A test client that checks every answer against the document as it arrives."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        checker_for(self.application).check(self.application, response)
        return response


def pytest_sessionfinish(session, exitstatus):
    if FAILURES and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if not SEEN and not FAILURES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("contract: JSON answers checked against /openapi.json")
    operations = sorted({seen.rsplit(" ", 1)[0] for seen in SEEN})
    write(f"{sum(SEEN.values())} answers, {len(operations)} of {len(DOCUMENTED)} operations:")
    for seen in sorted(SEEN):
        write(f"  {seen} x{SEEN[seen]}")
    unseen = sorted(DOCUMENTED - set(operations))
    if unseen:
        write(f"operations with no JSON answer checked: {', '.join(unseen)}")
    if FAILURES:
        terminalreporter.section("contract: answers the document does not describe", red=True)
        for failure in dict.fromkeys(FAILURES):
            write(failure, red=True)

"""The course: every content file checked, the answers negotiated and cached, the curl
lines parsed and run against the service served for real, the diagrams read as SVG."""

import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from werkzeug.exceptions import HTTPException

from service import concepts
from service.auth import hash_token
from service.diagrams import lines
from service.policy.teams import TEAM_LABEL
from tests.conftest import RUN_ID, admin_client, admin_headers, make_app, served

FIXTURE = Path(__file__).parent / "fixtures" / "content"
REAL = concepts.ROOT
SVG_NS = "{http://www.w3.org/2000/svg}"
TOKENS = {"read": "secret-read-course", "write": "secret-write-course"}


def api_of(app):
    return app.extensions["flask-smorest"]["apis"][""]["ext_obj"]


def with_course(app, root):
    concepts.init_app(app, api_of(app), root=root)
    return app


@pytest.fixture
def course_client():
    """A client of the app serving the small fixture course, with the admin token."""
    return admin_client(with_course(make_app(), FIXTURE))


@pytest.fixture
def secured():
    """The fixture course, served with a `read` and a `write` token configured."""
    entries = [
        {"name": f"{scope}-bot", "hash": hash_token(secret), "scopes": [scope]}
        for scope, secret in TOKENS.items()
    ]
    return with_course(make_app(TOKENS=entries), FIXTURE).test_client()


@pytest.fixture(scope="module")
def real_app():
    app = make_app()
    if concepts.EXTENSION not in app.extensions:
        with_course(app, REAL)
    return app


@pytest.fixture(scope="module")
def real_course(real_app):
    return real_app.extensions[concepts.EXTENSION]


def bearer(scope):
    return {"Authorization": f"Bearer {TOKENS[scope]}"}


def read_yaml(path):
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


# -- the fixture course: what the framework does -----------------------------------------------


@pytest.mark.parametrize(
    "header, lang",
    [
        (None, "fr"),
        ("en", "en"),
        ("en-GB", "en"),
        ("en_US", "en"),
        ("de, en-GB;q=0.9, fr;q=0.8", "en"),
        ("fr;q=0.5, en;q=0.9", "en"),
        ("en;q=0, fr", "fr"),
        ("de, it", "fr"),
        ("*", "fr"),
        ("fr-CA, en", "fr"),
    ],
)
def test_accept_language_chooses_by_q_value(course_client, header, lang):
    headers = {"Accept-Language": header} if header else {}
    answer = course_client.get("/concepts", headers=headers)
    assert answer.status_code == 200
    assert answer.json["lang"] == lang
    assert answer.headers["Content-Language"] == lang
    assert "Accept-Language" in answer.headers["Vary"]
    title = {"fr": "Cours d'essai", "en": "Test course"}[lang]
    assert answer.json["title"] == title


def test_lang_wins_over_accept_language(course_client):
    answer = course_client.get("/concepts/intro?lang=en", headers={"Accept-Language": "fr"})
    assert answer.json["lang"] == "en" and answer.json["title"] == "Introduction"
    assert answer.json["key_points"][0] == "A container is an isolated process."
    assert answer.headers["Content-Language"] == "en"
    assert answer.json["diagram"] == "http://localhost/concepts/intro/diagram?lang=en"
    french = course_client.get("/concepts/intro", headers={"Accept-Language": "en"})
    assert french.json["lang"] == "en"
    assert course_client.get("/concepts/intro").json["diagram"] == (
        "http://localhost/concepts/intro/diagram"
    )


@pytest.mark.parametrize("path", ["/concepts", "/concepts/intro", "/concepts/intro/diagram"])
@pytest.mark.parametrize("lang", ["de", "", "EN", "x" * 300])
def test_an_unknown_language_is_a_422_listing_the_known_ones(course_client, path, lang):
    answer = course_client.get(path, query_string={"lang": lang})
    assert answer.status_code == 422
    assert "fr, en" in answer.json["message"]
    assert "lang" in answer.json["errors"]["query"]


def test_the_course_lists_concepts_in_order(course_client):
    answer = course_client.get("/concepts?lang=en")
    assert [c["id"] for c in answer.json["concepts"]] == ["intro", "containers"]
    assert answer.json["concepts"][0] == {
        "id": "intro",
        "title": "Introduction",
        "summary": "What Docker does, in a few words.",
        "diagram": "http://localhost/concepts/intro/diagram?lang=en",
    }
    assert answer.json["concepts"][1]["diagram"] is None


@pytest.mark.parametrize("path", ["/concepts/nothing", "/concepts/nothing/diagram"])
def test_an_unknown_concept_is_a_404_listing_the_ids(course_client, path):
    answer = course_client.get(path)
    assert answer.status_code == 404
    assert "`nothing`" in answer.json["message"]
    assert "intro, containers" in answer.json["message"]


def test_a_concept_without_diagram_has_none_to_serve(course_client):
    answer = course_client.get("/concepts/containers/diagram")
    assert answer.status_code == 404
    assert "intro" in answer.json["message"]


@pytest.mark.parametrize(
    "path", ["/concepts", "/concepts/intro?lang=en", "/concepts/intro/diagram"]
)
def test_etag_and_304(course_client, path):
    first = course_client.get(path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = course_client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert "Accept-Language" in again.headers["Vary"]
    stale = course_client.get(path, headers={"If-None-Match": '"0123"'})
    assert stale.status_code == 200 and stale.data == first.data
    listed = course_client.get(path, headers={"If-None-Match": f'"0123", {etag}'})
    assert listed.status_code == 304


def test_each_language_has_its_own_etag(course_client):
    french = course_client.get("/concepts/intro")
    english = course_client.get(
        "/concepts/intro",
        headers={"If-None-Match": french.headers["ETag"], "Accept-Language": "en"},
    )
    assert english.status_code == 200
    assert english.headers["ETag"] != french.headers["ETag"]


def test_curl_lines_quote_what_the_shell_would_read(course_client):
    commands = course_client.get("/concepts/containers").json["commands"]
    listing, create, inspect = (shlex.split(c["curl"]) for c in commands[:3])
    auth = ["-H", "Authorization: Bearer $DOCKYARD_TOKEN"]
    assert listing == [
        "curl",
        "-s",
        *auth,
        "http://localhost/containers?all=true&label=team%3Dweb&label=tier%3Dfront",
    ]
    assert create[:7] == ["curl", "-s", *auth, "-X", "POST", "http://localhost/containers"]
    assert create[7:10] == ["-H", "Content-Type: application/json", "-d"]
    assert json.loads(create[10]) == commands[1]["api"]["body"]
    assert json.loads(create[10])["labels"]["note"] == "l'apostrophe"
    assert inspect[-1] == "http://localhost/images/127.0.0.1:5000/team/app:1.0"
    assert commands[2]["api"] == {
        "method": "GET",
        "path": "/images/{ref}",
        "params": {"ref": "127.0.0.1:5000/team/app:1.0"},
        "query": {},
        "body": None,
    }


def test_curl_lines_send_and_save_archives_as_files(course_client):
    save, load = (
        shlex.split(c["curl"])
        for c in course_client.get("/concepts/containers").json["commands"][3:]
    )
    # the files the docker commands name
    auth = ["-H", "Authorization: Bearer $DOCKYARD_TOKEN"]
    export = "http://localhost/images/127.0.0.1:5000/team/app:1.0/export"
    assert save == ["curl", "-s", *auth, export, "-o", "app.tar"]
    upload = ["-H", "Content-Type: application/x-tar", "--data-binary", "@app.tar"]
    assert load == ["curl", "-s", *auth, "-X", "POST", "http://localhost/images/import", *upload]
    # none named: the name the service gives a download, and the same for its upload
    backup, restore = (
        shlex.split(c["curl"]) for c in course_client.get("/concepts/intro").json["commands"][1:]
    )
    assert backup[-2:] == ["http://localhost/volumes/web-data/backup", "-OJ"]
    assert restore[-5:] == [
        "http://localhost/volumes/web-data/restore?mode=merge",
        "-H",
        "Content-Type: application/gzip",
        "--data-binary",
        "@web-data.tar.gz",
    ]


def test_curl_lines_name_the_host_asked(course_client):
    answer = course_client.get("/concepts/intro", base_url="http://127.0.0.1:8123")
    assert shlex.split(answer.json["commands"][0]["curl"])[-1] == (
        "http://127.0.0.1:8123/system/version"
    )


def test_live_needs_a_token_with_the_read_scope(secured, docker_api):
    # the course itself is public
    assert secured.get("/concepts").status_code == 200
    plain = secured.get("/concepts/containers")
    assert plain.status_code == 200 and plain.json["live"] is None
    anonymous = secured.get("/concepts/containers?live=true")
    assert anonymous.status_code == 401
    assert "`read` scope" in anonymous.json["message"]
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    writer = secured.get("/concepts/containers?live=true", headers=bearer("write"))
    assert writer.status_code == 403
    assert "`read` scope" in writer.json["message"] and "write-bot" in writer.json["message"]
    unknown = secured.get("/concepts/containers?live=true", headers={"Authorization": "Bearer x"})
    assert unknown.status_code == 401
    # a concept about no engine object has nothing live to show, and needs nothing
    assert secured.get("/concepts/intro?live=true").json["live"] is None

    before = docker_api.containers(all=True)
    reader = secured.get("/concepts/containers?live=true", headers=bearer("read"))
    after = docker_api.containers(all=True)
    assert reader.status_code == 200
    live = reader.json["live"]
    assert live["kind"] == "containers"
    # the engine is shared: its count is read between two of ours
    counts = sorted([len(before), len(after)])
    assert counts[0] <= live["count"] <= counts[1]
    assert 0 <= live["running"] <= live["count"]
    assert len(live["names"]) == min(5, live["count"])
    everyone = {n.lstrip("/") for c in before + after for n in c["Names"]}
    assert set(live["names"]) <= everyone


def test_live_shows_a_container_this_test_made(docker_api, busybox_image, labels):
    # a team of this run alone: its live state holds this container and nothing else, however
    # busy the shared engine is
    team = f"live-{RUN_ID}"
    token = {"name": "live", "hash": hash_token("live"), "scopes": ["read"], "team": team}
    client = with_course(make_app(TOKENS=[token]), FIXTURE).test_client()
    made = docker_api.create_container(
        busybox_image, command=["true"], labels={**labels, TEAM_LABEL: team}
    )
    name = docker_api.inspect_container(made["Id"])["Name"].lstrip("/")
    answer = client.get("/concepts/containers?live=true", headers={"Authorization": "Bearer live"})
    live = answer.json["live"]
    assert (live["count"], live["running"], live["names"]) == (1, 0, [name])


# -- broken content: start-up fails, naming the file and the field ------------------------------

DROP = object()
EDITS = [
    # file, where (dotted; numbers index lists), new value (DROP: removed), the field named
    ("concepts/intro.en.yaml", "id", "intro2", "`id`"),
    ("course.en.yaml", "concepts", ["containers", "intro"], "`concepts`"),
    ("concepts/containers.en.yaml", "commands.0.cli", "docker ps", "`commands[0].cli`"),
    ("concepts/containers.en.yaml", "commands.4", DROP, "`commands`"),
    ("concepts/containers.en.yaml", "live", "images", "`live`"),
    ("concepts/intro.fr.yaml", "related", ["nowhere"], "`related[0]`"),
    ("concepts/intro.fr.yaml", "diagram", "nowhere", "`diagram`"),
    ("concepts/intro.fr.yaml", "key_points", ["one"], "`key_points`"),
    ("concepts/intro.fr.yaml", "extra", 1, "`extra`"),
    ("concepts/intro.fr.yaml", "summary", DROP, "`summary`"),
    ("concepts/intro.fr.yaml", "endpoints.0.path", "/nope", "`endpoints[0].path`"),
    ("concepts/containers.fr.yaml", "commands.0.api.path", "/c", "`commands[0].api.path`"),
    ("concepts/containers.fr.yaml", "commands.0.api.method", "PUT", "`commands[0].api.path`"),
    ("concepts/containers.fr.yaml", "commands.2.api.params", {}, "`commands[2].api.params.ref`"),
    (
        "concepts/containers.fr.yaml",
        "commands.0.api.query.all",
        True,
        "`commands[0].api.query.all`",
    ),
    ("concepts/containers.fr.yaml", "commands.1.api.body", float("nan"), "`commands[1].api.body`"),
    ("diagrams/demo.yaml", "boxes.0.label.en", DROP, "`boxes[0].label`"),
    ("diagrams/demo.yaml", "boxes.1.style", "blue", "`boxes[1].style`"),
    ("diagrams/demo.yaml", "boxes.2.w", 0, "`boxes[2].w`"),
    ("diagrams/demo.yaml", "arrows.0.to", "nowhere", "`arrows[0].to`"),
]
FILES = [
    # file, new text (None: removed), what the error says
    ("concepts/containers.en.yaml", None, "missing"),
    ("concepts/extra.fr.yaml", "id: extra\n", "not in the `concepts`"),
    ("concepts/intro.de.yaml", "id: intro\n", "lang one of fr, en"),
    ("concepts/intro.en.yaml", "id: [unclosed\n", "not valid YAML"),
]


def failed_start(root) -> str:
    app = make_app()
    with pytest.raises(concepts.ContentError) as error:
        concepts.init_app(app, api_of(app), root=root)
    return str(error.value)


@pytest.mark.parametrize("name, where, value, field", EDITS, ids=[e[3] for e in EDITS])
def test_a_broken_file_stops_the_start_up_naming_file_and_field(
    tmp_path, name, where, value, field
):
    root = tmp_path / "content"
    shutil.copytree(FIXTURE, root)
    data = read_yaml(root / name)
    *parents, last = [int(step) if step.isdigit() else step for step in where.split(".")]
    node = data
    for step in parents:
        node = node[step]
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    (root / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    message = failed_start(root)
    assert str(root / name) in message and field in message, message


@pytest.mark.parametrize("name, text, said", FILES)
def test_a_missing_or_stray_file_stops_the_start_up(tmp_path, name, text, said):
    root = tmp_path / "content"
    shutil.copytree(FIXTURE, root)
    if text is None:
        (root / name).unlink()
    else:
        (root / name).write_text(text)
    message = failed_start(root)
    assert str(root / name) in message and said in message, message


def test_the_fixture_course_loads_whole():
    app = make_app()
    course = concepts.load(FIXTURE, concepts.operations(api_of(app)))
    assert course.order == ["intro", "containers"]
    assert set(course.svgs) == {"demo"} and set(course.svgs["demo"]) == {"fr", "en"}


def test_the_apps_of_a_process_share_the_course_until_a_file_changes(tmp_path):
    root = tmp_path / "content"
    shutil.copytree(FIXTURE, root)
    first, second = (with_course(make_app(), root) for _ in range(2))
    assert first.extensions[concepts.EXTENSION] is second.extensions[concepts.EXTENSION]
    # a file changed: the next app reads the course again, and the first keeps its own
    path = root / "concepts" / "intro.en.yaml"
    data = read_yaml(path)
    data["title"] = "Changed since"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    third = with_course(make_app(), root)
    assert third.extensions[concepts.EXTENSION].concept("intro", "en")["title"] == "Changed since"
    assert first.extensions[concepts.EXTENSION].concept("intro", "en")["title"] != "Changed since"
    # and a broken one stops the start, as it did before it was ever loaded
    path.write_text("id: [unclosed\n")
    assert "not valid YAML" in failed_start(root)


# -- the real course ----------------------------------------------------------------------------


def test_every_real_file_validates(real_app):
    course = concepts.load(REAL, concepts.operations(api_of(real_app)))
    fr, en = (read_yaml(REAL / f"course.{lang}.yaml")["concepts"] for lang in ("fr", "en"))
    assert course.order == fr == en
    files = sorted(p.name for p in (REAL / "concepts").glob("*.yaml"))
    assert files == sorted(f"{c}.{lang}.yaml" for c in fr for lang in ("fr", "en"))
    for concept_id in course.order:
        french, english = (course.concept(concept_id, lang) for lang in ("fr", "en"))
        assert [(c["cli"], c["api"]) for c in french["commands"]] == [
            (c["cli"], c["api"]) for c in english["commands"]
        ], concept_id
        for name in ("related", "endpoints", "diagram", "live"):
            assert french[name] == english[name], (concept_id, name)


def test_every_real_operation_is_in_the_document(real_app, real_course):
    client = admin_client(real_app)
    paths = client.get("/openapi.json").json["paths"]
    for concept_id in real_course.order:
        concept = real_course.concept(concept_id, "fr")
        named = [c["api"] for c in concept["commands"]] + concept["endpoints"]
        for operation in named:
            assert operation["method"].lower() in paths.get(operation["path"], {}), (
                concept_id,
                operation,
            )


def test_every_real_curl_line_parses_and_names_a_route(real_app, real_course):
    client = admin_client(real_app)
    adapter = real_app.url_map.bind("localhost")
    for lang in concepts.LANGS:
        for concept_id in real_course.order:
            answer = client.get(f"/concepts/{concept_id}?lang={lang}")
            assert answer.status_code == 200, (concept_id, answer.json)
            for command in answer.json["commands"]:
                words = shlex.split(command["curl"])
                assert words[:2] == ["curl", "-s"]
                method = words[words.index("-X") + 1] if "-X" in words else "GET"
                assert method == command["api"]["method"]
                [url] = [w for w in words if w.startswith("http://")]
                where = urlsplit(url)
                try:
                    adapter.match(where.path, method=method)
                except HTTPException as exc:
                    pytest.fail(f"{concept_id}: {command['curl']} names no route: {exc}")
                if "-d" in words:
                    assert json.loads(words[words.index("-d") + 1]) == command["api"]["body"]


def safe(api) -> bool:
    """What a test may run on a shared engine with no network: reads, of no one object."""
    return api["method"] == "GET" and not api["params"] and not api["path"].startswith("/registry")


def test_the_safe_real_curl_lines_answer_2xx_on_the_real_engine(real_course):
    assert shutil.which("curl"), "curl is not installed"
    lines_run = 0
    with served() as (base, _):
        token = admin_headers()["Authorization"].removeprefix("Bearer ")
        seen = set()
        for concept_id in real_course.order:
            with urllib.request.urlopen(f"{base}/concepts/{concept_id}", timeout=30) as answer:
                commands = json.load(answer)["commands"]
            for command in commands:
                if not safe(command["api"]) or command["curl"] in seen:
                    continue
                seen.add(command["curl"])
                # as a learner types it, the shell expanding $DOCKYARD_TOKEN; a stream is
                # cut after a few seconds, its status already known
                line = command["curl"] + " -o /dev/null --max-time 5 -w '%{http_code}'"
                done = subprocess.run(
                    ["sh", "-c", line],
                    env={**os.environ, "DOCKYARD_TOKEN": token},
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert done.stdout.startswith("2"), (concept_id, command["curl"], done.stdout)
                lines_run += 1
    assert lines_run >= 3


def test_the_real_course_answers_in_both_languages(real_app, real_course):
    client = admin_client(real_app)
    for lang in concepts.LANGS:
        listing = client.get(f"/concepts?lang={lang}")
        assert [c["id"] for c in listing.json["concepts"]] == real_course.order
        for concept_id in real_course.order:
            answer = client.get(f"/concepts/{concept_id}?lang={lang}&live=true")
            assert answer.status_code == 200, answer.json
            assert answer.json["lang"] == lang
            kind = real_course.concept(concept_id, lang)["live"]
            assert (answer.json["live"] or {}).get("kind") == kind


def _texts(root) -> str:
    return " ".join("".join(element.itertext()) for element in root.iter(f"{SVG_NS}text")).split()


def test_every_real_diagram_is_svg_with_its_labels_in_its_language(real_app, real_course):
    client = admin_client(real_app)
    shown = {c["diagram"] for c in real_course.concepts["fr"].values() if c["diagram"]}
    drawn = {p.name.removesuffix(".yaml") for p in (REAL / "diagrams").glob("*.yaml")}
    assert shown <= drawn
    for concept_id in real_course.order:
        name = real_course.concept(concept_id, "fr")["diagram"]
        if not name:
            continue
        source = read_yaml(REAL / "diagrams" / f"{name}.yaml")
        for lang in concepts.LANGS:
            answer = client.get(f"/concepts/{concept_id}/diagram?lang={lang}")
            assert answer.status_code == 200
            assert answer.mimetype == "image/svg+xml"
            root = ET.fromstring(answer.data)
            assert root.tag == f"{SVG_NS}svg"
            assert root.get("role") == "img" and root.get("viewBox")
            assert root.find(f"{SVG_NS}title").text == source["title"][lang]
            assert root.find(f"{SVG_NS}desc").text
            words = " ".join(_texts(root))
            labels = [box["label"][lang] for box in source["boxes"]] + [
                arrow["label"][lang] for arrow in source.get("arrows") or [] if arrow.get("label")
            ]
            for label in labels:
                for line in lines(label):
                    assert " ".join(line.split()) in words, (name, lang, line)
            _fetches_nothing(root, answer.get_data(as_text=True))


def _fetches_nothing(root, text):
    for element in root.iter():
        tag = element.tag.removeprefix(SVG_NS)
        assert tag not in {"script", "image", "foreignObject", "a", "use", "style"}, tag
        for attribute, value in element.attrib.items():
            assert not attribute.endswith("href"), attribute
            assert not attribute.startswith("on"), attribute
            assert "url(" not in value or value.startswith("url(#"), value
    assert "@import" not in text and "http://www.w3.org/2000/svg" in text
    assert "font-family" in text and set(re.findall(r'font-family="([^"]+)"', text)) == {
        "sans-serif"
    }


def test_the_fixture_diagram_escapes_its_text_and_centres_its_lines(course_client):
    for lang, title, host in (
        ("fr", "Le client & le moteur", "Hôte <Docker>"),
        ("en", "The client & the engine", "Docker <host>"),
    ):
        answer = course_client.get(f"/concepts/intro/diagram?lang={lang}")
        assert answer.headers["Content-Language"] == lang
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        root = ET.fromstring(answer.data)
        assert root.get("lang") == lang
        assert root.find(f"{SVG_NS}title").text == title
        texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
        assert title in texts and host in texts
        # a label of two lines: two spans, one above the other, on the same centre
        engine = next(t for t in root.iter(f"{SVG_NS}text") if "(dockerd)" in "".join(t.itertext()))
        first, second = engine.iter(f"{SVG_NS}tspan")
        assert first.get("x") == second.get("x") == "360"
        assert float(second.get("y")) - float(first.get("y")) == pytest.approx(18)
        # one line per arrow, each with the arrowhead
        assert len(root.findall(f"{SVG_NS}line")) == 3
        assert all(line.get("marker-end") for line in root.iter(f"{SVG_NS}line"))
        _fetches_nothing(root, answer.get_data(as_text=True))


def test_curl_quotes_every_word_for_a_posix_shell_and_leaves_the_token_to_it():
    api = {
        "method": "POST",
        "path": "/containers/{id}/exec",
        "params": {"id": "web app"},
        "query": {"label": ["a=b", "c d"]},
        "body": {"cmd": ["sh", "-c", "echo 'it''s'; echo $HOME"]},
    }
    line = concepts.curl(api, "http://127.0.0.1:8000", files=("-o", "out put.tar"))
    words = shlex.split(line)
    assert words[:5] == ["curl", "-s", "-H", "Authorization: Bearer $DOCKYARD_TOKEN", "-X"]
    assert '"Authorization: Bearer $DOCKYARD_TOKEN"' in line  # the shell expands it
    assert words[6] == "http://127.0.0.1:8000/containers/web%20app/exec?label=a%3Db&label=c+d"
    assert json.loads(words[words.index("-d") + 1]) == api["body"]
    assert words[-2:] == ["-o", "out put.tar"]
    got = concepts.curl({**api, "method": "GET", "body": None, "query": {}}, "http://h")
    assert shlex.split(got)[-1] == "http://h/containers/web%20app/exec"

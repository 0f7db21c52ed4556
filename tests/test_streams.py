"""One rule for every stream, against the real engine: formats chosen by Accept with one
default, 406 otherwise, heartbeats, a last `end`, `result` or `error` event, SSE ids that
resume, and the shapes the spec names."""

import http.client
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import ENGINE_URL, RUN_ID, admin_headers, make_client, ours, served

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


@pytest.fixture
def run(client, busybox_image, labels):
    def run(command=("sleep", "300"), start=True):
        body = {"image": busybox_image, "command": list(command), "labels": labels}
        answer = client.post("/containers", json={**body, "start": start})
        assert answer.status_code == 201, answer.json
        return answer.json

    return run


def ndjson(answer) -> list[dict]:
    return [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]


def sse(text: str) -> list[dict]:
    """SSE events as {id, event, data}; comments as {"comment": ...}."""
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            events.append({"comment": block[1:].strip()})
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append({**fields, "data": json.loads(fields["data"])})
    return events


def past(seconds=3600) -> str:
    """since and until that make the events stream end by itself."""
    now = int(time.time())
    return f"since={now - seconds}&until={now + 1}"


# -- negotiation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, offered",
    [
        ("/system/events", [SSE, NDJSON]),
        ("/containers/no-such-one/logs", ["text/plain", NDJSON, SSE]),
        ("/containers/no-such-one/stats?stream=true", [NDJSON, SSE]),
        ("/containers/no-such-one/stats", ["application/json"]),
    ],
)
def test_an_accept_no_format_matches_is_a_406_before_any_work(client, path, offered):
    answer = client.get(path, headers={"Accept": "image/png"})
    assert answer.status_code == 406
    assert set(answer.json) == {"code", "status", "message", "errors"}
    for kind in offered:
        assert kind in answer.json["message"]


def test_long_work_refuses_text_with_a_406(client):
    answer = client.post(
        "/images/pull", json={"image": "127.0.0.1:1/nothing"}, headers={"Accept": "text/plain"}
    )
    assert answer.status_code == 406
    assert "application/json" in answer.json["message"]


def format_of(client, path, accept):
    answer = client.get(path, headers={"Accept": accept} if accept else {})
    answer.get_data()  # the stream read to its end, and closed
    return answer.status_code, answer.mimetype


def test_events_default_to_sse_and_give_ndjson_on_request(client):
    for accept in (None, "*/*", "text/*", f"{NDJSON};q=0.5, {SSE}"):
        assert format_of(client, f"/system/events?{past()}", accept) == (200, SSE), accept
    assert format_of(client, f"/system/events?{past()}", NDJSON) == (200, NDJSON)
    # a type refused by name is refused, though */* would take it
    assert format_of(client, f"/system/events?{past()}", f"{SSE};q=0, */*") == (200, NDJSON)


def test_logs_default_to_text_and_lines_have_one_shape(client, run):
    container = run(["sh", "-c", "echo out; echo err >&2"])
    client.post(f"/containers/{container['id']}/wait")
    logs = f"/containers/{container['id']}/logs"
    answer = client.get(logs)
    assert answer.mimetype == "text/plain"
    assert sorted(answer.get_data(as_text=True).split()) == ["err", "out"]

    *lines, last = ndjson(client.get(logs, headers={"Accept": NDJSON}))
    assert last == {"type": "end"}
    assert sorted(lines, key=lambda line: line["line"]) == [
        {"type": "stderr", "stream": "stderr", "line": "err", "time": None},
        {"type": "stdout", "stream": "stdout", "line": "out", "time": None},
    ]
    *lines, _ = ndjson(client.get(f"{logs}?timestamps=true", headers={"Accept": NDJSON}))
    assert all(line["time"].startswith("20") and line["line"] in {"out", "err"} for line in lines)

    events = sse(client.get(logs, headers={"Accept": SSE}).get_data(as_text=True))
    assert sorted(event["event"] for event in events) == ["end", "stderr", "stdout"]
    assert events[-1]["data"] == {"type": "end"}


def test_stats_stream_sends_typed_samples_then_end(client, run):
    container = run(["sleep", "2"])
    answer = client.get(f"/containers/{container['id']}/stats?stream=true")
    assert answer.mimetype == NDJSON
    *samples, last = ndjson(answer)
    assert last == {"type": "end"}
    assert samples and all(s["type"] in {"stats", "heartbeat"} for s in samples)
    assert any(s["type"] == "stats" and s["memory_limit"] > 0 for s in samples)
    one = client.get(f"/containers/{container['id']}/stats", headers={"Accept": NDJSON})
    assert one.status_code == 406


# -- heartbeats, ends, errors ---------------------------------------------------------------


def test_every_streamed_format_has_heartbeats():
    client = make_client(STREAM_HEARTBEAT=0.3)
    now = time.time()
    query = f"type=daemon&since={now - 1:.3f}&until={now + 1.5:.3f}"
    lines = ndjson(client.get(f"/system/events?{query}", headers={"Accept": NDJSON}))
    assert {"type": "heartbeat"} in lines and lines[-1] == {"type": "end"}
    now = time.time()
    query = f"type=daemon&since={now - 1:.3f}&until={now + 1.5:.3f}"
    events = sse(client.get(f"/system/events?{query}").get_data(as_text=True))
    assert {"comment": "heartbeat"} in events and events[-1]["event"] == "end"


def test_a_failure_after_the_first_byte_is_an_error_event(client, busybox_image, labels):
    answer = client.post(
        "/images/build",
        json={"dockerfile": f"FROM {busybox_image}\nRUN exit 3\n", "labels": labels},
        headers={"Accept": NDJSON},
    )
    last = ndjson(answer)[-1]
    assert last["type"] == "error"
    assert {"code", "status", "message", "errors"} <= set(last)


# -- SSE ids and resuming -------------------------------------------------------------------


def test_sse_events_carry_ids_and_last_event_id_resumes_after_it(client, run):
    since = time.time() - 1
    for _ in range(3):
        run(start=False)
    until = time.time() + 0.5
    query = f"type=container&action=create&since={since:.3f}&until={until:.3f}"
    events = [e for e in sse(client.get(f"/system/events?{query}").get_data(as_text=True))]
    created = [e for e in events if e.get("event") == "container"]
    assert len(created) >= 3
    assert all(e["id"] == str(e["data"]["time_nano"]) for e in created)
    resumed = sse(
        client.get(
            f"/system/events?type=container&action=create&until={until:.3f}",
            headers={"Last-Event-ID": created[0]["id"]},
        ).get_data(as_text=True)
    )
    assert [e["id"] for e in resumed if "id" in e] == [e["id"] for e in created[1:]]
    assert resumed[-1]["event"] == "end"
    bad = client.get("/system/events?until=1", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 422 and "Last-Event-ID" in bad.json["errors"]["headers"]


def test_since_and_until_take_dates_and_durations(client):
    answer = client.get(
        "/system/events?since=10m&until=2000-01-01T00:00:00Z", headers={"Accept": NDJSON}
    )
    # since after until: a window with no event in it (the daemon would refuse it)
    assert answer.status_code == 200 and ndjson(answer) == [{"type": "end"}]
    answer = client.get("/system/events?since=2000-01-01&until=1s", headers={"Accept": NDJSON})
    assert answer.status_code == 200 and ndjson(answer)[-1] == {"type": "end"}
    assert client.get("/system/events?since=2000-13-45").status_code == 422


# -- the spec -------------------------------------------------------------------------------


def test_the_spec_documents_every_stream_as_strings_with_named_events(client):
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    streams = {
        ("/system/events", "get"): SSE,
        ("/containers/{id}/logs", "get"): "text/plain",
        ("/containers/{id}/stats", "get"): "application/json",
        ("/images/pull", "post"): "application/json",
        ("/images/build", "post"): "application/json",
        ("/images/{ref}/push", "post"): "application/json",
        ("/images/import", "post"): "application/json",
    }
    for (path, method), default in streams.items():
        operation = spec["paths"][path][method]
        assert "406" in operation["responses"], path
        answer = next(r for code, r in operation["responses"].items() if code in ("200", "201"))
        assert answer["x-default-format"] == default
        for kind in (NDJSON, SSE):
            media = answer["content"][kind]
            names = [ref["$ref"].rsplit("/", 1)[-1] for ref in media["x-events"]]
            if kind == SSE:
                # text for generated clients, or one event as validators read it
                kinds = [one["type"] for one in media["schema"]["oneOf"]]
                assert kinds == ["string", "object"], path
            else:
                # what each line is
                assert media["schema"]["anyOf"] == media["x-events"], path
            assert {"HeartbeatEvent", "ErrorEvent"} <= set(names)
            assert ("ResultEvent" if default == "application/json" else "EndEvent") in names
            assert all(name in schemas for name in names)
    assert schemas["LogLine"]["required"] == ["line", "stream", "time", "type"]


# -- through gunicorn -----------------------------------------------------------------------


def read_chunked(base, path, headers, timeout=20):
    """The whole answer, read as http.client reads it: a cut chunked answer raises."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
    try:
        connection.request("GET", path, headers={**admin_headers(), **headers})
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type"), answer.read()
    finally:
        connection.close()


def test_events_through_gunicorn_end_whole_in_both_formats():
    def path():
        now = time.time()
        return f"/system/events?type=node&type=daemon&type=image&until={now + 2:.3f}"

    with served(STREAM_HEARTBEAT=0.5) as (base, _):
        status, kind, body = read_chunked(base, path(), {})
        assert (status, kind.split(";")[0]) == (200, SSE)
        events = sse(body.decode())
        assert events[-1]["event"] == "end"
        assert {"comment": "heartbeat"} in events
        status, kind, body = read_chunked(base, path(), {"Accept": NDJSON})
        lines = [json.loads(line) for line in body.splitlines()]
        assert lines[-1] == {"type": "end"} and {"type": "heartbeat"} in lines
        status, _, body = read_chunked(base, path(), {"Accept": "application/json"})
        assert status == 406 and "text/event-stream" in json.loads(body)["message"]


def test_a_live_stream_ends_with_an_error_event_when_the_service_stops():
    """A stream that never ends by itself, open when the worker shuts down: cut, it was an
    IncompleteRead; it ends with an error event, and the worker stops without waiting."""
    got = {}

    def read(base):
        try:
            got["answer"] = read_chunked(
                base, "/system/events?type=node&type=daemon&type=image", {"Accept": NDJSON}
            )
        except Exception as exc:
            got["failure"] = exc

    with served(STREAM_HEARTBEAT=0.5, GRACEFUL_TIMEOUT=20) as (base, process):
        reader = threading.Thread(target=read, args=(base,))
        reader.start()
        time.sleep(1.5)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10
    reader.join(timeout=10)
    assert "failure" not in got, got
    status, _, body = got["answer"]
    *lines, last = [json.loads(line) for line in body.splitlines()]
    assert status == 200 and {"type": "heartbeat"} in lines
    assert last["type"] == "error" and last["code"] == 503 and "Last-Event-ID" in last["message"]


class Relay:
    """A unix socket that passes bytes to and from the engine's until it is cut: to the
    service, the engine going away under open connections, as when dockerd stops or restarts,
    without stopping the engine the tests share."""

    def __init__(self, path):
        self.path, self.pairs = str(path), []
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:
                return
            far = socket.socket(socket.AF_UNIX)
            far.connect(ENGINE_URL.removeprefix("unix://"))
            self.pairs.append((near, far))
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self):
        self.listener.close()
        for pair in self.pairs:
            for end in pair:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()


def test_an_event_stream_says_the_engine_went_away_and_how_to_resume(tmp_path):
    relay = Relay(tmp_path / "engine.sock")
    got = {}

    def read(base):
        try:
            got["answer"] = read_chunked(base, "/system/events", {"Accept": NDJSON}, timeout=30)
        except Exception as exc:
            got["failure"] = exc

    with served(STREAM_HEARTBEAT=0.5, DOCKER_URL=f"unix://{relay.path}") as (base, _):
        reader = threading.Thread(target=read, args=(base,))
        reader.start()
        time.sleep(1.5)  # the stream is open, heartbeats flow
        relay.cut()
        reader.join(timeout=20)
    assert "failure" not in got, got
    status, _, body = got["answer"]
    *lines, last = [json.loads(line) for line in body.splitlines()]
    assert status == 200 and {"type": "heartbeat"} in lines
    assert last["type"] == "error" and last["code"] == 503, last
    assert "went away" in last["message"] and "Last-Event-ID" in last["message"], last
    assert "int()" not in last["message"]


def test_files_answer_their_type_or_bytes_and_406_otherwise(client, docker_api, labels):
    """The rule of file answers (archives, backups, diagrams): their own type by default,
    application/octet-stream (the same bytes) when asked, 406 when Accept takes neither."""
    drawn = client.get("/concepts/container/diagram")
    assert drawn.mimetype == "image/svg+xml" and "Accept" in drawn.headers["Vary"]
    as_bytes = client.get(
        "/concepts/container/diagram", headers={"Accept": "application/octet-stream"}
    )
    assert as_bytes.mimetype == "application/octet-stream" and as_bytes.data == drawn.data
    refused = client.get("/concepts/container/diagram", headers={"Accept": "application/json"})
    assert refused.status_code == 406 and "application/octet-stream" in refused.json["message"]

    volume = docker_api.create_volume(f"files-{RUN_ID}", labels=labels)["Name"]
    before = ours(docker_api)
    refused = client.get(f"/volumes/{volume}/backup", headers={"Accept": "application/json"})
    assert refused.status_code == 406
    assert ours(docker_api) == before  # refused before any helper was made
    backup = client.get(f"/volumes/{volume}/backup", headers={"Accept": "application/octet-stream"})
    assert backup.status_code == 200 and backup.mimetype == "application/octet-stream"
    assert backup.data[:2] == b"\x1f\x8b"  # the same gzip bytes


def test_long_work_streamed_when_the_service_stops_ends_with_an_error_event(busybox_image, labels):
    """A build streaming its progress when the worker shuts down: an error event that says
    the work was cut off, and the worker stops without waiting for the build."""
    got = {}
    body = json.dumps(
        {"dockerfile": f"FROM {busybox_image}\nRUN sleep 30\n", "labels": labels, "pull": False}
    )

    def build(base):
        address = urlsplit(base)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/images/build",
                body=body,
                headers={
                    **admin_headers(),
                    "Content-Type": "application/json",
                    "Accept": NDJSON,
                },
            )
            answer = connection.getresponse()
            got["answer"] = answer.status, answer.read()
        except Exception as exc:
            got["failure"] = exc
        finally:
            connection.close()

    with served(STREAM_HEARTBEAT=0.5, GRACEFUL_TIMEOUT=20) as (base, _):
        builder = threading.Thread(target=build, args=(base,))
        builder.start()
        time.sleep(3)  # the build runs its `sleep 30`
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 15
    builder.join(timeout=15)
    assert "failure" not in got, got
    status, text = got["answer"]
    *_, last = [json.loads(line) for line in text.splitlines()]
    assert status == 201 and last["type"] == "error" and last["code"] == 503, last
    assert "stopping" in last["message"]

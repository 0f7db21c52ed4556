"""The daemon client's own read path: GETs read whole go over kept-alive connections to the unix
socket, not through requests; what docker-py's verbs answer and raise is the same either way."""

import socket
import threading

import docker
import docker.errors
import pytest
import requests.exceptions
from requests.models import RequestEncodingMixin

from service.gateway.client import DaemonAPI, _query
from tests.conftest import ENGINE_URL, TEST_LABEL

pytestmark = pytest.mark.skipif(
    not ENGINE_URL.startswith("unix://"), reason="the own read path is for unix sockets"
)


def own_client(url=ENGINE_URL, pool_size=4, **kwargs) -> DaemonAPI:
    return DaemonAPI(
        base_url=url,
        version=kwargs.pop("version", "auto"),
        socket_path=url.removeprefix("unix://"),
        pool_size=pool_size,
        **kwargs,
    )


@pytest.fixture
def box(docker_api, busybox_image, labels):
    created = docker_api.create_container(busybox_image, command=["true"], labels=labels)
    return created["Id"]


def test_verbs_answer_what_docker_py_answers(docker_api, box, busybox_image, labels):
    api = own_client()
    try:
        mine = {"label": f"{TEST_LABEL}={labels[TEST_LABEL]}"}
        assert api.containers(all=True, filters=mine) == docker_api.containers(
            all=True, filters=mine
        )
        assert api.inspect_container(box) == docker_api.inspect_container(box)
        assert api.inspect_image(busybox_image) == docker_api.inspect_image(busybox_image)
        assert api.images(name=busybox_image) == docker_api.images(name=busybox_image)
        assert api.version(api_version=False) == docker_api.version(api_version=False)
        # one kept-alive connection served them all, one after another
        assert len(api._idle) == 1
    finally:
        api.close()
    assert api._idle == []


def test_errors_are_docker_pys_own(docker_api):
    api = own_client()
    try:
        with pytest.raises(docker.errors.NotFound) as missing:
            api.inspect_container("no-such-container-here")
        assert missing.value.status_code == 404
        assert "No such container" in missing.value.explanation
        with pytest.raises(docker.errors.ImageNotFound):
            api.inspect_image("no-such-image-here:latest")
        with pytest.raises(docker.errors.APIError) as refused:
            api.containers(filters={"no-such-filter": "x"})
        assert refused.value.status_code == 400
        # the connection stays usable after an error answer
        assert api.ping()
    finally:
        api.close()


def test_streams_and_other_methods_still_go_through_requests(docker_api, box):
    api = own_client()
    try:
        docker_api.start(box)
        docker_api.wait(box)
        # a streamed read is requests' (its raw socket is what docker-py reads frames from)
        assert b"".join(api.logs(box, stream=True, follow=False)) == b""
        api.rename(box, f"renamed-{box[:12]}")  # a POST: requests'
        assert api.inspect_container(box)["Name"] == f"/renamed-{box[:12]}"
    finally:
        api.close()


def test_a_socket_with_nothing_behind_it_is_a_connection_error(tmp_path):
    api = own_client(f"unix://{tmp_path}/docker.sock", version="1.41")
    with pytest.raises(requests.exceptions.ConnectionError) as down:
        api.info()
    assert isinstance(down.value.__cause__, FileNotFoundError)


class OneAnswerPerConnection:
    """A socket that answers one request on each connection, then closes it while the
    client keeps it as alive: what a daemon restarted between two calls looks like. A real
    engine cannot be restarted under a shared test run, so this stands in for it."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def __init__(self, path):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(8)
        self.answered = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                if conn.recv(65536):
                    # counted before it is sent: the client may check as soon as it reads it
                    self.answered += 1
                    conn.sendall(self.ANSWER)

    def close(self):
        self.server.close()


def test_a_kept_alive_connection_closed_meanwhile_is_tried_again_afresh(tmp_path):
    server = OneAnswerPerConnection(tmp_path / "daemon.sock")
    api = own_client(f"unix://{tmp_path}/daemon.sock", version="1.41")
    try:
        assert api.info() == {}
        assert len(api._idle) == 1  # kept, though the other side has closed it since
        assert api.info() == {}
        assert server.answered == 2
    finally:
        api.close()
        server.close()


def test_idle_connections_are_capped_at_the_pool_size(docker_api, box):
    api = own_client(pool_size=2)
    answers = []

    def inspect_many():
        answers.extend(api.inspect_container(box)["Id"] for _ in range(20))

    try:
        threads = [threading.Thread(target=inspect_many) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [box] * 160
        assert 1 <= len(api._idle) <= 2
    finally:
        api.close()


@pytest.mark.parametrize(
    "params",
    [
        {"all": 1, "limit": -1, "size": 0, "since": None, "filters": '{"label": ["a=b c"]}'},
        {"repeated": [1, 2, None], "flag": True, "text": "é/&?=#"},
        {"tuple": ("a", "b"), "none": None},
    ],
)
def test_query_parameters_are_encoded_as_requests_encodes_them(params):
    assert _query(params) == RequestEncodingMixin._encode_params(params)

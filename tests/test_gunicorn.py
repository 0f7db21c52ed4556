"""The service as deployed: gunicorn with deploy/gunicorn.conf.py, against the real engine."""

import json
import threading
import urllib.request

import pytest

from tests.conftest import served as serve


@pytest.fixture
def served():
    with serve() as (base, _):
        yield base


def get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, json.load(answer)


def test_gunicorn_serves_against_the_engine(served, docker_api):
    assert get(f"{served}/health") == (200, {"status": "ok"})
    assert get(f"{served}/ready") == (200, {"status": "ready"})
    status, info = get(f"{served}/system/info")
    assert status == 200
    assert info["server_version"] == docker_api.version()["Version"]


def test_concurrent_requests_share_the_worker_threads(served):
    results = []

    def call():
        results.append(get(f"{served}/system/info")[0])

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 12

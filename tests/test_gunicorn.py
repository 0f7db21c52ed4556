"""The service as deployed: gunicorn with deploy/gunicorn.conf.py, against the real engine."""

import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ENGINE_URL, free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def served():
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DOCKYARD_BIND": address,
        "DOCKYARD_WORKERS": "1",
        "DOCKYARD_THREADS": "4",
        "DOCKYARD_DOCKER_URL": ENGINE_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_http(f"http://{address}/health").close()
        yield f"http://{address}"
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors.decode()


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

"""Settings: defaults, then DOCKYARD_* environment variables, then create_app's mapping."""

import runpy
from pathlib import Path

from service import create_app
from service.config import Config

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "deploy" / "gunicorn.conf.py"


def test_defaults(monkeypatch):
    monkeypatch.delenv("DOCKYARD_DOCKER_URL", raising=False)
    app = create_app()
    assert app.config["DOCKER_URL"] == "unix:///var/run/docker.sock"
    assert app.config["DOCKER_TIMEOUT"] == Config.DOCKER_TIMEOUT
    assert app.config["BIND"] == "127.0.0.1:8000"


def test_environment_is_read_when_the_app_is_made_not_at_import(monkeypatch):
    monkeypatch.setenv("DOCKYARD_DOCKER_TIMEOUT", "7")
    monkeypatch.setenv("DOCKYARD_DOCKER_URL", "unix:///tmp/elsewhere.sock")
    app = create_app()
    # values are parsed as JSON when they can be
    assert app.config["DOCKER_TIMEOUT"] == 7
    assert app.config["DOCKER_URL"] == "unix:///tmp/elsewhere.sock"
    assert app.extensions["docker_gateway"].url == "unix:///tmp/elsewhere.sock"


def test_explicit_config_wins_over_environment(monkeypatch):
    monkeypatch.setenv("DOCKYARD_DOCKER_TIMEOUT", "7")
    app = create_app({"DOCKER_TIMEOUT": 11})
    assert app.config["DOCKER_TIMEOUT"] == 11
    assert app.extensions["docker_gateway"].clients.settings.timeout == 11


def test_pool_covers_the_worker_streams_by_default(monkeypatch):
    # every stream the worker admits holds a daemon connection, and control calls go beside
    monkeypatch.setenv("DOCKYARD_WORKER_CONNECTIONS", "20")
    assert create_app().extensions["docker_gateway"].clients.settings.pool_size == 15 + 32
    monkeypatch.setenv("DOCKYARD_MAX_STREAMS", "18")
    assert create_app().extensions["docker_gateway"].clients.settings.pool_size == 18 + 32
    # never more than the worker holds connections, whatever the ceiling says
    monkeypatch.setenv("DOCKYARD_MAX_STREAMS", "100")
    assert create_app().extensions["docker_gateway"].clients.settings.pool_size == 20 + 32
    app = create_app({"DOCKER_POOL_SIZE": 50})
    assert app.extensions["docker_gateway"].clients.settings.pool_size == 50


def test_creating_the_app_opens_no_connection():
    # a socket with nothing behind it: creating the app must not touch it
    app = create_app({"DOCKER_URL": "unix:///nonexistent/docker.sock"})
    assert app.extensions["docker_gateway"].clients._control is None


def test_gunicorn_settings_come_from_the_same_place(monkeypatch):
    monkeypatch.setenv("DOCKYARD_BIND", "127.0.0.1:9123")
    monkeypatch.setenv("DOCKYARD_WORKERS", "3")
    monkeypatch.setenv("DOCKYARD_WORKER_CONNECTIONS", "120")
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert conf["bind"] == ["127.0.0.1:9123"]
    assert conf["workers"] == 3
    assert conf["worker_connections"] == 120
    assert conf["worker_class"] == "service.worker.GuardedWorker"
    assert conf["wsgi_app"] == "service:create_app()"


def test_readme_documents_every_setting():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    settings = [k for k in vars(Config) if k.isupper() and not k.startswith(("API_", "OPENAPI_"))]
    missing = [k for k in settings if f"`DOCKYARD_{k}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"


def test_settings_of_the_wrong_kind_stop_the_service(monkeypatch, tmp_path):
    import pytest

    # a list given as bare text would be read one character at a time: refused outright
    monkeypatch.setenv("DOCKYARD_ALLOWED_BIND_ROOTS", str(tmp_path))
    with pytest.raises(ValueError, match="ALLOWED_BIND_ROOTS must be"):
        create_app()
    monkeypatch.setenv("DOCKYARD_ALLOWED_BIND_ROOTS", f'["{tmp_path}"]')
    assert create_app().config["ALLOWED_BIND_ROOTS"] == [str(tmp_path)]
    monkeypatch.setenv("DOCKYARD_ALLOWED_BIND_ROOTS", '["/srv/no-such-root"]')
    with pytest.raises(ValueError, match="is not a directory"):
        create_app()
    monkeypatch.setenv("DOCKYARD_ALLOWED_BIND_ROOTS", "[]")
    monkeypatch.setenv("DOCKYARD_ALLOW_LOW_PORTS", "no")
    with pytest.raises(ValueError, match="true or false"):
        create_app()

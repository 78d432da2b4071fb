"""Configuration: defaults < WMS_* environment < overrides, and nothing built at import time."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from wms.app import create_app
from wms.db import database
from wms.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from no WMS_* settings, whatever the developer's shell holds."""
    for name in list(os.environ):
        if name.startswith("WMS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Create apps on their own instance folder (tmp_path by default); dispose their engines."""
    apps: list[Flask] = []

    def make(overrides: dict[str, Any] | None = None, *, instance: Path = tmp_path) -> Flask:
        app = create_app({"INSTANCE_PATH": str(instance), **(overrides or {})})
        apps.append(app)
        return app

    yield make
    for app in apps:
        database(app).engine.dispose()


def busy_timeout_ms(app: Flask) -> int:
    """The busy timeout the app's SQLite connections actually wait."""
    with database(app).engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())


# --- precedence -----------------------------------------------------------------------------


def test_the_default_busy_timeout_applies_without_settings(make_app):
    assert busy_timeout_ms(make_app()) == 5000


def test_the_environment_overrides_the_defaults(make_app, monkeypatch):
    monkeypatch.setenv("WMS_SQLITE_BUSY_TIMEOUT_MS", "1234")

    assert busy_timeout_ms(make_app()) == 1234


def test_overrides_win_over_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("WMS_SQLITE_BUSY_TIMEOUT_MS", "1234")

    assert busy_timeout_ms(make_app({"SQLITE_BUSY_TIMEOUT_MS": 99})) == 99


def test_the_database_url_comes_from_the_environment_unless_overridden(
    make_app, monkeypatch, tmp_path
):
    monkeypatch.setenv("WMS_DATABASE_URL", f"sqlite:///{tmp_path / 'from-env.sqlite3'}")

    from_env = make_app()
    overridden = make_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'override.sqlite3'}"})

    assert database(from_env).engine.url.database == str(tmp_path / "from-env.sqlite3")
    assert database(overridden).engine.url.database == str(tmp_path / "override.sqlite3")


def test_without_a_database_url_the_database_is_a_sqlite_file_in_the_instance_folder(
    make_app, tmp_path
):
    instance = tmp_path / "instance"
    app = make_app(instance=instance)

    database(app).ping()

    engine = database(app).engine
    assert engine.dialect.name == "sqlite"
    assert Path(engine.url.database).parent == instance
    assert Path(engine.url.database).is_file()


# --- the secret key -------------------------------------------------------------------------


def test_without_a_secret_key_one_is_generated_once_and_kept_private(make_app, tmp_path):
    first = make_app()
    second = make_app()

    key_file = tmp_path / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert key_file.read_text().strip() == first.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_each_instance_generates_its_own_secret_key(make_app, tmp_path):
    one = make_app(instance=tmp_path / "one")
    other = make_app(instance=tmp_path / "other")

    assert one.config["SECRET_KEY"] != other.config["SECRET_KEY"]


def test_a_secret_key_from_the_environment_is_used_and_nothing_is_written(
    make_app, monkeypatch, tmp_path
):
    monkeypatch.setenv("WMS_SECRET_KEY", "from-the-environment")

    app = make_app()

    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


# --- profiles -------------------------------------------------------------------------------


def test_an_unknown_profile_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("WMS_PROFILE", "production-ish")

    with pytest.raises(ConfigError, match="production-ish"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_the_testing_profile_needs_no_secret_on_disk(make_app, monkeypatch, tmp_path):
    monkeypatch.setenv("WMS_PROFILE", "testing")

    app = make_app()

    assert app.config["TESTING"] is True
    assert not (tmp_path / "secret_key").exists()


# --- import time ----------------------------------------------------------------------------


@pytest.mark.slow
def test_importing_the_modules_builds_no_app_and_no_engine(tmp_path):
    # Any engine or app built at import time would hit the refusals below; the settings are
    # unusable too, so reading them at import time would fail as well.
    script = textwrap.dedent(
        """
        import flask, sqlalchemy, sqlalchemy.engine

        def refuse(what):
            def built(*args, **kwargs):
                raise SystemExit(f"{what} built at import time")
            return built

        sqlalchemy.create_engine = sqlalchemy.engine.create_engine = refuse("an engine")
        flask.Flask.__init__ = refuse("a Flask app")

        import wms.app, wms.models, wms.cli, wms.db, wms.check, wms.migrate
        import api, console, scanners
        """
    )
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WMS_")},
        "WMS_DATABASE_URL": "not a url",
        "WMS_PROFILE": "no-such-profile",
        "WMS_INSTANCE_PATH": "/proc/nope",
    }

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr


def test_forwarded_headers_count_only_behind_the_proxies_we_were_told_of(make_app):
    def seen(app: Flask) -> dict[str, str]:
        @app.get("/_test/client")
        def client() -> dict[str, str]:
            from flask import request

            return {
                "addr": request.remote_addr or "",
                "scheme": request.scheme,
                "host": request.host,
            }

        headers = {
            "X-Forwarded-For": "10.1.2.3",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "wms.example.nl",
        }
        return app.test_client().get("/_test/client", headers=headers).json

    direct = seen(make_app())
    assert direct == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost"}
    behind_nginx = seen(make_app({"PROXIES": 1}))
    assert behind_nginx == {"addr": "10.1.2.3", "scheme": "https", "host": "wms.example.nl"}


@pytest.mark.parametrize("bad", [-1, 6, "one", True])
def test_a_bad_proxy_count_is_one_clear_error(make_app, bad):
    with pytest.raises(ConfigError, match="WMS_PROXIES"):
        make_app({"PROXIES": bad})

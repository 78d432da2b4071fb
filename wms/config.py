"""Configuration: defaults, then ``WMS_*`` environment variables, then explicit overrides."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from wms.errors import ConfigError

#: Profiles select a block of defaults; ``WMS_PROFILE`` or the ``PROFILE`` override picks one.
PROFILES: dict[str, dict[str, Any]] = {
    "default": {
        "TESTING": False,
        "SQLITE_BUSY_TIMEOUT_MS": 5000,
        "SQL_ECHO": False,
    },
    "testing": {
        "TESTING": True,
        "SQLITE_BUSY_TIMEOUT_MS": 5000,
        "SQL_ECHO": False,
        # Tests must not depend on a secret kept on disk between runs.
        "SECRET_KEY": "testing-secret-key-not-for-production",
        # Suites sign in and call the carrier API far faster than people do; the tests of
        # the budgets set their own.
        "SIGN_IN_RATE_LIMIT": "100000 per minute",
        "CARRIER_RATE_LIMIT": "100000 per minute",
    },
}

#: Session cookies and CSRF tokens. Cookies are never readable by scripts nor sent on
#: cross-site posts; Secure (HTTPS only) when `wms serve --cert` serves HTTPS or
#: WMS_SESSION_COOKIE_SECURE=true is set behind a TLS-terminating proxy.
COOKIES: dict[str, Any] = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # A CSRF token lives as long as its session: a handheld page open for a whole shift must
    # still sign out or lock (Flask-WTF's default is one hour).
    "WTF_CSRF_TIME_LIMIT": None,
    # No request body larger than this is read at all (413): the CSV importer's 5 MB and
    # any upload are checked after the body is in, so the server needs a ceiling of its own.
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
}

DEFAULT_SQLITE_NAME = "wms.sqlite3"
SECRET_KEY_FILE = "secret_key"


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Fill ``app.config``: profile defaults → ``WMS_*`` environment → overrides."""
    overrides = dict(overrides or {})
    profile = overrides.get("PROFILE") or os.environ.get("WMS_PROFILE", "default")
    if profile not in PROFILES:
        raise ConfigError(
            f"WMS_PROFILE={profile!r} is not a known profile (choose from {', '.join(PROFILES)})"
        )
    app.config["PROFILE"] = profile
    app.config.from_mapping(COOKIES)
    app.config.from_mapping(PROFILES[profile])
    app.config.from_prefixed_env("WMS")
    app.config.from_mapping(overrides)

    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)


def default_database_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return f"sqlite:///{Path(instance_path) / DEFAULT_SQLITE_NAME}"


def instance_secret_key(instance_path: str) -> str:
    """Read the instance's secret key, generating and keeping one on first use."""
    folder = Path(instance_path)
    path = folder / SECRET_KEY_FILE
    try:
        if path.exists():
            key = path.read_text(encoding="utf-8").strip()
            if key:
                return key
        folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Create with owner-only permissions; never world-readable.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        return key
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the secret key in {path}: {exc.strerror}; set WMS_SECRET_KEY instead"
        ) from exc

"""Serve the demo network on localhost in a thread, and drive Debian's Chromium at it.

Shared by the browser tests (``tests/browser``) and ``python -m benchmarks.screens``, so both
see the app the same way: a migrated SQLite file holding the small demo network, the app from
``create_app`` on the testing profile, served by werkzeug on a free port of 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import WSGIRequestHandler, make_server

from wms import demo, migrate
from wms.app import create_app
from wms.db import database, make_engine, make_sessions
from wms.db import transaction as db_transaction

#: The app's secret key; badges are stored as HMACs under it, so the load and the app share it.
SECRET_KEY = "live-server-secret-key-not-for-production"

#: The smallest demo network that has every demo user with a badge (see ``wms.demo``).
DEMO_SIZE = "small"

DEFAULT_CHROMIUM = "/usr/bin/chromium"

#: Chromium flags. Without the background-networking ones Chromium keeps calling Google
#: services, which on a closed network means a flood of failing connections and slow starts.
CHROMIUM_ARGS = (
    "--no-sandbox",  # CI runs as root in a container, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: A handheld scanner: a 360x640 touch screen.
HANDHELD: dict[str, Any] = {
    "viewport": {"width": 360, "height": 640},
    "is_mobile": True,
    "has_touch": True,
    "service_workers": "allow",
}


def chromium_executable() -> str:
    """Where Debian's Chromium is: ``WMS_CHROMIUM`` or /usr/bin/chromium (never a download)."""
    return os.environ.get("WMS_CHROMIUM") or DEFAULT_CHROMIUM


def launch_options(executable: str) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``: headless, the flags above."""
    return {"executable_path": executable, "headless": True, "args": list(CHROMIUM_ARGS)}


def type_scan(page: Any, text: str, *, delay_ms: float = 5) -> None:
    """Type a barcode as a keyboard-wedge scanner does: into whatever has focus, then Enter.

    ``delay_ms`` between keys; 0 types them as fast as the browser takes them (each still a
    key event), which is what the benchmark uses to keep a run of thousands of scans short.
    """
    page.keyboard.type(text, delay=delay_ms)
    page.keyboard.press("Enter")


# --- the database ---------------------------------------------------------------------------


def load_demo_database(
    path: Path, *, size: str = DEMO_SIZE, seed: int = 1, day: dt.date | None = None
) -> str:
    """Migrate a new SQLite file and load the demo network into it (as `wms demo load`)."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        plan = demo.build(demo.SIZES[size], seed=seed, day=day)
        with make_sessions(engine).begin() as session:
            demo.write(session, plan, secret_key=SECRET_KEY)
    finally:
        # The last connection closing checkpoints the WAL into the file, so it can be copied.
        engine.dispose()
    return url


def copy_database(source: Path, target: Path) -> str:
    """Copy a SQLite database file (with SQLite's backup, safe under WAL); return its URL."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return f"sqlite:///{target}"


# --- the server -----------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """Log only failed requests: a benchmark makes thousands, and tests read the failures."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)


@dataclass(frozen=True)
class LiveServer:
    """The app served on localhost: its base URL, the app, and sessions on its database."""

    url: str
    app: Flask
    database_url: str

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Session]:
        """One unit of work on the served database (commits at the end), inside the app."""
        with self.app.app_context(), db_transaction(readonly=readonly) as session:
            yield session


@contextmanager
def serve(database_url: str, instance_path: Path, **config: Any) -> Iterator[LiveServer]:
    """Serve the app on a free port of 127.0.0.1 in a daemon thread until the block ends."""
    app = create_app(
        {
            "PROFILE": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance_path),
            "SECRET_KEY": SECRET_KEY,
            **config,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, database_url)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        engine = database(app).engine
        if engine is not None:
            engine.dispose()


@contextmanager
def serve_demo(folder: Path, **config: Any) -> Iterator[LiveServer]:
    """Load the demo network into a new SQLite file in folder and serve it."""
    folder.mkdir(parents=True, exist_ok=True)
    url = load_demo_database(folder / "wms.sqlite3")
    with serve(url, folder / "instance", **config) as live:
        yield live

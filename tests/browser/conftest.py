"""Real-browser tests of the pages: Playwright driving Debian's Chromium at a live server.

Fixtures:

``browser`` (session)
    One headless Chromium (``/usr/bin/chromium``, or ``WMS_CHROMIUM``). Without it the tests
    skip, saying how to install it; with ``WMS_REQUIRE_BROWSER=1`` (CI) they fail instead.
``live_server`` (module)
    The app serving the small demo network on ``live_server.url`` (http://127.0.0.1:PORT).
    The network is loaded once per run into a template file; each test module gets its own
    copy, so a module's tests share data (and see each other's scans) while modules do not.
    ``live_server.app`` is the Flask app; ``with live_server.transaction() as session:`` is
    one committed unit of work on the served database, to seed or inspect rows.
``page`` (function)
    A page in a new browser context per test: a 360x640 touch handheld, ``base_url`` set to
    the live server (``page.goto("/scanners/")``), service workers allowed.

Helpers for the tests are in ``tests/browser/handheld.py``: ``type_scan(page, text)`` and
``serious_violations(page)``. Every test here is marked ``browser``; none is marked ``db``
(the database is always a SQLite file), so the SQLite ``-m db`` run in CI leaves them out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from benchmarks._live import (
    HANDHELD,
    LiveServer,
    chromium_executable,
    copy_database,
    launch_options,
    load_demo_database,
    serve,
)

HERE = Path(__file__).resolve().parent

NO_BROWSER = "no browser: install Debian's chromium (apt-get install chromium)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Hooks in a conftest see every collected item of the run: mark only the ones in here.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    """The Chromium to drive; skips the test when there is none (fails when CI requires one)."""
    path = chromium_executable()
    if not os.access(path, os.X_OK):
        reason = f"{NO_BROWSER}; {path} is missing"
        if os.environ.get("WMS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(**launch_options(executable))
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def demo_database_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo network, migrated and loaded once per run (copied for each module)."""
    path = tmp_path_factory.mktemp("live-template") / "demo.sqlite3"
    load_demo_database(path)
    return path


@pytest.fixture(scope="module")
def live_server(
    demo_database_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app on localhost, serving this module's own copy of the demo network."""
    folder = tmp_path_factory.mktemp("live")
    url = copy_database(demo_database_file, folder / "wms.sqlite3")
    with serve(url, folder / "instance") as live:
        yield live


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh handheld (new context: no cookies, no storage) on the live server."""
    context = browser.new_context(base_url=live_server.url, **HANDHELD)
    try:
        yield context.new_page()
    finally:
        context.close()

"""The planner console's jobs in a real browser, with a real `wms scheduler` process leading:
a planner signs in, pauses a job, runs it now, and sees the run appear with its summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

JOB = "replenish:FW01"


@pytest.fixture(scope="module")
def scheduler(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`wms scheduler` on the live server's database (its own instance folder)."""
    folder = tmp_path_factory.mktemp("scheduler")
    log = folder / "scheduler.log"
    env = {
        **os.environ,
        "WMS_DATABASE_URL": live_server.database_url,
        "WMS_INSTANCE_PATH": str(folder / "instance"),
        "WMS_SCHEDULER_HEARTBEAT_S": "2",
        "WMS_SCHEDULER_POLL_S": "0.5",
        "WMS_SCHEDULER_COMMAND_POLL_S": "0.3",
    }
    with log.open("w") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name("wms")), "scheduler"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "leading" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the scheduler did not start leading"
            time.sleep(0.2)
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def desk(browser: Any, live_server: Any) -> Iterator[Any]:
    """A planner's desktop browser (new context: no cookies)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/console/jobs")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def reload_until(page: Any, text: str, locator: str = "main", timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    found = page.locator(locator)
    while not (found.count() and text in found.first.inner_text()):
        assert time.monotonic() < deadline, f"{text!r} did not appear: {page.inner_text('main')}"
        time.sleep(0.3)
        page.reload()


def test_a_planner_pauses_a_job_runs_it_now_and_sees_the_run(desk, scheduler):
    sign_in(desk, "planner", "planner")
    assert desk.get_by_role("heading", level=1).inner_text() == "Scheduled jobs"
    row = f"#job-{JOB.replace(':', '-')}"
    reload_until(desk, "", row)  # the row is there
    desk.locator(row).get_by_role("button", name=f"Pause: {JOB}").click()
    assert "Pause of replenish:FW01 asked" in desk.locator("main").inner_text()
    reload_until(desk, "paused", row)
    assert "none while paused" in desk.locator(row).inner_text()

    desk.goto(f"/console/jobs/{JOB}")
    desk.get_by_role("button", name=f"Run now: {JOB}").click()
    desk.get_by_role("button", name=f"Run now: {JOB}").click()  # a second click while in flight
    reload_until(desk, "succeeded", "[data-run]")
    runs = desk.locator("[data-run]")
    assert runs.count() == 1  # one run for the two clicks
    text = runs.first.inner_text()
    assert "replenish:FW01" in text and "user:" in text
    assert "task" in text  # its summary: the replenishment tasks it made (or none needed)
    assert "paused" in desk.locator("main").inner_text()  # run now did not resume it


def test_a_bad_cron_is_shown_on_the_form(desk):
    sign_in(desk, "planner", "planner")
    desk.goto("/console/jobs/release-waves:FW01")
    desk.get_by_label("or cron (minute hour day month weekday)").fill("*/10 25 * * *")
    desk.get_by_role("button", name="Save schedule").click()
    assert "not a valid cron expression" in desk.get_by_role("alert").inner_text()
    assert (
        desk.get_by_label("or cron (minute hour day month weekday)").input_value()
        == "*/10 25 * * *"
    )


def test_floor_staff_cannot_use_the_console(desk):
    sign_in(desk, "associate", "associate")
    assert "the console is for planners and admins" in desk.get_by_role("alert").inner_text()
    assert desk.url.endswith("/console/login?next=/console/jobs")

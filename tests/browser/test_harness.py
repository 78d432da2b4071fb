"""The harness itself: the served app answers a real browser, and the axe check runs."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from benchmarks import screens
from tests.browser.handheld import serious_violations
from wms.models import User


def test_the_live_server_answers_a_handheld_with_the_landing_page(page, live_server):
    health = page.goto("/healthz")
    assert health is not None and health.status == 200
    assert json.loads(page.inner_text("body")) == {"status": "ok", "database": "ok"}

    landing = page.goto("/")
    assert landing is not None and landing.status == 200
    assert page.viewport_size == {"width": 360, "height": 640}
    assert page.get_by_role("heading", level=1).inner_text() == "Front-warehouse network"
    # The demo network is loaded: the figures show instead of the "empty database" notice.
    assert page.locator('[data-count="front_warehouses"]').inner_text() == "3"


def test_the_live_server_database_holds_the_demo_users(live_server):
    with live_server.transaction(readonly=True) as session:
        badges = session.scalar(select(func.count()).where(User.badge_hmac.is_not(None)))
    assert badges and badges >= 2


def test_the_landing_page_has_no_serious_accessibility_violations(page):
    page.goto("/")
    assert serious_violations(page) == []


def test_the_accessibility_check_reports_what_a_handheld_user_could_not_use(page):
    # A control without a name is "critical" in axe-core: the check must see it, or it
    # would pass every page unseen.
    page.set_content('<html lang="en"><title>t</title><main><button></button></main></html>')
    assert [line.split(" ")[0] for line in serious_violations(page)] == ["button-name"]


IN_PAGE_SCANS = """<!doctype html><html lang="en"><title>scan</title>
<body data-scans="0"><input id="scan" autofocus aria-label="Scan">
<script>
  const field = document.getElementById("scan");
  field.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const code = field.value;
    field.value = "";
    setTimeout(() => {
      document.body.dataset.feedback = code.startsWith("OK") ? "ok" : "error";
      document.body.dataset.scans = Number(document.body.dataset.scans) + 1;
    }, 40);
  });
</script></body></html>"""

RELOADING_SCANS = """<!doctype html><html lang="en"><title>scan</title>
<body data-scans="0"><form><input id="scan" name="code" autofocus aria-label="Scan"></form>
<script>
  if (location.search) {
    document.body.dataset.feedback = "ok";
    document.body.dataset.scans = "1";
  }
</script></body></html>"""


def serve_at(page, path: str, html: str) -> str:
    """Answer path on the live server's origin with html (the clock needs an http origin)."""
    page.route(f"**{path}*", lambda route: route.fulfill(body=html, content_type="text/html"))
    return path


def test_the_scan_clock_times_each_scan_from_enter_to_the_page_feedback(page):
    page.goto(serve_at(page, "/bench/in-page", IN_PAGE_SCANS))
    notes: list[str] = []

    scans = screens.measure_scans(page, ["OK-1", "BAD-2"], 6, notes)

    assert notes == []
    assert [s.feedback for s in scans] == ["ok", "error"] * 3
    assert {s.timing for s in scans} == {"in page"}
    # The page answers 40 ms after Enter; typing the barcode before it is not counted.
    assert all(40 <= s.ms < 250 for s in scans), [s.ms for s in scans]


def test_the_scan_clock_times_a_page_that_reloads_to_answer(page):
    page.goto(serve_at(page, "/bench/reloading", RELOADING_SCANS))
    notes: list[str] = []

    scans = screens.measure_scans(page, ["4000000000001"], 4, notes)

    assert notes == []
    assert [(s.feedback, s.timing) for s in scans] == [("ok", "page reload")] * 4
    assert all(0 < s.ms < 2000 for s in scans), [s.ms for s in scans]


def test_the_scan_clock_stops_with_a_reason_when_the_page_gives_no_feedback(page):
    page.goto(serve_at(page, "/bench/silent", '<html lang="en"><body><input id="scan" autofocus>'))
    notes: list[str] = []

    assert screens.measure_scans(page, ["X"], 3, notes, timeout_ms=300) == []
    assert len(notes) == 1 and "data-scans" in notes[0] and "focus on #scan" in notes[0]

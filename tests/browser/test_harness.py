"""The harness itself: the served app answers a real browser, and the axe check runs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from benchmarks import screens
from tests.browser.handheld import serious_violations
from wms.demo_shift import replenishment_task, start_shift
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


# Stand-ins for the scanner pages, with their contract: <body data-ready="1"> once the page
# takes scans, <body data-scans> counted up and data-feedback set once it has handled one.
IN_PAGE_SCANS = """<!doctype html><html lang="en"><title>scan</title>
<body data-scans="0" data-ready="1"><input id="scan" autofocus aria-label="Scan">
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
  document.body.dataset.ready = "1";
</script></body></html>"""

SILENT = '<html lang="en"><body data-ready="1"><input id="scan" autofocus>'


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
    page.goto(serve_at(page, "/bench/silent", SILENT))
    notes: list[str] = []

    assert screens.measure_scans(page, ["X"], 3, notes, timeout_ms=300) == []
    assert len(notes) == 1 and "data-scans" in notes[0] and "focus on #scan" in notes[0]


def test_the_scan_clock_waits_for_the_page_to_take_scans(page):
    page.goto(serve_at(page, "/bench/not-ready", SILENT.replace(' data-ready="1"', "")))
    notes: list[str] = []

    assert screens.measure_scans(page, ["X"], 3, notes, timeout_ms=300) == []
    assert len(notes) == 1 and "did not set <body data-ready>" in notes[0]


def test_a_scan_answered_otherwise_than_the_flow_expects_ends_its_row(page):
    page.goto(serve_at(page, "/bench/in-page", IN_PAGE_SCANS))
    screens.start_clock(page)
    row = screens.Row("look-up")
    notes: list[str] = []

    screens.attempt(
        notes,
        row.name,
        lambda: screens.scan_cycle(page, row, ["OK-1", "BAD-2", "OK-3"], 3, notes, expect="ok"),
    )

    # The wrong answer is kept (it counts in the error column), and nothing after it is timed.
    assert [(s.expected, s.feedback) for s in row.scans] == [("ok", "ok"), ("ok", "error")]
    assert notes == [
        "look-up: scan 2 (BAD-2): expected ok, the page answered error; stopped measuring"
    ]


@pytest.fixture
def signed_in(page):
    page.goto("/scanners/login")
    assert screens.sign_in(page, screens.BADGE) == f"signed in with badge {screens.BADGE}"
    assert screens.choose_site(page, screens.SITE)
    screens.start_clock(page)
    return page


def test_the_pick_flow_walks_a_list_a_shift_and_times_a_wrong_slot(signed_in, live_server):
    with live_server.transaction() as session:
        shifts = [start_shift(session, site=screens.SITE) for _ in range(3)]
        wrong_slot = replenishment_task(session, site=screens.SITE).from_slot
    row = screens.Row(screens.PICK)
    walked: list[str] = []
    notes: list[str] = []

    screens.walk_pick_lists(
        signed_in,
        row,
        shifts,
        wrong_slot,
        9,
        notes,
        walked=walked,
        list_done=lambda number: screens.pick_list_done(live_server, number),
    )

    # Two lists of one task: slot, item, quantity, tote each; the second starts with the
    # wrong slot, acknowledged before the right one is scanned.
    first, second = (shift.picks[0] for shift in shifts[:2])
    assert [s.barcode for s in row.scans] == [
        *(first[0], first[1], str(first[2]), first[3]),
        *(wrong_slot, second[0], second[1], str(second[2]), second[3]),
    ]
    assert [s.feedback for s in row.scans] == ["ok"] * 4 + ["error"] + ["ok"] * 4
    assert all(s.expected == s.feedback and s.timing == "in page" for s in row.scans)
    assert len(walked) == 2 and all("stopped" not in note for note in notes), notes
    seconds = screens.until(lambda: screens.all_picked(live_server, walked), timeout_s=10)
    assert seconds is not None  # the server has what the page's outbox sent


def test_the_receive_flow_times_item_and_quantity_scans_apart(signed_in, live_server):
    with live_server.transaction() as session:
        shift = start_shift(session, site=screens.SITE)
    items, quantities = screens.Row(screens.RECEIVE_ITEM), screens.Row(screens.RECEIVE_QUANTITY)
    notes: list[str] = []

    screens.receive_cartons(signed_in, items, quantities, shift, 3, notes)

    assert [s.barcode for s in items.scans] == [screens.carton_code(shift)] * 3
    assert [s.barcode for s in quantities.scans] == ["1"] * 3
    assert {s.feedback for s in items.scans + quantities.scans} == {"ok"}
    assert notes == []
    seconds = screens.until(lambda: screens.units_received(live_server, shift.receipt_id) == 3)
    assert seconds is not None  # the server has what the page's outbox sent

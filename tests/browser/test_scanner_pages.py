"""The handheld pages in a real Chromium at 360x640, scanned into as a keyboard wedge does.

Each test starts a shift of its own at FW01 of the demo network (a receipt due, a released
wave) and checks, in the served database, what the scans changed — or that they changed
nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.browser.handheld import serious_violations, type_scan
from wms import tasks
from wms.demo_shift import Shift, replenishment_task, start_shift
from wms.models import (
    Movement,
    MovementKind,
    Order,
    Package,
    PackageStatus,
    PickTask,
    PickTaskStatus,
    ReceiptLine,
    ScanEvent,
    StockCount,
    Task,
    TaskKind,
    TaskStatus,
)

ASSOCIATE_BADGE = "B-1001"
SUPERVISOR_BADGE, SUPERVISOR_PIN = "B-2001", "2468"


@pytest.fixture
def shift(live_server: Any) -> Shift:
    with live_server.transaction() as session:
        return start_shift(session)


def at(page: Any, path: str) -> None:
    """Wait until the page shows path (query strings aside)."""
    page.wait_for_url(lambda url: urlsplit(url).path == path)


def open_page(page: Any, path: str) -> None:
    """Go to a scanner page and wait until its script takes scans."""
    page.goto(path)
    ready(page)


def ready(page: Any) -> None:
    page.wait_for_function("document.body.dataset.ready === '1'")


def take_pick_list(page: Any) -> list[dict[str, Any]]:
    """On the pick page: the user's list in progress, or the next one taken; its open tasks.

    Earlier tests of the module leave released waves behind, so the list taken is not always
    the one this test's shift released: the tests work whatever list they are given.
    """
    open_page(page, "/scanners/pick")
    if page.locator("#progress").count() == 0:
        page.get_by_role("button", name="Take next pick list").click()
        page.locator("#progress").wait_for()
        ready(page)
    pick_list = page.evaluate("JSON.parse(document.getElementById('page-data').textContent)")
    return [t for t in pick_list["pickList"]["tasks"] if t["status"] == "open"]


def feedback(page: Any, scans: int) -> str:
    """Wait for the page's answer to its n-th scan: "ok" or "error"."""
    page.wait_for_function(f"Number(document.body.dataset.scans) >= {scans}")
    return str(page.evaluate("document.body.dataset.feedback"))


def sign_in(page: Any, badge: str = ASSOCIATE_BADGE, pin: str | None = None) -> None:
    """Scan the badge (and type the PIN), then choose FW01."""
    open_page(page, "/scanners/")
    type_scan(page, badge)
    if pin is not None:
        page.get_by_label("PIN").wait_for()
        ready(page)
        type_scan(page, pin)
    at(page, "/scanners/")
    page.get_by_role("button", name="FW01").click()
    page.get_by_role("link", name="Receive Receipt, then items").wait_for()


def gs1(shift: Shift, separator: str = "~") -> str:
    """The GS1-128 carton code of the received item: GTIN, expiry, lot (variable, then GS)."""
    yymmdd = shift.received_expiry.strftime("%y%m%d")
    return f"01{int(shift.received_gtin):014d}10{shift.received_lot}{separator}17{yymmdd}"


def test_badge_signs_in_and_supervisors_add_their_pin(page: Any) -> None:
    open_page(page, "/scanners/pick")
    assert "/scanners/login" in page.url
    type_scan(page, "B-NOBODY")
    page.get_by_text("this badge is not known here").wait_for()
    ready(page)

    type_scan(page, SUPERVISOR_BADGE)
    page.get_by_label("PIN").wait_for()
    ready(page)
    type_scan(page, "0000")
    page.get_by_text("wrong PIN").wait_for()
    ready(page)
    type_scan(page, SUPERVISOR_PIN)
    # Signed in; a supervisor of several sites chooses one before the pick page opens.
    at(page, "/scanners/")
    assert "Sam Supervisor" in page.locator("header").inner_text()


def test_a_shift_receive_put_away_pick_pack_count(
    page: Any, live_server: Any, shift: Shift
) -> None:
    sign_in(page)
    received = 4

    # Receive: the receipt's number, then the carton's GS1 code (lot and expiry fill in).
    page.get_by_role("link", name="Receive Receipt, then items").click()
    ready(page)
    type_scan(page, shift.receipt_number)
    page.wait_for_url("**receipt=*")
    ready(page)
    type_scan(page, gs1(shift))
    assert feedback(page, 1) == "ok"
    card = page.locator("#card").inner_text()
    assert shift.received_sku in card and shift.received_lot in card
    assert shift.received_expiry.isoformat() in card
    type_scan(page, str(received))
    assert feedback(page, 2) == "ok"
    page.locator("#list .state.sent").wait_for()
    # Under-receipt is visible: 6 expected, 4 received.
    assert "-2 under" in page.locator("#receipt-lines").inner_text()
    page.get_by_role("button", name="Close receipt").click()
    page.get_by_text(f"{shift.receipt_number} closed").wait_for()

    # Put away: scan the item at the dock, see the slot, scan it.
    page.get_by_role("link", name="Put away now").click()
    ready(page)
    type_scan(page, shift.received_gtin)
    assert feedback(page, 1) == "ok"
    suggested = page.locator("#suggested").inner_text()
    type_scan(page, suggested)
    page.locator("#list .state.sent").wait_for()

    # Pick: take a released wave's list and walk it.
    picks = take_pick_list(page)
    scans = 0
    for task in picks:
        for value in (task["slot"], task["barcodes"][0], str(task["quantity"]), task["tote"]):
            type_scan(page, value)
            scans += 1
            assert feedback(page, scans) == "ok", page.locator("#banner-text").inner_text()
    page.get_by_text(" picked. Take the totes to packing.").wait_for()
    page.locator("#list .state.sent").first.wait_for()

    # Pack: the tote, its item, the suggested quantity, close for an SSCC and a label.
    open_page(page, "/scanners/pack")
    first = picks[0]
    gtin, quantity, tote, order_number = (
        first["barcodes"][0],
        first["quantity"],
        first["tote"],
        first["order"],
    )
    type_scan(page, tote)
    assert feedback(page, 1) == "ok", page.locator("#banner-text").inner_text()
    type_scan(page, gtin)
    assert feedback(page, 2) == "ok"
    type_scan(page, "CMD:CONFIRM")
    assert feedback(page, 3) == "ok"
    page.locator("#list .state.sent").wait_for()
    page.get_by_role("button", name="Close package").click()
    page.get_by_text("SSCC").wait_for()
    label = page.get_by_role("link", name="Print label (PDF)").get_attribute("href")
    assert label is not None
    assert page.request.get(label).headers["content-type"] == "application/pdf"

    # Count the pick face blind: no expected figure is ever shown.
    open_page(page, "/scanners/count")
    type_scan(page, first["slot"])
    assert feedback(page, 1) == "ok"
    type_scan(page, gtin)
    assert feedback(page, 2) == "ok"
    type_scan(page, "7")
    assert feedback(page, 3) == "ok"
    page.get_by_role("button", name="Submit count").click()
    page.locator("#list .state.sent").wait_for()

    with live_server.transaction(readonly=True) as session:
        line = session.scalars(
            select(ReceiptLine).where(ReceiptLine.receipt_id == shift.receipt_id)
        ).one()
        assert (line.received_qty, line.lot, line.expiry) == (
            received,
            shift.received_lot,
            shift.received_expiry,
        )
        putaway = session.scalars(
            select(Task).where(Task.kind == TaskKind.PUTAWAY, Task.item_id == line.item_id)
        ).all()
        assert [(t.status, t.done_qty, t.done_slot.barcode) for t in putaway] == [
            (TaskStatus.DONE, received, suggested)
        ]
        picked = session.scalars(
            select(PickTask).join(Order).where(Order.number == order_number)
        ).all()
        assert [(t.status, t.picked_qty) for t in picked] == [(PickTaskStatus.PICKED, quantity)]
        package = session.scalars(
            select(Package).where(Package.order_id == picked[0].order_id)
        ).one()
        assert package.status is PackageStatus.CLOSED and package.sscc
        count = session.scalars(
            select(StockCount).where(StockCount.slot_id == picked[0].slot_id)
        ).one()
        assert [(c.counted_qty) for c in count.lines] == [7]
        steps = set(session.scalars(select(ScanEvent.step).where(ScanEvent.result == "ok")))
        assert {"receive:item", "putaway:slot", "pick:tote", "pack:tote", "count:slot"} <= steps


def test_a_wrong_scan_shows_the_banner_and_changes_nothing(
    page: Any, live_server: Any, shift: Shift
) -> None:
    sign_in(page)
    task = take_pick_list(page)[0]
    slot = task["slot"]

    type_scan(page, slot)
    assert feedback(page, 1) == "ok"
    type_scan(page, shift.received_gtin)  # another item than the task's
    assert feedback(page, 2) == "error"
    banner = page.get_by_role("alert")
    assert banner.is_visible()
    assert f"scanned {shift.received_gtin}" in banner.inner_text()
    assert "Expected item" in banner.inner_text()

    # Until it is acknowledged, further scans only repeat the error.
    type_scan(page, "2")
    assert feedback(page, 3) == "error"
    type_scan(page, "CMD:OK")
    page.wait_for_function("document.getElementById('banner').hidden")
    assert page.evaluate("document.activeElement.id") == "scan"

    # The scans themselves are kept, the wrong one as an error.
    page.wait_for_function("window.wmsHandheld.all().then(rows => rows.length === 0)")
    with live_server.transaction(readonly=True) as session:
        tasks = session.scalars(select(PickTask).where(PickTask.id == task["id"]))
        assert [(t.status, t.picked_qty) for t in tasks] == [(PickTaskStatus.OPEN, 0)]
        wrong = session.scalars(
            select(ScanEvent.raw).where(ScanEvent.result == "error", ScanEvent.step == "pick:item")
        ).all()
        assert shift.received_gtin in wrong


def test_offline_confirmations_are_kept_and_delivered_exactly_once(
    page: Any, live_server: Any, shift: Shift
) -> None:
    sign_in(page)
    open_page(page, f"/scanners/receive?receipt={shift.receipt_id}")
    # The service worker takes over on the next load, which it keeps for offline use.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    ready(page)
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    confirmations = 20
    for n in range(confirmations):
        type_scan(page, gs1(shift))
        assert feedback(page, 2 * n + 1) == "ok"
        type_scan(page, "1")
        assert feedback(page, 2 * n + 2) == "ok"
    page.get_by_text(f"queued: {confirmations}").wait_for()
    assert page.locator("#list .state.sent").count() == 0  # queued is never shown as done

    page.reload()  # offline: the service worker answers, the outbox survives
    ready(page)
    page.get_by_text(f"queued: {confirmations}").wait_for()
    with live_server.transaction(readonly=True) as session:
        assert _receipt_movements(session, shift) == 0

    page.context.set_offline(False)
    page.get_by_text("queued: 0").wait_for(timeout=30_000)
    page.wait_for_function("window.wmsHandheld.all().then(rows => rows.length === 0)")
    page.wait_for_function(
        f"document.querySelectorAll('#list .state.sent').length === {confirmations}"
    )
    with live_server.transaction(readonly=True) as session:
        assert _receipt_movements(session, shift) == confirmations
        line = session.scalars(
            select(ReceiptLine).where(ReceiptLine.receipt_id == shift.receipt_id)
        ).one()
        assert line.received_qty == confirmations


def _receipt_movements(session: Any, shift: Shift) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Movement)
            .where(
                Movement.kind == MovementKind.RECEIPT,
                Movement.reference == f"receipt:{shift.receipt_id}",
            )
        )
    )


def test_lock_and_switch_user(page: Any) -> None:
    sign_in(page)
    open_page(page, "/scanners/count")
    page.get_by_role("button", name="Lock").click()
    page.get_by_role("heading", name="Locked — scan your badge").wait_for()
    open_page(page, "/scanners/count")
    assert "/scanners/login" in page.url  # locked pages stay locked
    type_scan(page, ASSOCIATE_BADGE)
    at(page, "/scanners/count")

    page.get_by_role("link", name="Switch user").click()
    ready(page)
    type_scan(page, SUPERVISOR_BADGE)
    page.get_by_label("PIN").wait_for()
    ready(page)
    type_scan(page, SUPERVISOR_PIN)
    at(page, "/scanners/")
    assert "Sam Supervisor" in page.locator("header").inner_text()


PAGES = (
    "/scanners/login",
    "/scanners/",
    "/scanners/receive",
    "/scanners/putaway",
    "/scanners/tasks",
    "/scanners/pick",
    "/scanners/pack",
    "/scanners/move",
    "/scanners/count",
    "/scanners/lookup",
    "/scanners/labels",
    "/scanners/commands",
)


def test_pages_have_no_serious_accessibility_violations(page: Any, shift: Shift) -> None:
    page.goto(PAGES[0])
    found = {PAGES[0]: serious_violations(page)}
    sign_in(page)
    for path in PAGES[1:]:
        page.goto(path)
        found[path] = serious_violations(page)
    open_page(page, f"/scanners/receive?receipt={shift.receipt_id}")
    found["receive with a receipt"] = serious_violations(page)
    open_page(page, f"/scanners/lookup?code={shift.picks[0][0]}")
    found["lookup of a slot"] = serious_violations(page)
    assert {path: v for path, v in found.items() if v} == {}


SMALL_TEXT = """() => [...document.querySelectorAll('main *, header *, footer *')]
    .filter(e => e.offsetParent !== null && !e.closest('svg'))
    .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
    .map(e => [e.textContent.trim().slice(0, 30), parseFloat(getComputedStyle(e).fontSize)])
    .filter(([, size]) => size < 18)"""


def test_targets_and_text_are_big_enough_for_gloves(page: Any, shift: Shift) -> None:
    sign_in(page)
    assert page.evaluate(SMALL_TEXT) == []  # the menu
    take_pick_list(page)
    assert page.evaluate(SMALL_TEXT) == []
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, a.big, input#scan')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.textContent.trim() || e.id, e.getBoundingClientRect().height,
                       parseFloat(getComputedStyle(e).fontSize)])
            .filter(([, h, f]) => h < 56 || f < 18)"""
    )
    assert small == []
    assert page.evaluate("document.getElementById('scan').inputMode") == "none"


def test_a_replenishment_task_is_worked_on_the_generic_task_page(
    page: Any, live_server: Any
) -> None:
    with live_server.transaction() as session:
        task = replenishment_task(session)
    sign_in(page)
    open_page(page, "/scanners/tasks")
    row = page.locator(f"#waiting li:has-text('{task.from_slot} → {task.to_slot}')")
    if row.get_by_role("button", name="Do this").count():
        row.get_by_role("button", name="Do this").click()
    assert task.from_slot in page.locator("#card").inner_text()

    for n, value in enumerate((task.from_slot, task.gtin, str(task.quantity)), start=1):
        type_scan(page, value)
        assert feedback(page, n) == "ok", page.locator("#banner-text").inner_text()
    type_scan(page, task.from_slot)  # back into the reserve: not where it goes
    assert feedback(page, 4) == "error"
    assert (
        f"Expected slot {task.to_slot}, scanned {task.from_slot}"
        in page.get_by_role("alert").inner_text()
    )
    page.get_by_role("button", name="OK — scan again").click()
    type_scan(page, task.to_slot)
    assert feedback(page, 5) == "ok"
    page.locator("#list .state.sent").wait_for()

    with live_server.transaction(readonly=True) as session:
        done = session.get(Task, task.task_id)
        assert done is not None
        assert (done.status, done.done_qty, done.done_slot_id) == (
            TaskStatus.DONE,
            task.quantity,
            done.to_slot_id,
        )


def test_move_and_look_up(page: Any, live_server: Any) -> None:
    with live_server.transaction() as session:
        # A replenishment's slots and item, moved by hand instead of by a task.
        task = replenishment_task(session, quantity=1)
        session.delete(session.get(Task, task.task_id))
    sign_in(page)
    open_page(page, "/scanners/move")
    for n, value in enumerate((task.from_slot, task.gtin, "2", task.to_slot), start=1):
        type_scan(page, value)
        assert feedback(page, n) == "ok", page.locator("#banner-text").inner_text()
    page.locator("#list .state.sent").wait_for()

    open_page(page, "/scanners/lookup")
    type_scan(page, task.gtin)
    page.get_by_role("heading", name=task.sku).wait_for()
    slots = page.locator("table.lines").inner_text()
    assert task.from_slot in slots and task.to_slot in slots
    ready(page)
    type_scan(page, "NO-SUCH-CODE")
    page.get_by_text("NO-SUCH-CODE: no item has the barcode").wait_for()
    assert page.evaluate("document.body.dataset.feedback") == "error"


def test_a_confirmation_refused_on_replay_waits_for_the_user_to_resolve_it(
    page: Any, live_server: Any
) -> None:
    with live_server.transaction() as session:
        task = replenishment_task(session, quantity=2)
    sign_in(page)
    open_page(page, "/scanners/tasks")
    row = page.locator(f"#waiting li:has-text('{task.from_slot} → {task.to_slot}')")
    if row.get_by_role("button", name="Do this").count():
        row.get_by_role("button", name="Do this").click()

    page.context.set_offline(True)
    for n, value in enumerate((task.from_slot, task.gtin, "2", task.to_slot), start=1):
        type_scan(page, value)
        assert feedback(page, n) == "ok", page.locator("#banner-text").inner_text()
    page.get_by_text("queued: 1").wait_for()
    # Meanwhile a colleague with a working handheld did the same task.
    with live_server.transaction() as session:
        tasks.complete(
            session,
            task.task_id,
            from_slot=task.from_slot,
            item=task.gtin,
            quantity=2,
            to_slot=task.to_slot,
        )
    page.context.set_offline(False)

    page.get_by_role("alert").get_by_text("is done").wait_for(timeout=30_000)
    page.get_by_role("button", name="OK — scan again").click()
    open_page(page, "/scanners/")
    refused = page.locator("#conflicts-list li", has_text=f"{task.sku} {task.from_slot}")
    refused.wait_for()
    assert "is done" in refused.inner_text()
    refused.get_by_role("button", name="Drop").click()
    page.wait_for_function("document.getElementById('conflicts-section').hidden")
    with live_server.transaction(readonly=True) as session:
        moved = session.scalar(
            select(func.count())
            .select_from(Movement)
            .where(Movement.reference == f"task:{task.task_id}", Movement.quantity > 0)
        )
        assert moved == 1  # the colleague's move only


def test_a_wedge_repeating_itself_is_one_scan_and_tab_ends_a_scan(page: Any) -> None:
    sign_in(page)
    open_page(page, "/scanners/move")
    # A wedge that sends the same code twice within a millisecond or two. (Typed through
    # Playwright every key is a round trip to the browser, too slow to make the burst.)
    page.evaluate(
        """() => {
            const field = document.getElementById('scan');
            for (let i = 0; i < 2; i++) {
                field.value = 'X9';
                field.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
            }
        }"""
    )
    assert feedback(page, 1) == "error"
    page.wait_for_timeout(300)
    assert page.evaluate("document.body.dataset.scans") == "1"
    type_scan(page, "CMD:OK")
    page.wait_for_function("document.getElementById('banner').hidden")

    # Wedges set to end with Tab: the focus stays in the scan field and the scan is taken.
    page.keyboard.type("ANOTHER-SLOT", delay=5)
    page.keyboard.press("Tab")
    assert feedback(page, 2) == "error"
    assert page.evaluate("document.activeElement.id") == "scan"


def test_a_pick_confirmed_offline_stays_queued_across_a_reload_until_it_is_sent(
    page: Any, live_server: Any, shift: Shift
) -> None:
    sign_in(page)
    picks = take_pick_list(page)
    page.reload()  # the service worker keeps the page from now on
    ready(page)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    task = picks[0]

    page.context.set_offline(True)
    for n, value in enumerate(
        (task["slot"], task["barcodes"][0], str(task["quantity"]), task["tote"]), start=1
    ):
        type_scan(page, value)
        assert feedback(page, n) == "ok", page.locator("#banner-text").inner_text()
    walk = page.locator("#walk li").first
    walk.get_by_text("queued").wait_for()
    assert "done" not in walk.inner_text()
    page.get_by_text("queued: 1").wait_for()  # in the outbox, not only on screen
    page.reload()
    ready(page)
    walk = page.locator("#walk li").first
    walk.get_by_text("queued").wait_for()  # not open again: nobody picks it twice
    if len(picks) == 1:
        type_scan(page, task["slot"])  # picking it again is refused
        assert feedback(page, 1) == "error"
        assert "queued" in page.get_by_role("alert").inner_text()
        page.get_by_role("button", name="OK — scan again").click()

    page.context.set_offline(False)
    page.locator("#walk li").first.get_by_text("done").wait_for(timeout=30_000)
    with live_server.transaction(readonly=True) as session:
        confirmed = session.get(PickTask, task["id"])
        assert confirmed is not None
        assert (confirmed.status, confirmed.picked_qty) == (PickTaskStatus.PICKED, task["quantity"])


def test_a_package_does_not_close_while_its_lines_are_queued(
    page: Any, live_server: Any, shift: Shift
) -> None:
    sign_in(page)
    picks = take_pick_list(page)
    scans = 0
    for task in picks:
        for value in (task["slot"], task["barcodes"][0], str(task["quantity"]), task["tote"]):
            type_scan(page, value)
            scans += 1
            assert feedback(page, scans) == "ok"
    page.get_by_text(" picked. Take the totes to packing.").wait_for()
    first = picks[0]
    open_page(page, "/scanners/pack")
    type_scan(page, first["tote"])
    assert feedback(page, 1) == "ok", page.locator("#banner-text").inner_text()
    type_scan(page, first["barcodes"][0])
    assert feedback(page, 2) == "ok"

    page.context.set_offline(True)
    type_scan(page, "CMD:CONFIRM")
    assert feedback(page, 3) == "ok"
    page.get_by_text("queued: 1").wait_for()
    page.get_by_role("button", name="Close package").click()
    assert feedback(page, 4) == "error"
    assert "still queued" in page.get_by_role("alert").inner_text()
    page.get_by_role("button", name="OK — scan again").click()

    page.context.set_offline(False)
    page.get_by_text("queued: 0").wait_for(timeout=30_000)
    page.get_by_role("button", name="Close package").click()
    page.get_by_text("SSCC").wait_for()
    with live_server.transaction(readonly=True) as session:
        order = session.scalars(select(Order).where(Order.number == first["order"])).one()
        package = session.scalars(select(Package).where(Package.order_id == order.id)).one()
        assert package.status is PackageStatus.CLOSED
        assert sum(line.quantity for line in package.lines) == first["quantity"]


def test_after_logging_out_the_kept_pages_are_gone(page: Any) -> None:
    sign_in(page)
    open_page(page, "/scanners/tasks")
    page.reload()  # kept by the service worker
    ready(page)
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    open_page(page, "/scanners/")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Scan your badge").wait_for()
    ready(page)
    page.wait_for_timeout(300)  # the sign-in page drops what the worker kept
    page.context.set_offline(True)
    page.goto("/scanners/tasks")

    assert page.get_by_role("heading", name="No network").is_visible()
    assert "Ana Associate" not in page.content()


def test_a_count_left_half_way_carries_on_after_a_reload(page: Any, live_server: Any) -> None:
    with live_server.transaction() as session:
        # A reserve slot and its item (the task itself is not wanted).
        task = replenishment_task(session, quantity=1)
        session.delete(session.get(Task, task.task_id))
    slot, barcode, sku = task.from_slot, task.gtin, task.sku
    sign_in(page)
    open_page(page, "/scanners/count")
    for n, value in enumerate((slot, barcode, "3"), start=1):
        type_scan(page, value)
        assert feedback(page, n) == "ok", page.locator("#banner-text").inner_text()

    page.reload()
    ready(page)
    type_scan(page, slot)
    assert feedback(page, 1) == "ok", page.locator("#banner-text").inner_text()
    counted = page.locator("#list li").inner_text()
    assert counted.startswith("3 ") and sku in counted

    type_scan(page, "CMD:CANCEL")  # give it up: the slot is free to count again
    assert feedback(page, 2) == "ok"
    page.get_by_text("given up").wait_for()
    type_scan(page, slot)
    assert feedback(page, 3) == "ok"
    assert page.locator("#list li").count() == 0


def test_a_kept_page_opened_offline_shows_work_sent_since_as_done(
    page: Any, live_server: Any, shift: Shift
) -> None:
    sign_in(page)
    picks = take_pick_list(page)
    page.reload()  # this copy is kept: in it, every task is still open
    ready(page)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    task = picks[0]
    for n, value in enumerate(
        (task["slot"], task["barcodes"][0], str(task["quantity"]), task["tote"]), start=1
    ):
        type_scan(page, value)
        assert feedback(page, n) == "ok", page.locator("#banner-text").inner_text()
    page.locator("#walk li").first.get_by_text("done").wait_for()

    page.context.set_offline(True)
    page.reload()
    ready(page)

    page.locator("#walk li").first.get_by_text("done").wait_for()
    if len(picks) > 1:
        assert picks[1]["slot"] in page.locator("#card").inner_text()


def test_lock_works_without_a_network(page: Any) -> None:
    sign_in(page)
    open_page(page, "/scanners/move")
    page.context.set_offline(True)

    page.get_by_role("button", name="Lock").click()

    page.get_by_text("Locked: go where there is Wi-Fi").wait_for()
    assert page.evaluate("document.querySelector('main').inert")
    type_scan(page, "FW01-DOCK1")
    assert feedback(page, 1) == "error"
    page.context.set_offline(False)
    page.get_by_role("heading", name="Locked — scan your badge").wait_for()

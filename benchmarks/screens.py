"""Screenshots of the scanner pages on a handheld, and how fast a scan gets its feedback.

    python -m benchmarks.screens [--out DIR] [--quick] [--scans N] [--flow NAME ...]

Serves the small demo network on localhost (as the browser tests do, ``benchmarks/_live.py``)
and drives Debian's Chromium (``/usr/bin/chromium`` or ``WMS_CHROMIUM``) at 360x640, touch.
First it puts work on the floor at ``--site`` (FW01): ``wms.demo_shift.start_shift`` as often
as the pick flow needs (each shift is one ASN receipt and one released wave with one pick
list) and one ``replenishment_task``. Then it opens the login page, signs in by scanning the
associate's badge (B-1001) into ``#scan``, chooses the site when the home page asks which, and
opens every page in ``PAGES``, writing one PNG per page into ``--out`` (default
``benchmarks/results/screens/``). A page answering 404 is reported as missing, and a page that
redirects says where it landed.

Scan-to-feedback latency is timed in the flows people scan into all shift, ``--scans`` scans
per row (200; ``--quick`` 30), one row each in the latency table:

``pick (in page)``
    /scanners/pick: tap "Take next pick list", then scan slot, item barcode, quantity and tote
    of each task in walking order (``Shift.picks``); the page checks each scan itself. When
    the list is done, "Take next pick list" again for the next shift's list, once the server
    has the done list's last confirmation (tapped before, the page gets the same list back
    with its task open; the notes say how often that wait was needed). On the second
    list and every fifth after it a wrong slot (the replenishment task's reserve slot) is
    scanned first: the error path, acknowledged with "OK — scan again". The ok and error
    columns count the two apart; the percentiles are over both.
``receive item (API look-up)`` and ``receive quantity (outbox)``
    /scanners/receive?receipt=<the first shift's>: the carton's GS1 code
    ``(01)<gtin14>(17)<yymmdd>(10)<lot>`` (answered after GET /api/v1/items/scan/...), then
    the quantity "1" (answered by the page, which puts the line in its IndexedDB outbox and
    sends it from there), in pairs on the same receipt.
``lookup (page reload)``
    /scanners/lookup: demo item barcodes; the page reloads with the answer.

Each scan is typed as a keyboard-wedge scanner types it (the characters, then Enter) and timed
inside the page with ``performance.now()``: from the Enter keydown (a capture-phase listener on
window) to the mutation of ``<body data-scans>``, the counter the page increments once it has
handled a scan (``data-feedback`` says "ok" or "error"). The clock runs in every document the
page loads, so a scan answered by a reload is timed across it (the "timing" column says "page
reload"). After every navigation the run waits for ``<body data-ready="1">``, which the page
script sets when it takes scans. A scan answered otherwise than the flow expects, or not at
all, ends that row with a note. The target is p95 ≤ 300 ms in every row. After pick and
receive the run stays on the page until the served database has every confirmation scanned
(the page's outbox sends them) and notes how long after the last scan that was.

Prints two tables and writes ``screens.csv`` (one row per page) and ``scan_latency.csv`` (one
row per scan, with its flow) next to the PNGs.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from benchmarks._live import (
    HANDHELD,
    LiveServer,
    chromium_executable,
    launch_options,
    serve_demo,
    type_scan,
)
from wms.demo_shift import Shift, replenishment_task, start_shift
from wms.errors import WmsError
from wms.models import (
    ItemBarcode,
    PickList,
    PickListStatus,
    PickTask,
    PickTaskStatus,
    ReceiptLine,
)

#: The scanner pages, in the order a shift meets them: (name, path). The login page comes
#: first; the badge is scanned there before the others are opened.
PAGES: list[tuple[str, str]] = [
    ("login", "/scanners/login"),
    ("home", "/scanners/"),
    ("receive", "/scanners/receive"),
    ("putaway", "/scanners/putaway"),
    ("tasks", "/scanners/tasks"),
    ("pick", "/scanners/pick"),
    ("pack", "/scanners/pack"),
    ("move", "/scanners/move"),
    ("count", "/scanners/count"),
    ("lookup", "/scanners/lookup"),
    ("labels", "/scanners/labels"),
    ("commands", "/scanners/commands"),
]

#: The latency table's rows, in this order; a flow (``--flow``) fills one or two of them.
PICK = "pick (in page)"
RECEIVE_ITEM = "receive item (API look-up)"
RECEIVE_QUANTITY = "receive quantity (outbox)"
LOOKUP = "lookup (page reload)"
FLOWS: dict[str, tuple[str, ...]] = {
    "pick": (PICK,),
    "receive": (RECEIVE_ITEM, RECEIVE_QUANTITY),
    "lookup": (LOOKUP,),
}

BADGE = "B-1001"  # the demo associate: no PIN
SITE = "FW01"  # chosen on the home page when it asks which site
TARGET_MS = 300.0
SCANS = 200
QUICK_SCANS = 30
FEEDBACK_TIMEOUT_MS = 5000  # per scan, and for a page to take scans; past it the row ends
DELIVERY_TIMEOUT_S = 60.0  # for the server to have what a page's outbox sends
#: Between the keys of a timed scan: none, so each key is an event as fast as the browser
#: takes it (a few ms a key here). The clock starts at Enter, so this only shortens the run.
WEDGE_DELAY_MS = 0
WRONG_SLOT_EVERY = 5  # pick lists: a wrong slot is scanned on the 2nd, 7th, 12th, ...

#: The scan clock, run in every document of the page before its own scripts (an init script,
#: when there is no <html> element yet: hence it observes the document):
#: Enter keydowns (capture phase, so before the page's handler) and changes of <body
#: data-scans>, as epoch times (timeOrigin + performance.now()) kept in sessionStorage, so a
#: scan that reloads the page (look-up, labels) is timed across the reload as well.
CLOCK = """(() => {
  if (window.__wmsScanClock) return;
  window.__wmsScanClock = true;
  const key = "__wmsScanClock";
  const doc = String(performance.timeOrigin);
  const now = () => performance.timeOrigin + performance.now();
  const load = () => JSON.parse(sessionStorage.getItem(key) || '{"enters": [], "feedback": []}');
  const save = (clock) => sessionStorage.setItem(key, JSON.stringify(clock));
  window.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const clock = load();
    clock.enters.push({ t: now(), doc });
    save(clock);
  }, true);
  new MutationObserver((records) => {
    const t = now();
    if (!records.some((r) => r.target === document.body)) return;
    const clock = load();
    clock.feedback.push({ t, doc, feedback: document.body.dataset.feedback || "" });
    save(clock);
  }).observe(document, {
    subtree: true, attributes: true, attributeFilter: ["data-scans"],
  });
})()"""

#: True once the last Enter has its feedback (in this document or the one it loaded).
ANSWERED = """() => {
  const clock = JSON.parse(sessionStorage.getItem("__wmsScanClock") || "null");
  if (!clock || !clock.enters.length) return false;
  const enter = clock.enters[clock.enters.length - 1].t;
  return clock.feedback.some((f) => f.t >= enter);
}"""
READ_AND_RESET = """() => {
  const clock = JSON.parse(sessionStorage.getItem("__wmsScanClock"));
  sessionStorage.setItem("__wmsScanClock", '{"enters": [], "feedback": []}');
  return clock;
}"""
#: The page script's sign that it takes scans.
READY = "() => !!document.body && document.body.dataset.ready === '1'"
#: Where typed keys go: a scan typed while #scan has lost the focus reaches nothing.
FOCUS = """() => { const e = document.activeElement;
  return !e || e === document.body ? "nothing" : e.id ? "#" + e.id : e.tagName.toLowerCase(); }"""
PAGE_DATA = "() => JSON.parse(document.getElementById('page-data')?.textContent || 'null')"


@dataclass(slots=True)
class Screen:
    name: str
    path: str
    status: str  # "ok", "missing", "HTTP 500", ...
    final_path: str = ""
    load_ms: float | None = None
    scan_field: bool = False
    screenshot: str = ""


@dataclass(slots=True)
class Scan:
    n: int
    barcode: str
    expected: str  # "ok" or "error" as the flow scans it; "" when it does not say
    feedback: str  # what the page said: "ok" or "error"
    ms: float
    timing: str  # "in page", or "page reload" when the page reloaded to answer


class FlowStopped(Exception):
    """A flow cannot go on; the message says why, for the notes."""


@dataclass(slots=True)
class Row:
    """One row of the latency table: its scans, timed one by one on the open page."""

    name: str
    scans: list[Scan] = field(default_factory=list)

    def scan(
        self, page: Any, barcode: str, *, expect: str = "", timeout_ms: float = FEEDBACK_TIMEOUT_MS
    ) -> Scan:
        """Scan barcode and time it to its feedback; a scan answered otherwise ends the row."""
        n = len(self.scans) + 1
        type_scan(page, barcode, delay_ms=WEDGE_DELAY_MS)
        try:
            page.wait_for_function(ANSWERED, timeout=timeout_ms)
        except PlaywrightTimeout:
            raise FlowStopped(
                f"scan {n} ({barcode}): no feedback within {timeout_ms:.0f} ms "
                f"(<body data-scans> did not change; focus on {page.evaluate(FOCUS)})"
            ) from None
        page.wait_for_load_state("load")
        wait_ready(page, timeout_ms=timeout_ms)
        scan = _timed(n, barcode, expect, page.evaluate(READ_AND_RESET))
        self.scans.append(scan)
        if expect and scan.feedback != expect:
            banner = page.locator("#banner-text")
            said = f": {banner.inner_text()!r}" if banner.count() and banner.is_visible() else ""
            raise FlowStopped(
                f"scan {n} ({barcode}): expected {expect}, the page answered "
                f"{scan.feedback or 'without saying ok or error'}{said}"
            )
        return scan


def _path_of(url: str, base: str) -> str:
    return url[len(base) :] if url.startswith(base) else url


def _has_scan_field(page: Any) -> bool:
    return bool(page.locator("#scan").count())


def _open(page: Any, name: str, path: str, live: LiveServer, out: Path) -> Screen:
    started = time.perf_counter()
    response = page.goto(path, wait_until="load")
    load_ms = (time.perf_counter() - started) * 1000
    status = response.status if response is not None else 0
    shot = out / f"{name}.png"
    if status == 404:
        shot.unlink(missing_ok=True)  # a PNG of an earlier run would pass for this page
        return Screen(name, path, "missing")
    screen = Screen(
        name,
        path,
        "ok" if status < 400 else f"HTTP {status}",
        final_path=_path_of(page.url, live.url),
        load_ms=round(load_ms, 1),
        scan_field=_has_scan_field(page),
    )
    page.screenshot(path=str(shot))
    screen.screenshot = str(shot)
    return screen


def sign_in(page: Any, badge: str) -> str:
    """Scan the badge into the login page's #scan; return what happened, in a few words."""
    if not _has_scan_field(page):
        return "not signed in: the login page has no #scan field"
    before = page.url
    type_scan(page, badge)
    try:
        page.wait_for_url(lambda url: url != before, timeout=FEEDBACK_TIMEOUT_MS)
    except PlaywrightTimeout:
        return f"not signed in: scanning {badge} left the browser on the login page"
    page.wait_for_load_state("load")
    return f"signed in with badge {badge}"


def choose_site(page: Any, code: str) -> str | None:
    """Pick the site on the home page when it asks which; None when it does not ask."""
    choice = page.locator("button[name=site_id]", has_text=code)
    if not choice.count():
        return None
    with page.expect_navigation():
        choice.first.click()
    return f"chose site {code} on the home page"


# --- the clock and the scans --------------------------------------------------------------


def start_clock(page: Any) -> None:
    """Run the scan clock in the open document and every one the page loads from now on.

    The page must be open on an http(s) origin (the clock keeps its times in sessionStorage).
    """
    page.add_init_script(CLOCK)
    page.evaluate(CLOCK)
    page.evaluate(READ_AND_RESET)


def wait_ready(page: Any, *, timeout_ms: float = FEEDBACK_TIMEOUT_MS) -> None:
    """Wait until the page script takes scans (``<body data-ready="1">``)."""
    try:
        page.wait_for_function(READY, timeout=timeout_ms)
    except PlaywrightTimeout:
        raise FlowStopped(
            f"{page.url} did not set <body data-ready> within {timeout_ms:.0f} ms"
        ) from None


def take_scans(page: Any, notes: list[str], *, timeout_ms: float = FEEDBACK_TIMEOUT_MS) -> None:
    """Wait until the open page takes scans, with the focus on #scan (given it, with a note)."""
    page.wait_for_load_state("load")
    wait_ready(page, timeout_ms=timeout_ms)
    focus = page.evaluate(FOCUS)
    if focus != "#scan":
        path = urlsplit(page.url).path
        notes.append(f"#scan did not have the focus on {path} (it was on {focus}); focused it")
        page.focus("#scan")


def _open_for_scans(page: Any, path: str, notes: list[str], timeout_ms: float) -> None:
    response = page.goto(path, wait_until="load")
    if response is not None and response.status >= 400:
        raise FlowStopped(f"{path} answered HTTP {response.status}")
    take_scans(page, notes, timeout_ms=timeout_ms)


def _timed(n: int, barcode: str, expected: str, clock: dict[str, Any]) -> Scan:
    enter = clock["enters"][-1]
    answer = next(f for f in clock["feedback"] if f["t"] >= enter["t"])
    timing = "in page" if answer["doc"] == enter["doc"] else "page reload"
    return Scan(
        n, barcode, expected, answer["feedback"], round(answer["t"] - enter["t"], 1), timing
    )


def attempt(notes: list[str], name: str, work: Callable[[], Any]) -> None:
    """Run a flow; when it stops early, say why in the notes (prefixed by its name)."""
    prefix = f"{name}: " if name else ""
    try:
        work()
    except FlowStopped as stop:
        notes.append(f"{prefix}{stop}; stopped measuring")
    except PlaywrightError as exc:
        notes.append(f"{prefix}{exc.message.splitlines()[0]}; stopped measuring")


def scan_cycle(
    page: Any,
    row: Row,
    barcodes: list[str],
    scans: int,
    notes: list[str],
    *,
    expect: str = "",
    timeout_ms: float = FEEDBACK_TIMEOUT_MS,
) -> None:
    """Scan barcodes (round and round) into the open page until the row has ``scans``."""
    take_scans(page, notes, timeout_ms=timeout_ms)
    for barcode in itertools.islice(itertools.cycle(barcodes), scans):
        row.scan(page, barcode, expect=expect, timeout_ms=timeout_ms)


def measure_scans(
    page: Any,
    barcodes: list[str],
    scans: int,
    notes: list[str],
    *,
    timeout_ms: float = FEEDBACK_TIMEOUT_MS,
) -> list[Scan]:
    """Type barcodes + Enter into the focused #scan; time each from Enter to its feedback.

    Waits for ``<body data-ready="1">`` first and after every reload. A scan with no feedback
    ends the run, with a note; the scans timed until then are returned.
    """
    start_clock(page)
    row = Row("")
    attempt(notes, "", lambda: scan_cycle(page, row, barcodes, scans, notes, timeout_ms=timeout_ms))
    return row.scans


# --- the flows ------------------------------------------------------------------------------


def carton_code(shift: Shift) -> str:
    """The GS1 code on the shift's receipt carton, in brackets: GTIN, expiry, lot."""
    yymmdd = shift.received_expiry.strftime("%y%m%d")
    return f"(01){int(shift.received_gtin):014d}(17){yymmdd}(10){shift.received_lot}"


def until(check: Callable[[], bool], *, timeout_s: float = DELIVERY_TIMEOUT_S) -> float | None:
    """Poll check until it holds; how long that took in seconds, or None at the timeout."""
    started = time.perf_counter()
    while True:
        if check():
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout_s:
            return None
        time.sleep(0.02)


def _acknowledge(page: Any, notes: list[str], timeout_ms: float) -> None:
    """Tap "OK — scan again" under the error banner, as a gloved hand does."""
    page.get_by_role("button", name="OK — scan again").click()
    page.locator("#banner").wait_for(state="hidden", timeout=timeout_ms)
    take_scans(page, notes, timeout_ms=timeout_ms)


def walk_pick_lists(
    page: Any,
    row: Row,
    shifts: list[Shift],
    wrong_slot: str,
    scans: int,
    notes: list[str],
    *,
    walked: list[str],
    list_done: Callable[[str], bool],
    timeout_ms: float = FEEDBACK_TIMEOUT_MS,
) -> None:
    """Take pick lists and scan their tasks until the row has ``scans``; add their numbers to
    ``walked`` as they are taken.

    Each list is matched to its shift by the tote of its first task. Before tapping "Take next
    pick list" the run waits until ``list_done`` (the server) says the last list is done:
    tapped while its last confirmation is still in the page's outbox, the page gets the same
    list back, its task open again. How often that wait was needed is noted.
    """
    by_tote = {pick[3]: shift for shift in shifts for pick in shift.picks}
    waited: list[float] = []
    take = page.get_by_role("button", name="Take next pick list")
    _open_for_scans(page, "/scanners/pick", notes, timeout_ms)
    try:
        while len(row.scans) < scans:
            try:
                take.wait_for(state="visible", timeout=timeout_ms)
            except PlaywrightTimeout:
                raise FlowStopped("no “Take next pick list” button on the pick page") from None
            if walked and not list_done(walked[-1]):
                seconds = until(lambda: list_done(walked[-1]))
                if seconds is None:
                    raise FlowStopped(f"{walked[-1]} is not done on the server")
                waited.append(seconds)
            try:
                with page.expect_navigation(timeout=timeout_ms):
                    take.click()
            except PlaywrightTimeout:
                banner = page.locator("#banner-text").inner_text()
                raise FlowStopped(f"“Take next pick list” opened no list: {banner!r}") from None
            take_scans(page, notes, timeout_ms=timeout_ms)
            pick_list = (page.evaluate(PAGE_DATA) or {}).get("pickList")
            if not pick_list or not pick_list["tasks"]:
                raise FlowStopped("“Take next pick list” reloaded without a list in progress")
            if pick_list["number"] in walked:
                raise FlowStopped(f"“Take next pick list” gave {pick_list['number']} again")
            shift = by_tote.get(pick_list["tasks"][0]["tote"])
            if shift is None:
                raise FlowStopped(f"{pick_list['number']} is no list of this run's shifts")
            walked.append(pick_list["number"])
            for i, (slot, barcode, quantity, tote) in enumerate(shift.picks):
                if i == 0 and len(walked) % WRONG_SLOT_EVERY == 2:
                    row.scan(page, wrong_slot, expect="error", timeout_ms=timeout_ms)
                    _acknowledge(page, notes, timeout_ms)
                for value in (slot, barcode, str(quantity), tote):
                    row.scan(page, value, expect="ok", timeout_ms=timeout_ms)
    finally:
        if waited:
            notes.append(
                f"{PICK}: {len(waited)} of {len(walked) - 1} times “Take next pick list” "
                "showed before the server had the list's last confirmation; waited for it "
                f"(at most {max(waited) * 1000:.0f} ms) before tapping"
            )


def receive_cartons(
    page: Any,
    items: Row,
    quantities: Row,
    shift: Shift,
    pairs: int,
    notes: list[str],
    *,
    timeout_ms: float = FEEDBACK_TIMEOUT_MS,
) -> None:
    """Scan the shift's carton code, then "1", ``pairs`` times on its receipt."""
    _open_for_scans(page, f"/scanners/receive?receipt={shift.receipt_id}", notes, timeout_ms)
    code = carton_code(shift)
    for _ in range(pairs):
        items.scan(page, code, expect="ok", timeout_ms=timeout_ms)
        quantities.scan(page, "1", expect="ok", timeout_ms=timeout_ms)


def all_picked(live: LiveServer, numbers: list[str]) -> bool:
    """Every task on these pick lists is picked (in full)."""
    with live.transaction(readonly=True) as session:
        statuses = session.scalars(
            select(PickTask.status).join(PickList).where(PickList.number.in_(numbers))
        )
        return all(s is PickTaskStatus.PICKED for s in statuses)


def pick_list_done(live: LiveServer, number: str) -> bool:
    """The server has every task of the pick list confirmed (the list is done)."""
    with live.transaction(readonly=True) as session:
        status = session.scalar(select(PickList.status).where(PickList.number == number))
    return status is PickListStatus.DONE


def units_received(live: LiveServer, receipt_id: int) -> int:
    """Units received on the receipt, all lines."""
    with live.transaction(readonly=True) as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(ReceiptLine.received_qty), 0)).where(
                    ReceiptLine.receipt_id == receipt_id
                )
            )
            or 0
        )


def _delivered(name: str, scanned: str, check: Callable[[], bool], notes: list[str]) -> None:
    """Wait (on the page, which sends its outbox) until the server has what was scanned."""
    seconds = until(check)
    if seconds is None:
        late = f"not all on the server {DELIVERY_TIMEOUT_S:.0f} s after the last scan"
        notes.append(f"{name}: {scanned}; {late}")
    else:
        notes.append(f"{name}: {scanned}; all on the server {seconds:.1f} s after the last scan")


# --- the report ----------------------------------------------------------------------------


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def latency_table(rows: list[Row], target_ms: float = TARGET_MS) -> Table:
    """One line per row: scans, ok and error answers, timing, p50/p95/max, target met."""
    table = Table(title=f"scan to feedback (target p95 ≤ {target_ms:.0f} ms)")
    for column in ("flow", "scans", "ok", "error", "timing", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column in ("flow", "timing") else "right")
    table.add_column("target")
    for row in rows:
        if not row.scans:
            table.add_row(escape(row.name), "0", "", "", "", "", "", "", "not measured")
            continue
        ms = [s.ms for s in row.scans]
        p95 = _percentile(ms, 95)
        table.add_row(
            escape(row.name),
            str(len(ms)),
            str(sum(s.feedback == "ok" for s in row.scans)),
            str(sum(s.feedback == "error" for s in row.scans)),
            ", ".join(sorted({s.timing for s in row.scans})),
            f"{statistics.median(ms):.1f}",
            f"{p95:.1f}",
            f"{max(ms):.1f}",
            "[green]met[/]" if p95 <= target_ms else "[red]not met[/]",
        )
    return table


def time_flows(
    page: Any,
    live: LiveServer,
    rows: dict[str, Row],
    shifts: list[Shift],
    wrong_slot: str,
    barcodes: list[str],
    scans: int,
    notes: list[str],
) -> None:
    """Fill the rows (those of ``FLOWS`` that are in it), flow by flow, on the signed-in page.

    After pick and receive the run stays on the page until the server has every confirmation
    scanned (the page's outbox sends them), and notes how long that took.
    """
    start_clock(page)
    if PICK in rows and shifts:
        walked: list[str] = []
        attempt(
            notes,
            PICK,
            lambda: walk_pick_lists(
                page,
                rows[PICK],
                shifts,
                wrong_slot,
                scans,
                notes,
                walked=walked,
                list_done=lambda number: pick_list_done(live, number),
            ),
        )
        if walked:
            _delivered(
                PICK,
                f"{len(walked)} pick lists walked",
                lambda: all_picked(live, walked),
                notes,
            )
    if RECEIVE_ITEM in rows and shifts:
        items, quantities = rows[RECEIVE_ITEM], rows[RECEIVE_QUANTITY]
        receipt = shifts[0]
        attempt(
            notes,
            "receive",
            lambda: receive_cartons(page, items, quantities, receipt, scans, notes),
        )
        confirmed = sum(s.feedback == "ok" for s in quantities.scans)
        if confirmed:
            _delivered(
                RECEIVE_QUANTITY,
                f"{confirmed} quantities of 1 scanned on {receipt.receipt_number}",
                lambda: units_received(live, receipt.receipt_id) == confirmed,
                notes,
            )
    if not shifts and (PICK in rows or RECEIVE_ITEM in rows):
        notes.append("pick and receive not measured: no work on the floor")
    if LOOKUP in rows:

        def look_up() -> None:
            _open_for_scans(page, "/scanners/lookup", notes, FEEDBACK_TIMEOUT_MS)
            scan_cycle(page, rows[LOOKUP], barcodes, scans, notes, expect="ok")

        attempt(notes, LOOKUP, look_up)


def _write_csv(path: Path, rows: list[dict[str, Any]], fields: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def run(
    out: Path,
    *,
    scans: int,
    flows: tuple[str, ...] = tuple(FLOWS),
    badge: str = BADGE,
    site: str = SITE,
) -> int:
    """Serve, put work on the floor, screenshot, measure, print; return the exit code."""
    console = Console(width=120)
    executable = chromium_executable()
    if not os.access(executable, os.X_OK):
        console.print(f"[red]no browser at {executable}[/]: apt-get install chromium")
        return 2
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    screens: list[Screen] = []
    rows = {name: Row(name) for flow in flows for name in FLOWS[flow]}
    # One task a list, four scans a task, and a list to spare for the wrong-slot scans.
    lists = math.ceil(scans / 4) + 1 if "pick" in flows else 1
    with tempfile.TemporaryDirectory() as tmp, serve_demo(Path(tmp)) as live:
        with live.transaction(readonly=True) as session:
            barcodes = list(
                session.scalars(select(ItemBarcode.barcode).order_by(ItemBarcode.id).limit(20))
            )
        try:
            with live.transaction() as session:
                shifts = [start_shift(session, site=site) for _ in range(lists)]
                wrong_slot = replenishment_task(session, site=site).from_slot
            notes.append(
                f"work on the floor at {site}: {len(shifts)} shifts "
                f"({sum(len(s.picks) for s in shifts)} pick tasks), one replenishment task"
            )
        except WmsError as exc:
            shifts, wrong_slot = [], ""
            notes.append(f"no work on the floor at {site}: {exc}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options(executable))
            context = browser.new_context(base_url=live.url, **HANDHELD)
            page = context.new_page()
            try:
                for name, path in PAGES:
                    screens.append(_open(page, name, path, live, out))
                    if name == "login":
                        if screens[-1].status == "missing":
                            notes.append("not signed in: no login page at " + path)
                        else:
                            notes.append(sign_in(page, badge))
                    elif name == "home" and screens[-1].status == "ok":
                        chosen = choose_site(page, site)
                        if chosen:
                            notes.append(chosen)
                            screens.append(_open(page, "menu", path, live, out))
                time_flows(page, live, rows, shifts, wrong_slot, barcodes, scans, notes)
            finally:
                context.close()
                browser.close()

    table = Table(title=f"scanner pages at 360x640 ({out})")
    for column in ("page", "path", "status", "landed on", "load ms", "#scan", "png"):
        table.add_column(column, justify="right" if column == "load ms" else "left")
    for s in screens:
        table.add_row(
            s.name,
            s.path,
            s.status if s.status == "ok" else f"[yellow]{s.status}[/]",
            s.final_path if s.final_path != s.path else "",
            "" if s.load_ms is None else f"{s.load_ms:.0f}",
            "yes" if s.scan_field else "",
            Path(s.screenshot).name if s.screenshot else "",
        )
    console.print(table)
    console.print(latency_table(list(rows.values())))
    for note in notes:
        console.print(f"- {escape(note)}")

    page_fields = list(Screen.__dataclass_fields__)
    _write_csv(out / "screens.csv", [asdict(s) for s in screens], page_fields)
    scan_fields = ["flow", *Scan.__dataclass_fields__]
    scan_rows = [{"flow": row.name, **asdict(s)} for row in rows.values() for s in row.scans]
    _write_csv(out / "scan_latency.csv", scan_rows, scan_fields)
    console.print(f"wrote {out / 'screens.csv'}, {out / 'scan_latency.csv'} and the PNGs")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/screens/", help="PNGs and CSVs")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SCANS} scans a row, not {SCANS}"
    )
    parser.add_argument("--scans", type=int, default=None, help="how many scans a row to time")
    parser.add_argument(
        "--flow",
        action="append",
        choices=list(FLOWS),
        help="time only this flow (repeat for more; default: all)",
    )
    parser.add_argument("--site", default=SITE, help="the site to choose after signing in")
    args = parser.parse_args(argv)
    scans = args.scans or (QUICK_SCANS if args.quick else SCANS)
    flows = tuple(f for f in FLOWS if f in (args.flow or FLOWS))
    sys.exit(run(Path(args.out), scans=scans, flows=flows, site=args.site))


if __name__ == "__main__":
    main()

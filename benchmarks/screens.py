"""Screenshots of the scanner pages on a handheld, and how fast a scan gets its feedback.

    python -m benchmarks.screens [--out DIR] [--quick] [--scans N] [--scan-page NAME]

Serves the small demo network on localhost (as the browser tests do, ``benchmarks/_live.py``)
and drives Debian's Chromium (``/usr/bin/chromium`` or ``WMS_CHROMIUM``) at 360x640, touch.
It opens the login page, signs in by scanning the associate's badge (B-1001) into ``#scan``,
chooses ``--site`` (FW01) when the home page asks which site, then opens every page in
``PAGES`` and writes one PNG per page into ``--out`` (default ``benchmarks/results/screens/``).
A page answering 404 is reported as missing, and a page that redirects says where it landed.

Scan-to-feedback latency: on ``--scan-page`` (default ``lookup``; else the first page that has
a ``#scan`` field), demo item barcodes are typed as a keyboard-wedge scanner types them, each
followed by Enter, ``--scans`` times (200; ``--quick`` 30). Each scan is timed inside the page
with ``performance.now()``: from the Enter keydown (a capture-phase listener on window) to the
mutation of ``<body data-scans>``, the counter the page increments once it has handled a scan
(``data-feedback`` says "ok" or "error"). The target is p95 ≤ 300 ms. The clock runs in every
document the page loads, so a page that reloads to answer a scan is timed across the reload
(the "timing" column says "page reload").

Prints two tables and writes ``screens.csv`` (one row per page) and ``scan_latency.csv`` (one
row per scan) next to the PNGs.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from benchmarks._live import (
    HANDHELD,
    LiveServer,
    chromium_executable,
    launch_options,
    serve_demo,
    type_scan,
)
from wms.models import ItemBarcode

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

BADGE = "B-1001"  # the demo associate: no PIN
SITE = "FW01"  # chosen on the home page when it asks which site
TARGET_MS = 300.0
SCANS = 200
QUICK_SCANS = 30
FEEDBACK_TIMEOUT_MS = 5000  # per scan; a page that never answers stops the run

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
#: Where typed keys go: a scan typed while #scan has lost the focus reaches nothing.
FOCUS = """() => { const e = document.activeElement;
  return !e || e === document.body ? "nothing" : e.id ? "#" + e.id : e.tagName.toLowerCase(); }"""


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
    feedback: str
    ms: float
    timing: str  # "in page", or "page reload" when the page reloaded to answer


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


def _sign_in(page: Any, badge: str) -> str:
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


def _choose_site(page: Any, code: str) -> str | None:
    """Pick the site on the home page when it asks which; None when it does not ask."""
    choice = page.locator("button[name=site_id]", has_text=code)
    if not choice.count():
        return None
    with page.expect_navigation():
        choice.first.click()
    return f"chose site {code} on the home page"


def measure_scans(
    page: Any,
    barcodes: list[str],
    scans: int,
    notes: list[str],
    *,
    timeout_ms: float = FEEDBACK_TIMEOUT_MS,
) -> list[Scan]:
    """Type barcodes + Enter into the focused #scan; time each from Enter to its feedback.

    The page must be open on an http(s) origin (the clock keeps its times in sessionStorage).
    """
    page.add_init_script(CLOCK)
    page.evaluate(CLOCK)
    page.evaluate(READ_AND_RESET)
    # The scanner script sets <body data-ready="1"> when it takes scans; wait for it after
    # every reload when the page has that flag.
    has_ready_flag = page.evaluate("() => document.body.dataset.ready === '1'")
    if page.evaluate(FOCUS) != "#scan":
        notes.append("#scan did not have the focus when the page opened; focused it")
        page.focus("#scan")
    results: list[Scan] = []
    for n, barcode in zip(range(1, scans + 1), itertools.cycle(barcodes), strict=False):
        try:
            type_scan(page, barcode)
            page.wait_for_function(ANSWERED, timeout=timeout_ms)
            page.wait_for_load_state("load")
            if has_ready_flag:
                page.wait_for_function("() => document.body.dataset.ready === '1'")
            results.append(_timed(n, barcode, page.evaluate(READ_AND_RESET)))
        except PlaywrightTimeout:
            focus = page.evaluate(FOCUS)
            notes.append(
                f"scan {n}: no feedback within {timeout_ms:.0f} ms "
                f"(<body data-scans> did not change; focus on {focus}); stopped measuring"
            )
            break
        except PlaywrightError as exc:
            notes.append(f"scan {n}: {exc.message.splitlines()[0]}; stopped measuring")
            break
    return results


def _timed(n: int, barcode: str, clock: dict[str, Any]) -> Scan:
    enter = clock["enters"][-1]
    answer = next(f for f in clock["feedback"] if f["t"] >= enter["t"])
    timing = "in page" if answer["doc"] == enter["doc"] else "page reload"
    return Scan(n, barcode, answer["feedback"], round(answer["t"] - enter["t"], 1), timing)


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _write_csv(path: Path, rows: list[dict[str, Any]], fields: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def run(out: Path, *, scans: int, scan_page: str, badge: str = BADGE, site: str = SITE) -> int:
    """Serve, screenshot, measure, print; return the exit code."""
    console = Console(width=120)
    executable = chromium_executable()
    if not os.access(executable, os.X_OK):
        console.print(f"[red]no browser at {executable}[/]: apt-get install chromium")
        return 2
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    screens: list[Screen] = []
    samples: list[Scan] = []
    measured_on = ""
    with tempfile.TemporaryDirectory() as tmp, serve_demo(Path(tmp)) as live:
        with live.transaction(readonly=True) as session:
            barcodes = list(
                session.scalars(select(ItemBarcode.barcode).order_by(ItemBarcode.id).limit(20))
            )
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
                            notes.append(_sign_in(page, badge))
                    elif name == "home" and screens[-1].status == "ok":
                        chosen = _choose_site(page, site)
                        if chosen:
                            notes.append(chosen)
                            screens.append(_open(page, "menu", path, live, out))
                with_field = [s.name for s in screens if s.scan_field and s.name != "login"]
                measured_on = scan_page if scan_page in with_field else next(iter(with_field), "")
                if not measured_on:
                    notes.append("latency not measured: no page has a #scan field yet")
                else:
                    page.goto(dict(PAGES)[measured_on], wait_until="load")
                    samples = measure_scans(page, barcodes, scans, notes)
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

    latency = Table(title=f"scan to feedback (target p95 ≤ {TARGET_MS:.0f} ms)")
    for column in ("page", "scans", "ok", "error", "timing", "p50 ms", "p95 ms", "max ms"):
        latency.add_column(column, justify="left" if column in ("page", "timing") else "right")
    latency.add_column("target")
    if samples:
        ms = [s.ms for s in samples]
        p95 = _percentile(ms, 95)
        latency.add_row(
            measured_on,
            str(len(samples)),
            str(sum(s.feedback == "ok" for s in samples)),
            str(sum(s.feedback == "error" for s in samples)),
            ", ".join(sorted({s.timing for s in samples})),
            f"{statistics.median(ms):.1f}",
            f"{p95:.1f}",
            f"{max(ms):.1f}",
            "[green]met[/]" if p95 <= TARGET_MS else "[red]not met[/]",
        )
    else:
        latency.add_row(measured_on or "-", "0", "", "", "", "", "", "", "not measured")
    console.print(latency)
    for note in notes:
        console.print(f"- {note}")

    page_fields = list(Screen.__dataclass_fields__)
    _write_csv(out / "screens.csv", [asdict(s) for s in screens], page_fields)
    scan_fields = ["page", *Scan.__dataclass_fields__]
    rows = [{"page": measured_on, **asdict(s)} for s in samples]
    _write_csv(out / "scan_latency.csv", rows, scan_fields)
    console.print(f"wrote {out / 'screens.csv'}, {out / 'scan_latency.csv'} and the PNGs")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/screens/", help="PNGs and CSVs")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SCANS} scans, not {SCANS}")
    parser.add_argument("--scans", type=int, default=None, help="how many scans to time")
    parser.add_argument(
        "--scan-page",
        default="lookup",
        choices=[name for name, _ in PAGES if name != "login"],
        help="the page to time scans on (falls back to the first page with a #scan field)",
    )
    parser.add_argument("--site", default=SITE, help="the site to choose after signing in")
    args = parser.parse_args(argv)
    scans = args.scans or (QUICK_SCANS if args.quick else SCANS)
    sys.exit(run(Path(args.out), scans=scans, scan_page=args.scan_page, site=args.site))


if __name__ == "__main__":
    main()

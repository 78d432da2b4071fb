"""How long the pick-face replenishment scan takes over a network of front warehouses.

    python -m benchmarks.replenishment [--quick] [--postgres URL] [--csv PATH] [--seed N]

Each run loads the demo network into a fresh database (a SQLite file, and a scratch database
on PostgreSQL when ``--postgres`` or a PostgreSQL ``WMS_DATABASE_URL`` names a server): the
``city`` network (20 front warehouses) by default, the ``small`` one (3) with ``--quick``.
Loading is not timed. The demo's pick faces are stocked full, so a peak is made: the pick
faces of every fourth bay are given twice their room and are to be kept full (max doubled,
min = max), as a planner does before a peak; those whose item the reserve holds get a task.
Then, for every front warehouse:

- ``scan s``: ``wms.replenishment.replenish(..., dry_run=True)`` — read every pick face with a
  min and max, its stock, open tasks, the demand of open orders due in two hours and the free
  reserve; decide with a trace; write nothing — summed over the sites, each its own
  transaction;
- ``run s``: the same for real (faces locked, tasks created), each site its own committed
  transaction, with the tasks and units it created;
- ``again``: the tasks a second real run creates (0: one open task per face).

Then the DC → front-warehouse transfers (``wms.transfers``). The demo's orders are all for one
day, so 28 days of order history are made first (not timed): one delivered order per front
warehouse and local day, a line per item, Poisson units around the item's share of the demo
day's demand (its popularity) times a weekday factor (busy Fridays and Saturdays). Then:

- ``forecast s``: ``wms.transfers.forecast_network`` — the history read and one statsmodels
  fit per item and front warehouse (``series``), in a read transaction;
- ``plan s``: ``wms.transfers.plan_transfers`` with those forecasts, for real and committed:
  the DC locked, stock and open transfers read, the DC's stock shared out, transfers, their
  lines and their receipts written (``transfers``; ``transfer_lines`` with units to send, and
  ``transfer_units``; ``at_risk``: lines heading for a stock-out within the lead time;
  ``short``: lines the DC could not fill);
- ``transfers_again``: the transfers a second run creates (0: open transfers are on their way).

Target (judged, not asserted): the scan over every pick face of the 20 front warehouses of the
``city`` network in at most 5 s. The transfer plan has no target yet; it runs a few times a
day, and its forecasts are made outside the write transaction.

Prints a table and writes CSV (default ``benchmarks/results/replenishment.csv``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, update

from benchmarks._databases import postgres_database
from wms import demo, migrate, replenishment, transfers
from wms.db import make_engine, make_sessions
from wms.models import Item, Order, OrderLine, OrderStatus, Site, SiteKind, Slot, SlotKind, utcnow

TARGET_SCAN_S = 5.0
SECRET = "benchmark-secret"
HISTORY_DAYS = 28
#: Demand by weekday, Monday first: quiet early in the week, busy Friday and Saturday.
WEEKDAY_FACTORS = (0.85, 0.8, 0.9, 1.0, 1.25, 1.35, 0.85)


def run(url: str, size: str, seed: int) -> dict[str, Any]:
    """Load the network, then scan, run and run again at every front warehouse."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        sessions = make_sessions(engine)
        plan = demo.build(demo.SIZES[size], seed=seed)
        with sessions.begin() as session:
            demo.write(session, plan, secret_key=SECRET)
            session.execute(
                update(Slot)
                .where(
                    Slot.kind == SlotKind.PICK_FACE,
                    Slot.max_qty.is_not(None),
                    Slot.bay % 4 == 0,
                )
                .values(min_qty=Slot.max_qty * 2, max_qty=Slot.max_qty * 2)
            )
        with sessions() as session:
            sites = list(
                session.scalars(
                    select(Site.id).where(Site.kind == SiteKind.FRONT_WAREHOUSE).order_by(Site.id)
                )
            )
            faces = int(
                session.scalar(
                    select(func.count())
                    .select_from(Slot)
                    .where(
                        Slot.site_id.in_(sites),
                        Slot.kind == SlotKind.PICK_FACE,
                        Slot.min_qty.is_not(None),
                    )
                )
                or 0
            )
        scan_s, decided = _timed(sessions, sites, dry_run=True)
        run_s, made = _timed(sessions, sites, dry_run=False)
        _again_s, again = _timed(sessions, sites, dry_run=False)
        with sessions.begin() as session:
            _order_history(session, plan, seed=seed)
        moved = _transfers(sessions)
    finally:
        engine.dispose()
    return {
        "backend": engine.dialect.name,
        "network": size,
        "front_warehouses": len(sites),
        "pick_faces": faces,
        "scan_s": round(scan_s, 2),
        "would_create": sum(p.creates_task for r in decided for p in r.proposals),
        "run_s": round(run_s, 2),
        "tasks": sum(len(r.task_ids) for r in made),
        "units": sum(p.quantity for r in made for p in r.proposals if p.creates_task),
        "again": sum(len(r.task_ids) for r in again),
        **moved,
    }


def _order_history(session: Any, plan: demo.DemoPlan, *, seed: int) -> int:
    """Delivered orders over the last 28 local days, one per front warehouse and day.

    Each item's daily units are Poisson around its share of the demo day's units at that
    front warehouse (by popularity), times the weekday's factor. Returns the lines written.
    """
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(demo.TIMEZONE)
    today = utcnow().astimezone(zone).date()
    units_per_site = sum(line["quantity"] for line in plan.lines) / plan.size.front_warehouses
    popularity = np.array([item["popularity"] for item in plan.items])
    base = units_per_site * popularity / popularity.sum()
    item_ids = dict(session.execute(select(Item.sku, Item.id)).tuples().all())
    ids = [item_ids[item["sku"]] for item in plan.items]
    fronts = session.execute(
        select(Site.id, Site.code, Site.latitude, Site.longitude).where(
            Site.kind == SiteKind.FRONT_WAREHOUSE
        )
    ).all()
    written = 0
    for site_id, code, lat, lon in fronts:
        orders, units = [], []
        for back in range(HISTORY_DAYS, 0, -1):
            day = today - dt.timedelta(days=back)
            start = dt.datetime.combine(day, dt.time(18), zone).astimezone(dt.UTC)
            orders.append(
                {
                    "number": f"H{code}{day:%y%m%d}",
                    "site_id": site_id,
                    "customer_name": "Order history",
                    "address": "history",
                    "latitude": lat,
                    "longitude": lon,
                    "promised_start": start,
                    "promised_end": start + dt.timedelta(hours=1),
                    "status": OrderStatus.DELIVERED,
                }
            )
            units.append(rng.poisson(base * WEEKDAY_FACTORS[day.weekday()]))
        order_ids = (
            session.execute(insert(Order).returning(Order.id, sort_by_parameter_order=True), orders)
            .scalars()
            .all()
        )
        lines = [
            {"order_id": order_id, "line_no": n, "item_id": ids[ix], "quantity": int(day[ix])}
            for order_id, day in zip(order_ids, units, strict=True)
            for n, ix in enumerate(np.flatnonzero(day).tolist(), start=1)
        ]
        for chunk in range(0, len(lines), 5000):
            session.execute(insert(OrderLine), lines[chunk : chunk + 5000])
        written += len(lines)
    return written


def _transfers(sessions: Any) -> dict[str, Any]:
    """Forecast (a read transaction: no write lock on SQLite), then plan for real, then again."""
    settings = transfers.TransferSettings()
    now = utcnow()
    start = time.perf_counter()
    with sessions(bind=sessions.kw["bind"].execution_options(wms_readonly=True)) as session:
        forecasts = transfers.forecast_network(session, now=now, settings=settings)
    forecast_s = time.perf_counter() - start
    start = time.perf_counter()
    with sessions.begin() as session:
        first = transfers.plan_transfers(session, now=now, settings=settings, forecasts=forecasts)
    plan_s = time.perf_counter() - start
    with sessions.begin() as session:
        again = transfers.plan_transfers(session, now=now, settings=settings, forecasts=forecasts)
    return {
        "series": len(forecasts),
        "forecast_s": round(forecast_s, 2),
        "plan_s": round(plan_s, 2),
        "transfers": len(first.transfer_ids),
        "transfer_lines": len(first.sending),
        "transfer_units": sum(line.quantity for line in first.sending),
        "at_risk": len(first.at_risk),
        "short": sum(1 for line in first.lines if line.short > 0),
        "transfers_again": len(again.transfer_ids),
    }


def _timed(
    sessions: Any, sites: list[int], *, dry_run: bool
) -> tuple[float, list[replenishment.ReplenishmentRun]]:
    runs = []
    start = time.perf_counter()
    for site_id in sites:
        with sessions.begin() as session:
            runs.append(replenishment.replenish(session, site_id, dry_run=dry_run))
            if dry_run:
                session.rollback()
    return time.perf_counter() - start, runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small network, SQLite only")
    parser.add_argument("--postgres", help="a PostgreSQL server URL for a scratch database")
    parser.add_argument("--csv", default="benchmarks/results/replenishment.csv")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    server = args.postgres
    configured = os.environ.get("WMS_DATABASE_URL", "")
    if server is None and configured.startswith("postgresql"):
        server = configured
    if args.quick:
        server = None
    size = "small" if args.quick else "city"
    console = Console(width=240)  # nineteen columns: headers whole
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        console.print(f"the {size} network on SQLite ...")
        rows.append(run(f"sqlite:///{Path(tmp) / 'replenishment.sqlite3'}", size, args.seed))
        if server:
            console.print(f"the {size} network on PostgreSQL ...")
            url, drop = postgres_database(server)
            try:
                rows.append(run(url, size, args.seed))
            finally:
                drop()
    table = Table(title="pick-face replenishment and DC transfers over every front warehouse")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    for row in rows:
        if row["network"] == "city":
            verdict = "met" if row["scan_s"] <= TARGET_SCAN_S else "NOT met"
            console.print(
                f"target: scan of {row['pick_faces']} pick faces at {row['front_warehouses']} "
                f"front warehouses in <= {TARGET_SCAN_S:g} s on {row['backend']}: "
                f"{row['scan_s']} s: {verdict}"
            )
    out = Path(args.csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()

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

Target (judged, not asserted): the scan over every pick face of the 20 front warehouses of the
``city`` network in at most 5 s. The transfer forecast of issue #8 is not built yet and is not
measured here.

Prints a table and writes CSV (default ``benchmarks/results/replenishment.csv``).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, update

from benchmarks._databases import postgres_database
from wms import demo, migrate, replenishment
from wms.db import make_engine, make_sessions
from wms.models import Site, SiteKind, Slot, SlotKind

TARGET_SCAN_S = 5.0
SECRET = "benchmark-secret"


def run(url: str, size: str, seed: int) -> dict[str, Any]:
    """Load the network, then scan, run and run again at every front warehouse."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        sessions = make_sessions(engine)
        with sessions.begin() as session:
            demo.write(session, demo.build(demo.SIZES[size], seed=seed), secret_key=SECRET)
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
    console = Console(width=160)
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
    table = Table(title="pick-face replenishment over every front warehouse")
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

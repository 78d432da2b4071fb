"""How long the demo network takes to load, per size and backend.

    python -m benchmarks.demo_load [--quick] [--postgres URL] [--csv PATH]

``--quick`` loads only the small network. PostgreSQL runs when ``--postgres`` (or
``WMS_TEST_DATABASE_URL``) names a server; a fresh database is created and dropped there.
Prints a table and writes CSV (default ``benchmarks/results/demo_load.csv``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from benchmarks._databases import postgres_database
from wms import check, demo, migrate
from wms.db import make_engine, make_sessions

DAY = dt.date(2026, 11, 23)


def _load(url: str, size: str) -> dict[str, object]:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        plan = demo.build(demo.SIZES[size], seed=1, day=DAY)
        planned = time.perf_counter()
        with make_sessions(engine).begin() as session:
            counts = demo.write(session, plan, secret_key="benchmark")
        written = time.perf_counter()
        with make_sessions(engine)() as session:
            report = check.verify(session)
        checked = time.perf_counter()
    finally:
        engine.dispose()
    return {
        "size": size,
        "backend": make_url(url).get_backend_name(),
        "front_warehouses": demo.SIZES[size].front_warehouses,
        "orders": counts["orders"],
        "slots": counts["slots"],
        "stock_rows": counts["stock rows"],
        "plan_s": round(planned - started, 2),
        "write_s": round(written - planned, 2),
        "check_s": round(checked - written, 2),
        "check_ok": report.ok,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small network only")
    parser.add_argument("--postgres", default=os.environ.get("WMS_TEST_DATABASE_URL"))
    parser.add_argument("--csv", default="benchmarks/results/demo_load.csv")
    args = parser.parse_args(argv)

    sizes = ["small"] if args.quick else ["small", "city"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            rows.append(_load(f"sqlite:///{Path(tmp) / (size + '.sqlite3')}", size))
            if args.postgres:
                url, drop = postgres_database(args.postgres)
                try:
                    rows.append(_load(url, size))
                finally:
                    drop()

    table = Table(title="demo network load (seed 1)")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console(width=140).print(table)

    out = Path(args.csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    Console().print(f"wrote {out}")


if __name__ == "__main__":
    main()

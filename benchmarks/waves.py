"""How fast a wave is planned and how far its pickers walk, against single-order and FCFS picking.

    python -m benchmarks.waves [--quick] [--orders 1000,5000] [--postgres URL] [--csv PATH]
                               [--seed N]

Each run builds its own front warehouse: a fresh database (a SQLite file, or a scratch
database on PostgreSQL when ``--postgres`` or a PostgreSQL ``WMS_DATABASE_URL`` names a
server), the small demo network loaded into it (``wms demo load``: FW01 has 12 aisles in two
blocks, ambient, chilled and frozen zones, 500 items on its pick faces), then ``N`` orders
for FW01, all due in 40 minutes: 1 + an exponential number of lines (mean about 3, at most
12) of items drawn by velocity class (A five times, B twice as often as C), one or two units
each. Pick faces are topped up (receipt movements, so the ledger holds) until every order can
be served.

Measured, on one core of this process (PostgreSQL runs in its own):

- ``plan s``: ``wms.waves.plan_wave`` for those orders with the default settings (8-tote carts,
  60 kg, 40-litre totes), one committed transaction: allocation, zones, batching, walks;
- ``release s``: ``release_wave`` in its own transaction;
- the wave's walk (the sum of its pick lists' exact walks) and per order line;
- (a) **single-order S-shape**: every order's part in every zone picked alone along the
  S-shape (traversal) walk (``routing.picking``, ``method="s_shape"``); the saving is
  ``1 - ours / that`` per line;
- (b) **first-come-first-served batching** of the same carts: each zone's parts in order
  number order, a cart filled until the next part does not fit (totes, weight, volume), each
  cart walked on its exact shortest path — so the saving over (b) is what batching adds.

Targets (judged, not asserted): a 1,000-order wave planned in at most 10 s and a 5,000-order
wave in at most 60 s; the walk per line at least 30 % below single-order S-shape picking.

Prints a table and writes CSV (default ``benchmarks/results/waves.csv``). A full run (1,000
and 5,000 orders on SQLite, and on PostgreSQL when one is named) takes a few minutes;
``--quick`` plans 300 orders on SQLite only.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import random
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload

from benchmarks._databases import postgres_database
from routing.picking import plan_pick_path
from wms import check, demo, migrate, waves
from wms.db import make_engine, make_sessions
from wms.floor import zone_floor
from wms.models import (
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    PickList,
    PickTask,
    Site,
    Slot,
    SlotKind,
    Stock,
    VelocityClass,
    Wave,
    utcnow,
)

SIZES = (1_000, 5_000)
QUICK_SIZES = (300,)
SITE = "FW01"
TARGET_PLAN_S = {1_000: 10.0, 5_000: 60.0}
TARGET_SAVING_PCT = 30.0
#: Short column titles for the printed table (the CSV keeps the full names).
HEADERS = {
    "pick_lists": "lists",
    "release_s": "release s",
    "plan_s": "plan s",
    "walk_m": "walk m",
    "walk_per_line_m": "m/line",
    "single_s_shape_per_line_m": "S-shape m/line",
    "saving_vs_s_shape_pct": "vs S-shape %",
    "single_optimal_per_line_m": "single opt m/line",
    "fcfs_pick_lists": "FCFS lists",
    "fcfs_walk_m": "FCFS walk m",
    "saving_vs_fcfs_pct": "vs FCFS %",
    "ledger_ok": "ledger",
}
VELOCITY_WEIGHT = {VelocityClass.A: 5.0, VelocityClass.B: 2.0, VelocityClass.C: 1.0}


def _orders(session: Session, site: Site, count: int, rng: random.Random) -> list[int]:
    """Insert ``count`` due orders at the site and top up stock so that all can be served."""
    faces = session.execute(
        select(Stock, Item)
        .join(Slot, Slot.id == Stock.slot_id)
        .join(Item, Item.id == Stock.item_id)
        .where(Slot.site_id == site.id, Slot.kind == SlotKind.PICK_FACE)
        .order_by(Stock.id)
    ).tuples()
    first_row: dict[int, Stock] = {}
    items: dict[int, Item] = {}
    for stock, item in faces:
        first_row.setdefault(item.id, stock)
        items[item.id] = item
    catalogue = sorted(items)
    weights = [VELOCITY_WEIGHT[items[i].velocity] for i in catalogue]
    start = utcnow() + dt.timedelta(minutes=40)
    demand: dict[int, int] = defaultdict(int)
    made = []
    for n in range(count):
        order = Order(
            number=f"BENCH-{uuid.uuid4().hex[:10]}",
            site_id=site.id,
            customer_name=f"Bench customer {n}",
            address=f"Benchstraat {n}",
            latitude=site.latitude + rng.uniform(-0.02, 0.02),
            longitude=site.longitude + rng.uniform(-0.03, 0.03),
            promised_start=start,
            promised_end=start + dt.timedelta(minutes=60),
        )
        wanted = min(12, 1 + int(rng.expovariate(1 / 2.5)))
        chosen: list[int] = []
        while len(chosen) < wanted:
            (item_id,) = rng.choices(catalogue, weights=weights)
            if item_id not in chosen:
                chosen.append(item_id)
        for line_no, item_id in enumerate(chosen, start=1):
            quantity = rng.choice((1, 1, 2))
            demand[item_id] += quantity
            order.lines.append(OrderLine(line_no=line_no, item_id=item_id, quantity=quantity))
        session.add(order)
        made.append(order)
    session.flush()
    operation = str(uuid.uuid4())
    for item_id, units in demand.items():
        on_hand = session.scalars(
            select(Stock)
            .join(Slot, Slot.id == Stock.slot_id)
            .where(
                Stock.item_id == item_id,
                Slot.site_id == site.id,
                Slot.kind.in_((SlotKind.PICK_FACE, SlotKind.RESERVE)),
            )
        ).all()
        have = sum(
            s.on_hand - s.reserved for s in on_hand if not s.expiry or s.expiry > start.date()
        )
        if have < units:
            row = first_row[item_id]
            row.on_hand += units - have
            session.add(
                Movement(stock_id=row.id, kind=MovementKind.RECEIPT, quantity=units - have,
                         operation_id=operation, reason="benchmark top-up")
            )  # fmt: skip
            if row.expiry is not None and row.expiry <= start.date():
                row.expiry = start.date() + dt.timedelta(days=30)
    session.flush()
    return [o.id for o in made]


def _baselines(session: Session, wave: Wave, settings: waves.WaveSettings) -> dict[str, float]:
    """Single-order S-shape walks and first-come-first-served carts of the wave's parts."""
    site = session.get(Site, wave.site_id)
    assert site is not None
    lists = session.scalars(
        select(PickList)
        .where(PickList.wave_id == wave.id)
        .options(
            selectinload(PickList.tasks).options(
                selectinload(PickTask.slot), selectinload(PickTask.item)
            )
        )
    ).all()
    # One part per order and zone: its picks, totes on the cart, weight and volume.
    parts: dict[tuple[Any, int], dict[str, Any]] = {}
    for pick_list in lists:
        for task in pick_list.tasks:
            part = parts.setdefault(
                (pick_list.temperature, task.order_id),
                {"slots": [], "totes": set(), "weight": 0, "volume": 0},
            )
            part["slots"].append(task.slot)
            part["totes"].add((pick_list.id, task.tote))
            part["weight"] += task.item.weight_g * task.quantity
            item = task.item
            part["volume"] += (
                item.length_mm * item.width_mm * item.height_mm * task.quantity // 1000
            )
    s_shape = fcfs = 0.0
    fcfs_lists = 0
    cart = settings.cart
    for temperature in waves.ZONE_ORDER:
        floor = zone_floor(site.code, site.layout, temperature)
        zone_parts = [parts[k] for k in sorted(k for k in parts if k[0] is temperature)]
        if floor is None or not zone_parts:
            continue
        for part in zone_parts:
            picks = [floor.pick(slot) for slot in part["slots"]]
            part["picks"] = picks
            s_shape += plan_pick_path(floor.layout, picks, method="s_shape").length_m
        carts: list[list[dict[str, Any]]] = []
        load = [0, 0, 0]
        for part in zone_parts:
            need = (len(part["totes"]), part["weight"], part["volume"])
            total = [a + b for a, b in zip(load, need, strict=True)]
            fits = (
                total[0] <= cart.totes
                and (cart.max_weight_g is None or total[1] <= cart.max_weight_g)
                and (cart.max_volume_cm3 is None or total[2] <= cart.max_volume_cm3)
            )
            if carts and fits:
                carts[-1].append(part)
                load = total
            else:
                carts.append([part])
                load = list(need)
        for members in carts:
            fcfs += plan_pick_path(floor.layout, [p for m in members for p in m["picks"]]).length_m
        fcfs_lists += len(carts)
    return {"s_shape_m": s_shape, "fcfs_m": fcfs, "fcfs_lists": fcfs_lists}


def run(url: str, count: int, seed: int) -> dict[str, Any]:
    """Load the demo network, add the orders, plan and release one wave; its figures."""
    engine = make_engine(url)
    sessions = make_sessions(engine)
    try:
        migrate.upgrade(engine)
        with sessions.begin() as session:
            demo.write(session, demo.build(demo.SIZES["small"], seed=1), secret_key="bench")
        with sessions.begin() as session:
            site = session.scalars(select(Site).where(Site.code == SITE)).one()
            site_id = site.id
            order_ids = _orders(session, site, count, random.Random(seed))
        settings = waves.WaveSettings()
        started = time.perf_counter()
        with sessions.begin() as session:
            plan = waves.plan_wave(session, site_id, settings=settings, order_ids=order_ids)
            assert plan.wave is not None, plan.skipped[:3]
            wave_id = plan.wave.id
            skipped = len(plan.skipped)
        planned = time.perf_counter()
        with sessions.begin() as session:
            waves.release_wave(session, wave_id)
        released = time.perf_counter()
        with sessions() as session:
            wave = session.get(Wave, wave_id)
            assert wave is not None
            figures = _baselines(session, wave, settings)
            report = check.verify(session)
            lines = wave.lines_count
            row = {
                "backend": make_url(url).get_backend_name(),
                "orders": wave.orders_count,
                "skipped": skipped,
                "lines": lines,
                "pick_lists": len(wave.pick_lists),
                "plan_s": round(planned - started, 2),
                "release_s": round(released - planned, 2),
                "walk_m": round(wave.walk_m, 1),
                "walk_per_line_m": round(wave.walk_m / lines, 2),
                "single_s_shape_per_line_m": round(figures["s_shape_m"] / lines, 2),
                "saving_vs_s_shape_pct": round(100 * (1 - wave.walk_m / figures["s_shape_m"]), 1),
                "single_optimal_per_line_m": round(wave.single_order_walk_m / lines, 2),
                "fcfs_pick_lists": figures["fcfs_lists"],
                "fcfs_walk_m": round(figures["fcfs_m"], 1),
                "saving_vs_fcfs_pct": round(100 * (1 - wave.walk_m / figures["fcfs_m"]), 1),
                "ledger_ok": report.ok,
            }
    finally:
        engine.dispose()
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 orders on SQLite only")
    parser.add_argument("--orders", help="wave sizes, e.g. 1000,5000")
    parser.add_argument("--postgres", help="a PostgreSQL server URL for a scratch database")
    parser.add_argument("--csv", default="benchmarks/results/waves.csv")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    server = args.postgres
    configured = os.environ.get("WMS_DATABASE_URL", "")
    if server is None and configured.startswith("postgresql"):
        server = configured
    if args.quick:
        server = None
    sizes = (
        tuple(int(n) for n in args.orders.split(","))
        if args.orders
        else (QUICK_SIZES if args.quick else SIZES)
    )
    console = Console(width=160)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in sizes:
            console.print(f"planning {count} orders on SQLite ...")
            rows.append(run(f"sqlite:///{Path(tmp) / f'waves_{count}.sqlite3'}", count, args.seed))
            if server:
                console.print(f"planning {count} orders on PostgreSQL ...")
                url, drop = postgres_database(server)
                try:
                    rows.append(run(url, count, args.seed))
                finally:
                    drop()

    table = Table(title="wave planning at FW01 of the demo network (one core)")
    for column in rows[0]:
        table.add_column(HEADERS.get(column, column), justify="right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    for row in rows:
        bound = TARGET_PLAN_S.get(row["orders"])
        if bound is not None:
            verdict = "met" if row["plan_s"] <= bound else "NOT met"
            console.print(
                f"target: {row['orders']} orders planned in <= {bound:g} s on {row['backend']}: "
                f"{row['plan_s']} s: {verdict}"
            )
        verdict = "met" if row["saving_vs_s_shape_pct"] >= TARGET_SAVING_PCT else "NOT met"
        console.print(
            f"target: walk per line >= {TARGET_SAVING_PCT:g} % below single-order S-shape "
            f"({row['orders']} orders, {row['backend']}): {row['saving_vs_s_shape_pct']} %: "
            f"{verdict}"
        )
    out = Path(args.csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    console.print(f"wrote {out}")
    if not all(math.isfinite(r["walk_m"]) for r in rows):  # pragma: no cover - a broken run
        raise SystemExit(1)


if __name__ == "__main__":
    main()

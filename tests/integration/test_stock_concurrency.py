"""Concurrent allocators and pickers cannot book a unit twice, lose one, or drive stock negative.

Invariant 2 of ARCHITECTURE.md, proven with real threads on PostgreSQL: every thread has its
own sessions on a shared engine and runs one transaction per unit of work, as the web workers
and scanners do. Deadlocks and serialization failures are retried a bounded number of times;
every other failure must be a 409-class refusal (``Conflict``: insufficient or expired stock).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from wms import allocation, check, migrate, stock
from wms.db import make_engine, make_sessions, parse_database_url
from wms.errors import Conflict
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    Zone,
)
from wms.retry import retrying

pytestmark = pytest.mark.postgres

THREADS = 16
ROUNDS = 12
SHORT_PICK_RATE = 0.04
SITE_TZ = "Europe/Amsterdam"
#: Retries of one transaction after deadlocks or serialization failures, at most.
ATTEMPTS = 8

T = TypeVar("T")


def counting_attempts(unit_of_work: Callable[[], T], outcomes: Outcomes) -> Callable[[], T]:
    """The same unit of work, counting every run after the first (a retry) in outcomes."""
    runs = 0

    def run() -> T:
        nonlocal runs
        runs += 1
        if runs > 1:
            with outcomes.lock:
                outcomes.retries += 1
        return unit_of_work()

    return run


@pytest.fixture
def pg_sessions(new_database: Callable[[], str]) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh migrated database, from an engine with a connection per thread."""
    url = new_database()
    setup = make_engine(url)
    migrate.upgrade(setup)
    setup.dispose()
    # make_engine's PostgreSQL engine (pre-ping), with a pool that never makes a thread wait.
    engine = create_engine(
        parse_database_url(url), pool_pre_ping=True, pool_size=THREADS + 2, max_overflow=0
    )
    try:
        yield make_sessions(engine)
    finally:
        engine.dispose()


def site_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(SITE_TZ)).date()


@dataclass
class Warehouse:
    site_id: int
    item_id: dict[str, int] = field(default_factory=dict)
    #: line id -> (item name, quantity)
    lines: dict[int, tuple[str, int]] = field(default_factory=dict)
    #: Fresh units per item at the start: all that may ever be allocated.
    supply: dict[str, int] = field(default_factory=dict)
    expired_row_id: int | None = None


def build_warehouse(
    session: Session, stock_plan: list[tuple[str, str, str, int | None, int]]
) -> Warehouse:
    """A site, an ambient zone, the slots and items the plan names, and its units received.

    ``stock_plan`` rows are (slot, item, lot, expiry in days from today or None, units); the
    first slot named is a pick face, the others reserve slots.
    """
    site = Site(
        code="RACE", name="Race site", kind=SiteKind.FRONT_WAREHOUSE,
        latitude=52.37, longitude=4.89, timezone=SITE_TZ,
    )  # fmt: skip
    session.add(site)
    session.flush()
    zone = Zone(site_id=site.id, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
    session.add(zone)
    session.flush()
    warehouse = Warehouse(site_id=site.id)
    slots: dict[str, Slot] = {}
    today = site_today()
    for slot_name, item_name, lot, days, units in stock_plan:
        if item_name not in warehouse.item_id:
            item = Item(
                sku=item_name, name=item_name.title(), length_mm=100, width_mm=80,
                height_mm=60, weight_g=250, lot_tracked=bool(lot), expiry_tracked=days is not None,
                temperature=Temperature.AMBIENT,
            )  # fmt: skip
            session.add(item)
            session.flush()
            warehouse.item_id[item_name] = item.id
            warehouse.supply[item_name] = 0
        if slot_name not in slots:
            n = len(slots) + 1
            slots[slot_name] = Slot(
                site_id=site.id, zone_id=zone.id, barcode=slot_name,
                kind=SlotKind.PICK_FACE if n == 1 else SlotKind.RESERVE,
                block=1, aisle=1 + n // 4, bay=1 + n % 4, side="L", level=1,
            )  # fmt: skip
            session.add(slots[slot_name])
            session.flush()
        expiry = None if days is None else today + dt.timedelta(days=days)
        movement = stock.adjust(
            session, slot_id=slots[slot_name].id, item_id=warehouse.item_id[item_name],
            quantity=units, reason="found", lot=lot, expiry=expiry,
        )  # fmt: skip
        if expiry is not None and expiry < today:
            warehouse.expired_row_id = movement.stock_id
        else:
            warehouse.supply[item_name] += units
    return warehouse


def add_orders(
    session: Session, warehouse: Warehouse, orders: list[list[tuple[str, int]]]
) -> list[int]:
    """One order per entry, with one line per (item, quantity); returns the line ids."""
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    line_ids = []
    for n, lines in enumerate(orders, start=1):
        order = Order(
            number=f"RACE{n:04d}", site_id=warehouse.site_id, customer_name=f"Customer {n}",
            address="Teststraat 1", latitude=52.38, longitude=4.9, promised_start=start,
            promised_end=start + dt.timedelta(hours=1),
            lines=[
                OrderLine(line_no=i, item_id=warehouse.item_id[item], quantity=qty)
                for i, (item, qty) in enumerate(lines, start=1)
            ],
        )  # fmt: skip
        session.add(order)
        session.flush()
        for line, (item, qty) in zip(order.lines, lines, strict=True):
            warehouse.lines[line.id] = (item, qty)
            line_ids.append(line.id)
    return line_ids


@dataclass
class Outcomes:
    """What the threads saw, shared by them and changed only under its lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    refusals: list[Exception] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    picked_per_line: Counter[int] = field(default_factory=Counter)
    picks: int = 0
    retries: int = 0


def run_threads(worker: Callable[[int, threading.Barrier], None], outcomes: Outcomes) -> None:
    """Start THREADS workers together and wait for them; a crashed worker is an error."""
    barrier = threading.Barrier(THREADS)

    def guarded(n: int) -> None:
        try:
            worker(n, barrier)
        except BaseException:
            with outcomes.lock:
                outcomes.errors.append(traceback.format_exc())

    threads = [
        threading.Thread(target=guarded, args=(n,), name=f"picker-{n}") for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker is stuck"
    assert not outcomes.errors, "\n".join(outcomes.errors[:3])


def allocate_in_a_transaction(
    sessions: sessionmaker[Session], line_id: int, rng: random.Random
) -> list[tuple[int, int]]:
    """One request: allocate a line (409 when nothing is left), holding the locks a moment."""
    with sessions.begin() as session:
        result = allocation.allocate(session, line_id, refuse_if_none=True)
        # Keep the rows locked a little while, so that the other threads queue on them.
        time.sleep(rng.uniform(0, 0.003))
        return [(a.id, a.quantity) for a in result.allocations]


def pick_in_a_transaction(
    sessions: sessionmaker[Session],
    allocations: list[tuple[int, int]],
    rng: random.Random,
    *,
    short_pick_rate: float = 0.0,
) -> Counter[int]:
    """One request: confirm the picks of these allocations, some of them short, and pick
    whatever a short pick re-allocated too. Returns the units picked per line."""
    picked: Counter[int] = Counter()
    queue = list(allocations)
    with sessions.begin() as session:
        while queue:
            allocation_id, quantity = queue.pop(0)
            short = rng.random() < short_pick_rate
            taken = rng.randrange(quantity) if short else quantity
            result = allocation.confirm_pick(session, allocation_id, quantity=taken)
            picked[result.allocation.order_line_id] += taken
            queue.extend((a.id, a.quantity) for a in result.reallocated)
    return picked


def allocate_then_pick(
    sessions: sessionmaker[Session],
    line_id: int,
    rng: random.Random,
    outcomes: Outcomes,
    *,
    short_pick_rate: float = 0.0,
) -> None:
    """A scanner's two requests for one line: allocate it, then pick what it got."""
    try:
        allocate = partial(allocate_in_a_transaction, sessions, line_id, rng)
        got = retrying(counting_attempts(allocate, outcomes), attempts=ATTEMPTS)
        pick = partial(pick_in_a_transaction, sessions, got, rng, short_pick_rate=short_pick_rate)
        picked = retrying(counting_attempts(pick, outcomes), attempts=ATTEMPTS)
    except Conflict as refused:
        with outcomes.lock:
            outcomes.refusals.append(refused)
        return
    with outcomes.lock:
        outcomes.picks += len(got)
        outcomes.picked_per_line.update(picked)


def test_concurrent_allocation_and_picking_never_books_a_unit_twice(pg_sessions):
    # (slot, item, lot, expiry in days, units): 60 fresh units of each item over 2-3 slots
    # and lots, and 10 units of milk that expired yesterday and must never be allocated.
    plan = [
        ("PF-1", "PASTA", "", None, 25),
        ("R-1", "PASTA", "", None, 20),
        ("R-2", "PASTA", "", None, 15),
        ("R-3", "MILK", "L1", 3, 20),
        ("R-4", "MILK", "L2", 10, 25),
        ("R-1", "MILK", "L3", 30, 15),
        ("R-2", "MILK", "L0", -1, 10),
        ("R-3", "RICE", "A", None, 30),
        ("R-4", "RICE", "B", None, 30),
    ]
    rng = random.Random(20261123)
    with pg_sessions.begin() as session:
        warehouse = build_warehouse(session, plan)
        demand: Counter[str] = Counter()
        orders = []
        while any(demand[item] < 1.5 * supply for item, supply in warehouse.supply.items()):
            items = rng.sample(sorted(warehouse.supply), rng.randint(1, 3))
            lines = [(item, rng.randint(1, 4)) for item in items]
            demand.update(dict(lines))
            orders.append(lines)
        line_ids = add_orders(session, warehouse, orders)
    initial = on_hand_per_item(pg_sessions, warehouse)
    outcomes = Outcomes()

    def picker(n: int, barrier: threading.Barrier) -> None:
        rng = random.Random(n)
        barrier.wait(timeout=30)
        for _ in range(ROUNDS):
            allocate_then_pick(
                pg_sessions, rng.choice(line_ids), rng, outcomes, short_pick_rate=SHORT_PICK_RATE
            )

    started = time.monotonic()
    run_threads(picker, outcomes)
    elapsed = time.monotonic() - started

    refusals = Counter(type(r).__name__ for r in outcomes.refusals)
    print(f"{THREADS} threads x {ROUNDS} rounds in {elapsed:.1f}s: {outcomes.picks} picks, "
          f"refused {dict(refusals)}, retried {outcomes.retries} times")  # fmt: skip
    # Contention really happened: stock ran out, and the refusals said so.
    assert outcomes.picks > 0
    assert refusals["InsufficientStock"] + refusals["ExpiredStockOnly"] > 0
    assert all(
        isinstance(r, (stock.InsufficientStock, allocation.ExpiredStockOnly))
        for r in outcomes.refusals
    ), refusals

    final = on_hand_per_item(pg_sessions, warehouse)
    with pg_sessions() as session:
        report = check.verify(session)
        assert report.ok, report.violations
        picked_by_allocation = dict(
            session.execute(
                select(OrderLine.item_id, func.sum(Allocation.picked_qty))
                .join(OrderLine, OrderLine.id == Allocation.order_line_id)
                .where(Allocation.status == AllocationStatus.PICKED)
                .group_by(OrderLine.item_id)
            ).all()
        )
        picked_by_ledger = dict(
            session.execute(
                select(Stock.item_id, -func.sum(Movement.quantity))
                .join(Stock, Stock.id == Movement.stock_id)
                .where(Movement.kind == MovementKind.PICK)
                .group_by(Stock.item_id)
            ).all()
        )
        lines = {
            line.id: line
            for line in session.scalars(select(OrderLine).where(OrderLine.id.in_(line_ids)))
        }
        open_per_item: Counter[int] = Counter()
        for a in session.scalars(
            select(Allocation).where(Allocation.status == AllocationStatus.OPEN)
        ):
            open_per_item[lines[a.order_line_id].item_id] += a.quantity
        committed = committed_per_line(session)
        expired = session.get(Stock, warehouse.expired_row_id)
        expired_allocations = session.scalar(
            select(func.count()).select_from(Allocation).where(Allocation.stock_id == expired.id)
        )

    recorded_per_item: Counter[str] = Counter()
    for line_id, units in outcomes.picked_per_line.items():
        recorded_per_item[warehouse.lines[line_id][0]] += units
    for name, item_id in warehouse.item_id.items():
        consumed = initial[name] - final[name]
        # Every unit that left the shelves was picked once, as the pickers recorded it.
        assert consumed == picked_by_allocation.get(item_id, 0) == recorded_per_item[name], name
        assert consumed == picked_by_ledger.get(item_id, 0), name
        # Never more promised or picked than there was.
        assert consumed + open_per_item[item_id] <= warehouse.supply[name], name
    for line_id, line in lines.items():
        assert line.picked_qty == outcomes.picked_per_line[line_id], line_id
        assert committed.get(line_id, 0) <= line.quantity, line_id
    assert (expired.on_hand, expired.reserved, expired_allocations) == (10, 0, 0)


def test_sixteen_pickers_racing_for_the_last_five_units_five_get_one(pg_sessions):
    with pg_sessions.begin() as session:
        warehouse = build_warehouse(
            session, [("PF-1", "LAST", "", None, 3), ("R-1", "LAST", "", None, 2)]
        )
        line_ids = add_orders(session, warehouse, [[("LAST", 1)] for _ in range(THREADS)])
    outcomes = Outcomes()

    def picker(n: int, barrier: threading.Barrier) -> None:
        rng = random.Random(n)
        barrier.wait(timeout=30)
        allocate_then_pick(pg_sessions, line_ids[n], rng, outcomes)

    run_threads(picker, outcomes)

    assert sorted(outcomes.picked_per_line.values()) == [1] * 5
    assert len(outcomes.refusals) == THREADS - 5
    assert all(type(r) is stock.InsufficientStock for r in outcomes.refusals), outcomes.refusals
    with pg_sessions() as session:
        rows = session.execute(
            select(Stock.on_hand, Stock.reserved).where(Stock.item_id == warehouse.item_id["LAST"])
        ).all()
        assert [tuple(r) for r in rows] == [(0, 0), (0, 0)]
        picks = session.scalars(
            select(Movement.quantity).where(Movement.kind == MovementKind.PICK)
        ).all()
        assert sorted(picks) == [-1] * 5
        picked_lines = session.scalars(
            select(OrderLine.id).where(OrderLine.id.in_(line_ids), OrderLine.picked_qty == 1)
        ).all()
        assert sorted(picked_lines) == sorted(outcomes.picked_per_line)
        report = check.verify(session)
        assert report.ok, report.violations


def on_hand_per_item(sessions: sessionmaker[Session], warehouse: Warehouse) -> dict[str, int]:
    with sessions() as session:
        totals = dict(
            session.execute(
                select(Stock.item_id, func.sum(Stock.on_hand)).group_by(Stock.item_id)
            ).all()
        )
    return {name: int(totals.get(item_id, 0)) for name, item_id in warehouse.item_id.items()}


def committed_per_line(session: Session) -> dict[int, int]:
    """Units each line holds: open allocations, and what its picked allocations took."""
    committed: dict[int, int] = defaultdict(int)
    for a in session.scalars(
        select(Allocation).where(Allocation.status != AllocationStatus.RELEASED)
    ):
        committed[a.order_line_id] += (
            a.picked_qty if a.status is AllocationStatus.PICKED else a.quantity
        )
    return committed

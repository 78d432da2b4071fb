"""Planners, releasers, cancellers and pickers at one site at once never book a line twice.

Real threads on PostgreSQL, each with its own sessions and one transaction per unit of work
(as web workers do), retrying deadlocks and serialization failures. Every thread plans waves
from the same orders — the site's due ones, or overlapping lists named explicitly — releases
or cancels them, and two of them pick what is released. Afterwards: no order is in two live
waves, no allocation is on two tasks, no line is allocated beyond its quantity, and the
ledger and reservations agree (invariant 1).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.waves_fixtures import build_warehouse
from wms import check, picklists, waves
from wms.errors import Conflict
from wms.models import (
    Allocation,
    AllocationStatus,
    Order,
    OrderLine,
    PickTask,
    PickTaskStatus,
    Temperature,
    Wave,
    WaveStatus,
    utcnow,
)
from wms.retry import retrying

pytestmark = pytest.mark.postgres

PLANNERS = 8
PICKERS = 2
ROUNDS = 6
ORDERS = 48


def seed(sessions: sessionmaker[Session]) -> tuple[int, list[int]]:
    """A warehouse whose orders ask for more than some items have."""
    rng = random.Random(3)
    with sessions.begin() as session:
        house = build_warehouse(session, code="RACE")
        items = [
            house.stocked(qty=rng.choice([4, 8, 30]), aisle=1 + i % 4, bay=1 + i) for i in range(9)
        ]
        items.append(house.stocked(Temperature.CHILLED, qty=10, bay=6))
        start = utcnow() + dt.timedelta(minutes=40)
        made = []
        for _ in range(ORDERS):
            lines = [(item, rng.randint(1, 3)) for item in rng.sample(items, rng.randint(1, 3))]
            made.append(house.order(lines, start=start, priority=rng.randint(0, 2)).id)
        return house.site.id, made


def run_threads(workers: list[Callable[[], None]]) -> list[str]:
    errors: list[str] = []
    gate = threading.Barrier(len(workers))

    def wrap(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            gate.wait()
            try:
                work()
            except Exception:  # reported by the test below
                errors.append(traceback.format_exc())

        return run

    threads = [threading.Thread(target=wrap(w)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


def test_concurrent_wave_planning_release_cancel_and_picking_never_book_a_line_twice(
    pg_sessions: sessionmaker[Session],
):
    site_id, order_ids = seed(pg_sessions)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def note(what: str) -> None:
        with lock:
            outcomes[what] += 1

    def unit(fn: Callable[[Session], str]) -> None:
        def attempt() -> str:
            with pg_sessions.begin() as session:
                return fn(session)

        try:
            note(retrying(attempt, attempts=8))
        except Conflict:
            note("conflict")

    def planner(n: int) -> Callable[[], None]:
        rng = random.Random(n)

        def work() -> None:
            for _ in range(ROUNDS):
                named = rng.sample(order_ids, 10) if rng.random() < 0.5 else None
                settings = waves.WaveSettings(cart_totes=4, max_orders=rng.randint(3, 8))

                def plan(
                    session: Session,
                    settings: waves.WaveSettings = settings,
                    named: list[int] | None = named,
                ) -> str:
                    made = waves.plan_wave(
                        session, site_id, settings=settings, order_ids=named
                    ).wave
                    if made is None:
                        return "empty"
                    if rng.random() < 0.7:
                        waves.release_wave(session, made.id)
                        return "released"
                    return "planned"

                unit(plan)

                def cancel_one(session: Session) -> str:
                    candidate = session.scalar(
                        select(Wave.id)
                        .where(Wave.site_id == site_id, Wave.status == WaveStatus.PLANNED)
                        .order_by(func.random())
                        .limit(1)
                    )
                    if candidate is None:
                        return "nothing to cancel"
                    waves.cancel_wave(session, candidate)
                    return "cancelled"

                if rng.random() < 0.4:
                    unit(cancel_one)
            planner_done()

        return work

    planners_left = [PLANNERS]

    def planner_done() -> None:
        with lock:
            planners_left[0] -= 1

    def picker(n: int) -> Callable[[], None]:
        def work() -> None:
            # Until the planners are through, then until nothing is left to pick.
            while True:
                with lock:
                    planning = planners_left[0] > 0
                before = outcomes["idle"]

                def pick(session: Session) -> str:
                    taken = picklists.take_next(session, site_id, user_id=None)
                    if taken is None:
                        return "idle"
                    for task in sorted(taken.tasks, key=lambda t: t.sequence):
                        if task.status is PickTaskStatus.OPEN:
                            picklists.confirm_task(
                                session, taken.id, task.id, quantity=task.quantity
                            )
                    return "picked a list"

                unit(pick)
                if not planning and outcomes["idle"] > before:
                    return
                if outcomes["idle"] > before:
                    time.sleep(0.01)

        return work

    errors = run_threads(
        [planner(n) for n in range(PLANNERS)] + [picker(n) for n in range(PICKERS)]
    )

    assert not errors, errors[0]
    assert outcomes["released"] > 0 and outcomes["picked a list"] > 0, outcomes
    with pg_sessions.begin() as session:
        assert check.verify(session).ok
        # No allocation is on two tasks (also a unique key), and no live task lost its allocation.
        live_tasks = session.scalars(
            select(PickTask).where(PickTask.status != PickTaskStatus.CANCELLED)
        ).all()
        assert len({t.allocation_id for t in live_tasks}) == len(live_tasks)
        # Every order is in at most one live wave, and its live tasks are all in that wave.
        live = {
            w.id
            for w in session.scalars(
                select(Wave).where(Wave.status.in_([WaveStatus.PLANNED, WaveStatus.RELEASED]))
            )
        }
        for order in session.scalars(select(Order).where(Order.id.in_(order_ids))):
            waves_of_order = {
                t.pick_list.wave_id
                for t in live_tasks
                if t.order_id == order.id and t.status is PickTaskStatus.OPEN
            }
            assert len(waves_of_order) <= 1
            if waves_of_order:
                assert waves_of_order == {order.wave_id}
                assert order.wave_id in live
        # No line is booked beyond its quantity (open + picked units).
        booked = dict(
            session.execute(
                select(Allocation.order_line_id, func.sum(Allocation.quantity))
                .where(Allocation.status == AllocationStatus.OPEN)
                .group_by(Allocation.order_line_id)
            ).all()
        )
        picked = dict(
            session.execute(
                select(Allocation.order_line_id, func.sum(Allocation.picked_qty))
                .where(Allocation.status == AllocationStatus.PICKED)
                .group_by(Allocation.order_line_id)
            ).all()
        )
        for line in session.scalars(select(OrderLine)):
            assert booked.get(line.id, 0) + picked.get(line.id, 0) <= line.quantity, line.id
            assert line.picked_qty == picked.get(line.id, 0)

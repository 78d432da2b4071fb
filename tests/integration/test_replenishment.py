"""The replenishment job on the database: levels read, faces locked, one task per face."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from wms import replenishment, tasks
from wms.models import (
    Item,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Task,
    TaskKind,
    Temperature,
    Zone,
)

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def face_and_reserve(make_item, make_slot, make_stock):
    """A pick face of MILK (min 5, max 20) holding 3, and two reserve rows of it."""
    milk = make_item("MILK")
    face = make_slot("A-01-01", aisle=1, bay=1, item_id=milk.id, min_qty=5, max_qty=20)
    later = make_slot("R-01-01", kind=SlotKind.RESERVE, aisle=2, bay=1)
    sooner = make_slot("R-01-02", kind=SlotKind.RESERVE, aisle=2, bay=2)
    make_stock(slot=face, item=milk, qty=3)
    make_stock(slot=later, item=milk, qty=40, lot="L2", expiry=dt.date(2027, 1, 10))
    make_stock(slot=sooner, item=milk, qty=30, lot="L1", expiry=dt.date(2026, 12, 20))
    return milk, face, sooner


def replenishment_tasks(session) -> list[Task]:
    return list(
        session.scalars(select(Task).where(Task.kind == TaskKind.REPLENISHMENT).order_by(Task.id))
    )


def test_a_face_below_min_gets_a_task_from_the_first_to_expire(session, face_and_reserve):
    _milk, face, sooner = face_and_reserve

    run = replenishment.replenish(session, face.site_id, now=NOW)

    [task] = replenishment_tasks(session)
    assert (task.from_slot_id, task.to_slot_id, task.lot, task.quantity) == (
        sooner.id,
        face.id,
        "L1",
        17,
    )
    assert run.task_ids == (task.id,)
    assert run.summary == "1 pick faces looked at, created 1 replenishment task(s) for 17 units"
    # It is a task like any other: the handhelds' task page lists it.
    assert task in tasks.tasks_for(session, site_id=face.site_id, user_id=None)


def test_running_twice_creates_nothing_the_second_time(session, face_and_reserve):
    _milk, face, _sooner = face_and_reserve

    replenishment.replenish(session, face.site_id, now=NOW)
    again = replenishment.replenish(session, face.site_id, now=NOW)

    assert len(replenishment_tasks(session)) == 1
    assert again.task_ids == ()
    assert [p.reason for p in again.proposals] == ["task_open"]


def test_a_dry_run_says_what_it_would_create_and_creates_nothing(session, face_and_reserve):
    _milk, face, _sooner = face_and_reserve

    run = replenishment.replenish(session, face.site_id, now=NOW, dry_run=True)

    assert replenishment_tasks(session) == []
    assert run.summary.startswith("1 pick faces looked at, would create 1")
    assert run.proposals[0].trace


def test_open_orders_due_soon_count_as_demand(
    session, make_item, make_slot, make_stock, make_order
):
    bread = make_item("BREAD")
    face = make_slot("A-02-01", aisle=1, bay=2, item_id=bread.id, min_qty=4, max_qty=12)
    reserve = make_slot("R-02-01", kind=SlotKind.RESERVE, aisle=2, bay=3)
    make_stock(slot=face, item=bread, qty=8)
    make_stock(slot=reserve, item=bread, qty=50)
    site = session.get(Site, face.site_id)
    make_order(site=site, lines=[(bread, 6)], start=NOW + dt.timedelta(minutes=45))
    make_order(site=site, lines=[(bread, 30)], start=NOW + dt.timedelta(days=2))  # not soon

    run = replenishment.replenish(session, face.site_id, now=NOW)

    [proposal] = run.proposals
    assert (proposal.face.demand, proposal.reason, proposal.quantity) == (6, "replenish", 4)


def test_expired_locked_and_claimed_reserve_is_not_a_source(
    session, make_item, make_slot, make_stock
):
    tea = make_item("TEA")
    face = make_slot("A-03-01", aisle=1, bay=3, item_id=tea.id, min_qty=2, max_qty=10)
    expired = make_slot("R-03-01", kind=SlotKind.RESERVE, aisle=2, bay=4)
    locked = make_slot("R-03-02", kind=SlotKind.RESERVE, aisle=2, bay=5, locked=True)
    make_stock(slot=expired, item=tea, qty=9, lot="OLD", expiry=dt.date(2026, 11, 1))
    make_stock(slot=locked, item=tea, qty=9)

    run = replenishment.replenish(session, face.site_id, now=NOW)

    assert [p.reason for p in run.proposals] == ["no_reserve"]
    assert replenishment_tasks(session) == []


@pytest.mark.postgres
def test_two_runs_at_once_make_one_task_per_face(pg_sessions):
    with pg_sessions.begin() as session:
        site = Site(
            code="FWX",
            name="X",
            kind=SiteKind.FRONT_WAREHOUSE,
            latitude=52.3,
            longitude=4.9,
            timezone="Europe/Amsterdam",
        )
        session.add(site)
        session.flush()
        zone = Zone(site_id=site.id, code="AMB", name="ambient", temperature=Temperature.AMBIENT)
        session.add(zone)
        session.flush()
        site_id = site.id
        for n in range(8):
            item = Item(
                sku=f"I{n}",
                name=f"item {n}",
                length_mm=1,
                width_mm=1,
                height_mm=1,
                weight_g=1,
                temperature=Temperature.AMBIENT,
            )
            session.add(item)
            session.flush()
            face = Slot(
                site_id=site.id,
                zone_id=zone.id,
                barcode=f"F{n}",
                kind=SlotKind.PICK_FACE,
                aisle=1,
                bay=n + 1,
                level=1,
                item_id=item.id,
                min_qty=5,
                max_qty=20,
            )
            back = Slot(
                site_id=site.id,
                zone_id=zone.id,
                barcode=f"R{n}",
                kind=SlotKind.RESERVE,
                aisle=2,
                bay=n + 1,
                level=1,
            )
            session.add_all([face, back])
            session.flush()
            session.add(Stock(slot_id=back.id, item_id=item.id, lot="", on_hand=100, reserved=0))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            with pg_sessions.begin() as session:
                replenishment.replenish(session, site_id, now=NOW)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with pg_sessions() as session:
        per_face = session.execute(
            select(Task.to_slot_id, func.count())
            .where(Task.kind == TaskKind.REPLENISHMENT)
            .group_by(Task.to_slot_id)
        ).all()
    assert len(per_face) == 8
    assert {count for _face, count in per_face} == {1}

"""The slotting review on the database: picks counted per face, faces placed on the floor."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.integration.waves_fixtures import NOW, Warehouse, build_warehouse
from wms import slotting
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    PickList,
    PickListStatus,
    PickTask,
    PickTaskStatus,
    Slot,
    Stock,
    Temperature,
    VelocityClass,
    Wave,
    WaveStatus,
)

_numbers = itertools.count(1)


@pytest.fixture
def house(session: Session) -> Warehouse:
    return build_warehouse(session)


def face(house: Warehouse, item: Item, aisle: int, bay: int) -> Slot:
    """Dedicate the face (aisle, bay, L) to the item and put units in it."""
    slot = house.slot(aisle, bay)
    slot.item_id = item.id
    house.stock(item, 100, aisle=aisle, bay=bay)
    return slot


def picked(house: Warehouse, slot: Slot, item: Item, count: int, *, at: dt.datetime) -> None:
    """``count`` confirmed picks of the item from the slot at ``at``: a done wave's tasks."""
    session = house.session
    n = next(_numbers)
    row = session.scalars(
        select(Stock).where(Stock.slot_id == slot.id, Stock.item_id == item.id)
    ).one()
    wave = Wave(
        number=f"SW-{house.site.code}-{n}",
        site_id=house.site.id,
        status=WaveStatus.COMPLETED,
        cutoff_until=at,
        cart_totes=8,
    )
    session.add(wave)
    session.flush()
    pick_list = PickList(
        wave_id=wave.id,
        sequence=1,
        number=f"SP-{house.site.code}-{n}",
        temperature=item.temperature,
        status=PickListStatus.DONE,
        totes=1,
        path_method="exact",
    )
    order = house.order([(item, count)])
    session.add(pick_list)
    session.flush()
    line = order.lines[0]
    for sequence in range(1, count + 1):
        made = Allocation(
            order_line_id=line.id,
            stock_id=row.id,
            quantity=1,
            picked_qty=1,
            status=AllocationStatus.PICKED,
        )
        session.add(made)
        session.flush()
        session.add(
            PickTask(
                pick_list_id=pick_list.id,
                sequence=sequence,
                allocation_id=made.id,
                order_id=order.id,
                order_line_id=line.id,
                slot_id=slot.id,
                item_id=item.id,
                quantity=1,
                picked_qty=1,
                tote=1,
                status=PickTaskStatus.PICKED,
                done_at=at,
            )
        )
    session.flush()


def lock_empty_faces(session: Session, house: Warehouse) -> None:
    session.execute(
        update(Slot)
        .where(Slot.site_id == house.site.id, Slot.item_id.is_(None))
        .values(locked=True)
    )
    session.expire_all()


YESTERDAY = NOW - dt.timedelta(days=1)


def test_a_fast_mover_far_away_swaps_with_a_slow_mover_near_the_depot(session, house):
    fast, slow, mid = house.item(), house.item(), house.item()
    far = face(house, fast, 4, 10)  # 9 m across, 14.4 m up: 23.4 m from the depot
    near = face(house, slow, 1, 1)  # 1.6 m
    middle = face(house, mid, 2, 2)
    picked(house, far, fast, 28, at=YESTERDAY)  # 2 a day over 14 days
    picked(house, near, slow, 7, at=YESTERDAY)  # 0.5 a day
    picked(house, middle, mid, 14, at=YESTERDAY)
    lock_empty_faces(session, house)

    review = slotting.review_slotting(session, site_id=house.site.id, now=NOW)

    assert {f.barcode: f.distance_m for f in review.faces} == {
        far.barcode: pytest.approx(23.4),
        near.barcode: pytest.approx(1.6),
        middle.barcode: pytest.approx(5.8),
    }
    [swap] = review.swaps
    assert (swap.far.slot_id, swap.near.slot_id) == (far.id, near.id)
    assert (swap.fast_picks_per_day, swap.slow_picks_per_day) == (2.0, 0.5)
    # Each pick out and back: 2 x (23.4 - 1.6) m x (2 - 0.5) picks a day.
    assert swap.metres_saved_per_day == pytest.approx(65.4)
    assert not swap.is_move
    assert review.picks == 49
    assert review.summary == (
        "3 pick faces, 49 picks in 14 days: 1 swap(s) suggested saving 65 m a day, "
        "3 item(s) to reclassify"
    )


def test_a_fast_mover_moves_to_the_nearest_empty_face(session, house):
    fast = house.item()
    far = face(house, fast, 4, 10)
    picked(house, far, fast, 14, at=YESTERDAY)

    review = slotting.review_slotting(session, site_id=house.site.id, now=NOW)

    first = review.swaps[0]
    assert first.is_move and first.far.slot_id == far.id
    assert first.near.distance_m == min(f.distance_m for f in review.faces)
    assert len(review.swaps) == 1  # one fast mover: one move


def test_swaps_stay_within_a_temperature_zone(session, house):
    ice = house.item(Temperature.FROZEN)
    bread = house.item()
    far = face(house, ice, 6, 10)
    face(house, bread, 1, 1)
    picked(house, far, ice, 28, at=YESTERDAY)
    lock_empty_faces(session, house)

    review = slotting.review_slotting(session, site_id=house.site.id, now=NOW)

    assert review.swaps == ()


def test_velocity_classes_that_no_longer_match_the_picks_are_listed(session, house):
    top, second, never = (
        house.item(velocity=VelocityClass.C),
        house.item(velocity=VelocityClass.A),
        house.item(velocity=VelocityClass.A),
    )
    picked(house, face(house, top, 1, 1), top, 30, at=YESTERDAY)
    picked(house, face(house, second, 1, 2), second, 3, at=YESTERDAY)
    face(house, never, 1, 3)

    review = slotting.review_slotting(session, site_id=house.site.id, now=NOW)

    assert [(r.item_id, r.current, r.suggested, r.picks) for r in review.reclassify] == [
        (top.id, VelocityClass.C, VelocityClass.A, 30),
        (second.id, VelocityClass.A, VelocityClass.B, 3),
        (never.id, VelocityClass.A, VelocityClass.C, 0),
    ]
    assert review.reclassify[0].share == pytest.approx(30 / 33)


def test_old_picks_and_other_sites_do_not_count_and_nothing_is_written(session, house):
    fast, slow = house.item(), house.item()
    far, near = face(house, fast, 4, 10), face(house, slow, 1, 1)
    picked(house, far, fast, 28, at=NOW - dt.timedelta(days=20))  # before the window
    other = build_warehouse(session)
    elsewhere = other.item()
    other.slot(4, 10).item_id = elsewhere.id
    other.stock(elsewhere, 50, aisle=4, bay=10)
    picked(other, other.slot(4, 10), elsewhere, 28, at=YESTERDAY)
    lock_empty_faces(session, house)
    session.flush()

    review = slotting.review_slotting(session, site_id=house.site.id, now=NOW)

    assert review.picks == 0 and review.swaps == ()
    assert not session.new and not session.dirty
    assert (far.item_id, near.item_id) == (fast.id, slow.id)

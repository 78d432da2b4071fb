"""Wave planning, release, cancel and re-planning (wms.waves) on a real database."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing.layout import distance
from routing.picking import plan_pick_path
from routing.types import FrontPoint
from tests.integration.waves_fixtures import NOW, Warehouse, build_warehouse
from wms import orders, waves
from wms.check import verify
from wms.errors import Conflict, RuleViolation
from wms.floor import zone_floor
from wms.models import (
    Allocation,
    AllocationStatus,
    OrderStatus,
    PickList,
    PickListStatus,
    PickTask,
    PickTaskStatus,
    Stock,
    Temperature,
    WaveStatus,
)

SETTINGS = waves.WaveSettings(cart_totes=4, cart_max_weight_g=20_000, tote_volume_cm3=20_000)


@pytest.fixture
def house(session: Session) -> Warehouse:
    return build_warehouse(session)


def tasks_of(pick_list: PickList) -> list[PickTask]:
    return sorted(pick_list.tasks, key=lambda t: t.sequence)


def reserved_total(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Stock.reserved), 0))) or 0)


def busy_morning(house: Warehouse, count: int = 12) -> list:
    """Orders of one to three ambient lines, a chilled part for every third, a frozen one."""
    ambient = [house.stocked(aisle=1 + i % 4, bay=1 + (i * 3) % 10) for i in range(8)]
    chilled = house.stocked(Temperature.CHILLED, bay=4)
    frozen = house.stocked(Temperature.FROZEN, bay=9)
    made = []
    for n in range(count):
        lines = [(ambient[(n + k) % 8], 1 + k) for k in range(1 + n % 3)]
        if n % 3 == 0:
            lines.append((chilled, 1))
        if n == 5:
            lines.append((frozen, 2))
        made.append(house.order(lines))
    return made


# --- planning -------------------------------------------------------------------------------


def test_a_wave_puts_every_due_order_on_carts_per_zone_in_walking_order(session, house):
    placed = busy_morning(house)

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    wave = plan.wave
    assert wave is not None and wave.status is WaveStatus.PLANNED
    assert not plan.skipped
    assert wave.orders_count == len(placed)
    assert wave.lines_count == sum(len(o.lines) for o in placed)
    tasks = [t for pl in wave.pick_lists for t in pl.tasks]
    # Every open allocation of the wave's orders is one task, and no line is on two carts.
    allocations = session.scalars(
        select(Allocation).where(Allocation.status == AllocationStatus.OPEN)
    ).all()
    assert sorted(t.allocation_id for t in tasks) == sorted(a.id for a in allocations)
    carts_of_line = {
        line: {t.pick_list_id for t in tasks if t.order_line_id == line}
        for line in {t.order_line_id for t in tasks}
    }
    assert all(len(carts) == 1 for carts in carts_of_line.values())
    temperatures = Counter(pl.temperature for pl in wave.pick_lists)
    assert set(temperatures) == {Temperature.AMBIENT, Temperature.CHILLED, Temperature.FROZEN}
    for pick_list in wave.pick_lists:
        floor = zone_floor(house.site.code, house.site.layout, pick_list.temperature)
        assert floor is not None
        assert pick_list.status is PickListStatus.PLANNED
        # One temperature per cart, within the cart's totes and weight.
        assert {t.slot.zone_id for t in pick_list.tasks} == {house.zones[pick_list.temperature].id}
        assert max(t.tote for t in pick_list.tasks) <= pick_list.totes <= SETTINGS.cart_totes
        assert pick_list.weight_g <= SETTINGS.cart_max_weight_g
        # Each order has its own totes on the cart.
        totes = {}
        for task in pick_list.tasks:
            assert totes.setdefault(task.tote, task.order_id) == task.order_id
        # The tasks come in the order of the shortest walk, whose length the list carries.
        points = [FrontPoint(floor.layout.depot_x_m)]
        points += [floor.pick(t.slot) for t in tasks_of(pick_list)]
        points += [FrontPoint(floor.layout.end_x_m)]
        walked = sum(distance(floor.layout, a, b) for a, b in itertools.pairwise(points))
        assert walked == pytest.approx(pick_list.walk_m, abs=0.01)
        best = plan_pick_path(floor.layout, [floor.pick(t.slot) for t in pick_list.tasks])
        assert pick_list.walk_m == pytest.approx(best.length_m, abs=0.01)
    assert wave.walk_m == pytest.approx(sum(pl.walk_m for pl in wave.pick_lists), abs=0.05)
    assert wave.walk_m < wave.single_order_walk_m
    assert {o.status for o in placed} == {OrderStatus.ALLOCATED}
    assert {o.wave_id for o in placed} == {wave.id}
    assert verify(session).ok


def test_orders_that_cannot_go_are_left_out_each_with_its_reason(session, house):
    item = house.stocked(qty=5)
    locked = house.stocked(qty=5, aisle=2, bay=2)
    house.slot(2, 2).locked = True
    expired = house.stocked(qty=5, aisle=3, bay=3, lot_tracked=True, expiry_tracked=True)
    session.query(Stock).filter(Stock.item_id == expired.id).update(
        {"expiry": NOW.date() - dt.timedelta(days=1), "lot": "L1"}
    )
    fine = house.order([(item, 2)])
    later = house.order([(item, 1)], start=NOW + dt.timedelta(hours=3))
    missed = house.order([(item, 1)], start=NOW - dt.timedelta(minutes=50), minutes=60)
    short = house.order([(item, 1), (house.stocked(qty=1, aisle=4, bay=4), 3)])
    in_locked = house.order([(locked, 1)])
    stale = house.order([(expired, 1)])

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    reasons = {s.order_id: s.reason for s in plan.skipped}
    assert reasons == {
        later.id: waves.NOT_DUE,
        missed.id: waves.WINDOW_MISSED,
        short.id: waves.NO_STOCK,
        in_locked.id: waves.LOCKED_SLOT,
        stale.id: waves.EXPIRED_STOCK,
    }
    assert plan.wave is not None and [o.id for o in plan.wave.orders] == [fine.id]
    assert short.status is OrderStatus.BACKORDERED
    # The short order keeps nothing: its first line's units were given back.
    assert reserved_total(session) == 2
    detail = next(s.detail for s in plan.skipped if s.order_id == short.id)
    assert detail.endswith(": 2 of 3 short (not enough stock available)")
    assert verify(session).ok


def test_planning_with_nothing_due_gives_an_empty_plan_and_changes_nothing(session, house):
    item = house.stocked()
    later = house.order([(item, 1)], start=NOW + dt.timedelta(hours=2))

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    assert plan.wave is None
    assert [(s.order_id, s.reason) for s in plan.skipped] == [(later.id, waves.NOT_DUE)]
    assert reserved_total(session) == 0
    assert later.status is OrderStatus.OPEN


def test_higher_priority_goes_first_when_stock_is_short(session, house):
    item = house.stocked(qty=3)
    low = house.order([(item, 3)], priority=0)
    high = house.order([(item, 3)], priority=5)

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    assert plan.wave is not None and [o.id for o in plan.wave.orders] == [high.id]
    assert [(s.order_id, s.reason) for s in plan.skipped] == [(low.id, waves.NO_STOCK)]


def test_a_wave_takes_at_most_max_orders_earliest_cutoff_first(session, house):
    item = house.stocked()
    early = house.order([(item, 1)], start=NOW + dt.timedelta(minutes=30))
    late = house.order([(item, 1)], start=NOW + dt.timedelta(minutes=45))

    settings = waves.WaveSettings(max_orders=1)
    plan = waves.plan_wave(session, house.site.id, settings=settings, now=NOW)

    assert [o.id for o in plan.wave.orders] == [early.id]
    assert [(s.order_id, s.reason) for s in plan.skipped] == [(late.id, waves.WAVE_FULL)]


def test_named_orders_that_are_already_planned_are_not_planned_again(session, house):
    item = house.stocked()
    first = house.order([(item, 1)])
    waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    again = waves.plan_wave(
        session, house.site.id, settings=SETTINGS, now=NOW, order_ids=[first.id]
    )

    assert again.wave is None
    assert [(s.order_id, s.reason) for s in again.skipped] == [(first.id, waves.NOT_PLANNABLE)]


def test_an_order_too_big_for_one_cart_is_split_across_carts(session, house):
    # 6 x 5 kg of one item on 20 kg carts: at least two carts, never over the limit.
    heavy = house.stocked(qty=10, weight_g=5_000, bay=2)
    other = house.stocked(qty=10, weight_g=5_000, aisle=3, bay=7)
    big = house.order([(heavy, 3), (other, 3)])

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    lists = plan.wave.pick_lists
    assert len(lists) >= 2
    assert all(pl.weight_g <= SETTINGS.cart_max_weight_g for pl in lists)
    assert {t.order_id for pl in lists for t in pl.tasks} == {big.id}


def test_a_site_without_a_rack_layout_picks_in_slot_order(session):
    house = build_warehouse(session, layout=None)
    a, b = house.stocked(aisle=3, bay=2), house.stocked(aisle=1, bay=7)
    house.order([(a, 1), (b, 1)])

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    (pick_list,) = plan.wave.pick_lists
    assert pick_list.walk_m is None and pick_list.path_method == "slot_order"
    assert [t.slot.aisle for t in tasks_of(pick_list)] == [1, 3]


def test_bad_settings_are_refused_naming_the_field(session, house):
    with pytest.raises(RuleViolation) as refused:
        waves.plan_wave(session, house.site.id, settings=waves.WaveSettings(cart_totes=0), now=NOW)
    assert refused.value.field == "cart_totes"


# --- release, cancel, re-plan ------------------------------------------------------------------


def test_a_released_wave_opens_its_pick_lists_and_cannot_be_released_twice(session, house):
    busy_morning(house, 4)
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave

    waves.release_wave(session, wave.id, now=NOW)

    assert wave.status is WaveStatus.RELEASED
    assert {pl.status for pl in wave.pick_lists} == {PickListStatus.OPEN}
    assert {o.status for o in wave.orders} == {OrderStatus.IN_WAVE}
    with pytest.raises(Conflict):
        waves.release_wave(session, wave.id, now=NOW)


@pytest.mark.parametrize("released", [False, True])
def test_cancelling_a_wave_gives_back_every_reservation(session, house, released):
    placed = busy_morning(house, 6)
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave
    assert reserved_total(session) > 0
    if released:
        waves.release_wave(session, wave.id, now=NOW)

    waves.cancel_wave(session, wave.id, now=NOW)

    assert wave.status is WaveStatus.CANCELLED
    assert reserved_total(session) == 0
    assert {o.status for o in placed} == {OrderStatus.OPEN}
    assert {o.wave_id for o in placed} == {None}
    tasks = [t for pl in wave.pick_lists for t in pl.tasks]
    assert {t.status for t in tasks} == {PickTaskStatus.CANCELLED}
    assert verify(session).ok
    # Its orders can go into the next wave.
    again = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)
    assert again.wave is not None and again.wave.orders_count == len(placed)


def test_replanning_the_same_orders_gives_the_same_plan(session, house):
    busy_morning(house, 10)
    first = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave

    def shape(wave):
        return [
            (
                pl.temperature,
                pl.walk_m,
                [(t.order_id, t.slot_id, t.quantity, t.tote) for t in tasks_of(pl)],
            )
            for pl in wave.pick_lists
        ]

    before = shape(first)
    second = waves.replan_wave(session, first.id, settings=SETTINGS, now=NOW).wave

    assert first.status is WaveStatus.CANCELLED
    assert second is not None and second.id != first.id
    assert shape(second) == before
    assert verify(session).ok


def test_only_planned_waves_are_replanned(session, house):
    busy_morning(house, 2)
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave
    waves.release_wave(session, wave.id, now=NOW)

    with pytest.raises(Conflict):
        waves.replan_wave(session, wave.id, settings=SETTINGS, now=NOW)


def test_cancelling_an_order_in_a_planned_wave_withdraws_its_tasks(session, house):
    first, second = busy_morning(house, 2)
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave

    orders.cancel_order(session, first.id)

    assert first.status is OrderStatus.CANCELLED
    tasks = [t for pl in wave.pick_lists for t in pl.tasks]
    assert {t.status for t in tasks if t.order_id == first.id} == {PickTaskStatus.CANCELLED}
    assert {t.status for t in tasks if t.order_id == second.id} == {PickTaskStatus.OPEN}
    held = session.scalars(
        select(Allocation).where(Allocation.status == AllocationStatus.OPEN)
    ).all()
    assert {a.order_line.order_id for a in held} == {second.id}
    assert verify(session).ok


def test_an_order_short_of_one_item_takes_nothing_from_the_orders_behind_it(session, house):
    plenty, none_left = house.stocked(qty=5), house.item()
    first = house.order([(plenty, 5), (none_left, 1)], priority=5)
    second = house.order([(plenty, 5)])

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    assert [o.id for o in plan.wave.orders] == [second.id]
    assert [(s.order_id, s.reason) for s in plan.skipped] == [(first.id, waves.NO_STOCK)]


def test_a_backordered_order_gives_back_what_it_held_from_before(session, house):
    from wms import allocation

    held, missing = house.stocked(qty=5), house.item()
    order = house.order([(held, 2), (missing, 1)])
    allocation.allocate(session, order.lines[0].id, today=NOW.date())
    assert reserved_total(session) == 2

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    assert plan.wave is None and order.status is OrderStatus.BACKORDERED
    assert reserved_total(session) == 0
    assert verify(session).ok


def test_orders_whose_window_has_ended_are_not_looked_at(session, house):
    item = house.stocked()
    house.order([(item, 1)], start=NOW - dt.timedelta(hours=2), minutes=60)

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    assert plan.wave is None and plan.skipped == []


def test_a_wave_whose_orders_were_all_cancelled_is_not_released(session, house):
    (only,) = busy_morning(house, 1)
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave
    orders.cancel_order(session, only.id)

    with pytest.raises(Conflict):
        waves.release_wave(session, wave.id, now=NOW)
    waves.cancel_wave(session, wave.id, now=NOW)
    assert wave.status is WaveStatus.CANCELLED


def test_a_cancelled_wave_keeps_the_orders_it_had(session, house):
    placed = busy_morning(house, 3)
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave

    waves.cancel_wave(session, wave.id, now=NOW)

    kept = {t.order_id for pl in wave.pick_lists for t in pl.tasks}
    assert kept == {o.id for o in placed}


def test_an_order_whose_stock_is_on_hold_is_left_out_saying_so(session, house):
    item = house.stocked(qty=5)
    row = session.scalars(select(Stock).where(Stock.item_id == item.id)).one()
    row.hold = "near_expiry"  # the expiry sweep's hold
    house.order([(item, 2)])

    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)

    assert plan.wave is None
    assert [s.reason for s in plan.skipped] == [waves.HELD_STOCK]

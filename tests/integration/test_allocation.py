"""Allocation (FEFO, FIFO, pick faces first, nearest), picks and short picks."""

from __future__ import annotations

import datetime as dt

import pytest

from wms import allocation, check, stock
from wms.errors import Conflict, RuleViolation
from wms.models import AllocationStatus, OrderStatus, SlotKind

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def site(make_site):
    return make_site()


@pytest.fixture
def zone(make_zone, site):
    return make_zone(site=site)


def test_fresh_items_are_allocated_earliest_expiry_first(
    session, make_item, make_slot, make_stock, make_order, site, zone
):
    milk = make_item(expiry_tracked=True)
    late = make_stock(item=milk, qty=5, lot="LATE", expiry=TODAY + dt.timedelta(days=9),
                      slot=make_slot(zone=zone))  # fmt: skip
    early = make_stock(item=milk, qty=5, lot="EARLY", expiry=TODAY + dt.timedelta(days=2),
                       slot=make_slot(zone=zone))  # fmt: skip
    order = make_order(site=site, lines=[(milk, 7)])

    result = allocation.allocate(session, order.lines[0].id, today=TODAY)

    assert [(a.stock_id, a.quantity) for a in result.allocations] == [(early.id, 5), (late.id, 2)]
    assert early.reserved == 5 and late.reserved == 2 and result.short == 0
    assert check.verify(session).ok


def test_expired_units_are_never_allocated(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    yoghurt = make_item(expiry_tracked=True)
    make_stock(item=yoghurt, qty=10, lot="OLD", expiry=TODAY - dt.timedelta(days=1),
               slot=make_slot(zone=zone))  # fmt: skip
    order = make_order(site=site, lines=[(yoghurt, 2)])

    result = allocation.allocate(session, order.lines[0].id, today=TODAY)
    assert result.allocations == [] and result.short == 2
    assert result.reason == "only expired stock remains"
    with pytest.raises(allocation.ExpiredStockOnly):
        allocation.allocate(session, order.lines[0].id, today=TODAY, refuse_if_none=True)


def test_older_units_go_first_then_pick_faces_then_the_nearest_slot(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    tea = make_item()
    far_face = make_slot(zone=zone, kind=SlotKind.PICK_FACE, aisle=9, bay=18)
    near_face = make_slot(zone=zone, kind=SlotKind.PICK_FACE, aisle=1, bay=2)
    near_reserve = make_slot(zone=zone, kind=SlotKind.RESERVE, aisle=1, bay=1, level=3)
    stamp = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    rows = {}
    for name, slot in (("far", far_face), ("near", near_face), ("reserve", near_reserve)):
        rows[name] = make_stock(item=tea, qty=1, slot=slot)
        rows[name].received_at = stamp
    older = make_stock(item=tea, qty=1, slot=make_slot(zone=zone, kind=SlotKind.RESERVE,
                                                       aisle=12, bay=20))  # fmt: skip
    older.received_at = stamp - dt.timedelta(days=3)
    session.flush()
    order = make_order(site=site, lines=[(tea, 4)])

    result = allocation.allocate(session, order.lines[0].id, today=TODAY)

    chosen = [a.stock_id for a in result.allocations]
    assert chosen == [older.id, rows["near"].id, rows["far"].id, rows["reserve"].id]


def test_locked_slots_and_slots_waiting_for_a_count_are_skipped(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    rice = make_item()
    locked = make_stock(item=rice, qty=5, slot=make_slot(zone=zone))
    doubtful = make_stock(item=rice, qty=5, slot=make_slot(zone=zone))
    good = make_stock(item=rice, qty=5, slot=make_slot(zone=zone))
    stock.set_slot_lock(session, locked.slot_id, locked=True, reason="inspection")
    stock.flag_for_count(session, doubtful.slot_id, reason="test")
    order = make_order(site=site, lines=[(rice, 8)])

    result = allocation.allocate(session, order.lines[0].id, today=TODAY)

    assert [a.stock_id for a in result.allocations] == [good.id]
    assert result.short == 3 and result.reason == "not enough stock available"


def test_a_line_is_never_allocated_beyond_its_quantity(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    pasta = make_item()
    make_stock(item=pasta, qty=50, slot=make_slot(zone=zone))
    order = make_order(site=site, lines=[(pasta, 3)])
    line_id = order.lines[0].id
    allocation.allocate(session, line_id, today=TODAY)
    again = allocation.allocate(session, line_id, today=TODAY)
    assert again.allocations == [] and again.short == 0
    assert check.verify(session).ok


def test_stock_at_another_site_is_not_allocated(
    session, make_item, make_stock, make_order, make_site, make_zone, make_slot, site
):
    soap = make_item()
    elsewhere = make_zone(site=make_site())
    make_stock(item=soap, qty=9, slot=make_slot(zone=elsewhere))
    order = make_order(site=site, lines=[(soap, 1)])
    with pytest.raises(stock.InsufficientStock):
        allocation.allocate(session, order.lines[0].id, today=TODAY, refuse_if_none=True)


def test_allocating_an_order_marks_it_allocated_or_backordered(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    plenty, scarce = make_item(), make_item()
    make_stock(item=plenty, qty=10, slot=make_slot(zone=zone))
    make_stock(item=scarce, qty=1, slot=make_slot(zone=zone))
    full = make_order(site=site, lines=[(plenty, 2)])
    short = make_order(site=site, lines=[(plenty, 1), (scarce, 2)])

    allocation.allocate_order(session, full.id, today=TODAY)
    allocation.allocate_order(session, short.id, today=TODAY)

    assert full.status is OrderStatus.ALLOCATED
    assert short.status is OrderStatus.BACKORDERED


def test_releasing_gives_the_units_back(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    oil = make_item()
    row = make_stock(item=oil, qty=4, slot=make_slot(zone=zone))
    order = make_order(site=site, lines=[(oil, 3)])
    (held,) = allocation.allocate(session, order.lines[0].id, today=TODAY).allocations
    allocation.release(session, held.id)
    assert row.reserved == 0 and held.status is AllocationStatus.RELEASED
    with pytest.raises(Conflict):
        allocation.release(session, held.id)
    assert check.verify(session).ok


def test_a_full_pick_takes_the_units_out_of_the_slot(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    jam = make_item()
    row = make_stock(item=jam, qty=5, slot=make_slot(zone=zone))
    order = make_order(site=site, lines=[(jam, 2)])
    (held,) = allocation.allocate(session, order.lines[0].id, today=TODAY).allocations

    result = allocation.confirm_pick(session, held.id, quantity=2)

    assert result.picked == 2 and result.missing == 0
    assert (row.on_hand, row.reserved) == (3, 0)
    assert order.lines[0].picked_qty == 2
    with pytest.raises(Conflict, match="already picked"):
        allocation.confirm_pick(session, held.id, quantity=2)
    assert check.verify(session).ok


def test_picking_more_than_allocated_is_refused(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    jam = make_item()
    row = make_stock(item=jam, qty=5, slot=make_slot(zone=zone))
    order = make_order(site=site, lines=[(jam, 2)])
    (held,) = allocation.allocate(session, order.lines[0].id, today=TODAY).allocations
    with pytest.raises(RuleViolation):
        allocation.confirm_pick(session, held.id, quantity=3)
    assert (row.on_hand, row.reserved) == (5, 2)


def test_a_short_pick_flags_the_slot_and_reallocates_elsewhere(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    eggs = make_item()
    first = make_stock(item=eggs, qty=4, slot=make_slot(zone=zone, aisle=1, bay=1))
    second = make_stock(item=eggs, qty=4, slot=make_slot(zone=zone, aisle=5, bay=5))
    order = make_order(site=site, lines=[(eggs, 3)])
    (held,) = allocation.allocate(session, order.lines[0].id, today=TODAY).allocations
    assert held.stock_id == first.id

    result = allocation.confirm_pick(session, held.id, quantity=1, reason="box damaged")

    assert (result.picked, result.missing) == (1, 2)
    assert first.slot.needs_count
    assert [(a.stock_id, a.quantity) for a in result.reallocated] == [(second.id, 2)]
    assert (first.on_hand, first.reserved) == (3, 0)
    assert second.reserved == 2 and result.backordered == 0
    assert check.verify(session).ok


def test_a_short_pick_with_nothing_left_back_orders_the_order(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    salt = make_item()
    row = make_stock(item=salt, qty=2, slot=make_slot(zone=zone))
    order = make_order(site=site, lines=[(salt, 2)])
    (held,) = allocation.allocate(session, order.lines[0].id, today=TODAY).allocations

    result = allocation.confirm_pick(session, held.id, quantity=0)

    assert result.backordered == 2 and order.status is OrderStatus.BACKORDERED
    assert (row.on_hand, row.reserved) == (2, 0)  # the count decides what is really there
    assert check.verify(session).ok


def test_picking_from_a_slot_locked_after_allocation_is_refused(
    session, make_item, make_stock, make_order, make_slot, site, zone
):
    flour = make_item()
    row = make_stock(item=flour, qty=5, slot=make_slot(zone=zone))
    order = make_order(site=site, lines=[(flour, 2)])
    (held,) = allocation.allocate(session, order.lines[0].id, today=TODAY).allocations
    stock.set_slot_lock(session, row.slot_id, locked=True, reason="spill")
    with pytest.raises(Conflict, match="locked"):
        allocation.confirm_pick(session, held.id, quantity=2)
    assert (row.on_hand, row.reserved) == (5, 2)

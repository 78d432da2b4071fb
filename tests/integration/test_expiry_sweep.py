"""The expiry sweep: near-expiry stock held, the next days flagged, and held stock never used."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from wms import allocation, expiry, replenishment
from wms.errors import RuleViolation
from wms.models import Site, SlotKind, Stock

#: 09:00 in Amsterdam on Monday 23 November 2026.
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
SETTINGS = expiry.ExpirySettings(block_days=1, warn_days=3)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def shelf(make_item, make_slot, make_stock):
    """Yoghurt lots expiring yesterday, tomorrow, in 3 days and in 5; one without a date."""
    yoghurt = make_item("YOG", expiry_tracked=True)

    def row(lot: str, expiry_date: dt.date | None, qty: int = 6) -> Stock:
        return make_stock(item=yoghurt, qty=qty, lot=lot, expiry=expiry_date, slot=make_slot())

    return {
        "expired": row("L0", days(-1)),
        "tomorrow": row("L1", days(1)),
        "in_3": row("L3", days(3)),
        "in_5": row("L5", days(5)),
        "undated": row("", None),
        "item": yoghurt,
    }


def holds(session) -> dict[int, str | None]:
    return {row_id: hold for row_id, hold in session.execute(select(Stock.id, Stock.hold))}


def test_near_expiry_stock_is_held_and_the_next_days_only_flagged(session, shelf):
    swept = expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)

    assert shelf["expired"].hold == expiry.EXPIRED
    assert shelf["tomorrow"].hold == expiry.NEAR_EXPIRY
    assert shelf["in_3"].hold is None and shelf["in_5"].hold is None
    assert shelf["undated"].hold is None
    assert {r.stock_id: r.hold for r in swept.held} == {
        shelf["expired"].id: expiry.EXPIRED,
        shelf["tomorrow"].id: expiry.NEAR_EXPIRY,
    }
    assert [(r.stock_id, r.days_left) for r in swept.flagged] == [(shelf["in_3"].id, 3)]
    assert swept.released == () and swept.kept == ()
    assert swept.summary.startswith("held 2 stock row(s) (12 units)")
    assert "1 flagged within 3 day(s)" in swept.summary


def test_today_is_the_site_local_day(session, make_item, make_slot, make_stock):
    tea = make_item(expiry_tracked=True)
    row = make_stock(item=tea, qty=2, lot="T", expiry=dt.date(2026, 11, 25), slot=make_slot())
    # 23:30 UTC on the 23rd is already the 24th in Amsterdam: the 25th is tomorrow there.
    late = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)

    expiry.sweep_expiry(session, now=late, settings=SETTINGS)

    assert row.hold == expiry.NEAR_EXPIRY


def test_a_hold_whose_expiry_was_corrected_is_released(session, shelf, make_stock, make_slot):
    expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)
    shelf["tomorrow"].expiry = days(20)  # the label was misread at receiving
    quarantined = make_stock(item=shelf["item"], qty=1, lot="Q", expiry=days(30), slot=make_slot())
    quarantined.hold = "quality"
    session.flush()

    swept = expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)

    assert shelf["tomorrow"].hold is None
    assert [(r.stock_id, r.hold_before, r.hold) for r in swept.released] == [
        (shelf["tomorrow"].id, expiry.NEAR_EXPIRY, None)
    ]
    assert quarantined.hold == "quality"  # not the sweep's hold: left alone


def test_a_near_expiry_hold_becomes_expired_when_the_day_passes(session, shelf):
    expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)

    swept = expiry.sweep_expiry(session, now=NOW + dt.timedelta(days=2), settings=SETTINGS)

    assert shelf["tomorrow"].hold == expiry.EXPIRED
    assert (shelf["tomorrow"].id, expiry.NEAR_EXPIRY) in {
        (r.stock_id, r.hold_before) for r in swept.held
    }


def test_running_twice_holds_the_same_and_changes_nothing_more(session, shelf):
    first = expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)
    after_first = holds(session)

    again = expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)

    assert holds(session) == after_first
    assert again.held == () and again.released == ()
    assert {r.stock_id for r in again.kept} == {r.stock_id for r in first.held}
    assert again.flagged == first.flagged
    assert again.summary.startswith("held 0 stock row(s) (0 units)")


def test_a_dry_run_says_what_it_would_hold_and_writes_nothing(session, shelf):
    before = holds(session)

    swept = expiry.sweep_expiry(session, now=NOW, settings=SETTINGS, dry_run=True)
    session.expire_all()

    assert holds(session) == before
    assert {r.stock_id: r.hold for r in swept.held} == {
        shelf["expired"].id: expiry.EXPIRED,
        shelf["tomorrow"].id: expiry.NEAR_EXPIRY,
    }
    assert swept.summary.startswith("would hold 2 stock row(s)")


def test_empty_rows_and_other_sites_are_not_held(
    session, make_item, make_slot, make_stock, make_site, make_zone
):
    milk = make_item(expiry_tracked=True)
    empty = make_stock(item=milk, qty=1, lot="E", expiry=days(0), slot=make_slot())
    empty.on_hand = 0  # as after its last pick (the ledger does not matter to the sweep)
    elsewhere = make_zone(site=make_site())
    other = make_stock(item=milk, qty=3, lot="O", expiry=days(0), slot=make_slot(zone=elsewhere))
    session.flush()

    swept = expiry.sweep_expiry(session, now=NOW, settings=SETTINGS, site_id=empty.slot.site_id)

    assert empty.hold is None and other.hold is None and swept.held == ()


def test_allocated_units_of_a_held_row_stay_allocated_and_are_reported(session, shelf, make_order):
    site = session.get(Site, shelf["tomorrow"].slot.site_id)
    order = make_order(site=site, lines=[(shelf["item"], 4)])
    result = allocation.allocate(session, order.lines[0].id, today=TODAY)
    assert [a.stock_id for a in result.allocations] == [shelf["tomorrow"].id]

    swept = expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)

    assert shelf["tomorrow"].hold == expiry.NEAR_EXPIRY and shelf["tomorrow"].reserved == 4
    [kept] = swept.held_with_allocations
    assert (kept.stock_id, kept.reserved) == (shelf["tomorrow"].id, 4)
    assert kept.open_allocation_ids == (result.allocations[0].id,)
    assert "1 held row(s) keep 4 allocated unit(s)" in swept.summary


def test_held_stock_is_never_allocated_and_the_line_says_why(
    session, make_item, make_slot, make_stock, make_order
):
    cream = make_item(expiry_tracked=True)
    row = make_stock(item=cream, qty=5, lot="C1", expiry=days(1), slot=make_slot())
    expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)
    site = session.get(Site, row.slot.site_id)
    order = make_order(site=site, lines=[(cream, 2)])

    result = allocation.allocate(session, order.lines[0].id, today=TODAY)

    assert result.allocations == [] and result.short == 2
    assert result.reason == allocation.HELD_ONLY
    with pytest.raises(allocation.HeldStockOnly):
        allocation.allocate(session, order.lines[0].id, today=TODAY, refuse_if_none=True)
    assert allocation.available(session, item_id=cream.id, site_id=site.id, today=TODAY) == 0


def test_a_line_short_because_the_rest_is_held_says_so(
    session, make_item, make_slot, make_stock, make_order
):
    cream = make_item(expiry_tracked=True)
    held = make_stock(item=cream, qty=5, lot="C1", expiry=days(1), slot=make_slot())
    free = make_stock(item=cream, qty=2, lot="C9", expiry=days(9), slot=make_slot())
    expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)
    site = session.get(Site, held.slot.site_id)
    order = make_order(site=site, lines=[(cream, 4)])
    line_id = order.lines[0].id

    one = allocation.allocate(session, line_id, today=TODAY)

    assert [(a.stock_id, a.quantity) for a in one.allocations] == [(free.id, 2)]
    assert one.short == 2 and one.reason == allocation.HELD_ONLY
    assert held.reserved == 0


def test_wave_allocation_skips_held_stock_with_its_reason(
    session, make_item, make_slot, make_stock, make_order
):
    cream = make_item(expiry_tracked=True)
    held = make_stock(item=cream, qty=5, lot="C1", expiry=days(1), slot=make_slot())
    expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)
    site = session.get(Site, held.slot.site_id)
    order = make_order(site=site, lines=[(cream, 1)])
    line_id = order.lines[0].id

    results = allocation.allocate_orders(session, [[line_id]], site_id=site.id, today=TODAY)

    assert results[line_id].allocations == [] and results[line_id].short == 1
    assert results[line_id].reason == allocation.HELD_ONLY
    assert held.reserved == 0


def test_replenishment_never_takes_a_held_reserve_row(session, make_item, make_slot, make_stock):
    milk = make_item("MILK-H", expiry_tracked=True)
    face = make_slot(aisle=1, bay=1, item_id=milk.id, min_qty=5, max_qty=20)
    sooner = make_slot(kind=SlotKind.RESERVE, aisle=2, bay=1)
    later = make_slot(kind=SlotKind.RESERVE, aisle=2, bay=2)
    make_stock(slot=sooner, item=milk, qty=30, lot="SOON", expiry=days(1))
    make_stock(slot=later, item=milk, qty=30, lot="LATER", expiry=days(12))
    expiry.sweep_expiry(session, now=NOW, settings=SETTINGS)

    run = replenishment.replenish(session, face.site_id, now=NOW, dry_run=True)

    [proposal] = run.proposals
    assert proposal.source is not None
    assert (proposal.source.slot_id, proposal.source.lot) == (later.id, "LATER")


def test_settings_come_from_expiry_keys_of_the_config():
    settings = expiry.ExpirySettings.from_config(
        {"EXPIRY_BLOCK_DAYS": 2, "EXPIRY_WARN_DAYS": 5, "EXPIRY_CRON": "30 4 * * *"}
    )
    assert settings == expiry.ExpirySettings(block_days=2, warn_days=5)
    assert expiry.ExpirySettings.from_config({}) == expiry.ExpirySettings(1, 3)
    with pytest.raises(RuleViolation) as refused:
        expiry.ExpirySettings.from_config({"EXPIRY_BLOCK_DAYS": 4, "EXPIRY_WARN_DAYS": 2})
    assert refused.value.field == "warn_days"

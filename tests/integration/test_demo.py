"""The demo network: realistic, deterministic, and consistent with the ledger."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from biip.gtin import Gtin
from sqlalchemy import func, select

from wms import check, demo, migrate, network
from wms.db import make_engine, make_sessions
from wms.models import (
    Item,
    ItemBarcode,
    Order,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    User,
    Zone,
)
from wms.users import badge_digest, verify_secret

DAY = dt.date(2026, 11, 23)
SECRET = "testing-secret-key-not-for-production"


@pytest.fixture(scope="module")
def small_network():
    return demo.build(demo.SIZES["small"], seed=7, day=DAY)


@pytest.fixture(scope="module")
def demo_url(database_factory, small_network):
    """One database per module with the small demo network loaded (tests only read it)."""
    url = database_factory.new()
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_sessions(engine).begin() as session:
        demo.write(session, small_network, secret_key=SECRET)
    engine.dispose()
    return url


@pytest.fixture
def session(demo_url):
    engine = make_engine(demo_url)
    with make_sessions(engine)() as session:
        yield session
    engine.dispose()


def test_the_same_seed_builds_the_same_network():
    first = demo.build(demo.SIZES["small"], seed=3, day=DAY)
    again = demo.build(demo.SIZES["small"], seed=3, day=DAY)
    other = demo.build(demo.SIZES["small"], seed=4, day=DAY)
    assert first.items == again.items
    assert first.stock == again.stock
    assert first.orders == again.orders and first.lines == again.lines
    assert first.orders != other.orders


def test_every_item_barcode_is_a_valid_gtin():
    plan = demo.build(demo.SIZES["small"], seed=1, day=DAY)
    barcodes = [b["barcode"] for b in plan.barcodes]
    assert len(barcodes) == len(set(barcodes))
    for code in barcodes:
        # biip raises ParseError on a wrong check digit.
        assert Gtin.parse(code).value == code


def test_small_network_has_a_dc_three_front_warehouses_and_about_300_orders(session):
    summary = network.summary(session)
    assert summary.central_dcs == 1
    assert summary.front_warehouses == 3
    assert summary.open_orders == 300
    assert 450 <= summary.items <= 550
    assert summary.carriers == 2 and summary.vehicles > 0
    roles = set(session.scalars(select(User.role)))
    assert {r.value for r in roles} == {"associate", "supervisor", "planner", "admin"}
    zones = session.scalars(select(Zone.temperature).distinct())
    assert set(zones) == set(Temperature)
    timezones = set(session.scalars(select(Site.timezone)))
    assert timezones == {"Europe/Amsterdam"}


def test_every_demo_vehicle_has_a_driver_of_its_carrier(session, small_network):
    from sqlalchemy import func

    from wms.models import Driver, Vehicle

    per_carrier = dict(
        session.execute(select(Vehicle.carrier_id, func.count()).group_by(Vehicle.carrier_id)).all()
    )
    drivers = dict(
        session.execute(select(Driver.carrier_id, func.count()).group_by(Driver.carrier_id)).all()
    )
    assert drivers == per_carrier
    codes = session.execute(select(Driver.carrier_id, Driver.code)).all()
    assert len(codes) == len(set(codes))


def test_front_warehouse_layout_is_two_blocks_of_ten_bays_twelve_aisles_four_levels(
    session, small_network
):
    site = session.scalars(select(Site).where(Site.kind == SiteKind.FRONT_WAREHOUSE)).first()
    rack = select(Slot).where(Slot.site_id == site.id, Slot.aisle.is_not(None))
    slots = session.scalars(rack).all()
    assert {s.aisle for s in slots} == set(range(1, 13))
    assert {s.bay for s in slots} == set(range(1, 21))
    assert {s.level for s in slots} == {1, 2, 3, 4}
    assert {s.block for s in slots if s.bay <= 10} == {1}
    assert {s.block for s in slots if s.bay > 10} == {2}
    assert len(slots) == 12 * 20 * 2 * 4
    kinds = Counter(s.kind for s in session.scalars(select(Slot).where(Slot.site_id == site.id)))
    assert kinds[SlotKind.PICK_FACE] > 0 and kinds[SlotKind.RESERVE] > 0
    assert kinds[SlotKind.DOCK] and kinds[SlotKind.STAGING] and kinds[SlotKind.PACK]


def test_pick_faces_hold_their_own_items_at_the_right_temperature(session, small_network):
    rows = session.execute(
        select(Slot.item_id, Stock.item_id, Zone.temperature, Item.temperature)
        .join(Stock, Stock.slot_id == Slot.id)
        .join(Zone, Zone.id == Slot.zone_id)
        .join(Item, Item.id == Stock.item_id)
        .where(Slot.kind == SlotKind.PICK_FACE)
    ).all()
    assert rows
    for face_item, stock_item, zone_temperature, item_temperature in rows:
        assert face_item == stock_item
        assert zone_temperature == item_temperature


def test_fresh_items_carry_lots_and_expiry_dates(session, small_network):
    tracked = session.execute(
        select(Stock.lot, Stock.expiry).join(Item).where(Item.expiry_tracked)
    ).all()
    untracked = session.execute(
        select(Stock.lot, Stock.expiry).join(Item).where(~Item.lot_tracked)
    ).all()
    assert tracked and untracked
    assert all(lot and expiry and expiry > DAY for lot, expiry in tracked)
    assert all(lot == "" and expiry is None for lot, expiry in untracked)


def test_demo_stock_agrees_with_its_ledger(session, small_network):
    report = check.verify(session)
    assert report.ok, report.violations[:5]
    assert report.stock_rows == report.movements == len(small_network.stock)


def test_orders_are_promised_within_the_delivery_day_in_local_time(session, small_network):
    from zoneinfo import ZoneInfo

    local = ZoneInfo("Europe/Amsterdam")
    for start, end in session.execute(select(Order.promised_start, Order.promised_end)):
        assert start.tzinfo is not None
        assert start.astimezone(local).date() == DAY
        assert dt.time(8) <= start.astimezone(local).time()
        assert end.astimezone(local).time() <= dt.time(22)
        assert dt.timedelta(minutes=30) <= end - start <= dt.timedelta(minutes=60)


def test_demo_users_sign_in_with_their_printed_credentials(session, small_network):
    supervisor = session.scalars(select(User).where(User.username == "supervisor")).one()
    hint = next(u for u in demo.DEMO_USERS if u.username == "supervisor")
    assert supervisor.badge_hmac == badge_digest(SECRET, hint.badge)
    assert verify_secret(supervisor.pin_hash, hint.pin)
    assert verify_secret(supervisor.password_hash, hint.password)
    assert not verify_secret(supervisor.password_hash, "wrong")
    assert len(demo.demo_logins(session)) == len(demo.DEMO_USERS)


def test_case_barcodes_stand_for_several_units(session, small_network):
    cases = session.scalars(select(ItemBarcode).where(ItemBarcode.quantity > 1)).all()
    assert cases
    assert all(len(c.barcode) == 14 for c in cases)
    assert session.scalar(select(func.count()).select_from(ItemBarcode)) > len(cases)


def test_loading_the_demo_twice_is_refused_unless_forced(wms_cli, new_database):
    url = new_database()
    first = wms_cli("demo", "load", "--date", "2026-11-23", database_url=url)
    assert first.exit_code == 0, first.output
    assert "loaded the small demo network" in first.output

    again = wms_cli("demo", "load", database_url=url)
    assert again.exit_code != 0
    assert "not empty" in again.output and "--force" in again.output

    quiet = wms_cli("demo", "load", "--if-empty", database_url=url)
    assert quiet.exit_code == 0 and "not loaded" in quiet.output

    forced = wms_cli("demo", "load", "--force", "--seed", "2", database_url=url)
    assert forced.exit_code == 0, forced.output
    checked = wms_cli("check", database_url=url)
    assert checked.exit_code == 0, checked.output
    assert "OK" in checked.output

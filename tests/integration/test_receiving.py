"""Receiving: ASN and blind receipts, units landing on the dock, over- and under-receipt."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from wms import check
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    Movement,
    MovementKind,
    Receipt,
    ReceiptKind,
    ReceiptLine,
    ReceiptStatus,
    Role,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    User,
    Zone,
)
from wms.receiving import (
    ExpectedLine,
    cancel_receipt,
    close_receipt,
    create_receipt,
    receive,
    summarize,
)
from wms.stock import SlotLocked, set_slot_lock

TODAY = dt.date.today()
LATER = TODAY + dt.timedelta(days=30)


def _state(session) -> tuple[object, ...]:
    session.flush()
    return (
        session.execute(select(Stock.id, Stock.on_hand, Stock.reserved).order_by(Stock.id)).all(),
        session.scalar(select(func.count()).select_from(Movement)),
        session.execute(
            select(Receipt.id, Receipt.number, Receipt.status, Receipt.closed_at).order_by(
                Receipt.id
            )
        ).all(),
        session.execute(
            select(ReceiptLine.id, ReceiptLine.expected_qty, ReceiptLine.received_qty).order_by(
                ReceiptLine.id
            )
        ).all(),
    )


@contextmanager
def nothing_changes(session) -> Iterator[None]:
    """Assert that the block changed no balance, movement, receipt or receipt line."""
    before = _state(session)
    yield
    assert _state(session) == before


@pytest.fixture
def site(make_site):
    return make_site()


@pytest.fixture
def zone(make_zone, site):
    return make_zone(site=site)


@pytest.fixture
def dock(make_slot, zone):
    return make_slot("DOCK-1", zone=zone, kind=SlotKind.DOCK, aisle=50, bay=1)


@pytest.fixture
def user(session):
    person = User(username="receiver", display_name="Receiver", role=Role.ASSOCIATE)
    session.add(person)
    session.flush()
    return person


@pytest.fixture
def asn(session, site, dock, make_item):
    """An ASN receipt expecting 10 of MILK and 5 of BREAD."""
    milk, bread = make_item("MILK"), make_item("BREAD")
    return create_receipt(
        session,
        site_id=site.id,
        dock_slot_id=dock.id,
        kind=ReceiptKind.ASN,
        lines=[ExpectedLine(milk.id, 10), ExpectedLine(bread.id, 5)],
        supplier="Dairy Co",
    )


@pytest.fixture
def blind(session, site, dock):
    return create_receipt(session, site_id=site.id, dock_slot_id=dock.id, kind=ReceiptKind.BLIND)


def _dock_units(session, dock, item, lot=""):
    row = session.scalars(
        select(Stock).where(Stock.slot_id == dock.id, Stock.item_id == item.id, Stock.lot == lot)
    ).one_or_none()
    return None if row is None else row.on_hand


# --- creating receipts -----------------------------------------------------------------------


def test_an_asn_receipt_lists_its_expected_lines_and_gets_a_generated_number(session, asn):
    assert asn.status is ReceiptStatus.OPEN
    assert asn.number == f"RC{asn.id:08d}"
    assert [(ln.line_no, ln.item.sku, ln.expected_qty, ln.received_qty) for ln in asn.lines] == [
        (1, "MILK", 10, 0),
        (2, "BREAD", 5, 0),
    ]
    assert asn.supplier == "Dairy Co"


def test_a_blind_receipt_starts_without_lines(blind):
    assert blind.kind is ReceiptKind.BLIND
    assert blind.lines == []
    assert blind.number.startswith("RC")


def test_a_given_receipt_number_and_reference_are_kept(session, site, dock, user):
    receipt = create_receipt(
        session,
        site_id=site.id,
        dock_slot_id=dock.id,
        kind=ReceiptKind.BLIND,
        number="PO-7781",
        reference="po:7781",
        user_id=user.id,
    )

    assert (receipt.number, receipt.reference, receipt.created_by) == (
        "PO-7781",
        "po:7781",
        user.id,
    )


def test_a_receipt_number_already_used_is_a_conflict(session, site, dock):
    create_receipt(
        session, site_id=site.id, dock_slot_id=dock.id, kind=ReceiptKind.BLIND, number="PO-1"
    )

    with nothing_changes(session), pytest.raises(Conflict) as err:
        create_receipt(
            session, site_id=site.id, dock_slot_id=dock.id, kind=ReceiptKind.BLIND, number="PO-1"
        )
    assert err.value.field == "number"


@pytest.mark.parametrize("number", ["RC00000042", "   ", "X" * 33])
def test_a_receipt_number_that_is_blank_too_long_or_of_the_generated_form_is_refused(
    session, site, dock, number
):
    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(
            session, site_id=site.id, dock_slot_id=dock.id, kind=ReceiptKind.BLIND, number=number
        )
    assert err.value.field == "number"


def test_a_staging_slot_may_receive(session, site, zone, make_slot):
    staging = make_slot(zone=zone, kind=SlotKind.STAGING, aisle=50, bay=2)

    receipt = create_receipt(
        session, site_id=site.id, dock_slot_id=staging.id, kind=ReceiptKind.BLIND
    )

    assert receipt.dock_slot_id == staging.id


@pytest.mark.parametrize("kind", [SlotKind.PICK_FACE, SlotKind.RESERVE, SlotKind.PACK])
def test_goods_are_received_only_into_a_dock_or_staging_slot(session, site, zone, make_slot, kind):
    slot = make_slot(zone=zone, kind=kind, aisle=3, bay=3)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(session, site_id=site.id, dock_slot_id=slot.id, kind=ReceiptKind.BLIND)
    assert err.value.field == "dock_slot_id"


def test_the_dock_must_belong_to_the_receipts_site(session, site, make_site, make_zone, make_slot):
    elsewhere = make_slot(zone=make_zone(site=make_site()), kind=SlotKind.DOCK)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(session, site_id=site.id, dock_slot_id=elsewhere.id, kind=ReceiptKind.BLIND)
    assert err.value.field == "dock_slot_id"


@pytest.mark.parametrize("field", ["site_id", "dock_slot_id"])
def test_an_unknown_site_or_dock_is_a_rule_violation_naming_the_field(session, site, dock, field):
    ids = {"site_id": site.id, "dock_slot_id": dock.id, field: 999_999}

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(session, **ids, kind=ReceiptKind.BLIND)
    assert err.value.field == field


def test_an_unknown_receipt_kind_is_refused(session, site, dock):
    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(session, site_id=site.id, dock_slot_id=dock.id, kind="pallet")
    assert err.value.field == "kind"


def test_an_asn_must_list_lines_and_a_blind_receipt_must_not(session, site, dock, make_item):
    item = make_item()

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(session, site_id=site.id, dock_slot_id=dock.id, kind=ReceiptKind.ASN)
    assert err.value.field == "lines"
    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(
            session,
            site_id=site.id,
            dock_slot_id=dock.id,
            kind=ReceiptKind.BLIND,
            lines=[ExpectedLine(item.id, 1)],
        )
    assert err.value.field == "lines"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (lambda plain, fresh: ExpectedLine(999_999, 1), "lines[1].item_id"),
        (lambda plain, fresh: ExpectedLine(plain.id, 0), "lines[1].quantity"),
        (lambda plain, fresh: ExpectedLine(plain.id, -4), "lines[1].quantity"),
        (lambda plain, fresh: ExpectedLine(plain.id, "4"), "lines[1].quantity"),
        (lambda plain, fresh: ExpectedLine(plain.id, True), "lines[1].quantity"),
        (lambda plain, fresh: ExpectedLine(fresh.id, 3), "lines[1].lot"),
        (lambda plain, fresh: ExpectedLine(plain.id, 3, lot="L1"), "lines[1].lot"),
        (lambda plain, fresh: ExpectedLine(plain.id, 3, expiry=LATER), "lines[1].expiry"),
        (lambda plain, fresh: ExpectedLine(fresh.id, 3, lot="L" * 65), "lines[1].lot"),
    ],
    ids=[
        "unknown-item",
        "zero",
        "negative",
        "text",
        "bool",
        "lot-tracked-without-lot",
        "lot-on-untracked-item",
        "expiry-on-untracked-item",
        "lot-too-long",
    ],
)
def test_a_bad_asn_line_is_refused_naming_the_line_and_field(
    session, site, dock, make_item, line, field
):
    plain = make_item("PLAIN")
    fresh = make_item("FRESH", expiry_tracked=True)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(
            session,
            site_id=site.id,
            dock_slot_id=dock.id,
            kind=ReceiptKind.ASN,
            lines=[ExpectedLine(fresh.id, 2, lot="L0"), line(plain, fresh)],
        )
    assert err.value.field == field


def test_an_item_and_lot_listed_twice_on_an_asn_is_refused(session, site, dock, make_item):
    item = make_item()

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_receipt(
            session,
            site_id=site.id,
            dock_slot_id=dock.id,
            kind=ReceiptKind.ASN,
            lines=[ExpectedLine(item.id, 2), ExpectedLine(item.id, 3)],
        )
    assert err.value.field == "lines[1]"


def test_the_same_item_in_two_lots_is_two_asn_lines(session, site, dock, make_item):
    item = make_item(lot_tracked=True)

    receipt = create_receipt(
        session,
        site_id=site.id,
        dock_slot_id=dock.id,
        kind=ReceiptKind.ASN,
        lines=[ExpectedLine(item.id, 2, lot="A"), ExpectedLine(item.id, 3, lot="B")],
    )

    assert [(ln.lot, ln.expected_qty) for ln in receipt.lines] == [("A", 2), ("B", 3)]


# --- receiving units -------------------------------------------------------------------------


def test_receiving_against_an_asn_line_posts_a_receipt_movement_into_the_dock(
    session, asn, dock, user
):
    milk = asn.lines[0].item

    line = receive(
        session, asn.id, item_id=milk.id, quantity=4, user_id=user.id, idempotency_key="k1"
    )

    assert (line.line_no, line.received_qty, line.expected_qty) == (1, 4, 10)
    assert _dock_units(session, dock, milk) == 4
    (movement,) = session.scalars(select(Movement).where(Movement.reference == f"receipt:{asn.id}"))
    assert (movement.kind, movement.quantity, movement.user_id, movement.idempotency_key) == (
        MovementKind.RECEIPT,
        4,
        user.id,
        "k1",
    )
    assert check.verify(session).ok


def test_scans_of_the_same_item_add_up_on_its_line(session, asn, dock):
    milk = asn.lines[0].item

    receive(session, asn.id, item_id=milk.id, quantity=4)
    line = receive(session, asn.id, item_id=milk.id, quantity=6)

    assert line.received_qty == 10
    assert _dock_units(session, dock, milk) == 10
    assert len(asn.lines) == 2
    assert check.verify(session).ok


def test_receiving_more_than_expected_is_recorded_as_over_receipt(session, asn, dock):
    bread = asn.lines[1].item

    line = receive(session, asn.id, item_id=bread.id, quantity=8)

    assert (line.expected_qty, line.received_qty, line.variance) == (5, 8, 3)
    assert _dock_units(session, dock, bread) == 8
    assert check.verify(session).ok


def test_an_item_not_on_the_asn_gets_a_new_unexpected_line(session, asn, dock, make_item):
    eggs = make_item("EGGS")

    line = receive(session, asn.id, item_id=eggs.id, quantity=6)

    assert (line.line_no, line.expected_qty, line.received_qty) == (3, None, 6)
    assert _dock_units(session, dock, eggs) == 6
    assert check.verify(session).ok


def test_a_lot_not_on_the_asn_gets_its_own_line(session, site, dock, make_item):
    yoghurt = make_item("YOG", expiry_tracked=True)
    receipt = create_receipt(
        session,
        site_id=site.id,
        dock_slot_id=dock.id,
        kind=ReceiptKind.ASN,
        lines=[ExpectedLine(yoghurt.id, 10, lot="L1")],
    )

    expected = receive(session, receipt.id, item_id=yoghurt.id, quantity=7, lot="L1", expiry=LATER)
    other = receive(session, receipt.id, item_id=yoghurt.id, quantity=3, lot="L2", expiry=LATER)

    assert (expected.line_no, expected.received_qty, expected.expiry) == (1, 7, LATER)
    assert (other.line_no, other.lot, other.expected_qty, other.received_qty) == (2, "L2", None, 3)
    assert _dock_units(session, dock, yoghurt, "L1") == 7
    assert _dock_units(session, dock, yoghurt, "L2") == 3
    row = session.scalars(select(Stock).where(Stock.lot == "L2")).one()
    assert row.expiry == LATER
    assert check.verify(session).ok


def test_a_blind_receipt_gets_a_line_per_item_and_lot_as_units_arrive(
    session, blind, dock, make_item
):
    water, cola = make_item("WATER"), make_item("COLA")

    receive(session, blind.id, item_id=water.id, quantity=12)
    receive(session, blind.id, item_id=cola.id, quantity=6)
    receive(session, blind.id, item_id=water.id, quantity=12)

    assert [(ln.item.sku, ln.expected_qty, ln.received_qty) for ln in blind.lines] == [
        ("WATER", None, 24),
        ("COLA", None, 6),
    ]
    assert _dock_units(session, dock, water) == 24
    assert check.verify(session).ok


def test_docks_take_items_of_any_temperature(session, blind, dock, make_item):
    ice = make_item("ICE", temperature=Temperature.FROZEN)

    receive(session, blind.id, item_id=ice.id, quantity=2)

    assert _dock_units(session, dock, ice) == 2
    assert check.verify(session).ok


def test_an_expiry_of_today_is_still_received(session, blind, make_item, site):
    from zoneinfo import ZoneInfo

    today_there = dt.datetime.now(ZoneInfo(site.timezone)).date()
    fresh = make_item(expiry_tracked=True)

    line = receive(session, blind.id, item_id=fresh.id, quantity=1, lot="L", expiry=today_there)

    assert line.received_qty == 1


@pytest.mark.parametrize(
    ("which", "options", "field"),
    [
        ("fresh", {"expiry": LATER}, "lot"),
        ("fresh", {"lot": "L1"}, "expiry"),
        ("fresh", {"lot": "L1", "expiry": TODAY - dt.timedelta(days=3)}, "expiry"),
        ("plain", {"lot": "L1"}, "lot"),
        ("plain", {"expiry": LATER}, "expiry"),
        ("plain", {"quantity": 0}, "quantity"),
        ("plain", {"quantity": -2}, "quantity"),
        ("missing", {}, "item_id"),
    ],
    ids=[
        "lot-tracked-without-lot",
        "expiry-tracked-without-expiry",
        "already-expired",
        "lot-on-untracked-item",
        "expiry-on-untracked-item",
        "zero",
        "negative",
        "unknown-item",
    ],
)
def test_a_bad_scan_is_refused_and_nothing_is_received(
    session, asn, make_item, which, options, field
):
    items = {
        "fresh": make_item(expiry_tracked=True).id,
        "plain": asn.lines[0].item_id,
        "missing": 999_999,
    }
    arguments = {"item_id": items[which], "quantity": 3, **options}

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        receive(session, asn.id, **arguments)
    assert err.value.field == field


def test_the_same_lot_with_another_expiry_on_the_dock_is_refused(session, blind, make_item):
    fresh = make_item(expiry_tracked=True)
    receive(session, blind.id, item_id=fresh.id, quantity=2, lot="L1", expiry=LATER)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        receive(
            session,
            blind.id,
            item_id=fresh.id,
            quantity=2,
            lot="L1",
            expiry=LATER + dt.timedelta(days=1),
        )
    assert err.value.field == "expiry"


@pytest.mark.parametrize("finish", [close_receipt, cancel_receipt])
def test_receiving_on_a_closed_or_cancelled_receipt_is_a_conflict(
    session, blind, make_item, finish
):
    item = make_item()
    finish(session, blind.id)

    with nothing_changes(session), pytest.raises(Conflict) as err:
        receive(session, blind.id, item_id=item.id, quantity=1)
    assert err.value.field == "receipt_id"


def test_a_locked_dock_takes_nothing_in(session, blind, dock, make_item):
    item = make_item()
    set_slot_lock(session, dock.id, locked=True, reason="spill")

    with nothing_changes(session), pytest.raises(SlotLocked, match="spill"):
        receive(session, blind.id, item_id=item.id, quantity=1)


def test_receiving_on_an_unknown_receipt_is_not_found(session, make_item):
    item = make_item()

    with nothing_changes(session), pytest.raises(NotFound):
        receive(session, 999_999, item_id=item.id, quantity=1)


# --- closing and cancelling ------------------------------------------------------------------


def test_closing_summarises_over_and_under_receipt_per_line(session, asn, make_item):
    milk, bread = asn.lines[0].item, asn.lines[1].item
    eggs = make_item("EGGS")
    receive(session, asn.id, item_id=milk.id, quantity=7)
    receive(session, asn.id, item_id=bread.id, quantity=6)
    receive(session, asn.id, item_id=eggs.id, quantity=2)

    summary = close_receipt(session, asn.id)

    assert summary.receipt.status is ReceiptStatus.CLOSED
    assert summary.receipt.closed_at is not None
    assert [
        (ln.sku, ln.expected, ln.received, ln.variance, ln.unexpected) for ln in summary.lines
    ] == [
        ("MILK", 10, 7, -3, False),
        ("BREAD", 5, 6, 1, False),
        ("EGGS", None, 2, 2, True),
    ]
    assert (summary.over_received, summary.under_received, summary.received) == (3, 3, 15)
    assert check.verify(session).ok


def test_a_blind_receipt_has_no_variance(session, blind, make_item):
    item = make_item()
    receive(session, blind.id, item_id=item.id, quantity=4)

    summary = close_receipt(session, blind.id)

    assert [(ln.expected, ln.received, ln.variance) for ln in summary.lines] == [(None, 4, None)]
    assert (summary.over_received, summary.under_received) == (0, 0)


def test_the_summary_can_be_read_before_closing(session, asn):
    receive(session, asn.id, item_id=asn.lines[0].item_id, quantity=10)

    summary = summarize(session, asn.id)

    assert summary.receipt.status is ReceiptStatus.OPEN
    assert [ln.variance for ln in summary.lines] == [0, -5]


def test_summarising_an_unknown_receipt_is_not_found(session):
    with pytest.raises(NotFound):
        summarize(session, 999_999)


@pytest.mark.parametrize("finish", [close_receipt, cancel_receipt])
def test_closing_or_cancelling_twice_is_a_conflict(session, asn, finish):
    finish(session, asn.id)

    with nothing_changes(session), pytest.raises(Conflict):
        close_receipt(session, asn.id)
    with nothing_changes(session), pytest.raises(Conflict):
        cancel_receipt(session, asn.id)


def test_a_receipt_with_nothing_received_can_be_cancelled(session, asn):
    receipt = cancel_receipt(session, asn.id)

    assert receipt.status is ReceiptStatus.CANCELLED
    assert receipt.closed_at is not None


def test_a_receipt_with_units_received_cannot_be_cancelled(session, asn):
    receive(session, asn.id, item_id=asn.lines[0].item_id, quantity=1)

    with nothing_changes(session), pytest.raises(Conflict, match="close it instead"):
        cancel_receipt(session, asn.id)


@pytest.mark.parametrize("finish", [close_receipt, cancel_receipt])
def test_closing_or_cancelling_an_unknown_receipt_is_not_found(session, finish):
    with pytest.raises(NotFound):
        finish(session, 999_999)


# --- at the same time, on PostgreSQL -----------------------------------------------------------


@pytest.mark.postgres
def test_scans_arriving_at_once_on_one_receipt_all_count_on_one_line(pg_sessions):
    with pg_sessions.begin() as s:
        site = Site(code="FW", name="FW", kind=SiteKind.FRONT_WAREHOUSE, latitude=52.0,
                    longitude=4.9, timezone="Europe/Amsterdam")  # fmt: skip
        s.add(site)
        s.flush()
        zone = Zone(site_id=site.id, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
        s.add(zone)
        s.flush()
        dock = Slot(site_id=site.id, zone_id=zone.id, barcode="DOCK", kind=SlotKind.DOCK)
        item = Item(sku="MILK", name="Milk", length_mm=100, width_mm=80, height_mm=60,
                    weight_g=250, temperature=Temperature.AMBIENT)  # fmt: skip
        s.add_all([dock, item])
        s.flush()
        receipt = create_receipt(s, site_id=site.id, dock_slot_id=dock.id, kind=ReceiptKind.BLIND)
        receipt_id, item_id, dock_id = receipt.id, item.id, dock.id

    scanners = 6
    together = threading.Barrier(scanners, timeout=10)
    failures: list[BaseException] = []

    def scan() -> None:
        try:
            together.wait()
            with pg_sessions.begin() as s:
                receive(s, receipt_id, item_id=item_id, quantity=1)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(scanners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    with pg_sessions() as s:
        lines = s.scalars(select(ReceiptLine).where(ReceiptLine.receipt_id == receipt_id)).all()
        assert [(ln.line_no, ln.received_qty) for ln in lines] == [(1, scanners)]
        assert s.scalar(select(Stock.on_hand).where(Stock.slot_id == dock_id)) == scanners
        assert check.verify(s).ok

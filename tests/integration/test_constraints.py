"""The database itself refuses what no service may ever write (the last line of defence).

Each violation is attempted inside a savepoint, so the test's outer transaction survives and
the test can go on to show that nothing was written. The ``match`` patterns accept SQLite's and
PostgreSQL's wording, and name the constraint, so a test cannot pass on some other error.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from wms.models import Item, Movement, MovementKind, Order, Slot, SlotKind, Stock


@contextmanager
def refused(session: Session, match: str) -> Iterator[None]:
    """Expect the database to refuse what the block writes, undoing only the block."""
    with pytest.raises(IntegrityError, match=match), session.begin_nested():
        yield
        session.flush()


def _movement(stock: Stock, quantity: int) -> Movement:
    return Movement(
        stock_id=stock.id,
        kind=MovementKind.ADJUST,
        quantity=quantity,
        operation_id=str(uuid.uuid4()),
        reason="test",
    )


# --- stock bounds ---------------------------------------------------------------------------


def test_stock_on_hand_cannot_go_negative(session, make_stock):
    stock = make_stock(qty=3)

    with refused(session, "ck_stock_on_hand_nonnegative"):
        stock.on_hand = -1

    assert session.scalar(select(Stock.on_hand).where(Stock.id == stock.id)) == 3


def test_reserved_cannot_exceed_on_hand(session, make_stock):
    stock = make_stock(qty=3)

    with refused(session, "ck_stock_reserved_within_on_hand"):
        stock.reserved = 4

    assert session.scalar(select(Stock.reserved).where(Stock.id == stock.id)) == 0


def test_reserved_cannot_go_negative(session, make_stock):
    stock = make_stock(qty=3)

    with refused(session, "ck_stock_reserved_within_on_hand"):
        stock.reserved = -1


def test_stock_may_be_fully_reserved_or_empty(session, make_stock):
    stock = make_stock(qty=3)
    stock.reserved = 3
    session.flush()
    stock.reserved = 0
    stock.on_hand = 0
    session.flush()

    assert session.execute(
        select(Stock.on_hand, Stock.reserved).where(Stock.id == stock.id)
    ).one() == (0, 0)


# --- uniqueness -----------------------------------------------------------------------------


def test_two_slots_cannot_share_a_barcode(session, make_slot):
    make_slot("A-01-01-L-1")

    with refused(session, r"slot\.barcode|uq_slot_barcode"):
        make_slot("A-01-01-L-1")

    assert session.scalar(select(func.count()).select_from(Slot)) == 1


def test_two_items_cannot_share_a_barcode(session, make_item):
    make_item("MILK-1L", gtin="8710398500373")

    with refused(session, r"item_barcode\.barcode|uq_item_barcode_barcode"):
        make_item("OAT-MILK-1L", gtin="8710398500373")


def test_two_items_cannot_share_a_sku(session, make_item):
    make_item("MILK-1L")

    with refused(session, r"item\.sku|uq_item_sku"):
        make_item("MILK-1L")

    assert session.scalar(select(func.count()).select_from(Item)) == 1


def test_a_slot_holds_one_stock_row_per_item_and_lot(session, make_stock, make_item, make_slot):
    item = make_item(lot_tracked=True)
    slot = make_slot()
    make_stock(item=item, slot=slot, lot="L1")

    with refused(session, r"stock\.slot_id, stock\.item_id, stock\.lot|uq_stock_slot_id"):
        session.add(Stock(slot_id=slot.id, item_id=item.id, lot="L1", on_hand=0))

    # Another lot of the same item in the same slot is a row of its own.
    make_stock(item=item, slot=slot, lot="L2")
    assert session.scalar(select(func.count()).where(Stock.slot_id == slot.id)) == 2


# --- references -----------------------------------------------------------------------------


def test_stock_cannot_name_a_slot_that_does_not_exist(session, make_item):
    item = make_item()

    with refused(session, r"FOREIGN KEY|fk_stock_slot_id_slot"):
        session.add(Stock(slot_id=987_654, item_id=item.id, lot="", on_hand=0))


def test_a_movement_cannot_name_a_stock_row_that_does_not_exist(session):
    with refused(session, r"FOREIGN KEY|fk_movement_stock_id_stock"):
        session.add(
            Movement(
                stock_id=987_654,
                kind=MovementKind.RECEIPT,
                quantity=1,
                operation_id=str(uuid.uuid4()),
            )
        )


# --- the ledger -----------------------------------------------------------------------------


def test_a_movement_of_zero_units_is_refused(session, make_stock):
    stock = make_stock(qty=3)

    with refused(session, "ck_movement_quantity_nonzero"):
        session.add(_movement(stock, 0))

    # Signed quantities either way are what the ledger is made of.
    session.add_all([_movement(stock, -2), _movement(stock, 1)])
    session.flush()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE movement SET quantity = quantity + 1 WHERE stock_id = :stock_id",
        "UPDATE movement SET reason = 'rewritten' WHERE stock_id = :stock_id",
        "DELETE FROM movement WHERE stock_id = :stock_id",
    ],
    ids=["update-quantity", "update-reason", "delete"],
)
def test_the_ledger_is_append_only_even_for_hand_written_sql(session, make_stock, statement):
    stock = make_stock(qty=5)

    with refused(session, "append-only"):
        session.execute(text(statement), {"stock_id": stock.id})

    rows = session.execute(
        select(Movement.quantity, Movement.reason).where(Movement.stock_id == stock.id)
    ).all()
    assert rows == [(5, "test receipt")]


# --- slots ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [SlotKind.RESERVE, SlotKind.STAGING, SlotKind.DOCK])
def test_only_a_pick_face_has_a_min_and_max(session, make_slot, kind):
    with refused(session, "ck_slot_min_max_only_on_pick_faces"):
        make_slot(kind=kind, min_qty=2, max_qty=10)

    make_slot(kind=kind)  # without min/max such a slot is fine


def test_a_pick_face_min_cannot_exceed_its_max(session, make_slot):
    with refused(session, "ck_slot_min_le_max"):
        make_slot(kind=SlotKind.PICK_FACE, min_qty=11, max_qty=10)

    slot = make_slot(kind=SlotKind.PICK_FACE, min_qty=10, max_qty=10)
    assert (slot.min_qty, slot.max_qty) == (10, 10)


# --- timestamps -----------------------------------------------------------------------------


def test_timestamps_come_back_timezone_aware_in_utc(session, make_order):
    amsterdam_noon = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    order = make_order(start=amsterdam_noon, minutes=30)
    session.expire_all()

    start, end, created = session.execute(
        select(Order.promised_start, Order.promised_end, Order.created_at).where(
            Order.id == order.id
        )
    ).one()

    for value in (start, end, created):
        assert value.tzinfo is not None
        assert value.utcoffset() == dt.timedelta(0)
    assert start == dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
    assert end - start == dt.timedelta(minutes=30)


def test_a_timestamp_filter_finds_the_same_instant_given_in_any_zone(session, make_order):
    order = make_order(start=dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC))
    new_york = dt.timezone(dt.timedelta(hours=-4))

    found = session.scalars(
        select(Order.id).where(
            Order.promised_start == dt.datetime(2026, 6, 1, 6, 0, tzinfo=new_york)
        )
    ).all()

    assert found == [order.id]


def test_a_naive_timestamp_is_refused(session, make_order):
    with (
        pytest.raises(StatementError, match="naive datetime"),
        session.begin_nested(),
    ):
        make_order(start=dt.datetime(2026, 6, 1, 10, 0))

    assert session.scalar(select(func.count()).select_from(Order)) == 0

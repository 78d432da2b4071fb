"""`wms.check.verify`: invariant 1 checked from what the database holds."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from wms.check import verify
from wms.models import Allocation, AllocationStatus, Movement, MovementKind, Stock, utcnow


@pytest.fixture
def allocate(session, make_order):
    """Allocate units of a stock row to a new order line, touching nothing else."""

    def make(
        stock: Stock, qty: int, *, status: AllocationStatus = AllocationStatus.OPEN
    ) -> Allocation:
        order = make_order(lines=[(stock.item, qty)])
        allocation = Allocation(
            order_line_id=order.lines[0].id,
            stock_id=stock.id,
            quantity=qty,
            status=status,
            closed_at=None if status is AllocationStatus.OPEN else utcnow(),
        )
        session.add(allocation)
        session.flush()
        return allocation

    return make


def _broken(report):
    return [(v.stock_id, v.slot, v.sku, v.rule) for v in report.violations]


def test_stock_received_through_the_ledger_is_consistent(session, make_stock):
    make_stock("MILK-1L", qty=10)
    make_stock("BREAD", qty=4)

    report = verify(session)

    assert report.ok, report.violations
    assert (report.stock_rows, report.movements, report.open_allocations) == (2, 2, 0)


def test_on_hand_that_disagrees_with_its_ledger_is_reported(session, make_stock, make_slot):
    make_stock("BREAD", qty=4)
    stock = make_stock("MILK-1L", qty=10, slot=make_slot("A-03-07-L-2"))
    make_stock("EGGS-6", qty=2)
    session.execute(text("UPDATE stock SET on_hand = on_hand + 5 WHERE id = :id"), {"id": stock.id})

    report = verify(session)

    assert not report.ok
    assert _broken(report) == [(stock.id, "A-03-07-L-2", "MILK-1L", "on_hand = ledger sum")]
    (violation,) = report.violations
    assert "10" in violation.expected
    assert "15" in violation.found


def test_on_hand_is_checked_against_the_sum_of_all_its_movements(session, make_stock):
    stock = make_stock(qty=10)
    session.add(
        Movement(
            stock_id=stock.id,
            kind=MovementKind.PICK,
            quantity=-3,
            operation_id=str(uuid.uuid4()),
        )
    )
    session.flush()

    assert [v.rule for v in verify(session).violations] == ["on_hand = ledger sum"]

    stock.on_hand = 7
    session.flush()
    assert verify(session).ok


def test_stock_that_never_went_through_the_ledger_is_reported(session, make_slot, make_item):
    slot, item = make_slot(), make_item("GHOST")
    stock = Stock(slot_id=slot.id, item_id=item.id, lot="", on_hand=5)
    session.add(stock)
    session.flush()

    report = verify(session)

    assert _broken(report) == [(stock.id, slot.barcode, "GHOST", "on_hand = ledger sum")]


def test_an_open_allocation_missing_from_reserved_is_reported(session, make_stock, allocate):
    stock = make_stock("MILK-1L", qty=10)
    allocate(stock, 3)  # reserved left at 0

    report = verify(session)

    assert _broken(report) == [
        (stock.id, stock.slot.barcode, "MILK-1L", "reserved = open allocations")
    ]
    assert report.open_allocations == 1


def test_reserved_without_open_allocations_is_reported(session, make_stock):
    stock = make_stock("MILK-1L", qty=10)
    session.execute(text("UPDATE stock SET reserved = 2 WHERE id = :id"), {"id": stock.id})

    report = verify(session)

    assert _broken(report) == [
        (stock.id, stock.slot.barcode, "MILK-1L", "reserved = open allocations")
    ]


def test_reserved_that_matches_its_open_allocations_is_consistent(session, make_stock, allocate):
    stock = make_stock(qty=10)
    allocate(stock, 3)
    allocate(stock, 2)
    stock.reserved = 5
    session.flush()

    report = verify(session)

    assert report.ok, report.violations
    assert report.open_allocations == 2


@pytest.mark.parametrize("status", [AllocationStatus.RELEASED, AllocationStatus.PICKED])
def test_closed_allocations_do_not_count_toward_reserved(session, make_stock, allocate, status):
    stock = make_stock(qty=10)
    allocate(stock, 3)
    allocate(stock, 4, status=status)
    stock.reserved = 3
    session.flush()

    report = verify(session)

    assert report.ok, report.violations
    assert report.open_allocations == 1

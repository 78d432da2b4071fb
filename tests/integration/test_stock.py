"""Floor operations on the ledger: move, adjust, lock, ship — and nothing changes on error."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from wms import check, stock
from wms.errors import NotFound, RuleViolation
from wms.models import Movement, MovementKind, SlotKind, Stock, Temperature


def movements(session) -> int:
    return session.scalar(select(func.count()).select_from(Movement))


def balances(session) -> list[tuple[int, int, int]]:
    return list(session.execute(select(Stock.id, Stock.on_hand, Stock.reserved).order_by(Stock.id)))


@pytest.fixture
def ledger_unchanged(session):
    """Assert, after a refused operation, that no balance and no movement changed."""

    def snapshot():
        return balances(session), movements(session)

    before = {}

    def start():
        before["state"] = snapshot()

    def verify():
        session.expire_all()
        assert snapshot() == before["state"]

    return start, verify


def test_moving_part_of_a_row_writes_two_linked_movements_and_keeps_lot_and_expiry(
    session, make_stock, make_slot, make_item
):
    item = make_item(expiry_tracked=True)
    expiry = dt.date(2030, 1, 31)
    source = make_stock(item=item, qty=10, lot="L1", expiry=expiry)
    target_slot = make_slot(kind=SlotKind.RESERVE)

    result = stock.move(
        session, from_slot_id=source.slot_id, to_slot_id=target_slot.id,
        item_id=item.id, lot="L1", quantity=4,
    )  # fmt: skip

    assert result.taken.quantity == -4 and result.put.quantity == 4
    assert result.taken.operation_id == result.put.operation_id
    moved = stock.find_row(session, slot_id=target_slot.id, item_id=item.id, lot="L1")
    assert moved.on_hand == 4 and moved.expiry == expiry
    assert source.on_hand == 6
    assert check.verify(session).ok


def test_a_move_cannot_take_reserved_units(session, make_stock, make_slot, ledger_unchanged):
    source = make_stock(qty=5)
    source.reserved = 3  # as an open allocation would
    source_alloc_free = source.on_hand - source.reserved
    target = make_slot(kind=SlotKind.RESERVE)
    start, verify = ledger_unchanged
    start()
    with pytest.raises(stock.InsufficientStock) as refused:
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=target.id,
            item_id=source.item_id, quantity=3,
        )  # fmt: skip
    assert refused.value.available == source_alloc_free == 2
    verify()


@pytest.mark.parametrize("quantity", [0, -1, 2.5, True, "3"])
def test_a_move_needs_a_positive_whole_quantity(session, make_stock, make_slot, quantity):
    source = make_stock(qty=5)
    target = make_slot(kind=SlotKind.RESERVE)
    with pytest.raises(RuleViolation) as refused:
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=target.id,
            item_id=source.item_id, quantity=quantity,
        )  # fmt: skip
    assert refused.value.field == "quantity"


def test_a_move_into_a_locked_slot_is_refused(session, make_stock, make_slot, ledger_unchanged):
    source = make_stock(qty=5)
    target = make_slot(kind=SlotKind.RESERVE)
    stock.set_slot_lock(session, target.id, locked=True, reason="damaged rack")
    start, verify = ledger_unchanged
    start()
    with pytest.raises(stock.SlotLocked, match="damaged rack"):
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=target.id,
            item_id=source.item_id, quantity=1,
        )  # fmt: skip
    verify()


def test_frozen_goods_cannot_go_into_an_ambient_rack(
    session, make_stock, make_slot, make_item, make_zone
):
    frozen_item = make_item(temperature=Temperature.FROZEN)
    frozen_zone = make_zone(temperature=Temperature.FROZEN)
    source = make_stock(item=frozen_item, slot=make_slot(zone=frozen_zone), qty=5)
    ambient_zone = make_zone(site=source.slot.site, temperature=Temperature.AMBIENT)
    ambient = make_slot(zone=ambient_zone, kind=SlotKind.RESERVE)
    with pytest.raises(stock.WrongTemperature) as refused:
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=ambient.id,
            item_id=frozen_item.id, quantity=1,
        )  # fmt: skip
    assert refused.value.field == "to_slot_id"


def test_units_that_do_not_fit_the_slot_are_refused(session, make_stock, make_slot, make_item):
    # 10 x 10 x 10 cm units; the slot takes 5 litres.
    item = make_item(length_mm=100, width_mm=100, height_mm=100)
    source = make_stock(item=item, qty=10)
    small = make_slot(kind=SlotKind.RESERVE, volume_cm3=5000)
    stock.move(
        session, from_slot_id=source.slot_id, to_slot_id=small.id, item_id=item.id, quantity=5
    )
    with pytest.raises(stock.OverCapacity):
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=small.id, item_id=item.id,
            quantity=1,
        )  # fmt: skip


def test_a_pick_face_kept_for_another_item_refuses_this_one(
    session, make_stock, make_slot, make_item
):
    other = make_item()
    face = make_slot(kind=SlotKind.PICK_FACE, item_id=other.id, min_qty=2, max_qty=10)
    source = make_stock(qty=3)
    with pytest.raises(RuleViolation, match="kept for another item"):
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=face.id,
            item_id=source.item_id, quantity=1,
        )  # fmt: skip


def test_unknown_slots_and_items_in_a_move_name_the_field(session, make_stock):
    source = make_stock(qty=3)
    with pytest.raises(RuleViolation) as refused:
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=999_999,
            item_id=source.item_id, quantity=1,
        )  # fmt: skip
    assert refused.value.field == "to_slot_id"
    with pytest.raises(RuleViolation) as refused:
        stock.move(
            session, from_slot_id=source.slot_id, to_slot_id=source.slot_id + 1,
            item_id=999_999, quantity=1,
        )  # fmt: skip
    assert refused.value.field in ("item_id", "to_slot_id")


@pytest.mark.parametrize(
    ("reason", "quantity", "ok"),
    [
        ("damaged", -2, True),
        ("lost", -1, True),
        ("expired", -1, True),
        ("found", 3, True),
        ("correction", -1, True),
        ("correction", 2, True),
        ("damaged", 2, False),
        ("found", -1, False),
        ("stolen", -1, False),
    ],
)
def test_adjustments_need_a_reason_whose_sign_agrees(session, make_stock, reason, quantity, ok):
    row = make_stock(qty=5)
    if ok:
        movement = stock.adjust(
            session, slot_id=row.slot_id, item_id=row.item_id, quantity=quantity, reason=reason
        )
        assert movement.kind is MovementKind.ADJUST and movement.reason.startswith(reason)
        assert row.on_hand == 5 + quantity
        assert check.verify(session).ok
    else:
        with pytest.raises(RuleViolation):
            stock.adjust(
                session, slot_id=row.slot_id, item_id=row.item_id, quantity=quantity,
                reason=reason,
            )  # fmt: skip
        assert row.on_hand == 5


def test_adjusting_away_more_than_is_there_is_refused_with_what_is_available(session, make_stock):
    row = make_stock(qty=2)
    with pytest.raises(stock.InsufficientStock) as refused:
        stock.adjust(session, slot_id=row.slot_id, item_id=row.item_id, quantity=-3, reason="lost")
    assert refused.value.available == 2
    assert row.on_hand == 2


def test_found_units_of_a_tracked_item_need_lot_and_expiry(session, make_slot, make_item):
    item = make_item(expiry_tracked=True)
    slot = make_slot()
    with pytest.raises(RuleViolation) as no_lot:
        stock.adjust(session, slot_id=slot.id, item_id=item.id, quantity=1, reason="found")
    assert no_lot.value.field == "lot"
    with pytest.raises(RuleViolation) as no_expiry:
        stock.adjust(
            session, slot_id=slot.id, item_id=item.id, quantity=1, reason="found", lot="L9"
        )
    assert no_expiry.value.field == "expiry"
    stock.adjust(
        session, slot_id=slot.id, item_id=item.id, quantity=1, reason="found", lot="L9",
        expiry=dt.date(2031, 5, 1),
    )  # fmt: skip
    assert check.verify(session).ok


def test_locking_a_slot_needs_a_reason_and_unlocking_clears_it(session, make_slot):
    slot = make_slot()
    with pytest.raises(RuleViolation):
        stock.set_slot_lock(session, slot.id, locked=True, reason=" ")
    stock.set_slot_lock(session, slot.id, locked=True, reason="spill")
    assert slot.locked and slot.lock_reason == "spill"
    stock.set_slot_lock(session, slot.id, locked=False)
    assert not slot.locked and slot.lock_reason is None
    with pytest.raises(NotFound):
        stock.set_slot_lock(session, 999_999, locked=False)


def test_shipping_takes_units_out_of_staging_only(session, make_stock, make_slot):
    staging = make_slot(kind=SlotKind.STAGING, aisle=None, bay=None)
    row = make_stock(slot=staging, qty=4)
    movement = stock.ship(
        session, slot_id=staging.id, item_id=row.item_id, quantity=4, reference="TO-1"
    )
    assert movement.kind is MovementKind.SHIP and row.on_hand == 0
    rack = make_stock(qty=4)
    with pytest.raises(RuleViolation, match="staging or dock"):
        stock.ship(session, slot_id=rack.slot_id, item_id=rack.item_id, quantity=1)
    assert check.verify(session).ok

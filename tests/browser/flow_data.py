"""What a shift at FW01 of the demo network starts with, for the handheld flow tests.

An ASN receipt due at the dock for a lot- and expiry-tracked ambient item, and one customer
order of an ambient item on a pick face, planned into a wave and released. The tests scan
the labels and barcodes named here, as a floor associate would read them off the shelf.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from wms import orders, receiving, waves
from wms.models import (
    Item,
    ItemBarcode,
    PickList,
    Site,
    Slot,
    SlotKind,
    Stock,
    Task,
    TaskKind,
    TaskStatus,
    Temperature,
    utcnow,
)

SITE = "FW01"


@dataclass(frozen=True)
class Shift:
    """The barcodes and numbers a flow test needs."""

    site_id: int
    receipt_id: int
    receipt_number: str
    received_sku: str
    received_gtin: str
    received_lot: str
    received_expiry: dt.date
    received_qty: int
    order_number: str
    #: The pick list's tasks in walking order: slot, item barcode, quantity, tote label.
    picks: tuple[tuple[str, str, int, str], ...]


def _gtin(session: Session, item_id: int) -> str:
    return (
        session.scalars(
            select(ItemBarcode.barcode).where(
                ItemBarcode.item_id == item_id, ItemBarcode.quantity == 1
            )
        ).first()
        or ""
    )


def seed_shift(session: Session, *, received_qty: int = 6) -> Shift:
    """Make the receipt and release the wave; return what the associate will scan."""
    site = session.scalars(select(Site).where(Site.code == SITE)).one()
    dock = session.scalars(
        select(Slot).where(Slot.site_id == site.id, Slot.kind == SlotKind.DOCK)
    ).first()
    assert dock is not None, "the demo front warehouse has a dock"
    tracked = session.scalars(
        select(Item)
        .where(Item.lot_tracked.is_(True), Item.temperature == Temperature.AMBIENT)
        .order_by(Item.id)
    ).first()
    assert tracked is not None, "the demo network has a lot-tracked ambient item"
    expiry = dt.date.today() + dt.timedelta(days=(tracked.shelf_life_days or 200))
    lot = "L2612A"
    receipt = receiving.create_receipt(
        session,
        site_id=site.id,
        dock_slot_id=dock.id,
        kind=receiving.ReceiptKind.ASN,
        supplier="Browser test supplier",
        lines=[
            receiving.ExpectedLine(
                item_id=tracked.id, quantity=received_qty, lot=lot, expiry=expiry
            )
        ],
    )

    # An order of one ambient item the site holds on a pick face, not lot-tracked.
    row = session.execute(
        select(Stock, Slot, Item)
        .join(Slot, Slot.id == Stock.slot_id)
        .join(Item, Item.id == Stock.item_id)
        .where(
            Slot.site_id == site.id,
            Slot.kind == SlotKind.PICK_FACE,
            Item.temperature == Temperature.AMBIENT,
            Item.lot_tracked.is_(False),
            Item.expiry_tracked.is_(False),
            Stock.on_hand - Stock.reserved >= 2,
        )
        .order_by(Slot.aisle, Slot.bay, Stock.id)
        .limit(1)
    ).one()
    item = row[2]
    now = utcnow()
    order = orders.create_order(
        session,
        site_id=site.id,
        customer_name="Browser Test",
        address="Ferdinand Bolstraat 1, Amsterdam",
        latitude=site.latitude + 0.002,
        longitude=site.longitude + 0.002,
        promised_start=now + dt.timedelta(minutes=30),
        promised_end=now + dt.timedelta(minutes=90),
        lines=[orders.LineRequest(quantity=2, item_id=item.id)],
    )
    plan = waves.plan_wave(
        session,
        site.id,
        settings=waves.WaveSettings(horizon_minutes=240),
        order_ids=[order.id],
    )
    assert plan.wave is not None, plan.skipped
    waves.release_wave(session, plan.wave.id)
    session.flush()
    pick_lists = session.scalars(select(PickList).where(PickList.wave_id == plan.wave.id)).all()
    assert len(pick_lists) == 1
    picks = tuple(
        (task.slot.barcode, _gtin(session, task.item_id), task.quantity, task.tote_code)
        for task in sorted(pick_lists[0].tasks, key=lambda t: t.sequence)
    )
    return Shift(
        site_id=site.id,
        receipt_id=receipt.id,
        receipt_number=receipt.number,
        received_sku=tracked.sku,
        received_gtin=_gtin(session, tracked.id),
        received_lot=lot,
        received_expiry=expiry,
        received_qty=received_qty,
        order_number=order.number,
        picks=picks,
    )


@dataclass(frozen=True)
class Replenishment:
    """A replenishment task as the scheduler will make them: reserve slot to pick face."""

    task_id: int
    sku: str
    gtin: str
    quantity: int
    from_slot: str
    to_slot: str


def seed_replenishment(session: Session, *, quantity: int = 3) -> Replenishment:
    """An open replenishment task at FW01 for an item its reserve holds and its pick face takes."""
    site = session.scalars(select(Site).where(Site.code == SITE)).one()
    source = aliased(Slot)
    found = session.execute(
        select(Stock, source, Slot)
        .join(source, source.id == Stock.slot_id)
        .join(Slot, (Slot.item_id == Stock.item_id) & (Slot.kind == SlotKind.PICK_FACE))
        .join(Item, Item.id == Stock.item_id)
        .where(
            source.site_id == site.id,
            source.kind == SlotKind.RESERVE,
            Slot.site_id == site.id,
            Item.lot_tracked.is_(False),
            Stock.on_hand - Stock.reserved >= quantity,
        )
        .order_by(Stock.id)
        .limit(1)
    ).first()
    assert found is not None, "the demo front warehouse keeps reserve stock of pick-face items"
    stock, reserve, face = found
    task = Task(
        site_id=site.id,
        kind=TaskKind.REPLENISHMENT,
        status=TaskStatus.OPEN,
        item_id=stock.item_id,
        lot=stock.lot,
        quantity=quantity,
        done_qty=0,
        from_slot_id=reserve.id,
        to_slot_id=face.id,
        reference="browser test",
    )
    session.add(task)
    session.flush()
    return Replenishment(
        task.id,
        stock.item.sku,
        _gtin(session, stock.item_id),
        quantity,
        reserve.barcode,
        face.barcode,
    )

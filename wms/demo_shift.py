"""A shift to try the handhelds on: work waiting at a front warehouse of the demo network.

`wms demo shift` (and the browser tests, and `benchmarks.screens`) make an ASN receipt due at
the dock for a lot- and expiry-tracked ambient item, one customer order of an ambient item on a
pick face planned into a wave and released, and a replenishment task from the reserve to a pick
face; and say what to scan, as an associate would read it off the labels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from wms import orders, receiving, waves
from wms.errors import Conflict, NotFound
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

DEFAULT_SITE = "FW01"


@dataclass(frozen=True)
class Shift:
    """The barcodes and numbers the shift's work is done with."""

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


def _site(session: Session, code: str) -> Site:
    site = session.scalars(select(Site).where(Site.code == code)).one_or_none()
    if site is None:
        raise NotFound(f"no site {code!r}: load the demo network first", field="site")
    return site


def start_shift(session: Session, *, site: str = DEFAULT_SITE, received_qty: int = 6) -> Shift:
    """Make the receipt and release the wave; return what the associate will scan."""
    found_site = _site(session, site)
    dock = session.scalars(
        select(Slot).where(Slot.site_id == found_site.id, Slot.kind == SlotKind.DOCK)
    ).first()
    if dock is None:
        raise NotFound(f"{site} has no dock slot", field="site")
    tracked = session.scalars(
        select(Item)
        .where(Item.lot_tracked.is_(True), Item.temperature == Temperature.AMBIENT)
        .order_by(Item.id)
    ).first()
    if tracked is None:
        raise NotFound("no lot-tracked ambient item to receive", field="site")
    expiry = dt.date.today() + dt.timedelta(days=(tracked.shelf_life_days or 200))
    lot = "L2612A"
    receipt = receiving.create_receipt(
        session,
        site_id=found_site.id,
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
            Slot.site_id == found_site.id,
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
        site_id=found_site.id,
        customer_name="Browser Test",
        address="Ferdinand Bolstraat 1, Amsterdam",
        latitude=found_site.latitude + 0.002,
        longitude=found_site.longitude + 0.002,
        promised_start=now + dt.timedelta(minutes=30),
        promised_end=now + dt.timedelta(minutes=90),
        lines=[orders.LineRequest(quantity=2, item_id=item.id)],
    )
    plan = waves.plan_wave(
        session,
        found_site.id,
        settings=waves.WaveSettings(horizon_minutes=240),
        order_ids=[order.id],
    )
    if plan.wave is None:
        raise Conflict(f"the shift's order could not be planned: {plan.skipped}", field="site")
    waves.release_wave(session, plan.wave.id)
    session.flush()
    pick_lists = session.scalars(select(PickList).where(PickList.wave_id == plan.wave.id)).all()
    picks = tuple(
        (task.slot.barcode, _gtin(session, task.item_id), task.quantity, task.tote_code)
        for pick_list in pick_lists
        for task in sorted(pick_list.tasks, key=lambda t: t.sequence)
    )
    return Shift(
        site_id=found_site.id,
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


def replenishment_task(
    session: Session, *, site: str = DEFAULT_SITE, quantity: int = 3
) -> Replenishment:
    """An open replenishment task for an item the site's reserve holds and a pick face takes."""
    found_site = _site(session, site)
    source = aliased(Slot)
    found = session.execute(
        select(Stock, source, Slot)
        .join(source, source.id == Stock.slot_id)
        .join(Slot, (Slot.item_id == Stock.item_id) & (Slot.kind == SlotKind.PICK_FACE))
        .join(Item, Item.id == Stock.item_id)
        .where(
            source.site_id == found_site.id,
            source.kind == SlotKind.RESERVE,
            Slot.site_id == found_site.id,
            Item.lot_tracked.is_(False),
            Stock.on_hand - Stock.reserved >= quantity,
        )
        .order_by(Stock.id)
        .limit(1)
    ).first()
    if found is None:
        raise NotFound(f"{site} keeps no reserve stock of a pick-face item", field="site")
    stock, reserve, face = found
    task = Task(
        site_id=found_site.id,
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

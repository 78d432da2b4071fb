"""What is where: the stock in a slot, and the slots, lots and expiry dates of an item.

Read-only answers for the handhelds' lookup page and anyone else who asks.
"""

from __future__ import annotations

from collections.abc import Iterable

from biip import ParseError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from wms.models import Item, ItemBarcode, Slot, Stock
from wms.scanning import gtin_forms


def slot_contents(session: Session, slot_id: int) -> list[Stock]:
    """The slot's stock rows with units on hand, first expiry first."""
    return list(
        session.scalars(
            select(Stock)
            .where(Stock.slot_id == slot_id, Stock.on_hand > 0)
            .options(joinedload(Stock.item))
            .order_by(Stock.expiry.is_(None), Stock.expiry, Stock.item_id, Stock.lot)
        )
    )


def item_whereabouts(session: Session, item_id: int, *, site_id: int) -> list[Stock]:
    """Where the site holds the item: one row per slot and lot, first expiry first."""
    return list(
        session.scalars(
            select(Stock)
            .join(Slot, Slot.id == Stock.slot_id)
            .where(Stock.item_id == item_id, Stock.on_hand > 0, Slot.site_id == site_id)
            .options(joinedload(Stock.slot))
            .order_by(Stock.expiry.is_(None), Stock.expiry, Slot.barcode, Stock.lot)
        )
    )


def item_barcodes(session: Session, item_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each item's barcodes in every GTIN spelling, so a page can check a scan offline."""
    found: dict[int, list[str]] = {}
    wanted = set(item_ids)
    if not wanted:
        return found
    for barcode in session.scalars(select(ItemBarcode).where(ItemBarcode.item_id.in_(wanted))):
        try:
            spellings: tuple[str, ...] = gtin_forms(barcode.barcode)
        except ParseError:  # not a GTIN: compared as printed
            spellings = (barcode.barcode,)
        found.setdefault(barcode.item_id, []).extend(spellings)
    return found


def item_names(session: Session, item_ids: Iterable[int]) -> dict[int, str]:
    """Each item's name by id."""
    wanted = set(item_ids)
    if not wanted:
        return {}
    rows = session.execute(select(Item.id, Item.name).where(Item.id.in_(wanted)))
    return {item_id: name for item_id, name in rows}

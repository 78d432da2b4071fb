"""What is where: the stock in a slot, and the slots, lots and expiry dates of an item.

Read-only answers for the handhelds' lookup page and anyone else who asks.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from wms.models import Slot, Stock


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

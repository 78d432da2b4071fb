"""Which site a thing belongs to: what the API checks a principal's sites against."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wms.models import (
    Allocation,
    Order,
    OrderLine,
    Package,
    PickList,
    Receipt,
    Site,
    Slot,
    Stock,
    StockCount,
    Task,
    Wave,
)


def known_site(session: Session, site_id: int) -> int | None:
    """The site id if such a site exists, else None (the service then says why)."""
    return session.scalar(select(Site.id).where(Site.id == site_id))


def site_of_slot(session: Session, slot_id: int) -> int | None:
    """The site of a slot, or None when it does not exist (the service then says why)."""
    return session.scalar(select(Slot.site_id).where(Slot.id == slot_id))


def site_of_order_line(session: Session, order_line_id: int) -> int | None:
    """The site that fulfils an order line."""
    return session.scalar(
        select(Order.site_id).join(OrderLine).where(OrderLine.id == order_line_id)
    )


def site_of_allocation(session: Session, allocation_id: int) -> int | None:
    """The site holding an allocation's stock."""
    return session.scalar(
        select(Slot.site_id)
        .join(Stock, Stock.slot_id == Slot.id)
        .join(Allocation, Allocation.stock_id == Stock.id)
        .where(Allocation.id == allocation_id)
    )


def site_of_receipt(session: Session, receipt_id: int) -> int | None:
    """The site a receipt arrives at."""
    return session.scalar(select(Receipt.site_id).where(Receipt.id == receipt_id))


def site_of_task(session: Session, task_id: int) -> int | None:
    """The site of a task."""
    return session.scalar(select(Task.site_id).where(Task.id == task_id))


def site_of_count(session: Session, count_id: int) -> int | None:
    """The site of a stock count."""
    return session.scalar(
        select(Slot.site_id)
        .join(StockCount, StockCount.slot_id == Slot.id)
        .where(StockCount.id == count_id)
    )


def site_of_order(session: Session, order_id: int) -> int | None:
    """The front warehouse that fulfils an order."""
    return session.scalar(select(Order.site_id).where(Order.id == order_id))


def site_of_wave(session: Session, wave_id: int) -> int | None:
    """The site a wave is picked at."""
    return session.scalar(select(Wave.site_id).where(Wave.id == wave_id))


def site_of_pick_list(session: Session, pick_list_id: int) -> int | None:
    """The site a pick list is picked at."""
    return session.scalar(
        select(Wave.site_id)
        .join(PickList, PickList.wave_id == Wave.id)
        .where(PickList.id == pick_list_id)
    )


def site_of_package(session: Session, package_id: int) -> int | None:
    """The site a package is packed at."""
    return session.scalar(
        select(Order.site_id)
        .join(Package, Package.order_id == Order.id)
        .where(Package.id == package_id)
    )


def stock_ids_at_sites(site_ids: Iterable[int]) -> Select[tuple[int]]:
    """A subquery of the stock rows held in slots of the given sites."""
    return (
        select(Stock.id)
        .join(Slot, Slot.id == Stock.slot_id)
        .where(Slot.site_id.in_(list(site_ids)))
    )

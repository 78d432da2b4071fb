"""Read-only figures about the network: what the landing page and `wms demo` report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wms.models import (
    Carrier,
    Item,
    Order,
    OrderStatus,
    Site,
    SiteKind,
    Slot,
    Stock,
    User,
    Vehicle,
)

OPEN_ORDER_STATES = (OrderStatus.OPEN, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED)


@dataclass(frozen=True, slots=True)
class NetworkSummary:
    central_dcs: int
    front_warehouses: int
    slots: int
    items: int
    stock_rows: int
    units_on_hand: int
    open_orders: int
    carriers: int
    vehicles: int
    users: int

    @property
    def is_empty(self) -> bool:
        return self.central_dcs + self.front_warehouses == 0


def summary(session: Session) -> NetworkSummary:
    """Count what the network holds."""

    def count(stmt: object) -> int:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    sites = dict(
        session.execute(select(Site.kind, func.count()).group_by(Site.kind)).tuples().all()
    )
    return NetworkSummary(
        central_dcs=sites.get(SiteKind.CENTRAL_DC, 0),
        front_warehouses=sites.get(SiteKind.FRONT_WAREHOUSE, 0),
        slots=count(select(func.count()).select_from(Slot)),
        items=count(select(func.count()).select_from(Item)),
        stock_rows=count(select(func.count()).select_from(Stock)),
        units_on_hand=count(select(func.coalesce(func.sum(Stock.on_hand), 0))),
        open_orders=count(
            select(func.count()).select_from(Order).where(Order.status.in_(OPEN_ORDER_STATES))
        ),
        carriers=count(select(func.count()).select_from(Carrier)),
        vehicles=count(select(func.count()).select_from(Vehicle)),
        users=count(select(func.count()).select_from(User)),
    )


def sites(session: Session) -> list[Site]:
    """Every site, the central DCs first, then by code."""
    return list(
        session.scalars(select(Site).order_by((Site.kind == SiteKind.FRONT_WAREHOUSE), Site.code))
    )


def sites_of(session: Session, site_ids: Iterable[int] | None) -> list[Site]:
    """The sites with these ids (every site for None), by code."""
    query = select(Site).order_by(Site.code)
    if site_ids is not None:
        query = query.where(Site.id.in_(set(site_ids)))
    return list(session.scalars(query))

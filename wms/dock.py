"""What the floor sees of dispatch: a route as the dock loads it, a returned package.

The dispatch dock's and the returns desk's reads, for the handheld pages and for
``/api/v1/dispatch`` alike, so a page kept for offline use shows the same figures as the API:

- ``route_board``: a site's delivery routes of the site-local day that may still be loaded,
  with their vehicle, carrier and packages loaded of the total;
- ``route_load``: one route's stops and their packages, loaded or still to hand over;
- ``find_route``: the route a scanned route number or vehicle code names (a vehicle: its
  next route still to load);
- ``package_by_scan`` / ``package_view``: a package by its label, where it went, whether it
  came back; ``returned_units``: where its units went when it came back.

The changes themselves are ``wms.dispatch.hand_over`` and ``wms.dispatch.receive_return``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from wms import dispatch, scanning
from wms.errors import NotFound, WmsError
from wms.models import (
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    Package,
    PackageLine,
    PackageStatus,
    Route,
    RouteKind,
    Site,
    Slot,
    Stock,
    Stop,
    StopStatus,
    Vehicle,
)


def _local_day(site: Site, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The site-local day of ``now``, as a half-open UTC interval."""
    zone = ZoneInfo(site.timezone)
    day = now.astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def route_load(session: Session, route_id: int) -> dict[str, Any]:
    """A route as the dock loads it: each stop's packages, loaded or still to hand over.

    A stop counts the closed packages of its order that are on it and those
    ``dispatch.stops_to_load`` still lists for it; ``ready`` says every stop still to serve
    is dispatched (all its packages on), which is what the route needs to start.
    """
    if not 0 < route_id < 2**31:
        raise NotFound(f"route {route_id} does not exist", field="route_id")
    route = session.get(
        Route, route_id, options=[joinedload(Route.vehicle), joinedload(Route.carrier)]
    )
    if route is None:
        raise NotFound(f"route {route_id} does not exist", field="route_id")
    waiting = {p.package_id for p in dispatch.stops_to_load(session, route.id)}
    stops = session.scalars(
        select(Stop)
        .where(Stop.route_id == route.id, Stop.status != StopStatus.SKIPPED)
        .options(joinedload(Stop.order))
        .order_by(Stop.sequence, Stop.id)
    ).all()
    order_ids = [s.order_id for s in stops if s.order_id is not None]
    packages = session.scalars(
        select(Package)
        .where(
            Package.order_id.in_(order_ids),
            Package.status == PackageStatus.CLOSED,
            Package.returned_at.is_(None),
        )
        .order_by(Package.id)
    ).all()
    rows = []
    for stop in stops:
        mine = [
            {"id": p.id, "sscc": p.sscc, "loaded": p.stop_id == stop.id, "loaded_at": p.loaded_at}
            for p in packages
            if p.order_id == stop.order_id and (p.stop_id == stop.id or p.id in waiting)
        ]
        rows.append(
            {
                "id": stop.id,
                "sequence": stop.sequence,
                "status": stop.status,
                "name": stop.name,
                "address": stop.address,
                "order_id": stop.order_id,
                "order_number": stop.order.number if stop.order is not None else None,
                "packages": mine,
                "loaded": sum(1 for p in mine if p["loaded"]),
                "total": len(mine),
            }
        )
    to_serve = [s for s in stops if s.status not in dispatch.DONE]
    loadable = route.status in dispatch.LOADABLE
    return {
        "id": route.id,
        "number": route.number,
        "kind": route.kind,
        "status": route.status,
        "site_id": route.site_id,
        "vehicle_code": route.vehicle.code,
        "vehicle_kind": route.vehicle.kind,
        "carrier": route.carrier.name,
        "window_start": route.window_start,
        "window_end": route.window_end,
        "planned_start": route.planned_start,
        "loadable": loadable,
        "ready": loadable
        and bool(to_serve)
        and all(s.status is StopStatus.DISPATCHED for s in to_serve),
        "loaded": sum(r["loaded"] for r in rows),
        "total": sum(r["total"] for r in rows),
        "stops": rows,
    }


def route_board(session: Session, site_id: int, *, now: dt.datetime) -> list[dict[str, Any]]:
    """The site's delivery routes of the site-local day that may still be loaded, by start."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} does not exist", field="site_id")
    start, end = _local_day(site, now)
    zone = ZoneInfo(site.timezone)
    ids = session.scalars(
        select(Route.id)
        .where(
            Route.site_id == site.id,
            Route.kind == RouteKind.DELIVERY,
            Route.status.in_(tuple(dispatch.LOADABLE)),
            Route.window_start >= start,
            Route.window_start < end,
        )
        .order_by(Route.planned_start, Route.id)
    ).all()
    board = []
    for route_id in ids:
        load = route_load(session, route_id)
        board.append(
            {
                **{k: load[k] for k in ("id", "number", "status", "vehicle_code", "carrier")},
                **{k: load[k] for k in ("planned_start", "loaded", "total", "ready")},
                "starts_local": load["planned_start"].astimezone(zone).strftime("%H:%M"),
                "stops": len(load["stops"]),
            }
        )
    return board


def find_route(session: Session, site_id: int, code: str) -> Route:
    """The route a scan names at a site: its number, or a vehicle's next route to load."""
    wanted = code.strip()
    if not wanted:
        raise NotFound("scan a route number or a vehicle")
    site_code = session.scalar(select(Site.code).where(Site.id == site_id))
    route = session.scalars(
        select(Route).where(func.upper(Route.number) == wanted.upper())
    ).one_or_none()
    if route is not None:
        if route.site_id != site_id:
            raise NotFound(f"route {route.number} does not leave from {site_code}")
        return route
    vehicle_ids = session.scalars(
        select(Vehicle.id).where(
            Vehicle.site_id == site_id, func.upper(Vehicle.code) == wanted.upper()
        )
    ).all()
    if not vehicle_ids:
        raise NotFound(f"{wanted!r} is neither a route nor a vehicle of {site_code}")
    route = session.scalars(
        select(Route)
        .where(
            Route.vehicle_id.in_(vehicle_ids),
            Route.kind == RouteKind.DELIVERY,
            Route.status.in_(tuple(dispatch.LOADABLE)),
        )
        .order_by(Route.planned_start, Route.id)
        .limit(1)
    ).first()
    if route is None:
        raise NotFound(f"vehicle {wanted} has no route to load")
    return route


def site_of_route(session: Session, route_id: int) -> int | None:
    return session.scalar(select(Route.site_id).where(Route.id == route_id))


def package_by_scan(session: Session, raw: str) -> Package:
    scan = scanning.parse_scan(raw)
    if scan.sscc is None:
        raise NotFound(f"{raw.strip()!r} is not a package label: scan its SSCC")
    package = session.scalars(
        select(Package)
        .where(Package.sscc == scan.sscc)
        .options(
            joinedload(Package.order),
            selectinload(Package.lines)
            .joinedload(PackageLine.order_line)
            .joinedload(OrderLine.item),
        )
    ).one_or_none()
    if package is None:
        raise NotFound(f"no package has the SSCC {scan.sscc}")
    return package


def site_of_scan(session: Session, raw: str) -> int | None:
    """The site of the package a scan names; None when it names none (the service says why)."""
    try:
        scan = scanning.parse_scan(raw)
    except WmsError:
        return None
    if scan.sscc is None:
        return None
    return session.scalar(
        select(Order.site_id)
        .join(Package, Package.order_id == Order.id)
        .where(Package.sscc == scan.sscc)
    )


def package_view(session: Session, package: Package) -> dict[str, Any]:
    stop = session.get(Stop, package.stop_id) if package.stop_id is not None else None
    return {
        "id": package.id,
        "sscc": package.sscc,
        "status": package.status,
        "order_id": package.order_id,
        "order_number": package.order.number,
        "order_status": package.order.status,
        "customer": package.order.customer_name,
        "address": package.order.address,
        "site_id": package.order.site_id,
        "route_number": stop.route.number if stop is not None else None,
        "stop_status": stop.status if stop is not None else None,
        "failure_reason": stop.failure_reason if stop is not None else None,
        "loaded_at": package.loaded_at,
        "returned_at": package.returned_at,
        "return_disposition": package.return_disposition,
        "lines": [
            {
                "sku": line.order_line.item.sku,
                "name": line.order_line.item.name,
                "quantity": line.quantity,
            }
            for line in sorted(package.lines, key=lambda x: x.id)
        ],
    }


def returned_units(session: Session, package: Package) -> list[dict[str, Any]]:
    """Where a returned package's units went: slot, item, lot, quantity and any hold."""
    rows = session.execute(
        select(Slot.id, Slot.barcode, Item.sku, Stock.lot, Movement.quantity, Stock.hold)
        .select_from(Movement)
        .join(Stock, Stock.id == Movement.stock_id)
        .join(Slot, Slot.id == Stock.slot_id)
        .join(Item, Item.id == Stock.item_id)
        .where(
            Movement.kind == MovementKind.RETURN,
            Movement.reference == f"package:{package.sscc}",
        )
        .order_by(Movement.id)
    )
    names = ("slot_id", "slot_barcode", "sku", "lot", "quantity", "hold")
    return [dict(zip(names, row, strict=True)) for row in rows]

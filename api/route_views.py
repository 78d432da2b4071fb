"""Routes and stops as the API shows them: to carriers and to planners.

A stop lists its order's packages (SSCC, weight, whether handed over); skipped stops are left
out of a route's stops, as they are no longer part of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wms.models import Package, Route, Stop, StopStatus


def route_summary(route: Route) -> dict[str, Any]:
    return {
        "id": route.id,
        "number": route.number,
        "kind": route.kind,
        "status": route.status,
        "version": route.version,
        "site": route.site,
        "vehicle": route.vehicle,
        "driver_id": route.driver_id,
        "window_start": route.window_start,
        "window_end": route.window_end,
        "planned_start": route.planned_start,
        "planned_end": route.planned_end,
        "distance_m": route.distance_m,
        "duration_s": route.duration_s,
        "stops_count": sum(1 for s in route.stops if s.status is not StopStatus.SKIPPED),
        "accepted_at": route.accepted_at,
        "started_at": route.started_at,
        "completed_at": route.completed_at,
        "cancelled_at": route.cancelled_at,
        "updated_at": route.updated_at,
    }


def stop_dict(stop: Stop, packages: Iterable[Package]) -> dict[str, Any]:
    order, transfer = stop.order, stop.transfer_order
    return {
        "id": stop.id,
        "route_id": stop.route_id,
        "sequence": stop.sequence,
        "status": stop.status,
        "kind": "delivery" if order is not None else "transfer",
        "reference": order.number if order is not None else (transfer.number if transfer else ""),
        "name": stop.name,
        "phone": order.phone if order is not None else "",
        "address": stop.address,
        "latitude": stop.latitude,
        "longitude": stop.longitude,
        "window_start": stop.window_start,
        "window_end": stop.window_end,
        "planned_arrival": stop.planned_arrival,
        "eta": stop.eta,
        "service_s": stop.service_s,
        "totes": stop.totes,
        "weight_kg": stop.weight_kg,
        "packages": [
            {"sscc": p.sscc, "weight_g": p.weight_g, "loaded": p.stop_id == stop.id}
            for p in packages
        ],
        "notes": stop.notes,
        "arrived_at": stop.arrived_at,
        "completed_at": stop.completed_at,
        "failure_reason": stop.failure_reason,
        "recipient_name": stop.recipient_name,
        "updated_at": stop.updated_at,
    }


def packages_by_order(session: Session, stops: Iterable[Stop]) -> dict[int, list[Package]]:
    order_ids = [s.order_id for s in stops if s.order_id is not None]
    found: dict[int, list[Package]] = {}
    if order_ids:
        for package in session.scalars(
            select(Package).where(Package.order_id.in_(order_ids)).order_by(Package.id)
        ):
            found.setdefault(package.order_id, []).append(package)
    return found


def route_view(session: Session, route: Route) -> dict[str, Any]:
    """A route with its stops in order (skipped ones left out) and each stop's packages."""
    stops = [s for s in route.stops if s.status is not StopStatus.SKIPPED]
    packages = packages_by_order(session, stops)
    return {
        **route_summary(route),
        "stops": [stop_dict(s, packages.get(s.order_id or 0, [])) for s in stops],
    }


def stop_view(session: Session, stop: Stop) -> dict[str, Any]:
    return stop_dict(stop, packages_by_order(session, [stop]).get(stop.order_id or 0, []))

"""Routes and stops after planning: acceptance, the hand-over, the drive, returns.

The lifecycles (ARCHITECTURE.md): a route goes ``planned → accepted → in_progress →
completed``, or ``cancelled`` before it is in progress; a stop goes ``planned → dispatched →
en_route → arrived → delivered | failed``, or ``skipped`` when its route is cancelled.

- **Hand-over** (``hand_over``): the floor scans each closed package (its SSCC) onto the
  route's vehicle. When every closed package of an order is on, its stop is ``dispatched`` and
  the order too. No stock moves: picked units already left the ledger at the pick (one
  ``pick`` movement; packages hold units that are no longer in any slot), so there is nothing
  left to post out at dispatch.
- **Acceptance and start**: the carrier accepts a planned route naming one of its active
  drivers; an accepted delivery route starts only when every stop still to serve is
  dispatched (a trunk route's stops, transfer orders, are dispatched at the start). The first
  stop goes ``en_route``.
- **The drive**: the driver arrives at stops (in any order: a stop that was en route goes back
  to dispatched) and completes them, delivered or failed with a reason and proof of delivery
  (the carrier's uploads). After each, the next stop in sequence (wrapping round to one passed
  over) goes en route; when none is left the route is completed.
- **Positions**: GPS fixes move the driver's last known position and re-estimate the ETAs of
  the stops still to serve. Stored ETAs change (and carriers hear of it) only when one moves by
  ``ETA_PUBLISH_THRESHOLD`` or more, so a stream of fixes does not flood the carriers' webhooks
  and the stored ETAs stay what the carrier was last told.
- **Cancellation**: stops are skipped, their packages taken off the vehicle (``stop_id``,
  ``loaded_at`` and ``loaded_by`` cleared: a package's ``stop_id`` always names the stop it is
  on; the skipped stops keep their orders for the record), dispatched orders go back to what
  they were before dispatch (``packed``, or ``failed_delivery`` for a re-delivery).
- **Returns**: a failed delivery's packages come back (``receive_return``); their units go
  back into stock through the ledger (``return`` movements), sellable or on hold
  (``Stock.hold = "quarantine"``, which the expiry sweep leaves alone). When all are back the
  order is ``returned``.

Every service locks the route row before it reads the state it decides on (route, then
orders, then packages, then stock rows), flushes but never commits, and every change a
carrier should hear of bumps ``route.version`` and publishes a webhook event in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import numbers
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from routing.matrix import HaversineProvider, MatrixError, MatrixProvider
from wms import orders, stock, webhooks
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import (
    Allocation,
    AllocationStatus,
    Driver,
    DriverPosition,
    FailureReason,
    Item,
    MovementKind,
    Order,
    OrderStatus,
    Package,
    PackageLine,
    PackageStatus,
    ReturnDisposition,
    Route,
    RouteStatus,
    Slot,
    SlotKind,
    Stock,
    Stop,
    StopEvent,
    StopEventKind,
    StopStatus,
    TransferOrder,
    TransferStatus,
    Upload,
    UploadKind,
)
from wms.scanning import parse_scan

log = logging.getLogger(__name__)

#: How far a device's clock may run ahead of (or behind) the server's.
CLOCK_SKEW = dt.timedelta(minutes=2)
#: Stored ETAs change, and carriers hear of it, only when one moves at least this much.
ETA_PUBLISH_THRESHOLD = dt.timedelta(minutes=5)
#: GPS fixes in one batch, at most.
MAX_POSITIONS = 500
#: The hold on returned units that may not be sold (``ReturnDisposition.QUARANTINED``).
QUARANTINE_HOLD = "quarantine"
MAX_NOTES = 2000
MAX_NAME = 120

#: Stops that are done with: served, failed or taken off the route.
DONE = frozenset({StopStatus.DELIVERED, StopStatus.FAILED, StopStatus.SKIPPED})
#: Stops the driver is at or heading to (at most one per route).
ACTIVE = frozenset({StopStatus.EN_ROUTE, StopStatus.ARRIVED})
#: Routes the floor may still load.
LOADABLE = frozenset({RouteStatus.PLANNED, RouteStatus.ACCEPTED})

Outcome = Literal["delivered", "failed"]


# --- locks and lookups ----------------------------------------------------------------------


def _lock_route(session: Session, route_id: int) -> Route:
    """The route locked for this transaction, with its stops as they are now."""
    route = session.scalars(
        select(Route)
        .where(Route.id == route_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if route is None:
        raise NotFound(f"route {route_id} does not exist", field="route_id")
    stops = session.scalars(
        select(Stop)
        .where(Stop.route_id == route.id)
        .order_by(Stop.sequence, Stop.id)
        .execution_options(populate_existing=True)
    ).all()
    set_committed_value(route, "stops", list(stops))
    return route


def _lock_stop(session: Session, stop_id: int) -> tuple[Route, Stop]:
    route_id = session.scalar(select(Stop.route_id).where(Stop.id == stop_id))
    if route_id is None:
        raise NotFound(f"stop {stop_id} does not exist", field="stop_id")
    route = _lock_route(session, route_id)
    stop = next((s for s in route.stops if s.id == stop_id), None)
    if stop is None:  # moved to another route meanwhile
        raise NotFound(f"stop {stop_id} does not exist", field="stop_id")
    return route, stop


def _lock_package(session: Session, package_id: int) -> Package:
    return session.scalars(
        select(Package)
        .where(Package.id == package_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _changed(
    session: Session,
    route: Route,
    stops: Iterable[Stop] = (),
    *,
    now: dt.datetime,
    event: str = "route.changed",
) -> None:
    """Record a change carriers hear of: a new version, the time, and a webhook event."""
    route.version += 1
    route.updated_at = now
    for stop in stops:
        stop.updated_at = now
    session.flush()
    webhooks.publish(session, route, event, now=now)


def _event(
    session: Session,
    stop: Stop,
    kind: StopEventKind,
    *,
    at: dt.datetime,
    actor: str,
    now: dt.datetime,
    latitude: float | None = None,
    longitude: float | None = None,
    **proof: object,
) -> StopEvent:
    event = StopEvent(
        stop_id=stop.id, kind=kind, happened_at=at, recorded_at=now, latitude=latitude,
        longitude=longitude, actor=actor[:64], **proof,
    )  # fmt: skip
    session.add(event)
    return event


def _name(route: Route) -> str:
    return f"route {route.number}"


def _stop_name(route: Route, stop: Stop) -> str:
    return f"stop {stop.sequence} of route {route.number}"


# --- input checks ---------------------------------------------------------------------------


def _check_moment(at: object, now: dt.datetime, *, field: str) -> dt.datetime:
    """A timezone-aware moment not later than now plus the clock skew."""
    if not isinstance(at, dt.datetime):
        raise RuleViolation("must be a date and time", field=field)
    if at.tzinfo is None or at.utcoffset() is None:
        raise RuleViolation("give a time zone (or Z for UTC)", field=field)
    if at > now + CLOCK_SKEW:
        raise RuleViolation(
            f"{_iso(at)} is in the future (the server's time is {_iso(now)})", field=field
        )
    return at


def _number(value: object, *, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RuleViolation(f"must be a number, got {value!r}", field=field)
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise RuleViolation(f"must be {low:g} to {high:g}, got {value!r}", field=field)
    return number


def _check_point(
    latitude: float | None, longitude: float | None, *, prefix: str = ""
) -> tuple[float | None, float | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        missing = "latitude" if latitude is None else "longitude"
        raise RuleViolation("give latitude and longitude together", field=f"{prefix}{missing}")
    return (
        _number(latitude, field=f"{prefix}latitude", low=-90, high=90),
        _number(longitude, field=f"{prefix}longitude", low=-180, high=180),
    )


def _check_text(value: str, *, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise RuleViolation("must be text", field=field)
    text = value.strip()
    if len(text) > limit:
        raise RuleViolation(f"at most {limit} characters", field=field)
    return text


def _sscc_of(scan: str, *, field: str) -> str:
    """The SSCC a scan carries: bare 18 digits, or GS1 with AI (00) — ``(00)…``, ``00…``."""
    if not isinstance(scan, str):
        raise RuleViolation("scan the package's label", field=field)
    try:
        parsed = parse_scan(scan)
    except RuleViolation as exc:
        raise RuleViolation(exc.message, field=field) from None
    if parsed.sscc is None:
        raise RuleViolation(f"{scan.strip()!r} is not a package label: scan its SSCC", field=field)
    return parsed.sscc


def _package_by_scan(session: Session, scan: str, *, field: str) -> Package:
    code = _sscc_of(scan, field=field)
    package = session.scalars(select(Package).where(Package.sscc == code)).one_or_none()
    if package is None:
        raise RuleViolation(f"no package has the SSCC {code}", field=field)
    return package


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# --- acceptance, start, cancellation -----------------------------------------------------------


def accept_route(
    session: Session, route_id: int, *, driver_id: int | None, actor: str, now: dt.datetime
) -> Route:
    """Accept a planned route for one of the carrier's active drivers.

    ``driver_id`` may be left out when the route already names its driver. Refused: no
    driver, another carrier's or an inactive one (422 ``driver_id``); a route that is not
    planned (409).
    """
    route = _lock_route(session, route_id)
    chosen = driver_id if driver_id is not None else route.driver_id
    if chosen is None:
        raise RuleViolation("name the driver who will drive the route", field="driver_id")
    driver = session.get(Driver, chosen)
    if driver is None or driver.carrier_id != route.carrier_id:
        # The same words whether the driver does not exist or is another carrier's.
        raise RuleViolation(
            f"driver {chosen} is not one of the carrier's drivers", field="driver_id"
        )
    if not driver.active:
        raise RuleViolation(f"driver {driver.code} is no longer active", field="driver_id")
    if route.status is not RouteStatus.PLANNED:
        raise Conflict(
            f"{_name(route)} is {route.status.value}; only a planned route can be accepted",
            field="status",
        )
    route.driver_id = driver.id
    route.status = RouteStatus.ACCEPTED
    route.accepted_at = now
    _changed(session, route, now=now)
    return route


def start_route(session: Session, route_id: int, *, actor: str, now: dt.datetime) -> Route:
    """Start an accepted route: the vehicle leaves, the first stop goes en route.

    A delivery route starts only when every stop still to serve is dispatched (all its
    packages handed over); a trunk route's stops are dispatched now, with their transfer
    orders (a cancelled transfer's stop is skipped). Refused (409): a route that is not
    accepted, packages not loaded, nothing left to serve, a driver already under way.
    """
    route = _lock_route(session, route_id)
    if route.status is not RouteStatus.ACCEPTED:
        raise Conflict(
            f"{_name(route)} is {route.status.value}; only an accepted route can start",
            field="status",
        )
    busy = session.scalar(
        select(Route.number).where(
            Route.driver_id == route.driver_id,
            Route.status == RouteStatus.IN_PROGRESS,
            Route.id != route.id,
        )
    )
    if busy is not None:
        raise Conflict(
            f"the driver of {_name(route)} is under way on route {busy}: complete it first",
            field="status",
        )
    remaining = [s for s in route.stops if s.status not in DONE]
    # Transfer orders ride a trunk route without packages: they are dispatched at the start.
    transfers = _lock_transfers(session, remaining)
    waiting = [
        s for s in remaining if s.id not in transfers and s.status is not StopStatus.DISPATCHED
    ]
    if waiting:
        raise Conflict(
            f"{_name(route)} cannot start: not loaded yet — {_describe_unloaded(session, waiting)}",
            field="status",
        )
    dropped = [
        s
        for s in remaining
        if s.id in transfers and transfers[s.id].status is TransferStatus.CANCELLED
    ]
    if len(dropped) == len(remaining):
        raise Conflict(f"{_name(route)} has no stop left to serve: cancel it", field="status")
    changed: list[Stop] = []
    for stop in remaining:
        transfer = transfers.get(stop.id)
        if transfer is None:
            continue
        if stop in dropped:
            stop.status = StopStatus.SKIPPED
            _event(session, stop, StopEventKind.SKIPPED, at=now, actor=actor, now=now)
        else:
            if transfer.status is TransferStatus.PLANNED:
                transfer.status = TransferStatus.DISPATCHED
                transfer.updated_at = now
            stop.status = StopStatus.DISPATCHED
        changed.append(stop)
    route.status = RouteStatus.IN_PROGRESS
    route.started_at = now
    first = next(s for s in route.stops if s.status is StopStatus.DISPATCHED)
    first.status = StopStatus.EN_ROUTE
    _event(session, first, StopEventKind.EN_ROUTE, at=now, actor=actor, now=now)
    if first not in changed:
        changed.append(first)
    _changed(session, route, changed, now=now)
    return route


def _lock_transfers(session: Session, stops: Sequence[Stop]) -> dict[int, TransferOrder]:
    ids = sorted({s.transfer_order_id for s in stops if s.transfer_order_id is not None})
    found = {
        t.id: t
        for t in session.scalars(
            select(TransferOrder)
            .where(TransferOrder.id.in_(ids))
            .order_by(TransferOrder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    return {s.id: found[s.transfer_order_id] for s in stops if s.transfer_order_id is not None}


def _describe_unloaded(session: Session, stops: Sequence[Stop], *, limit: int = 10) -> str:
    order_ids = [s.order_id for s in stops if s.order_id is not None]
    numbers = {
        order_id: number
        for order_id, number in session.execute(
            select(Order.id, Order.number).where(Order.id.in_(order_ids))
        )
    }
    counts = _package_counts(session, order_ids)
    parts = []
    for stop in stops[:limit]:
        if stop.order_id is None:
            parts.append(f"stop {stop.sequence}")
            continue
        out = counts.get(stop.order_id, {})
        parts.append(
            f"stop {stop.sequence} (order {numbers.get(stop.order_id)}: "
            f"{out.get(stop.id, 0)} of {out.get(None, 0)} package(s) loaded)"
        )
    more = len(stops) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _package_counts(session: Session, order_ids: Sequence[int]) -> dict[int, dict[int | None, int]]:
    """Per order: closed packages still out (not returned) under None, loaded ones per stop."""
    counts: dict[int, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
    for order_id, stop_id in session.execute(
        select(Package.order_id, Package.stop_id).where(
            Package.order_id.in_(order_ids),
            Package.status == PackageStatus.CLOSED,
            Package.returned_at.is_(None),
        )
    ):
        counts[order_id][None] += 1
        if stop_id is not None:
            counts[order_id][stop_id] += 1
    return counts


def cancel_route(session: Session, route_id: int, *, actor: str, now: dt.datetime) -> Route:
    """Cancel a route before it leaves: stops skipped, packages unloaded, orders back.

    Packages on the vehicle are taken off (no stop, no load time); orders already dispatched
    go back to ``packed`` (``failed_delivery`` when this was a re-delivery). Refused (409) once
    the route is under way or done.
    """
    route = _lock_route(session, route_id)
    if route.status not in LOADABLE:
        raise Conflict(
            f"{_name(route)} is {route.status.value}; only a planned or accepted route can be "
            "cancelled",
            field="status",
        )
    live = [s for s in route.stops if s.status not in DONE]
    order_ids = sorted({s.order_id for s in live if s.order_id is not None})
    locked = {order_id: orders.lock_order(session, order_id) for order_id in order_ids}
    stop_ids = [s.id for s in live]
    packages = session.scalars(
        select(Package)
        .where(Package.stop_id.in_(stop_ids))
        .order_by(Package.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    failed_before = set(
        session.scalars(
            select(Stop.order_id).where(
                Stop.order_id.in_(order_ids), Stop.status == StopStatus.FAILED
            )
        )
    )
    for package in packages:
        package.stop_id = None
        package.loaded_at = None
        package.loaded_by = None
    for stop in live:
        stop.status = StopStatus.SKIPPED
        _event(session, stop, StopEventKind.SKIPPED, at=now, actor=actor, now=now)
    for order_id, order in locked.items():
        if order.status is OrderStatus.DISPATCHED:
            # Back to where it stood before the hand-over; the lifecycle table holds no step
            # back from dispatched on purpose: only a cancelled route takes it.
            order.status = (
                OrderStatus.FAILED_DELIVERY if order_id in failed_before else OrderStatus.PACKED
            )
    route.status = RouteStatus.CANCELLED
    route.cancelled_at = now
    _changed(session, route, live, now=now, event="route.cancelled")
    return route


# --- the drive --------------------------------------------------------------------------------


def _require_under_way(route: Route) -> None:
    if route.status is not RouteStatus.IN_PROGRESS:
        raise Conflict(
            f"{_name(route)} is {route.status.value}; stops are served only on a route in progress",
            field="status",
        )


def _refuse_other_arrival(route: Route, stop: Stop) -> None:
    other = next(
        (s for s in route.stops if s.id != stop.id and s.status is StopStatus.ARRIVED), None
    )
    if other is not None:
        raise Conflict(
            f"the driver is at stop {other.sequence} of route {route.number}: complete it first",
            field="status",
        )


def _check_after_start(route: Route, at: dt.datetime) -> None:
    assert route.started_at is not None
    if at < route.started_at - CLOCK_SKEW:
        raise RuleViolation(
            f"{_iso(at)} is before the route started ({_iso(route.started_at)})", field="at"
        )


def _divert(route: Route, stop: Stop) -> list[Stop]:
    """The driver turned to ``stop``: another stop that was en route goes back to dispatched."""
    diverted = []
    for other in route.stops:
        if other.id != stop.id and other.status is StopStatus.EN_ROUTE:
            other.status = StopStatus.DISPATCHED
            diverted.append(other)
    return diverted


def arrive(
    session: Session,
    stop_id: int,
    *,
    at: dt.datetime,
    latitude: float | None = None,
    longitude: float | None = None,
    actor: str,
    now: dt.datetime,
) -> Stop:
    """Record the driver's arrival at a stop (stops may be taken out of order).

    Refused: a time in the future or before the route started, a bad point (422); a route
    not in progress, a stop not dispatched or en route, the driver still at another stop (409).
    """
    _check_moment(at, now, field="at")
    latitude, longitude = _check_point(latitude, longitude)
    route, stop = _lock_stop(session, stop_id)
    _require_under_way(route)
    if stop.status not in (StopStatus.DISPATCHED, StopStatus.EN_ROUTE):
        raise Conflict(
            f"{_stop_name(route, stop)} is {stop.status.value}; only a dispatched or en-route "
            "stop can be arrived at",
            field="status",
        )
    _refuse_other_arrival(route, stop)
    _check_after_start(route, at)
    changed = [stop, *_divert(route, stop)]
    stop.status = StopStatus.ARRIVED
    stop.arrived_at = at
    _event(
        session, stop, StopEventKind.ARRIVED, at=at, actor=actor, now=now, latitude=latitude,
        longitude=longitude,
    )  # fmt: skip
    _changed(session, route, changed, now=now)
    return stop


def complete_stop(
    session: Session,
    stop_id: int,
    *,
    outcome: Outcome | str,
    failure_reason: FailureReason | str | None = None,
    recipient_name: str = "",
    notes: str = "",
    at: dt.datetime,
    latitude: float | None = None,
    longitude: float | None = None,
    photo_id: int | None = None,
    signature_id: int | None = None,
    actor: str,
    now: dt.datetime,
) -> Stop:
    """Record a stop delivered or failed, with its proof; the next stop goes en route.

    A stop not arrived at yet is arrived at ``at`` too. Delivered: the order is delivered;
    failed (a ``FailureReason`` is required): the order is ``failed_delivery``, back to the
    planner. When no stop is left the route is completed. Refused (422): an unknown outcome,
    a missing or unexpected reason, a time in the future or before the arrival, uploads that
    are not the carrier's unused photo / signature; (409): a route not in progress, a stop
    already done, the driver still at another stop.
    """
    if outcome not in ("delivered", "failed"):
        raise RuleViolation("must be delivered or failed", field="outcome")
    status = StopStatus(outcome)
    reason = _check_reason(status, failure_reason)
    recipient = _check_text(recipient_name, field="recipient_name", limit=MAX_NAME)
    remark = _check_text(notes, field="notes", limit=MAX_NOTES)
    _check_moment(at, now, field="at")
    latitude, longitude = _check_point(latitude, longitude)
    route, stop = _lock_stop(session, stop_id)
    _require_under_way(route)
    if stop.status in DONE or stop.status is StopStatus.PLANNED:
        raise Conflict(
            f"{_stop_name(route, stop)} is {stop.status.value}; only a stop under way can be "
            "completed",
            field="status",
        )
    _refuse_other_arrival(route, stop)
    _check_after_start(route, at)
    if stop.arrived_at is not None and stop.status is StopStatus.ARRIVED and at < stop.arrived_at:
        raise RuleViolation(
            f"{_iso(at)} is before the arrival at this stop ({_iso(stop.arrived_at)})", field="at"
        )
    _check_upload(session, photo_id, UploadKind.PHOTO, route, field="photo_id")
    _check_upload(session, signature_id, UploadKind.SIGNATURE, route, field="signature_id")
    order = orders.lock_order(session, stop.order_id) if stop.order_id is not None else None
    if order is not None and order.status is not OrderStatus.DISPATCHED:
        raise Conflict(
            f"order {order.number} is {order.status.value}; only a dispatched order is delivered",
            field="status",
        )

    changed = [stop, *_divert(route, stop)]
    point = {"latitude": latitude, "longitude": longitude}
    if stop.status is not StopStatus.ARRIVED:
        stop.arrived_at = at
        _event(session, stop, StopEventKind.ARRIVED, at=at, actor=actor, now=now, **point)
    stop.status = status
    stop.completed_at = at
    stop.failure_reason = reason
    stop.recipient_name = recipient
    _event(
        session, stop, StopEventKind(status.value), at=at, actor=actor, now=now,
        failure_reason=reason, recipient_name=recipient, notes=remark, photo_id=photo_id,
        signature_id=signature_id, **point,
    )  # fmt: skip
    if order is not None:
        orders.advance(
            order,
            OrderStatus.DELIVERED
            if status is StopStatus.DELIVERED
            else OrderStatus.FAILED_DELIVERY,
        )
    following = next_stop(route, after=stop)
    if following is not None:
        if following.status is StopStatus.DISPATCHED:
            following.status = StopStatus.EN_ROUTE
            _event(session, following, StopEventKind.EN_ROUTE, at=at, actor=actor, now=now)
            changed.append(following)
    elif not any(s.status not in DONE for s in route.stops):
        route.status = RouteStatus.COMPLETED
        route.completed_at = now
    _changed(session, route, changed, now=now)
    return stop


def next_stop(route: Route, *, after: Stop | None = None) -> Stop | None:
    """The stop the driver serves next: the one en route or arrived at, else the first
    dispatched stop after ``after`` in sequence, wrapping round to one passed over."""
    remaining = [s for s in route.stops if s.status not in DONE]
    active = next((s for s in remaining if s.status in ACTIVE), None)
    if active is not None:
        return active
    waiting = [s for s in remaining if s.status is StopStatus.DISPATCHED]
    pivot = after.sequence if after is not None else 0
    later = [s for s in waiting if s.sequence > pivot]
    chosen = later or waiting
    return chosen[0] if chosen else None


def _check_reason(status: StopStatus, reason: FailureReason | str | None) -> FailureReason | None:
    if status is StopStatus.DELIVERED:
        if reason is not None:
            raise RuleViolation("a delivered stop has no failure reason", field="failure_reason")
        return None
    if reason is None:
        raise RuleViolation("say why the delivery failed", field="failure_reason")
    try:
        return FailureReason(reason)
    except ValueError:
        choices = ", ".join(r.value for r in FailureReason)
        raise RuleViolation(
            f"unknown reason {reason!r}; use one of {choices}", field="failure_reason"
        ) from None


def _check_upload(
    session: Session, upload_id: int | None, kind: UploadKind, route: Route, *, field: str
) -> None:
    if upload_id is None:
        return
    upload = session.get(Upload, upload_id)
    if upload is None or upload.carrier_id != route.carrier_id:
        # The same words whether it does not exist or is another carrier's.
        raise RuleViolation(f"upload {upload_id} is not one of the carrier's uploads", field=field)
    if upload.kind is not kind:
        raise RuleViolation(
            f"upload {upload_id} is a {upload.kind.value}, not a {kind.value}", field=field
        )
    cited = session.scalar(
        select(StopEvent.id)
        .where(or_(StopEvent.photo_id == upload_id, StopEvent.signature_id == upload_id))
        .limit(1)
    )
    if cited is not None:
        raise RuleViolation(
            f"upload {upload_id} is already the proof of another stop event", field=field
        )


# --- positions and ETAs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PositionFix:
    """One GPS fix as a handset sends it."""

    recorded_at: dt.datetime
    latitude: float
    longitude: float
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None


@dataclass(frozen=True, slots=True)
class PositionsRecorded:
    """What a batch of fixes did: rows stored, and the ETAs re-estimated from the newest."""

    stored: int
    #: The driver's route in progress, if any.
    route_id: int | None
    #: Re-estimated ETA per stop still to serve (stop id → ETA), in the order they come.
    etas: dict[int, dt.datetime]
    #: Whether the stored ETAs changed and carriers were told (route.changed).
    published: bool


def record_positions(
    session: Session,
    driver_id: int,
    fixes: Sequence[PositionFix],
    *,
    now: dt.datetime,
    provider: MatrixProvider | None = None,
) -> PositionsRecorded:
    """Store a batch of a driver's GPS fixes and re-estimate the ETAs of the route under way.

    Every fix is checked before anything is stored (422 naming ``positions[i].<field>``). The
    driver's last position moves only to a fix newer than the one it holds; a fix already
    stored (same time) is not stored twice. ETAs run from the newest position through the
    stops still to serve in the order the driver takes them, with ``provider``'s travel times
    (haversine by default), each stop's service time and the wait for its window, never
    earlier than now; they are stored and published only when one moves by
    ``ETA_PUBLISH_THRESHOLD`` or more.
    """
    checked = _check_fixes(fixes, now)
    driver = session.scalars(
        select(Driver)
        .where(Driver.id == driver_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if driver is None:
        raise NotFound(f"driver {driver_id} does not exist", field="driver_id")
    route_id = session.scalar(
        select(Route.id)
        .where(Route.driver_id == driver.id, Route.status == RouteStatus.IN_PROGRESS)
        .order_by(Route.id)
        .limit(1)
    )
    seen = set(
        session.scalars(
            select(DriverPosition.recorded_at).where(
                DriverPosition.driver_id == driver.id,
                DriverPosition.recorded_at.in_([f.recorded_at for f in checked]),
            )
        )
    )
    stored = 0
    for fix in checked:
        if fix.recorded_at in seen:
            continue
        seen.add(fix.recorded_at)
        session.add(
            DriverPosition(
                driver_id=driver.id,
                route_id=route_id,
                recorded_at=fix.recorded_at,
                received_at=now,
                latitude=fix.latitude,
                longitude=fix.longitude,
                accuracy_m=fix.accuracy_m,
                speed_mps=fix.speed_mps,
                heading_deg=fix.heading_deg,
            )
        )
        stored += 1
    newest = max(checked, key=lambda f: f.recorded_at)
    if driver.last_position_at is None or newest.recorded_at > driver.last_position_at:
        driver.last_latitude = newest.latitude
        driver.last_longitude = newest.longitude
        driver.last_position_at = newest.recorded_at
    session.flush()
    if route_id is None:
        return PositionsRecorded(stored, None, {}, published=False)

    route = _lock_route(session, route_id)
    if route.status is not RouteStatus.IN_PROGRESS:  # completed meanwhile
        return PositionsRecorded(stored, route.id, {}, published=False)
    assert driver.last_latitude is not None and driver.last_longitude is not None
    try:
        etas = estimate_etas(
            route,
            (driver.last_latitude, driver.last_longitude),
            now=now,
            provider=provider or HaversineProvider(),
        )
    except MatrixError as exc:  # OSRM down without a fallback: keep the fixes, not the ETAs
        log.warning("ETAs of %s not re-estimated: %s", route.number, exc)
        return PositionsRecorded(stored, route.id, {}, published=False)
    by_id = {s.id: s for s in route.stops}
    moved = [
        by_id[stop_id]
        for stop_id, eta in etas.items()
        if abs(eta - by_id[stop_id].eta) >= ETA_PUBLISH_THRESHOLD
    ]
    if not moved:
        return PositionsRecorded(stored, route.id, etas, published=False)
    changed = []
    for stop_id, eta in etas.items():
        if by_id[stop_id].eta != eta:
            by_id[stop_id].eta = eta
            changed.append(by_id[stop_id])
    _changed(session, route, changed, now=now)
    return PositionsRecorded(stored, route.id, etas, published=True)


def _check_fixes(fixes: Sequence[PositionFix], now: dt.datetime) -> list[PositionFix]:
    if not fixes:
        raise RuleViolation("send at least one position", field="positions")
    if len(fixes) > MAX_POSITIONS:
        raise RuleViolation(f"at most {MAX_POSITIONS} positions per request", field="positions")
    checked = []
    for i, fix in enumerate(fixes):
        where = f"positions[{i}]."
        at = _check_moment(fix.recorded_at, now, field=f"{where}recorded_at")
        latitude = _number(fix.latitude, field=f"{where}latitude", low=-90, high=90)
        longitude = _number(fix.longitude, field=f"{where}longitude", low=-180, high=180)
        extras: dict[str, float | None] = {}
        for name, high in (("accuracy_m", math.inf), ("speed_mps", math.inf), ("heading_deg", 360)):
            value = getattr(fix, name)
            if value is None:
                extras[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise RuleViolation(f"must be a number, got {value!r}", field=f"{where}{name}")
            number = float(value)
            if not (math.isfinite(number) and 0 <= number <= high):
                shown = "0 or more" if high == math.inf else f"0 to {high:g}"
                raise RuleViolation(f"must be {shown}, got {value!r}", field=f"{where}{name}")
            extras[name] = number
        checked.append(PositionFix(at, latitude, longitude, **extras))
    return checked


def drive_order(route: Route) -> list[Stop]:
    """The stops still to serve in the order the driver takes them: the one en route or
    arrived at first, then the rest in sequence after it, then those passed over."""
    remaining = [s for s in route.stops if s.status not in DONE]
    active = next((s for s in remaining if s.status in ACTIVE), None)
    pivot = active.sequence if active is not None else 0
    rest = [s for s in remaining if s is not active]
    ordered = [s for s in rest if s.sequence > pivot] + [s for s in rest if s.sequence <= pivot]
    return ([active] if active is not None else []) + ordered


def estimate_etas(
    route: Route, position: tuple[float, float], *, now: dt.datetime, provider: MatrixProvider
) -> dict[int, dt.datetime]:
    """ETAs of a route's stops still to serve, driven from ``position`` from ``now`` on.

    A stop the driver is at is left as it is; the drive on starts once its service is done.
    Each later stop's ETA is the departure from the one before plus the travel time; the
    departure is the later of the arrival and the window's start, plus the service time.
    """
    stops = drive_order(route)
    clock = now
    if stops and stops[0].status is StopStatus.ARRIVED:
        here = stops.pop(0)
        began = max(here.arrived_at or now, here.window_start)
        clock = max(now, began + dt.timedelta(seconds=here.service_s))
    if not stops:
        return {}
    points = [position, *((s.latitude, s.longitude) for s in stops)]
    durations = provider.matrix(points).durations_s
    etas: dict[int, dt.datetime] = {}
    for k, stop in enumerate(stops):
        eta = max(now, clock + dt.timedelta(seconds=durations[k][k + 1]))
        etas[stop.id] = eta
        clock = max(eta, stop.window_start) + dt.timedelta(seconds=stop.service_s)
    return etas


# --- the hand-over -------------------------------------------------------------------------------


def hand_over(
    session: Session, *, route_id: int, package_scan: str, user_id: int | None, now: dt.datetime
) -> Package:
    """Load a scanned package (its SSCC) onto the route its order's stop is on.

    When every closed package of the order is on, the stop and the order are dispatched.
    Refused: a scan that is not an SSCC or names no package (422 ``package_scan``); a package
    whose order is on another route or none, a route that left or was cancelled, a package
    already on (409).
    """
    package = _package_by_scan(session, package_scan, field="package_scan")
    route = _lock_route(session, route_id)
    if route.status not in LOADABLE:
        raise Conflict(
            f"{_name(route)} is {route.status.value}; only a planned or accepted route is loaded",
            field="status",
        )
    order = orders.lock_order(session, package.order_id)
    package = _lock_package(session, package.id)
    label = package.sscc
    if package.status is not PackageStatus.CLOSED:
        raise Conflict(f"package {label} is not closed yet", field="package_scan")
    if package.returned_at is not None:
        raise Conflict(
            f"package {label} came back and its units were put back into stock",
            field="package_scan",
        )
    stop = session.scalars(
        select(Stop).where(
            Stop.order_id == order.id,
            Stop.status.not_in((StopStatus.FAILED, StopStatus.SKIPPED)),
        )
    ).one_or_none()
    if stop is None:
        raise Conflict(
            f"package {label} (order {order.number}) is on no route", field="package_scan"
        )
    if stop.route_id != route.id:
        other = session.scalar(select(Route.number).where(Route.id == stop.route_id))
        raise Conflict(
            f"package {label} (order {order.number}) belongs to route {other}, not {route.number}",
            field="package_scan",
        )
    stop = next(s for s in route.stops if s.id == stop.id)
    if package.stop_id == stop.id:
        assert package.loaded_at is not None
        raise Conflict(
            f"package {label} is already on route {route.number} "
            f"(loaded {_iso(package.loaded_at)})",
            field="package_scan",
        )
    if order.status not in (OrderStatus.PACKED, OrderStatus.FAILED_DELIVERY):
        raise Conflict(
            f"order {order.number} is {order.status.value}; only packed orders are handed over",
            field="package_scan",
        )
    package.stop_id = stop.id
    package.loaded_at = now
    package.loaded_by = user_id
    session.flush()
    out = _package_counts(session, [order.id]).get(order.id, {})
    if stop.status is StopStatus.PLANNED and out.get(stop.id, 0) == out.get(None, 0):
        stop.status = StopStatus.DISPATCHED
        orders.advance(order, OrderStatus.DISPATCHED)
        _changed(session, route, [stop], now=now)
    return package


@dataclass(frozen=True, slots=True)
class PackageToLoad:
    """A package the floor still has to hand over onto a route."""

    stop_id: int
    sequence: int
    order_id: int
    order_number: str
    package_id: int
    sscc: str


def stops_to_load(session: Session, route_id: int) -> list[PackageToLoad]:
    """The packages still to hand over onto a route, in stop sequence."""
    if session.get(Route, route_id) is None:
        raise NotFound(f"route {route_id} does not exist", field="route_id")
    rows = session.execute(
        select(Stop.id, Stop.sequence, Order.id, Order.number, Package.id, Package.sscc)
        .join(Order, Order.id == Stop.order_id)
        .join(Package, Package.order_id == Order.id)
        .where(
            Stop.route_id == route_id,
            Stop.status == StopStatus.PLANNED,
            Package.status == PackageStatus.CLOSED,
            Package.returned_at.is_(None),
            or_(Package.stop_id.is_(None), Package.stop_id != Stop.id),
        )
        .order_by(Stop.sequence, Package.id)
    )
    return [
        PackageToLoad(
            stop_id=stop_id,
            sequence=sequence,
            order_id=order_id,
            order_number=number,
            package_id=package_id,
            sscc=sscc or "",
        )
        for stop_id, sequence, order_id, number, package_id, sscc in rows
    ]


# --- returns ----------------------------------------------------------------------------------


def receive_return(
    session: Session,
    *,
    package_scan: str,
    disposition: ReturnDisposition | str,
    slot_id: int | None = None,
    user_id: int | None,
    now: dt.datetime,
) -> Package:
    """Take back a failed delivery's package: its units go back into stock (return movements).

    ``restocked``: into the rack slot given (pick face or reserve, at the order's site),
    sellable. ``quarantined``: into the slot given, or the site's first staging slot, on hold
    (``quarantine``) in a stock row of their own. When every package of the order is back the
    order is returned. Refused: a bad scan, disposition or slot (422); an order not failed, a
    package already back or loaded again, an order planned again, a slot whose stock would
    mix sellable and held units (409).
    """
    try:
        kind = ReturnDisposition(disposition)
    except ValueError:
        raise RuleViolation("must be restocked or quarantined", field="disposition") from None
    package = _package_by_scan(session, package_scan, field="package_scan")
    order = orders.lock_order(session, package.order_id)
    package = _lock_package(session, package.id)
    label = package.sscc
    if order.status is not OrderStatus.FAILED_DELIVERY:
        raise Conflict(
            f"order {order.number} is {order.status.value}; only a failed delivery comes back",
            field="package_scan",
        )
    if package.returned_at is not None:
        raise Conflict(f"package {label} was already taken back", field="package_scan")
    # Every package of a failed delivery went out on it. It is on the failed stop still, or
    # on none when a later route meant to re-deliver it was cancelled.
    if package.stop_id is not None:
        on = session.scalar(select(Stop.status).where(Stop.id == package.stop_id))
        if on is not StopStatus.FAILED:
            raise Conflict(
                f"package {label} is loaded for another delivery: take it off that route first",
                field="package_scan",
            )
    planned = session.scalar(
        select(Route.number)
        .join(Stop, Stop.route_id == Route.id)
        .where(Stop.order_id == order.id, Stop.status.not_in(tuple(DONE)))
    )
    if planned is not None:
        raise Conflict(
            f"order {order.number} is planned again on route {planned}: take it off first",
            field="package_scan",
        )
    slot = _return_slot(session, kind, slot_id, site_id=order.site_id)
    units = _package_units(session, package)
    operation_id = stock.new_operation_id()
    try:
        with session.begin_nested():  # a refusal half-way leaves no movement behind
            for (item_id, lot, expiry), quantity in sorted(units.items(), key=_unit_key):
                _put_back(
                    session, slot, item_id, lot, expiry, quantity, kind=kind,
                    operation_id=operation_id, user_id=user_id,
                    reason=f"return {kind.value}: order {order.number}",
                    reference=f"package:{label}",
                )  # fmt: skip
    except WmsError as exc:
        exc.field = "slot_id"
        raise
    package.returned_at = now
    package.return_disposition = kind
    session.flush()
    still_out = session.scalar(
        select(func.count())
        .select_from(Package)
        .where(
            Package.order_id == order.id,
            Package.status == PackageStatus.CLOSED,
            Package.returned_at.is_(None),
        )
    )
    if not still_out:
        orders.advance(order, OrderStatus.RETURNED)
        session.flush()
    return package


def _unit_key(entry: tuple[tuple[int, str, dt.date | None], int]) -> tuple[int, str]:
    (item_id, lot, _), _ = entry
    return item_id, lot


def _return_slot(
    session: Session, kind: ReturnDisposition, slot_id: int | None, *, site_id: int
) -> Slot:
    if slot_id is None:
        if kind is ReturnDisposition.RESTOCKED:
            raise RuleViolation("say which slot the units go back into", field="slot_id")
        slot = session.scalars(
            select(Slot)
            .where(Slot.site_id == site_id, Slot.kind == SlotKind.STAGING)
            .order_by(Slot.id)
            .limit(1)
        ).first()
        if slot is None:
            raise RuleViolation(
                "the site has no staging slot for quarantined units: give slot_id",
                field="slot_id",
            )
        return slot
    slot = session.get(Slot, slot_id)
    if slot is None or slot.site_id != site_id:
        raise RuleViolation(f"slot {slot_id} is not at the order's site", field="slot_id")
    if kind is ReturnDisposition.RESTOCKED and slot.kind not in stock.RACK_KINDS:
        raise RuleViolation(
            f"sellable units go into a pick face or reserve slot, not {slot.kind.value} "
            f"{slot.barcode}",
            field="slot_id",
        )
    return slot


def _put_back(
    session: Session,
    slot: Slot,
    item_id: int,
    lot: str,
    expiry: dt.date | None,
    quantity: int,
    *,
    kind: ReturnDisposition,
    operation_id: str,
    user_id: int | None,
    reason: str,
    reference: str,
) -> None:
    item = session.get(Item, item_id)
    assert item is not None
    stock.check_destination(session, slot, item, quantity)
    row = stock.ensure_row(session, slot_id=slot.id, item_id=item_id, lot=lot, expiry=expiry)
    row = stock.lock_rows(session, [row.id])[row.id]
    wanted = QUARANTINE_HOLD if kind is ReturnDisposition.QUARANTINED else None
    if row.on_hand > 0 and row.hold != wanted:
        held = f"on hold ({row.hold})" if row.hold else "sellable"
        raise Conflict(
            f"slot {slot.barcode} holds {held} {item.sku}"
            + (f" of lot {lot}" if lot else "")
            + f"; {kind.value} units go into another slot",
            field="slot_id",
        )
    row.hold = wanted
    stock.post(
        session, row, quantity, MovementKind.RETURN, operation_id=operation_id, user_id=user_id,
        reason=reason, reference=reference,
    )  # fmt: skip


@dataclass(slots=True)
class _Picked:
    """Units of one lot picked for an order line, not yet shared out to a package."""

    item_id: int
    lot: str
    expiry: dt.date | None
    left: int


def _package_units(
    session: Session, package: Package
) -> dict[tuple[int, str, dt.date | None], int]:
    """The package's units by (item, lot, expiry).

    Packages record units per order line, not per lot; the lots come from the line's picked
    allocations, shared out over the order's closed packages in id order (earliest
    allocation first), the same way every time.
    """
    packages = session.scalars(
        select(Package)
        .where(Package.order_id == package.order_id, Package.status == PackageStatus.CLOSED)
        .order_by(Package.id)
    ).all()
    line_ids = {
        pl.order_line_id
        for pl in session.scalars(
            select(PackageLine).where(PackageLine.package_id.in_([p.id for p in packages]))
        )
    }
    picked: dict[int, deque[_Picked]] = defaultdict(deque)
    for line_id, item_id, lot, expiry, quantity in session.execute(
        select(
            Allocation.order_line_id, Stock.item_id, Stock.lot, Stock.expiry, Allocation.picked_qty
        )
        .join(Stock, Stock.id == Allocation.stock_id)
        .where(
            Allocation.order_line_id.in_(line_ids),
            Allocation.status == AllocationStatus.PICKED,
            Allocation.picked_qty > 0,
        )
        .order_by(Allocation.id)
    ):
        picked[line_id].append(_Picked(item_id, lot, expiry, quantity))
    for current in packages:
        units: dict[tuple[int, str, dt.date | None], int] = defaultdict(int)
        for pl in sorted(current.lines, key=lambda x: x.id):
            need = pl.quantity
            queue = picked[pl.order_line_id]
            while need and queue:
                lot_of = queue[0]
                take = min(need, lot_of.left)
                units[(lot_of.item_id, lot_of.lot, lot_of.expiry)] += take
                need -= take
                lot_of.left -= take
                if not lot_of.left:
                    queue.popleft()
            if need:
                item = pl.order_line.item
                if item.lot_tracked:
                    raise Conflict(
                        f"no record tells which lot of {item.sku} is in package {current.sscc}",
                        field="package_scan",
                    )
                units[(item.id, "", None)] += need
        if current.id == package.id:
            return dict(units)
    raise AssertionError("the package is one of its order's closed packages")


__all__ = [
    "ACTIVE",
    "CLOCK_SKEW",
    "DONE",
    "ETA_PUBLISH_THRESHOLD",
    "LOADABLE",
    "MAX_POSITIONS",
    "QUARANTINE_HOLD",
    "PackageToLoad",
    "PositionFix",
    "PositionsRecorded",
    "accept_route",
    "arrive",
    "cancel_route",
    "complete_stop",
    "drive_order",
    "estimate_etas",
    "hand_over",
    "next_stop",
    "receive_return",
    "record_positions",
    "start_route",
    "stops_to_load",
]

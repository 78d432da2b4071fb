"""Delivery planning: a front warehouse's orders of a dispatch window → vehicle routes.

``plan_window`` gathers the orders promised in the window that are packed or on their way to
packing (allocated, in a wave, picked), the carriers' vehicles based at the site whose shift
overlaps it, and the travel times between them (a ``routing.matrix`` provider), solves the
vehicle-routing problem with ``routing.vrp`` and stores the answer as ``Route`` rows with
ordered ``Stop``\\ s. Orders no route can serve come back with the solver's reason.

Planning a window again (re-planning) starts from the routes it already has:

- a route under way keeps the stops done or being served; the vehicle sets out again from
  where it is now, with only the packages it carries (it takes no new orders);
- a stop whose packages are on a vehicle stays on that vehicle;
- new orders are inserted, stops of cancelled orders are skipped, and a route left with no
  live stop before it sets out is cancelled.

Every new route is announced to its carrier (``route.planned``), every changed one gets a new
version (``route.changed``), every cancelled one ``route.cancelled``, through the outbox.

Times inside the solver are seconds from the start of the window's local day; distances are
metres; loads are totes and grams.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from routing import vrp
from routing.matrix import HaversineProvider, Matrix, MatrixError, MatrixProvider
from wms import orders, webhooks
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Order,
    OrderLine,
    OrderStatus,
    Package,
    PackageStatus,
    Route,
    RouteKind,
    RouteStatus,
    Site,
    SiteKind,
    Stop,
    StopStatus,
    Temperature,
    Vehicle,
)

#: Orders a window's routes carry: packed, or on their way to packing, or back for another try.
PLANNABLE = (
    OrderStatus.ALLOCATED,
    OrderStatus.IN_WAVE,
    OrderStatus.PICKED,
    OrderStatus.PACKED,
    OrderStatus.FAILED_DELIVERY,
)
LIVE_ROUTES = (RouteStatus.PLANNED, RouteStatus.ACCEPTED, RouteStatus.IN_PROGRESS)
#: Stops that still hold their order (a failed or skipped one has let it go).
LIVE_STOPS = (
    StopStatus.PLANNED,
    StopStatus.DISPATCHED,
    StopStatus.EN_ROUTE,
    StopStatus.ARRIVED,
    StopStatus.DELIVERED,
)
DONE_STOPS = (StopStatus.DELIVERED, StopStatus.FAILED, StopStatus.SKIPPED)
#: Stops whose packages are on the vehicle.
ON_BOARD = (StopStatus.DISPATCHED, StopStatus.EN_ROUTE, StopStatus.ARRIVED)

# Reasons of our own beside routing.vrp's (``Unassigned.reason``).
NO_VEHICLE = "no_vehicle"  # no vehicle of the site works during the window
WINDOW_PASSED = "window_passed"  # the promised window ends before any vehicle could leave

REASONS = {
    NO_VEHICLE: "no vehicle of this front warehouse has a shift in the window",
    WINDOW_PASSED: "its delivery window is over",
    vrp.NO_CAPABLE_VEHICLE: "no vehicle can carry it (temperature or size)",
    vrp.WINDOW_UNREACHABLE: "no vehicle can reach it within its window",
    vrp.OVER_CAPACITY: "the fleet cannot carry every order of the window",
    vrp.NO_ROOM: "no room left in the vehicles' shifts with the other orders",
    vrp.DROPPED_FOR_COST: "left out because serving it costs more than its penalty",
    vrp.TIME_LIMIT: "the planner found no place for it within its time limit",
}

# Capabilities: temperatures, and "depot" for a vehicle still at the site (new orders need it).
AT_DEPOT = "depot"


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How routes are planned (``WMS_DELIVERY_*``)."""

    service_s: float = 180.0  # at each door: park, walk, hand over
    trunk_service_s: float = 1200.0  # at a front warehouse's dock: unload the roll cages
    tote_volume_cm3: int = 40_000  # one tote, to count an unpacked order's totes
    vehicle_fixed_cost_m: float = 5_000.0  # a vehicle used costs as much as this many metres
    time_limit_s: float = 5.0
    max_iterations: int | None = None
    window_minutes: int = 60  # dispatch windows of the scheduled job, in site-local time
    plan_ahead_minutes: int = 120  # the job plans windows starting within this

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> DeliverySettings:
        """Settings from ``DELIVERY_*`` keys, then explicit overrides; RuleViolation names one."""
        names = {
            "service_s": float,
            "trunk_service_s": float,
            "tote_volume_cm3": int,
            "vehicle_fixed_cost_m": float,
            "time_limit_s": float,
            "max_iterations": int,
            "window_minutes": int,
            "plan_ahead_minutes": int,
        }
        values: dict[str, Any] = {}
        for name, kind in names.items():
            key = f"DELIVERY_{name.upper()}"
            raw = overrides.get(name, config.get(key))
            if raw is None or raw == "":
                continue
            try:
                value = kind(raw)
            except (TypeError, ValueError):
                raise RuleViolation(f"{key} must be a number, got {raw!r}", field=key) from None
            if not (math.isfinite(value) and value > 0) and not (
                name == "vehicle_fixed_cost_m" and value == 0
            ):
                raise RuleViolation(f"{key} must be above 0, got {raw!r}", field=key)
            values[name] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Unserved:
    """An order of the window no route serves, and why."""

    order_id: int
    number: str
    reason: str

    @property
    def why(self) -> str:
        return REASONS.get(self.reason, self.reason)


@dataclass(slots=True)
class WindowPlan:
    """What planning a window did."""

    site: str
    window_start: dt.datetime
    window_end: dt.datetime
    planned: list[int] = field(default_factory=list)  # new route ids
    changed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # unchanged
    unserved: list[Unserved] = field(default_factory=list)
    orders: int = 0
    engine: str = "none"
    matrix_source: str = ""
    notes: list[str] = field(default_factory=list)
    #: "delivery" (customer orders) or "trunk" (transfer orders: ``Unserved.order_id`` is then
    #: a transfer's id and ``number`` its number).
    kind: str = "delivery"
    #: The ``routing.vrp`` problem the window was solved as (None when nothing was to solve),
    #: for whoever measures the plan against another engine (``benchmarks.delivery``).
    problem: vrp.Problem | None = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> str:
        parts = [
            f"{self.site} {self.window_start:%Y-%m-%d %H:%M}Z: {self.orders} "
            + ("transfer(s)" if self.kind == "trunk" else "order(s)"),
            f"{len(self.planned)} new route(s)",
            f"{len(self.changed)} changed",
        ]
        if self.cancelled:
            parts.append(f"{len(self.cancelled)} cancelled")
        if self.kept:
            parts.append(f"{len(self.kept)} unchanged")
        parts.append(f"{len(self.unserved)} unserved")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready account, for a task's result and the API."""
        return {
            "kind": self.kind,
            "site": self.site,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "orders": self.orders,
            "routes_planned": self.planned,
            "routes_changed": self.changed,
            "routes_cancelled": self.cancelled,
            "routes_unchanged": self.kept,
            "unassigned": [
                {"order_id": u.order_id, "number": u.number, "reason": u.reason, "why": u.why}
                for u in self.unserved
            ],
            "engine": self.engine,
            "matrix_source": self.matrix_source,
            "notes": self.notes,
        }


# --- the problem --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Fleet:
    """One vehicle as the solver sees it, with the route it already drives in the window."""

    vehicle: Vehicle
    shift_start_s: float
    shift_end_s: float
    route: Route | None = None
    start_point: int | None = None  # set when it is under way (its own start depot)
    start_s: float | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """A window's problem and its solution, worked out in a read transaction beforehand.

    :func:`plan_window` given a draft builds the problem again under its locks and keeps the
    draft's solution when the problem is the same (nothing changed meanwhile), so the solver's
    seconds are spent outside the write transaction (on SQLite, outside the database's one
    write lock); when something changed it solves again.
    """

    points: tuple[tuple[float, float], ...]
    matrix: Matrix
    problem: vrp.Problem | None
    locked: tuple[tuple[str, tuple[str, ...]], ...]
    solution: vrp.Solution | None


def plan_window(
    session: Session,
    site_id: int,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    now: dt.datetime,
    actor: str,
    settings: DeliverySettings | None = None,
    provider: MatrixProvider | None = None,
    seed: int = 0,
    draft: Draft | None = None,
) -> WindowPlan:
    """Plan (or re-plan) the delivery routes of one front warehouse's dispatch window."""
    plan, _ = _plan(
        session, site_id, window_start=window_start, window_end=window_end, now=now,
        actor=actor, settings=settings, provider=provider, seed=seed, draft=draft,
        rehearse=False,
    )  # fmt: skip
    return plan


def draft_window(
    session: Session,
    site_id: int,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    now: dt.datetime,
    settings: DeliverySettings | None = None,
    provider: MatrixProvider | None = None,
    seed: int = 0,
) -> Draft:
    """Work out a window's plan without writing or locking anything (a read transaction will
    do), for :func:`plan_window` to keep if nothing changes before it runs."""
    _, draft = _plan(
        session, site_id, window_start=window_start, window_end=window_end, now=now,
        actor="draft", settings=settings, provider=provider, seed=seed, draft=None,
        rehearse=True,
    )  # fmt: skip
    return draft


def plan_window_beside(
    session: Session,
    site_id: int,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    now: dt.datetime,
    actor: str,
    settings: DeliverySettings | None = None,
    provider: MatrixProvider | None = None,
) -> WindowPlan:
    """Draft the window in a read session beside ``session``, then plan it in ``session``:
    the solver runs before the write transaction takes its locks (jobs and tasks use this)."""
    from wms.db import reading_beside

    with reading_beside(session) as reading:
        draft = draft_window(
            reading, site_id, window_start=window_start, window_end=window_end, now=now,
            settings=settings, provider=provider,
        )  # fmt: skip
    return plan_window(
        session, site_id, window_start=window_start, window_end=window_end, now=now,
        actor=actor, settings=settings, provider=provider, draft=draft,
    )  # fmt: skip


def _plan(
    session: Session,
    site_id: int,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    now: dt.datetime,
    actor: str,
    settings: DeliverySettings | None,
    provider: MatrixProvider | None,
    seed: int,
    draft: Draft | None,
    rehearse: bool,
) -> tuple[WindowPlan, Draft]:
    settings = settings or DeliverySettings()
    provider = provider or HaversineProvider()
    _check_window(window_start, window_end)
    site = _lock_site(session, site_id, lock=not rehearse)
    zone = ZoneInfo(site.timezone)
    day_start = dt.datetime.combine(window_start.astimezone(zone).date(), dt.time(), zone)
    day_start = day_start.astimezone(dt.UTC)

    def seconds(moment: dt.datetime) -> float:
        return (moment - day_start).total_seconds()

    def moment(offset: float) -> dt.datetime:
        return day_start + dt.timedelta(seconds=offset)

    plan = WindowPlan(site=site.code, window_start=window_start, window_end=window_end)
    routes = _window_routes(session, site.id, window_start, window_end, lock=not rehearse)
    stops_by_order = {
        stop.order_id: stop
        for route in routes
        for stop in route.stops
        if stop.order_id is not None and stop.status in LIVE_STOPS
    }
    candidates = [
        order
        for order in _orders(session, site.id, window_start, window_end)
        if order.id not in stops_by_order or stops_by_order[order.id].status not in DONE_STOPS
    ]
    # Orders on this window's routes stay while their stop is not done, even if their promise
    # moved; a cancelled order's planned stop is not kept (it is skipped below).
    chosen = {order.id for order in candidates}
    for stop in stops_by_order.values():
        order = stop.order
        if order is None or order.id in chosen or stop.status in DONE_STOPS:
            continue
        if stop.status in ON_BOARD or order.status in PLANNABLE:
            candidates.append(order)
            chosen.add(order.id)
    elsewhere = _on_other_routes(session, [o.id for o in candidates], [r.id for r in routes])
    failed_here = _failed_in_their_window(session, candidates)
    candidates = [o for o in candidates if o.id not in elsewhere and o.id not in failed_here]
    plan.orders = len(candidates)
    packages = _packages(session, [o.id for o in candidates])

    fleet = _fleet(session, site, routes, window_start, window_end, zone, seconds)
    now_s = max(seconds(now), 0.0)

    # Locations: 0 is the site; then where vehicles under way are; then the orders.
    points: list[tuple[float, float]] = [(site.latitude, site.longitude)]
    for member in fleet:
        route = member.route
        if route is not None and route.status is RouteStatus.IN_PROGRESS:
            member.start_point = len(points)
            points.append(_position(route))
            member.start_s = now_s
    order_point: dict[int, int] = {}
    for order in candidates:
        order_point[order.id] = len(points)
        points.append((order.latitude, order.longitude))
    if draft is not None and draft.points == tuple(points):
        matrix = draft.matrix  # the same places: no second call to a road-network server
    else:
        try:
            matrix = provider.matrix(points)
        except MatrixError as error:
            raise RuleViolation(f"travel times: {error}", field="matrix") from error
    plan.matrix_source = matrix.source
    plan.notes.extend(matrix.notes)

    jobs: list[vrp.Job] = []
    locked: dict[str, list[str]] = {}
    loaded_on: dict[int, str] = {}  # order id → the vehicle its packages are on
    for member in fleet:
        if member.route is None:
            continue
        vid = _vid(member.vehicle)
        being_served = []
        for stop in member.route.stops:
            if stop.order_id is None or stop.status in DONE_STOPS:
                continue
            if stop.status in ON_BOARD:
                loaded_on[stop.order_id] = vid
                if stop.status in (StopStatus.EN_ROUTE, StopStatus.ARRIVED):
                    being_served.append(stop)
        # Arrived first, then the one on its way: the vehicle serves them in that order.
        being_served.sort(key=lambda s: (s.status is not StopStatus.ARRIVED, s.sequence))
        if being_served:
            locked[vid] = [_jid(s.order_id) for s in being_served if s.order_id is not None]

    unserved: list[Unserved] = []
    for order in candidates:
        current = stops_by_order.get(order.id)
        totes, grams, temperature = _load(order, packages.get(order.id, []), settings)
        requires = set(_needs(temperature))
        windows: tuple[vrp.TimeWindow, ...] = (
            vrp.TimeWindow(seconds(order.promised_start), seconds(order.promised_end)),
        )
        on_vehicle = loaded_on.get(order.id)
        if on_vehicle is not None:
            requires.add(f"carries:{order.id}")
            if current is not None and current.route.status is RouteStatus.IN_PROGRESS:
                windows = ()  # on a vehicle under way: served late rather than not at all
        else:
            requires.add(AT_DEPOT)
            if order.promised_end <= now:
                unserved.append(Unserved(order.id, order.number, WINDOW_PASSED))
                continue
        jobs.append(
            vrp.Job(
                id=_jid(order.id),
                location=order_point[order.id],
                demand=(totes, grams),
                service_time=current.service_s if current is not None else settings.service_s,
                windows=windows,
                requires=frozenset(requires),
                priority=order.priority,
            )
        )

    depots = [vrp.Depot(id=site.code, location=0)]
    vehicles: list[vrp.Vehicle] = []
    for member in fleet:
        vid = _vid(member.vehicle)
        capabilities = set(_capabilities(member.vehicle))
        capabilities |= {f"carries:{oid}" for oid, on in loaded_on.items() if on == vid}
        depot = site.code
        start = max(member.shift_start_s, now_s)
        if member.start_point is not None:
            depot = f"{vid}@now"
            depots.append(vrp.Depot(id=depot, location=member.start_point))
            start = member.start_s or now_s
        else:
            capabilities.add(AT_DEPOT)
        if start >= member.shift_end_s:
            continue
        vehicles.append(
            vrp.Vehicle(
                id=vid,
                depot=depot,
                end_depot=site.code,
                capacity=(member.vehicle.capacity_totes, member.vehicle.capacity_kg * 1000),
                shift=vrp.TimeWindow(start, member.shift_end_s),
                fixed_cost=settings.vehicle_fixed_cost_m,
                cost_per_distance=1.0,
                capabilities=frozenset(capabilities),
            )
        )
    live_vehicles = {v.id for v in vehicles}
    locked = {v: js for v, js in locked.items() if v in live_vehicles and js}

    solution: vrp.Solution | None = None
    problem: vrp.Problem | None = None
    frozen_locks = tuple(sorted((v, tuple(js)) for v, js in locked.items()))
    if jobs and vehicles:
        problem = vrp.Problem(
            depots=tuple(depots),
            vehicles=tuple(vehicles),
            jobs=tuple(jobs),
            distances=matrix.distances_m,
            durations=matrix.durations_s,
            dimensions=("totes", "grams"),
            time_scale=1,
        )
        if draft is not None and draft.problem == problem and draft.locked == frozen_locks:
            solution = draft.solution
            plan.notes.append("solved beforehand, outside the write transaction")
        if solution is None:
            solution = vrp.solve(
                problem,
                time_limit_s=settings.time_limit_s,
                locked=locked,
                seed=seed,
                max_iterations=settings.max_iterations,
                coordinates=[(lon, lat) for lat, lon in points],
            )
        plan.engine = solution.engine
        unserved += [
            Unserved(int(u.job.split(":")[1]), _number(candidates, u.job), u.reason)
            for u in solution.unassigned
        ]
    elif jobs:
        unserved += [
            Unserved(int(j.id.split(":")[1]), _number(candidates, j.id), NO_VEHICLE) for j in jobs
        ]
    plan.unserved = sorted(unserved, key=lambda u: u.number)

    plan.problem = problem
    made = Draft(tuple(points), matrix, problem, frozen_locks, solution)
    if rehearse:
        return plan, made
    by_order = {o.id: o for o in candidates}
    served: dict[str, vrp.Route] = {}
    if solution is not None:
        served = {r.vehicle: r for r in solution.routes if r.visits}
    _store(
        session,
        plan,
        site=site,
        fleet=fleet,
        served=served,
        by_order=by_order,
        packages=packages,
        stops_by_order=stops_by_order,
        matrix_source=matrix.source,
        moment=moment,
        window=(window_start, window_end),
        now=now,
        actor=actor,
        settings=settings,
    )
    return plan, made


def _store(
    session: Session,
    plan: WindowPlan,
    *,
    site: Site,
    fleet: Sequence[_Fleet],
    served: Mapping[str, vrp.Route],
    by_order: Mapping[int, Order],
    packages: Mapping[int, Sequence[Package]],
    stops_by_order: Mapping[int, Stop],
    matrix_source: str,
    moment: Any,
    window: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    actor: str,
    settings: DeliverySettings,
) -> None:
    """Write the solution over the window's routes: new, changed, unchanged or cancelled."""
    kept_stop_ids: set[int] = set()
    touched: dict[int, Route] = {}
    new_routes: list[Route] = []
    for member in fleet:
        vid = _vid(member.vehicle)
        found = served.get(vid)
        route = member.route
        if found is None:
            continue
        if route is None:
            route = Route(
                number=_route_number(session, site, window[0]),
                kind=RouteKind.DELIVERY,
                site_id=site.id,
                carrier_id=member.vehicle.carrier_id,
                vehicle_id=member.vehicle.id,
                status=RouteStatus.PLANNED,
                window_start=window[0],
                window_end=window[1],
                planned_start=moment(found.departure),
                planned_end=moment(found.return_time),
                distance_m=found.distance,
                duration_s=found.duration,
                matrix_source=matrix_source,
                version=1,
                planned_by=actor,
                created_at=now,
                updated_at=now,
            )
            session.add(route)
            session.flush()
            new_routes.append(route)
        before = _shape(route)
        done = [
            s for s in route.stops if s.status in DONE_STOPS and s.status is not StopStatus.SKIPPED
        ]
        sequence = max((s.sequence for s in done), default=0)
        visited: list[Stop] = []
        for visit in found.visits:
            order = by_order[int(visit.job.split(":")[1])]
            stop = stops_by_order.get(order.id)
            arrival = moment(visit.arrival)
            if stop is None:
                stop = Stop(
                    route=route,
                    order_id=order.id,
                    status=StopStatus.PLANNED,
                    name=order.customer_name,
                    address=order.address,
                    latitude=order.latitude,
                    longitude=order.longitude,
                    window_start=order.promised_start,
                    window_end=order.promised_end,
                    service_s=settings.service_s,
                    notes="",
                    recipient_name="",
                    updated_at=now,
                )
                session.add(stop)
            elif stop.route_id != route.id:
                touched[stop.route_id] = stop.route
                stop.route = route
            totes, grams, _ = _load(order, packages.get(order.id, []), settings)
            sequence += 1
            stop.sequence = sequence
            stop.planned_arrival = arrival
            stop.eta = arrival
            stop.totes = totes
            stop.weight_kg = round(grams / 1000, 3)
            visited.append(stop)
        session.flush()
        kept_stop_ids.update(stop.id for stop in visited)
        route.distance_m = found.distance
        route.duration_s = found.duration
        route.matrix_source = matrix_source
        if route.status is not RouteStatus.IN_PROGRESS:
            route.planned_start = moment(found.departure)
        route.planned_end = max(moment(found.return_time), route.planned_start)
        session.flush()
        session.refresh(route, ["stops"])
        if route in new_routes:
            continue
        if _noticeably_changed(before, _shape(route)):
            touched[route.id] = route
        elif route.id not in touched:
            plan.kept.append(route.id)

    # Stops no solution route kept: skipped, so their orders are free for another window.
    for member in fleet:
        route = member.route
        if route is None:
            continue
        for stop in route.stops:
            if stop.status is StopStatus.PLANNED and stop.id not in kept_stop_ids:
                stop.status = StopStatus.SKIPPED
                stop.updated_at = now
                touched[route.id] = route
    session.flush()

    for route in new_routes:
        session.refresh(route, ["stops"])
        plan.planned.append(route.id)
        webhooks.publish(session, route, "route.planned", now=now)
    for route in touched.values():
        session.refresh(route, ["stops"])
        if route.id in plan.kept:
            plan.kept.remove(route.id)
        live = [s for s in route.stops if s.status not in (StopStatus.SKIPPED, StopStatus.FAILED)]
        route.version += 1
        route.updated_at = now
        if not live and route.status in (RouteStatus.PLANNED, RouteStatus.ACCEPTED):
            route.status = RouteStatus.CANCELLED
            route.cancelled_at = now
            plan.cancelled.append(route.id)
            webhooks.publish(session, route, "route.cancelled", now=now)
        else:
            plan.changed.append(route.id)
            webhooks.publish(session, route, "route.changed", now=now)
    session.flush()


#: A planned arrival moving less than this is not news to a carrier.
NOTICEABLE = dt.timedelta(minutes=5)


def _shape(route: Route) -> list[tuple[int | None, int, dt.datetime | None]]:
    """Which orders a route serves, in which order, and when it arrives at each."""
    return [
        (stop.order_id, stop.sequence, stop.planned_arrival)
        for stop in sorted(route.stops, key=lambda s: s.sequence or 0)
        if stop.status is not StopStatus.SKIPPED
    ]


def _noticeably_changed(
    before: list[tuple[int | None, int, dt.datetime | None]],
    after: list[tuple[int | None, int, dt.datetime | None]],
) -> bool:
    if [(o, n) for o, n, _ in before] != [(o, n) for o, n, _ in after]:
        return True
    return any(
        a is None or b is None or abs(a - b) >= NOTICEABLE
        for (_, _, b), (_, _, a) in zip(before, after, strict=True)
    )


# --- gathering ----------------------------------------------------------------------------------


def _check_window(start: dt.datetime, end: dt.datetime) -> None:
    for name, value in (("window_start", start), ("window_end", end)):
        if value.tzinfo is None:
            raise RuleViolation(f"{name} needs a time zone (UTC offset)", field=name)
    if end <= start:
        raise RuleViolation("the window must end after it starts", field="window_end")
    if end - start > dt.timedelta(hours=24):
        raise RuleViolation("a dispatch window is at most 24 hours", field="window_end")


def _lock_site(session: Session, site_id: int, *, lock: bool = True) -> Site:
    """The front warehouse, locked: two plannings of one site take turns."""
    site = session.get(Site, site_id, with_for_update=lock)
    if site is None:
        raise NotFound(f"no site {site_id}", field="site")
    if site.kind is not SiteKind.FRONT_WAREHOUSE:
        raise RuleViolation(f"{site.code} is not a front warehouse", field="site")
    return site


def _window_routes(
    session: Session, site_id: int, start: dt.datetime, end: dt.datetime, *, lock: bool = True
) -> list[Route]:
    stmt = (
        select(Route)
        .where(
            Route.site_id == site_id,
            Route.kind == RouteKind.DELIVERY,
            Route.window_start == start,
            Route.window_end == end,
            Route.status.in_(LIVE_ROUTES),
        )
        .options(selectinload(Route.stops).joinedload(Stop.order))
        .order_by(Route.id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Route)
    return list(session.scalars(stmt).unique())


def _orders(session: Session, site_id: int, start: dt.datetime, end: dt.datetime) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(
                Order.site_id == site_id,
                Order.status.in_(PLANNABLE),
                Order.promised_start >= start,
                Order.promised_start < end,
            )
            .options(selectinload(Order.lines).joinedload(OrderLine.item))
            .order_by(Order.id)
        )
    )


def _failed_in_their_window(session: Session, candidates: Sequence[Order]) -> set[int]:
    """Failed deliveries not yet promised again (``redeliver`` moves the promise on)."""
    failed = {o.id: o for o in candidates if o.status is OrderStatus.FAILED_DELIVERY}
    if not failed:
        return set()
    rows = session.execute(
        select(Stop.order_id, Route.window_end)
        .join(Route, Stop.route_id == Route.id)
        .where(Stop.order_id.in_(failed), Stop.status == StopStatus.FAILED)
    ).all()
    return {
        oid
        for oid, window_end in rows
        if oid is not None and failed[oid].promised_start < window_end
    }


def _on_other_routes(session: Session, order_ids: list[int], route_ids: list[int]) -> set[int]:
    """Orders with a live stop on a route outside this window (planned elsewhere)."""
    if not order_ids:
        return set()
    stmt = select(Stop.order_id).where(Stop.order_id.in_(order_ids), Stop.status.in_(LIVE_STOPS))
    if route_ids:
        stmt = stmt.where(Stop.route_id.not_in(route_ids))
    return {oid for oid in session.scalars(stmt) if oid is not None}


def _fleet(
    session: Session,
    site: Site,
    routes: list[Route],
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
    seconds: Any,
) -> list[_Fleet]:
    """The site's vehicles working in the window, between their other windows' routes."""
    by_vehicle = {route.vehicle_id: route for route in routes}
    vehicles = list(
        session.scalars(
            select(Vehicle)
            .where(Vehicle.site_id == site.id, Vehicle.active.is_(True))
            .order_by(Vehicle.id)
        )
    )
    day = start.astimezone(zone).date()
    others = list(
        session.scalars(
            select(Route).where(
                Route.vehicle_id.in_([v.id for v in vehicles]),
                Route.status.in_(LIVE_ROUTES),
                Route.planned_end > start - dt.timedelta(hours=24),
                Route.planned_start < end + dt.timedelta(hours=24),
                Route.id.not_in([r.id for r in routes]) if routes else Route.id.is_not(None),
            )
        )
    )
    fleet = []
    for vehicle in vehicles:
        shift_start = dt.datetime.combine(day, vehicle.shift_start, zone).astimezone(dt.UTC)
        shift_end = dt.datetime.combine(day, vehicle.shift_end, zone).astimezone(dt.UTC)
        # Its other routes of the day: this trip fits between them.
        for other in others:
            if other.vehicle_id != vehicle.id:
                continue
            if other.planned_start <= start:
                shift_start = max(shift_start, other.planned_end)
            else:
                shift_end = min(shift_end, other.planned_start)
        route = by_vehicle.get(vehicle.id)
        if route is None and (shift_end <= start or shift_start >= end or shift_end <= shift_start):
            continue
        fleet.append(_Fleet(vehicle, seconds(shift_start), seconds(shift_end), route))
    return fleet


def _position(route: Route) -> tuple[float, float]:
    """Where a vehicle under way is: its driver's last fix, else its last stop, else its site."""
    driver = route.driver
    if (
        driver is not None
        and driver.last_latitude is not None
        and driver.last_longitude is not None
    ):
        return (driver.last_latitude, driver.last_longitude)
    done = [
        s
        for s in route.stops
        if s.status in (StopStatus.DELIVERED, StopStatus.FAILED, StopStatus.ARRIVED)
    ]
    if done:
        last = max(done, key=lambda s: s.sequence)
        return (last.latitude, last.longitude)
    return (route.site.latitude, route.site.longitude)


def _load(
    order: Order, packages: Sequence[Package], settings: DeliverySettings
) -> tuple[int, int, Temperature]:
    """An order's totes, grams and coldest temperature: from its packages once packed."""
    coldest = Temperature.AMBIENT
    for line in order.lines:
        coldest = _colder(coldest, line.item.temperature)
    packages = [p for p in packages if p.status is PackageStatus.CLOSED]
    if packages:
        return len(packages), sum(p.weight_g for p in packages), coldest
    volume = sum(
        line.item.length_mm * line.item.width_mm * line.item.height_mm * line.quantity / 1000
        for line in order.lines
    )
    grams = sum(line.item.weight_g * line.quantity for line in order.lines)
    return max(1, math.ceil(volume / settings.tote_volume_cm3)), grams, coldest


def _packages(session: Session, order_ids: Sequence[int]) -> dict[int, list[Package]]:
    """The packages of each order, in one query."""
    found: dict[int, list[Package]] = {}
    if order_ids:
        for package in session.scalars(
            select(Package).where(Package.order_id.in_(order_ids)).order_by(Package.id)
        ):
            found.setdefault(package.order_id, []).append(package)
    return found


_COLD_ORDER = {Temperature.AMBIENT: 0, Temperature.CHILLED: 1, Temperature.FROZEN: 2}


def _colder(a: Temperature, b: Temperature) -> Temperature:
    return a if _COLD_ORDER.get(a, 0) >= _COLD_ORDER.get(b, 0) else b


def _needs(temperature: Temperature) -> tuple[str, ...]:
    if temperature is Temperature.FROZEN:
        return ("frozen",)
    if temperature is Temperature.CHILLED:
        return ("chilled",)
    return ()


def _capabilities(vehicle: Vehicle) -> tuple[str, ...]:
    return tuple(
        name for name, has in (("chilled", vehicle.chilled), ("frozen", vehicle.frozen)) if has
    )


def _vid(vehicle: Vehicle) -> str:
    return f"vehicle:{vehicle.id}"


def _jid(order_id: int) -> str:
    return f"order:{order_id}"


def _number(orders_: Sequence[Order], job_id: str) -> str:
    wanted = int(job_id.split(":")[1])
    return next(o.number for o in orders_ if o.id == wanted)


def _route_number(session: Session, site: Site, window_start: dt.datetime) -> str:
    local = window_start.astimezone(ZoneInfo(site.timezone))
    stem = f"R-{site.code}-{local:%Y%m%d-%H%M}-"
    taken = set(session.scalars(select(Route.number).where(Route.number.like(f"{stem}%"))))
    n = 1
    while f"{stem}{n:02d}" in taken:
        n += 1
    return f"{stem}{n:02d}"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- the planner's other steps ------------------------------------------------------------------


def redeliver(
    session: Session,
    order_id: int,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> Order:
    """Promise a failed delivery again in a later window; the next planning of it routes it."""
    _check_window(window_start, window_end)
    order = orders.lock_order(session, order_id)
    if order.status is not OrderStatus.FAILED_DELIVERY:
        raise Conflict(
            f"order {order.number} is {order.status.value}; only a failed delivery is "
            "delivered again",
            field="order_id",
        )
    last_window_end = session.scalar(
        select(func.max(Route.window_end))
        .join(Stop, Stop.route_id == Route.id)
        .where(Stop.order_id == order.id, Stop.status == StopStatus.FAILED)
    )
    if last_window_end is not None and window_start < last_window_end:
        raise RuleViolation(
            f"order {order.number} failed in the window ending {_iso(last_window_end)}; "
            "choose a window starting after it",
            field="window_start",
        )
    packages = session.scalars(select(Package).where(Package.order_id == order.id)).all()
    if any(p.returned_at is not None for p in packages):
        raise Conflict(f"order {order.number}'s packages went back to stock", field="order_id")
    order.promised_start = window_start
    order.promised_end = window_end
    for package in packages:  # back on the shelf at the dock until the next hand-over
        package.stop_id = None
        package.loaded_at = None
        package.loaded_by = None
    session.flush()
    return order


def window_of(
    moment: dt.datetime, *, minutes: int, zone: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """The dispatch window (site-local, ``minutes`` long, from local midnight) holding moment."""
    local = moment.astimezone(zone)
    midnight = dt.datetime.combine(local.date(), dt.time(), zone)
    index = int((local - midnight).total_seconds() // (minutes * 60))
    start = midnight + dt.timedelta(minutes=index * minutes)
    return start.astimezone(dt.UTC), (start + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)


def upcoming_windows(
    now: dt.datetime, *, zone: ZoneInfo, settings: DeliverySettings
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The windows starting within ``plan_ahead_minutes`` from now (the current one included)."""
    windows = []
    start, end = window_of(now, minutes=settings.window_minutes, zone=zone)
    horizon = now + dt.timedelta(minutes=settings.plan_ahead_minutes)
    while start < horizon:
        windows.append((start, end))
        start, end = window_of(end, minutes=settings.window_minutes, zone=zone)
    return windows


def needs_planning(
    session: Session, site_id: int, *, window_start: dt.datetime, window_end: dt.datetime
) -> bool:
    """Whether a window has an order no route holds, or a live stop whose order was cancelled."""
    candidates = {o.id for o in _orders(session, site_id, window_start, window_end)}
    held = set(
        session.scalars(
            select(Stop.order_id)
            .join(Route, Stop.route_id == Route.id)
            .where(Stop.order_id.in_(candidates), Stop.status.in_(LIVE_STOPS))
        )
    ) if candidates else set()  # fmt: skip
    if candidates - held:
        return True
    cancelled = session.scalar(
        select(Stop.id)
        .join(Route, Stop.route_id == Route.id)
        .join(Order, Stop.order_id == Order.id)
        .where(
            Route.site_id == site_id,
            Route.window_start == window_start,
            Route.status.in_(LIVE_ROUTES),
            Stop.status == StopStatus.PLANNED,
            Order.status == OrderStatus.CANCELLED,
        )
        .limit(1)
    )
    return cancelled is not None


# --- as an on-demand task -------------------------------------------------------------------

#: The on-demand task's name; its commands are ``plan-routes:<site code>``.
PLAN_TASK = "plan-routes"


def matrix_provider(config: Mapping[str, Any]) -> MatrixProvider:
    """The travel-time provider the ``MATRIX_*`` settings describe (haversine by default)."""
    from routing.matrix import provider_from_config

    try:
        return provider_from_config(config)
    except MatrixError as error:
        raise RuleViolation(str(error), field=error.field) from error


def plan_payload(
    session: Session, site_code: str, *, window_start: dt.datetime, window_end: dt.datetime
) -> dict[str, Any]:
    """Check a request to plan a window and turn it into the task's payload."""
    _check_window(window_start, window_end)
    site = session.scalars(select(Site).where(Site.code == site_code)).one_or_none()
    if site is None:
        raise RuleViolation(f"no site has the code {site_code!r}", field="site")
    if site.kind is not SiteKind.FRONT_WAREHOUSE:
        raise RuleViolation(f"{site.code} is not a front warehouse", field="site")
    return {
        "site": site.code,
        "window_start": _iso(window_start),
        "window_end": _iso(window_end),
    }


def plan_task(config: Mapping[str, Any]) -> Any:
    """The ``plan-routes`` task: plan the payload's window, its account as the result."""

    def task(
        session: Session, now: dt.datetime, payload: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        settings = DeliverySettings.from_config(config)
        provider = matrix_provider(config)
        site = session.scalars(select(Site).where(Site.code == payload["site"])).one_or_none()
        if site is None:
            raise NotFound(f"no site {payload['site']!r}", field="site")
        plan = plan_window_beside(
            session,
            site.id,
            window_start=dt.datetime.fromisoformat(payload["window_start"]),
            window_end=dt.datetime.fromisoformat(payload["window_end"]),
            now=now,
            actor=str(payload.get("actor") or f"task:{PLAN_TASK}"),
            settings=settings,
            provider=provider,
        )
        return plan.summary, plan.as_dict()

    return task


# --- trunk routes: the DC's lorries to the front warehouses ---------------------------------


def plan_trunk(
    session: Session,
    dc_id: int,
    *,
    now: dt.datetime,
    actor: str,
    settings: DeliverySettings | None = None,
    provider: MatrixProvider | None = None,
    seed: int = 0,
) -> WindowPlan:
    """Put the DC's planned transfer orders on trunk routes of its lorries, from now on.

    Each transfer is a stop at its front warehouse, due by its ``needed_by``; its load counts
    totes (by volume) and kilograms of its lines. Transfers already on a live trunk stop are
    left where they are; a second run with nothing new plans nothing. The window of the
    routes is from now to the latest ``needed_by``; the lorries' shifts are today's, in the
    DC's time.
    """
    from wms.models import TransferOrder, TransferOrderLine, TransferStatus

    settings = settings or DeliverySettings()
    provider = provider or HaversineProvider()
    dc = session.get(Site, dc_id, with_for_update=True)
    if dc is None:
        raise NotFound(f"no site {dc_id}", field="site")
    if dc.kind is not SiteKind.CENTRAL_DC:
        raise RuleViolation(f"{dc.code} is not the central DC", field="site")
    on_stops = select(Stop.transfer_order_id).where(
        Stop.transfer_order_id.is_not(None),
        Stop.status.not_in((StopStatus.SKIPPED, StopStatus.FAILED)),
    )
    transfers = list(
        session.scalars(
            select(TransferOrder)
            .where(
                TransferOrder.from_site_id == dc.id,
                TransferOrder.status == TransferStatus.PLANNED,
                TransferOrder.id.not_in(on_stops),
            )
            .options(
                selectinload(TransferOrder.lines).joinedload(TransferOrderLine.item),
                selectinload(TransferOrder.to_site),
            )
            .order_by(TransferOrder.id)
        )
    )
    start = now
    end = max((t.needed_by for t in transfers), default=now) + dt.timedelta(hours=1)
    end = max(end, now + dt.timedelta(hours=1))
    plan = WindowPlan(
        site=dc.code, window_start=start, window_end=end, orders=len(transfers), kind="trunk"
    )
    if not transfers:
        return plan
    zone = ZoneInfo(dc.timezone)
    day_start = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone).astimezone(dt.UTC)

    def seconds(moment: dt.datetime) -> float:
        return (moment - day_start).total_seconds()

    fleet = _fleet(session, dc, [], start, end, zone, seconds)
    points = [(dc.latitude, dc.longitude)] + [
        (t.to_site.latitude, t.to_site.longitude) for t in transfers
    ]
    try:
        matrix = provider.matrix(points)
    except MatrixError as error:
        raise RuleViolation(f"travel times: {error}", field="matrix") from error
    plan.matrix_source = matrix.source
    loads = {t.id: _transfer_load(t, settings) for t in transfers}
    jobs = tuple(
        vrp.Job(
            id=f"transfer:{t.id}",
            location=i,
            demand=loads[t.id][:2],
            service_time=settings.trunk_service_s,
            windows=(vrp.TimeWindow(seconds(now), seconds(t.needed_by)),)
            if t.needed_by > now
            else (),
            requires=frozenset(_needs(loads[t.id][2])),
        )
        for i, t in enumerate(transfers, start=1)
    )
    now_s = seconds(now)
    vehicles = tuple(
        vrp.Vehicle(
            id=_vid(member.vehicle),
            depot=dc.code,
            capacity=(member.vehicle.capacity_totes, member.vehicle.capacity_kg * 1000),
            shift=vrp.TimeWindow(max(member.shift_start_s, now_s), member.shift_end_s),
            fixed_cost=settings.vehicle_fixed_cost_m,
            capabilities=frozenset(_capabilities(member.vehicle)),
        )
        for member in fleet
        if max(member.shift_start_s, now_s) < member.shift_end_s
    )
    by_id = {f"transfer:{t.id}": t for t in transfers}
    if not vehicles:
        plan.unserved = [Unserved(t.id, t.number, NO_VEHICLE) for t in transfers]
        return plan
    solution = vrp.solve(
        vrp.Problem(
            depots=(vrp.Depot(id=dc.code, location=0),),
            vehicles=vehicles,
            jobs=jobs,
            distances=matrix.distances_m,
            durations=matrix.durations_s,
            dimensions=("totes", "grams"),
            time_scale=1,
        ),
        time_limit_s=settings.time_limit_s,
        seed=seed,
        max_iterations=settings.max_iterations,
    )
    plan.engine = solution.engine
    plan.unserved = [
        Unserved(by_id[u.job].id, by_id[u.job].number, u.reason) for u in solution.unassigned
    ]
    vehicle_of = {_vid(member.vehicle): member.vehicle for member in fleet}

    def moment(offset: float) -> dt.datetime:
        return day_start + dt.timedelta(seconds=offset)

    for found in solution.routes:
        if not found.visits:
            continue
        vehicle = vehicle_of[found.vehicle]
        route = Route(
            number=_route_number(session, dc, start),
            kind=RouteKind.TRUNK,
            site_id=dc.id,
            carrier_id=vehicle.carrier_id,
            vehicle_id=vehicle.id,
            status=RouteStatus.PLANNED,
            window_start=start,
            window_end=end,
            planned_start=moment(found.departure),
            planned_end=moment(found.return_time),
            distance_m=found.distance,
            duration_s=found.duration,
            matrix_source=matrix.source,
            version=1,
            planned_by=actor,
            created_at=now,
            updated_at=now,
        )
        session.add(route)
        session.flush()
        for sequence, visit in enumerate(found.visits, start=1):
            transfer = by_id[visit.job]
            totes, grams, _ = loads[transfer.id]
            arrival = moment(visit.arrival)
            session.add(
                Stop(
                    route_id=route.id,
                    sequence=sequence,
                    transfer_order_id=transfer.id,
                    status=StopStatus.PLANNED,
                    name=transfer.to_site.name,
                    address=transfer.to_site.address or transfer.to_site.code,
                    latitude=transfer.to_site.latitude,
                    longitude=transfer.to_site.longitude,
                    window_start=now,
                    window_end=max(transfer.needed_by, now + dt.timedelta(minutes=1)),
                    planned_arrival=arrival,
                    eta=arrival,
                    service_s=settings.trunk_service_s,
                    totes=totes,
                    weight_kg=round(grams / 1000, 3),
                    notes=f"transfer {transfer.number}",
                    recipient_name="",
                    updated_at=now,
                )
            )
        session.flush()
        session.refresh(route, ["stops"])
        plan.planned.append(route.id)
        webhooks.publish(session, route, "route.planned", now=now)
    return plan


def _transfer_load(transfer: Any, settings: DeliverySettings) -> tuple[int, int, Temperature]:
    coldest = Temperature.AMBIENT
    volume = grams = 0.0
    for line in transfer.lines:
        if line.quantity <= 0:
            continue
        item = line.item
        coldest = _colder(coldest, item.temperature)
        volume += item.length_mm * item.width_mm * item.height_mm * line.quantity / 1000
        grams += item.weight_g * line.quantity
    return max(1, math.ceil(volume / settings.tote_volume_cm3)), int(grams), coldest

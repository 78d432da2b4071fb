"""Delivery routes of the city demo's front warehouses: ours against nearest neighbour and VROOM.

    python -m benchmarks.delivery [--quick] [--sites N] [--windows N] [--orders-per-window N]
                                  [--limit S] [--engines ours,nn,vroom] [--csv PATH] [--seed N]
                                  [--postgres URL] [--network-only] [--per-window]

The ``city`` demo network (``wms demo load``: 20 front warehouses in Amsterdam, each with four
cargo bikes of Cyclo Couriers, 6 totes and 120 kg, chilled, two on 07:00-15:00 and two on
14:00-22:00, and two Stadsvan vans, 40 totes and 700 kg, chilled, the first one frozen too,
08:00-20:00) is loaded into a fresh SQLite file in a temporary directory (or a scratch
database on the PostgreSQL server ``--postgres`` names); loading is not timed.
``--network-only`` leaves out the demo's slots, stock and open orders of today (delivery
planning reads none of them; it loads in seconds instead of about 20).

Then, for each of the first ``--sites`` front warehouses (FW01, FW02, ...) and each of
``--windows`` dispatch windows of tomorrow (site-local, an hour each from 10:00: 10:00-11:00,
11:00-12:00, ...), ``--orders-per-window`` packed orders are written through the ORM as the
WMS holds them once packed: lines of real catalogue items (1 + an exponential number, mean
about 3, at most 12; items drawn by velocity class, A five times and B twice as often as C;
1 to 6 units), every line picked, its units packed into 40-litre totes of at most 15 kg, one
temperature class per tote, each tote a closed ``Package`` with its SSCC and weight (so an
order's totes and kilograms are those of its items, and an order holding a chilled or frozen
item needs a vehicle that keeps it cold: only one van per site carries frozen); a delivery
point 0.3-3 km from the site, uniform over the disc, at a street of the demo city; promised
for the whole window, its first half or its second half (a third each; 10 % with priority
1). The orders of a site and window come from their own seeded stream (``--seed``, the site,
the window), so a smaller run plans the same orders for the windows it has.

Each window is planned on its own, as if its vehicles had no other trip that day, at one
hour before it starts, with the default ``wms.delivery.DeliverySettings`` (180 s at each door,
a used vehicle costing as much as 5 km) and the haversine matrix (20 km/h, circuity 1.3).
Engines, each on one core:

- ``ours``: ``wms.delivery.plan_window`` with ``--limit`` as its time limit, inside one
  transaction per window that is **rolled back** after its routes are read back (the
  windows stay independent and the database as it was); its time is the whole call
  (reading the orders and vehicles, the matrix, ``routing.vrp.solve``, writing the routes);
- ``nn``: ``routing.heuristics.nearest_neighbour``, the classic baseline: each vehicle in
  turn takes the nearest order it can still serve (capabilities, capacity, windows, shift)
  until none fits;
- ``vroom``: VROOM through pyvroom (the ``bench`` extra: ``pip install -e .[bench]``), one
  thread, exploration level 5, ``--limit`` as its timeout (it often stops sooner), given
  the integer problem ours solves (``routing._vrp_data.to_ticks``: seconds and metres,
  travel and service times rounded up, windows shrunk inwards), with the temperatures as
  skills, the vehicles' fixed cost and the orders' priorities. Without pyvroom the run says
  "VROOM not installed" and goes on without it.

All three get the same problem: the ``routing.vrp.Problem`` that ``plan_window`` solved
(``WindowPlan.problem``: its matrix, vehicles, shifts, windows, capacities, capabilities,
service times). Ours is read back from the ``Route`` and ``Stop`` rows ``plan_window``
stored, and the distance it stored is compared with the re-check. (``plan_window`` runs
even when ``ours`` is not among the engines: it is what makes the problem.) No engine's own
figures are trusted: every engine's routes are re-checked with ``routing.vrp.violations``
and measured with ``routing.vrp.evaluate``.

Columns (the printed table: one row per engine over every window; the CSV: one row per site,
window and engine, written as each is measured, so an interrupted run keeps what it did):

- ``windows``: windows planned; ``feasible``: those whose routes break no rule;
- ``orders``: orders promised in them; ``served`` and ``served %``: on a route;
- ``vehicles``: routes (vehicles used), summed over the windows; ``veh/window``: their mean;
- ``km``: driven, summed, recomputed from the matrix; ``km/order``: per served order;
- ``cost km``: the objective ours minimises, km plus 5 km per vehicle used;
- ``on time %``: served orders whose service starts inside their promised window. Every
  stop of a feasible route is on time by construction, so this is 100 for every feasible
  row; what an engine fails to fit shows as served %, not as lateness;
- ``mean s``, ``max s``: time per window (ours: the whole ``plan_window`` call);
- CSV only: ``backend``, ``site``, ``window``, ``limit_s``, ``seed``, ``won_by`` (ours:
  ``pyvrp``, ``pyvrp+ortools`` or ``ortools``), ``problems`` (what the re-check found).

Then, for each other engine, how it compares with ours on the windows where both served as
many orders (km and vehicles), and how many windows it served more or fewer in.

The full default run (20 sites x 4 windows x 40 orders, 5 s) takes about 8 minutes on two
cores; ``--quick`` plans 2 sites x 2 windows x 15 orders at 1 s in well under a minute.
Results move a little with the machine's load: the engines stop on the clock.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import itertools
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker

from benchmarks import _vroom
from benchmarks._databases import postgres_database
from routing import vrp
from routing.heuristics import nearest_neighbour
from routing.matrix import HaversineProvider, MatrixProvider
from wms import delivery, demo, migrate, packing
from wms.db import make_engine, make_sessions
from wms.models import (
    Item,
    Order,
    OrderLine,
    OrderStatus,
    Package,
    PackageLine,
    PackageStatus,
    Route,
    Site,
    SiteKind,
    StopStatus,
    Temperature,
    VelocityClass,
    utcnow,
)

ENGINES = ("ours", "nn", "vroom")
NETWORK = "city"
FIRST_WINDOW = dt.time(10)
PLAN_AHEAD = dt.timedelta(hours=1)  # each window is planned this long before it starts
RADIUS_KM = (0.3, 3.0)
TOTE_MAX_G = 15_000
VELOCITY_WEIGHT = {VelocityClass.A: 5.0, VelocityClass.B: 2.0, VelocityClass.C: 1.0}
PRIORITY_SHARE = 0.1
TOLERANCE_S = 1e-6  # seconds, in the on-time check
WARM_UP_S = 0.1


@dataclass(frozen=True, slots=True)
class Size:
    """How much a run plans."""

    sites: int
    windows: int  # per site
    orders: int  # per window
    limit_s: float


DEFAULTS = Size(sites=20, windows=4, orders=40, limit_s=5.0)
QUICK = Size(sites=2, windows=2, orders=15, limit_s=1.0)
PER_WINDOW_UP_TO = 8  # windows; more print only the summary unless asked
SECRET = "benchmark-secret"


# --- the network and the orders -------------------------------------------------------------


def load_network(sessions: sessionmaker[Session], *, seed: int, network_only: bool) -> None:
    """Load the city demo; with ``network_only`` without its slots, stock and open orders."""
    plan = demo.build(demo.SIZES[NETWORK], seed=seed)
    if network_only:
        plan = dataclasses.replace(plan, slots=[], stock=[], orders=[], lines=[])
    with sessions.begin() as session:
        demo.write(session, plan, secret_key=SECRET)


def dispatch_windows(
    day: dt.date, count: int, *, zone: ZoneInfo, minutes: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``count`` consecutive site-local windows of ``minutes`` from ``FIRST_WINDOW``, in UTC."""
    first = dt.datetime.combine(day, FIRST_WINDOW, zone)
    out = []
    for k in range(count):
        start = first + dt.timedelta(minutes=k * minutes)
        end = start + dt.timedelta(minutes=minutes)
        out.append((start.astimezone(dt.UTC), end.astimezone(dt.UTC)))
    return out


def _label(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> str:
    return f"{start.astimezone(zone):%H:%M}-{end.astimezone(zone):%H:%M}"


def write_orders(
    session: Session,
    site: Site,
    window: tuple[dt.datetime, dt.datetime],
    count: int,
    *,
    rng: random.Random,
    items: Sequence[Item],
    serials: Iterator[int],
    settings: delivery.DeliverySettings,
) -> list[Order]:
    """Write ``count`` packed orders promised in the window (see the module docstring)."""
    zone = ZoneInfo(site.timezone)
    weights = [VELOCITY_WEIGHT[item.velocity] for item in items]
    start, end = window
    half = start + (end - start) / 2
    made = []
    for n in range(1, count + 1):
        distance_km = math.sqrt(rng.uniform(RADIUS_KM[0] ** 2, RADIUS_KM[1] ** 2))
        bearing = rng.uniform(0, 2 * math.pi)
        latitude = site.latitude + distance_km * math.cos(bearing) / 111.2
        longitude = site.longitude + distance_km * math.sin(bearing) / (
            111.2 * math.cos(math.radians(site.latitude))
        )
        promised_start = rng.choice((start, start, half))
        minutes = rng.choice((30, 60)) if promised_start == start else 30
        order = Order(
            number=f"DLV-{site.code}-{start.astimezone(zone):%H%M}-{n:03d}",
            site_id=site.id,
            customer_name=f"{rng.choice(demo.FIRST_NAMES)} {rng.choice(demo.LAST_NAMES)}",
            phone=f"+31 6 {rng.randint(10_000_000, 99_999_999)}",
            address=f"{rng.choice(demo.STREETS)} {rng.randint(1, 250)}, Amsterdam",
            latitude=round(latitude, 6),
            longitude=round(longitude, 6),
            promised_start=promised_start,
            promised_end=promised_start + dt.timedelta(minutes=minutes),
            priority=1 if rng.random() < PRIORITY_SHARE else 0,
            status=OrderStatus.PACKED,
        )
        wanted = min(12, 1 + int(rng.expovariate(1 / 2.5)))
        chosen: list[Item] = []
        while len(chosen) < wanted:
            (item,) = rng.choices(items, weights=weights)
            if item not in chosen:
                chosen.append(item)
        for line_no, item in enumerate(chosen, start=1):
            quantity = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
            order.lines.append(
                OrderLine(line_no=line_no, item=item, quantity=quantity, picked_qty=quantity)
            )
        session.add(order)
        made.append(order)
    session.flush()
    for order in made:
        for weight_g, contents in _totes(order.lines, settings.tote_volume_cm3):
            package = Package(
                order_id=order.id,
                status=PackageStatus.CLOSED,
                sscc=packing.sscc(packing.DEFAULT_COMPANY_PREFIX, next(serials)),
                totes=[],
                weight_g=weight_g,
                closed_at=utcnow(),
            )
            package.lines = [
                PackageLine(order_line_id=line.id, quantity=units)
                for line, units in contents.items()
            ]
            session.add(package)
    session.flush()
    return made


def _totes(lines: Sequence[OrderLine], tote_cm3: int) -> list[tuple[int, dict[OrderLine, int]]]:
    """The order's units packed first-fit into totes, one temperature per tote: (grams, units)."""
    totes: list[tuple[Temperature, list[float], dict[OrderLine, int]]] = []
    for line in sorted(lines, key=lambda li: -_volume_cm3(li.item)):
        item = line.item
        for _ in range(line.quantity):
            room = next(
                (
                    tote
                    for tote in totes
                    if tote[0] is item.temperature
                    and tote[1][0] + _volume_cm3(item) <= tote_cm3
                    and tote[1][1] + item.weight_g <= TOTE_MAX_G
                ),
                None,
            )
            if room is None:
                room = (item.temperature, [0.0, 0.0], {})
                totes.append(room)
            room[1][0] += _volume_cm3(item)
            room[1][1] += item.weight_g
            room[2][line] = room[2].get(line, 0) + 1
    return [(int(filled[1]), contents) for _, filled, contents in totes]


def _volume_cm3(item: Item) -> float:
    return item.length_mm * item.width_mm * item.height_mm / 1000


# --- the problem plan_window solves -----------------------------------------------------------


# --- the engines ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an engine returned: routes (vehicle id -> order job ids in order), who won.

    ``stored_m``: the distance ``plan_window`` stored on its routes (ours only), which the
    re-check must make again from the problem.
    """

    routes: dict[str, list[str]]
    won_by: str
    stored_m: float | None = None


#: (problem, time limit in s, seed) -> Outcome
Peer = Callable[[vrp.Problem, float, int], Outcome]


def solve_nn(problem: vrp.Problem, time_limit_s: float, seed: int) -> Outcome:
    """``routing.heuristics.nearest_neighbour`` (no limit, no seed: it is one construction)."""
    solution = nearest_neighbour(problem)
    return Outcome({r.vehicle: [v.job for v in r.visits] for r in solution.routes}, solution.engine)


def solve_vroom(problem: vrp.Problem, time_limit_s: float, seed: int) -> Outcome:
    """VROOM on the integer problem ours solves (``benchmarks._vroom``)."""
    routes, _ = _vroom.solve(problem, time_limit_s)
    return Outcome(routes, "vroom")


PEERS: dict[str, Peer] = {"nn": solve_nn, "vroom": solve_vroom}


def available_engines(requested: Sequence[str]) -> tuple[list[str], list[str]]:
    """The requested engines that can run here, and a note per one that cannot."""
    engines, notes = [], []
    for name in requested:
        if name not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")
        if name == "vroom" and not _vroom.installed():
            notes.append(_vroom.NOT_INSTALLED)
            continue
        if name not in engines:
            engines.append(name)
    return engines, notes


def plan_ours(
    session: Session,
    site_id: int,
    window: tuple[dt.datetime, dt.datetime],
    *,
    now: dt.datetime,
    settings: delivery.DeliverySettings,
    provider: MatrixProvider,
    seed: int,
) -> tuple[vrp.Problem | None, Outcome, float]:
    """``plan_window`` on the window, timed: the problem it solved, its routes read back from
    the rows it wrote, and its seconds."""
    started = time.perf_counter()
    plan = delivery.plan_window(
        session,
        site_id,
        window_start=window[0],
        window_end=window[1],
        now=now,
        actor="benchmark",
        settings=settings,
        provider=provider,
        seed=seed,
    )
    wall_s = time.perf_counter() - started
    routes: dict[str, list[str]] = {}
    stored = 0.0
    for route in session.scalars(
        select(Route)
        .where(Route.id.in_([*plan.planned, *plan.changed]))
        .options(selectinload(Route.stops))
        .order_by(Route.id)
    ):
        stops = sorted(
            (s for s in route.stops if s.status is not StopStatus.SKIPPED and s.order_id),
            key=lambda s: s.sequence,
        )
        routes[f"vehicle:{route.vehicle_id}"] = [f"order:{s.order_id}" for s in stops]
        stored += route.distance_m
    return plan.problem, Outcome(routes, plan.engine, stored_m=stored), wall_s


# --- one window -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One engine on one site's window: a row of the per-window table and of the CSV."""

    backend: str
    site: str
    window: str  # site-local
    engine: str
    limit_s: float
    seed: int
    orders: int
    served: int
    served_pct: float
    vehicles: int  # routes with a stop
    km: float  # recomputed from the matrix
    cost_km: float  # km plus the fixed cost of each vehicle used
    on_time: int  # served orders whose service starts inside their promised window
    on_time_pct: float | None  # of the served
    solve_s: float  # ours: the whole plan_window call
    feasible: bool  # the re-check found nothing
    won_by: str  # ours: pyvrp, pyvrp+ortools or ortools; a peer: its own name
    problems: str  # what the re-check found, "; "-separated (first 3)


def measure(
    problem: vrp.Problem,
    outcome: Outcome,
    *,
    engine: str,
    solve_s: float,
    context: Mapping[str, Any],
) -> Row:
    """Re-check an engine's routes on the problem and measure them."""
    jobs = {job.id: job for job in problem.jobs}
    vehicles = {vehicle.id for vehicle in problem.vehicles}
    problems = vrp.violations(problem, outcome.routes)
    routes = {
        v: [j for j in stops if j in jobs]
        for v, stops in outcome.routes.items()
        if v in vehicles and stops
    }
    solution = vrp.evaluate(problem, routes, engine=outcome.won_by)
    served = {visit.job for route in solution.routes for visit in route.visits}
    on_time = sum(
        1
        for route in solution.routes
        for visit in route.visits
        if not jobs[visit.job].windows
        or any(
            w.start - TOLERANCE_S <= visit.start <= w.end + TOLERANCE_S
            for w in jobs[visit.job].windows
        )
    )
    if outcome.stored_m is not None and not math.isclose(
        outcome.stored_m, solution.distance, rel_tol=1e-9, abs_tol=1e-3
    ):
        problems.append(
            f"plan_window stored {outcome.stored_m:.1f} m, the re-check makes "
            f"{solution.distance:.1f} m: the stored routes are not the solution"
        )
    used = len(solution.routes)
    fixed = sum(v.fixed_cost for v in problem.vehicles if v.id in routes)
    return Row(
        **context,
        engine=engine,
        orders=len(problem.jobs),
        served=len(served),
        served_pct=round(100 * len(served) / len(problem.jobs), 2),
        vehicles=used,
        km=round(solution.distance / 1000, 3),
        cost_km=round((solution.distance + fixed) / 1000, 3),
        on_time=on_time,
        on_time_pct=round(100 * on_time / len(served), 2) if served else None,
        solve_s=round(solve_s, 3),
        feasible=not problems,
        won_by=outcome.won_by,
        problems="; ".join(problems[:3]),
    )


@dataclass(frozen=True, slots=True)
class Window:
    """One front warehouse's dispatch window to plan."""

    site_id: int
    site: str
    start: dt.datetime
    end: dt.datetime
    label: str  # site-local, "10:00-11:00"


def run_window(
    sessions: sessionmaker[Session],
    window: Window,
    *,
    engines: Sequence[str],
    limit_s: float,
    seed: int,
    backend: str,
    provider: MatrixProvider,
) -> list[Row]:
    """Plan one window with every engine (ours rolled back after), re-check and measure."""
    settings = delivery.DeliverySettings(time_limit_s=limit_s)
    now = window.start - PLAN_AHEAD
    with sessions() as session:
        try:
            problem, ours, ours_s = plan_ours(
                session,
                window.site_id,
                (window.start, window.end),
                now=now,
                settings=settings,
                provider=provider,
                seed=seed,
            )
        finally:
            session.rollback()
    if problem is None:
        return []
    context = {
        "backend": backend,
        "site": window.site,
        "window": window.label,
        "limit_s": limit_s,
        "seed": seed,
    }
    rows = []
    for engine in engines:
        if engine == "ours":
            outcome, wall_s = ours, ours_s
        else:
            started = time.perf_counter()
            outcome = PEERS[engine](problem, limit_s, seed)
            wall_s = time.perf_counter() - started
        rows.append(measure(problem, outcome, engine=engine, solve_s=wall_s, context=context))
    return rows


# --- the run ----------------------------------------------------------------------------------


def run(
    url: str,
    *,
    sites: int,
    windows: int,
    orders_per_window: int,
    limit_s: float,
    engines: Sequence[str],
    seed: int = 0,
    network_only: bool = False,
    on_row: Callable[[Row], None] | None = None,
    on_window: Callable[[Window, int], None] | None = None,
) -> list[Row]:
    """Load the network into the (empty) database at ``url``, write the orders, plan them.

    ``on_row`` gets each row as it is measured; ``on_window`` each window and how many there
    are before it is planned.
    """
    engine = make_engine(url)
    backend = make_url(url).get_backend_name()
    provider = HaversineProvider()
    rows: list[Row] = []
    try:
        migrate.upgrade(engine)
        sessions = make_sessions(engine)
        load_network(sessions, seed=1, network_only=network_only)
        todo = _write_all(
            sessions, sites=sites, windows=windows, count=orders_per_window, seed=seed
        )
        # Untimed: imports, the solvers' first models, the first queries.
        run_window(
            sessions,
            todo[0],
            engines=engines,
            limit_s=WARM_UP_S,
            seed=seed,
            backend=backend,
            provider=provider,
        )
        for window in todo:
            if on_window is not None:
                on_window(window, len(todo))
            for row in run_window(
                sessions,
                window,
                engines=engines,
                limit_s=limit_s,
                seed=seed,
                backend=backend,
                provider=provider,
            ):
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    finally:
        engine.dispose()
    return rows


def _write_all(
    sessions: sessionmaker[Session], *, sites: int, windows: int, count: int, seed: int
) -> list[Window]:
    """Every site's orders of every window, committed; the windows to plan."""
    settings = delivery.DeliverySettings()
    day = demo.today_local() + dt.timedelta(days=1)
    serials = itertools.count(1)
    todo = []
    with sessions.begin() as session:
        fronts = session.scalars(
            select(Site).where(Site.kind == SiteKind.FRONT_WAREHOUSE).order_by(Site.code)
        ).all()
        if sites > len(fronts):
            raise ValueError(f"the {NETWORK} network has {len(fronts)} front warehouses")
        items = session.scalars(select(Item).order_by(Item.id)).all()
        for site in fronts[:sites]:
            zone = ZoneInfo(site.timezone)
            for k, (start, end) in enumerate(
                dispatch_windows(day, windows, zone=zone, minutes=settings.window_minutes)
            ):
                write_orders(
                    session,
                    site,
                    (start, end),
                    count,
                    rng=random.Random(f"{seed}:{site.code}:{k}"),
                    items=items,
                    serials=serials,
                    settings=settings,
                )
                todo.append(Window(site.id, site.code, start, end, _label(start, end, zone)))
    return todo


# --- summaries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineRow:
    """One engine over every window of a run."""

    engine: str
    windows: int
    feasible: int
    orders: int
    served: int
    served_pct: float
    vehicles: int
    vehicles_per_window: float
    km: float
    km_per_order: float | None
    cost_km: float
    on_time_pct: float | None
    mean_s: float
    max_s: float


def summarise(rows: Sequence[Row]) -> list[EngineRow]:
    """One EngineRow per engine, in ENGINES order."""
    out = []
    for engine in ENGINES:
        group = [r for r in rows if r.engine == engine]
        if not group:
            continue
        orders = sum(r.orders for r in group)
        served = sum(r.served for r in group)
        km = sum(r.km for r in group)
        on_time = sum(r.on_time for r in group)
        out.append(
            EngineRow(
                engine=engine,
                windows=len(group),
                feasible=sum(r.feasible for r in group),
                orders=orders,
                served=served,
                served_pct=round(100 * served / orders, 2) if orders else 0.0,
                vehicles=sum(r.vehicles for r in group),
                vehicles_per_window=round(statistics.fmean(r.vehicles for r in group), 2),
                km=round(km, 2),
                km_per_order=round(km / served, 3) if served else None,
                cost_km=round(sum(r.cost_km for r in group), 2),
                on_time_pct=round(100 * on_time / served, 2) if served else None,
                mean_s=round(statistics.fmean(r.solve_s for r in group), 3),
                max_s=round(max(r.solve_s for r in group), 3),
            )
        )
    return out


def versus_ours(rows: Sequence[Row]) -> list[str]:
    """Per other engine: windows it served more or fewer in, and km and vehicles where even."""
    ours = {(r.backend, r.site, r.window): r for r in rows if r.engine == "ours"}
    found = []
    for engine in ENGINES[1:]:
        pairs = [
            (ours[(r.backend, r.site, r.window)], r)
            for r in rows
            if r.engine == engine and (r.backend, r.site, r.window) in ours
        ]
        if not pairs:
            continue
        more = sum(p.served > o.served for o, p in pairs)
        fewer = sum(p.served < o.served for o, p in pairs)
        even = [(o, p) for o, p in pairs if o.served == p.served and o.feasible and p.feasible]
        text = (
            f"{engine} vs ours: served more orders in {more} and fewer in {fewer} of "
            f"{len(pairs)} windows"
        )
        ours_km = sum(o.km for o, _ in even)
        if even and ours_km > 0:
            km = 100 * (sum(p.km for _, p in even) / ours_km - 1)
            cost = 100 * (sum(p.cost_km for _, p in even) / sum(o.cost_km for o, _ in even) - 1)
            vehicles = sum(p.vehicles - o.vehicles for o, p in even)
            text += (
                f"; on the {len(even)} where both served as many: km {km:+.1f} %, "
                f"cost {cost:+.1f} %, vehicles {vehicles:+d}"
            )
        found.append(text)
    return found


# --- printing ---------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_windows(console: Console, rows: Sequence[Row]) -> None:
    table = Table(title="per window: served, vehicles, km, time")
    columns = ("site", "window", "engine", "orders", "served", "veh", "km", "cost km",
               "on time %", "s", "feasible", "won by")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("site", "engine") else "right")
    previous = None
    for row in rows:
        if previous is not None and (row.site, row.window) != previous:
            table.add_section()
        previous = (row.site, row.window)
        table.add_row(
            row.site,
            row.window,
            row.engine,
            str(row.orders),
            str(row.served),
            str(row.vehicles),
            f"{row.km:.2f}",
            f"{row.cost_km:.2f}",
            _number(row.on_time_pct, 1),
            f"{row.solve_s:.2f}",
            "yes" if row.feasible else "[red]NO[/]",
            row.won_by,
        )
    console.print(table)


def _print_summary(console: Console, summary: Sequence[EngineRow], title: str) -> None:
    table = Table(title=title)
    columns = ("engine", "windows", "feasible", "orders", "served", "served %", "vehicles",
               "veh/window", "km", "km/order", "cost km", "on time %", "mean s",
               "max s")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "engine" else "right")
    for row in summary:
        table.add_row(
            row.engine,
            str(row.windows),
            str(row.feasible),
            str(row.orders),
            str(row.served),
            f"{row.served_pct:.1f}",
            str(row.vehicles),
            f"{row.vehicles_per_window:.2f}",
            f"{row.km:.1f}",
            _number(row.km_per_order, 3),
            f"{row.cost_km:.1f}",
            _number(row.on_time_pct, 1),
            f"{row.mean_s:.2f}",
            f"{row.max_s:.2f}",
        )
    console.print(table)


@contextmanager
def _database(tmp: str, server: str | None) -> Iterator[str]:
    """A fresh SQLite file in ``tmp``, or a scratch database on the PostgreSQL server."""
    if server is None:
        yield f"sqlite:///{Path(tmp) / 'delivery.sqlite3'}"
        return
    url, drop = postgres_database(server)
    try:
        yield url
    finally:
        drop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 sites x 2 windows x 15 orders, 1 s")
    parser.add_argument("--sites", type=int, help=f"front warehouses (default {DEFAULTS.sites})")
    parser.add_argument("--windows", type=int, help=f"per site (default {DEFAULTS.windows})")
    parser.add_argument(
        "--orders-per-window", type=int, help=f"per window (default {DEFAULTS.orders})"
    )
    parser.add_argument("--limit", type=float, help=f"seconds (default {DEFAULTS.limit_s:g})")
    parser.add_argument("--engines", default=",".join(ENGINES), help="ours,nn,vroom")
    parser.add_argument("--csv", default="benchmarks/results/delivery.csv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", help="a PostgreSQL server URL for a scratch database")
    parser.add_argument("--network-only", action="store_true", help="no demo slots, stock, orders")
    parser.add_argument("--per-window", action="store_true", help="print every window's rows")
    args = parser.parse_args(argv)

    preset = QUICK if args.quick else DEFAULTS
    sites = args.sites if args.sites is not None else preset.sites
    windows = args.windows if args.windows is not None else preset.windows
    orders = args.orders_per_window if args.orders_per_window is not None else preset.orders
    limit = args.limit if args.limit is not None else preset.limit_s
    if not 1 <= sites <= demo.SIZES[NETWORK].front_warehouses:
        parser.error(f"--sites must be 1 to {demo.SIZES[NETWORK].front_warehouses}")
    if not 1 <= windows <= 12:
        parser.error("--windows must be 1 to 12 (10:00 to 22:00)")
    if orders < 1:
        parser.error("--orders-per-window must be at least 1")
    if not (math.isfinite(limit) and limit > 0):
        parser.error("--limit must be a positive number of seconds")
    try:
        engines, notes = available_engines([e.strip() for e in args.engines.split(",") if e])
    except ValueError as error:
        parser.error(str(error))
    console = Console(width=160)
    for note in notes:
        console.print(f"[yellow]{note}[/]")
    if not engines:
        parser.error("nothing to run")

    out = Path(args.csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        _database(tmp, args.postgres) as url,
        out.open("w", newline="") as handle,
        Progress(console=console) as progress,
    ):
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Row)])
        writer.writeheader()
        task = progress.add_task(f"loading the {NETWORK} network", total=sites * windows)

        def on_window(window: Window, total: int) -> None:
            progress.update(task, description=f"{window.site} {window.label}")

        def on_row(row: Row) -> None:
            writer.writerow(asdict(row))
            handle.flush()
            if row.engine == engines[-1]:
                progress.advance(task)

        rows = run(
            url,
            sites=sites,
            windows=windows,
            orders_per_window=orders,
            limit_s=limit,
            engines=engines,
            seed=args.seed,
            network_only=args.network_only,
            on_row=on_row,
            on_window=on_window,
        )

    if args.per_window or sites * windows <= PER_WINDOW_UP_TO:
        _print_windows(console, rows)
    backend = rows[0].backend if rows else "-"
    _print_summary(
        console,
        summarise(rows),
        f"{sites} site(s) x {windows} window(s) x {orders} orders, {limit:g} s, {backend}",
    )
    for text in versus_ours(rows):
        console.print(text)
    console.print(
        "on time %: of the served orders; every stop of a feasible route starts inside its "
        "promised window by construction,\nso what an engine cannot fit shows as served %."
    )
    for row in rows:
        if row.problems:
            console.print(f"[red]{row.site} {row.window} {row.engine}:[/] {row.problems}")
    console.print(
        f"{', '.join(engines)}; seed {args.seed}; {time.perf_counter() - started:.0f} s; "
        f"wrote {out}"
    )


if __name__ == "__main__":
    main()

"""Vehicle routes: deliveries from front warehouses and trunk routes from the DC.

The problem (frozen dataclasses): ``Depot``s with opening hours; ``Vehicle``s based at a depot
with capacities in several dimensions (totes, kg, ...), a shift, a maximum route duration,
fixed and per-distance/per-time costs and capabilities (``"chilled"``, ``"frozen"``); ``Job``s
at a location with a demand per dimension, a service time, one or more time windows, the
capabilities they need, a priority, and, if optional, the penalty for leaving them out; and a
distance and a travel-time matrix over the locations (given by the caller). Several depots
may share one problem (the DC's trunk lorries beside the front warehouses' vans).

Units are the caller's (metres and seconds for deliveries; the benchmark instances' own units
for Solomon and VRPLIB): ``Problem.time_scale`` ticks per time unit and per distance unit go to
the solvers as integers, travel and service times rounded *up* and window ends *down*, so that
a route feasible in ticks is feasible in exact arithmetic too. Costs go to OR-Tools in
``COST_SCALE`` units. Every figure of a ``Solution`` (arrivals, waits, loads, distances, costs)
is recomputed in floating point from the routes, never read back from a solver, and every
route a solver returns is checked against every rule before it is kept.

Leaving out a required job costs more than any plan's routes, so a job is left out only when
no plan serves it; among plans leaving out as many, the one leaving out lower priorities wins.

``solve(problem, time_limit_s=...)`` is the entry point. See ``routing/README.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

INF = math.inf

#: Objective units per unit of cost inside OR-Tools (micro-units: per-second costs survive).
COST_SCALE = 1_000_000

# Why a job was left out (``Unassigned.reason``).
NO_CAPABLE_VEHICLE = "no_capable_vehicle"
WINDOW_UNREACHABLE = "window_unreachable"  # no vehicle can reach it in time, even alone
OVER_CAPACITY = "over_capacity"  # the fleet cannot carry all the required demand
NO_ROOM = "no_room"  # fits a vehicle alone, but not in this fleet's shifts with the other jobs
DROPPED_FOR_COST = "dropped_for_cost"  # optional, and serving it costs more than its penalty
TIME_LIMIT = "time_limit"  # the search found no plan for it before the time limit

#: Engines of ``solve``.
ENGINES = ("auto", "ortools", "pyvrp")

#: Share of the time limit PyVRP gets under ``auto``; OR-Tools polishes its routes after.
PYVRP_SHARE = 0.85


class VrpError(ValueError):
    """A problem that cannot be solved as written; ``field`` names the job, vehicle or key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """From ``start`` to ``end`` (inclusive), in the problem's time unit."""

    start: float = 0.0
    end: float = INF


@dataclass(frozen=True, slots=True)
class Depot:
    """Where vehicles start and end: a front warehouse or the DC."""

    id: str
    location: int
    hours: TimeWindow = TimeWindow()


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One vehicle (a van, a cargo bike, a trunk lorry) and its driver's shift."""

    id: str
    depot: str
    capacity: tuple[int, ...] = ()  # per dimension of Problem.dimensions
    shift: TimeWindow = TimeWindow()
    max_duration: float = INF  # from leaving the depot to coming back
    fixed_cost: float = 0.0  # paid once if the vehicle is used
    cost_per_distance: float = 1.0
    cost_per_time: float = 0.0  # per time unit of the route, waiting included
    capabilities: frozenset[str] = frozenset()
    end_depot: str | None = None  # defaults to ``depot``


@dataclass(frozen=True, slots=True)
class Job:
    """A delivery (or a transfer) to make at a location."""

    id: str
    location: int
    demand: tuple[int, ...] = ()  # per dimension of Problem.dimensions
    service_time: float = 0.0
    windows: tuple[TimeWindow, ...] = ()  # service starts inside one of them; empty: any time
    requires: frozenset[str] = frozenset()  # e.g. {"frozen"}
    priority: int = 0  # higher is left out later when the fleet cannot serve everything
    optional: bool = False
    penalty: float = 0.0  # cost of leaving an optional job unserved


@dataclass(frozen=True, slots=True)
class Problem:
    """Depots, vehicles, jobs and the matrices over their locations."""

    depots: tuple[Depot, ...]
    vehicles: tuple[Vehicle, ...]
    jobs: tuple[Job, ...]
    distances: tuple[tuple[float, ...], ...]
    durations: tuple[tuple[float, ...], ...] | None = None  # defaults to distances
    dimensions: tuple[str, ...] = ()  # names of the demand/capacity dimensions
    time_scale: int = 100  # integer ticks per time (and distance) unit inside the solvers

    def travel_time(self, a: int, b: int) -> float:
        return (self.durations or self.distances)[a][b]


@dataclass(frozen=True, slots=True)
class Visit:
    """A job on a route, with its times recomputed in floating point."""

    job: str
    arrival: float
    start: float  # service start (after any wait)
    departure: float
    wait: float
    load: tuple[int, ...]  # on board on arrival (deliveries still to drop, this one included)


@dataclass(frozen=True, slots=True)
class Route:
    """One vehicle's trip: out from its depot, the visits in order, back to its end depot."""

    vehicle: str
    visits: tuple[Visit, ...]
    departure: float
    return_time: float
    distance: float
    duration: float
    cost: float


@dataclass(frozen=True, slots=True)
class Unassigned:
    job: str
    reason: str  # one of the reason constants of this module


@dataclass(frozen=True, slots=True)
class Solution:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    distance: float
    cost: float  # routes' costs plus penalties of left-out optional jobs
    engine: str  # "ortools", "pyvrp", "pyvrp+ortools", or "none" when nothing could be served
    stats: Mapping[str, float] = field(default_factory=dict)


# --- checking the problem -------------------------------------------------------------------

#: The largest penalty accepted (in cost units): beyond it a 64-bit objective loses its cents.
MAX_PENALTY = 1e9


def validate(problem: Problem) -> None:
    """Refuse a problem that cannot be solved as written (VrpError names the culprit)."""
    size = len(problem.distances)
    for name, matrix in (("distances", problem.distances), ("durations", problem.durations)):
        if matrix is None:
            continue
        if len(matrix) != size or any(len(row) != size for row in matrix):
            raise VrpError(name, f"must be a square matrix over the {size} locations")
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                if not (math.isfinite(value) and value >= 0):
                    raise VrpError(f"{name}[{i}][{j}]", f"must be finite and >= 0, got {value}")
    scale = problem.time_scale
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise VrpError("time_scale", f"must be a whole number >= 1, got {scale!r}")
    dims = len(problem.dimensions)
    depots = {}
    for depot in problem.depots:
        if depot.id in depots:
            raise VrpError(f"depot {depot.id}", "appears twice")
        _check_location(f"depot {depot.id}", depot.location, size)
        _check_window(f"depot {depot.id} hours", depot.hours, scale)
        depots[depot.id] = depot
    if not problem.vehicles and problem.jobs:
        raise VrpError("vehicles", "at least one vehicle is needed to serve the jobs")
    seen: set[str] = set()
    for vehicle in problem.vehicles:
        where = f"vehicle {vehicle.id}"
        if vehicle.id in seen:
            raise VrpError(where, "appears twice")
        seen.add(vehicle.id)
        for depot_id in (vehicle.depot, vehicle.end_depot or vehicle.depot):
            if depot_id not in depots:
                raise VrpError(where, f"unknown depot {depot_id!r}")
        if len(vehicle.capacity) != dims or any(_not_count(c) for c in vehicle.capacity):
            raise VrpError(
                where, f"capacity needs {dims} whole amount(s) >= 0 {problem.dimensions}"
            )
        _check_window(f"{where} shift", vehicle.shift, scale)
        for name in ("max_duration", "fixed_cost", "cost_per_distance", "cost_per_time"):
            value = getattr(vehicle, name)
            if math.isnan(value) or value < 0 or (name != "max_duration" and math.isinf(value)):
                raise VrpError(f"{where} {name}", f"must be >= 0, got {value}")
    seen = set()
    for job in problem.jobs:
        where = f"job {job.id}"
        if job.id in seen:
            raise VrpError(where, "appears twice")
        seen.add(job.id)
        _check_location(where, job.location, size)
        if len(job.demand) != dims or any(_not_count(d) for d in job.demand):
            raise VrpError(
                f"{where} demand", f"needs {dims} whole amount(s) >= 0 {problem.dimensions}"
            )
        if not (math.isfinite(job.service_time) and job.service_time >= 0):
            raise VrpError(f"{where} service_time", f"must be >= 0, got {job.service_time}")
        for k, window in enumerate(job.windows):
            _check_window(f"{where} window {k}", window, scale)
        if isinstance(job.priority, bool) or not isinstance(job.priority, int):
            raise VrpError(f"{where} priority", f"must be a whole number, got {job.priority!r}")
        if not (math.isfinite(job.penalty) and 0 <= job.penalty <= MAX_PENALTY):
            raise VrpError(f"{where} penalty", f"must be 0 to {MAX_PENALTY:g}, got {job.penalty}")
        if not any(
            all(d <= c for d, c in zip(job.demand, v.capacity, strict=True))
            for v in problem.vehicles
        ):
            raise VrpError(f"{where} demand", "is more than any vehicle can carry")


def _not_count(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int) or value < 0


def _check_location(where: str, location: int, size: int) -> None:
    if isinstance(location, bool) or not isinstance(location, int) or not 0 <= location < size:
        raise VrpError(where, f"location must be 0 to {size - 1}, got {location!r}")


def _check_window(where: str, window: TimeWindow, scale: int) -> None:
    if math.isnan(window.start) or math.isnan(window.end) or math.isinf(window.start):
        raise VrpError(where, "must have a finite start and an end")
    if window.end < window.start:
        raise VrpError(where, f"ends ({window.end:g}) before it starts ({window.start:g})")
    if math.isfinite(window.end) and ticks_up(window.start, scale) > ticks_down(window.end, scale):
        raise VrpError(
            where,
            f"is narrower than the solver's resolution of 1/{scale} time unit "
            f"({window.start:g} to {window.end:g}); widen it or raise time_scale",
        )


# --- whole ticks (shared with routing._vrp_data) ----------------------------------------------

_EPS = 1e-9


def ticks_up(value: float, scale: int) -> int:
    return math.ceil(value * scale - _EPS)


def ticks_down(value: float, scale: int) -> int:
    return math.floor(value * scale + _EPS)


def merged_windows(job: Job) -> tuple[TimeWindow, ...]:
    """The job's windows sorted, overlapping or nested ones merged into one."""
    merged: list[TimeWindow] = []
    for window in sorted(job.windows, key=lambda w: (w.start, w.end)):
        if merged and window.start <= merged[-1].end:
            if window.end > merged[-1].end:
                merged[-1] = TimeWindow(merged[-1].start, window.end)
        else:
            merged.append(window)
    return tuple(merged)


# --- schedules in floating point ----------------------------------------------------------------


def _on_time(moment: float, limit: float) -> bool:
    """``moment <= limit`` up to floating-point noise (0.1 + 0.2 arrives by 0.3)."""
    return moment <= limit + 1e-9 * max(1.0, abs(limit))


def service_start(windows: Sequence[TimeWindow], arrival: float) -> float | None:
    """When service starts on arriving at ``arrival`` (merged windows): now, or when the next
    window opens; None when every window has closed."""
    if not windows:
        return arrival
    for window in windows:
        if _on_time(arrival, window.end):
            return max(arrival, window.start)
    return None


@dataclass(frozen=True, slots=True)
class _Timeline:
    departure: float
    arrivals: tuple[float, ...]
    starts: tuple[float | None, ...]  # None: arrived after every window of the job
    back: float

    @property
    def duration(self) -> float:
        return self.back - self.departure


def _timeline(
    problem: Problem,
    stops: Sequence[Job],
    windows: Sequence[Sequence[TimeWindow]],
    start_location: int,
    end_location: int,
    departure: float,
) -> _Timeline:
    """Drive the stops in order leaving at ``departure``, serving each as early as allowed."""
    now, place = departure, start_location
    arrivals, starts = [], []
    for job, job_windows in zip(stops, windows, strict=True):
        arrival = now + problem.travel_time(place, job.location)
        begin = service_start(job_windows, arrival)
        arrivals.append(arrival)
        starts.append(begin)
        now, place = (arrival if begin is None else begin) + job.service_time, job.location
    back = now + problem.travel_time(place, end_location)
    return _Timeline(departure, tuple(arrivals), tuple(starts), back)


def _schedule(problem: Problem, vehicle: Vehicle, stops: Sequence[Job]) -> _Timeline:
    """The schedule of a route: among the departures that keep every rule, the shortest route.

    Service at each stop starts as early as the departure allows. The shortest feasible
    schedule departs at the earliest moment, or so that some stop is reached exactly as one
    of its windows opens or closes (between two such moments the route's duration can only
    fall or stay); those few departures are tried. With no feasible departure, the earliest.
    """
    depots = {d.id: d for d in problem.depots}
    start, end = depots[vehicle.depot], depots[vehicle.end_depot or vehicle.depot]
    earliest = max(vehicle.shift.start, start.hours.start)
    latest = min(vehicle.shift.end, start.hours.end)
    closing = min(vehicle.shift.end, end.hours.end)
    windows = [merged_windows(job) for job in stops]
    candidates = {earliest}
    offset, place = 0.0, start.location
    for job, job_windows in zip(stops, windows, strict=True):
        offset += problem.travel_time(place, job.location)
        for window in job_windows:
            for moment in (window.start, window.end):
                departure = moment - offset
                if earliest < departure <= latest:
                    candidates.add(departure)
        offset += job.service_time
        place = job.location
    best: _Timeline | None = None
    for departure in sorted(candidates):
        timeline = _timeline(problem, stops, windows, start.location, end.location, departure)
        if None in timeline.starts or not _on_time(timeline.back, closing):
            continue
        if best is None or timeline.duration < best.duration - 1e-12:
            best = timeline
    if best is None:
        return _timeline(problem, stops, windows, start.location, end.location, earliest)
    return best


def route_violations(problem: Problem, vehicle: Vehicle, stops: Sequence[Job]) -> list[str]:
    """Every rule this route breaks, as sentences naming the vehicle and job; [] if none."""
    where = f"vehicle {vehicle.id}"
    found = []
    for job in stops:
        missing = job.requires - vehicle.capabilities
        if missing:
            found.append(f"{where} cannot carry job {job.id} (needs {', '.join(sorted(missing))})")
    for d, name in enumerate(problem.dimensions):
        load = sum(job.demand[d] for job in stops)
        if load > vehicle.capacity[d]:
            found.append(f"{where} would carry {load} {name}, over its {vehicle.capacity[d]}")
    timeline = _schedule(problem, vehicle, stops)
    for job, begin, arrival in zip(stops, timeline.starts, timeline.arrivals, strict=True):
        if begin is None:
            found.append(f"{where} reaches job {job.id} at {arrival:g}, after its windows")
    depots = {d.id: d for d in problem.depots}
    closing = min(vehicle.shift.end, depots[vehicle.end_depot or vehicle.depot].hours.end)
    if not _on_time(timeline.back, closing):
        found.append(f"{where} is back at {timeline.back:g}, after {closing:g}")
    if not _on_time(timeline.duration, vehicle.max_duration):
        found.append(f"{where} is out for {timeline.duration:g}, over its {vehicle.max_duration:g}")
    return found


def violations(problem: Problem, routes: Mapping[str, Sequence[str]]) -> list[str]:
    """Every rule the routes (vehicle id → job ids in order) break; [] when they keep all.

    Unknown vehicles or jobs, a job on two routes or twice on one, and each route's breaches
    (``route_violations``). Jobs on no route are not a breach (see ``Solution.unassigned``).
    """
    jobs = {job.id: job for job in problem.jobs}
    vehicles = {vehicle.id: vehicle for vehicle in problem.vehicles}
    found: list[str] = []
    seen: set[str] = set()
    for vehicle_id, stops in routes.items():
        if not stops:
            continue
        if vehicle_id not in vehicles:
            found.append(f"no vehicle {vehicle_id!r}")
            continue
        unknown = [j for j in stops if j not in jobs]
        if unknown:
            found.append(f"vehicle {vehicle_id}: no job {unknown[0]!r}")
            continue
        twice = [j for j in stops if j in seen or stops.count(j) > 1]
        if twice:
            found.append(f"job {twice[0]} is served twice")
        seen.update(stops)
        found += route_violations(problem, vehicles[vehicle_id], [jobs[j] for j in stops])
    return found


# --- evaluating routes in floating point ----------------------------------------------------


def evaluate(
    problem: Problem,
    routes: Mapping[str, Sequence[str]],
    *,
    engine: str,
    stats: Mapping[str, float] | None = None,
) -> Solution:
    """The solution of the given routes (vehicle id → job ids in order), recomputed exactly.

    Each route leaves when its shortest schedule does (``_schedule``) and serves each stop as
    early as its windows allow. Jobs on no route are reported unassigned with the reason. The
    routes are not checked here: see ``violations``.
    """
    jobs = {job.id: job for job in problem.jobs}
    built = []
    served: set[str] = set()
    for vehicle in problem.vehicles:
        stops = list(routes.get(vehicle.id, ()))
        if not stops:
            continue
        served.update(stops)
        built.append(_route(problem, vehicle, [jobs[j] for j in stops]))
    unassigned = tuple(
        Unassigned(job.id, unassigned_reason(problem, job))
        for job in problem.jobs
        if job.id not in served
    )
    penalties = sum(jobs[u.job].penalty for u in unassigned if jobs[u.job].optional)
    return Solution(
        routes=tuple(built),
        unassigned=unassigned,
        distance=sum(r.distance for r in built),
        cost=sum(r.cost for r in built) + penalties,
        engine=engine,
        stats=dict(stats or {}),
    )


def _route(problem: Problem, vehicle: Vehicle, stops: list[Job]) -> Route:
    timeline = _schedule(problem, vehicle, stops)
    depots = {d.id: d for d in problem.depots}
    place = depots[vehicle.depot].location
    end = depots[vehicle.end_depot or vehicle.depot].location
    load = [sum(job.demand[d] for job in stops) for d in range(len(problem.dimensions))]
    distance = 0.0
    visits = []
    for job, arrival, begin in zip(stops, timeline.arrivals, timeline.starts, strict=True):
        distance += problem.distances[place][job.location]
        begin = arrival if begin is None else begin
        visits.append(
            Visit(job.id, arrival, begin, begin + job.service_time, begin - arrival, tuple(load))
        )
        load = [have - drop for have, drop in zip(load, job.demand, strict=True)]
        place = job.location
    distance += problem.distances[place][end]
    duration = timeline.duration
    cost = (
        vehicle.fixed_cost + vehicle.cost_per_distance * distance + vehicle.cost_per_time * duration
    )
    return Route(
        vehicle.id, tuple(visits), timeline.departure, timeline.back, distance, duration, cost
    )


def unassigned_reason(problem: Problem, job: Job) -> str:
    """Why a job is on no route, from the problem alone (the solver's choice aside)."""
    capable = [v for v in problem.vehicles if job.requires <= v.capabilities]
    if not capable:
        return NO_CAPABLE_VEHICLE
    if not any(not route_violations(problem, v, [job]) for v in capable):
        return WINDOW_UNREACHABLE
    if job.optional:
        return DROPPED_FOR_COST
    for d in range(len(problem.dimensions)):
        wanted = sum(j.demand[d] for j in problem.jobs if not j.optional)
        if wanted > sum(v.capacity[d] for v in problem.vehicles):
            return OVER_CAPACITY
    return NO_ROOM


# --- solving --------------------------------------------------------------------------------


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 10.0,
    locked: Mapping[str, Sequence[str]] | None = None,
    engine: str = "auto",
    seed: int = 0,
    max_iterations: int | None = None,
    coordinates: Sequence[tuple[float, float]] | None = None,
) -> Solution:
    """Routes serving the jobs at the least cost, within the time limit.

    ``locked`` maps a vehicle id to the job ids it has already done or is on its way to, in
    order; those prefixes stay as given and the rest is planned around them (re-planning:
    leave cancelled jobs out of the problem, add new ones). A lock that breaks a rule on its
    own is refused (``VrpError`` naming ``locked <vehicle>``).

    ``engine``: ``auto`` runs PyVRP's iterated local search for ``PYVRP_SHARE`` of the time
    and lets OR-Tools polish its routes for the rest, keeping the better; OR-Tools alone where
    PyVRP cannot take the problem (locked prefixes, or more required demand than the fleet
    carries, where OR-Tools chooses what to leave out). ``ortools`` or ``pyvrp`` force one.

    The time limit is only a cap. ``max_iterations`` limits each engine (PyVRP's iterations,
    OR-Tools' solutions), so the same problem, seed and limit give the same routes on any
    machine that finishes them within the time limit. ``coordinates`` per location help
    PyVRP's neighbourhoods. Jobs that cannot be served are in ``Solution.unassigned`` with
    the reason.
    """
    from routing import _ortools, _pyvrp  # solver libraries load only when solving
    from routing._vrp_data import to_ticks

    started = time.perf_counter()  # the limit covers the whole call, checks and setup included
    deadline = started + time_limit_s
    validate(problem)
    _check_options(problem, engine, time_limit_s, seed, max_iterations, coordinates)
    locks = _check_locks(problem, locked or {})
    locked_jobs = {j for route in locks.values() for j in route}
    servable = tuple(
        job
        for job in problem.jobs
        if job.id in locked_jobs
        or any(not route_violations(problem, v, [job]) for v in problem.vehicles)
    )
    if not servable:
        return evaluate(problem, {}, engine="none")
    ticks = to_ticks(problem, servable)

    fits = not locks and _pyvrp.fits(ticks)
    if engine == "pyvrp" and not fits:
        why = "locked routes" if locks else "more required demand than the fleet carries"
        raise VrpError("engine", f"pyvrp cannot take this problem ({why}); use auto or ortools")
    candidates: list[tuple[str, list[list[int]]]] = []
    stats: dict[str, float] = {}
    if fits and engine != "ortools":
        share = 1.0 if engine == "pyvrp" else PYVRP_SHARE
        found = _pyvrp.solve_routes(
            ticks,
            deadline=started + time_limit_s * share,
            seed=seed,
            max_iterations=max_iterations,
            coordinates=coordinates,
        )
        stats["pyvrp_s"] = time.perf_counter() - started
        if found is not None:
            candidates.append(("pyvrp", found))
    if engine != "pyvrp":
        position = {job.id: i for i, job in enumerate(servable)}
        lock_routes = [[position[j] for j in locks.get(v.id, ())] for v in ticks.vehicles]
        found = _ortools.solve_routes(
            ticks,
            deadline=deadline,
            solution_limit=max_iterations,
            initial=candidates[0][1] if candidates else None,
            locked=lock_routes if locks else None,
        )
        if found is not None:
            candidates.append(("pyvrp+ortools" if candidates else "ortools", found))
    stats["total_s"] = time.perf_counter() - started

    solutions = []
    for name, found in candidates:
        routes = {
            vehicle.id: [servable[p].id for p in route]
            for vehicle, route in zip(ticks.vehicles, found, strict=True)
        }
        if not violations(problem, routes):  # a solver's slip never reaches the caller
            solutions.append(evaluate(problem, routes, engine=name, stats=stats))
    if not solutions:
        return _nothing_found(problem, locks, servable, stats)
    return min(solutions, key=lambda s: _rank(problem, s))


def _rank(problem: Problem, solution: Solution) -> tuple[int, int, float]:
    """Fewer required jobs left out first, then lower priorities left out, then the cost."""
    priority = {job.id: job.priority for job in problem.jobs}
    missed = [u.job for u in solution.unassigned if u.reason != DROPPED_FOR_COST]
    return len(missed), sum(priority[j] for j in missed), solution.cost


def _nothing_found(
    problem: Problem,
    locks: Mapping[str, Sequence[str]],
    servable: Sequence[Job],
    stats: Mapping[str, float],
) -> Solution:
    """The locked routes alone, every other servable job left out for want of time."""
    plain = evaluate(problem, locks, engine="none", stats=stats)
    timed_out = {job.id for job in servable}
    return Solution(
        routes=plain.routes,
        unassigned=tuple(
            Unassigned(u.job, TIME_LIMIT) if u.job in timed_out else u for u in plain.unassigned
        ),
        distance=plain.distance,
        cost=plain.cost,
        engine="none",
        stats=plain.stats,
    )


def _check_options(
    problem: Problem,
    engine: str,
    time_limit_s: float,
    seed: int,
    max_iterations: int | None,
    coordinates: Sequence[tuple[float, float]] | None,
) -> None:
    if engine not in ENGINES:
        raise VrpError("engine", f"must be one of {', '.join(ENGINES)}; got {engine!r}")
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise VrpError("time_limit_s", f"must be a positive number of seconds, got {time_limit_s}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise VrpError("seed", f"must be a whole number 0 to {2**32 - 1}, got {seed!r}")
    if max_iterations is not None and (_not_count(max_iterations) or max_iterations < 1):
        raise VrpError("max_iterations", f"must be a whole number >= 1, got {max_iterations!r}")
    if coordinates is not None and len(coordinates) != len(problem.distances):
        raise VrpError("coordinates", f"needs one (x, y) per location ({len(problem.distances)})")


def _check_locks(
    problem: Problem, locked: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """The locks as tuples, after refusing unknown or repeated ids and locks that break a rule."""
    vehicles = {v.id: v for v in problem.vehicles}
    jobs = {j.id: j for j in problem.jobs}
    seen: set[str] = set()
    out = {}
    for vehicle_id, job_ids in locked.items():
        where = f"locked {vehicle_id}"
        if vehicle_id not in vehicles:
            raise VrpError(where, "unknown vehicle")
        for job_id in job_ids:
            if job_id not in jobs:
                raise VrpError(where, f"unknown job {job_id!r}")
            if job_id in seen:
                raise VrpError(where, f"job {job_id!r} is locked twice")
            seen.add(job_id)
        broken = route_violations(problem, vehicles[vehicle_id], [jobs[j] for j in job_ids])
        if broken:
            raise VrpError(where, f"the locked stops break a rule: {broken[0]}")
        if job_ids:
            out[vehicle_id] = tuple(job_ids)
    return out

"""Vehicle routes: deliveries from front warehouses and trunk routes from the DC.

The problem (frozen dataclasses): ``Depot``s with opening hours; ``Vehicle``s based at a depot
with capacities in several dimensions (totes, kg, ...), a shift, a maximum route duration,
fixed and per-distance/per-time costs and capabilities (``"chilled"``, ``"frozen"``); ``Job``s
at a location with a demand per dimension, a service time, one or more time windows, the
capabilities they need, a priority, and, if optional, the penalty for leaving them out; and a
distance and a travel-time matrix over the locations (given by the caller).

Units are the caller's (metres and seconds for deliveries; the benchmark instances' own units
for Solomon and VRPLIB): ``Problem.time_scale`` ticks per time unit and per distance unit go to
the solvers as integers, travel and service times rounded *up* so that an integer-feasible
route is feasible in exact arithmetic too. Costs go to OR-Tools in ``COST_SCALE`` units.
Every figure of a ``Solution`` (arrivals, waits, loads, distances, costs) is recomputed in
floating point from the routes, never read back from a solver.

``solve(problem, time_limit_s=...)`` is the entry point. See ``routing/README.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

INF = math.inf

#: Objective units per unit of cost inside OR-Tools (micro-units: per-second costs survive).
COST_SCALE = 1_000_000

# Why a job was left out (``Unassigned.reason``).
NO_CAPABLE_VEHICLE = "no_capable_vehicle"
WINDOW_UNREACHABLE = "window_unreachable"
OVER_CAPACITY = "over_capacity"
NO_ROOM = "no_room"  # fits a vehicle alone, but not in this fleet's shifts with the other jobs
DROPPED_FOR_COST = "dropped_for_cost"  # optional, and serving it costs more than its penalty


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
    priority: int = 0  # higher is dropped later when the fleet cannot serve everything
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
    engine: str  # "ortools", "pyvrp", or "pyvrp+ortools"
    stats: Mapping[str, float] = field(default_factory=dict)


# --- checking the problem -------------------------------------------------------------------


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
    if problem.time_scale < 1:
        raise VrpError("time_scale", "must be a whole number >= 1")
    dims = len(problem.dimensions)
    depots = {}
    for depot in problem.depots:
        if depot.id in depots:
            raise VrpError(f"depot {depot.id}", "appears twice")
        _check_location(f"depot {depot.id}", depot.location, size)
        _check_window(f"depot {depot.id} hours", depot.hours)
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
        if len(vehicle.capacity) != dims or any(c < 0 for c in vehicle.capacity):
            raise VrpError(where, f"capacity needs {dims} amount(s) >= 0 {problem.dimensions}")
        _check_window(f"{where} shift", vehicle.shift)
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
        if len(job.demand) != dims or any(d < 0 for d in job.demand):
            raise VrpError(f"{where} demand", f"needs {dims} amount(s) >= 0 {problem.dimensions}")
        if not (math.isfinite(job.service_time) and job.service_time >= 0):
            raise VrpError(f"{where} service_time", f"must be >= 0, got {job.service_time}")
        for k, window in enumerate(job.windows):
            _check_window(f"{where} window {k}", window)
        if not (math.isfinite(job.penalty) and job.penalty >= 0):
            raise VrpError(f"{where} penalty", f"must be >= 0, got {job.penalty}")
        if not any(
            all(d <= c for d, c in zip(job.demand, v.capacity, strict=True))
            for v in problem.vehicles
        ):
            raise VrpError(f"{where} demand", "is more than any vehicle can carry")


def _check_location(where: str, location: int, size: int) -> None:
    if isinstance(location, bool) or not isinstance(location, int) or not 0 <= location < size:
        raise VrpError(where, f"location must be 0 to {size - 1}, got {location!r}")


def _check_window(where: str, window: TimeWindow) -> None:
    if math.isnan(window.start) or math.isnan(window.end) or math.isinf(window.start):
        raise VrpError(where, "must have a finite start and an end")
    if window.end < window.start:
        raise VrpError(where, f"ends ({window.end:g}) before it starts ({window.start:g})")


# --- evaluating routes in floating point ----------------------------------------------------


def evaluate(
    problem: Problem,
    routes: Mapping[str, Sequence[str]],
    *,
    engine: str,
    stats: Mapping[str, float] | None = None,
) -> Solution:
    """The solution of the given routes (vehicle id → job ids in order), recomputed exactly.

    Service starts as early as possible: at arrival, or at the start of the first window that
    has not yet closed. Jobs on no route are reported unassigned with the reason.
    """
    jobs = {job.id: job for job in problem.jobs}
    depots = {depot.id: depot for depot in problem.depots}
    built = []
    served: set[str] = set()
    for vehicle in problem.vehicles:
        stops = list(routes.get(vehicle.id, ()))
        if not stops:
            continue
        served.update(stops)
        built.append(_route(problem, vehicle, [jobs[j] for j in stops], depots))
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


def _route(
    problem: Problem, vehicle: Vehicle, stops: list[Job], depots: Mapping[str, Depot]
) -> Route:
    start = depots[vehicle.depot]
    end = depots[vehicle.end_depot or vehicle.depot]
    departure = _latest_departure(problem, vehicle, stops, start)
    load = [sum(job.demand[d] for job in stops) for d in range(len(problem.dimensions))]
    time, place, distance = departure, start.location, 0.0
    visits = []
    for job in stops:
        arrival = time + problem.travel_time(place, job.location)
        distance += problem.distances[place][job.location]
        begin = service_start(job, arrival)
        visits.append(
            Visit(job.id, arrival, begin, begin + job.service_time, begin - arrival, tuple(load))
        )
        load = [have - drop for have, drop in zip(load, job.demand, strict=True)]
        time, place = begin + job.service_time, job.location
    back = time + problem.travel_time(place, end.location)
    distance += problem.distances[place][end.location]
    duration = back - departure
    cost = (
        vehicle.fixed_cost + vehicle.cost_per_distance * distance + vehicle.cost_per_time * duration
    )
    return Route(vehicle.id, tuple(visits), departure, back, distance, duration, cost)


def service_start(job: Job, arrival: float) -> float:
    """When service starts on arriving at ``arrival``: now, or when the next window opens."""
    if not job.windows:
        return arrival
    for window in sorted(job.windows, key=lambda w: w.start):
        if arrival <= window.end:
            return max(arrival, window.start)
    return arrival  # too late for every window; a checker reports it


def _latest_departure(problem: Problem, vehicle: Vehicle, stops: list[Job], start: Depot) -> float:
    """Leave as late as saves waiting without moving any visit out of its window.

    Delaying the departure by d delays the service at stop k by max(0, d - waits up to k), so
    the route stays feasible for d <= min over k of (waits up to k + slack to k's window end),
    and the route gets shorter until d reaches the total wait (Savelsbergh's forward slack).
    """
    earliest = max(vehicle.shift.start, start.hours.start)
    time, place = earliest, start.location
    waited, slack = 0.0, INF
    for job in stops:
        arrival = time + problem.travel_time(place, job.location)
        begin = service_start(job, arrival)
        waited += begin - arrival
        window_end = min((w.end for w in job.windows if w.start <= begin <= w.end), default=INF)
        slack = min(slack, waited + window_end - begin)
        time, place = begin + job.service_time, job.location
    return earliest + max(0.0, min(waited, slack))


def unassigned_reason(problem: Problem, job: Job) -> str:
    """Why a job is on no route, from the problem alone (the solver's choice aside)."""
    capable = [v for v in problem.vehicles if job.requires <= v.capabilities]
    if not capable:
        return NO_CAPABLE_VEHICLE
    depots = {depot.id: depot for depot in problem.depots}
    if not any(_solo_fits(problem, v, job, depots) for v in capable):
        return WINDOW_UNREACHABLE
    if job.optional:
        return DROPPED_FOR_COST
    for d in range(len(problem.dimensions)):
        wanted = sum(j.demand[d] for j in problem.jobs if not j.optional)
        if wanted > sum(v.capacity[d] for v in problem.vehicles):
            return OVER_CAPACITY
    return NO_ROOM


def _solo_fits(problem: Problem, vehicle: Vehicle, job: Job, depots: Mapping[str, Depot]) -> bool:
    """Whether the vehicle could serve this job alone, on time, and be back in its shift."""
    start, end = depots[vehicle.depot], depots[vehicle.end_depot or vehicle.depot]
    leave = max(vehicle.shift.start, start.hours.start)
    arrival = leave + problem.travel_time(start.location, job.location)
    begin = service_start(job, arrival)
    if job.windows and not any(w.start <= begin <= w.end for w in job.windows):
        return False
    back = begin + job.service_time + problem.travel_time(job.location, end.location)
    closing = min(vehicle.shift.end, end.hours.end)
    # Leaving later to avoid waiting shortens the route; the duration limit uses that.
    shortest = back - leave - (begin - arrival)
    fits_capacity = all(d <= c for d, c in zip(job.demand, vehicle.capacity, strict=True))
    return back <= closing and shortest <= vehicle.max_duration and fits_capacity


# --- solving --------------------------------------------------------------------------------

#: Share of the time limit PyVRP gets when it models the problem; OR-Tools polishes after.
PYVRP_SHARE = 0.85


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
    order; those prefixes stay as given and the rest is planned around them (re-planning).
    ``engine``: ``auto`` runs PyVRP where it models the problem exactly (then OR-Tools
    polishes its routes) and OR-Tools alone elsewhere; ``ortools`` or ``pyvrp`` force one.
    ``max_iterations`` (PyVRP) makes runs repeatable whatever the machine's speed; the time
    limit is then only a cap. ``coordinates`` per location help PyVRP's neighbourhoods.
    Jobs that cannot be served are in ``Solution.unassigned`` with the reason.
    """
    from routing import _ortools, _pyvrp  # solver libraries load only when solving
    from routing._vrp_data import to_ticks

    validate(problem)
    if engine not in ("auto", "ortools", "pyvrp"):
        raise VrpError("engine", f"must be auto, ortools or pyvrp; got {engine!r}")
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise VrpError("time_limit_s", f"must be a positive number of seconds, got {time_limit_s}")
    locked = _check_locks(problem, locked or {})
    started = _clock()
    depots = {d.id: d for d in problem.depots}
    locked_jobs = {j for route in locked.values() for j in route}
    servable = tuple(
        job
        for job in problem.jobs
        if job.id in locked_jobs
        or any(
            job.requires <= v.capabilities and _solo_fits(problem, v, job, depots)
            for v in problem.vehicles
        )
    )
    if not servable:
        return evaluate(problem, {}, engine=engine if engine != "auto" else "none")
    ticks = to_ticks(problem, servable)
    position = {job.id: i for i, job in enumerate(servable)}
    vehicle_index = {v.id: i for i, v in enumerate(problem.vehicles)}
    lock_routes: list[list[int]] = [[] for _ in problem.vehicles]
    for vehicle_id, job_ids in locked.items():
        lock_routes[vehicle_index[vehicle_id]] = [position[j] for j in job_ids]

    rate = problem.vehicles[0].cost_per_distance
    prizes = [
        None if not job.optional else round(job.penalty / rate * problem.time_scale)
        for job in servable
    ]
    candidates: list[tuple[str, list[list[int]]]] = []
    stats: dict[str, float] = {}
    use_pyvrp = engine == "pyvrp" or (
        engine == "auto" and _pyvrp.fits(ticks, locked=bool(locked_jobs))
    )
    if engine == "pyvrp" and not _pyvrp.fits(ticks, locked=bool(locked_jobs)):
        raise VrpError("engine", "pyvrp does not model this problem (use auto or ortools)")
    if use_pyvrp:
        budget = time_limit_s if engine == "pyvrp" else time_limit_s * PYVRP_SHARE
        routes = _pyvrp.solve_routes(
            ticks,
            time_limit_s=budget,
            seed=seed,
            max_iterations=max_iterations,
            coordinates=coordinates,
            prizes=prizes,
        )
        stats["pyvrp_s"] = _clock() - started
        if routes is not None:
            candidates.append(("pyvrp", routes))
    if engine != "pyvrp":
        left = max(0.05, time_limit_s - (_clock() - started))
        penalties = [
            REQUIRED_PENALTY_UNITS * (1 + max(0, job.priority))
            if not job.optional
            else round(job.penalty * COST_SCALE)
            for job in servable
        ]
        routes = _ortools.solve_routes(
            ticks,
            time_limit_s=left,
            initial=candidates[0][1] if candidates else None,
            locked=lock_routes if locked_jobs else None,
            penalties=penalties,
        )
        candidates.append(("pyvrp+ortools" if candidates else "ortools", routes))
    stats["total_s"] = _clock() - started
    solutions = [
        evaluate(
            problem,
            {
                problem.vehicles[v].id: [servable[p].id for p in route]
                for v, route in enumerate(routes)
            },
            engine=name,
            stats=stats,
        )
        for name, routes in candidates
    ]
    if not solutions:
        return evaluate(problem, {}, engine="pyvrp", stats=stats)
    return min(solutions, key=_rank)


#: Leaving out a required job costs far more than any route (COST_SCALE units).
REQUIRED_PENALTY_UNITS = 10**13


def _rank(solution: Solution) -> tuple[int, float]:
    """Fewer required jobs left out first, then the lower cost."""
    missed = sum(1 for u in solution.unassigned if u.reason != DROPPED_FOR_COST)
    return missed, solution.cost


def _check_locks(
    problem: Problem, locked: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    vehicles = {v.id for v in problem.vehicles}
    jobs = {j.id for j in problem.jobs}
    seen: set[str] = set()
    out = {}
    for vehicle_id, job_ids in locked.items():
        if vehicle_id not in vehicles:
            raise VrpError(f"locked {vehicle_id}", "unknown vehicle")
        for job_id in job_ids:
            if job_id not in jobs:
                raise VrpError(f"locked {vehicle_id}", f"unknown job {job_id!r}")
            if job_id in seen:
                raise VrpError(f"locked {vehicle_id}", f"job {job_id!r} is locked twice")
            seen.add(job_id)
        out[vehicle_id] = tuple(job_ids)
    return out


def _clock() -> float:
    import time

    return time.perf_counter()

"""A routing problem in whole ticks, the form both solver engines read.

Nodes are the depots (in ``Problem.depots`` order) followed by the jobs handed to the solver.
Travel and service times are rounded up and window ends down, so a route that is feasible in
ticks is feasible in the problem's own (floating-point) units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from routing.vrp import COST_SCALE, Job, Problem

_EPS = 1e-9


def ticks_up(value: float, scale: int) -> int:
    return math.ceil(value * scale - _EPS)


def ticks_down(value: float, scale: int) -> int:
    return math.floor(value * scale + _EPS)


@dataclass(frozen=True, slots=True)
class Ticks:
    """The integer problem (see the module docstring)."""

    scale: int  # ticks per time and distance unit
    depot_count: int
    jobs: tuple[Job, ...]
    location: tuple[int, ...]  # per node
    distance: tuple[tuple[float, ...], ...]  # per node pair, the caller's units (for costs)
    distance_ticks: tuple[tuple[int, ...], ...]
    travel_ticks: tuple[tuple[int, ...], ...]
    service_ticks: tuple[int, ...]
    windows: tuple[tuple[tuple[int, int], ...], ...]  # per node; () = any time
    demand: tuple[tuple[int, ...], ...]  # per node
    horizon: int
    # per vehicle
    start_node: tuple[int, ...]
    end_node: tuple[int, ...]
    capacity: tuple[tuple[int, ...], ...]
    shift: tuple[tuple[int, int], ...]
    max_duration: tuple[int, ...]
    fixed_cost: tuple[int, ...]  # COST_SCALE units
    cost_per_distance: tuple[float, ...]
    span_cost: tuple[int, ...]  # COST_SCALE units per tick
    allowed: tuple[tuple[int, ...] | None, ...]  # per job: vehicle indexes, None = all

    @property
    def size(self) -> int:
        return len(self.location)


def to_ticks(problem: Problem, jobs: tuple[Job, ...]) -> Ticks:
    """The integer form of the problem restricted to ``jobs``."""
    scale = problem.time_scale
    depot_index = {d.id: i for i, d in enumerate(problem.depots)}
    location = tuple(d.location for d in problem.depots) + tuple(j.location for j in jobs)
    distance = tuple(tuple(problem.distances[a][b] for b in location) for a in location)
    travel = tuple(
        tuple(ticks_up(problem.travel_time(a, b), scale) for b in location) for a in location
    )
    service = (0,) * len(problem.depots) + tuple(ticks_up(j.service_time, scale) for j in jobs)

    finite = [0.0]
    for job in jobs:
        finite += [t for w in job.windows for t in (w.start, w.end) if math.isfinite(t)]
    for vehicle in problem.vehicles:
        finite += [t for t in (vehicle.shift.start, vehicle.shift.end) if math.isfinite(t)]
    for depot in problem.depots:
        finite += [t for t in (depot.hours.start, depot.hours.end) if math.isfinite(t)]
    # Long enough for any route: the latest finite time plus every leg and service once.
    horizon = ticks_up(max(finite), scale) + sum(max(row) for row in travel) + sum(service) + 1

    def clip(value: float, up: bool) -> int:
        if math.isinf(value):
            return horizon
        return min(horizon, ticks_up(value, scale) if up else ticks_down(value, scale))

    windows = ((),) * len(problem.depots) + tuple(
        tuple((clip(w.start, True), clip(w.end, False)) for w in sorted(j.windows, key=_start))
        for j in jobs
    )
    dims = len(problem.dimensions)
    demand = ((0,) * dims,) * len(problem.depots) + tuple(j.demand for j in jobs)
    vehicles = problem.vehicles
    shift = []
    for v in vehicles:
        opens = max(v.shift.start, problem.depots[depot_index[v.depot]].hours.start)
        end_depot = problem.depots[depot_index[v.end_depot or v.depot]]
        closes = min(v.shift.end, end_depot.hours.end)
        shift.append((clip(opens, True), clip(closes, False)))
    allowed = tuple(
        None
        if all(j.requires <= v.capabilities for v in vehicles)
        else tuple(i for i, v in enumerate(vehicles) if j.requires <= v.capabilities)
        for j in jobs
    )
    return Ticks(
        scale=scale,
        depot_count=len(problem.depots),
        jobs=jobs,
        location=location,
        distance=distance,
        distance_ticks=tuple(tuple(round(d * scale) for d in row) for row in distance),
        travel_ticks=travel,
        service_ticks=service,
        windows=windows,
        demand=demand,
        horizon=horizon,
        start_node=tuple(depot_index[v.depot] for v in vehicles),
        end_node=tuple(depot_index[v.end_depot or v.depot] for v in vehicles),
        capacity=tuple(v.capacity for v in vehicles),
        shift=tuple(shift),
        max_duration=tuple(clip(v.max_duration, False) for v in vehicles),
        fixed_cost=tuple(round(v.fixed_cost * COST_SCALE) for v in vehicles),
        cost_per_distance=tuple(v.cost_per_distance for v in vehicles),
        span_cost=tuple(round(v.cost_per_time * COST_SCALE / scale) for v in vehicles),
        allowed=allowed,
    )


def _start(window: object) -> float:
    return window.start  # type: ignore[attr-defined]

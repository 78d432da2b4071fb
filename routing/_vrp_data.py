"""A routing problem in whole ticks, the form both solver engines read.

Nodes are the depots some vehicle starts or ends at (in ``Problem.depots`` order) followed by
the jobs handed to the solver. Travel and service times are rounded up, window starts up and
window ends down, so a route that is feasible in ticks is feasible in the problem's own
(floating-point) units. Overlapping windows of a job are merged first. Vehicles whose shift
and depot hours never overlap cannot drive and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from routing.vrp import (
    COST_SCALE,
    Job,
    Problem,
    Vehicle,
    VrpError,
    merged_windows,
    ticks_down,
    ticks_up,
)

#: Bound on every sum inside the solvers (2^62, leaving OR-Tools headroom below 2^63).
INT_LIMIT = 2**62


@dataclass(frozen=True, slots=True)
class Ticks:
    """The integer problem (see the module docstring)."""

    scale: int  # ticks per time and distance unit
    depot_count: int  # depot nodes come first
    jobs: tuple[Job, ...]
    location: tuple[int, ...]  # per node, its location in the problem's matrices
    distance: tuple[tuple[float, ...], ...]  # per node pair, the caller's units (for costs)
    distance_ticks: tuple[tuple[int, ...], ...]
    travel_ticks: tuple[tuple[int, ...], ...]
    service_ticks: tuple[int, ...]
    windows: tuple[tuple[tuple[int, int], ...], ...]  # per node, disjoint, sorted; () = any time
    demand: tuple[tuple[int, ...], ...]  # per node
    horizon: int  # no route lasts beyond it
    # per job
    penalty: tuple[int, ...]  # of leaving it out, in COST_SCALE units
    allowed: tuple[tuple[int, ...] | None, ...]  # vehicle positions that can carry it; None: all
    # per vehicle that can drive (``vehicles``), by position
    vehicles: tuple[Vehicle, ...]
    start_node: tuple[int, ...]
    end_node: tuple[int, ...]
    capacity: tuple[tuple[int, ...], ...]
    shift: tuple[tuple[int, int], ...]
    max_duration: tuple[int, ...]
    fixed_cost: tuple[int, ...]  # COST_SCALE units
    cost_per_distance: tuple[float, ...]
    span_cost: tuple[int, ...]  # COST_SCALE units per tick

    @property
    def size(self) -> int:
        return len(self.location)


def to_ticks(problem: Problem, jobs: tuple[Job, ...]) -> Ticks:
    """The integer form of the problem restricted to ``jobs``.

    Raises VrpError when the costs and penalties cannot be added up in 64-bit integers.
    """
    scale = problem.time_scale
    depot_position = {d.id: i for i, d in enumerate(problem.depots)}
    used = sorted(
        {depot_position[x] for v in problem.vehicles for x in (v.depot, v.end_depot or v.depot)}
    )
    node_of_depot = {problem.depots[i].id: n for n, i in enumerate(used)}
    location = tuple(problem.depots[i].location for i in used) + tuple(j.location for j in jobs)
    depots = len(used)
    distance = tuple(tuple(problem.distances[a][b] for b in location) for a in location)
    travel = tuple(
        tuple(ticks_up(problem.travel_time(a, b), scale) for b in location) for a in location
    )
    service = (0,) * depots + tuple(ticks_up(j.service_time, scale) for j in jobs)

    finite = [0.0]
    for job in jobs:
        finite += [t for w in job.windows for t in (w.start, w.end) if math.isfinite(t)]
    for vehicle in problem.vehicles:
        finite += [t for t in (vehicle.shift.start, vehicle.shift.end) if math.isfinite(t)]
    for depot in problem.depots:
        finite += [t for t in (depot.hours.start, depot.hours.end) if math.isfinite(t)]
    # Long enough for any route: the latest finite time plus every leg and service once.
    horizon = ticks_up(max(finite), scale) + sum(max(row) for row in travel) + sum(service) + 1
    if horizon > INT_LIMIT:
        raise VrpError("time_scale", "times in ticks exceed 64 bits; lower time_scale")

    def clip(value: float, up: bool) -> int:
        if math.isinf(value):
            return horizon
        return min(horizon, ticks_up(value, scale) if up else ticks_down(value, scale))

    windows = ((),) * depots + tuple(
        tuple((clip(w.start, True), clip(w.end, False)) for w in merged_windows(j)) for j in jobs
    )
    dims = len(problem.dimensions)
    demand = ((0,) * dims,) * depots + tuple(j.demand for j in jobs)

    vehicles, shift = [], []
    for v in problem.vehicles:
        start = problem.depots[depot_position[v.depot]]
        end = problem.depots[depot_position[v.end_depot or v.depot]]
        opens = clip(max(v.shift.start, start.hours.start), True)
        closes = clip(min(v.shift.end, end.hours.end), False)
        if opens <= closes:
            vehicles.append(v)
            shift.append((opens, closes))
    allowed = tuple(
        None
        if all(j.requires <= v.capabilities for v in vehicles)
        else tuple(i for i, v in enumerate(vehicles) if j.requires <= v.capabilities)
        for j in jobs
    )
    fixed_cost = tuple(round(v.fixed_cost * COST_SCALE) for v in vehicles)
    span_cost = tuple(round(v.cost_per_time * COST_SCALE / scale) for v in vehicles)
    return Ticks(
        scale=scale,
        depot_count=depots,
        jobs=jobs,
        location=location,
        distance=distance,
        distance_ticks=tuple(tuple(round(d * scale) for d in row) for row in distance),
        travel_ticks=travel,
        service_ticks=service,
        windows=windows,
        demand=demand,
        horizon=horizon,
        penalty=_penalties(jobs, vehicles, distance, fixed_cost, span_cost, horizon),
        allowed=allowed,
        vehicles=tuple(vehicles),
        start_node=tuple(node_of_depot[v.depot] for v in vehicles),
        end_node=tuple(node_of_depot[v.end_depot or v.depot] for v in vehicles),
        capacity=tuple(v.capacity for v in vehicles),
        shift=tuple(shift),
        max_duration=tuple(clip(v.max_duration, False) for v in vehicles),
        fixed_cost=fixed_cost,
        cost_per_distance=tuple(v.cost_per_distance for v in vehicles),
        span_cost=span_cost,
    )


def _penalties(
    jobs: tuple[Job, ...],
    vehicles: list[Vehicle],
    distance: tuple[tuple[float, ...], ...],
    fixed_cost: tuple[int, ...],
    span_cost: tuple[int, ...],
    horizon: int,
) -> tuple[int, ...]:
    """What leaving out each job costs the solver (COST_SCALE units).

    An optional job: its penalty. A required one: ``base * (weight + rank)``, where ``base``
    exceeds the cost of any plan with every optional penalty paid, ``rank`` is the job's
    place among the distinct priorities of required jobs (0 for the lowest) and ``weight``
    exceeds the sum of ranks of all required jobs, so that leaving out fewer jobs always
    wins and, among as many, leaving out lower priorities.
    """
    rate = max((v.cost_per_distance for v in vehicles), default=0.0)
    # Each node is left at most once, each vehicle starts once.
    arcs = sum(max(row) for row in distance) + len(vehicles) * max(map(max, distance))
    bound = (
        round(rate * COST_SCALE * arcs)
        + sum(fixed_cost)
        + sum(span_cost) * horizon
        + sum(round(j.penalty * COST_SCALE) for j in jobs if j.optional)
    )
    base = bound + 1
    required = [j for j in jobs if not j.optional]
    ranks = {p: r for r, p in enumerate(sorted({j.priority for j in required}))}
    weight = 1 + (len(ranks) - 1) * len(required)
    total = base * (weight + len(ranks)) * len(required) + base
    if total > INT_LIMIT:
        raise VrpError(
            "jobs",
            "the costs and penalties are too large to add up in the solver's 64-bit objective; "
            "lower the cost rates, fixed costs or penalties",
        )
    return tuple(
        round(j.penalty * COST_SCALE) if j.optional else base * (weight + ranks[j.priority])
        for j in jobs
    )

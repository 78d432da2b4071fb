"""PyVRP's iterated local search behind a plain interface (PyVRP objects never leave here).

PyVRP (Wouda, Lan & Kool, 2024) is a state-of-the-art solver for rich vehicle routing. The
whole model of ``routing.vrp`` maps onto it:

- capacities per dimension, shifts, route durations, several depots, fixed costs: as they are;
- costs per distance and per time: each vehicle type's unit costs, in integer cost units
  (``_cost_units``: exact when every vehicle pays the same per distance and nothing per time);
- vehicles that cannot carry some jobs: a routing profile per set of capabilities, in which
  reaching such a job takes longer than the horizon, so any route visiting it arrives after
  every window and is infeasible (PyVRP's documented way of restricting access);
- several windows for a job: one client per window at the job's location, in a mutually
  exclusive group that is required unless the job is optional;
- optional jobs: a prize equal to their penalty;
- required jobs, when any has a time window: optional clients too, whose prize
  (``_required_prizes``) is ``PRIZE_FACTOR`` times the most that serving one could add to a
  plan when it is slotted in anywhere (a detour of twice the dearest arc, and the dearest
  vehicle's fixed cost), more for higher priorities. PyVRP then serves every job it can, and
  still returns routes when the fleet cannot serve them all in their windows, where required
  clients leave it without a feasible plan at all (a busy delivery window). Prizes far above
  every cost, as OR-Tools gets for its penalties, would swamp PyVRP's penalties for broken
  windows and keep its search infeasible. Without windows (capacitated problems, which
  ``fits`` vouches for), and where even these prizes would not add up in 64 bits, required
  jobs stay required clients: PyVRP searches those better.

Locked prefixes have no counterpart, and ``fits`` refuses problems with more required demand
than the fleet carries; OR-Tools takes those.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence

import numpy as np
from pyvrp import Client, ClientGroup, Depot, Location, ProblemData, VehicleType
from pyvrp import solve as pyvrp_solve
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from routing._vrp_data import INT_LIMIT, Ticks

#: A required job's prize, in units of the most that serving it could add to a plan.
PRIZE_FACTOR = 3


def fits(ticks: Ticks) -> bool:
    """Whether PyVRP can serve every required job: the fleet carries all their demand."""
    required = [p for p, job in enumerate(ticks.jobs) if not job.optional]
    for d in range(len(ticks.capacity[0]) if ticks.capacity else 0):
        wanted = sum(ticks.demand[ticks.depot_count + p][d] for p in required)
        if wanted > sum(c[d] for c in ticks.capacity):
            return False
    return bool(ticks.vehicles)


def solve_routes(
    ticks: Ticks,
    *,
    deadline: float,
    seed: int = 0,
    max_iterations: int | None = None,
    coordinates: Sequence[tuple[float, float]] | None = None,
) -> list[list[int]] | None:
    """Routes per vehicle of ``ticks.vehicles`` (job positions), or None without a feasible one.

    The search stops at ``deadline`` (a ``time.perf_counter()`` value), building the data
    included, or after ``max_iterations``.
    """
    data, client_job, members = _problem_data(ticks, coordinates)
    left = max(deadline - time.perf_counter(), 0.01)
    stop: StoppingCriterion = MaxRuntime(left)
    if max_iterations is not None:
        stop = MultipleCriteria([MaxIterations(max_iterations), MaxRuntime(left)])
    with warnings.catch_warnings():
        # Raised when the search stays infeasible; the caller then asks OR-Tools alone.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp_solve(data, stop=stop, seed=seed, display=False, collect_stats=False)
    if not result.best.is_feasible():
        return None
    routes: list[list[int]] = [[] for _ in ticks.vehicles]
    free = [list(vehicles) for vehicles in members]
    for route in result.best.routes():
        vehicle = free[route.vehicle_type()].pop(0)
        routes[vehicle] = [client_job[a.idx] for a in route if a.is_client()]
    return routes


def _cost_units(ticks: Ticks) -> float:
    """PyVRP cost units per unit of the problem's cost.

    One distance tick costs one unit when every vehicle pays the same per distance and
    nothing per time (PyVRP's own setting, as on the benchmark instances); otherwise the
    cheapest positive rate costs about a thousand units per tick, so the rates keep three
    digits, as few as the 64-bit sums allow.
    """
    scale = ticks.scale
    rates = set(ticks.cost_per_distance)
    times = {v.cost_per_time for v in ticks.vehicles}
    if len(rates) == 1 and times == {0.0} and min(rates) > 0:
        return scale / min(rates)
    positive = [r for r in (*rates, *times) if r > 0]
    units = 1000 * scale / min(positive) if positive else float(scale)
    longest = sum(max(row) for row in ticks.distance_ticks) + ticks.horizon
    top = max((*rates, *times, 1.0))
    while units > 1 and longest * top * units / scale * len(ticks.vehicles) > INT_LIMIT / 16:
        units /= 10
    return units


def _required_prizes(ticks: Ticks, units: float) -> dict[int, int] | None:
    """The prizes of the required jobs by position, in PyVRP cost units (module docstring).

    None, so that they stay required clients, when no required job has a time window (the
    fleet then serves them all once ``fits``; PyVRP searches better with required clients)
    or when the prizes would not add up in PyVRP's 64-bit objective.
    """
    depots = ticks.depot_count
    required = [p for p, job in enumerate(ticks.jobs) if not job.optional]
    if not any(ticks.windows[depots + p] for p in required):
        return None
    rate = max(ticks.cost_per_distance, default=0.0)
    dearest_arc = max(map(max, ticks.distance_ticks)) * rate * units / ticks.scale
    dearest_vehicle = max((v.fixed_cost for v in ticks.vehicles), default=0.0) * units
    most = max(2 * dearest_arc + dearest_vehicle, 1.0)
    rank = {q: r for r, q in enumerate(sorted({ticks.jobs[p].priority for p in required}))}
    prizes = {
        p: math.ceil(PRIZE_FACTOR * most * (1 + rank[ticks.jobs[p].priority])) for p in required
    }
    optional = sum(round(job.penalty * units) for job in ticks.jobs if job.optional)
    return prizes if sum(prizes.values()) + optional <= INT_LIMIT / 16 else None


def _problem_data(
    ticks: Ticks, coordinates: Sequence[tuple[float, float]] | None
) -> tuple[ProblemData, list[int], list[list[int]]]:
    """PyVRP's data, the job position of each client, and the vehicles of each vehicle type."""
    depots = ticks.depot_count
    units = _cost_units(ticks)
    locations = [
        Location(*(coordinates[loc] if coordinates else (0.0, 0.0))) for loc in ticks.location
    ]
    prizes = _required_prizes(ticks, units)
    clients: list[Client] = []
    client_job: list[int] = []
    groups: list[ClientGroup] = []
    for position, job in enumerate(ticks.jobs):
        node = depots + position
        windows = ticks.windows[node] or ((0, ticks.horizon),)
        required = not job.optional and prizes is None
        if job.optional:
            prize = round(job.penalty * units)
        else:
            prize = prizes[position] if prizes is not None else 0
        group = None
        if len(windows) > 1:
            group = len(groups)
            groups.append(ClientGroup(required=required))
        for early, late in windows:
            clients.append(
                Client(
                    location=node,
                    delivery=list(ticks.demand[node]),
                    service_duration=ticks.service_ticks[node],
                    tw_early=early,
                    tw_late=late,
                    required=required and group is None,
                    prize=prize,
                    group=group,
                )
            )
            if group is not None:
                groups[group].add_client(len(clients) - 1)
            client_job.append(position)

    # A profile per set of capabilities that changes which jobs a vehicle may carry.
    profile_of: dict[tuple[int, ...], int] = {}
    vehicle_profile = []
    for v in range(len(ticks.vehicles)):
        barred = tuple(
            p for p, allowed in enumerate(ticks.allowed) if allowed is not None and v not in allowed
        )
        vehicle_profile.append(profile_of.setdefault(barred, len(profile_of)))
    distances = np.array(ticks.distance_ticks, dtype=np.int64)
    base = np.array(ticks.travel_ticks, dtype=np.int64)
    durations = []
    for barred in profile_of:
        matrix = base.copy()
        for p in barred:
            matrix[:, depots + p] = ticks.horizon + 1
            matrix[depots + p, depots + p] = 0  # PyVRP wants a zero diagonal
        durations.append(matrix)

    # Identical vehicles form one vehicle type; remember which vehicles each type stands for.
    types: dict[tuple, list[int]] = {}
    for v, vehicle in enumerate(ticks.vehicles):
        key = (
            ticks.start_node[v],
            ticks.end_node[v],
            ticks.capacity[v],
            ticks.shift[v],
            ticks.max_duration[v],
            round(vehicle.fixed_cost * units),
            round(vehicle.cost_per_distance * units / ticks.scale),
            round(vehicle.cost_per_time * units / ticks.scale),
            vehicle_profile[v],
        )
        types.setdefault(key, []).append(v)
    vehicle_types = [
        VehicleType(
            num_available=len(members),
            capacity=list(capacity),
            start_depot=start,
            end_depot=end,
            fixed_cost=fixed,
            tw_early=shift[0],
            tw_late=shift[1],
            shift_duration=max_duration,
            unit_distance_cost=per_distance,
            unit_duration_cost=per_time,
            profile=profile,
        )
        for (
            start,
            end,
            capacity,
            shift,
            max_duration,
            fixed,
            per_distance,
            per_time,
            profile,
        ), members in types.items()
    ]
    data = ProblemData(
        locations=locations,
        clients=clients,
        depots=[Depot(location=n) for n in range(depots)],
        vehicle_types=vehicle_types,
        distance_matrices=[distances] * len(durations),  # type: ignore[list-item]
        duration_matrices=durations,  # type: ignore[arg-type]
        groups=groups,
    )
    return data, client_job, list(types.values())

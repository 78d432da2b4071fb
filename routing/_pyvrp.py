"""PyVRP's hybrid search behind a plain interface (PyVRP objects never leave here).

PyVRP (Wouda, Lan & Kool, 2024) is a state-of-the-art solver for the problems it models:
one time window per job, no vehicle restrictions, costs proportional to distance (plus fixed
costs). ``fits`` says whether a problem is one of those; ``routing.vrp.solve`` then runs it
first and lets OR-Tools, which carries every constraint, polish and check the result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pyvrp import (
    Client,
    Depot,
    Location,
    ProblemData,
    VehicleType,
)
from pyvrp import solve as pyvrp_solve
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from routing._vrp_data import Ticks
from routing.vrp import COST_SCALE


def fits(ticks: Ticks, *, locked: bool) -> bool:
    """Whether PyVRP models this problem exactly."""
    return (
        not locked
        and len(set(ticks.cost_per_distance)) <= 1
        and all(c > 0 for c in ticks.cost_per_distance)
        and not any(ticks.span_cost)
        and all(len(w) <= 1 for w in ticks.windows)
        and all(a is None for a in ticks.allowed)
    )


def solve_routes(
    ticks: Ticks,
    *,
    time_limit_s: float,
    seed: int = 0,
    max_iterations: int | None = None,
    coordinates: Sequence[tuple[float, float]] | None = None,
    prizes: Sequence[int | None],
) -> list[list[int]] | None:
    """Routes per vehicle (job positions in ticks.jobs), or None without a feasible one.

    ``prizes`` per job: None for a required job, else its penalty in distance ticks.
    """
    depots = ticks.depot_count
    rate = ticks.cost_per_distance[0] if ticks.cost_per_distance else 1.0
    locations = [
        Location(*(coordinates[loc] if coordinates else (0.0, 0.0))) for loc in ticks.location
    ]
    depot_objects = [Depot(location=n) for n in range(depots)]
    clients = []
    for position, _job in enumerate(ticks.jobs):
        node = depots + position
        window = ticks.windows[node]
        prize = prizes[position]
        clients.append(
            Client(
                location=node,
                delivery=list(ticks.demand[node]),
                service_duration=ticks.service_ticks[node],
                tw_early=window[0][0] if window else 0,
                tw_late=window[0][1] if window else ticks.horizon,
                required=prize is None,
                prize=prize or 0,
            )
        )
    # Identical vehicles form one vehicle type; remember which vehicles each type stands for.
    types: dict[tuple, list[int]] = {}
    for v in range(len(ticks.start_node)):
        key = (
            ticks.start_node[v],
            ticks.end_node[v],
            ticks.capacity[v],
            ticks.shift[v],
            ticks.max_duration[v],
            ticks.fixed_cost[v],
        )
        types.setdefault(key, []).append(v)
    vehicle_types = [
        VehicleType(
            num_available=len(members),
            capacity=list(capacity),
            start_depot=start,
            end_depot=end,
            fixed_cost=round(fixed / COST_SCALE / rate * ticks.scale),
            tw_early=shift[0],
            tw_late=shift[1],
            shift_duration=max_duration,
        )
        for (start, end, capacity, shift, max_duration, fixed), members in types.items()
    ]
    data = ProblemData(
        locations=locations,
        clients=clients,
        depots=depot_objects,
        vehicle_types=vehicle_types,
        distance_matrices=[np.array(ticks.distance_ticks, dtype=np.int64)],  # type: ignore[list-item]
        duration_matrices=[np.array(ticks.travel_ticks, dtype=np.int64)],  # type: ignore[list-item]
    )
    stop: StoppingCriterion = MaxRuntime(time_limit_s)
    if max_iterations is not None:
        stop = MultipleCriteria([MaxIterations(max_iterations), MaxRuntime(time_limit_s)])
    result = pyvrp_solve(data, stop=stop, seed=seed, display=False)
    if not result.best.is_feasible():
        return None
    routes: list[list[int]] = [[] for _ in ticks.start_node]
    free = {t: list(members) for t, members in enumerate(types.values())}
    for route in result.best.routes():
        vehicle = free[route.vehicle_type()].pop(0)
        routes[vehicle] = [activity.idx for activity in route if activity.is_client()]
    return routes

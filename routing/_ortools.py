"""The OR-Tools routing solver behind a plain interface (OR-Tools objects never leave here)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing._vrp_data import Ticks
from routing.vrp import COST_SCALE

#: Distances go to the solver as whole millimetres.
SCALE = 1000
#: Less search time than this is not worth starting a search for (seconds).
MIN_SEARCH_S = 0.01


def shortest_path(
    matrix: Sequence[Sequence[float]],
    *,
    start: int,
    end: int,
    time_limit_s: float,
    solution_limit: int,
    initial_order: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """A short path from start through every other node to end (intermediate nodes only).

    Guided local search from the cheapest-arc first solution (or ``initial_order``, e.g. the
    best heuristic's). For the same input and ``solution_limit`` the answer is the same; the
    time limit is only a cap.
    """
    size = len(matrix)
    if size <= 2 or (size == 3 and start != end):
        return tuple(v for v in range(size) if v not in (start, end))
    manager = pywrapcp.RoutingIndexManager(size, 1, [start], [end])
    model = pywrapcp.RoutingModel(manager)
    scaled = [[round(d * SCALE) for d in row] for row in matrix]
    transit = model.RegisterTransitMatrix(scaled)
    model.SetArcCostEvaluatorOfAllVehicles(transit)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.solution_limit = max(1, solution_limit)
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))

    if initial_order is not None:
        model.CloseModelWithParameters(params)
        initial = model.ReadAssignmentFromRoutes([list(initial_order)], True)
        solution = model.SolveFromAssignmentWithParameters(initial, params)
    else:
        solution = model.SolveWithParameters(params)
    if solution is None:
        raise RuntimeError("OR-Tools found no path (it always should for a complete graph)")
    order = []
    index = model.Start(0)
    while not model.IsEnd(index):
        node = manager.IndexToNode(index)
        if node not in (start, end):
            order.append(node)
        index = solution.Value(model.NextVar(index))
    return tuple(order)


def solve_routes(
    ticks: Ticks,
    *,
    deadline: float,
    solution_limit: int | None = None,
    initial: Sequence[Sequence[int]] | None = None,
    locked: Sequence[Sequence[int]] | None = None,
) -> list[list[int]] | None:
    """Routes (per vehicle of ``ticks.vehicles``, job positions) by guided local search.

    Every constraint of the model is carried: capacity per dimension, time windows (several
    per job) with service and waiting, shifts, route duration, allowed vehicles, every job a
    disjunction with its penalty (``ticks.penalty``), fixed and per-distance/per-time costs.
    ``initial`` routes seed the search; ``locked`` routes are prefixes that stay as given.
    The search stops at ``deadline`` (a ``time.perf_counter()`` value, building the model
    included; with no time left the initial routes come back as they are), or
    deterministically after ``solution_limit`` solutions. None when no solution was found in
    time.
    """
    vehicles = len(ticks.vehicles)
    depots = ticks.depot_count
    manager = pywrapcp.RoutingIndexManager(
        ticks.size, vehicles, list(ticks.start_node), list(ticks.end_node)
    )
    model = pywrapcp.RoutingModel(manager)

    # Arc costs: one evaluator per distinct cost per distance.
    evaluators: dict[float, int] = {}
    for v in range(vehicles):
        rate = ticks.cost_per_distance[v]
        if rate not in evaluators:
            costs = [[round(rate * COST_SCALE * d) for d in row] for row in ticks.distance]
            evaluators[rate] = model.RegisterTransitMatrix(costs)
        model.SetArcCostEvaluatorOfVehicle(evaluators[rate], v)
        model.SetFixedCostOfVehicle(ticks.fixed_cost[v], v)

    for d in range(len(ticks.capacity[0])):
        demand = [ticks.demand[n][d] for n in range(ticks.size)]
        callback = model.RegisterUnaryTransitVector(demand)
        model.AddDimensionWithVehicleCapacity(
            callback, 0, [ticks.capacity[v][d] for v in range(vehicles)], True, f"load{d}"
        )

    transit = [
        [ticks.travel_ticks[a][b] + ticks.service_ticks[a] for b in range(ticks.size)]
        for a in range(ticks.size)
    ]
    time_callback = model.RegisterTransitMatrix(transit)
    model.AddDimension(time_callback, ticks.horizon, ticks.horizon, False, "time")
    clock = model.GetDimensionOrDie("time")
    for node in range(depots, ticks.size):
        windows = ticks.windows[node]
        if not windows:
            continue
        cumul = clock.CumulVar(manager.NodeToIndex(node))
        cumul.SetRange(windows[0][0], windows[-1][1])
        for (_, gap_start), (gap_end, _) in itertools.pairwise(windows):
            if gap_end - gap_start > 1:
                cumul.RemoveInterval(gap_start + 1, gap_end - 1)
    for v in range(vehicles):
        opens, closes = ticks.shift[v]
        clock.CumulVar(model.Start(v)).SetRange(opens, closes)
        clock.CumulVar(model.End(v)).SetRange(opens, closes)
        clock.SetSpanUpperBoundForVehicle(ticks.max_duration[v], v)
        if ticks.span_cost[v]:
            clock.SetSpanCostCoefficientForVehicle(ticks.span_cost[v], v)
    for v in range(vehicles):
        # Leave as late and come back as early as the route allows.
        model.AddVariableMaximizedByFinalizer(clock.CumulVar(model.Start(v)))
        model.AddVariableMinimizedByFinalizer(clock.CumulVar(model.End(v)))

    for position in range(len(ticks.jobs)):
        index = manager.NodeToIndex(depots + position)
        allowed = ticks.allowed[position]
        if allowed is not None:
            # SetAllowedVehiclesForIndex rejects every Python sequence in OR-Tools 9.15; the
            # vehicle variable's domain says the same (-1: the job left out).
            model.VehicleVar(index).SetValues([-1, *allowed])
        model.AddDisjunction([index], ticks.penalty[position])

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    if solution_limit is not None:
        params.solution_limit = max(1, solution_limit)
    left = deadline - time.perf_counter()
    if left < MIN_SEARCH_S and initial is not None and not locked:
        return [list(route) for route in initial]
    params.time_limit.FromMilliseconds(max(1, int(max(left, MIN_SEARCH_S) * 1000)))
    model.CloseModelWithParameters(params)

    def as_indexes(routes: Sequence[Sequence[int]]) -> list[list[int]]:
        return [[manager.NodeToIndex(depots + p) for p in route] for route in routes]

    if locked:
        model.ApplyLocksToAllVehicles(as_indexes(locked), False)
    solution = None
    if initial is not None:
        assignment = model.ReadAssignmentFromRoutes(as_indexes(initial), True)
        if assignment is not None:
            solution = model.SolveFromAssignmentWithParameters(assignment, params)
    if solution is None:
        solution = model.SolveWithParameters(params)
    if solution is None:
        return None
    routes = []
    for v in range(vehicles):
        route = []
        index = solution.Value(model.NextVar(model.Start(v)))
        while not model.IsEnd(index):
            route.append(manager.IndexToNode(index) - depots)
            index = solution.Value(model.NextVar(index))
        routes.append(route)
    return routes

"""The OR-Tools routing solver behind a plain interface (OR-Tools objects never leave here)."""

from __future__ import annotations

from collections.abc import Sequence

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

#: Distances go to the solver as whole millimetres.
SCALE = 1000


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

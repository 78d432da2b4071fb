"""The shortest walk through a pick list: exact where theory allows, OR-Tools elsewhere.

``plan_pick_path(layout, picks)`` is the entry point. Methods (``METHODS``):

``exact``
    The aisle-by-aisle dynamic programme of Ratliff & Rosenthal (1983) for one block and its
    extension by Roodbergen & de Koster (2001) for two blocks, written for any number of cross
    aisles and used up to three blocks (``routing.exact``), with a separate end point. Optimal;
    linear in the number of aisles. Refused (``NotApplicable``) beyond three blocks. Up to
    ``SMALL_EXACT`` distinct positions, Held-Karp on the shortest walks gives the same optimum
    faster (single orders, small pick lists).
``ortools``
    A path on the shortest-walk distance matrix by OR-Tools guided local search, seeded with
    the best heuristic's order and never returned worse than that seed. Deterministic for the
    same ``solution_limit`` when that limit, not the time limit, ends the search.
``s_shape``, ``return``, ``midpoint``, ``largest_gap``, ``combined``
    The classic heuristics in their multi-block forms (``routing.heuristics``), for comparison.
``auto``
    ``exact`` where it applies, otherwise ``ortools``. The result names the method that
    produced it.

Several picks at one position (same aisle, same ``y_m``; racks facing each other across the
aisle share a position) are visited together: their indexes appear consecutively in ``order``.
The length of a path is the sum of shortest walks between consecutive points (start, the
picks in order, end), so it always equals the length recomputed from ``order``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

from routing import exact, heuristics
from routing._ortools import shortest_path
from routing.layout import distance, distance_matrix, make_pick, walk
from routing.tsp import held_karp, path_length
from routing.types import FrontPoint, Layout, LayoutError, Pick, PickPath

HEURISTICS = ("s_shape", "return", "midpoint", "largest_gap", "combined")
METHODS = ("auto", "exact", "ortools", *HEURISTICS)

#: OR-Tools stops after this many solutions (determinism) unless the time limit comes first.
DEFAULT_SOLUTION_LIMIT = 2000
DEFAULT_TIME_LIMIT_S = 1.0
#: Up to this many distinct positions ``exact`` solves by Held-Karp on the shortest walks
#: (under a millisecond), beyond it by the aisle-by-aisle programme.
SMALL_EXACT = 7


class NotApplicable(ValueError):
    """The method asked for cannot solve this layout (``exact`` beyond three blocks)."""


def plan_pick_path(
    layout: Layout,
    picks: Sequence[Pick],
    *,
    start: FrontPoint | None = None,
    end: FrontPoint | None = None,
    method: str = "auto",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    solution_limit: int = DEFAULT_SOLUTION_LIMIT,
) -> PickPath:
    """Plan the walk from start (default: the layout's depot) through every pick to end.

    ``end`` defaults to the layout's end point. ``picks`` are validated against the layout
    (``PickError`` names the first bad one); an empty list is a zero-length path. ``method``
    is one of ``METHODS``; ``NotApplicable`` if ``exact`` is asked for where it does not
    apply. ``time_limit_s`` caps the whole call where OR-Tools runs (it gets what is left
    after the distance matrix and the heuristic seed); ``solution_limit`` stops OR-Tools
    deterministically.
    """
    began = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "exact" and not exact.applies(layout):
        raise NotApplicable(
            f"exact applies to layouts of 1 to {exact.MAX_BLOCKS} blocks; "
            f"this one has {layout.blocks} (use ortools or auto)"
        )
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise ValueError(f"time_limit_s must be a positive number of seconds, got {time_limit_s}")
    start = _front_point(layout, start, "start", layout.depot_x_m)
    end = _front_point(layout, end, "end", layout.end_x_m)
    checked = [make_pick(layout, p.aisle, p.y_m, index=i) for i, p in enumerate(picks)]
    if method == "auto":
        method = "exact" if exact.applies(layout) else "ortools"
    if not checked:
        return PickPath(order=(), length_m=0.0, method=method, walk=())

    # One node per distinct position, in order of first appearance; the members keep the
    # indexes of every pick at that position.
    members: dict[Pick, list[int]] = {}
    for index, pick in enumerate(checked):
        members.setdefault(pick, []).append(index)
    positions = list(members)

    if method == "exact" and len(positions) <= SMALL_EXACT:
        # As optimal, and faster for a few positions than the aisle-by-aisle programme.
        matrix = distance_matrix(layout, positions, start=start, end=end)
        nodes, _ = held_karp(matrix, start=0, end=len(matrix) - 1)
        visit = tuple(node - 1 for node in nodes)
    elif method == "exact":
        visit = exact.shortest_visit_order(layout, positions, start=start, end=end)
    elif method == "ortools":
        matrix = distance_matrix(layout, positions, start=start, end=end)
        seed = min(
            (heuristics.visit_order(name, layout, positions, start=start) for name in HEURISTICS),
            key=lambda order: _length(matrix, order),
        )
        left = time_limit_s - (time.perf_counter() - began)
        found = _ortools_order(matrix, seed, max(left, 0.001), solution_limit)
        # OR-Tools works in whole millimetres; never hand back worse than its seed in metres.
        visit = min((found, seed), key=lambda order: _length(matrix, order))
    else:
        visit = heuristics.visit_order(method, layout, positions, start=start)

    order = tuple(index for position in visit for index in members[positions[position]])
    points: list[Pick | FrontPoint] = [start, *(positions[p] for p in visit), end]
    length = sum(distance(layout, a, b) for a, b in itertools.pairwise(points))
    return PickPath(order=order, length_m=length, method=method, walk=_polyline(layout, points))


def path_in_order(
    layout: Layout,
    picks: Sequence[Pick],
    order: Sequence[int],
    *,
    start: FrontPoint | None = None,
    end: FrontPoint | None = None,
    method: str = "given",
) -> PickPath:
    """The walk through the picks in a given order (a stored pick list): length and polyline.

    ``order`` must list every index of ``picks`` once (ValueError otherwise).
    """
    if sorted(order) != list(range(len(picks))):
        raise ValueError("order must list every index of picks exactly once")
    start = _front_point(layout, start, "start", layout.depot_x_m)
    end = _front_point(layout, end, "end", layout.end_x_m)
    checked = [make_pick(layout, p.aisle, p.y_m, index=i) for i, p in enumerate(picks)]
    if not checked:
        return PickPath(order=(), length_m=0.0, method=method, walk=())
    points: list[Pick | FrontPoint] = [start, *(checked[i] for i in order), end]
    length = sum(distance(layout, a, b) for a, b in itertools.pairwise(points))
    return PickPath(tuple(order), length, method, _polyline(layout, points))


def _front_point(
    layout: Layout, point: FrontPoint | None, field: str, default: float
) -> FrontPoint:
    if point is None:
        return FrontPoint(default)
    last_x = layout.aisle_x(layout.aisles - 1)
    if not (math.isfinite(point.x_m) and 0.0 <= point.x_m <= last_x):
        raise LayoutError(
            f"{field}.x_m",
            f"must lie on the front cross aisle, between 0 and {last_x:g}, got {point.x_m!r}",
        )
    return point


def _length(matrix: Sequence[Sequence[float]], visit: Sequence[int]) -> float:
    """Length of start → positions in visit order → end (positions are matrix nodes 1..n)."""
    return path_length(matrix, [0, *(p + 1 for p in visit), len(matrix) - 1])


def _ortools_order(
    matrix: Sequence[Sequence[float]],
    seed: Sequence[int],
    time_limit_s: float,
    solution_limit: int,
) -> tuple[int, ...]:
    end = len(matrix) - 1
    nodes = shortest_path(
        matrix,
        start=0,
        end=end,
        time_limit_s=time_limit_s,
        solution_limit=solution_limit,
        initial_order=[p + 1 for p in seed],
    )
    return tuple(node - 1 for node in nodes)


def _polyline(
    layout: Layout, points: Sequence[Pick | FrontPoint]
) -> tuple[tuple[float, float], ...]:
    line: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(points):
        for corner in walk(layout, a, b):
            if not line or line[-1] != corner:
                line.append(corner)
    return tuple(line)

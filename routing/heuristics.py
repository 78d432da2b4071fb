"""The classic pick-path heuristics, in the multi-block forms of Roodbergen & de Koster (2001).

Each heuristic only decides the visiting order; the walk between consecutive picks is then the
shortest one, so its length is recomputed from the order like every other method's.

Blocks are numbered from the front (0). A pick on an interior cross aisle belongs to the block
behind it; a pick on the back cross aisle to the last block. A *sub-aisle* is one aisle inside
one block. The multi-block forms ("Routing methods for warehouses with multiple cross aisles",
IJPR 39(9), 2001) share one frame:

1. Go from the start to the *first pick aisle* (the aisle with picks nearest the start) and walk
   up it to the farthest block that holds picks, taking its picks in the blocks on the way.
2. Visit the blocks from the farthest to the front one. In each, the sub-aisles with picks are
   taken in a sweep from the end nearest the picker; the picker enters the farthest block from
   its front and every other block from its back, and leaves each block at its front.
3. Go back to the end point.

Per block:

``s_shape``
    Every sub-aisle is walked right through, alternately up and down; the last one is entered
    and left from the front when the picker is already there (the odd case).
``largest_gap``
    The first and the last sub-aisle of the sweep are walked through (the first only when the
    block is entered from the front); on the way out along the back cross aisle every other
    sub-aisle is entered from the back up to its largest gap, on the way back along the front
    cross aisle from the front. The gap is the largest distance between neighbouring picks,
    counting the block's two cross aisles as picks.
``midpoint``
    As ``largest_gap`` with the gap always at the middle of the block: picks in the back half
    are taken from the back, the rest from the front.
``combined``
    Each sub-aisle, in sweep order, is either walked through or entered and left from the side
    the picker is on, whichever makes the block's total vertical walk shortest (a two-state
    dynamic programme per block: picker at the front or at the back).
``return``
    The single-block form on the whole aisle: aisles in a sweep from the end nearest the start,
    each entered from the front cross aisle up to its farthest pick and left the same way.
    Interior cross aisles are not used by the heuristic itself.

Beside them, one construction for vehicle routes, the baseline a route planner is measured
against: ``nearest_neighbour`` (each vehicle in turn takes the nearest job it can still serve).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from routing import vrp
from routing.types import FrontPoint, Layout, Pick

Visit = list[int]  # indexes into the positions
Sub = list[tuple[float, int]]  # the (y, index) of one sub-aisle's picks, ascending


def visit_order(
    name: str, layout: Layout, positions: Sequence[Pick], *, start: FrontPoint
) -> tuple[int, ...]:
    """The visiting order (indexes into positions) the named heuristic walks."""
    if name == "return":
        return _return(layout, positions, start)
    try:
        visit_block = _BLOCK_VISITS[name]
    except KeyError:
        raise ValueError(f"unknown heuristic {name!r}") from None
    return _frame(layout, positions, start, visit_block)


def _block_of(layout: Layout, y: float) -> int:
    cross = layout.cross_aisles_m
    return min(max(b for b, c in enumerate(cross) if c <= y), layout.blocks - 1)


def _frame(
    layout: Layout,
    positions: Sequence[Pick],
    start: FrontPoint,
    visit_block: Callable[[list[Sub], bool, float, float], Visit],
) -> tuple[int, ...]:
    subs: dict[tuple[int, int], Sub] = defaultdict(list)  # (block, aisle) -> picks
    for index, pick in enumerate(positions):
        subs[(_block_of(layout, pick.y_m), pick.aisle)].append((pick.y_m, index))
    for members in subs.values():
        members.sort()
    if not subs:
        return ()
    farthest = max(block for block, _ in subs)
    aisles_with_picks = sorted({aisle for _, aisle in subs})
    first = min(aisles_with_picks, key=lambda a: (abs(layout.aisle_x(a) - start.x_m), a))

    order: Visit = []
    x = start.x_m
    if farthest > 0:
        for block in range(farthest):
            order.extend(index for _, index in subs.pop((block, first), []))
        x = layout.aisle_x(first)
    for block in range(farthest, -1, -1):
        aisles = sorted(aisle for b, aisle in subs if b == block)
        if not aisles:
            continue
        if abs(layout.aisle_x(aisles[-1]) - x) < abs(layout.aisle_x(aisles[0]) - x):
            aisles.reverse()
        front, back = layout.cross_aisles_m[block], layout.cross_aisles_m[block + 1]
        visited = visit_block([subs[(block, a)] for a in aisles], block == farthest, front, back)
        order.extend(visited)
        x = layout.aisle_x(positions[visited[-1]].aisle)
    return tuple(order)


def _up(sub: Sub) -> Visit:
    return [index for _, index in sub]


def _down(sub: Sub) -> Visit:
    return [index for _, index in reversed(sub)]


def _s_shape(sweep: list[Sub], from_front: bool, front: float, back: float) -> Visit:
    order: Visit = []
    at_front = from_front
    for sub in sweep[:-1]:
        order.extend(_up(sub) if at_front else _down(sub))
        at_front = not at_front
    # The last sub-aisle must bring the picker to the front: entered and left there, or
    # walked down from the back.
    order.extend(_up(sweep[-1]) if at_front else _down(sweep[-1]))
    return order


def _split_largest_gap(sub: Sub, front: float, back: float) -> tuple[Sub, Sub]:
    ys = [front, *(y for y, _ in sub), back]
    gaps = [ys[i + 1] - ys[i] for i in range(len(ys) - 1)]
    cut = gaps.index(max(gaps))  # picks before the cut are taken from the front
    return sub[:cut], sub[cut:]


def _split_midpoint(sub: Sub, front: float, back: float) -> tuple[Sub, Sub]:
    middle = (front + back) / 2
    return [p for p in sub if p[0] <= middle], [p for p in sub if p[0] > middle]


def _loop(split: Callable[[Sub, float, float], tuple[Sub, Sub]]) -> Callable[..., Visit]:
    def visit(sweep: list[Sub], from_front: bool, front: float, back: float) -> Visit:
        if len(sweep) == 1:
            return _up(sweep[0]) if from_front else _down(sweep[0])
        order: Visit = []
        inner = sweep[1:-1] if from_front else sweep[:-1]
        if from_front:
            order.extend(_up(sweep[0]))
        parts = [split(sub, front, back) for sub in inner]
        for _, from_back in parts:
            order.extend(_down(from_back))
        order.extend(_down(sweep[-1]))
        for from_front_part, _ in reversed(parts):
            order.extend(_up(from_front_part))
        return order

    return visit


def _combined(sweep: list[Sub], from_front: bool, front: float, back: float) -> Visit:
    length = back - front
    # best[side] = (vertical metres so far, choices); side True = picker at the front.
    best: dict[bool, tuple[float, list[tuple[bool, bool]]]] = {from_front: (0.0, [])}
    for sub in sweep:
        lowest, highest = sub[0][0], sub[-1][0]
        nxt: dict[bool, tuple[float, list[tuple[bool, bool]]]] = {}
        for side, (metres, choices) in sorted(best.items()):
            returned = 2 * ((highest - front) if side else (back - lowest))
            for new_side, cost, through in ((not side, length, True), (side, returned, False)):
                total = metres + cost
                if new_side not in nxt or total < nxt[new_side][0]:
                    nxt[new_side] = (total, [*choices, (side, through)])
        best = nxt
    order: Visit = []
    for sub, (side, _) in zip(sweep, best[True][1], strict=True):
        order.extend(_up(sub) if side else _down(sub))
    return order


def _return(layout: Layout, positions: Sequence[Pick], start: FrontPoint) -> tuple[int, ...]:
    aisles: dict[int, Sub] = defaultdict(list)
    for index, pick in enumerate(positions):
        aisles[pick.aisle].append((pick.y_m, index))
    sweep = sorted(aisles)
    if sweep and abs(layout.aisle_x(sweep[-1]) - start.x_m) < abs(
        layout.aisle_x(sweep[0]) - start.x_m
    ):
        sweep.reverse()
    return tuple(index for aisle in sweep for _, index in sorted(aisles[aisle]))


_BLOCK_VISITS: dict[str, Callable[[list[Sub], bool, float, float], Visit]] = {
    "s_shape": _s_shape,
    "largest_gap": _loop(_split_largest_gap),
    "midpoint": _loop(_split_midpoint),
    "combined": _combined,
}


# --- vehicle routes: nearest neighbour ------------------------------------------------------


def nearest_neighbour(problem: vrp.Problem) -> vrp.Solution:
    """Routes built one vehicle at a time, each taking the nearest job it can still serve.

    The vehicles go in the problem's order. Each leaves its depot and goes on to the nearest
    job no route serves yet (by ``problem.distances`` from where it is; ties by travel time,
    then by the job's place in the problem) that it may carry (its capabilities, the capacity
    left) and that keeps the route within every rule when appended (``vrp.route_violations``:
    windows, the shift, depot hours, the maximum duration); when no job fits, the next vehicle
    starts. Priorities, penalties and costs play no part. Jobs no route took come back in
    ``Solution.unassigned`` with the reason; every figure is recomputed by ``vrp.evaluate``
    (``engine="nearest_neighbour"``). Deterministic; bad input raises ``vrp.VrpError``.
    """
    vrp.validate(problem)
    depots = {depot.id: depot for depot in problem.depots}
    left = list(problem.jobs)
    routes: dict[str, list[str]] = {}
    for vehicle in problem.vehicles:
        stops: list[vrp.Job] = []
        load = [0] * len(problem.dimensions)
        place = depots[vehicle.depot].location
        while left:
            nearest = sorted(
                range(len(left)),
                key=lambda k: (
                    problem.distances[place][left[k].location],
                    problem.travel_time(place, left[k].location),
                    k,
                ),
            )
            chosen = next(
                (
                    k
                    for k in nearest
                    if left[k].requires <= vehicle.capabilities
                    and all(
                        have + more <= room
                        for have, more, room in zip(
                            load, left[k].demand, vehicle.capacity, strict=True
                        )
                    )
                    and not vrp.route_violations(problem, vehicle, [*stops, left[k]])
                ),
                None,
            )
            if chosen is None:
                break
            job = left.pop(chosen)
            stops.append(job)
            load = [have + more for have, more in zip(load, job.demand, strict=True)]
            place = job.location
        if stops:
            routes[vehicle.id] = [job.id for job in stops]
    return vrp.evaluate(problem, routes, engine="nearest_neighbour")

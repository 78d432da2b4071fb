"""Provably shortest pick paths on layouts of up to three blocks, linear in the number of aisles.

This is the dynamic programme of Ratliff & Rosenthal (1983, "Order-picking in a rectangular
warehouse: a solvable case of the travelling salesman problem") and its two-block extension by
Roodbergen & de Koster (2001, "Routing order pickers in a warehouse with a middle aisle"),
written once for any number of cross aisles (as Pansart, Catusse & Cambazard, 2018, "Exact
algorithms for the order picking problem", do) and extended to a separate end point.

The idea: an optimal walk, drawn on the aisle graph (aisle centre lines cut at the cross aisles,
and the cross aisles between neighbouring aisles), uses each edge at most twice, touches every
pick and the start and end, is connected, and has an even number of edge ends at every corner
except the start and the end, which have an odd number when they differ (an open Euler path).
Conversely every such edge multiset is walkable in one go (Hierholzer) at its total length. So
the programme chooses edge multiplicities column by column (aisle by aisle, left to right) and
remembers, for the corners of the current column only, their degree parity and which of them
are already joined (the "equivalence classes" of the papers: 7 for one block, 25 for two).
Within a sub-aisle (the stretch of an aisle between two cross aisles) only six choices can be
optimal: not entered; walked through once; walked through twice; entered from the bottom up to
its last pick and back; from the top down to its first pick and back; from both ends, leaving
its largest gap between neighbouring picks unwalked.

The number of states grows quickly with the cross aisles; the transitions between them are
cached (the same few recur in every column of every pick list): about 2, 4 and 20 ms for 100
picks in 12 aisles of one, two and three blocks, 200-350 ms for four (measured on one core;
see ``benchmarks/picking.py``). ``MAX_BLOCKS`` stops at three; beyond it ``routing.picking``
uses OR-Tools.

A depot or end point between two aisles becomes a column of its own with no aisle to walk.
Columns left of the first and right of the last place to visit are never needed.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from routing.types import FrontPoint, Layout, Pick

#: The largest number of blocks the programme is used for (its state grows with cross aisles).
MAX_BLOCKS = 3

# Ways to cover one sub-aisle (see the module docstring).
EMPTY, THROUGH, TWICE, FROM_BOTTOM, FROM_TOP, BOTH_ENDS = range(6)

# A state holds one code per corner of the current column: 0 when nothing has touched the
# corner yet, otherwise ``label * 2 + parity`` where corners with one label are joined.
State = tuple[int, ...]


def applies(layout: Layout) -> bool:
    """Whether the exact programme solves this layout (up to ``MAX_BLOCKS`` blocks)."""
    return layout.blocks <= MAX_BLOCKS


@dataclass(frozen=True, slots=True)
class _Column:
    x: float
    walkable: bool  # False for a depot or end point between aisles
    # per sub-aisle: the distinct y of the places to visit strictly inside it, ascending
    inner: tuple[tuple[float, ...], ...]
    required: tuple[bool, ...]  # per corner: a place to visit sits on it
    odd: tuple[bool, ...]  # per corner: it must end with odd degree (a distinct start or end)


def shortest_visit_order(
    layout: Layout, positions: Sequence[Pick], *, start: FrontPoint, end: FrontPoint
) -> tuple[int, ...]:
    """The visiting order (indexes into distinct positions) of a shortest walk start → end.

    Raises ValueError when the layout has more blocks than the programme handles.
    """
    if not applies(layout):
        raise ValueError(f"the exact programme handles up to {MAX_BLOCKS} blocks")
    cross = layout.cross_aisles_m
    corners = len(cross)
    aisle_of_x = {layout.aisle_x(a): a for a in range(layout.aisles)}

    # Where each position sits: on a corner (column x, cross aisle index) or inside a sub-aisle.
    on_corner: dict[tuple[float, int], list[int]] = defaultdict(list)
    inside: dict[tuple[float, int, float], list[int]] = defaultdict(list)
    for index, pick in enumerate(positions):
        x = layout.aisle_x(pick.aisle)
        if pick.y_m in cross:
            on_corner[(x, cross.index(pick.y_m))].append(index)
        else:
            sub = max(k for k, c in enumerate(cross) if c < pick.y_m)
            inside[(x, sub, pick.y_m)].append(index)

    if start.x_m == end.x_m and not inside and set(on_corner) <= {(start.x_m, 0)}:
        # Everything is at the start, which is also the end: nothing to walk.
        return tuple(i for members in on_corner.values() for i in members)

    wanted_x = {x for x, _ in on_corner} | {x for x, _, _ in inside} | {start.x_m, end.x_m}
    xs = sorted(set(aisle_of_x) | {start.x_m, end.x_m})
    xs = [x for x in xs if min(wanted_x) <= x <= max(wanted_x)]
    columns = []
    for x in xs:
        inner = tuple(
            tuple(sorted({y for (cx, s, y) in inside if cx == x and s == sub}))
            for sub in range(corners - 1)
        )
        required = tuple(
            (x, k) in on_corner or (k == 0 and x in (start.x_m, end.x_m)) for k in range(corners)
        )
        odd = tuple(k == 0 and start.x_m != end.x_m and x in (start.x_m, end.x_m)
                    for k in range(corners))  # fmt: skip
        columns.append(_Column(x, x in aisle_of_x, inner, required, odd))

    choices = _solve(columns, cross)
    graph = _edges(columns, cross, choices)
    route = _euler_path(graph, (columns_index(columns, start.x_m), 0))

    order: list[int] = []
    seen: set[int] = set()
    for node in route:
        if node[0] == "pick":
            _, ci, sub, y = node
            found = inside[(columns[ci].x, sub, y)]
        else:
            ci, k = node
            found = on_corner.get((columns[ci].x, k), [])
        for index in found:
            if index not in seen:
                seen.add(index)
                order.append(index)
    return tuple(order)


def columns_index(columns: Sequence[_Column], x: float) -> int:
    """The index of the column at x."""
    return next(i for i, column in enumerate(columns) if column.x == x)


# --- the programme ------------------------------------------------------------------------


def _normal(codes: Sequence[int]) -> State:
    """Renumber labels by first appearance, so equal situations are one state."""
    mapping: dict[int, int] = {}
    out = []
    for code in codes:
        if code == 0:
            out.append(0)
            continue
        label = mapping.setdefault(code >> 1, len(mapping) + 1)
        out.append(label << 1 | code & 1)
    return tuple(out)


def _sub_aisle_options(ys: tuple[float, ...], low: float, high: float) -> list[tuple[int, float]]:
    length = high - low
    if not ys:
        return [(EMPTY, 0.0), (THROUGH, length), (TWICE, 2 * length)]
    options = [
        (THROUGH, length),
        (TWICE, 2 * length),
        (FROM_BOTTOM, 2 * (ys[-1] - low)),
        (FROM_TOP, 2 * (high - ys[0])),
    ]
    if len(ys) > 1:
        gap = max(b - a for a, b in itertools.pairwise(ys))
        options.append((BOTH_ENDS, 2 * (length - gap)))
    return options


@functools.cache
def _cover(state: State, sub: int, kind: int) -> State:
    """The state after covering sub-aisle ``sub`` (corners sub and sub + 1) in one way."""
    if kind == EMPTY:
        return state
    codes = list(state)
    fresh = max((c >> 1 for c in codes), default=0) + 1
    touched = {
        THROUGH: (sub, sub + 1),
        TWICE: (sub, sub + 1),
        FROM_BOTTOM: (sub,),
        FROM_TOP: (sub + 1,),
        BOTH_ENDS: (sub, sub + 1),
    }[kind]
    for corner in touched:
        if codes[corner] == 0:
            codes[corner] = fresh << 1
            fresh += 1
    if kind == THROUGH:
        codes[sub] ^= 1
        codes[sub + 1] ^= 1
    if kind in (THROUGH, TWICE):
        keep, gone = codes[sub] >> 1, codes[sub + 1] >> 1
        if keep != gone:
            codes = [(keep << 1 | c & 1) if c and c >> 1 == gone else c for c in codes]
    return _normal(codes)


@functools.cache
def _cross(
    state: State, required_corners: tuple[bool, ...], odd_corners: tuple[bool, ...]
) -> tuple[tuple[State, tuple[int, ...], float], ...]:
    """Every way to leave a column along the cross aisles: (next state, multiplicities, cost).

    A pure function of small tuples, cached: the same few states recur in every column and
    every call, so after the first pick lists the programme mostly looks transitions up.
    """
    allowed = []
    for code, required, odd in zip(state, required_corners, odd_corners, strict=True):
        parity = code & 1
        options = [h for h in (0, 1, 2) if (parity + h) % 2 == odd]
        if required and code == 0:
            options = [h for h in options if h]
        allowed.append(options)
    labels = {c >> 1 for c in state if c}
    out = []
    for ups in itertools.product(*allowed):
        # Every group of joined corners must carry on to the right, where places remain.
        if any(all(not h for c, h in zip(state, ups, strict=True) if c >> 1 == lab)
               for lab in labels):  # fmt: skip
            continue
        fresh = len(labels) + 1
        codes = []
        for code, h in zip(state, ups, strict=True):
            if not h:
                codes.append(0)
            elif code:
                codes.append((code >> 1) << 1 | h & 1)
            else:
                codes.append(fresh << 1 | h & 1)
                fresh += 1
        out.append((_normal(codes), ups, float(sum(ups))))
    return tuple(out)


def _finished(state: State, column: _Column) -> bool:
    labels = {c >> 1 for c in state if c}
    if len(labels) != 1:
        return False
    return all(
        (code & 1) == odd and (code or not required)
        for code, required, odd in zip(state, column.required, column.odd, strict=True)
    )


Choice = tuple[tuple[int, ...], tuple[int, ...]]  # cross-aisle multiplicities in, sub-aisle ways
Step = tuple[int, ...] | int  # a column's cross-aisle multiplicities, or one sub-aisle's way


def _solve(columns: Sequence[_Column], cross: Sequence[float]) -> list[Choice]:
    """The cheapest choice per column: (multiplicities from the previous column, ways)."""
    corners = len(cross)
    # layer: state -> (cost, previous state, step taken); one layer per decision step.
    layers: list[dict[State, tuple[float, State | None, Step]]] = []
    current: dict[State, tuple[float, State | None, Step]] = {
        (0,) * corners: (0.0, None, (0,) * corners)
    }
    for ci, column in enumerate(columns):
        if ci:
            width = column.x - columns[ci - 1].x
            nxt: dict[State, tuple[float, State | None, Step]] = {}
            for state, (cost, _, _) in current.items():
                left = columns[ci - 1]
                for new, multiplicities, units in _cross(state, left.required, left.odd):
                    total = cost + units * width
                    if new not in nxt or total < nxt[new][0]:
                        nxt[new] = (total, state, multiplicities)
            layers.append(current)
            current = nxt
        for sub in range(corners - 1):
            options = (
                _sub_aisle_options(column.inner[sub], cross[sub], cross[sub + 1])
                if column.walkable
                else [(EMPTY, 0.0)]
            )
            nxt = {}
            for state, (cost, _, _) in current.items():
                for kind, extra in options:
                    new = _cover(state, sub, kind)
                    total = cost + extra
                    if new not in nxt or total < nxt[new][0]:
                        nxt[new] = (total, state, kind)
            layers.append(current)
            current = nxt
    finals = [(cost, state) for state, (cost, _, _) in current.items()
              if _finished(state, columns[-1])]  # fmt: skip
    if not finals:
        raise AssertionError("the exact programme found no walk; the layout model is broken")
    _, state = min(finals, key=lambda f: f[0])

    # Walk the layers back to read off the steps.
    steps: list[Step] = []
    layers.append(current)
    for layer in reversed(layers[1:]):
        _, previous, step = layer[state]
        steps.append(step)
        assert previous is not None
        state = previous
    steps.reverse()
    choices: list[Choice] = []
    per_column = corners - 1
    position = 0
    for ci in range(len(columns)):
        ups: Step = (0,) * corners
        if ci:
            ups = steps[position]
            position += 1
        ways = steps[position : position + per_column]
        position += per_column
        assert isinstance(ups, tuple) and all(isinstance(w, int) for w in ways)
        choices.append((ups, tuple(w for w in ways if isinstance(w, int))))
    return choices


# --- from edge multiplicities to a walk -----------------------------------------------------

Node = tuple  # (column, corner) or ("pick", column, sub-aisle, y)


def _edges(
    columns: Sequence[_Column], cross: Sequence[float], choices: Sequence[Choice]
) -> dict[Node, list[Node]]:
    graph: dict[Node, list[Node]] = defaultdict(list)

    def add(a: Node, b: Node, times: int) -> None:
        for _ in range(times):
            graph[a].append(b)
            graph[b].append(a)

    for ci, (ups, ways) in enumerate(choices):
        for k, times in enumerate(ups):
            add((ci - 1, k), (ci, k), times)
        for sub, kind in enumerate(ways):
            ys = columns[ci].inner[sub]
            chain: list[Node] = [(ci, sub), *(("pick", ci, sub, y) for y in ys), (ci, sub + 1)]
            links = list(itertools.pairwise(chain))
            if kind == THROUGH:
                for a, b in links:
                    add(a, b, 1)
            elif kind == TWICE:
                for a, b in links:
                    add(a, b, 2)
            elif kind == FROM_BOTTOM:
                for a, b in links[:-1]:
                    add(a, b, 2)
            elif kind == FROM_TOP:
                for a, b in links[1:]:
                    add(a, b, 2)
            elif kind == BOTH_ENDS:
                gaps = [b - a for a, b in itertools.pairwise(ys)]
                skip = 1 + gaps.index(max(gaps))  # the link (ys[i], ys[i+1]) is links[i+1]
                for i, (a, b) in enumerate(links):
                    if i != skip:
                        add(a, b, 2)
    return graph


def _euler_path(graph: dict[Node, list[Node]], start: Node) -> list[Node]:
    """Hierholzer's walk over every edge from start (ends at the other odd corner if any)."""
    remaining = {node: sorted(neighbours, key=repr) for node, neighbours in graph.items()}
    stack = [start]
    route: list[Node] = []
    while stack:
        node = stack[-1]
        if remaining.get(node):
            nxt = remaining[node].pop()
            remaining[nxt].remove(node)
            stack.append(nxt)
        else:
            route.append(stack.pop())
    route.reverse()
    return route

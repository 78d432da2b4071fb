"""The layout model: its JSON form, and shortest walks checked against a graph search."""

from __future__ import annotations

import heapq
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.layout import (
    distance,
    distance_matrix,
    layout_from_dict,
    make_pick,
    picks_from_list,
    walk,
)
from routing.types import FrontPoint, Layout, LayoutError, Pick, PickError

TWO_BLOCKS = {
    "aisles": 12,
    "aisle_pitch_m": 3.0,
    "aisle_length_m": 30.0,
    "cross_aisles_m": [0.0, 15.0, 30.0],
    "depot": {"x_m": 0.0},
    "end": {"x_m": 33.0},
}


# --- an independent reference: Dijkstra over the walkable graph -------------------------------


def graph_distance(layout: Layout, a, b) -> float:
    """Shortest path on the explicit graph of aisle and cross-aisle segments."""
    xs = [layout.aisle_x(i) for i in range(layout.aisles)]
    nodes: set[tuple[float, float]] = {(x, c) for x in xs for c in layout.cross_aisles_m}

    def where(p):
        return (p.x_m, 0.0) if isinstance(p, FrontPoint) else (layout.aisle_x(p.aisle), p.y_m)

    pa, pb = where(a), where(b)
    nodes |= {pa, pb}
    edges: dict[tuple[float, float], list[tuple[tuple[float, float], float]]] = {
        n: [] for n in nodes
    }
    for x in xs:  # along each aisle, between consecutive nodes on it
        column = sorted(n for n in nodes if n[0] == x)
        for (x1, y1), (x2, y2) in itertools.pairwise(column):
            edges[(x1, y1)].append(((x2, y2), y2 - y1))
            edges[(x2, y2)].append(((x1, y1), y2 - y1))
    for c in layout.cross_aisles_m:  # along each cross aisle, between consecutive nodes on it
        row = sorted(n for n in nodes if n[1] == c)
        for (x1, y1), (x2, y2) in itertools.pairwise(row):
            edges[(x1, y1)].append(((x2, y2), x2 - x1))
            edges[(x2, y2)].append(((x1, y1), x2 - x1))
    best = {pa: 0.0}
    queue = [(0.0, pa)]
    while queue:
        d, node = heapq.heappop(queue)
        if node == pb:
            return d
        if d > best.get(node, math.inf):
            continue
        for nxt, w in edges[node]:
            if d + w < best.get(nxt, math.inf):
                best[nxt] = d + w
                heapq.heappush(queue, (d + w, nxt))
    raise AssertionError("unreachable point")


@st.composite
def layouts(draw) -> Layout:
    aisles = draw(st.integers(1, 8))
    length = draw(st.sampled_from([10.0, 20.0, 30.0]))
    interior = draw(st.lists(st.sampled_from([2.5, 5.0, 7.5]), max_size=3, unique=True))
    cross = [0.0, *sorted(c * length / 10 for c in interior), length]
    pitch = draw(st.sampled_from([2.0, 3.0, 3.5]))
    last = (aisles - 1) * pitch
    depot = draw(st.floats(0, last)) if last else 0.0
    return layout_from_dict(
        {"aisles": aisles, "aisle_pitch_m": pitch, "aisle_length_m": length,
         "cross_aisles_m": cross, "depot": {"x_m": depot}}
    )  # fmt: skip


@st.composite
def points(draw, layout: Layout):
    if draw(st.booleans()) and layout.aisles:
        return FrontPoint(draw(st.floats(0, (layout.aisles - 1) * layout.aisle_pitch_m)))
    aisle = draw(st.integers(0, layout.aisles - 1))
    y = draw(st.one_of(st.sampled_from(layout.cross_aisles_m), st.floats(0, layout.aisle_length_m)))
    return Pick(aisle, y)


@given(data=st.data())
def test_the_shortest_walk_equals_a_search_of_the_aisle_graph(data):
    layout = data.draw(layouts())
    a, b = data.draw(points(layout)), data.draw(points(layout))
    assert distance(layout, a, b) == pytest.approx(graph_distance(layout, a, b), abs=1e-9)


@given(data=st.data())
def test_distance_is_a_metric(data):
    layout = data.draw(layouts())
    a, b, c = (data.draw(points(layout)) for _ in range(3))
    assert distance(layout, a, a) == 0
    assert distance(layout, a, b) == pytest.approx(distance(layout, b, a))
    assert distance(layout, a, c) <= distance(layout, a, b) + distance(layout, b, c) + 1e-9


@given(data=st.data())
def test_the_drawn_walk_is_as_long_as_the_distance_and_stays_on_walkways(data):
    layout = data.draw(layouts())
    a, b = data.draw(points(layout)), data.draw(points(layout))
    line = walk(layout, a, b)
    length = sum(abs(x2 - x1) + abs(y2 - y1) for (x1, y1), (x2, y2) in itertools.pairwise(line))
    assert length == pytest.approx(distance(layout, a, b))
    xs = {layout.aisle_x(i) for i in range(layout.aisles)}
    for (x1, y1), (x2, y2) in itertools.pairwise(line):
        # Every segment runs along an aisle (x fixed on an aisle) or along a cross aisle.
        assert (x1 == x2 and (x1 in xs or y1 == y2)) or (y1 == y2 and y1 in layout.cross_aisles_m)


def test_two_picks_in_neighbouring_aisles_meet_through_the_nearest_cross_aisle():
    layout = layout_from_dict(TWO_BLOCKS)
    # Both near the middle cross aisle (15 m): up 2 m, across 3 m, down 1 m.
    assert distance(layout, Pick(2, 13.0), Pick(3, 14.0)) == pytest.approx(2 + 3 + 1)
    # Same aisle: straight along it, whatever the blocks.
    assert distance(layout, Pick(4, 2.0), Pick(4, 28.0)) == pytest.approx(26.0)
    # From the depot at x = 0 to aisle 5 at 10 m: 15 m along the front, 10 m up.
    assert distance(layout, FrontPoint(0.0), Pick(5, 10.0)) == pytest.approx(25.0)


def test_the_matrix_starts_at_the_depot_and_ends_at_the_end_point():
    layout = layout_from_dict(TWO_BLOCKS)
    matrix = distance_matrix(layout, [Pick(1, 5.0), Pick(11, 25.0)])
    assert len(matrix) == 4
    assert matrix[0][3] == pytest.approx(33.0)  # depot x=0 to end x=33
    assert matrix[2][3] == pytest.approx(25.0)  # aisle 11 (x=33) at 25 m down to the end


def test_the_end_point_defaults_to_the_depot():
    layout = layout_from_dict({k: v for k, v in TWO_BLOCKS.items() if k != "end"})
    assert layout.end_x_m == layout.depot_x_m == 0.0
    assert layout.blocks == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cross_aisles_m": [0.0]}, "cross_aisles_m"),
        ({"cross_aisles_m": [0.0, 20.0, 15.0, 30.0]}, "cross_aisles_m"),
        ({"cross_aisles_m": [1.0, 30.0]}, "cross_aisles_m"),
        ({"cross_aisles_m": [0.0, 29.0]}, "cross_aisles_m"),
        ({"depot": {"x_m": 40.0}}, "depot.x_m"),
        ({"depot": {"x_m": -1.0}}, "depot.x_m"),
        ({"depot": {"x_m": 0.0, "y_m": 3.0}}, "depot"),
        ({"end": {"x_m": float("nan")}}, "end.x_m"),
        ({"aisle_pitch_m": float("inf")}, "aisle_pitch_m"),
        ({"aisle_length_m": 0}, "aisle_length_m"),
        ({"aisles": 0}, "aisles"),
        ({"aisles": 2.5}, "aisles"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_layout_that_cannot_be_walked_is_refused_naming_the_key(change, field):
    with pytest.raises(LayoutError) as refused:
        layout_from_dict({**TWO_BLOCKS, **change})
    assert refused.value.field == field
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "index"),
    [
        ([{"aisle": 12, "y_m": 1.0}], 0),
        ([{"aisle": 1, "y_m": 1.0}, {"aisle": -1, "y_m": 1.0}], 1),
        ([{"aisle": 1, "y_m": 30.5}], 0),
        ([{"aisle": 1, "y_m": float("nan")}], 0),
        ([{"aisle": 1, "y_m": 2.0, "side": "L"}], 0),
        ([{"aisle": 1}], 0),
        ([{"aisle": True, "y_m": 1.0}], 0),
    ],
)
def test_a_pick_outside_the_layout_is_refused_naming_the_pick(raw, index):
    layout = layout_from_dict(TWO_BLOCKS)
    with pytest.raises(PickError) as refused:
        picks_from_list(layout, raw)
    assert refused.value.index == index


def test_picks_on_a_cross_aisle_and_at_both_ends_are_allowed():
    layout = layout_from_dict(TWO_BLOCKS)
    picks = picks_from_list(layout, [{"aisle": 0, "y_m": 0}, {"aisle": 11, "y_m": 30.0},
                                     {"aisle": 5, "y_m": 15.0}])  # fmt: skip
    assert picks[2] == make_pick(layout, 5, 15.0)
    assert picks_from_list(layout, []) == ()

"""Pick paths: exact against Held-Karp, every method's invariants, and the heuristics' forms."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import exact
from routing.layout import distance, distance_matrix, layout_from_dict
from routing.picking import HEURISTICS, METHODS, NotApplicable, plan_pick_path
from routing.tsp import held_karp
from routing.types import FrontPoint, Layout, LayoutError, Pick, PickError, PickPath

PITCH = 3.0
LENGTH = 12.0


@st.composite
def layouts(draw: st.DrawFn, blocks: st.SearchStrategy[int] | None = None) -> Layout:
    """Small layouts: 1-6 aisles, random interior cross aisles, depot/end anywhere in front."""
    count = draw(st.integers(1, 3) if blocks is None else blocks)
    aisles = draw(st.integers(1, 6))
    interior = draw(
        st.lists(st.sampled_from([2.0, 4.5, 6.0, 7.5, 9.0]), min_size=count - 1,
                 max_size=count - 1, unique=True)
    )  # fmt: skip
    last_x = (aisles - 1) * PITCH
    front = st.one_of(
        st.sampled_from([i * PITCH for i in range(aisles)]),
        st.floats(0, last_x).map(lambda x: round(x, 1)),
    )
    depot = draw(front)
    end = draw(st.one_of(st.just(depot), front))
    return layout_from_dict(
        {"aisles": aisles, "aisle_pitch_m": PITCH, "aisle_length_m": LENGTH,
         "cross_aisles_m": [0.0, *sorted(interior), LENGTH], "depot": {"x_m": depot},
         "end": {"x_m": end}}
    )  # fmt: skip


@st.composite
def pick_lists(draw: st.DrawFn, layout: Layout, max_size: int = 9) -> list[Pick]:
    """Picks inside aisles, on cross aisles, and repeated (several items in one slot)."""
    y = st.one_of(
        st.sampled_from(layout.cross_aisles_m),
        st.floats(0, LENGTH).map(lambda v: round(v, 1)),
    )
    picks = draw(st.lists(st.builds(Pick, st.integers(0, layout.aisles - 1), y), max_size=max_size))
    if picks and draw(st.booleans()):
        picks.append(draw(st.sampled_from(picks)))
    return picks


def optimum(layout: Layout, picks: list[Pick]) -> float:
    positions = list(dict.fromkeys(picks))
    _, length = held_karp(distance_matrix(layout, positions), start=0, end=len(positions) + 1)
    return length


def programme_length(
    layout: Layout,
    picks: list[Pick],
    start: FrontPoint | None = None,
    end: FrontPoint | None = None,
) -> float:
    """The length of the aisle-by-aisle programme's own walk (plan_pick_path hands lists of a
    few positions to Held-Karp, so the programme is held to the optimum here directly)."""
    start = start or FrontPoint(layout.depot_x_m)
    end = end or FrontPoint(layout.end_x_m)
    positions = list(dict.fromkeys(picks))
    visit = exact.shortest_visit_order(layout, positions, start=start, end=end)
    assert sorted(visit) == list(range(len(positions)))
    points = [start, *(positions[i] for i in visit), end]
    return sum(distance(layout, a, b) for a, b in itertools.pairwise(points))


def recomputed(layout: Layout, picks: list[Pick], path: PickPath) -> float:
    points = [
        FrontPoint(layout.depot_x_m),
        *(picks[i] for i in path.order),
        FrontPoint(layout.end_x_m),
    ]
    return sum(distance(layout, a, b) for a, b in itertools.pairwise(points))


def polyline_length(path: PickPath) -> float:
    return sum(abs(x1 - x2) + abs(y1 - y2) for (x1, y1), (x2, y2) in itertools.pairwise(path.walk))


def assert_visits_every_pick_once(picks: list[Pick], path: PickPath) -> None:
    assert sorted(path.order) == list(range(len(picks)))
    # Picks at one position are visited together.
    seen: list[Pick] = []
    for index in path.order:
        if not seen or seen[-1] != picks[index]:
            assert picks[index] not in seen, f"{picks[index]} visited twice"
            seen.append(picks[index])


# --- exact is optimal ---------------------------------------------------------------------


@given(data=st.data(), layout=layouts())
def test_exact_equals_the_held_karp_optimum_on_one_to_three_blocks(data, layout):
    picks = data.draw(pick_lists(layout))
    path = plan_pick_path(layout, picks, method="exact")

    assert path.method == "exact"
    assert_visits_every_pick_once(picks, path)
    if picks:
        assert path.length_m == pytest.approx(optimum(layout, picks), abs=1e-6)
        assert programme_length(layout, picks) == pytest.approx(path.length_m, abs=1e-6)
        assert path.length_m == pytest.approx(recomputed(layout, picks, path), abs=1e-9)
        assert polyline_length(path) == pytest.approx(path.length_m, abs=1e-6)


@given(data=st.data(), layout=layouts(blocks=st.sampled_from([1, 2])))
def test_exact_is_optimal_with_a_separate_start_and_end_given_per_call(data, layout):
    picks = data.draw(pick_lists(layout, max_size=7))
    last_x = (layout.aisles - 1) * PITCH
    start = FrontPoint(data.draw(st.floats(0, last_x).map(lambda x: round(x, 1))))
    end = FrontPoint(data.draw(st.floats(0, last_x).map(lambda x: round(x, 1))))
    path = plan_pick_path(layout, picks, start=start, end=end, method="exact")
    if picks:
        positions = list(dict.fromkeys(picks))
        matrix = distance_matrix(layout, positions, start=start, end=end)
        _, best = held_karp(matrix, start=0, end=len(positions) + 1)
        assert path.length_m == pytest.approx(best, abs=1e-6)
        assert programme_length(layout, picks, start, end) == pytest.approx(best, abs=1e-6)
        assert path.walk[0] == (start.x_m, 0.0)
        assert path.walk[-1] == (end.x_m, 0.0)


def test_exact_finds_the_optimum_on_a_wide_two_block_warehouse():
    # 30 aisles, 40 picks: far beyond brute force, so check against the classic bound instead:
    # never longer than any heuristic, and the same length whichever way the picks are listed.
    layout = layout_from_dict(
        {"aisles": 30, "aisle_pitch_m": 2.5, "aisle_length_m": 40.0,
         "cross_aisles_m": [0.0, 20.0, 40.0], "depot": {"x_m": 37.5}}
    )  # fmt: skip
    picks = [Pick((i * 7) % 30, float((i * 13) % 41)) for i in range(40)]
    path = plan_pick_path(layout, picks, method="exact")
    backwards = plan_pick_path(layout, picks[::-1], method="exact")

    assert path.length_m == pytest.approx(backwards.length_m)
    for name in HEURISTICS:
        assert path.length_m <= plan_pick_path(layout, picks, method=name).length_m + 1e-9


# --- every method -------------------------------------------------------------------------


@given(data=st.data(), layout=layouts(blocks=st.integers(1, 4)))
def test_every_method_visits_every_pick_once_and_reports_its_true_length(data, layout):
    picks = data.draw(pick_lists(layout, max_size=8))
    for method in METHODS:
        if method == "exact" and layout.blocks > 3:
            continue
        path = plan_pick_path(layout, picks, method=method, solution_limit=50)
        assert_visits_every_pick_once(picks, path)
        if picks:
            assert path.length_m == pytest.approx(recomputed(layout, picks, path), abs=1e-9)


@given(data=st.data(), layout=layouts(blocks=st.integers(1, 4)))
def test_auto_is_never_longer_than_any_heuristic(data, layout):
    picks = data.draw(pick_lists(layout, max_size=8))
    auto = plan_pick_path(layout, picks, solution_limit=50)
    assert auto.method == ("exact" if layout.blocks <= 3 else "ortools")
    for name in HEURISTICS:
        assert auto.length_m <= plan_pick_path(layout, picks, method=name).length_m + 1e-9


def test_auto_falls_back_to_ortools_beyond_three_blocks_and_is_deterministic():
    layout = layout_from_dict(
        {"aisles": 8, "aisle_pitch_m": 3.0, "aisle_length_m": 40.0,
         "cross_aisles_m": [0.0, 10.0, 20.0, 30.0, 40.0], "depot": {"x_m": 0.0}}
    )  # fmt: skip
    picks = [Pick((i * 5) % 8, float((i * 17) % 40)) for i in range(25)]
    first = plan_pick_path(layout, picks, time_limit_s=30, solution_limit=40)
    second = plan_pick_path(layout, picks, time_limit_s=30, solution_limit=40)

    assert first.method == "ortools"
    assert first == second


def test_exact_is_refused_beyond_three_blocks():
    layout = layout_from_dict(
        {"aisles": 4, "aisle_pitch_m": 3.0, "aisle_length_m": 40.0,
         "cross_aisles_m": [0.0, 10.0, 20.0, 30.0, 40.0], "depot": {"x_m": 0.0}}
    )  # fmt: skip
    with pytest.raises(NotApplicable, match="has 4"):
        plan_pick_path(layout, [Pick(1, 5.0)], method="exact")


def test_an_empty_pick_list_is_a_zero_length_path():
    layout = layout_from_dict(
        {"aisles": 3, "aisle_pitch_m": 3.0, "aisle_length_m": 10.0,
         "cross_aisles_m": [0.0, 10.0], "depot": {"x_m": 0.0}, "end": {"x_m": 6.0}}
    )  # fmt: skip
    for method in METHODS:
        assert plan_pick_path(layout, [], method=method).length_m == 0.0


def test_picks_facing_each_other_and_repeated_picks_are_one_stop():
    layout = layout_from_dict(
        {"aisles": 3, "aisle_pitch_m": 3.0, "aisle_length_m": 10.0,
         "cross_aisles_m": [0.0, 10.0], "depot": {"x_m": 0.0}}
    )  # fmt: skip
    # Racks left and right of aisle 1 at 4 m map to the same pick position.
    picks = [Pick(1, 4.0), Pick(2, 9.0), Pick(1, 4.0), Pick(1, 4.0)]
    path = plan_pick_path(layout, picks)

    assert path.order in ((0, 2, 3, 1), (1, 0, 2, 3))  # one tour, either direction
    # front to 4 m in aisle 1, over the back to 9 m in aisle 2, down and back to the depot
    assert path.length_m == pytest.approx((3 + 4) + (6 + 3 + 1) + (9 + 6))


def test_bad_input_names_the_offending_pick_or_field():
    layout = layout_from_dict(
        {"aisles": 3, "aisle_pitch_m": 3.0, "aisle_length_m": 10.0,
         "cross_aisles_m": [0.0, 10.0], "depot": {"x_m": 0.0}}
    )  # fmt: skip
    with pytest.raises(PickError, match="pick 1: aisle"):
        plan_pick_path(layout, [Pick(0, 1.0), Pick(3, 1.0)])
    with pytest.raises(PickError, match="pick 0: y_m"):
        plan_pick_path(layout, [Pick(0, math.nan)])
    with pytest.raises(LayoutError, match=r"start\.x_m"):
        plan_pick_path(layout, [Pick(0, 1.0)], start=FrontPoint(7.0))
    with pytest.raises(ValueError, match="method"):
        plan_pick_path(layout, [Pick(0, 1.0)], method="fastest")
    with pytest.raises(ValueError, match="time_limit_s"):
        plan_pick_path(layout, [Pick(0, 1.0)], time_limit_s=0)


# --- the heuristics walk their documented forms ------------------------------------------

ONE_BLOCK = layout_from_dict(
    {"aisles": 5, "aisle_pitch_m": 3.0, "aisle_length_m": 10.0,
     "cross_aisles_m": [0.0, 10.0], "depot": {"x_m": 0.0}}
)  # fmt: skip
# aisle 0: 2 and 8 m; aisle 1: 6 and 9; aisle 3: 1, 3 and 5.5; aisle 4: 5
SPREAD = [Pick(3, 3.0), Pick(0, 8.0), Pick(1, 9.0), Pick(0, 2.0), Pick(4, 5.0), Pick(3, 1.0),
          Pick(1, 6.0), Pick(3, 5.5)]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # through aisles 0 (up), 1 (down), 3 (up), 4 (down)
        ("s_shape", (3, 1, 2, 6, 5, 0, 7, 4)),
        # every aisle from the front up to its farthest pick and back, left to right
        ("return", (3, 1, 6, 2, 5, 0, 7, 4)),
        # up aisle 0; aisle 1 from the back (its largest gap is below 6 m); down aisle 4;
        # aisle 3 from the front (largest gap above 5.5 m)
        ("largest_gap", (3, 1, 2, 6, 4, 5, 0, 7)),
        # the same loop split at 5 m: aisle 3's 5.5 m is taken from the back
        ("midpoint", (3, 1, 2, 6, 7, 4, 5, 0)),
    ],
)
def test_heuristics_on_one_block_follow_their_textbook_form(method, expected):
    assert plan_pick_path(ONE_BLOCK, SPREAD, method=method).order == expected


def test_combined_returns_from_the_back_where_s_shape_walks_through():
    # Aisle 2's picks sit near the back: after aisles 0 and 1, combined takes them from the
    # back cross aisle and walks down the last aisle; S-shape walks aisle 2 up from the front.
    picks = [Pick(0, 9.0), Pick(1, 9.0), Pick(2, 8.0), Pick(2, 9.0), Pick(3, 1.0)]
    combined = plan_pick_path(ONE_BLOCK, picks, method="combined")
    s_shape = plan_pick_path(ONE_BLOCK, picks, method="s_shape")

    assert combined.order == (0, 1, 3, 2, 4)
    assert s_shape.order == (0, 1, 2, 3, 4)
    assert (combined.length_m, s_shape.length_m) == pytest.approx((42.0, 44.0))


def test_multi_block_heuristics_go_up_the_first_pick_aisle_then_work_back_to_front():
    layout = layout_from_dict(
        {"aisles": 4, "aisle_pitch_m": 3.0, "aisle_length_m": 20.0,
         "cross_aisles_m": [0.0, 10.0, 20.0], "depot": {"x_m": 0.0}}
    )  # fmt: skip
    picks = [Pick(2, 4.0), Pick(1, 3.0), Pick(3, 15.0), Pick(1, 16.0), Pick(2, 18.0)]
    # Up aisle 1 taking 3 m, the back block (aisles 1, 2, 3) S-shaped, then the front block.
    assert plan_pick_path(layout, picks, method="s_shape").order == (1, 3, 4, 2, 0)

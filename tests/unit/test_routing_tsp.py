"""Exact small paths (Held-Karp) against brute force, and OR-Tools against Held-Karp."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing._ortools import shortest_path
from routing.layout import distance_matrix, layout_from_dict
from routing.tsp import held_karp, path_length
from routing.types import FrontPoint, Pick

TWO_BLOCKS = layout_from_dict(
    {"aisles": 10, "aisle_pitch_m": 3.0, "aisle_length_m": 20.0,
     "cross_aisles_m": [0.0, 10.0, 20.0], "depot": {"x_m": 0.0}, "end": {"x_m": 27.0}}
)  # fmt: skip


def pick_matrix(seed: int, picks: int, *, separate_end: bool) -> list[list[float]]:
    rng = random.Random(seed)
    chosen = [Pick(rng.randrange(10), round(rng.uniform(0, 20), 1)) for _ in range(picks)]
    end = FrontPoint(27.0) if separate_end else FrontPoint(0.0)
    return distance_matrix(TWO_BLOCKS, chosen, end=end)


def brute_force(matrix, start, end):
    middle = [v for v in range(len(matrix)) if v not in (start, end)]
    return min(path_length(matrix, [start, *p, end]) for p in itertools.permutations(middle))


@given(
    matrix=st.integers(2, 8).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(0, 50), min_size=n, max_size=n), min_size=n, max_size=n
        )
    ),
    tour=st.booleans(),
)
def test_held_karp_finds_the_shortest_path_brute_force_finds(matrix, tour):
    start, end = 0, (0 if tour else len(matrix) - 1)
    order, length = held_karp(matrix, start=start, end=end)
    assert sorted(order) == [v for v in range(len(matrix)) if v not in (start, end)]
    assert length == pytest.approx(path_length(matrix, [start, *order, end]))
    assert length == pytest.approx(brute_force(matrix, start, end))


@pytest.mark.parametrize("separate_end", [False, True])
@pytest.mark.parametrize("seed", range(15))
def test_ortools_finds_the_optimum_on_small_pick_lists(seed, separate_end):
    matrix = pick_matrix(seed, picks=3 + seed % 7, separate_end=separate_end)
    end = len(matrix) - 1
    _, optimum = held_karp(matrix, start=0, end=end)

    order = shortest_path(matrix, start=0, end=end, time_limit_s=1.0, solution_limit=300)

    assert sorted(order) == list(range(1, end))
    assert path_length(matrix, [0, *order, end]) == pytest.approx(optimum, abs=1e-6)


def test_ortools_is_deterministic_and_never_worse_than_its_starting_path():
    matrix = pick_matrix(99, picks=30, separate_end=True)
    end = len(matrix) - 1
    given_order = list(range(1, end))  # picks in list order: a poor start
    runs = {
        shortest_path(
            matrix,
            start=0,
            end=end,
            time_limit_s=5.0,
            solution_limit=200,
            initial_order=given_order,
        )
        for _ in range(2)
    }
    assert len(runs) == 1
    (order,) = runs
    assert sorted(order) == given_order
    assert path_length(matrix, [0, *order, end]) <= path_length(matrix, [0, *given_order, end])


def test_trivial_instances_need_no_solver():
    assert shortest_path([[0.0]], start=0, end=0, time_limit_s=1, solution_limit=1) == ()
    assert held_karp([[0.0, 2.0], [2.0, 0.0]], start=0, end=1) == ((), 2.0)
    assert held_karp([[0.0, 2.0], [2.0, 0.0]], start=0, end=0) == ((1,), 4.0)


def test_held_karp_refuses_instances_too_large_for_it():
    matrix = [[1.0] * 20 for _ in range(20)]
    with pytest.raises(ValueError, match="at most"):
        held_karp(matrix, start=0, end=0)

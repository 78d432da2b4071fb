"""The pick-path benchmark's core: one cell's runs, measured against exact's optimum."""

from __future__ import annotations

import pytest

from benchmarks.picking import (
    Cell,
    ReferenceCache,
    Summary,
    make_layout,
    pick_lists,
    run_cell,
    summarise,
    targets,
)
from routing.picking import HEURISTICS

FAST_METHODS = ("auto", "exact", *HEURISTICS)  # OR-Tools alone takes 0.2 s a list


def test_every_method_runs_on_every_list_and_none_beats_the_optimum():
    cell = Cell(make_layout(1), "uniform", 10, seed=1, lists=2)

    runs = run_cell(cell, methods=FAST_METHODS)

    assert sorted((r.index, r.method) for r in runs) == sorted(
        (index, method) for index in range(2) for method in FAST_METHODS
    )
    assert all(r.pct_above_best >= 0 for r in runs)
    assert all(r.pct_above_best == 0 for r in runs if r.method in ("auto", "exact"))


def test_exact_is_the_yardstick_on_two_blocks_even_when_not_asked_for():
    cell = Cell(make_layout(2), "front_skewed", 10, seed=1, lists=2)

    runs = run_cell(cell, methods=("s_shape", "largest_gap"))

    assert {r.method for r in runs} == {"s_shape", "largest_gap"}
    assert all(r.pct_above_best >= 0 for r in runs)


def test_three_blocks_run_exact_and_auto_is_optimal_there():
    cell = Cell(make_layout(3), "uniform", 10, seed=1, lists=2)

    runs = run_cell(cell, methods=FAST_METHODS)

    assert {r.method for r in runs} == set(FAST_METHODS)
    assert all(r.pct_above_best == 0 for r in runs if r.method in ("auto", "exact"))
    assert all(r.pct_above_best >= 0 for r in runs)


def test_ortools_and_references_run_only_on_the_first_lists():
    cell = Cell(make_layout(3), "uniform", 10, seed=1, lists=3)

    def reference(cell, index, picks):
        return 999.0, 12.5

    runs = run_cell(
        cell,
        methods=("ortools", "s_shape"),
        time_limit_s=0.05,
        ortools_lists=1,
        references={"ortools_10s": reference},
    )

    assert sorted((r.index, r.method) for r in runs) == [
        (0, "ortools"),
        (0, "ortools_10s"),
        (0, "s_shape"),
        (1, "s_shape"),
        (2, "s_shape"),
    ]
    (row,) = [r for r in runs if r.method == "ortools_10s"]
    assert (row.length_m, row.ms) == (999.0, 12.5)
    assert row.pct_above_best > 0
    assert {r.lists for r in summarise(runs)} == {1, 3}


def test_the_reference_is_cached_with_its_solve_time(tmp_path):
    cell = Cell(make_layout(3), "uniform", 10, seed=1, lists=1)
    (picks,) = pick_lists(cell.layout, cell.distribution, cell.size, seed=1, count=1)
    path = tmp_path / "reference.csv"

    first = ReferenceCache(path, time_limit_s=0.05)(cell, 0, picks)
    again = ReferenceCache(path, time_limit_s=0.05)

    length, ms = again(cell, 0, picks)
    assert length == first[0]
    assert ms == pytest.approx(first[1], abs=1)
    assert again.computed == 0
    assert again.method == "ortools_0.05s"


def test_pick_lists_are_reproducible_and_the_same_on_every_layout():
    first = pick_lists(make_layout(1), "front_skewed", 30, seed=7, count=3)

    assert pick_lists(make_layout(3), "front_skewed", 30, seed=7, count=3) == first
    assert pick_lists(make_layout(1), "front_skewed", 30, seed=8, count=3) != first
    assert pick_lists(make_layout(1), "front_skewed", 30, seed=7, count=1) == first[:1]


def test_the_optimality_target_is_met_when_auto_is_exact():
    runs = run_cell(Cell(make_layout(3), "uniform", 10, seed=1, lists=2), methods=FAST_METHODS)

    text, met = targets(summarise(runs))[0]

    assert text.startswith("auto 0.0 % above optimal on 3 block(s)")
    assert met is True


def test_targets_judge_100_picks_and_only_report_200():
    def auto(blocks, picks, p95_ms):
        return Summary(blocks, "uniform", picks, "auto", 100, 200.0, 0.0, 0.0, p95_ms, p95_ms)

    rows = [auto(2, 100, 60.0), auto(3, 100, 900.0), auto(3, 200, 1500.0)]

    assert targets(rows) == [
        ("auto 0.0 % above optimal on 2, 3 block(s): worst list 0.000 %", True),
        ("auto <= 1 % above best known on 3 blocks, per cell mean: worst cell 0.000 %", True),
        ("auto p95 <= 50 ms at 100 picks on 1-2 blocks: 60.0 ms", False),
        ("auto p95 <= 1000 ms at 100 picks on 3 blocks: 900.0 ms", True),
        ("auto p95 at 200 picks on 3 block(s): 1500.0 ms", None),
    ]

"""The VRP benchmark's core: one engine on one instance, its routes re-checked independently."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.vrp import (
    BestKnown,
    Outcome,
    Row,
    best_known,
    check_routes,
    find_instances,
    run_instance,
    targets,
)
from routing.instances import read_instance
from routing.vrp import TimeWindow

# Three vehicles of 30 at the origin, five customers of 10 on the axes. Two routes at least
# (capacity); the one reaching (30, 0) is at least 60 long, the one reaching (0, 20) at least
# 40, and both on one route costs more, so the optimum is 100: up the y axis and out along x.
TINY = """TINY

VEHICLE
NUMBER     CAPACITY
  3          30

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0       0          0          0          0       1000          0
    1       0         10         10          0       1000         10
    2       0         20         10          0       1000         10
    3      10          0         10          0       1000         10
    4      20          0         10          0       1000         10
    5      30          0         10          0       1000         10
"""
OPTIMUM = 100.0


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "TINY.txt"
    path.write_text(TINY, encoding="utf-8")
    return read_instance(path)


def _job_ids(instance, *customers):
    by_customer = dict(
        zip(instance.customer_ids, (j.id for j in instance.problem.jobs), strict=True)
    )
    return [by_customer[c] for c in customers]


def _routes(instance, *routes):
    vehicles = [v.id for v in instance.problem.vehicles]
    return {vehicles[k]: _job_ids(instance, *route) for k, route in enumerate(routes)}


def test_our_engine_on_a_tiny_instance_finds_the_optimum_and_the_row_says_so(tiny):
    best = BestKnown("TINY", "other", 5, OPTIMUM, 2)

    row = run_instance(tiny, engine="ours", time_limit_s=0.2, best=best)

    assert isinstance(row, Row)
    assert (row.instance, row.family, row.customers, row.engine) == ("TINY", "other", 5, "ours")
    assert (row.limit_s, row.seed, row.unassigned, row.problems) == (0.2, 0, 0, "")
    assert row.feasible
    assert row.vehicles == 2
    assert row.distance == pytest.approx(OPTIMUM)
    assert row.pct_above == pytest.approx(0.0, abs=1e-6)
    assert (row.best_distance, row.best_vehicles) == (OPTIMUM, 2)
    assert row.won_by in ("pyvrp", "pyvrp+ortools", "ortools")
    assert 0 < row.wall_s < 3


def test_the_checker_passes_the_optimal_routes(tiny):
    assert check_routes(tiny.problem, _routes(tiny, [1, 2], [3, 4, 5])) == []


@pytest.mark.parametrize(
    ("routes", "flagged"),
    [
        ([[1, 2], [3, 4]], "unserved"),
        ([[1, 2, 3], [3, 4, 5]], "more than once"),
        ([[1, 2, 3, 4], [5]], "over 30"),
    ],
    ids=["a customer left out", "a customer twice", "over capacity"],
)
def test_the_checker_flags_a_broken_route(tiny, routes, flagged):
    found = check_routes(tiny.problem, _routes(tiny, *routes))

    assert any(flagged in problem for problem in found), found


def test_the_checker_flags_a_missed_window_and_a_late_return(tiny):
    (far,) = _job_ids(tiny, 5)
    problem = tiny.problem
    jobs = tuple(
        dataclasses.replace(j, windows=(TimeWindow(0, 25),)) if j.id == far else j
        for j in problem.jobs
    )
    depot = dataclasses.replace(problem.depots[0], hours=TimeWindow(0, 50))
    tight = dataclasses.replace(problem, jobs=jobs, depots=(depot, *problem.depots[1:]))

    found = check_routes(tight, _routes(tiny, [1, 2], [3, 4, 5]))

    # (30, 0) is reached at 10 + 10 + 10 + 10 + 10 = 50 > 25; that route is back at 90 > 50.
    assert any("after its window closes" in p for p in found), found
    assert any("back at" in p for p in found), found


def test_a_broken_route_from_an_engine_makes_an_infeasible_row(tiny):
    def broken(instance, time_limit_s, seed):
        return Outcome(_routes(instance, [1, 2, 3, 4], [5]), 0, "broken")

    row = run_instance(tiny, engine="broken", time_limit_s=0.2, solvers={"broken": broken})

    assert not row.feasible
    assert "over 30" in row.problems
    assert row.pct_above is None  # no best known given


def test_solomon_is_measured_against_the_float_recomputation(tmp_path):
    (tmp_path / "bks.csv").write_text(
        "instance,family,customers,bks_vehicles,bks_distance,source\n"
        "C101,C1,100,10,827.3,lit\nX-n101-k25,X,100,26,27591,cvrplib\n"
    )
    (tmp_path / "solomon_bks_recomputed.csv").write_text(
        "instance,vehicles,literature,recomputed_truncated,tw_violations_truncated,"
        "recomputed_float,tw_violations_float\nC101,10,827.3,827.3,0,828.9369,0\n"
    )

    known = best_known(tmp_path)

    assert known["C101"].distance == 828.9369
    assert known["C101"].family == "C1"
    assert known["X-n101-k25"].distance == 27591


def test_instances_are_chosen_by_pattern_in_family_order(tmp_path):
    (tmp_path / "solomon").mkdir()
    (tmp_path / "cvrplib").mkdir()
    for name in ("solomon/R101.txt", "solomon/C101.txt", "solomon/R201.txt", "cvrplib/X-n1.vrp"):
        (tmp_path / name).write_text("")

    assert [p.stem for p in find_instances(tmp_path, ["r*", "c101", "x-*"])] == [
        "C101",
        "R101",
        "R201",
        "X-n1",
    ]
    with pytest.raises(ValueError, match="Q9"):
        find_instances(tmp_path, ["Q9"])


def _row(instance, family, *, engine="ours", feasible=True, pct=0.5, limit=2.0):
    return Row(
        instance, family, 100, engine, limit, 0, feasible, 0, 10, 1.0, 1.0, 10, pct, 2.0, "", ""
    )


def test_a_set_target_is_judged_only_on_the_whole_set_but_failed_on_any_part():
    sizes = {"C1": 2}
    part = [_row("C101", "C1")]
    whole = [*part, _row("C102", "C1")]
    broken = [_row("C101", "C1", feasible=False)]

    def verdict(rows, starts):
        return next(v for text, v in targets(rows, sizes) if text.startswith(starts))

    assert verdict(part, "2 s: feasible") is None
    assert verdict(whole, "2 s: feasible") is True
    assert verdict(broken, "2 s: feasible") is False
    assert verdict(whole, "2 s: mean over") is True  # 0.5 % <= 2.5 %
    assert verdict(whole, "never worse than VROOM") is None  # VROOM did not run


def _vroom_verdict(rows, sizes):
    (verdict,) = [v for text, v in targets(rows, sizes) if "VROOM" in text]
    return verdict


def test_a_family_where_vroom_does_better_on_average_fails_the_vroom_target():
    sizes = {"C1": 1, "R1": 1}
    ours = [_row("C101", "C1", pct=0.2), _row("R101", "R1", pct=1.0)]
    vroom = [_row("C101", "C1", engine="vroom", pct=0.5)]

    worse_on_r1 = _vroom_verdict(
        [*ours, *vroom, _row("R101", "R1", engine="vroom", pct=0.9)], sizes
    )
    better = _vroom_verdict([*ours, *vroom, _row("R101", "R1", engine="vroom", pct=1.5)], sizes)

    assert (worse_on_r1, better) == (False, True)

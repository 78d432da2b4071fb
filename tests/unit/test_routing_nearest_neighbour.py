"""The nearest-neighbour construction: each vehicle in turn takes the nearest job that fits."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from routing.heuristics import nearest_neighbour
from routing.vrp import (
    NO_CAPABLE_VEHICLE,
    Depot,
    Job,
    Problem,
    TimeWindow,
    Vehicle,
    VrpError,
    evaluate,
    violations,
)


def _line(positions: list[float], vehicles: list[Vehicle], **changes: dict) -> Problem:
    """A depot at 0 and a job of one unit at each position on a line (``j1``, ``j2``, ...);
    distance and travel time are ``|a - b|``. ``changes`` per job id: fields to replace."""
    points = [0.0, *positions]
    jobs = tuple(
        dataclasses.replace(Job(id=f"j{n}", location=n, demand=(1,)), **changes.get(f"j{n}", {}))
        for n in range(1, len(points))
    )
    return Problem(
        depots=(Depot("D", 0),),
        vehicles=tuple(vehicles),
        jobs=jobs,
        distances=tuple(tuple(abs(a - b) for b in points) for a in points),
        dimensions=("units",),
    )


def _van(name: str = "v1", capacity: int = 10, **changes) -> Vehicle:
    return Vehicle(id=name, depot="D", capacity=(capacity,), **changes)


def _routes(solution) -> dict[str, list[str]]:
    return {r.vehicle: [v.job for v in r.visits] for r in solution.routes}


def test_a_vehicle_goes_to_the_nearest_job_each_time():
    problem = _line([5, 1, -2, 3], [_van()])

    solution = nearest_neighbour(problem)

    # From 0: 1 (j2) is nearest, then 3 (j4), then 5 (j1), then -2 (j3).
    assert _routes(solution) == {"v1": ["j2", "j4", "j1", "j3"]}
    assert solution.engine == "nearest_neighbour"
    assert solution.unassigned == ()
    assert solution.distance == pytest.approx(1 + 2 + 2 + 7 + 2)


def test_a_full_vehicle_hands_over_to_the_next_one():
    problem = _line([1, 2, 3, 4], [_van("small", capacity=2), _van("big", capacity=10)])

    assert _routes(nearest_neighbour(problem)) == {"small": ["j1", "j2"], "big": ["j3", "j4"]}


def test_a_job_goes_only_to_a_vehicle_with_its_capabilities():
    problem = _line(
        [1, 2, 3],
        [_van("ambient"), _van("freezer", capabilities=frozenset({"frozen"}))],
        j1={"requires": frozenset({"frozen"})},
    )

    assert _routes(nearest_neighbour(problem)) == {"ambient": ["j2", "j3"], "freezer": ["j1"]}


def test_the_nearest_job_is_passed_over_when_its_window_has_closed():
    # After j1 (at 1, one unit of service) it is 2: j2 (at 3, by 3) would be reached at 4, so
    # the first vehicle goes on to j3 (at 4) and leaves j2 to the second. No look-ahead.
    problem = _line(
        [1, 3, 4],
        [_van("v1"), _van("v2")],
        j1={"service_time": 1.0},
        j2={"windows": (TimeWindow(0, 3),)},
    )

    solution = nearest_neighbour(problem)

    assert _routes(solution) == {"v1": ["j1", "j3"], "v2": ["j2"]}
    assert violations(problem, _routes(solution)) == []


def test_a_job_no_vehicle_can_carry_comes_back_unassigned_with_the_reason():
    problem = _line([1, 2], [_van()], j2={"requires": frozenset({"frozen"})})

    solution = nearest_neighbour(problem)

    assert _routes(solution) == {"v1": ["j1"]}
    assert [(u.job, u.reason) for u in solution.unassigned] == [("j2", NO_CAPABLE_VEHICLE)]


def test_the_shift_end_closes_a_route():
    # Back at the depot by 10: out to 3 and back is 6, one more unit out and back is 8 ...
    problem = _line([1, 2, 3, 4, 5], [_van(shift=TimeWindow(0, 10))])

    solution = nearest_neighbour(problem)

    assert _routes(solution) == {"v1": ["j1", "j2", "j3", "j4", "j5"]}  # out to 5, back: 10
    shorter = _line([1, 2, 3, 4, 5], [_van(shift=TimeWindow(0, 9))])
    assert _routes(nearest_neighbour(shorter)) == {"v1": ["j1", "j2", "j3", "j4"]}


def test_bad_input_is_refused_naming_the_culprit():
    problem = _line([1], [_van(capacity=0)])

    with pytest.raises(VrpError, match="job j1 demand"):
        nearest_neighbour(problem)


@pytest.mark.parametrize("seed", range(8))
def test_random_problems_get_feasible_routes_serving_each_job_at_most_once(seed: int):
    rng = random.Random(seed)
    points = [(0.0, 0.0)] + [(rng.uniform(-50, 50), rng.uniform(-50, 50)) for _ in range(30)]
    grid = tuple(tuple(math.dist(a, b) for b in points) for a in points)
    jobs = tuple(
        Job(
            id=f"j{n}",
            location=n,
            demand=(rng.randint(1, 4), rng.randint(0, 900)),
            service_time=5.0,
            windows=(TimeWindow(start := rng.uniform(0, 150), start + rng.uniform(20, 80)),),
            requires=frozenset({"chilled"}) if rng.random() < 0.3 else frozenset(),
        )
        for n in range(1, len(points))
    )
    vehicles = tuple(
        Vehicle(
            id=f"v{k}",
            depot="D",
            capacity=(10, 2500),
            shift=TimeWindow(0, 300),
            capabilities=frozenset({"chilled"}) if k % 2 else frozenset(),
        )
        for k in range(4)
    )
    problem = Problem(
        depots=(Depot("D", 0),),
        vehicles=vehicles,
        jobs=jobs,
        distances=grid,
        dimensions=("totes", "grams"),
    )

    solution = nearest_neighbour(problem)
    routes = _routes(solution)

    assert violations(problem, routes) == []
    served = [job for stops in routes.values() for job in stops]
    assert len(served) == len(set(served))
    assert sorted(served + [u.job for u in solution.unassigned]) == sorted(j.id for j in jobs)
    assert solution.distance == pytest.approx(evaluate(problem, routes, engine="x").distance)
    assert nearest_neighbour(problem) == solution  # deterministic

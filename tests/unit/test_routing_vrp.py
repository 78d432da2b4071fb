"""Vehicle routes (routing.vrp): an independent checker on random problems, brute force on tiny
ones, locked prefixes, the reasons jobs are left out, and refusals of bad input.

The checker below recomputes every route from the problem alone; it shares no code with
``routing.vrp.evaluate``. Distances are Euclidean rounded to 0.01 (one tick at the default
``time_scale`` of 100) and times are whole numbers, so the solvers' integer model is exact and
optima can be compared to 1e-6.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.vrp import (
    DROPPED_FOR_COST,
    INF,
    NO_CAPABLE_VEHICLE,
    NO_ROOM,
    OVER_CAPACITY,
    WINDOW_UNREACHABLE,
    Depot,
    Job,
    Problem,
    Solution,
    TimeWindow,
    Vehicle,
    VrpError,
    solve,
    violations,
)

TOL = 1e-6
LIMIT_S = 0.5  # per solve of a random problem; OR-Tools searches until it, whatever the size
QUICK_S = 0.2  # per solve of a hand-made one of two to seven jobs
REASONS = {NO_CAPABLE_VEHICLE, WINDOW_UNREACHABLE, OVER_CAPACITY, NO_ROOM, DROPPED_FOR_COST}
FEW = settings(max_examples=15, deadline=None)


# --- the independent checker ----------------------------------------------------------------


def travel(problem: Problem, a: int, b: int) -> float:
    matrix = problem.durations if problem.durations is not None else problem.distances
    return matrix[a][b]


def earliest_service(job: Job, arrival: float) -> float | None:
    """The earliest time at or after arrival inside one of the job's windows (None: too late)."""
    if not job.windows:
        return arrival
    starts = [max(arrival, w.start) for w in job.windows if max(arrival, w.start) <= w.end + TOL]
    return min(starts, default=None)


def solo_feasible(problem: Problem, vehicle: Vehicle, job: Job) -> bool:
    """Whether the vehicle could serve just this job within every rule."""
    depots = {d.id: d for d in problem.depots}
    start, end = depots[vehicle.depot], depots[vehicle.end_depot or vehicle.depot]
    leave = max(vehicle.shift.start, start.hours.start)
    begin = earliest_service(job, leave + travel(problem, start.location, job.location))
    if begin is None or not job.requires <= vehicle.capabilities:
        return False
    back = begin + job.service_time + travel(problem, job.location, end.location)
    shortest = (
        travel(problem, start.location, job.location)
        + job.service_time
        + travel(problem, job.location, end.location)
    )
    return (
        back <= min(vehicle.shift.end, end.hours.end) + TOL
        and shortest <= vehicle.max_duration + TOL
        and all(d <= c for d, c in zip(job.demand, vehicle.capacity, strict=True))
    )


def check(problem: Problem, solution: Solution) -> None:
    """Recompute every route from the problem and assert each rule and each reported figure."""
    jobs = {j.id: j for j in problem.jobs}
    depots = {d.id: d for d in problem.depots}
    vehicles = {v.id: v for v in problem.vehicles}
    served: list[str] = []
    total_distance = total_cost = 0.0
    assert len({r.vehicle for r in solution.routes}) == len(solution.routes), "a vehicle twice"
    for route in solution.routes:
        vehicle = vehicles[route.vehicle]
        start = depots[vehicle.depot]
        end = depots[vehicle.end_depot or vehicle.depot]
        where = f"route of {vehicle.id}"
        assert route.visits, f"{where} is empty but reported"
        assert route.departure >= vehicle.shift.start - TOL, f"{where} leaves before the shift"
        assert route.departure >= start.hours.start - TOL, f"{where} leaves before the depot opens"

        now, place, distance = route.departure, start.location, 0.0
        on_board = [
            sum(jobs[v.job].demand[d] for v in route.visits) for d in range(len(problem.dimensions))
        ]
        for d, (load, capacity) in enumerate(zip(on_board, vehicle.capacity, strict=True)):
            assert load <= capacity, f"{where} carries {load} > {capacity} {problem.dimensions[d]}"
        for visit in route.visits:
            job = jobs[visit.job]
            assert job.requires <= vehicle.capabilities, f"{job.id} needs {set(job.requires)}"
            arrival = now + travel(problem, place, job.location)
            distance += problem.distances[place][job.location]
            begin = earliest_service(job, arrival)
            assert begin is not None, f"{job.id}: arrives at {arrival}, after all its windows"
            assert visit.arrival == pytest.approx(arrival, abs=TOL), job.id
            assert visit.start == pytest.approx(begin, abs=TOL), job.id
            assert visit.wait == pytest.approx(begin - arrival, abs=TOL), job.id
            assert visit.departure == pytest.approx(begin + job.service_time, abs=TOL), job.id
            assert visit.load == tuple(on_board), job.id
            on_board = [have - drop for have, drop in zip(on_board, job.demand, strict=True)]
            now, place = begin + job.service_time, job.location
            served.append(job.id)
        back = now + travel(problem, place, end.location)
        distance += problem.distances[place][end.location]
        closing = min(vehicle.shift.end, end.hours.end)
        assert back <= closing + TOL, f"{where} is back at {back}, after {closing}"
        assert back - route.departure <= vehicle.max_duration + TOL, f"{where} is too long"
        assert route.return_time == pytest.approx(back, abs=TOL), where
        assert route.duration == pytest.approx(back - route.departure, abs=TOL), where
        assert route.distance == pytest.approx(distance, abs=TOL), where
        cost = (
            vehicle.fixed_cost
            + vehicle.cost_per_distance * distance
            + vehicle.cost_per_time * (back - route.departure)
        )
        assert route.cost == pytest.approx(cost, abs=TOL), where
        total_distance += distance
        total_cost += cost

    left_out = [u.job for u in solution.unassigned]
    counts = Counter(served + left_out)
    assert counts == Counter(list(jobs)), f"served or left out other than once: {counts}"
    for u in solution.unassigned:
        job = jobs[u.job]
        assert u.reason in REASONS, u
        capable = [v for v in problem.vehicles if job.requires <= v.capabilities]
        assert (u.reason == NO_CAPABLE_VEHICLE) == (not capable), u
        if u.reason == WINDOW_UNREACHABLE:
            assert not any(solo_feasible(problem, v, job) for v in capable), u
        if u.reason == DROPPED_FOR_COST:
            assert job.optional, u
    penalties = sum(jobs[j].penalty for j in left_out if jobs[j].optional)
    assert solution.distance == pytest.approx(total_distance, abs=TOL)
    assert solution.cost == pytest.approx(total_cost + penalties, abs=TOL)


def plan(solution: Solution) -> dict[str, list[str]]:
    return {r.vehicle: [v.job for v in r.visits] for r in solution.routes}


def euclidean(points: list[tuple[float, float]]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(round(math.dist(a, b), 2) for b in points) for a in points)


def make_problem(
    points: list[tuple[float, float]],
    jobs: tuple[Job, ...],
    *,
    vehicles: tuple[Vehicle, ...] = (Vehicle("van", "DC"),),
    dimensions: tuple[str, ...] = (),
) -> Problem:
    """One depot ``DC`` at the first point; jobs name the other points by index."""
    return Problem(
        depots=(Depot("DC", 0),),
        vehicles=vehicles,
        jobs=jobs,
        distances=euclidean(points),
        dimensions=dimensions,
    )


# --- random problems --------------------------------------------------------------------------

CAPABILITIES = ("chilled", "frozen")


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    max_jobs: int = 7,
    max_vehicles: int = 3,
    restricted_vehicles: bool = True,
    one_window: bool = False,
    required_only: bool = False,
    distance_cost_only: bool = False,
    priorities: bool = True,
    unlimited_duration: bool = False,
) -> Problem:
    """Small problems over random points; every feature drawn unless switched off.

    Vehicles' capabilities are drawn per vehicle, so some jobs ride on some vehicles only;
    ``restricted_vehicles=False`` gives the whole fleet one set. A depot may be one no vehicle
    starts or ends at.
    """
    n_depots = draw(st.integers(1, 2))
    n_jobs = draw(st.integers(1, max_jobs))
    n_vehicles = draw(st.integers(1, max_vehicles))
    dimensions = ("totes", "kg")[: draw(st.integers(1, 2))]
    coordinate = st.integers(0, 100)
    points = draw(
        st.lists(
            st.tuples(coordinate, coordinate),
            min_size=n_depots + n_jobs,
            max_size=n_depots + n_jobs,
        )
    )
    distances = euclidean(points)
    durations = None
    if not distance_cost_only and draw(st.booleans()):
        slow = draw(st.sampled_from([0.5, 1.5]))
        durations = tuple(tuple(round(d * slow, 2) for d in row) for row in distances)

    depots = tuple(
        Depot(f"D{i}", i, TimeWindow(draw(st.integers(0, 20)), draw(st.sampled_from([INF, 700]))))
        for i in range(n_depots)
    )
    depot_id = st.sampled_from([d.id for d in depots])
    fleet_capabilities = draw(st.frozensets(st.sampled_from(CAPABILITIES)))
    vehicles = []
    for i in range(n_vehicles):
        shift_start = draw(st.integers(0, 50))
        vehicles.append(
            Vehicle(
                id=f"V{i}",
                depot=draw(depot_id),
                end_depot=draw(st.none() | depot_id),
                capacity=tuple(draw(st.integers(3, 20)) for _ in dimensions),
                shift=TimeWindow(
                    shift_start, draw(st.sampled_from([INF, shift_start + 300, shift_start + 500]))
                ),
                max_duration=(
                    INF
                    if distance_cost_only or unlimited_duration
                    else draw(st.sampled_from([INF, 250, 400]))
                ),
                fixed_cost=0.0 if distance_cost_only else draw(st.sampled_from([0.0, 20.0])),
                cost_per_distance=1.0 if distance_cost_only else draw(st.sampled_from([1.0, 2.0])),
                cost_per_time=0.0 if distance_cost_only else draw(st.sampled_from([0.0, 0.5])),
                capabilities=(
                    draw(st.frozensets(st.sampled_from(CAPABILITIES)))
                    if restricted_vehicles
                    else fleet_capabilities
                ),
            )
        )
    jobs = []
    for k in range(n_jobs):
        carrier = draw(st.sampled_from(vehicles))  # demand fits at least this one
        windows = []
        for _ in range(draw(st.integers(0, 1 if one_window else 3))):
            opens = draw(st.integers(0, 300))
            windows.append(TimeWindow(opens, opens + draw(st.integers(5, 200))))
        optional = not required_only and draw(st.booleans())
        jobs.append(
            Job(
                id=f"J{k}",
                location=n_depots + k,
                demand=tuple(draw(st.integers(0, c)) for c in carrier.capacity),
                service_time=draw(st.integers(0, 20)),
                windows=tuple(windows),
                requires=draw(st.frozensets(st.sampled_from(CAPABILITIES), max_size=1)),
                priority=draw(st.integers(0, 2)) if priorities else 0,
                optional=optional,
                penalty=draw(st.integers(0, 300)) if optional else 0.0,
            )
        )
    return Problem(
        depots=depots,
        vehicles=tuple(vehicles),
        jobs=tuple(jobs),
        distances=distances,
        durations=durations,
        dimensions=dimensions,
    )


@FEW
@given(problem=problems(one_window=True), engine=st.sampled_from(["auto", "ortools"]))
def test_every_route_on_a_random_problem_passes_the_independent_checker(problem, engine):
    solution = solve(problem, time_limit_s=LIMIT_S, engine=engine)

    check(problem, solution)
    if engine == "ortools":
        assert solution.engine in ("ortools", "none")  # none: no job any vehicle can serve
    if solution.engine == "none":
        assert not solution.routes


@FEW
@given(problem=problems(), engine=st.sampled_from(["auto", "ortools"]))
def test_random_problems_with_several_windows_per_job_pass_the_checker(problem, engine):
    solution = solve(problem, time_limit_s=LIMIT_S, engine=engine)

    check(problem, solution)


def some_job_needs_a_choice(problem: Problem) -> bool:
    """Whether some job can ride on some vehicles but not on all."""
    return any(
        len({job.requires <= v.capabilities for v in problem.vehicles}) == 2 for job in problem.jobs
    )


@FEW
@given(
    problem=problems().filter(some_job_needs_a_choice), engine=st.sampled_from(["auto", "ortools"])
)
def test_jobs_only_some_vehicles_can_carry_ride_on_those_vehicles(problem, engine):
    solution = solve(problem, time_limit_s=LIMIT_S, engine=engine)

    check(problem, solution)


@pytest.mark.parametrize("engine", ["auto", "ortools", "pyvrp"])
def test_a_frozen_job_rides_on_the_frozen_van(engine):
    # The dry van is cheaper: only the rule keeps the ice off it.
    problem = make_problem(
        [(0, 0), (10, 0), (-10, 0)],
        (Job("ice", 1, requires=frozenset({"frozen"})), Job("bread", 2)),
        vehicles=(
            Vehicle("dry", "DC", cost_per_distance=1.0),
            Vehicle("cold", "DC", cost_per_distance=3.0, capabilities=frozenset({"frozen"})),
        ),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    assert plan(solution) == {"cold": ["ice"], "dry": ["bread"]}


@pytest.mark.parametrize("engine", ["auto", "ortools", "pyvrp"])
def test_a_job_whose_morning_window_cannot_be_met_is_served_in_its_evening_one(engine):
    # "split" (10 away) opens 0-5 and 70-80; "late" (30 away) only 25-35. Only late first,
    # then split waiting for its evening window, keeps every window.
    problem = make_problem(
        [(0, 0), (10, 0), (30, 0)],
        (
            Job("split", 1, windows=(TimeWindow(70, 80), TimeWindow(0, 5))),
            Job("late", 2, windows=(TimeWindow(25, 35),)),
        ),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    assert plan(solution) == {"van": ["late", "split"]}
    (route,) = solution.routes
    assert route.visits[1].start == pytest.approx(70.0)


@pytest.mark.parametrize("engine", ["auto", "ortools", "pyvrp"])
def test_a_window_too_busy_for_the_fleet_serves_as_many_as_fit_the_higher_priorities_first(
    engine,
):
    # Two jobs east and two west of the depot, all wanted between 10 and 12: the van keeps
    # the windows of one side only. Every job fits the van alone, so none is refused up
    # front; the west pair has priority and is the one to serve.
    window = (TimeWindow(10, 12),)
    problem = make_problem(
        [(0, 0), (10, 0), (12, 0), (-10, 0), (-12, 0)],
        (
            Job("east1", 1, windows=window),
            Job("east2", 2, windows=window),
            Job("west1", 3, windows=window, priority=1),
            Job("west2", 4, windows=window, priority=1),
        ),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    assert plan(solution) == {"van": ["west1", "west2"]}
    assert {u.job: u.reason for u in solution.unassigned} == {"east1": NO_ROOM, "east2": NO_ROOM}


def test_pyvrp_alone_is_refused_for_locked_routes():
    problem = make_problem([(0, 0), (10, 0)], (Job("a", 1),))
    with pytest.raises(VrpError) as refused:
        solve(problem, time_limit_s=QUICK_S, engine="pyvrp", locked={"van": ["a"]})
    assert refused.value.field == "engine"


@settings(max_examples=5, deadline=None)
@given(problem=problems(one_window=True))
def test_problems_with_a_cost_per_time_pass_the_checker(problem):
    problem = replace(
        problem, vehicles=tuple(replace(v, cost_per_time=0.25) for v in problem.vehicles)
    )
    solution = solve(problem, time_limit_s=LIMIT_S, engine="auto")

    check(problem, solution)


# --- brute force on tiny problems -----------------------------------------------------------


def route_distance(problem: Problem, vehicle: Vehicle, stops: tuple[Job, ...]) -> float | None:
    """The distance of this route leaving as early as allowed, or None if it breaks a rule."""
    depots = {d.id: d for d in problem.depots}
    start, end = depots[vehicle.depot], depots[vehicle.end_depot or vehicle.depot]
    for d, capacity in enumerate(vehicle.capacity):
        if sum(job.demand[d] for job in stops) > capacity:
            return None
    now = max(vehicle.shift.start, start.hours.start)
    place, distance = start.location, 0.0
    for job in stops:
        if not job.requires <= vehicle.capabilities:
            return None
        begin = earliest_service(job, now + travel(problem, place, job.location))
        if begin is None:
            return None
        distance += problem.distances[place][job.location]
        now, place = begin + job.service_time, job.location
    if now + travel(problem, place, end.location) > min(vehicle.shift.end, end.hours.end) + TOL:
        return None
    return distance + problem.distances[place][end.location]


def brute_force(problem: Problem) -> tuple[int, float]:
    """(jobs left out, distance) of the best plan: every split of the jobs, every order."""
    n = len(problem.jobs)
    best_route = []  # per vehicle: job subset -> shortest feasible route through it
    for vehicle in problem.vehicles:
        table = {frozenset(): 0.0}
        for size in range(1, n + 1):
            for subset in itertools.combinations(range(n), size):
                lengths = [
                    route_distance(problem, vehicle, tuple(problem.jobs[i] for i in order))
                    for order in itertools.permutations(subset)
                ]
                feasible = [length for length in lengths if length is not None]
                if feasible:
                    table[frozenset(subset)] = min(feasible)
        best_route.append(table)
    best = (n + 1, INF)
    fleet = len(problem.vehicles)
    for owner in itertools.product(range(fleet + 1), repeat=n):  # owner == fleet: left out
        subsets = [frozenset(i for i in range(n) if owner[i] == v) for v in range(fleet)]
        if all(s in table for s, table in zip(subsets, best_route, strict=True)):
            distance = sum(table[s] for s, table in zip(subsets, best_route, strict=True))
            best = min(best, (owner.count(fleet), distance))
    return best


# All priorities equal: the optimum leaves out the fewest jobs, then drives the least.
TINY = problems(
    max_jobs=6,
    max_vehicles=2,
    one_window=True,
    required_only=True,
    distance_cost_only=True,
    priorities=False,
)


@FEW
@given(problem=TINY)
def test_tiny_problems_are_solved_to_the_brute_force_optimum(problem):
    left_out, optimum = brute_force(problem)
    for engine in ("auto", "ortools"):
        solution = solve(problem, time_limit_s=LIMIT_S, engine=engine)

        check(problem, solution)
        assert len(solution.unassigned) == left_out, engine
        assert solution.cost == pytest.approx(optimum, abs=TOL), engine


# --- locked prefixes --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_a_locked_prefix_stays_as_given_while_jobs_come_and_go(seed):
    rng = random.Random(seed)
    points = [(50, 50)] + [(rng.randint(0, 100), rng.randint(0, 100)) for _ in range(8)]
    jobs = tuple(Job(f"J{k}", k, demand=(1,)) for k in range(1, 8))
    vans = (Vehicle("A", "DC", capacity=(4,)), Vehicle("B", "DC", capacity=(4,)))
    problem = make_problem(points, jobs, vehicles=vans, dimensions=("totes",))
    first = plan(solve(problem, time_limit_s=QUICK_S))
    van, route = max(first.items(), key=lambda item: len(item[1]))
    other = "B" if van == "A" else "A"
    # Not the solver's own order: the lock must hold against the search, not agree with it.
    locked = {van: [route[1], route[0]], other: [route[-1]]}
    removed = next(j for j in jobs if j.id not in {*locked[van], *locked[other]})
    replanned = replace(
        problem, jobs=(*(j for j in jobs if j is not removed), Job("NEW", 8, demand=(1,)))
    )

    solution = solve(replanned, time_limit_s=QUICK_S, locked=locked)

    check(replanned, solution)
    routes = plan(solution)
    assert routes[van][:2] == locked[van]
    assert routes[other][:1] == locked[other]
    assert "NEW" in routes[van] + routes[other]
    assert removed.id not in routes[van] + routes[other]
    assert not solution.unassigned


@pytest.mark.parametrize(
    "jobs",
    [
        (Job("a", 1, demand=(1,)), Job("b", 2, demand=(1,))),  # two totes on a one-tote van
        (Job("a", 1, demand=(0,), windows=(TimeWindow(0, 5),)), Job("b", 2, demand=(0,))),
    ],
    ids=["over_capacity", "window_missed"],
)
def test_a_lock_the_rules_cannot_keep_is_refused_naming_the_lock(jobs):
    problem = make_problem(
        [(0, 0), (26, 0), (5, 0)],
        jobs,
        vehicles=(Vehicle("van", "DC", capacity=(1,)),),
        dimensions=("totes",),
    )
    with pytest.raises(VrpError) as refused:
        solve(problem, time_limit_s=QUICK_S, locked={"van": ["b", "a"]})
    assert refused.value.field == "locked van"


# --- why jobs are left out ----------------------------------------------------------------------


def reasons(solution: Solution) -> dict[str, str]:
    return {u.job: u.reason for u in solution.unassigned}


def test_a_frozen_job_without_a_frozen_van_is_left_out_for_want_of_a_capable_vehicle():
    problem = make_problem(
        [(0, 0), (10, 0), (0, 10)],
        (Job("ice", 1, requires=frozenset({"frozen"})), Job("bread", 2)),
        vehicles=(Vehicle("dry", "DC", capabilities=frozenset({"chilled"})),),
    )
    solution = solve(problem, time_limit_s=QUICK_S)

    check(problem, solution)
    assert reasons(solution) == {"ice": NO_CAPABLE_VEHICLE}
    assert plan(solution) == {"dry": ["bread"]}


def test_a_window_that_closes_before_any_van_can_arrive_is_unreachable():
    problem = make_problem(
        [(0, 0), (30, 0), (0, 10)],
        (Job("early", 1, windows=(TimeWindow(0, 20),)), Job("late", 2)),
        vehicles=(Vehicle("van", "DC"), Vehicle("bike", "DC", shift=TimeWindow(5, 500))),
    )
    solution = solve(problem, time_limit_s=QUICK_S)

    check(problem, solution)
    assert reasons(solution) == {"early": WINDOW_UNREACHABLE}


def test_an_optional_job_far_away_with_a_small_penalty_is_dropped_for_cost():
    problem = make_problem(
        [(0, 0), (500, 0), (0, 10)],
        (Job("far", 1, optional=True, penalty=1.0), Job("near", 2, optional=True, penalty=100.0)),
    )
    solution = solve(problem, time_limit_s=QUICK_S)

    check(problem, solution)
    assert reasons(solution) == {"far": DROPPED_FOR_COST}
    assert plan(solution) == {"van": ["near"]}
    assert solution.cost == pytest.approx(20.0 + 1.0)


@pytest.mark.parametrize("engine", ["auto", "ortools"])
def test_more_demand_than_the_fleet_carries_drops_the_fewest_lowest_priority_jobs(engine):
    jobs = tuple(Job(f"J{k}", k, demand=(3,), priority=k % 2) for k in range(1, 5))
    vans = (Vehicle("A", "DC", capacity=(5,)), Vehicle("B", "DC", capacity=(5,)))
    problem = make_problem([(0, 0), (10, 0), (0, 10), (-10, 0), (0, -10)], jobs, vehicles=vans)
    problem = replace(problem, dimensions=("totes",))

    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    left_out = reasons(solution)
    assert set(left_out.values()) == {OVER_CAPACITY}
    assert len(left_out) == 2  # 4 x 3 totes on two 5-tote vans: one job each
    assert all(int(j[1:]) % 2 == 0 for j in left_out)  # the priority-0 ones


def test_a_job_that_fits_alone_but_not_beside_the_others_is_left_out_for_no_room():
    problem = make_problem(
        [(0, 0), (50, 0), (-50, 0)],
        (
            Job("east", 1, windows=(TimeWindow(50, 50),)),
            Job("west", 2, windows=(TimeWindow(50, 50),)),
        ),
    )
    solution = solve(problem, time_limit_s=QUICK_S)

    check(problem, solution)
    assert list(reasons(solution).values()) == [NO_ROOM]


# --- capacity in several dimensions, fixed costs --------------------------------------------


@pytest.mark.parametrize("engine", ["auto", "ortools"])
def test_every_dimension_of_capacity_is_respected(engine):
    # 4 totes fit one van, but 160 kg do not: weight must split the jobs two and two.
    jobs = tuple(Job(f"J{k}", k, demand=(1, 40)) for k in range(1, 5))
    vans = tuple(Vehicle(v, "DC", capacity=(10, 100)) for v in ("A", "B"))
    problem = make_problem(
        [(0, 0), (10, 0), (11, 0), (12, 0), (13, 0)],
        jobs,
        vehicles=vans,
        dimensions=("totes", "kg"),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    assert not solution.unassigned
    assert sorted(len(r.visits) for r in solution.routes) == [2, 2]
    assert all(r.visits[0].load[1] == 80 for r in solution.routes)


@pytest.mark.parametrize(("fixed_cost", "vans_used"), [(0.0, 2), (5.0, 1)])
def test_a_fixed_cost_per_van_makes_one_slightly_longer_route_cheaper_than_two(
    fixed_cost, vans_used
):
    # Depot between two jobs: out and back to each is 40, one trip through both is 41.
    distances = ((0, 10, 10), (10, 0, 21), (10, 21, 0))
    problem = Problem(
        depots=(Depot("DC", 0),),
        vehicles=tuple(Vehicle(v, "DC", fixed_cost=fixed_cost) for v in ("A", "B")),
        jobs=(Job("east", 1), Job("west", 2)),
        distances=distances,
    )
    solution = solve(problem, time_limit_s=QUICK_S)

    check(problem, solution)
    assert len(solution.routes) == vans_used
    assert solution.cost == pytest.approx(min(40 + 2 * fixed_cost, 41 + fixed_cost))


# --- determinism ----------------------------------------------------------------------------


def seven_drops(seed: int = 7) -> Problem:
    rng = random.Random(seed)
    points = [(rng.randint(0, 100), rng.randint(0, 100)) for _ in range(8)]
    jobs = tuple(
        Job(
            f"J{k}", k, demand=(rng.randint(1, 4),), windows=(TimeWindow(rng.randint(0, 150), 400),)
        )
        for k in range(1, 8)
    )
    vans = tuple(Vehicle(v, "DC", capacity=(10,)) for v in ("A", "B"))
    return make_problem(points, jobs, vehicles=vans, dimensions=("totes",))


@pytest.mark.parametrize("engine", ["auto", "ortools", "pyvrp"])
def test_the_same_problem_and_iteration_limit_give_the_same_routes(engine):
    problem = seven_drops()
    runs = [solve(problem, time_limit_s=5.0, max_iterations=200, engine=engine) for _ in range(2)]

    for solution in runs:
        check(problem, solution)
    assert plan(runs[0]) == plan(runs[1])
    assert runs[0].engine == runs[1].engine


def test_an_iteration_limit_ends_the_run_long_before_the_time_limit():
    # A minute's cap, met only if some engine ignored its iteration limit.
    started = time.perf_counter()
    solve(seven_drops(), time_limit_s=60.0, max_iterations=200, engine="auto")

    assert time.perf_counter() - started < 30.0


# --- bad input ------------------------------------------------------------------------------

BASE = Problem(
    depots=(Depot("DC", 0),),
    vehicles=(Vehicle("van", "DC", capacity=(10,)),),
    jobs=(Job("a", 1, demand=(2,)), Job("b", 2, demand=(3,))),
    distances=((0, 10, 10), (10, 0, 14), (10, 14, 0)),
    dimensions=("totes",),
)


def with_job_a(**changes: object) -> Problem:
    return replace(BASE, jobs=(replace(BASE.jobs[0], **changes), BASE.jobs[1]))


def with_van(**changes: object) -> Problem:
    return replace(BASE, vehicles=(replace(BASE.vehicles[0], **changes),))


def with_distance(i: int, j: int, value: float) -> Problem:
    rows = [list(row) for row in BASE.distances]
    rows[i][j] = value
    return replace(BASE, distances=tuple(tuple(row) for row in rows))


BAD = {
    "negative demand": (with_job_a(demand=(-1,)), "job a demand"),
    "demand of the wrong length": (with_job_a(demand=(1, 2)), "job a demand"),
    "demand no vehicle can carry": (with_job_a(demand=(11,)), "job a demand"),
    "negative service time": (with_job_a(service_time=-5.0), "job a service_time"),
    "service time not a number": (with_job_a(service_time=math.nan), "job a service_time"),
    "window ending before it starts": (
        with_job_a(windows=(TimeWindow(0, 100), TimeWindow(50, 40))),
        "job a window 1",
    ),
    "negative penalty": (with_job_a(optional=True, penalty=-1.0), "job a penalty"),
    "location off the matrix": (with_job_a(location=3), "job a"),
    "duplicate job id": (replace(BASE, jobs=(BASE.jobs[0], BASE.jobs[0])), "job a"),
    "matrix not square": (
        replace(BASE, distances=((0, 10, 10), (10, 0), (10, 14, 0))),
        "distances",
    ),
    "negative distance": (with_distance(1, 2, -1.0), "distances[1][2]"),
    "infinite distance": (with_distance(0, 1, math.inf), "distances[0][1]"),
    "distance not a number": (with_distance(2, 0, math.nan), "distances[2][0]"),
    "durations of another size": (replace(BASE, durations=((0, 1), (1, 0))), "durations"),
    "negative duration": (
        replace(BASE, durations=((0, -1, 1), (1, 0, 1), (1, 1, 0))),
        "durations[0][1]",
    ),
    "unknown depot": (with_van(depot="XX"), "vehicle van"),
    "unknown end depot": (with_van(end_depot="XX"), "vehicle van"),
    "capacity of the wrong length": (with_van(capacity=(10, 5)), "vehicle van"),
    "shift ending before it starts": (with_van(shift=TimeWindow(100, 50)), "vehicle van shift"),
    "negative fixed cost": (with_van(fixed_cost=-1.0), "vehicle van fixed_cost"),
    "depot hours ending before they start": (
        replace(BASE, depots=(Depot("DC", 0, TimeWindow(10, 5)),)),
        "depot DC hours",
    ),
    "no vehicles": (replace(BASE, vehicles=()), "vehicles"),
}


@pytest.mark.parametrize(("problem", "field"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_refused_naming_the_job_or_field(problem, field):
    with pytest.raises(VrpError) as refused:
        solve(problem, time_limit_s=QUICK_S)

    assert isinstance(refused.value, ValueError)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"locked": {"truck": ["a"]}}, "locked truck"),
        ({"locked": {"van": ["zz"]}}, "locked van"),
        ({"locked": {"van": ["a", "a"]}}, "locked van"),
        ({"engine": "gurobi"}, "engine"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"time_limit_s": math.inf}, "time_limit_s"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options, field):
    with pytest.raises(VrpError) as refused:
        solve(BASE, **{"time_limit_s": LIMIT_S, **options})
    assert refused.value.field == field


# --- edge cases that once crashed the solvers or were mis-reported ---------------------------


@pytest.mark.parametrize("engine", ["auto", "ortools"])
def test_a_job_with_nested_windows_is_served_in_the_outer_one(engine):
    problem = make_problem(
        [(0, 0), (26, 0)], (Job("j", 1, windows=(TimeWindow(0, 30), TimeWindow(5, 10))),)
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    assert plan(solution) == {"van": ["j"]}


@pytest.mark.parametrize("engine", ["auto", "ortools"])
def test_reported_times_keep_a_route_with_several_windows_within_its_duration(engine):
    xs = [0.0, 1.5, 0.5, 1.0]
    problem = Problem(
        depots=(Depot("start", 0), Depot("end", 1)),
        vehicles=(Vehicle("van", "start", end_depot="end", max_duration=10),),
        jobs=(
            Job("a", 2, windows=(TimeWindow(0, 1), TimeWindow(100, 101))),
            Job("b", 3, windows=(TimeWindow(100, 200),)),
        ),
        distances=tuple(tuple(abs(x - y) for y in xs) for x in xs),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    assert plan(solution) == {"van": ["a", "b"]}
    check(problem, solution)


@pytest.mark.parametrize("engine", ["auto", "ortools"])
def test_arriving_as_a_window_closes_is_on_time_whatever_the_rounding(engine):
    problem = Problem(
        depots=(Depot("DC", 0),),
        vehicles=(Vehicle("van", "DC", max_duration=1),),
        jobs=(
            Job("a", 1, windows=(TimeWindow(0, 0.1),)),
            Job("b", 2, windows=(TimeWindow(0, 0.3), TimeWindow(5, 6))),
        ),
        distances=((0, 0.1, 0.3), (0.1, 0, 0.2), (0.3, 0.2, 0)),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    assert plan(solution) == {"van": ["a", "b"]}
    check(problem, solution)


@pytest.mark.parametrize("engine", ["auto", "ortools"])
def test_an_optional_job_with_vans_paid_by_the_hour_only(engine):
    problem = make_problem(
        [(0, 0), (10, 0)],
        (Job("j", 1, optional=True, penalty=50.0),),
        vehicles=(Vehicle("van", "DC", cost_per_distance=0.0, cost_per_time=1.0),),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    assert plan(solution) == {"van": ["j"]}


@pytest.mark.parametrize("engine", ["auto", "ortools"])
@pytest.mark.parametrize(
    ("problem", "field"),
    [
        (
            make_problem([(0, 0), (26, 0)], (Job("j", 1, windows=(TimeWindow(26.001, 26.009),)),)),
            "job j window 0",
        ),
        (
            make_problem(
                [(0, 0), (0, 0)],
                (Job("j", 1),),
                vehicles=(Vehicle("van", "DC", shift=TimeWindow(0.001, 0.009)),),
            ),
            "vehicle van shift",
        ),
    ],
    ids=["job_window", "shift"],
)
def test_a_window_narrower_than_a_tick_is_refused_naming_it(problem, field, engine):
    with pytest.raises(VrpError) as refused:
        solve(problem, time_limit_s=QUICK_S, engine=engine)
    assert refused.value.field == field
    assert "time_scale" in str(refused.value)


def test_a_huge_priority_is_served_like_any_other():
    problem = make_problem([(0, 0), (10, 0), (0, 10)], (Job("j", 1, priority=10**9), Job("k", 2)))
    solution = solve(problem, time_limit_s=QUICK_S)

    check(problem, solution)
    assert not solution.unassigned


def test_a_penalty_beyond_what_the_objective_can_hold_is_refused():
    problem = make_problem([(0, 0), (10, 0)], (Job("j", 1, optional=True, penalty=1e13),))
    with pytest.raises(VrpError) as refused:
        solve(problem, time_limit_s=QUICK_S)
    assert refused.value.field == "job j penalty"


def test_an_over_full_fleet_is_planned_without_a_solver_warning():
    # The suite turns warnings into errors: PyVRP's PenaltyBoundWarning must not escape.
    jobs = tuple(Job(f"J{k}", k, demand=(3,)) for k in range(1, 5))
    problem = make_problem(
        [(0, 0), (10, 0), (0, 10), (-10, 0), (0, -10)],
        jobs,
        vehicles=(Vehicle("van", "DC", capacity=(5,)),),
        dimensions=("totes",),
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine="auto")

    check(problem, solution)
    assert len(solution.unassigned) == 3  # 4 x 3 totes on one 5-tote van


@pytest.mark.parametrize(
    ("depots", "jobs", "engine"),
    [
        ((Depot("spare", 0), Depot("DC", 1)), (Job("a", 2),), "auto"),
        ((Depot("spare", 0), Depot("DC", 1)), (Job("a", 2),), "ortools"),
        ((Depot("DC", 0), Depot("spare", 1)), (Job("a", 2), Job("b", 3)), "ortools"),
    ],
    ids=["spare_first-auto", "spare_first-ortools", "spare_last-ortools"],
)
def test_a_depot_no_vehicle_uses_is_never_visited(depots, jobs, engine):
    points = [(0, 0), (0, 0), (10, 0), (0, 10)][: 2 + len(jobs)]
    problem = Problem(
        depots=depots, vehicles=(Vehicle("van", "DC"),), jobs=jobs, distances=euclidean(points)
    )
    solution = solve(problem, time_limit_s=QUICK_S, engine=engine)

    check(problem, solution)
    assert not solution.unassigned


# --- the solver's own check of routes -------------------------------------------------------


def test_violations_names_every_rule_a_plan_breaks():
    problem = make_problem(
        [(0, 0), (10, 0), (0, 10), (50, 50)],
        (
            Job("ice", 1, demand=(4,), requires=frozenset({"frozen"})),
            Job("milk", 2, demand=(4,), windows=(TimeWindow(0, 5),)),
            Job("far", 3, demand=(1,)),
        ),
        vehicles=(Vehicle("van", "DC", capacity=(5,), max_duration=150),),
        dimensions=("totes",),
    )
    found = violations(problem, {"van": ["ice", "milk", "far", "milk"], "bike": ["far"]})
    text = " | ".join(found)

    assert "no vehicle 'bike'" in text
    assert "job milk is served twice" in text
    assert "cannot carry job ice (needs frozen)" in text
    assert "would carry 13 totes, over its 5" in text
    assert "reaches job milk at" in text
    assert "over its 150" in text
    assert violations(problem, {"van": ["far"]}) == []

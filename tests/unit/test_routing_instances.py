"""Solomon and VRPLIB instances read under the literature's conventions, and their .sol files."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from routing.instances import read_instance, read_solution, route_distance
from routing.vrp import TimeWindow, VrpError

DATA = Path(__file__).resolve().parents[1] / "data" / "vrp"
SOLOMON_TXT = DATA / "tiny5.txt"  # Solomon's text format, 5 customers, 2 vehicles
SOLOMON_VRP = DATA / "tiny5.vrp"  # the same instance in VRPLIB form
CVRP = DATA / "tiny-n7.vrp"  # X-instance conventions: EUC_2D, no time windows, no fleet size

# tiny5: (x, y, demand, ready, due, service) per customer number; the depot is at (10, 10)
# and open from 0 to 300.
TINY5 = {
    1: (13, 14, 6, 0, 60, 10),
    2: (16, 18, 5, 20, 120, 10),
    3: (10, 17, 8, 0, 200, 10),
    4: (4, 10, 7, 100, 250, 10),
    5: (7, 6, 3, 0, 280, 10),
}


def test_a_solomon_file_gives_its_fleet_capacity_demands_windows_and_service_times():
    instance = read_instance(SOLOMON_TXT)
    problem = instance.problem

    assert instance.name == "TINY5"
    assert instance.fleet == 2
    assert len(problem.vehicles) == 2
    assert {v.capacity for v in problem.vehicles} == {(20,)}
    assert problem.dimensions == ("quantity",)
    assert problem.depots[0].location == 0
    assert problem.depots[0].hours == TimeWindow(0, 300)
    assert instance.coordinates[0] == (10.0, 10.0)
    assert instance.customer_ids == (1, 2, 3, 4, 5)
    for job, customer in zip(problem.jobs, instance.customer_ids, strict=True):
        x, y, demand, ready, due, service = TINY5[customer]
        assert job.id == str(customer)
        assert instance.coordinates[job.location] == (x, y)
        assert job.demand == (demand,)
        assert job.windows == (TimeWindow(ready, due),)
        assert job.service_time == service


def test_time_windows_mean_exact_euclidean_arcs_travelled_at_unit_speed():
    instance = read_instance(SOLOMON_TXT)
    problem = instance.problem

    assert instance.rounding == "float"
    assert problem.time_scale == 100
    assert problem.durations is None  # travel time is the distance
    assert problem.distances[0][3] == math.dist((10, 10), (10, 17)) == 7.0
    assert problem.distances[2][3] == math.dist((16, 18), (10, 17))  # 6.08..., not rounded


def test_the_objective_is_distance_alone():
    for vehicle in read_instance(SOLOMON_TXT).problem.vehicles:
        assert (vehicle.cost_per_distance, vehicle.fixed_cost, vehicle.cost_per_time) == (1, 0, 0)


def test_the_vrplib_form_of_a_solomon_instance_reads_as_the_same_problem():
    # The VRPLIB file gives one SERVICE_TIME for all nodes, the text file one per customer.
    text, vrplib = read_instance(SOLOMON_TXT), read_instance(SOLOMON_VRP)

    assert vrplib.problem == text.problem
    assert vrplib.customer_ids == text.customer_ids
    assert (vrplib.fleet, vrplib.rounding, vrplib.coordinates) == (
        text.fleet,
        text.rounding,
        text.coordinates,
    )


def test_a_vrplib_customer_is_its_node_number_minus_one():
    instance = read_instance(CVRP)
    jobs = {job.id: job for job in instance.problem.jobs}

    assert instance.customer_ids == (1, 2, 3, 4, 5, 6)
    assert instance.coordinates[jobs["2"].location] == (2, 3)  # node 3
    assert jobs["2"].demand == (4,)
    assert instance.coordinates[jobs["6"].location] == (4, 4)  # node 7
    assert jobs["6"].demand == (3,)


def test_euc_2d_without_time_windows_rounds_each_arc_to_the_nearest_integer():
    instance = read_instance(CVRP)
    distances = instance.problem.distances

    assert instance.rounding == "round"
    assert instance.problem.time_scale == 1
    assert distances[0][1] == 1.0  # sqrt(2) = 1.41
    assert distances[0][2] == 4.0  # sqrt(13) = 3.61
    assert distances[0][5] == 5.0  # exactly 5
    assert distances[0][6] == 6.0  # sqrt(32) = 5.66
    assert all(d == int(d) for row in distances for d in row)
    assert all(job.windows == () for job in instance.problem.jobs)


def test_a_file_without_a_fleet_size_gets_a_vehicle_per_customer():
    instance = read_instance(CVRP)

    assert instance.fleet is None
    assert len(instance.problem.vehicles) == len(instance.problem.jobs) == 6
    assert {v.capacity for v in instance.problem.vehicles} == {(10,)}


def test_a_solomon_customer_keeps_its_own_number(tmp_path):
    text = SOLOMON_TXT.read_text().replace("\n    5       7", "\n    9       7")
    path = tmp_path / "renumbered.txt"
    path.write_text(text)

    instance = read_instance(path)

    assert instance.customer_ids == (1, 2, 3, 4, 9)
    assert instance.problem.jobs[-1].id == "9"
    assert instance.coordinates[instance.problem.jobs[-1].location] == (7, 6)


def test_the_format_can_be_named_whatever_the_extension(tmp_path):
    path = tmp_path / "tiny5.data"
    path.write_text(SOLOMON_TXT.read_text())

    assert read_instance(path, "solomon").problem == read_instance(SOLOMON_TXT).problem


def test_read_solution_gives_the_routes_as_customer_ids():
    assert read_solution(DATA / "tiny5.sol") == [[1, 2, 3], [5, 4]]
    assert read_solution(DATA / "tiny-n7.sol") == [[1, 2, 4], [3, 6], [5]]


def test_route_distance_sums_exact_arcs_with_time_windows():
    instance = read_instance(SOLOMON_TXT)
    depot = (10, 10)
    expected = (
        math.dist(depot, (13, 14))
        + math.dist((13, 14), (16, 18))
        + math.dist((16, 18), (10, 17))
        + math.dist((10, 17), depot)
        + math.dist(depot, (7, 6))
        + math.dist((7, 6), (4, 10))
        + math.dist((4, 10), depot)
    )

    assert route_distance(instance, read_solution(DATA / "tiny5.sol")) == pytest.approx(expected)


def test_route_distance_sums_rounded_arcs_without_time_windows():
    instance = read_instance(CVRP)
    # [1, 2, 4]: 1 + 2 + 4 + 6; [3, 6]: 5 + 4 + 6; [5]: 5 + 5 (exact sum: 38.04).
    assert route_distance(instance, read_solution(DATA / "tiny-n7.sol")) == 38.0
    assert route_distance(instance, [[], [5]]) == 10.0


def test_route_distance_refuses_a_customer_not_in_the_instance():
    with pytest.raises(VrpError, match="customer 7"):
        route_distance(read_instance(CVRP), [[1, 7]])


def test_a_missing_file_is_refused_naming_it(tmp_path):
    missing = tmp_path / "missing.vrp"
    with pytest.raises(VrpError, match=r"missing\.vrp: cannot read"):
        read_instance(missing)
    with pytest.raises(VrpError, match=r"missing\.vrp: cannot read"):
        read_solution(missing)


@pytest.mark.parametrize(
    ("name", "fmt", "says"),
    [
        ("tiny5.json", None, "unknown instance format"),
        ("tiny5.txt", "tsplib", "format must be solomon or vrplib"),
    ],
)
def test_an_unknown_format_is_refused_naming_the_file(tmp_path, name, fmt, says):
    path = tmp_path / name
    path.write_text(SOLOMON_TXT.read_text())
    with pytest.raises(VrpError, match=re.escape(f"{name}: {says}")):
        read_instance(path, fmt)


def _edited(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text()
    assert old in text
    path = tmp_path / source.name
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("source", "old", "new", "says"),
    [
        # vrplib alone would read an unreadable number as -1.
        (SOLOMON_TXT, "16         18", "16         1x", "line 12: needs 7 whole numbers"),
        (SOLOMON_TXT, "    10         10          0", "    10         10", "line 10: needs 7"),
        (SOLOMON_TXT, "    3      10", "    2      10", "a customer number appears twice"),
        (SOLOMON_TXT, "CUSTOMER", "", "is not a solomon instance"),
        (SOLOMON_TXT, "  2          20", "  2          3", "job 1 demand: is more than"),
        (SOLOMON_TXT, "100        250", "260        250", "job 4 window 0: ends"),
        (CVRP, "EDGE_WEIGHT_TYPE : EUC_2D", "EDGE_WEIGHT_TYPE : ATT", "must be EUC_2D"),
        (CVRP, "CAPACITY : 10", "CAPACITY : 10\nDISTANCE : 50", "DISTANCE: not modelled"),
        (CVRP, "DEPOT_SECTION\n1\n", "DEPOT_SECTION\n1\n2\n", "node 1 as the one depot"),
        (CVRP, "DIMENSION : 7", "DIMENSION : 8", "DIMENSION is 8 but there are 7 nodes"),
        (CVRP, "6 -3 -4", "6 -3 x", "NODE_COORD must hold numbers only"),
        (CVRP, "7 3\n", "", "DEMAND has 6 rows for 7 nodes"),
        (CVRP, "CAPACITY : 10", "CAPACITY : ten", "CAPACITY must be one whole number"),
        (CVRP, "NAME : tiny-n7", "NAME tiny-n7", "is not a vrplib instance"),
    ],
)
def test_a_file_outside_the_conventions_is_refused_naming_it(tmp_path, source, old, new, says):
    path = _edited(tmp_path, source, old, new)
    with pytest.raises(VrpError, match=f"{re.escape(path.name)}.*{re.escape(says)}"):
        read_instance(path)


def test_a_file_that_is_not_a_solution_is_refused_naming_it(tmp_path):
    empty = tmp_path / "empty.sol"
    empty.write_text("Cost 10\n")
    garbled = tmp_path / "garbled.sol"
    garbled.write_text("Route #1: 1 two 3\n")

    with pytest.raises(VrpError, match=r"empty\.sol: holds no routes"):
        read_solution(empty)
    with pytest.raises(VrpError, match=r"garbled\.sol: is not a solution file"):
        read_solution(garbled)

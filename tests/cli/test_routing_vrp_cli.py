"""`python -m routing vrp`: solves an instance file, answers in JSON or words, refuses in a line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from routing.__main__ import main
from routing.instances import Instance, read_instance, route_distance

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "vrp"
SOLOMON = DATA / "tiny5.txt"  # 5 customers with time windows, 2 vehicles of capacity 20
CVRP = DATA / "tiny-n7.vrp"  # 6 customers, no windows, capacity 10, fleet unlimited
FAST = ("--time-limit", "0.3")


def answer(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """The JSON answer of a successful `vrp ... --json` run (nothing on stderr)."""
    assert main(["vrp", *args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def assert_a_valid_plan(instance: Instance, result: dict[str, Any]) -> None:
    """Every customer once, loads within capacity, the distance that of the routes given."""
    routes = result["routes"]
    served = [customer for route in routes for customer in route]
    assert sorted(served + result["unassigned"]) == sorted(instance.customer_ids)
    assert all(routes), "an empty route is not a vehicle used"
    assert result["vehicles"] == len(routes)
    assert instance.fleet is None or len(routes) <= instance.fleet
    demand = {
        c: j.demand[0] for c, j in zip(instance.customer_ids, instance.problem.jobs, strict=True)
    }
    capacity = instance.problem.vehicles[0].capacity[0]
    assert all(sum(demand[c] for c in route) <= capacity for route in routes)
    assert result["distance"] == pytest.approx(route_distance(instance, routes))
    assert result["ms"] > 0


@pytest.mark.parametrize("engine", ["auto", "ortools", "pyvrp"])
def test_json_answer_serves_every_customer_once_over_the_distance_it_reports(capsys, engine):
    result = answer(capsys, "--instance", str(SOLOMON), "--engine", engine, *FAST)

    assert set(result) == {"routes", "distance", "vehicles", "unassigned", "engine", "ms"}
    assert result["unassigned"] == []
    assert_a_valid_plan(read_instance(SOLOMON), result)
    assert result["engine"] in ({"ortools"} if engine == "ortools" else {"pyvrp", "pyvrp+ortools"})


def test_a_cvrp_instance_is_planned_on_rounded_arcs(capsys):
    result = answer(capsys, "--instance", str(CVRP), "--seed", "3", *FAST)

    assert_a_valid_plan(read_instance(CVRP), result)
    assert result["distance"] == int(result["distance"])  # a sum of whole arcs
    assert result["vehicles"] >= 3  # 23 units of demand, 10 a vehicle
    assert result["distance"] <= 38  # the hand-made plan of tiny-n7.sol


def test_the_format_can_be_named_for_any_file_name(capsys, tmp_path):
    path = tmp_path / "tiny5.data"
    path.write_text(SOLOMON.read_text(encoding="utf-8"), encoding="utf-8")

    result = answer(capsys, "--instance", str(path), "--format", "solomon", *FAST)

    assert_a_valid_plan(read_instance(SOLOMON), result)


def test_the_summary_gives_the_totals_and_a_line_per_route(capsys):
    assert main(["vrp", "--instance", str(SOLOMON), *FAST]) == 0
    out, err = capsys.readouterr()

    head, *routes = out.splitlines()
    assert err == ""
    assert head.startswith("TINY5 by ")
    assert "distance 39.08, 2 vehicles, 0 unassigned, solved in" in head  # the optimum
    served = sorted(int(c) for line in routes for c in line.split(".", 1)[1].split())
    assert served == [1, 2, 3, 4, 5]
    assert [line.split(".")[0].strip() for line in routes] == ["1", "2"]


def refusal(capsys: pytest.CaptureFixture[str]) -> str:
    """The one stderr line of a refused command (nothing on stdout)."""
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--format", "tsplib"], "--format must be one of solomon, vrplib; got 'tsplib'"),
        (["--format", "vrplib"], "tiny5.txt: is not a vrplib instance"),
        (["--engine", "gurobi"], "--engine must be one of auto, ortools, pyvrp; got 'gurobi'"),
        (["--time-limit", "0"], "--time-limit must be a positive number of seconds, got 0"),
        (["--time-limit", "nan"], "--time-limit must be a positive number of seconds, got nan"),
        (["--seed", "-1"], "--seed must be 0 to 4294967295, got -1"),
    ],
)
def test_bad_options_are_refused_in_one_line(capsys, extra, says):
    assert main(["vrp", "--instance", str(SOLOMON), *extra]) == 2
    assert says in refusal(capsys)


def test_a_missing_file_is_refused_naming_it(capsys, tmp_path):
    missing = tmp_path / "missing.vrp"
    assert main(["vrp", "--instance", str(missing)]) == 2
    assert refusal(capsys) == f"error: {missing}: cannot read: No such file or directory"


def test_a_file_of_unknown_format_is_refused_naming_it(capsys, tmp_path):
    path = tmp_path / "tiny5.json"
    path.write_text("{}", encoding="utf-8")
    assert main(["vrp", "--instance", str(path)]) == 2
    assert f"error: {path}: unknown instance format" in refusal(capsys)


def test_an_instance_outside_the_conventions_is_refused_naming_it(capsys, tmp_path):
    path = tmp_path / "tiny-n7.vrp"
    path.write_text(
        CVRP.read_text(encoding="utf-8").replace("CAPACITY : 10", "CAPACITY : 5"),
        encoding="utf-8",
    )
    assert main(["vrp", "--instance", str(path)]) == 2
    assert refusal(capsys) == f"error: {path}: job 5 demand: is more than any vehicle can carry"


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["vrp"])  # --instance is required
    assert exit_info.value.code == 2
    assert "--instance" in capsys.readouterr().err


@pytest.mark.slow
def test_python_dash_m_routing_vrp_runs_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "routing", "vrp", "--instance", str(CVRP), *FAST, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert_a_valid_plan(read_instance(CVRP), json.loads(done.stdout))

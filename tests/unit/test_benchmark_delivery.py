"""The delivery benchmark's run: one front warehouse's window of the city network, re-checked.

The quick run's machinery on a tiny setting: the network loaded into a fresh SQLite file, eight
packed orders written, the window planned by every installed engine, each engine's routes
re-checked on the one problem, the CSV written.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import delivery as bench
from wms.models import Temperature

ORDERS = 8
KM_TOLERANCE = 0.02  # nearest neighbour may come this close to ours, never closer


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("delivery") / "delivery.csv"
    bench.main(
        ["--sites", "1", "--windows", "1", "--orders-per-window", str(ORDERS), "--limit", "0.5",
         "--network-only", "--csv", str(out)]
    )  # fmt: skip
    with Path(out).open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _by_engine(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["engine"]: row for row in rows}


@pytest.mark.slow
def test_every_engine_plans_the_window_and_its_routes_pass_the_re_check(tiny_run):
    _, rows = tiny_run
    engines = _by_engine(rows)

    expected = ["ours", "nn"] + (["vroom"] if bench.available_engines(["vroom"])[0] else [])
    assert [row["engine"] for row in rows] == expected
    for engine, row in engines.items():
        assert (row["site"], row["window"], row["orders"]) == ("FW01", "10:00-11:00", "8"), engine
        assert row["feasible"] == "True", (engine, row["problems"])
        assert row["problems"] == ""  # ours: what plan_window stored is what the re-check makes
        assert 1 <= int(row["served"]) <= ORDERS
        assert row["on_time"] == row["served"]  # feasible: every stop inside its window
        assert int(row["vehicles"]) >= 1 and float(row["km"]) > 0
    assert engines["ours"]["won_by"] in ("pyvrp", "pyvrp+ortools", "ortools")


@pytest.mark.slow
def test_the_csv_has_a_column_per_field_of_a_row(tiny_run):
    header, _ = tiny_run

    assert header == [field.name for field in dataclasses.fields(bench.Row)]
    assert {"served_pct", "vehicles", "km", "on_time_pct", "solve_s", "feasible"} <= set(header)


@pytest.mark.slow
def test_nearest_neighbour_is_never_shorter_than_ours_beyond_a_small_tolerance(tiny_run):
    _, rows = tiny_run
    ours, nn = _by_engine(rows)["ours"], _by_engine(rows)["nn"]

    assert int(nn["served"]) <= int(ours["served"])
    assert float(nn["km"]) >= float(ours["km"]) * (1 - KM_TOLERANCE)
    assert float(nn["cost_km"]) >= float(ours["cost_km"]) * (1 - KM_TOLERANCE)


def test_without_pyvroom_the_run_says_so_and_goes_on(monkeypatch):
    monkeypatch.setitem(sys.modules, "vroom", None)  # import vroom raises ImportError

    engines, notes = bench.available_engines(["ours", "nn", "vroom"])

    assert engines == ["ours", "nn"]
    assert notes == ["VROOM not installed: vroom skipped (pip install -e .[bench])"]
    with pytest.raises(ValueError, match="engine must be one of"):
        bench.available_engines(["ortools"])


class _Line:
    """An order line as ``_totes`` reads it (hashable by identity, like a model row)."""

    def __init__(self, item: SimpleNamespace, quantity: int) -> None:
        self.item, self.quantity = item, quantity


def _item(temperature: Temperature, volume_l: float, weight_g: int) -> SimpleNamespace:
    return SimpleNamespace(
        temperature=temperature,
        length_mm=100,
        width_mm=100,
        height_mm=int(volume_l * 100),
        weight_g=weight_g,
    )


def test_an_orders_units_go_into_totes_of_one_temperature_within_room_and_weight():
    water = _item(Temperature.AMBIENT, 9.0, 6000)  # two per tote by weight, four by room
    crisps = _item(Temperature.AMBIENT, 6.0, 150)
    ice = _item(Temperature.FROZEN, 2.0, 700)
    lines = [_Line(water, 3), _Line(crisps, 4), _Line(ice, 2)]

    totes = bench._totes(lines, 40_000)

    units = dict.fromkeys(lines, 0)
    for weight_g, contents in totes:
        temperatures = {line.item.temperature for line in contents}
        assert len(temperatures) == 1
        assert weight_g == sum(line.item.weight_g * n for line, n in contents.items())
        assert weight_g <= bench.TOTE_MAX_G
        assert sum(bench._volume_cm3(line.item) * n for line, n in contents.items()) <= 40_000
        for line, n in contents.items():
            units[line] += n
    assert units == {line: line.quantity for line in lines}
    assert len(totes) == 3  # the water two and one, the crisps in the room left, the ice alone

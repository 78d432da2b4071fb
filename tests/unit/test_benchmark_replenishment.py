"""The replenishment benchmark's run: the small network on a fresh SQLite file, consistent.

Pick-face replenishment first, then the DC transfers on 28 days of generated order history.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import replenishment as bench


@pytest.mark.slow
def test_the_peak_gets_its_tasks_once_and_the_transfers_are_planned_once(tmp_path: Path):
    row = bench.run(f"sqlite:///{tmp_path / 'bench.sqlite3'}", "small", seed=1)

    assert (row["backend"], row["front_warehouses"], row["pick_faces"]) == ("sqlite", 3, 1500)
    assert row["tasks"] > 0
    assert row["would_create"] == row["tasks"]  # the dry run decides what the run does
    assert row["units"] >= row["tasks"]
    assert row["again"] == 0  # never a second open task for a face
    # Every item sells somewhere every day: one forecast per item and front warehouse.
    assert row["series"] == 3 * 500
    assert 1 <= row["transfers"] <= 3
    assert row["transfer_lines"] >= row["transfers"]
    assert row["transfer_units"] >= row["transfer_lines"]
    assert row["transfers_again"] == 0  # open transfers are on their way
    assert row["forecast_s"] > 0 and row["plan_s"] > 0

"""The replenishment benchmark's run: the small network on a fresh SQLite file, consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import replenishment as bench


@pytest.mark.slow
def test_the_peak_gets_its_tasks_once_and_the_dry_run_foresaw_them(tmp_path: Path):
    row = bench.run(f"sqlite:///{tmp_path / 'bench.sqlite3'}", "small", seed=1)

    assert (row["backend"], row["front_warehouses"], row["pick_faces"]) == ("sqlite", 3, 1500)
    assert row["tasks"] > 0
    assert row["would_create"] == row["tasks"]  # the dry run decides what the run does
    assert row["units"] >= row["tasks"]
    assert row["again"] == 0  # never a second open task for a face

"""The wave benchmark's run: a small wave on a fresh SQLite file, its figures consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import waves as bench


@pytest.mark.slow
def test_a_small_wave_is_planned_released_and_measured_against_both_baselines(tmp_path: Path):
    row = bench.run(f"sqlite:///{tmp_path / 'bench.sqlite3'}", 40, seed=3)

    assert row["backend"] == "sqlite"
    assert row["orders"] == 40 and row["skipped"] == 0
    assert row["lines"] >= 40
    assert row["ledger_ok"] is True
    # Batched walks are shorter than each order alone along S-shape, and not longer than the
    # same carts filled first come, first served (the exact walk of each).
    assert row["walk_per_line_m"] < row["single_s_shape_per_line_m"]
    assert row["saving_vs_s_shape_pct"] == pytest.approx(
        100 * (1 - row["walk_per_line_m"] / row["single_s_shape_per_line_m"]), abs=0.5
    )
    assert row["single_optimal_per_line_m"] <= row["single_s_shape_per_line_m"] + 1e-9
    assert row["fcfs_walk_m"] > 0 and row["fcfs_pick_lists"] >= 1

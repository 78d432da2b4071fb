"""`python -m routing pick`: plans from JSON files, answers in JSON or words, refuses in a line."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from routing.__main__ import main
from routing.layout import distance, layout_from_dict, picks_from_list
from routing.types import FrontPoint

ROOT = Path(__file__).resolve().parents[2]

TWO_BLOCKS = {
    "aisles": 12,
    "aisle_pitch_m": 3.0,
    "aisle_length_m": 30.0,
    "cross_aisles_m": [0.0, 15.0, 30.0],
    "depot": {"x_m": 0.0},
    "end": {"x_m": 33.0},
}
THREE_BLOCKS = {**TWO_BLOCKS, "cross_aisles_m": [0.0, 10.0, 20.0, 30.0]}
FOUR_BLOCKS = {**TWO_BLOCKS, "cross_aisles_m": [0.0, 7.5, 15.0, 22.5, 30.0]}


def pick_list(seed: int = 7, count: int = 18) -> list[dict[str, Any]]:
    """Random picks on the 12-aisle layouts, with a few repeated at one position."""
    rng = random.Random(seed)
    picks = [
        {"aisle": rng.randrange(12), "y_m": round(rng.uniform(0, 30), 1)} for _ in range(count)
    ]
    return [*picks, picks[2], picks[5], picks[2]]


@pytest.fixture
def pick_args(tmp_path: Path):
    """Write a layout and picks to files; return the arguments of `pick` that name them."""

    def make(layout: Any = TWO_BLOCKS, picks: Any = None, *extra: str) -> list[str]:
        layout_file, picks_file = tmp_path / "layout.json", tmp_path / "picks.json"
        layout_file.write_text(json.dumps(layout), encoding="utf-8")
        picks_file.write_text(json.dumps(pick_list() if picks is None else picks), encoding="utf-8")
        return ["pick", "--layout", str(layout_file), "--picks", str(picks_file), *extra]

    return make


def recomputed_length(
    layout_data: dict[str, Any], picks_data: list[Any], order: list[int]
) -> float:
    layout = layout_from_dict(layout_data)
    picks = picks_from_list(layout, picks_data)
    points = [FrontPoint(layout.depot_x_m), *(picks[i] for i in order), FrontPoint(layout.end_x_m)]
    return sum(distance(layout, a, b) for a, b in itertools.pairwise(points))


def assert_visits_every_pick_once_with_repeats_together(picks: list[Any], order: list[int]) -> None:
    assert sorted(order) == list(range(len(picks)))
    places = [(picks[i]["aisle"], picks[i]["y_m"]) for i in order]
    for place in set(places):
        at = [k for k, p in enumerate(places) if p == place]
        assert at == list(range(at[0], at[0] + len(at))), f"{place} visited apart: {at}"


def refusal(capsys: pytest.CaptureFixture[str]) -> str:
    """The one stderr line of a refused command (nothing on stdout)."""
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("layout", "method"),
    [(TWO_BLOCKS, "exact"), (THREE_BLOCKS, "exact"), (FOUR_BLOCKS, "ortools")],
    ids=["2-blocks", "3-blocks", "4-blocks"],
)
def test_json_answer_visits_every_pick_once_and_reports_the_walk_it_describes(
    pick_args, capsys, layout, method
):
    picks = pick_list()
    assert main(pick_args(layout, picks, "--json")) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert len(out.splitlines()) == 1
    answer = json.loads(out)
    assert set(answer) == {"order", "length_m", "method", "ms"}
    assert answer["method"] == method  # auto: exact where it applies, OR-Tools elsewhere
    assert_visits_every_pick_once_with_repeats_together(picks, answer["order"])
    assert answer["length_m"] == pytest.approx(recomputed_length(layout, picks, answer["order"]))
    assert answer["ms"] > 0


@pytest.mark.parametrize("method", ["s_shape", "largest_gap", "ortools"])
def test_a_named_method_is_used_and_reported(pick_args, capsys, method):
    picks = pick_list(seed=3)
    assert main(pick_args(TWO_BLOCKS, picks, "--method", method, "--json")) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["method"] == method
    assert_visits_every_pick_once_with_repeats_together(picks, answer["order"])
    assert answer["length_m"] == pytest.approx(
        recomputed_length(TWO_BLOCKS, picks, answer["order"])
    )


def test_the_summary_lists_the_visits_in_walking_order(pick_args, capsys):
    picks = [{"aisle": 3, "y_m": 12.5}, {"aisle": 7, "y_m": 20}, {"aisle": 3, "y_m": 12.5}]
    assert main(pick_args(TWO_BLOCKS, picks)) == 0
    head, *visits = capsys.readouterr().out.splitlines()
    assert head.startswith("exact: ")
    assert "3 picks" in head and " ms" in head
    assert len(visits) == 3
    assert visits[0].split() == ["1.", "pick", "0", "aisle", "3", "y", "12.5", "m"]
    assert visits[1].split()[:3] == ["2.", "pick", "2"]
    assert visits[2].split()[:5] == ["3.", "pick", "1", "aisle", "7"]


def test_an_empty_pick_list_is_a_walk_of_nothing(pick_args, capsys):
    assert main(pick_args(TWO_BLOCKS, [], "--json")) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["order"], answer["length_m"]) == ([], 0.0)


def test_svg_writes_the_drawing_beside_the_answer(pick_args, capsys, tmp_path):
    out_file = tmp_path / "walk.svg"
    assert main(pick_args(TWO_BLOCKS, None, "--json", "--svg", str(out_file))) == 0
    assert json.loads(capsys.readouterr().out)["order"]
    root = ET.fromstring(out_file.read_text(encoding="utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    markers = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "pick"]
    assert len(markers) == len({(p["aisle"], p["y_m"]) for p in pick_list()})


def test_a_pick_outside_the_layout_is_refused_naming_it(pick_args, capsys):
    picks = [{"aisle": 3, "y_m": 12.5}, {"aisle": 1, "y_m": 2}, {"aisle": 12, "y_m": 5}]
    assert main(pick_args(TWO_BLOCKS, picks, "--json")) == 2
    assert refusal(capsys) == "error: pick 2: aisle must be 0 to 11, got 12"


def test_exact_beyond_three_blocks_is_refused_as_not_applicable(pick_args, capsys):
    assert main(pick_args(FOUR_BLOCKS, None, "--method", "exact")) == 2
    line = refusal(capsys)
    assert "exact applies to layouts of 1 to 3 blocks" in line
    assert "has 4" in line


@pytest.mark.parametrize(
    ("layout", "picks", "says"),
    [
        ({**TWO_BLOCKS, "aisle_count": 3}, None, "error: layout aisle_count: unknown key"),
        ({**TWO_BLOCKS, "cross_aisles_m": [0.0, 20.0, 15.0, 30.0]}, None, "strictly increasing"),
        ([TWO_BLOCKS], None, "layout.json: must hold an object"),
        (TWO_BLOCKS, {"aisle": 3, "y_m": 1}, "picks.json: must hold a list"),
        (TWO_BLOCKS, [{"aisle": 3, "y_m": 1, "sku": "A"}], "error: pick 0: unknown key(s) ['sku']"),
        (TWO_BLOCKS, [{"aisle": 3, "y_m": 31}], "error: pick 0: y_m must be 0 to 30, got 31"),
    ],
    ids=[
        "unknown-key",
        "cross-aisles-unsorted",
        "layout-not-object",
        "picks-not-list",
        "pick-unknown-key",
        "pick-beyond-back",
    ],
)
def test_invalid_layouts_and_picks_are_refused_in_one_line(pick_args, capsys, layout, picks, says):
    assert main(pick_args(layout, picks)) == 2
    assert says in refusal(capsys)


def test_a_file_that_is_not_json_is_refused_naming_it(pick_args, capsys, tmp_path):
    args = pick_args()
    (tmp_path / "picks.json").write_text('[{"aisle": 3, "y_m": 1}', encoding="utf-8")
    assert main(args) == 2
    line = refusal(capsys)
    assert "picks.json is not valid JSON" in line
    assert "line 1" in line


def test_a_missing_file_is_refused_naming_it(pick_args, capsys, tmp_path):
    args = pick_args()
    (tmp_path / "layout.json").unlink()
    assert main(args) == 2
    assert refusal(capsys).startswith(f"error: cannot read {tmp_path / 'layout.json'}")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--method", "nearest"], "--method must be one of auto, exact, ortools"),
        (["--time-limit", "0"], "--time-limit must be a positive number"),
        (["--time-limit", "-1"], "--time-limit must be a positive number"),
        (["--time-limit", "nan"], "--time-limit must be a positive number"),
    ],
)
def test_bad_options_are_refused_in_one_line(pick_args, capsys, extra, says):
    assert main(pick_args(TWO_BLOCKS, None, *extra)) == 2
    assert says in refusal(capsys)


def test_an_svg_that_cannot_be_written_is_refused_before_any_answer(pick_args, capsys, tmp_path):
    assert main(pick_args(TWO_BLOCKS, None, "--json", "--svg", str(tmp_path / "no" / "x.svg"))) == 2
    assert "cannot write" in refusal(capsys)


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["pick", "--layout", "only.json"])
    assert exited.value.code == 2
    assert "--picks" in capsys.readouterr().err


@pytest.mark.slow
def test_python_dash_m_routing_runs_the_command(pick_args):
    picks = pick_list(seed=11)
    done = subprocess.run(
        [sys.executable, "-m", "routing", *pick_args(TWO_BLOCKS, picks, "--json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    answer = json.loads(done.stdout)
    assert_visits_every_pick_once_with_repeats_together(picks, answer["order"])
    assert answer["length_m"] == pytest.approx(
        recomputed_length(TWO_BLOCKS, picks, answer["order"])
    )

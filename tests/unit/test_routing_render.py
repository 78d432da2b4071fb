"""The SVG picture of a pick path: well-formed, faithful to the walk, readable on a scanner."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from routing.layout import layout_from_dict, picks_from_list
from routing.picking import plan_pick_path
from routing.render import render_svg
from routing.types import Layout, Pick

SVG = "{http://www.w3.org/2000/svg}"

TWO_BLOCKS = {
    "aisles": 12,
    "aisle_pitch_m": 3.0,
    "aisle_length_m": 30.0,
    "cross_aisles_m": [0.0, 15.0, 30.0],
    "depot": {"x_m": 0.0},
    "end": {"x_m": 33.0},
}
# Picks 0 and 2 share a position, and so do 4 and 5 (a pick on the middle cross aisle).
PICKS = [
    {"aisle": 3, "y_m": 12.5},
    {"aisle": 7, "y_m": 20.0},
    {"aisle": 3, "y_m": 12.5},
    {"aisle": 1, "y_m": 29.0},
    {"aisle": 10, "y_m": 15.0},
    {"aisle": 10, "y_m": 15.0},
    {"aisle": 5, "y_m": 0.0},
]


@pytest.fixture
def make_layout():
    def make(**changes) -> Layout:
        return layout_from_dict({**TWO_BLOCKS, **changes})

    return make


@pytest.fixture
def planned(make_layout):
    layout = make_layout()
    picks = picks_from_list(layout, PICKS)
    return layout, picks, plan_pick_path(layout, picks)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == cls]


def points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split())]


def pick_markers(root: ET.Element) -> dict[str, tuple[float, float]]:
    """{label: circle centre} of every pick marker."""
    markers = {}
    for group in by_class(root, "g", "pick"):
        circle, text = group.find(f"{SVG}circle"), group.find(f"{SVG}text")
        assert circle is not None and text is not None and text.text
        markers[text.text] = (float(circle.get("cx", "nan")), float(circle.get("cy", "nan")))
    return markers


def marker_labels(root: ET.Element, cls: str) -> list[str | None]:
    return [t.text for g in by_class(root, "g", cls) for t in g.iter(f"{SVG}text")]


def test_the_picture_is_an_svg_document_that_shrinks_to_a_phone_screen(planned):
    root = parse(render_svg(*planned))
    assert root.get("width") == "100%"
    x, y, width, height = map(float, root.get("viewBox", "").split())
    assert (x, y) == (0, 0)
    assert 0 < width < 2000 and 0 < height < 2000


def test_sixty_aisles_stay_under_two_thousand_pixels_wide(make_layout):
    layout = make_layout(aisles=60, end={"x_m": 177.0})
    picks = picks_from_list(layout, [{"aisle": a, "y_m": 10.0} for a in range(0, 60, 7)])
    root = parse(render_svg(layout, picks, plan_pick_path(layout, picks)))
    assert float(root.get("viewBox", "").split()[2]) < 2000


def test_every_position_has_one_marker_numbered_by_visiting_order(planned):
    layout, picks, path = planned
    markers = pick_markers(parse(render_svg(layout, picks, path)))

    ranks: dict[Pick, list[int]] = {}
    for rank, index in enumerate(path.order, start=1):
        ranks.setdefault(picks[index], []).append(rank)
    assert len(markers) == len(set(picks)) == 5
    assert sorted(markers) == sorted(",".join(map(str, r)) for r in ranks.values())
    # The two merged positions are visited together, so they list consecutive numbers.
    merged = [label for label in markers if "," in label]
    assert len(merged) == 2
    for label in merged:
        first, second = map(int, label.split(","))
        assert second == first + 1


def test_without_a_path_picks_are_numbered_by_their_place_in_the_list(make_layout):
    layout = make_layout()
    picks = picks_from_list(layout, PICKS)
    root = parse(render_svg(layout, picks))
    assert sorted(pick_markers(root)) == sorted(["1,3", "2", "4", "5,6", "7"])
    assert by_class(root, "polyline", "walk") == []


def test_the_walk_is_the_planned_polyline_scaled_evenly_with_the_front_at_the_bottom(planned):
    layout, picks, path = planned
    root = parse(render_svg(layout, picks, path))
    (walk,) = by_class(root, "polyline", "walk")
    drawn = points(walk.get("points", ""))
    assert len(drawn) == len(path.walk)

    # Recover the transform from two corners, then every corner and marker must obey it.
    (x0, y0), (px0, py0) = path.walk[0], drawn[0]
    i = next(i for i, (x, y) in enumerate(path.walk) if x != x0 and y != y0)
    scale_x = (drawn[i][0] - px0) / (path.walk[i][0] - x0)
    scale_y = (drawn[i][1] - py0) / (path.walk[i][1] - y0)
    assert scale_x > 0
    assert scale_y == pytest.approx(-scale_x, abs=1e-3)  # same scale, y flipped

    def to_px(x: float, y: float) -> tuple[float, float]:
        return px0 + (x - x0) * scale_x, py0 - (y - y0) * scale_x

    for corner, (px, py) in zip(path.walk, drawn, strict=True):
        assert to_px(*corner) == pytest.approx((px, py), abs=0.02)
    markers = pick_markers(root)
    for rank, index in enumerate(path.order, start=1):
        centre = next(c for label, c in markers.items() if str(rank) in label.split(","))
        pick = picks[index]
        assert to_px(layout.aisle_x(pick.aisle), pick.y_m) == pytest.approx(centre, abs=0.02)


def test_the_walk_carries_direction_arrows_and_its_length_in_the_caption(planned):
    layout, picks, path = planned
    root = parse(render_svg(layout, picks, path))
    assert len(by_class(root, "polygon", "arrow")) >= 3
    (caption,) = by_class(root, "text", "caption")
    assert f"{path.length_m:.1f} m" in (caption.text or "")
    assert path.method in (caption.text or "")


def test_depot_and_a_separate_end_are_labelled_on_the_front_cross_aisle(make_layout):
    root = parse(render_svg(make_layout()))
    assert marker_labels(root, "depot") == ["depot"]
    assert marker_labels(root, "end") == ["end"]

    same = parse(render_svg(make_layout(end={"x_m": 0.0})))
    assert by_class(same, "g", "end") == []
    assert len(by_class(same, "g", "depot")) == 1


def test_racks_stand_on_both_sides_of_every_aisle_and_stop_at_cross_aisles(make_layout):
    layout = make_layout(cross_aisles_m=[0.0, 10.0, 20.0, 30.0])
    root = parse(render_svg(layout))
    racks = by_class(root, "rect", "rack")
    assert len(racks) == 2 * layout.aisles * layout.blocks
    cross_ys = {float(line.get("y1", "nan")) for line in by_class(root, "line", "cross-aisle")}
    assert len(cross_ys) == 4
    for rack in racks:
        top = float(rack.get("y", "nan"))
        bottom = top + float(rack.get("height", "nan"))
        assert not any(top <= y <= bottom for y in cross_ys)


def test_a_title_is_escaped_and_shown(planned):
    title = '<script>alert("x")</script> & Aisle <7>'
    svg = render_svg(*planned, title=title)
    assert "<script" not in svg
    root = parse(svg)
    assert [t.text for t in root.findall(f"{SVG}title")] == [title]
    assert [t.text for t in by_class(root, "text", "title")] == [title]


def test_the_same_input_draws_the_same_document(planned):
    layout, picks, path = planned
    assert render_svg(layout, picks, path, title="W1") == render_svg(
        layout, picks, path, title="W1"
    )
    again = plan_pick_path(layout, picks_from_list(layout, PICKS))
    assert render_svg(layout, picks, again) == render_svg(layout, picks, path)


def test_a_path_for_another_pick_list_is_refused(planned):
    layout, picks, path = planned
    with pytest.raises(ValueError, match=r"path\.order"):
        render_svg(layout, picks[:3], path)


def test_an_empty_pick_list_draws_just_the_layout(make_layout):
    layout = make_layout()
    path = plan_pick_path(layout, [])
    root = parse(render_svg(layout, [], path))
    assert pick_markers(root) == {}
    assert by_class(root, "polyline", "walk") == []
    (caption,) = by_class(root, "text", "caption")
    assert "walk 0.0 m" in (caption.text or "")

"""Server-side SVG charts: well-formed, accessible, escaped, and gaps where figures are missing."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from console.charts import bar_chart, line_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"
WEEK = [("17 Nov", 12.0), ("18 Nov", 30.0), ("19 Nov", None), ("20 Nov", 0.0), ("21 Nov", 7.5)]


def parse(markup: Markup) -> ET.Element:
    return ET.fromstring(str(markup))


@pytest.mark.parametrize("draw", [bar_chart, line_chart, sparkline])
def test_a_chart_is_an_svg_image_with_an_accessible_name_and_its_values_in_words(draw):
    chart = draw(WEEK, title="Orders", unit="orders")

    assert isinstance(chart, Markup)
    svg = parse(chart)
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
    assert svg[0].tag == f"{SVG}title" and svg[0].text == svg.get("aria-label")
    assert svg.get("aria-label", "").startswith("Orders")
    desc = svg.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None
    assert "18 Nov: 30 orders" in desc.text and "19 Nov: no figure" in desc.text
    assert "<script" not in str(chart)


@pytest.mark.parametrize("draw", [bar_chart, line_chart, sparkline])
def test_every_text_is_escaped(draw):
    chart = draw([('<b>"x"</b> & co', 1.0)], title="<script>alert(1)</script>", unit="m&m")

    text = str(chart)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text
    svg = parse(chart)  # still well-formed XML
    assert svg.get("aria-label", "").startswith("<script>alert(1)</script>")


def test_a_bar_per_figure_scaled_from_zero_with_axis_labels_and_tooltips():
    svg = parse(bar_chart(WEEK, title="Orders", width=300, height=100))

    bars = svg.findall(f".//{SVG}rect")
    assert len(bars) == 4  # the missing day has no bar
    heights = [float(b.get("height", "0")) for b in bars]
    assert heights[1] == max(heights) and heights[2] == min(heights)  # 30 tallest, 0 flattest
    tips = [b.find(f"{SVG}title") for b in bars]
    assert [t.text for t in tips if t is not None] == ["17 Nov: 12", "18 Nov: 30", "20 Nov: 0",
                                                        "21 Nov: 7.5"]  # fmt: skip
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "Orders" in texts and "17 Nov" in texts and "21 Nov" in texts
    assert "30" in texts and "0" in texts  # the value axis, top and bottom
    for bar in bars:
        x, width = float(bar.get("x", "0")), float(bar.get("width", "0"))
        assert x >= 0 and x + width <= 300


def test_a_missing_value_breaks_the_line():
    svg = parse(line_chart(WEEK, title="Walk per line", unit="m"))

    lines = svg.findall(f".//{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    assert len(svg.findall(f".//{SVG}circle")) == 4
    assert "21 Nov: 7.5 m" in [c[0].text for c in svg.findall(f".//{SVG}circle")]


def test_a_series_without_figures_still_draws_an_empty_labelled_chart():
    for draw in (bar_chart, line_chart, sparkline):
        svg = parse(draw([("1 Dec", None), ("2 Dec", math.nan)], title="Pick rate"))
        assert svg.get("aria-label") == "Pick rate: no figures"
        assert svg.findall(f".//{SVG}rect") == [] and svg.findall(f".//{SVG}polyline") == []
    assert parse(bar_chart([], title="Nothing")).get("aria-label") == "Nothing: no figures"


def test_the_sparkline_names_its_latest_value():
    svg = parse(sparkline(WEEK, title="Orders", unit="orders"))
    assert svg.get("aria-label") == "Orders: latest 7.5 orders"
    assert svg.find(f"{SVG}text") is None  # no axes in a table cell


def test_the_same_series_draws_the_same_chart_and_silly_sizes_are_refused():
    assert bar_chart(WEEK, title="Orders") == bar_chart(list(WEEK), title="Orders")
    with pytest.raises(ValueError, match="at least"):
        bar_chart(WEEK, title="Orders", width=10)
    with pytest.raises(ValueError, match="at least"):
        sparkline(WEEK, title="Orders", height=2)

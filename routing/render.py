"""A layout, its picks and a planned walk drawn as a standalone SVG document (no I/O).

Metres become pixels at ``PX_PER_M`` (less for big layouts, so the picture stays under
``MAX_DRAWING_PX`` each way); ``y = 0``, the front cross aisle, is at the bottom. The document
has ``width="100%"`` and a ``viewBox``, so a 360 px scanner screen shows all of it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from routing.types import Layout, Pick, PickPath

PX_PER_M = 20.0
MAX_DRAWING_PX = 1900.0
_MARGIN = 24.0  # px around the drawing, left, right and top
_BELOW = 56.0  # px under the front cross aisle for the depot labels and the caption
_TITLE = 26.0  # px above the drawing when there is a title
_ARROW = 5.0  # px, half the length of a direction arrow
_MIN_WIDTH = 260.0


def _n(value: float) -> str:
    """A coordinate as short, stable text (0.01 px is finer than any screen)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def render_svg(
    layout: Layout,
    picks: Sequence[Pick] = (),
    path: PickPath | None = None,
    *,
    title: str | None = None,
) -> str:
    """Draw the layout, the picks numbered in visiting order and the walk as an SVG document.

    With a ``path``, a pick is numbered by its place in ``path.order`` (1-based) and picks at
    one position share one marker ("3,4"); without, by its index in ``picks`` plus one. The
    depot and end markers are the layout's. Raises ValueError when ``path.order`` is not a
    permutation of the pick indexes (it belongs to another pick list).
    """
    if path is not None and picks and sorted(path.order) != list(range(len(picks))):
        raise ValueError("path.order must list every index of picks exactly once")
    pitch, length = layout.aisle_pitch_m, layout.aisle_length_m
    left_m = -pitch / 2  # the outer edge of the racks beside aisle 0
    width_m = layout.aisles * pitch
    scale = min(PX_PER_M, MAX_DRAWING_PX / width_m, MAX_DRAWING_PX / length)
    top = _MARGIN + (_TITLE if title else 0.0)
    width = max(2 * _MARGIN + width_m * scale, _MIN_WIDTH)  # room for the caption
    height = top + length * scale + _BELOW

    def px(x_m: float, y_m: float) -> tuple[float, float]:
        return _MARGIN + (x_m - left_m) * scale, top + (length - y_m) * scale

    def rect(x0: float, y0: float, x1: float, y1: float, cls: str) -> str:
        (a, b), (c, d) = px(x0, y1), px(x1, y0)
        return (
            f'<rect class="{cls}" x="{_n(a)}" y="{_n(b)}" '
            f'width="{_n(c - a)}" height="{_n(d - b)}"/>'
        )

    def line(x0: float, y0: float, x1: float, y1: float, cls: str) -> str:
        (a, b), (c, d) = px(x0, y0), px(x1, y1)
        return f'<line class="{cls}" x1="{_n(a)}" y1="{_n(b)}" x2="{_n(c)}" y2="{_n(d)}"/>'

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" style="max-width:{_n(width)}px;height:auto" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title or 'Pick path')}</title>",
        "<style>.rack{fill:#cfcfcf;stroke:#a8a8a8;stroke-width:.5}"
        ".aisle{stroke:#e4e4e4;stroke-dasharray:4 3}.cross-aisle{stroke:#d8d8d8;stroke-width:2}"
        ".walk{fill:none;stroke:#d2401e;stroke-width:2;stroke-linejoin:round}"
        ".arrow{fill:#d2401e}.pick circle{fill:#1f5fbf}.pick text{fill:#fff;font-weight:bold}"
        ".depot rect,.end rect{fill:#222}</style>",
        f'<rect width="{_n(width)}" height="{_n(height)}" fill="#fff"/>',
    ]
    if title:
        out.append(
            f'<text class="title" x="{_n(_MARGIN)}" y="{_n(_MARGIN + 6)}" '
            f'font-size="15">{escape(title)}</text>'
        )

    # Racks line both sides of every aisle, cut where a cross aisle runs through.
    cross = layout.cross_aisles_m
    blocks = list(itertools.pairwise(cross))
    gap = min(0.2 * pitch, 0.25 * min(high - low for low, high in blocks))
    for aisle in range(layout.aisles):
        x = layout.aisle_x(aisle)
        for low, high in blocks:
            for x0 in (x - 0.45 * pitch, x + 0.2 * pitch):
                out.append(rect(x0, low + gap, x0 + 0.25 * pitch, high - gap, "rack"))
        out.append(line(x, 0.0, x, length, "aisle"))
        ax, ay = px(x, length)
        out.append(
            f'<text class="aisle-number" x="{_n(ax)}" y="{_n(ay - 8)}" text-anchor="middle" '
            f'fill="#888">{aisle}</text>'
        )
    for c in cross:
        out.append(line(left_m, c, left_m + width_m, c, "cross-aisle"))

    if path is not None and len(path.walk) >= 2:
        points = [px(x, y) for x, y in path.walk]
        out.append(f'<polyline class="walk" points="{_points(points)}"/>')
        for (a, b), (c, d) in itertools.pairwise(points):
            out.extend(_arrow(a, b, c, d))

    ends = [("depot", layout.depot_x_m)]
    if layout.end_x_m != layout.depot_x_m:
        ends.append(("end", layout.end_x_m))
    for name, x_m in ends:
        x, y = px(x_m, 0.0)
        out.append(
            f'<g class="{name}"><rect x="{_n(x - 6)}" y="{_n(y - 6)}" width="12" height="12"/>'
            f'<text x="{_n(x)}" y="{_n(y + 19)}" text-anchor="middle">{name}</text></g>'
        )

    # One marker per position, listing the numbers of every pick there.
    numbers: dict[Pick, list[int]] = {}
    visiting = path.order if path is not None and picks else range(len(picks))
    for rank, index in enumerate(visiting, start=1):
        numbers.setdefault(picks[index], []).append(rank)
    for pick, ranks in sorted(numbers.items(), key=lambda item: item[1][0]):
        label = ",".join(map(str, ranks))
        x, y = px(layout.aisle_x(pick.aisle), pick.y_m)
        out.append(
            f'<g class="pick"><circle cx="{_n(x)}" cy="{_n(y)}" '
            f'r="{_n(max(8.0, 3.3 * len(label) + 2))}"/>'
            f'<text x="{_n(x)}" y="{_n(y)}" dy="4" text-anchor="middle">{label}</text></g>'
        )

    if path is not None:
        caption = f"{len(path.order)} picks, walk {path.length_m:.1f} m ({escape(path.method)})"
    else:
        caption = f"{len(picks)} picks"
    out.append(f'<text class="caption" x="{_n(_MARGIN)}" y="{_n(height - 10)}">{caption}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _arrow(x0: float, y0: float, x1: float, y1: float) -> list[str]:
    """A small triangle pointing along the segment at its middle; none on short segments."""
    dx, dy = x1 - x0, y1 - y0
    size = math.hypot(dx, dy)
    if size < 6 * _ARROW:
        return []
    ux, uy = dx / size, dy / size
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    corners = (
        (mx + ux * _ARROW, my + uy * _ARROW),
        (mx - ux * _ARROW - uy * _ARROW, my - uy * _ARROW + ux * _ARROW),
        (mx - ux * _ARROW + uy * _ARROW, my - uy * _ARROW - ux * _ARROW),
    )
    return [f'<polygon class="arrow" points="{_points(corners)}"/>']


def _points(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)

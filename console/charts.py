"""Small charts drawn on the server as inline SVG: a bar chart and a line for a daily series.

No JavaScript and no chart library: a console page puts the returned markup where the chart
goes. Each chart is an image to assistive technology (``role="img"``, an ``aria-label`` and a
``<title>`` naming it and its range of values) and carries a ``<desc>`` listing every value,
so the figures are there without the picture. Each bar or point has its own ``<title>`` (a
tooltip). Every text is escaped. Missing values (None, NaN) leave a gap. Colours come from
``currentColor`` and CSS classes (``chart``, ``chart-bar``, ``chart-line``, ``chart-axis``),
so the page's stylesheet decides them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup

#: One point of a series: its label (a day, say "23 Nov") and its value (None: no figure).
Point = tuple[str, float | None]

_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 34.0, 6.0, 18.0, 16.0


def _number(value: float) -> str:
    """A value as people read it: whole above 100, one decimal below, two below 1."""
    if value == int(value) or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.1f}"
    return f"{value:.2f}"


def _coord(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _clean(points: Sequence[Point]) -> list[tuple[str, float | None]]:
    cleaned: list[tuple[str, float | None]] = []
    for label, value in points:
        ok = value is not None and not isinstance(value, bool) and math.isfinite(value)
        cleaned.append((str(label), float(value) if ok and value is not None else None))
    return cleaned


def _with_unit(value: float | None, unit: str) -> str:
    if value is None:
        return "no figure"
    return f"{_number(value)} {unit}".strip()


class _Frame:
    """The plotting area and the value scale shared by both charts."""

    def __init__(self, values: list[float], width: int, height: int) -> None:
        self.width, self.height = width, height
        self.low = min([0.0, *values])
        self.high = max([0.0, *values])
        if self.high == self.low:
            self.high = self.low + 1.0
        self.left, self.right = _PAD_LEFT, width - _PAD_RIGHT
        self.top, self.bottom = _PAD_TOP, height - _PAD_BOTTOM

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.bottom - share * (self.bottom - self.top)


def _check_size(width: int, height: int) -> None:
    if width < 80 or height < 50:
        raise ValueError(f"a chart needs at least 80 x 50 px, got {width} x {height}")


def _open(
    title: str, points: list[tuple[str, float | None]], unit: str, kind: str, frame: _Frame
) -> list[Markup]:
    """The opening tag with its accessible name, the title, the values in words, the heading."""
    figures = [v for _, v in points if v is not None]
    if figures:
        label = f"{title}: {len(points)} values, {_with_unit(min(figures), unit)} to "
        label += _with_unit(max(figures), unit)
    else:
        label = f"{title}: no figures"
    desc = "; ".join(f"{name}: {_with_unit(value, unit)}" for name, value in points)
    return [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
            'width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-label="{label}">'
        ).format(kind=kind, w=frame.width, h=frame.height, label=label),
        Markup("<title>{}</title>").format(label),
        Markup("<desc>{}</desc>").format(desc or "no values"),
        Markup(
            '<text x="{x}" y="12" font-size="11" font-weight="bold" fill="currentColor">{t}</text>'
        ).format(x=_coord(frame.left), t=title),
    ]


def _axes(frame: _Frame, points: list[tuple[str, float | None]]) -> list[Markup]:
    """The value axis (its top and bottom figures; the unit is in the tooltips and the
    description, there is no room for it) and the first and last labels below."""
    parts = [
        Markup(
            '<g class="chart-axis" fill="currentColor" font-size="9">'
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="currentColor" stroke-width="0.5"/>'
            '<text x="{tx}" y="{ty}" text-anchor="end">{high}</text>'
            '<text x="{tx}" y="{by}" text-anchor="end">{low}</text>'
        ).format(
            l=_coord(frame.left),
            r=_coord(frame.right),
            b=_coord(frame.y(0.0)),
            tx=_coord(frame.left - 3),
            ty=_coord(frame.top + 3),
            by=_coord(frame.bottom),
            high=_number(frame.high),
            low=_number(frame.low),
        )
    ]
    if points:
        below = _coord(frame.height - 4)
        parts.append(
            Markup('<text x="{x}" y="{y}" text-anchor="start">{t}</text>').format(
                x=_coord(frame.left), y=below, t=points[0][0]
            )
        )
        if len(points) > 1:
            parts.append(
                Markup('<text x="{x}" y="{y}" text-anchor="end">{t}</text>').format(
                    x=_coord(frame.right), y=below, t=points[-1][0]
                )
            )
    parts.append(Markup("</g>"))
    return parts


def bar_chart(
    points: Sequence[Point], *, title: str, unit: str = "", width: int = 320, height: int = 120
) -> Markup:
    """A bar per point (a day's orders, say), labelled first and last, scaled from zero."""
    _check_size(width, height)
    cleaned = _clean(points)
    frame = _Frame([v for _, v in cleaned if v is not None], width, height)
    parts = _open(title, cleaned, unit, "bar", frame)
    parts += _axes(frame, cleaned)
    if cleaned:
        slot = (frame.right - frame.left) / len(cleaned)
        bar = max(slot * 0.7, 1.0)
        parts.append(Markup('<g class="chart-bars" fill="currentColor">'))
        for i, (label, value) in enumerate(cleaned):
            if value is None:
                continue
            top, base = sorted((frame.y(value), frame.y(0.0)))
            parts.append(
                Markup(
                    '<rect x="{x}" y="{y}" width="{w}" height="{h}">'
                    "<title>{label}: {value}</title></rect>"
                ).format(
                    x=_coord(frame.left + i * slot + (slot - bar) / 2),
                    y=_coord(top),
                    w=_coord(bar),
                    h=_coord(max(base - top, 0.5)),
                    label=label,
                    value=_with_unit(value, unit),
                )
            )
        parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def line_chart(
    points: Sequence[Point], *, title: str, unit: str = "", width: int = 320, height: int = 120
) -> Markup:
    """A line through the points (walk per line by day, say); a missing value breaks it."""
    _check_size(width, height)
    cleaned = _clean(points)
    frame = _Frame([v for _, v in cleaned if v is not None], width, height)
    parts = _open(title, cleaned, unit, "line", frame)
    parts += _axes(frame, cleaned)
    step = (frame.right - frame.left) / max(len(cleaned) - 1, 1)
    runs: list[list[tuple[float, float]]] = [[]]
    dots: list[Markup] = []
    for i, (label, value) in enumerate(cleaned):
        if value is None:
            runs.append([])
            continue
        x = frame.left + i * step if len(cleaned) > 1 else (frame.left + frame.right) / 2
        y = frame.y(value)
        runs[-1].append((x, y))
        dots.append(
            Markup('<circle cx="{x}" cy="{y}" r="2"><title>{t}: {v}</title></circle>').format(
                x=_coord(x), y=_coord(y), t=label, v=_with_unit(value, unit)
            )
        )
    parts.append(Markup('<g class="chart-line" fill="currentColor">'))
    for run in runs:
        if len(run) > 1:
            parts.append(
                Markup(
                    '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/>'
                ).format(" ".join(f"{_coord(x)},{_coord(y)}" for x, y in run))
            )
    parts += dots
    parts.append(Markup("</g></svg>"))
    return Markup("").join(parts)


def sparkline(
    points: Sequence[Point], *, title: str, unit: str = "", width: int = 120, height: int = 28
) -> Markup:
    """A tiny line with no axes, for a table cell; its last value is in its label."""
    if width < 20 or height < 10:
        raise ValueError(f"a sparkline needs at least 20 x 10 px, got {width} x {height}")
    cleaned = _clean(points)
    figures = [v for _, v in cleaned if v is not None]
    last = next((v for _, v in reversed(cleaned) if v is not None), None)
    label = f"{title}: latest {_with_unit(last, unit)}" if figures else f"{title}: no figures"
    low, high = min([*figures, 0.0]), max([*figures, 0.0])
    if high == low:
        high = low + 1.0
    step = (width - 4) / max(len(cleaned) - 1, 1)
    runs: list[list[str]] = [[]]
    for i, (_, value) in enumerate(cleaned):
        if value is None:
            runs.append([])
            continue
        y = height - 2 - (value - low) / (high - low) * (height - 4)
        runs[-1].append(f"{_coord(2 + i * step)},{_coord(y)}")
    desc = "; ".join(f"{name}: {_with_unit(value, unit)}" for name, value in cleaned)
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-sparkline" role="img" '
            'width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-label="{label}">'
            "<title>{label}</title><desc>{desc}</desc>"
        ).format(w=width, h=height, label=label, desc=desc or "no values")
    ]
    for run in runs:
        if len(run) > 1:
            parts.append(
                Markup(
                    '<polyline fill="none" stroke="currentColor" stroke-width="1.2" points="{}"/>'
                ).format(" ".join(run))
            )
        elif len(run) == 1:
            cx, cy = run[0].split(",")
            parts.append(
                Markup('<circle cx="{}" cy="{}" r="1.5" fill="currentColor"/>').format(cx, cy)
            )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)

"""Layouts from their JSON form, and the shortest walk between any two points of one.

The JSON form (``layout_from_dict``)::

    {"aisles": 12, "aisle_pitch_m": 3.0, "aisle_length_m": 30.0,
     "cross_aisles_m": [0.0, 15.0, 30.0], "depot": {"x_m": 0.0}, "end": {"x_m": 33.0}}

``end`` defaults to the depot. Picks (``picks_from_list``): ``[{"aisle": 3, "y_m": 12.5}, ...]``
with ``0 <= y_m <= aisle_length_m`` (a pick may sit on a cross aisle). Unknown keys are refused.

Why one cross aisle is enough: a walk between two aisles that used two cross aisles ``c1, c2``
and an aisle ``k`` in between is never shorter than the walk through ``c1`` alone (triangle
inequality on ``x`` and on ``y``), so the shortest walk between points in different aisles is
``|x1 - x2| + min over cross aisles c of (|y1 - c| + |y2 - c|)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from routing.types import FrontPoint, Layout, LayoutError, Pick, PickError, Point

_LAYOUT_KEYS = {"aisles", "aisle_pitch_m", "aisle_length_m", "cross_aisles_m", "depot", "end"}
_POINT_KEYS = {"x_m"}
_PICK_KEYS = {"aisle", "y_m"}


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LayoutError(field, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise LayoutError(field, f"must be finite, got {value!r}")
    return float(value)


def _front_x(data: Any, field: str) -> float:
    if not isinstance(data, Mapping):
        raise LayoutError(field, 'must be an object like {"x_m": 0.0}')
    unknown = set(data) - _POINT_KEYS
    if unknown:
        raise LayoutError(field, f"unknown key(s) {sorted(unknown)}")
    if "x_m" not in data:
        raise LayoutError(f"{field}.x_m", "is missing")
    return _number(data["x_m"], f"{field}.x_m")


def layout_from_dict(data: Mapping[str, Any]) -> Layout:
    """Build a validated Layout from its JSON form; LayoutError names the offending key."""
    if not isinstance(data, Mapping):
        raise LayoutError("layout", "must be a JSON object")
    unknown = set(data) - _LAYOUT_KEYS
    if unknown:
        raise LayoutError(sorted(unknown)[0], "unknown key")
    for key in ("aisles", "aisle_pitch_m", "aisle_length_m", "cross_aisles_m", "depot"):
        if key not in data:
            raise LayoutError(key, "is missing")
    aisles = data["aisles"]
    if isinstance(aisles, bool) or not isinstance(aisles, int) or aisles < 1:
        raise LayoutError("aisles", f"must be a whole number >= 1, got {aisles!r}")
    pitch = _number(data["aisle_pitch_m"], "aisle_pitch_m")
    length = _number(data["aisle_length_m"], "aisle_length_m")
    if pitch <= 0:
        raise LayoutError("aisle_pitch_m", "must be greater than 0")
    if length <= 0:
        raise LayoutError("aisle_length_m", "must be greater than 0")
    raw_cross = data["cross_aisles_m"]
    if not isinstance(raw_cross, Sequence) or isinstance(raw_cross, str):
        raise LayoutError("cross_aisles_m", "must be a list of numbers")
    cross = tuple(_number(c, f"cross_aisles_m[{i}]") for i, c in enumerate(raw_cross))
    if len(cross) < 2:
        raise LayoutError("cross_aisles_m", "needs at least the front and the back cross aisle")
    if cross[0] != 0.0:
        raise LayoutError("cross_aisles_m", "must start with the front cross aisle at 0")
    if cross[-1] != length:
        raise LayoutError("cross_aisles_m", "must end with the back cross aisle at aisle_length_m")
    if any(b <= a for a, b in itertools.pairwise(cross)):
        raise LayoutError("cross_aisles_m", "must be strictly increasing")
    last_x = (aisles - 1) * pitch
    depot = _front_x(data["depot"], "depot")
    end = _front_x(data["end"], "end") if "end" in data else depot
    for field, x in (("depot.x_m", depot), ("end.x_m", end)):
        if not 0.0 <= x <= last_x:
            raise LayoutError(
                field, f"must lie on the front cross aisle, between 0 and {last_x:g}, got {x:g}"
            )
    return Layout(
        aisles=aisles,
        aisle_pitch_m=pitch,
        aisle_length_m=length,
        cross_aisles_m=cross,
        depot_x_m=depot,
        end_x_m=end,
    )


def picks_from_list(layout: Layout, data: Sequence[Any]) -> tuple[Pick, ...]:
    """Validate picks against a layout; PickError names the offending pick by its index."""
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise PickError(-1, "picks must be a list")
    picks = []
    for index, raw in enumerate(data):
        if not isinstance(raw, Mapping):
            raise PickError(index, 'must be an object like {"aisle": 3, "y_m": 12.5}')
        unknown = set(raw) - _PICK_KEYS
        if unknown:
            raise PickError(index, f"unknown key(s) {sorted(unknown)}")
        if not set(raw) >= _PICK_KEYS:
            raise PickError(index, f"needs {sorted(_PICK_KEYS - set(raw))}")
        picks.append(make_pick(layout, raw["aisle"], raw["y_m"], index=index))
    return tuple(picks)


def make_pick(layout: Layout, aisle: Any, y_m: Any, *, index: int = 0) -> Pick:
    """A validated pick: an existing aisle and a finite position along it."""
    if isinstance(aisle, bool) or not isinstance(aisle, int) or not 0 <= aisle < layout.aisles:
        raise PickError(index, f"aisle must be 0 to {layout.aisles - 1}, got {aisle!r}")
    if isinstance(y_m, bool) or not isinstance(y_m, int | float) or not math.isfinite(y_m):
        raise PickError(index, f"y_m must be a finite number, got {y_m!r}")
    if not 0.0 <= y_m <= layout.aisle_length_m:
        raise PickError(index, f"y_m must be 0 to {layout.aisle_length_m:g}, got {y_m:g}")
    return Pick(aisle, float(y_m))


def _position(layout: Layout, point: Point) -> tuple[float, float, int | None]:
    """(x, y, aisle) of a point; front points belong to no aisle."""
    if isinstance(point, FrontPoint):
        return point.x_m, 0.0, None
    return layout.aisle_x(point.aisle), point.y_m, point.aisle


def best_cross_aisle(layout: Layout, y1: float, y2: float) -> float:
    """The cross aisle through which walking from y1 to y2 in another aisle is shortest."""
    return min(layout.cross_aisles_m, key=lambda c: (abs(y1 - c) + abs(y2 - c), c))


def distance(layout: Layout, a: Point, b: Point) -> float:
    """The shortest walking distance between two points of the layout, in metres."""
    x1, y1, aisle1 = _position(layout, a)
    x2, y2, aisle2 = _position(layout, b)
    if aisle1 is not None and aisle1 == aisle2:
        return abs(y1 - y2)
    if aisle1 is None or aisle2 is None:
        # A front point is on the front cross aisle: straight along it, then up the aisle.
        return abs(x1 - x2) + abs(y1 - y2)
    c = best_cross_aisle(layout, y1, y2)
    return abs(x1 - x2) + abs(y1 - c) + abs(y2 - c)


def walk(layout: Layout, a: Point, b: Point) -> tuple[tuple[float, float], ...]:
    """The polyline of a shortest walk from a to b (its length equals ``distance``)."""
    x1, y1, aisle1 = _position(layout, a)
    x2, y2, aisle2 = _position(layout, b)
    if (aisle1 is not None and aisle1 == aisle2) or (x1 == x2):
        corners = [(x1, y1), (x2, y2)]
    elif aisle1 is None or aisle2 is None:
        corners = (
            [(x1, y1), (x2, 0.0), (x2, y2)] if aisle1 is None else [(x1, y1), (x1, 0.0), (x2, y2)]
        )
    else:
        c = best_cross_aisle(layout, y1, y2)
        corners = [(x1, y1), (x1, c), (x2, c), (x2, y2)]
    # Drop repeated corners (a pick on the cross aisle, a front point at the aisle's foot).
    out = [corners[0]]
    for corner in corners[1:]:
        if corner != out[-1]:
            out.append(corner)
    return tuple(out)


def distance_matrix(
    layout: Layout,
    picks: Sequence[Pick],
    *,
    start: FrontPoint | None = None,
    end: FrontPoint | None = None,
) -> list[list[float]]:
    """Distances between start (index 0), the picks (1..n) and the end (n + 1)."""
    points: list[Point] = [
        start or FrontPoint(layout.depot_x_m),
        *picks,
        end or FrontPoint(layout.end_x_m),
    ]
    return [[distance(layout, p, q) for q in points] for p in points]

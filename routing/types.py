"""The plain data routing works on: layouts, picks, points and paths (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass


class LayoutError(ValueError):
    """A layout that cannot be walked; ``field`` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"layout {field}: {message}")
        self.field = field


class PickError(ValueError):
    """A pick outside the layout; ``index`` is its position in the pick list."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"pick {index}: {message}")
        self.index = index


@dataclass(frozen=True, slots=True)
class Layout:
    """A rectangular warehouse of parallel pick aisles split into blocks by cross aisles.

    Aisle ``i`` (from 0) runs along ``x = i * aisle_pitch_m`` from ``y = 0`` (the front cross
    aisle) to ``y = aisle_length_m`` (the back). ``cross_aisles_m`` are the ``y`` of every cross
    aisle, strictly increasing, first 0 and last ``aisle_length_m``. Pickers walk along aisle
    centre lines and cross aisles and change aisle only in a cross aisle. The depot and the end
    point lie on the front cross aisle.
    """

    aisles: int
    aisle_pitch_m: float
    aisle_length_m: float
    cross_aisles_m: tuple[float, ...]
    depot_x_m: float
    end_x_m: float

    @property
    def blocks(self) -> int:
        return len(self.cross_aisles_m) - 1

    def aisle_x(self, aisle: int) -> float:
        return aisle * self.aisle_pitch_m


@dataclass(frozen=True, slots=True)
class Pick:
    """A place to pick from: an aisle and a position along it (racks on both sides coincide)."""

    aisle: int
    y_m: float


@dataclass(frozen=True, slots=True)
class FrontPoint:
    """A point on the front cross aisle, such as the depot or the packing station."""

    x_m: float


Point = Pick | FrontPoint


@dataclass(frozen=True, slots=True)
class PickPath:
    """A planned walk: the visiting order, its length and how it was found."""

    order: tuple[int, ...]  # indexes into the picks given
    length_m: float
    method: str  # "exact", "ortools", "s_shape", ...
    walk: tuple[tuple[float, float], ...]  # polyline (x_m, y_m) for drawing

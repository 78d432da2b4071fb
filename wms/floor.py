"""Where slots are on the floor: a site's rack layout as ``routing`` layouts, one per zone.

A site's ``layout`` JSON (see docs/architecture.md) describes its racks::

    {"aisles": 12, "blocks": 2, "bays_per_block": 10, "bay_width_m": 1.3,
     "aisle_pitch_m": 3.2, "cross_aisle_width_m": 2.5,
     "depot": {"aisle": 1}, "pack_station": {"aisle": 12},
     "zones": {"ambient": [1, 8], "chilled": [9, 10], "frozen": [11, 12]}}

Aisles and bays are numbered from 1; bays run along the aisle from the front across every
block (bay 11 is the first bay of block 2 when there are 10 per block). Each temperature zone
is walled off and picked on its own (``zones``: its first and last aisle; without ``zones``
every temperature uses the whole floor), so each gets its own ``routing.types.Layout``:

- its aisles renumbered from 0, ``aisle_pitch_m`` apart;
- a cross aisle at the front, between blocks and at the back, ``cross_aisle_width_m`` wide,
  so block ``k`` (from 1) starts at ``(k - 1) * (block + cross) + cross / 2`` where ``block``
  is ``bays_per_block * bay_width_m``, and bay ``j`` of a block sits at the middle of its
  ``bay_width_m`` stretch; both rack sides of an aisle share a position, levels none;
- the picker starts at the depot's aisle and ends at the pack station's, each brought inside
  the zone when it lies outside (the zone's door nearest to it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from routing.types import Layout, Pick
from wms.errors import RuleViolation
from wms.models import Slot, Temperature

_NUMBERS = ("aisles", "blocks", "bays_per_block", "bay_width_m", "aisle_pitch_m")


@dataclass(frozen=True, slots=True)
class ZoneFloor:
    """One temperature zone's racks as a routing layout, and where each slot sits in it."""

    temperature: Temperature
    first_aisle: int  # the zone's first aisle, numbered from 1 as on the slots
    last_aisle: int
    bays_per_block: int
    block_m: float  # length of one block's racks
    cross_m: float  # width of a cross aisle
    bay_width_m: float
    layout: Layout

    def pick(self, slot: Slot) -> Pick:
        """The routing position of a rack slot of this zone (RuleViolation off the zone)."""
        if slot.aisle is None or slot.bay is None:
            raise RuleViolation(f"slot {slot.barcode} has no aisle and bay", field="slot_id")
        if not self.first_aisle <= slot.aisle <= self.last_aisle:
            raise RuleViolation(
                f"slot {slot.barcode} (aisle {slot.aisle}) is outside the "
                f"{self.temperature.value} zone, aisles {self.first_aisle}-{self.last_aisle}",
                field="slot_id",
            )
        block, within = divmod(slot.bay - 1, self.bays_per_block)
        if block >= self.layout.blocks:
            raise RuleViolation(
                f"slot {slot.barcode}: bay {slot.bay} is beyond the racks", field="slot_id"
            )
        y = block * (self.block_m + self.cross_m) + self.cross_m / 2
        y += (within + 0.5) * self.bay_width_m
        return Pick(slot.aisle - self.first_aisle, y)


def zone_floor(
    site_code: str, layout: Mapping[str, Any] | None, zone: Temperature
) -> ZoneFloor | None:
    """The zone's floor, or None when the site has no rack layout (picks go in slot order).

    A layout that cannot be read raises RuleViolation naming the site and the key.
    """
    if not layout:
        return None

    def bad(key: str, why: str) -> RuleViolation:
        return RuleViolation(f"site {site_code} layout {key}: {why}", field="layout")

    for key in _NUMBERS:
        value = layout.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise bad(key, f"must be a number > 0, got {value!r}")
        if not math.isfinite(value):
            raise bad(key, "must be finite")
    aisles, blocks, per_block = layout["aisles"], layout["blocks"], layout["bays_per_block"]
    for key, value in (("aisles", aisles), ("blocks", blocks), ("bays_per_block", per_block)):
        if not isinstance(value, int):
            raise bad(key, f"must be a whole number, got {value!r}")
    cross = layout.get("cross_aisle_width_m", 0.0)
    if isinstance(cross, bool) or not isinstance(cross, int | float) or not 0 <= cross < 100:
        raise bad("cross_aisle_width_m", f"must be a number >= 0, got {cross!r}")
    zones = layout.get("zones") or {}
    span = zones.get(zone.value, [1, aisles]) if isinstance(zones, Mapping) else None
    if (
        not isinstance(span, list | tuple)
        or len(span) != 2
        or not all(isinstance(a, int) and not isinstance(a, bool) for a in span)
        or not 1 <= span[0] <= span[1] <= aisles
    ):
        raise bad(f"zones.{zone.value}", f"must be [first aisle, last aisle], got {span!r}")
    first, last = span
    pitch = float(layout["aisle_pitch_m"])
    block_m = per_block * float(layout["bay_width_m"])
    length = blocks * (block_m + cross)
    cross_aisles = [k * (block_m + cross) for k in range(blocks + 1)]

    def door(key: str, default: int) -> float:
        spot = layout.get(key) or {}
        aisle = spot.get("aisle", default) if isinstance(spot, Mapping) else None
        if isinstance(aisle, bool) or not isinstance(aisle, int) or not 1 <= aisle <= aisles:
            raise bad(f"{key}.aisle", f"must be an aisle 1 to {aisles}, got {aisle!r}")
        return (min(max(aisle, first), last) - first) * pitch

    return ZoneFloor(
        temperature=zone,
        first_aisle=first,
        last_aisle=last,
        bays_per_block=per_block,
        block_m=block_m,
        cross_m=float(cross),
        bay_width_m=float(layout["bay_width_m"]),
        layout=Layout(
            aisles=last - first + 1,
            aisle_pitch_m=pitch,
            aisle_length_m=length,
            cross_aisles_m=tuple(cross_aisles),
            depot_x_m=door("depot", 1),
            end_x_m=door("pack_station", aisles),
        ),
    )

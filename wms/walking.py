"""A quick estimate of walking distance between rack slots, for ranking candidate slots.

``|Δaisle| * aisle_pitch_m + |Δbay| * bay_width_m`` with the pitches from ``site.layout``. It
ranks slots for allocation and putaway; exact pick-path lengths come from ``routing``.
"""

from __future__ import annotations

import math
from typing import Any

from wms.models import Slot

DEFAULT_AISLE_PITCH_M = 3.0
DEFAULT_BAY_WIDTH_M = 1.3
#: The depot sits at the front of aisle 1.
DEPOT_AISLE, DEPOT_BAY = 1, 0


def walk_estimate(
    layout: dict[str, Any] | None,
    slot: Slot,
    *,
    origin: tuple[int, int] = (DEPOT_AISLE, DEPOT_BAY),
) -> float:
    """Metres from origin (aisle, bay) to a rack slot; infinite for slots off the racks."""
    if slot.aisle is None or slot.bay is None:
        return math.inf
    pitch = float((layout or {}).get("aisle_pitch_m", DEFAULT_AISLE_PITCH_M))
    bay_width = float((layout or {}).get("bay_width_m", DEFAULT_BAY_WIDTH_M))
    return abs(slot.aisle - origin[0]) * pitch + abs(slot.bay - origin[1]) * bay_width

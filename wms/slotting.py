"""The slotting review: fast movers nearer the depot, velocity classes that match the picks.

Every pick face has a walking distance from the depot (the zone's racks as ``routing``
walks them, ``wms.floor``). Pick frequency is the number of confirmed picks from a face over
the last days. A fast mover in a far face and a slow mover (or nothing) in a nearer face of
the same zone are a swap worth making when ``2 x (far - near) x (fast - slow picks per day)``
metres a day are saved — each pick counted as a trip out from the depot and back, which is
the usual slotting measure; batched walks save less, but in the same order.
:func:`plan_slotting` is the pure core: swaps best saving first, each face in at most one, and
items whose velocity class (A: the items making the first 80 % of picks, B: to 95 %, C: the
rest) no longer matches their share. :func:`review_slotting` reads a site and calls it.

It only suggests: nothing is moved and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing.layout import distance
from routing.types import FrontPoint
from wms.errors import NotFound, RuleViolation
from wms.floor import ZoneFloor, zone_floor
from wms.models import (
    Item,
    PickList,
    PickTask,
    PickTaskStatus,
    Site,
    Slot,
    SlotKind,
    Temperature,
    VelocityClass,
    Wave,
    Zone,
)
from wms.walking import walk_estimate

#: The items that make up this share of the picks are class A; up to the next, class B.
A_SHARE = 0.80
B_SHARE = 0.95
DEFAULT_DAYS = 14
MAX_SWAPS = 20


@dataclass(frozen=True, slots=True)
class FaceUse:
    """A pick face as the review sees it: where it is, what it holds, how often it is picked."""

    slot_id: int
    barcode: str
    #: Swaps stay within one zone (a chilled item cannot go to an ambient face).
    zone_id: int
    #: Walking metres from the depot to the face.
    distance_m: float
    #: The item the face is dedicated to; None for an empty face.
    item_id: int | None
    sku: str | None
    #: Confirmed picks from this face in the review's days.
    picks: int = 0


@dataclass(frozen=True, slots=True)
class Swap:
    """Swap the items of two faces: the fast mover comes nearer, the slow one goes back.

    With an empty near face it is a move: the fast mover goes there, the far face empties.
    """

    far: FaceUse  # holds the fast mover now
    near: FaceUse  # holds the slow mover (or nothing) now
    fast_picks_per_day: float
    slow_picks_per_day: float
    metres_saved_per_day: float

    @property
    def is_move(self) -> bool:
        return self.near.item_id is None


@dataclass(frozen=True, slots=True)
class Reclass:
    """An item whose velocity class no longer matches its share of the site's picks."""

    item_id: int
    sku: str
    current: VelocityClass
    suggested: VelocityClass
    picks: int
    share: float  # of all picks at the site in the review's days


@dataclass(frozen=True, slots=True)
class SlottingPlan:
    swaps: tuple[Swap, ...]
    reclassify: tuple[Reclass, ...]


def velocity_classes(picks: Mapping[int, int]) -> dict[int, VelocityClass]:
    """ABC classes by pick share: most picked first; A until 80 % of the picks, B until 95 %.

    An item is in the class its first pick falls in, so the top item is always A. Items
    without picks are C. Ties go by item id, so the answer is deterministic.
    """
    total = sum(max(n, 0) for n in picks.values())
    classes: dict[int, VelocityClass] = {}
    before = 0
    for item_id, n in sorted(picks.items(), key=lambda kv: (-kv[1], kv[0])):
        if n <= 0 or total == 0:
            classes[item_id] = VelocityClass.C
            continue
        share_before = before / total
        if share_before < A_SHARE:
            classes[item_id] = VelocityClass.A
        elif share_before < B_SHARE:
            classes[item_id] = VelocityClass.B
        else:
            classes[item_id] = VelocityClass.C
        before += n
    return classes


def plan_slotting(
    faces: Sequence[FaceUse],
    *,
    days: float,
    item_picks: Mapping[int, int],
    velocity: Mapping[int, VelocityClass],
    skus: Mapping[int, str] | None = None,
    max_swaps: int = MAX_SWAPS,
    min_saving_m_per_day: float = 0.0,
) -> SlottingPlan:
    """Suggest swaps of pick faces (best saving first) and velocity classes to change.

    ``item_picks`` are the site's picks per item (from any slot) for the pick shares;
    ``velocity`` the items' current classes (items missing from it are not reclassified).
    Deterministic for the same input.
    """
    if not days > 0:
        raise ValueError(f"days must be > 0, got {days!r}")
    by_zone: dict[int, list[FaceUse]] = defaultdict(list)
    for face in faces:
        by_zone[face.zone_id].append(face)
    candidates: list[tuple[float, str, str, Swap]] = []
    for zone_faces in by_zone.values():
        for far in zone_faces:
            if far.item_id is None or far.picks <= 0:
                continue
            for near in zone_faces:
                if near.distance_m >= far.distance_m or near.picks >= far.picks:
                    continue
                if near.item_id == far.item_id:
                    continue
                fast, slow = far.picks / days, near.picks / days
                saved = 2 * (far.distance_m - near.distance_m) * (fast - slow)
                if saved > min_saving_m_per_day:
                    swap = Swap(far, near, fast, slow, saved)
                    candidates.append((-saved, far.barcode, near.barcode, swap))
    candidates.sort(key=lambda c: c[:3])
    used: set[int] = set()
    swaps: list[Swap] = []
    for _, _, _, swap in candidates:
        if len(swaps) >= max_swaps:
            break
        if swap.far.slot_id in used or swap.near.slot_id in used:
            continue
        used.update((swap.far.slot_id, swap.near.slot_id))
        swaps.append(swap)
    suggested = velocity_classes(item_picks)
    total = sum(max(n, 0) for n in item_picks.values())
    names = dict(skus or {})
    for face in faces:
        if face.item_id is not None and face.sku:
            names.setdefault(face.item_id, face.sku)
    reclassify = []
    if total:
        for item_id in sorted(velocity):
            current = velocity[item_id]
            wanted = suggested.get(item_id, VelocityClass.C)
            if wanted != current:
                picks = item_picks.get(item_id, 0)
                sku = names.get(item_id, str(item_id))
                reclassify.append(Reclass(item_id, sku, current, wanted, picks, picks / total))
    return SlottingPlan(tuple(swaps), tuple(reclassify))


# --- the review on the database -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlottingReview:
    """A site's slotting review: the faces looked at, the swaps and reclassifications."""

    site_id: int
    site_code: str
    since: dt.datetime
    until: dt.datetime
    days: int
    faces: tuple[FaceUse, ...]
    picks: int  # confirmed picks at the site in the days, from any slot
    swaps: tuple[Swap, ...]
    reclassify: tuple[Reclass, ...]
    #: Pick faces left out: off their zone's racks in the layout (barcodes).
    unmapped: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        saved = sum(s.metres_saved_per_day for s in self.swaps)
        text = (
            f"{len(self.faces)} pick faces, {self.picks} picks in {self.days} days: "
            f"{len(self.swaps)} swap(s) suggested saving {saved:.0f} m a day, "
            f"{len(self.reclassify)} item(s) to reclassify"
        )
        if self.unmapped:
            text += f"; {len(self.unmapped)} face(s) off the layout left out"
        return text


PICKED = (PickTaskStatus.PICKED, PickTaskStatus.SHORT)


def review_slotting(
    session: Session,
    *,
    site_id: int,
    now: dt.datetime,
    days: int = DEFAULT_DAYS,
    max_swaps: int = MAX_SWAPS,
) -> SlottingReview:
    """Review a front warehouse's slotting from its picks of the last days (read-only).

    Locked pick faces are left out (they cannot take or give an item now).
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise RuleViolation("must be a whole number of days, 1 or more", field="days")
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} does not exist", field="site_id")
    since = now - dt.timedelta(days=days)
    done = (
        select(PickTask.slot_id, PickTask.item_id, func.count(PickTask.id))
        .join(PickList, PickList.id == PickTask.pick_list_id)
        .join(Wave, Wave.id == PickList.wave_id)
        .where(
            Wave.site_id == site_id,
            PickTask.status.in_(PICKED),
            PickTask.picked_qty > 0,
            PickTask.done_at >= since,
            PickTask.done_at < now,
        )
        .group_by(PickTask.slot_id, PickTask.item_id)
    )
    face_picks: dict[tuple[int, int], int] = {}
    item_picks: dict[int, int] = defaultdict(int)
    for slot_id, item_id, n in session.execute(done):
        face_picks[(slot_id, item_id)] = int(n)
        item_picks[item_id] += int(n)
    slots = session.execute(
        select(Slot, Zone.temperature)
        .join(Zone, Zone.id == Slot.zone_id)
        .where(
            Slot.site_id == site_id,
            Slot.kind == SlotKind.PICK_FACE,
            Slot.locked.is_(False),
            Slot.aisle.is_not(None),
            Slot.bay.is_not(None),
        )
        .order_by(Slot.id)
    ).tuples()
    item_ids = set(item_picks)
    floors: dict[Temperature, ZoneFloor | None] = {}
    placed: list[tuple[Slot, float]] = []
    unmapped: list[str] = []
    for slot, temperature in slots:
        if temperature not in floors:
            floors[temperature] = zone_floor(site.code, site.layout, temperature)
        floor = floors[temperature]
        if floor is None:
            placed.append((slot, walk_estimate(site.layout, slot)))
            continue
        try:
            pick = floor.pick(slot)
        except RuleViolation:
            unmapped.append(slot.barcode)
            continue
        placed.append((slot, distance(floor.layout, FrontPoint(floor.layout.depot_x_m), pick)))
    for slot, _ in placed:
        if slot.item_id is not None:
            item_ids.add(slot.item_id)
    items = {
        item_id: (sku, velocity)
        for item_id, sku, velocity in session.execute(
            select(Item.id, Item.sku, Item.velocity).where(Item.id.in_(sorted(item_ids)))
        )
    }
    faces = tuple(
        FaceUse(
            slot_id=slot.id,
            barcode=slot.barcode,
            zone_id=slot.zone_id,
            distance_m=round(metres, 3),
            item_id=slot.item_id,
            sku=items[slot.item_id][0] if slot.item_id in items else None,
            picks=face_picks.get((slot.id, slot.item_id), 0) if slot.item_id else 0,
        )
        for slot, metres in placed
    )
    plan = plan_slotting(
        faces,
        days=days,
        item_picks=item_picks,
        velocity={item_id: velocity for item_id, (_, velocity) in items.items()},
        skus={item_id: sku for item_id, (sku, _) in items.items()},
        max_swaps=max_swaps,
    )
    return SlottingReview(
        site_id=site.id,
        site_code=site.code,
        since=since,
        until=now,
        days=days,
        faces=faces,
        picks=sum(item_picks.values()),
        swaps=plan.swaps,
        reclassify=plan.reclassify,
        unmapped=tuple(unmapped),
    )

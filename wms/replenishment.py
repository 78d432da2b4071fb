"""Pick-face replenishment: top pick faces up from the reserve before they run short.

A pick face with a min and a max is topped up when what it can still give — on hand, less
what released and planned waves reserved, plus what is already on its way — less what the
open orders due soon will ask of it, falls below its min. The task brings it up to its max
(as much as the slot holds), from the reserve row that expires first (FEFO); reserve rows on
hold (near their expiry) are never a source.

:func:`propose` decides, as a pure function of the levels it is given, with a trace that says
why each quantity was chosen; :func:`replenish` reads the levels, locks the pick faces and
creates the tasks. A face with an open replenishment task never gets a second one, so running
the job twice creates nothing the second time. The tasks appear on the handhelds' task page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    Order,
    OrderLine,
    OrderStatus,
    Slot,
    SlotKind,
    Stock,
    Task,
    TaskKind,
    TaskStatus,
    utcnow,
)

#: Open orders whose window starts within this many minutes count as demand on the faces.
DEMAND_HORIZON_MINUTES = 120

ACTIVE_TASKS = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class ReserveRow:
    """Units of the item in a reserve slot that no allocation or task has claimed."""

    slot_id: int
    barcode: str
    lot: str
    expiry: dt.date | None
    free: int


@dataclass(frozen=True, slots=True)
class FaceLevel:
    """What a pick face holds and what is asked of it, as the proposal needs it."""

    slot_id: int
    barcode: str
    item_id: int
    sku: str
    min_qty: int
    max_qty: int
    on_hand: int
    reserved: int
    #: Units of open replenishment tasks on their way to this face.
    on_its_way: int = 0
    #: Unallocated units on hold at the face (near expiry): there, taking room, not pickable.
    on_hold: int = 0
    #: The id of an open replenishment task to this face, if there is one.
    open_task_id: int | None = None
    #: Units on open orders, not allocated yet, whose window starts soon.
    demand: int = 0
    #: The item's free reserve stock, any order (sorted FEFO by the proposal).
    reserve: tuple[ReserveRow, ...] = ()


@dataclass(frozen=True, slots=True)
class Proposal:
    """One face's outcome: a task to make (source, lot, quantity), or why not; and the trace."""

    face: FaceLevel
    quantity: int
    source: ReserveRow | None
    reason: str  # replenish, above_min, task_open, no_room, no_reserve
    trace: tuple[str, ...] = field(default=())

    @property
    def creates_task(self) -> bool:
        return self.quantity > 0 and self.source is not None


def _fefo(row: ReserveRow) -> tuple[bool, dt.date, str, int]:
    return (row.expiry is None, row.expiry or dt.date.max, row.barcode, row.slot_id)


def propose(levels: Sequence[FaceLevel]) -> list[Proposal]:
    """Decide, face by face, whether to replenish and how much; never raises."""
    return [_propose_one(level) for level in levels]


def _propose_one(face: FaceLevel) -> Proposal:
    free = face.on_hand - face.reserved - face.on_hold + face.on_its_way
    after = free - face.demand
    held = f" - {face.on_hold} on hold" if face.on_hold else ""
    trace = [
        f"{face.on_hand} on hand - {face.reserved} reserved{held} + {face.on_its_way} on its way "
        f"= {free} free",
    ]
    if face.demand:
        trace.append(f"- {face.demand} wanted by open orders due soon = {after}")
    if face.open_task_id is not None:
        trace.append(f"task {face.open_task_id} already brings {face.on_its_way}: no second one")
        return Proposal(face, 0, None, "task_open", tuple(trace))
    if after >= face.min_qty:
        trace.append(f"{after} is not below min {face.min_qty}: nothing to do")
        return Proposal(face, 0, None, "above_min", tuple(trace))
    room = face.max_qty - face.on_hand - face.on_its_way
    trace.append(
        f"{after} is below min {face.min_qty}: top up to max {face.max_qty}, "
        f"room {room} ({face.max_qty} - {face.on_hand} on hand - {face.on_its_way} on its way)"
    )
    if room <= 0:
        trace.append("no room at the face: nothing to bring")
        return Proposal(face, 0, None, "no_room", tuple(trace))
    sources = sorted((row for row in face.reserve if row.free > 0), key=_fefo)
    if not sources:
        trace.append(f"the reserve holds no free {face.sku}")
        return Proposal(face, 0, None, "no_reserve", tuple(trace))
    source = sources[0]
    quantity = min(room, source.free)
    expiry = source.expiry.isoformat() if source.expiry else "no expiry"
    lot = f"lot {source.lot}, " if source.lot else ""
    trace.append(
        f"first to expire in the reserve: {source.barcode} ({lot}{expiry}) with {source.free} "
        f"free: bring {quantity}"
        + (" (the rest of the room waits for the next run)" if quantity < room else "")
    )
    return Proposal(face, quantity, source, "replenish", tuple(trace))


# --- the job ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplenishmentRun:
    """What a run decided for every pick face it looked at, and the tasks it made."""

    site_id: int
    proposals: tuple[Proposal, ...]
    task_ids: tuple[int, ...]
    dry_run: bool

    @property
    def summary(self) -> str:
        made = sum(p.creates_task for p in self.proposals)
        units = sum(p.quantity for p in self.proposals if p.creates_task)
        verb = "would create" if self.dry_run else "created"
        return (
            f"{len(self.proposals)} pick faces looked at, {verb} {made} replenishment task(s) "
            f"for {units} units"
        )


def replenish(
    session: Session,
    site_id: int,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    horizon_minutes: float = DEMAND_HORIZON_MINUTES,
) -> ReplenishmentRun:
    """Look at every pick face of the site with a min and max; make the tasks it needs.

    The pick faces are locked (id order) before their open tasks are read, so two runs at
    once make one task per face. ``dry_run`` decides the same without writing anything.
    """
    now = now or utcnow()
    faces_query = (
        select(Slot)
        .where(
            Slot.site_id == site_id,
            Slot.kind == SlotKind.PICK_FACE,
            Slot.item_id.is_not(None),
            Slot.min_qty.is_not(None),
            Slot.max_qty.is_not(None),
            Slot.locked.is_(False),
        )
        .order_by(Slot.id)
    )
    if not dry_run:
        faces_query = faces_query.with_for_update()
    faces = list(session.scalars(faces_query))
    levels = _levels(session, site_id, faces, now=now, horizon_minutes=horizon_minutes)
    proposals = propose(levels)
    task_ids: list[int] = []
    if not dry_run:
        for proposal in proposals:
            if not proposal.creates_task:
                continue
            assert proposal.source is not None
            task = Task(
                site_id=site_id,
                kind=TaskKind.REPLENISHMENT,
                status=TaskStatus.OPEN,
                item_id=proposal.face.item_id,
                lot=proposal.source.lot,
                quantity=proposal.quantity,
                done_qty=0,
                from_slot_id=proposal.source.slot_id,
                to_slot_id=proposal.face.slot_id,
                reference=f"replenish {proposal.face.barcode}",
            )
            session.add(task)
            session.flush()
            task_ids.append(task.id)
    return ReplenishmentRun(site_id, tuple(proposals), tuple(task_ids), dry_run)


def _levels(
    session: Session,
    site_id: int,
    faces: list[Slot],
    *,
    now: dt.datetime,
    horizon_minutes: float,
) -> list[FaceLevel]:
    if not faces:
        return []
    face_ids = [f.id for f in faces]
    item_ids = {f.item_id for f in faces if f.item_id is not None}
    on_hold = case((Stock.hold.is_not(None), Stock.on_hand - Stock.reserved), else_=0)
    held = {
        slot_id: (int(on_hand), int(reserved), int(blocked))
        for slot_id, on_hand, reserved, blocked in session.execute(
            select(
                Stock.slot_id,
                func.sum(Stock.on_hand),
                func.sum(Stock.reserved),
                func.sum(on_hold),
            )
            .where(Stock.slot_id.in_(face_ids))
            .group_by(Stock.slot_id)
        )
    }
    open_tasks: dict[int, tuple[int, int]] = {}
    for task in session.scalars(
        select(Task)
        .where(
            Task.to_slot_id.in_(face_ids),
            Task.kind == TaskKind.REPLENISHMENT,
            Task.status.in_(ACTIVE_TASKS),
        )
        .order_by(Task.id)
    ):
        assert task.to_slot_id is not None
        task_id, units = open_tasks.get(task.to_slot_id, (task.id, 0))
        open_tasks[task.to_slot_id] = (task_id, units + task.quantity - task.done_qty)
    demand = _demand(session, site_id, item_ids, now=now, horizon_minutes=horizon_minutes)
    reserve = _reserve(session, site_id, item_ids, today=now.date())
    skus = {
        item_id: sku
        for item_id, sku in session.execute(select(Item.id, Item.sku).where(Item.id.in_(item_ids)))
    }
    faces_per_item: dict[int, int] = {}
    for face in faces:
        assert face.item_id is not None
        faces_per_item[face.item_id] = faces_per_item.get(face.item_id, 0) + 1
    levels = []
    for face in faces:
        assert face.item_id is not None and face.min_qty is not None and face.max_qty is not None
        on_hand, reserved, blocked = held.get(face.id, (0, 0, 0))
        open_task_id, on_its_way = open_tasks.get(face.id, (0, 0))
        # An item on several faces: its demand is shared out evenly (rounded up).
        share = -(-demand.get(face.item_id, 0) // faces_per_item[face.item_id])
        levels.append(
            FaceLevel(
                slot_id=face.id,
                barcode=face.barcode,
                item_id=face.item_id,
                sku=skus.get(face.item_id, str(face.item_id)),
                min_qty=face.min_qty,
                max_qty=face.max_qty,
                on_hand=on_hand,
                reserved=reserved,
                on_hold=blocked,
                on_its_way=on_its_way,
                open_task_id=open_task_id or None,
                demand=share,
                reserve=tuple(reserve.get(face.item_id, ())),
            )
        )
    return levels


def _demand(
    session: Session, site_id: int, item_ids: set[int], *, now: dt.datetime, horizon_minutes: float
) -> dict[int, int]:
    """Units per item on open orders due soon, less what is allocated to them already."""
    until = now + dt.timedelta(minutes=horizon_minutes)
    allocated = (
        select(func.coalesce(func.sum(Allocation.quantity - Allocation.picked_qty), 0))
        .where(
            Allocation.order_line_id == OrderLine.id,
            Allocation.status == AllocationStatus.OPEN,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(OrderLine.item_id, func.sum(OrderLine.quantity - OrderLine.picked_qty - allocated))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.site_id == site_id,
            Order.status.in_((OrderStatus.OPEN, OrderStatus.BACKORDERED)),
            Order.promised_start <= until,
            OrderLine.item_id.in_(item_ids),
        )
        .group_by(OrderLine.item_id)
    )
    return {item_id: max(int(units or 0), 0) for item_id, units in rows}


def _reserve(
    session: Session, site_id: int, item_ids: set[int], *, today: dt.date
) -> dict[int, list[ReserveRow]]:
    """Free reserve stock of the items, unexpired and not on hold (the expiry sweep's): on
    hand less reserved less open tasks. Held units would only be refused at the face."""
    promised = (
        select(func.coalesce(func.sum(Task.quantity - Task.done_qty), 0))
        .where(
            Task.from_slot_id == Stock.slot_id,
            Task.item_id == Stock.item_id,
            Task.lot == Stock.lot,
            Task.status.in_(ACTIVE_TASKS),
        )
        .scalar_subquery()
    )
    free = Stock.on_hand - Stock.reserved - promised
    found: dict[int, list[ReserveRow]] = {}
    for item_id, slot_id, barcode, lot, expiry, units in session.execute(
        select(Stock.item_id, Slot.id, Slot.barcode, Stock.lot, Stock.expiry, free)
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Slot.site_id == site_id,
            Slot.kind == SlotKind.RESERVE,
            Slot.locked.is_(False),
            Slot.needs_count.is_(False),
            Stock.item_id.in_(item_ids),
            (Stock.expiry.is_(None)) | (Stock.expiry >= today),
            Stock.hold.is_(None),
            free > 0,
        )
    ):
        found.setdefault(item_id, []).append(ReserveRow(slot_id, barcode, lot, expiry, int(units)))
    return found

"""Putaway: where received units should go, and the task that takes them there.

The suggestion follows the rules of ARCHITECTURE.md, in order:

1. consolidate: the item's own pick face while it stays within its ``max_qty``, then reserve
   slots already holding the item or about to (an open task is bringing it), nearest first;
2. otherwise the empty reserve slot of the item's temperature nearest the item's pick face (or
   the depot at aisle 1, bay 0 when it has none).

A candidate is a rack slot of the same site and temperature, not locked, not waiting for a
count, and roomy enough for the units (volume and weight). Units that open tasks are already
bringing to a slot count as being there, so two pallets are not sent to the same empty slot.
The walking estimate is ``|Δaisle| * aisle_pitch_m + |Δbay| * bay_width_m`` from the site's
layout (defaults 3.0 m and 1.3 m); ties go to the lowest slot id.

When no slot fits, :func:`create_putaway_task` refuses with 409 ``no_slot_fits`` rather than
creating a task without a destination: the floor sees at once that the units need a decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from wms import scanning
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    MovementKind,
    Site,
    Slot,
    SlotKind,
    Stock,
    Task,
    TaskKind,
    TaskStatus,
    Zone,
    utcnow,
)
from wms.stock import (
    RACK_KINDS,
    InsufficientStock,
    check_quantity,
    find_row,
    get_item,
    get_slot,
    lock_rows,
    move,
)
from wms.walking import DEPOT_AISLE, DEPOT_BAY, walk_estimate

ACTIVE_TASK_STATES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


class NoSlotFits(Conflict):
    """No rack slot can take the units now; space may free up later."""

    code = "no_slot_fits"


@dataclass(frozen=True, slots=True)
class _Load:
    """What a slot holds plus what open tasks are bringing to it."""

    volume_mm3: int = 0
    weight_g: int = 0
    #: Units of the item being put away (all lots), held or incoming.
    item_units: int = 0


# --- the suggestion ----------------------------------------------------------------------------


def suggest(
    session: Session,
    *,
    quantity: int,
    stock_id: int | None = None,
    slot_id: int | None = None,
    item_id: int | None = None,
    lot: str = "",
) -> Slot | None:
    """Suggest the slot to put units away into: consolidate first, else the nearest empty one.

    Name the units by their stock row (``stock_id``) or by ``slot_id``, ``item_id`` and
    ``lot``; None means no slot fits right now.
    """
    check_quantity(quantity)
    source_slot, item, lot, expiry = _source(
        session, stock_id=stock_id, slot_id=slot_id, item_id=item_id, lot=lot
    )
    return _suggest(session, source_slot, item, lot, expiry, quantity)


def _source(
    session: Session, *, stock_id: int | None, slot_id: int | None, item_id: int | None, lot: str
) -> tuple[Slot, Item, str, dt.date | None]:
    if stock_id is not None:
        if slot_id is not None or item_id is not None:
            raise RuleViolation(
                "name the units by stock_id or by slot_id and item_id, not both", field="stock_id"
            )
        row = session.get(Stock, stock_id)
        if row is None:
            raise RuleViolation(f"stock row {stock_id} does not exist", field="stock_id")
        return row.slot, row.item, row.lot, row.expiry
    if slot_id is None or item_id is None:
        raise RuleViolation(
            "name the units by stock_id or by slot_id and item_id", field="stock_id"
        )
    slot = get_slot(session, slot_id)
    item = get_item(session, item_id)
    row = find_row(session, slot_id=slot.id, item_id=item.id, lot=lot)
    return slot, item, lot, row.expiry if row else None


def _suggest(
    session: Session,
    source: Slot,
    item: Item,
    lot: str,
    expiry: dt.date | None,
    quantity: int,
) -> Slot | None:
    site = session.get(Site, source.site_id)
    assert site is not None
    layout: dict[str, Any] = site.layout or {}

    face = session.scalars(
        select(Slot)
        .where(Slot.site_id == site.id, Slot.kind == SlotKind.PICK_FACE, Slot.item_id == item.id)
        .order_by(Slot.id)
        .limit(1)
    ).first()
    origin = (
        (face.aisle, face.bay)
        if face is not None and face.aisle is not None and face.bay is not None
        else (DEPOT_AISLE, DEPOT_BAY)
    )

    def distance(slot: Slot) -> float:
        return walk_estimate(layout, slot, origin=origin)

    usable = (
        select(Slot)
        .join(Zone, Zone.id == Slot.zone_id)
        .where(
            Slot.site_id == site.id,
            Slot.id != source.id,
            Zone.temperature == item.temperature,
            Slot.locked.is_(False),
            Slot.needs_count.is_(False),
        )
    )

    # (a) consolidate: the item's pick face, then reserve slots that already hold the item.
    # Units an open task is bringing count as held: the next pallet joins them while they fit.
    holding = (
        select(Stock.slot_id)
        .where(Stock.item_id == item.id, Stock.on_hand > 0)
        .union(
            select(Task.to_slot_id).where(
                Task.item_id == item.id,
                Task.status.in_(ACTIVE_TASK_STATES),
                Task.to_slot_id.is_not(None),
            )
        )
    )
    faces = session.scalars(
        usable.where(Slot.kind == SlotKind.PICK_FACE, Slot.item_id == item.id).order_by(Slot.id)
    ).all()
    reserves = session.scalars(
        usable.where(
            Slot.kind == SlotKind.RESERVE,
            Slot.id.in_(holding),
            (Slot.item_id.is_(None)) | (Slot.item_id == item.id),
        )
    ).all()
    consolidate = list(faces) + sorted(reserves, key=lambda s: (distance(s), s.id))
    loads = _loads(session, [s.id for s in consolidate], item.id)
    clashes = _expiry_clashes(session, [s.id for s in consolidate], item.id, lot, expiry)
    for slot in consolidate:
        load = loads.get(slot.id, _Load())
        if slot.id in clashes:
            continue
        if (
            slot.kind is SlotKind.PICK_FACE
            and slot.max_qty is not None
            and load.item_units + quantity > slot.max_qty
        ):
            continue
        if _fits(slot, item, quantity, load):
            return slot

    # (b) the empty reserve slot nearest the item's pick face (or the depot).
    occupied = select(Stock.slot_id).where(Stock.on_hand > 0)
    incoming = select(Task.to_slot_id).where(
        Task.status.in_(ACTIVE_TASK_STATES), Task.to_slot_id.is_not(None)
    )
    empty = session.scalars(
        usable.where(
            Slot.kind == SlotKind.RESERVE,
            Slot.id.not_in(occupied),
            Slot.id.not_in(incoming),
            (Slot.item_id.is_(None)) | (Slot.item_id == item.id),
        )
    ).all()
    fitting = [slot for slot in empty if _fits(slot, item, quantity, _Load())]
    if not fitting:
        return None
    return min(fitting, key=lambda s: (distance(s), s.id))


def _fits(slot: Slot, item: Item, quantity: int, load: _Load) -> bool:
    """The arithmetic of ``wms.stock.check_capacity``, answering instead of raising."""
    if slot.volume_cm3 is not None:
        needed = load.volume_mm3 + quantity * item.length_mm * item.width_mm * item.height_mm
        if needed > slot.volume_cm3 * 1000:
            return False
    return (
        slot.max_weight_g is None or load.weight_g + quantity * item.weight_g <= slot.max_weight_g
    )


def _loads(session: Session, slot_ids: Iterable[int], item_id: int) -> dict[int, _Load]:
    """Volume, weight and units of the item per slot: on hand plus what open tasks bring."""
    ids = sorted(set(slot_ids))
    if not ids:
        return {}
    volume = Item.length_mm * Item.width_mm * Item.height_mm
    held = session.execute(
        select(
            Stock.slot_id,
            func.sum(Stock.on_hand * volume),
            func.sum(Stock.on_hand * Item.weight_g),
            func.sum(case((Stock.item_id == item_id, Stock.on_hand), else_=0)),
        )
        .join(Item, Item.id == Stock.item_id)
        .where(Stock.slot_id.in_(ids))
        .group_by(Stock.slot_id)
    ).all()
    remaining = Task.quantity - Task.done_qty
    coming = session.execute(
        select(
            Task.to_slot_id,
            func.sum(remaining * volume),
            func.sum(remaining * Item.weight_g),
            func.sum(case((Task.item_id == item_id, remaining), else_=0)),
        )
        .join(Item, Item.id == Task.item_id)
        .where(Task.to_slot_id.in_(ids), Task.status.in_(ACTIVE_TASK_STATES))
        .group_by(Task.to_slot_id)
    ).all()
    loads: dict[int, _Load] = {}
    for slot_id, vol, weight, units in [*held, *coming]:
        before = loads.get(slot_id, _Load())
        loads[slot_id] = _Load(
            before.volume_mm3 + int(vol or 0),
            before.weight_g + int(weight or 0),
            before.item_units + int(units or 0),
        )
    return loads


def _expiry_clashes(
    session: Session, slot_ids: list[int], item_id: int, lot: str, expiry: dt.date | None
) -> set[int]:
    """Slots holding the same lot with another expiry (one row per lot cannot carry both)."""
    if expiry is None or not slot_ids:
        return set()
    return set(
        session.scalars(
            select(Stock.slot_id).where(
                Stock.slot_id.in_(slot_ids),
                Stock.item_id == item_id,
                Stock.lot == lot,
                Stock.expiry.is_not(None),
                Stock.expiry != expiry,
            )
        )
    )


# --- tasks -------------------------------------------------------------------------------------


def create_putaway_task(
    session: Session,
    *,
    from_slot_id: int,
    item_id: int,
    quantity: int,
    lot: str = "",
    reference: str | None = None,
    user_id: int | None = None,
) -> Task:
    """Create a task to put units away into the suggested slot (409 no_slot_fits if none fits).

    The units must be in the source slot and not already promised to another open task.
    """
    check_quantity(quantity)
    source_slot = get_slot(session, from_slot_id, field="from_slot_id")
    item = get_item(session, item_id)
    found = find_row(session, slot_id=source_slot.id, item_id=item.id, lot=lot)
    if found is None:
        raise InsufficientStock(
            f"slot {source_slot.barcode} holds no {item.sku}" + (f" of lot {lot}" if lot else ""),
            available=0,
        )
    # Locking the source row serialises task creation for these units.
    row = lock_rows(session, [found.id])[found.id]
    promised = session.scalar(
        select(func.coalesce(func.sum(Task.quantity - Task.done_qty), 0)).where(
            Task.from_slot_id == source_slot.id,
            Task.item_id == item.id,
            Task.lot == lot,
            Task.status.in_(ACTIVE_TASK_STATES),
        )
    )
    free = row.on_hand - row.reserved - int(promised or 0)
    if quantity > free:
        raise InsufficientStock(
            f"only {max(free, 0)} unit(s) of {item.sku} in {source_slot.barcode} are not already "
            f"in a task, {quantity} asked for",
            available=max(free, 0),
        )
    target = _suggest(session, source_slot, item, lot, row.expiry, quantity)
    if target is None:
        raise NoSlotFits(
            f"no slot fits {quantity} x {item.sku}: free space or split the quantity",
            field="quantity",
        )
    # Task has no creator column yet; user_id is accepted for the callers' sake.
    task = Task(
        site_id=source_slot.site_id,
        kind=TaskKind.PUTAWAY,
        status=TaskStatus.OPEN,
        item_id=item.id,
        lot=lot,
        quantity=quantity,
        done_qty=0,
        from_slot_id=source_slot.id,
        to_slot_id=target.id,
        reference=reference,
    )
    session.add(task)
    session.flush()
    return task


def _lock_task(session: Session, task_id: int) -> Task:
    task = session.scalars(
        select(Task)
        .where(Task.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if task is None or task.kind is not TaskKind.PUTAWAY:
        raise NotFound(f"putaway task {task_id} does not exist", field="task_id")
    return task


def confirm_putaway(
    session: Session,
    task_id: int,
    *,
    to_slot_id: int,
    quantity: int | None = None,
    user_id: int | None = None,
    idempotency_key: str | None = None,
) -> Task:
    """Confirm units put away into the scanned slot (all that remain unless a quantity is given).

    Another slot than the suggested one is accepted when it passes the destination rules; it
    is recorded in ``done_slot_id``. The task stays in progress until every unit is put away.
    """
    task = _lock_task(session, task_id)
    if task.status not in ACTIVE_TASK_STATES:
        raise Conflict(f"putaway task {task.id} is {task.status.value}", field="task_id")
    remaining = task.quantity - task.done_qty
    units = remaining if quantity is None else check_quantity(quantity)
    if units > remaining:
        raise RuleViolation(
            f"only {remaining} unit(s) remain to put away, {units} confirmed", field="quantity"
        )
    target = get_slot(session, to_slot_id, field="to_slot_id")
    if target.kind not in RACK_KINDS:
        raise RuleViolation(
            f"units are put away into a pick face or reserve slot, not {target.kind.value} "
            f"{target.barcode}",
            field="to_slot_id",
        )
    return carry_out(
        session,
        task,
        to_slot_id=target.id,
        units=units,
        kind=MovementKind.PUTAWAY,
        user_id=user_id,
        idempotency_key=idempotency_key,
    )


def carry_out(
    session: Session,
    task: Task,
    *,
    to_slot_id: int,
    units: int,
    kind: MovementKind,
    user_id: int | None,
    idempotency_key: str | None,
) -> Task:
    """Move a task's units to the slot through the ledger and record its progress."""
    move(
        session,
        from_slot_id=task.from_slot_id,
        to_slot_id=to_slot_id,
        item_id=task.item_id,
        quantity=units,
        lot=task.lot,
        kind=kind,
        user_id=user_id,
        reference=f"task:{task.id}",
        idempotency_key=idempotency_key,
    )
    task.done_qty += units
    task.done_slot_id = to_slot_id
    task.completed_by = user_id
    if task.done_qty == task.quantity:
        task.status = TaskStatus.DONE
        task.completed_at = utcnow()
    else:
        task.status = TaskStatus.IN_PROGRESS
    session.flush()
    return task


__all__ = [
    "NoSlotFits",
    "carry_out",
    "confirm_putaway",
    "create_putaway_task",
    "suggest",
]


def task_for_scan(
    session: Session,
    site_id: int,
    scan: str,
    *,
    user_id: int | None,
    separator: str | None = None,
) -> Task:
    """The putaway task for what a handheld just scanned at a dock, made if there is none.

    An open putaway task of the site for that item (the user's or nobody's) comes first;
    otherwise the item's units waiting in a dock or staging slot of the site, not yet in a
    task, get a new task to the suggested slot. Conflict when nothing of it waits; a scan that
    names its lot keeps to that lot.
    """
    parsed = scanning.parse_scan(scan, separator=separator)
    try:
        item, _units = scanning.find_item(session, parsed)
    except NotFound as error:  # a barcode in the request, not a missing resource
        raise RuleViolation(error.message, field="scan") from None
    query = (
        select(Task)
        .where(
            Task.site_id == site_id,
            Task.kind == TaskKind.PUTAWAY,
            Task.item_id == item.id,
            Task.status.in_(ACTIVE_TASK_STATES),
            (Task.assigned_to.is_(None)) | (Task.assigned_to == user_id),
        )
        .order_by(Task.created_at, Task.id)
        .limit(1)
    )
    if parsed.lot is not None:  # a GS1 code names its lot: that lot's units, no other
        query = query.where(Task.lot == parsed.lot)
    waiting = session.scalars(query).first()
    if waiting is not None:
        return waiting
    promised = (
        select(func.coalesce(func.sum(Task.quantity - Task.done_qty), 0))
        .where(
            Task.from_slot_id == Stock.slot_id,
            Task.item_id == Stock.item_id,
            Task.lot == Stock.lot,
            Task.status.in_(ACTIVE_TASK_STATES),
        )
        .scalar_subquery()
    )
    free = Stock.on_hand - Stock.reserved - promised
    row = session.execute(
        select(Stock.slot_id, Stock.lot, free.label("free"))
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Slot.site_id == site_id,
            Slot.kind.in_((SlotKind.DOCK, SlotKind.STAGING)),
            Stock.item_id == item.id,
            free > 0,
            *([Stock.lot == parsed.lot] if parsed.lot is not None else []),
        )
        .order_by(Stock.expiry.is_(None), Stock.expiry, Stock.id)
        .limit(1)
    ).first()
    if row is None:
        lot = f" of lot {parsed.lot}" if parsed.lot else ""
        raise Conflict(
            f"no {item.sku}{lot} waits at a dock of this site to be put away", field="scan"
        )
    return create_putaway_task(
        session,
        from_slot_id=row.slot_id,
        item_id=item.id,
        lot=row.lot,
        quantity=int(row.free),
        user_id=user_id,
    )

"""The stock ledger and the floor operations that change on-hand.

Every change of a Stock row's ``on_hand`` goes through :func:`post`, which writes exactly one
Movement for it; rows are locked (``SELECT … FOR UPDATE``, always in id order so two
transactions never wait on each other in a circle) before they are read for a decision.
Services flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    Movement,
    MovementKind,
    Slot,
    SlotKind,
    Stock,
    Zone,
    utcnow,
)

#: Slots that hold stock for the racks; their zone's temperature must match the item's.
RACK_KINDS = (SlotKind.PICK_FACE, SlotKind.RESERVE)


class InsufficientStock(Conflict):
    """Fewer units are available than asked for; ``available`` says how many there are."""

    code = "insufficient_stock"

    def __init__(self, message: str, *, available: int, field: str | None = "quantity") -> None:
        super().__init__(message, field=field)
        self.available = available


class SlotLocked(Conflict):
    code = "slot_locked"


class OverCapacity(Conflict):
    code = "over_capacity"


class WrongTemperature(RuleViolation):
    code = "wrong_temperature"


class AdjustReason(enum.StrEnum):
    """Reason codes for adjustments; the sign of the quantity must agree with the reason."""

    DAMAGED = "damaged"
    LOST = "lost"
    EXPIRED = "expired"
    FOUND = "found"
    CORRECTION = "correction"


_NEGATIVE_REASONS = {AdjustReason.DAMAGED, AdjustReason.LOST, AdjustReason.EXPIRED}


def new_operation_id() -> str:
    """A fresh id linking the movements of one operation."""
    return str(uuid.uuid4())


def check_quantity(quantity: object, *, field: str = "quantity", allow_zero: bool = False) -> int:
    """Refuse anything but a positive whole number of units (422)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise RuleViolation(f"{field} must be a whole number of units", field=field)
    if quantity < 0 or (quantity == 0 and not allow_zero):
        raise RuleViolation(f"{field} must be greater than zero, got {quantity}", field=field)
    return quantity


# --- lookups and locks -----------------------------------------------------------------------


def get_slot(session: Session, slot_id: int, *, field: str = "slot_id") -> Slot:
    """The slot, or a 422 naming the field when it does not exist."""
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise RuleViolation(f"slot {slot_id} does not exist", field=field)
    return slot


def get_item(session: Session, item_id: int, *, field: str = "item_id") -> Item:
    """The item, or a 422 naming the field when it does not exist."""
    item = session.get(Item, item_id)
    if item is None:
        raise RuleViolation(f"item {item_id} does not exist", field=field)
    return item


def lock_rows(session: Session, stock_ids: Iterable[int]) -> dict[int, Stock]:
    """Lock stock rows for update in id order and return them with current values."""
    ids = sorted(set(stock_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Stock)
        .where(Stock.id.in_(ids))
        .order_by(Stock.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows}


def find_row(session: Session, *, slot_id: int, item_id: int, lot: str) -> Stock | None:
    """The stock row of an item and lot in a slot, if there is one (not locked)."""
    return session.scalars(
        select(Stock).where(Stock.slot_id == slot_id, Stock.item_id == item_id, Stock.lot == lot)
    ).one_or_none()


def ensure_row(
    session: Session, *, slot_id: int, item_id: int, lot: str, expiry: dt.date | None
) -> Stock:
    """The stock row for an item and lot in a slot, created empty when missing (not locked).

    Two transactions may create the same row at once; the loser's insert fails on the unique
    key inside a savepoint and it reads the winner's row instead.
    """
    row = find_row(session, slot_id=slot_id, item_id=item_id, lot=lot)
    if row is not None:
        if expiry is not None and row.expiry is not None and row.expiry != expiry:
            raise RuleViolation(
                f"lot {lot!r} is already in this slot with expiry {row.expiry:%Y-%m-%d}",
                field="expiry",
            )
        return row
    try:
        with session.begin_nested():
            row = Stock(
                slot_id=slot_id, item_id=item_id, lot=lot, expiry=expiry, on_hand=0, reserved=0
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = find_row(session, slot_id=slot_id, item_id=item_id, lot=lot)
        if existing is None:
            raise
        return existing
    return row


# --- the ledger --------------------------------------------------------------------------------


def post(
    session: Session,
    row: Stock,
    quantity: int,
    kind: MovementKind,
    *,
    operation_id: str,
    user_id: int | None = None,
    reason: str = "",
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> Movement:
    """Change a locked row's on-hand by ``quantity`` and write its one ledger movement.

    Refuses to take units that are reserved or not there (409 with what is available).
    """
    if quantity == 0:
        raise RuleViolation("a movement must change the quantity", field="quantity")
    if row.on_hand + quantity < row.reserved:
        available = row.on_hand - row.reserved
        raise InsufficientStock(
            f"only {available} unit(s) available in this slot, {-quantity} asked for",
            available=available,
        )
    row.on_hand += quantity
    if quantity > 0 and row.on_hand == quantity:
        # An empty row refilled: the units are new, so is their FIFO date.
        row.received_at = utcnow()
    movement = Movement(
        stock_id=row.id,
        kind=kind,
        quantity=quantity,
        operation_id=operation_id,
        user_id=user_id,
        reason=reason,
        reference=reference,
        idempotency_key=idempotency_key,
    )
    session.add(movement)
    session.flush()
    return movement


# --- rules a destination slot must meet ------------------------------------------------------


def check_destination(session: Session, slot: Slot, item: Item, quantity: int) -> None:
    """Refuse a slot that is locked, of the wrong temperature, kept for another item, or full.

    The slot row is locked first, so two puts into one slot cannot both squeeze into the
    space that fits only one (slots are always locked before stock rows).
    """
    session.execute(select(Slot.id).where(Slot.id == slot.id).with_for_update())
    session.refresh(slot)
    if slot.locked:
        raise SlotLocked(
            f"slot {slot.barcode} is locked"
            + (f": {slot.lock_reason}" if slot.lock_reason else ""),
            field="to_slot_id",
        )
    if slot.kind in RACK_KINDS:
        zone = session.get(Zone, slot.zone_id)
        assert zone is not None
        if zone.temperature != item.temperature:
            raise WrongTemperature(
                f"{item.sku} is {item.temperature.value} and cannot go into "
                f"{zone.temperature.value} slot {slot.barcode}",
                field="to_slot_id",
            )
    if slot.kind is SlotKind.PICK_FACE and slot.item_id not in (None, item.id):
        raise RuleViolation(
            f"pick face {slot.barcode} is kept for another item", field="to_slot_id"
        )
    check_capacity(session, slot, item, quantity)


def check_capacity(session: Session, slot: Slot, item: Item, quantity: int) -> None:
    """Refuse units that would not fit the slot's volume or weight (409 over_capacity)."""
    if slot.volume_cm3 is None and slot.max_weight_g is None:
        return
    used_volume, used_weight = session.execute(
        select(
            func.coalesce(
                func.sum(Stock.on_hand * Item.length_mm * Item.width_mm * Item.height_mm), 0
            ),
            func.coalesce(func.sum(Stock.on_hand * Item.weight_g), 0),
        )
        .join(Item, Item.id == Stock.item_id)
        .where(Stock.slot_id == slot.id)
    ).one()
    if slot.volume_cm3 is not None:
        needed_mm3 = int(used_volume) + quantity * item.length_mm * item.width_mm * item.height_mm
        if needed_mm3 > slot.volume_cm3 * 1000:
            raise OverCapacity(
                f"{quantity} x {item.sku} do not fit in slot {slot.barcode} "
                f"({needed_mm3 // 1000} of {slot.volume_cm3} cm³)",
                field="quantity",
            )
    if slot.max_weight_g is not None:
        needed_g = int(used_weight) + quantity * item.weight_g
        if needed_g > slot.max_weight_g:
            raise OverCapacity(
                f"{quantity} x {item.sku} are too heavy for slot {slot.barcode} "
                f"({needed_g / 1000:.1f} of {slot.max_weight_g / 1000:.1f} kg)",
                field="quantity",
            )


# --- floor operations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoveResult:
    operation_id: str
    taken: Movement
    put: Movement


def move(
    session: Session,
    *,
    from_slot_id: int,
    to_slot_id: int,
    item_id: int,
    quantity: int,
    lot: str = "",
    kind: MovementKind = MovementKind.MOVE,
    user_id: int | None = None,
    reason: str = "",
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> MoveResult:
    """Move units of one item and lot between slots, keeping lot and expiry (two movements)."""
    check_quantity(quantity)
    if from_slot_id == to_slot_id:
        raise RuleViolation("source and destination are the same slot", field="to_slot_id")
    source_slot = get_slot(session, from_slot_id, field="from_slot_id")
    target_slot = get_slot(session, to_slot_id, field="to_slot_id")
    item = get_item(session, item_id)
    if source_slot.site_id != target_slot.site_id:
        raise RuleViolation("both slots must be in the same site", field="to_slot_id")
    source = find_row(session, slot_id=from_slot_id, item_id=item_id, lot=lot)
    if source is None:
        raise InsufficientStock(
            f"slot {source_slot.barcode} holds no {item.sku}" + (f" of lot {lot}" if lot else ""),
            available=0,
        )
    if source.on_hand - source.reserved < quantity:
        # Fail before touching anything; post() checks again under the row lock.
        raise InsufficientStock(
            f"only {source.on_hand - source.reserved} unit(s) of {item.sku} available in "
            f"slot {source_slot.barcode}, {quantity} asked for",
            available=source.on_hand - source.reserved,
        )
    check_destination(session, target_slot, item, quantity)
    target = ensure_row(session, slot_id=to_slot_id, item_id=item_id, lot=lot, expiry=source.expiry)
    locked = lock_rows(session, [source.id, target.id])
    source, target = locked[source.id], locked[target.id]
    operation_id = new_operation_id()
    taken, put = [
        post(
            session,
            row,
            signed,
            kind,
            operation_id=operation_id,
            user_id=user_id,
            reason=reason,
            reference=reference,
            idempotency_key=idempotency_key,
        )
        for row, signed in ((source, -quantity), (target, quantity))
    ]
    if target.received_at > source.received_at:
        # Moving units keeps their age: FIFO follows the oldest units into the new slot.
        target.received_at = source.received_at
    return MoveResult(operation_id, taken, put)


def adjust(
    session: Session,
    *,
    slot_id: int,
    item_id: int,
    quantity: int,
    reason: AdjustReason | str,
    lot: str = "",
    expiry: dt.date | None = None,
    note: str = "",
    user_id: int | None = None,
    kind: MovementKind = MovementKind.ADJUST,
    idempotency_key: str | None = None,
) -> Movement:
    """Add or remove units with a reason code (damaged, lost, expired: out; found: in)."""
    try:
        code = AdjustReason(reason)
    except ValueError:
        choices = ", ".join(r.value for r in AdjustReason)
        raise RuleViolation(
            f"unknown reason {reason!r}; use one of {choices}", field="reason"
        ) from None
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity == 0:
        raise RuleViolation("quantity must be a non-zero whole number", field="quantity")
    if code in _NEGATIVE_REASONS and quantity > 0:
        raise RuleViolation(
            f"{code.value} units are taken out: use a negative quantity", field="quantity"
        )
    if code is AdjustReason.FOUND and quantity < 0:
        raise RuleViolation("found units are added: use a positive quantity", field="quantity")
    slot = get_slot(session, slot_id)
    item = get_item(session, item_id)
    if item.lot_tracked and not lot:
        raise RuleViolation(f"{item.sku} is lot-tracked: give the lot", field="lot")
    # Untracked items carry no lot or expiry: a stray date would later read as expired stock.
    if not item.lot_tracked and lot:
        raise RuleViolation(f"{item.sku} is not lot-tracked: leave the lot empty", field="lot")
    if not item.expiry_tracked and expiry is not None:
        raise RuleViolation(
            f"{item.sku} is not expiry-tracked: leave the expiry empty", field="expiry"
        )
    if quantity > 0:
        if (
            item.expiry_tracked
            and expiry is None
            and find_row(session, slot_id=slot_id, item_id=item_id, lot=lot) is None
        ):
            raise RuleViolation(f"{item.sku} is expiry-tracked: give the expiry", field="expiry")
        row = ensure_row(session, slot_id=slot_id, item_id=item_id, lot=lot, expiry=expiry)
    else:
        found = find_row(session, slot_id=slot_id, item_id=item_id, lot=lot)
        if found is None:
            raise InsufficientStock(f"slot {slot.barcode} holds no {item.sku}", available=0)
        row = found
    row = lock_rows(session, [row.id])[row.id]
    text = code.value + (f": {note}" if note else "")
    return post(
        session, row, quantity, kind, operation_id=new_operation_id(), user_id=user_id,
        reason=text, idempotency_key=idempotency_key,
    )  # fmt: skip


def set_slot_lock(
    session: Session, slot_id: int, *, locked: bool, reason: str = "", user_id: int | None = None
) -> Slot:
    """Lock a slot (no picking from it, nothing put into it) or unlock it."""
    slot = session.scalars(select(Slot).where(Slot.id == slot_id).with_for_update()).one_or_none()
    if slot is None:
        raise NotFound(f"slot {slot_id} does not exist", field="slot_id")
    if locked and not reason.strip():
        raise RuleViolation("say why the slot is locked", field="reason")
    slot.locked = locked
    slot.lock_reason = reason.strip() if locked else None
    session.flush()
    return slot


def flag_for_count(session: Session, slot_id: int, *, reason: str) -> Slot:
    """Mark a slot as waiting for a cycle count; its stock is not allocated until then."""
    slot = get_slot(session, slot_id)
    slot.needs_count = True
    slot.count_reason = reason
    session.flush()
    return slot


SHIPPABLE_KINDS = (SlotKind.STAGING, SlotKind.DOCK)


def ship(
    session: Session,
    *,
    slot_id: int,
    item_id: int,
    quantity: int,
    lot: str = "",
    reference: str | None = None,
    user_id: int | None = None,
    idempotency_key: str | None = None,
) -> Movement:
    """Ship units out of a staging or dock slot (they leave the site's stock)."""
    check_quantity(quantity)
    slot = get_slot(session, slot_id)
    item = get_item(session, item_id)
    if slot.kind not in SHIPPABLE_KINDS:
        raise RuleViolation(
            f"units ship from a staging or dock slot, not from {slot.kind.value} {slot.barcode}",
            field="slot_id",
        )
    found = find_row(session, slot_id=slot_id, item_id=item_id, lot=lot)
    if found is None:
        raise InsufficientStock(f"slot {slot.barcode} holds no {item.sku}", available=0)
    row = lock_rows(session, [found.id])[found.id]
    return post(
        session, row, -quantity, MovementKind.SHIP, operation_id=new_operation_id(),
        user_id=user_id, reference=reference, idempotency_key=idempotency_key,
    )  # fmt: skip

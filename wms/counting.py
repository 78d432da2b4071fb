"""Blind cycle counts: count a whole slot without seeing the book, then correct the book.

A count covers the whole slot: every stock row the counter does not mention is counted as 0.
At submission the slot's rows are locked and their on-hand snapshotted as the expected
quantities. When every variance is within the threshold the count is applied at once (one
count movement per row that differs) and the slot's ``needs_count`` flag is cleared;
otherwise it waits for a supervisor, and nothing changes on-hand until it is approved.

Units reserved for orders cannot be counted away: a counted quantity below a row's reserved
units is refused with 409 ``count_below_reserved`` (nothing changes) until a supervisor
releases those allocations.

The counter must never be shown expected quantities; ``StockCountLine.expected_qty`` is for
supervisors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    CountStatus,
    Item,
    MovementKind,
    Slot,
    Stock,
    StockCount,
    StockCountLine,
    utcnow,
)
from wms.stock import (
    check_quantity,
    ensure_row,
    find_row,
    get_item,
    lock_rows,
    new_operation_id,
    post,
)

#: Units of variance per line a count may carry and still be applied without approval.
DEFAULT_VARIANCE_THRESHOLD = 5

#: A slot has at most one count in these states.
UNFINISHED = (CountStatus.OPEN, CountStatus.PENDING_APPROVAL)

_TEXT_MAX = 255
_LOT_MAX = 64


class CountBelowReserved(Conflict):
    """The count would leave fewer units than are reserved for orders."""

    code = "count_below_reserved"


@dataclass(frozen=True, slots=True)
class CountedLine:
    """What the counter found of one item and lot (``quantity`` may be 0)."""

    item_id: int
    quantity: int
    lot: str = ""
    expiry: dt.date | None = None


# --- helpers ---------------------------------------------------------------------------------


def _lock_slot(session: Session, slot_id: int) -> Slot | None:
    return session.scalars(
        select(Slot)
        .where(Slot.id == slot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _lock_count(session: Session, count_id: int) -> StockCount:
    count = session.scalars(
        select(StockCount)
        .where(StockCount.id == count_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if count is None:
        raise NotFound(f"count {count_id} does not exist", field="count_id")
    return count


def _require(count: StockCount, status: CountStatus, doing: str) -> None:
    if count.status is not status:
        raise Conflict(
            f"count {count.id} is {count.status.value.replace('_', ' ')}: cannot {doing}",
            field="count_id",
        )


def _slot_rows(session: Session, slot_id: int) -> dict[tuple[int, str], Stock]:
    """Lock every stock row of a slot (in id order) and key them by item and lot."""
    ids = session.scalars(select(Stock.id).where(Stock.slot_id == slot_id)).all()
    return {(row.item_id, row.lot): row for row in lock_rows(session, ids).values()}


def _label(item: Item, lot: str) -> str:
    return item.sku + (f" lot {lot}" if lot else "")


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 1] + "…"


def _check_reserved(
    session: Session, lines: list[StockCountLine], rows: dict[tuple[int, str], Stock]
) -> None:
    for line in lines:
        row = rows.get((line.item_id, line.lot))
        # What on-hand becomes: the variance seen at the count, applied to today's on-hand.
        if row is not None and row.on_hand + line.variance < row.reserved:
            item = session.get(Item, line.item_id)
            assert item is not None
            raise CountBelowReserved(
                f"{row.reserved} unit(s) of {_label(item, line.lot)} are reserved for orders but "
                f"{line.counted_qty} were counted: a supervisor must release those allocations "
                "before this count can be applied",
                field="count_id",
            )


def _apply(
    session: Session,
    count: StockCount,
    slot: Slot,
    lines: list[StockCountLine],
    rows: dict[tuple[int, str], Stock],
    *,
    user_id: int | None,
) -> None:
    """Apply each line's variance (counted - expected at the count), one count movement per row.

    The variance, not the counted figure, is applied: units picked or moved between the count
    and its approval were really picked or moved, and must not come back.
    """
    _check_reserved(session, lines, rows)
    for line in lines:
        if (line.item_id, line.lot) not in rows and line.counted_qty > 0:
            rows[line.item_id, line.lot] = ensure_row(
                session, slot_id=slot.id, item_id=line.item_id, lot=line.lot, expiry=line.expiry
            )
    locked = lock_rows(session, [row.id for row in rows.values()])
    operation_id = new_operation_id()
    for line in lines:
        found = rows.get((line.item_id, line.lot))
        if found is None:
            continue
        row = locked[found.id]
        delta = line.variance
        if not delta:
            continue
        reason = f"count {count.id}: counted {line.counted_qty}, expected {line.expected_qty}"
        if row.on_hand != line.expected_qty:
            reason += f", {row.on_hand} on hand when applied"
        post(
            session,
            row,
            delta,
            MovementKind.COUNT,
            operation_id=operation_id,
            user_id=user_id,
            reason=_clip(reason),
            reference=f"count:{count.id}",
        )
    count.status = CountStatus.APPLIED
    count.closed_at = utcnow()
    slot.needs_count = False
    slot.count_reason = None
    session.flush()


# --- services --------------------------------------------------------------------------------


def start_count(
    session: Session, slot_id: int, *, reason: str = "", user_id: int | None = None
) -> StockCount:
    """Open a blind count of a slot; a slot has one unfinished count at a time.

    The same user starting again on a slot whose count they left open (a reload, a dead
    battery) gets that count back to carry on.
    """
    slot = _lock_slot(session, slot_id)
    if slot is None:
        raise RuleViolation(f"slot {slot_id} does not exist", field="slot_id")
    reason = reason.strip()
    if len(reason) > _TEXT_MAX:
        raise RuleViolation(f"reason is longer than {_TEXT_MAX} characters", field="reason")
    unfinished = session.scalars(
        select(StockCount).where(StockCount.slot_id == slot.id, StockCount.status.in_(UNFINISHED))
    ).first()
    if (
        unfinished is not None
        and user_id is not None
        and unfinished.status is CountStatus.OPEN
        and unfinished.requested_by == user_id
    ):
        return unfinished
    if unfinished is not None:
        raise Conflict(
            f"slot {slot.barcode} already has count {unfinished.id} "
            f"({unfinished.status.value.replace('_', ' ')})",
            field="slot_id",
        )
    count = StockCount(
        slot_id=slot.id,
        status=CountStatus.OPEN,
        reason=reason or (slot.count_reason or ""),
        requested_by=user_id,
    )
    session.add(count)
    session.flush()
    return count


def submit_count(
    session: Session,
    count_id: int,
    *,
    lines: list[CountedLine],
    variance_threshold: int,
    user_id: int | None = None,
) -> StockCount:
    """Record what was counted; apply it now if every variance is within the threshold.

    Otherwise the count waits for approval and nothing changes on-hand.
    """
    if (
        isinstance(variance_threshold, bool)
        or not isinstance(variance_threshold, int)
        or variance_threshold < 0
    ):
        raise RuleViolation(
            "variance_threshold must be a whole number of units, 0 or more",
            field="variance_threshold",
        )
    count = _lock_count(session, count_id)
    _require(count, CountStatus.OPEN, "submit it")

    checked: list[tuple[Item, CountedLine, str]] = []
    seen: set[tuple[int, str]] = set()
    for i, counted in enumerate(lines):
        at = f"lines[{i}]"
        item = get_item(session, counted.item_id, field=f"{at}.item_id")
        check_quantity(counted.quantity, field=f"{at}.quantity", allow_zero=True)
        lot = counted.lot.strip()
        if len(lot) > _LOT_MAX:
            raise RuleViolation(f"lot is longer than {_LOT_MAX} characters", field=f"{at}.lot")
        if item.lot_tracked and not lot:
            raise RuleViolation(f"{item.sku} is lot-tracked: give the lot", field=f"{at}.lot")
        if not item.lot_tracked and lot:
            raise RuleViolation(
                f"{item.sku} is not lot-tracked: leave the lot empty", field=f"{at}.lot"
            )
        if not item.expiry_tracked and counted.expiry is not None:
            raise RuleViolation(
                f"{item.sku} is not expiry-tracked: leave the expiry empty", field=f"{at}.expiry"
            )
        if (item.id, lot) in seen:
            raise RuleViolation(f"{_label(item, lot)} is counted twice", field=at)
        seen.add((item.id, lot))
        checked.append((item, counted, lot))

    # Slots before stock rows; the slot's rows are the book the count is compared with.
    slot = _lock_slot(session, count.slot_id)
    assert slot is not None
    rows = _slot_rows(session, slot.id)

    count_lines: list[StockCountLine] = []
    for i, (item, counted, lot) in enumerate(checked):
        row = rows.get((item.id, lot))
        expiry = counted.expiry
        if row is None:
            if expiry is None and item.expiry_tracked and counted.quantity > 0:
                raise RuleViolation(
                    f"{_label(item, lot)} is not in this slot's records: give its expiry",
                    field=f"lines[{i}].expiry",
                )
        elif expiry is not None and row.expiry is not None and expiry != row.expiry:
            raise RuleViolation(
                f"{_label(item, lot)} is recorded here with expiry {row.expiry:%Y-%m-%d}",
                field=f"lines[{i}].expiry",
            )
        count_lines.append(
            StockCountLine(
                item_id=item.id,
                lot=lot,
                expiry=expiry if expiry is not None else (row.expiry if row else None),
                expected_qty=row.on_hand if row else 0,
                counted_qty=counted.quantity,
            )
        )
    for (item_id, lot), row in sorted(rows.items(), key=lambda kv: kv[1].id):
        if (item_id, lot) not in seen and row.on_hand > 0:
            # A blind count covers the whole slot: what was not found is not there.
            count_lines.append(
                StockCountLine(
                    item_id=item_id,
                    lot=lot,
                    expiry=row.expiry,
                    expected_qty=row.on_hand,
                    counted_qty=0,
                )
            )

    within = all(abs(line.variance) <= variance_threshold for line in count_lines)
    if within:
        _check_reserved(session, count_lines, rows)
    count.lines.extend(count_lines)
    count.counted_by = user_id
    count.counted_at = utcnow()
    if within:
        _apply(session, count, slot, count_lines, rows, user_id=user_id)
    else:
        count.status = CountStatus.PENDING_APPROVAL
        session.flush()
    return count


def approve_count(session: Session, count_id: int, *, user_id: int | None) -> StockCount:
    """Apply a count waiting for approval: each row changes by the variance seen at the count.

    If stock moved since the count, that movement stands; the count movement's reason records
    the on-hand it was applied to.
    """
    count = _lock_count(session, count_id)
    _require(count, CountStatus.PENDING_APPROVAL, "approve it")
    slot = _lock_slot(session, count.slot_id)
    assert slot is not None
    keys = {(line.item_id, line.lot) for line in count.lines}
    rows = {
        key: row
        for key in sorted(keys)
        if (row := find_row(session, slot_id=slot.id, item_id=key[0], lot=key[1])) is not None
    }
    locked = lock_rows(session, [row.id for row in rows.values()])
    rows = {key: locked[row.id] for key, row in rows.items()}
    _apply(session, count, slot, list(count.lines), rows, user_id=user_id)
    count.decided_by = user_id
    session.flush()
    return count


def reject_count(
    session: Session, count_id: int, *, user_id: int | None, reason: str
) -> StockCount:
    """Reject a count waiting for approval: nothing changes, the slot is flagged for a recount."""
    reason = reason.strip()
    if not reason:
        raise RuleViolation("say why the count is rejected", field="reason")
    count = _lock_count(session, count_id)
    _require(count, CountStatus.PENDING_APPROVAL, "reject it")
    slot = _lock_slot(session, count.slot_id)
    assert slot is not None
    count.status = CountStatus.REJECTED
    count.decided_by = user_id
    count.closed_at = utcnow()
    # StockCount has no column for the decision; the reason joins the request's own.
    count.reason = _clip(f"{count.reason}; rejected: {reason}" if count.reason else reason)
    slot.needs_count = True
    slot.count_reason = _clip(f"count {count.id} rejected: {reason}")
    session.flush()
    return count


def cancel_count(
    session: Session,
    count_id: int,
    *,
    user_id: int | None = None,
    reason: str = "",
    anyones: bool = True,
) -> StockCount:
    """Cancel a count that has not been submitted yet.

    With ``anyones=False`` (a counter, not a supervisor) only the user's own count may go.
    """
    count = _lock_count(session, count_id)
    _require(count, CountStatus.OPEN, "cancel it")
    if not anyones and count.requested_by not in (None, user_id):
        raise Conflict(f"count {count.id} is someone else's", field="count_id")
    count.status = CountStatus.CANCELLED
    count.decided_by = user_id
    count.closed_at = utcnow()
    reason = reason.strip()
    if reason:
        count.reason = _clip(f"{count.reason}; cancelled: {reason}" if count.reason else reason)
    session.flush()
    return count


__all__ = [
    "DEFAULT_VARIANCE_THRESHOLD",
    "CountBelowReserved",
    "CountedLine",
    "approve_count",
    "cancel_count",
    "reject_count",
    "start_count",
    "submit_count",
]

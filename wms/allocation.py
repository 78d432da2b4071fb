"""Allocation, pick confirmation and short picks: reserving units that can never be booked twice.

``Stock.reserved`` always equals the sum of the row's open allocations. Every decision is
taken on locked rows: the order line first (one allocator per line at a time), then the stock
rows in id order. Expired units and units on hold (``Stock.hold``, set by the expiry sweep)
are never allocated; slots that are locked or waiting for a count are skipped.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    Site,
    Slot,
    SlotKind,
    Stock,
    utcnow,
)
from wms.stock import (
    InsufficientStock,
    SlotLocked,
    check_quantity,
    flag_for_count,
    lock_rows,
    new_operation_id,
    post,
)
from wms.walking import walk_estimate

ALLOCATABLE_ORDER_STATES = (OrderStatus.OPEN, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED)
#: A short pick re-allocates its missing units for orders already being picked, too.
REALLOCATABLE_ORDER_STATES = (*ALLOCATABLE_ORDER_STATES, OrderStatus.IN_WAVE)


class ExpiredStockOnly(Conflict):
    """Units exist, but every one of them is past its expiry date."""

    code = "expired_stock"


class HeldStockOnly(Conflict):
    """Units exist, but every one of them is on hold (near its expiry, say)."""

    code = "held_stock"


@dataclass(slots=True)
class AllocationResult:
    order_line_id: int
    requested: int
    allocations: list[Allocation] = field(default_factory=list)
    #: Units still missing after this call (0 when the line is fully allocated).
    short: int = 0
    reason: str | None = None

    @property
    def allocated(self) -> int:
        return sum(a.quantity for a in self.allocations)


def _site_today(session: Session, site_id: int) -> dt.date:
    site = session.get(Site, site_id)
    assert site is not None
    return dt.datetime.now(ZoneInfo(site.timezone)).date()


def _lock_line(session: Session, order_line_id: int) -> OrderLine:
    line = session.scalars(
        select(OrderLine)
        .where(OrderLine.id == order_line_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if line is None:
        raise NotFound(f"order line {order_line_id} does not exist", field="order_line_id")
    return line


def _committed(session: Session, line_id: int) -> int:
    """Units of the line already allocated and not released (open ones, and picked ones)."""
    picked_or_open = case(
        (Allocation.status == AllocationStatus.PICKED, Allocation.picked_qty),
        else_=Allocation.quantity,
    )
    return int(
        session.scalar(
            select(func.coalesce(func.sum(picked_or_open), 0)).where(
                Allocation.order_line_id == line_id,
                Allocation.status != AllocationStatus.RELEASED,
            )
        )
        or 0
    )


def allocate(
    session: Session,
    order_line_id: int,
    *,
    today: dt.date | None = None,
    refuse_if_none: bool = False,
) -> AllocationResult:
    """Reserve stock for an order line: FEFO, then FIFO, pick faces before reserve, nearest.

    Allocates what it can (partial allocation); the result says how many units are short and
    why. Expired units, held units, locked slots and slots waiting for a count are never used.
    With ``refuse_if_none``, a line that gets nothing raises 409 (expired_stock, held_stock or
    insufficient_stock) instead.
    """
    result = _allocate(session, order_line_id, today=today, states=ALLOCATABLE_ORDER_STATES)
    if refuse_if_none and result.short and not result.allocations:
        if result.reason == EXPIRED_ONLY:
            raise ExpiredStockOnly(
                "only expired stock remains for this item", field="order_line_id"
            )
        if result.reason == HELD_ONLY:
            raise HeldStockOnly(
                "the only stock left of this item is on hold (near its expiry)",
                field="order_line_id",
            )
        raise InsufficientStock(
            "no stock available for this item", available=0, field="order_line_id"
        )
    return result


EXPIRED_ONLY = "only expired stock remains"
HELD_ONLY = "the rest is on hold (near its expiry)"


def _allocate(
    session: Session,
    order_line_id: int,
    *,
    today: dt.date | None,
    states: tuple[OrderStatus, ...],
) -> AllocationResult:
    line = _lock_line(session, order_line_id)
    order = session.get(Order, line.order_id)
    assert order is not None
    if order.status not in states:
        raise Conflict(
            f"order {order.number} is {order.status.value} and cannot be allocated",
            field="order_line_id",
        )
    item = session.get(Item, line.item_id)
    assert item is not None
    needed = line.quantity - _committed(session, line.id)
    result = AllocationResult(order_line_id=line.id, requested=max(needed, 0))
    if needed <= 0:
        return result
    today = today or _site_today(session, order.site_id)

    present = (
        select(Stock, Slot)
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Stock.item_id == item.id,
            Slot.site_id == order.site_id,
            Slot.kind.in_((SlotKind.PICK_FACE, SlotKind.RESERVE)),
            Slot.locked.is_(False),
            Slot.needs_count.is_(False),
            Stock.on_hand > Stock.reserved,
        )
    )
    fresh = present.where((Stock.expiry.is_(None)) | (Stock.expiry >= today))
    candidates = session.execute(fresh.where(Stock.hold.is_(None))).tuples().all()

    def held() -> bool:
        """Whether fresh units sit on hold: a line short because of them says so."""
        return session.execute(fresh.where(Stock.hold.is_not(None)).limit(1)).first() is not None

    if not candidates:
        result.short = needed
        if held():
            result.reason = HELD_ONLY
        elif session.execute(present.limit(1)).first():
            result.reason = EXPIRED_ONLY
        else:
            result.reason = NO_STOCK
        return result

    site = session.get(Site, order.site_id)
    layout = site.layout if site else None
    rows = lock_rows(session, [stock.id for stock, _ in candidates])

    def preference(pair: tuple[Stock, Slot]) -> tuple[Any, ...]:
        return _preference(item, layout, *pair)

    for stock, _slot in sorted(((rows[s.id], slot) for s, slot in candidates), key=preference):
        available = stock.on_hand - stock.reserved
        if available <= 0 or stock.hold is not None:  # held since it was read: skip it
            continue
        take = min(available, needed)
        stock.reserved += take
        allocation = Allocation(order_line_id=line.id, stock_id=stock.id, quantity=take)
        session.add(allocation)
        result.allocations.append(allocation)
        needed -= take
        if needed == 0:
            break
    session.flush()
    result.short = needed
    if needed:
        result.reason = HELD_ONLY if held() else NOT_ENOUGH
    return result


def _preference(
    item: Item, layout: dict[str, Any] | None, stock: Stock, slot: Slot
) -> tuple[Any, ...]:
    """The order in which stock rows are used: FEFO, FIFO, pick faces, nearest, then id."""
    far = dt.date.max
    return (
        (stock.expiry or far) if item.expiry_tracked else far,  # FEFO
        stock.received_at,  # FIFO
        0 if slot.kind is SlotKind.PICK_FACE else 1,  # pick faces before reserve
        walk_estimate(layout, slot),  # nearest
        stock.id,
    )


#: Why a line got less than it asked for (``AllocationResult.reason``).
NOT_ENOUGH = "not enough stock available"
LOCKED_ONLY = "the rest is in locked slots or slots waiting for a count"
NO_STOCK = "no stock available"

_CHUNK = 900  # ids per IN (...) list: well under every backend's parameter limit


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def allocate_orders(
    session: Session,
    groups: Sequence[Sequence[int]],
    *,
    site_id: int,
    today: dt.date,
    lock: bool = True,
) -> dict[int, AllocationResult]:
    """Allocate groups of lines of one site (an order's lines each), whole or not at all.

    The groups go in the order given (earlier ones first). The same rules as ``allocate``
    (FEFO, FIFO, pick faces before reserve, nearest; never expired or held units, locked slots
    or slots waiting for a count; never beyond a line's quantity) with a handful of statements
    for the whole set: the lines are locked in id order, then every usable stock row of their
    items in id order, and the choices made in memory. A group one of whose lines would fall
    short takes nothing: its results list no allocations and say how many units each line
    lacks and why. ``lock=False`` reads without locking (a preview that is rolled back). The
    caller checks the orders' states.
    """
    ids = list(dict.fromkeys(line_id for group in groups for line_id in group))
    lines: dict[int, OrderLine] = {}
    for chunk in _chunks(sorted(ids)):
        query = (
            select(OrderLine)
            .where(OrderLine.id.in_(chunk))
            .order_by(OrderLine.id)
            .execution_options(populate_existing=True)
        )
        for line in session.scalars(query.with_for_update() if lock else query):
            lines[line.id] = line
    missing = [i for i in ids if i not in lines]
    if missing:
        raise NotFound(f"order line {missing[0]} does not exist", field="order_line_id")
    committed: dict[int, int] = defaultdict(int)
    picked_or_open = case(
        (Allocation.status == AllocationStatus.PICKED, Allocation.picked_qty),
        else_=Allocation.quantity,
    )
    for chunk in _chunks(ids):
        for line_id, units in session.execute(
            select(Allocation.order_line_id, func.sum(picked_or_open))
            .where(
                Allocation.order_line_id.in_(chunk),
                Allocation.status != AllocationStatus.RELEASED,
            )
            .group_by(Allocation.order_line_id)
        ):
            committed[line_id] = int(units or 0)
    item_ids = sorted({line.item_id for line in lines.values()})
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    site = session.get(Site, site_id)
    layout = site.layout if site else None

    usable = (
        select(Stock.id)
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Slot.site_id == site_id,
            Slot.kind.in_((SlotKind.PICK_FACE, SlotKind.RESERVE)),
            Slot.locked.is_(False),
            Slot.needs_count.is_(False),
            Stock.on_hand > Stock.reserved,
            (Stock.expiry.is_(None)) | (Stock.expiry >= today),
            Stock.hold.is_(None),
        )
    )
    stock_ids: list[int] = []
    for chunk in _chunks(item_ids):
        stock_ids += session.scalars(usable.where(Stock.item_id.in_(chunk))).all()
    if lock:
        rows = lock_rows(session, stock_ids)
    else:
        rows = {
            row.id: row
            for chunk in _chunks(sorted(stock_ids))
            for row in session.scalars(select(Stock).where(Stock.id.in_(chunk)))
        }
    slots = {
        slot.id: slot
        for chunk in _chunks(sorted({row.slot_id for row in rows.values()}))
        for slot in session.scalars(select(Slot).where(Slot.id.in_(chunk)))
    }
    by_item: dict[int, list[Stock]] = defaultdict(list)
    for row in rows.values():
        if row.hold is None:  # a row held since it was read (the expiry sweep) is not used
            by_item[row.item_id].append(row)
    for item_id, candidates in by_item.items():
        item = items[item_id]
        candidates.sort(key=lambda row: _preference(item, layout, row, slots[row.slot_id]))

    # Units taken per stock row so far; a group that falls short gives its share back.
    taken: dict[int, int] = defaultdict(int)
    results: dict[int, AllocationResult] = {}
    for group in groups:
        tentative: list[tuple[int, Stock, int]] = []
        for line_id in dict.fromkeys(group):
            line = lines[line_id]
            needed = line.quantity - committed[line_id]
            result = AllocationResult(order_line_id=line_id, requested=max(needed, 0))
            results[line_id] = result
            for row in by_item.get(line.item_id, ()):
                if needed <= 0:
                    break
                take = min(row.on_hand - row.reserved - taken[row.id], needed)
                if take <= 0:
                    continue
                taken[row.id] += take
                tentative.append((line_id, row, take))
                needed -= take
            result.short = max(needed, 0)
        if any(results[line_id].short for line_id in group):
            for _line_id, row, take in tentative:
                taken[row.id] -= take
            continue
        for line_id, row, take in tentative:
            made = Allocation(order_line_id=line_id, stock_id=row.id, quantity=take)
            session.add(made)
            results[line_id].allocations.append(made)
    for row_id, units in taken.items():
        rows[row_id].reserved += units
    session.flush()
    short_items = {lines[r.order_line_id].item_id for r in results.values() if r.short}
    if short_items:
        reasons = _short_reasons(session, sorted(short_items), site_id=site_id, today=today)
        for result in results.values():
            if result.short:
                got_some = result.short < result.requested or committed[result.order_line_id]
                result.reason = reasons.get(
                    lines[result.order_line_id].item_id, NOT_ENOUGH if got_some else NO_STOCK
                )
    return results


def release_many(session: Session, allocation_ids: Sequence[int]) -> list[Allocation]:
    """Release open allocations in bulk: the allocations, then their stock rows, in id order.

    Allocations already picked or released are left as they are.
    """
    ids = sorted(set(allocation_ids))
    found: list[Allocation] = []
    for chunk in _chunks(ids):
        found += session.scalars(
            select(Allocation)
            .where(Allocation.id.in_(chunk), Allocation.status == AllocationStatus.OPEN)
            .order_by(Allocation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    rows = lock_rows(session, [a.stock_id for a in found])
    now = utcnow()
    for made in found:
        rows[made.stock_id].reserved -= made.quantity
        made.status = AllocationStatus.RELEASED
        made.closed_at = now
    session.flush()
    return found


def _short_reasons(
    session: Session, item_ids: Sequence[int], *, site_id: int, today: dt.date
) -> dict[int, str]:
    """For items that ran short: whether the rest sits in unusable, expired or held stock."""
    at_site = (
        select(
            Stock.item_id,
            func.sum(
                case(
                    ((Slot.locked.is_(True)) | (Slot.needs_count.is_(True)), Stock.on_hand),
                    else_=0,
                )
            ),
            func.sum(
                case(((Stock.expiry.is_not(None)) & (Stock.expiry < today), Stock.on_hand), else_=0)
            ),
            func.sum(case((Stock.hold.is_not(None), Stock.on_hand), else_=0)),
        )
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Slot.site_id == site_id,
            Slot.kind.in_((SlotKind.PICK_FACE, SlotKind.RESERVE)),
            Stock.item_id.in_(item_ids),
            Stock.on_hand > Stock.reserved,
        )
        .group_by(Stock.item_id)
    )
    reasons = {}
    for item_id, locked, expired, held in session.execute(at_site):
        if locked:
            reasons[item_id] = LOCKED_ONLY
        elif expired:
            reasons[item_id] = EXPIRED_ONLY
        elif held:
            reasons[item_id] = HELD_ONLY
    return reasons


def allocate_order(
    session: Session, order_id: int, *, today: dt.date | None = None
) -> list[AllocationResult]:
    """Allocate every line of an order; the order becomes allocated, or backordered if short."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist", field="order_id")
    results = [allocate(session, line.id, today=today) for line in order.lines]
    order.status = (
        OrderStatus.BACKORDERED if any(r.short for r in results) else OrderStatus.ALLOCATED
    )
    session.flush()
    return results


def _lock_allocation(session: Session, allocation_id: int) -> Allocation:
    allocation = session.scalars(
        select(Allocation)
        .where(Allocation.id == allocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if allocation is None:
        raise NotFound(f"allocation {allocation_id} does not exist", field="allocation_id")
    return allocation


def release(session: Session, allocation_id: int) -> Allocation:
    """Give an open allocation's units back to the stock row (on cancel or re-plan)."""
    allocation = _lock_allocation(session, allocation_id)
    if allocation.status is not AllocationStatus.OPEN:
        raise Conflict(
            f"allocation {allocation.id} is {allocation.status.value}, not open",
            field="allocation_id",
        )
    row = lock_rows(session, [allocation.stock_id])[allocation.stock_id]
    row.reserved -= allocation.quantity
    allocation.status = AllocationStatus.RELEASED
    allocation.closed_at = utcnow()
    session.flush()
    return allocation


def release_line(session: Session, order_line_id: int) -> list[Allocation]:
    """Release every open allocation of an order line."""
    _lock_line(session, order_line_id)
    open_ids = session.scalars(
        select(Allocation.id)
        .where(
            Allocation.order_line_id == order_line_id,
            Allocation.status == AllocationStatus.OPEN,
        )
        .order_by(Allocation.id)
    ).all()
    return [release(session, allocation_id) for allocation_id in open_ids]


@dataclass(slots=True)
class PickResult:
    allocation: Allocation
    picked: int
    #: Units not found in the slot (short pick); 0 for a full pick.
    missing: int = 0
    #: Where the missing units were re-allocated; empty when back-ordered or not short.
    reallocated: list[Allocation] = field(default_factory=list)
    backordered: int = 0


def confirm_pick(
    session: Session,
    allocation_id: int,
    *,
    quantity: int,
    user_id: int | None = None,
    idempotency_key: str | None = None,
    reason: str = "",
) -> PickResult:
    """Confirm units picked against an allocation; fewer than allocated is a short pick.

    The picked units leave the slot (reserved and on-hand both drop, one pick movement). On a
    short pick the slot is flagged for a count and the missing units are re-allocated from
    other slots, or back-ordered when there are none.
    """
    check_quantity(quantity, allow_zero=True)
    allocation = _lock_allocation(session, allocation_id)
    if allocation.status is not AllocationStatus.OPEN:
        raise Conflict(
            f"allocation {allocation.id} is already {allocation.status.value}",
            field="allocation_id",
        )
    if quantity > allocation.quantity:
        raise RuleViolation(
            f"{quantity} picked but only {allocation.quantity} allocated", field="quantity"
        )
    line = _lock_line(session, allocation.order_line_id)
    row = lock_rows(session, [allocation.stock_id])[allocation.stock_id]
    slot = session.get(Slot, row.slot_id)
    assert slot is not None
    if slot.locked and quantity:
        raise SlotLocked(
            f"slot {slot.barcode} is locked: {slot.lock_reason or 'no picking'}",
            field="allocation_id",
        )
    missing = allocation.quantity - quantity
    # The allocation's whole reservation ends here: picked units leave, missing ones are freed.
    row.reserved -= allocation.quantity
    if quantity:
        post(
            session, row, -quantity, MovementKind.PICK, operation_id=new_operation_id(),
            user_id=user_id, reason=reason, reference=f"order_line:{line.id}",
            idempotency_key=idempotency_key,
        )  # fmt: skip
    allocation.status = AllocationStatus.PICKED
    allocation.picked_qty = quantity
    allocation.closed_at = utcnow()
    line.picked_qty += quantity
    session.flush()
    result = PickResult(allocation=allocation, picked=quantity, missing=missing)
    if missing:
        flag_for_count(
            session, row.slot_id, reason=f"short pick: {missing} missing for line {line.id}"
        )
        # The order is usually in a wave by now; its missing units are re-allocated all the same.
        again = _allocate(session, line.id, today=None, states=REALLOCATABLE_ORDER_STATES)
        result.reallocated = again.allocations
        result.backordered = again.short
        order = session.get(Order, line.order_id)
        assert order is not None
        # An order being picked in a wave goes on without the missing units (its line shows
        # them short); any other waits for stock.
        if again.short and order.status is not OrderStatus.IN_WAVE:
            order.status = OrderStatus.BACKORDERED
            session.flush()
    return result


def available(session: Session, *, item_id: int, site_id: int, today: dt.date) -> int:
    """Units of an item that could be allocated at a site today."""
    total = session.scalar(
        select(func.coalesce(func.sum(Stock.on_hand - Stock.reserved), 0))
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Stock.item_id == item_id,
            Slot.site_id == site_id,
            Slot.kind.in_((SlotKind.PICK_FACE, SlotKind.RESERVE)),
            Slot.locked.is_(False),
            Slot.needs_count.is_(False),
            (Stock.expiry.is_(None)) | (Stock.expiry >= today),
            Stock.hold.is_(None),
        )
    )
    return int(total or 0)


__all__ = [
    "AllocationResult",
    "ExpiredStockOnly",
    "HeldStockOnly",
    "InsufficientStock",
    "PickResult",
    "allocate",
    "allocate_order",
    "allocate_orders",
    "available",
    "confirm_pick",
    "release",
    "release_line",
    "release_many",
]

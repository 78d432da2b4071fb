"""Invariant 1 of ARCHITECTURE.md, verified from the database.

For every Stock row: ``0 <= reserved <= on_hand``; ``on_hand`` equals the sum of its ledger
movements; ``reserved`` equals the sum of its open allocations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wms.models import Allocation, AllocationStatus, Item, Movement, Slot, Stock


@dataclass(frozen=True, slots=True)
class Violation:
    stock_id: int
    slot: str
    sku: str
    lot: str
    rule: str
    expected: str
    found: str


@dataclass(slots=True)
class Report:
    stock_rows: int = 0
    movements: int = 0
    open_allocations: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def verify(session: Session) -> Report:
    """Check every Stock row against its bounds, its ledger and its open allocations."""
    ledger = (
        select(Movement.stock_id, func.sum(Movement.quantity).label("total"))
        .group_by(Movement.stock_id)
        .subquery()
    )
    held = (
        select(Allocation.stock_id, func.sum(Allocation.quantity).label("total"))
        .where(Allocation.status == AllocationStatus.OPEN)
        .group_by(Allocation.stock_id)
        .subquery()
    )
    ledger_sum = func.coalesce(ledger.c.total, 0)
    held_sum = func.coalesce(held.c.total, 0)
    rows = session.execute(
        select(
            Stock.id,
            Slot.barcode,
            Item.sku,
            Stock.lot,
            Stock.on_hand,
            Stock.reserved,
            ledger_sum,
            held_sum,
        )
        .join(Slot, Slot.id == Stock.slot_id)
        .join(Item, Item.id == Stock.item_id)
        .outerjoin(ledger, ledger.c.stock_id == Stock.id)
        .outerjoin(held, held.c.stock_id == Stock.id)
        .where(
            or_(
                Stock.on_hand < 0,
                Stock.reserved < 0,
                Stock.reserved > Stock.on_hand,
                Stock.on_hand != ledger_sum,
                Stock.reserved != held_sum,
            )
        )
        .order_by(Stock.id)
    ).all()

    report = Report(
        stock_rows=session.scalar(select(func.count()).select_from(Stock)) or 0,
        movements=session.scalar(select(func.count()).select_from(Movement)) or 0,
        open_allocations=session.scalar(
            select(func.count())
            .select_from(Allocation)
            .where(Allocation.status == AllocationStatus.OPEN)
        )
        or 0,
    )
    for stock_id, slot, sku, lot, on_hand, reserved, in_ledger, allocated in rows:
        broken: list[tuple[str, object, object]] = []
        if on_hand < 0:
            broken.append(("on_hand >= 0", ">= 0", on_hand))
        if reserved < 0:
            broken.append(("reserved >= 0", ">= 0", reserved))
        if reserved > on_hand:
            broken.append(("reserved <= on_hand", f"<= {on_hand}", reserved))
        if on_hand != in_ledger:
            broken.append(("on_hand = ledger sum", f"on_hand {in_ledger}", f"on_hand {on_hand}"))
        if reserved != allocated:
            broken.append(
                ("reserved = open allocations", f"reserved {allocated}", f"reserved {reserved}")
            )
        report.violations.extend(
            Violation(stock_id, slot, sku, lot, rule, str(expected), str(found))
            for rule, expected, found in broken
        )
    return report

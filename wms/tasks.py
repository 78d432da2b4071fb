"""Move-type tasks on the floor — putaway, replenishment, move — worked the same way.

A floor user sees the open tasks of their site that are assigned to them or to nobody
(``tasks_for``), takes one (``claim``), and does it by scanning: the source slot, the item,
the quantity, the destination slot (``complete``). Every scan is checked against the task;
a wrong one is refused with ``WrongScan`` saying what was expected and what was scanned, and
nothing moves. The units move through the ledger (``wms.stock.move``): a putaway as a putaway
movement (``wms.putaway.confirm_putaway``: another valid slot than the suggested one is
accepted and recorded), a replenishment or a move as a move, into the task's destination.
The scheduler's replenishment tasks appear here with nothing more to build.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wms import putaway, scanning
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import MovementKind, Task, TaskKind, TaskStatus
from wms.stock import check_quantity

T = TypeVar("T")

ACTIVE = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)
MOVE_KINDS = (TaskKind.PUTAWAY, TaskKind.REPLENISHMENT, TaskKind.MOVE)


class WrongScan(RuleViolation):
    """A scan that is not what the task's step expects; ``expected`` and ``scanned`` say so."""

    code = "wrong_scan"

    def __init__(self, field: str, expected: str, scanned: str) -> None:
        super().__init__(f"expected {expected}, scanned {scanned}", field=field)
        self.expected = expected
        self.scanned = scanned


def tasks_for(session: Session, *, site_id: int, user_id: int | None) -> list[Task]:
    """The site's open move-type tasks assigned to the user or to nobody, oldest first."""
    query = select(Task).where(
        Task.site_id == site_id, Task.kind.in_(MOVE_KINDS), Task.status.in_(ACTIVE)
    )
    if user_id is not None:
        query = query.where(or_(Task.assigned_to.is_(None), Task.assigned_to == user_id))
    else:
        query = query.where(Task.assigned_to.is_(None))
    return list(session.scalars(query.order_by(Task.created_at, Task.id)))


def _lock(session: Session, task_id: int) -> Task:
    task = session.scalars(
        select(Task)
        .where(Task.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if task is None or task.kind not in MOVE_KINDS:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    return task


def _scanned(look_up: Callable[[], T], field: str) -> T:
    """A scan looked up, its refusal naming the step's field rather than ``scan``."""
    try:
        return look_up()
    except WmsError as error:
        raise type(error)(error.message, field=field) from None


def claim(session: Session, task_id: int, *, user_id: int | None) -> Task:
    """Take a task (it stays the user's until done); refused (409) when done or someone else's."""
    task = _lock(session, task_id)
    if task.status not in ACTIVE:
        raise Conflict(f"task {task.id} is {task.status.value}", field="task_id")
    if task.assigned_to not in (None, user_id):
        raise Conflict(f"task {task.id} is someone else's", field="task_id")
    task.assigned_to = user_id
    session.flush()
    return task


def complete(
    session: Session,
    task_id: int,
    *,
    from_slot: str,
    item: str,
    quantity: int,
    to_slot: str,
    user_id: int | None = None,
    separator: str | None = None,
    idempotency_key: str | None = None,
) -> Task:
    """Do (part of) a task from its scans: source slot, item, quantity, destination slot.

    Refused, nothing moved: a source slot or item other than the task's (``WrongScan``), more
    units than remain (422), a destination other than the task's for a replenishment or a
    move (``WrongScan``), a task done or someone else's (409).
    """
    task = _lock(session, task_id)
    if task.status not in ACTIVE:
        raise Conflict(f"task {task.id} is {task.status.value}", field="task_id")
    if task.assigned_to not in (None, user_id):
        raise Conflict(f"task {task.id} is someone else's", field="task_id")
    source = _scanned(lambda: scanning.find_slot(session, from_slot), "from_slot")
    if source.id != task.from_slot_id:
        raise WrongScan("from_slot", task.from_slot.barcode, source.barcode)
    scanned_item, _units = _scanned(
        lambda: scanning.find_item(session, scanning.parse_scan(item, separator=separator)),
        "item",
    )
    if scanned_item.id != task.item_id:
        raise WrongScan("item", task.item.sku, scanned_item.sku)
    check_quantity(quantity)
    remaining = task.quantity - task.done_qty
    if quantity > remaining:
        raise RuleViolation(f"only {remaining} unit(s) remain on this task", field="quantity")
    target = _scanned(lambda: scanning.find_slot(session, to_slot), "to_slot")
    if task.kind is TaskKind.PUTAWAY:
        return putaway.confirm_putaway(
            session,
            task.id,
            to_slot_id=target.id,
            quantity=quantity,
            user_id=user_id,
            idempotency_key=idempotency_key,
        )
    if task.to_slot_id is not None and target.id != task.to_slot_id:
        assert task.to_slot is not None
        raise WrongScan("to_slot", task.to_slot.barcode, target.barcode)
    task.assigned_to = task.assigned_to or user_id
    return putaway.carry_out(
        session,
        task,
        to_slot_id=target.id,
        units=quantity,
        kind=MovementKind.MOVE,
        user_id=user_id,
        idempotency_key=idempotency_key,
    )

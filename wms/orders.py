"""Customer orders: intake, the lifecycle, cancellation.

The lifecycle (ARCHITECTURE.md): ``open → allocated → in_wave → picked → packed → dispatched →
delivered``, with ``backordered`` (waiting for stock), ``failed_delivery`` (re-deliver or
``returned``) and ``cancelled``. ``advance`` takes every step but one (``wms.allocation``
backorders an order it cannot fill, the stock issue's rule); a transition the table below does
not hold is refused (409). An order can be cancelled until its first unit is picked — later
than ARCHITECTURE.md's "before dispatched", on purpose: after that the units are in a tote and
must be put back first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wms import allocation
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    Order,
    OrderLine,
    OrderStatus,
    PickTask,
    PickTaskStatus,
    Site,
    SiteKind,
    utcnow,
)

S = OrderStatus
#: Every status an order may go to from each status.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.OPEN: frozenset({S.ALLOCATED, S.BACKORDERED, S.CANCELLED}),
    S.BACKORDERED: frozenset({S.ALLOCATED, S.OPEN, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.IN_WAVE, S.BACKORDERED, S.OPEN, S.CANCELLED}),
    # A short pick may leave a line waiting for stock; a cancelled wave sends orders back.
    S.IN_WAVE: frozenset({S.PICKED, S.BACKORDERED, S.OPEN, S.CANCELLED}),
    S.PICKED: frozenset({S.PACKED}),
    S.PACKED: frozenset({S.DISPATCHED}),
    S.DISPATCHED: frozenset({S.DELIVERED, S.FAILED_DELIVERY}),
    S.FAILED_DELIVERY: frozenset({S.DISPATCHED, S.RETURNED}),
    S.DELIVERED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}

MAX_LINES = 500


class IllegalTransition(Conflict):
    """The order's status does not allow this step."""

    code = "illegal_transition"


def advance(order: Order, to: OrderStatus) -> None:
    """Move an order to another status, or refuse (409) a step the lifecycle does not allow."""
    if to is order.status:  # already there: nothing to do
        return
    if to not in TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"order {order.number} is {order.status.value} and cannot become {to.value}",
            field="status",
        )
    order.status = to


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One line of a new order: an item (by id or SKU) and a quantity."""

    quantity: int
    item_id: int | None = None
    sku: str | None = None


def create_order(
    session: Session,
    *,
    site_id: int,
    customer_name: str,
    address: str,
    latitude: float,
    longitude: float,
    promised_start: dt.datetime,
    promised_end: dt.datetime,
    lines: Sequence[LineRequest],
    number: str | None = None,
    phone: str = "",
    priority: int = 0,
    now: dt.datetime | None = None,
) -> Order:
    """Take a customer order for delivery from a front warehouse in a promised window.

    Refused (422, naming the field): an unknown site or one that is not a front warehouse, a
    window that ends before it starts or has already ended, no lines, an unknown item, an
    item on two lines, a quantity below 1, a number already taken.
    """
    site = session.get(Site, site_id)
    if site is None:
        raise RuleViolation(f"site {site_id} does not exist", field="site_id")
    if site.kind is not SiteKind.FRONT_WAREHOUSE:
        raise RuleViolation(
            f"site {site.code} is not a front warehouse: customers are served from those",
            field="site_id",
        )
    for name, moment in (("promised_start", promised_start), ("promised_end", promised_end)):
        if moment.tzinfo is None:
            raise RuleViolation("give a time zone (or Z for UTC)", field=name)
    if promised_end <= promised_start:
        raise RuleViolation("the window must end after it starts", field="promised_end")
    if promised_end <= (now or utcnow()):
        raise RuleViolation("the promised window has already ended", field="promised_end")
    if not -90 <= latitude <= 90:
        raise RuleViolation("must be -90 to 90", field="latitude")
    if not -180 <= longitude <= 180:
        raise RuleViolation("must be -180 to 180", field="longitude")
    if not lines:
        raise RuleViolation("an order needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise RuleViolation(f"at most {MAX_LINES} lines per order", field="lines")
    if number is not None and re.fullmatch(rf"{re.escape(site.code)}-\d{{7}}", number):
        raise RuleViolation(
            f"numbers like {site.code}-0000001 are given by the system; choose another",
            field="number",
        )
    taken = number is not None and session.scalar(select(Order.id).where(Order.number == number))
    if taken:
        raise RuleViolation(f"order number {number} is already taken", field="number")

    items = _items(session, lines)
    seen: dict[int, int] = {}
    order = Order(
        number=number or _provisional_number(),
        site_id=site.id,
        customer_name=customer_name,
        phone=phone,
        address=address,
        latitude=latitude,
        longitude=longitude,
        promised_start=promised_start,
        promised_end=promised_end,
        priority=priority,
        status=OrderStatus.OPEN,
    )
    for index, (request, item) in enumerate(zip(lines, items, strict=True)):
        if request.quantity < 1:
            raise RuleViolation("must be at least 1", field=f"lines[{index}].quantity")
        if item.id in seen:
            raise RuleViolation(
                f"item {item.sku} is already on line {seen[item.id] + 1}; put the quantities "
                "on one line",
                field=f"lines[{index}].item_id",
            )
        seen[item.id] = index
        order.lines.append(OrderLine(line_no=index + 1, item_id=item.id, quantity=request.quantity))
    try:
        with session.begin_nested():  # a number taken meanwhile is a 422, not a 500
            session.add(order)
            session.flush()
    except IntegrityError:
        raise RuleViolation(f"order number {number} is already taken", field="number") from None
    if number is None:
        order.number = f"{site.code}-{order.id:07d}"
        session.flush()
    return order


def _provisional_number() -> str:
    import uuid

    return f"new-{uuid.uuid4().hex[:24]}"  # replaced by site code and id after the insert


def _items(session: Session, lines: Sequence[LineRequest]) -> list[Item]:
    ids = {r.item_id for r in lines if r.item_id is not None}
    skus = {r.sku for r in lines if r.item_id is None and r.sku is not None}
    by_id = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(ids)))} if ids else {}
    by_sku = (
        {i.sku: i for i in session.scalars(select(Item).where(Item.sku.in_(skus)))} if skus else {}
    )
    found = []
    for index, request in enumerate(lines):
        if request.item_id is not None:
            item = by_id.get(request.item_id)
            if item is None:
                raise RuleViolation(
                    f"item {request.item_id} does not exist", field=f"lines[{index}].item_id"
                )
        elif request.sku is not None:
            item = by_sku.get(request.sku)
            if item is None:
                raise RuleViolation(f"no item has SKU {request.sku}", field=f"lines[{index}].sku")
        else:
            raise RuleViolation("give item_id or sku", field=f"lines[{index}]")
        if not item.active:
            raise RuleViolation(
                f"item {item.sku} is no longer sold", field=f"lines[{index}].item_id"
            )
        found.append(item)
    return found


def lock_order(session: Session, order_id: int) -> Order:
    """The order, locked for this transaction (FOR UPDATE; SQLite holds its write lock)."""
    order = session.scalars(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} does not exist", field="order_id")
    return order


def cancel_order(session: Session, order_id: int) -> Order:
    """Cancel an order: its reservations are released and its open pick tasks withdrawn.

    Refused (409) once a unit has been picked (the tote must be put back first) or after
    dispatch.
    """
    order = lock_order(session, order_id)
    if order.status is S.CANCELLED:
        raise IllegalTransition(f"order {order.number} is already cancelled", field="status")
    picked = session.scalar(
        select(PickTask.id).where(PickTask.order_id == order.id, PickTask.picked_qty > 0).limit(1)
    )
    if picked is not None:
        raise IllegalTransition(
            f"order {order.number} is {order.status.value} and picking has started: put the "
            "picked units back first",
            field="status",
        )
    if S.CANCELLED not in TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"order {order.number} is {order.status.value} and cannot be cancelled",
            field="status",
        )
    touched = set()
    for task in session.scalars(
        select(PickTask).where(
            PickTask.order_id == order.id, PickTask.status == PickTaskStatus.OPEN
        )
    ):
        task.status = PickTaskStatus.CANCELLED
        touched.add(task.pick_list_id)
    release_open_allocations(session, order)
    advance(order, S.CANCELLED)
    order.cancelled_at = utcnow()
    session.flush()
    if touched:
        from wms import picklists  # picklists builds on orders

        picklists.settle(session, sorted(touched))
    return order


def release_open_allocations(session: Session, *orders: Order) -> int:
    """Give back every open reservation of the orders' lines; returns how many were released."""
    open_ids = session.scalars(
        select(Allocation.id)
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(
            OrderLine.order_id.in_([o.id for o in orders]),
            Allocation.status == AllocationStatus.OPEN,
        )
    ).all()
    return len(allocation.release_many(session, open_ids))

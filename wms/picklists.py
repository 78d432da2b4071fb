"""Picking a released wave: taking a pick list, confirming its tasks, short picks.

A picker takes the next open pick list of a released wave (or a given one) and confirms its
tasks in walking order: the units picked (``wms.allocation.confirm_pick`` writes the ledger),
fewer on a short pick. A short pick re-allocates the missing units from another slot — a new
task at the end of the same pick list, into the same tote — or, with no stock left, leaves
the line short. When every task of an order is done the order is picked and goes to packing
(flagged ``short`` in the API when a line lacks units), or, if not one unit was found, waits
backordered for a later wave. When every task of a pick list is done the list is done; when
every list of a wave is, the wave is complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wms import allocation, orders
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Allocation,
    Order,
    OrderStatus,
    PickList,
    PickListStatus,
    PickTask,
    PickTaskStatus,
    Stock,
    Temperature,
    Wave,
    WaveStatus,
    utcnow,
)

WORKABLE = (PickListStatus.OPEN, PickListStatus.IN_PROGRESS)


def _lock_pick_list(session: Session, pick_list_id: int) -> PickList:
    pick_list = session.scalars(
        select(PickList)
        .where(PickList.id == pick_list_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if pick_list is None:
        raise NotFound(f"pick list {pick_list_id} does not exist", field="pick_list_id")
    return pick_list


def start(session: Session, pick_list_id: int, *, user_id: int | None) -> PickList:
    """Take a pick list: open → in progress, assigned to the user (the same user may resume).

    Refused (409) before its wave is released, when it is done, or when someone else has it.
    """
    pick_list = _lock_pick_list(session, pick_list_id)
    if pick_list.status is PickListStatus.IN_PROGRESS:
        if user_id is not None and pick_list.assigned_to not in (None, user_id):
            raise Conflict(
                f"pick list {pick_list.number} is being picked by someone else", field="status"
            )
        return pick_list
    if pick_list.status is not PickListStatus.OPEN:
        raise Conflict(f"pick list {pick_list.number} is {pick_list.status.value}", field="status")
    pick_list.status = PickListStatus.IN_PROGRESS
    pick_list.assigned_to = user_id
    pick_list.started_at = utcnow()
    session.flush()
    return pick_list


def in_progress_for(session: Session, site_id: int, *, user_id: int) -> PickList | None:
    """The user's pick list in progress at the site, if any (nothing is taken)."""
    return session.scalars(
        select(PickList)
        .join(Wave, Wave.id == PickList.wave_id)
        .where(
            Wave.site_id == site_id,
            PickList.status == PickListStatus.IN_PROGRESS,
            PickList.assigned_to == user_id,
        )
        .order_by(PickList.id)
        .limit(1)
    ).first()


def take_next(
    session: Session,
    site_id: int,
    *,
    user_id: int | None,
    temperature: Temperature | None = None,
) -> PickList | None:
    """The user's pick list in progress, or else the next open one of the site's released
    waves (oldest wave first, then walking order), taken; None when there is none.

    Two pickers asking at once get different lists (PostgreSQL skips rows another
    transaction holds; SQLite serialises writers).
    """
    if user_id is not None:
        mine_query = (
            select(PickList)
            .join(Wave, Wave.id == PickList.wave_id)
            .where(
                Wave.site_id == site_id,
                PickList.status == PickListStatus.IN_PROGRESS,
                PickList.assigned_to == user_id,
            )
            .order_by(PickList.id)
            .limit(1)
        )
        if temperature is not None:
            mine_query = mine_query.where(PickList.temperature == temperature)
        mine = session.scalars(mine_query).first()
        if mine is not None:
            return mine
    query = (
        select(PickList)
        .join(Wave, Wave.id == PickList.wave_id)
        .where(
            Wave.site_id == site_id,
            Wave.status == WaveStatus.RELEASED,
            PickList.status == PickListStatus.OPEN,
        )
        .order_by(Wave.released_at, Wave.id, PickList.sequence)
        .limit(1)
        .with_for_update(of=PickList, skip_locked=True)
    )
    if temperature is not None:
        query = query.where(PickList.temperature == temperature)
    pick_list = session.scalars(query).first()
    if pick_list is None:
        return None
    return start(session, pick_list.id, user_id=user_id)


def confirm_task(
    session: Session,
    pick_list_id: int,
    task_id: int,
    *,
    quantity: int,
    user_id: int | None = None,
    idempotency_key: str | None = None,
    reason: str = "",
) -> PickTask:
    """Confirm the units picked for a task; fewer than asked is a short pick (give a reason).

    Refused: a quantity above the task's (422), a short pick without a reason (422), a task
    already confirmed or a pick list not released or someone else's (409).
    """
    order_id = session.scalar(
        select(PickTask.order_id).where(
            PickTask.id == task_id, PickTask.pick_list_id == pick_list_id
        )
    )
    if order_id is None:
        raise NotFound(f"pick list {pick_list_id} has no task {task_id}", field="task_id")
    # Locks in the order every service takes them: order, pick list, task, then the stock.
    orders.lock_order(session, order_id)
    pick_list = _lock_pick_list(session, pick_list_id)
    task = session.scalars(
        select(PickTask)
        .where(PickTask.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if pick_list.status not in WORKABLE:
        raise Conflict(f"pick list {pick_list.number} is {pick_list.status.value}", field="status")
    if user_id is not None and pick_list.assigned_to not in (None, user_id):
        raise Conflict(
            f"pick list {pick_list.number} is being picked by someone else", field="status"
        )
    if task.status is not PickTaskStatus.OPEN:
        raise Conflict(f"task {task.id} is already {task.status.value}", field="task_id")
    if quantity > task.quantity:
        raise RuleViolation(
            f"{quantity} picked but the task is for {task.quantity}", field="quantity"
        )
    if quantity < task.quantity and not reason.strip():
        raise RuleViolation("say why fewer units were found (a short pick)", field="reason")
    result = allocation.confirm_pick(
        session,
        task.allocation_id,
        quantity=quantity,
        user_id=user_id,
        idempotency_key=idempotency_key,
        reason=reason,
    )
    now = utcnow()
    task.picked_qty = quantity
    task.status = PickTaskStatus.PICKED if quantity == task.quantity else PickTaskStatus.SHORT
    task.short_reason = reason if quantity < task.quantity else ""
    task.done_by = user_id
    task.done_at = now
    if pick_list.status is PickListStatus.OPEN:
        pick_list.status = PickListStatus.IN_PROGRESS
        pick_list.assigned_to = user_id
        pick_list.started_at = now
    if result.reallocated:
        _append_tasks(session, pick_list, task, result.reallocated)
    session.flush()
    settle(session, [pick_list.id], order_ids=[order_id], now=now)
    return task


def guard_allocation(session: Session, allocation_id: int) -> None:
    """Refuse (409) to pick or release an allocation outside the pick list that holds it."""
    held = session.execute(
        select(PickTask.id, PickList.number)
        .join(PickList, PickList.id == PickTask.pick_list_id)
        .where(PickTask.allocation_id == allocation_id, PickTask.status == PickTaskStatus.OPEN)
    ).first()
    if held is not None:
        raise Conflict(
            f"allocation {allocation_id} is task {held[0]} of pick list {held[1]}: confirm it "
            "there, or cancel the wave or the order",
            field="allocation_id",
        )


def _append_tasks(
    session: Session, pick_list: PickList, short: PickTask, reallocated: list[Allocation]
) -> None:
    """Tasks for re-allocated units, after the last one, into the same tote."""
    last = session.scalar(
        select(func.max(PickTask.sequence)).where(PickTask.pick_list_id == pick_list.id)
    )
    sequence = int(last or 0)
    for made in reallocated:
        stock = session.get(Stock, made.stock_id)
        assert stock is not None
        sequence += 1
        session.add(
            PickTask(
                pick_list_id=pick_list.id,
                sequence=sequence,
                allocation_id=made.id,
                order_id=short.order_id,
                order_line_id=made.order_line_id,
                slot_id=stock.slot_id,
                item_id=stock.item_id,
                lot=stock.lot,
                quantity=made.quantity,
                tote=short.tote,
            )
        )


def settle(
    session: Session,
    pick_list_ids: Sequence[int],
    *,
    order_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> None:
    """Close what nothing is left to do in: the given orders, once their tasks are all done,
    are picked; pick lists with no open task are done (or cancelled, if nothing was picked
    from them); released waves with no list left to pick are complete.

    The caller holds the orders' locks already (they come before pick lists).
    """
    now = now or utcnow()
    ids = sorted(set(pick_list_ids))
    tasks = session.scalars(
        select(PickTask)
        .where(PickTask.pick_list_id.in_(ids))
        .execution_options(populate_existing=True)
    ).all()
    for order_id in sorted(set(order_ids)):
        open_left = session.scalar(
            select(func.count(PickTask.id)).where(
                PickTask.order_id == order_id, PickTask.status == PickTaskStatus.OPEN
            )
        )
        order = orders.lock_order(session, order_id)
        if open_left or order.status is not OrderStatus.IN_WAVE:
            continue
        picked = session.scalar(
            select(func.coalesce(func.sum(PickTask.picked_qty), 0)).where(
                PickTask.order_id == order_id
            )
        )
        if picked:
            orders.advance(order, OrderStatus.PICKED)  # lines found short show as such
        else:
            # Nothing at all was found: the order waits for stock, free for a later wave.
            orders.advance(order, OrderStatus.BACKORDERED)
            order.wave_id = None
    waves_touched = set()
    for pick_list_id in ids:
        pick_list = _lock_pick_list(session, pick_list_id)
        mine = [t for t in tasks if t.pick_list_id == pick_list_id]
        if pick_list.status in WORKABLE and all(t.status is not PickTaskStatus.OPEN for t in mine):
            picked = any(t.status in (PickTaskStatus.PICKED, PickTaskStatus.SHORT) for t in mine)
            pick_list.status = PickListStatus.DONE if picked else PickListStatus.CANCELLED
            pick_list.done_at = now
            waves_touched.add(pick_list.wave_id)
    session.flush()
    for wave_id in sorted(waves_touched):
        wave = session.get(Wave, wave_id)
        unfinished = session.scalar(
            select(func.count(PickList.id)).where(
                PickList.wave_id == wave_id, PickList.status.in_(WORKABLE)
            )
        )
        if wave is not None and not unfinished and wave.status is WaveStatus.RELEASED:
            wave.status = WaveStatus.COMPLETED
            wave.completed_at = now
    session.flush()


def svg(session: Session, pick_list: PickList) -> str | None:
    """The pick list drawn: its zone's racks, the tasks numbered in walking order, the walk.
    None when the site has no rack layout."""
    from routing.picking import path_in_order
    from routing.render import render_svg
    from wms.floor import zone_floor

    wave = session.get(Wave, pick_list.wave_id)
    assert wave is not None
    floor = zone_floor(wave.site.code, wave.site.layout, pick_list.temperature)
    if floor is None:
        return None
    tasks = sorted(
        (t for t in pick_list.tasks if t.status is not PickTaskStatus.CANCELLED),
        key=lambda t: t.sequence,
    )
    picks = [floor.pick(task.slot) for task in tasks]
    path = path_in_order(floor.layout, picks, range(len(picks)), method=pick_list.path_method)
    return render_svg(
        floor.layout, picks, path, title=f"{pick_list.number} ({pick_list.temperature.value})"
    )


def order_of_tote(session: Session, code: str) -> Order:
    """The order whose units went into the tote with this label (``T<pick list>-<n>``)."""
    try:
        list_part, position_part = code.strip().upper().removeprefix("T").split("-")
        pick_list_id, position = int(list_part), int(position_part)
        if not (0 < pick_list_id < 2**31 and 0 < position < 2**31):
            raise ValueError(code)
    except ValueError:
        raise RuleViolation(
            f"{code!r} is not a tote label (T<pick list>-<n>)", field="tote"
        ) from None
    order_id = session.scalar(
        select(PickTask.order_id)
        .where(PickTask.pick_list_id == pick_list_id, PickTask.tote == position)
        .limit(1)
    )
    if order_id is None:
        raise RuleViolation(f"no order was picked into tote {code}", field="tote")
    order = session.get(Order, order_id)
    assert order is not None
    return order

"""Picking a released wave and packing its orders (wms.picklists, wms.packing)."""

from __future__ import annotations

import pytest
from biip import parse
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integration.waves_fixtures import NOW, Warehouse, build_warehouse
from wms import orders, packing, picklists, waves
from wms.check import verify
from wms.errors import Conflict, RuleViolation
from wms.models import (
    Movement,
    MovementKind,
    OrderStatus,
    PackageStatus,
    PickListStatus,
    PickTaskStatus,
    Stock,
    Temperature,
    User,
    WaveStatus,
)

SETTINGS = waves.WaveSettings(cart_totes=6, cart_max_weight_g=50_000)


@pytest.fixture
def house(session: Session) -> Warehouse:
    return build_warehouse(session)


@pytest.fixture
def pickers(session: Session) -> tuple[User, User]:
    made = []
    for name in ("picker-a", "picker-b"):
        user = User(username=f"{name}-{id(session)}", display_name=name, role="associate")
        session.add(user)
        made.append(user)
    session.flush()
    return made[0], made[1]


def released(session: Session, house: Warehouse, lines_per_order: list[list[tuple]]):
    made = [house.order(lines) for lines in lines_per_order]
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave
    waves.release_wave(session, wave.id, now=NOW)
    return wave, made


def pick_everything(session: Session, pick_list, user) -> None:
    for task in sorted(pick_list.tasks, key=lambda t: t.sequence):
        if task.status is PickTaskStatus.OPEN:
            picklists.confirm_task(
                session, pick_list.id, task.id, quantity=task.quantity, user_id=user.id
            )


def test_a_wave_picked_to_the_end_completes_and_its_orders_go_to_packing(session, house, pickers):
    a, b = house.stocked(bay=2), house.stocked(aisle=3, bay=8)
    cold = house.stocked(Temperature.CHILLED, bay=5)
    wave, made = released(session, house, [[(a, 2), (cold, 1)], [(b, 1)], [(a, 1), (b, 3)]])
    picker = pickers[0]

    seen = []
    while (pick_list := picklists.take_next(session, house.site.id, user_id=picker.id)) is not None:
        assert pick_list.status is PickListStatus.IN_PROGRESS
        assert pick_list.assigned_to == picker.id
        pick_everything(session, pick_list, picker)
        assert pick_list.status is PickListStatus.DONE
        seen.append(pick_list.id)

    assert sorted(seen) == sorted(pl.id for pl in wave.pick_lists)
    assert wave.status is WaveStatus.COMPLETED
    assert {o.status for o in made} == {OrderStatus.PICKED}
    picks = session.scalars(select(Movement).where(Movement.kind == MovementKind.PICK)).all()
    assert sum(-m.quantity for m in picks) == 2 + 1 + 1 + 1 + 3
    assert verify(session).ok


def test_two_pickers_asking_for_work_get_different_pick_lists(session, house, pickers):
    items = [house.stocked(aisle=1 + i % 4, bay=1 + i) for i in range(8)]
    released(session, house, [[(item, 1)] for item in items] + [[(items[0], 1)]] * 4)

    first = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    second = picklists.take_next(session, house.site.id, user_id=pickers[1].id)

    assert first is not None and second is not None and first.id != second.id
    # Asking again gives each their own list back.
    assert picklists.take_next(session, house.site.id, user_id=pickers[0].id).id == first.id
    with pytest.raises(Conflict):
        picklists.start(session, first.id, user_id=pickers[1].id)


def test_a_short_pick_is_made_up_from_another_slot_into_the_same_tote(session, house, pickers):
    item = house.stocked(qty=2, bay=1)
    house.stock(item, 5, aisle=4, bay=9)  # reserve further away, used second (same FIFO date)
    _, (order,) = released(session, house, [[(item, 2)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    (task,) = pick_list.tasks
    assert task.quantity == 2

    picklists.confirm_task(
        session, pick_list.id, task.id, quantity=1, user_id=pickers[0].id, reason="damaged"
    )

    assert task.status is PickTaskStatus.SHORT and task.picked_qty == 1
    extra = [t for t in pick_list.tasks if t.id != task.id]
    assert len(extra) == 1 and extra[0].quantity == 1 and extra[0].tote == task.tote
    assert extra[0].sequence == task.sequence + 1
    assert order.status is OrderStatus.IN_WAVE
    picklists.confirm_task(session, pick_list.id, extra[0].id, quantity=1, user_id=pickers[0].id)
    assert order.status is OrderStatus.PICKED
    assert task.slot.needs_count  # the short slot waits for a count
    assert verify(session).ok


def test_an_order_with_nothing_found_waits_for_stock_outside_the_wave(session, house, pickers):
    item = house.stocked(qty=2)
    wave, (order,) = released(session, house, [[(item, 2)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    (task,) = pick_list.tasks

    picklists.confirm_task(
        session, pick_list.id, task.id, quantity=0, user_id=pickers[0].id, reason="empty"
    )

    assert order.status is OrderStatus.BACKORDERED and order.wave_id is None
    assert pick_list.status is PickListStatus.DONE and wave.status is WaveStatus.COMPLETED
    assert len(pick_list.tasks) == 1


def test_an_order_short_of_one_line_goes_on_to_packing_with_what_was_found(session, house, pickers):
    found, gone = house.stocked(qty=5, bay=2), house.stocked(qty=1, aisle=3, bay=4)
    _, (order,) = released(session, house, [[(found, 2), (gone, 1)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    for task in sorted(pick_list.tasks, key=lambda t: t.sequence):
        short = task.item_id == gone.id
        picklists.confirm_task(
            session,
            pick_list.id,
            task.id,
            quantity=0 if short else task.quantity,
            user_id=pickers[0].id,
            reason="not there" if short else "",
        )

    assert order.status is OrderStatus.PICKED
    lines = {line.item_id: line for line in order.lines}
    assert (lines[found.id].picked_qty, lines[gone.id].picked_qty) == (2, 0)
    assert verify(session).ok


@pytest.mark.parametrize(
    ("quantity", "reason", "error", "field"),
    [(3, "", RuleViolation, "quantity"), (1, "", RuleViolation, "reason")],
)
def test_a_confirmation_that_cannot_be_right_is_refused_and_changes_nothing(
    session, house, pickers, quantity, reason, error, field
):
    item = house.stocked(qty=5)
    released(session, house, [[(item, 2)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    (task,) = pick_list.tasks
    before = session.scalars(select(Stock.on_hand).where(Stock.item_id == item.id)).all()

    with pytest.raises(error) as refused:
        picklists.confirm_task(
            session, pick_list.id, task.id, quantity=quantity, user_id=pickers[0].id, reason=reason
        )

    assert refused.value.field == field
    assert task.status is PickTaskStatus.OPEN
    assert session.scalars(select(Stock.on_hand).where(Stock.item_id == item.id)).all() == before


def test_a_task_is_confirmed_once(session, house, pickers):
    item = house.stocked()
    released(session, house, [[(item, 1)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    (task,) = pick_list.tasks
    picklists.confirm_task(session, pick_list.id, task.id, quantity=1, user_id=pickers[0].id)

    with pytest.raises(Conflict):
        picklists.confirm_task(session, pick_list.id, task.id, quantity=1, user_id=pickers[0].id)


def test_nothing_is_picked_from_a_wave_that_is_only_planned(session, house):
    item = house.stocked()
    house.order([(item, 1)])
    wave = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW).wave
    (pick_list,) = wave.pick_lists

    assert picklists.take_next(session, house.site.id, user_id=None) is None
    with pytest.raises(Conflict):
        picklists.confirm_task(session, pick_list.id, pick_list.tasks[0].id, quantity=1)


def test_a_picked_order_cannot_be_cancelled(session, house, pickers):
    item = house.stocked()
    _, (order,) = released(session, house, [[(item, 2)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    pick_everything(session, pick_list, pickers[0])

    with pytest.raises(Conflict) as refused:
        orders.cancel_order(session, order.id)
    assert "picked" in str(refused.value)
    assert order.status is OrderStatus.PICKED


# --- packing --------------------------------------------------------------------------------


def test_packing_a_picked_order_by_its_tote_gives_a_valid_sscc(session, house, pickers):
    a, b = house.stocked(bay=2), house.stocked(aisle=2, bay=6)
    _, (order,) = released(session, house, [[(a, 2), (b, 1)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    pick_everything(session, pick_list, pickers[0])
    tote = pick_list.tasks[0].tote_code

    package = packing.open_package(session, tote, user_id=pickers[0].id)
    assert package.order_id == order.id and package.totes == [tote]
    lines = {line.item_id: line for line in order.lines}
    packing.confirm_line(session, package.id, order_line_id=lines[a.id].id, quantity=2)
    with pytest.raises(RuleViolation):  # more than was picked
        packing.confirm_line(session, package.id, order_line_id=lines[b.id].id, quantity=2)
    packing.confirm_line(session, package.id, order_line_id=lines[b.id].id, quantity=1)
    packing.close(session, package.id, user_id=pickers[0].id)

    assert package.status is PackageStatus.CLOSED
    assert order.status is OrderStatus.PACKED
    assert len(package.sscc) == 18
    parsed = parse(package.sscc)
    assert parsed.sscc is not None and parsed.sscc.value == package.sscc


def test_an_order_packed_in_two_parcels_is_packed_when_the_second_closes(session, house, pickers):
    a, b = house.stocked(bay=2), house.stocked(aisle=2, bay=6)
    _, (order,) = released(session, house, [[(a, 1), (b, 1)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    pick_everything(session, pick_list, pickers[0])
    lines = {line.item_id: line for line in order.lines}
    tote = pick_list.tasks[0].tote_code

    first = packing.open_package(session, tote)
    packing.confirm_line(session, first.id, order_line_id=lines[a.id].id, quantity=1)
    packing.close(session, first.id)
    assert order.status is OrderStatus.PICKED
    second = packing.open_package(session, tote)
    assert second.id != first.id
    packing.confirm_line(session, second.id, order_line_id=lines[b.id].id, quantity=1)
    packing.close(session, second.id)

    assert order.status is OrderStatus.PACKED
    assert first.sscc != second.sscc


@pytest.mark.parametrize("label", ["nonsense", "T999999-1", "T-1"])
def test_an_unknown_tote_is_refused_naming_it(session, house, label):
    with pytest.raises(RuleViolation) as refused:
        packing.open_package(session, label)
    assert refused.value.field == "tote"


def test_an_order_still_being_picked_is_not_packed(session, house, pickers):
    a, b = house.stocked(bay=2), house.stocked(aisle=2, bay=6)
    released(session, house, [[(a, 1), (b, 1)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    first = sorted(pick_list.tasks, key=lambda t: t.sequence)[0]
    picklists.confirm_task(session, pick_list.id, first.id, quantity=1, user_id=pickers[0].id)

    with pytest.raises(Conflict):
        packing.open_package(session, first.tote_code)


def test_an_empty_package_is_not_closed(session, house, pickers):
    a = house.stocked()
    released(session, house, [[(a, 1)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    pick_everything(session, pick_list, pickers[0])
    package = packing.open_package(session, pick_list.tasks[0].tote_code)

    with pytest.raises(Conflict):
        packing.close(session, package.id)
    assert package.sscc is None


def test_cancelling_the_last_order_on_a_list_being_picked_closes_the_list(session, house, pickers):
    a, b = house.stocked(bay=2), house.stocked(aisle=2, bay=6)
    wave, (first, second) = released(session, house, [[(a, 1)], [(b, 1)]])
    pick_list = picklists.take_next(session, house.site.id, user_id=pickers[0].id)
    assert len(pick_list.tasks) == 2  # both orders on one cart
    task = next(t for t in pick_list.tasks if t.order_id == first.id)
    picklists.confirm_task(session, pick_list.id, task.id, quantity=1, user_id=pickers[0].id)

    orders.cancel_order(session, second.id)

    assert pick_list.status is PickListStatus.DONE
    assert wave.status is WaveStatus.COMPLETED
    assert first.status is OrderStatus.PICKED

"""Putaway: the suggested slot, the task that goes there, and the scan that confirms it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from wms import check
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    Movement,
    MovementKind,
    Role,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Task,
    TaskKind,
    TaskStatus,
    Temperature,
    User,
    Zone,
)
from wms.putaway import NoSlotFits, confirm_putaway, create_putaway_task, suggest
from wms.stock import (
    InsufficientStock,
    OverCapacity,
    SlotLocked,
    WrongTemperature,
    adjust,
    ensure_row,
    new_operation_id,
    post,
)

LATER = dt.date.today() + dt.timedelta(days=30)


def _state(session) -> tuple[object, ...]:
    session.flush()
    return (
        session.execute(select(Stock.id, Stock.on_hand, Stock.reserved).order_by(Stock.id)).all(),
        session.scalar(select(func.count()).select_from(Movement)),
        session.execute(
            select(Task.id, Task.status, Task.done_qty, Task.done_slot_id).order_by(Task.id)
        ).all(),
    )


@contextmanager
def nothing_changes(session) -> Iterator[None]:
    """Assert that the block changed no balance, movement or task."""
    before = _state(session)
    yield
    assert _state(session) == before


@pytest.fixture
def site(session, make_site):
    site = make_site()
    site.layout = {"aisle_pitch_m": 3.0, "bay_width_m": 1.3}
    session.flush()
    return site


@pytest.fixture
def ambient(make_zone, site):
    return make_zone(site=site)


@pytest.fixture
def chilled(make_zone, site):
    return make_zone(site=site, temperature=Temperature.CHILLED)


@pytest.fixture
def slot_at(make_slot, ambient):
    """A rack slot at an aisle and bay (reserve, level 3, ambient unless told)."""

    def make(aisle, bay, *, kind=SlotKind.RESERVE, zone=None, level=None, **fields):
        level = level or (1 if kind is SlotKind.PICK_FACE else 3)
        return make_slot(
            f"S-{aisle:02d}-{bay:02d}-{level}",
            zone=zone or ambient,
            kind=kind,
            aisle=aisle,
            bay=bay,
            level=level,
            **fields,
        )

    return make


@pytest.fixture
def dock(make_slot, ambient):
    return make_slot("DOCK-1", zone=ambient, kind=SlotKind.DOCK, aisle=50, bay=1)


@pytest.fixture
def milk(make_item):
    """480 cm³ and 250 g a unit."""
    return make_item("MILK")


@pytest.fixture
def arrived(make_stock, dock, milk):
    """20 units of MILK on the dock."""
    return make_stock(item=milk, slot=dock, qty=20)


@pytest.fixture
def user(session):
    person = User(username="putter", display_name="Putter", role=Role.ASSOCIATE)
    session.add(person)
    session.flush()
    return person


def _units(session, slot, item, lot=""):
    return session.scalar(
        select(Stock.on_hand).where(
            Stock.slot_id == slot.id, Stock.item_id == item.id, Stock.lot == lot
        )
    )


# --- the suggestion: consolidate first ---------------------------------------------------------


def test_the_items_pick_face_is_suggested_while_it_stays_within_its_max(
    session, arrived, slot_at, make_stock, milk
):
    face = slot_at(2, 5, kind=SlotKind.PICK_FACE, item_id=milk.id, min_qty=5, max_qty=20)
    make_stock(item=milk, slot=face, qty=5)
    holding = slot_at(1, 1)
    make_stock(item=milk, slot=holding, qty=3)

    assert suggest(session, stock_id=arrived.id, quantity=15) == face


def test_an_empty_pick_face_of_the_item_is_refilled_first(session, arrived, slot_at, milk):
    slot_at(1, 1)
    face = slot_at(4, 4, kind=SlotKind.PICK_FACE, item_id=milk.id, max_qty=30)

    assert suggest(session, stock_id=arrived.id, quantity=20) == face


def test_a_pick_face_the_units_would_take_over_its_max_gives_way_to_reserve_holding_the_item(
    session, arrived, slot_at, make_stock, milk
):
    face = slot_at(2, 5, kind=SlotKind.PICK_FACE, item_id=milk.id, max_qty=20)
    make_stock(item=milk, slot=face, qty=5)
    holding = slot_at(9, 9)
    make_stock(item=milk, slot=holding, qty=3)
    slot_at(2, 6)  # empty and nearer, but consolidation comes first

    assert suggest(session, stock_id=arrived.id, quantity=16) == holding


def test_reserve_slots_holding_the_item_are_taken_nearest_the_pick_face_first(
    session, arrived, slot_at, make_stock, milk
):
    slot_at(5, 10, kind=SlotKind.PICK_FACE, item_id=milk.id, max_qty=1)
    far, near = slot_at(1, 1), slot_at(5, 12)
    make_stock(item=milk, slot=far, qty=1)
    make_stock(item=milk, slot=near, qty=1)

    assert suggest(session, stock_id=arrived.id, quantity=5) == near


def test_another_items_pick_face_is_never_suggested(
    session, arrived, slot_at, make_stock, make_item
):
    other = make_item("OTHER")
    face = slot_at(1, 2, kind=SlotKind.PICK_FACE, item_id=other.id, max_qty=100)
    make_stock(item=arrived.item, slot=face, qty=1)  # even if some MILK ended up there
    empty = slot_at(3, 3)

    assert suggest(session, stock_id=arrived.id, quantity=5) == empty


@pytest.mark.parametrize(
    "defect",
    ["locked", "needs_count", "wrong_temperature", "too_small", "too_heavy", "other_site"],
)
def test_consolidation_skips_slots_that_cannot_take_the_units(
    session, arrived, slot_at, make_stock, milk, chilled, make_site, make_zone, make_slot, defect
):
    fields = {
        "locked": {"locked": True, "lock_reason": "broken beam"},
        "needs_count": {"needs_count": True},
        "too_small": {"volume_cm3": 480 * 5},  # holds 1, 5 more do not fit
        "too_heavy": {"max_weight_g": 250 * 4},
    }.get(defect, {})
    if defect == "other_site":
        holding = make_slot(zone=make_zone(site=make_site()), kind=SlotKind.RESERVE)
    else:
        zone = chilled if defect == "wrong_temperature" else None
        holding = slot_at(2, 2, zone=zone, **fields)
    make_stock(item=milk, slot=holding, qty=1)
    empty = slot_at(8, 8)

    assert suggest(session, stock_id=arrived.id, quantity=5) == empty


def test_a_reserve_slot_holding_the_same_lot_with_another_expiry_is_skipped(
    session, dock, slot_at, make_stock, make_item
):
    yoghurt = make_item("YOG", expiry_tracked=True)
    arrived = make_stock(item=yoghurt, slot=dock, qty=5, lot="L1", expiry=LATER)
    clash = slot_at(1, 1)
    make_stock(item=yoghurt, slot=clash, qty=1, lot="L1", expiry=LATER + dt.timedelta(days=2))
    same = slot_at(9, 9)
    make_stock(item=yoghurt, slot=same, qty=1, lot="L2", expiry=LATER)

    assert suggest(session, stock_id=arrived.id, quantity=5) == same


# --- the suggestion: otherwise the nearest empty reserve slot ----------------------------------


def test_the_empty_reserve_slot_nearest_the_items_pick_face_is_suggested(
    session, arrived, slot_at, make_stock, milk
):
    face = slot_at(5, 10, kind=SlotKind.PICK_FACE, item_id=milk.id, max_qty=10)
    make_stock(item=milk, slot=face, qty=10)
    slot_at(1, 1)  # nearest the depot
    near_face = slot_at(6, 11)  # 3.0 + 1.3 m from the face
    slot_at(4, 7)  # 3.0 + 3.9 m

    assert suggest(session, stock_id=arrived.id, quantity=5) == near_face


def test_without_a_pick_face_the_empty_slot_nearest_the_depot_is_suggested(
    session, arrived, slot_at
):
    slot_at(3, 1)  # 6.0 + 1.3 m from aisle 1, bay 0
    nearest = slot_at(1, 4)  # 5.2 m
    slot_at(2, 2)  # 3.0 + 2.6 m

    assert suggest(session, stock_id=arrived.id, quantity=5) == nearest


def test_the_sites_aisle_pitch_decides_what_is_nearest(session, site, arrived, slot_at):
    across = slot_at(2, 1)  # one aisle over: 3.0 + 1.3 m
    along = slot_at(1, 4)  # four bays down the depot's aisle: 5.2 m
    assert suggest(session, stock_id=arrived.id, quantity=5) == across

    site.layout = {"aisle_pitch_m": 5.0, "bay_width_m": 1.3}
    session.flush()

    assert suggest(session, stock_id=arrived.id, quantity=5) == along  # 5.0 + 1.3 m


def test_default_geometry_is_used_when_the_site_has_no_layout(session, site, arrived, slot_at):
    site.layout = None
    session.flush()
    slot_at(2, 1)  # 3.0 + 1.3 m
    along = slot_at(1, 3)  # 3.9 m

    assert suggest(session, stock_id=arrived.id, quantity=5) == along


def test_equally_near_slots_go_to_the_lowest_slot_id(session, arrived, slot_at, make_stock, milk):
    face = slot_at(5, 10, kind=SlotKind.PICK_FACE, item_id=milk.id, max_qty=10)
    make_stock(item=milk, slot=face, qty=10)
    first = slot_at(5, 12)
    slot_at(5, 8)

    assert suggest(session, stock_id=arrived.id, quantity=5) == first


@pytest.mark.parametrize(
    "defect",
    [
        "occupied",
        "locked",
        "needs_count",
        "wrong_temperature",
        "too_small",
        "too_heavy",
        "pick_face",
        "dock",
    ],
)
def test_slots_that_are_not_empty_or_cannot_take_the_units_are_not_suggested(
    session, arrived, slot_at, make_stock, make_item, make_slot, ambient, chilled, defect
):
    if defect == "dock":
        make_slot(zone=ambient, kind=SlotKind.DOCK, aisle=50, bay=2)
    elif defect == "pick_face":
        slot_at(1, 1, kind=SlotKind.PICK_FACE)
    elif defect == "occupied":
        make_stock(item=make_item("OTHER"), slot=slot_at(1, 1), qty=1)
    else:
        fields = {
            "locked": {"locked": True, "lock_reason": "broken beam"},
            "needs_count": {"needs_count": True},
            "too_small": {"volume_cm3": 480 * 4},
            "too_heavy": {"max_weight_g": 250 * 4},
        }.get(defect, {})
        slot_at(1, 1, zone=chilled if defect == "wrong_temperature" else None, **fields)

    assert suggest(session, stock_id=arrived.id, quantity=5) is None


def test_a_slot_that_once_held_stock_but_is_now_empty_counts_as_empty(
    session, arrived, slot_at, make_stock, make_item
):
    emptied = slot_at(1, 1)
    row = make_stock(item=make_item("OTHER"), slot=emptied, qty=1)
    adjust(session, slot_id=emptied.id, item_id=row.item_id, quantity=-1, reason="lost")

    assert suggest(session, stock_id=arrived.id, quantity=5) == emptied


def test_a_slot_an_open_task_is_filling_is_no_longer_empty(
    session, arrived, dock, slot_at, milk, make_stock, make_item
):
    first, second = slot_at(1, 1), slot_at(1, 2)
    task = create_putaway_task(session, from_slot_id=dock.id, item_id=milk.id, quantity=10)
    assert task.to_slot_id == first.id
    bread = make_stock(item=make_item("BREAD"), slot=dock, qty=5)

    assert suggest(session, stock_id=bread.id, quantity=5) == second


def test_the_next_pallet_of_the_item_joins_an_open_tasks_slot_while_it_has_room(
    session, arrived, dock, slot_at, milk
):
    first = slot_at(1, 1, volume_cm3=480 * 15)
    second = slot_at(1, 2)
    task = create_putaway_task(session, from_slot_id=dock.id, item_id=milk.id, quantity=10)
    assert task.to_slot_id == first.id

    assert suggest(session, stock_id=arrived.id, quantity=5) == first
    assert suggest(session, stock_id=arrived.id, quantity=6) == second


def test_units_an_open_task_brings_count_against_the_pick_faces_max(
    session, dock, arrived, slot_at, milk
):
    face = slot_at(1, 1, kind=SlotKind.PICK_FACE, item_id=milk.id, max_qty=15)
    empty = slot_at(2, 2)
    create_putaway_task(session, from_slot_id=dock.id, item_id=milk.id, quantity=10)

    assert suggest(session, stock_id=arrived.id, quantity=6) == empty
    assert suggest(session, stock_id=arrived.id, quantity=5) == face


def test_the_source_slot_itself_is_never_suggested(session, slot_at, make_stock, milk):
    reserve = slot_at(1, 1)
    row = make_stock(item=milk, slot=reserve, qty=5)

    assert suggest(session, stock_id=row.id, quantity=5) is None


def test_units_can_be_named_by_slot_item_and_lot(session, dock, slot_at, make_stock, make_item):
    yoghurt = make_item("YOG", lot_tracked=True)
    make_stock(item=yoghurt, slot=dock, qty=5, lot="L1")
    empty = slot_at(1, 1)

    assert suggest(session, slot_id=dock.id, item_id=yoghurt.id, lot="L1", quantity=5) == empty


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "stock_id"),
        ({"slot_id": "dock"}, "stock_id"),
        ({"stock_id": "row", "slot_id": "dock"}, "stock_id"),
        ({"stock_id": 999_999}, "stock_id"),
        ({"slot_id": 999_999, "item_id": "milk"}, "slot_id"),
        ({"slot_id": "dock", "item_id": 999_999}, "item_id"),
        ({"stock_id": "row", "quantity": 0}, "quantity"),
    ],
    ids=["nothing", "slot-only", "both", "unknown-row", "unknown-slot", "unknown-item", "zero"],
)
def test_asking_for_a_suggestion_badly_is_a_rule_violation(
    session, arrived, dock, milk, arguments, field
):
    names = {"dock": dock.id, "milk": milk.id, "row": arrived.id}
    resolved = {key: names.get(value, value) for key, value in arguments.items()}

    with pytest.raises(RuleViolation) as err:
        suggest(session, **{"quantity": 5, **resolved})
    assert err.value.field == field


# --- tasks -------------------------------------------------------------------------------------


def test_a_putaway_task_goes_from_the_dock_to_the_suggested_slot(
    session, arrived, dock, slot_at, milk, site
):
    target = slot_at(1, 1)

    task = create_putaway_task(
        session, from_slot_id=dock.id, item_id=milk.id, quantity=12, reference="receipt:1"
    )

    assert (task.kind, task.status, task.site_id) == (TaskKind.PUTAWAY, TaskStatus.OPEN, site.id)
    assert (task.from_slot_id, task.to_slot_id, task.done_slot_id) == (dock.id, target.id, None)
    assert (task.item_id, task.lot, task.quantity, task.done_qty) == (milk.id, "", 12, 0)
    assert task.reference == "receipt:1"
    assert _units(session, dock, milk) == 20  # nothing moves until the scan


def test_when_no_slot_fits_creating_the_task_is_a_conflict(session, arrived, dock, slot_at, milk):
    slot_at(1, 1, volume_cm3=480 * 5)

    with nothing_changes(session), pytest.raises(NoSlotFits) as err:
        create_putaway_task(session, from_slot_id=dock.id, item_id=milk.id, quantity=6)
    assert isinstance(err.value, Conflict)
    assert "no slot fits" in err.value.message


def test_units_already_in_an_open_task_cannot_be_tasked_twice(
    session, arrived, dock, slot_at, milk
):
    slot_at(1, 1)
    slot_at(1, 2)
    create_putaway_task(session, from_slot_id=dock.id, item_id=milk.id, quantity=15)

    with nothing_changes(session), pytest.raises(InsufficientStock) as err:
        create_putaway_task(session, from_slot_id=dock.id, item_id=milk.id, quantity=6)
    assert err.value.available == 5


def test_a_task_for_units_the_slot_does_not_hold_is_a_conflict(session, dock, slot_at, make_item):
    slot_at(1, 1)
    absent = make_item("ABSENT")

    with nothing_changes(session), pytest.raises(InsufficientStock):
        create_putaway_task(session, from_slot_id=dock.id, item_id=absent.id, quantity=1)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"from_slot_id": 999_999}, "from_slot_id"),
        ({"item_id": 999_999}, "item_id"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": -3}, "quantity"),
    ],
    ids=["unknown-slot", "unknown-item", "zero", "negative"],
)
def test_a_bad_task_request_is_a_rule_violation_naming_the_field(
    session, arrived, dock, slot_at, milk, arguments, field
):
    slot_at(1, 1)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        create_putaway_task(
            session, **{"from_slot_id": dock.id, "item_id": milk.id, "quantity": 5, **arguments}
        )
    assert err.value.field == field


# --- confirming by scanning the slot -----------------------------------------------------------


@pytest.fixture
def task(session, arrived, dock, slot_at, milk):
    """A task to put 12 units of MILK away into S-01-01-3."""
    slot_at(1, 1)
    return create_putaway_task(session, from_slot_id=dock.id, item_id=milk.id, quantity=12)


def test_scanning_the_suggested_slot_moves_the_units_and_completes_the_task(
    session, task, dock, milk, user
):
    target = task.to_slot

    done = confirm_putaway(
        session, task.id, to_slot_id=target.id, user_id=user.id, idempotency_key="scan-1"
    )

    assert (done.status, done.done_qty, done.done_slot_id) == (TaskStatus.DONE, 12, target.id)
    assert (done.completed_by, done.completed_at is not None) == (user.id, True)
    assert (_units(session, dock, milk), _units(session, target, milk)) == (8, 12)
    taken, put = session.scalars(
        select(Movement).where(Movement.reference == f"task:{task.id}").order_by(Movement.quantity)
    ).all()
    assert (taken.kind, taken.quantity, put.kind, put.quantity) == (
        MovementKind.PUTAWAY,
        -12,
        MovementKind.PUTAWAY,
        12,
    )
    assert taken.operation_id == put.operation_id
    assert (put.user_id, put.idempotency_key) == (user.id, "scan-1")
    assert check.verify(session).ok


def test_another_valid_slot_is_accepted_and_recorded_as_where_the_units_went(
    session, task, slot_at, milk
):
    other = slot_at(7, 7)

    done = confirm_putaway(session, task.id, to_slot_id=other.id)

    assert (done.status, done.to_slot_id, done.done_slot_id) == (
        TaskStatus.DONE,
        task.to_slot_id,
        other.id,
    )
    assert _units(session, other, milk) == 12
    assert check.verify(session).ok


def test_a_partial_confirmation_leaves_the_task_in_progress_until_every_unit_is_away(
    session, task, slot_at, dock, milk
):
    other = slot_at(7, 7)

    first = confirm_putaway(session, task.id, to_slot_id=task.to_slot_id, quantity=5)
    assert (first.status, first.done_qty, first.completed_at) == (TaskStatus.IN_PROGRESS, 5, None)
    assert check.verify(session).ok

    rest = confirm_putaway(session, task.id, to_slot_id=other.id)
    assert (rest.status, rest.done_qty, rest.done_slot_id) == (TaskStatus.DONE, 12, other.id)
    assert (_units(session, task.to_slot, milk), _units(session, other, milk)) == (5, 7)
    assert _units(session, dock, milk) == 8
    assert check.verify(session).ok


def test_lot_and_expiry_travel_with_the_units(session, dock, slot_at, make_stock, make_item):
    yoghurt = make_item("YOG", expiry_tracked=True)
    make_stock(item=yoghurt, slot=dock, qty=4, lot="L7", expiry=LATER)
    target = slot_at(1, 1)
    task = create_putaway_task(
        session, from_slot_id=dock.id, item_id=yoghurt.id, lot="L7", quantity=4
    )

    confirm_putaway(session, task.id, to_slot_id=target.id)

    row = session.scalars(select(Stock).where(Stock.slot_id == target.id)).one()
    assert (row.lot, row.expiry, row.on_hand) == ("L7", LATER, 4)
    assert check.verify(session).ok


def test_confirming_more_than_remains_is_a_rule_violation(session, task):
    confirm_putaway(session, task.id, to_slot_id=task.to_slot_id, quantity=10)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        confirm_putaway(session, task.id, to_slot_id=task.to_slot_id, quantity=3)
    assert err.value.field == "quantity"


@pytest.mark.parametrize("quantity", [0, -1, "2"])
def test_confirming_a_quantity_that_is_not_a_positive_whole_number_is_refused(
    session, task, quantity
):
    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        confirm_putaway(session, task.id, to_slot_id=task.to_slot_id, quantity=quantity)
    assert err.value.field == "quantity"


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.CANCELLED])
def test_confirming_a_done_or_cancelled_task_is_a_conflict(session, task, status):
    if status is TaskStatus.DONE:
        confirm_putaway(session, task.id, to_slot_id=task.to_slot_id)
    else:
        task.status = status
        session.flush()

    with nothing_changes(session), pytest.raises(Conflict) as err:
        confirm_putaway(session, task.id, to_slot_id=task.to_slot_id, quantity=1)
    assert err.value.field == "task_id"


def test_confirming_an_unknown_task_or_one_that_is_not_a_putaway_is_not_found(
    session, task, dock, milk
):
    other = Task(
        site_id=task.site_id,
        kind=TaskKind.MOVE,
        item_id=milk.id,
        quantity=1,
        from_slot_id=dock.id,
    )
    session.add(other)
    session.flush()

    for task_id in (999_999, other.id):
        with nothing_changes(session), pytest.raises(NotFound):
            confirm_putaway(session, task_id, to_slot_id=task.to_slot_id)


@pytest.mark.parametrize(
    ("defect", "error"),
    [
        ("wrong_temperature", WrongTemperature),
        ("another_items_pick_face", RuleViolation),
        ("dock", RuleViolation),
        ("other_site", RuleViolation),
        ("unknown", RuleViolation),
        ("source", RuleViolation),
        ("locked", SlotLocked),
        ("full", OverCapacity),
    ],
)
def test_an_invalid_destination_is_refused_and_nothing_moves(
    session, task, slot_at, make_slot, make_item, make_site, make_zone, chilled, dock, defect, error
):
    if defect == "unknown":
        slot_id = 999_999
    elif defect == "source":
        slot_id = dock.id
    else:
        slot = {
            "wrong_temperature": lambda: slot_at(7, 7, zone=chilled),
            "another_items_pick_face": lambda: slot_at(
                7, 7, kind=SlotKind.PICK_FACE, item_id=make_item("OTHER").id
            ),
            "dock": lambda: make_slot(zone=dock.zone, kind=SlotKind.DOCK, aisle=50, bay=9),
            "other_site": lambda: make_slot(
                zone=make_zone(site=make_site()), kind=SlotKind.RESERVE
            ),
            "locked": lambda: slot_at(7, 7, locked=True, lock_reason="broken beam"),
            "full": lambda: slot_at(7, 7, volume_cm3=480 * 11),
        }[defect]()
        slot_id = slot.id

    with nothing_changes(session), pytest.raises(error) as err:
        confirm_putaway(session, task.id, to_slot_id=slot_id)
    assert err.value.field in ("to_slot_id", "quantity")
    assert task.status is TaskStatus.OPEN


# --- at the same time, on PostgreSQL -----------------------------------------------------------


@pytest.mark.postgres
def test_units_on_the_dock_are_tasked_once_even_when_asked_at_once(pg_sessions):
    with pg_sessions.begin() as s:
        site = Site(code="FW", name="FW", kind=SiteKind.FRONT_WAREHOUSE, latitude=52.0,
                    longitude=4.9, timezone="Europe/Amsterdam")  # fmt: skip
        s.add(site)
        s.flush()
        zone = Zone(site_id=site.id, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
        s.add(zone)
        s.flush()
        dock = Slot(site_id=site.id, zone_id=zone.id, barcode="DOCK", kind=SlotKind.DOCK)
        reserves = [
            Slot(
                site_id=site.id,
                zone_id=zone.id,
                barcode=f"R-{bay}",
                kind=SlotKind.RESERVE,
                aisle=1,
                bay=bay,
                side="L",
                level=3,
            )
            for bay in range(1, 5)
        ]
        item = Item(sku="MILK", name="Milk", length_mm=100, width_mm=80, height_mm=60,
                    weight_g=250, temperature=Temperature.AMBIENT)  # fmt: skip
        s.add_all([dock, item, *reserves])
        s.flush()
        row = ensure_row(s, slot_id=dock.id, item_id=item.id, lot="", expiry=None)
        post(s, row, 20, MovementKind.RECEIPT, operation_id=new_operation_id())
        dock_id, item_id = dock.id, item.id

    clerks = 4
    together = threading.Barrier(clerks, timeout=10)
    created: list[int] = []
    refused: list[BaseException] = []

    def ask() -> None:
        try:
            together.wait()
            with pg_sessions.begin() as s:
                task = create_putaway_task(s, from_slot_id=dock_id, item_id=item_id, quantity=15)
                created.append(task.id)
        except BaseException as exc:
            refused.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(clerks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(created) == 1
    assert len(refused) == clerks - 1
    assert all(isinstance(exc, InsufficientStock) for exc in refused), refused

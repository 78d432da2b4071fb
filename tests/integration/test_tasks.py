"""Move-type tasks worked by scans (wms.tasks): the right slot, item and destination, or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integration.waves_fixtures import Warehouse, build_warehouse
from wms import tasks
from wms.check import verify
from wms.errors import Conflict, RuleViolation
from wms.models import ItemBarcode, Movement, Stock, Task, TaskKind, TaskStatus, User


@pytest.fixture
def house(session: Session) -> Warehouse:
    return build_warehouse(session)


@pytest.fixture
def users(session: Session) -> tuple[User, User]:
    made = [User(username=f"t-{n}-{id(session)}", display_name=n, role="associate") for n in "ab"]
    session.add_all(made)
    session.flush()
    return made[0], made[1]


def replenishment(session: Session, house: Warehouse, qty: int = 6):
    item = house.stocked(qty=20, aisle=3, bay=9)  # reserve side of the story
    session.add(ItemBarcode(item_id=item.id, barcode=f"ITEM-{item.id:06d}", quantity=1))
    task = Task(
        site_id=house.site.id,
        kind=TaskKind.REPLENISHMENT,
        item_id=item.id,
        quantity=qty,
        from_slot_id=house.slot(3, 9).id,
        to_slot_id=house.slot(1, 1).id,
    )
    session.add(task)
    session.flush()
    return item, task


def on_hand(session: Session, slot) -> int:
    session.expire_all()
    return sum(session.scalars(select(Stock.on_hand).where(Stock.slot_id == slot.id)))


def test_a_replenishment_is_done_by_scanning_source_item_quantity_and_pick_face(
    session, house, users
):
    item, task = replenishment(session, house)
    source, face = house.slot(3, 9), house.slot(1, 1)

    assert [t.id for t in tasks.tasks_for(session, site_id=house.site.id, user_id=users[0].id)] == [
        task.id
    ]
    tasks.claim(session, task.id, user_id=users[0].id)
    tasks.complete(
        session, task.id, from_slot=source.barcode, item=f"ITEM-{item.id:06d}", quantity=4,
        to_slot=face.barcode, user_id=users[0].id,
    )  # fmt: skip
    assert task.status is TaskStatus.IN_PROGRESS and task.done_qty == 4
    tasks.complete(
        session, task.id, from_slot=source.barcode, item=f"ITEM-{item.id:06d}", quantity=2,
        to_slot=face.barcode, user_id=users[0].id,
    )  # fmt: skip

    assert task.status is TaskStatus.DONE
    assert (on_hand(session, source), on_hand(session, face)) == (14, 6)
    assert verify(session).ok


@pytest.mark.parametrize(
    ("scans", "field", "words"),
    [
        ({"from_slot": "other"}, "from_slot", "expected"),
        ({"item": "wrong"}, "item", "expected"),
        ({"to_slot": "elsewhere"}, "to_slot", "expected"),
        ({"quantity": 7}, "quantity", "remain"),
    ],
)
def test_a_wrong_scan_says_what_was_expected_and_moves_nothing(
    session, house, users, scans, field, words
):
    item, task = replenishment(session, house)
    other_item = house.stocked(aisle=2, bay=2)
    session.add(ItemBarcode(item_id=other_item.id, barcode=f"ITEM-{other_item.id:06d}", quantity=1))
    session.flush()
    good = {
        "from_slot": house.slot(3, 9).barcode,
        "item": f"ITEM-{item.id:06d}",
        "quantity": 2,
        "to_slot": house.slot(1, 1).barcode,
    }
    wrong = {
        "from_slot": house.slot(2, 2).barcode,
        "item": f"ITEM-{other_item.id:06d}",
        "to_slot": house.slot(1, 2).barcode,
        "quantity": 7,
    }
    movements = len(session.scalars(select(Movement)).all())

    with pytest.raises(RuleViolation) as refused:
        tasks.complete(session, task.id, user_id=users[0].id, **{**good, field: wrong[field]})

    assert refused.value.field == field and words in str(refused.value)
    if isinstance(refused.value, tasks.WrongScan):
        assert refused.value.expected != refused.value.scanned
    assert len(session.scalars(select(Movement)).all()) == movements
    assert task.done_qty == 0


def test_someone_elses_task_is_neither_listed_nor_taken(session, house, users):
    _, task = replenishment(session, house)
    tasks.claim(session, task.id, user_id=users[0].id)

    assert tasks.tasks_for(session, site_id=house.site.id, user_id=users[1].id) == []
    with pytest.raises(Conflict):
        tasks.claim(session, task.id, user_id=users[1].id)

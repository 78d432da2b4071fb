"""Inbound over HTTP: receipts, putaway tasks, blind cycle counts and CSV imports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from wms.imports import ImportRejected
from wms.models import (
    Item,
    Movement,
    Receipt,
    Role,
    Slot,
    SlotKind,
    Stock,
    Task,
    Temperature,
    TokenRole,
)
from wms.putaway import NoSlotFits
from wms.stock import InsufficientStock, OverCapacity, SlotLocked, WrongTemperature


def fresh(session, model: Any, id_: int) -> Any:
    session.expire_all()
    return session.get(model, id_)


def units_in(session, slot: Slot, item: Item, lot: str = "") -> int | None:
    session.expire_all()
    row = session.scalars(
        select(Stock).where(Stock.slot_id == slot.id, Stock.item_id == item.id, Stock.lot == lot)
    ).one_or_none()
    return None if row is None else row.on_hand


def kinds_of_movements(session) -> list[str]:
    session.expire_all()
    return [m.kind.value for m in session.scalars(select(Movement).order_by(Movement.id))]


@pytest.fixture
def dock(make_slot) -> Slot:
    return make_slot("DOCK-1", kind=SlotKind.DOCK, aisle=90, bay=1)


@pytest.fixture
def milk(make_item) -> Item:
    return make_item("MILK-1L")


@pytest.fixture
def bread(make_item) -> Item:
    return make_item("BREAD")


# --- receipts ---------------------------------------------------------------------------------


@pytest.fixture
def asn(api_client, site, dock, milk, bread) -> dict[str, Any]:
    """An open ASN receipt expecting 10 MILK-1L and 5 BREAD."""
    response = api_client.post(
        "/api/v1/receipts",
        {
            "site_id": site.id,
            "dock_slot_id": dock.id,
            "kind": "asn",
            "supplier": "Dairy Co",
            "lines": [
                {"item_id": milk.id, "quantity": 10},
                {"item_id": bread.id, "quantity": 5},
            ],
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


@pytest.fixture
def blind(api_client, site, dock) -> dict[str, Any]:
    response = api_client.post(
        "/api/v1/receipts", {"site_id": site.id, "dock_slot_id": dock.id, "kind": "blind"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def test_an_asn_receipt_opens_with_its_expected_lines(asn, site, dock, milk, bread):
    assert asn["number"].startswith("RC")
    assert (asn["kind"], asn["status"], asn["site_id"]) == ("asn", "open", site.id)
    assert asn["dock_slot_id"] == dock.id
    lines = [
        (ln["line_no"], ln["item_id"], ln["expected_qty"], ln["received_qty"], ln["variance"])
        for ln in asn["lines"]
    ]
    assert lines == [(1, milk.id, 10, 0, -10), (2, bread.id, 5, 0, -5)]


def test_over_and_under_receipt_show_as_variance_per_line(
    api_client, session, asn, dock, milk, bread
):
    receipt_id = asn["id"]
    for item, quantity in ((milk, 8), (milk, 4), (bread, 3)):
        response = api_client.post(
            f"/api/v1/receipts/{receipt_id}/lines", {"item_id": item.id, "quantity": quantity}
        )
        assert response.status_code == 201, response.get_data(as_text=True)

    read = api_client.get(f"/api/v1/receipts/{receipt_id}")
    closed = api_client.post(f"/api/v1/receipts/{receipt_id}/close")

    assert closed.status_code == 200
    assert closed.json["status"] == "closed"
    assert closed.json["closed_at"] is not None
    for answer in (read.json, closed.json):
        by_item = {ln["item_id"]: ln for ln in answer["lines"]}
        assert (by_item[milk.id]["received_qty"], by_item[milk.id]["variance"]) == (12, 2)
        assert (by_item[bread.id]["received_qty"], by_item[bread.id]["variance"]) == (3, -2)
    assert (units_in(session, dock, milk), units_in(session, dock, bread)) == (12, 3)
    assert kinds_of_movements(session) == ["receipt"] * 3


def test_a_received_scan_answers_its_line(api_client, asn, milk):
    response = api_client.post(
        f"/api/v1/receipts/{asn['id']}/lines", {"item_id": milk.id, "quantity": 4}
    )

    assert response.status_code == 201
    assert (response.json["line_no"], response.json["item_id"]) == (1, milk.id)
    assert (response.json["expected_qty"], response.json["received_qty"]) == (10, 4)
    assert response.json["variance"] == -6


def test_an_item_the_asn_did_not_list_is_all_over_receipt(api_client, make_item, asn):
    stray = make_item("STRAY")

    scanned = api_client.post(
        f"/api/v1/receipts/{asn['id']}/lines", {"item_id": stray.id, "quantity": 3}
    )
    closed = api_client.post(f"/api/v1/receipts/{asn['id']}/close")

    assert (scanned.status_code, closed.status_code) == (201, 200)
    assert (scanned.json["expected_qty"], scanned.json["variance"]) == (None, 3)
    (line,) = [ln for ln in closed.json["lines"] if ln["item_id"] == stray.id]
    assert (line["expected_qty"], line["received_qty"], line["variance"]) == (None, 3, 3)


def test_a_blind_receipt_gets_a_line_per_item_as_units_arrive_without_variance(
    api_client, session, blind, dock, milk, bread
):
    assert blind["lines"] == []
    for item, quantity in ((milk, 6), (bread, 2), (milk, 1)):
        api_client.post(
            f"/api/v1/receipts/{blind['id']}/lines", {"item_id": item.id, "quantity": quantity}
        )

    closed = api_client.post(f"/api/v1/receipts/{blind['id']}/close")

    assert closed.status_code == 200, closed.get_data(as_text=True)
    assert [
        (ln["item_id"], ln["expected_qty"], ln["received_qty"], ln["variance"])
        for ln in closed.json["lines"]
    ] == [(milk.id, None, 7, None), (bread.id, None, 2, None)]
    assert units_in(session, dock, milk) == 7


@pytest.mark.parametrize("kind", ["blind", "asn"])
def test_a_receipt_with_a_line_nobody_announced_can_be_read(
    api_client, make_item, blind, asn, kind
):
    receipt = {"blind": blind, "asn": asn}[kind]
    stray = make_item("STRAY")
    api_client.post(f"/api/v1/receipts/{receipt['id']}/lines", {"item_id": stray.id, "quantity": 3})

    read = api_client.get(f"/api/v1/receipts/{receipt['id']}")

    assert read.status_code == 200, read.get_data(as_text=True)
    (line,) = [ln for ln in read.json["lines"] if ln["item_id"] == stray.id]
    assert line["variance"] == (3 if kind == "asn" else None)


def test_receiving_into_a_closed_receipt_is_a_409_and_changes_nothing(
    api_client, problem, ledger, asn, milk
):
    api_client.post(f"/api/v1/receipts/{asn['id']}/close")
    before = ledger()

    response = api_client.post(
        f"/api/v1/receipts/{asn['id']}/lines", {"item_id": milk.id, "quantity": 1}
    )

    assert "closed" in problem(response, 409, field="receipt_id")["detail"]
    assert ledger() == before


def test_closing_a_receipt_twice_is_a_409(api_client, problem, asn):
    api_client.post(f"/api/v1/receipts/{asn['id']}/close")

    problem(api_client.post(f"/api/v1/receipts/{asn['id']}/close"), 409)


def test_a_lot_tracked_item_received_without_a_lot_is_a_422_naming_lot(
    api_client, problem, ledger, make_item, blind
):
    cheese = make_item("CHEESE", lot_tracked=True)
    before = ledger()

    response = api_client.post(
        f"/api/v1/receipts/{blind['id']}/lines", {"item_id": cheese.id, "quantity": 2}
    )

    assert "lot" in problem(response, 422, field="lot")["detail"]
    assert ledger() == before


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"lot": "L1"}, "expiry"),
        ({"lot": "L1", "expiry": "2020-01-01"}, "expiry"),
        ({"lot": "L1", "expiry": "31-12-2030"}, "expiry"),
    ],
    ids=["no-expiry", "expired", "not-a-date"],
)
def test_a_fresh_item_needs_a_future_expiry(
    api_client, problem, ledger, make_item, blind, extra, field
):
    yoghurt = make_item("YOG", expiry_tracked=True, temperature=Temperature.CHILLED)
    before = ledger()

    response = api_client.post(
        f"/api/v1/receipts/{blind['id']}/lines", {"item_id": yoghurt.id, "quantity": 2, **extra}
    )

    problem(response, 422, field=field)
    assert ledger() == before


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "3", None])
def test_receiving_no_whole_units_is_a_422_naming_quantity(
    api_client, problem, ledger, blind, milk, quantity
):
    before = ledger()

    response = api_client.post(
        f"/api/v1/receipts/{blind['id']}/lines", {"item_id": milk.id, "quantity": quantity}
    )

    problem(response, 422, field="quantity")
    assert ledger() == before


def test_receiving_an_unknown_item_is_a_422_naming_item_id(api_client, problem, ledger, blind):
    before = ledger()

    response = api_client.post(
        f"/api/v1/receipts/{blind['id']}/lines", {"item_id": 987654, "quantity": 1}
    )

    problem(response, 422, field="item_id")
    assert ledger() == before


def test_receiving_on_an_unknown_receipt_is_a_404(api_client, problem, milk):
    problem(
        api_client.post("/api/v1/receipts/987654/lines", {"item_id": milk.id, "quantity": 1}), 404
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "asn", "lines": []}, "lines"),
        ({"kind": "blind", "lines": "MILK"}, "lines"),
        ({"kind": "drone"}, "kind"),
        ({"dock_slot_id": 987654}, "dock_slot_id"),
        ({"lines": [{"item_id": 987654, "quantity": 1}], "kind": "asn"}, "lines[0].item_id"),
        ({"lines": [{"item_id": "MILK", "quantity": 1}], "kind": "asn"}, "lines.0.item_id"),
        ({"status": "closed"}, "status"),
        ({"id": 1}, "id"),
    ],
    ids=[
        "asn-without-lines",
        "lines-not-a-list",
        "kind",
        "dock",
        "unknown-line-item",
        "line-item-not-an-id",
        "status",
        "id",
    ],
)
def test_a_bad_receipt_is_a_422_naming_the_field(
    api_client, problem, session, site, dock, change, field
):
    body = {"site_id": site.id, "dock_slot_id": dock.id, "kind": "blind", **change}

    problem(api_client.post("/api/v1/receipts", body), 422, field=field)
    session.expire_all()
    assert session.scalars(select(Receipt)).all() == []


def test_a_receipt_must_land_on_a_dock_or_staging_slot(api_client, problem, make_slot, site):
    rack = make_slot(kind=SlotKind.RESERVE)

    response = api_client.post(
        "/api/v1/receipts", {"site_id": site.id, "dock_slot_id": rack.id, "kind": "blind"}
    )

    problem(response, 422, field="dock_slot_id")


def test_a_receipt_for_an_unknown_site_is_a_422_naming_site_id(api_client, problem, dock):
    response = api_client.post(
        "/api/v1/receipts", {"site_id": 987654, "dock_slot_id": dock.id, "kind": "blind"}
    )

    problem(response, 422, field="site_id")


def test_a_receipt_at_another_site_is_a_403(
    api_client, make_api_token, make_site, problem, site, dock, blind, milk, ledger
):
    stranger = api_client.as_token(make_api_token(sites=[make_site()]))
    before = ledger()

    opened = stranger.post(
        "/api/v1/receipts", {"site_id": site.id, "dock_slot_id": dock.id, "kind": "blind"}
    )
    received = stranger.post(
        f"/api/v1/receipts/{blind['id']}/lines", {"item_id": milk.id, "quantity": 1}
    )

    problem(opened, 403)
    problem(received, 403)
    assert ledger() == before


def test_cancelling_a_receipt_is_for_supervisors(api_client, signed_in, problem, asn):
    refused = signed_in(Role.ASSOCIATE).post(f"/api/v1/receipts/{asn['id']}/cancel")
    cancelled = api_client.post(f"/api/v1/receipts/{asn['id']}/cancel")

    problem(refused, 403)
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")


# --- putaway ----------------------------------------------------------------------------------


@pytest.fixture
def arrived(make_stock, dock, milk) -> Stock:
    """Twelve MILK-1L on the dock, waiting to be put away."""
    return make_stock(item=milk, slot=dock, qty=12)


@pytest.fixture
def near(make_slot) -> Slot:
    """The empty ambient reserve slot nearest the depot."""
    return make_slot("R-01-01", kind=SlotKind.RESERVE, aisle=1, bay=1)


@pytest.fixture
def far(make_slot) -> Slot:
    return make_slot("R-05-09", kind=SlotKind.RESERVE, aisle=5, bay=9)


@pytest.fixture
def task(api_client, arrived, near, far) -> dict[str, Any]:
    response = api_client.post(
        "/api/v1/putaway-tasks",
        {
            "from_slot_id": arrived.slot_id,
            "item_id": arrived.item_id,
            "quantity": 12,
            "reference": "RC1",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def test_a_putaway_task_suggests_the_nearest_empty_slot(task, arrived, near):
    assert (task["kind"], task["status"]) == ("putaway", "open")
    assert (task["from_slot_id"], task["to_slot_id"]) == (arrived.slot_id, near.id)
    assert (task["quantity"], task["done_qty"], task["done_slot_id"]) == (12, 0, None)


def test_confirming_at_the_suggested_slot_puts_the_units_there(
    api_client, session, task, dock, near, milk
):
    response = api_client.post(
        f"/api/v1/putaway-tasks/{task['id']}/confirm", {"to_slot_id": near.id}
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.json["status"], response.json["done_qty"]) == ("done", 12)
    assert response.json["done_slot_id"] == response.json["to_slot_id"] == near.id
    assert response.json["completed_at"] is not None
    assert (units_in(session, dock, milk), units_in(session, near, milk)) == (0, 12)
    assert kinds_of_movements(session)[-2:] == ["putaway", "putaway"]


def test_another_valid_slot_is_accepted_and_recorded_as_where_the_units_went(
    api_client, session, task, near, far, milk
):
    response = api_client.post(
        f"/api/v1/putaway-tasks/{task['id']}/confirm", {"to_slot_id": far.id}
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.json["to_slot_id"], response.json["done_slot_id"]) == (near.id, far.id)
    assert (units_in(session, near, milk), units_in(session, far, milk)) == (None, 12)


def test_a_partial_confirmation_leaves_the_task_in_progress(api_client, task, near):
    response = api_client.post(
        f"/api/v1/putaway-tasks/{task['id']}/confirm", {"to_slot_id": near.id, "quantity": 5}
    )

    assert (response.json["status"], response.json["done_qty"]) == ("in_progress", 5)


@pytest.mark.parametrize(
    ("target", "status", "type_", "field"),
    [
        ("locked", 409, SlotLocked, "to_slot_id"),
        ("freezer", 422, WrongTemperature, "to_slot_id"),
        ("staging", 422, None, "to_slot_id"),
        ("unknown", 422, None, "to_slot_id"),
        ("tiny", 409, OverCapacity, "quantity"),
    ],
)
def test_confirming_at_a_slot_that_cannot_take_the_units_is_refused_and_nothing_moves(
    api_client,
    problem,
    ledger,
    session,
    make_slot,
    make_zone,
    task,
    target,
    status,
    type_,
    field,
):
    slots = {
        "locked": lambda: make_slot(kind=SlotKind.RESERVE, locked=True, lock_reason="spill"),
        "freezer": lambda: make_slot(
            kind=SlotKind.RESERVE, zone=make_zone(temperature=Temperature.FROZEN)
        ),
        "staging": lambda: make_slot(kind=SlotKind.STAGING),
        "tiny": lambda: make_slot(kind=SlotKind.RESERVE, volume_cm3=1000),
    }
    to_slot_id = slots[target]().id if target in slots else 987654
    before = ledger()

    response = api_client.post(
        f"/api/v1/putaway-tasks/{task['id']}/confirm", {"to_slot_id": to_slot_id}
    )

    problem(response, status, type=type_, field=field)
    assert ledger() == before
    assert fresh(session, Task, task["id"]).status.value == "open"


def test_confirming_a_done_task_is_a_409(api_client, problem, ledger, task, near, far):
    api_client.post(f"/api/v1/putaway-tasks/{task['id']}/confirm", {"to_slot_id": near.id})
    before = ledger()

    response = api_client.post(
        f"/api/v1/putaway-tasks/{task['id']}/confirm", {"to_slot_id": far.id}
    )

    problem(response, 409, field="task_id")
    assert ledger() == before


def test_confirming_an_unknown_task_is_a_404(api_client, problem, near):
    problem(api_client.post("/api/v1/putaway-tasks/987654/confirm", {"to_slot_id": near.id}), 404)


def test_when_no_slot_fits_no_task_is_created_and_the_answer_is_409_no_slot_fits(
    api_client, problem, session, arrived
):
    response = api_client.post(
        "/api/v1/putaway-tasks",
        {"from_slot_id": arrived.slot_id, "item_id": arrived.item_id, "quantity": 12},
    )

    problem(response, 409, type=NoSlotFits)
    assert session.scalars(select(Task)).all() == []


def test_units_already_in_a_task_cannot_be_tasked_again(api_client, problem, task, arrived):
    response = api_client.post(
        "/api/v1/putaway-tasks",
        {"from_slot_id": arrived.slot_id, "item_id": arrived.item_id, "quantity": 1},
    )

    assert problem(response, 409, type=InsufficientStock)["available"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": "12"}, "quantity"),
        ({"item_id": 987654}, "item_id"),
        ({"from_slot_id": 987654}, "from_slot_id"),
        ({"to_slot_id": 1}, "to_slot_id"),
        ({"status": "done"}, "status"),
    ],
)
def test_a_bad_putaway_task_is_a_422_naming_the_field(
    api_client, problem, session, arrived, near, change, field
):
    body = {"from_slot_id": arrived.slot_id, "item_id": arrived.item_id, "quantity": 12, **change}

    problem(api_client.post("/api/v1/putaway-tasks", body), 422, field=field)
    assert session.scalars(select(Task)).all() == []


def test_putaway_tasks_are_listed_by_site_and_status(api_client, site, task):
    open_ = api_client.get("/api/v1/putaway-tasks", query={"site_id": site.id, "status": "open"})
    done = api_client.get("/api/v1/putaway-tasks", query={"status": "done"})

    assert [t["id"] for t in open_.json["items"]] == [task["id"]]
    assert done.json["items"] == []


# --- blind cycle counts -----------------------------------------------------------------------


@pytest.fixture
def shelf(make_stock, make_slot, milk) -> Stock:
    """Ten MILK-1L in a pick face, to be counted."""
    return make_stock(item=milk, slot=make_slot("A-02-01", kind=SlotKind.PICK_FACE), qty=10)


@pytest.fixture
def count(api_client, shelf) -> dict[str, Any]:
    response = api_client.post("/api/v1/counts", {"slot_id": shelf.slot_id, "reason": "weekly"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def test_an_open_count_shows_no_expected_quantities(api_client, count, shelf):
    read = api_client.get(f"/api/v1/counts/{count['id']}")

    for answer in (count, read.json):
        assert (answer["status"], answer["slot_id"], answer["reason"]) == (
            "open",
            shelf.slot_id,
            "weekly",
        )
        assert answer["lines"] == []
        text = json.dumps(answer)
        assert "expected" not in text
        assert "on_hand" not in text


def test_a_small_variance_is_applied_at_once_with_a_count_movement(
    api_client, session, count, shelf, milk
):
    response = api_client.post(
        f"/api/v1/counts/{count['id']}/submit", {"lines": [{"item_id": milk.id, "quantity": 8}]}
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "applied"
    (line,) = response.json["lines"]
    assert (line["counted_qty"], line["expected_qty"], line["variance"]) == (8, 10, -2)
    assert fresh(session, Stock, shelf.id).on_hand == 8
    assert kinds_of_movements(session)[-1] == "count"


def test_a_big_variance_waits_for_a_supervisor_and_changes_nothing_meanwhile(
    api_client, ledger, count, milk
):
    before = ledger()

    response = api_client.post(
        f"/api/v1/counts/{count['id']}/submit", {"lines": [{"item_id": milk.id, "quantity": 2}]}
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "pending_approval"
    assert ledger() == before


@pytest.fixture
def pending(api_client, count, milk) -> dict[str, Any]:
    response = api_client.post(
        f"/api/v1/counts/{count['id']}/submit", {"lines": [{"item_id": milk.id, "quantity": 2}]}
    )
    assert response.json["status"] == "pending_approval"
    return response.json


@pytest.mark.parametrize("who", [Role.ASSOCIATE, TokenRole.PLANNER])
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_only_a_supervisor_decides_a_waiting_count(
    api_client, signed_in, make_api_token, problem, ledger, session, pending, who, decision
):
    client = signed_in(who) if isinstance(who, Role) else api_client.as_token(make_api_token(who))
    before = ledger()

    response = client.post(f"/api/v1/counts/{pending['id']}/{decision}", {"reason": "recount"})

    assert "supervisor" in problem(response, 403)["detail"]
    assert ledger() == before


def test_a_supervisor_approves_and_on_hand_becomes_what_was_counted(
    api_client, make_api_token, session, pending, shelf
):
    supervisor = api_client.as_token(make_api_token(TokenRole.SUPERVISOR))

    response = supervisor.post(f"/api/v1/counts/{pending['id']}/approve")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "applied"
    assert fresh(session, Stock, shelf.id).on_hand == 2
    assert fresh(session, Slot, shelf.slot_id).needs_count is False


def test_a_supervisor_rejects_and_nothing_changes_but_the_slot_waits_for_a_recount(
    api_client, make_api_token, ledger, session, pending, shelf
):
    supervisor = api_client.as_token(make_api_token(TokenRole.SUPERVISOR))
    before = ledger()

    response = supervisor.post(f"/api/v1/counts/{pending['id']}/reject", {"reason": "miscount"})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "rejected"
    assert fresh(session, Stock, shelf.id).on_hand == 10
    assert fresh(session, Slot, shelf.slot_id).needs_count is True
    assert ledger().movements == before.movements


def test_rejecting_without_a_reason_is_a_422_naming_reason(api_client, problem, ledger, pending):
    before = ledger()

    problem(api_client.post(f"/api/v1/counts/{pending['id']}/reject", {}), 422, field="reason")
    assert ledger() == before


def test_approving_an_open_count_is_a_409(api_client, problem, count):
    problem(api_client.post(f"/api/v1/counts/{count['id']}/approve"), 409, field="count_id")


def test_a_slot_has_one_unfinished_count_at_a_time(api_client, problem, count, shelf):
    response = api_client.post("/api/v1/counts", {"slot_id": shelf.slot_id})

    problem(response, 409, field="slot_id")


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"item_id": 987654, "quantity": 1}], "lines[0].item_id"),
        ([{"item_id": "MILK", "quantity": 1}], "lines.0.item_id"),
        ([{"item_id": "ITEM", "quantity": -1}], "lines.0.quantity"),
        ([{"item_id": "ITEM", "quantity": 1, "expected_qty": 10}], "lines.0.expected_qty"),
        ("MILK 8", "lines"),
    ],
    ids=["unknown-item", "item-not-an-id", "negative", "expected-given", "not-a-list"],
)
def test_a_bad_count_submission_is_a_422_naming_the_field_and_changes_nothing(
    api_client, problem, ledger, count, milk, lines, field
):
    if isinstance(lines, list):
        lines = [{k: milk.id if v == "ITEM" else v for k, v in ln.items()} for ln in lines]
    before = ledger()

    response = api_client.post(f"/api/v1/counts/{count['id']}/submit", {"lines": lines})

    problem(response, 422, field=field)
    assert ledger() == before


def test_a_count_of_an_unknown_slot_is_a_422_naming_slot_id(api_client, problem):
    problem(api_client.post("/api/v1/counts", {"slot_id": 987654}), 422, field="slot_id")


# --- CSV imports ------------------------------------------------------------------------------

ITEMS_CSV = (
    "sku,name,gtin,length_mm,width_mm,height_mm,weight_g,temperature,lot_tracked,expiry_tracked\n"
    "OAT-1L,Oat drink 1 l,8712345678906,70,70,200,1050,ambient,no,no\n"
    "SKYR-450,Skyr 450 g,,90,90,80,470,chilled,yes,yes\n"
)


def post_csv(api_client, what: str, body: str | bytes, **query: str) -> Any:
    path = f"/api/v1/imports/{what}"
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return api_client.post(path, data=body, headers={"Content-Type": "text/csv"})


def skus(session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Item.sku)))


def test_importing_items_creates_them_and_reports_counts(api_client, session):
    response = post_csv(api_client, "items", ITEMS_CSV)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {
        "what": "items",
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
    }
    assert {"OAT-1L", "SKYR-450"} <= skus(session)
    skyr = session.scalars(select(Item).where(Item.sku == "SKYR-450")).one()
    assert (skyr.temperature, skyr.expiry_tracked) == (Temperature.CHILLED, True)


def test_importing_the_same_file_again_changes_nothing(api_client):
    post_csv(api_client, "items", ITEMS_CSV)

    again = post_csv(api_client, "items", ITEMS_CSV)

    assert (again.json["created"], again.json["updated"], again.json["unchanged"]) == (0, 0, 2)


def test_a_dry_run_reports_without_writing(api_client, session):
    response = post_csv(api_client, "items", ITEMS_CSV, dry_run="true")

    assert (response.json["created"], response.json["dry_run"]) == (2, True)
    assert not {"OAT-1L", "SKYR-450"} & skus(session)


def test_a_file_with_bad_rows_is_a_422_listing_every_problem_and_nothing_is_written(
    api_client, problem, session
):
    bad = (
        ITEMS_CSV
        + "SOUP-1,Tomato soup,,80,80,heavy,400,ambient,no,no\n"
        + "ICE-1,Ice cream,,100,100,100,500,warm,no,no\n"
    )

    response = post_csv(api_client, "items", bad)

    body = problem(response, 422, type=ImportRejected)
    assert [(e["row"], e["column"]) for e in body["errors"]] == [
        (4, "height_mm"),
        (5, "temperature"),
    ]
    assert all(e["reason"] for e in body["errors"])
    assert not {"OAT-1L", "SKYR-450", "SOUP-1", "ICE-1"} & skus(session)


def test_a_body_that_names_a_file_is_read_as_csv_never_from_disk(
    api_client, problem, session, tmp_path: Path
):
    on_disk = tmp_path / "items.csv"
    on_disk.write_text(ITEMS_CSV, encoding="utf-8")

    for body in ("/etc/passwd", str(on_disk)):
        response = post_csv(api_client, "items", body)

        answer = problem(response, 422)
        assert answer["errors"][0]["row"] == 1
        assert any(e["column"] == body.lower() for e in answer["errors"])
        assert "root:" not in response.get_data(as_text=True)
    assert not {"OAT-1L", "SKYR-450"} & skus(session)


def test_importing_slots_creates_them_in_the_named_site_and_zone(
    api_client, session, site, make_zone
):
    zone = make_zone()
    csv_text = (
        "site,zone,barcode,kind,block,aisle,bay,side,level,volume_cm3\n"
        f"{site.code},{zone.code},IMP-01-01,reserve,1,70,1,L,1,50000\n"
        f"{site.code},{zone.code},IMP-DOCK,dock,,,,,,\n"
    )

    response = post_csv(api_client, "slots", csv_text)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.json["what"], response.json["created"]) == ("slots", 2)
    session.expire_all()
    imported = session.scalars(select(Slot).where(Slot.barcode.like("IMP-%"))).all()
    assert {(s.barcode, s.site_id, s.zone_id) for s in imported} == {
        ("IMP-01-01", site.id, zone.id),
        ("IMP-DOCK", site.id, zone.id),
    }


def test_a_slots_file_naming_an_unknown_site_is_a_422_and_nothing_is_written(
    api_client, problem, session, make_zone
):
    zone = make_zone()
    csv_text = f"site,zone,barcode,kind\nNOWHERE,{zone.code},IMP-DOCK,dock\n"

    body = problem(post_csv(api_client, "slots", csv_text), 422)

    assert [(e["row"], e["column"]) for e in body["errors"]] == [(2, "site")]
    session.expire_all()
    assert session.scalars(select(Slot).where(Slot.barcode == "IMP-DOCK")).all() == []


@pytest.mark.parametrize("role", [TokenRole.SUPERVISOR, TokenRole.PLANNER])
def test_only_integrations_import(api_client, make_api_token, problem, session, role):
    response = post_csv(api_client.as_token(make_api_token(role)), "items", ITEMS_CSV)

    problem(response, 403)
    assert not {"OAT-1L", "SKYR-450"} & skus(session)


def test_an_import_with_an_unknown_delimiter_is_a_422_naming_it(api_client, problem):
    problem(post_csv(api_client, "items", ITEMS_CSV, delimiter="|"), 422, field="delimiter")


def test_imports_leave_the_ledger_alone(api_client, ledger):
    before = ledger()

    post_csv(api_client, "items", ITEMS_CSV)

    assert ledger() == before


# --- move-type tasks worked by scans -------------------------------------------------------------


def _replenishment_task(session, make_stock, make_slot):
    from wms.models import ItemBarcode, Task, TaskKind

    row = make_stock(qty=12, slot=make_slot(aisle=7, bay=9, kind=SlotKind.RESERVE))
    session.add(ItemBarcode(item_id=row.item_id, barcode=f"ITEM-{row.item_id}", quantity=1))
    face = make_slot(aisle=1, bay=1)
    task = Task(site_id=face.site_id, kind=TaskKind.REPLENISHMENT, item_id=row.item_id,
                quantity=5, from_slot_id=row.slot_id, to_slot_id=face.id)  # fmt: skip
    session.add(task)
    session.flush()
    return row, face, task


def test_a_replenishment_task_is_listed_taken_and_done_by_its_scans(
    api_client, session, make_stock, make_slot, site
):
    row, face, task = _replenishment_task(session, make_stock, make_slot)

    listed = api_client.get("/api/v1/tasks", query={"site_id": site.id})
    claimed = api_client.post(f"/api/v1/tasks/{task.id}/claim")
    done = api_client.post(
        f"/api/v1/tasks/{task.id}/complete",
        {"from_slot": row.slot.barcode, "item": f"ITEM-{row.item_id}", "quantity": 5,
         "to_slot": face.barcode},
    )  # fmt: skip

    assert [t["id"] for t in listed.get_json()] == [task.id]
    assert claimed.status_code == 200
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "done" and done.get_json()["done_slot_id"] == face.id


def test_a_wrong_scan_on_a_task_says_what_was_expected_and_changes_nothing(
    api_client, session, make_stock, make_slot, problem, ledger
):
    row, face, task = _replenishment_task(session, make_stock, make_slot)
    elsewhere = make_slot(aisle=2, bay=3)
    before = ledger()

    answer = api_client.post(
        f"/api/v1/tasks/{task.id}/complete",
        {"from_slot": row.slot.barcode, "item": f"ITEM-{row.item_id}", "quantity": 5,
         "to_slot": elsewhere.barcode},
    )  # fmt: skip

    body = problem(answer, 422, type="wrong_scan", field="to_slot")
    assert (body["expected"], body["scanned"]) == (face.barcode, elsewhere.barcode)
    assert ledger() == before

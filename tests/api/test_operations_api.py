"""Stock operations over HTTP: each endpoint's success, and every refusal changing nothing.

Every refusal is checked against a snapshot of the ledger (stock balances, movement count,
allocations, slot flags, picked quantities) taken before the request.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from wms.allocation import ExpiredStockOnly
from wms.errors import Forbidden
from wms.idempotency import KeyReused
from wms.models import (
    Allocation,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    Role,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    TokenRole,
)
from wms.stock import InsufficientStock, OverCapacity, SlotLocked, WrongTemperature


@pytest.fixture
def face(make_slot) -> Slot:
    return make_slot("A-01-01", kind=SlotKind.PICK_FACE)


@pytest.fixture
def reserve(make_slot) -> Slot:
    return make_slot("A-01-03", kind=SlotKind.RESERVE)


@pytest.fixture
def rice(make_stock, face) -> Stock:
    """Ten units of an ambient item in a pick face of the default site."""
    return make_stock("RICE-1KG", qty=10, slot=face)


@pytest.fixture
def order_for(make_order, site):
    """Call it with (stock, quantity) for a one-line order at the default site; the line."""

    def make(stock: Stock, quantity: int) -> OrderLine:
        order = make_order(site=site, lines=[(stock.item, quantity)])
        return order.lines[0]

    return make


def fresh(session, model: Any, id_: int) -> Any:
    session.expire_all()
    return session.get(model, id_)


def movements(session, *, kind: MovementKind | None = None) -> list[Movement]:
    session.expire_all()
    stmt = select(Movement).order_by(Movement.id)
    if kind is not None:
        stmt = stmt.where(Movement.kind == kind)
    return list(session.scalars(stmt))


def move_body(stock: Stock, to: Slot, quantity: Any = 4, **extra: Any) -> dict[str, Any]:
    return {
        "from_slot_id": stock.slot_id,
        "to_slot_id": to.id,
        "item_id": stock.item_id,
        "quantity": quantity,
        **extra,
    }


BAD_QUANTITIES = [0, -3, 2.5, "4", True, None]
BAD_QUANTITY_IDS = ["zero", "negative", "fraction", "string", "boolean", "null"]


# --- moves ------------------------------------------------------------------------------------


def test_a_move_takes_units_out_of_one_slot_and_into_another(api_client, session, rice, reserve):
    before = len(movements(session))

    response = api_client.post("/api/v1/moves", move_body(rice, reserve, reason="tidy up"))

    assert response.status_code == 201, response.get_data(as_text=True)
    taken, put = response.json["taken"], response.json["put"]
    assert (taken["slot_id"], taken["quantity"]) == (rice.slot_id, -4)
    assert (put["slot_id"], put["quantity"]) == (reserve.id, 4)
    assert taken["operation_id"] == put["operation_id"] == response.json["operation_id"]
    assert taken["kind"] == put["kind"] == "move"
    assert fresh(session, Stock, rice.id).on_hand == 6
    target = session.scalars(select(Stock).where(Stock.slot_id == reserve.id)).one()
    assert (target.on_hand, target.item_id) == (4, rice.item_id)
    assert len(movements(session)) == before + 2


@pytest.mark.parametrize("quantity", BAD_QUANTITIES, ids=BAD_QUANTITY_IDS)
def test_a_move_of_anything_but_a_positive_whole_number_is_a_422_naming_quantity(
    api_client, problem, ledger, rice, reserve, quantity
):
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, reserve, quantity))

    problem(response, 422, field="quantity")
    assert ledger() == before


def test_a_move_without_a_quantity_is_a_422_naming_quantity(
    api_client, problem, ledger, rice, reserve
):
    body = move_body(rice, reserve)
    del body["quantity"]
    before = ledger()

    problem(api_client.post("/api/v1/moves", body), 422, field="quantity")
    assert ledger() == before


@pytest.mark.parametrize("field", ["item_id", "from_slot_id", "to_slot_id"])
def test_an_unknown_item_or_slot_in_a_move_is_a_422_naming_the_field(
    api_client, problem, ledger, rice, reserve, field
):
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, reserve, **{field: 987654}))

    body = problem(response, 422, field=field)
    assert body["field"] == field
    assert "987654" in body["detail"]
    assert ledger() == before


def test_moving_more_than_is_available_is_a_409_saying_how_many_are(
    api_client, problem, ledger, rice, reserve, order_for
):
    allocated = api_client.post("/api/v1/allocations", {"order_line_id": order_for(rice, 3).id})
    assert allocated.status_code == 201
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, reserve, 8))

    body = problem(response, 409, type=InsufficientStock, field="quantity")
    assert body["available"] == 7  # ten on hand, three reserved
    assert ledger() == before


def test_moving_an_item_the_slot_does_not_hold_is_a_409_with_nothing_available(
    api_client, problem, ledger, make_item, rice, reserve
):
    other = make_item()
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, reserve, item_id=other.id))

    assert problem(response, 409, type=InsufficientStock)["available"] == 0
    assert ledger() == before


def test_a_move_into_a_locked_slot_is_a_409_slot_locked(
    api_client, problem, ledger, session, rice, reserve
):
    reserve.locked, reserve.lock_reason = True, "racking damaged"
    session.flush()
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, reserve))

    body = problem(response, 409, type=SlotLocked, field="to_slot_id")
    assert "racking damaged" in body["detail"]
    assert ledger() == before


def test_a_move_that_does_not_fit_the_slot_is_a_409_over_capacity(
    api_client, problem, ledger, make_slot, rice
):
    # One unit is 100 x 80 x 60 mm = 480 cm³: a 1,000 cm³ slot takes two.
    small = make_slot(kind=SlotKind.RESERVE, volume_cm3=1000)
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, small, 3))

    problem(response, 409, type=OverCapacity, field="quantity")
    assert ledger() == before
    assert api_client.post("/api/v1/moves", move_body(rice, small, 2)).status_code == 201


def test_a_move_too_heavy_for_the_slot_is_a_409_over_capacity(
    api_client, problem, ledger, make_slot, rice
):
    shelf = make_slot(kind=SlotKind.RESERVE, max_weight_g=1000)  # four units of 250 g
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, shelf, 5))

    assert "kg" in problem(response, 409, type=OverCapacity)["detail"]
    assert ledger() == before


def test_a_move_into_a_rack_of_the_wrong_temperature_is_a_422_wrong_temperature(
    api_client, problem, ledger, make_slot, make_zone, rice
):
    freezer = make_slot(kind=SlotKind.RESERVE, zone=make_zone(temperature=Temperature.FROZEN))
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, freezer))

    problem(response, 422, type=WrongTemperature, field="to_slot_id")
    assert ledger() == before


def test_a_move_into_another_items_pick_face_is_a_422(
    api_client, problem, ledger, make_slot, make_item, rice
):
    kept = make_slot(kind=SlotKind.PICK_FACE, item_id=make_item().id)
    before = ledger()

    problem(api_client.post("/api/v1/moves", move_body(rice, kept)), 422, field="to_slot_id")
    assert ledger() == before


def test_a_move_to_another_site_is_a_422(
    api_client, problem, ledger, make_site, make_zone, make_slot, rice
):
    away = make_slot(kind=SlotKind.RESERVE, zone=make_zone(site=make_site()))
    before = ledger()

    problem(api_client.post("/api/v1/moves", move_body(rice, away)), 422, field="to_slot_id")
    assert ledger() == before


@pytest.mark.parametrize(
    "extra",
    [{"on_hand": 50}, {"id": 1}, {"reserved": 0}, {"operation_id": "x"}, {"qty": 4}],
    ids=lambda extra: next(iter(extra)),
)
def test_a_move_with_unknown_ids_or_balances_in_its_body_is_a_422_naming_them(
    api_client, problem, ledger, rice, reserve, extra
):
    before = ledger()

    response = api_client.post("/api/v1/moves", move_body(rice, reserve, **extra))

    body = problem(response, 422, field=next(iter(extra)))
    assert body["errors"][next(iter(extra))] == ["Unknown field."]
    assert ledger() == before


@pytest.mark.parametrize(
    "body", ["not json", "[1, 2]", '{"quantity": 4'], ids=["text", "list", "truncated"]
)
def test_a_body_that_is_not_a_json_object_is_refused(api_client, ledger, rice, body):
    before = ledger()

    response = api_client.post(
        "/api/v1/moves", data=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert ledger() == before


# --- adjustments ------------------------------------------------------------------------------


def adjust_body(stock: Stock, quantity: Any, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "slot_id": stock.slot_id,
        "item_id": stock.item_id,
        "quantity": quantity,
        "reason": reason,
        **extra,
    }


@pytest.mark.parametrize(
    ("quantity", "reason", "on_hand"),
    [
        (2, "found", 12),
        (-3, "damaged", 7),
        (-1, "lost", 9),
        (-2, "expired", 8),
        (-4, "correction", 6),
        (5, "correction", 15),
    ],
)
def test_an_adjustment_with_a_reason_code_writes_one_adjust_movement(
    api_client, session, rice, quantity, reason, on_hand
):
    response = api_client.post(
        "/api/v1/adjustments", adjust_body(rice, quantity, reason, note="cycle check")
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["kind"] == "adjust"
    assert response.json["quantity"] == quantity
    assert response.json["reason"] == f"{reason}: cycle check"
    assert fresh(session, Stock, rice.id).on_hand == on_hand
    assert len(movements(session, kind=MovementKind.ADJUST)) == 1


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [(3, "damaged"), (1, "lost"), (1, "expired"), (-3, "found")],
)
def test_an_adjustment_whose_sign_disagrees_with_its_reason_is_a_422_naming_quantity(
    api_client, problem, ledger, rice, quantity, reason
):
    before = ledger()

    response = api_client.post("/api/v1/adjustments", adjust_body(rice, quantity, reason))

    problem(response, 422, field="quantity")
    assert ledger() == before


@pytest.mark.parametrize(
    "quantity", [0, 2.5, "2", True, None], ids=["zero", "fraction", "string", "boolean", "null"]
)
def test_an_adjustment_of_no_whole_units_is_a_422_naming_quantity(
    api_client, problem, ledger, rice, quantity
):
    before = ledger()

    response = api_client.post("/api/v1/adjustments", adjust_body(rice, quantity, "correction"))

    problem(response, 422, field="quantity")
    assert ledger() == before


@pytest.mark.parametrize("reason", ["stolen", "", "FOUND "])
def test_an_adjustment_with_an_unknown_reason_code_is_a_422_naming_reason(
    api_client, problem, ledger, rice, reason
):
    before = ledger()

    response = api_client.post("/api/v1/adjustments", adjust_body(rice, 1, reason))

    problem(response, 422, field="reason")
    assert ledger() == before


def test_adjusting_away_more_than_is_there_is_a_409_with_what_is_available(
    api_client, problem, ledger, rice
):
    before = ledger()

    response = api_client.post("/api/v1/adjustments", adjust_body(rice, -11, "lost"))

    assert problem(response, 409, type=InsufficientStock)["available"] == 10
    assert ledger() == before


@pytest.mark.parametrize("field", ["slot_id", "item_id"])
def test_an_adjustment_of_an_unknown_slot_or_item_is_a_422_naming_it(
    api_client, problem, ledger, rice, field
):
    before = ledger()

    response = api_client.post(
        "/api/v1/adjustments", adjust_body(rice, 1, "found", **{field: 987654})
    )

    problem(response, 422, field=field)
    assert ledger() == before


@pytest.mark.parametrize("extra", [{"on_hand": 11}, {"id": 5}, {"kind": "receipt"}])
def test_an_adjustment_with_balances_or_ids_in_its_body_is_a_422_naming_them(
    api_client, problem, ledger, rice, extra
):
    before = ledger()

    response = api_client.post("/api/v1/adjustments", adjust_body(rice, 1, "found", **extra))

    problem(response, 422, field=next(iter(extra)))
    assert ledger() == before


@pytest.mark.parametrize("quantity", [2**31, 10**20], ids=["2**31", "10**20"])
def test_an_absurdly_large_quantity_is_a_422_naming_quantity(
    api_client, problem, ledger, rice, quantity
):
    before = ledger()

    response = api_client.post("/api/v1/adjustments", adjust_body(rice, quantity, "found"))

    problem(response, 422, field="quantity")
    assert ledger() == before


# --- slot locks -------------------------------------------------------------------------------


def test_a_slot_is_locked_with_a_reason_and_a_supervisor_unlocks_it(
    api_client, signed_in, problem, session, reserve
):
    associate = signed_in(Role.ASSOCIATE)

    locked = associate.post(f"/api/v1/slots/{reserve.id}/lock", {"reason": "spill"})
    refused = associate.post(f"/api/v1/slots/{reserve.id}/unlock")
    unlocked = api_client.post(f"/api/v1/slots/{reserve.id}/unlock")

    assert locked.status_code == 200, locked.get_data(as_text=True)
    assert (locked.json["locked"], locked.json["lock_reason"]) == (True, "spill")
    assert "supervisor" in problem(refused, 403, type=Forbidden)["detail"]
    assert unlocked.status_code == 200
    assert (unlocked.json["locked"], unlocked.json["lock_reason"]) == (False, None)
    assert fresh(session, Slot, reserve.id).locked is False


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_locking_a_slot_without_saying_why_is_a_422_naming_reason(
    api_client, problem, ledger, reserve, body
):
    before = ledger()

    problem(api_client.post(f"/api/v1/slots/{reserve.id}/lock", body), 422, field="reason")
    assert ledger() == before


def test_locking_an_unknown_slot_is_a_404(api_client, problem, reserve):
    problem(api_client.post(f"/api/v1/slots/{reserve.id + 1000}/lock", {"reason": "x"}), 404)


# --- shipments --------------------------------------------------------------------------------


@pytest.fixture
def staged(make_slot, make_stock) -> Stock:
    return make_stock("PARCEL", qty=5, slot=make_slot("STAGE-1", kind=SlotKind.STAGING))


def test_units_ship_out_of_a_staging_slot(api_client, session, staged):
    response = api_client.post(
        "/api/v1/shipments",
        {
            "slot_id": staged.slot_id,
            "item_id": staged.item_id,
            "quantity": 3,
            "reference": "route:7",
        },
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.json["kind"], response.json["quantity"]) == ("ship", -3)
    assert response.json["reference"] == "route:7"
    assert fresh(session, Stock, staged.id).on_hand == 2


def test_shipping_from_a_rack_slot_is_a_422_naming_slot_id(api_client, problem, ledger, rice):
    before = ledger()

    response = api_client.post(
        "/api/v1/shipments", {"slot_id": rice.slot_id, "item_id": rice.item_id, "quantity": 1}
    )

    assert "staging" in problem(response, 422, field="slot_id")["detail"]
    assert ledger() == before


def test_shipping_more_than_is_staged_is_a_409_with_what_is_available(
    api_client, problem, ledger, staged
):
    before = ledger()

    response = api_client.post(
        "/api/v1/shipments", {"slot_id": staged.slot_id, "item_id": staged.item_id, "quantity": 6}
    )

    assert problem(response, 409, type=InsufficientStock)["available"] == 5
    assert ledger() == before


@pytest.mark.parametrize("quantity", BAD_QUANTITIES, ids=BAD_QUANTITY_IDS)
def test_a_shipment_of_no_whole_units_is_a_422_naming_quantity(
    api_client, problem, ledger, staged, quantity
):
    before = ledger()

    response = api_client.post(
        "/api/v1/shipments",
        {"slot_id": staged.slot_id, "item_id": staged.item_id, "quantity": quantity},
    )

    problem(response, 422, field="quantity")
    assert ledger() == before


@pytest.mark.parametrize("field", ["slot_id", "item_id"])
def test_a_shipment_of_an_unknown_slot_or_item_is_a_422_naming_it(
    api_client, problem, ledger, staged, field
):
    body = {"slot_id": staged.slot_id, "item_id": staged.item_id, "quantity": 1, field: 987654}
    before = ledger()

    problem(api_client.post("/api/v1/shipments", body), 422, field=field)
    assert ledger() == before


# --- allocations ------------------------------------------------------------------------------


def test_an_allocation_reserves_the_lines_units(api_client, session, rice, order_for):
    line = order_for(rice, 4)

    response = api_client.post("/api/v1/allocations", {"order_line_id": line.id})

    assert response.status_code == 201, response.get_data(as_text=True)
    result = response.json
    assert (result["order_line_id"], result["requested"], result["allocated"]) == (line.id, 4, 4)
    assert (result["short"], result["reason"]) == (0, None)
    (held,) = result["allocations"]
    assert (held["stock_id"], held["slot_id"], held["quantity"]) == (rice.id, rice.slot_id, 4)
    assert held["status"] == "open"
    row = fresh(session, Stock, rice.id)
    assert (row.on_hand, row.reserved) == (10, 4)
    assert movements(session, kind=MovementKind.PICK) == []


def test_an_allocation_takes_what_there_is_and_says_how_many_are_short(api_client, rice, order_for):
    response = api_client.post("/api/v1/allocations", {"order_line_id": order_for(rice, 15).id})

    assert response.status_code == 201
    assert (response.json["allocated"], response.json["short"]) == (10, 5)
    assert response.json["reason"]


def test_allocating_with_nothing_available_is_a_409_insufficient_stock(
    api_client, problem, ledger, rice, order_for
):
    first = api_client.post("/api/v1/allocations", {"order_line_id": order_for(rice, 10).id})
    assert first.status_code == 201
    line = order_for(rice, 1)
    before = ledger()

    response = api_client.post("/api/v1/allocations", {"order_line_id": line.id})

    body = problem(response, 409, type=InsufficientStock, field="order_line_id")
    assert body["available"] == 0
    assert ledger() == before


def test_allocating_where_only_expired_units_remain_is_a_409_expired_stock(
    api_client, problem, ledger, make_item, make_stock, face, order_for
):
    milk = make_item("MILK-1L", expiry_tracked=True)
    old = make_stock(item=milk, slot=face, qty=8, lot="L0", expiry=dt.date(2020, 1, 1))
    line = order_for(old, 2)
    before = ledger()

    response = api_client.post("/api/v1/allocations", {"order_line_id": line.id})

    problem(response, 409, type=ExpiredStockOnly, field="order_line_id")
    assert ledger() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "order_line_id"),
        ({"order_line_id": "7"}, "order_line_id"),
        ({"order_line_id": 1.5}, "order_line_id"),
        ({"order_line_id": 1, "quantity": 3}, "quantity"),
        ({"order_line_id": 1, "stock_id": 1}, "stock_id"),
    ],
    ids=["missing", "string", "fraction", "quantity", "stock_id"],
)
def test_a_bad_allocation_body_is_a_422_naming_the_field(api_client, problem, ledger, body, field):
    before = ledger()

    response = api_client.post("/api/v1/allocations", body)

    assert field in problem(response, 422)["errors"]
    assert ledger() == before


def test_allocating_an_unknown_order_line_is_a_422_naming_it(api_client, problem, ledger):
    before = ledger()

    response = api_client.post("/api/v1/allocations", {"order_line_id": 987654})

    problem(response, 422, field="order_line_id")
    assert ledger() == before


def test_releasing_an_allocation_gives_its_units_back_once(
    api_client, problem, session, rice, order_for
):
    allocated = api_client.post("/api/v1/allocations", {"order_line_id": order_for(rice, 4).id})
    allocation_id = allocated.json["allocations"][0]["id"]

    released = api_client.post(f"/api/v1/allocations/{allocation_id}/release")
    again = api_client.post(f"/api/v1/allocations/{allocation_id}/release")

    assert released.status_code == 200, released.get_data(as_text=True)
    assert (released.json["id"], released.json["status"]) == (allocation_id, "released")
    assert released.json["closed_at"] is not None
    assert fresh(session, Stock, rice.id).reserved == 0
    problem(again, 409, field="allocation_id")
    assert fresh(session, Stock, rice.id).reserved == 0


def test_releasing_an_unknown_allocation_is_a_404(api_client, problem):
    problem(api_client.post("/api/v1/allocations/987654/release"), 404)


def test_allocations_are_listed_by_order_line_and_status(api_client, rice, order_for):
    line = order_for(rice, 4)
    held = api_client.post("/api/v1/allocations", {"order_line_id": line.id}).json

    listed = api_client.get(
        "/api/v1/allocations", query={"order_line_id": line.id, "status": "open"}
    ).json["items"]
    picked = api_client.get(
        "/api/v1/allocations", query={"order_line_id": line.id, "status": "picked"}
    ).json["items"]

    assert [a["id"] for a in listed] == [a["id"] for a in held["allocations"]]
    assert picked == []


# --- picks ------------------------------------------------------------------------------------


@pytest.fixture
def allocate(api_client, order_for):
    """Call it with (stock, quantity): allocate a new order line; the first allocation's id."""

    def run(stock: Stock, quantity: int) -> int:
        response = api_client.post(
            "/api/v1/allocations", {"order_line_id": order_for(stock, quantity).id}
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["allocations"][0]["id"]

    return run


def test_a_full_pick_takes_the_allocated_units_out_of_the_slot(api_client, session, rice, allocate):
    allocation_id = allocate(rice, 4)

    response = api_client.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4})

    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.json["picked"], response.json["missing"]) == (4, 0)
    assert (response.json["reallocated"], response.json["backordered"]) == ([], 0)
    assert response.json["allocation"]["status"] == "picked"
    assert response.json["allocation"]["picked_qty"] == 4
    row = fresh(session, Stock, rice.id)
    assert (row.on_hand, row.reserved) == (6, 0)
    (pick,) = movements(session, kind=MovementKind.PICK)
    assert (pick.stock_id, pick.quantity) == (rice.id, -4)
    allocation = fresh(session, Allocation, allocation_id)
    assert fresh(session, OrderLine, allocation.order_line_id).picked_qty == 4


def test_picking_more_than_allocated_is_a_422_naming_quantity(
    api_client, problem, ledger, rice, allocate
):
    allocation_id = allocate(rice, 4)
    before = ledger()

    response = api_client.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 5})

    problem(response, 422, field="quantity")
    assert ledger() == before


def test_picking_an_allocation_twice_is_a_409_and_takes_the_units_once(
    api_client, problem, ledger, session, rice, allocate
):
    allocation_id = allocate(rice, 4)
    first = api_client.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4})
    assert first.status_code == 201
    before = ledger()

    again = api_client.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4})

    assert "picked" in problem(again, 409, field="allocation_id")["detail"]
    assert ledger() == before
    assert len(movements(session, kind=MovementKind.PICK)) == 1


@pytest.mark.parametrize("quantity", [-1, 2.5, "2", True, None], ids=BAD_QUANTITY_IDS[1:])
def test_a_pick_of_no_whole_units_is_a_422_naming_quantity(
    api_client, problem, ledger, rice, allocate, quantity
):
    allocation_id = allocate(rice, 4)
    before = ledger()

    response = api_client.post(
        "/api/v1/picks", {"allocation_id": allocation_id, "quantity": quantity}
    )

    problem(response, 422, field="quantity")
    assert ledger() == before


def test_a_short_pick_reallocates_the_missing_units_from_another_slot(
    api_client, session, make_stock, reserve, rice, allocate
):
    backup = make_stock(item=rice.item, slot=reserve, qty=5)
    allocation_id = allocate(rice, 4)

    response = api_client.post(
        "/api/v1/picks", {"allocation_id": allocation_id, "quantity": 1, "reason": "only one"}
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.json["picked"], response.json["missing"]) == (1, 3)
    (again,) = response.json["reallocated"]
    assert (again["stock_id"], again["slot_id"], again["quantity"]) == (backup.id, reserve.id, 3)
    assert response.json["backordered"] == 0
    assert fresh(session, Slot, rice.slot_id).needs_count is True
    row = fresh(session, Stock, rice.id)
    assert (row.on_hand, row.reserved) == (9, 0)
    assert fresh(session, Stock, backup.id).reserved == 3


def test_a_short_pick_with_no_stock_elsewhere_back_orders_the_missing_units(
    api_client, session, rice, allocate
):
    allocation_id = allocate(rice, 4)

    response = api_client.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 0})

    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.json["picked"], response.json["missing"]) == (0, 4)
    assert (response.json["reallocated"], response.json["backordered"]) == ([], 4)
    line = fresh(session, OrderLine, fresh(session, Allocation, allocation_id).order_line_id)
    assert fresh(session, Order, line.order_id).status is OrderStatus.BACKORDERED
    assert movements(session, kind=MovementKind.PICK) == []


def test_picking_from_a_slot_locked_after_allocation_is_a_409(
    api_client, problem, ledger, session, rice, allocate
):
    allocation_id = allocate(rice, 4)
    locked = api_client.post(f"/api/v1/slots/{rice.slot_id}/lock", {"reason": "spill"})
    assert locked.status_code == 200
    before = ledger()

    response = api_client.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4})

    assert "locked" in problem(response, 409)["detail"]
    assert ledger() == before


def test_picking_from_a_locked_slot_is_typed_slot_locked(
    api_client, problem, session, rice, allocate
):
    allocation_id = allocate(rice, 4)
    api_client.post(f"/api/v1/slots/{rice.slot_id}/lock", {"reason": "spill"})

    response = api_client.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4})

    problem(response, 409, type=SlotLocked)


def test_picking_an_unknown_allocation_is_a_422_naming_it(api_client, problem, ledger):
    before = ledger()

    response = api_client.post("/api/v1/picks", {"allocation_id": 987654, "quantity": 1})

    problem(response, 422, field="allocation_id")
    assert ledger() == before


@pytest.mark.parametrize(
    "extra", [{"status": "picked"}, {"picked_qty": 4}, {"id": 1}, {"stock_id": 1}]
)
def test_a_pick_with_state_or_ids_in_its_body_is_a_422_naming_them(
    api_client, problem, ledger, rice, allocate, extra
):
    allocation_id = allocate(rice, 4)
    before = ledger()

    response = api_client.post(
        "/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4, **extra}
    )

    problem(response, 422, field=next(iter(extra)))
    assert ledger() == before


def test_a_signed_in_associate_picks_and_the_ledger_names_them(signed_in, session, rice, allocate):
    allocation_id = allocate(rice, 4)
    associate = signed_in(Role.ASSOCIATE)

    response = associate.post("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4})

    assert response.status_code == 201, response.get_data(as_text=True)
    (pick,) = movements(session, kind=MovementKind.PICK)
    assert pick.user_id is not None
    assert pick.idempotency_key is not None


# --- idempotency on a real endpoint -------------------------------------------------------------


def test_a_pick_repeated_with_its_key_is_answered_again_and_picks_once(
    api_client, session, rice, allocate
):
    allocation_id = allocate(rice, 4)
    body = {"allocation_id": allocation_id, "quantity": 4}

    first = api_client.post("/api/v1/picks", body, key="pick-7f3a")
    again = api_client.post("/api/v1/picks", body, key="pick-7f3a")

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    (pick,) = movements(session, kind=MovementKind.PICK)
    assert pick.idempotency_key == "pick-7f3a"
    assert fresh(session, Stock, rice.id).on_hand == 6


def test_the_same_key_with_another_pick_is_a_422_and_changes_nothing(
    api_client, problem, ledger, rice, allocate
):
    first_id, second_id = allocate(rice, 4), allocate(rice, 2)
    api_client.post("/api/v1/picks", {"allocation_id": first_id, "quantity": 4}, key="k-1")
    before = ledger()

    response = api_client.post(
        "/api/v1/picks", {"allocation_id": second_id, "quantity": 2}, key="k-1"
    )

    problem(response, 422, type=KeyReused, field="Idempotency-Key")
    assert ledger() == before


def test_a_refused_pick_does_not_use_up_its_key(api_client, problem, session, rice, allocate):
    allocation_id = allocate(rice, 4)

    refused = api_client.post(
        "/api/v1/picks", {"allocation_id": allocation_id, "quantity": 9}, key="k-2"
    )
    corrected = api_client.post(
        "/api/v1/picks", {"allocation_id": allocation_id, "quantity": 4}, key="k-2"
    )

    problem(refused, 422, field="quantity")
    assert corrected.status_code == 201, corrected.get_data(as_text=True)
    assert "Idempotent-Replayed" not in corrected.headers
    (pick,) = movements(session, kind=MovementKind.PICK)
    assert pick.quantity == -4


# --- who may do what, where -------------------------------------------------------------------


@pytest.fixture
def scene(rice, reserve, staged, allocate, order_for) -> dict[str, tuple[str, Any]]:
    """One request per mutating endpoint, each of which would succeed for an integration."""
    allocation_id = allocate(rice, 2)
    return {
        "move": ("/api/v1/moves", move_body(rice, reserve, 1)),
        "adjust": ("/api/v1/adjustments", adjust_body(rice, 1, "found")),
        "lock": (f"/api/v1/slots/{reserve.id}/lock", {"reason": "spill"}),
        "unlock": (f"/api/v1/slots/{reserve.id}/unlock", None),
        "ship": (
            "/api/v1/shipments",
            {"slot_id": staged.slot_id, "item_id": staged.item_id, "quantity": 1},
        ),
        "allocate": ("/api/v1/allocations", {"order_line_id": order_for(rice, 1).id}),
        "release": (f"/api/v1/allocations/{allocation_id}/release", None),
        "pick": ("/api/v1/picks", {"allocation_id": allocation_id, "quantity": 2}),
    }


def acting_as(role: Role | TokenRole, api_client, signed_in, make_api_token) -> Any:
    """A client for a signed-in user (Role) or a token (TokenRole) of the default site."""
    if isinstance(role, Role):
        return signed_in(role)
    return api_client.as_token(make_api_token(role))


@pytest.mark.parametrize(
    ("role", "name"),
    [
        (TokenRole.PLANNER, "move"),
        (TokenRole.PLANNER, "adjust"),
        (TokenRole.PLANNER, "lock"),
        (TokenRole.PLANNER, "unlock"),
        (TokenRole.PLANNER, "ship"),
        (TokenRole.PLANNER, "pick"),
        (Role.ASSOCIATE, "release"),
        (Role.ASSOCIATE, "adjust"),
        (Role.ASSOCIATE, "unlock"),
        (Role.ASSOCIATE, "allocate"),
    ],
)
def test_a_role_outside_the_endpoints_group_is_a_403_and_changes_nothing(
    api_client, signed_in, make_api_token, problem, ledger, scene, role, name
):
    who = acting_as(role, api_client, signed_in, make_api_token)
    before = ledger()

    response = who.post(*scene[name])

    assert role.value in problem(response, 403, type=Forbidden)["detail"]
    assert ledger() == before


@pytest.mark.parametrize(
    ("role", "name"),
    [
        (Role.ASSOCIATE, "move"),
        (Role.ASSOCIATE, "lock"),
        (Role.ASSOCIATE, "ship"),
        (Role.ASSOCIATE, "pick"),
        (TokenRole.SUPERVISOR, "adjust"),
        (TokenRole.SUPERVISOR, "unlock"),
        (TokenRole.PLANNER, "allocate"),
        (TokenRole.PLANNER, "release"),
    ],
)
def test_a_role_inside_the_endpoints_group_may_act(
    api_client, signed_in, make_api_token, scene, role, name
):
    who = acting_as(role, api_client, signed_in, make_api_token)

    response = who.post(*scene[name])

    assert response.status_code in (200, 201), response.get_data(as_text=True)


@pytest.mark.parametrize(
    "name", ["move", "adjust", "lock", "unlock", "ship", "allocate", "release", "pick"]
)
def test_a_token_of_another_site_is_a_403_and_changes_nothing(
    api_client, make_api_token, make_site, problem, ledger, scene, name
):
    stranger = api_client.as_token(make_api_token(sites=[make_site()]))
    before = ledger()

    response = stranger.post(*scene[name])

    assert "may not act for site" in problem(response, 403, type=Forbidden)["detail"]
    assert ledger() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/moves",
        "/api/v1/adjustments",
        "/api/v1/shipments",
        "/api/v1/allocations",
        "/api/v1/picks",
        "/api/v1/slots/1/lock",
        "/api/v1/allocations/1/release",
    ],
)
def test_a_mutation_without_a_token_is_a_401_and_changes_nothing(
    client, problem, ledger, rice, path
):
    before = ledger()

    response = client.post(path, json={})

    problem(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert ledger() == before


def test_every_refusal_is_a_problem_document_with_its_four_members(api_client, rice, reserve):
    answers = [
        api_client.post("/api/v1/moves", move_body(rice, reserve, "x")),
        api_client.post("/api/v1/moves", move_body(rice, reserve, 99)),
        api_client.post("/api/v1/picks", {"allocation_id": 987654, "quantity": 1}),
        api_client.post("/api/v1/adjustments", adjust_body(rice, 1, "stolen")),
    ]

    for response in answers:
        assert response.mimetype == "application/problem+json"
        body = json.loads(response.get_data(as_text=True))
        assert {"type", "title", "status", "detail"} <= set(body)
        assert body["status"] == response.status_code

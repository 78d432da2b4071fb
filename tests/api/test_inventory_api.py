"""Reading the inventory over HTTP: items, scans, slots, stock and the movement ledger."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from biip.checksums import gs1_standard_check_digit
from sqlalchemy import select

from wms.errors import NotFound, Unauthorized
from wms.models import (
    Item,
    ItemBarcode,
    Movement,
    MovementKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    TokenRole,
)


def valid(payload: str) -> str:
    """The payload followed by its GS1 check digit."""
    return payload + str(gs1_standard_check_digit(payload))


GTIN_13 = valid("871234567890")
CASE_OF_6 = valid("1" + GTIN_13[:-1])  # the GTIN-14 of a case of six around GTIN_13
WRONG_CHECK_DIGIT = GTIN_13[:-1] + str((int(GTIN_13[-1]) + 1) % 10)

LIST_ENDPOINTS = ["/api/v1/items", "/api/v1/slots", "/api/v1/stock", "/api/v1/movements"]


def page_through(api_client, path: str, **query) -> list[dict]:
    """Follow next_cursor to the end; return every row in the order the pages gave them."""
    rows: list[dict] = []
    cursor = None
    for _ in range(1000):
        response = api_client.get(path, query={**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.get_data(as_text=True)
        rows.extend(response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the pages never ended")


def ids(rows: list[dict]) -> list[int]:
    return [row["id"] for row in rows]


# --- items ------------------------------------------------------------------------------------


def test_items_are_listed_with_their_barcodes_and_pack_sizes(api_client, session, make_item):
    item = make_item("MILK-1L", gtin=GTIN_13, name="Whole milk 1 l")
    item.barcodes.append(ItemBarcode(barcode=CASE_OF_6, quantity=6))
    session.flush()

    response = api_client.get("/api/v1/items", query={"sku": "MILK-1L"})

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    (listed,) = response.json["items"]
    assert listed["id"] == item.id
    assert listed["name"] == "Whole milk 1 l"
    assert listed["temperature"] == "ambient"
    assert sorted(listed["barcodes"], key=lambda b: b["quantity"]) == [
        {"barcode": GTIN_13, "quantity": 1},
        {"barcode": CASE_OF_6, "quantity": 6},
    ]
    assert response.json["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"sku": "MILK-1L"}, ["MILK-1L"]),
        ({"gtin": GTIN_13}, ["MILK-1L"]),
        ({"q": "yoghurt"}, ["YOG-500"]),
        ({"q": "milk"}, ["MILK-1L", "MILK-CHOC"]),
        ({"temperature": "frozen"}, ["PEAS-1KG"]),
        ({"q": "milk", "temperature": "chilled"}, ["MILK-CHOC"]),
        ({"sku": "NOPE"}, []),
    ],
)
def test_items_are_filtered_by_sku_barcode_name_and_temperature(
    api_client, make_item, query, expected
):
    make_item("MILK-1L", gtin=GTIN_13, name="Whole milk 1 l")
    make_item("MILK-CHOC", name="Chocolate milk", temperature=Temperature.CHILLED)
    make_item("YOG-500", name="Greek Yoghurt 500 g", temperature=Temperature.CHILLED)
    make_item("PEAS-1KG", name="Garden peas", temperature=Temperature.FROZEN)

    response = api_client.get("/api/v1/items", query=query)

    assert response.status_code == 200
    assert sorted(item["sku"] for item in response.json["items"]) == expected


def test_paging_through_items_gives_every_item_exactly_once(api_client, session, make_item):
    for _ in range(23):
        make_item()

    rows = page_through(api_client, "/api/v1/items", limit=4)

    every = session.scalars(select(Item.id).order_by(Item.id)).all()
    assert len(every) >= 23
    assert ids(rows) == list(every)  # ascending, none twice, none missing


def test_a_page_holds_at_most_limit_rows_and_points_to_the_next(api_client, make_item):
    for _ in range(5):
        make_item()

    first = api_client.get("/api/v1/items", query={"limit": 2}).json
    second = api_client.get(
        "/api/v1/items", query={"limit": 2, "cursor": first["next_cursor"]}
    ).json

    assert len(first["items"]) == len(second["items"]) == 2
    assert first["next_cursor"] is not None
    assert ids(first["items"])[-1] < ids(second["items"])[0]


@pytest.mark.parametrize("limit", [0, 501, "ten"])
def test_a_limit_outside_1_to_500_is_refused_naming_limit(api_client, problem, limit):
    problem(api_client.get("/api/v1/items", query={"limit": limit}), 422, field="limit")


def test_an_item_is_read_by_its_id(api_client, make_item):
    item = make_item("MILK-1L", gtin=GTIN_13)

    response = api_client.get(f"/api/v1/items/{item.id}")

    assert response.status_code == 200
    assert (response.json["id"], response.json["sku"]) == (item.id, "MILK-1L")
    assert response.json["barcodes"] == [{"barcode": GTIN_13, "quantity": 1}]


def test_an_unknown_item_id_is_a_404_problem(api_client, session, problem):
    unknown = (session.scalar(select(Item.id).order_by(Item.id.desc()).limit(1)) or 0) + 1000

    body = problem(api_client.get(f"/api/v1/items/{unknown}"), 404, type=NotFound)

    assert str(unknown) in body["detail"]


# --- scanning items ---------------------------------------------------------------------------


def test_scanning_a_gtin_13_finds_the_item_as_one_unit(api_client, make_item):
    item = make_item(gtin=GTIN_13)

    response = api_client.get(f"/api/v1/items/scan/{GTIN_13}")

    assert response.status_code == 200
    assert response.json["item"]["id"] == item.id
    assert response.json["units"] == 1
    assert (response.json["lot"], response.json["expiry"]) == (None, None)


def test_scanning_the_gs1_bracket_form_gives_the_lot_and_expiry(api_client, make_item):
    item = make_item(gtin=GTIN_13, lot_tracked=True, expiry_tracked=True)

    response = api_client.get(f"/api/v1/items/scan/(01)0{GTIN_13}(10)L42(17)261231")

    assert response.status_code == 200
    assert response.json["item"]["id"] == item.id
    assert response.json["lot"] == "L42"
    assert response.json["expiry"] == "2026-12-31"
    assert response.json["units"] == 1


def test_a_raw_gs1_code_with_a_separator_stand_in_is_read(api_client, make_item):
    item = make_item(gtin=GTIN_13, lot_tracked=True)

    response = api_client.get(
        f"/api/v1/items/scan/010{GTIN_13}10L42~17261231", query={"separator": "~"}
    )

    assert response.status_code == 200
    assert (response.json["item"]["id"], response.json["lot"]) == (item.id, "L42")
    assert response.json["expiry"] == "2026-12-31"


def test_scanning_a_case_gtin_14_counts_the_pack_size(api_client, session, make_item):
    item = make_item(gtin=GTIN_13)
    item.barcodes.append(ItemBarcode(barcode=CASE_OF_6, quantity=6))
    session.flush()

    response = api_client.get(f"/api/v1/items/scan/{CASE_OF_6}")

    assert response.status_code == 200
    assert (response.json["item"]["id"], response.json["units"]) == (item.id, 6)


@pytest.mark.parametrize("scanned", [valid("871234567891"), "BAKERY-0042"])
def test_an_unknown_barcode_is_a_404_naming_the_scanned_value(
    api_client, make_item, problem, scanned
):
    make_item(gtin=GTIN_13)

    body = problem(api_client.get(f"/api/v1/items/scan/{scanned}"), 404, field="scan")

    assert scanned in body["detail"]


@pytest.mark.parametrize(
    ("scanned", "names"),
    [
        (f"(01)0{WRONG_CHECK_DIGIT}(10)L1", "(01)"),
        (WRONG_CHECK_DIGIT, "check digit"),
        (f"(01)0{GTIN_13}(10)L1(17)261331", "(17)"),
        (f"(01)0{GTIN_13}(17)261301", "(17)"),
    ],
    ids=["bracketed-check-digit", "bare-check-digit", "day-31-of-month-13", "month-13"],
)
def test_a_malformed_gs1_code_is_a_422_naming_the_application_identifier(
    api_client, make_item, problem, scanned, names
):
    make_item(gtin=GTIN_13)

    body = problem(api_client.get(f"/api/v1/items/scan/{scanned}"), 422, field="scan")

    assert names in body["detail"]


def test_a_malformed_gs1_code_says_which_check_digit_is_right(api_client, problem):
    body = problem(api_client.get(f"/api/v1/items/scan/(01)0{WRONG_CHECK_DIGIT}"), 422)

    assert f"should be {GTIN_13[-1]}" in body["detail"]


# --- slots ------------------------------------------------------------------------------------


@pytest.fixture
def slots(make_site, make_zone, make_slot, site):
    """Slots of two sites: a pick face, a locked reserve, a flagged reserve, a dock."""
    other = make_zone(site=make_site())
    return {
        "face": make_slot("A-01-01", kind=SlotKind.PICK_FACE),
        "locked": make_slot("A-01-02", kind=SlotKind.RESERVE, locked=True, lock_reason="broken"),
        "flagged": make_slot("A-01-03", kind=SlotKind.RESERVE, needs_count=True),
        "dock": make_slot("DOCK-1", kind=SlotKind.DOCK),
        "elsewhere": make_slot("B-01-01", zone=other, kind=SlotKind.PICK_FACE),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "reserve"}, ["locked", "flagged"]),
        ({"kind": "dock"}, ["dock"]),
        ({"barcode": "A-01-01"}, ["face"]),
        ({"locked": "true"}, ["locked"]),
        ({"needs_count": "true"}, ["flagged"]),
        ({"kind": "pick_face", "locked": "false"}, ["face"]),
    ],
)
def test_slots_are_filtered_by_kind_barcode_lock_and_count_flag(api_client, slots, query, expected):
    response = api_client.get("/api/v1/slots", query=query)

    assert response.status_code == 200
    assert sorted(ids(response.json["items"])) == sorted(slots[name].id for name in expected)


def test_slots_are_filtered_by_site(api_client, slots, site):
    rows = page_through(api_client, "/api/v1/slots", site_id=site.id, limit=2)

    assert {row["site_id"] for row in rows} == {site.id}
    assert slots["elsewhere"].id not in ids(rows)
    assert {slots[n].id for n in ("face", "locked", "flagged", "dock")} <= set(ids(rows))


def test_paging_through_slots_gives_every_slot_of_the_site_exactly_once(
    api_client, session, slots, site
):
    rows = page_through(api_client, "/api/v1/slots", limit=2)

    mine = select(Slot.id).where(Slot.site_id == site.id).order_by(Slot.id)
    assert ids(rows) == list(session.scalars(mine))
    assert slots["elsewhere"].id not in ids(rows)


def test_a_slot_reads_its_lock_and_count_flags(api_client, slots):
    response = api_client.get(f"/api/v1/slots/{slots['locked'].id}")

    assert response.status_code == 200
    assert response.json["barcode"] == "A-01-02"
    assert (response.json["locked"], response.json["lock_reason"]) == (True, "broken")
    assert response.json["kind"] == "reserve"


def test_an_unknown_slot_id_is_a_404_problem(api_client, slots, problem):
    problem(api_client.get(f"/api/v1/slots/{slots['elsewhere'].id + 1000}"), 404)


def test_scanning_a_slot_label_finds_the_slot(api_client, slots):
    response = api_client.get("/api/v1/slots/scan/A-01-03")

    assert response.status_code == 200
    assert response.json["id"] == slots["flagged"].id


def test_scanning_an_unknown_slot_label_is_a_404_naming_it(api_client, slots, problem):
    body = problem(api_client.get("/api/v1/slots/scan/Z-99-99"), 404, field="scan")

    assert "Z-99-99" in body["detail"]


# --- stock ------------------------------------------------------------------------------------


@pytest.fixture
def rows(session, make_site, make_zone, make_slot, make_item, make_stock):
    """Stock of fresh milk in two lots, rice, an emptied row and milk at another site."""
    milk = make_item("MILK-1L", lot_tracked=True, expiry_tracked=True)
    rice = make_item("RICE-1KG")
    face, reserve = make_slot(), make_slot(kind=SlotKind.RESERVE)
    early = make_stock(item=milk, slot=face, qty=4, lot="L1", expiry=dt.date(2030, 1, 10))
    late = make_stock(item=milk, slot=reserve, qty=6, lot="L2", expiry=dt.date(2030, 2, 10))
    rice_row = make_stock(item=rice, slot=reserve, qty=9)
    empty = Stock(slot_id=face.id, item_id=rice.id, lot="", on_hand=0, reserved=0)
    session.add(empty)
    session.flush()
    away = make_slot(zone=make_zone(site=make_site()))
    elsewhere = make_stock(item=milk, slot=away, qty=3, lot="L1", expiry=dt.date(2030, 1, 10))
    return {
        "milk": milk,
        "rice": rice,
        "face": face,
        "reserve": reserve,
        "early": early,
        "late": late,
        "rice_row": rice_row,
        "empty": empty,
        "elsewhere": elsewhere,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"item": "milk"}, ["early", "late"]),
        ({"slot": "reserve"}, ["late", "rice_row"]),
        ({"lot": "L1"}, ["early"]),
        ({"expiry_before": "2030-02-01"}, ["early"]),
        ({"item": "milk", "expiry_before": "2030-12-31", "lot": "L2"}, ["late"]),
        ({"slot": "face"}, ["early"]),
        ({"slot": "face", "include_empty": "true"}, ["early", "empty"]),
    ],
)
def test_stock_is_filtered_by_item_slot_lot_and_expiry(api_client, rows, query, expected):
    args = {k: v for k, v in query.items() if k not in ("item", "slot")}
    if "item" in query:
        args["item_id"] = rows[query["item"]].id
    if "slot" in query:
        args["slot_id"] = rows[query["slot"]].id

    response = api_client.get("/api/v1/stock", query=args)

    assert response.status_code == 200
    assert sorted(ids(response.json["items"])) == sorted(rows[name].id for name in expected)


def test_a_token_reads_the_stock_of_its_own_sites_only(api_client, rows, make_api_token):
    """The milk at the other site is invisible to the default site's token; an admin sees it."""
    mine = api_client.get("/api/v1/stock", query={"item_id": rows["milk"].id})
    assert rows["elsewhere"].id not in ids(mine.json["items"])

    admin = api_client.as_token(make_api_token(TokenRole.ADMIN, sites=[]))
    everything = admin.get("/api/v1/stock", query={"item_id": rows["milk"].id})
    assert rows["elsewhere"].id in ids(everything.json["items"])


def test_stock_is_filtered_by_site(api_client, rows, site):
    response = api_client.get("/api/v1/stock", query={"site_id": site.id})

    assert sorted(ids(response.json["items"])) == sorted(
        rows[name].id for name in ("early", "late", "rice_row")
    )


def test_empty_stock_rows_are_left_out_unless_asked_for(api_client, rows):
    without = page_through(api_client, "/api/v1/stock", limit=2)
    with_empty = page_through(api_client, "/api/v1/stock", limit=2, include_empty="true")

    assert rows["empty"].id not in ids(without)
    assert rows["empty"].id in ids(with_empty)
    assert all(row["on_hand"] > 0 for row in without)
    assert len(set(ids(with_empty))) == len(with_empty)


def test_a_stock_row_shows_its_balances_slot_item_lot_and_expiry(api_client, rows):
    response = api_client.get("/api/v1/stock", query={"slot_id": rows["face"].id})

    (row,) = response.json["items"]
    assert row["id"] == rows["early"].id
    assert (row["on_hand"], row["reserved"], row["available"]) == (4, 0, 4)
    assert (row["sku"], row["lot"], row["expiry"]) == ("MILK-1L", "L1", "2030-01-10")
    assert row["slot_barcode"] == rows["face"].barcode


# --- movements --------------------------------------------------------------------------------


def test_the_ledger_is_read_newest_first_across_pages(api_client, session, make_stock):
    for _ in range(7):
        make_stock(qty=2)

    listed = page_through(api_client, "/api/v1/movements", limit=3)

    every = session.scalars(select(Movement.id).order_by(Movement.id.desc())).all()
    assert ids(listed) == list(every)


def test_a_move_shows_as_two_movements_linked_by_one_operation_id(
    api_client, make_stock, make_slot
):
    source = make_stock(qty=10)
    target = make_slot(kind=SlotKind.RESERVE)
    moved = api_client.post(
        "/api/v1/moves",
        {
            "from_slot_id": source.slot_id,
            "to_slot_id": target.id,
            "item_id": source.item_id,
            "quantity": 4,
        },
    )
    assert moved.status_code == 201, moved.get_data(as_text=True)
    operation_id = moved.json["operation_id"]

    response = api_client.get("/api/v1/movements", query={"operation_id": operation_id})

    listed = response.json["items"]
    assert sorted((m["slot_id"], m["quantity"]) for m in listed) == sorted(
        [(source.slot_id, -4), (target.id, 4)]
    )
    assert {m["kind"] for m in listed} == {"move"}
    assert {m["operation_id"] for m in listed} == {operation_id}
    assert {m["item_id"] for m in listed} == {source.item_id}


def test_movements_are_filtered_by_kind_item_slot_and_stock_row(api_client, make_stock, make_slot):
    first = make_stock(qty=10)
    second = make_stock(qty=5)
    target = make_slot(kind=SlotKind.RESERVE)
    api_client.post(
        "/api/v1/moves",
        {
            "from_slot_id": first.slot_id,
            "to_slot_id": target.id,
            "item_id": first.item_id,
            "quantity": 3,
        },
    )

    receipts = api_client.get("/api/v1/movements", query={"kind": "receipt"}).json["items"]
    moves = api_client.get("/api/v1/movements", query={"kind": "move"}).json["items"]
    of_item = api_client.get("/api/v1/movements", query={"item_id": second.item_id}).json
    in_slot = api_client.get("/api/v1/movements", query={"slot_id": target.id}).json
    of_row = api_client.get("/api/v1/movements", query={"stock_id": first.id}).json

    assert {m["kind"] for m in receipts} == {"receipt"}
    assert {m["stock_id"] for m in receipts} >= {first.id, second.id}
    assert sorted(m["quantity"] for m in moves) == [-3, 3]
    assert [(m["stock_id"], m["quantity"]) for m in of_item["items"]] == [(second.id, 5)]
    assert [(m["kind"], m["quantity"]) for m in in_slot["items"]] == [("move", 3)]
    assert [(m["kind"], m["quantity"]) for m in of_row["items"]] == [("move", -3), ("receipt", 10)]


def test_movements_are_filtered_by_time(api_client, session, make_stock):
    stock = make_stock(qty=2)
    movement = session.scalars(select(Movement).where(Movement.stock_id == stock.id)).one()
    at = movement.created_at

    since = api_client.get(
        "/api/v1/movements", query={"stock_id": stock.id, "since": at.isoformat()}
    ).json["items"]
    until = api_client.get(
        "/api/v1/movements", query={"stock_id": stock.id, "until": at.isoformat()}
    ).json["items"]

    assert ids(since) == [movement.id]
    assert until == []


def test_an_unknown_movement_kind_is_refused_naming_kind(api_client, problem):
    problem(api_client.get("/api/v1/movements", query={"kind": "teleport"}), 422, field="kind")


def test_a_naive_time_is_refused_naming_the_parameter(api_client, problem):
    response = api_client.get("/api/v1/movements", query={"since": "2030-01-01T00:00:00"})

    problem(response, 422, field="since")


# --- bad queries and missing credentials --------------------------------------------------------


GARBAGE_CURSORS = [
    "",  # an empty cursor is none this API gave out (leave it out for the first page)
    "garbage!!",
    base64.urlsafe_b64encode(b"foo").decode(),
    base64.urlsafe_b64encode(b"id:").decode(),
    base64.urlsafe_b64encode(b"id:12abc").decode(),
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
]


@pytest.mark.parametrize("path", [*LIST_ENDPOINTS, "/api/v1/allocations", "/api/v1/putaway-tasks"])
@pytest.mark.parametrize("cursor", GARBAGE_CURSORS)
def test_a_cursor_this_api_never_gave_out_is_a_422_naming_cursor(api_client, problem, path, cursor):
    problem(api_client.get(path, query={"cursor": cursor}), 422, field="cursor")


def test_a_cursor_with_an_absurd_id_is_a_422_naming_cursor(api_client, problem):
    cursor = base64.urlsafe_b64encode(b"id:99999999999999999999999").decode()

    problem(api_client.get("/api/v1/items", query={"cursor": cursor}), 422, field="cursor")


@pytest.mark.parametrize(
    "path", ["/api/v1/stock?item_id=99999999999999999999", "/api/v1/items/99999999999999999999"]
)
def test_an_id_beyond_any_row_is_never_a_server_error(api_client, path):
    response = api_client.get(path)

    assert response.status_code in (200, 404, 422), response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/items", "skuu"),
        ("/api/v1/slots", "zone"),
        ("/api/v1/stock", "expires_before"),
        ("/api/v1/movements", "type"),
    ],
)
def test_an_unknown_query_parameter_is_a_422_naming_it(api_client, problem, path, parameter):
    body = problem(api_client.get(path, query={parameter: "1"}), 422, field=parameter)

    assert parameter in body["errors"]


@pytest.mark.parametrize(
    "path",
    [
        *LIST_ENDPOINTS,
        "/api/v1/items/1",
        f"/api/v1/items/scan/{GTIN_13}",
        "/api/v1/slots/1",
        "/api/v1/slots/scan/A-01-01",
    ],
)
def test_reading_without_a_token_is_a_401_problem_with_a_bearer_challenge(client, problem, path):
    response = client.get(path)

    problem(response, 401, type=Unauthorized)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_is_a_401_saying_the_token_is_invalid(client, problem):
    response = client.get("/api/v1/items", headers={"Authorization": "Bearer fwt_nope_nope"})

    problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_kinds_of_movement_are_the_ledgers_vocabulary(api_client):
    document = api_client.get("/api/v1/openapi.json").json
    parameters = document["paths"]["/api/v1/movements"]["get"]["parameters"]

    (kind,) = [p for p in parameters if p["name"] == "kind"]
    assert set(kind["schema"]["enum"]) == {k.value for k in MovementKind}

"""What the handheld pages ask of the API: receipts by number, receiving by the scanned
barcode, and the putaway task for an item scanned at the dock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from wms.models import ItemBarcode, Movement, SlotKind, Task, TaskKind

GTIN = "08712345678906"
CASE_GTIN = "18712345678903"


@pytest.fixture
def dock(make_slot):
    return make_slot("DOCK-1", kind=SlotKind.DOCK, aisle=90, bay=1)


@pytest.fixture
def yoghurt(session, make_item):
    item = make_item("YOG-500", gtin=GTIN, lot_tracked=True, expiry_tracked=True)
    item.barcodes.append(ItemBarcode(barcode=CASE_GTIN, quantity=12))
    session.flush()
    return item


@pytest.fixture
def receipt(api_client, site, dock, yoghurt) -> dict[str, Any]:
    answer = api_client.post(
        "/api/v1/receipts",
        {
            "site_id": site.id,
            "dock_slot_id": dock.id,
            "kind": "asn",
            "number": "DN-4711",
            "lines": [
                {
                    "item_id": yoghurt.id,
                    "quantity": 24,
                    "lot": "L7",
                    "expiry": (dt.date.today() + dt.timedelta(days=20)).isoformat(),
                }
            ],
        },
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.json


def movements(session) -> int:
    return int(session.scalar(select(func.count()).select_from(Movement)))


def gs1(gtin: str, lot: str, expiry: dt.date) -> str:
    return f"01{gtin}17{expiry:%y%m%d}10{lot}"


def test_a_receipt_is_found_by_the_number_on_its_delivery_note(api_client, receipt, site):
    found = api_client.get("/api/v1/receipts", query={"number": "DN-4711", "site_id": site.id})
    missing = api_client.get("/api/v1/receipts", query={"number": "DN-0000"})

    assert [r["id"] for r in found.json["items"]] == [receipt["id"]]
    assert missing.json["items"] == []


def test_a_scanned_gs1_code_receives_its_lot_and_expiry(api_client, session, receipt, yoghurt):
    expiry = dt.date.today() + dt.timedelta(days=20)

    answer = api_client.post(
        f"/api/v1/receipts/{receipt['id']}/scanned-lines",
        {"scan": gs1(GTIN, "L7", expiry), "quantity": 5},
    )

    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert (answer.json["item_id"], answer.json["lot"]) == (yoghurt.id, "L7")
    assert (answer.json["expiry"], answer.json["received_qty"]) == (expiry.isoformat(), 5)
    assert answer.json["variance"] == -19


def test_a_case_barcode_receives_its_units_per_scan(api_client, receipt):
    expiry = dt.date.today() + dt.timedelta(days=20)

    answer = api_client.post(
        f"/api/v1/receipts/{receipt['id']}/scanned-lines",
        {"scan": gs1(CASE_GTIN, "L7", expiry), "quantity": 2},
    )

    assert answer.json["received_qty"] == 24
    assert answer.json["variance"] == 0


def test_the_wedge_stand_in_for_the_group_separator_is_understood(api_client, receipt):
    expiry = dt.date.today() + dt.timedelta(days=20)
    scan = f"01{GTIN}10L7~17{expiry:%y%m%d}"  # lot is variable-length: ended by the stand-in

    answer = api_client.post(
        f"/api/v1/receipts/{receipt['id']}/scanned-lines",
        {"scan": scan, "quantity": 1, "separator": "~"},
    )

    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.json["lot"] == "L7"


@pytest.mark.parametrize(
    ("scan", "quantity", "field"),
    [
        ("08712345678913", 1, "scan"),  # a bad check digit
        ("00000000000000000017", 1, "scan"),  # no such item
        (GTIN, 1, "lot"),  # a lot-tracked item scanned without its lot
        (GTIN, 0, "quantity"),
        (f"01{CASE_GTIN}10L7", 2**31 - 1, "quantity"),  # more units than a line holds
    ],
)
def test_a_bad_scan_is_a_422_naming_it_and_receives_nothing(
    api_client, session, problem, receipt, scan, quantity, field
):
    before = movements(session)

    answer = api_client.post(
        f"/api/v1/receipts/{receipt['id']}/scanned-lines", {"scan": scan, "quantity": quantity}
    )

    problem(answer, 422, field=field)
    assert movements(session) == before


def test_an_item_scanned_at_the_dock_gets_one_putaway_task(
    api_client, session, site, receipt, make_slot
):
    make_slot("A-01-01", aisle=1, bay=1, kind=SlotKind.RESERVE)
    expiry = dt.date.today() + dt.timedelta(days=20)
    api_client.post(
        f"/api/v1/receipts/{receipt['id']}/scanned-lines",
        {"scan": gs1(GTIN, "L7", expiry), "quantity": 6},
    )

    first = api_client.post("/api/v1/putaway-tasks/for-scan", {"site_id": site.id, "scan": GTIN})
    again = api_client.post("/api/v1/putaway-tasks/for-scan", {"site_id": site.id, "scan": GTIN})

    assert first.status_code == 200, first.get_data(as_text=True)
    task = first.json
    assert (task["kind"], task["quantity"], task["lot"]) == ("putaway", 6, "L7")
    assert (task["from_slot_barcode"], task["to_slot_barcode"]) == ("DOCK-1", "A-01-01")
    assert task["sku"] == "YOG-500"
    assert again.json["id"] == task["id"]
    assert (
        session.scalar(select(func.count()).select_from(Task).where(Task.kind == TaskKind.PUTAWAY))
        == 1
    )


def test_an_item_nothing_of_which_waits_at_a_dock_is_a_409(api_client, problem, site, yoghurt):
    answer = api_client.post("/api/v1/putaway-tasks/for-scan", {"site_id": site.id, "scan": GTIN})

    body = problem(answer, 409, field="scan")
    assert "YOG-500" in body["detail"]


def test_a_scan_naming_its_lot_is_put_away_from_that_lot_only(
    api_client, problem, session, site, receipt, make_slot
):
    make_slot("A-01-01", aisle=1, bay=1, kind=SlotKind.RESERVE)
    expiry = dt.date.today() + dt.timedelta(days=20)
    api_client.post(
        f"/api/v1/receipts/{receipt['id']}/scanned-lines",
        {"scan": gs1(GTIN, "L7", expiry), "quantity": 6},
    )

    other_lot = api_client.post(
        "/api/v1/putaway-tasks/for-scan", {"site_id": site.id, "scan": gs1(GTIN, "L8", expiry)}
    )
    same_lot = api_client.post(
        "/api/v1/putaway-tasks/for-scan", {"site_id": site.id, "scan": gs1(GTIN, "L7", expiry)}
    )

    problem(other_lot, 409, field="scan")
    assert (same_lot.json["lot"], same_lot.json["quantity"]) == ("L7", 6)


def test_an_unknown_barcode_for_putaway_is_a_422_naming_the_scan(api_client, problem, site):
    answer = api_client.post(
        "/api/v1/putaway-tasks/for-scan", {"site_id": site.id, "scan": "00000000000000000017"}
    )

    problem(answer, 422, field="scan")


def test_another_sites_putaway_is_refused(api_client, problem, make_site, yoghurt):
    other = make_site()

    answer = api_client.post("/api/v1/putaway-tasks/for-scan", {"site_id": other.id, "scan": GTIN})

    problem(answer, 403)


# --- counts left open on a handheld ------------------------------------------------------------


def test_a_counter_starting_again_on_their_open_count_carries_on(signed_in, make_slot):
    slot = make_slot("A-02-01", aisle=2, bay=1)
    counter = signed_in()

    first = counter.post("/api/v1/counts", {"slot_id": slot.id})
    again = counter.post("/api/v1/counts", {"slot_id": slot.id})
    someone_else = signed_in().post("/api/v1/counts", {"slot_id": slot.id})

    assert first.status_code == 201
    assert again.json["id"] == first.json["id"]
    assert someone_else.status_code == 409


def test_a_counter_cancels_their_own_count_and_a_supervisor_anyones(signed_in, problem, make_slot):
    from wms.models import Role

    mine, theirs = make_slot("A-03-01", aisle=3, bay=1), make_slot("A-03-02", aisle=3, bay=2)
    counter, colleague = signed_in(), signed_in()
    my_count = counter.post("/api/v1/counts", {"slot_id": mine.id}).json
    their_count = colleague.post("/api/v1/counts", {"slot_id": theirs.id}).json

    cancelled = counter.post(f"/api/v1/counts/{my_count['id']}/cancel", {})
    refused = counter.post(f"/api/v1/counts/{their_count['id']}/cancel", {})
    by_supervisor = signed_in(Role.SUPERVISOR).post(
        f"/api/v1/counts/{their_count['id']}/cancel", {"reason": "slot emptied"}
    )

    assert cancelled.json["status"] == "cancelled"
    problem(refused, 409, field="count_id")
    assert by_supervisor.json["status"] == "cancelled"


@pytest.mark.parametrize("path", ["/api/v1/slots/scan/A%00B", "/api/v1/items/scan/0%0012"])
def test_a_scan_with_a_control_character_is_a_422_on_every_database(api_client, problem, path):
    problem(api_client.get(path), 422, field="scan")

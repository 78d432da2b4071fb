"""Labels over HTTP: slots, totes and parcels as PDF and ZPL."""

from __future__ import annotations

import pytest
from biip import parse
from sqlalchemy.orm import Session

from tests.api.conftest import ApiClient
from tests.integration.waves_fixtures import NOW, Warehouse, build_warehouse
from wms import labels, packing, picklists, waves


@pytest.fixture
def house(session: Session) -> Warehouse:
    return build_warehouse(session)


@pytest.fixture
def api(client, make_api_token, house) -> ApiClient:
    return ApiClient(client, {"Authorization": f"Bearer {make_api_token(sites=[house.site])}"})


def packed(session: Session, house: Warehouse):
    """An order picked and packed into one closed parcel; its pick list and package."""
    item = house.stocked()
    order = house.order([(item, 2)])
    wave = waves.plan_wave(session, house.site.id, settings=waves.WaveSettings(), now=NOW).wave
    waves.release_wave(session, wave.id, now=NOW)
    pick_list = picklists.take_next(session, house.site.id, user_id=None)
    (task,) = pick_list.tasks
    picklists.confirm_task(session, pick_list.id, task.id, quantity=2)
    package = packing.open_package(session, task.tote_code)
    packing.confirm_line(session, package.id, order_line_id=order.lines[0].id, quantity=2)
    return order, task, package


def test_a_slot_label_comes_as_pdf_or_zpl(api, house):
    slot = house.slot(2, 7, "R")

    pdf = api.get(f"/api/v1/labels/slots/{slot.id}")
    zpl = api.get(f"/api/v1/labels/slots/{slot.id}", query={"format": "zpl"})

    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and b"/Type /Page" in pdf.data
    assert zpl.status_code == 200 and zpl.mimetype == "application/vnd.zebra-zpl"
    text = zpl.get_data(as_text=True)
    assert text.startswith("^XA") and text.rstrip().endswith("^XZ")
    assert f"^BCN,240,N,N,N^FD{slot.barcode}^FS" in text
    assert "aisle 2 bay 7 R level 1" in text


def test_a_parcel_label_carries_its_sscc_as_gs1_128(api, house, session):
    order, _task, package = packed(session, house)
    packing.close(session, package.id)

    zpl = api.get(f"/api/v1/labels/packages/{package.id}", query={"format": "zpl"})
    pdf = api.get(f"/api/v1/labels/packages/{package.id}")

    text = zpl.get_data(as_text=True)
    assert f"^FD>;>800{package.sscc}^FS" in text  # FNC1, then AI (00) and the SSCC
    assert f"(00) {package.sscc}" in text and order.customer_name in text
    assert parse(f"00{package.sscc}").gs1_message is not None
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_an_open_parcel_has_no_label_yet(api, house, session, problem):
    _order, _task, package = packed(session, house)

    problem(api.get(f"/api/v1/labels/packages/{package.id}"), 422, field="package_id")


def test_a_tote_label_names_its_order(api, house, session):
    order, task, _package = packed(session, house)

    answer = api.get(f"/api/v1/labels/totes/{task.tote_code}", query={"format": "zpl"})

    assert answer.status_code == 200
    assert f"order {order.number}" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/labels/slots/2000000", 404),
        ("/api/v1/labels/totes/T999999-1", 422),
        ("/api/v1/labels/slots/1?format=png", 422),
    ],
)
def test_a_label_of_nothing_is_refused(api, path, status):
    answer = api.get(path)

    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"


def test_zpl_text_cannot_smuggle_commands():
    label = labels.Label("A^XZ~JR", ("caf\u00e9 _1",), "123", "123")

    text = labels.to_zpl([label])

    assert "A_5EXZ_7EJR" in text and "caf_E9 _5F1" in text
    assert text.count("^XZ") == 1

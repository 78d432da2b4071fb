"""Onboarding from CSV: every row validated first, every problem reported, all or nothing."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from biip.checksums import gs1_standard_check_digit
from sqlalchemy import func, select

from wms.imports import ImportRejected, RowError, import_items, import_slots
from wms.models import (
    Item,
    ItemBarcode,
    Slot,
    SlotKind,
    SlotSide,
    Temperature,
    VelocityClass,
    Zone,
)


def valid(payload: str) -> str:
    """The payload followed by its GS1 check digit."""
    return payload + str(gs1_standard_check_digit(payload))


def wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


MILK = valid("871234500001")
MILK_OTHER = valid("871234500002")
BREAD = valid("871234500003")
CASE_OF_MILK = valid("1" + MILK[:-1])


def csv_file(rows: list[dict[str, Any]], *, delimiter: str = ",") -> io.StringIO:
    """A CSV file whose header is the first row's keys."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    out.seek(0)
    return out


def item_row(sku: str = "MILK-1L", **overrides: Any) -> dict[str, Any]:
    row = {
        "sku": sku,
        "name": "Whole milk 1 l",
        "gtin": "",
        "length_mm": 70,
        "width_mm": 70,
        "height_mm": 200,
        "weight_g": 1040,
        "temperature": "chilled",
        "lot_tracked": "yes",
        "expiry_tracked": "yes",
        "shelf_life_days": 10,
        "velocity": "A",
    }
    return {**row, **overrides}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def item(session, sku: str) -> Item:
    return session.scalars(select(Item).where(Item.sku == sku)).one()


def rejected(call, *args: Any, **kwargs: Any) -> list[RowError]:
    with pytest.raises(ImportRejected) as caught:
        call(*args, **kwargs)
    assert caught.value.field == "file"
    return caught.value.errors


def cells(errors: list[RowError]) -> set[tuple[int, str]]:
    return {(error.row, error.column) for error in errors}


# --- items ----------------------------------------------------------------------------------


def test_a_valid_items_file_creates_every_item_with_its_gtins(session):
    report = import_items(
        session,
        csv_file(
            [
                item_row("MILK-1L", gtin=f"{MILK}|{MILK_OTHER}"),
                item_row(
                    "BREAD",
                    name="Sourdough",
                    gtin=BREAD,
                    temperature="ambient",
                    lot_tracked="no",
                    expiry_tracked="0",
                    shelf_life_days="",
                    velocity="",
                ),
            ]
        ),
    )

    assert (report.created, report.updated, report.unchanged, report.rows) == (2, 0, 0, 2)
    milk, bread = item(session, "MILK-1L"), item(session, "BREAD")
    assert {b.barcode for b in milk.barcodes} == {MILK, MILK_OTHER}
    assert all(b.quantity == 1 for b in milk.barcodes)
    assert (milk.temperature, milk.lot_tracked, milk.expiry_tracked) == (
        Temperature.CHILLED,
        True,
        True,
    )
    assert (milk.length_mm, milk.weight_g, milk.shelf_life_days, milk.velocity) == (
        70,
        1040,
        10,
        VelocityClass.A,
    )
    assert (bread.lot_tracked, bread.shelf_life_days, bread.velocity) == (
        False,
        None,
        VelocityClass.C,
    )


def test_reimporting_updates_changed_items_adds_gtins_and_leaves_the_rest(session):
    first = [item_row("MILK-1L", gtin=MILK), item_row("BREAD", gtin=BREAD), item_row("EGGS")]
    import_items(session, csv_file(first))

    second = [
        item_row("MILK-1L", gtin=MILK_OTHER, name="Milk 1 l"),
        item_row("BREAD", gtin=BREAD.zfill(14)),  # the same GTIN, spelled as GTIN-14
        item_row("EGGS", weight_g=700),
        item_row("BUTTER"),
    ]
    report = import_items(session, csv_file(second))

    assert (report.created, report.updated, report.unchanged) == (1, 2, 1)
    milk = item(session, "MILK-1L")
    assert milk.name == "Milk 1 l"
    assert {b.barcode for b in milk.barcodes} == {MILK, MILK_OTHER}
    assert [b.barcode for b in item(session, "BREAD").barcodes] == [BREAD]
    assert item(session, "EGGS").weight_g == 700


def test_an_optional_column_left_out_keeps_the_stored_value(session):
    import_items(session, csv_file([item_row("MILK-1L", velocity="A", shelf_life_days=9)]))
    without = {k: v for k, v in item_row("MILK-1L", name="Milk").items()}
    del without["velocity"], without["shelf_life_days"]

    import_items(session, csv_file([without]))

    milk = item(session, "MILK-1L")
    assert (milk.name, milk.velocity, milk.shelf_life_days) == ("Milk", VelocityClass.A, 9)


def test_a_semicolon_file_with_a_byte_order_mark_reads_like_a_comma_file(session):
    text = csv_file([item_row("MILK-1L", gtin=MILK)], delimiter=";").getvalue()

    report = import_items(session, io.BytesIO(b"\xef\xbb\xbf" + text.encode()))

    assert report.created == 1
    assert item(session, "MILK-1L").barcodes[0].barcode == MILK


def test_a_file_on_disk_is_read_by_its_path(session, tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(csv_file([item_row("MILK-1L")]).getvalue(), encoding="utf-8-sig")

    assert import_items(session, path).created == 1


def test_rows_may_be_given_as_mappings_numbered_as_if_under_a_header(session):
    errors = rejected(import_items, session, [item_row("MILK-1L"), item_row("BREAD", weight_g=0)])

    assert cells(errors) == {(3, "weight_g")}


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("sku", "", "required"),
        ("sku", "X" * 65, "longer than 64"),
        ("name", "", "required"),
        ("gtin", wrong(MILK), "check digit"),
        ("gtin", f"{BREAD}|{MILK[:-2]}", "digits"),
        ("gtin", CASE_OF_MILK, "case code"),
        ("length_mm", "0", "greater than zero"),
        ("width_mm", "-3", "greater than zero"),
        ("height_mm", "12.5", "whole number"),
        ("weight_g", "heavy", "whole number"),
        ("weight_g", str(2**31), "too large"),
        ("temperature", "warm", "ambient, chilled, frozen"),
        ("lot_tracked", "maybe", "true/false"),
        ("shelf_life_days", "0", "greater than zero"),
        ("velocity", "D", "A, B, C"),
    ],
)
def test_every_bad_item_cell_is_reported_with_its_row_and_column(session, column, value, reason):
    items_before = count(session, Item)
    bad = {**item_row("BAD"), column: value}

    errors = rejected(import_items, session, csv_file([item_row("GOOD"), bad]))

    assert cells(errors) == {(3, column)}
    assert reason in errors[0].reason
    assert count(session, Item) == items_before


def test_expiry_tracking_without_lot_tracking_is_refused_on_the_expiry_column(session):
    errors = rejected(
        import_items,
        session,
        csv_file([item_row("BAD", lot_tracked="false", expiry_tracked="true")]),
    )

    assert cells(errors) == {(2, "expiry_tracked")}


def test_a_sku_twice_in_the_file_is_reported_naming_both_rows(session):
    errors = rejected(
        import_items,
        session,
        csv_file([item_row("MILK-1L"), item_row("BREAD"), item_row("MILK-1L")]),
    )

    assert cells(errors) == {(4, "sku")}
    assert "row 2" in errors[0].reason


def test_a_gtin_on_two_rows_is_reported_naming_both_rows(session):
    errors = rejected(
        import_items,
        session,
        csv_file([item_row("MILK-1L", gtin=MILK), item_row("MILK-2L", gtin=MILK.zfill(14))]),
    )

    assert cells(errors) == {(3, "gtin")}
    assert "row 2" in errors[0].reason


def test_a_gtin_that_belongs_to_another_item_is_refused_in_any_spelling(session, make_item):
    make_item("OAT-MILK", gtin=MILK.zfill(14))

    errors = rejected(import_items, session, csv_file([item_row("MILK-1L", gtin=MILK)]))

    assert cells(errors) == {(2, "gtin")}
    assert "OAT-MILK" in errors[0].reason


def test_an_existing_item_cannot_take_the_gtin_of_another_item(session, make_item):
    make_item("OAT-MILK", gtin=MILK)
    make_item("MILK-1L", gtin=MILK_OTHER)

    errors = rejected(import_items, session, csv_file([item_row("MILK-1L", gtin=MILK)]))

    assert cells(errors) == {(2, "gtin")}
    assert "OAT-MILK" in errors[0].reason


def test_unknown_and_missing_headers_are_reported_on_row_1_naming_the_column(session):
    row = item_row(colour="white")
    del row["weight_g"]

    errors = rejected(import_items, session, csv_file([row]))

    assert cells(errors) == {(1, "colour"), (1, "weight_g")}


def test_every_problem_in_the_file_is_reported_not_just_the_first(session):
    rows = [
        item_row("A", length_mm="x", temperature="hot"),
        item_row("B"),
        item_row("C", gtin=wrong(BREAD)),
        item_row("A"),
    ]

    errors = rejected(import_items, session, csv_file(rows))

    assert cells(errors) == {(2, "length_mm"), (2, "temperature"), (4, "gtin"), (5, "sku")}
    assert [e.row for e in errors] == sorted(e.row for e in errors)


def test_one_bad_row_writes_nothing_not_even_the_updates_of_good_rows(session):
    import_items(session, csv_file([item_row("MILK-1L", name="Milk")]))
    before = (count(session, Item), count(session, ItemBarcode))

    rejected(
        import_items,
        session,
        csv_file(
            [
                item_row("MILK-1L", name="Renamed", gtin=MILK),
                item_row("NEW"),
                item_row("BAD", weight_g=0),
            ]
        ),
    )

    assert (count(session, Item), count(session, ItemBarcode)) == before
    assert item(session, "MILK-1L").name == "Milk"


def test_rows_are_numbered_as_a_spreadsheet_shows_them(session):
    text = (
        "sku,name,length_mm,width_mm,height_mm,weight_g,temperature,lot_tracked,expiry_tracked\n"
        'A,"Two-line\nname",1,1,1,1,ambient,no,no\n'  # row 2, one row despite the line break
        "\n"  # row 3, blank
        ",,,,,,,,\n"  # row 4, blank as spreadsheets export it
        "B,Bad,1,1,1,0,ambient,no,no\n"  # row 5
    )

    errors = rejected(import_items, session, io.StringIO(text))

    assert cells(errors) == {(5, "weight_g")}


def test_a_value_under_no_column_name_is_reported(session):
    text = csv_file([item_row("A")]).getvalue().replace("\r\n", ",extra\r\n", 2)
    text = text.replace(",extra\r\n", "\r\n", 1)  # the header keeps its columns

    errors = rejected(import_items, session, io.StringIO(text))

    assert cells(errors) == {(2, "")}


def test_a_file_that_is_not_utf8_is_refused_naming_its_row(session):
    text = csv_file([item_row("A"), item_row("CAFÉ")]).getvalue()

    errors = rejected(import_items, session, io.BytesIO(text.encode("cp1252")))

    assert cells(errors) == {(3, "")}
    assert "UTF-8" in errors[0].reason


def test_an_empty_file_is_refused(session):
    assert cells(rejected(import_items, session, io.StringIO(""))) == {(1, "")}


def test_a_dry_run_counts_what_would_change_and_writes_nothing(session):
    import_items(session, csv_file([item_row("MILK-1L")]))
    before = count(session, Item)

    report = import_items(
        session,
        csv_file([item_row("MILK-1L", name="Renamed"), item_row("BREAD")]),
        dry_run=True,
    )

    assert (report.created, report.updated, report.dry_run) == (1, 1, True)
    assert count(session, Item) == before
    assert item(session, "MILK-1L").name == "Whole milk 1 l"


# --- slots ----------------------------------------------------------------------------------


@pytest.fixture
def site(make_site, make_zone):
    site = make_site("FW01")
    make_zone(site=site, temperature=Temperature.AMBIENT)
    make_zone(site=site, temperature=Temperature.CHILLED)
    return site


def slot_row(barcode: str = "FW01-01-01L-1", **overrides: Any) -> dict[str, Any]:
    row = {
        "site": "FW01",
        "zone": "AMBIENT",
        "barcode": barcode,
        "kind": "reserve",
        "block": 1,
        "aisle": 1,
        "bay": 1,
        "side": "L",
        "level": 1,
        "volume_cm3": 96000,
        "max_weight_g": 50000,
        "item": "",
        "min_qty": "",
        "max_qty": "",
    }
    return {**row, **overrides}


def slot(session, barcode: str) -> Slot:
    return session.scalars(select(Slot).where(Slot.barcode == barcode)).one()


def test_a_valid_slots_file_creates_every_slot(session, site, make_item):
    milk = make_item("MILK-1L", temperature=Temperature.CHILLED)

    report = import_slots(
        session,
        csv_file(
            [
                slot_row(
                    "FW01-09-01L-1",
                    zone="CHILLED",
                    kind="pick_face",
                    aisle=9,
                    item="MILK-1L",
                    min_qty=4,
                    max_qty=24,
                ),
                slot_row("FW01-01-01L-3", level=3),
                slot_row(
                    "FW01-DOCK-1",
                    kind="dock",
                    block="",
                    aisle="",
                    bay="",
                    side="",
                    level="",
                    volume_cm3="",
                    max_weight_g="",
                ),
            ]
        ),
    )

    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    face = slot(session, "FW01-09-01L-1")
    assert (face.kind, face.site_id, face.aisle, face.side, face.item_id) == (
        SlotKind.PICK_FACE,
        site.id,
        9,
        SlotSide.LEFT,
        milk.id,
    )
    assert (face.min_qty, face.max_qty, face.zone.code) == (4, 24, "CHILLED")
    dock = slot(session, "FW01-DOCK-1")
    assert (dock.kind, dock.aisle, dock.level, dock.volume_cm3) == (SlotKind.DOCK, None, None, None)


def test_reimporting_slots_updates_them_by_barcode(session, site):
    import_slots(session, csv_file([slot_row("A", level=1), slot_row("B", level=2)]))

    report = import_slots(
        session, csv_file([slot_row("A", level=1), slot_row("B", level=2, volume_cm3=1000)])
    )

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert slot(session, "B").volume_cm3 == 1000


def test_two_slots_can_swap_places_in_one_import(session, site):
    import_slots(session, csv_file([slot_row("A", level=1), slot_row("B", level=2)]))

    import_slots(session, csv_file([slot_row("A", level=2), slot_row("B", level=1)]))

    assert (slot(session, "A").level, slot(session, "B").level) == (2, 1)


def test_an_optional_slot_column_left_out_keeps_the_stored_value(session, site):
    import_slots(session, csv_file([slot_row("A", volume_cm3=5000)]))
    row = slot_row("A", max_weight_g=900)
    del row["volume_cm3"]

    import_slots(session, csv_file([row]))

    assert (slot(session, "A").volume_cm3, slot(session, "A").max_weight_g) == (5000, 900)


@pytest.mark.parametrize(
    ("overrides", "column", "reason"),
    [
        ({"site": "XX99"}, "site", "XX99"),
        ({"zone": "FROZEN"}, "zone", "FROZEN"),
        ({"barcode": ""}, "barcode", "required"),
        ({"kind": "shelf"}, "kind", "pick_face"),
        ({"side": "X"}, "side", "L, R"),
        ({"level": "0"}, "level", "greater than zero"),
        ({"level": ""}, "level", "needs a level"),
        ({"block": ""}, "block", "needs a block"),
        ({"volume_cm3": "-1"}, "volume_cm3", "greater than zero"),
        ({"max_weight_g": "a lot"}, "max_weight_g", "whole number"),
        ({"min_qty": "2"}, "min_qty", "only pick faces"),
        ({"max_qty": "8"}, "max_qty", "only pick faces"),
        ({"item": "MILK-1L"}, "item", "only pick faces"),
        ({"kind": "pick_face", "item": "NO-SUCH"}, "item", "NO-SUCH"),
        ({"kind": "pick_face", "min_qty": "9", "max_qty": "3"}, "min_qty", "above max_qty"),
        ({"kind": "pick_face", "min_qty": "-1"}, "min_qty", "at least 0"),
        ({"kind": "pick_face", "max_qty": "0"}, "max_qty", "greater than zero"),
        ({"kind": "pick_face", "item": "FROZEN-PEAS"}, "item", "frozen"),
    ],
)
def test_every_bad_slot_cell_is_reported_with_its_row_and_column(
    session, site, make_item, overrides, column, reason
):
    make_item("MILK-1L")
    make_item("FROZEN-PEAS", temperature=Temperature.FROZEN)
    slots_before = count(session, Slot)

    errors = rejected(
        import_slots,
        session,
        csv_file([slot_row("GOOD", level=1), {**slot_row("BAD", level=2), **overrides}]),
    )

    assert cells(errors) == {(3, column)}
    assert reason in errors[0].reason
    assert count(session, Slot) == slots_before


def test_a_barcode_twice_in_the_file_is_reported_naming_both_rows(session, site):
    errors = rejected(
        import_slots,
        session,
        csv_file([slot_row("A", level=1), slot_row("B", level=2), slot_row("A", level=3)]),
    )

    assert cells(errors) == {(4, "barcode")}
    assert "row 2" in errors[0].reason


def test_two_rows_in_one_position_are_reported_naming_both_rows(session, site):
    errors = rejected(
        import_slots,
        session,
        csv_file([slot_row("A", bay=4), slot_row("B", bay=5), slot_row("C", bay=4)]),
    )

    assert cells(errors) == {(4, "aisle/bay/side/level")}
    assert "row 2" in errors[0].reason


def test_a_position_a_stored_slot_holds_is_refused_naming_that_slot(session, site, make_slot):
    zone = session.scalars(select(Zone).where(Zone.site_id == site.id)).first()
    make_slot("STORED", zone=zone, aisle=3, bay=7, level=2)  # side L

    errors = rejected(import_slots, session, csv_file([slot_row("NEW", aisle=3, bay=7, level=2)]))

    assert cells(errors) == {(2, "aisle/bay/side/level")}
    assert "STORED" in errors[0].reason


def test_slots_without_a_rack_position_never_clash(session, site):
    dock = {"kind": "dock", "aisle": "", "bay": "", "side": "", "level": ""}

    report = import_slots(session, csv_file([slot_row("D1", **dock), slot_row("D2", **dock)]))

    assert report.created == 2


def test_a_slot_cannot_move_to_another_site(session, site, make_site, make_zone):
    other = make_site("FW02")
    make_zone(site=other, temperature=Temperature.AMBIENT)
    import_slots(session, csv_file([slot_row("A")]))

    errors = rejected(import_slots, session, csv_file([slot_row("A", site="FW02")]))

    assert cells(errors) == {(2, "site")}


def test_one_bad_slot_row_writes_nothing(session, site):
    import_slots(session, csv_file([slot_row("A", level=1, volume_cm3=100)]))
    before = count(session, Slot)

    rejected(
        import_slots,
        session,
        csv_file(
            [
                slot_row("A", level=1, volume_cm3=200),
                slot_row("B", level=2),
                slot_row("C", site="XX"),
            ]
        ),
    )

    assert count(session, Slot) == before
    assert slot(session, "A").volume_cm3 == 100


def test_a_slots_dry_run_writes_nothing(session, site):
    report = import_slots(session, csv_file([slot_row("A")]), dry_run=True)

    assert (report.created, report.dry_run) == (1, True)
    assert count(session, Slot) == 0

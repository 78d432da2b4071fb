"""Finding what a scan names: items by any spelling of their GTIN, pack sizes, slots."""

from __future__ import annotations

import pytest
from biip.checksums import gs1_standard_check_digit

from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import ItemBarcode
from wms.scanning import GS, find_item, find_slot, parse_scan


def valid(payload: str) -> str:
    """The payload followed by its GS1 check digit."""
    return payload + str(gs1_standard_check_digit(payload))


GTIN_13 = valid("871234567890")
GTIN_12 = valid("03600029145")
CASE_OF_6 = valid("1" + GTIN_13[:-1])  # GTIN-14 of the case around GTIN_13
SSCC = valid("38712345000000001")


def test_a_gs1_code_finds_an_item_stored_by_its_gtin_13(session, make_item):
    item = make_item(gtin=GTIN_13)

    found, units = find_item(session, parse_scan(f"]C101{GTIN_13.zfill(14)}10L1{GS}17261231"))

    assert (found.id, units) == (item.id, 1)


def test_a_bare_gtin_13_finds_an_item_stored_by_its_gtin_14(session, make_item):
    item = make_item(gtin=GTIN_13.zfill(14))

    found, units = find_item(session, parse_scan(GTIN_13))

    assert (found.id, units) == (item.id, 1)


def test_a_upc_a_finds_an_item_stored_as_an_ean_13(session, make_item):
    item = make_item(gtin=GTIN_12.zfill(13))

    found, _ = find_item(session, parse_scan(GTIN_12))

    assert found.id == item.id


def test_a_case_gtin_14_stands_for_six_units(session, make_item):
    item = make_item(gtin=GTIN_13)
    item.barcodes.append(ItemBarcode(barcode=CASE_OF_6, quantity=6))
    session.flush()

    found, units = find_item(session, parse_scan(CASE_OF_6))

    assert (found.id, units) == (item.id, 6)


def test_the_count_on_a_pallet_label_multiplies_the_pack_size(session, make_item):
    item = make_item(gtin=GTIN_13)
    item.barcodes.append(ItemBarcode(barcode=CASE_OF_6, quantity=6))
    session.flush()

    found, units = find_item(session, parse_scan(f"00{SSCC}02{CASE_OF_6}3740{GS}10L1"))

    assert (found.id, units) == (item.id, 6 * 40)


def test_an_internal_item_code_finds_its_item(session, make_item):
    item = make_item(gtin="BAKERY-0042")

    found, units = find_item(session, parse_scan("BAKERY-0042"))

    assert (found.id, units) == (item.id, 1)


def test_an_unknown_gtin_is_not_found_and_the_error_names_it(session, make_item):
    make_item(gtin=GTIN_13)
    unknown = valid("871234567891")

    with pytest.raises(NotFound) as caught:
        find_item(session, parse_scan(unknown))

    assert caught.value.field == "scan"
    assert unknown in caught.value.message


def test_an_unknown_internal_code_is_not_found_and_the_error_names_it(session, make_item):
    make_item(gtin=GTIN_13)

    with pytest.raises(NotFound) as caught:
        find_item(session, parse_scan("NO-SUCH-CODE"))

    assert "NO-SUCH-CODE" in caught.value.message


def test_a_pallet_label_without_an_item_is_not_an_item_barcode(session, make_item):
    make_item(gtin=GTIN_13)

    with pytest.raises(RuleViolation) as caught:
        find_item(session, parse_scan(SSCC))

    assert caught.value.field == "scan"
    assert SSCC in caught.value.message


def test_one_gtin_stored_in_two_spellings_for_two_items_is_a_conflict(session, make_item):
    first = make_item(gtin=GTIN_13)
    second = make_item(gtin=GTIN_13.zfill(14))

    with pytest.raises(Conflict) as caught:
        find_item(session, parse_scan(GTIN_13))

    assert first.sku in caught.value.message
    assert second.sku in caught.value.message


# --- slots ----------------------------------------------------------------------------------


def test_a_slot_is_found_by_its_label(session, make_slot):
    slot = make_slot("FW01-03-14L-2")
    make_slot("FW01-03-14L-3")

    assert find_slot(session, "FW01-03-14L-2").id == slot.id


def test_a_slot_label_is_found_behind_a_symbology_identifier(session, make_slot):
    slot = make_slot("FW01-03-14L-2")

    assert find_slot(session, "]C0FW01-03-14L-2\r\n").id == slot.id


def test_an_unknown_slot_label_is_not_found_and_the_error_names_it(session, make_slot):
    make_slot("FW01-03-14L-2")

    with pytest.raises(NotFound) as caught:
        find_slot(session, "FW01-99-99L-9")

    assert caught.value.field == "scan"
    assert "FW01-99-99L-9" in caught.value.message

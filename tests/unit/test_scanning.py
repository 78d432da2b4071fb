"""Reading raw scans: GTINs, GS1 element strings in every form a scanner sends, and the rest.

Every code here is built with a check digit computed by biip, never typed in by hand.
"""

from __future__ import annotations

import datetime as dt

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given
from hypothesis import strategies as st

from wms.errors import RuleViolation
from wms.scanning import GS, gtin_forms, normalize_gtin, parse_scan


def valid(payload: str) -> str:
    """The payload followed by its GS1 check digit."""
    return payload + str(gs1_standard_check_digit(payload))


def wrong(code: str) -> str:
    """The same code with a check digit that does not fit."""
    return code[:-1] + str((int(code[-1]) + 1) % 10)


GTIN_8 = valid("9638507")
GTIN_12 = valid("03600029145")
GTIN_13 = valid("590123412345")
GTIN_14 = valid("1" + GTIN_13[:-1])  # the case of 6 around the consumer unit
SSCC = valid("37612345000001234")


def refused(raw: str, **options: str) -> str:
    """The message of the RuleViolation parse_scan raises for raw; it always names the scan."""
    with pytest.raises(RuleViolation) as caught:
        parse_scan(raw, **options)
    assert caught.value.field == "scan"
    return caught.value.message


# --- bare GTINs -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [GTIN_8, GTIN_12, GTIN_13, GTIN_14], ids=["8", "12", "13", "14"])
def test_a_bare_gtin_of_any_length_is_read_as_its_14_digit_form(code):
    scan = parse_scan(code)

    assert scan.kind == "gtin"
    assert scan.gtin == code.zfill(14)
    assert scan.raw == code
    assert (scan.lot, scan.expiry, scan.quantity, scan.sscc) == (None, None, None, None)


@pytest.mark.parametrize("code", [GTIN_8, GTIN_12, GTIN_13, GTIN_14], ids=["8", "12", "13", "14"])
def test_a_gtin_with_a_wrong_check_digit_is_refused_naming_the_gtin_and_the_right_digit(code):
    message = refused(wrong(code))

    assert wrong(code) in message
    assert f"should be {code[-1]}" in message


def test_an_ean_symbology_identifier_is_taken_off_and_kept_apart():
    scan = parse_scan(f"]E0{GTIN_13}")

    assert (scan.kind, scan.gtin, scan.symbology, scan.text) == (
        "gtin",
        GTIN_13.zfill(14),
        "]E0",
        GTIN_13,
    )


def test_a_wrong_check_digit_after_an_ean_symbology_identifier_is_refused():
    assert wrong(GTIN_13) in refused(f"]E0{wrong(GTIN_13)}")


def test_whitespace_and_a_trailing_newline_from_a_keyboard_wedge_are_ignored():
    assert parse_scan(f"  {GTIN_13}\r\n").gtin == GTIN_13.zfill(14)


# --- GS1 element strings ----------------------------------------------------------------------


def test_a_gs1_scan_fills_item_lot_expiry_and_quantity():
    raw = f"]C101{GTIN_14}17260315" + f"10LOT-42{GS}" + f"21SN-7{GS}" + "306"

    scan = parse_scan(raw)

    assert scan.kind == "gs1"
    assert scan.gtin == GTIN_14
    assert scan.lot == "LOT-42"
    assert scan.expiry == dt.date(2026, 3, 15)
    assert scan.serial == "SN-7"
    assert scan.quantity == 6
    assert scan.sscc is None
    assert scan.raw == raw


@pytest.mark.parametrize("symbology", ["]C1", "]d2", "]Q3", "]e0", ""])
def test_gs1_codes_read_the_same_with_or_without_a_symbology_identifier(symbology):
    scan = parse_scan(f"{symbology}01{GTIN_13.zfill(14)}10ABC{GS}17261231")

    assert (scan.kind, scan.gtin, scan.lot, scan.expiry) == (
        "gs1",
        GTIN_13.zfill(14),
        "ABC",
        dt.date(2026, 12, 31),
    )
    assert scan.symbology == (symbology or None)


def test_the_bracketed_human_readable_form_reads_like_the_barcode():
    raw = parse_scan(f"01{GTIN_14}10ABC-1{GS}17270100")
    hri = parse_scan(f"(01){GTIN_14}(10)ABC-1(17)270100")

    assert hri.kind == "gs1"
    assert (hri.gtin, hri.lot, hri.expiry) == (raw.gtin, raw.lot, raw.expiry)


@pytest.mark.parametrize("stand_in", ["|", "~", "^"])
def test_a_configured_stand_in_is_read_as_the_group_separator(stand_in):
    scan = parse_scan(f"01{GTIN_14}10L1{stand_in}21S9{stand_in}3712", separator=stand_in)

    assert (scan.gtin, scan.lot, scan.serial, scan.quantity) == (GTIN_14, "L1", "S9", 12)


def test_a_stand_in_the_parser_was_not_told_about_is_reported_at_the_field_before_it():
    message = refused(f"01{GTIN_14}10L1|21S9")

    assert message.startswith("(10)")
    assert "separator" in message


@pytest.mark.parametrize("stand_in", ["-", "A", "7", "||"])
def test_a_separator_stand_in_that_can_occur_in_gs1_data_is_refused(stand_in):
    with pytest.raises(RuleViolation) as caught:
        parse_scan(f"01{GTIN_14}", separator=stand_in)

    assert caught.value.field == "separator"


def test_an_expiry_day_00_means_the_last_day_of_the_month():
    assert parse_scan(f"01{GTIN_14}17280200").expiry == dt.date(2028, 2, 29)
    assert parse_scan(f"01{GTIN_14}17270200").expiry == dt.date(2027, 2, 28)
    assert parse_scan(f"(01){GTIN_14}(17)260400").expiry == dt.date(2026, 4, 30)


def test_best_before_is_the_expiry_only_when_there_is_no_expiry_date():
    assert parse_scan(f"01{GTIN_14}15260301").expiry == dt.date(2026, 3, 1)
    assert parse_scan(f"01{GTIN_14}1526030117260310").expiry == dt.date(2026, 3, 10)


def test_an_sscc_label_gives_the_sscc_the_content_gtin_and_the_count():
    scan = parse_scan(f"]C100{SSCC}02{GTIN_14}3740{GS}10L7")

    assert (scan.kind, scan.sscc, scan.gtin, scan.quantity, scan.lot) == (
        "gs1",
        SSCC,
        GTIN_14,
        40,
        "L7",
    )


def test_a_bare_18_digit_sscc_is_an_sscc_scan():
    scan = parse_scan(SSCC)

    assert (scan.kind, scan.sscc, scan.gtin) == ("sscc", SSCC, None)


# --- malformed GS1 codes name the AI ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [f"01{GTIN_14}17261332", f"]C101{GTIN_14}17261332", f"(01){GTIN_14}(17)261332"],
    ids=["raw", "symbology", "bracketed"],
)
def test_month_13_in_the_expiry_is_refused_naming_ai_17(raw):
    message = refused(raw)

    assert message.startswith("(17)")
    assert "261332" in message
    assert "YYMMDD" in message


def test_a_day_that_the_month_does_not_have_is_refused_naming_ai_17():
    assert refused(f"01{GTIN_14}17260231").startswith("(17)")


@pytest.mark.parametrize(
    "raw", [f"01{wrong(GTIN_14)}10ABC", f"(01){wrong(GTIN_14)}(10)ABC", f"]d201{wrong(GTIN_14)}"]
)
def test_a_gtin_with_a_wrong_check_digit_inside_a_gs1_code_is_refused_naming_ai_01(raw):
    message = refused(raw)

    assert message.startswith("(01)")
    assert wrong(GTIN_14) in message
    assert f"should be {GTIN_14[-1]}" in message


def test_a_lot_not_ended_by_a_separator_is_refused_naming_ai_10():
    # Without GS after the lot, (10) runs on into (17) up to its 20 characters and the rest
    # of the expiry date is garbage.
    message = refused(f"01{GTIN_14}10LOT-2026-0331-A17260331")

    assert message.startswith("(10)")
    assert "separator" in message


def test_a_count_not_ended_by_a_separator_is_refused_naming_ai_37():
    message = refused(f"00{SSCC}02{GTIN_14}374010ABC")

    assert message.startswith("(37)")
    assert "separator" in message


@pytest.mark.parametrize("raw", [f"00{wrong(SSCC)}", f"(00){wrong(SSCC)}", f"]C100{wrong(SSCC)}"])
def test_an_sscc_with_a_wrong_check_digit_is_refused_naming_ai_00(raw):
    message = refused(raw)

    assert message.startswith("(00)")
    assert f"should be {SSCC[-1]}" in message


def test_a_bare_sscc_with_a_wrong_check_digit_is_refused_naming_the_sscc():
    assert f"SSCC {wrong(SSCC)}" in refused(wrong(SSCC))


def test_a_count_of_zero_is_refused_naming_the_ai():
    assert refused(f"01{GTIN_14}300").startswith("(30)")


def test_an_ai_with_no_data_in_the_bracketed_form_is_refused_naming_it():
    assert refused(f"(01){GTIN_14}(10)").startswith("(10)")


def test_an_unknown_ai_in_the_bracketed_form_is_refused_naming_it():
    assert refused(f"(01){GTIN_14}(999)X").startswith("(999)")


def test_an_empty_scan_is_refused():
    refused("  \r\n")


# --- everything else ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["FW01-03-14L-2", "TOTE-0042", "1012345", "12345", "PICK CART 7", "(5)1"]
)
def test_slot_tote_and_other_internal_codes_are_other_scans_kept_as_scanned(raw):
    scan = parse_scan(raw)

    assert scan.kind == "other"
    assert scan.raw == raw
    assert scan.text == raw
    assert (scan.gtin, scan.lot, scan.sscc) == (None, None, None)


def test_a_non_gs1_symbology_identifier_is_taken_off_an_internal_code():
    scan = parse_scan("]C0FW01-03-14L-2")

    assert (scan.kind, scan.text, scan.symbology) == ("other", "FW01-03-14L-2", "]C0")


def test_a_gs1_digital_link_is_read_and_an_ordinary_web_address_is_other():
    link = parse_scan(f"https://id.gs1.org/01/{GTIN_14}/10/L3?17=261130")
    web = parse_scan("https://example.com/totes/42")

    assert (link.kind, link.gtin, link.lot, link.expiry) == (
        "gs1",
        GTIN_14,
        "L3",
        dt.date(2026, 11, 30),
    )
    assert web.kind == "other"


# --- GTIN spellings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "lengths"),
    [(GTIN_8, {14, 13, 12, 8}), (GTIN_12, {14, 13, 12}), (GTIN_13, {14, 13}), (GTIN_14, {14})],
    ids=["8", "12", "13", "14"],
)
def test_every_spelling_of_a_gtin_is_a_lookup_candidate(code, lengths):
    forms = gtin_forms(code)

    assert forms[0] == code.zfill(14)
    assert {len(form) for form in forms} == lengths
    assert {form.lstrip("0") for form in forms} == {code.lstrip("0")}
    assert parse_scan(code).gtin_candidates == forms


def test_normalize_gtin_refuses_a_wrong_check_digit_naming_the_field():
    with pytest.raises(RuleViolation) as caught:
        normalize_gtin(wrong(GTIN_13), field="gtin")

    assert caught.value.field == "gtin"
    assert wrong(GTIN_13) in caught.value.message


# --- properties -----------------------------------------------------------------------------

LOTS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-./", min_size=1
).filter(lambda lot: len(lot) <= 20)


@given(payload=st.from_regex(r"[1-9][0-9]{11}", fullmatch=True))
def test_every_ean13_reads_and_every_wrong_check_digit_is_refused(payload):
    code = valid(payload)

    assert parse_scan(code).gtin == code.zfill(14)
    for digit in set("0123456789") - {code[-1]}:
        with pytest.raises(RuleViolation):
            parse_scan(code[:-1] + digit)


# Two-digit years are read within 49 years back and 50 ahead of today (GS1 General
# Specifications 7.12), so the dates stay well inside that window.
TODAY = dt.date.today()


@given(
    lot=LOTS,
    expiry=st.dates(dt.date(TODAY.year - 20, 1, 1), dt.date(TODAY.year + 20, 12, 31)),
)
def test_the_raw_and_the_bracketed_forms_of_a_code_read_the_same(lot, expiry):
    date = expiry.strftime("%y%m%d")

    raw = parse_scan(f"]C101{GTIN_14}10{lot}|17{date}", separator="|")
    hri = parse_scan(f"(01){GTIN_14}(10){lot}(17){date}")

    assert (raw.gtin, raw.lot, raw.expiry) == (GTIN_14, lot, expiry)
    assert (hri.gtin, hri.lot, hri.expiry) == (raw.gtin, raw.lot, raw.expiry)


@pytest.mark.parametrize("raw", ["A\x00B", "01\x0712345678901231", "\x7f"])
def test_a_scan_with_control_characters_is_refused_naming_the_scan(raw):
    with pytest.raises(RuleViolation) as refused:
        parse_scan(raw)

    assert refused.value.field == "scan"
    assert "control character" in refused.value.message

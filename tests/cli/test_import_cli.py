"""`wms import items|slots FILE`: one transaction, a table of every problem, nothing half-done."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from biip.checksums import gs1_standard_check_digit
from sqlalchemy import text

from wms.db import make_engine, make_sessions
from wms.models import Site, SiteKind, Temperature, Zone

ITEMS_HEADER = (
    "sku,name,gtin,length_mm,width_mm,height_mm,weight_g,temperature,lot_tracked,expiry_tracked"
)
SLOTS_HEADER = "site,zone,barcode,kind,block,aisle,bay,side,level,item,min_qty,max_qty"
MILK = "871234500001" + str(gs1_standard_check_digit("871234500001"))


@pytest.fixture
def url(wms_cli, new_database) -> str:
    """A new database, migrated with `wms db upgrade`, holding site FW01 with zone AMBIENT."""
    url = new_database()
    upgraded = wms_cli("db", "upgrade", database_url=url)
    assert upgraded.exit_code == 0, upgraded.output
    engine = make_engine(url)
    try:
        with make_sessions(engine).begin() as session:
            site = Site(
                code="FW01",
                name="Test",
                kind=SiteKind.FRONT_WAREHOUSE,
                latitude=52.37,
                longitude=4.89,
                timezone="Europe/Amsterdam",
            )
            session.add(
                Zone(site=site, code="AMBIENT", name="Ambient", temperature=Temperature.AMBIENT)
            )
    finally:
        engine.dispose()
    return url


def rows_in(url: str) -> dict[str, int]:
    """How many items, barcodes and slots the database holds, read over a new connection."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("item", "item_barcode", "slot")
            }
    finally:
        engine.dispose()


def csv(tmp_path: Path, name: str, *lines: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def table_has(output: str, row: int, column: str) -> bool:
    """Whether the problem table has a line naming this row and column."""
    return re.search(rf"^\W*{row}\W+{re.escape(column)}\W", output, re.M) is not None


def test_importing_items_then_slots_creates_them_and_prints_the_counts(wms_cli, url, tmp_path):
    items = csv(
        tmp_path,
        "items.csv",
        ITEMS_HEADER,
        f"MILK-1L,Milk,{MILK},70,70,200,1040,ambient,yes,yes",
        "BREAD,Bread,,100,100,100,500,ambient,no,no",
    )
    slots = csv(
        tmp_path,
        "slots.csv",
        SLOTS_HEADER,
        "FW01,AMBIENT,FW01-01-01L-1,pick_face,1,1,1,L,1,MILK-1L,2,12",
        "FW01,AMBIENT,FW01-01-01L-2,reserve,1,1,1,L,2,,,",
    )

    imported_items = wms_cli("import", "items", items, database_url=url)
    imported_slots = wms_cli("import", "slots", slots, database_url=url)

    assert imported_items.exit_code == 0, imported_items.output
    assert "2 created" in imported_items.output
    assert imported_slots.exit_code == 0, imported_slots.output
    assert "2 created" in imported_slots.output
    assert rows_in(url) == {"item": 2, "item_barcode": 1, "slot": 2}


def test_importing_the_same_file_again_changes_nothing_and_says_so(wms_cli, url, tmp_path):
    items = csv(tmp_path, "items.csv", ITEMS_HEADER, "BREAD,Bread,,1,1,1,500,ambient,no,no")
    wms_cli("import", "items", items, database_url=url)

    again = wms_cli("import", "items", items, database_url=url)

    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 1 unchanged" in again.output


def test_a_rejected_file_prints_every_row_and_column_exits_1_and_writes_nothing(
    wms_cli, url, tmp_path
):
    items = csv(
        tmp_path,
        "items.csv",
        ITEMS_HEADER,
        "GOOD,Good,,1,1,1,1,ambient,no,no",
        "HEAVY,Nothing,,1,1,1,0,ambient,no,no",
        f"CHEESE,Cheese,{MILK[:-1]}{(int(MILK[-1]) + 1) % 10},1,1,1,1,warm,no,no",
    )

    result = wms_cli("import", "items", items, database_url=url)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "nothing was imported" in result.output
    assert table_has(result.output, 3, "weight_g"), result.output
    assert table_has(result.output, 4, "gtin"), result.output
    assert table_has(result.output, 4, "temperature"), result.output
    assert rows_in(url) == {"item": 0, "item_barcode": 0, "slot": 0}


def test_a_bad_header_is_reported_on_row_1(wms_cli, url, tmp_path):
    slots = csv(tmp_path, "slots.csv", "site,zone,barcode,kind,colour", "FW01,AMBIENT,D1,dock,red")

    result = wms_cli("import", "slots", slots, database_url=url)

    assert result.exit_code == 1
    assert table_has(result.output, 1, "colour"), result.output
    assert rows_in(url)["slot"] == 0


def test_a_dry_run_validates_and_reports_but_writes_nothing(wms_cli, url, tmp_path):
    slots = csv(
        tmp_path,
        "slots.csv",
        SLOTS_HEADER,
        "FW01,AMBIENT,FW01-01-01L-1,reserve,1,1,1,L,1,,,",
        "FW01,AMBIENT,FW01-DOCK-1,dock,,,,,,,,",
    )

    result = wms_cli("import", "slots", slots, "--dry-run", database_url=url)

    assert result.exit_code == 0, result.output
    assert "dry run" in result.output
    assert "2 created" in result.output
    assert rows_in(url)["slot"] == 0


def test_a_dry_run_of_a_bad_file_lists_the_problems_and_exits_1(wms_cli, url, tmp_path):
    slots = csv(
        tmp_path,
        "slots.csv",
        SLOTS_HEADER,
        "FW01,AMBIENT,A,reserve,1,1,1,L,1,,,",
        "FW01,AMBIENT,B,reserve,1,1,1,L,1,,,",
    )

    result = wms_cli("import", "slots", slots, "--dry-run", database_url=url)

    assert result.exit_code == 1
    assert table_has(result.output, 3, "aisle/bay/side/level"), result.output


def test_a_tab_separated_file_is_read_with_the_delimiter_option(wms_cli, url, tmp_path):
    items = csv(
        tmp_path,
        "items.tsv",
        ITEMS_HEADER.replace(",", "\t"),
        "\t".join(["BREAD", "Bread, sliced", "", "1", "1", "1", "500", "ambient", "no", "no"]),
    )

    result = wms_cli("import", "items", items, "--delimiter", "tab", database_url=url)

    assert result.exit_code == 0, result.output
    assert rows_in(url)["item"] == 1


def test_import_help_names_the_columns(wms_cli, url):
    result = wms_cli("import", "slots", "--help", database_url=url)

    assert result.exit_code == 0
    for column in ("site", "zone", "barcode", "kind", "min_qty", "max_qty"):
        assert column in result.output

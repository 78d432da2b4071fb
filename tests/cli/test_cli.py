"""The `wms` command line, run in-process against databases of its own."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from wms import migrate
from wms.db import make_engine, make_sessions
from wms.models import (
    Item,
    Movement,
    MovementKind,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    Zone,
)

BAD_DATABASE_URLS = {
    "not-a-url": "not a url",
    "unsupported-backend": "mysql://x/y",
    "sqlite-folder-cannot-be-made": "sqlite:////proc/nope/wms.sqlite3",
    "nobody-listens": "postgresql+psycopg://nobody@127.0.0.1:1/x",
}


def migrated_database(url: str, *, stock: dict[str, int] | None = None) -> None:
    """Migrate the database at url and receive each {slot barcode: qty} through the ledger."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with make_sessions(engine).begin() as session:
            site = Site(
                code="FW01",
                name="Test",
                kind=SiteKind.FRONT_WAREHOUSE,
                latitude=52.37,
                longitude=4.89,
                timezone="Europe/Amsterdam",
            )
            zone = Zone(site=site, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
            for n, (barcode, qty) in enumerate((stock or {}).items(), start=1):
                slot = Slot(site=site, zone=zone, barcode=barcode, kind=SlotKind.RESERVE)
                item = Item(
                    sku=f"SKU{n}",
                    name=f"Item {n}",
                    length_mm=100,
                    width_mm=80,
                    height_mm=60,
                    weight_g=250,
                    temperature=Temperature.AMBIENT,
                )
                row = Stock(slot=slot, item=item, lot="", on_hand=qty)
                session.add(
                    Movement(
                        stock=row,
                        kind=MovementKind.RECEIPT,
                        quantity=qty,
                        operation_id=str(uuid.uuid4()),
                    )
                )
    finally:
        engine.dispose()


def corrupt(url: str, sql: str) -> None:
    """Change the database behind the system's back, and commit."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def assert_one_error_line(result) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output


# --- wms db ---------------------------------------------------------------------------------


def test_db_upgrade_brings_a_new_database_up_to_date(wms_cli, new_database):
    url = new_database()

    upgraded = wms_cli("db", "upgrade", database_url=url)
    current = wms_cli("db", "current", database_url=url)

    assert upgraded.exit_code == 0, upgraded.output
    assert current.exit_code == 0, current.output
    assert migrate.head_revision() in current.output
    assert "up to date" in current.output


def test_db_current_fails_on_a_database_that_was_never_migrated(wms_cli, new_database):
    result = wms_cli("db", "current", database_url=new_database())

    assert result.exit_code == 1
    assert "not migrated" in result.output
    assert "up to date" not in result.output


# --- wms check ------------------------------------------------------------------------------


def test_check_passes_on_a_consistent_database(wms_cli, new_database):
    url = new_database()
    migrated_database(url, stock={"S1": 4, "S2": 7})

    result = wms_cli("check", database_url=url)

    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 2 stock rows, 2 movements")


def test_check_fails_and_names_the_row_whose_on_hand_left_its_ledger(wms_cli, new_database):
    url = new_database()
    migrated_database(url, stock={"S1": 4, "S2": 7, "S3": 2})
    corrupt(
        url,
        "UPDATE stock SET on_hand = on_hand + 5 "
        "WHERE slot_id = (SELECT id FROM slot WHERE barcode = 'S2')",
    )

    result = wms_cli("check", database_url=url)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert re.search(r"\bS2\b", result.output), result.output
    assert re.search(r"\bSKU2\b", result.output), result.output
    assert "ledger" in result.output
    # Only the broken row is listed.
    for other in ("S1", "SKU1", "S3", "SKU3"):
        assert not re.search(rf"\b{other}\b", result.output), result.output


@pytest.mark.postgres
def test_a_command_leaves_no_connection_open_behind_it(wms_cli, new_database):
    url = new_database()
    migrated_database(url, stock={"S1": 4})

    result = wms_cli("check", database_url=url)

    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            others = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        engine.dispose()
    assert others == 0


# --- errors a user can fix ------------------------------------------------------------------


@pytest.mark.parametrize("command", [("check",), ("db", "upgrade"), ("db", "current")])
@pytest.mark.parametrize("url", BAD_DATABASE_URLS.values(), ids=BAD_DATABASE_URLS.keys())
def test_a_bad_database_url_gives_one_error_line_and_no_traceback(wms_cli, command, url):
    result = wms_cli(*command, database_url=url)

    assert_one_error_line(result)


def test_help_never_prints_a_traceback_even_with_a_bad_database_url(wms_cli):
    result = wms_cli("--help", database_url="not a url")

    assert result.exit_code == 0
    assert "Traceback" not in result.output


# --- help -----------------------------------------------------------------------------------


def test_help_lists_the_commands(wms_cli, database_url):
    result = wms_cli("--help", database_url=database_url)

    assert result.exit_code == 0, result.output
    listed = set(re.findall(r"^  (\w+)\s", result.output.split("Commands:")[1], re.M))
    assert {"serve", "db", "demo", "check"} <= listed

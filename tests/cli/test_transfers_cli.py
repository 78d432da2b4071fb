"""`wms transfers`: plan (dry run first, then once), list and cancel from the command line."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from tests.integration.test_transfers import build_network
from wms.models import Receipt, TransferOrder


def counts(url: str) -> tuple[int, int]:
    """Transfers and receipts in the database."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return (
                int(session.scalar(select(func.count()).select_from(TransferOrder)) or 0),
                int(session.scalar(select(func.count()).select_from(Receipt)) or 0),
            )
    finally:
        engine.dispose()


def a_network_short_of_milk(url: str) -> None:
    """FW01 sells 10 milk a day and has none; FW02 sells 2 eggs a day and has plenty."""
    now = dt.datetime.now(dt.UTC)
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            network = build_network(session)
            milk, eggs = network.item("MILK"), network.item("EGGS")
            network.history("FW01", milk, 10, until=now)
            network.history("FW02", eggs, 2, until=now)
            network.stock("FW02-A1", eggs, 50)
            network.stock("DC-R1", milk, 100)
    finally:
        engine.dispose()


def test_a_dry_run_explains_then_a_run_creates_once(wms_cli, new_database):
    url = new_database()
    assert wms_cli("db", "upgrade", database_url=url).exit_code == 0
    a_network_short_of_milk(url)

    dry = wms_cli("transfers", "plan", "--dry-run", database_url=url)
    assert dry.exit_code == 0, dry.output
    assert "FW01  MILK  send 30 of 30  STOCK-OUT RISK" in dry.output
    assert "want ceil(30.0 - 0) = 30; the DC spares 100: send 30" in dry.output
    assert "would create 1 transfer(s)" in dry.output and "(dry run: nothing written)" in dry.output
    assert "EGGS" not in dry.output
    assert counts(url) == (0, 0)

    first = wms_cli("transfers", "plan", database_url=url)
    second = wms_cli("transfers", "plan", database_url=url)

    assert first.exit_code == 0, first.output
    assert "created 1 transfer(s) with 1 line(s) for 30 units" in first.output
    assert counts(url) == (1, 1)
    assert second.exit_code == 0, second.output
    assert "created 0 transfer(s)" in second.output

    listed = wms_cli("transfers", "list", database_url=url)
    assert listed.exit_code == 0, listed.output
    assert "1 transfer(s)" in listed.output and "TR00000001" in listed.output
    assert "FW01" in listed.output and "planned" in listed.output
    only_fw02 = wms_cli("transfers", "list", "--site", "FW02", database_url=url)
    assert "0 transfer(s)" in only_fw02.output

    cancelled = wms_cli("transfers", "cancel", "TR00000001", database_url=url)
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.output.strip() == "transfer TR00000001 cancelled, and its receipt"
    again = wms_cli("transfers", "cancel", "TR00000001", database_url=url)
    assert again.exit_code == 1
    assert again.output.strip() == (
        "Error: transfer TR00000001 is cancelled: only planned transfers are cancelled"
    )
    listed = wms_cli("transfers", "list", "--status", "cancelled", database_url=url)
    assert "TR00000001" in listed.output


def test_bad_input_is_one_line(wms_cli, new_database):
    url = new_database()
    assert wms_cli("db", "upgrade", database_url=url).exit_code == 0

    no_site = wms_cli("transfers", "list", "--site", "XX", database_url=url)
    no_transfer = wms_cli("transfers", "cancel", "TR99", database_url=url)
    no_dc = wms_cli("transfers", "plan", database_url=url)
    bad_setting = wms_cli(
        "transfers", "plan", database_url=url, env={"WMS_TRANSFER_SERVICE_LEVEL": "2"}
    )

    assert (no_site.exit_code, no_site.output.strip()) == (1, "Error: no site 'XX'")
    assert (no_transfer.exit_code, no_transfer.output.strip()) == (1, "Error: no transfer 'TR99'")
    assert no_dc.exit_code == 1
    assert no_dc.output.strip() == "Error: the network has no active central DC to send from"
    assert bad_setting.exit_code == 1
    assert bad_setting.output.strip() == "Error: service_level must be at least 0.5 and below 1"

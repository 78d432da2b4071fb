"""`wms replenish`: pick faces topped up from the command line, with why; dry runs write nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, aliased

from wms.models import Site, Slot, SlotKind, Stock, Task, TaskKind


def replenishment_tasks(url: str) -> int:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Task)
                    .where(Task.kind == TaskKind.REPLENISHMENT)
                )
            )
    finally:
        engine.dispose()


def test_a_dry_run_explains_then_a_run_creates_once(wms_cli, new_database):
    url = new_database()
    assert wms_cli("db", "upgrade", database_url=url).exit_code == 0
    assert wms_cli("demo", "load", database_url=url).exit_code == 0

    # One pick face of FW01 whose item the reserve holds is set to want far more than it has.
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            reserve = aliased(Slot)
            face = session.scalars(
                select(Slot)
                .join(Site, Site.id == Slot.site_id)
                .join(Stock, Stock.item_id == Slot.item_id)
                .join(reserve, (reserve.id == Stock.slot_id) & (reserve.kind == SlotKind.RESERVE))
                .where(
                    Site.code == "FW01",
                    Slot.kind == SlotKind.PICK_FACE,
                    reserve.site_id == Slot.site_id,
                    Stock.on_hand > Stock.reserved,
                    Stock.expiry.is_(None) | (Stock.expiry > dt.date.today()),
                )
                .limit(1)
            ).one()
            face.min_qty, face.max_qty = 5_000, 10_000
            barcode = face.barcode
    finally:
        engine.dispose()

    dry = wms_cli("replenish", "--site", "FW01", "--dry-run", database_url=url)
    assert dry.exit_code == 0, dry.output
    assert "would create" in dry.output and "(dry run: nothing written)" in dry.output
    assert f"{barcode}  " in dry.output and "is below min 5000" in dry.output
    assert replenishment_tasks(url) == 0

    first = wms_cli("replenish", "--site", "FW01", database_url=url)
    made = replenishment_tasks(url)
    second = wms_cli("replenish", "--site", "FW01", database_url=url)

    assert first.exit_code == 0 and made > 0
    assert "created" in first.output
    assert replenishment_tasks(url) == made
    assert "created 0 replenishment task(s)" in second.output


def test_an_unknown_site_is_one_line(wms_cli, new_database):
    url = new_database()
    assert wms_cli("db", "upgrade", database_url=url).exit_code == 0

    result = wms_cli("replenish", "--site", "XX", database_url=url)

    assert result.exit_code == 1
    assert result.output.strip() == "Error: no site 'XX'"

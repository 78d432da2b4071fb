"""`wms demo shift`: work on the demo floor for the handhelds, and what to scan for it."""

from __future__ import annotations

import re

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from wms.models import PickList, PickListStatus, Receipt, ReceiptStatus, Task, TaskKind


def test_a_shift_puts_a_receipt_a_released_wave_and_a_task_at_the_front_warehouse(
    wms_cli, new_database
):
    url = new_database()
    assert wms_cli("db", "upgrade", database_url=url).exit_code == 0
    assert wms_cli("demo", "load", database_url=url).exit_code == 0

    result = wms_cli("demo", "shift", "--site", "FW02", database_url=url)

    assert result.exit_code == 0, result.output
    number = re.search(r"receipt (RC\d+)", result.output)
    assert number, result.output
    assert re.search(r"scan the carton: \(01\)\d{14}\(17\)\d{6}\(10\)\S+", result.output)
    assert re.search(r"tote T\d+-\d+", result.output)
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            receipt = session.scalars(select(Receipt).where(Receipt.number == number[1])).one()
            assert receipt.status is ReceiptStatus.OPEN
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(PickList)
                    .where(PickList.status == PickListStatus.OPEN)
                )
                == 1
            )
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(Task)
                    .where(Task.kind == TaskKind.REPLENISHMENT)
                )
                == 1
            )
    finally:
        engine.dispose()


def test_a_shift_at_an_unknown_site_is_one_line_and_changes_nothing(wms_cli, new_database):
    url = new_database()
    assert wms_cli("db", "upgrade", database_url=url).exit_code == 0

    result = wms_cli("demo", "shift", "--site", "XX", database_url=url)

    assert result.exit_code == 1
    assert result.output.strip() == "Error: no site 'XX': load the demo network first"

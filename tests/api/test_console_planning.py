"""The console's planning pages: replenishment proposals with their trace (nothing created),
waves previewed (nothing kept), planned, released and refused twice, with their pick paths;
and the wave-release job at a cut-off."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.integration.waves_fixtures import build_warehouse
from wms.job_catalog import job_specs, spec_for
from wms.models import Role, SiteKind, SlotKind, Task, Wave, WaveStatus, utcnow


@pytest.fixture
def planner(signed_in):
    return signed_in(Role.PLANNER)


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_replenishment_proposals_show_the_trace_and_create_nothing(
    planner, site, session, make_item, make_slot, make_stock
):
    site.kind = SiteKind.FRONT_WAREHOUSE
    milk = make_item("MILK")
    face = make_slot("A-01-01", aisle=1, bay=1, item_id=milk.id, min_qty=5, max_qty=20)
    reserve = make_slot("R-01-01", kind=SlotKind.RESERVE, aisle=2, bay=1)
    make_stock(slot=face, item=milk, qty=3)
    make_stock(slot=reserve, item=milk, qty=40, lot="L1", expiry=dt.date(2027, 1, 10))

    page = planner.get(f"/console/replenishment?site={site.code}").get_data(as_text=True)

    row = page[page.index('data-face="A-01-01"') :]
    row = row[: row.index("</tr>")]
    assert ">17<" in row and "R-01-01" in row
    assert "3 on hand - 0 reserved + 0 on its way = 3 free" in row
    assert "would create 1 replenishment task(s) for 17 units" in page
    assert count(session, Task) == 0
    assert planner.get("/console/replenishment?site=NOPE").status_code == 404


@pytest.fixture
def house(session):
    house = build_warehouse(session)
    soon = utcnow() + dt.timedelta(minutes=35)
    items = [house.stocked(aisle=1 + i % 4, bay=1 + 2 * i) for i in range(4)]
    for n in range(5):
        house.order([(items[n % 4], 1), (items[(n + 1) % 4], 2)], start=soon)
    return house


def test_a_wave_is_previewed_then_planned_released_and_not_released_twice(planner, house, session):
    code = house.site.code
    preview = planner.post("/console/waves/preview", data={"site": code})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Preview (nothing kept)" in text
    assert "5 order(s), 10 line(s)" in text
    assert count(session, Wave) == 0

    planned = planner.post("/console/waves/plan", data={"site": code})
    assert planned.status_code == 302
    wave = session.scalars(select(Wave)).one()
    page = planner.get(f"/console/waves/{wave.id}").get_data(as_text=True)
    assert "<svg" in page and "Release to the floor" in page  # the pick path, drawn

    planner.post(f"/console/waves/{wave.id}/release")
    again = planner.post(f"/console/waves/{wave.id}/release", follow_redirects=True)
    assert "Not done: wave" in again.get_data(as_text=True) and "not planned" in again.get_data(
        as_text=True
    )
    session.expire_all()
    assert session.get(Wave, wave.id).status is WaveStatus.RELEASED
    listing = planner.get(f"/console/waves?site={code}").get_data(as_text=True)
    assert wave.number in listing and "0/10" in listing


def test_the_wave_release_job_releases_what_is_due_at_a_cut_off(app, house, session):
    spec = spec_for(job_specs(app.config, session), f"release-waves:{house.site.code}")
    assert spec is not None and spec.schedule.cron == "*/10 * * * *"
    preview = session.begin_nested()  # as the scheduler runs a dry run: rolled back after
    dry = spec.work(session, utcnow(), True)
    preview.rollback()
    assert dry.startswith("would release a wave of 5 order(s), 10 line(s)")
    assert count(session, Wave) == 0
    summary = spec.work(session, utcnow(), False)
    assert summary.startswith("released wave ")
    assert "5 order(s)" in summary
    assert spec.work(session, utcnow(), False) == "no order due at this cut-off"


def test_kpis_are_drawn_per_front_warehouse(planner, house):
    page = planner.get(f"/console/kpis?site={house.site.code}&days=7").get_data(as_text=True)
    assert f"Orders picked a day at {house.site.code}" in page
    assert page.count('role="img"') >= 5  # four charts of the site, a sparkline per site
    assert planner.get("/console/kpis?days=0").status_code == 400


def test_slotting_and_expiry_pages_suggest_and_change_nothing(planner, house, session):
    slotting = planner.get(f"/console/slotting?site={house.site.code}").get_data(as_text=True)
    assert "pick faces" in slotting and "swap(s) suggested" in slotting

    from wms.models import Stock

    milk = house.item(lot_tracked=True, expiry_tracked=True)
    row = house.stock(milk, 6, aisle=2, bay=9, lot="L9", expiry=utcnow().date())
    page = planner.get(f"/console/expiry?site={house.site.code}").get_data(as_text=True)
    assert "would hold 1 stock row(s) (6 units)" in page
    assert row.slot_id and "L9" in page
    session.expire_all()
    assert session.get(Stock, row.id).hold is None


def test_transfers_and_stock_out_risks_are_listed_and_a_planned_one_cancelled(
    planner, site, session
):
    from tests.integration.test_transfers import NOW, SETTINGS, build_network
    from wms import transfers
    from wms.models import TransferOrder, TransferStatus

    site.code = "FW99"  # the signed-in planner's site; the network brings FW01 and FW02
    session.flush()
    network = build_network(session)
    milk = network.item("MILK")
    network.history("FW01", milk, 10)
    network.stock("FW01-A1", milk, 4)
    network.stock("DC-R1", milk, 200)
    transfers.plan_transfers(session, now=NOW, settings=SETTINGS)
    transfer = session.scalars(select(TransferOrder)).one()

    page = planner.get("/console/transfers?site=FW01").get_data(as_text=True)
    assert transfer.number in page and "DC01 → FW01" in page
    assert "Heading for a stock-out (1)" in page and "holt_winters_weekly" in page
    assert planner.get("/console/transfers?status=bogus").status_code == 400

    planner.post(f"/console/transfers/{transfer.id}/cancel")
    again = planner.post(f"/console/transfers/{transfer.id}/cancel", follow_redirects=True)
    assert "Not cancelled: transfer" in again.get_data(as_text=True)
    session.expire_all()
    assert session.get(TransferOrder, transfer.id).status is TransferStatus.CANCELLED

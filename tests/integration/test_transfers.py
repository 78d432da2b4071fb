"""DC → front-warehouse transfers on the database: quantities, shortages, receipts, once only."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wms import receiving, transfers
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    Receipt,
    ReceiptKind,
    ReceiptStatus,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    TransferOrder,
    TransferStatus,
    Zone,
)
from wms.transfers import TransferSettings

#: A Tuesday morning in Amsterdam (10:00 local).
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SETTINGS = TransferSettings()  # 2 days of cover, 1 day lead time, 95 % service, 28 days


@dataclass
class Network:
    """A central DC and two front warehouses, with the slots the tests put stock in."""

    session: Session
    dc: Site
    fronts: dict[str, Site]
    slots: dict[str, Slot]

    def item(self, sku: str, *, lot_tracked: bool = False) -> Item:
        item = Item(
            sku=sku,
            name=sku.title(),
            length_mm=100,
            width_mm=80,
            height_mm=60,
            weight_g=250,
            lot_tracked=lot_tracked,
            expiry_tracked=lot_tracked,
            temperature=Temperature.AMBIENT,
        )
        self.session.add(item)
        self.session.flush()
        return item

    def stock(
        self,
        slot: str,
        item: Item,
        qty: int,
        *,
        lot: str = "",
        expiry: dt.date | None = None,
        reserved: int = 0,
        hold: str | None = None,
    ) -> Stock:
        """Units in a slot, received through the ledger (invariant 1 holds)."""
        row = Stock(
            slot_id=self.slots[slot].id,
            item_id=item.id,
            lot=lot,
            expiry=expiry,
            on_hand=qty,
            reserved=reserved,
            hold=hold,
        )
        self.session.add(row)
        self.session.flush()
        self.session.add(
            Movement(
                stock_id=row.id,
                kind=MovementKind.RECEIPT,
                quantity=qty,
                operation_id=str(uuid.uuid4()),
                reason="test stock",
            )
        )
        self.session.flush()
        return row

    def history(
        self,
        site: str,
        item: Item,
        per_day: list[int] | int,
        *,
        days: int = 28,
        until: dt.datetime = NOW,
    ) -> None:
        """One order a local day over the days before ``until`` (oldest first)."""
        quantities = per_day if isinstance(per_day, list) else [per_day] * days
        today = until.astimezone(AMSTERDAM).date()
        front = self.fronts[site]
        for back, qty in zip(range(len(quantities), 0, -1), quantities, strict=True):
            if qty <= 0:
                continue
            day = today - dt.timedelta(days=back)
            start = dt.datetime.combine(day, dt.time(18), AMSTERDAM).astimezone(dt.UTC)
            order = Order(
                number=f"H{uuid.uuid4().hex[:12]}",
                site_id=front.id,
                customer_name="History",
                address="Teststraat 1",
                latitude=front.latitude,
                longitude=front.longitude,
                promised_start=start,
                promised_end=start + dt.timedelta(hours=1),
                status=OrderStatus.DELIVERED,
            )
            order.lines.append(OrderLine(line_no=1, item_id=item.id, quantity=qty))
            self.session.add(order)
        self.session.flush()


def build_network(session: Session) -> Network:
    """DC01 with a reserve slot; FW01 and FW02, each with a dock and a pick face."""

    def site(code: str, kind: SiteKind) -> Site:
        row = Site(
            code=code,
            name=f"Site {code}",
            kind=kind,
            latitude=52.37,
            longitude=4.89,
            timezone="Europe/Amsterdam",
        )
        session.add(row)
        session.flush()
        return row

    def slot(at: Site, barcode: str, kind: SlotKind, bay: int | None = None) -> Slot:
        zone = session.scalar(select(Zone).where(Zone.site_id == at.id))
        if zone is None:
            zone = Zone(site_id=at.id, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
            session.add(zone)
            session.flush()
        row = Slot(
            site_id=at.id,
            zone_id=zone.id,
            barcode=barcode,
            kind=kind,
            aisle=1 if bay else None,
            bay=bay,
            side="L" if bay else None,
            level=1 if bay else None,
        )
        session.add(row)
        session.flush()
        return row

    dc = site("DC01", SiteKind.CENTRAL_DC)
    fronts = {code: site(code, SiteKind.FRONT_WAREHOUSE) for code in ("FW01", "FW02")}
    slots = {"DC-R1": slot(dc, "DC-R1", SlotKind.RESERVE, 1)}
    slots["DC-R2"] = slot(dc, "DC-R2", SlotKind.RESERVE, 2)
    for code, front in fronts.items():
        slots[f"{code}-DOCK"] = slot(front, f"{code}-DOCK", SlotKind.DOCK)
        slots[f"{code}-A1"] = slot(front, f"{code}-A1", SlotKind.PICK_FACE, 1)
    return Network(session, dc, fronts, slots)


@pytest.fixture
def network(session: Session) -> Network:
    return build_network(session)


def transfers_in(session: Session) -> list[TransferOrder]:
    return list(session.scalars(select(TransferOrder).order_by(TransferOrder.id)))


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- quantities and the trace ---------------------------------------------------------------


def test_a_transfer_brings_the_front_warehouse_up_to_its_cover(network):
    milk, bread, eggs = network.item("MILK"), network.item("BREAD"), network.item("EGGS")
    network.history("FW01", milk, 10)  # 10 a day, every day
    network.history("FW01", bread, 4)
    network.history("FW01", eggs, 2)
    network.stock("FW01-A1", milk, 8, reserved=3)  # free 5: half a day
    network.stock("FW01-A1", bread, 20)  # five days: nothing to do
    network.stock("FW01-A1", eggs, 3)  # a day and a half: some, no risk
    network.stock("DC-R1", milk, 200)
    network.stock("DC-R1", eggs, 200)

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    [transfer] = transfers_in(network.session)
    assert (transfer.from_site_id, transfer.to_site_id) == (
        network.dc.id,
        network.fronts["FW01"].id,
    )
    assert transfer.status is TransferStatus.PLANNED
    assert transfer.number == f"TR{transfer.id:08d}"
    assert transfer.needed_by == NOW + dt.timedelta(days=1)
    assert transfer.created_by == "job:transfers"
    lines = {line.item.sku: line for line in transfer.lines}
    assert set(lines) == {"MILK", "EGGS"}  # bread has cover enough
    milk_line = lines["MILK"]
    # 10/day x (2 + 1) days, no spread on a flat series: 30; less the 5 free.
    assert (milk_line.wanted, milk_line.quantity, milk_line.free) == (25, 25, 5)
    assert milk_line.forecast_per_day == pytest.approx(10.0, abs=0.01)
    assert milk_line.method == transfers.HOLT_WINTERS
    assert milk_line.days_of_cover == pytest.approx(0.5, abs=0.01)
    assert milk_line.stockout_risk is True
    assert milk_line.trace == (
        "forecast 10.0/day (holt_winters_weekly, sd 0.0); "
        "free 5 = 8 on hand - 3 reserved + 0 on its way; "
        "0.5 d of cover < 1 d lead time: stock-out risk; "
        "target 10.0 x 3 d + 1.64 x 0.0 x sqrt(1) safety = 30.0; "
        "want ceil(30.0 - 5) = 25; "
        "the DC spares 200: send 25"
    )
    eggs_line = lines["EGGS"]
    assert (eggs_line.wanted, eggs_line.quantity, eggs_line.stockout_risk) == (3, 3, False)
    assert eggs_line.days_of_cover == pytest.approx(1.5, abs=0.01)
    assert plan.transfer_ids == (transfer.id,)
    assert plan.summary == (
        "2 front warehouse(s), 3 item(s) forecast: created 1 transfer(s) with 2 line(s) for "
        "28 units; 1 line(s) at risk of a stock-out, 0 short at the DC"
    )


def test_the_safety_stock_grows_with_the_spread_of_demand(network):
    steady, jumpy = network.item("STEADY"), network.item("JUMPY")
    network.history("FW01", steady, 10)
    network.history("FW01", jumpy, [4, 16] * 14)  # also 10 a day on average
    network.stock("DC-R1", steady, 500)
    network.stock("DC-R1", jumpy, 500)

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS, dry_run=True)

    by_sku = {line.sku: line for line in plan.lines}
    assert by_sku["JUMPY"].forecast.sigma > 1.0
    assert by_sku["JUMPY"].target > by_sku["STEADY"].target
    assert by_sku["JUMPY"].wanted > by_sku["STEADY"].wanted == 30


def test_held_and_expired_stock_is_not_free_at_the_front_warehouse(network):
    milk = network.item("MILK", lot_tracked=True)
    network.history("FW01", milk, 10)
    network.stock("FW01-A1", milk, 40, lot="OLD", expiry=dt.date(2026, 11, 30))
    network.stock("FW01-A1", milk, 40, lot="HELD", expiry=dt.date(2027, 1, 5), hold="near_expiry")
    network.stock("FW01-A1", milk, 4, lot="OK", expiry=dt.date(2027, 1, 5))

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS, dry_run=True)

    [line] = plan.lines
    assert (line.on_hand, line.free, line.wanted) == (4, 4, 26)
    assert line.stockout_risk


def test_a_short_dc_serves_stock_out_risks_first_and_the_line_says_so(network):
    milk = network.item("MILK")
    for code in ("FW01", "FW02"):
        network.history(code, milk, 10)
    network.stock("FW01-A1", milk, 12)  # 1.2 days of cover: no risk; wants 18
    network.stock("FW02-A1", milk, 5)  # half a day: at risk; wants 25
    network.stock("DC-R1", milk, 30, reserved=2)  # 28 to spare
    network.stock("DC-R2", milk, 10, hold="near_expiry")  # not to be sent

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    lines = {line.site_code: line for line in plan.lines}
    assert (lines["FW02"].wanted, lines["FW02"].quantity) == (25, 25)
    assert lines["FW02"].trace.endswith("the DC spares 28: send 25")
    assert (lines["FW01"].wanted, lines["FW01"].quantity) == (18, 3)
    assert lines["FW01"].trace.endswith("the DC spares only 3 (after FW02): send 3, 15 short")
    assert len(transfers_in(network.session)) == 2
    assert "2 line(s) for 28 units" in plan.summary and "1 short at the DC" in plan.summary


def test_a_line_the_dc_cannot_serve_at_all_stays_on_the_transfer_with_nothing(network):
    milk, salt = network.item("MILK"), network.item("SALT")
    network.history("FW01", milk, 10)
    network.history("FW01", salt, 3)
    network.stock("DC-R1", milk, 100)  # no salt at the DC

    transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    [transfer] = transfers_in(network.session)
    lines = {line.item.sku: line for line in transfer.lines}
    assert (lines["SALT"].wanted, lines["SALT"].quantity, lines["SALT"].stockout_risk) == (
        9,
        0,
        True,
    )
    assert lines["SALT"].trace.endswith("the DC has none to spare: 9 short")
    # The receipt expects only what comes.
    assert [(ln.item_id, ln.expected_qty) for ln in transfer.receipt.lines] == [(milk.id, 30)]


def test_nothing_to_send_makes_no_transfer(network):
    milk = network.item("MILK")
    network.history("FW01", milk, 10)  # the DC holds none

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    assert transfers_in(network.session) == []
    assert [(line.sku, line.quantity, line.stockout_risk) for line in plan.lines] == [
        ("MILK", 0, True)
    ]
    assert "created 0 transfer(s)" in plan.summary and "1 short at the DC" in plan.summary


def test_weekday_demand_is_forecast_for_the_coming_days(network):
    milk = network.item("MILK")
    # Tuesday-first history (the 28th day back is a Tuesday): weekends sell three times more.
    week = [10, 10, 10, 10, 30, 30, 10]  # Tue Wed Thu Fri Sat Sun Mon
    network.history("FW01", milk, week * 4)
    network.stock("DC-R1", milk, 500)

    friday = NOW + dt.timedelta(days=3)
    plan_tuesday = transfers.plan_transfers(
        network.session, now=NOW, settings=SETTINGS, dry_run=True
    )
    network.history("FW01", milk, [10, 10, 10], until=friday)  # Tue-Thu of this week
    plan_friday = transfers.plan_transfers(
        network.session, now=friday, settings=SETTINGS, dry_run=True
    )

    # Tue, Wed, Thu ahead: 10 a day; Fri, Sat, Sun ahead: (10 + 30 + 30) / 3.
    assert plan_tuesday.lines[0].per_day == pytest.approx(10.0, abs=1.0)
    assert plan_friday.lines[0].per_day == pytest.approx(70 / 3, abs=1.5)


# --- lots and the receipt ----------------------------------------------------------------------


def test_the_receipt_waits_at_the_front_warehouse_dock_with_the_dc_lots_first_to_expire(network):
    yogurt = network.item("YOGURT", lot_tracked=True)
    network.history("FW01", yogurt, 10)
    network.stock("DC-R1", yogurt, 40, lot="L2", expiry=dt.date(2027, 3, 10))
    network.stock("DC-R2", yogurt, 8, lot="L1", expiry=dt.date(2027, 2, 10))
    network.stock("DC-R2", yogurt, 50, lot="L0", expiry=dt.date(2026, 12, 1))  # gone on arrival

    transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    [transfer] = transfers_in(network.session)
    receipt = transfer.receipt
    assert receipt is not None
    assert (receipt.number, receipt.kind, receipt.status) == (
        transfer.number,
        ReceiptKind.ASN,
        ReceiptStatus.OPEN,
    )
    assert receipt.site_id == network.fronts["FW01"].id
    assert receipt.dock_slot_id == network.slots["FW01-DOCK"].id
    assert receipt.reference == f"transfer {transfer.number} from DC01"
    assert [(ln.lot, ln.expiry, ln.expected_qty) for ln in receipt.lines] == [
        ("L1", dt.date(2027, 2, 10), 8),
        ("L2", dt.date(2027, 3, 10), 22),
    ]


def test_closing_the_receipt_marks_the_transfer_received(network):
    milk = network.item("MILK")
    network.history("FW01", milk, 10)
    network.stock("DC-R1", milk, 100)
    transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)
    [transfer] = transfers_in(network.session)
    assert transfer.receipt_id is not None

    receiving.receive(network.session, transfer.receipt_id, item_id=milk.id, quantity=30)
    summary = receiving.close_receipt(network.session, transfer.receipt_id)

    assert summary.received == 30 and summary.under_received == 0
    assert transfer.status is TransferStatus.RECEIVED
    assert transfers.list_transfers(network.session) == []
    assert transfers.list_transfers(network.session, status="received") == [transfer]


def test_received_units_are_counted_once_while_the_receipt_is_open(network):
    milk = network.item("MILK")
    network.history("FW01", milk, 10)
    network.stock("DC-R1", milk, 100)
    transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)
    [transfer] = transfers_in(network.session)
    assert transfer.receipt_id is not None
    receiving.receive(network.session, transfer.receipt_id, item_id=milk.id, quantity=12)

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS, dry_run=True)

    # 12 on hand at the dock + 18 still on their way: 30, the target; nothing more wanted.
    assert plan.lines == ()
    assert plan.forecast == 1


def test_a_receipt_without_a_transfer_closes_as_before(network):
    item = network.item("PLAIN")
    receipt = receiving.create_receipt(
        network.session,
        site_id=network.fronts["FW01"].id,
        dock_slot_id=network.slots["FW01-DOCK"].id,
        kind=ReceiptKind.ASN,
        lines=[receiving.ExpectedLine(item_id=item.id, quantity=2)],
    )

    summary = receiving.close_receipt(network.session, receipt.id)

    assert summary.receipt.status is ReceiptStatus.CLOSED


# --- once only ---------------------------------------------------------------------------------


def test_running_twice_creates_nothing_the_second_time(network):
    milk, yogurt = network.item("MILK"), network.item("YOGURT", lot_tracked=True)
    for code in ("FW01", "FW02"):
        network.history(code, milk, 10)
        network.history(code, yogurt, [3, 5, 4, 6, 9, 12, 7] * 4)
    network.stock("DC-R1", milk, 40)  # short: both want 30
    network.stock("DC-R1", yogurt, 30, lot="Y1", expiry=dt.date(2027, 2, 1))
    network.stock("DC-R2", yogurt, 200, lot="Y2", expiry=dt.date(2027, 3, 1))

    first = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)
    made = [
        (t.id, [(ln.item_id, ln.quantity) for ln in t.lines]) for t in transfers_in(network.session)
    ]
    receipts = count(network.session, Receipt)
    second = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    assert len(first.transfer_ids) == 2
    assert second.transfer_ids == ()
    assert [
        (t.id, [(ln.item_id, ln.quantity) for ln in t.lines]) for t in transfers_in(network.session)
    ] == made
    assert count(network.session, Receipt) == receipts
    # Only milk, which the DC ran out of, is still wanted; there is nothing left to send.
    assert {(line.sku, line.quantity) for line in second.lines} == {("MILK", 0)}
    assert "created 0 transfer(s)" in second.summary


def test_a_dry_run_decides_the_same_and_writes_nothing(network):
    milk = network.item("MILK")
    for code in ("FW01", "FW02"):
        network.history(code, milk, 10)
    network.stock("DC-R1", milk, 45)

    dry = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS, dry_run=True)
    assert transfers_in(network.session) == [] and count(network.session, Receipt) == 0
    real = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    assert dry.transfer_ids == ()
    assert [(ln.site_code, ln.wanted, ln.quantity, ln.trace) for ln in dry.lines] == [
        (ln.site_code, ln.wanted, ln.quantity, ln.trace) for ln in real.lines
    ]
    assert dry.summary.replace("would create", "created") == real.summary


def test_forecasts_made_beforehand_give_the_same_plan(network):
    milk = network.item("MILK")
    network.history("FW01", milk, [8, 9, 10, 11, 14, 18, 12] * 4)
    network.stock("DC-R1", milk, 100)

    forecasts = transfers.forecast_network(network.session, now=NOW, settings=SETTINGS)
    ahead = transfers.plan_transfers(
        network.session, now=NOW, settings=SETTINGS, dry_run=True, forecasts=forecasts
    )
    inline = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS, dry_run=True)

    assert list(forecasts) == [(network.fronts["FW01"].id, milk.id)]
    assert ahead.lines == inline.lines


def test_cancelled_orders_and_todays_orders_are_not_history(network):
    milk = network.item("MILK")
    network.history("FW01", milk, 10)
    for order in network.session.scalars(select(Order)):
        order.status = OrderStatus.CANCELLED
    network.session.flush()
    network.history("FW01", milk, 1)

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS, dry_run=True)

    assert plan.lines[0].per_day == pytest.approx(1.0, abs=0.01)


# --- cancel and list ---------------------------------------------------------------------------


def test_cancelling_a_planned_transfer_cancels_its_receipt(network):
    milk = network.item("MILK")
    network.history("FW01", milk, 10)
    network.stock("DC-R1", milk, 100)
    transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)
    [transfer] = transfers_in(network.session)

    cancelled = transfers.cancel_transfer(network.session, transfer.id, by="user:1")

    assert cancelled.status is TransferStatus.CANCELLED
    assert transfer.receipt is not None and transfer.receipt.status is ReceiptStatus.CANCELLED
    # No longer on its way nor promised: the next run plans it again.
    again = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)
    assert len(again.transfer_ids) == 1
    with pytest.raises(Conflict, match="is cancelled: only planned transfers are cancelled"):
        transfers.cancel_transfer(network.session, transfer.id)


def test_a_transfer_with_units_received_cannot_be_cancelled(network):
    milk = network.item("MILK")
    network.history("FW01", milk, 10)
    network.stock("DC-R1", milk, 100)
    transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)
    [transfer] = transfers_in(network.session)
    assert transfer.receipt_id is not None
    receiving.receive(network.session, transfer.receipt_id, item_id=milk.id, quantity=1)

    with pytest.raises(Conflict, match="already received"):
        transfers.cancel_transfer(network.session, transfer.id)


def test_an_unknown_transfer_is_not_found(network):
    with pytest.raises(NotFound):
        transfers.cancel_transfer(network.session, 999_999)


def test_the_console_lists_open_transfers_and_stock_out_risks_per_front_warehouse(network):
    milk, eggs = network.item("MILK"), network.item("EGGS")
    for code in ("FW01", "FW02"):
        network.history(code, milk, 10)
        network.history(code, eggs, 2)
    network.stock("FW01-A1", eggs, 3)
    network.stock("FW02-A1", milk, 2)
    network.stock("DC-R1", milk, 100)
    network.stock("DC-R1", eggs, 100)
    transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)
    fw01, fw02 = network.fronts["FW01"], network.fronts["FW02"]

    listed = transfers.list_transfers(network.session)
    at_fw02 = transfers.list_transfers(network.session, site_id=fw02.id)
    risks = transfers.stockout_risks(network.session)

    assert [t.to_site.code for t in listed] == ["FW01", "FW02"]
    assert [t.to_site_id for t in at_fw02] == [fw02.id]
    assert [(ln.transfer_order.to_site.code, ln.item.sku) for ln in risks] == [
        ("FW01", "MILK"),
        ("FW02", "EGGS"),
        ("FW02", "MILK"),
    ]
    assert [ln.item.sku for ln in transfers.stockout_risks(network.session, site_id=fw01.id)] == [
        "MILK"
    ]
    with pytest.raises(RuleViolation, match="unknown status"):
        transfers.list_transfers(network.session, status="lost")


# --- settings and the network ----------------------------------------------------------------


def test_settings_come_from_the_config():
    settings = TransferSettings.from_config(
        {"TRANSFER_COVER_DAYS": "3", "TRANSFER_SERVICE_LEVEL": 0.99, "OTHER": 1},
        history_days=35,
    )

    assert (settings.cover_days, settings.lead_time_days, settings.history_days) == (3.0, 1.0, 35)
    assert settings.z == pytest.approx(2.326, abs=0.001)
    assert settings.horizon_days == 4
    with pytest.raises(RuleViolation) as error:
        TransferSettings.from_config({"TRANSFER_SERVICE_LEVEL": 1.5})
    assert error.value.field == "service_level"
    with pytest.raises(RuleViolation) as error:
        TransferSettings.from_config({"TRANSFER_COVER_DAYS": "lots"})
    assert error.value.field == "cover_days"


def test_a_network_without_a_central_dc_is_refused(session, make_site):
    make_site("FW09")

    with pytest.raises(RuleViolation, match="no active central DC"):
        transfers.plan_transfers(session, now=NOW)


def test_a_front_warehouse_without_a_dock_is_skipped_and_the_others_get_its_share(network):
    milk = network.item("MILK")
    network.history("FW01", milk, 10)  # at risk, first in line ...
    network.history("FW02", milk, 10)
    network.stock("FW02-A1", milk, 12)
    network.stock("DC-R1", milk, 30)  # ... for more than the DC holds
    network.slots["FW01-DOCK"].locked = True
    network.session.flush()

    plan = transfers.plan_transfers(network.session, now=NOW, settings=SETTINGS)

    [transfer] = transfers_in(network.session)
    assert transfer.to_site_id == network.fronts["FW02"].id
    lines = {line.site_code: line for line in plan.lines}
    assert (lines["FW01"].quantity, lines["FW02"].quantity) == (0, 18)
    assert lines["FW01"].trace.endswith("no dock or staging slot to receive at: nothing sent")
    assert plan.skipped == ("FW01 has no dock or staging slot to receive at",)
    assert plan.summary.endswith("skipped: FW01 has no dock or staging slot to receive at")


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_runs_at_once_create_one_set_of_transfers(pg_sessions):
    with pg_sessions.begin() as session:
        network = build_network(session)
        milk = network.item("MILK")
        for code in ("FW01", "FW02"):
            network.history(code, milk, 10)
        network.stock("DC-R1", milk, 1000)
    with pg_sessions() as session:
        forecasts = transfers.forecast_network(session, now=NOW, settings=SETTINGS)
    barrier = threading.Barrier(2)
    made: list[tuple[int, ...]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with pg_sessions.begin() as session:
                barrier.wait(timeout=10)
                plan = transfers.plan_transfers(
                    session, now=NOW, settings=SETTINGS, forecasts=forecasts
                )
                made.append(plan.transfer_ids)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(len(ids) for ids in made) == [0, 2]
    with pg_sessions() as session:
        assert count(session, TransferOrder) == 2


def test_the_scheduled_job_forecasts_in_a_read_transaction_and_runs_once(pg_sessions):
    """The job as the scheduler fires it: on an engine, twice (the second creates nothing)."""
    from wms import jobs
    from wms.job_catalog import job_specs, spec_for

    with pg_sessions.begin() as session:
        network = build_network(session)
        milk = network.item("MILK")
        network.history("FW01", milk, 10)
        network.stock("DC-R1", milk, 500)
    with pg_sessions() as session:
        spec = spec_for(job_specs({}, session), "transfers")
    assert spec is not None and spec.schedule.cron == "0 4 * * *"
    assert spec.schedule.timezone == "Europe/Amsterdam"  # the DC's time

    def fire(at: dt.datetime):
        return jobs.run_once(pg_sessions, "transfers", at,
                             lambda session: spec.work(session, NOW, False))  # fmt: skip

    first = fire(NOW)
    second = fire(NOW + dt.timedelta(days=1))
    assert "created 1 transfer(s) with 1 line(s) for 30 units" in first.summary, first.error
    assert "created 0 transfer(s)" in second.summary
    with pg_sessions() as session:
        assert count(session, TransferOrder) == 1

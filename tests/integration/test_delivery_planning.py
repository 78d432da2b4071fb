"""Planning a front warehouse's dispatch window into routes, and planning it again."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.matrix import HaversineProvider
from wms import delivery
from wms.errors import Conflict, RuleViolation
from wms.models import (
    Carrier,
    Order,
    OrderStatus,
    OutboxEvent,
    Package,
    PackageStatus,
    Route,
    RouteStatus,
    Site,
    Stop,
    StopStatus,
    Temperature,
    Vehicle,
    VehicleKind,
    WebhookSubscription,
)

# 10:00-11:00 in Amsterdam on 3 December is 09:00-10:00 UTC.
WINDOW = (
    dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC),
)
NOW = dt.datetime(2026, 12, 3, 7, 30, tzinfo=dt.UTC)
SETTINGS = delivery.DeliverySettings(time_limit_s=1.0, max_iterations=200)
PROVIDER = HaversineProvider(speed_kmh=25)


@dataclass
class Town:
    """A front warehouse with a carrier's vans, and orders to deliver around it."""

    session: Session
    site: Site
    carrier: Carrier
    make_order: Callable[..., Order]
    make_item: Callable[..., Item_]
    vans: list[Vehicle] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def van(self, code: str, *, frozen: bool = False, totes: int = 40, **changes: Any) -> Vehicle:
        fields: dict[str, Any] = {
            "kind": VehicleKind.VAN,
            "capacity_totes": totes,
            "capacity_kg": 700,
            "chilled": True,
            "frozen": frozen,
            "shift_start": dt.time(8),
            "shift_end": dt.time(20),
        }
        vehicle = Vehicle(
            carrier_id=self.carrier.id, site_id=self.site.id, code=code, **{**fields, **changes}
        )
        self.session.add(vehicle)
        self.session.flush()
        self.vans.append(vehicle)
        return vehicle

    def order(
        self,
        *,
        status: OrderStatus = OrderStatus.PACKED,
        temperature: Temperature = Temperature.AMBIENT,
        packages: int = 1,
        window: tuple[dt.datetime, dt.datetime] = WINDOW,
        km: float = 3.0,
    ) -> Order:
        item = self.make_item(temperature=temperature)
        order = self.make_order(
            site=self.site,
            lines=[(item, 2)],
            start=window[0],
            minutes=int((window[1] - window[0]).total_seconds() // 60),
        )
        # Somewhere within km of the site (a degree of latitude is 111 km).
        order.latitude = self.site.latitude + self.rng.uniform(-km, km) / 111
        order.longitude = self.site.longitude + self.rng.uniform(-km, km) / 68
        order.status = status
        if status is OrderStatus.PACKED:
            for n in range(packages):
                self.session.add(
                    Package(
                        order_id=order.id,
                        status=PackageStatus.CLOSED,
                        sscc=f"{order.id:09d}{n:08d}0",
                        totes=[],
                        weight_g=1200,
                    )
                )
        self.session.flush()
        return order

    def plan(self, *, now: dt.datetime = NOW, **options: Any) -> delivery.WindowPlan:
        return delivery.plan_window(
            self.session,
            self.site.id,
            window_start=options.pop("window_start", WINDOW[0]),
            window_end=options.pop("window_end", WINDOW[1]),
            now=now,
            actor="test",
            settings=options.pop("settings", SETTINGS),
            provider=PROVIDER,
            **options,
        )

    def routes(self) -> list[Route]:
        self.session.expire_all()
        return list(
            self.session.scalars(
                select(Route).where(Route.site_id == self.site.id).order_by(Route.id)
            )
        )


Item_ = Any


@pytest.fixture
def town(session: Session, make_site, make_order, make_item) -> Town:
    site = make_site(latitude=52.37, longitude=4.89, timezone="Europe/Amsterdam")
    carrier = Carrier(code="VANCO", name="Van Co")
    session.add(carrier)
    session.flush()
    session.add(
        WebhookSubscription(
            carrier_id=carrier.id, url="https://hooks.example/vanco", secret="s", events=[]
        )
    )
    session.flush()
    return Town(session, site, carrier, make_order, make_item)


def live(route: Route) -> list[Stop]:
    return [s for s in route.stops if s.status not in (StopStatus.SKIPPED, StopStatus.FAILED)]


def events(session: Session, topic: str) -> list[OutboxEvent]:
    return list(
        session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == f"webhook.{topic}")
            .order_by(OutboxEvent.id)
        )
    )


def test_every_order_of_the_window_gets_a_stop_inside_its_window(town: Town):
    town.van("VAN1")
    town.van("VAN2")
    orders = [town.order() for _ in range(8)]

    plan = town.plan()

    assert plan.unserved == []
    routes = town.routes()
    assert [r.id for r in routes] == plan.planned
    stops = [s for r in routes for s in r.stops]
    assert sorted(s.order_id for s in stops) == sorted(o.id for o in orders)
    for route in routes:
        assert [s.sequence for s in route.stops] == list(range(1, len(route.stops) + 1))
        arrivals = [s.planned_arrival for s in route.stops]
        assert arrivals == sorted(arrivals)
        assert route.planned_start <= arrivals[0] and arrivals[-1] <= route.planned_end
        assert route.status is RouteStatus.PLANNED and route.version == 1
        assert route.number.startswith(f"R-{town.site.code}-20261203-1000-")
        assert route.distance_m > 0
        assert sum(s.totes for s in route.stops) <= route.vehicle.capacity_totes
    for stop in stops:
        assert stop.window_start <= stop.planned_arrival <= stop.window_end
        assert stop.eta == stop.planned_arrival
    assert len(events(town.session, "route.planned")) == len(routes)


def test_a_frozen_order_rides_only_on_a_frozen_van(town: Town):
    town.van("COLD", frozen=True)
    town.van("WARM", totes=100)
    frozen = town.order(temperature=Temperature.FROZEN)
    for _ in range(4):
        town.order()

    town.plan()

    stop = town.session.scalars(select(Stop).where(Stop.order_id == frozen.id)).one()
    assert stop.route.vehicle.code == "COLD"


def test_orders_no_van_can_serve_come_back_with_the_reason(town: Town):
    town.van("WARM")  # chilled but not frozen
    frozen = town.order(temperature=Temperature.FROZEN)
    late = town.order(window=(NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=1)))
    late.promised_start = WINDOW[0]  # promised in the window, but its end has passed
    late.promised_end = WINDOW[0] + dt.timedelta(minutes=30)
    town.session.flush()

    plan = town.plan(now=WINDOW[0] + dt.timedelta(minutes=45))

    reasons = {u.number: u.reason for u in plan.unserved}
    assert reasons == {frozen.number: "no_capable_vehicle", late.number: "window_passed"}
    assert "temperature" in next(u.why for u in plan.unserved if u.number == frozen.number)
    assert plan.as_dict()["unassigned"][0]["why"]


def test_a_window_without_vans_serves_nobody_and_says_so(town: Town):
    town.van("NIGHT", shift_start=dt.time(21), shift_end=dt.time(23))
    order = town.order()

    plan = town.plan()

    assert [(u.order_id, u.reason) for u in plan.unserved] == [(order.id, "no_vehicle")]
    assert town.routes() == []


def test_planning_the_same_window_again_changes_nothing(town: Town):
    town.van("VAN1")
    for _ in range(5):
        town.order()
    first = town.plan()
    before = {(s.id, s.route_id, s.sequence) for r in town.routes() for s in r.stops}

    again = town.plan(now=NOW + dt.timedelta(minutes=1))

    assert again.planned == [] and again.changed == [] and again.kept == first.planned
    assert {(s.id, s.route_id, s.sequence) for r in town.routes() for s in r.stops} == before
    assert all(r.version == 1 for r in town.routes())
    assert events(town.session, "route.changed") == []


def test_a_new_order_is_inserted_and_a_cancelled_one_taken_off(town: Town):
    town.van("VAN1")
    orders = [town.order() for _ in range(4)]
    town.plan()
    orders[1].status = OrderStatus.CANCELLED
    newcomer = town.order()
    assert delivery.needs_planning(
        town.session, town.site.id, window_start=WINDOW[0], window_end=WINDOW[1]
    )

    plan = town.plan()

    (route,) = town.routes()
    assert plan.changed == [route.id] and route.version == 2
    served = [s.order_id for s in live(route)]
    assert newcomer.id in served and orders[1].id not in served
    skipped = [s for s in route.stops if s.status is StopStatus.SKIPPED]
    assert [s.order_id for s in skipped] == [orders[1].id]
    assert [s.sequence for s in live(route)] == list(range(1, len(live(route)) + 1))
    (changed,) = events(town.session, "route.changed")
    assert changed.payload["envelope"]["data"]["version"] == 2
    assert not delivery.needs_planning(
        town.session, town.site.id, window_start=WINDOW[0], window_end=WINDOW[1]
    )


def test_a_route_left_without_stops_is_cancelled(town: Town):
    town.van("VAN1")
    order = town.order()
    town.plan()
    order.status = OrderStatus.CANCELLED

    plan = town.plan()

    (route,) = town.routes()
    assert plan.cancelled == [route.id]
    assert route.status is RouteStatus.CANCELLED and route.cancelled_at is not None
    assert len(events(town.session, "route.cancelled")) == 1


def test_re_planning_a_route_under_way_keeps_its_done_stops_and_takes_no_new_orders(town: Town):
    town.van("VAN1")
    town.van("VAN2")
    for _ in range(6):
        town.order()
    town.plan()
    busy = max(town.routes(), key=lambda r: len(r.stops))
    assert len(busy.stops) >= 2
    # The van has left: its first stop is done, its second under way, the rest on board.
    started = WINDOW[0] - dt.timedelta(minutes=5)
    busy.status, busy.started_at = RouteStatus.IN_PROGRESS, started
    first, second, *rest = busy.stops
    first.status, first.completed_at = StopStatus.DELIVERED, WINDOW[0] + dt.timedelta(minutes=5)
    second.status = StopStatus.EN_ROUTE
    for stop in rest:
        stop.status = StopStatus.DISPATCHED
    for stop in busy.stops:
        stop.order.status = OrderStatus.DISPATCHED
    first.order.status = OrderStatus.DELIVERED
    town.session.flush()
    on_board = {s.order_id for s in busy.stops}
    newcomer = town.order()

    plan = town.plan(now=WINDOW[0] + dt.timedelta(minutes=10))

    town.session.expire_all()
    busy = town.session.get(Route, busy.id)
    assert busy.status is RouteStatus.IN_PROGRESS
    assert [s.order_id for s in busy.stops][:2] == [first.order_id, second.order_id]
    assert busy.stops[0].status is StopStatus.DELIVERED and busy.stops[0].sequence == 1
    assert busy.stops[1].status is StopStatus.EN_ROUTE and busy.stops[1].sequence == 2
    assert {s.order_id for s in live(busy)} == on_board  # nothing taken off, nothing added
    home = town.session.scalars(select(Stop).where(Stop.order_id == newcomer.id)).one()
    assert home.route_id != busy.id
    assert newcomer.id not in {u.order_id for u in plan.unserved}


def test_a_stop_whose_packages_are_loaded_stays_on_its_van(town: Town):
    town.van("VAN1")
    town.van("VAN2")
    for _ in range(6):
        town.order()
    town.plan()
    loaded = {}
    for route in town.routes():
        stop = route.stops[-1]
        stop.status = StopStatus.DISPATCHED
        loaded[stop.order_id] = route.vehicle_id
    town.session.flush()
    for _ in range(3):
        town.order()

    town.plan()

    for order_id, vehicle_id in loaded.items():
        stop = town.session.scalars(
            select(Stop).where(Stop.order_id == order_id, Stop.status == StopStatus.DISPATCHED)
        ).one()
        assert stop.route.vehicle_id == vehicle_id


def test_a_failed_delivery_waits_for_a_new_promise_before_it_is_planned_again(town: Town):
    town.van("VAN1")
    order = town.order()
    town.plan()
    (route,) = town.routes()
    route.stops[0].status = StopStatus.FAILED
    order.status = OrderStatus.FAILED_DELIVERY
    town.session.flush()

    town.plan()
    assert len(town.session.scalars(select(Stop).where(Stop.order_id == order.id)).all()) == 1

    with pytest.raises(RuleViolation) as bad:
        delivery.redeliver(town.session, order.id, window_start=WINDOW[0], window_end=WINDOW[1])
    assert bad.value.field == "window_start"
    later = (WINDOW[0] + dt.timedelta(hours=2), WINDOW[1] + dt.timedelta(hours=2))
    delivery.redeliver(town.session, order.id, window_start=later[0], window_end=later[1])
    plan = town.plan(window_start=later[0], window_end=later[1])

    assert plan.unserved == [] and len(plan.planned) == 1
    new = town.session.get(Route, plan.planned[0])
    assert [s.order_id for s in new.stops] == [order.id]


def test_only_a_failed_delivery_can_be_promised_again(town: Town):
    order = town.order()
    with pytest.raises(Conflict):
        delivery.redeliver(town.session, order.id, window_start=WINDOW[0], window_end=WINDOW[1])


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (WINDOW[1], WINDOW[0], "window_end"),
        (WINDOW[0], WINDOW[0], "window_end"),
        (WINDOW[0].replace(tzinfo=None), WINDOW[1], "window_start"),
        (WINDOW[0], WINDOW[0] + dt.timedelta(hours=25), "window_end"),
    ],
)
def test_a_window_that_cannot_be_is_refused_and_nothing_is_written(town: Town, start, end, field):
    town.van("VAN1")
    town.order()
    with pytest.raises(RuleViolation) as refused:
        town.plan(window_start=start, window_end=end)
    assert refused.value.field == field
    assert town.routes() == []


def test_the_dc_has_no_delivery_routes(town: Town, make_site):
    from wms.models import SiteKind

    dc = make_site(kind=SiteKind.CENTRAL_DC)
    with pytest.raises(RuleViolation) as refused:
        delivery.plan_window(
            town.session, dc.id, window_start=WINDOW[0], window_end=WINDOW[1], now=NOW, actor="t"
        )
    assert refused.value.field == "site"


def test_windows_follow_the_site_clock():
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Amsterdam")
    settings = delivery.DeliverySettings(window_minutes=60, plan_ahead_minutes=120)
    windows = delivery.upcoming_windows(
        dt.datetime(2026, 12, 3, 8, 20, tzinfo=dt.UTC), zone=zone, settings=settings
    )
    assert [(s.hour, e.hour) for s, e in windows] == [(8, 9), (9, 10), (10, 11)]


def test_settings_come_from_the_configuration_and_bad_ones_name_their_key():
    settings = delivery.DeliverySettings.from_config({"DELIVERY_SERVICE_S": "240"})
    assert settings.service_s == 240
    with pytest.raises(RuleViolation) as bad:
        delivery.DeliverySettings.from_config({"DELIVERY_WINDOW_MINUTES": "soon"})
    assert bad.value.field == "DELIVERY_WINDOW_MINUTES"


def test_the_plan_routes_task_plans_the_window_it_was_given(town: Town):
    town.van("VAN1")
    served = town.order()
    frozen = town.order(temperature=Temperature.FROZEN)
    payload = delivery.plan_payload(
        town.session, town.site.code, window_start=WINDOW[0], window_end=WINDOW[1]
    )
    task = delivery.plan_task({"DELIVERY_TIME_LIMIT_S": 1, "DELIVERY_MAX_ITERATIONS": 100})

    summary, result = task(town.session, NOW, {**payload, "actor": "user:7"})

    assert "1 new route(s)" in summary and "1 unserved" in summary
    (route,) = town.routes()
    assert result["routes_planned"] == [route.id] and route.planned_by == "user:7"
    assert [s.order_id for s in route.stops] == [served.id]
    assert result["unassigned"] == [
        {
            "order_id": frozen.id,
            "number": frozen.number,
            "reason": "no_capable_vehicle",
            "why": delivery.REASONS["no_capable_vehicle"],
        }
    ]


@pytest.mark.parametrize(("code", "field"), [("NOPE", "site"), ("DC", "site")])
def test_a_plan_request_for_a_site_without_deliveries_names_the_site(
    town: Town, make_site, code, field
):
    from wms.models import SiteKind

    make_site("DC", kind=SiteKind.CENTRAL_DC)
    with pytest.raises(RuleViolation) as refused:
        delivery.plan_payload(town.session, code, window_start=WINDOW[0], window_end=WINDOW[1])
    assert refused.value.field == field


def test_the_scheduled_job_plans_coming_windows_once(town: Town):
    from wms.job_catalog import job_specs, spec_for

    town.van("VAN1")
    town.order()
    config = {"DELIVERY_TIME_LIMIT_S": 1, "DELIVERY_MAX_ITERATIONS": 100}
    spec = spec_for(job_specs(config, town.session), f"plan-routes:{town.site.code}")
    assert spec is not None
    soon = WINDOW[0] - dt.timedelta(minutes=30)

    first = spec.work(town.session, soon, False)
    second = spec.work(town.session, soon + dt.timedelta(minutes=10), False)

    assert "1 new route(s)" in first
    assert second == "every coming window is planned"
    assert len(town.routes()) == 1


# --- trunk routes -------------------------------------------------------------------------


def _transfer(session, dc, front, item, quantity=20, *, needed_by=None):
    from wms.models import TransferOrder, TransferOrderLine

    transfer = TransferOrder(
        number=f"TO-{front.code}-{item.id}",
        from_site_id=dc.id,
        to_site_id=front.id,
        needed_by=needed_by or NOW + dt.timedelta(hours=8),
        created_by="test",
    )
    transfer.lines.append(
        TransferOrderLine(
            item_id=item.id, wanted=quantity, quantity=quantity, forecast_per_day=5.0,
            method="test", free=0, days_of_cover=0.0,
        )
    )  # fmt: skip
    session.add(transfer)
    session.flush()
    return transfer


@pytest.fixture
def network(session, make_site, make_item, town: Town):
    from wms.models import SiteKind

    dc = make_site("DC", kind=SiteKind.CENTRAL_DC, latitude=52.30, longitude=4.80)
    north = make_site("FWN", latitude=52.40, longitude=4.90)
    lorry = Vehicle(
        carrier_id=town.carrier.id, site_id=dc.id, code="TRUCK1", kind=VehicleKind.TRUCK,
        capacity_totes=480, capacity_kg=8000, chilled=True, frozen=False,
        shift_start=dt.time(4), shift_end=dt.time(16),
    )  # fmt: skip
    session.add(lorry)
    session.flush()
    return dc, [town.site, north], make_item


def test_the_dcs_transfers_ride_its_lorry_to_each_front_warehouse(session, network):
    dc, fronts, make_item = network
    transfers = [_transfer(session, dc, front, make_item()) for front in fronts]

    plan = delivery.plan_trunk(
        session, dc.id, now=NOW, actor="test", settings=SETTINGS, provider=PROVIDER
    )

    assert plan.kind == "trunk" and plan.unserved == []
    (route,) = [session.get(Route, rid) for rid in plan.planned]
    assert route.kind.value == "trunk" and route.vehicle.code == "TRUCK1"
    assert sorted(s.transfer_order_id for s in route.stops) == sorted(t.id for t in transfers)
    for stop, transfer in ((s, s.transfer_order) for s in route.stops):
        assert (stop.latitude, stop.longitude) == (
            transfer.to_site.latitude,
            transfer.to_site.longitude,
        )
        assert stop.planned_arrival <= transfer.needed_by
        assert stop.totes >= 1 and stop.weight_kg == pytest.approx(20 * 0.25)
    again = delivery.plan_trunk(
        session, dc.id, now=NOW, actor="test", settings=SETTINGS, provider=PROVIDER
    )
    assert again.planned == [] and again.orders == 0


def test_a_frozen_transfer_without_a_frozen_lorry_is_left_with_the_reason(session, network):
    dc, fronts, make_item = network
    frozen = _transfer(session, dc, fronts[0], make_item(temperature=Temperature.FROZEN))

    plan = delivery.plan_trunk(
        session, dc.id, now=NOW, actor="test", settings=SETTINGS, provider=PROVIDER
    )

    assert [(u.order_id, u.number, u.reason) for u in plan.unserved] == [
        (frozen.id, frozen.number, "no_capable_vehicle")
    ]
    assert plan.as_dict()["kind"] == "trunk"


def test_trunk_routes_start_only_from_the_dc(session, network, town: Town):
    with pytest.raises(RuleViolation) as refused:
        delivery.plan_trunk(session, town.site.id, now=NOW, actor="test")
    assert refused.value.field == "site"


# --- solving before the write transaction -------------------------------------------------


def test_a_draft_solved_beforehand_is_kept_when_nothing_changed(town: Town):
    town.van("VAN1")
    for _ in range(4):
        town.order()
    draft = delivery.draft_window(
        town.session, town.site.id, window_start=WINDOW[0], window_end=WINDOW[1], now=NOW,
        settings=SETTINGS, provider=PROVIDER,
    )  # fmt: skip
    assert town.routes() == []  # a draft writes nothing

    plan = town.plan(draft=draft)

    assert "solved beforehand, outside the write transaction" in plan.notes
    (route,) = town.routes()
    visits = [v.job for v in draft.solution.routes[0].visits]
    assert [f"order:{s.order_id}" for s in route.stops] == visits


def test_a_draft_overtaken_by_a_new_order_is_solved_again(town: Town):
    town.van("VAN1")
    for _ in range(3):
        town.order()
    draft = delivery.draft_window(
        town.session, town.site.id, window_start=WINDOW[0], window_end=WINDOW[1], now=NOW,
        settings=SETTINGS, provider=PROVIDER,
    )  # fmt: skip
    late = town.order()

    plan = town.plan(draft=draft)

    assert "solved beforehand, outside the write transaction" not in plan.notes
    (route,) = town.routes()
    assert late.id in {s.order_id for s in route.stops} and len(route.stops) == 4

"""After planning: hand-over, acceptance, the drive, positions and returns (wms.dispatch)."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.routes_fixtures import ACTOR, NOW, FixedLegs, Fleet, build_fleet, snapshot
from wms import allocation, dispatch
from wms.check import verify
from wms.dispatch import PositionFix
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import (
    DriverPosition,
    Movement,
    MovementKind,
    Order,
    OrderStatus,
    OutboxEvent,
    ReturnDisposition,
    Route,
    RouteStatus,
    Stock,
    Stop,
    StopEvent,
    StopEventKind,
    StopStatus,
    Temperature,
    TransferStatus,
    UploadKind,
    User,
)

LATER = NOW + dt.timedelta(minutes=45)


@pytest.fixture
def fleet(session: Session) -> Fleet:
    return build_fleet(session)


@pytest.fixture
def clerk(session: Session) -> User:
    user = User(username=f"clerk-{id(session)}", display_name="Clerk", role="associate")
    session.add(user)
    session.flush()
    return user


# --- helpers ------------------------------------------------------------------------------


def refused(session: Session, error: type[WmsError], call: Callable[[], object]) -> WmsError:
    """The call is refused with ``error`` and leaves everything as it was."""
    before = snapshot(session)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(session) == before, f"refused ({caught.value!r}) but something changed"
    return caught.value


def webhook_events(session: Session, route: Route) -> list[tuple[str, int, str]]:
    """(type, version, status) of the route's webhook envelopes, oldest first."""
    events = session.scalars(
        select(OutboxEvent).where(OutboxEvent.key.like(f"webhook:%:route:{route.id}"))
        .order_by(OutboxEvent.id)
    )  # fmt: skip
    return [
        (
            e.payload["envelope"]["type"],
            e.payload["envelope"]["data"]["version"],
            e.payload["envelope"]["data"]["status"],
        )
        for e in events
    ]


def load(session: Session, fleet: Fleet, route: Route, *orders: Order, user: int | None = None):
    for order in orders:
        for scan in fleet.scans(order):
            dispatch.hand_over(session, route_id=route.id, package_scan=scan, user_id=user, now=NOW)


def under_way(session: Session, fleet: Fleet, *orders: Order, **kw: Any) -> Route:
    """A route of the orders, loaded, accepted and started at NOW."""
    route = fleet.route(orders, **kw)
    load(session, fleet, route, *orders)
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    return route


def stop_of(route: Route, sequence: int) -> Stop:
    return next(s for s in route.stops if s.sequence == sequence)


def statuses(route: Route) -> list[str]:
    return [s.status.value for s in route.stops]


def fail(session: Session, stop: Stop, *, at: dt.datetime = LATER) -> Stop:
    return dispatch.complete_stop(
        session, stop.id, outcome="failed", failure_reason="recipient_absent", at=at,
        actor=ACTOR, now=at,
    )  # fmt: skip


def deliver(session: Session, stop: Stop, *, at: dt.datetime = LATER, **kw: Any) -> Stop:
    return dispatch.complete_stop(
        session, stop.id, outcome="delivered", at=at, actor=ACTOR, now=at, **kw
    )


# --- the whole way ------------------------------------------------------------------------


def test_a_route_is_loaded_accepted_started_and_driven_to_completion(session, fleet, clerk):
    one = fleet.packed_order(packages=2)
    two = fleet.packed_order(km_east=2.0)
    route = fleet.route([one, two])
    photo, signature = fleet.upload(UploadKind.PHOTO), fleet.upload(UploadKind.SIGNATURE)

    load(session, fleet, route, one, two, user=clerk.id)
    assert statuses(route) == ["dispatched", "dispatched"]
    assert {one.status, two.status} == {OrderStatus.DISPATCHED}
    assert all(p.loaded_by == clerk.id and p.loaded_at == NOW for p in fleet.packages(one))

    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    assert route.status is RouteStatus.ACCEPTED and route.driver_id == fleet.driver.id
    assert route.accepted_at == NOW

    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    assert route.status is RouteStatus.IN_PROGRESS and route.started_at == NOW
    assert statuses(route) == ["en_route", "dispatched"]

    first, second = stop_of(route, 1), stop_of(route, 2)
    arrived_at = NOW + dt.timedelta(minutes=12)
    dispatch.arrive(
        session, first.id, at=arrived_at, latitude=52.37, longitude=4.9, actor=ACTOR,
        now=arrived_at,
    )  # fmt: skip
    assert first.status is StopStatus.ARRIVED and first.arrived_at == arrived_at
    done_at = arrived_at + dt.timedelta(minutes=3)
    deliver(
        session, first, at=done_at, recipient_name=" A. Neighbour ", notes="left at the door",
        photo_id=photo.id, signature_id=signature.id,
    )  # fmt: skip
    assert first.status is StopStatus.DELIVERED and first.completed_at == done_at
    assert first.recipient_name == "A. Neighbour"
    assert one.status is OrderStatus.DELIVERED
    assert second.status is StopStatus.EN_ROUTE
    assert route.status is RouteStatus.IN_PROGRESS

    # Completed straight from en route: the arrival is recorded at the same time.
    deliver(session, second, at=done_at + dt.timedelta(minutes=10))
    assert second.arrived_at == second.completed_at == done_at + dt.timedelta(minutes=10)
    assert route.status is RouteStatus.COMPLETED and route.completed_at is not None
    assert two.status is OrderStatus.DELIVERED

    kinds = [(e.stop_id, e.kind) for e in session.scalars(select(StopEvent).order_by(StopEvent.id))]
    assert kinds == [
        (first.id, StopEventKind.EN_ROUTE),
        (first.id, StopEventKind.ARRIVED),
        (first.id, StopEventKind.DELIVERED),
        (second.id, StopEventKind.EN_ROUTE),
        (second.id, StopEventKind.ARRIVED),
        (second.id, StopEventKind.DELIVERED),
    ]
    proof = first.events[-1]
    assert (proof.photo_id, proof.signature_id, proof.notes) == (
        photo.id, signature.id, "left at the door",
    )  # fmt: skip
    assert proof.actor == ACTOR and proof.latitude is None
    # Every change published, versions in turn: 2 dispatched stops, accept, start, arrive,
    # two completions.
    events = webhook_events(session, route)
    assert [v for _, v, _ in events] == list(range(2, 2 + len(events))) and len(events) == 7
    assert {t for t, _, _ in events} == {"route.changed"}
    assert events[-1][2] == "completed" and route.version == 8
    assert verify(session).ok


# --- hand-over ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["bare", "(00)", "00", "]C100"])
def test_the_hand_over_reads_the_sscc_bare_or_as_gs1(session, fleet, form):
    order = fleet.packed_order()
    route = fleet.route([order])
    (sscc,) = fleet.scans(order)
    scan = sscc if form == "bare" else f"{form}{sscc}"
    package = dispatch.hand_over(
        session, route_id=route.id, package_scan=scan, user_id=None, now=NOW
    )
    assert package.stop_id == route.stops[0].id
    assert route.stops[0].status is StopStatus.DISPATCHED


def test_a_stop_is_dispatched_only_when_every_package_of_its_order_is_on(session, fleet):
    order = fleet.packed_order(packages=3)
    route = fleet.route([order])
    scans = fleet.scans(order)
    for scan in scans[:2]:
        dispatch.hand_over(session, route_id=route.id, package_scan=scan, user_id=None, now=NOW)
    assert route.stops[0].status is StopStatus.PLANNED and order.status is OrderStatus.PACKED
    assert route.version == 1  # nothing a carrier hears of yet
    assert [p.sscc for p in dispatch.stops_to_load(session, route.id)] == scans[2:]
    dispatch.hand_over(session, route_id=route.id, package_scan=scans[2], user_id=None, now=NOW)
    assert route.stops[0].status is StopStatus.DISPATCHED and order.status is OrderStatus.DISPATCHED
    assert dispatch.stops_to_load(session, route.id) == []
    assert route.version == 2 and webhook_events(session, route) == [
        ("route.changed", 2, "planned")
    ]


def test_a_repeat_scan_is_refused_and_changes_nothing(session, fleet):
    order = fleet.packed_order(packages=2)
    route = fleet.route([order])
    first = fleet.scans(order)[0]
    dispatch.hand_over(session, route_id=route.id, package_scan=first, user_id=None, now=NOW)
    error = refused(
        session, Conflict,
        lambda: dispatch.hand_over(
            session, route_id=route.id, package_scan=first, user_id=None,
            now=NOW + dt.timedelta(minutes=1),
        ),
    )  # fmt: skip
    assert "already on route" in error.message and error.field == "package_scan"


def test_another_routes_package_is_refused_naming_both_routes(session, fleet):
    mine, theirs = fleet.packed_order(), fleet.packed_order()
    route, other = fleet.route([mine]), fleet.route([theirs])
    error = refused(
        session, Conflict,
        lambda: dispatch.hand_over(
            session, route_id=route.id, package_scan=fleet.scans(theirs)[0], user_id=None,
            now=NOW,
        ),
    )  # fmt: skip
    assert f"belongs to route {other.number}, not {route.number}" in error.message


def test_a_package_whose_order_is_on_no_route_is_refused(session, fleet):
    planned, loose = fleet.packed_order(), fleet.packed_order()
    route = fleet.route([planned])
    error = refused(
        session, Conflict,
        lambda: dispatch.hand_over(
            session, route_id=route.id, package_scan=fleet.scans(loose)[0], user_id=None, now=NOW
        ),
    )  # fmt: skip
    assert "is on no route" in error.message


@pytest.mark.parametrize(
    ("scan", "words"),
    [
        ("FW01-03-14L", "not a package label"),
        ("087123450000000018", "SSCC"),  # a wrong check digit
        ("087123459999999993", "no package has the SSCC"),
        ("(01)08712345000011", "not a package label"),
    ],
)
def test_a_scan_that_names_no_package_is_a_rule_violation(session, fleet, scan, words):
    route = fleet.route([fleet.packed_order()])
    error = refused(
        session, RuleViolation,
        lambda: dispatch.hand_over(
            session, route_id=route.id, package_scan=scan, user_id=None, now=NOW
        ),
    )  # fmt: skip
    assert error.field == "package_scan" and words in error.message


def test_a_route_under_way_or_cancelled_takes_no_more_packages(session, fleet):
    order, late = fleet.packed_order(), fleet.packed_order()
    route = under_way(session, fleet, order)
    session.add(
        Stop(
            route_id=route.id, sequence=2, order_id=late.id, name="late", address="x",
            latitude=late.latitude, longitude=late.longitude, window_start=late.promised_start,
            window_end=late.promised_end, planned_arrival=LATER, eta=LATER,
        )
    )  # fmt: skip
    session.flush()
    error = refused(
        session, Conflict,
        lambda: dispatch.hand_over(
            session, route_id=route.id, package_scan=fleet.scans(late)[0], user_id=None, now=NOW
        ),
    )  # fmt: skip
    assert "in_progress" in error.message
    with pytest.raises(NotFound):
        dispatch.hand_over(
            session, route_id=10**9, package_scan=fleet.scans(late)[0], user_id=None, now=NOW
        )


# --- acceptance and start -------------------------------------------------------------------


def test_a_route_starts_only_when_every_stop_is_loaded(session, fleet):
    full, partial = fleet.packed_order(), fleet.packed_order(packages=2)
    route = fleet.route([full, partial])
    load(session, fleet, route, full)
    dispatch.hand_over(
        session, route_id=route.id, package_scan=fleet.scans(partial)[0], user_id=None, now=NOW
    )
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    error = refused(
        session, Conflict, lambda: dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    )
    assert f"stop 2 (order {partial.number}: 1 of 2 package(s) loaded)" in error.message
    assert f"order {full.number}" not in error.message
    dispatch.hand_over(
        session, route_id=route.id, package_scan=fleet.scans(partial)[1], user_id=None, now=NOW
    )
    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    assert route.status is RouteStatus.IN_PROGRESS


def test_only_a_planned_route_is_accepted_and_only_an_accepted_one_starts(session, fleet):
    order = fleet.packed_order()
    route = fleet.route([order])
    load(session, fleet, route, order)
    error = refused(
        session, Conflict, lambda: dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    )
    assert error.message == f"route {route.number} is planned; only an accepted route can start"
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    refused(
        session, Conflict,
        lambda: dispatch.accept_route(
            session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW
        ),
    )  # fmt: skip
    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    for call in (
        lambda: dispatch.start_route(session, route.id, actor=ACTOR, now=NOW),
        lambda: dispatch.accept_route(
            session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW
        ),
        lambda: dispatch.cancel_route(session, route.id, actor=ACTOR, now=NOW),
    ):
        refused(session, Conflict, call)
    with pytest.raises(NotFound):
        dispatch.accept_route(session, 10**9, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)


@pytest.mark.parametrize("who", ["nobody", "unknown", "other carrier's", "inactive"])
def test_the_driver_must_be_an_active_driver_of_the_routes_carrier(session, fleet, who):
    route = fleet.route([fleet.packed_order()])
    driver_id = {
        "nobody": lambda: None,
        "unknown": lambda: 10**9,
        "other carrier's": lambda: fleet.add_driver(carrier=fleet.other_carrier()).id,
        "inactive": lambda: fleet.add_driver(active=False).id,
    }[who]()
    error = refused(
        session, RuleViolation,
        lambda: dispatch.accept_route(
            session, route.id, driver_id=driver_id, actor=ACTOR, now=NOW
        ),
    )  # fmt: skip
    assert error.field == "driver_id"


def test_the_same_words_refuse_an_unknown_driver_and_another_carriers(session, fleet):
    route = fleet.route([fleet.packed_order()])
    theirs = fleet.add_driver(carrier=fleet.other_carrier())
    messages = set()
    for driver_id in (theirs.id, 10**9):
        with pytest.raises(RuleViolation) as caught:
            dispatch.accept_route(session, route.id, driver_id=driver_id, actor=ACTOR, now=NOW)
        messages.add(caught.value.message.replace(str(driver_id), "N"))
    assert len(messages) == 1


def test_a_driver_token_accepts_for_its_own_driver_named_on_the_route(session, fleet):
    route = fleet.route([fleet.packed_order()])
    route.driver_id = fleet.driver.id  # the planner named the driver
    dispatch.accept_route(session, route.id, driver_id=None, actor="driver:1", now=NOW)
    assert route.status is RouteStatus.ACCEPTED and route.driver_id == fleet.driver.id


def test_a_driver_drives_one_route_at_a_time(session, fleet):
    under_way(session, fleet, fleet.packed_order())
    order = fleet.packed_order()
    second = fleet.route([order])
    load(session, fleet, second, order)
    dispatch.accept_route(session, second.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    error = refused(
        session, Conflict, lambda: dispatch.start_route(session, second.id, actor=ACTOR, now=NOW)
    )
    assert "under way on route" in error.message


def test_a_trunk_route_dispatches_its_transfers_when_it_starts(session, fleet):
    dc = fleet.dc()
    sending, dropped = fleet.transfer(dc=dc), fleet.transfer(dc=dc)
    route = fleet.trunk_route([sending, dropped])
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    dropped.status = TransferStatus.CANCELLED
    session.flush()
    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    assert sending.status is TransferStatus.DISPATCHED and sending.updated_at == NOW
    assert statuses(route) == ["en_route", "skipped"]
    deliver(session, route.stops[0])
    assert route.status is RouteStatus.COMPLETED


# --- the drive ------------------------------------------------------------------------------


def test_a_driver_may_take_stops_out_of_order(session, fleet):
    orders = [fleet.packed_order(km_east=k) for k in (1, 2, 3)]
    route = under_way(session, fleet, *orders)
    assert statuses(route) == ["en_route", "dispatched", "dispatched"]
    dispatch.arrive(session, stop_of(route, 2).id, at=LATER, actor=ACTOR, now=LATER)
    assert statuses(route) == ["dispatched", "arrived", "dispatched"]
    deliver(session, stop_of(route, 2))
    # The next in sequence after the stop just served, then round to the one passed over.
    assert statuses(route) == ["dispatched", "delivered", "en_route"]
    fail(session, stop_of(route, 3))
    assert statuses(route) == ["en_route", "delivered", "failed"]
    deliver(session, stop_of(route, 1))
    assert route.status is RouteStatus.COMPLETED
    assert [o.status for o in orders] == [
        OrderStatus.DELIVERED, OrderStatus.DELIVERED, OrderStatus.FAILED_DELIVERY,
    ]  # fmt: skip


def test_arriving_while_at_another_stop_is_refused(session, fleet):
    route = under_way(session, fleet, fleet.packed_order(), fleet.packed_order())
    dispatch.arrive(session, stop_of(route, 1).id, at=LATER, actor=ACTOR, now=LATER)
    for call in (
        lambda: dispatch.arrive(session, stop_of(route, 2).id, at=LATER, actor=ACTOR, now=LATER),
        lambda: deliver(session, stop_of(route, 2)),
        lambda: dispatch.arrive(session, stop_of(route, 1).id, at=LATER, actor=ACTOR, now=LATER),
    ):
        refused(session, Conflict, call)


@pytest.mark.parametrize(
    ("at", "words"),
    [
        (NOW + dt.timedelta(minutes=3), "in the future"),
        (NOW - dt.timedelta(minutes=10), "before the route started"),
        (dt.datetime(2026, 11, 23, 9, 0), "time zone"),  # naive
    ],
)
def test_an_arrival_in_the_future_or_before_the_start_is_refused(session, fleet, at, words):
    route = under_way(session, fleet, fleet.packed_order())
    error = refused(
        session, RuleViolation,
        lambda: dispatch.arrive(session, route.stops[0].id, at=at, actor=ACTOR, now=NOW),
    )  # fmt: skip
    assert error.field == "at" and words in error.message


def test_a_device_clock_a_little_ahead_is_allowed(session, fleet):
    route = under_way(session, fleet, fleet.packed_order())
    ahead = NOW + dt.timedelta(seconds=90)
    dispatch.arrive(session, route.stops[0].id, at=ahead, actor=ACTOR, now=NOW)
    assert route.stops[0].arrived_at == ahead
    error = refused(
        session, RuleViolation,
        lambda: deliver(session, route.stops[0], at=NOW + dt.timedelta(seconds=30)),
    )  # fmt: skip
    assert "before the arrival" in error.message


@pytest.mark.parametrize(
    ("outcome", "reason", "field"),
    [
        ("failed", None, "failure_reason"),
        ("failed", "dog", "failure_reason"),
        ("delivered", "refused", "failure_reason"),
        ("lost", None, "outcome"),
    ],
)
def test_a_failed_stop_needs_a_known_reason_and_a_delivered_one_none(
    session, fleet, outcome, reason, field
):
    route = under_way(session, fleet, fleet.packed_order())
    error = refused(
        session, RuleViolation,
        lambda: dispatch.complete_stop(
            session, route.stops[0].id, outcome=outcome, failure_reason=reason, at=LATER,
            actor=ACTOR, now=LATER,
        ),
    )  # fmt: skip
    assert error.field == field


def test_the_failure_reason_is_kept_on_the_stop_and_its_event(session, fleet):
    route = under_way(session, fleet, fleet.packed_order())
    dispatch.complete_stop(
        session, route.stops[0].id, outcome="failed", failure_reason="no_access", at=LATER,
        notes="gate locked", actor=ACTOR, now=LATER,
    )  # fmt: skip
    stop = route.stops[0]
    assert stop.failure_reason.value == "no_access" and stop.events[-1].notes == "gate locked"
    assert stop.events[-1].failure_reason.value == "no_access"


@pytest.mark.parametrize(
    "case", ["unknown", "other carrier's", "a signature as photo", "already cited"]
)
def test_proof_uploads_must_be_the_carriers_own_of_the_right_kind_and_unused(session, fleet, case):
    route = under_way(session, fleet, fleet.packed_order(), fleet.packed_order())
    if case == "already cited":
        used = fleet.upload(UploadKind.PHOTO)
        deliver(session, stop_of(route, 1), photo_id=used.id)
        photo_id = used.id
    else:
        photo_id = {
            "unknown": lambda: 10**9,
            "other carrier's": lambda: fleet.upload(carrier=fleet.other_carrier()).id,
            "a signature as photo": lambda: fleet.upload(UploadKind.SIGNATURE).id,
        }[case]()
    error = refused(
        session, RuleViolation, lambda: deliver(session, stop_of(route, 2), photo_id=photo_id)
    )
    assert error.field == "photo_id"


def test_a_signature_must_be_a_signature(session, fleet):
    route = under_way(session, fleet, fleet.packed_order())
    photo = fleet.upload(UploadKind.PHOTO)
    error = refused(
        session, RuleViolation, lambda: deliver(session, route.stops[0], signature_id=photo.id)
    )
    assert error.field == "signature_id"


def test_stops_are_served_only_on_a_route_under_way_and_only_once(session, fleet):
    order = fleet.packed_order()
    route = fleet.route([order])
    load(session, fleet, route, order)
    stop = route.stops[0]
    error = refused(session, Conflict, lambda: deliver(session, stop))
    assert "only on a route in progress" in error.message
    refused(
        session, Conflict,
        lambda: dispatch.arrive(session, stop.id, at=NOW, actor=ACTOR, now=NOW),
    )  # fmt: skip
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    deliver(session, stop)
    assert route.status is RouteStatus.COMPLETED
    refused(session, Conflict, lambda: deliver(session, stop))
    refused(session, Conflict, lambda: fail(session, stop))
    with pytest.raises(NotFound):
        dispatch.arrive(session, 10**9, at=NOW, actor=ACTOR, now=NOW)


# --- cancellation ---------------------------------------------------------------------------


def test_cancelling_skips_the_stops_unloads_the_packages_and_puts_the_orders_back(session, fleet):
    loaded, half = fleet.packed_order(), fleet.packed_order(packages=2)
    route = fleet.route([loaded, half])
    load(session, fleet, route, loaded)
    dispatch.hand_over(
        session, route_id=route.id, package_scan=fleet.scans(half)[0], user_id=None, now=NOW
    )
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)

    dispatch.cancel_route(session, route.id, actor=ACTOR, now=LATER)

    assert route.status is RouteStatus.CANCELLED and route.cancelled_at == LATER
    assert statuses(route) == ["skipped", "skipped"]
    assert {loaded.status, half.status} == {OrderStatus.PACKED}
    packages = fleet.packages(loaded) + fleet.packages(half)
    assert all(p.stop_id is None and p.loaded_at is None for p in packages)
    assert webhook_events(session, route)[-1] == ("route.cancelled", route.version, "cancelled")
    # The orders can go out on another route.
    again = fleet.route([loaded, half])
    load(session, fleet, again, loaded, half)
    assert statuses(again) == ["dispatched", "dispatched"]


# --- failed deliveries and returns ------------------------------------------------------------


def failed_order(session: Session, fleet: Fleet, order: Order) -> Route:
    route = under_way(session, fleet, order)
    fail(session, route.stops[0])
    assert order.status is OrderStatus.FAILED_DELIVERY
    return route


def units_in(session: Session, slot_id: int, item_id: int) -> list[tuple[str, int, str | None]]:
    return [
        (r.lot, r.on_hand, r.hold)
        for r in session.scalars(
            select(Stock).where(Stock.slot_id == slot_id, Stock.item_id == item_id)
            .order_by(Stock.lot)
        )
    ]  # fmt: skip


def test_a_failed_delivery_comes_back_into_stock_and_the_ledger_agrees(session, fleet, clerk):
    item = fleet.house.stocked(qty=10, bay=3)
    order = fleet.packed_order([(item, 3)], packages=2)
    failed_order(session, fleet, order)
    back = fleet.house.slot(2, 4)
    first, second = fleet.scans(order)

    package = dispatch.receive_return(
        session, package_scan=first, disposition="restocked", slot_id=back.id, user_id=clerk.id,
        now=LATER,
    )  # fmt: skip
    assert (
        package.returned_at == LATER and package.return_disposition is ReturnDisposition.RESTOCKED
    )
    assert units_in(session, back.id, item.id) == [("", 2, None)]  # units 1 and 3 of 3
    assert order.status is OrderStatus.FAILED_DELIVERY  # one package still out
    dispatch.receive_return(
        session, package_scan=second, disposition=ReturnDisposition.RESTOCKED, slot_id=back.id,
        user_id=clerk.id, now=LATER,
    )  # fmt: skip
    assert units_in(session, back.id, item.id) == [("", 3, None)]
    assert order.status is OrderStatus.RETURNED
    returns = session.scalars(select(Movement).where(Movement.kind == MovementKind.RETURN)).all()
    assert sorted(m.quantity for m in returns) == [1, 2]
    assert {m.user_id for m in returns} == {clerk.id}
    assert all(m.reference.startswith("package:") for m in returns)
    site_today = NOW.date()
    assert (
        allocation.available(session, item_id=item.id, site_id=fleet.site.id, today=site_today)
        == 10
    )
    assert verify(session).ok


def test_a_quarantined_return_is_held_and_never_allocated(session, fleet):
    item = fleet.house.stocked(qty=5, bay=5)
    order = fleet.packed_order([(item, 2)])
    failed_order(session, fleet, order)
    dispatch.receive_return(
        session, package_scan=fleet.scans(order)[0], disposition="quarantined", user_id=None,
        now=LATER,
    )  # fmt: skip
    assert units_in(session, fleet.staging.id, item.id) == [("", 2, dispatch.QUARANTINE_HOLD)]
    assert (
        allocation.available(session, item_id=item.id, site_id=fleet.site.id, today=NOW.date()) == 3
    )
    assert order.status is OrderStatus.RETURNED
    assert verify(session).ok


def test_returned_units_go_back_to_the_lots_they_were_picked_from(session, fleet):
    item = fleet.house.item(Temperature.CHILLED, lot_tracked=True, expiry_tracked=True)
    soon, later = dt.date(2026, 11, 30), dt.date(2026, 12, 10)
    fleet.house.stock(item, 2, aisle=5, bay=1, lot="A", expiry=soon)
    fleet.house.stock(item, 5, aisle=5, bay=2, lot="B", expiry=later)
    order = fleet.packed_order([(item, 4)])  # 2 of lot A (first expiry), 2 of lot B
    failed_order(session, fleet, order)
    back = fleet.house.slot(5, 3)
    dispatch.receive_return(
        session, package_scan=fleet.scans(order)[0], disposition="restocked", slot_id=back.id,
        user_id=None, now=LATER,
    )  # fmt: skip
    rows = session.scalars(select(Stock).where(Stock.slot_id == back.id).order_by(Stock.lot)).all()
    assert [(r.lot, r.expiry, r.on_hand) for r in rows] == [("A", soon, 2), ("B", later, 2)]
    assert verify(session).ok


def test_only_a_failed_delivery_comes_back_and_only_once(session, fleet):
    delivered = fleet.packed_order()
    route = under_way(session, fleet, delivered)
    deliver(session, route.stops[0])
    back = fleet.house.slot(2, 4)

    def take_back(order: Order) -> Callable[[], object]:
        return lambda: dispatch.receive_return(
            session, package_scan=fleet.scans(order)[0], disposition="restocked",
            slot_id=back.id, user_id=None, now=LATER,
        )  # fmt: skip

    assert "delivered" in refused(session, Conflict, take_back(delivered)).message
    assert "packed" in refused(session, Conflict, take_back(fleet.packed_order())).message
    failed = fleet.packed_order()
    failed_order(session, fleet, failed)
    take_back(failed)()
    refused(session, Conflict, take_back(failed))


@pytest.mark.parametrize(
    ("case", "disposition", "error", "field"),
    [
        ("no slot", "restocked", RuleViolation, "slot_id"),
        ("another site's slot", "restocked", RuleViolation, "slot_id"),
        ("staging slot", "restocked", RuleViolation, "slot_id"),
        ("chilled slot", "restocked", RuleViolation, "slot_id"),
        ("locked slot", "restocked", Conflict, "slot_id"),
        ("sellable stock there", "quarantined", Conflict, "slot_id"),
        ("unknown disposition", "binned", RuleViolation, "disposition"),
    ],
)
def test_a_return_into_the_wrong_place_is_refused_and_changes_nothing(
    session, fleet, case, disposition, error, field
):
    item = fleet.house.stocked(qty=5, bay=6)
    order = fleet.packed_order([(item, 2)])
    failed_order(session, fleet, order)
    slot_id = {
        "no slot": lambda: None,
        "another site's slot": lambda: build_fleet(session).house.slot(1, 1).id,
        "staging slot": lambda: fleet.staging.id,
        "chilled slot": lambda: fleet.house.slot(5, 9).id,
        "locked slot": lambda: _locked(session, fleet.house.slot(3, 9)),
        "sellable stock there": lambda: fleet.house.slot(1, 6).id,
        "unknown disposition": lambda: fleet.house.slot(2, 2).id,
    }[case]()
    caught = refused(
        session, error,
        lambda: dispatch.receive_return(
            session, package_scan=fleet.scans(order)[0], disposition=disposition,
            slot_id=slot_id, user_id=None, now=LATER,
        ),
    )  # fmt: skip
    assert caught.field == field


def _locked(session: Session, slot: Any) -> int:
    slot.locked, slot.lock_reason = True, "broken beam"
    session.flush()
    return slot.id


def test_a_failed_order_replanned_is_handed_over_again_and_back_if_that_route_is_cancelled(
    session, fleet
):
    order = fleet.packed_order()
    failed_order(session, fleet, order)
    (scan,) = fleet.scans(order)
    again = fleet.route([order], start=LATER)
    assert [p.sscc for p in dispatch.stops_to_load(session, again.id)] == [scan]
    dispatch.hand_over(session, route_id=again.id, package_scan=scan, user_id=None, now=LATER)
    assert order.status is OrderStatus.DISPATCHED and again.stops[0].status is StopStatus.DISPATCHED
    refused(
        session, Conflict,
        lambda: dispatch.receive_return(
            session, package_scan=scan, disposition="quarantined", user_id=None, now=LATER
        ),
    )  # fmt: skip
    dispatch.cancel_route(session, again.id, actor=ACTOR, now=LATER)
    assert order.status is OrderStatus.FAILED_DELIVERY  # where it stood before this hand-over
    dispatch.receive_return(
        session, package_scan=scan, disposition="quarantined", user_id=None, now=LATER
    )
    assert order.status is OrderStatus.RETURNED
    assert verify(session).ok


def test_a_return_is_refused_while_the_order_is_planned_again(session, fleet):
    order = fleet.packed_order()
    failed_order(session, fleet, order)
    again = fleet.route([order], start=LATER)
    error = refused(
        session, Conflict,
        lambda: dispatch.receive_return(
            session, package_scan=fleet.scans(order)[0], disposition="quarantined",
            user_id=None, now=LATER,
        ),
    )  # fmt: skip
    assert again.number in error.message


# --- positions and ETAs -------------------------------------------------------------------------


def fix(minutes: float = 0, *, lat: float = 52.37, lon: float = 4.9, **kw: Any) -> PositionFix:
    return PositionFix(NOW + dt.timedelta(minutes=minutes), lat, lon, **kw)


def test_a_fix_in_the_future_is_refused_and_nothing_is_stored(session, fleet):
    batch = [fix(-2), fix(-1), fix(5), fix(0)]
    error = refused(
        session, RuleViolation,
        lambda: dispatch.record_positions(session, fleet.driver.id, batch, now=NOW),
    )  # fmt: skip
    assert error.field == "positions[2].recorded_at"
    assert fleet.driver.last_position_at is None


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"lat": 90.5}, "latitude"),
        ({"lon": -180.01}, "longitude"),
        ({"lat": math.nan}, "latitude"),
        ({"lon": math.inf}, "longitude"),
        ({"accuracy_m": -1.0}, "accuracy_m"),
        ({"speed_mps": -0.5}, "speed_mps"),
        ({"heading_deg": 360.5}, "heading_deg"),
        ({"heading_deg": math.nan}, "heading_deg"),
    ],
)
def test_a_bad_fix_is_refused_naming_its_field(session, fleet, bad, field):
    batch = [fix(-1), fix(0, **bad)]
    error = refused(
        session, RuleViolation,
        lambda: dispatch.record_positions(session, fleet.driver.id, batch, now=NOW),
    )  # fmt: skip
    assert error.field == f"positions[1].{field}"


def test_a_batch_holds_one_to_five_hundred_fixes(session, fleet):
    for batch in ([], [fix(-i / 100) for i in range(dispatch.MAX_POSITIONS + 1)]):
        error = refused(
            session, RuleViolation,
            lambda b=batch: dispatch.record_positions(session, fleet.driver.id, b, now=NOW),
        )  # fmt: skip
        assert error.field == "positions"
    done = dispatch.record_positions(
        session, fleet.driver.id, [fix(-i / 100) for i in range(dispatch.MAX_POSITIONS)], now=NOW
    )
    assert done.stored == dispatch.MAX_POSITIONS
    with pytest.raises(NotFound):
        dispatch.record_positions(session, 10**9, [fix()], now=NOW)


def test_the_drivers_position_moves_only_to_a_newer_fix(session, fleet):
    driver = fleet.driver
    dispatch.record_positions(session, driver.id, [fix(-1, lat=52.1), fix(-3, lat=52.3)], now=NOW)
    assert (driver.last_latitude, driver.last_position_at) == (52.1, NOW - dt.timedelta(minutes=1))
    dispatch.record_positions(session, driver.id, [fix(-2, lat=52.2)], now=NOW)  # late arrival
    assert driver.last_latitude == 52.1
    # A fix sent again is not stored twice.
    again = dispatch.record_positions(session, driver.id, [fix(-1, lat=52.1), fix(0)], now=NOW)
    assert again.stored == 1 and again.route_id is None and not again.published
    rows = session.scalars(select(DriverPosition).where(DriverPosition.driver_id == driver.id))
    assert sorted(p.latitude for p in rows) == [52.1, 52.2, 52.3, 52.37]


def test_etas_are_recomputed_from_the_newest_position_and_published_when_they_move(session, fleet):
    a, b = fleet.packed_order(), fleet.packed_order(km_east=2)
    route = under_way(session, fleet, a, b, service_s=120)
    first, second = route.stops
    version = route.version
    legs = FixedLegs(leg_s=900)  # 15 minutes a leg
    now = a.promised_start  # inside both windows: no waiting

    done = dispatch.record_positions(session, fleet.driver.id, [fix(30)], now=now, provider=legs)

    expected_first = now + dt.timedelta(minutes=15)
    expected_second = expected_first + dt.timedelta(minutes=2 + 15)
    assert done.route_id == route.id and done.published
    assert done.etas == {first.id: expected_first, second.id: expected_second}
    assert (first.eta, second.eta) == (expected_first, expected_second)
    assert route.version == version + 1
    assert webhook_events(session, route)[-1] == ("route.changed", version + 1, "in_progress")
    stored = session.scalars(select(DriverPosition).where(DriverPosition.route_id == route.id))
    assert len(stored.all()) == 1

    # A minute later, the ETAs move by a minute: kept as published, not announced again.
    later = now + dt.timedelta(minutes=1)
    quiet = dispatch.record_positions(
        session, fleet.driver.id, [fix(31)], now=later, provider=FixedLegs(leg_s=900)
    )
    assert not quiet.published and quiet.etas[first.id] == expected_first + dt.timedelta(minutes=1)
    assert first.eta == expected_first and route.version == version + 1


def test_an_eta_waits_for_the_window_and_is_never_before_now(session, fleet):
    early = NOW + dt.timedelta(hours=2)
    a = fleet.packed_order(start=early)
    b = fleet.packed_order(start=early + dt.timedelta(minutes=10))
    route = under_way(session, fleet, a, b, service_s=60)
    first, second = route.stops
    dispatch.arrive(session, first.id, at=NOW, actor=ACTOR, now=NOW)

    done = dispatch.record_positions(
        session, fleet.driver.id, [fix(0)], now=NOW, provider=FixedLegs(leg_s=0)
    )

    # At stop 1 before its window: service starts when it opens, then a zero-time leg.
    assert first.id not in done.etas
    assert done.etas[second.id] == early + dt.timedelta(seconds=60)
    zero = dispatch.estimate_etas(route, (52.37, 4.9), now=NOW, provider=FixedLegs(leg_s=0))
    assert all(eta >= NOW for eta in zero.values())


def test_the_default_provider_is_the_haversine_one(session, fleet):
    order = fleet.packed_order(km_east=3.0)
    route = under_way(session, fleet, order)
    site = fleet.site
    now = order.promised_start
    done = dispatch.record_positions(
        session, fleet.driver.id, [PositionFix(now, site.latitude, site.longitude)], now=now
    )
    travel = (done.etas[route.stops[0].id] - now).total_seconds()
    # 3 km east as the crow flies, times 1.3 at 20 km/h: about 11.7 minutes.
    assert 600 < travel < 800


# --- reading --------------------------------------------------------------------------------


def test_stops_to_load_lists_the_packages_still_to_hand_over(session, fleet):
    a, b = fleet.packed_order(packages=2), fleet.packed_order()
    route = fleet.route([a, b])
    dispatch.hand_over(
        session, route_id=route.id, package_scan=fleet.scans(a)[0], user_id=None, now=NOW
    )
    left = dispatch.stops_to_load(session, route.id)
    assert [(p.sequence, p.order_number, p.sscc) for p in left] == [
        (1, a.number, fleet.scans(a)[1]), (2, b.number, fleet.scans(b)[0]),
    ]  # fmt: skip
    with pytest.raises(NotFound):
        dispatch.stops_to_load(session, 10**9)


# --- concurrency (PostgreSQL) -------------------------------------------------------------------


def race(sessions: sessionmaker[Session], work: Callable[[Session, int], object], n: int = 2):
    """Run ``work`` in n threads at once, each in its own transaction; their outcomes."""
    gate = threading.Barrier(n)
    outcomes: list[str] = [""] * n

    def run(i: int) -> None:
        gate.wait()
        try:
            with sessions.begin() as session:
                work(session, i)
            outcomes[i] = "won"
        except Conflict:
            outcomes[i] = "conflict"
        except Exception as exc:  # reported by the assertion
            outcomes[i] = repr(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return outcomes


@pytest.mark.postgres
def test_two_carriers_accepting_the_same_route_exactly_one_wins(pg_sessions):
    with pg_sessions.begin() as session:
        fleet = build_fleet(session)
        route_id = fleet.route([fleet.packed_order()]).id
        drivers = [fleet.driver.id, fleet.add_driver().id]

    outcomes = race(
        pg_sessions,
        lambda s, i: dispatch.accept_route(s, route_id, driver_id=drivers[i], actor=ACTOR, now=NOW),
    )

    assert sorted(outcomes) == ["conflict", "won"]
    with pg_sessions() as session:
        route = session.get(Route, route_id)
        assert route.status is RouteStatus.ACCEPTED and route.version == 2
        assert route.driver_id == drivers[outcomes.index("won")]
        assert len(webhook_events(session, route)) == 1


@pytest.mark.postgres
def test_two_drivers_completing_the_same_stop_exactly_one_wins(pg_sessions):
    with pg_sessions.begin() as session:
        fleet = build_fleet(session)
        route = under_way(session, fleet, fleet.packed_order(), fleet.packed_order())
        route_id, stop_id = route.id, stop_of(route, 1).id
        version = route.version

    def complete(session: Session, i: int) -> None:
        outcome = "delivered" if i == 0 else "failed"
        reason = None if i == 0 else "refused"
        dispatch.complete_stop(
            session, stop_id, outcome=outcome, failure_reason=reason, at=LATER, actor=ACTOR,
            now=LATER,
        )  # fmt: skip

    outcomes = race(pg_sessions, complete)

    assert sorted(outcomes) == ["conflict", "won"]
    with pg_sessions() as session:
        stop = session.get(Stop, stop_id)
        finals = [
            e.kind for e in stop.events if e.kind in (StopEventKind.DELIVERED, StopEventKind.FAILED)
        ]
        assert len(finals) == 1
        assert stop.status.value == ("delivered" if outcomes[0] == "won" else "failed")
        order = session.get(Order, stop.order_id)
        assert order.status is (
            OrderStatus.DELIVERED if outcomes[0] == "won" else OrderStatus.FAILED_DELIVERY
        )
        route = session.get(Route, route_id)
        assert route.version == version + 1
        assert [s.status for s in route.stops].count(StopStatus.EN_ROUTE) == 1

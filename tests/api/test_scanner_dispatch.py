"""The dispatch dock and the returns desk: their handheld pages and /api/v1/dispatch.

The pages open for associates and supervisors of the site and for nobody else; the
endpoints load a route's vehicle by the packages' SSCCs and take failed deliveries back,
refusing what does not fit with the scan named, and changing nothing when they refuse or
when a scan is sent again with the same Idempotency-Key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api.conftest import ApiClient
from tests.integration.routes_fixtures import ACTOR, NOW, Fleet, build_fleet, snapshot
from wms import dispatch, packing
from wms.check import verify
from wms.models import (
    Movement,
    MovementKind,
    Order,
    OrderStatus,
    Package,
    Role,
    Route,
    Site,
    Stock,
    StopStatus,
    TokenRole,
    utcnow,
)

LATER = NOW + dt.timedelta(minutes=45)
#: A well-made SSCC that no package of the tests has.
UNKNOWN = packing.sscc(packing.DEFAULT_COMPANY_PREFIX, 987_654_321)


@pytest.fixture
def fleet(session: Session) -> Fleet:
    return build_fleet(session)


@pytest.fixture
def site(fleet: Fleet) -> Site:
    """The fleet's front warehouse: the users and tokens of the test work there."""
    return fleet.site


@pytest.fixture
def associate(signed_in: Any) -> ApiClient:
    return signed_in(Role.ASSOCIATE)


def hand_over(client: ApiClient, route: Route, scan: str, **kw: Any) -> Any:
    return client.post(
        f"/api/v1/dispatch/routes/{route.id}/hand-overs", {"package_scan": scan}, **kw
    )


def user_id(client: ApiClient) -> int:
    return int(client.client.get("/scanners/session").json["user"]["id"])


def failed_delivery(fleet: Fleet, order: Order) -> Route:
    """The order loaded, driven and its delivery failed: its packages are coming back."""
    route = fleet.failed_delivery(order, start=NOW, at=LATER)
    assert order.status is OrderStatus.FAILED_DELIVERY
    return route


# --- the pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ASSOCIATE, Role.SUPERVISOR])
@pytest.mark.parametrize(
    ("path", "marker"),
    [("/scanners/dispatch", "Today's routes at"), ("/scanners/returns", "Back to stock")],
)
def test_the_dock_pages_open_for_associates_and_supervisors_of_the_site(
    signed_in, role, path, marker
):
    page = signed_in(role).get(path)

    assert page.status_code == 200
    assert marker in page.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/scanners/dispatch", "/scanners/returns"])
def test_the_dock_pages_refuse_planners_on_a_scanner_page(signed_in, path):
    page = signed_in(Role.PLANNER).get(path)

    assert page.status_code == 403
    text = page.get_data(as_text=True)
    assert "for associates and supervisors" in text
    assert 'id="scan"' in text  # the handheld can scan on


@pytest.mark.parametrize("path", ["/scanners/dispatch", "/scanners/returns"])
def test_the_dock_pages_send_a_handheld_without_a_user_to_the_badge_scan(client, path):
    answer = client.get(path)

    assert (answer.status_code, answer.headers["Location"]) == (302, f"/scanners/login?next={path}")


def test_the_menu_shows_the_dock_to_floor_staff_only(signed_in):
    associate_menu = signed_in(Role.ASSOCIATE).get("/scanners/").get_data(as_text=True)
    planner_menu = signed_in(Role.PLANNER).get("/scanners/").get_data(as_text=True)

    assert 'href="/scanners/dispatch"' in associate_menu
    assert 'href="/scanners/returns"' in associate_menu
    assert "/scanners/dispatch" not in planner_menu
    assert 'href="/scanners/pick"' in planner_menu  # the rest of the menu is as it was


def test_the_dispatch_page_lists_todays_routes_of_the_site_with_their_load(
    session, fleet, associate
):
    now = utcnow()
    two = [fleet.packed_order(), fleet.packed_order(packages=2, km_east=2)]
    today = fleet.route(two, start=now)
    dispatch.hand_over(
        session, route_id=today.id, package_scan=fleet.scans(two[0])[0], user_id=None, now=now
    )
    tomorrow = fleet.route([fleet.packed_order()], start=now + dt.timedelta(days=1))
    cancelled = fleet.route([fleet.packed_order()], start=now)
    dispatch.cancel_route(session, cancelled.id, actor=ACTOR, now=now)
    elsewhere = build_fleet(session)
    theirs = elsewhere.route([elsewhere.packed_order()], start=now)

    page = associate.get("/scanners/dispatch").get_data(as_text=True)

    assert today.number in page
    assert fleet.vehicle.code in page and fleet.carrier.name in page
    assert "2 stop(s) · 1 / 3 packages loaded" in page
    assert f'href="/scanners/dispatch?route={today.id}"' in page
    for other in (tomorrow, cancelled, theirs):
        assert other.number not in page


def test_a_route_page_shows_its_stops_and_packages_and_another_sites_route_is_not_found(
    session, fleet, associate
):
    order = fleet.packed_order(packages=2)
    route = fleet.route([order])
    elsewhere = build_fleet(session)
    theirs = elsewhere.route([elsewhere.packed_order()])

    page = associate.get(f"/scanners/dispatch?route={route.id}")
    foreign = associate.get(f"/scanners/dispatch?route={theirs.id}")
    nonsense = associate.get("/scanners/dispatch?route=99999999999999999999")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "0 / 2 loaded" in text
    assert all(sscc in text for sscc in fleet.scans(order))  # in the page's data, for offline
    assert foreign.status_code == 404
    assert theirs.number not in foreign.get_data(as_text=True)
    assert nonsense.status_code == 404
    assert 'id="scan"' in nonsense.get_data(as_text=True)


# --- routes: the board and the scan of a route or a vehicle ------------------------------------


def test_the_board_lists_todays_routes_to_load(fleet, associate, site):
    route = fleet.route([fleet.packed_order()], start=utcnow())

    answer = associate.get("/api/v1/dispatch/routes", query={"site_id": site.id})

    assert answer.status_code == 200
    [row] = answer.json["items"]
    assert (row["number"], row["vehicle_code"], row["loaded"], row["total"], row["stops"]) == (
        route.number, fleet.vehicle.code, 0, 1, 1,
    )  # fmt: skip
    assert row["ready"] is False


def test_a_route_is_found_by_its_number_or_by_its_vehicle(session, fleet, associate, site):
    later = fleet.route([fleet.packed_order()], start=NOW + dt.timedelta(hours=2))
    first = fleet.route([fleet.packed_order()], start=NOW)
    left = fleet.route([fleet.packed_order()], start=NOW - dt.timedelta(hours=1))
    for scan in fleet.scans(left.stops[0].order):
        dispatch.hand_over(session, route_id=left.id, package_scan=scan, user_id=None, now=NOW)
    dispatch.accept_route(session, left.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    dispatch.start_route(session, left.id, actor=ACTOR, now=NOW)

    def scan(code: str) -> Any:
        return associate.get(f"/api/v1/dispatch/routes/scan/{code}", query={"site_id": site.id})

    by_number = scan(later.number.lower())
    by_vehicle = scan(fleet.vehicle.code)
    unknown = scan("NO-SUCH-VAN")

    assert (by_number.status_code, by_number.json["id"]) == (200, later.id)
    # The vehicle's next route still to load: not the one that left, the earliest of the others.
    assert (by_vehicle.status_code, by_vehicle.json["id"]) == (200, first.id)
    assert unknown.status_code == 404
    assert "NO-SUCH-VAN" in unknown.json["detail"]


# --- the hand-over ------------------------------------------------------------------------------


def test_a_good_package_is_handed_over_with_its_stop_and_the_count(session, fleet, associate):
    order = fleet.packed_order(packages=2)
    other = fleet.packed_order(km_east=2)
    route = fleet.route([order, other])
    first, second = fleet.scans(order)

    answer = hand_over(associate, route, first)

    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["package"]["sscc"] == first
    assert (body["stop"]["sequence"], body["stop"]["name"]) == (1, order.customer_name)
    assert (body["stop"]["loaded"], body["stop"]["total"]) == (1, 2)
    load = body["route"]
    assert (load["loaded"], load["total"], load["ready"]) == (1, 3, False)
    package = session.scalars(select(Package).where(Package.sscc == first)).one()
    assert package.stop_id == route.stops[0].id
    assert package.loaded_by == user_id(associate)
    assert route.stops[0].status is StopStatus.PLANNED  # one of its two packages still out

    # The GS1 forms of the label are the same package.
    assert hand_over(associate, route, f"(00){second}").json["stop"]["status"] == "dispatched"
    last = hand_over(associate, route, f"00{fleet.scans(other)[0]}").json
    session.expire_all()
    assert order.status is OrderStatus.DISPATCHED and other.status is OrderStatus.DISPATCHED
    assert (last["route"]["loaded"], last["route"]["total"], last["route"]["ready"]) == (3, 3, True)


def test_another_routes_package_is_refused_naming_the_right_route(
    session, fleet, associate, problem
):
    mine = fleet.route([fleet.packed_order()])
    theirs_order = fleet.packed_order(km_east=2)
    theirs = fleet.route([theirs_order])
    before = snapshot(session)

    answer = hand_over(associate, mine, fleet.scans(theirs_order)[0])

    body = problem(answer, 409, field="package_scan")
    assert f"belongs to route {theirs.number}, not {mine.number}" in body["detail"]
    assert body["scanned"] == fleet.scans(theirs_order)[0]
    assert snapshot(session) == before


@pytest.mark.parametrize(
    ("scan", "words"),
    [
        ("HELLO-7", "'HELLO-7' is not a package label"),
        ("376123450000099999", "SSCC 376123450000099999: the check digit"),
        (UNKNOWN, f"no package has the SSCC {UNKNOWN}"),
    ],
)
def test_a_malformed_or_unknown_scan_is_refused_naming_it(
    session, fleet, associate, problem, scan, words
):
    route = fleet.route([fleet.packed_order()])
    before = snapshot(session)

    body = problem(hand_over(associate, route, scan), 422, field="package_scan")

    assert words in body["detail"]
    assert body["scanned"] == scan
    assert snapshot(session) == before


def test_an_already_loaded_package_is_refused_and_changes_nothing(
    session, fleet, associate, problem
):
    order = fleet.packed_order(packages=2)
    route = fleet.route([order])
    scan = fleet.scans(order)[0]
    assert hand_over(associate, route, scan).status_code == 200
    before = snapshot(session)

    body = problem(hand_over(associate, route, scan), 409, field="package_scan")

    assert f"package {scan} is already on route {route.number}" in body["detail"]
    assert snapshot(session) == before


def test_a_double_trigger_with_the_same_key_is_handed_over_once(session, fleet, associate):
    order = fleet.packed_order(packages=2)
    route = fleet.route([order])
    key = str(uuid.uuid4())

    first = hand_over(associate, route, fleet.scans(order)[0], key=key)
    after_first = snapshot(session)
    again = hand_over(associate, route, fleet.scans(order)[0], key=key)

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.data == first.data
    assert snapshot(session) == after_first


def test_a_route_that_left_takes_no_package(session, fleet, associate, problem):
    order = fleet.packed_order()
    route = fleet.route([order])
    late = fleet.packed_order(km_east=3)
    for scan in fleet.scans(order):
        dispatch.hand_over(session, route_id=route.id, package_scan=scan, user_id=None, now=NOW)
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)

    body = problem(hand_over(associate, route, fleet.scans(late)[0]), 409)

    assert "in_progress" in body["detail"]


def test_the_hand_over_is_for_floor_staff_of_the_routes_site(
    session, fleet, signed_in, client, make_api_token, problem
):
    order = fleet.packed_order()
    route = fleet.route([order])
    other_site = build_fleet(session).site
    outsider = ApiClient(
        client, {"Authorization": f"Bearer {make_api_token(sites=[other_site])}"}, auto_key=True
    )
    planner = make_api_token(TokenRole.PLANNER)
    before = snapshot(session)

    problem(hand_over(outsider, route, fleet.scans(order)[0]), 403)
    problem(hand_over(signed_in(Role.PLANNER), route, fleet.scans(order)[0]), 403)
    problem(hand_over(outsider.as_token(planner), route, fleet.scans(order)[0]), 403)
    # A handheld sends an Idempotency-Key with every scan; without one nothing is done.
    keyless = replace(signed_in(), auto_key=False)
    problem(hand_over(keyless, route, fleet.scans(order)[0]), 428, field="Idempotency-Key")

    assert snapshot(session) == before


# --- returns ------------------------------------------------------------------------------------


def test_the_returns_desk_looks_a_package_up_by_its_label(session, fleet, associate):
    order = fleet.packed_order()
    route = failed_delivery(fleet, order)
    scan = fleet.scans(order)[0]

    found = associate.get(f"/api/v1/dispatch/packages/scan/(00){scan}")
    unknown = associate.get(f"/api/v1/dispatch/packages/scan/{UNKNOWN}")
    not_a_label = associate.get("/api/v1/dispatch/packages/scan/HELLO-7")

    assert found.status_code == 200
    assert (found.json["sscc"], found.json["order_status"], found.json["route_number"]) == (
        scan, "failed_delivery", route.number,
    )  # fmt: skip
    assert found.json["failure_reason"] == "recipient_absent"
    assert found.json["returned_at"] is None
    assert (unknown.status_code, not_a_label.status_code) == (404, 404)
    assert "HELLO-7" in not_a_label.json["detail"]


def test_a_failed_delivery_goes_back_to_stock_through_the_ledger(session, fleet, associate):
    item = fleet.house.stocked(qty=10, bay=3)
    order = fleet.packed_order([(item, 3)])
    failed_delivery(fleet, order)
    back = fleet.house.slot(2, 4)
    scan = fleet.scans(order)[0]

    answer = associate.post(
        "/api/v1/dispatch/returns",
        {"package_scan": scan, "disposition": "restocked", "slot_id": back.id},
    )

    assert answer.status_code == 200, answer.json
    assert answer.json["package"]["return_disposition"] == "restocked"
    assert answer.json["package"]["order_status"] == "returned"
    assert answer.json["units"] == [
        {"slot_id": back.id, "slot_barcode": back.barcode, "sku": item.sku, "lot": "",
         "quantity": 3, "hold": None}
    ]  # fmt: skip
    rows = session.scalars(select(Stock).where(Stock.slot_id == back.id)).all()
    assert [(r.item_id, r.on_hand, r.hold) for r in rows] == [(item.id, 3, None)]
    movements = session.scalars(select(Movement).where(Movement.kind == MovementKind.RETURN)).all()
    assert [(m.quantity, m.reference, m.user_id) for m in movements] == [
        (3, f"package:{scan}", user_id(associate))
    ]
    session.expire_all()
    assert order.status is OrderStatus.RETURNED
    assert verify(session).ok


def test_a_quarantined_return_is_held_in_the_staging_slot(session, fleet, signed_in):
    item = fleet.house.stocked(qty=5, bay=5)
    order = fleet.packed_order([(item, 2)])
    failed_delivery(fleet, order)
    supervisor = signed_in(Role.SUPERVISOR)

    answer = supervisor.post(
        "/api/v1/dispatch/returns",
        {"package_scan": fleet.scans(order)[0], "disposition": "quarantined"},
    )

    assert answer.status_code == 200, answer.json
    [units] = answer.json["units"]
    assert (units["slot_barcode"], units["quantity"], units["hold"]) == (
        fleet.staging.barcode, 2, dispatch.QUARANTINE_HOLD,
    )  # fmt: skip
    row = session.scalars(select(Stock).where(Stock.slot_id == fleet.staging.id)).one()
    assert (row.on_hand, row.hold) == (2, dispatch.QUARANTINE_HOLD)
    assert verify(session).ok


def test_a_return_replayed_with_the_same_key_is_taken_back_once(session, fleet, associate):
    order = fleet.packed_order()
    failed_delivery(fleet, order)
    body = {"package_scan": fleet.scans(order)[0], "disposition": "quarantined"}

    first = associate.post("/api/v1/dispatch/returns", body, key="return-1")
    again = associate.post("/api/v1/dispatch/returns", body, key="return-1")

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    returns = session.scalars(select(Movement).where(Movement.kind == MovementKind.RETURN)).all()
    assert sum(m.quantity for m in returns) == 2


@pytest.mark.parametrize(
    ("case", "status", "field", "words"),
    [
        ("not a failed delivery", 409, "package_scan", "only a failed delivery comes back"),
        ("already returned", 409, "package_scan", "was already taken back"),
        ("slot of another site", 422, "slot_id", "is not at the order's site"),
        ("restocked without a slot", 422, "slot_id", "say which slot"),
        ("unknown disposition", 422, "disposition", None),
        ("not a package label", 422, "package_scan", "is not a package label"),
    ],
)
def test_a_return_that_cannot_be_is_refused_and_changes_nothing(
    session, fleet, associate, problem, case, status, field, words
):
    order = fleet.packed_order(packages=2)  # one back leaves the order a failed delivery
    failed_delivery(fleet, order)
    scan = fleet.scans(order)[0]
    body: dict[str, Any] = {"package_scan": scan, "disposition": "restocked"}
    if case == "not a failed delivery":
        body["package_scan"] = fleet.scans(fleet.packed_order())[0]
        body["slot_id"] = fleet.house.slot(2, 2).id
    elif case == "already returned":
        dispatch.receive_return(
            session, package_scan=scan, disposition="quarantined", user_id=None, now=LATER
        )
        body["disposition"] = "quarantined"
    elif case == "slot of another site":
        body["slot_id"] = build_fleet(session).house.slot(2, 2).id
    elif case == "unknown disposition":
        body["disposition"] = "binned"
    elif case == "not a package label":
        body["package_scan"] = "HELLO-7"
    before = snapshot(session)

    refused = problem(associate.post("/api/v1/dispatch/returns", body), status, field=field)

    if words:
        assert words in refused["detail"]
    assert snapshot(session) == before


def test_a_return_is_for_floor_staff(session, fleet, signed_in, problem):
    order = fleet.packed_order()
    failed_delivery(fleet, order)
    before = snapshot(session)

    answer = signed_in(Role.PLANNER).post(
        "/api/v1/dispatch/returns",
        {"package_scan": fleet.scans(order)[0], "disposition": "quarantined"},
    )

    problem(answer, 403)
    assert snapshot(session) == before

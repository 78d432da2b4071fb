"""The dispatch dock and the returns desk in a real Chromium at 360x640, scanned into as a
keyboard wedge does.

Each test puts a front warehouse of its own next to the demo network (``build_fleet``: a
carrier, a van, packed orders on routes of today, a failed delivery coming back), lets the
demo associate work there, and checks in the served database what the scans changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.browser.handheld import serious_violations, type_scan
from tests.integration.routes_fixtures import build_fleet
from wms import dispatch
from wms.models import (
    Order,
    OrderStatus,
    Package,
    ReturnDisposition,
    ScanEvent,
    Stock,
    Stop,
    StopStatus,
    User,
    utcnow,
)

ASSOCIATE_BADGE = "B-1001"


@dataclass(frozen=True)
class Dock:
    """What the associate scans at the test's warehouse."""

    site_code: str
    vehicle: str
    route_id: int
    route: str
    #: The route's packages in stop order, with their stop's customer.
    packages: tuple[tuple[str, str], ...]
    other_route: str
    other_package: str
    returned: str
    returned_order: str
    staging_slot_id: int


@pytest.fixture
def dock(live_server: Any) -> Dock:
    with live_server.transaction() as session:
        fleet = build_fleet(session)
        associate = session.scalars(select(User).where(User.username == "associate")).one()
        associate.sites.append(fleet.site)
        now = utcnow()
        first, second = fleet.packed_order(packages=2), fleet.packed_order(km_east=2)
        route = fleet.route([first, second], start=now)
        other_order = fleet.packed_order(km_east=3)
        other = fleet.route([other_order], start=now + dt.timedelta(hours=1))
        failed = fleet.packed_order(km_east=4)
        fleet.failed_delivery(failed, start=now - dt.timedelta(hours=1), at=now)
        return Dock(
            site_code=fleet.site.code,
            vehicle=fleet.vehicle.code,
            route_id=route.id,
            route=route.number,
            packages=tuple(
                (scan, order.customer_name)
                for order in (first, second)
                for scan in fleet.scans(order)
            ),
            other_route=other.number,
            other_package=fleet.scans(other_order)[0],
            returned=fleet.scans(failed)[0],
            returned_order=failed.number,
            staging_slot_id=fleet.staging.id,
        )


def ready(page: Any) -> None:
    page.wait_for_function("document.body.dataset.ready === '1'")


def open_page(page: Any, path: str) -> None:
    page.goto(path)
    ready(page)


def feedback(page: Any, scans: int) -> str:
    """Wait for the page's answer to its n-th scan: "ok" or "error" (the tone it sounded)."""
    page.wait_for_function(f"Number(document.body.dataset.scans) >= {scans}")
    return str(page.evaluate("document.body.dataset.feedback"))


def acknowledge(page: Any) -> None:
    type_scan(page, "CMD:OK")
    page.wait_for_function("document.getElementById('banner').hidden")


def sign_in(page: Any, dock: Dock) -> None:
    """Scan the associate's badge and choose the test's warehouse."""
    open_page(page, "/scanners/")
    type_scan(page, ASSOCIATE_BADGE)
    page.wait_for_url(lambda url: urlsplit(url).path == "/scanners/")
    page.get_by_role("button", name=dock.site_code).click()
    page.get_by_role("link", name="Dispatch Load a route's vehicle").wait_for()


def load_state(page: Any, text: str) -> None:
    page.locator("#load-state", has_text=text).wait_for()


def test_an_associate_loads_a_route_until_it_is_ready_to_leave(
    page: Any, live_server: Any, dock: Dock
) -> None:
    sign_in(page, dock)
    page.get_by_role("link", name="Dispatch Load a route's vehicle").click()
    ready(page)
    board = page.locator("#routes").inner_text()
    assert dock.route in board and dock.vehicle in board
    assert "0 / 3 packages loaded" in board

    page.get_by_role("link", name=dock.route).click()
    page.wait_for_url(f"**route={dock.route_id}")
    ready(page)
    load_state(page, "0 / 3 loaded")
    scans = 0
    for n, (sscc, customer) in enumerate(dock.packages, start=1):
        type_scan(page, sscc)
        scans += 1
        assert feedback(page, scans) == "ok", page.locator("#banner-text").inner_text()
        assert customer in page.locator("#card").inner_text()
        load_state(page, f"{n} / 3 loaded" if n < 3 else f"{dock.route} fully loaded: 3 / 3")
    load_state(page, "ready to leave")
    assert "Nothing left to load" in page.locator("#to-load").inner_text()

    # A double trigger a moment later: refused, nothing changes twice.
    type_scan(page, dock.packages[0][0])
    scans += 1
    assert feedback(page, scans) == "error"
    assert "already on route" in page.get_by_role("alert").inner_text()
    acknowledge(page)

    # Another route's package: the error tone and the route it belongs to.
    type_scan(page, dock.other_package)
    scans += 1
    assert feedback(page, scans) == "error"
    banner = page.get_by_role("alert").inner_text()
    assert f"belongs to route {dock.other_route}, not {dock.route}" in banner
    acknowledge(page)
    assert page.evaluate("document.activeElement.id") == "scan"

    page.wait_for_function("window.wmsHandheld.all().then(rows => rows.length === 0)")
    with live_server.transaction(readonly=True) as session:
        stops = session.scalars(
            select(Stop).where(Stop.route_id == dock.route_id).order_by(Stop.sequence)
        ).all()
        assert [s.status for s in stops] == [StopStatus.DISPATCHED, StopStatus.DISPATCHED]
        loaded = session.scalars(
            select(Package.sscc).where(Package.stop_id.in_([s.id for s in stops]))
        ).all()
        assert sorted(loaded) == sorted(sscc for sscc, _ in dock.packages)
        other = session.scalars(select(Package).where(Package.sscc == dock.other_package)).one()
        assert (other.stop_id, other.loaded_at) == (None, None)
        refused = session.scalars(
            select(ScanEvent.raw).where(
                ScanEvent.step == "dispatch:package", ScanEvent.result == "error"
            )
        ).all()
        assert dock.other_package in refused


def test_hand_overs_scanned_without_a_network_are_sent_once_when_it_returns(
    page: Any, live_server: Any, dock: Dock
) -> None:
    sign_in(page, dock)
    open_page(page, "/scanners/dispatch")
    type_scan(page, dock.vehicle)  # the van at the dock: its next route to load
    page.wait_for_url(f"**route={dock.route_id}")
    ready(page)
    page.reload()  # the service worker keeps the page from now on
    ready(page)
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    first = dock.packages[0][0]
    type_scan(page, first)
    assert feedback(page, 1) == "ok"
    page.get_by_text("queued: 1").wait_for()
    load_state(page, "1 / 3 loaded (1 queued")
    # What is not on this route's list needs the server to say what it is.
    type_scan(page, dock.other_package)
    assert feedback(page, 2) == "error"
    assert "No network" in page.get_by_role("alert").inner_text()
    acknowledge(page)
    page.reload()  # offline: the kept page, and the scan still queued
    ready(page)
    load_state(page, "1 / 3 loaded (1 queued")

    page.context.set_offline(False)
    page.get_by_text("queued: 0").wait_for(timeout=30_000)
    load_state(page, "1 / 3 loaded")
    with live_server.transaction(readonly=True) as session:
        package = session.scalars(select(Package).where(Package.sscc == first)).one()
        assert package.stop_id is not None
        other = session.scalars(select(Package).where(Package.sscc == dock.other_package)).one()
        assert other.stop_id is None


def test_a_failed_delivery_is_put_in_quarantine_on_the_returns_page(
    page: Any, live_server: Any, dock: Dock
) -> None:
    sign_in(page, dock)
    page.get_by_role("link", name="Returns Failed deliveries back").click()
    ready(page)

    # A package that was never out for delivery does not come back.
    type_scan(page, dock.packages[0][0])
    assert feedback(page, 1) == "error"
    assert "only a failed delivery comes back" in page.get_by_role("alert").inner_text()
    acknowledge(page)

    type_scan(page, dock.returned)
    assert feedback(page, 2) == "ok", page.locator("#banner-text").inner_text()
    assert dock.returned_order in page.locator("#card").inner_text()
    page.get_by_role("button", name="Quarantine").click()
    page.locator("#return-done", has_text="quarantined").wait_for()
    assert feedback(page, 3) == "ok"
    assert "returned" in page.locator("#card").inner_text()

    type_scan(page, dock.returned)  # back already
    assert feedback(page, 4) == "error"
    assert "already taken back" in page.get_by_role("alert").inner_text()

    with live_server.transaction(readonly=True) as session:
        package = session.scalars(select(Package).where(Package.sscc == dock.returned)).one()
        assert package.returned_at is not None
        assert package.return_disposition is ReturnDisposition.QUARANTINED
        held = session.scalars(select(Stock).where(Stock.slot_id == dock.staging_slot_id)).all()
        assert [(s.on_hand, s.hold) for s in held] == [(2, dispatch.QUARANTINE_HOLD)]
        order = session.scalars(select(Order).where(Order.number == dock.returned_order)).one()
        assert order.status is OrderStatus.RETURNED


SMALL = """() => [...document.querySelectorAll('button, a.big, input#scan')]
    .filter(e => e.offsetParent !== null)
    .map(e => [e.textContent.trim() || e.id, e.getBoundingClientRect().height,
               parseFloat(getComputedStyle(e).fontSize)])
    .filter(([, h, f]) => h < 56 || f < 18)"""


def test_the_dock_pages_are_accessible_and_big_enough_for_gloves(page: Any, dock: Dock) -> None:
    sign_in(page, dock)
    found = {}
    for path in (
        "/scanners/",
        "/scanners/dispatch",
        f"/scanners/dispatch?route={dock.route_id}",
        "/scanners/returns",
    ):
        open_page(page, path)
        found[path] = serious_violations(page) + [f"small: {s}" for s in page.evaluate(SMALL)]
    assert {path: v for path, v in found.items() if v} == {}

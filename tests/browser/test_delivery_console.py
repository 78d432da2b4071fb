"""The console's delivery pages in a real Chromium: a planner opens a site's routes of the day,
sees the offline map and the route, opens it and cancels it; an admin creates a carrier key and
sees it once. The routes page passes axe-core with no serious or critical violation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.browser.handheld import serious_violations
from tests.integration.routes_fixtures import build_fleet
from wms.models import Route, RouteStatus, utcnow


@pytest.fixture
def desk(browser: Any, live_server: Any) -> Iterator[Any]:
    """A desktop browser (new context: no cookies)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def planned(live_server: Any) -> dict[str, Any]:
    """A front warehouse of the served network with a planned route of two packed orders today."""
    start = utcnow().replace(second=0, microsecond=0) + dt.timedelta(minutes=30)
    with live_server.transaction() as session:
        fleet = build_fleet(session, "FWMAP")
        orders = [
            fleet.packed_order(km_east=1.5, start=start),
            fleet.packed_order(km_east=-2.0, start=start),
        ]
        route = fleet.route(orders, start=start)
        day = start.astimezone(ZoneInfo(fleet.site.timezone)).date().isoformat()
        return {"id": route.id, "number": route.number, "site": fleet.site.code, "day": day,
                "carrier": fleet.carrier.code, "carrier_name": fleet.carrier.name}  # fmt: skip


def sign_in(page: Any, username: str, password: str, then: str) -> None:
    page.goto(f"/console/login?next={then}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(then).path)


def test_a_planner_sees_the_route_on_the_map_and_cancels_it(
    desk: Any, live_server: Any, planned: dict[str, Any]
) -> None:
    routes = f"/console/routes?site={planned['site']}&day={planned['day']}"
    sign_in(desk, "planner", "planner", then=routes)

    drawing = desk.locator("svg.route-map")
    assert drawing.count() == 1 and drawing.is_visible()
    assert drawing.locator(".map-stop").count() == 2
    assert drawing.locator(f'.map-route[data-route="{planned["id"]}"]').count() == 1
    assert planned["number"] in (drawing.locator("desc").text_content() or "")
    row = desk.locator(f"#route-{planned['id']}")
    assert "planned" in row.inner_text() and "0/2" in row.inner_text()
    assert serious_violations(desk) == []

    row.get_by_role("link", name=planned["number"]).click()
    desk.wait_for_url(lambda url: urlsplit(url).path == f"/console/routes/{planned['id']}")
    assert desk.locator("svg.route-map .map-stop").count() == 2
    assert serious_violations(desk) == []
    desk.get_by_role("button", name="Cancel route").click()

    assert desk.locator("#route-status").inner_text() == "cancelled"
    assert "cancelled" in desk.get_by_role("status").first.inner_text()
    assert desk.get_by_role("button", name="Cancel route").count() == 0
    with live_server.transaction(readonly=True) as session:
        route = session.get(Route, planned["id"])
        assert route is not None and route.status is RouteStatus.CANCELLED


def test_an_admin_creates_a_carrier_key_and_sees_it_once(
    desk: Any, planned: dict[str, Any]
) -> None:
    sign_in(desk, "admin", "admin", then="/console/carrier-keys")
    carrier = f"{planned['carrier']} — {planned['carrier_name']}"
    desk.get_by_label("Carrier", exact=True).select_option(label=carrier)
    desk.get_by_label("Name (what uses it", exact=False).fill("Browser test dispatch")
    desk.get_by_label("Expires after (days)", exact=False).fill("7")
    desk.get_by_role("button", name="Create key").click()

    assert "it will not be shown again" in desk.get_by_role("alert").first.inner_text()
    key = desk.get_by_label("Key", exact=True).input_value()
    assert key.startswith("fwc_")
    prefix = key.split("_")[1]
    assert serious_violations(desk) == []

    desk.goto("/console/carrier-keys")
    assert "Browser test dispatch" in desk.locator(f"#key-{prefix}").inner_text()
    assert key not in desk.content()
    desk.reload()
    assert key not in desk.content()

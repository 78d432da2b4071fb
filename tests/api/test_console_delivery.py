"""The console's delivery pages: a site's routes of a day with their offline map, route planning
queued for the scheduler (once, however often it is asked), one route with its stops, loads
and proof of delivery, cancelling a route, failed deliveries promised again, and the outbox's
dead letters requeued. Refused forms come back with the error by the field and write nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.integration.routes_fixtures import ACTOR, NOW, Fleet, build_fleet, snapshot
from wms import commands, dispatch, outbox
from wms.models import (
    JobCommand,
    JobCommandKind,
    JobCommandStatus,
    Order,
    OrderStatus,
    OutboxEvent,
    Role,
    Route,
    RouteStatus,
    Stop,
    StopStatus,
    UploadKind,
)

DAY = "2026-11-23"  # NOW's day in Amsterdam, where the fleet's front warehouse is
LATER = NOW + dt.timedelta(minutes=45)


@pytest.fixture
def fleet(session: Session) -> Fleet:
    return build_fleet(session)


@pytest.fixture
def planner(signed_in: Any) -> Any:
    return signed_in(Role.PLANNER)


def text(answer: Any) -> str:
    return str(answer.get_data(as_text=True))


def count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def error_at(answer: Any, field_id: str) -> str:
    """The message shown next to a form field (its id: "plan-window_end", "order-3-...")."""
    found = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error" role="alert">([^<]*)</p>',
        text(answer),
    )
    assert found, f"no error shown next to {field_id}"
    return found.group(1)


def svg_of(page: str, start: str = "") -> str:
    """The first route map on the page (after ``start``, when given)."""
    rest = page[page.index(start) :] if start else page
    return rest[rest.index('<svg xmlns="http://www.w3.org/2000/svg" class="route-map"') :].split(
        "</svg>"
    )[0]


def load(session: Session, fleet: Fleet, route: Route, *orders: Order) -> None:
    for order in orders:
        for scan in fleet.scans(order):
            dispatch.hand_over(session, route_id=route.id, package_scan=scan, user_id=None, now=NOW)


def under_way(session: Session, fleet: Fleet, *orders: Order) -> Route:
    """A route of the orders, loaded, accepted and started at NOW."""
    route = fleet.route(orders)
    load(session, fleet, route, *orders)
    dispatch.accept_route(session, route.id, driver_id=fleet.driver.id, actor=ACTOR, now=NOW)
    dispatch.start_route(session, route.id, actor=ACTOR, now=NOW)
    return route


def fail(session: Session, stop: Stop, *, notes: str = "") -> None:
    dispatch.complete_stop(
        session, stop.id, outcome="failed", failure_reason="no_access", notes=notes, at=LATER,
        actor=ACTOR, now=LATER,
    )  # fmt: skip


def failed_order(session: Session, fleet: Fleet, *, notes: str = "gate locked") -> Order:
    order = fleet.packed_order()
    route = under_way(session, fleet, order)
    fail(session, route.stops[0], notes=notes)
    return order


# --- who may open the pages ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ASSOCIATE, Role.SUPERVISOR])
def test_floor_staff_are_refused_every_delivery_page(signed_in, fleet, role):
    order = fleet.packed_order()
    route = fleet.route([order])
    upload = fleet.upload()
    staff = signed_in(role)
    pages = [
        "/console/routes",
        f"/console/routes/{route.id}",
        f"/console/uploads/{upload.id}",
        "/console/failed-deliveries",
        "/console/dead-letters",
    ]
    posts = [
        "/console/routes/plan",
        f"/console/routes/{route.id}/cancel",
        f"/console/failed-deliveries/{order.id}/redeliver",
        "/console/dead-letters/1/requeue",
    ]

    for path in pages:
        answer = staff.get(path)
        assert answer.status_code == 403, path
        assert "This page is for planners and admins." in text(answer)
    for path in posts:
        assert staff.post(path, data={"site": fleet.site.code}).status_code == 403, path
    assert route.status is RouteStatus.PLANNED


def test_an_anonymous_visitor_is_sent_to_sign_in(client, fleet):
    answer = client.get("/console/routes")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console/login?next=/console/routes"


def test_the_menu_shows_the_delivery_pages_to_planners(planner):
    page = text(planner.get("/console/jobs"))

    for link in ("/console/routes", "/console/failed-deliveries", "/console/dead-letters"):
        assert f'href="{link}"' in page
    assert 'href="/console/carrier-keys"' not in page  # admins only


def test_every_form_carries_its_csrf_token_and_a_post_without_it_is_refused(
    planner, fleet, session
):
    route = fleet.route([fleet.packed_order()])
    failed_order(session, fleet)
    dead = outbox.emit(session, "webhook.route.changed", {"x": 1}, key="k", now=NOW)
    dead.dead_at = NOW
    session.flush()

    for path in (
        f"/console/routes?site={fleet.site.code}&day={DAY}",
        f"/console/routes/{route.id}",
        "/console/failed-deliveries",
        "/console/dead-letters",
    ):
        page = text(planner.get(path))
        forms = page.count('<form method="post"')
        assert forms >= 1, path
        assert page.count('name="csrf_token"') == forms, path
    bare = planner.client.post(f"/console/routes/{route.id}/cancel")  # no token
    assert bare.status_code == 400 and "CSRF" in text(bare)
    session.expire_all()
    assert session.get(Route, route.id).status is RouteStatus.PLANNED


# --- the routes of a day ------------------------------------------------------------------------


def test_the_days_routes_are_listed_by_window_and_drawn_one_marker_per_stop_one_path_per_route(
    planner, fleet, session
):
    first = fleet.route([fleet.packed_order(km_east=1.0), fleet.packed_order(km_east=2.5)])
    second = fleet.route(
        [fleet.packed_order(km_east=-1.0), fleet.packed_order(km_east=-2.0),
         fleet.packed_order(km_east=0.5)]
    )  # fmt: skip
    gone = fleet.route([fleet.packed_order(km_east=3.0)])
    dispatch.cancel_route(session, gone.id, actor=ACTOR, now=NOW)
    tomorrow = fleet.route([fleet.packed_order()], start=NOW + dt.timedelta(days=1))

    answer = planner.get(f"/console/routes?site={fleet.site.code}&day={DAY}")

    page = text(answer)
    assert answer.status_code == 200
    row = page[page.index(f'id="route-{first.id}"') :].split("</tr>")[0]
    assert first.number in row and fleet.carrier.name in row and fleet.vehicle.code in row
    assert "0/2" in row and "2.0" in row and "planned" in row
    assert "10:30\u2013" in row  # planned start, site-local (09:30 UTC is 10:30 in Amsterdam)
    assert gone.number in page and tomorrow.number not in page
    drawing = svg_of(page)
    assert drawing.count('class="map-depot"') == 1
    assert drawing.count('class="map-stop"') == 5  # the cancelled route is not drawn
    assert drawing.count('class="map-route"') == 2
    assert f'data-route="{first.id}"' in drawing and f'data-route="{second.id}"' in drawing
    assert f'data-route="{gone.id}"' not in drawing
    assert 'role="img"' in drawing and "<desc>" in drawing
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # an offline map: no tiles, no script


def test_another_day_shows_its_own_routes_and_a_bad_day_is_refused(planner, fleet):
    fleet.route([fleet.packed_order()], start=NOW + dt.timedelta(days=1))

    empty = text(planner.get(f"/console/routes?site={fleet.site.code}&day={DAY}"))
    next_day = text(planner.get(f"/console/routes?site={fleet.site.code}&day=2026-11-24"))
    bad = planner.get(f"/console/routes?site={fleet.site.code}&day=tuesday")

    assert "No routes at" in empty
    assert 'class="map-stop"' in next_day
    assert bad.status_code == 422 and "choose a day" in error_at(bad, "day-day")
    assert planner.get("/console/routes?site=NOPE").status_code == 404


def test_the_plan_form_offers_the_next_window_by_default(planner, fleet):
    page = text(planner.get(f"/console/routes?site={fleet.site.code}"))

    start = re.search(r'id="plan-window_start" name="window_start" value="([^"]+)"', page)
    end = re.search(r'id="plan-window_end" name="window_end" value="([^"]+)"', page)
    assert start and end
    opens = dt.datetime.fromisoformat(start.group(1))
    closes = dt.datetime.fromisoformat(end.group(1))
    assert closes - opens == dt.timedelta(minutes=60)
    assert opens.minute == 0  # hourly windows from local midnight


# --- planning ----------------------------------------------------------------------------------


def plan(planner: Any, code: str, start: str = f"{DAY}T13:00", end: str = f"{DAY}T14:00") -> Any:
    return planner.post(
        "/console/routes/plan", data={"site": code, "window_start": start, "window_end": end}
    )


def test_planning_a_window_queues_one_task_and_a_second_click_finds_the_first(
    planner, fleet, session
):
    code = fleet.site.code

    first = plan(planner, code)
    again = plan(planner, code, f"{DAY}T15:00", f"{DAY}T16:00")

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == f"/console/routes?site={code}&day={DAY}"
    command = session.scalars(select(JobCommand)).one()
    assert (command.job_id, command.kind) == (f"plan-routes:{code}", JobCommandKind.TASK)
    assert command.status is JobCommandStatus.QUEUED
    assert command.payload["window_start"] == "2026-11-23T12:00:00Z"  # 13:00 in Amsterdam
    assert command.payload["window_end"] == "2026-11-23T13:00:00Z"
    assert command.payload["actor"] == command.requested_by
    assert command.requested_by.startswith("user:")
    page = text(planner.get(f"/console/routes?site={code}&day={DAY}"))
    assert f"already queued or running (command {command.id}" in page
    assert "not asked twice" in page
    listed = page[page.index(f'data-command="{command.id}"') :].split("</tr>")[0]
    assert "queued" in listed and "Mon 23 Nov 13:00\u201314:00" in listed


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (f"{DAY}T14:00", f"{DAY}T13:00", "window_end", "must end after it starts"),
        (f"{DAY}T13:00", "2026-11-25T13:00", "window_end", "at most 24 hours"),
        ("soon", f"{DAY}T13:00", "window_start", "enter a date and time"),
        (f"{DAY}T13:00", "", "window_end", "enter a date and time"),
    ],
)
def test_a_bad_window_is_refused_by_its_field_and_queues_nothing(
    planner, fleet, session, start, end, field, message
):
    answer = plan(planner, fleet.site.code, start, end)

    assert answer.status_code == 422
    assert message in error_at(answer, f"plan-{field}")
    assert f'value="{start}"' in text(answer)  # the form comes back as it was typed
    assert count(session, JobCommand) == 0


def test_a_finished_planning_lists_the_orders_no_route_took_and_why(planner, fleet, session):
    code = fleet.site.code
    window_start = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    late = fleet.packed_order(start=window_start)
    plan(planner, code)
    command = session.scalars(select(JobCommand)).one()

    # What the scheduler does with the command: run the task, keep its account as the result.
    task = commands.task_for(command.job_id)
    assert task is not None
    after_the_window = window_start + dt.timedelta(hours=1, minutes=5)
    summary, result = task(session, after_the_window, command.payload)
    command.status, command.summary, command.result = JobCommandStatus.SUCCEEDED, summary, result
    session.flush()

    page = text(planner.get(f"/console/routes?site={code}&day={DAY}"))
    listed = page[page.index(f'data-command="{command.id}"') :].split("</tr>")[0]
    assert "succeeded" in listed and summary in listed
    unassigned = listed[listed.index(f'data-unassigned="{late.id}"') :].split("</li>")[0]
    assert late.number in unassigned and "its delivery window is over" in unassigned


# --- one route ---------------------------------------------------------------------------------


def test_the_route_page_shows_the_stops_in_order_late_ones_and_what_is_still_to_load(
    planner, fleet, session
):
    one = fleet.packed_order(packages=2, km_east=1.0)
    two = fleet.packed_order(km_east=2.0)
    route = fleet.route([one, two])
    first_package, second_package = fleet.scans(one)
    dispatch.hand_over(
        session, route_id=route.id, package_scan=first_package, user_id=None, now=NOW
    )
    late_stop = route.stops[1]
    late_stop.eta = late_stop.window_end + dt.timedelta(minutes=10)
    session.flush()

    page = text(planner.get(f"/console/routes/{route.id}"))

    first_row = page[page.index(f'id="stop-{route.stops[0].id}"') :].split("</tr>")[0]
    second_row = page[page.index(f'id="stop-{late_stop.id}"') :].split("</tr>")[0]
    assert page.index(one.number) < page.index(two.number)
    assert 'class="planned"' in first_row and "late" not in first_row
    # One of the first stop's two packages is on the vehicle; the second stop's one is not.
    assert re.findall(r'<td class="num">(\d+)</td>', first_row) == ["1", "1", "1"]
    assert re.findall(r'<td class="num">(\d+)</td>', second_row) == ["2", "0", "1"]
    assert "late" in second_row.split(">", 1)[0] and '<span class="late-flag">late</span>' in (
        second_row
    )
    to_load = page[page.index('id="load-h"') :]
    assert second_package in to_load and first_package not in to_load
    assert fleet.scans(two)[0] in to_load
    drawing = svg_of(page)
    assert drawing.count('class="map-stop"') == 2 and drawing.count('class="map-route"') == 1
    assert "Cancel route" in page


def test_the_route_page_shows_what_the_driver_reported_with_links_to_the_proof(
    planner, fleet, session
):
    one, two = fleet.packed_order(), fleet.packed_order(km_east=2.0)
    route = under_way(session, fleet, one, two)
    photo, signature = fleet.upload(UploadKind.PHOTO), fleet.upload(UploadKind.SIGNATURE)
    dispatch.complete_stop(
        session, route.stops[0].id, outcome="delivered", recipient_name="A. Neighbour",
        notes="left with the neighbour", photo_id=photo.id, signature_id=signature.id, at=LATER,
        actor=ACTOR, now=LATER,
    )  # fmt: skip
    fail(session, route.stops[1], notes="gate locked")

    page = text(planner.get(f"/console/routes/{route.id}"))

    delivered = page[page.index(f'id="stop-{route.stops[0].id}"') :].split("</tr>")[0]
    failed = page[page.index(f'id="stop-{route.stops[1].id}"') :].split("</tr>")[0]
    assert "received by A. Neighbour" in delivered and "left with the neighbour" in delivered
    assert f'href="/console/uploads/{photo.id}">photo</a>' in delivered
    assert f'href="/console/uploads/{signature.id}">signature</a>' in delivered
    assert "failed" in failed and "no access" in failed and "gate locked" in failed
    assert "Cancel route" not in page  # completed: nothing to cancel
    assert 'data-status="delivered"' in svg_of(page) and 'data-status="failed"' in svg_of(page)


def test_a_proof_image_is_sent_with_its_type_and_nothing_a_browser_would_run(planner, fleet):
    photo = fleet.upload(UploadKind.PHOTO)
    signature = fleet.upload(UploadKind.SIGNATURE)

    answer = planner.get(f"/console/uploads/{photo.id}")
    drawn = planner.get(f"/console/uploads/{signature.id}")
    unknown = planner.get(f"/console/uploads/{signature.id + 1000}")

    assert answer.status_code == 200 and answer.get_data() == photo.data
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert drawn.headers["Content-Type"] == "image/png" and drawn.get_data() == signature.data
    assert unknown.status_code == 404


def test_cancelling_a_planned_route_skips_its_stops_and_a_second_cancel_is_refused(
    planner, fleet, session
):
    order = fleet.packed_order()
    route = fleet.route([order])
    load(session, fleet, route, order)

    answer = planner.post(f"/console/routes/{route.id}/cancel")
    again = planner.post(f"/console/routes/{route.id}/cancel")

    assert answer.status_code == 302 and answer.headers["Location"] == f"/console/routes/{route.id}"
    session.expire_all()
    assert session.get(Route, route.id).status is RouteStatus.CANCELLED
    assert [s.status for s in session.get(Route, route.id).stops] == [StopStatus.SKIPPED]
    assert session.get(Order, order.id).status is OrderStatus.PACKED
    assert again.status_code == 409
    assert "only a planned or accepted route can be cancelled" in text(again)
    page = text(planner.get(f"/console/routes/{route.id}"))
    assert 'id="route-status">cancelled<' in page and "Cancel route" not in page


def test_a_route_under_way_is_not_cancelled_and_nothing_changes(planner, fleet, session):
    route = under_way(session, fleet, fleet.packed_order())
    before = snapshot(session)

    answer = planner.post(f"/console/routes/{route.id}/cancel")

    assert answer.status_code == 409
    assert "is in_progress; only a planned or accepted route can be cancelled" in text(answer)
    session.expire_all()
    assert snapshot(session) == before


def test_an_unknown_route_is_not_found(planner, fleet):
    assert planner.get("/console/routes/999999").status_code == 404
    assert planner.post("/console/routes/999999/cancel").status_code == 404


# --- failed deliveries ------------------------------------------------------------------------


def test_a_failed_delivery_is_listed_with_the_drivers_reason_and_where_returns_go(
    planner, fleet, session
):
    order = failed_order(session, fleet, notes="gate locked")

    page = text(planner.get("/console/failed-deliveries"))

    row = page[page.index(f'id="order-{order.id}"') :].split("</tr>")[0]
    assert order.number in row and fleet.site.code in row
    assert "no access" in row and "gate locked" in row and "Mon 23 Nov 10:45" in row
    assert "returns page" in page  # returns to stock happen on the floor, not here
    start = re.search(
        rf'id="order-{order.id}-window_start" name="window_start" value="([^"]+)"', row
    )
    assert start and start.group(1) >= f"{DAY}T12:30"  # after the failed route's window


def test_a_failed_delivery_is_promised_a_later_window(planner, fleet, session):
    order = failed_order(session, fleet)

    answer = planner.post(
        f"/console/failed-deliveries/{order.id}/redeliver",
        data={"window_start": f"{DAY}T13:00", "window_end": f"{DAY}T14:00"},
    )

    assert answer.status_code == 302
    session.expire_all()
    again = session.get(Order, order.id)
    assert again.promised_start == dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    assert again.promised_end == dt.datetime(2026, 11, 23, 13, tzinfo=dt.UTC)
    page = text(planner.get("/console/failed-deliveries"))
    assert f"Order {order.number} will be delivered again in Mon 23 Nov 13:00\u201314:00" in page
    assert "promised again" in page


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (f"{DAY}T11:00", f"{DAY}T12:00", "window_start", "choose a window starting after it"),
        (f"{DAY}T14:00", f"{DAY}T13:00", "window_end", "must end after it starts"),
        ("tomorrow", f"{DAY}T13:00", "window_start", "enter a date and time"),
    ],
)
def test_a_window_that_cannot_be_is_refused_by_its_field_and_changes_nothing(
    planner, fleet, session, start, end, field, message
):
    order = failed_order(session, fleet)
    promised = (order.promised_start, order.promised_end)

    answer = planner.post(
        f"/console/failed-deliveries/{order.id}/redeliver",
        data={"window_start": start, "window_end": end},
    )

    assert answer.status_code == 422
    assert message in error_at(answer, f"order-{order.id}-{field}")
    session.expire_all()
    again = session.get(Order, order.id)
    assert (again.promised_start, again.promised_end) == promised


def test_only_a_failed_delivery_is_delivered_again(planner, fleet, session):
    packed = fleet.packed_order()

    answer = planner.post(
        f"/console/failed-deliveries/{packed.id}/redeliver",
        data={"window_start": f"{DAY}T13:00", "window_end": f"{DAY}T14:00"},
    )
    unknown = planner.post(
        "/console/failed-deliveries/999999/redeliver",
        data={"window_start": f"{DAY}T13:00", "window_end": f"{DAY}T14:00"},
    )

    assert answer.status_code == 409
    assert "only a failed delivery is delivered again" in text(answer)
    assert unknown.status_code == 404
    session.expire_all()
    assert session.get(Order, packed.id).status is OrderStatus.PACKED


# --- dead letters ------------------------------------------------------------------------------


def dead_letter(session: Session) -> OutboxEvent:
    event = outbox.emit(
        session, "webhook.route.changed", {"subscription_id": 1}, key="webhook:1:route:9", now=NOW
    )
    event.attempts, event.last_error = 12, "DeliveryFailed: 503 from https://carrier.example"
    event.dead_at = NOW + dt.timedelta(days=1)
    session.flush()
    return event


def test_a_dead_letter_is_listed_and_requeued_once(planner, session):
    event = dead_letter(session)

    page = text(planner.get("/console/dead-letters"))
    answer = planner.post(f"/console/dead-letters/{event.id}/requeue")
    listing = text(planner.get("/console/dead-letters"))
    again = planner.post(f"/console/dead-letters/{event.id}/requeue")

    row = page[page.index(f'id="event-{event.id}"') :].split("</tr>")[0]
    assert "webhook.route.changed" in row and "webhook:1:route:9" in row
    assert "503 from https://carrier.example" in row and ">12<" in row
    assert answer.status_code == 302
    session.expire_all()
    requeued = session.get(OutboxEvent, event.id)
    assert requeued.dead_at is None and requeued.delivered_at is None
    assert requeued.available_at > NOW
    assert again.status_code == 409 and "is not a dead letter" in text(again)
    assert f"Event {event.id} (webhook.route.changed) requeued" in listing
    assert f'id="event-{event.id}"' not in listing
    assert planner.post("/console/dead-letters/999999/requeue").status_code == 404

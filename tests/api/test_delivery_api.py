"""Planners queue route plans through the API, follow them, and act on routes and failed orders."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integration.routes_fixtures import build_fleet
from wms import carrier_keys, commands, delivery, tokens
from wms.app import create_app
from wms.models import (
    JobCommand,
    JobCommandStatus,
    OrderStatus,
    Route,
    RouteStatus,
    StopStatus,
    TokenRole,
    utcnow,
)
from wms.scheduler import CommandRunner, start_jobs

PROBLEM = "application/problem+json"


def _window() -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo("Europe/Amsterdam")
    start, end = delivery.window_of(utcnow() + dt.timedelta(hours=3), minutes=60, zone=zone)
    return start, end


def _token(session: Session, site_ids: list[int], role: TokenRole = TokenRole.PLANNER) -> str:
    _, plaintext = tokens.issue(session, name="planner script", role=role, site_ids=site_ids)
    return plaintext


def _post(client, path, body, token, key=None):
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post(path, json=body, headers=headers)


def _get(client, path, token, **query):
    return client.get(path, query_string=query, headers={"Authorization": f"Bearer {token}"})


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def test_a_route_plan_is_queued_run_by_the_scheduler_and_read_back(pg_sessions, tmp_path):
    """The whole way: API → command row → the scheduler's runner → routes a carrier can read."""
    start, end = _window()
    with pg_sessions.begin() as session:
        fleet = build_fleet(session)
        served = [
            fleet.packed_order(start=start + dt.timedelta(minutes=5), km_east=n) for n in (1, 2)
        ]
        site_id, site_code = fleet.site.id, fleet.site.code
        planner = _token(session, [site_id])
        _, carrier_key = carrier_keys.issue(
            session, carrier_id=fleet.carrier.id, name="dispatch", scopes=list(carrier_keys.SCOPES)
        )
        order_ids = [o.id for o in served]
    app = create_app(
        {
            "PROFILE": "testing",
            "INSTANCE_PATH": str(tmp_path),
            "DELIVERY_TIME_LIMIT_S": 1,
            "DELIVERY_MAX_ITERATIONS": 100,
        },
        sessions=pg_sessions,
    )
    client = app.test_client()

    body = {"site_id": site_id, "window_start": _iso(start), "window_end": _iso(end)}
    queued = _post(client, "/api/v1/route-plans", body, planner)
    assert queued.status_code == 202, queued.json
    assert queued.headers["Location"].endswith(f"/api/v1/route-plans/{queued.json['id']}")
    assert queued.json["status"] == "queued" and queued.json["site"] == site_code
    again = _post(client, "/api/v1/route-plans", body, planner)
    assert again.json["id"] == queued.json["id"]  # one plan per site in flight

    scheduler = start_jobs(pg_sessions.kw["bind"], pg_sessions, [])
    runner = CommandRunner(pg_sessions, scheduler, [])
    try:
        runner.poll()
        runner.pool.submit(lambda: None).result(timeout=60)
        for _ in range(300):
            with pg_sessions() as session:
                command = session.get(JobCommand, queued.json["id"])
                if command.status not in commands.IN_FLIGHT:
                    break
            threading.Event().wait(0.1)
    finally:
        runner.shutdown()
        scheduler.shutdown(wait=True)

    done = _get(client, f"/api/v1/route-plans/{queued.json['id']}", planner)
    assert done.status_code == 200 and done.json["status"] == "succeeded", done.json
    (route_id,) = done.json["result"]["routes_planned"]
    assert done.json["result"]["unassigned"] == []

    routes = _get(client, "/api/v1/routes", planner, site_id=site_id)
    assert [r["id"] for r in routes.json["items"]] == [route_id]
    route = _get(client, f"/api/v1/routes/{route_id}", planner).json
    assert sorted(s["reference"] for s in route["stops"]) == sorted(o.number for o in served)
    assert route["carrier"]["code"] == fleet.carrier.code
    seen = client.get("/api/v1/carrier/routes", headers={"Authorization": f"Bearer {carrier_key}"})
    assert [r["id"] for r in seen.json["items"]] == [route_id]
    with pg_sessions() as session:
        assert session.get(Route, route_id).planned_by == f"token:{tokens.get(session, planner).id}"
        assert {s.order_id for s in session.get(Route, route_id).stops} == set(order_ids)


@pytest.fixture
def fleet(session):
    return build_fleet(session)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "window_end": "2026-12-03T09:00:00+00:00",
                "window_start": "2026-12-03T10:00:00+00:00",
            },
            "window_end",
        ),
        ({"window_start": "2026-12-03T09:00:00"}, "window_start"),
        ({"site_id": 999_999}, "site_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_plan_that_cannot_be_is_refused_by_field_and_queues_nothing(
    session, client, fleet, change, field
):
    planner = _token(session, [fleet.site.id])
    body = {
        "site_id": fleet.site.id,
        "window_start": "2026-12-03T09:00:00+00:00",
        "window_end": "2026-12-03T10:00:00+00:00",
        **change,
    }
    answer = _post(client, "/api/v1/route-plans", body, planner)
    assert answer.status_code == 422 and answer.content_type == PROBLEM
    assert field in str(answer.json.get("field")) + str(answer.json.get("errors"))
    assert session.scalars(select(JobCommand)).all() == []


def test_a_planner_of_another_site_cannot_plan_read_or_cancel_here(
    session, client, fleet, make_site
):
    elsewhere = _token(session, [make_site().id])
    body = {
        "site_id": fleet.site.id,
        "window_start": "2026-12-03T09:00:00+00:00",
        "window_end": "2026-12-03T10:00:00+00:00",
    }
    assert _post(client, "/api/v1/route-plans", body, elsewhere).status_code == 403
    route = fleet.route([fleet.packed_order()])
    assert _get(client, f"/api/v1/routes/{route.id}", elsewhere).status_code == 403
    assert _post(client, f"/api/v1/routes/{route.id}/cancel", None, elsewhere).status_code == 403
    assert _get(client, "/api/v1/routes", elsewhere).json["items"] == []


def test_an_associate_on_the_floor_cannot_plan_routes(signed_in, site):
    associate = signed_in()
    body = {
        "site_id": site.id,
        "window_start": "2026-12-03T09:00:00+00:00",
        "window_end": "2026-12-03T10:00:00+00:00",
    }
    answer = associate.post("/api/v1/route-plans", body)
    assert answer.status_code == 403 and "planner" in answer.json["detail"]
    assert associate.get("/api/v1/routes").status_code == 403


def test_a_planner_cancels_a_route_before_it_leaves(session, client, fleet):
    planner = _token(session, [fleet.site.id])
    order = fleet.packed_order()
    route = fleet.route([order])
    answer = _post(client, f"/api/v1/routes/{route.id}/cancel", None, planner)
    assert answer.status_code == 200 and answer.json["status"] == "cancelled"
    session.expire_all()
    assert route.status is RouteStatus.CANCELLED
    assert all(s.status is StopStatus.SKIPPED for s in route.stops)
    again = _post(client, f"/api/v1/routes/{route.id}/cancel", None, planner)
    assert again.status_code == 409


def test_a_failed_delivery_is_promised_again_in_a_later_window(session, client, fleet):
    planner = _token(session, [fleet.site.id])
    order = fleet.packed_order()
    route = fleet.route([order])
    stop = route.stops[0]
    stop.status = StopStatus.FAILED
    order.status = OrderStatus.FAILED_DELIVERY
    session.flush()
    later = route.window_end + dt.timedelta(hours=1)
    too_soon = _post(
        client,
        f"/api/v1/orders/{order.id}/redeliver",
        {"window_start": _iso(route.window_start), "window_end": _iso(later)},
        planner,
    )
    assert too_soon.status_code == 422 and too_soon.json["field"] == "window_start"
    answer = _post(
        client,
        f"/api/v1/orders/{order.id}/redeliver",
        {"window_start": _iso(later), "window_end": _iso(later + dt.timedelta(hours=1))},
        planner,
    )
    assert answer.status_code == 200
    assert dt.datetime.fromisoformat(answer.json["promised_start"]) == later
    delivered = fleet.packed_order()
    refused = _post(
        client,
        f"/api/v1/orders/{delivered.id}/redeliver",
        {"window_start": _iso(later), "window_end": _iso(later + dt.timedelta(hours=1))},
        planner,
    )
    assert refused.status_code == 409


def test_an_unknown_route_plan_is_not_found(session, client, fleet):
    planner = _token(session, [fleet.site.id])
    assert _get(client, "/api/v1/route-plans/424242", planner).status_code == 404
    # A command of another kind (a job's run-now) is not a route plan either.
    other = commands.submit(
        session, "replenish:X", commands.JobCommandKind.RUN, actor="t", known_jobs={"replenish:X"}
    )
    assert _get(client, f"/api/v1/route-plans/{other.command.id}", planner).status_code == 404
    assert JobCommandStatus.QUEUED is other.command.status

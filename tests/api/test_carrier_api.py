"""The carrier API: carriers read their routes and report their stops, and reach nothing else."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.integration.routes_fixtures import Fleet, build_fleet, make_carrier
from wms import carrier_keys, dispatch
from wms.models import (
    Carrier,
    Driver,
    DriverPosition,
    Order,
    OrderStatus,
    Route,
    RouteStatus,
    Stop,
    StopEvent,
    StopStatus,
    Upload,
    Vehicle,
    utcnow,
)

PROBLEM = "application/problem+json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
ALL_SCOPES = list(carrier_keys.SCOPES)


@dataclass
class Carrier_:
    """A carrier's key, a client that sends it, and its things the other carrier must not see."""

    carrier: Carrier
    vehicle: Vehicle
    driver: Driver
    key: str
    client: Any
    route: Route
    orders: list[Order]

    def _headers(self, key: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}", **(extra or {})}
        if key is not False:
            headers["Idempotency-Key"] = key or str(uuid.uuid4())
        return headers

    def get(self, path: str, **query: Any) -> Any:
        return self.client.get(
            f"/api/v1/carrier{path}",
            query_string=query,
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def post(self, path: str, body: Any = None, *, key: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        return self.client.post(f"/api/v1/carrier{path}", headers=self._headers(key), **kwargs)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1/carrier{path}", headers=self._headers(None))


@pytest.fixture
def fleet(session: Session) -> Fleet:
    return build_fleet(session)


def _carrier(session: Session, fleet: Fleet, client: Any, which: str, *, scopes=None) -> Carrier_:
    if which == "a":
        carrier, vehicle, driver = fleet.carrier, fleet.vehicle, fleet.driver
    else:
        carrier, vehicle, driver, _ = make_carrier(session, fleet.site)
    orders = [fleet.packed_order(km_east=1.0 + n) for n in range(2)]
    route = fleet.route(orders, vehicle=vehicle, carrier=carrier)
    _, plaintext = carrier_keys.issue(
        session, carrier_id=carrier.id, name=f"{which} dispatch", scopes=scopes or ALL_SCOPES
    )
    return Carrier_(carrier, vehicle, driver, plaintext, client, route, orders)


@pytest.fixture
def a(session, fleet, client) -> Carrier_:
    return _carrier(session, fleet, client, "a")


@pytest.fixture
def b(session, fleet, client, a) -> Carrier_:
    return _carrier(session, fleet, client, "b")


def load(session: Session, fleet: Fleet, carrier: Carrier_) -> None:
    """Hand every package of the carrier's route over at the dock (the floor's scanner page)."""
    for order in carrier.orders:
        for scan in fleet.scans(order):
            dispatch.hand_over(
                session, route_id=carrier.route.id, package_scan=scan, user_id=None, now=utcnow()
            )


def under_way(session: Session, fleet: Fleet, carrier: Carrier_) -> None:
    assert (
        carrier.post(
            f"/routes/{carrier.route.id}/accept", {"driver_id": carrier.driver.id}
        ).status_code
        == 200
    )
    load(session, fleet, carrier)
    assert carrier.post(f"/routes/{carrier.route.id}/start", {}).status_code == 200


def now_iso(minutes: float = 0) -> str:
    return (utcnow() + dt.timedelta(minutes=minutes)).isoformat()


# --- reading -------------------------------------------------------------------------------------


def test_a_carrier_lists_its_own_routes_only(a, b):
    answer = a.get("/routes")
    assert answer.status_code == 200
    assert [r["id"] for r in answer.json["items"]] == [a.route.id]
    summary = answer.json["items"][0]
    assert summary["number"] == a.route.number and summary["stops_count"] == 2
    assert summary["vehicle"]["code"] == a.vehicle.code
    assert b.route.number not in answer.get_data(as_text=True)


def test_a_route_reads_with_its_stops_in_order_and_their_packages(a, fleet):
    answer = a.get(f"/routes/{a.route.id}")
    assert answer.status_code == 200
    stops = answer.json["stops"]
    assert [s["sequence"] for s in stops] == [1, 2]
    assert [s["reference"] for s in stops] == [o.number for o in a.orders]
    first = stops[0]
    assert first["kind"] == "delivery" and first["status"] == "planned"
    assert -90 <= first["latitude"] <= 90 and first["address"]
    assert first["window_start"] and first["eta"]
    assert [p["sscc"] for p in first["packages"]] == fleet.scans(a.orders[0])
    assert all(p["loaded"] is False for p in first["packages"])


def test_routes_page_with_a_cursor_and_filter_by_status_date_and_change(session, a, fleet):
    more = [
        fleet.route([fleet.packed_order()], vehicle=a.vehicle, carrier=a.carrier) for _ in range(2)
    ]
    first = a.get("/routes", limit=2)
    assert len(first.json["items"]) == 2 and first.json["next_cursor"]
    second = a.get("/routes", limit=2, cursor=first.json["next_cursor"])
    ids = [r["id"] for r in first.json["items"] + second.json["items"]]
    assert ids == [a.route.id] + [r.id for r in more] and second.json["next_cursor"] is None

    more[0].status = RouteStatus.CANCELLED
    later = utcnow() + dt.timedelta(hours=1)
    more[1].updated_at = later
    session.flush()
    assert [r["id"] for r in a.get("/routes", status="cancelled").json["items"]] == [more[0].id]
    assert [r["id"] for r in a.get("/routes", updated_since=later.isoformat()).json["items"]] == [
        more[1].id
    ]
    day = a.route.window_start.astimezone(dt.timezone(dt.timedelta(hours=1))).date()
    assert a.route.id in [r["id"] for r in a.get("/routes", date=day.isoformat()).json["items"]]
    assert a.get("/routes", date=(day + dt.timedelta(days=3)).isoformat()).json["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"status": "lost"},
        {"updated_since": "2026-12-01T10:00:00"},
        {"limit": 0},
        {"colour": "red"},
        {"cursor": "nonsense"},
    ],
)
def test_a_bad_filter_is_refused_by_name(a, query):
    answer = a.get("/routes", **query)
    assert answer.status_code == 422 and answer.content_type == PROBLEM


# --- who reaches what ----------------------------------------------------------------------------


def _bola_requests(b: Carrier_) -> list[tuple[str, str, Any]]:
    stop = b.route.stops[0].id
    return [
        ("GET", f"/routes/{b.route.id}", None),
        ("POST", f"/routes/{b.route.id}/accept", {}),
        ("POST", f"/routes/{b.route.id}/start", {}),
        ("POST", f"/stops/{stop}/arrive", {"at": now_iso()}),
        ("POST", f"/stops/{stop}/complete", {"at": now_iso(), "outcome": "delivered"}),
        (
            "POST",
            f"/drivers/{b.driver.id}/positions",
            {"positions": [{"recorded_at": now_iso(), "latitude": 52.0, "longitude": 4.0}]},
        ),
        ("DELETE", "/webhooks/{webhook}", None),
    ]


def test_another_carriers_routes_stops_drivers_and_webhooks_are_not_found(session, a, b):
    hook = b.post("/webhooks", {"url": "https://b.example/hook"})
    assert hook.status_code == 201
    before = (b.route.status, b.route.version, b.route.driver_id)
    for method, path, body in _bola_requests(b):
        path = path.replace("{webhook}", str(hook.json["id"]))
        if method == "GET":
            answer = a.get(path)
        elif method == "DELETE":
            answer = a.delete(path)
        else:
            answer = a.post(path, body)
        assert answer.status_code == 404, (method, path, answer.json)
        text = answer.get_data(as_text=True)
        assert b.route.number not in text and b.carrier.code not in text
    session.expire_all()
    assert (b.route.status, b.route.version, b.route.driver_id) == before
    assert session.scalar(select(func.count()).select_from(DriverPosition)) == 0
    assert b.get("/webhooks").json["items"][0]["active"] is True


def test_a_driver_token_reaches_its_own_routes_only(session, a, fleet):
    assert a.post(f"/routes/{a.route.id}/accept", {"driver_id": a.driver.id}).status_code == 200
    other = fleet.route([fleet.packed_order()], vehicle=a.vehicle, carrier=a.carrier)
    _, token = carrier_keys.issue(
        session,
        carrier_id=a.carrier.id,
        name="driver app",
        scopes=ALL_SCOPES,
        driver_id=a.driver.id,
    )
    driver = Carrier_(a.carrier, a.vehicle, a.driver, token, a.client, a.route, a.orders)
    assert [r["id"] for r in driver.get("/routes").json["items"]] == [a.route.id]
    assert driver.get(f"/routes/{other.id}").status_code == 404
    # Not its driver's: the token cannot take it, for itself or for a colleague.
    someone = fleet.add_driver()
    for body in ({"driver_id": someone.id}, {"driver_id": a.driver.id}):
        assert driver.post(f"/routes/{other.id}/accept", body).status_code == 404
    session.refresh(other)
    assert (other.status, other.driver_id) == (RouteStatus.PLANNED, None)
    assert driver.get("/webhooks").status_code == 403


def test_a_key_without_the_scope_is_refused(session, fleet, client):
    reader = _carrier(session, fleet, client, "a", scopes=[carrier_keys.ROUTES_READ])
    assert reader.get("/routes").status_code == 200
    answer = reader.post(f"/routes/{reader.route.id}/accept", {})
    assert answer.status_code == 403 and "stops:write" in answer.json["detail"]
    assert reader.route.status is RouteStatus.PLANNED


def test_carrier_keys_reach_the_carrier_api_only_and_it_takes_nothing_else(
    a, client, make_api_token
):
    answer = client.get("/api/v1/items", headers={"Authorization": f"Bearer {a.key}"})
    assert answer.status_code == 403
    token = make_api_token()
    answer = client.get("/api/v1/carrier/routes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert client.get("/api/v1/carrier/routes").status_code == 401
    bad = client.get(
        "/api/v1/carrier/routes", headers={"Authorization": "Bearer fwc_00000000_nope"}
    )
    assert bad.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"status": "completed"},
        {"driver_id": None, "carrier_id": 1},
        {"version": 9},
        {"accepted_at": "2026-12-01T10:00:00Z"},
    ],
)
def test_what_a_carrier_may_not_write_is_refused_and_changes_nothing(session, a, body):
    answer = a.post(f"/routes/{a.route.id}/accept", body)
    assert answer.status_code == 422
    session.expire_all()
    assert a.route.status is RouteStatus.PLANNED and a.route.version == 1


# --- the lifecycle through the API ---------------------------------------------------------------


def test_a_route_is_accepted_loaded_started_and_delivered(session, a, fleet):
    accepted = a.post(f"/routes/{a.route.id}/accept", {"driver_id": a.driver.id})
    assert accepted.status_code == 200
    assert accepted.json["status"] == "accepted" and accepted.json["driver_id"] == a.driver.id

    early = a.post(f"/routes/{a.route.id}/start", {})
    assert early.status_code == 409 and early.content_type == PROBLEM
    load(session, fleet, a)
    started = a.post(f"/routes/{a.route.id}/start", {})
    assert started.status_code == 200 and started.json["status"] == "in_progress"
    first, second = started.json["stops"]
    assert first["status"] == "en_route" and all(p["loaded"] for p in first["packages"])

    arrived = a.post(
        f"/stops/{first['id']}/arrive", {"at": now_iso(), "latitude": 52.37, "longitude": 4.9}
    )
    assert arrived.status_code == 200 and arrived.json["status"] == "arrived"
    photo = a.post(
        "/uploads",
        data={"kind": "photo", "file": (io.BytesIO(JPEG), "door.jpg")},
        content_type="multipart/form-data",
    )
    signature = a.post(
        "/uploads",
        data={"kind": "signature", "file": (io.BytesIO(PNG), "sig.png")},
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201 and photo.json["content_type"] == "image/jpeg"
    done = a.post(
        f"/stops/{first['id']}/complete",
        {
            "at": now_iso(),
            "outcome": "delivered",
            "recipient_name": "J. Doe",
            "photo_id": photo.json["id"],
            "signature_id": signature.json["id"],
        },
    )
    assert done.status_code == 200 and done.json["status"] == "delivered"
    failed = a.post(
        f"/stops/{second['id']}/complete",
        {
            "at": now_iso(),
            "outcome": "failed",
            "failure_reason": "recipient_absent",
            "notes": "no answer",
        },
    )
    assert failed.status_code == 200 and failed.json["failure_reason"] == "recipient_absent"

    session.expire_all()
    route = session.get(Route, a.route.id)
    assert route.status is RouteStatus.COMPLETED
    assert [o.status for o in a.orders] == [OrderStatus.DELIVERED, OrderStatus.FAILED_DELIVERY]
    event = session.scalars(
        select(StopEvent).where(StopEvent.stop_id == first["id"], StopEvent.photo_id.is_not(None))
    ).one()
    assert event.signature_id == signature.json["id"] and event.recipient_name == "J. Doe"


def test_illegal_steps_are_conflicts(session, a, fleet):
    stop = a.route.stops[0].id
    assert a.post(f"/stops/{stop}/arrive", {"at": now_iso()}).status_code == 409
    assert a.post(f"/routes/{a.route.id}/start", {}).status_code == 409
    under_way(session, fleet, a)
    again = a.post(f"/routes/{a.route.id}/accept", {})
    assert again.status_code == 409 and "in_progress" in again.json["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"at": now_iso(), "latitude": 91, "longitude": 4}, "latitude"),
        ({"at": now_iso(), "latitude": 52, "longitude": 181}, "longitude"),
        ({"at": now_iso(), "latitude": 52}, "latitude"),
        ({"at": "2026-12-01T10:00:00"}, "at"),
        ({}, "at"),
    ],
)
def test_an_arrival_that_cannot_be_is_refused_by_field(session, a, fleet, body, field):
    under_way(session, fleet, a)
    stop = a.route.stops[0].id
    answer = a.post(f"/stops/{stop}/arrive", body)
    assert answer.status_code == 422 and answer.content_type == PROBLEM
    assert field in json.dumps(answer.json.get("errors", {})) + str(answer.json.get("field"))
    session.expire_all()
    assert session.get(Stop, stop).status is StopStatus.EN_ROUTE


def test_a_moment_in_the_future_and_an_unknown_failure_reason_are_refused(session, a, fleet):
    under_way(session, fleet, a)
    stop = a.route.stops[0].id
    future = a.post(f"/stops/{stop}/arrive", {"at": now_iso(minutes=30)})
    assert future.status_code == 422 and future.json["field"] == "at"
    unknown = a.post(
        f"/stops/{stop}/complete", {"at": now_iso(), "outcome": "failed", "failure_reason": "dog"}
    )
    assert unknown.status_code == 422 and "failure_reason" in unknown.json["errors"]
    missing = a.post(f"/stops/{stop}/complete", {"at": now_iso(), "outcome": "failed"})
    assert missing.status_code == 422 and missing.json["field"] == "failure_reason"
    session.expire_all()
    assert session.get(Stop, stop).status is StopStatus.EN_ROUTE


def test_an_upload_of_the_wrong_type_or_size_is_refused(session, a, app):
    app.config["CARRIER_UPLOAD_MAX_BYTES"] = 100
    big = a.post(
        "/uploads",
        data={"kind": "photo", "file": (io.BytesIO(JPEG * 3), "big.jpg")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 422 and big.json["field"] == "file"
    text = a.post(
        "/uploads",
        data={"kind": "photo", "file": (io.BytesIO(b"<svg/>"), "x.svg")},
        content_type="multipart/form-data",
    )
    assert text.status_code == 422 and "image/jpeg" in text.json["detail"]
    jpeg_signature = a.post(
        "/uploads",
        data={"kind": "signature", "file": (io.BytesIO(JPEG), "s.jpg")},
        content_type="multipart/form-data",
    )
    assert jpeg_signature.status_code == 422
    assert session.scalar(select(func.count()).select_from(Upload)) == 0


def test_an_upload_of_another_carrier_cannot_be_cited(session, a, b, fleet):
    under_way(session, fleet, a)
    theirs = b.post(
        "/uploads",
        data={"kind": "photo", "file": (io.BytesIO(JPEG), "d.jpg")},
        content_type="multipart/form-data",
    )
    stop = a.route.stops[0].id
    answer = a.post(
        f"/stops/{stop}/complete",
        {"at": now_iso(), "outcome": "delivered", "photo_id": theirs.json["id"]},
    )
    assert answer.status_code == 422 and answer.json["field"] == "photo_id"


def test_positions_are_stored_and_the_etas_follow(session, a, fleet):
    under_way(session, fleet, a)
    fixes = [
        {"recorded_at": now_iso(-2), "latitude": 52.36, "longitude": 4.90, "accuracy_m": 8},
        {
            "recorded_at": now_iso(-1),
            "latitude": 52.37,
            "longitude": 4.91,
            "speed_mps": 6.5,
            "heading_deg": 90,
        },
    ]
    answer = a.post(f"/drivers/{a.driver.id}/positions", {"positions": fixes})
    assert answer.status_code == 200
    assert answer.json["stored"] == 2 and answer.json["route_id"] == a.route.id
    assert [e["stop_id"] for e in answer.json["etas"]] == [s.id for s in a.route.stops]
    session.expire_all()
    assert session.get(Driver, a.driver.id).last_latitude == pytest.approx(52.37)


@pytest.mark.parametrize(
    ("fix", "field"),
    [
        ({"recorded_at": now_iso(60), "latitude": 52.0, "longitude": 4.0}, "recorded_at"),
        ({"recorded_at": now_iso(), "latitude": -91, "longitude": 4.0}, "latitude"),
        (
            {"recorded_at": now_iso(), "latitude": 52.0, "longitude": 4.0, "heading_deg": 400},
            "heading_deg",
        ),
    ],
)
def test_a_position_that_cannot_be_is_refused_and_none_of_the_batch_is_kept(session, a, fix, field):
    good = {"recorded_at": now_iso(-1), "latitude": 52.0, "longitude": 4.0}
    answer = a.post(f"/drivers/{a.driver.id}/positions", {"positions": [good, fix]})
    assert answer.status_code == 422
    assert field in json.dumps(answer.json.get("errors", {})) + str(answer.json.get("field"))
    assert session.scalar(select(func.count()).select_from(DriverPosition)) == 0


# --- idempotency and budgets -----------------------------------------------------------------


def test_every_post_needs_an_idempotency_key_and_a_replay_changes_nothing(session, a):
    missing = a.post(f"/routes/{a.route.id}/accept", {}, key=False)
    assert missing.status_code == 428
    first = a.post(f"/routes/{a.route.id}/accept", {"driver_id": a.driver.id}, key="accept-1")
    replay = a.post(f"/routes/{a.route.id}/accept", {"driver_id": a.driver.id}, key="accept-1")
    assert first.status_code == replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json == first.json
    session.expire_all()
    assert session.get(Route, a.route.id).version == first.json["version"]
    other = a.post(f"/routes/{a.route.id}/accept", {}, key="accept-1")
    assert other.status_code == 422


def test_a_key_over_its_budget_is_told_when_to_come_back(session, fleet, sessions, tmp_path):
    from wms.app import create_app

    app = create_app(
        {
            "PROFILE": "testing",
            "INSTANCE_PATH": str(tmp_path),
            "CARRIER_RATE_LIMIT": "3 per minute",
        },
        sessions=sessions,
    )
    carrier = _carrier(session, fleet, app.test_client(), "a")
    answers = [carrier.get("/routes") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[-1].content_type == PROBLEM and int(answers[-1].headers["Retry-After"]) > 0
    _, other_key = carrier_keys.issue(
        session, carrier_id=carrier.carrier.id, name="other", scopes=ALL_SCOPES
    )
    other = app.test_client().get(
        "/api/v1/carrier/routes", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert other.status_code == 200  # budgets are per key


# --- webhooks ------------------------------------------------------------------------------------


def test_a_carrier_subscribes_a_url_sees_its_secret_once_and_can_stop_it(a):
    created = a.post("/webhooks", {"url": "https://a.example/hooks", "events": ["route.changed"]})
    assert created.status_code == 201 and created.json["secret"].startswith("whsec_")
    listed = a.get("/webhooks").json["items"]
    assert {"url": "https://a.example/hooks", "events": ["route.changed"]}.items() <= next(
        w for w in listed if w["id"] == created.json["id"]
    ).items()
    assert all("secret" not in w for w in listed)
    assert a.post("/webhooks", {"url": "ftp://a.example"}).status_code == 422
    assert (
        a.post("/webhooks", {"url": "https://a.example", "events": ["route.eaten"]}).status_code
        == 422
    )
    stopped = a.delete(f"/webhooks/{created.json['id']}")
    assert stopped.status_code == 200 and stopped.json["active"] is False

"""The mutation wrapper: one transaction, Idempotency-Key replays, retries (invariant 3)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app
from flask_login import login_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload
from werkzeug.serving import make_server

from api.auth import SessionUser
from api.context import ATTEMPTS, mutation
from wms import idempotency, migrate, tokens
from wms.app import create_app
from wms.db import database, make_engine, make_sessions, transaction
from wms.errors import Conflict
from wms.models import (
    Carrier,
    IdempotencyRecord,
    Role,
    Site,
    SiteKind,
    TokenRole,
    User,
    utcnow,
)

# --- a test-only API: real views behind the real wrapper ------------------------------------

blp = Blueprint("idempotency_probe", __name__, url_prefix="/api/v1/_test")


class CarrierCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    #: Keep the transaction open this long, so that concurrent repeats overlap.
    hold_ms = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5000))


class CarrierSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)


def add_carrier(session: Any, args: dict[str, Any]) -> Carrier:
    """Insert a carrier; refuse while a carrier coded HOLD exists (a state that can change)."""
    carrier = Carrier(code=args["code"], name=args["name"])
    session.add(carrier)
    session.flush()
    if session.scalar(select(Carrier.id).where(Carrier.code == "HOLD")) is not None:
        raise Conflict("carriers are on hold")
    if args["hold_ms"]:
        time.sleep(args["hold_ms"] / 1000)
    return carrier


@blp.route("/carriers", methods=["POST"])
@mutation()
@blp.arguments(CarrierCreateSchema)
@blp.response(201, CarrierSchema)
def create_carrier(args: dict[str, Any], *, session: Any) -> Carrier:
    """Create a carrier."""
    return add_carrier(session, args)


@blp.route("/strict-carriers", methods=["POST"])
@mutation(idempotency="required")
@blp.arguments(CarrierCreateSchema)
@blp.response(201, CarrierSchema)
def create_carrier_with_a_key(args: dict[str, Any], *, session: Any) -> Carrier:
    """Create a carrier; every principal must send a key."""
    return add_carrier(session, args)


@blp.route("/flaky-carriers", methods=["POST"])
@mutation()
@blp.arguments(CarrierCreateSchema)
@blp.response(201, CarrierSchema)
def create_carrier_flakily(args: dict[str, Any], *, session: Any) -> Carrier:
    """Create a carrier, failing as a busy database would for the first N calls."""
    carrier = add_carrier(session, args)
    current_app.config["FLAKY_CALLS"] += 1
    if current_app.config["FLAKY_CALLS"] <= current_app.config["FLAKY_FAILURES"]:
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
    return carrier


@blp.route("/refusing-carriers", methods=["POST"])
@mutation()
@blp.arguments(CarrierCreateSchema)
def create_carrier_then_refuse(args: dict[str, Any], *, session: Any) -> Any:
    """Insert a carrier, then answer 409 without raising."""
    add_carrier(session, args)
    return {"detail": "refused after writing"}, 409


def add_sign_in_route(app: Flask) -> None:
    """A test-only page signing a user in, as the login pages will; answers the CSRF token."""

    @app.get("/_test/sign-in/<int:user_id>")
    def sign_in(user_id: int) -> Any:
        with transaction(readonly=True) as session:
            user = session.get(User, user_id, options=[selectinload(User.sites)])
            assert user is not None
            login_user(SessionUser.of(user))
        return {"csrf_token": generate_csrf()}


def install(app: Flask) -> Flask:
    app.config.update(FLAKY_CALLS=0, FLAKY_FAILURES=0)
    app.extensions["wms.api"].register_blueprint(blp)
    add_sign_in_route(app)
    return app


@pytest.fixture
def client(app):
    return install(app).test_client()


@pytest.fixture
def token(session, make_site) -> str:
    """The plaintext of an integration token."""
    _, plaintext = tokens.issue(
        session, name="shop", role=TokenRole.INTEGRATION, site_ids=[make_site().id]
    )
    return plaintext


def headers(plaintext: str, key: str | None = None, **extra: str) -> dict[str, str]:
    result = {"Authorization": f"Bearer {plaintext}", **extra}
    if key is not None:
        result["Idempotency-Key"] = key
    return result


def carriers(session) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(Carrier.code)))


def records(session) -> int:
    return session.scalar(select(func.count()).select_from(IdempotencyRecord))


def problem_of(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    return json.loads(response.data)


BODY = {"code": "BIKES", "name": "Cargo bikes"}


# --- replays --------------------------------------------------------------------------------


def test_a_repeat_with_the_same_key_gets_the_first_answer_and_creates_one_row(
    client, session, token
):
    first = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))
    again = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.data == first.data
    assert again.mimetype == "application/json"
    assert carriers(session) == ["BIKES"]
    assert records(session) == 1


def test_the_same_key_with_a_different_body_is_refused_with_422_and_changes_nothing(
    client, session, token
):
    client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))

    response = client.post(
        "/api/v1/_test/carriers",
        json={"code": "VANS", "name": "Vans"},
        headers=headers(token, "k-1"),
    )

    problem = problem_of(response, 422)
    assert problem["field"] == "Idempotency-Key"
    assert problem["type"] == "/problems/idempotency_key_reused"
    assert carriers(session) == ["BIKES"]


def test_the_same_key_with_another_query_string_is_refused(client, session, token):
    client.post("/api/v1/_test/carriers?a=1&b=2", json=BODY, headers=headers(token, "k-1"))

    reordered = client.post(
        "/api/v1/_test/carriers?b=2&a=1", json=BODY, headers=headers(token, "k-1")
    )
    changed = client.post("/api/v1/_test/carriers?a=2", json=BODY, headers=headers(token, "k-1"))

    assert reordered.headers.get("Idempotent-Replayed") == "true"
    assert problem_of(changed, 422)["field"] == "Idempotency-Key"


def test_a_key_is_scoped_to_its_principal_and_its_path(client, session, token, make_site):
    _, other = tokens.issue(
        session, name="other", role=TokenRole.INTEGRATION, site_ids=[make_site().id]
    )

    mine = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))
    theirs = client.post(
        "/api/v1/_test/carriers",
        json={"code": "VANS", "name": "Vans"},
        headers=headers(other, "k-1"),
    )
    elsewhere = client.post(
        "/api/v1/_test/strict-carriers",
        json={"code": "TRUCKS", "name": "Trucks"},
        headers=headers(token, "k-1"),
    )

    assert [mine.status_code, theirs.status_code, elsewhere.status_code] == [201, 201, 201]
    assert carriers(session) == ["BIKES", "TRUCKS", "VANS"]


def test_an_expired_answer_is_not_replayed_and_its_key_serves_again(client, session, token):
    client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))
    session.execute(update(IdempotencyRecord).values(expires_at=utcnow() - dt.timedelta(hours=1)))

    response = client.post(
        "/api/v1/_test/carriers",
        json={"code": "VANS", "name": "Vans"},
        headers=headers(token, "k-1"),
    )

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert carriers(session) == ["BIKES", "VANS"]
    session.expire_all()
    record = session.scalars(select(IdempotencyRecord)).one()
    assert record.expires_at > utcnow() + dt.timedelta(hours=23)
    assert json.loads(record.response_body)["code"] == "VANS"


# --- keys: required, optional, malformed ----------------------------------------------------


def test_a_token_may_mutate_without_a_key_and_nothing_is_stored(client, session, token):
    first = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token))
    second = client.post(
        "/api/v1/_test/carriers", json={"code": "VANS", "name": "Vans"}, headers=headers(token)
    )

    assert [first.status_code, second.status_code] == [201, 201]
    assert records(session) == 0


def test_a_view_that_requires_a_key_answers_428_to_a_token_without_one(client, session, token):
    response = client.post("/api/v1/_test/strict-carriers", json=BODY, headers=headers(token))

    problem = problem_of(response, 428)
    assert problem["field"] == "Idempotency-Key"
    assert "Idempotency-Key" in problem["detail"]
    assert carriers(session) == []


def test_a_signed_in_user_without_a_key_gets_428_and_with_one_goes_through(
    client, session, make_site
):
    user = User(username="ann", display_name="Ann", role=Role.ASSOCIATE, sites=[make_site()])
    session.add(user)
    session.flush()
    csrf = client.get(f"/_test/sign-in/{user.id}").json["csrf_token"]

    without = client.post("/api/v1/_test/carriers", json=BODY, headers={"X-CSRFToken": csrf})
    with_key = client.post(
        "/api/v1/_test/carriers",
        json=BODY,
        headers={"X-CSRFToken": csrf, "Idempotency-Key": "scan-1"},
    )

    assert problem_of(without, 428)["field"] == "Idempotency-Key"
    assert with_key.status_code == 201
    record = session.scalars(select(IdempotencyRecord)).one()
    assert record.principal == f"user:{user.id}"


@pytest.mark.parametrize("key", ["", "k" * 129, "caf\xe9"], ids=["empty", "too-long", "latin-1"])
def test_a_malformed_key_is_refused_with_400_naming_the_header(client, session, token, key):
    response = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, key))

    assert problem_of(response, 400)["field"] == "Idempotency-Key"
    assert carriers(session) == []


def test_a_key_of_128_printable_characters_is_accepted(client, token):
    key = ("Aa0 -_.~!" * 15)[:128]

    response = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, key))

    assert response.status_code == 201


# --- failures roll back and use up nothing --------------------------------------------------


def test_a_domain_error_rolls_back_everything_and_a_retry_with_the_same_key_later_succeeds(
    client, session, token
):
    session.add(Carrier(code="HOLD", name="on hold"))
    session.flush()

    refused = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))

    assert problem_of(refused, 409)["detail"] == "carriers are on hold"
    assert carriers(session) == ["HOLD"]
    assert records(session) == 0

    session.delete(session.scalars(select(Carrier).where(Carrier.code == "HOLD")).one())
    session.flush()
    retried = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert carriers(session) == ["BIKES"]


def test_a_request_refused_as_invalid_does_not_use_up_its_key(client, session, token):
    invalid = client.post(
        "/api/v1/_test/carriers", json={"code": "BIKES"}, headers=headers(token, "k-1")
    )
    corrected = client.post("/api/v1/_test/carriers", json=BODY, headers=headers(token, "k-1"))

    assert invalid.status_code == 422
    assert "name" in problem_of(invalid, 422)["errors"]
    assert corrected.status_code == 201
    assert carriers(session) == ["BIKES"]


def test_an_unsuccessful_answer_returned_by_a_view_rolls_back_and_is_not_stored(
    client, session, token
):
    first = client.post("/api/v1/_test/refusing-carriers", json=BODY, headers=headers(token, "k-1"))
    again = client.post("/api/v1/_test/refusing-carriers", json=BODY, headers=headers(token, "k-1"))

    assert [first.status_code, again.status_code] == [409, 409]
    assert "Idempotent-Replayed" not in again.headers
    assert carriers(session) == []
    assert records(session) == 0


def test_a_retryable_database_error_runs_the_whole_unit_again_in_a_new_transaction(
    client, app, session, token
):
    app.config["FLAKY_FAILURES"] = 2

    response = client.post("/api/v1/_test/flaky-carriers", json=BODY, headers=headers(token, "k-1"))

    assert response.status_code == 201, response.data
    assert app.config["FLAKY_CALLS"] == 3
    # The two failed attempts inserted the same carrier; only the third one's is left.
    assert carriers(session) == ["BIKES"]
    assert records(session) == 1


def test_a_unit_that_keeps_meeting_retryable_errors_answers_503_and_stores_nothing(
    client, app, session, token
):
    app.config["FLAKY_FAILURES"] = 100

    response = client.post("/api/v1/_test/flaky-carriers", json=BODY, headers=headers(token, "k-1"))

    problem_of(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert app.config["FLAKY_CALLS"] == ATTEMPTS
    assert carriers(session) == []
    assert records(session) == 0


# --- the OpenAPI document -------------------------------------------------------------------


def test_the_openapi_document_keeps_the_body_and_response_and_adds_the_key_header(client):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/_test/carriers"]["post"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CarrierCreate"}
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/Carrier"}
    assert operation["summary"] == "Create a carrier."
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in operation["parameters"]
    parameter = document["components"]["parameters"]["IdempotencyKey"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "Idempotency-Key",
        "header",
        False,
    )
    for status in ("409", "422", "428"):
        assert status in operation["responses"]


def test_the_openapi_document_marks_the_key_required_where_a_view_requires_it(client):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/_test/strict-carriers"]["post"]

    (header,) = [p for p in operation["parameters"] if p.get("in") == "header"]
    assert (header["name"], header["required"]) == ("Idempotency-Key", True)


# --- the service underneath -----------------------------------------------------------------


def test_purging_deletes_only_answers_past_their_expiry(session):
    now = utcnow()
    for key, created in (("old", now - dt.timedelta(hours=25)), ("new", now)):
        idempotency.remember(
            session,
            idempotency.Scope.of(principal="token:1", method="POST", path="/x", key=key),
            fingerprint="f",
            status_code=201,
            body="{}",
            content_type="application/json",
            now=created,
        )

    assert idempotency.purge_expired(session, now) == 1
    assert session.scalars(select(IdempotencyRecord.key)).all() == ["new"]


def test_a_path_too_long_for_the_record_is_folded_into_a_digest():
    long_path = "/api/v1/" + "x" * 400

    scope = idempotency.Scope.of(principal="token:1", method="post", path=long_path, key="k")
    other = idempotency.Scope.of(principal="token:1", method="POST", path=long_path + "y", key="k")

    assert len(scope.path) == 255
    assert scope.method == "POST"
    assert scope.path != other.path
    assert scope.lock_id != other.lock_id


def test_the_fingerprint_ignores_query_order_but_not_the_body():
    base = idempotency.fingerprint("POST", "/x", [("a", "1"), ("b", "2")], b'{"q": 1}')

    assert base == idempotency.fingerprint("POST", "/x", [("b", "2"), ("a", "1")], b'{"q": 1}')
    assert base != idempotency.fingerprint("POST", "/x", [("a", "1"), ("b", "2")], b'{"q": 2}')
    assert base != idempotency.fingerprint("PUT", "/x", [("a", "1"), ("b", "2")], b'{"q": 1}')


# --- concurrency, through a real HTTP server --------------------------------------------------


@pytest.fixture
def served(new_database, tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    """A threaded HTTP server on a fresh migrated database: (database URL, port, token)."""
    url = new_database()
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with make_sessions(engine).begin() as session:
            site = Site(
                code="FW01",
                name="FW01",
                kind=SiteKind.FRONT_WAREHOUSE,
                latitude=52.37,
                longitude=4.89,
                timezone="Europe/Amsterdam",
            )
            session.add(site)
            session.flush()
            _, plaintext = tokens.issue(
                session, name="load", role=TokenRole.INTEGRATION, site_ids=[site.id]
            )
    finally:
        engine.dispose()
    app = install(
        create_app({"PROFILE": "testing", "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path)})
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, server.server_port, plaintext
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        database(app).engine.dispose()


def post(
    port: int, path: str, body: dict[str, Any], hdrs: dict[str, str]
) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **hdrs})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.postgres
def test_concurrent_repeats_of_one_key_create_one_row_and_never_fail(served):
    url, port, plaintext = served
    senders = 10
    start = threading.Barrier(senders, timeout=10)
    body = {**BODY, "hold_ms": 400}

    def send(_: int) -> tuple[int, dict, bytes]:
        start.wait()
        return post(port, "/api/v1/_test/carriers", body, headers(plaintext, "same-key"))

    with ThreadPoolExecutor(senders) as pool:
        answers = list(pool.map(send, range(senders)))
    late = post(port, "/api/v1/_test/carriers", body, headers(plaintext, "same-key"))

    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {201, 409}, statuses
    originals = [a for a in answers if a[0] == 201 and "Idempotent-Replayed" not in a[1]]
    assert len(originals) == 1, statuses
    for status, _, data in answers:
        if status == 201:
            assert data == originals[0][2]
        else:
            assert json.loads(data)["type"] == "/problems/idempotency_key_in_progress"
    assert 409 in statuses
    assert (late[0], late[1].get("Idempotent-Replayed"), late[2]) == (201, "true", originals[0][2])

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Carrier)) == 1
            assert conn.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
    finally:
        engine.dispose()


def test_concurrent_repeats_on_sqlite_queue_behind_the_first_and_are_replayed(served):
    url, port, plaintext = served
    if not url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL answers 409 instead (the test above)")
    senders = 6
    start = threading.Barrier(senders, timeout=10)
    body = {**BODY, "hold_ms": 300}

    def send(_: int) -> tuple[int, dict, bytes]:
        start.wait()
        return post(port, "/api/v1/_test/carriers", body, headers(plaintext, "same-key"))

    with ThreadPoolExecutor(senders) as pool:
        answers = list(pool.map(send, range(senders)))

    # BEGIN IMMEDIATE: each repeat waits for the first to commit, then finds its answer.
    assert [status for status, _, _ in answers] == [201] * senders
    replayed = [hdrs.get("Idempotent-Replayed") for _, hdrs, _ in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * (senders - 1)
    assert len({data for _, _, data in answers}) == 1
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Carrier)) == 1
    finally:
        engine.dispose()

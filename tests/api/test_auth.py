"""Who may call /api/v1: bearer tokens and signed-in users; roles and sites; CSRF for browsers."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_login import login_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf
from sqlalchemy.orm import selectinload

from api.auth import SessionUser, current_principal, require_role, require_site
from api.context import mutation
from wms import tokens
from wms.db import transaction
from wms.models import ApiToken, Carrier, Role, Site, TokenRole, User, utcnow

# --- a test-only API, exercising the real hooks ---------------------------------------------

blp = Blueprint("auth_probe", __name__, url_prefix="/api/v1/_test")


@blp.route("/whoami", methods=["GET"])
def whoami() -> Any:
    """Describe the principal of the request."""
    principal = current_principal()
    return {
        "kind": principal.kind,
        "id": principal.id,
        "name": principal.name,
        "role": principal.role,
        "site_ids": sorted(principal.site_ids),
        "key": principal.key,
        "requires_idempotency_key": principal.requires_idempotency_key,
    }


@blp.route("/planning", methods=["GET"])
@require_role("planner")
def planning() -> Any:
    """Answer only planners."""
    return {"ok": True}


@blp.route("/sites/<int:site_id>", methods=["GET"])
def site_view(site_id: int) -> Any:
    """Answer only principals of the site."""
    require_site(site_id)
    return {"site_id": site_id}


@blp.route("/notes", methods=["POST"])
@mutation()
def create_note(*, session: Any) -> Any:
    """Create a carrier row standing in for any mutation."""
    session.add(Carrier(code=uuid.uuid4().hex[:12], name="note"))
    session.flush()
    return {"created": True}, 201


def add_sign_in_route(app: Flask) -> None:
    """A test-only page signing a user in, as the login pages will; answers the CSRF token."""

    @app.get("/_test/sign-in/<int:user_id>")
    def sign_in(user_id: int) -> Any:
        with transaction(readonly=True) as session:
            user = session.get(User, user_id, options=[selectinload(User.sites)])
            assert user is not None
            login_user(SessionUser.of(user))
        return {"csrf_token": generate_csrf()}


@pytest.fixture
def client(app):
    app.extensions["wms.api"].register_blueprint(blp)
    add_sign_in_route(app)
    return app.test_client()


@pytest.fixture
def make_token(session, make_site) -> Callable[..., tuple[ApiToken, str]]:
    def make(
        role: TokenRole = TokenRole.INTEGRATION,
        *,
        sites: list[Site] | None = None,
        expires_at: dt.datetime | None = None,
    ) -> tuple[ApiToken, str]:
        sites = sites if sites is not None else [make_site()]
        return tokens.issue(
            session,
            name=f"{role.value} token",
            role=role,
            site_ids=[site.id for site in sites],
            expires_at=expires_at,
        )

    return make


@pytest.fixture
def make_user(session, make_site) -> Callable[..., User]:
    counter = iter(range(1, 1000))

    def make(
        role: Role = Role.ASSOCIATE, *, sites: list[Site] | None = None, active: bool = True
    ) -> User:
        n = next(counter)
        user = User(
            username=f"user{n}",
            display_name=f"User {n}",
            role=role,
            active=active,
            sites=sites if sites is not None else [make_site()],
        )
        session.add(user)
        session.flush()
        return user

    return make


def bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


def sign_in(client, user: User) -> str:
    """Sign the client's browser session in as user; return its CSRF token."""
    response = client.get(f"/_test/sign-in/{user.id}")
    assert response.status_code == 200
    return response.json["csrf_token"]


def assert_problem(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    problem = json.loads(response.data)
    assert problem["status"] == status
    return problem


# --- no or bad credentials ------------------------------------------------------------------


def test_a_request_without_credentials_is_answered_401_with_a_bearer_challenge(client):
    response = client.get("/api/v1/_test/whoami")

    problem = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in problem["detail"]


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "fwt_abc_def", "Token fwt_a_b"]
)
def test_an_authorization_header_that_is_not_a_bearer_token_is_answered_401(client, header):
    response = client.get("/api/v1/_test/whoami", headers={"Authorization": header})

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("presented", ["fwt_deadbeef_nope", "something-else", "fwt_"])
def test_an_unknown_bearer_token_is_answered_401_invalid_token(client, presented):
    response = client.get("/api/v1/_test/whoami", headers=bearer(presented))

    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_revoked_token_is_answered_401(client, session, make_token):
    token, plaintext = make_token()
    tokens.revoke(session, token.prefix)

    response = client.get("/api/v1/_test/whoami", headers=bearer(plaintext))

    assert "revoked" in assert_problem(response, 401)["detail"]


def test_an_expired_token_is_answered_401(client, session, make_token):
    token, plaintext = make_token(expires_at=utcnow() + dt.timedelta(hours=1))
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()

    response = client.get("/api/v1/_test/whoami", headers=bearer(plaintext))

    assert "expired" in assert_problem(response, 401)["detail"]


def test_a_mutation_without_credentials_is_answered_401_and_changes_nothing(client, session):
    response = client.post("/api/v1/_test/notes", headers={"Idempotency-Key": "k1"})

    assert_problem(response, 401)
    assert session.query(Carrier).count() == 0


# --- public paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/docs", "/healthz"])
def test_the_openapi_document_the_docs_and_the_health_probe_need_no_credentials(client, path):
    assert client.get(path).status_code == 200


def test_an_unknown_api_path_still_answers_404_without_credentials(client):
    assert_problem(client.get("/api/v1/_test/nope"), 404)


def test_the_openapi_document_describes_both_ways_to_sign_in(client):
    document = client.get("/api/v1/openapi.json").json

    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerToken"]["description"],
    }
    assert schemes["browserSession"]["in"] == "cookie"
    assert {"bearerToken": []} in document["security"]


# --- tokens ---------------------------------------------------------------------------------


def test_a_valid_token_acts_as_a_token_principal_with_its_sites(client, make_token, make_site):
    north, south = make_site(), make_site()
    token, plaintext = make_token(TokenRole.SUPERVISOR, sites=[north, south])

    response = client.get("/api/v1/_test/whoami", headers=bearer(plaintext))

    assert response.status_code == 200
    assert response.json == {
        "kind": "token",
        "id": token.id,
        "name": "supervisor token",
        "role": "supervisor",
        "site_ids": sorted([north.id, south.id]),
        "key": f"token:{token.id}",
        "requires_idempotency_key": False,
    }


def test_a_request_with_a_token_records_its_use(client, session, make_token):
    token, plaintext = make_token()
    before = utcnow()

    client.get("/api/v1/_test/whoami", headers=bearer(plaintext))

    session.expire_all()
    last_used = session.get(ApiToken, token.id).last_used_at
    assert last_used is not None and last_used >= before


def test_a_token_posts_without_a_csrf_token(client, make_token):
    _, plaintext = make_token()

    response = client.post("/api/v1/_test/notes", headers=bearer(plaintext))

    assert response.status_code == 201, response.data


def test_a_bearer_token_wins_over_a_signed_in_browser_session(client, make_token, make_user):
    sign_in(client, make_user())
    token, plaintext = make_token()

    response = client.get("/api/v1/_test/whoami", headers=bearer(plaintext))

    assert response.json["key"] == f"token:{token.id}"


# --- roles and sites ------------------------------------------------------------------------


@pytest.mark.parametrize("role", [TokenRole.INTEGRATION, TokenRole.SUPERVISOR])
def test_a_role_too_low_is_answered_403_naming_the_role_needed(client, make_token, role):
    _, plaintext = make_token(role)

    response = client.get("/api/v1/_test/planning", headers=bearer(plaintext))

    problem = assert_problem(response, 403)
    assert "planner" in problem["detail"]
    assert role.value in problem["detail"]


@pytest.mark.parametrize("role", [TokenRole.PLANNER, TokenRole.ADMIN])
def test_the_role_needed_and_admins_pass(client, make_token, role):
    _, plaintext = make_token(role)

    assert client.get("/api/v1/_test/planning", headers=bearer(plaintext)).status_code == 200


def test_a_principal_may_act_only_for_its_own_sites(client, make_token, make_site):
    own, other = make_site(), make_site()
    _, plaintext = make_token(sites=[own])

    assert client.get(f"/api/v1/_test/sites/{own.id}", headers=bearer(plaintext)).json == {
        "site_id": own.id
    }
    response = client.get(f"/api/v1/_test/sites/{other.id}", headers=bearer(plaintext))
    assert str(other.id) in assert_problem(response, 403)["detail"]


def test_an_admin_token_reaches_every_site(client, make_token, make_site):
    other = make_site()
    _, plaintext = make_token(TokenRole.ADMIN, sites=[])

    assert (
        client.get(f"/api/v1/_test/sites/{other.id}", headers=bearer(plaintext)).status_code == 200
    )


def test_the_openapi_document_lists_403_for_role_guarded_views(client):
    document = client.get("/api/v1/openapi.json").json

    assert "403" in document["paths"]["/api/v1/_test/planning"]["get"]["responses"]


# --- signed-in users ------------------------------------------------------------------------


def test_a_signed_in_user_acts_as_a_user_principal_that_must_send_keys(
    client, make_user, make_site
):
    site = make_site()
    user = make_user(Role.SUPERVISOR, sites=[site])
    sign_in(client, user)

    response = client.get("/api/v1/_test/whoami")

    assert response.status_code == 200
    assert response.json == {
        "kind": "user",
        "id": user.id,
        "name": user.username,
        "role": "supervisor",
        "site_ids": [site.id],
        "key": f"user:{user.id}",
        "requires_idempotency_key": True,
    }


def test_a_signed_in_users_post_without_a_csrf_token_is_refused(client, session, make_user):
    sign_in(client, make_user())

    response = client.post("/api/v1/_test/notes", headers={"Idempotency-Key": "k1"})

    problem = assert_problem(response, 400)
    assert "CSRF" in problem["detail"]
    assert session.query(Carrier).count() == 0


def test_a_signed_in_users_post_with_a_forged_csrf_token_is_refused(client, make_user):
    sign_in(client, make_user())

    response = client.post(
        "/api/v1/_test/notes", headers={"Idempotency-Key": "k1", "X-CSRFToken": "forged"}
    )

    assert "CSRF" in assert_problem(response, 400)["detail"]


def test_a_signed_in_users_post_with_its_csrf_token_goes_through(client, make_user):
    csrf = sign_in(client, make_user())

    response = client.post(
        "/api/v1/_test/notes", headers={"Idempotency-Key": "k1", "X-CSRFToken": csrf}
    )

    assert response.status_code == 201, response.data


def test_a_signed_in_user_reads_without_a_csrf_token(client, make_user):
    sign_in(client, make_user())

    assert client.get("/api/v1/_test/whoami").status_code == 200


def test_a_deactivated_user_is_signed_out(client, session, make_user):
    user = make_user()
    sign_in(client, user)
    user.active = False
    session.flush()

    assert_problem(client.get("/api/v1/_test/whoami"), 401)


def test_a_signed_in_associate_is_refused_a_planner_view(client, make_user):
    sign_in(client, make_user(Role.ASSOCIATE))

    response = client.get("/api/v1/_test/planning")

    assert "planner" in assert_problem(response, 403)["detail"]

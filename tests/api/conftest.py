"""Fixtures for the API's resource tests: a site, bearer tokens, a client that sends them.

``api_client`` acts for an integration token of the default site (the site ``make_slot()``
and ``make_zone()`` use), which passes every role check. ``make_api_token`` issues others
(a planner, a supervisor, a token for another site) and ``api_client.as_token(plaintext)``
acts for them; ``signed_in(role)`` gives a client of a signed-in user (associates have no
tokens), which sends its CSRF token and a fresh Idempotency-Key with every POST.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from api.auth import SessionUser
from wms import tokens
from wms.db import transaction
from wms.errors import WmsError
from wms.models import (
    Allocation,
    Movement,
    OrderLine,
    Role,
    Site,
    Slot,
    Stock,
    TokenRole,
    User,
)

PROBLEM_MIME = "application/problem+json"


@dataclass(frozen=True)
class ApiClient:
    """A Flask test client that authenticates every request the same way."""

    client: Any
    headers: dict[str, str]
    #: Signed-in users must send an Idempotency-Key with every mutation: make one up.
    auto_key: bool = False

    def as_token(self, plaintext: str) -> ApiClient:
        """The same client, acting for another bearer token."""
        return replace(self, headers={"Authorization": f"Bearer {plaintext}"})

    def get(self, path: str, *, query: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.get(path, query_string=query, headers=self.headers, **kwargs)

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        sent = {**self.headers, **(headers or {})}
        if key is None and self.auto_key:
            key = str(uuid.uuid4())
        if key is not None:
            sent["Idempotency-Key"] = key
        if json is not None:
            kwargs["json"] = json
        return self.client.post(path, headers=sent, **kwargs)


@pytest.fixture
def site(session: Session, make_zone: Callable[..., Any]) -> Site:
    """The default site of the test: where ``make_slot()`` puts its slots."""
    found = session.get(Site, make_zone().site_id)
    assert found is not None
    return found


@pytest.fixture
def make_api_token(session: Session, site: Site) -> Callable[..., str]:
    """Issue a token (integration, for the default site unless told) and return its plaintext."""

    def make(role: TokenRole = TokenRole.INTEGRATION, *, sites: list[Site] | None = None) -> str:
        _, plaintext = tokens.issue(
            session,
            name=f"{role.value} test token",
            role=role,
            site_ids=[s.id for s in (sites if sites is not None else [site])],
        )
        return plaintext

    return make


@pytest.fixture
def api_token(make_api_token: Callable[..., str]) -> str:
    """An integration token of the default site: every role group, that site only."""
    return make_api_token()


@pytest.fixture
def api_client(client: Any, api_token: str) -> ApiClient:
    return ApiClient(client, {"Authorization": f"Bearer {api_token}"})


@pytest.fixture
def signed_in(app: Any, session: Session, site: Site) -> Callable[..., ApiClient]:
    """Call it with a role for a new client signed in as a user of the default site.

    Ask for it as a fixture: its sign-in page is added to the app before any request.
    """

    @app.get("/_test/api-sign-in/<int:user_id>")
    def sign_in(user_id: int) -> Any:
        with transaction(readonly=True) as s:
            user = s.get(User, user_id, options=[selectinload(User.sites)])
            assert user is not None
            login_user(SessionUser.of(user))
        return {"csrf_token": generate_csrf()}

    counter = iter(range(1, 1000))

    def make(role: Role = Role.ASSOCIATE) -> ApiClient:
        n = next(counter)
        user = User(username=f"api-user-{n}", display_name=f"API user {n}", role=role, sites=[site])
        session.add(user)
        session.flush()
        browser = app.test_client()
        csrf = browser.get(f"/_test/api-sign-in/{user.id}").json["csrf_token"]
        return ApiClient(browser, {"X-CSRFToken": csrf}, auto_key=True)

    return make


# --- assertions -------------------------------------------------------------------------------


def _assert_problem(
    response: Any,
    status: int,
    *,
    type: str | builtins.type[WmsError] | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """Check an RFC 9457 answer: status, media type, the four members; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIME
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["title"]
    assert body["detail"]
    if type is not None:
        code = type if isinstance(type, str) else type.code
        assert body["type"] == f"/problems/{code}", body
    if field is not None:
        named = {body.get("field"), *body.get("errors", {})}
        assert field in named, body
    return body


@pytest.fixture
def problem() -> Callable[..., dict[str, Any]]:
    """``problem(response, 422, type=WrongTemperature, field="to_slot_id")`` → the body.

    ``type`` is the domain error (its stable ``code``) or the code itself; ``field`` must be
    the problem's ``field`` or a key of its validation ``errors``.
    """
    return _assert_problem


@dataclass(frozen=True)
class LedgerState:
    """Everything a stock operation may change, to compare before and after a refusal."""

    stock: tuple[tuple[int, int, int, int, str], ...]
    movements: int
    allocations: tuple[tuple[int, str, int, int], ...]
    slots: tuple[tuple[int, bool, bool], ...]
    picked: tuple[tuple[int, int], ...]


@pytest.fixture
def ledger(session: Session) -> Callable[[], LedgerState]:
    """Call it for a snapshot of stock rows, movements, allocations, slot flags, picks."""

    def snapshot() -> LedgerState:
        session.expire_all()
        return LedgerState(
            stock=tuple(
                session.execute(
                    select(
                        Stock.id, Stock.on_hand, Stock.reserved, Stock.slot_id, Stock.lot
                    ).order_by(Stock.id)
                ).tuples()
            ),
            movements=session.scalar(select(func.count()).select_from(Movement)) or 0,
            allocations=tuple(
                (a.id, a.status.value, a.quantity, a.picked_qty)
                for a in session.scalars(select(Allocation).order_by(Allocation.id))
            ),
            slots=tuple(
                session.execute(
                    select(Slot.id, Slot.locked, Slot.needs_count).order_by(Slot.id)
                ).tuples()
            ),
            picked=tuple(
                session.execute(
                    select(OrderLine.id, OrderLine.picked_qty).order_by(OrderLine.id)
                ).tuples()
            ),
        )

    return snapshot

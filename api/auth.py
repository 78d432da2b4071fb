"""Who is calling the API: bearer tokens or a signed-in browser session; roles and sites.

Every route under ``/api/v1/`` needs a principal, except the OpenAPI document. A request with
``Authorization: Bearer <token>`` acts for that token (no CSRF check: a bearer token is never
sent by a browser on its own). Without one, a browser session signed in through Flask-Login
acts for its user, and its mutating requests must carry the CSRF token in ``X-CSRFToken``.
Anything else is answered 401.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from flask import Flask, Response, current_app, g, request, session
from flask_login import LoginManager, current_user
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import selectinload

from api.errors import problem, unauthorized
from wms import carrier_keys, tokens, users
from wms.db import transaction
from wms.errors import Forbidden, Unauthorized
from wms.models import ApiToken, CarrierKey, User, utcnow
from wms.users import SessionUser

F = TypeVar("F", bound=Callable[..., Any])

PROTECTED_PREFIX = "/api/v1/"
#: Endpoints under the protected prefix that anyone may read.
PUBLIC_ENDPOINTS = frozenset({"api-docs.openapi_json"})
#: The role that passes every role check and reaches every site.
ADMIN = "admin"
#: The role of carrier keys: they reach the carrier API (``CARRIER_PREFIX``) and nothing else.
CARRIER = "carrier"
CARRIER_PREFIX = "/api/v1/carrier/"

PrincipalKind = Literal["token", "user", "carrier"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: an API token, a signed-in user, or a carrier key."""

    kind: PrincipalKind
    id: int
    name: str
    role: str
    site_ids: frozenset[int]
    #: Users on scanner pages must send an Idempotency-Key with every mutation; scripts may.
    requires_idempotency_key: bool
    #: A carrier key's carrier, its driver (a driver token) and what it may do.
    carrier_id: int | None = None
    driver_id: int | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """Name the principal stably, e.g. ``token:12``; idempotency keys are scoped by it."""
        return f"{self.kind}:{self.id}"

    def has_role(self, *roles: str) -> bool:
        """Tell whether the principal holds one of roles; admins hold every role."""
        return self.role == ADMIN or self.role in roles

    def can_access_site(self, site_id: int) -> bool:
        """Tell whether the principal may act for a site; admins reach every site."""
        return self.role == ADMIN or site_id in self.site_ids

    @classmethod
    def of_token(cls, token: ApiToken) -> Principal:
        """The principal of an authenticated API token."""
        return cls(
            kind="token",
            id=token.id,
            name=token.name,
            role=str(token.role.value),
            site_ids=frozenset(site.id for site in token.sites),
            requires_idempotency_key=False,
        )

    @classmethod
    def of_carrier_key(cls, key: CarrierKey) -> Principal:
        """The principal of an authenticated carrier key (or driver token)."""
        return cls(
            kind="carrier",
            id=key.id,
            name=key.name,
            role=CARRIER,
            site_ids=frozenset(),
            requires_idempotency_key=True,
            carrier_id=key.carrier_id,
            driver_id=key.driver_id,
            scopes=frozenset(key.scopes),
        )

    @classmethod
    def of_user(cls, user: SessionUser) -> Principal:
        """The principal of a signed-in user."""
        return cls(
            kind="user",
            id=user.id,
            name=user.username,
            role=user.role,
            site_ids=user.site_ids,
            requires_idempotency_key=True,
        )


def current_principal() -> Principal:
    """The principal of the current request; Unauthorized outside an authenticated one."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise Unauthorized("sign in or send Authorization: Bearer <token>")
    return principal


def require_role(*roles: str) -> Callable[[F], F]:
    """Let a view run only for principals holding one of roles (admins always may)."""
    if not roles:
        raise ValueError("require_role needs at least one role")
    needed = " or ".join(str(role) for role in roles)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not principal.has_role(*roles):
                raise Forbidden(
                    f"this needs the role {needed}; {principal.kind} {principal.name!r} "
                    f"has the role {principal.role}"
                )
            return view(*args, **kwargs)

        document_errors(wrapper, {403: "FORBIDDEN"})
        return cast(F, wrapper)

    return decorator


def require_site(site_id: int) -> None:
    """Refuse with Forbidden unless the current principal may act for the site."""
    principal = current_principal()
    if not principal.can_access_site(site_id):
        raise Forbidden(f"{principal.kind} {principal.name!r} may not act for site {site_id}")


def document_errors(view: Callable[..., Any], statuses: dict[int, str]) -> None:
    """Add error answers (status → flask-smorest response name) to a view's OpenAPI doc."""
    doc = deepcopy(getattr(view, "_apidoc", {}))
    responses = doc.setdefault("response", {}).setdefault("responses", {})
    argument_responses = doc.get("arguments", {}).get("responses", {})
    for status, name in statuses.items():
        if status not in responses and status not in argument_responses:
            responses[status] = [name]
    view._apidoc = doc  # type: ignore[attr-defined]


# --- wiring -----------------------------------------------------------------------------------


class _CSRFProtect(CSRFProtect):
    """Flask-WTF's app-wide CSRF check, leaving API paths to :func:`authenticate_request`.

    Pages and forms are checked as usual; an API request is checked only once it is known to
    act for a browser session (a bearer token needs no CSRF token).
    """

    def protect(self, apply_exemptions: bool = False) -> None:
        if apply_exemptions and request.path.startswith("/api/"):
            return
        super().protect(apply_exemptions=apply_exemptions)


def init_app(app: Flask, api: Api) -> None:
    """Set up sign-in sessions, CSRF protection and the API's authentication."""
    login_manager = LoginManager()
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    _CSRFProtect(app)
    app.before_request(authenticate_request)

    api.spec.components.security_scheme(
        "bearerToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `wms token create` (fwt_...)",
        },
    )
    api.spec.components.security_scheme(
        "browserSession",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": app.config.get("SESSION_COOKIE_NAME", "session"),
            "description": "A signed-in user; mutations also need the X-CSRFToken header",
        },
    )
    api.spec.components.security_scheme(
        "carrierKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A carrier key or driver token (fwc_...), for /api/v1/carrier/ only; created "
                "by an admin on the console's carrier keys page"
            ),
        },
    )
    api.spec.options.setdefault("security", [{"bearerToken": []}, {"browserSession": []}])


def authenticate_request() -> Response | None:
    """Resolve the request's principal onto ``g.principal``; answer 401 when there is none."""
    if not _needs_principal():
        return None
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return unauthorized("send Authorization: Bearer <token>")
        try:
            g.principal = _bearer_principal(credentials)
        except Unauthorized as exc:
            return unauthorized(exc.message, invalid_token=True)
        return _confine(g.principal)
    if current_user.is_authenticated:
        if handheld_locked():
            return unauthorized("this handheld is locked: scan your badge on /scanners/login")
        _check_csrf()
        g.principal = Principal.of_user(cast(SessionUser, current_user))
        return _confine(g.principal)
    return unauthorized("sign in or send Authorization: Bearer <token>")


def _confine(principal: Principal) -> Response | None:
    """Keep carrier keys to the carrier API, and the carrier API to carrier keys."""
    carrier_path = request.path.startswith(CARRIER_PREFIX)
    if principal.kind == "carrier" and not carrier_path:
        return problem(
            403, "Forbidden", f"a carrier key reaches {CARRIER_PREFIX} only", kind="forbidden"
        )
    if principal.kind != "carrier" and carrier_path:
        return problem(
            403,
            "Forbidden",
            f"{CARRIER_PREFIX} takes a carrier key (fwc_...); {principal.kind} "
            f"{principal.name!r} is not one",
            kind="forbidden",
        )
    return None


def handheld_locked() -> bool:
    """Whether the session is a handheld's that is locked (by hand, or idle too long)."""
    idle = float(current_app.config.get("SCANNER_IDLE_LOCK_S", users.IDLE_LOCK_S))
    return users.handheld_locked(session, idle_lock_s=idle, now=time.time())


def _needs_principal() -> bool:
    if not request.path.startswith(PROTECTED_PREFIX):
        return False
    if request.routing_exception is not None:
        # Unknown paths and methods answer 404/405 as before; the OpenAPI document is public.
        return False
    return request.method != "OPTIONS" and request.endpoint not in PUBLIC_ENDPOINTS


def _bearer_principal(credentials: str) -> Principal:
    if credentials.startswith(f"{carrier_keys.SCHEME}_"):
        return _carrier_principal(credentials)
    if not credentials.startswith(f"{tokens.SCHEME}_"):
        raise Unauthorized("the bearer token is not valid")
    now = utcnow()
    # Read-only: a write transaction per request would queue every call on SQLite's lock.
    with transaction(readonly=True) as session:
        token = tokens.authenticate(session, credentials, now=now, record_use=False)
        principal = Principal.of_token(token)
        due = tokens.use_is_due(token, now=now)
    if due:
        with transaction() as session:
            tokens.mark_used(session, token.id, now=now)
    return principal


def _carrier_principal(credentials: str) -> Principal:
    now = utcnow()
    with transaction(readonly=True) as session:
        key = carrier_keys.authenticate(session, credentials, now=now, record_use=False)
        principal = Principal.of_carrier_key(key)
        due = carrier_keys.use_is_due(key, now=now)
    if due:
        with transaction() as session:
            carrier_keys.mark_used(session, key.id, now=now)
    return principal


def require_scope(scope: str) -> Callable[[F], F]:
    """Let a carrier-API view run only for a carrier key holding ``scope`` (403 otherwise)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal.kind != "carrier":
                raise Forbidden(f"{CARRIER_PREFIX} takes a carrier key")
            if scope not in principal.scopes:
                raise Forbidden(
                    f"this needs the scope {scope}; key {principal.name!r} has "
                    f"{', '.join(sorted(principal.scopes)) or 'none'}",
                    field="scope",
                )
            return view(*args, **kwargs)

        document_errors(wrapper, {403: "FORBIDDEN"})
        return cast(F, wrapper)

    return decorator


def _check_csrf() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    csrf = current_app.extensions["csrf"]
    # Raises CSRFError (400), answered as a problem by the app's error handler.
    csrf.protect()


def _load_user(user_id: str) -> SessionUser | None:
    try:
        wanted = int(user_id)
    except ValueError:
        return None
    with transaction(readonly=True) as session:
        user = session.get(User, wanted, options=[selectinload(User.sites)])
        if user is None or not user.active:
            return None
        return SessionUser.of(user)

"""Who may do what: role groups and site checks shared by the API resources."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.auth import current_principal, require_site

#: People and systems that move stock on the floor.
FLOOR = ("associate", "supervisor", "integration")
#: Decisions that need a supervisor (approving counts, adjusting stock, unlocking slots).
SUPERVISE = ("supervisor", "integration")
#: Planning: allocation and release.
PLAN = ("planner", "supervisor", "integration")
#: Onboarding data (admins always may).
ONBOARD = ("integration",)


def require_site_of(site_id: int | None) -> None:
    """Refuse (403) a principal without access to the site; unknown things pass to the service."""
    if site_id is not None:
        require_site(site_id)


def acting_user_id() -> int | None:
    """The user to record in the ledger: the signed-in person, or None for a token."""
    principal = current_principal()
    return principal.id if principal.kind == "user" else None


def request_key() -> str | None:
    """The request's Idempotency-Key, recorded on the movements it writes."""
    from flask import request

    return request.headers.get("Idempotency-Key")


def visible_sites() -> frozenset[int] | None:
    """The sites whose data the principal may read, or None for every site (admins)."""
    principal = current_principal()
    return None if principal.role == "admin" else principal.site_ids


def require_site_of_named(site_id: int | None, *, field: str, what: str, value: int) -> None:
    """Refuse an unknown thing named in a request body (422 on the field), then check its site."""
    from wms.errors import RuleViolation

    if site_id is None:
        raise RuleViolation(f"{what} {value} does not exist", field=field)
    require_site(site_id)


def require_named_site(session: Session, site_id: int) -> None:
    """A site named in a request: 422 on ``site_id`` when unknown, 403 when not the principal's."""
    from wms import scope

    require_site_of_named(
        scope.known_site(session, site_id), field="site_id", what="site", value=site_id
    )

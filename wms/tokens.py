"""API bearer tokens for integrations and planners' scripts.

A token reads ``fwt_<prefix>_<secret>``: the prefix tells tokens apart in listings and logs,
the secret is 32 random bytes. Only the SHA-256 of the whole token is stored, so the token is
shown once, when it is issued, and never again (:mod:`wms.credentials` holds what tokens and
carrier keys share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from wms import credentials
from wms.credentials import USE_RESOLUTION
from wms.errors import RuleViolation
from wms.models import ApiToken, Site, TokenRole, utcnow

__all__ = [
    "SCHEME",
    "USE_RESOLUTION",
    "authenticate",
    "get",
    "issue",
    "list_tokens",
    "mark_used",
    "revoke",
    "rotate",
    "site_ids_for_codes",
    "use_is_due",
]

SCHEME = "fwt"
#: Tell whether a token's last use is old enough to be written again.
use_is_due = credentials.use_is_due
_WITH_SITES = (selectinload(ApiToken.sites),)


def issue(
    session: Session,
    *,
    name: str,
    role: TokenRole,
    site_ids: list[int],
    created_by: int | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is never available again."""
    name = name.strip()
    if not name or len(name) > 120:
        raise RuleViolation("a token needs a name of 1 to 120 characters", field="name")
    role = TokenRole(role)
    if expires_at is not None and expires_at <= utcnow():
        raise RuleViolation("a token cannot expire in the past", field="expires_at")
    sites = _sites(session, site_ids)
    if not sites and role is not TokenRole.ADMIN:
        raise RuleViolation(f"a {role.value} token needs at least one site", field="site_ids")

    return credentials.issue(
        session,
        ApiToken,
        scheme=SCHEME,
        name=name,
        role=role,
        created_by=created_by,
        expires_at=expires_at,
        sites=sites,
    )


def authenticate(
    session: Session,
    presented: str,
    *,
    now: dt.datetime | None = None,
    record_use: bool = True,
) -> ApiToken:
    """Return the live token a presented secret belongs to; note its use at most once a minute.

    Pass ``record_use=False`` from a read-only transaction and call :func:`mark_used` in a
    write transaction when :func:`use_is_due` says so.
    """
    now = now or utcnow()
    token = credentials.find(
        session,
        ApiToken,
        presented,
        scheme=SCHEME,
        now=now,
        what="bearer token",
        options=_WITH_SITES,
    )
    if record_use:
        credentials.record_use(session, token, now=now)
    return token


def mark_used(session: Session, token_id: int, *, now: dt.datetime) -> bool:
    """Set a token's last use to now unless another request did within the last minute."""
    return credentials.mark_used(session, ApiToken, token_id, now=now)


def revoke(session: Session, prefix: str, *, now: dt.datetime | None = None) -> ApiToken:
    """Revoke a token by its prefix; revoking a revoked token changes nothing."""
    token = get(session, prefix)
    credentials.revoke(session, token, now=now or utcnow())
    return token


def rotate(session: Session, prefix: str, *, created_by: int | None = None) -> tuple[ApiToken, str]:
    """Revoke a token and issue its successor with the same name, role, sites and expiry."""
    old = get(session, prefix)
    credentials.retire(session, old, now=utcnow(), what="token")
    return issue(
        session,
        name=old.name,
        role=old.role,
        site_ids=[site.id for site in old.sites],
        created_by=created_by,
        expires_at=old.expires_at,
    )


def get(session: Session, prefix: str) -> ApiToken:
    """Find a token by its prefix (``fwt_`` may be included)."""
    return credentials.get(
        session, ApiToken, prefix, scheme=SCHEME, what="token", options=_WITH_SITES
    )


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, oldest first, with its sites."""
    return list(
        session.scalars(
            select(ApiToken).options(*_WITH_SITES).order_by(ApiToken.created_at, ApiToken.id)
        )
    )


def site_ids_for_codes(session: Session, codes: Iterable[str]) -> list[int]:
    """Turn site codes into ids, refusing any code that names no site."""
    wanted = list(dict.fromkeys(code.strip() for code in codes))
    found = {
        code: site_id
        for code, site_id in session.execute(
            select(Site.code, Site.id).where(Site.code.in_(wanted))
        )
    }
    missing = [code for code in wanted if code not in found]
    if missing:
        raise RuleViolation(f"no site has the code {', '.join(missing)}", field="site")
    return [found[code] for code in wanted]


def _sites(session: Session, site_ids: list[int]) -> list[Site]:
    wanted = list(dict.fromkeys(site_ids))
    sites = {site.id: site for site in session.scalars(select(Site).where(Site.id.in_(wanted)))}
    missing = [str(site_id) for site_id in wanted if site_id not in sites]
    if missing:
        raise RuleViolation(f"no site has the id {', '.join(missing)}", field="site_ids")
    return [sites[site_id] for site_id in wanted]

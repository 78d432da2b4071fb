"""API bearer tokens for integrations and planners' scripts.

A token reads ``fwt_<prefix>_<secret>``: the prefix tells tokens apart in listings and logs,
the secret is 32 random bytes. Only the SHA-256 of the whole token is stored, so the token is
shown once, when it is issued, and never again. A presented token is hashed and looked up by
its hash: nothing secret is ever compared character by character.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from wms.errors import Conflict, NotFound, RuleViolation, Unauthorized
from wms.models import ApiToken, Site, TokenRole, utcnow

SCHEME = "fwt"
#: How often a token's ``last_used_at`` is written at most: every request would be a write.
USE_RESOLUTION = dt.timedelta(minutes=1)

_PREFIX_BYTES = 4  # 8 hex characters
_SECRET_BYTES = 32


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

    prefix = _unused_prefix(session)
    plaintext = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    token = ApiToken(
        name=name,
        prefix=prefix,
        secret_sha256=_digest(plaintext),
        role=role,
        created_by=created_by,
        expires_at=expires_at,
        sites=sites,
    )
    session.add(token)
    session.flush()
    return token, plaintext


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
    prefix = _parse_prefix(presented)
    digest = _digest(presented)
    token = session.scalars(
        select(ApiToken)
        .where(ApiToken.secret_sha256 == digest)
        .options(selectinload(ApiToken.sites))
    ).one_or_none()
    # The lookup was by hash; comparing hashes again costs nothing and keeps a bad index honest.
    if (
        token is None
        or prefix is None
        or not hmac.compare_digest(token.secret_sha256, digest)
        or token.prefix != prefix
    ):
        raise Unauthorized("the bearer token is not valid")
    if token.revoked_at is not None:
        raise Unauthorized(f"the bearer token {token.prefix} was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized(f"the bearer token {token.prefix} expired")
    if record_use and use_is_due(token, now=now) and mark_used(session, token.id, now=now):
        set_committed_value(token, "last_used_at", now)
    return token


def use_is_due(token: ApiToken, *, now: dt.datetime) -> bool:
    """Tell whether a token's last use is old enough to be written again."""
    return token.last_used_at is None or now - token.last_used_at >= USE_RESOLUTION


def mark_used(session: Session, token_id: int, *, now: dt.datetime) -> bool:
    """Set a token's last use to now unless another request did within the last minute."""
    result = session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - USE_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke(session: Session, prefix: str, *, now: dt.datetime | None = None) -> ApiToken:
    """Revoke a token by its prefix; revoking a revoked token changes nothing."""
    token = get(session, prefix)
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
    return token


def rotate(session: Session, prefix: str, *, created_by: int | None = None) -> tuple[ApiToken, str]:
    """Revoke a token and issue its successor with the same name, role, sites and expiry."""
    old = get(session, prefix)
    now = utcnow()
    if old.revoked_at is not None:
        raise Conflict(f"token {old.prefix} is revoked; issue a new one instead", field="prefix")
    if old.expires_at is not None and old.expires_at <= now:
        raise Conflict(f"token {old.prefix} has expired; issue a new one instead", field="prefix")
    revoke(session, old.prefix, now=now)
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
    wanted = prefix.strip()
    if wanted.startswith(f"{SCHEME}_"):
        wanted = wanted[len(SCHEME) + 1 :].split("_", 1)[0]
    token = session.scalars(
        select(ApiToken).where(ApiToken.prefix == wanted).options(selectinload(ApiToken.sites))
    ).one_or_none()
    if token is None:
        raise NotFound(f"no token has the prefix {wanted!r}", field="prefix")
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, oldest first, with its sites."""
    return list(
        session.scalars(
            select(ApiToken)
            .options(selectinload(ApiToken.sites))
            .order_by(ApiToken.created_at, ApiToken.id)
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


def _unused_prefix(session: Session) -> str:
    # 2**32 prefixes: a clash is rare, but the column is unique, so look before taking one.
    while True:
        prefix = secrets.token_hex(_PREFIX_BYTES)
        if session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is None:
            return prefix


def _parse_prefix(presented: str) -> str | None:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or not parts[1] or not parts[2]:
        return None
    return parts[1]


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogateescape")).hexdigest()

"""Bearer secrets, shared by API tokens (:mod:`wms.tokens`) and carrier keys
(:mod:`wms.carrier_keys`).

A secret reads ``<scheme>_<prefix>_<secret>``: the scheme tells the kinds apart (``fwt``,
``fwc``), the prefix (8 hex characters) tells secrets apart in listings and logs, the secret is
32 random bytes. Only the SHA-256 of the whole plaintext is stored, and a presented secret is
looked up by its hash: nothing secret is ever compared character by character.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from wms.errors import Conflict, NotFound, RuleViolation, Unauthorized
from wms.models import ApiToken, CarrierKey

#: How often a secret's ``last_used_at`` is written at most: every request would be a write.
USE_RESOLUTION = dt.timedelta(minutes=1)

_PREFIX_BYTES = 4  # 8 hex characters
_SECRET_BYTES = 32

#: The rows that hold a bearer secret (prefix, secret_sha256, expiry, revocation, last use).
Credential = TypeVar("Credential", ApiToken, CarrierKey)


#: The longest a token or key may be issued for, in days (a form's "expires in" field).
MAX_DAYS = 3650


def expiry_in_days(days: str, *, now: dt.datetime) -> dt.datetime | None:
    """The expiry a form's "expires in N days" asks for: None when blank (never), else ``now``
    plus 1 to ``MAX_DAYS`` days; anything else is refused naming ``expires_days``."""
    if not days.strip():
        return None
    try:
        count = int(days)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_DAYS:
        raise RuleViolation(
            f"expiry is a whole number of days from 1 to {MAX_DAYS}, or blank for never",
            field="expires_days",
        )
    return now + dt.timedelta(days=count)


def digest(plaintext: str) -> str:
    """The SHA-256 (hex) of a plaintext secret: what is stored and looked up."""
    return hashlib.sha256(plaintext.encode("utf-8", "surrogateescape")).hexdigest()


def issue(
    session: Session, model: type[Credential], *, scheme: str, **fields: Any
) -> tuple[Credential, str]:
    """Add a row of ``model`` with ``fields``, a new prefix and the hash of a new secret;
    return it with the plaintext, which is never available again."""
    # 2**32 prefixes: a clash is rare, but the column is unique, so look before taking one.
    while True:
        prefix = secrets.token_hex(_PREFIX_BYTES)
        if session.scalar(select(model.id).where(model.prefix == prefix)) is None:
            break
    plaintext = f"{scheme}_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    row = model(prefix=prefix, secret_sha256=digest(plaintext), **fields)
    session.add(row)
    session.flush()
    return row, plaintext


def find(
    session: Session,
    model: type[Credential],
    presented: str,
    *,
    scheme: str,
    now: dt.datetime,
    what: str,
    options: Sequence[ExecutableOption] = (),
) -> Credential:
    """The live row a presented plaintext belongs to; Unauthorized when unknown, revoked or
    expired (``what`` names the kind in the message: "bearer token", "carrier key")."""
    prefix = _parse_prefix(presented, scheme)
    hashed = digest(presented)
    row = session.scalars(
        select(model).where(model.secret_sha256 == hashed).options(*options)
    ).one_or_none()
    # The lookup was by hash; comparing hashes again costs nothing and keeps a bad index honest.
    if (
        row is None
        or prefix is None
        or not hmac.compare_digest(row.secret_sha256, hashed)
        or row.prefix != prefix
    ):
        raise Unauthorized(f"the {what} is not valid")
    if row.revoked_at is not None:
        raise Unauthorized(f"the {what} {row.prefix} was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized(f"the {what} {row.prefix} expired")
    return row


def get(
    session: Session,
    model: type[Credential],
    prefix: str,
    *,
    scheme: str,
    what: str,
    options: Sequence[ExecutableOption] = (),
) -> Credential:
    """Find a row by its prefix; the scheme (``fwt_``) and even the whole plaintext may be
    given."""
    wanted = prefix.strip()
    if wanted.startswith(f"{scheme}_"):
        wanted = wanted[len(scheme) + 1 :].split("_", 1)[0]
    row = session.scalars(
        select(model).where(model.prefix == wanted).options(*options)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no {what} has the prefix {wanted!r}", field="prefix")
    return row


def use_is_due(row: ApiToken | CarrierKey, *, now: dt.datetime) -> bool:
    """Tell whether a row's last use is old enough to be written again."""
    return row.last_used_at is None or now - row.last_used_at >= USE_RESOLUTION


def mark_used(session: Session, model: type[Credential], row_id: int, *, now: dt.datetime) -> bool:
    """Set a row's last use to now unless another request did within the last minute."""
    result = session.execute(
        update(model)
        .where(
            model.id == row_id,
            or_(model.last_used_at.is_(None), model.last_used_at <= now - USE_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def record_use(session: Session, row: Credential, *, now: dt.datetime) -> None:
    """Note a use of ``row`` when one is due, and show it on the loaded row."""
    if use_is_due(row, now=now) and mark_used(session, type(row), row.id, now=now):
        set_committed_value(row, "last_used_at", now)


def revoke(session: Session, row: ApiToken | CarrierKey, *, now: dt.datetime) -> None:
    """Revoke a row; revoking a revoked one keeps its first revocation time."""
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()


def retire(session: Session, row: ApiToken | CarrierKey, *, now: dt.datetime, what: str) -> None:
    """Revoke a row that its successor replaces; refuse (Conflict) a revoked or expired one,
    whose successor should be issued anew."""
    if row.revoked_at is not None:
        raise Conflict(f"{what} {row.prefix} is revoked; issue a new one instead", field="prefix")
    if row.expires_at is not None and row.expires_at <= now:
        raise Conflict(f"{what} {row.prefix} has expired; issue a new one instead", field="prefix")
    revoke(session, row, now=now)


def _parse_prefix(presented: str, scheme: str) -> str | None:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != scheme or not parts[1] or not parts[2]:
        return None
    return parts[1]

"""Idempotency keys: a mutating request repeated with the same key gets the first answer.

A key is scoped to the principal, the method and the path (invariant 3). The first successful
answer is stored in the same transaction as the request's effect, so either both exist or
neither does; a repeat with the same request replays it, a repeat with another request is
refused. On PostgreSQL a transaction-scoped advisory lock on the scope makes a concurrent
repeat answer "still in progress" instead of waiting; on SQLite every write transaction holds
the database's write lock (``BEGIN IMMEDIATE``), so repeats simply queue behind the first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from wms.errors import Conflict, RuleViolation
from wms.models import IdempotencyRecord, utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 128
#: How long an answer is kept for replay.
TTL = dt.timedelta(hours=24)

_MAX_PATH = 255  # IdempotencyRecord.path
_MAX_CONTENT_TYPE = 100  # IdempotencyRecord.content_type


class KeyInProgress(Conflict):
    """Another request with the same key is running right now."""

    code = "idempotency_key_in_progress"


class KeyReused(RuleViolation):
    """The key was already used for a different request."""

    code = "idempotency_key_reused"


@dataclass(frozen=True, slots=True)
class Scope:
    """What one idempotency key is unique within: principal, method and path."""

    principal: str
    method: str
    path: str
    key: str

    @classmethod
    def of(cls, *, principal: str, method: str, path: str, key: str) -> Scope:
        """Build a scope, folding paths too long for the record into a digest."""
        if len(path) > _MAX_PATH:
            digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()
            path = f"{path[: _MAX_PATH - len(digest) - 1]}#{digest}"
        return cls(principal=principal, method=method.upper(), path=path, key=key)

    @property
    def lock_id(self) -> int:
        """A signed 64-bit number naming this scope, for PostgreSQL's advisory locks."""
        digest = _hash_parts(self.principal, self.method, self.path, self.key)
        return int.from_bytes(digest[:8], "big", signed=True)


def is_valid_key(key: str) -> bool:
    """Tell whether key is 1 to 128 printable ASCII characters."""
    return 1 <= len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


def fingerprint(method: str, path: str, query: Iterable[tuple[str, str]], body: bytes) -> str:
    """The SHA-256 of a request: method, path, query (order ignored) and raw body."""
    return _hash_parts(method.upper(), path, urlencode(sorted(query)), body).hex()


def claim(
    session: Session, scope: Scope, *, fingerprint: str, now: dt.datetime | None = None
) -> IdempotencyRecord | None:
    """Hold the key for this transaction and return the stored answer to replay, if any.

    Raises KeyInProgress while another transaction holds the key (PostgreSQL) and KeyReused
    when the key's stored answer belongs to a different request.
    """
    if session.get_bind().dialect.name == "postgresql":
        locked = session.scalar(select(func.pg_try_advisory_xact_lock(scope.lock_id)))
        if not locked:
            raise KeyInProgress(
                f"a request with this {HEADER} is still in progress; try again shortly",
                field=HEADER,
            )
    record = _record(session, scope)
    if record is None or record.expires_at <= (now or utcnow()):
        return None
    if record.fingerprint != fingerprint:
        raise KeyReused(
            f"this {HEADER} was already used for a different request; use a new key",
            field=HEADER,
        )
    return record


def remember(
    session: Session,
    scope: Scope,
    *,
    fingerprint: str,
    status_code: int,
    body: str,
    content_type: str,
    now: dt.datetime | None = None,
) -> IdempotencyRecord:
    """Store an answer for replay in this transaction, replacing an expired one for the key."""
    now = now or utcnow()
    record = _record(session, scope)
    if record is None:
        record = IdempotencyRecord(
            principal=scope.principal, method=scope.method, path=scope.path, key=scope.key
        )
        session.add(record)
    elif record.expires_at > now:
        # claim() replays a live record, so a live one here means the caller skipped claim().
        raise KeyReused(f"this {HEADER} already has an answer", field=HEADER)
    record.fingerprint = fingerprint
    record.status_code = status_code
    record.response_body = body
    record.content_type = content_type[:_MAX_CONTENT_TYPE]
    record.created_at = now
    record.expires_at = now + TTL
    session.flush()
    return record


def purge_expired(session: Session, now: dt.datetime) -> int:
    """Delete the answers that can no longer be replayed; return how many."""
    result = session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _record(session: Session, scope: Scope) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == scope.principal,
            IdempotencyRecord.method == scope.method,
            IdempotencyRecord.path == scope.path,
            IdempotencyRecord.key == scope.key,
        )
    ).one_or_none()


def _hash_parts(*parts: str | bytes) -> bytes:
    # Length-prefixed, so no two different part lists hash the same bytes.
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogateescape")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()

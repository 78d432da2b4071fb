"""Carriers' API keys and drivers' tokens.

A key reads ``fwc_<prefix>_<secret>`` and is stored, shown and checked like an API token
(:mod:`wms.credentials`): only its SHA-256 is kept, so it is shown once, when it is issued.
A key belongs to one carrier and carries scopes (what it may do). A key issued for one of the
carrier's drivers is a *driver token*: it reaches that driver's routes only (ARCHITECTURE.md,
invariant 5: a carrier's credentials reach that carrier's routes and nothing else); use
:func:`reaches` or :func:`route_filter` (with the key's carrier and driver) wherever routes
are looked up for a key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, joinedload

from wms import credentials
from wms.errors import RuleViolation, Unauthorized
from wms.models import Carrier, CarrierKey, Driver, Route, utcnow

SCHEME = "fwc"
#: Tell whether a key's last use is old enough to be written again.
use_is_due = credentials.use_is_due

ROUTES_READ = "routes:read"
STOPS_WRITE = "stops:write"
POSITIONS_WRITE = "positions:write"
#: Every scope a key can hold.
SCOPES = (ROUTES_READ, STOPS_WRITE, POSITIONS_WRITE)

_WITH_OWNERS = (joinedload(CarrierKey.carrier), joinedload(CarrierKey.driver))


def issue(
    session: Session,
    *,
    carrier_id: int,
    name: str,
    scopes: Iterable[str],
    driver_id: int | None = None,
    created_by: int | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[CarrierKey, str]:
    """Create a carrier key (a driver token when ``driver_id`` is given) and return it with its
    plaintext, which is never available again."""
    name = name.strip()
    if not name or len(name) > 120:
        raise RuleViolation("a carrier key needs a name of 1 to 120 characters", field="name")
    wanted = choose(scopes, SCOPES, what="scope", field="scopes")
    if not wanted:
        raise RuleViolation(f"a carrier key needs a scope: {', '.join(SCOPES)}", field="scopes")
    if expires_at is not None and expires_at <= utcnow():
        raise RuleViolation("a carrier key cannot expire in the past", field="expires_at")
    carrier = active_carrier(session, carrier_id)
    driver = None
    if driver_id is not None:
        driver = session.get(Driver, driver_id)
        if driver is None or driver.carrier_id != carrier.id:
            raise RuleViolation(
                f"carrier {carrier.code} has no driver with the id {driver_id}", field="driver_id"
            )
        if not driver.active:
            raise RuleViolation(f"driver {driver.code} is inactive", field="driver_id")

    return credentials.issue(
        session,
        CarrierKey,
        scheme=SCHEME,
        carrier=carrier,
        driver=driver,
        name=name,
        scopes=wanted,
        created_by=created_by,
        expires_at=expires_at,
    )


def authenticate(
    session: Session, presented: str, *, now: dt.datetime, record_use: bool = True
) -> CarrierKey:
    """Return the live key a presented secret belongs to; note its use at most once a minute.

    Refused (Unauthorized) when unknown, revoked or expired, or when its carrier or its driver
    is no longer active. Pass ``record_use=False`` from a read-only transaction and call
    :func:`mark_used` in a write transaction when :func:`use_is_due` says so.
    """
    key = credentials.find(
        session,
        CarrierKey,
        presented,
        scheme=SCHEME,
        now=now,
        what="carrier key",
        options=_WITH_OWNERS,
    )
    if not key.carrier.active:
        raise Unauthorized(f"the carrier of key {key.prefix} is inactive")
    if key.driver is not None and (
        not key.driver.active or key.driver.carrier_id != key.carrier_id
    ):
        raise Unauthorized(f"the driver of key {key.prefix} is inactive")
    if record_use:
        credentials.record_use(session, key, now=now)
    return key


def is_driver_token(key: CarrierKey) -> bool:
    """Tell whether a key is one driver's token (it reaches that driver's routes only)."""
    return key.driver_id is not None


def has_scope(key: CarrierKey, scope: str) -> bool:
    """Tell whether a key may do what ``scope`` names."""
    return scope in key.scopes


def reaches(route: Route, carrier_id: int, driver_id: int | None = None) -> bool:
    """Tell whether a carrier's key may see ``route``: the carrier's routes, and with
    ``driver_id`` (a driver token) only those the driver drives."""
    if route.carrier_id != carrier_id:
        return False
    return driver_id is None or route.driver_id == driver_id


def route_filter(carrier_id: int, driver_id: int | None = None) -> ColumnElement[bool]:
    """The WHERE clause of the routes :func:`reaches` lets a key see."""
    clause = Route.carrier_id == carrier_id
    if driver_id is not None:
        clause = and_(clause, Route.driver_id == driver_id)
    return clause


def mark_used(session: Session, key_id: int, *, now: dt.datetime) -> bool:
    """Set a key's last use to now unless another request did within the last minute."""
    return credentials.mark_used(session, CarrierKey, key_id, now=now)


def revoke(session: Session, prefix: str, *, now: dt.datetime | None = None) -> CarrierKey:
    """Revoke a key by its prefix; revoking a revoked key changes nothing."""
    key = get(session, prefix)
    credentials.revoke(session, key, now=now or utcnow())
    return key


def rotate(
    session: Session, prefix: str, *, created_by: int | None = None
) -> tuple[CarrierKey, str]:
    """Revoke a key and issue its successor: same carrier, name, scopes, driver and expiry."""
    old = get(session, prefix)
    credentials.retire(session, old, now=utcnow(), what="carrier key")
    return issue(
        session,
        carrier_id=old.carrier_id,
        name=old.name,
        scopes=old.scopes,
        driver_id=old.driver_id,
        created_by=created_by,
        expires_at=old.expires_at,
    )


def get(session: Session, prefix: str) -> CarrierKey:
    """Find a key by its prefix (``fwc_`` may be included)."""
    return credentials.get(
        session, CarrierKey, prefix, scheme=SCHEME, what="carrier key", options=_WITH_OWNERS
    )


def list_keys(session: Session, *, carrier_id: int | None = None) -> list[CarrierKey]:
    """Every key (of one carrier, when given), oldest first, with its carrier and driver."""
    query: Any = select(CarrierKey).options(*_WITH_OWNERS)
    if carrier_id is not None:
        query = query.where(CarrierKey.carrier_id == carrier_id)
    return list(session.scalars(query.order_by(CarrierKey.created_at, CarrierKey.id)))


def carrier_id_for_code(session: Session, code: str) -> int:
    """Turn a carrier's code into its id, refusing a code that names no carrier."""
    carrier_id = session.scalar(select(Carrier.id).where(Carrier.code == code.strip()))
    if carrier_id is None:
        raise RuleViolation(f"no carrier has the code {code.strip()!r}", field="carrier")
    return carrier_id


def driver_id_for_code(session: Session, carrier_id: int, code: str) -> int:
    """Turn a driver's code into its id among one carrier's drivers."""
    driver_id = session.scalar(
        select(Driver.id).where(Driver.carrier_id == carrier_id, Driver.code == code.strip())
    )
    if driver_id is None:
        raise RuleViolation(f"the carrier has no driver {code.strip()!r}", field="driver")
    return driver_id


def active_carrier(session: Session, carrier_id: int) -> Carrier:
    """The carrier with this id, refusing one that does not exist or is no longer active."""
    carrier = session.get(Carrier, carrier_id)
    if carrier is None or not carrier.active:
        state = "no carrier" if carrier is None else "an inactive carrier"
        raise RuleViolation(f"{state} has the id {carrier_id}", field="carrier_id")
    return carrier


def choose(given: Iterable[str], allowed: tuple[str, ...], *, what: str, field: str) -> list[str]:
    """The values given, each once and in the order of ``allowed``; RuleViolation naming any
    value not allowed (``what`` names one: "scope", "event type")."""
    chosen = [given] if isinstance(given, str) else list(given)
    unknown = sorted(set(chosen) - set(allowed))
    if unknown:
        raise RuleViolation(
            f"unknown {what} {', '.join(unknown)}; one of {', '.join(allowed)}", field=field
        )
    return [value for value in allowed if value in chosen]

"""People: badge digests, PIN/password hashes, signing in by badge on a handheld and by
password on the planner console."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from wms.models import Role, User, utcnow

_hasher = PasswordHasher()


def badge_digest(key: str, badge: str) -> str:
    """The HMAC-SHA256 of a badge number, by which a user is looked up (never the badge itself)."""
    return hmac.new(key.encode(), badge.strip().encode(), hashlib.sha256).hexdigest()


def hash_secret(secret: str) -> str:
    """Hash a PIN or password with argon2id."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when the secret matches the stored argon2 hash."""
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


# --- signing in on a handheld ------------------------------------------------------------------

#: Roles that add a PIN to their badge on a handheld.
PIN_ROLES = (Role.SUPERVISOR, Role.PLANNER, Role.ADMIN)
#: Wrong PINs in a row before signing in waits; each further one doubles the wait.
PIN_TRIES = 3
PIN_BACKOFF_S = 30
PIN_BACKOFF_MAX_S = 15 * 60


@dataclass(frozen=True, slots=True)
class BadgeCheck:
    """The outcome of a badge (and PIN) scan: the user, or why not and when to try again."""

    user: User | None
    refusal: str | None = None  # unknown_badge, pin_required, wrong_pin, pin_locked
    message: str = ""
    retry_after_s: int | None = None


def check_badge(
    session: Session,
    *,
    secret_key: str,
    badge: str,
    pin: str | None = None,
    now: dt.datetime | None = None,
) -> BadgeCheck:
    """Who a scanned badge (and PIN, for supervisors, planners and admins) signs in.

    Never raises for wrong credentials: a wrong PIN is counted on the user, so the caller must
    commit whatever this returns. After ``PIN_TRIES`` wrong PINs in a row signing in waits
    ``PIN_BACKOFF_S`` seconds, doubling with every further wrong PIN (at most 15 minutes);
    the right PIN resets the count.
    """
    now = now or utcnow()
    user = session.scalars(
        select(User)
        .where(User.badge_hmac == badge_digest(secret_key, badge), User.active.is_(True))
        .with_for_update()
    ).one_or_none()
    if user is None:
        return BadgeCheck(None, "unknown_badge", "this badge is not known here")
    if user.role not in PIN_ROLES:
        return BadgeCheck(user)
    if user.pin_locked_until is not None and now < user.pin_locked_until:
        wait = math.ceil((user.pin_locked_until - now).total_seconds())
        return BadgeCheck(None, "pin_locked", f"too many wrong PINs: wait {wait} s", wait)
    if not pin:
        return BadgeCheck(None, "pin_required", "enter your PIN")
    if verify_secret(user.pin_hash, pin):
        _count_right(session, user)
        return BadgeCheck(user)
    return _count_wrong(session, user, now, "PIN", "wrong_pin", "pin_locked")


def _count_right(session: Session, user: User) -> None:
    user.failed_pin_attempts = 0
    user.pin_locked_until = None
    session.flush()


def _count_wrong(
    session: Session, user: User, now: dt.datetime, what: str, wrong: str, locked: str
) -> BadgeCheck:
    """Count a wrong PIN or password; from the ``PIN_TRIES``-th on, signing in waits."""
    user.failed_pin_attempts += 1
    over = user.failed_pin_attempts - PIN_TRIES
    if over >= 0:
        wait = min(PIN_BACKOFF_S * 2**over, PIN_BACKOFF_MAX_S)
        user.pin_locked_until = now + dt.timedelta(seconds=wait)
        session.flush()
        return BadgeCheck(None, locked, f"wrong {what}: wait {wait} s", wait)
    session.flush()
    left = PIN_TRIES - user.failed_pin_attempts
    return BadgeCheck(None, wrong, f"wrong {what}: {left} more tries before a wait")


#: Roles that may sign in to the planner console.
CONSOLE_ROLES = (Role.PLANNER, Role.ADMIN)


def check_password(
    session: Session, *, username: str, password: str, now: dt.datetime | None = None
) -> BadgeCheck:
    """Who a console sign-in (user name and password) is, or why not.

    Wrong passwords count like wrong PINs (the same back-off, on the same counter), so the
    caller must commit whatever this returns. An unknown user name and a wrong password get the
    same answer, so the form does not tell which user names exist. Roles other than planner and
    admin are refused: the console is theirs.
    """
    now = now or utcnow()
    unknown = BadgeCheck(None, "wrong_password", "unknown user name or wrong password")
    user = session.scalars(
        select(User)
        .where(User.username == username.strip(), User.active.is_(True))
        .with_for_update()
    ).one_or_none()
    if user is None or not user.password_hash:
        return unknown
    if user.pin_locked_until is not None and now < user.pin_locked_until:
        wait = math.ceil((user.pin_locked_until - now).total_seconds())
        return BadgeCheck(None, "password_locked", f"too many wrong tries: wait {wait} s", wait)
    if not verify_secret(user.password_hash, password):
        check = _count_wrong(session, user, now, "password", "wrong_password", "password_locked")
        if check.refusal == "wrong_password":
            return unknown
        return check
    _count_right(session, user)
    if user.role not in CONSOLE_ROLES:
        return BadgeCheck(None, "not_a_planner", "the console is for planners and admins")
    return BadgeCheck(user)


# --- the handheld lock -------------------------------------------------------------------------

#: Seconds without a scan or tap before a handheld locks (``WMS_SCANNER_IDLE_LOCK_S``).
IDLE_LOCK_S = 300


def handheld_locked(state: Mapping[str, Any], *, idle_lock_s: float, now: float) -> bool:
    """Whether a handheld session is locked: by hand (``locked``), or idle since ``seen``.

    Sessions without ``seen`` (not signed in on a handheld) never lock by idling.
    """
    if state.get("locked"):
        return True
    seen = state.get("seen")
    return seen is not None and now - float(seen) > idle_lock_s


# --- who a signed-in browser session is -----------------------------------------------------


@dataclass(frozen=True, eq=False)
class SessionUser:
    """What a browser session keeps of a signed-in User for one request (loaded, then detached).

    It answers what Flask-Login asks of a user object, so pages and the API share it.
    """

    id: int
    username: str
    display_name: str
    role: str
    site_ids: frozenset[int]

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @classmethod
    def of(cls, user: User) -> SessionUser:
        """Copy what a request needs from a User row."""
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=str(user.role.value),
            site_ids=frozenset(site.id for site in user.sites),
        )

"""People: badge digests, PIN/password hashes, signing in by badge on a handheld and by
password on the planner console."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from wms.errors import NotFound, RuleViolation
from wms.models import Role, Site, User, utcnow

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


# --- administering users (the console's admin pages) ----------------------------------------

#: What people type at the console's sign-in: plain, lowercase, so two names never differ by
#: case alone.
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
PIN_PATTERN = re.compile(r"[0-9]{4,8}")
PASSWORD_MIN_LENGTH = 10
#: argon2 takes any length; the bound keeps one sign-in from hashing megabytes.
PASSWORD_MAX_LENGTH = 256
BADGE_MAX_LENGTH = 64


def list_users(session: Session) -> list[User]:
    """Every user by user name, with their sites."""
    return list(
        session.scalars(select(User).options(selectinload(User.sites)).order_by(User.username))
    )


def get_user(session: Session, user_id: int) -> User:
    """The user with this id, with their sites."""
    user = session.get(User, user_id, options=[selectinload(User.sites)])
    if user is None:
        raise NotFound(f"there is no user {user_id}", field="user_id")
    return user


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    site_ids: list[int],
    password: str | None = None,
    pin: str | None = None,
) -> User:
    """Add a user; every field is checked before anything is written.

    Password and PIN are optional: floor staff need neither, and an admin may set them later
    (a badge needs the app's secret key, so it is set with :func:`set_badge`).
    """
    username = _new_username(session, username)
    display_name = _display_name(display_name)
    checked_role = _role(role)
    sites = _sites_for(session, site_ids, checked_role)
    pin_hash = _pin_hash(checked_role, pin) if pin else None
    password_hash = _password_hash(password) if password else None
    user = User(
        username=username,
        display_name=display_name,
        role=checked_role,
        sites=sites,
        pin_hash=pin_hash,
        password_hash=password_hash,
        active=True,
    )
    _flush_unique(session, lambda: session.add(user), field="username", message=_taken(username))
    return user


def update_user(
    session: Session,
    user_id: int,
    *,
    display_name: str | None = None,
    role: Role | str | None = None,
    site_ids: list[int] | None = None,
    active: bool | None = None,
    acting_user_id: int | None = None,
) -> User:
    """Change a user's display name, role, sites or whether they may sign in (None: as is).

    Nothing changes unless every given field is valid. The acting admin may neither switch
    themselves off nor give up their own admin role: either would lock them out of the page
    they are on, and with the last admin nobody would be left to undo it.
    """
    user = get_user(session, user_id)
    new_name = _display_name(display_name) if display_name is not None else user.display_name
    new_role = _role(role) if role is not None else user.role
    if site_ids is not None:
        sites = _sites_for(session, site_ids, new_role)
    else:
        sites = _sites_for(session, [site.id for site in user.sites], new_role)
    if acting_user_id is not None and acting_user_id == user.id:
        if active is False:
            raise RuleViolation("you cannot switch off your own account", field="active")
        if user.role is Role.ADMIN and new_role is not Role.ADMIN:
            raise RuleViolation(
                "you cannot take away your own admin role; ask another admin", field="role"
            )
    user.display_name = new_name
    user.role = new_role
    user.sites = sites
    if active is not None:
        user.active = active
    session.flush()
    return user


def set_badge(session: Session, user_id: int, *, secret_key: str, badge: str | None) -> User:
    """Give a user a badge (only its HMAC is kept), or take it away with ``badge=None``.

    A badge signs exactly one person in, so one already given to someone else is refused.
    """
    user = get_user(session, user_id)
    if badge is None:
        user.badge_hmac = None
        session.flush()
        return user
    number = badge.strip()
    if not number:
        raise RuleViolation("scan or type the badge number", field="badge")
    if len(number) > BADGE_MAX_LENGTH:
        raise RuleViolation(
            f"a badge number has at most {BADGE_MAX_LENGTH} characters", field="badge"
        )
    digest = badge_digest(secret_key, number)
    holder = session.scalar(
        select(User.username).where(User.badge_hmac == digest, User.id != user.id)
    )
    if holder is not None:
        raise RuleViolation(f"this badge already belongs to {holder}", field="badge")

    def assign() -> None:
        user.badge_hmac = digest

    _flush_unique(session, assign, field="badge", message="this badge belongs to another user")
    return user


def reset_pin(session: Session, user_id: int, *, pin: str) -> User:
    """Give a supervisor, planner or admin a new handheld PIN and lift any PIN back-off."""
    user = get_user(session, user_id)
    user.pin_hash = _pin_hash(user.role, pin)
    _clear_backoff(user)
    session.flush()
    return user


def set_password(session: Session, user_id: int, *, password: str) -> User:
    """Give a user a new console password and lift any back-off.

    Wrong passwords and wrong PINs count on one counter; an admin who sets a new password has
    vouched for the person, so the wait that wrong guesses earned is lifted too.
    """
    user = get_user(session, user_id)
    user.password_hash = _password_hash(password)
    _clear_backoff(user)
    session.flush()
    return user


def _new_username(session: Session, username: str) -> str:
    name = username.strip()
    if not USERNAME_PATTERN.fullmatch(name):
        raise RuleViolation(
            "a user name is 2 to 64 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="username",
        )
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise RuleViolation(_taken(name), field="username")
    return name


def _taken(username: str) -> str:
    return f"the user name {username} is taken"


def _display_name(display_name: str) -> str:
    name = display_name.strip()
    if not name or len(name) > 120:
        raise RuleViolation("a display name has 1 to 120 characters", field="display_name")
    return name


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise RuleViolation(f"{role!r} is not a role: {allowed}", field="role") from None


def _sites_for(session: Session, site_ids: list[int], role: Role) -> list[Site]:
    """The sites named, all of which must exist; every role but admin needs one at least."""
    wanted = list(dict.fromkeys(site_ids))
    found = {site.id: site for site in session.scalars(select(Site).where(Site.id.in_(wanted)))}
    missing = [str(site_id) for site_id in wanted if site_id not in found]
    if missing:
        raise RuleViolation(f"no site has the id {', '.join(missing)}", field="site_ids")
    # Admins reach every site; everyone else acts only where they belong.
    if not wanted and role is not Role.ADMIN:
        article = "an" if role.value[0] in "aeiou" else "a"
        raise RuleViolation(f"{article} {role.value} needs at least one site", field="site_ids")
    return [found[site_id] for site_id in wanted]


def _pin_hash(role: Role, pin: str) -> str:
    if role not in PIN_ROLES:
        raise RuleViolation(f"{role.value}s sign in by badge alone: no PIN", field="pin")
    if not PIN_PATTERN.fullmatch(pin):
        raise RuleViolation("a PIN is 4 to 8 digits", field="pin")
    return hash_secret(pin)


def _password_hash(password: str) -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise RuleViolation(
            f"a password has at least {PASSWORD_MIN_LENGTH} characters", field="password"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise RuleViolation(
            f"a password has at most {PASSWORD_MAX_LENGTH} characters", field="password"
        )
    return hash_secret(password)


def _clear_backoff(user: User) -> None:
    user.failed_pin_attempts = 0
    user.pin_locked_until = None


def _flush_unique(
    session: Session, change: Callable[[], None], *, field: str, message: str
) -> None:
    """Make a change and flush it in a savepoint, reading a unique clash as a RuleViolation.

    The look-up before it answers almost always; this catches a concurrent request taking the
    same user name or badge in between, and leaves the caller's transaction usable.
    """
    try:
        with session.begin_nested():
            change()
            session.flush()
    except IntegrityError as exc:
        raise RuleViolation(message, field=field) from exc

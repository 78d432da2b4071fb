"""Signing in by badge on a handheld (wms.users.check_badge): PINs for supervisors, back-off."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from wms.models import Role, User
from wms.users import PIN_TRIES, badge_digest, check_badge, hash_secret

KEY = "test-secret"
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def make_user(session: Session):
    def make(role: Role = Role.ASSOCIATE, *, badge: str = "B-1", pin: str | None = None, **kw):
        user = User(
            username=f"{role.value}-{badge}",
            display_name=badge,
            role=role,
            badge_hmac=badge_digest(KEY, badge),
            pin_hash=hash_secret(pin) if pin else None,
            **kw,
        )
        session.add(user)
        session.flush()
        return user

    return make


def test_an_associate_signs_in_with_the_badge_alone(session, make_user):
    user = make_user()

    assert check_badge(session, secret_key=KEY, badge=" B-1 ", now=NOW).user is user


@pytest.mark.parametrize("badge", ["B-2", ""])
def test_an_unknown_badge_signs_nobody_in(session, make_user, badge):
    make_user()

    check = check_badge(session, secret_key=KEY, badge=badge, now=NOW)

    assert check.user is None and check.refusal == "unknown_badge"


def test_a_switched_off_user_cannot_sign_in(session, make_user):
    make_user(active=False)

    assert check_badge(session, secret_key=KEY, badge="B-1", now=NOW).user is None


def test_a_supervisor_needs_the_pin_too(session, make_user):
    boss = make_user(Role.SUPERVISOR, badge="B-9", pin="2468")

    asked = check_badge(session, secret_key=KEY, badge="B-9", now=NOW)
    signed = check_badge(session, secret_key=KEY, badge="B-9", pin="2468", now=NOW)

    assert asked.user is None and asked.refusal == "pin_required"
    assert signed.user is boss


def test_wrong_pins_earn_a_growing_wait_and_the_right_one_resets_it(session, make_user):
    boss = make_user(Role.SUPERVISOR, badge="B-9", pin="2468")

    for attempt in range(PIN_TRIES - 1):
        wrong = check_badge(session, secret_key=KEY, badge="B-9", pin="0000", now=NOW)
        assert wrong.refusal == "wrong_pin", attempt
    locked = check_badge(session, secret_key=KEY, badge="B-9", pin="0000", now=NOW)
    assert locked.refusal == "pin_locked" and locked.retry_after_s == 30
    # Even the right PIN waits out the lock.
    early = check_badge(session, secret_key=KEY, badge="B-9", pin="2468", now=NOW)
    assert early.refusal == "pin_locked" and early.retry_after_s == 30
    later = NOW + dt.timedelta(seconds=31)
    again = check_badge(session, secret_key=KEY, badge="B-9", pin="0000", now=later)
    assert again.refusal == "pin_locked" and again.retry_after_s == 60  # doubled
    later += dt.timedelta(seconds=61)
    assert check_badge(session, secret_key=KEY, badge="B-9", pin="2468", now=later).user is boss
    assert boss.failed_pin_attempts == 0 and boss.pin_locked_until is None

"""Administering users (wms.users): creating them, changing role, sites and whether they may
sign in, badges kept as HMACs, PIN resets that lift the back-off, passwords. Every refusal
names its field and leaves the user as it was."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from wms import users
from wms.errors import NotFound, RuleViolation
from wms.models import Role, User, utcnow
from wms.users import badge_digest, check_badge, check_password, verify_secret

KEY = "test-secret"


@pytest.fixture
def make_user(session: Session, make_site):
    def make(role: Role = Role.ASSOCIATE, *, username: str = "ana", **fields) -> User:
        return users.create_user(
            session,
            username=username,
            display_name=username.title(),
            role=role,
            site_ids=[make_site().id],
            **fields,
        )

    return make


def refused(call, *args, **kwargs) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_new_user_has_role_sites_and_hashed_secrets(session, make_site):
    site = make_site()

    user = users.create_user(
        session,
        username=" pat.planner ",
        display_name=" Pat ",
        role="planner",
        site_ids=[site.id, site.id],
        password="a long enough password",
        pin="2468",
    )

    assert (user.username, user.display_name, user.role) == ("pat.planner", "Pat", Role.PLANNER)
    assert [s.id for s in user.sites] == [site.id]
    assert verify_secret(user.password_hash, "a long enough password")
    assert verify_secret(user.pin_hash, "2468")
    assert user.active and user.badge_hmac is None


def test_an_admin_needs_no_site_but_everyone_else_does(session):
    admin = users.create_user(
        session, username="alex", display_name="Alex", role=Role.ADMIN, site_ids=[]
    )
    error = refused(
        users.create_user,
        session,
        username="ana",
        display_name="Ana",
        role="associate",
        site_ids=[],
    )

    assert admin.sites == []
    assert (error.field, error.message) == ("site_ids", "an associate needs at least one site")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "A"}, "username"),
        ({"username": "Ana"}, "username"),
        ({"username": "ana b"}, "username"),
        ({"username": "-ana"}, "username"),
        ({"username": "a" * 65}, "username"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 121}, "display_name"),
        ({"role": "owner"}, "role"),
        ({"site_ids": [987654]}, "site_ids"),
        ({"password": "nine char"}, "password"),
        ({"password": "x" * 257}, "password"),
        ({"pin": "123"}, "pin"),
        ({"role": "supervisor", "pin": "12345678x"}, "pin"),
        ({"role": "associate", "pin": "1234"}, "pin"),
    ],
)
def test_a_bad_new_user_is_refused_naming_the_field(session, make_site, fields, field):
    values = {
        "username": "ana",
        "display_name": "Ana",
        "role": "supervisor",
        "site_ids": [make_site().id],
        **fields,
    }

    error = refused(users.create_user, session, **values)

    assert error.field == field
    assert session.scalars(select(User)).all() == []


def test_a_user_name_is_taken_once(session, make_user):
    make_user(username="ana")

    error = refused(make_user, username="ana")

    assert (error.field, error.message) == ("username", "the user name ana is taken")
    assert len(session.scalars(select(User)).all()) == 1


def test_a_user_name_taken_by_a_concurrent_request_is_refused_and_the_session_goes_on(
    session, make_user, monkeypatch
):
    make_user(username="ana")
    # As if another request took the name between the look-up and the insert.
    monkeypatch.setattr(users, "_new_username", lambda _session, name: name.strip())

    error = refused(make_user, username="ana")

    assert (error.field, error.message) == ("username", "the user name ana is taken")
    assert [u.username for u in users.list_users(session)] == ["ana"]  # still usable


def test_display_name_role_sites_and_active_change_together(session, make_user, make_site):
    user = make_user()
    sites = [make_site(), make_site()]

    users.update_user(
        session,
        user.id,
        display_name="Ana B.",
        role=Role.SUPERVISOR,
        site_ids=[s.id for s in sites],
        active=False,
    )

    session.expire_all()
    changed = users.get_user(session, user.id)
    assert (changed.display_name, changed.role) == ("Ana B.", Role.SUPERVISOR)
    assert changed.active is False
    assert [s.id for s in changed.sites] == [s.id for s in sites]


def test_fields_left_out_of_an_update_stay_as_they_are(session, make_user):
    user = make_user()
    sites = list(user.sites)

    users.update_user(session, user.id, display_name="Ana B.")

    assert (user.role, user.sites, user.active) == (Role.ASSOCIATE, sites, True)


def test_a_bad_update_changes_nothing(session, make_user):
    user = make_user()
    sites = list(user.sites)

    error = refused(
        users.update_user, session, user.id, display_name="Renamed", role="boss", active=False
    )

    assert error.field == "role"
    assert (user.display_name, user.role, user.sites, user.active) == (
        "Ana",
        Role.ASSOCIATE,
        sites,
        True,
    )


def test_a_role_without_sites_is_refused_when_the_admin_role_is_taken_away(session):
    admin = users.create_user(
        session, username="alex", display_name="Alex", role=Role.ADMIN, site_ids=[]
    )

    error = refused(users.update_user, session, admin.id, role=Role.PLANNER)

    assert (error.field, admin.role) == ("site_ids", Role.ADMIN)


def test_an_admin_cannot_switch_themselves_off_nor_drop_their_admin_role(session, make_user):
    admin = make_user(Role.ADMIN, username="alex")

    switched_off = refused(
        users.update_user, session, admin.id, active=False, acting_user_id=admin.id
    )
    demoted = refused(
        users.update_user, session, admin.id, role=Role.PLANNER, acting_user_id=admin.id
    )

    assert (switched_off.field, demoted.field) == ("active", "role")
    assert (admin.active, admin.role) == (True, Role.ADMIN)


def test_an_admin_switches_off_another_admin(session, make_user):
    first = make_user(Role.ADMIN, username="alex")
    second = make_user(Role.ADMIN, username="bo")

    users.update_user(session, second.id, active=False, acting_user_id=first.id)

    assert second.active is False


def test_an_unknown_user_is_not_found(session):
    with pytest.raises(NotFound):
        users.update_user(session, 987654, display_name="Nobody")
    with pytest.raises(NotFound):
        users.reset_pin(session, 987654, pin="1234")


def test_a_badge_is_kept_as_its_hmac_and_signs_the_user_in(session, make_user):
    user = make_user()

    users.set_badge(session, user.id, secret_key=KEY, badge=" B-42 ")

    assert user.badge_hmac == badge_digest(KEY, "B-42")
    assert check_badge(session, secret_key=KEY, badge="B-42").user is user


def test_a_badge_of_another_user_is_refused_naming_its_holder(session, make_user):
    holder = make_user(username="holder")
    user = make_user(username="ana")
    users.set_badge(session, holder.id, secret_key=KEY, badge="B-1")
    users.set_badge(session, user.id, secret_key=KEY, badge="B-2")

    error = refused(users.set_badge, session, user.id, secret_key=KEY, badge="B-1")

    assert (error.field, error.message) == ("badge", "this badge already belongs to holder")
    assert user.badge_hmac == badge_digest(KEY, "B-2")
    users.set_badge(session, user.id, secret_key=KEY, badge="B-2")  # one's own badge again: fine


@pytest.mark.parametrize("badge", ["", "   ", "B" * 65])
def test_a_blank_or_overlong_badge_is_refused(session, make_user, badge):
    user = make_user()

    assert refused(users.set_badge, session, user.id, secret_key=KEY, badge=badge).field == "badge"
    assert user.badge_hmac is None


def test_a_badge_is_taken_away(session, make_user):
    user = make_user()
    users.set_badge(session, user.id, secret_key=KEY, badge="B-9")

    users.set_badge(session, user.id, secret_key=KEY, badge=None)

    assert user.badge_hmac is None
    assert check_badge(session, secret_key=KEY, badge="B-9").user is None


def test_a_pin_reset_lifts_the_back_off(session, make_user):
    user = make_user(Role.SUPERVISOR, pin="2468")
    users.set_badge(session, user.id, secret_key=KEY, badge="S-1")
    now = utcnow()
    for _ in range(4):
        check_badge(session, secret_key=KEY, badge="S-1", pin="0000", now=now)
    assert user.pin_locked_until is not None and user.pin_locked_until > now

    users.reset_pin(session, user.id, pin="135790")

    assert (user.failed_pin_attempts, user.pin_locked_until) == (0, None)
    assert check_badge(session, secret_key=KEY, badge="S-1", pin="135790", now=now).user is user


@pytest.mark.parametrize("pin", ["", "123", "123456789", "12 34", "abcd", "١٢٣٤"])
def test_a_pin_is_four_to_eight_digits(session, make_user, pin):
    user = make_user(Role.PLANNER, pin="2468")

    assert refused(users.reset_pin, session, user.id, pin=pin).field == "pin"
    assert verify_secret(user.pin_hash, "2468")


def test_associates_get_no_pin(session, make_user):
    user = make_user()

    error = refused(users.reset_pin, session, user.id, pin="1234")

    assert (error.field, user.pin_hash) == ("pin", None)


def test_a_new_password_signs_in_and_lifts_the_back_off(session, make_user):
    user = make_user(Role.PLANNER, username="pat", password="the first password")
    user.failed_pin_attempts = 5
    user.pin_locked_until = utcnow() + dt.timedelta(minutes=10)

    users.set_password(session, user.id, password="the second password")

    assert (user.failed_pin_attempts, user.pin_locked_until) == (0, None)
    assert check_password(session, username="pat", password="the second password").user is user
    assert check_password(session, username="pat", password="the first password").user is None


def test_a_short_password_is_refused_and_the_old_one_kept(session, make_user):
    user = make_user(Role.PLANNER, password="the first password")

    error = refused(users.set_password, session, user.id, password="123456789")

    assert (error.field, error.message) == ("password", "a password has at least 10 characters")
    assert verify_secret(user.password_hash, "the first password")


def test_users_are_listed_by_user_name(session, make_user):
    make_user(username="zoe")
    make_user(username="ana")

    assert [u.username for u in users.list_users(session)] == ["ana", "zoe"]

"""Carrier keys and driver tokens: shown once, stored as a hash, scoped, refused once revoked,
expired, rotated, or when their carrier or driver is no longer active."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable

import pytest
from sqlalchemy import select

from wms import carrier_keys, tokens
from wms.carrier_keys import POSITIONS_WRITE, ROUTES_READ, SCOPES, STOPS_WRITE
from wms.errors import Conflict, NotFound, RuleViolation, Unauthorized
from wms.models import (
    Carrier,
    CarrierKey,
    Driver,
    Route,
    RouteKind,
    Vehicle,
    VehicleKind,
    utcnow,
)

KEY_FORMAT = re.compile(r"fwc_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def make_carrier(session) -> Callable[..., Carrier]:
    counter = iter(range(1, 10_000))

    def make(code: str | None = None, *, active: bool = True) -> Carrier:
        n = next(counter)
        carrier = Carrier(code=code or f"CAR{n}", name=f"Carrier {n}", active=active)
        session.add(carrier)
        session.flush()
        return carrier

    return make


@pytest.fixture
def make_driver(session) -> Callable[..., Driver]:
    counter = iter(range(1, 10_000))

    def make(carrier: Carrier, code: str | None = None, *, active: bool = True) -> Driver:
        n = next(counter)
        driver = Driver(
            carrier_id=carrier.id, code=code or f"D{n}", name=f"Driver {n}", active=active
        )
        session.add(driver)
        session.flush()
        return driver

    return make


@pytest.fixture
def issue(session, make_carrier) -> Callable[..., tuple[CarrierKey, str]]:
    """Issue a key with defaults: a routes:read key of a new carrier."""

    def make(
        *,
        carrier: Carrier | None = None,
        name: str = "dispatch system",
        scopes: tuple[str, ...] = (ROUTES_READ,),
        driver: Driver | None = None,
        expires_at: dt.datetime | None = None,
    ) -> tuple[CarrierKey, str]:
        carrier = carrier or make_carrier()
        return carrier_keys.issue(
            session,
            carrier_id=carrier.id,
            name=name,
            scopes=scopes,
            driver_id=driver.id if driver else None,
            expires_at=expires_at,
        )

    return make


# --- issuing --------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_only_its_sha256_is_stored(session, issue):
    key, plaintext = issue()

    match = KEY_FORMAT.fullmatch(plaintext)
    assert match, plaintext
    assert key.prefix == match.group(1)
    assert key.secret_sha256 == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = session.execute(select(CarrierKey.__table__)).mappings().one()
    assert not any(match.group(2) in str(value) for value in stored.values())


def test_each_key_gets_its_own_prefix_and_secret(issue, make_carrier):
    carrier = make_carrier()
    issued = [issue(carrier=carrier) for _ in range(5)]

    assert len({key.prefix for key, _ in issued}) == 5
    assert len({plaintext for _, plaintext in issued}) == 5


def test_a_key_keeps_its_carrier_name_and_scopes_in_a_fixed_order(issue, make_carrier):
    carrier = make_carrier("VELO")

    key, _ = issue(carrier=carrier, scopes=(STOPS_WRITE, ROUTES_READ, STOPS_WRITE))

    assert (key.carrier.code, key.name) == ("VELO", "dispatch system")
    assert key.scopes == [ROUTES_READ, STOPS_WRITE]
    assert carrier_keys.has_scope(key, STOPS_WRITE)
    assert not carrier_keys.has_scope(key, POSITIONS_WRITE)
    assert not carrier_keys.is_driver_token(key)


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        ((), "needs a scope"),
        (("routes:write",), "unknown scope routes:write"),
        ((ROUTES_READ, "admin"), "unknown scope admin"),
    ],
    ids=["none", "unknown", "one-unknown-among-known"],
)
def test_scopes_are_validated(issue, scopes, message):
    with pytest.raises(RuleViolation, match=message) as refused:
        issue(scopes=scopes)

    assert refused.value.field == "scopes"


@pytest.mark.parametrize("name", ["", "   ", "x" * 121], ids=["empty", "blank", "too-long"])
def test_a_key_needs_a_name_of_1_to_120_characters(issue, name):
    with pytest.raises(RuleViolation, match="name") as refused:
        issue(name=name)

    assert refused.value.field == "name"


def test_a_key_cannot_be_issued_already_expired(issue):
    with pytest.raises(RuleViolation, match="past") as refused:
        issue(expires_at=utcnow() - dt.timedelta(seconds=1))

    assert refused.value.field == "expires_at"


def test_a_key_for_an_unknown_or_inactive_carrier_is_refused(session, make_carrier):
    gone = make_carrier(active=False)

    for carrier_id, message in ((999_999, "no carrier"), (gone.id, "inactive carrier")):
        with pytest.raises(RuleViolation, match=message) as refused:
            carrier_keys.issue(session, carrier_id=carrier_id, name="x", scopes=[ROUTES_READ])
        assert refused.value.field == "carrier_id"


def test_a_driver_of_another_carrier_is_refused(issue, make_carrier, make_driver):
    ours, theirs = make_carrier("OURS"), make_carrier("THEIRS")
    their_driver = make_driver(theirs)

    with pytest.raises(RuleViolation, match="OURS has no driver") as refused:
        issue(carrier=ours, driver=their_driver)

    assert refused.value.field == "driver_id"


def test_an_inactive_driver_gets_no_token(issue, make_carrier, make_driver):
    carrier = make_carrier()

    with pytest.raises(RuleViolation, match="inactive") as refused:
        issue(carrier=carrier, driver=make_driver(carrier, active=False))

    assert refused.value.field == "driver_id"


# --- authenticating -------------------------------------------------------------------------


def test_the_plaintext_authenticates_its_key(session, issue):
    key, plaintext = issue()

    assert carrier_keys.authenticate(session, plaintext, now=NOW) is key


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"),
        lambda p: "fwc_00000000_" + p.split("_", 2)[2],
        lambda p: p.replace("fwc_", "fwt_"),
        lambda p: p.split("_", 2)[2],
        lambda p: "",
    ],
    ids=["wrong-secret", "wrong-prefix", "api-token-scheme", "secret-alone", "empty"],
)
def test_anything_but_the_exact_key_is_refused(session, issue, tamper):
    _, plaintext = issue()

    with pytest.raises(Unauthorized, match="not valid"):
        carrier_keys.authenticate(session, tamper(plaintext), now=NOW)


def test_an_api_token_is_no_carrier_key_and_a_carrier_key_no_api_token(session, issue, make_site):
    _, key_plaintext = issue()
    _, token_plaintext = tokens.issue(
        session, name="shop", role="integration", site_ids=[make_site().id]
    )

    with pytest.raises(Unauthorized):
        carrier_keys.authenticate(session, token_plaintext, now=NOW)
    with pytest.raises(Unauthorized):
        tokens.authenticate(session, key_plaintext)


def test_a_revoked_key_is_refused(session, issue):
    key, plaintext = issue()

    carrier_keys.revoke(session, key.prefix)

    with pytest.raises(Unauthorized, match="revoked"):
        carrier_keys.authenticate(session, plaintext, now=NOW)


def test_an_expired_key_is_refused(session, issue):
    expires = utcnow() + dt.timedelta(hours=1)
    key, plaintext = issue(expires_at=expires)

    assert carrier_keys.authenticate(session, plaintext, now=expires - dt.timedelta(1)) is key
    with pytest.raises(Unauthorized, match="expired"):
        carrier_keys.authenticate(session, plaintext, now=expires)


def test_a_key_of_a_carrier_made_inactive_is_refused(session, issue, make_carrier):
    carrier = make_carrier()
    _, plaintext = issue(carrier=carrier)

    carrier.active = False
    session.flush()

    with pytest.raises(Unauthorized, match=r"carrier of key .* is inactive"):
        carrier_keys.authenticate(session, plaintext, now=NOW)


def test_a_driver_token_of_a_driver_made_inactive_is_refused(
    session, issue, make_carrier, make_driver
):
    carrier = make_carrier()
    driver = make_driver(carrier)
    _, plaintext = issue(carrier=carrier, driver=driver)

    driver.active = False
    session.flush()

    with pytest.raises(Unauthorized, match=r"driver of key .* is inactive"):
        carrier_keys.authenticate(session, plaintext, now=NOW)


def test_use_is_recorded_at_most_once_a_minute(session, issue):
    key, plaintext = issue()

    carrier_keys.authenticate(session, plaintext, now=NOW)
    carrier_keys.authenticate(session, plaintext, now=NOW + dt.timedelta(seconds=59))
    session.expire_all()
    assert session.get(CarrierKey, key.id).last_used_at == NOW

    later = NOW + dt.timedelta(seconds=61)
    carrier_keys.authenticate(session, plaintext, now=later)
    session.expire_all()
    assert session.get(CarrierKey, key.id).last_used_at == later


def test_authenticating_without_recording_use_writes_nothing_until_marked(session, issue):
    key, plaintext = issue()

    carrier_keys.authenticate(session, plaintext, now=NOW, record_use=False)
    session.expire_all()
    key = session.get(CarrierKey, key.id)
    assert key.last_used_at is None and carrier_keys.use_is_due(key, now=NOW)

    assert carrier_keys.mark_used(session, key.id, now=NOW)
    assert not carrier_keys.mark_used(session, key.id, now=NOW + dt.timedelta(seconds=30))
    session.expire_all()
    assert session.get(CarrierKey, key.id).last_used_at == NOW


# --- what a key reaches ---------------------------------------------------------------------


@pytest.fixture
def make_route(session, make_site) -> Callable[..., Route]:
    """A planned route of a carrier's van (and driver), without stops: who owns it is all
    that matters here."""
    counter = iter(range(1, 10_000))

    def make(carrier: Carrier, driver: Driver | None = None) -> Route:
        n = next(counter)
        vehicle = Vehicle(
            carrier_id=carrier.id,
            site_id=make_site().id,
            code=f"VAN{n}",
            kind=VehicleKind.VAN,
            capacity_totes=40,
            capacity_kg=600,
            shift_start=dt.time(7),
            shift_end=dt.time(19),
        )
        session.add(vehicle)
        session.flush()
        route = Route(
            number=f"R-KEYS-{n}",
            kind=RouteKind.DELIVERY,
            site_id=vehicle.site_id,
            carrier_id=carrier.id,
            vehicle_id=vehicle.id,
            driver_id=driver.id if driver else None,
            window_start=NOW,
            window_end=NOW + dt.timedelta(hours=1),
            planned_start=NOW,
            planned_end=NOW,
        )
        session.add(route)
        session.flush()
        return route

    return make


def test_a_carrier_key_reaches_its_carriers_routes_and_a_driver_token_its_drivers_only(
    session, issue, make_carrier, make_driver, make_route
):
    ours, theirs = make_carrier(), make_carrier()
    alice, bob = make_driver(ours), make_driver(ours)
    alices, bobs, unassigned = make_route(ours, alice), make_route(ours, bob), make_route(ours)
    others = make_route(theirs, make_driver(theirs))
    carrier_key, _ = issue(carrier=ours)
    alices_token, _ = issue(carrier=ours, driver=alice)

    assert carrier_keys.is_driver_token(alices_token)
    expected = {carrier_key: [alices, bobs, unassigned], alices_token: [alices]}
    for key, reachable in expected.items():
        whose = (key.carrier_id, key.driver_id)
        routes = (alices, bobs, unassigned, others)
        assert [r for r in routes if carrier_keys.reaches(r, *whose)] == reachable
        # The query filter agrees with the rule, on the database.
        found = session.scalars(
            select(Route).where(carrier_keys.route_filter(*whose)).order_by(Route.id)
        ).all()
        assert found == reachable


# --- revoking, rotating, listing ------------------------------------------------------------


def test_revoking_twice_keeps_the_first_revocation_time(session, issue):
    key, _ = issue()
    first = utcnow() - dt.timedelta(minutes=5)

    carrier_keys.revoke(session, key.prefix, now=first)
    carrier_keys.revoke(session, f"fwc_{key.prefix}")

    assert key.revoked_at == first


def test_revoking_an_unknown_prefix_says_so(session):
    with pytest.raises(NotFound, match="deadbeef"):
        carrier_keys.revoke(session, "deadbeef")


def test_rotating_refuses_the_old_key_and_issues_a_twin(session, issue, make_carrier, make_driver):
    carrier = make_carrier()
    driver = make_driver(carrier)
    expires = utcnow() + dt.timedelta(days=30)
    old, old_plaintext = issue(
        carrier=carrier,
        name="alice's phone",
        scopes=(STOPS_WRITE, POSITIONS_WRITE),
        driver=driver,
        expires_at=expires,
    )

    new, new_plaintext = carrier_keys.rotate(session, old.prefix)

    with pytest.raises(Unauthorized, match="revoked"):
        carrier_keys.authenticate(session, old_plaintext, now=NOW)
    assert carrier_keys.authenticate(session, new_plaintext, now=NOW) is new
    assert new.prefix != old.prefix
    assert (new.carrier_id, new.driver_id, new.name, new.scopes, new.expires_at) == (
        carrier.id,
        driver.id,
        "alice's phone",
        [STOPS_WRITE, POSITIONS_WRITE],
        expires,
    )


def test_a_revoked_key_cannot_be_rotated(session, issue):
    key, _ = issue()
    carrier_keys.revoke(session, key.prefix)

    with pytest.raises(Conflict, match="revoked"):
        carrier_keys.rotate(session, key.prefix)


def test_listing_shows_keys_oldest_first_and_one_carriers_on_request(session, issue, make_carrier):
    north, south = make_carrier(), make_carrier()
    first, _ = issue(carrier=north, name="first")
    second, _ = issue(carrier=south, name="second")
    third, _ = issue(carrier=north, name="third")
    carrier_keys.revoke(session, first.prefix)

    assert carrier_keys.list_keys(session) == [first, second, third]
    assert carrier_keys.list_keys(session, carrier_id=north.id) == [first, third]


def test_carrier_and_driver_codes_are_turned_into_ids(session, make_carrier, make_driver):
    ours, theirs = make_carrier("OURS"), make_carrier("THEIRS")
    alice = make_driver(ours, "ALICE")
    make_driver(theirs, "BOB")

    assert carrier_keys.carrier_id_for_code(session, " OURS ") == ours.id
    assert carrier_keys.driver_id_for_code(session, ours.id, "ALICE") == alice.id
    with pytest.raises(RuleViolation, match="NOPE"):
        carrier_keys.carrier_id_for_code(session, "NOPE")
    with pytest.raises(RuleViolation, match="BOB"):
        carrier_keys.driver_id_for_code(session, ours.id, "BOB")


def test_every_scope_can_be_held_at_once(issue):
    key, _ = issue(scopes=SCOPES)

    assert key.scopes == list(SCOPES)

"""`wms carrier`: carrier keys, driver tokens and webhooks from the command line, each secret
printed once, bad input refused in one line."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest

from wms import carrier_keys, migrate, webhooks
from wms.db import make_engine, make_sessions
from wms.errors import Unauthorized
from wms.models import Carrier, CarrierKey, Driver, WebhookSubscription, utcnow

KEY_FORMAT = re.compile(r"fwc_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")


@pytest.fixture
def carriers_url(new_database: Callable[[], str]) -> str:
    """A migrated database of its own (the commands commit): carriers VELO (driver ALICE) and
    BIKE (driver BOB)."""
    url = new_database()
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with make_sessions(engine).begin() as session:
            for code, driver in (("VELO", "ALICE"), ("BIKE", "BOB")):
                carrier = Carrier(code=code, name=f"{code} couriers")
                session.add(carrier)
                session.flush()
                session.add(Driver(carrier_id=carrier.id, code=driver, name=driver.title()))
    finally:
        engine.dispose()
    return url


def in_database(url: str, work: Callable) -> object:
    engine = make_engine(url)
    try:
        with make_sessions(engine).begin() as session:
            return work(session)
    finally:
        engine.dispose()


def authenticate_at(url: str, plaintext: str) -> tuple[str, str | None, str, list[str]]:
    def work(session) -> tuple[str, str | None, str, list[str]]:
        key = carrier_keys.authenticate(session, plaintext, now=utcnow())
        driver = key.driver.code if key.driver else None
        return key.carrier.code, driver, key.name, key.scopes

    return in_database(url, work)


def create_key(wms_cli, url: str, *extra: str, carrier: str = "VELO"):
    args = ["carrier", "key", "create", "--carrier", carrier, "--name", "dispatch"]
    return wms_cli(*args, *(extra or ("--scope", "routes:read")), database_url=url)


def assert_refused_in_one_line(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


# --- keys -----------------------------------------------------------------------------------


def test_key_create_prints_the_key_once_and_it_authenticates(wms_cli, carriers_url):
    result = create_key(wms_cli, carriers_url, "--scope", "stops:write", "--scope", "routes:read")

    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert KEY_FORMAT.fullmatch(plaintext)
    assert "cannot be shown again" in result.stderr
    assert authenticate_at(carriers_url, plaintext) == (
        "VELO",
        None,
        "dispatch",
        ["routes:read", "stops:write"],
    )


def test_key_create_with_a_driver_makes_that_drivers_token(wms_cli, carriers_url):
    result = create_key(wms_cli, carriers_url, "--scope", "positions:write", "--driver", "ALICE")

    assert result.exit_code == 0, result.output
    assert "driver ALICE of VELO" in result.stderr
    carrier, driver, _, _ = authenticate_at(carriers_url, result.stdout.strip())
    assert (carrier, driver) == ("VELO", "ALICE")


def test_key_create_with_an_expiry_keeps_it_in_utc(wms_cli, carriers_url):
    later = (utcnow() + dt.timedelta(days=30)).replace(microsecond=0)
    local = later.astimezone(dt.timezone(dt.timedelta(hours=2)))

    result = create_key(
        wms_cli, carriers_url, "--scope", "routes:read", "--expires", local.isoformat()
    )

    assert result.exit_code == 0, result.output
    prefix = KEY_FORMAT.fullmatch(result.stdout.strip()).group(1)
    stored = in_database(carriers_url, lambda s: carrier_keys.get(s, prefix).expires_at)
    assert stored == later


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--scope", "routes:write"), ("unknown scope routes:write",)),
        (("--scope", "routes:read", "--driver", "BOB"), ("no driver", "BOB")),
        (("--scope", "routes:read", "--expires", "next week"), ("--expires", "ISO 8601")),
        (("--scope", "routes:read", "--expires", "2020-01-01"), ("past",)),
    ],
    ids=["unknown-scope", "driver-of-another-carrier", "bad-date", "expired"],
)
def test_key_create_refuses_bad_input_in_one_line(wms_cli, carriers_url, extra, words):
    result = create_key(wms_cli, carriers_url, *extra)

    assert_refused_in_one_line(result, *words)
    assert in_database(carriers_url, lambda s: carrier_keys.list_keys(s)) == []


def test_key_create_needs_a_scope_and_a_known_carrier(wms_cli, carriers_url):
    assert_refused_in_one_line(
        wms_cli(
            "carrier",
            "key",
            "create",
            "--carrier",
            "VELO",
            "--name",
            "x",
            database_url=carriers_url,
        ),
        "needs a scope",
    )
    assert_refused_in_one_line(create_key(wms_cli, carriers_url, carrier="NOPE"), "NOPE")


def test_key_list_shows_keys_but_never_their_secrets(wms_cli, carriers_url):
    velo = create_key(wms_cli, carriers_url).stdout.strip()
    bike = create_key(wms_cli, carriers_url, carrier="BIKE").stdout.strip()

    listed = wms_cli("carrier", "key", "list", database_url=carriers_url)
    only_bike = wms_cli("carrier", "key", "list", "--carrier", "BIKE", database_url=carriers_url)

    assert listed.exit_code == 0, listed.output
    for plaintext in (velo, bike):
        assert plaintext.split("_")[1] in listed.stdout
        assert plaintext.split("_", 2)[2] not in listed.output
    assert "VELO" in listed.stdout and "routes:read" in listed.stdout
    assert bike.split("_")[1] in only_bike.stdout and velo.split("_")[1] not in only_bike.stdout


def test_key_revoke_makes_the_key_useless(wms_cli, carriers_url):
    plaintext = create_key(wms_cli, carriers_url).stdout.strip()

    revoked = wms_cli(
        "carrier", "key", "revoke", plaintext.split("_")[1], database_url=carriers_url
    )

    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.stdout
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_at(carriers_url, plaintext)


def test_key_rotate_prints_a_twin_and_refuses_the_old_key(wms_cli, carriers_url):
    old = create_key(wms_cli, carriers_url, "--scope", "stops:write", "--driver", "ALICE")
    old_plaintext = old.stdout.strip()

    rotated = wms_cli(
        "carrier", "key", "rotate", old_plaintext.split("_")[1], database_url=carriers_url
    )

    assert rotated.exit_code == 0, rotated.output
    new_plaintext = rotated.stdout.strip()
    assert authenticate_at(carriers_url, new_plaintext) == (
        "VELO",
        "ALICE",
        "dispatch",
        ["stops:write"],
    )
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_at(carriers_url, old_plaintext)


def test_key_revoke_or_rotate_of_an_unknown_prefix_fails_in_one_line(wms_cli, carriers_url):
    for command in ("revoke", "rotate"):
        result = wms_cli("carrier", "key", command, "deadbeef", database_url=carriers_url)
        assert_refused_in_one_line(result, "deadbeef")


# --- webhooks -------------------------------------------------------------------------------


def add_webhook(
    wms_cli,
    url: str,
    *events: str,
    carrier: str = "VELO",
    at: str = "https://hooks.velo.example/wms",
):
    args = ["carrier", "webhook", "add", "--carrier", carrier, "--url", at]
    for event in events:
        args += ["--event", event]
    return wms_cli(*args, database_url=url)


def subscriptions(url: str) -> list[WebhookSubscription]:
    return in_database(url, lambda session: webhooks.list_subscriptions(session))


def test_webhook_add_prints_the_secret_once_and_keeps_it_for_signing(wms_cli, carriers_url):
    result = add_webhook(wms_cli, carriers_url, "route.planned", "route.cancelled")

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("whsec_")
    assert "cannot be shown again" in result.stderr
    [subscription] = subscriptions(carriers_url)
    assert (subscription.url, subscription.secret, subscription.events) == (
        "https://hooks.velo.example/wms",
        secret,
        ["route.planned", "route.cancelled"],
    )


@pytest.mark.parametrize(
    ("events", "at", "carrier", "words"),
    [
        ((), "ftp://hooks.example/", "VELO", ("http",)),
        (("route.exploded",), "https://hooks.example/", "VELO", ("route.exploded",)),
        ((), "https://hooks.example/", "NOPE", ("NOPE",)),
    ],
    ids=["not-http", "unknown-event", "unknown-carrier"],
)
def test_webhook_add_refuses_bad_input_in_one_line(
    wms_cli, carriers_url, events, at, carrier, words
):
    result = add_webhook(wms_cli, carriers_url, *events, carrier=carrier, at=at)

    assert_refused_in_one_line(result, *words)
    assert subscriptions(carriers_url) == []


def test_webhook_list_shows_urls_and_events_but_never_secrets(wms_cli, carriers_url):
    secret = add_webhook(wms_cli, carriers_url, "route.changed").stdout.strip()
    add_webhook(wms_cli, carriers_url, carrier="BIKE", at="https://bike.example/hook")

    listed = wms_cli("carrier", "webhook", "list", database_url=carriers_url)
    only_velo = wms_cli(
        "carrier", "webhook", "list", "--carrier", "VELO", database_url=carriers_url
    )

    assert listed.exit_code == 0, listed.output
    assert "https://hooks.velo.example/wms" in listed.stdout and "route.changed" in listed.stdout
    assert "https://bike.example/hook" in listed.stdout
    assert secret not in listed.output and secret.split("_", 1)[1] not in listed.output
    assert "bike.example" not in only_velo.stdout


def test_webhook_remove_stops_the_subscription(wms_cli, carriers_url):
    add_webhook(wms_cli, carriers_url)
    [subscription] = subscriptions(carriers_url)

    removed = wms_cli(
        "carrier", "webhook", "remove", str(subscription.id), database_url=carriers_url
    )

    assert removed.exit_code == 0, removed.output
    assert "removed" in removed.stdout
    assert [s.active for s in subscriptions(carriers_url)] == [False]
    assert_refused_in_one_line(
        wms_cli("carrier", "webhook", "remove", "424242", database_url=carriers_url), "424242"
    )


def test_webhook_rotate_secret_prints_a_new_secret_kept_for_signing(wms_cli, carriers_url):
    old = add_webhook(wms_cli, carriers_url).stdout.strip()
    [subscription] = subscriptions(carriers_url)

    rotated = wms_cli(
        "carrier", "webhook", "rotate-secret", str(subscription.id), database_url=carriers_url
    )

    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert new.startswith("whsec_") and new != old
    assert [s.secret for s in subscriptions(carriers_url)] == [new]


def test_no_key_is_written_in_clear(wms_cli, carriers_url):
    plaintext = create_key(wms_cli, carriers_url).stdout.strip()

    stored = in_database(
        carriers_url,
        lambda session: [tuple(row) for row in session.execute(CarrierKey.__table__.select())],
    )

    assert stored and not any(plaintext.split("_", 2)[2] in str(row) for row in stored)

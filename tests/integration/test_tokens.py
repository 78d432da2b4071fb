"""API bearer tokens: issued once in clear, stored as a hash, refused once revoked or expired."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable

import pytest
from sqlalchemy import select

from wms import migrate, tokens
from wms.db import make_engine, make_sessions
from wms.errors import Conflict, NotFound, RuleViolation, Unauthorized
from wms.models import ApiToken, Site, SiteKind, TokenRole, utcnow

TOKEN_FORMAT = re.compile(r"fwt_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


@pytest.fixture
def issue(session, make_site) -> Callable[..., tuple[ApiToken, str]]:
    """Issue a token with defaults: an integration token for one new site."""

    def make(
        *,
        name: str = "shop integration",
        role: TokenRole = TokenRole.INTEGRATION,
        sites: list[Site] | None = None,
        expires_at: dt.datetime | None = None,
    ) -> tuple[ApiToken, str]:
        sites = sites if sites is not None else [make_site()]
        return tokens.issue(
            session,
            name=name,
            role=role,
            site_ids=[site.id for site in sites],
            expires_at=expires_at,
        )

    return make


# --- issuing --------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_sha256_is_stored(session, issue):
    token, plaintext = issue()

    match = TOKEN_FORMAT.fullmatch(plaintext)
    assert match, plaintext
    assert token.prefix == match.group(1)
    assert token.secret_sha256 == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = session.execute(select(ApiToken.__table__)).mappings().one()
    assert not any(match.group(2) in str(value) for value in stored.values())


def test_each_token_gets_its_own_prefix_and_secret(issue):
    issued = [issue() for _ in range(5)]

    assert len({token.prefix for token, _ in issued}) == 5
    assert len({plaintext for _, plaintext in issued}) == 5


def test_a_token_keeps_its_name_role_and_sites(issue, make_site):
    north, south = make_site("FW-N"), make_site("FW-S")

    token, _ = issue(name="planner script", role=TokenRole.PLANNER, sites=[north, south])

    assert (token.name, token.role) == ("planner script", TokenRole.PLANNER)
    assert [site.code for site in token.sites] == ["FW-N", "FW-S"]


def test_a_token_without_sites_is_refused_unless_it_is_an_admin_token(issue):
    with pytest.raises(RuleViolation, match="needs at least one site"):
        issue(role=TokenRole.SUPERVISOR, sites=[])

    admin, _ = issue(role=TokenRole.ADMIN, sites=[])
    assert admin.sites == []


def test_a_token_for_an_unknown_site_is_refused(session):
    with pytest.raises(RuleViolation, match="no site has the id 999999"):
        tokens.issue(session, name="x", role=TokenRole.INTEGRATION, site_ids=[999999])


def test_a_token_needs_a_name(issue):
    with pytest.raises(RuleViolation, match="name"):
        issue(name="  ")


def test_a_token_cannot_be_issued_already_expired(issue):
    with pytest.raises(RuleViolation, match="past"):
        issue(expires_at=utcnow() - dt.timedelta(seconds=1))


def test_site_codes_are_turned_into_ids_and_unknown_codes_are_named(session, make_site):
    north = make_site("FW-N")

    assert tokens.site_ids_for_codes(session, ["FW-N", "FW-N"]) == [north.id]
    with pytest.raises(RuleViolation, match="FW-NOPE"):
        tokens.site_ids_for_codes(session, ["FW-N", "FW-NOPE"])


# --- authenticating -------------------------------------------------------------------------


def test_the_plaintext_authenticates_its_token(session, issue):
    token, plaintext = issue()

    assert tokens.authenticate(session, plaintext) is token


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"),
        lambda p: "fwt_00000000_" + p.split("_", 2)[2],
        lambda p: p.replace("fwt_", "xyz_"),
        lambda p: p.split("_", 2)[2],
        lambda p: "",
        lambda p: "fwt__",
    ],
    ids=["wrong-secret", "wrong-prefix", "wrong-scheme", "secret-alone", "empty", "no-parts"],
)
def test_anything_but_the_exact_token_is_refused(session, issue, tamper):
    _, plaintext = issue()

    with pytest.raises(Unauthorized, match="not valid"):
        tokens.authenticate(session, tamper(plaintext))


def test_a_revoked_token_is_refused(session, issue):
    token, plaintext = issue()

    tokens.revoke(session, token.prefix)

    with pytest.raises(Unauthorized, match="revoked"):
        tokens.authenticate(session, plaintext)


def test_an_expired_token_is_refused(session, issue):
    token, plaintext = issue(expires_at=utcnow() + dt.timedelta(hours=1))

    assert tokens.authenticate(session, plaintext) is token
    with pytest.raises(Unauthorized, match="expired"):
        tokens.authenticate(session, plaintext, now=utcnow() + dt.timedelta(hours=2))


def test_use_is_recorded_at_most_once_a_minute(session, issue):
    token, plaintext = issue()
    first = utcnow()

    tokens.authenticate(session, plaintext, now=first)
    tokens.authenticate(session, plaintext, now=first + dt.timedelta(seconds=59))
    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at == first

    later = first + dt.timedelta(seconds=61)
    tokens.authenticate(session, plaintext, now=later)
    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at == later


def test_authenticating_without_recording_use_writes_nothing(session, issue):
    token, plaintext = issue()
    now = utcnow()

    tokens.authenticate(session, plaintext, now=now, record_use=False)

    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at is None
    assert tokens.use_is_due(token, now=now)


# --- revoking, rotating, listing ------------------------------------------------------------


def test_revoking_twice_keeps_the_first_revocation_time(session, issue):
    token, _ = issue()
    first = utcnow() - dt.timedelta(minutes=5)

    tokens.revoke(session, token.prefix, now=first)
    tokens.revoke(session, f"fwt_{token.prefix}")

    assert token.revoked_at == first


def test_revoking_an_unknown_prefix_says_so(session):
    with pytest.raises(NotFound, match="deadbeef"):
        tokens.revoke(session, "deadbeef")


def test_rotating_revokes_the_old_token_and_issues_a_twin(session, issue, make_site):
    north, south = make_site("FW-N"), make_site("FW-S")
    expires = utcnow() + dt.timedelta(days=30)
    old, old_plaintext = issue(
        name="wave script", role=TokenRole.PLANNER, sites=[north, south], expires_at=expires
    )

    new, new_plaintext = tokens.rotate(session, old.prefix)

    assert old.revoked_at is not None
    with pytest.raises(Unauthorized, match="revoked"):
        tokens.authenticate(session, old_plaintext)
    assert tokens.authenticate(session, new_plaintext) is new
    assert new.prefix != old.prefix
    assert (new.name, new.role, new.expires_at) == ("wave script", TokenRole.PLANNER, expires)
    assert [site.code for site in new.sites] == ["FW-N", "FW-S"]


def test_a_revoked_token_cannot_be_rotated(session, issue):
    token, _ = issue()
    tokens.revoke(session, token.prefix)

    with pytest.raises(Conflict, match="revoked"):
        tokens.rotate(session, token.prefix)


def test_listing_shows_every_token_oldest_first(session, issue):
    first, _ = issue(name="first")
    second, _ = issue(name="second")
    tokens.revoke(session, first.prefix)

    assert tokens.list_tokens(session) == [first, second]


# --- the `wms token` commands ---------------------------------------------------------------


@pytest.fixture
def network_url(new_database: Callable[[], str]) -> str:
    """A migrated database of its own (the commands commit) with sites FW01 and FW02."""
    url = new_database()
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with make_sessions(engine).begin() as session:
            for code in ("FW01", "FW02"):
                session.add(
                    Site(
                        code=code,
                        name=code,
                        kind=SiteKind.FRONT_WAREHOUSE,
                        latitude=52.37,
                        longitude=4.89,
                        timezone="Europe/Amsterdam",
                    )
                )
    finally:
        engine.dispose()
    return url


def authenticate_at(url: str, plaintext: str) -> ApiToken:
    engine = make_engine(url)
    try:
        with make_sessions(engine).begin() as session:
            return tokens.authenticate(session, plaintext)
    finally:
        engine.dispose()


def create_with_cli(
    wms_cli, url: str, *, name: str = "shop", role: str = "integration", sites=("FW01",)
):
    args = ["token", "create", "--name", name, "--role", role]
    for code in sites:
        args += ["--site", code]
    return wms_cli(*args, database_url=url)


def test_token_create_prints_the_token_once_with_a_warning(wms_cli, network_url):
    result = create_with_cli(wms_cli, network_url, sites=("FW01", "FW02"))

    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert TOKEN_FORMAT.fullmatch(plaintext)
    assert "cannot be shown again" in result.stderr
    token = authenticate_at(network_url, plaintext)
    assert token.name == "shop"
    assert sorted(site.code for site in token.sites) == ["FW01", "FW02"]


def test_token_create_refuses_an_unknown_site_in_one_line(wms_cli, network_url):
    result = create_with_cli(wms_cli, network_url, sites=("FW99",))

    assert result.exit_code == 1
    assert "FW99" in result.stderr
    assert "Traceback" not in result.output


def test_token_list_shows_tokens_but_never_their_secrets(wms_cli, network_url):
    created = create_with_cli(wms_cli, network_url, role="planner")
    plaintext = created.stdout.strip()
    prefix = plaintext.split("_")[1]

    listed = wms_cli("token", "list", database_url=network_url)

    assert listed.exit_code == 0, listed.output
    assert prefix in listed.stdout
    assert "shop" in listed.stdout and "planner" in listed.stdout and "FW01" in listed.stdout
    assert plaintext.split("_", 2)[2] not in listed.output


def test_token_revoke_makes_the_token_useless(wms_cli, network_url):
    created = create_with_cli(wms_cli, network_url)
    plaintext = created.stdout.strip()

    revoked = wms_cli("token", "revoke", plaintext.split("_")[1], database_url=network_url)

    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.stdout
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_at(network_url, plaintext)


def test_token_rotate_prints_a_new_token_and_revokes_the_old(wms_cli, network_url):
    created = create_with_cli(wms_cli, network_url)
    old = created.stdout.strip()

    rotated = wms_cli("token", "rotate", old.split("_")[1], database_url=network_url)

    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert authenticate_at(network_url, new).name == "shop"
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_at(network_url, old)


def test_token_revoke_of_an_unknown_prefix_fails_in_one_line(wms_cli, network_url):
    result = wms_cli("token", "revoke", "deadbeef", database_url=network_url)

    assert result.exit_code == 1
    assert "deadbeef" in result.stderr
    assert "Traceback" not in result.output

"""The console's sign-in and its admin pages as a browser without script sees them: users and
their badges, PINs and passwords; API tokens shown once; CSV imports that take every row or
none. Refused forms come back with the error by the field, and nothing is written."""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from console import admin
from wms.models import ApiToken, Item, Role, Site, Slot, User, utcnow
from wms.users import PIN_TRIES, badge_digest, hash_secret, verify_secret

SECRET = "testing-secret-key-not-for-production"  # the testing profile's key
PASSWORD = "correct horse battery"

ITEMS_CSV = (
    "sku,name,gtin,length_mm,width_mm,height_mm,weight_g,temperature,lot_tracked,expiry_tracked\n"
    "OAT-1L,Oat drink 1 l,8712345678906,70,70,200,1050,ambient,no,no\n"
    "SKYR-450,Skyr 450 g,,90,90,80,470,chilled,yes,yes\n"
)
BAD_ITEMS_CSV = (
    ITEMS_CSV
    + "SOUP-1,Tomato soup,,80,80,heavy,400,ambient,no,no\n"
    + "ICE-1,Ice cream,,100,100,100,500,warm,no,no\n"
)


def csrf(page: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "every console form carries its CSRF token"
    return found.group(1)


@dataclass
class Console:
    """A browser on the console: posts carry the CSRF token of the session's pages."""

    client: Any
    token: str = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self.token:
            self.token = csrf(self.client.get("/console/login"))
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def text(self, path: str) -> str:
        page = self.get(path)
        assert page.status_code == 200, page.status_code
        return str(page.get_data(as_text=True))


def sign_in(client: Any, username: str, password: str, *, next: str | None = None) -> Any:
    url = "/console/login" + (f"?next={next}" if next else "")
    form = {"csrf_token": csrf(client.get(url)), "username": username, "password": password}
    return client.post(url, data=form)


@functools.cache
def _hashed(password: str) -> str:
    return hash_secret(password)  # argon2 is slow on purpose: hash each test password once


@pytest.fixture
def make_user(session, site) -> Callable[..., User]:
    counter = iter(range(1, 1000))

    def make(
        role: Role = Role.ADMIN,
        *,
        username: str | None = None,
        password: str | None = PASSWORD,
        sites: list[Site] | None = None,
        **fields: Any,
    ) -> User:
        n = next(counter)
        user = User(
            username=username or f"{role.value}-{n}",
            display_name=f"{role.value.title()} {n}",
            role=role,
            password_hash=_hashed(password) if password else None,
            sites=[site] if sites is None else sites,
            **fields,
        )
        session.add(user)
        session.flush()
        return user

    return make


@pytest.fixture
def as_role(app, make_user) -> Callable[[Role], Console]:
    """Call it with a role for a new browser signed in (by password) as a new user of it."""

    def make(role: Role) -> Console:
        user = make_user(role)
        browser = app.test_client()
        assert sign_in(browser, user.username, PASSWORD).status_code == 302
        return Console(browser)

    return make


@pytest.fixture
def admin_desk(as_role) -> Console:
    return as_role(Role.ADMIN)


def fresh(session, row: Any) -> Any:
    session.expire_all()
    return session.get(type(row), row.id)


def error_at(page: Any, field: str) -> str:
    """The message shown next to a form field."""
    found = re.search(
        rf'<p class="field-error" id="{field}-error" role="alert">([^<]*)</p>',
        page.get_data(as_text=True),
    )
    assert found, f"no error shown next to {field}"
    return found.group(1)


# --- signing in -------------------------------------------------------------------------------


def test_an_admin_signs_in_with_the_password_and_lands_on_the_console(client, make_user):
    make_user(username="alex")

    answer = sign_in(client, "alex", PASSWORD)

    assert (answer.status_code, answer.headers["Location"]) == (302, "/console/")
    assert client.get("/console/users").status_code == 200


def test_a_wrong_password_and_an_unknown_user_name_get_the_same_answer(client, make_user):
    make_user(username="alex")

    wrong = sign_in(client, "alex", "not the password")
    unknown = sign_in(client, "nobody", "not the password")

    assert wrong.status_code == unknown.status_code == 422
    assert "unknown user name or wrong password" in wrong.get_data(as_text=True)
    assert "unknown user name or wrong password" in unknown.get_data(as_text=True)
    assert client.get("/console/users").status_code == 302


def test_three_wrong_passwords_make_signing_in_wait(client, make_user, session):
    user = make_user(username="alex")

    for _ in range(PIN_TRIES - 1):
        assert sign_in(client, "alex", "guess").status_code == 422
    third = sign_in(client, "alex", "guess")
    right_but_late = sign_in(client, "alex", PASSWORD)

    assert "wait 30 s" in third.get_data(as_text=True)
    assert right_but_late.status_code == 422
    assert "too many wrong tries" in right_but_late.get_data(as_text=True)
    assert fresh(session, user).pin_locked_until is not None
    assert client.get("/console/users").status_code == 302


@pytest.mark.parametrize("role", [Role.ASSOCIATE, Role.SUPERVISOR])
def test_floor_staff_cannot_sign_in_to_the_console(client, make_user, role):
    user = make_user(role)

    answer = sign_in(client, user.username, PASSWORD)

    assert answer.status_code == 422
    assert "the console is for planners and admins" in answer.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/console/tokens", "/console/tokens"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/api/v1/items", "/console/"),
        ("/scanners/", "/console/"),
    ],
)
def test_sign_in_follows_next_only_to_console_pages(client, make_user, target, landing):
    make_user(username="alex")

    answer = sign_in(client, "alex", PASSWORD, next=target)

    assert answer.headers["Location"] == landing


# --- who may open the admin pages -------------------------------------------------------------

ADMIN_PAGES = ["/console/users", "/console/tokens", "/console/imports"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_planner_is_refused_the_admin_pages(as_role, path):
    planner = as_role(Role.PLANNER)

    page = planner.get(path)
    posted = planner.post(path, {"name": "x", "username": "x", "what": "items"})

    assert page.status_code == posted.status_code == 403
    assert "This page is for admins." in page.get_data(as_text=True)


def test_a_planner_changes_no_user(as_role, make_user, session):
    planner = as_role(Role.PLANNER)
    other = make_user(Role.ASSOCIATE)

    answer = planner.post(f"/console/users/{other.id}/password", {"password": "x" * 12})

    assert answer.status_code == 403
    assert fresh(session, other).password_hash is not None
    assert verify_secret(fresh(session, other).password_hash, PASSWORD)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, path):
    answer = client.get(path)

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/console/login?next={path}"


def test_only_admins_see_the_admin_menu(as_role):
    menu_of_planner = as_role(Role.PLANNER).text("/console/jobs")
    menu_of_admin = as_role(Role.ADMIN).text("/console/jobs")

    for link in ('href="/console/users"', 'href="/console/tokens"', 'href="/console/imports"'):
        assert link not in menu_of_planner
        assert link in menu_of_admin


def test_a_post_without_its_csrf_token_is_refused(admin_desk, session, site):
    answer = admin_desk.client.post(
        "/console/users",
        data={"username": "sneaky", "display_name": "S", "role": "admin", "site_ids": site.id},
    )

    assert answer.status_code == 400
    assert "CSRF" in answer.get_data(as_text=True)
    assert session.scalar(select(User).where(User.username == "sneaky")) is None


# --- users ------------------------------------------------------------------------------------


def test_the_user_list_shows_role_sites_badge_and_whether_active(admin_desk, make_user, site):
    make_user(Role.ASSOCIATE, username="ana", badge_hmac=badge_digest(SECRET, "B-1"))
    make_user(Role.SUPERVISOR, username="sam", active=False)

    page = admin_desk.text("/console/users")

    ana = page[page.index(">ana<") :].split("</tr>")[0]
    sam = page[page.index(">sam<") :].split("</tr>")[0]
    assert "associate" in ana and site.code in ana
    assert re.findall(r"<td>(yes|no)</td>", ana) == ["yes", "yes"]  # badge, active
    assert re.findall(r"<td>(yes|no)</td>", sam) == ["no", "no"]


def test_an_admin_creates_a_user(admin_desk, session, site, app):
    answer = admin_desk.post(
        "/console/users",
        {
            "username": "pat",
            "display_name": "Pat Planner",
            "role": "planner",
            "site_ids": [site.id],
            "password": "a long enough password",
        },
    )

    created = session.scalars(select(User).where(User.username == "pat")).one()
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/console/users/{created.id}"
    assert (created.role, [s.id for s in created.sites]) == (Role.PLANNER, [site.id])
    assert "User pat created" in admin_desk.text(answer.headers["Location"])
    assert sign_in(app.test_client(), "pat", "a long enough password").status_code == 302


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"username": "Not Valid"}, "username", "lowercase letters"),
        ({"username": "taken"}, "username", "the user name taken is taken"),
        ({"display_name": "  "}, "display_name", "1 to 120 characters"),
        ({"role": "boss"}, "role", "is not a role"),
        ({"site_ids": []}, "site_ids", "needs at least one site"),
        ({"site_ids": ["999999"]}, "site_ids", "no site has the id 999999"),
        ({"password": "short"}, "password", "at least 10 characters"),
    ],
)
def test_a_bad_new_user_is_shown_by_the_field_and_nothing_is_written(
    admin_desk, make_user, session, site, change, field, message
):
    make_user(Role.ASSOCIATE, username="taken")
    before = session.scalars(select(User.username)).all()
    form = {"username": "newbie", "display_name": "New", "role": "associate", "site_ids": [site.id]}
    form.update(change)

    answer = admin_desk.post("/console/users", form)

    assert answer.status_code == 422
    assert message in error_at(answer, field)
    session.expire_all()
    assert session.scalars(select(User.username)).all() == before


def test_an_admin_changes_display_name_role_sites_and_active(
    admin_desk, make_user, make_site, session, site
):
    other_site = make_site()
    user = make_user(Role.ASSOCIATE)

    answer = admin_desk.post(
        f"/console/users/{user.id}",
        {"display_name": "Ana B.", "role": "supervisor", "site_ids": [site.id, other_site.id]},
    )

    changed = fresh(session, user)
    assert answer.status_code == 302
    assert (changed.display_name, changed.role, changed.active) == (
        "Ana B.",
        Role.SUPERVISOR,
        False,
    )
    assert {s.id for s in changed.sites} == {site.id, other_site.id}


def test_a_bad_edit_changes_nothing(admin_desk, make_user, session, site):
    user = make_user(Role.ASSOCIATE)

    answer = admin_desk.post(
        f"/console/users/{user.id}",
        {"display_name": "Renamed", "role": "associate", "site_ids": [], "active": "1"},
    )

    assert answer.status_code == 422
    assert "an associate needs at least one site" in error_at(answer, "site_ids")
    assert 'value="Renamed"' in answer.get_data(as_text=True)  # what was typed is kept
    unchanged = fresh(session, user)
    assert (unchanged.display_name, [s.id for s in unchanged.sites]) == (
        user.display_name,
        [site.id],
    )


def test_an_admin_cannot_switch_themselves_off(app, make_user, session, site):
    me = make_user(Role.ADMIN, username="alex")
    desk = Console(app.test_client())
    sign_in(desk.client, "alex", PASSWORD)

    answer = desk.post(
        f"/console/users/{me.id}", {"display_name": "Alex", "role": "admin", "site_ids": [site.id]}
    )

    assert answer.status_code == 422
    assert "you cannot switch off your own account" in error_at(answer, "active")
    assert fresh(session, me).active is True
    assert desk.get("/console/users").status_code == 200  # still signed in


def test_an_unknown_user_is_a_404(admin_desk):
    assert admin_desk.get("/console/users/999999").status_code == 404
    assert admin_desk.post("/console/users/999999/pin", {"pin": "1234"}).status_code == 404


def test_a_badge_is_kept_as_its_hmac_and_signs_in_on_the_scanner_pages(
    admin_desk, make_user, session, app
):
    user = make_user(Role.ASSOCIATE, password=None)

    answer = admin_desk.post(f"/console/users/{user.id}/badge", {"badge": " B-77 "})

    assert answer.status_code == 302
    assert fresh(session, user).badge_hmac == badge_digest(SECRET, "B-77")
    assert "B-77" not in admin_desk.text(f"/console/users/{user.id}")
    handheld = app.test_client()
    login = handheld.get("/scanners/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', login)
    assert token
    scanned = handheld.post("/scanners/login", data={"csrf_token": token.group(1), "badge": "B-77"})
    assert scanned.status_code == 302


def test_a_badge_of_another_user_is_refused_and_nothing_changes(admin_desk, make_user, session):
    make_user(Role.ASSOCIATE, username="holder", badge_hmac=badge_digest(SECRET, "B-5"))
    user = make_user(Role.ASSOCIATE, badge_hmac=badge_digest(SECRET, "B-6"))

    answer = admin_desk.post(f"/console/users/{user.id}/badge", {"badge": "B-5"})

    assert answer.status_code == 422
    assert "this badge already belongs to holder" in error_at(answer, "badge")
    assert fresh(session, user).badge_hmac == badge_digest(SECRET, "B-6")


def test_a_badge_can_be_taken_away(admin_desk, make_user, session):
    user = make_user(Role.ASSOCIATE, badge_hmac=badge_digest(SECRET, "B-8"))

    admin_desk.post(f"/console/users/{user.id}/badge", {"action": "remove"})

    assert fresh(session, user).badge_hmac is None


def test_a_pin_reset_sets_the_pin_and_lifts_the_wait(admin_desk, make_user, session):
    user = make_user(
        Role.SUPERVISOR,
        failed_pin_attempts=4,
        pin_locked_until=utcnow() + dt.timedelta(minutes=5),
    )
    assert "Signing in waits until" in admin_desk.text(f"/console/users/{user.id}")

    answer = admin_desk.post(f"/console/users/{user.id}/pin", {"pin": "80317"})

    reset = fresh(session, user)
    assert answer.status_code == 302
    assert verify_secret(reset.pin_hash, "80317")
    assert (reset.failed_pin_attempts, reset.pin_locked_until) == (0, None)
    assert "80317" not in admin_desk.text(f"/console/users/{user.id}")


@pytest.mark.parametrize(
    ("role", "pin", "message"),
    [
        (Role.SUPERVISOR, "123", "a PIN is 4 to 8 digits"),
        (Role.SUPERVISOR, "12a4", "a PIN is 4 to 8 digits"),
        (Role.SUPERVISOR, "123456789", "a PIN is 4 to 8 digits"),
        (Role.ASSOCIATE, "1234", "associates sign in by badge alone"),
    ],
)
def test_a_bad_pin_changes_nothing(admin_desk, make_user, session, role, pin, message):
    user = make_user(role, pin_hash=hash_secret("2468"), failed_pin_attempts=2)

    answer = admin_desk.post(f"/console/users/{user.id}/pin", {"pin": pin})

    assert answer.status_code == 422
    assert message in error_at(answer, "pin")
    kept = fresh(session, user)
    assert verify_secret(kept.pin_hash, "2468") and kept.failed_pin_attempts == 2


def test_a_new_password_signs_in_and_a_short_one_is_refused(admin_desk, make_user, session, app):
    user = make_user(Role.PLANNER, username="pat")

    short = admin_desk.post(f"/console/users/{user.id}/password", {"password": "tooshort"})
    good = admin_desk.post(f"/console/users/{user.id}/password", {"password": "a brand new one"})

    assert short.status_code == 422
    assert "at least 10 characters" in error_at(short, "password")
    assert good.status_code == 302
    assert sign_in(app.test_client(), "pat", "a brand new one").status_code == 302
    assert sign_in(app.test_client(), "pat", PASSWORD).status_code == 422


# --- API tokens -------------------------------------------------------------------------------


def new_token(answer: Any) -> str:
    found = re.search(r'id="new-token" value="(fwt_[^"]+)"', answer.get_data(as_text=True))
    assert found, "the new token is on the page"
    return found.group(1)


def test_a_new_token_is_shown_once_and_works_on_the_api(admin_desk, session, site, app):
    answer = admin_desk.post(
        "/console/tokens",
        {"name": "Shop sync", "role": "integration", "site_ids": [site.id], "expires_days": "30"},
    )

    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    assert "it will not be shown again" in answer.get_data(as_text=True)
    plaintext = new_token(answer)
    stored = session.scalars(select(ApiToken).where(ApiToken.name == "Shop sync")).one()
    assert plaintext.startswith(f"fwt_{stored.prefix}_")
    assert stored.expires_at is not None and stored.created_by is not None
    listing = admin_desk.text("/console/tokens")
    assert stored.prefix in listing and plaintext not in listing
    assert plaintext not in admin_desk.text("/console/tokens")  # no flash keeps it either
    api = app.test_client().get("/api/v1/items", headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 200


def test_a_revoked_token_is_refused_by_the_api(admin_desk, site, app, session):
    plaintext = new_token(
        admin_desk.post(
            "/console/tokens", {"name": "Old sync", "role": "integration", "site_ids": [site.id]}
        )
    )
    prefix = plaintext.split("_")[1]

    answer = admin_desk.post(f"/console/tokens/{prefix}/revoke")

    assert answer.status_code == 302
    assert f"Token {prefix} (Old sync) revoked" in admin_desk.text("/console/tokens")
    api = app.test_client().get("/api/v1/items", headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 401


def test_rotating_shows_the_successor_once_and_retires_the_old_token(admin_desk, site, app):
    old = new_token(
        admin_desk.post(
            "/console/tokens", {"name": "Rota", "role": "planner", "site_ids": [site.id]}
        )
    )

    answer = admin_desk.post(f"/console/tokens/{old.split('_')[1]}/rotate")
    again = admin_desk.post(f"/console/tokens/{old.split('_')[1]}/rotate")

    successor = new_token(answer)
    assert answer.headers["Cache-Control"] == "no-store"
    assert successor != old and successor not in admin_desk.text("/console/tokens")
    assert again.status_code == 409 and "is revoked" in again.get_data(as_text=True)
    bearer = app.test_client()
    assert (
        bearer.get("/api/v1/items", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    )
    ok = bearer.get("/api/v1/items", headers={"Authorization": f"Bearer {successor}"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": " "}, "name", "1 to 120 characters"),
        ({"site_ids": []}, "site_ids", "needs at least one site"),
        ({"role": "root"}, "role", "choose a role"),
        ({"expires_days": "0"}, "expires_days", "1 to 3650"),
        ({"expires_days": "soon"}, "expires_days", "1 to 3650"),
    ],
)
def test_a_bad_token_form_is_refused_by_the_field_and_issues_nothing(
    admin_desk, session, site, change, field, message
):
    form = {"name": "Sync", "role": "integration", "site_ids": [site.id], **change}

    answer = admin_desk.post("/console/tokens", form)

    assert answer.status_code == 422
    assert message in error_at(answer, field)
    assert 'id="new-token"' not in answer.get_data(as_text=True)
    assert session.scalars(select(ApiToken)).all() == []


# --- CSV imports ------------------------------------------------------------------------------


def upload(desk: Console, what: str, content: bytes | str, name: str = "file.csv", **form: Any):
    data = content.encode() if isinstance(content, str) else content
    return desk.post(
        "/console/imports",
        {"what": what, "file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def skus(session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Item.sku)))


def test_a_csv_with_bad_rows_imports_nothing_and_lists_every_bad_row(admin_desk, session):
    answer = upload(admin_desk, "items", BAD_ITEMS_CSV)

    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "the items file has 2 problems; nothing was imported" in page.lower()
    table = page[page.index('id="import-errors"') :].split("</table>")[0]
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]+)</td></tr>', table)
    assert [(row, field) for row, field, _ in rows] == [("4", "height_mm"), ("5", "temperature")]
    assert "not a whole number" in rows[0][2] and "warm" in rows[1][2]
    assert not {"OAT-1L", "SKYR-450", "SOUP-1", "ICE-1"} & skus(session)


def test_a_good_csv_imports_and_says_how_many(admin_desk, session):
    answer = upload(admin_desk, "items", ITEMS_CSV)

    assert (answer.status_code, answer.headers["Location"]) == (302, "/console/imports")
    assert "Imported 2 items rows: 2 created, 0 updated, 0 unchanged." in admin_desk.text(
        "/console/imports"
    )
    assert {"OAT-1L", "SKYR-450"} <= skus(session)


def test_a_slots_csv_imports_into_the_named_site_and_zone(admin_desk, session, site, make_zone):
    zone = make_zone()
    csv_text = (
        "site;zone;barcode;kind;block;aisle;bay;side;level\n"
        f"{site.code};{zone.code};IMP-01-01;reserve;1;70;1;L;1\n"
        f"{site.code};{zone.code};IMP-DOCK;dock;;;;;\n"
    )

    answer = upload(admin_desk, "slots", csv_text)

    assert answer.status_code == 302
    assert "Imported 2 slots rows: 2 created" in admin_desk.text("/console/imports")
    session.expire_all()
    assert len(session.scalars(select(Slot).where(Slot.barcode.like("IMP-%"))).all()) == 2


def test_checking_a_file_writes_nothing(admin_desk, session):
    upload(admin_desk, "items", ITEMS_CSV, dry_run="1")

    assert "nothing written: 2 created" in admin_desk.text("/console/imports")
    assert not {"OAT-1L", "SKYR-450"} & skus(session)


@pytest.mark.parametrize(
    ("what", "content", "name", "field", "message"),
    [
        ("items", b"", "", "file", "choose a CSV file to upload"),
        ("items", ITEMS_CSV, "items.xlsx", "file", "items.xlsx is not a CSV file"),
        ("items", b"PK\x03\x04\x14\x00rest", "items.csv", "file", "a spreadsheet workbook"),
        ("items", b"  \n", "items.csv", "file", "items.csv is empty"),
        ("stock", ITEMS_CSV, "items.csv", "what", "items or slots"),
    ],
)
def test_a_wrong_file_is_refused_with_a_clear_error(
    admin_desk, session, what, content, name, field, message
):
    answer = upload(admin_desk, what, content, name)

    assert answer.status_code == 422
    assert message in error_at(answer, field)
    assert not {"OAT-1L", "SKYR-450"} & skus(session)


def test_a_file_that_is_not_utf8_is_listed_as_a_problem(admin_desk, session):
    answer = upload(admin_desk, "items", ITEMS_CSV.replace("Oat", "Ha\u00eft").encode("latin-1"))

    assert answer.status_code == 422
    assert "nothing was imported" in answer.get_data(as_text=True)
    assert not {"OAT-1L", "SKYR-450"} & skus(session)


def test_a_file_over_the_limit_is_refused(admin_desk, session, monkeypatch):
    monkeypatch.setattr(admin, "MAX_IMPORT_BYTES", len(ITEMS_CSV) - 1)

    answer = upload(admin_desk, "items", ITEMS_CSV)

    assert answer.status_code == 413
    assert "the file is larger than" in error_at(answer, "file")
    assert not {"OAT-1L", "SKYR-450"} & skus(session)

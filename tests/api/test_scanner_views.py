"""The handheld pages as a browser without script sees them: badge sign-in, PINs and their
back-off, the choice of site, the lock, and where sign-in may send you afterwards."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wms.models import Role, User
from wms.users import PIN_TRIES, badge_digest, hash_secret

SECRET = "testing-secret-key-not-for-production"  # the testing profile's key


@pytest.fixture
def make_badge_user(session, site):
    def make(role: Role = Role.ASSOCIATE, *, badge: str, pin: str | None = None, sites=None):
        user = User(
            username=f"{role.value}-{badge}",
            display_name=f"{role.value.title()} {badge}",
            role=role,
            badge_hmac=badge_digest(SECRET, badge),
            pin_hash=hash_secret(pin) if pin else None,
            sites=[site] if sites is None else sites,
        )
        session.add(user)
        session.flush()
        return user

    return make


def csrf(page: Any) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert found, "every scanner page carries its CSRF token"
    return found.group(1)


def scan_badge(client, badge: str, pin: str | None = None, *, next: str | None = None) -> Any:
    url = "/scanners/login" + (f"?next={next}" if next else "")
    form = {"csrf_token": csrf(client.get(url)), "badge": badge}
    if pin is not None:
        form["pin"] = pin
    return client.post(url, data=form)


def test_pages_send_a_handheld_without_a_user_to_the_badge_scan(client):
    answer = client.get("/scanners/pick")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/scanners/login?next=/scanners/pick"


def test_an_associate_signs_in_by_badge_and_lands_where_they_were_going(client, make_badge_user):
    make_badge_user(badge="B-7")

    answer = scan_badge(client, "B-7", next="/scanners/pick")
    page = client.get("/scanners/pick")

    assert (answer.status_code, answer.headers["Location"]) == (302, "/scanners/pick")
    assert page.status_code == 200
    assert "Associate B-7" in page.get_data(as_text=True)


def test_an_unknown_badge_is_refused_on_the_page(client, make_badge_user):
    answer = scan_badge(client, "B-404")

    assert answer.status_code == 422
    assert "this badge is not known here" in answer.get_data(as_text=True)
    assert client.get("/scanners/").status_code == 302


def test_a_supervisor_is_asked_for_the_pin_and_wrong_ones_earn_a_wait(client, make_badge_user):
    make_badge_user(Role.SUPERVISOR, badge="S-1", pin="2468")

    asked = scan_badge(client, "S-1")
    assert asked.status_code == 200
    assert 'name="pin"' in asked.get_data(as_text=True)
    for _ in range(PIN_TRIES - 1):
        assert scan_badge(client, "S-1", "0000").status_code == 422
    locked = scan_badge(client, "S-1", "0000")
    right_but_late = scan_badge(client, "S-1", "2468")

    assert "wait 30 s" in locked.get_data(as_text=True)
    assert right_but_late.status_code == 422
    assert "too many wrong PINs" in right_but_late.get_data(as_text=True)
    assert client.get("/scanners/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/api/v1/stock"])
def test_sign_in_never_sends_you_off_the_scanner_pages(client, make_badge_user, target):
    make_badge_user(badge="B-8")

    answer = scan_badge(client, "B-8", next=target)

    assert answer.headers["Location"] == "/scanners/"


def test_the_sign_in_form_needs_its_csrf_token(client, make_badge_user):
    make_badge_user(badge="B-9")

    answer = client.post("/scanners/login", data={"badge": "B-9"})

    assert answer.status_code == 400
    assert client.get("/scanners/").status_code == 302


def test_a_user_of_several_sites_chooses_one_and_no_other(client, make_badge_user, site, make_site):
    second, foreign = make_site(), make_site()
    make_badge_user(badge="B-10", sites=[site, second])
    scan_badge(client, "B-10")

    menu = client.get("/scanners/")
    receive_first = client.get("/scanners/receive")
    token = csrf(menu)
    refused = client.post("/scanners/", data={"csrf_token": token, "site_id": foreign.id})
    chosen = client.post("/scanners/", data={"csrf_token": token, "site_id": second.id})

    assert "Which site?" in menu.get_data(as_text=True)
    assert receive_first.headers["Location"] == "/scanners/"
    assert refused.status_code == 422
    assert chosen.status_code == 302
    assert client.get("/scanners/receive").status_code == 200


def test_a_locked_handheld_opens_again_for_the_same_badge(client, make_badge_user):
    make_badge_user(badge="B-11")
    scan_badge(client, "B-11")
    page = client.get("/scanners/count")

    client.post("/scanners/lock", data={"csrf_token": csrf(page), "next": "/scanners/count"})
    while_locked = client.get("/scanners/count")
    lock_screen = client.get("/scanners/login").get_data(as_text=True)
    unlocked = scan_badge(client, "B-11", next="/scanners/count")

    assert while_locked.status_code == 302
    assert while_locked.headers["Location"].startswith("/scanners/login")
    assert "Locked — scan your badge" in lock_screen
    assert unlocked.headers["Location"] == "/scanners/count"
    assert client.get("/scanners/count").status_code == 200


def test_an_idle_handheld_locks_itself(app, client, make_badge_user):
    app.config["SCANNER_IDLE_LOCK_S"] = 0
    make_badge_user(badge="B-12")
    scan_badge(client, "B-12")

    assert client.get("/scanners/count").status_code == 302


def test_the_outbox_gets_a_fresh_csrf_token_only_for_a_signed_in_user(client, make_badge_user):
    make_badge_user(badge="B-13")
    anonymous = client.get("/scanners/session")
    scan_badge(client, "B-13")
    state = client.get("/scanners/session")

    assert anonymous.status_code == 401
    assert state.json["user"]["name"] == "Associate B-13"
    assert state.json["csrf"]
    assert state.headers["Cache-Control"] == "no-store"


def test_the_command_sheet_draws_every_command(client):
    page = client.get("/scanners/commands").get_data(as_text=True)

    for value in (
        *("CMD:CONFIRM", "CMD:OK", "CMD:SKIP", "CMD:SHORT", "CMD:CANCEL", "CMD:LOGOUT"),
        *("CMD:RESTOCK", "CMD:QUARANTINE"),
    ):
        assert f"barcode {value}" in page
    assert page.count("<svg") == 8


def test_the_service_worker_is_served_for_the_scanner_pages(client):
    answer = client.get("/scanners/sw.js")

    # Served from /scanners/ so that its scope covers the pages; never kept stale.
    assert answer.mimetype == "text/javascript"
    assert answer.headers["Cache-Control"] == "no-cache"


def test_scanning_on_one_page_keeps_the_session_from_locking(app, client, make_badge_user):
    make_badge_user(badge="B-14")
    scan_badge(client, "B-14")
    token = csrf(client.get("/scanners/count"))
    with client.session_transaction() as kept:
        kept["seen"] -= 200  # no page opened for 200 s, scanning on the same one all along

    client.post("/scanners/active", headers={"X-CSRFToken": token})  # what the page sends
    app.config["SCANNER_IDLE_LOCK_S"] = 100

    assert client.get("/scanners/count").status_code == 200


def test_a_locked_handheld_cannot_use_the_api_either(client, make_badge_user):
    make_badge_user(badge="B-15")
    scan_badge(client, "B-15")
    page = client.get("/scanners/count")
    assert client.get("/api/v1/slots").status_code == 200

    client.post("/scanners/lock", data={"csrf_token": csrf(page)})

    assert client.get("/api/v1/slots").status_code == 401
    assert client.get("/scanners/session").status_code == 401
    scan_badge(client, "B-15")
    assert client.get("/api/v1/slots").status_code == 200


def test_signing_in_starts_a_new_session(client, make_badge_user):
    make_badge_user(badge="B-16")
    make_badge_user(badge="B-17")
    scan_badge(client, "B-16")
    first = client.get("/scanners/session").json["csrf"]

    scan_badge(client, "B-17")

    assert client.get("/scanners/session").json["csrf"] != first


@pytest.mark.parametrize(
    "path",
    [
        "/scanners/receive?receipt=99999999999999999999",
        "/scanners/labels?code=T99999999999999999999-1",
        "/scanners/lookup?code=%00",
    ],
)
def test_nonsense_in_a_page_address_is_answered_on_a_scanner_page(client, make_badge_user, path):
    make_badge_user(badge="B-18")
    scan_badge(client, "B-18")

    answer = client.get(path)

    assert answer.status_code in (200, 404)
    assert 'id="scan"' in answer.get_data(as_text=True)  # the handheld can scan on

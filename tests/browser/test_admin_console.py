"""The console's admin pages in a real Chromium: an admin issues an API token and sees it once;
floor staff signed in on a handheld are refused the admin pages; planners see no admin menu."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.handheld import serious_violations, type_scan

ADMIN_ITEMS = ("Users", "API tokens", "Import")


@pytest.fixture
def desk(browser: Any, live_server: Any) -> Iterator[Any]:
    """A desktop browser (new context: no cookies)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, username: str, password: str, then: str = "/console/") -> None:
    page.goto(f"/console/login?next={then}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == then)


def menu(page: Any) -> list[str]:
    return [link.strip() for link in page.get_by_role("navigation").locator("a").all_inner_texts()]


def api_status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            json.load(answer)
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_an_admin_creates_an_api_token_and_sees_it_once(desk: Any, live_server: Any) -> None:
    sign_in(desk, "admin", "admin", then="/console/tokens")
    assert set(ADMIN_ITEMS) <= set(menu(desk))
    desk.get_by_label("Name (who or what uses it)").fill("Browser test sync")
    desk.get_by_label("Role").select_option("integration")
    desk.get_by_label("FW01", exact=False).check()
    desk.get_by_label("Expires after (days)", exact=False).fill("7")
    desk.get_by_role("button", name="Create token").click()

    warning = desk.get_by_role("alert")
    assert "it will not be shown again" in warning.inner_text()
    token = desk.get_by_label("Token", exact=True).input_value()
    assert token.startswith("fwt_")
    assert serious_violations(desk) == []
    prefix = token.split("_")[1]
    assert api_status(f"{live_server.url}/api/v1/items", token) == 200

    desk.goto("/console/tokens")
    row = desk.locator(f"#token-{prefix}")
    assert "Browser test sync" in row.inner_text()
    assert token not in desk.content()

    row.get_by_role("button", name=f"Revoke {prefix}").click()
    assert "revoked" in desk.get_by_role("status").first.inner_text()
    assert api_status(f"{live_server.url}/api/v1/items", token) == 401


def test_the_admin_pages_are_accessible_with_their_errors_shown(desk: Any, tmp_path: Any) -> None:
    sign_in(desk, "admin", "admin", then="/console/users")
    desk.get_by_label("User name").fill("Not Valid")
    desk.get_by_role("button", name="Create user").click()
    assert "lowercase letters" in desk.locator("#username-error").inner_text()
    assert serious_violations(desk) == []

    desk.get_by_role("link", name="admin", exact=True).click()
    assert serious_violations(desk) == []

    bad = tmp_path / "items.csv"
    bad.write_text("sku,name\nX-1,\n", encoding="utf-8")
    desk.goto("/console/imports")
    desk.get_by_label("CSV file").set_input_files(str(bad))
    desk.get_by_role("button", name="Import").click()
    assert desk.locator("#import-errors tbody tr").count() >= 1
    assert serious_violations(desk) == []


def test_an_associate_signed_in_on_a_handheld_is_refused_the_admin_pages(page: Any) -> None:
    page.goto("/scanners/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    type_scan(page, "B-1001")
    page.wait_for_url(lambda url: urlsplit(url).path == "/scanners/")

    answer = page.goto("/console/users")

    assert answer is not None and answer.status == 403
    assert "This page is for admins." in page.get_by_role("alert").inner_text()


def test_a_planner_sees_no_admin_menu_and_is_refused_the_pages(desk: Any) -> None:
    sign_in(desk, "planner", "planner")

    items = menu(desk)
    assert "Jobs" in items
    assert not set(ADMIN_ITEMS) & set(items)
    answer = desk.goto("/console/tokens")
    assert answer is not None and answer.status == 403

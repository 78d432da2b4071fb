"""The console's carrier keys and webhooks, for admins only: a key (or a driver's token) is
shown once on the answer to its POST and only its hash is kept; rotating shows the successor
once and retires the old key; revoking stops it; a webhook's signing secret is shown once; a
refused form comes back with the error by the field and writes nothing."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integration.routes_fixtures import Fleet, build_fleet, make_carrier
from wms.models import CarrierKey, Role, WebhookSubscription

PAGE = "/console/carrier-keys"


@pytest.fixture
def fleet(session: Session) -> Fleet:
    return build_fleet(session)


@pytest.fixture
def admin(signed_in: Any) -> Any:
    return signed_in(Role.ADMIN)


def text(answer: Any) -> str:
    return str(answer.get_data(as_text=True))


def shown_secret(answer: Any) -> str:
    found = re.search(r'<input id="new-secret" value="([^"]+)"', text(answer))
    assert found, "the new secret is on the page"
    return found.group(1)


def error_at(answer: Any, field_id: str) -> str:
    found = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error" role="alert">([^<]*)</p>',
        text(answer),
    )
    assert found, f"no error shown next to {field_id}"
    return found.group(1)


def keys(session: Session) -> list[CarrierKey]:
    session.expire_all()
    return list(session.scalars(select(CarrierKey).order_by(CarrierKey.id)))


def create_key(desk: Any, fleet: Fleet, **change: Any) -> Any:
    form = {
        "carrier_id": fleet.carrier.id,
        "name": "Dispatch system",
        "scopes": ["routes:read", "stops:write"],
        "driver_id": "",
        "expires_days": "30",
        **change,
    }
    return desk.post(PAGE, data=form)


def carrier_api(client: Any, key: str) -> int:
    answer = client.get("/api/v1/carrier/routes", headers={"Authorization": f"Bearer {key}"})
    return int(answer.status_code)


# --- who may open the page ----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ASSOCIATE, Role.SUPERVISOR, Role.PLANNER])
def test_only_admins_reach_the_carrier_keys(signed_in, fleet, session, role):
    someone = signed_in(role)

    page = someone.get(PAGE)
    posts = [
        create_key(someone, fleet),
        someone.post(
            f"/console/carriers/{fleet.carrier.id}/webhooks", data={"url": "https://x.example"}
        ),
        someone.post(f"/console/webhooks/{fleet.subscription.id}/deactivate"),
    ]

    assert page.status_code == 403 and "This page is for admins." in text(page)
    assert [p.status_code for p in posts] == [403, 403, 403]
    assert keys(session) == []
    assert session.get(WebhookSubscription, fleet.subscription.id).active


def test_the_carrier_keys_menu_is_the_admins(signed_in):
    assert 'href="/console/carrier-keys"' in text(signed_in(Role.ADMIN).get("/console/jobs"))
    assert 'href="/console/carrier-keys"' not in text(signed_in(Role.PLANNER).get("/console/jobs"))


def test_every_form_carries_its_csrf_token(admin, fleet):
    page = text(admin.get(PAGE))

    forms = page.count('<form method="post"')
    assert forms >= 3  # the new key, a webhook per carrier, the webhook's deactivation (+ sign-out)
    assert page.count('name="csrf_token"') == forms


# --- keys ---------------------------------------------------------------------------------------


def test_a_new_key_is_shown_once_only_its_hash_is_kept_and_it_works(admin, fleet, session, app):
    answer = create_key(admin, fleet)

    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    assert "it will not be shown again" in text(answer)
    plaintext = shown_secret(answer)
    (stored,) = keys(session)
    assert plaintext.startswith(f"fwc_{stored.prefix}_")
    assert stored.secret_sha256 == hashlib.sha256(plaintext.encode()).hexdigest()
    secret_part = plaintext.split("_", 2)[2]
    columns = [str(getattr(stored, c.key)) for c in CarrierKey.__table__.columns]
    assert not any(secret_part in value for value in columns)
    assert stored.scopes == ["routes:read", "stops:write"] and stored.driver_id is None
    assert stored.expires_at is not None and stored.created_by is not None
    listing = text(admin.get(PAGE))
    row = listing[listing.index(f'id="key-{stored.prefix}"') :].split("</tr>")[0]
    assert "Dispatch system" in row and "routes:read, stops:write" in row
    assert plaintext not in listing and secret_part not in listing
    assert carrier_api(app.test_client(), plaintext) == 200


def test_a_key_chosen_for_a_driver_is_that_drivers_token(admin, fleet, session):
    answer = create_key(admin, fleet, driver_id=str(fleet.driver.id), name="Driver phone")

    assert answer.status_code == 201
    (stored,) = keys(session)
    assert stored.driver_id == fleet.driver.id
    row = text(admin.get(PAGE)).split(f'id="key-{stored.prefix}"')[1].split("</tr>")[0]
    assert fleet.driver.name in row


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": "  "}, "name", "1 to 120 characters"),
        ({"scopes": []}, "scopes", "needs a scope"),
        ({"scopes": ["routes:write"]}, "scopes", "unknown scope routes:write"),
        ({"carrier_id": ""}, "carrier_id", "choose a carrier"),
        ({"expires_days": "0"}, "expires_days", "1 to 3650"),
        ({"expires_days": "soon"}, "expires_days", "1 to 3650"),
        ("other carrier's driver", "driver_id", "has no driver"),
    ],
)
def test_a_bad_key_form_is_refused_by_the_field_and_issues_nothing(
    admin, fleet, session, change, field, message
):
    if change == "other carrier's driver":
        change = {"driver_id": str(make_carrier(session, fleet.site)[2].id)}

    answer = create_key(admin, fleet, **change)

    assert answer.status_code == 422
    assert message in error_at(answer, f"key-{field}")
    assert 'id="new-secret"' not in text(answer)
    assert answer.headers.get("Cache-Control") != "no-store"
    assert keys(session) == []


def test_rotating_shows_the_successor_once_and_retires_the_old_key(admin, fleet, session, app):
    old = shown_secret(create_key(admin, fleet))
    prefix = old.split("_")[1]

    answer = admin.post(f"/console/carrier-keys/{prefix}/rotate")
    again = admin.post(f"/console/carrier-keys/{prefix}/rotate")

    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    successor = shown_secret(answer)
    assert successor != old and f"replacing {prefix}" in text(answer)
    first, second = keys(session)
    assert first.revoked_at is not None and second.revoked_at is None
    assert (second.carrier_id, second.scopes, second.name) == (
        first.carrier_id, first.scopes, first.name,
    )  # fmt: skip
    assert again.status_code == 409 and "is revoked" in text(again)
    assert successor not in text(admin.get(PAGE))
    api = app.test_client()
    assert carrier_api(api, old) == 401 and carrier_api(api, successor) == 200


def test_a_revoked_key_is_refused_by_the_carrier_api(admin, fleet, session, app):
    plaintext = shown_secret(create_key(admin, fleet))
    prefix = plaintext.split("_")[1]

    answer = admin.post(f"/console/carrier-keys/{prefix}/revoke")

    assert answer.status_code == 302 and answer.headers["Location"] == PAGE
    assert f"Carrier key {prefix} (Dispatch system, {fleet.carrier.code}) revoked" in text(
        admin.get(PAGE)
    )
    assert keys(session)[0].revoked_at is not None
    assert carrier_api(app.test_client(), plaintext) == 401


def test_an_unknown_key_is_not_found(admin, fleet):
    assert admin.post("/console/carrier-keys/deadbeef/rotate").status_code == 404
    assert admin.post("/console/carrier-keys/deadbeef/revoke").status_code == 404


# --- webhooks -----------------------------------------------------------------------------------


def test_a_new_webhook_shows_its_signing_secret_once(admin, fleet, session):
    answer = admin.post(
        f"/console/carriers/{fleet.carrier.id}/webhooks",
        data={"url": "https://hooks.carrier.example/routes", "events": ["route.cancelled"]},
    )

    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    secret = shown_secret(answer)
    assert secret.startswith("whsec_")
    session.expire_all()
    added = session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.url == "https://hooks.carrier.example/routes"
        )
    ).one()
    assert added.events == ["route.cancelled"] and added.active and added.secret == secret
    listing = text(admin.get(PAGE))
    row = listing[listing.index(f'id="webhook-{added.id}"') :].split("</tr>")[0]
    assert "https://hooks.carrier.example/routes" in row and "route.cancelled" in row
    assert secret not in listing


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"url": "ftp://carrier.example/x"}, "url", "http:// or https:// URL"),
        ({"url": "https://carrier.example/x", "events": ["route.deleted"]}, "events", "unknown"),
    ],
)
def test_a_bad_webhook_is_refused_by_its_field_and_adds_nothing(
    admin, fleet, session, form, field, message
):
    before = len(session.scalars(select(WebhookSubscription)).all())

    answer = admin.post(f"/console/carriers/{fleet.carrier.id}/webhooks", data=form)

    assert answer.status_code == 422
    assert message in error_at(answer, f"webhook-{fleet.carrier.id}-{field}")
    assert 'id="new-secret"' not in text(answer)
    session.expire_all()
    assert len(session.scalars(select(WebhookSubscription)).all()) == before


def test_a_webhook_is_deactivated(admin, fleet, session):
    answer = admin.post(f"/console/webhooks/{fleet.subscription.id}/deactivate")

    assert answer.status_code == 302
    session.expire_all()
    assert not session.get(WebhookSubscription, fleet.subscription.id).active
    page = text(admin.get(PAGE))
    assert f"Webhook {fleet.subscription.id} (https://carrier.example/hooks) deactivated" in page
    row = page[page.index(f'id="webhook-{fleet.subscription.id}"') :].split("</tr>")[0]
    assert "Deactivate" not in row


def test_an_unknown_carrier_or_webhook_is_not_found(admin, fleet):
    assert (
        admin.post(
            "/console/carriers/999999/webhooks", data={"url": "https://x.example"}
        ).status_code
        == 404
    )
    assert admin.post("/console/webhooks/999999/deactivate").status_code == 404

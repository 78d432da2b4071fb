"""Console pages for admins: carriers' API keys and drivers' tokens, and carriers' webhooks.

Each form is one service call in one transaction (``wms.carrier_keys``, ``wms.webhooks``);
the rules (what a key's scopes may be, which driver is the carrier's, what a webhook URL looks
like) live there. A refused form comes back with the error next to its field (422) and nothing
written. A new key, a rotated key's successor and a new webhook's signing secret are shown on
the answer to the POST itself, never on a later page (only a key's hash is kept; the page with
the plaintext is not stored by the browser: ``Cache-Control: no-store``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.wrappers import Response

from console.auth import admin_required, me
from console.views import bp
from wms import carrier_keys, credentials, webhooks
from wms.db import transaction
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import Carrier, Driver, utcnow

#: The longest key life the form offers, as for API tokens.
KEY_FIELDS = ("carrier_id", "name", "scopes", "driver_id", "expires_days")
WEBHOOK_FIELDS = ("url", "events")


def _when(moment: dt.datetime | None) -> str:
    """A stored UTC time as the admin pages show it."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _shown(error: WmsError, scope: str, fields: tuple[str, ...]) -> dict[str, Any]:
    field = error.field if error.field in fields else None
    return {"scope": scope, "field": field, "message": error.message}


def _page(
    *,
    key_form: dict[str, Any] | None = None,
    webhook_forms: dict[int, dict[str, Any]] | None = None,
    error: dict[str, Any] | None = None,
    status: int = 200,
    secret: dict[str, str] | None = None,
) -> Response:
    now = utcnow()
    with transaction(readonly=True) as session:
        carriers = list(session.scalars(select(Carrier).order_by(Carrier.code)))
        keys = carrier_keys.list_keys(session)
        hooks = webhooks.list_subscriptions(session)
        drivers = list(session.scalars(select(Driver).order_by(Driver.carrier_id, Driver.code)))
        sections = [
            {
                "carrier": carrier,
                "key_rows": [k for k in keys if k.carrier_id == carrier.id],
                "hooks": [h for h in hooks if h.carrier_id == carrier.id],
                "drivers": [d for d in drivers if d.carrier_id == carrier.id and d.active],
            }
            for carrier in carriers
        ]
        page = render_template(
            "console/carrier_keys.html", sections=sections, scopes=carrier_keys.SCOPES,
            event_types=webhooks.EVENT_TYPES, error=error, secret=secret, now=now, when=_when,
            max_days=credentials.MAX_DAYS, webhook_forms=webhook_forms or {},
            key_form=key_form or {"carrier_id": "", "name": "", "driver_id": "",
                                  "scopes": list(carrier_keys.SCOPES), "expires_days": ""},
        )  # fmt: skip
    response = make_response(page, status)
    if secret is not None:
        # The plaintext is on this page only: no cache, no history entry may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


def _number(value: str, *, field: str, message: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RuleViolation(message, field=field) from None


@bp.get("/carrier-keys", endpoint="carrier_keys")
@admin_required
def carrier_keys_page() -> ResponseReturnValue:
    """Every carrier's keys (prefix, scopes, driver, use, expiry) and webhooks; add more."""
    return _page()


@bp.post("/carrier-keys", endpoint="create_carrier_key")
@admin_required
def create_carrier_key() -> ResponseReturnValue:
    """Issue a carrier key (a driver token when a driver is chosen), shown on this answer only."""
    form: dict[str, Any] = {
        "carrier_id": request.form.get("carrier_id", ""),
        "name": request.form.get("name", ""),
        "scopes": request.form.getlist("scopes"),
        "driver_id": request.form.get("driver_id", ""),
        "expires_days": request.form.get("expires_days", ""),
    }
    try:
        carrier_id = _number(form["carrier_id"], field="carrier_id", message="choose a carrier")
        driver_id = (
            _number(form["driver_id"], field="driver_id", message="choose a driver from the list")
            if form["driver_id"].strip()
            else None
        )
        expires_at = credentials.expiry_in_days(form["expires_days"], now=utcnow())
        with transaction() as session:
            key, plaintext = carrier_keys.issue(
                session, carrier_id=carrier_id, name=form["name"], scopes=form["scopes"],
                driver_id=driver_id, created_by=me().id, expires_at=expires_at,
            )  # fmt: skip
            shown = {"what": "key", "plaintext": plaintext, "prefix": key.prefix,
                     "name": key.name, "carrier": key.carrier.code}  # fmt: skip
    except RuleViolation as refused:
        if refused.field == "expires_at":
            refused.field = "expires_days"
        return _page(key_form=form, error=_shown(refused, "key", KEY_FIELDS), status=422)
    return _page(secret=shown, status=201)


@bp.post("/carrier-keys/<prefix>/rotate", endpoint="rotate_carrier_key")
@admin_required
def rotate_carrier_key(prefix: str) -> ResponseReturnValue:
    """Revoke a key and issue its successor (same carrier, scopes, driver), shown once."""
    try:
        with transaction() as session:
            key, plaintext = carrier_keys.rotate(session, prefix, created_by=me().id)
            shown = {"what": "key", "plaintext": plaintext, "prefix": key.prefix,
                     "name": key.name, "carrier": key.carrier.code, "replaces": prefix}  # fmt: skip
    except NotFound:
        abort(404, description=f"No carrier key has the prefix {prefix!r}.")
    except Conflict as clash:
        return _page(error=_shown(clash, "page", ()), status=409)
    return _page(secret=shown, status=201)


@bp.post("/carrier-keys/<prefix>/revoke", endpoint="revoke_carrier_key")
@admin_required
def revoke_carrier_key(prefix: str) -> ResponseReturnValue:
    """Revoke a key: requests bearing it are refused from now on."""
    try:
        with transaction() as session:
            key = carrier_keys.revoke(session, prefix)
            name, code = key.name, key.carrier.code
    except NotFound:
        abort(404, description=f"No carrier key has the prefix {prefix!r}.")
    flash(
        f"Carrier key {prefix} ({name}, {code}) revoked: requests with it are refused from now on."
    )
    return redirect(url_for("console.carrier_keys"))


@bp.post("/carriers/<int:carrier_id>/webhooks", endpoint="create_webhook")
@admin_required
def create_webhook(carrier_id: int) -> ResponseReturnValue:
    """Subscribe a carrier's URL to its routes' events; the signing secret is shown once."""
    form: dict[str, Any] = {
        "url": request.form.get("url", ""),
        "events": request.form.getlist("events"),
    }
    try:
        with transaction() as session:
            carrier = session.get(Carrier, carrier_id)
            if carrier is None:
                abort(404, description=f"There is no carrier {carrier_id}.")
            subscription, secret = webhooks.create_subscription(
                session, carrier_id=carrier_id, url=form["url"], events=form["events"],
                created_by=me().id,
            )  # fmt: skip
            shown = {"what": "webhook", "plaintext": secret, "id": str(subscription.id),
                     "url": subscription.url, "carrier": carrier.code}  # fmt: skip
    except RuleViolation as refused:
        error = _shown(refused, f"webhook-{carrier_id}", WEBHOOK_FIELDS)
        return _page(webhook_forms={carrier_id: form}, error=error, status=422)
    return _page(secret=shown, status=201)


@bp.post("/webhooks/<int:subscription_id>/deactivate", endpoint="deactivate_webhook")
@admin_required
def deactivate_webhook(subscription_id: int) -> ResponseReturnValue:
    """Stop a webhook: its queued deliveries are dropped when their turn comes."""
    try:
        with transaction() as session:
            url = webhooks.deactivate_subscription(session, subscription_id).url
    except NotFound:
        abort(404, description=f"There is no webhook {subscription_id}.")
    flash(f"Webhook {subscription_id} ({url}) deactivated: it hears of nothing more.")
    return redirect(url_for("console.carrier_keys"))

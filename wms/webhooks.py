"""Webhooks to carriers: their routes' events, signed, delivered through the outbox.

:func:`publish` runs in the transaction that changed the route: for every active subscription
of the route's carrier that wants the event type, it writes an outbox event holding the whole
envelope ``{id, type, created, data}``. Each subscription's events of one route share an
outbox key, so a receiver hears of a route's changes in order, and one receiver being down
never holds back another.

The scheduler's outbox job hands those events to :class:`Sender` (registered by
:func:`register_delivery` when the scheduler process starts): it POSTs the envelope as
compact JSON, signed with the subscription's secret (``Webhook-Signature: v1=<hex HMAC-SHA256
of "<timestamp>.<body>">``); an error answer or none is retried by the outbox for a day.
Receivers check deliveries with :func:`verify_signature` (docs/carrier-api.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from wms import carrier_keys, outbox
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import OutboxEvent, Route, WebhookSubscription

log = logging.getLogger("wms.webhooks")

#: What a carrier can subscribe to.
EVENT_TYPES = ("route.planned", "route.changed", "route.cancelled")
#: Outbox topics of webhook deliveries start with this ("webhook.route.planned").
TOPIC_PREFIX = "webhook."
#: Subscriptions' signing secrets read ``whsec_<32 random bytes, URL-safe base64>``.
SECRET_SCHEME = "whsec"
MAX_URL_LENGTH = 500
#: Seconds to wait for a receiver's answer (``WMS_WEBHOOK_TIMEOUT_S``).
DEFAULT_TIMEOUT_S = 5.0
USER_AGENT = "frontwms-webhooks/1"


def publish(
    session: Session, route: Route, event_type: str, *, now: dt.datetime
) -> list[OutboxEvent]:
    """Queue ``event_type`` about ``route`` for each subscription of its carrier that wants it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    subscriptions = session.scalars(
        select(WebhookSubscription)
        .where(
            WebhookSubscription.carrier_id == route.carrier_id,
            WebhookSubscription.active.is_(True),
        )
        .order_by(WebhookSubscription.id)
    )
    data = route_data(route)
    events = []
    for subscription in subscriptions:
        if subscription.events and event_type not in subscription.events:
            continue
        envelope = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": event_type,
            "created": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        events.append(
            outbox.emit(
                session,
                f"{TOPIC_PREFIX}{event_type}",
                {"subscription_id": subscription.id, "envelope": envelope},
                key=f"webhook:{subscription.id}:route:{route.id}",
                now=now,
            )
        )
    return events


def route_data(route: Route) -> dict[str, Any]:
    """What a route event says about the route: enough to decide whether to fetch it again."""
    return {
        "route_id": route.id,
        "number": route.number,
        "status": route.status.value,
        "version": route.version,
        "site": route.site.code,
        "vehicle": route.vehicle.code,
        "driver_id": route.driver_id,
        "window_start": _iso(route.window_start),
        "window_end": _iso(route.window_end),
        "stops": [
            {
                "stop_id": stop.id,
                "sequence": stop.sequence,
                "status": stop.status.value,
                "eta": _iso(stop.eta),
            }
            for stop in route.stops
        ],
    }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- subscriptions --------------------------------------------------------------------------


def create_subscription(
    session: Session,
    *,
    carrier_id: int,
    url: str,
    events: Iterable[str] = (),
    created_by: int | None = None,
) -> tuple[WebhookSubscription, str]:
    """Subscribe a carrier's URL to its routes' events (none named: all of them); return the
    subscription with its signing secret."""
    url = _valid_url(url)
    wanted = carrier_keys.choose(events, EVENT_TYPES, what="event type", field="events")
    carrier = carrier_keys.active_carrier(session, carrier_id)
    secret = _new_secret()
    subscription = WebhookSubscription(
        carrier_id=carrier.id, url=url, secret=secret, events=wanted, created_by=created_by
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def deactivate_subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    """Stop a subscription: its queued events are dropped when their turn comes."""
    subscription = _subscription(session, subscription_id)
    if subscription.active:
        subscription.active = False
        session.flush()
    return subscription


def rotate_secret(session: Session, subscription_id: int) -> tuple[WebhookSubscription, str]:
    """Give a subscription a new secret: every delivery from now on, queued ones too, is signed
    with it."""
    subscription = _subscription(session, subscription_id)
    if not subscription.active:
        raise Conflict(f"webhook {subscription.id} is removed", field="subscription_id")
    subscription.secret = _new_secret()
    session.flush()
    return subscription, subscription.secret


def list_subscriptions(
    session: Session, *, carrier_id: int | None = None
) -> list[WebhookSubscription]:
    """Every subscription (of one carrier, when given), oldest first."""
    query = select(WebhookSubscription).order_by(WebhookSubscription.id)
    if carrier_id is not None:
        query = query.where(WebhookSubscription.carrier_id == carrier_id)
    return list(session.scalars(query))


def _subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no webhook has the id {subscription_id}", field="subscription_id")
    return subscription


def _new_secret() -> str:
    return f"{SECRET_SCHEME}_{secrets.token_urlsafe(32)}"


def _valid_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
        _ = parts.port  # a port that is not a number raises ValueError here
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host or any(ch.isspace() for ch in url):
        raise RuleViolation("a webhook needs an http:// or https:// URL with a host", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise RuleViolation(f"a webhook URL has {MAX_URL_LENGTH} characters at most", field="url")
    return url


# --- signatures -----------------------------------------------------------------------------


def sign(secret: str, *, timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` of a delivery: ``v1=`` and the hex HMAC-SHA256, keyed by the
    whole secret, of ``"<timestamp>.<body>"``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    *,
    timestamp: str | int,
    body: bytes | str,
    signature_header: str,
    now: dt.datetime,
    tolerance_s: float = 300,
) -> bool:
    """Tell whether a delivery is genuine: signed with ``secret`` over this very body, and sent
    within ``tolerance_s`` of ``now`` (an old one replayed is refused)."""
    try:
        sent = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs(now.timestamp() - sent) > tolerance_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = sign(secret, timestamp=sent, body=raw)
    # Several signatures may be listed (space-separated); any one of them will do.
    return any(
        hmac.compare_digest(given.encode(), expected.encode())
        for given in signature_header.replace(",", " ").split()
    )


# --- delivery -------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """A receiver did not take a delivery (an error answer, or no answer); the outbox retries."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET without its body: count it as a failed delivery.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Sender:
    """The outbox handler of ``webhook.*`` events: POST the envelope, signed, to its URL."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirects)

    def __call__(self, event: OutboxEvent, now: dt.datetime) -> None:
        session = object_session(event)
        if session is None:
            raise RuntimeError("a webhook event must be delivered from its session")
        subscription = session.get(WebhookSubscription, event.payload["subscription_id"])
        if subscription is None or not subscription.active:
            log.info("webhook %s dropped: its subscription is gone", event.id)
            return  # nobody wants it any more: done
        envelope = event.payload["envelope"]
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        timestamp = int(now.timestamp())
        request = urllib.request.Request(
            subscription.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Webhook-Id": str(envelope["id"]),
                "Webhook-Timestamp": str(timestamp),
                "Webhook-Signature": sign(subscription.secret, timestamp=timestamp, body=body),
            },
        )
        where = f"POST {subscription.url}"
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            raise DeliveryFailed(f"{where} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"{where} failed: {reason}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"{where} answered {status}")


def register_delivery(config: Mapping[str, Any]) -> Sender:
    """Deliver ``webhook.*`` outbox events from this process (the scheduler's; tests that
    drain); the timeout is ``WEBHOOK_TIMEOUT_S`` seconds."""
    sender = Sender(timeout_s=float(config.get("WEBHOOK_TIMEOUT_S", DEFAULT_TIMEOUT_S)))
    outbox.register(TOPIC_PREFIX, sender)
    return sender

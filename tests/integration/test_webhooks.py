"""Webhooks: subscriptions, signed deliveries to a real HTTP receiver on 127.0.0.1, and what
the outbox does while that receiver is down — every event delivered once, in order per route,
after it comes back; dead letters after a day, delivered when requeued."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select

from wms import outbox, scheduler, webhooks
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Carrier,
    OutboxEvent,
    Route,
    RouteKind,
    RouteStatus,
    Stop,
    Vehicle,
    VehicleKind,
    WebhookSubscription,
)

AT = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)


class Clock:
    """The injected time: what the drain is told it is, and what the receiver checks against."""

    def __init__(self, now: dt.datetime = AT) -> None:
        self.now = now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


class _QuietServer(HTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a slow answer is what the timeout test wants


class Receiver:
    """A carrier's webhook endpoint: verifies every signature, keeps what it accepted, and can
    answer 503, answer slowly, redirect, or be stopped altogether."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.secret = ""
        self.mode = "up"  # "up" | "503" | "slow" | "redirect"
        self.accepted: list[dict[str, Any]] = []  # envelopes, in the order they arrived
        self.requests: list[tuple[dict[str, str], bytes]] = []  # every accepted request
        self.refused = 0  # answered 503 while down
        self.forged = 0  # signatures that did not verify
        self.port = 0
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/routes"

    def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._server = _QuietServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: deliveries meet a refused connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    def ids(self) -> list[str]:
        return [envelope["id"] for envelope in self.accepted]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.mode == "503":
                    receiver.refused += 1
                    return self._answer(503)
                if receiver.mode == "slow":
                    time.sleep(1.0)
                    return self._answer(204)
                if receiver.mode == "redirect":
                    return self._answer(302, Location=f"{receiver.url}/elsewhere")
                genuine = webhooks.verify_signature(
                    receiver.secret,
                    timestamp=self.headers.get("Webhook-Timestamp", ""),
                    body=body,
                    signature_header=self.headers.get("Webhook-Signature", ""),
                    now=receiver.clock.now,
                )
                if not genuine:
                    receiver.forged += 1
                    return self._answer(401)
                receiver.accepted.append(json.loads(body))
                receiver.requests.append((dict(self.headers), body))
                self._answer(204)

            def do_GET(self) -> None:
                self._answer(405)

            def _answer(self, status: int, **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender(monkeypatch: pytest.MonkeyPatch) -> Iterator[webhooks.Sender]:
    """Webhook delivery registered, as the scheduler process does (127.0.0.1 never proxied)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield webhooks.register_delivery({"WEBHOOK_TIMEOUT_S": 2})
    outbox.unregister(webhooks.TOPIC_PREFIX)


@pytest.fixture
def make_receiver(clock: Clock) -> Iterator[Callable[[], Receiver]]:
    started: list[Receiver] = []

    def make() -> Receiver:
        started.append(Receiver(clock))
        return started[-1]

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def carrier(session) -> Carrier:
    carrier = Carrier(code="VELO", name="Velo Couriers")
    session.add(carrier)
    session.flush()
    return carrier


@pytest.fixture
def subscribe(session, carrier, make_receiver) -> Callable[..., tuple[Receiver, int]]:
    """A receiver of its own and a subscription of the carrier pointing at it."""

    def make(*, events: tuple[str, ...] = ()) -> tuple[Receiver, int]:
        receiver = make_receiver()
        subscription, receiver.secret = webhooks.create_subscription(
            session, carrier_id=carrier.id, url=receiver.url, events=events
        )
        return receiver, subscription.id

    return make


@pytest.fixture
def make_route(session, carrier, make_site, make_order) -> Callable[..., Route]:
    """A planned delivery route of the carrier's van from a new front warehouse, two stops."""
    counter = iter(range(1, 10_000))

    def make() -> Route:
        n = next(counter)
        site = make_site()
        van = Vehicle(
            carrier_id=carrier.id,
            site_id=site.id,
            code=f"VAN-{n}",
            kind=VehicleKind.VAN,
            capacity_totes=30,
            capacity_kg=500,
            shift_start=dt.time(6),
            shift_end=dt.time(22),
        )
        session.add(van)
        session.flush()
        end = AT + dt.timedelta(hours=2)
        route = Route(
            number=f"R-HOOK-{n}",
            kind=RouteKind.DELIVERY,
            site_id=site.id,
            carrier_id=carrier.id,
            vehicle_id=van.id,
            window_start=AT,
            window_end=end,
            planned_start=AT,
            planned_end=end,
        )
        for sequence in (1, 2):
            order = make_order(site=site, start=AT)
            eta = AT + dt.timedelta(minutes=20 * sequence)
            route.stops.append(
                Stop(
                    sequence=sequence,
                    order_id=order.id,
                    name=order.customer_name,
                    address=order.address,
                    latitude=order.latitude,
                    longitude=order.longitude,
                    window_start=order.promised_start,
                    window_end=order.promised_end,
                    planned_arrival=eta,
                    eta=eta,
                )
            )
        session.add(route)
        session.flush()
        return route

    return make


def change(session, route: Route, clock: Clock) -> list[OutboxEvent]:
    """A change the carrier hears of: the route's next version, published."""
    route.version += 1
    session.flush()
    return webhooks.publish(session, route, "route.changed", now=clock.now)


def pending(session) -> int:
    return session.scalar(
        select(func.count(OutboxEvent.id)).where(
            OutboxEvent.delivered_at.is_(None), OutboxEvent.dead_at.is_(None)
        )
    )


def drain_until_settled(session, clock: Clock, *, step_s: float = 30, most: int = 500) -> None:
    """Drain, stepping the clock forward, until no event waits for delivery."""
    for _ in range(most):
        outbox.drain(session, now=clock.now)
        if not pending(session):
            return
        clock.advance(seconds=step_s)
    raise AssertionError(f"{pending(session)} event(s) still pending after {most} drains")


def versions_by_route(envelopes: list[dict[str, Any]]) -> dict[int, list[int]]:
    seen: dict[int, list[int]] = {}
    for envelope in envelopes:
        seen.setdefault(envelope["data"]["route_id"], []).append(envelope["data"]["version"])
    return seen


# --- deliveries -----------------------------------------------------------------------------


def test_a_delivery_is_a_signed_compact_json_post_the_receiver_verifies(
    session, sender, subscribe, make_route, clock
):
    receiver, _ = subscribe()
    route = make_route()
    [event] = webhooks.publish(session, route, "route.planned", now=clock.now)

    drained = outbox.drain(session, now=clock.advance(seconds=3))

    assert drained.delivered == [event.id] and receiver.forged == 0
    [(headers, body)] = receiver.requests
    envelope = event.payload["envelope"]
    assert body == json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(body) == envelope
    assert headers["Content-Type"] == "application/json"
    assert headers["Webhook-Id"] == envelope["id"]
    assert headers["Webhook-Timestamp"] == str(int(clock.now.timestamp()))
    assert headers["User-Agent"].startswith("frontwms-webhooks/")
    assert envelope["type"] == "route.planned"
    assert envelope["data"]["route_id"] == route.id
    assert [stop["sequence"] for stop in envelope["data"]["stops"]] == [1, 2]


@pytest.mark.parametrize("outage", ["answers-503", "is-stopped"])
def test_a_receiver_down_for_a_while_gets_every_event_once_in_order_per_route(
    session, sender, subscribe, make_route, clock, outage
):
    receiver, _ = subscribe()
    if outage == "answers-503":
        receiver.mode = "503"
    else:
        receiver.stop()
    north, south = make_route(), make_route()
    published = webhooks.publish(session, north, "route.planned", now=clock.now)
    published += webhooks.publish(session, south, "route.planned", now=clock.now)
    # Twenty minutes of changes to both routes, interleaved, drained as the scheduler would.
    for minute in range(20):
        published += change(session, north if minute % 3 else south, clock)
        outbox.drain(session, now=clock.now)
        clock.advance(minutes=1)
    assert receiver.accepted == [] and pending(session) == len(published)
    assert outage != "answers-503" or receiver.refused > 0

    receiver.mode = "up"
    if outage == "is-stopped":
        receiver.start()
    drain_until_settled(session, clock)

    ids = [event.payload["envelope"]["id"] for event in published]
    assert Counter(receiver.ids()) == Counter(ids)  # every one, exactly once
    assert receiver.forged == 0
    assert versions_by_route(receiver.accepted) == versions_by_route(
        [event.payload["envelope"] for event in published]
    )
    # Published interleaved, each route's changes still arrive one version after the other.
    assert versions_by_route(receiver.accepted)[north.id] == list(range(1, north.version + 1))
    assert outbox.dead_letters(session) == []


def test_a_receiver_down_for_more_than_a_day_leaves_dead_letters_requeue_delivers(
    session, sender, subscribe, make_route, clock
):
    receiver, _ = subscribe()
    receiver.stop()
    north, south = make_route(), make_route()
    published = webhooks.publish(session, north, "route.planned", now=clock.now)
    published += change(session, north, clock) + change(session, north, clock)
    published += webhooks.publish(session, south, "route.planned", now=clock.now)

    start = clock.now
    drain_until_settled(session, clock, step_s=600)  # settles by giving up, a day on

    dead = sorted(outbox.dead_letters(session), key=lambda event: event.id)
    assert [event.id for event in dead] == [event.id for event in published]
    assert all(event.dead_at - start >= outbox.GIVE_UP_AFTER for event in dead)
    assert all("Connection refused" in event.last_error for event in dead)
    assert receiver.accepted == []
    # Later drains leave dead letters alone.
    assert outbox.drain(session, now=clock.advance(hours=2)).failed == []

    receiver.start()
    for event in dead:
        outbox.requeue(session, event.id, now=clock.now)
    drain_until_settled(session, clock)

    assert receiver.ids() == [event.payload["envelope"]["id"] for event in published]
    assert versions_by_route(receiver.accepted) == {north.id: [1, 2, 3], south.id: [1]}
    assert outbox.dead_letters(session) == []


def test_one_subscriber_down_does_not_hold_back_another(
    session, sender, subscribe, make_route, clock
):
    down, down_id = subscribe()
    up, up_id = subscribe()
    down.mode = "503"
    route = make_route()
    published = webhooks.publish(session, route, "route.planned", now=clock.now)
    published += change(session, route, clock) + change(session, route, clock)

    drained = outbox.drain(session, now=clock.now)

    to_up = [e for e in published if e.payload["subscription_id"] == up_id]
    to_down = [e for e in published if e.payload["subscription_id"] == down_id]
    assert drained.delivered == [event.id for event in to_up]
    assert up.ids() == [event.payload["envelope"]["id"] for event in to_up]
    # The one that is down tried its first event; the next two wait behind it.
    assert drained.failed == [to_down[0].id] and drained.held_back == 2
    assert "answered 503" in to_down[0].last_error
    assert down.accepted == []


def test_a_receiver_holding_the_wrong_secret_refuses_until_the_secret_is_shared_again(
    session, sender, subscribe, make_route, clock
):
    receiver, subscription_id = subscribe()
    receiver.secret = "whsec_not-the-one-we-sign-with"
    [event] = webhooks.publish(session, make_route(), "route.planned", now=clock.now)

    assert outbox.drain(session, now=clock.now).failed == [event.id]
    assert receiver.forged == 1 and "answered 401" in event.last_error

    _, receiver.secret = webhooks.rotate_secret(session, subscription_id)
    drain_until_settled(session, clock)

    assert receiver.ids() == [event.payload["envelope"]["id"]]


def test_a_removed_subscription_gets_nothing_and_its_queued_events_count_as_done(
    session, sender, subscribe, make_route, clock
):
    receiver, subscription_id = subscribe()
    route = make_route()
    queued = webhooks.publish(session, route, "route.planned", now=clock.now)
    queued += change(session, route, clock)

    webhooks.deactivate_subscription(session, subscription_id)
    drained = outbox.drain(session, now=clock.now)

    assert drained.delivered == [event.id for event in queued]
    assert receiver.requests == [] and receiver.forged == 0
    assert change(session, route, clock) == []


def test_a_subscription_hears_only_the_event_types_it_names(
    session, sender, subscribe, make_route, clock
):
    receiver, _ = subscribe(events=("route.cancelled",))
    route = make_route()

    assert webhooks.publish(session, route, "route.planned", now=clock.now) == []
    route.status = RouteStatus.CANCELLED
    [event] = webhooks.publish(session, route, "route.cancelled", now=clock.now)
    outbox.drain(session, now=clock.now)

    assert [envelope["type"] for envelope in receiver.accepted] == ["route.cancelled"]
    assert receiver.accepted[0]["data"]["status"] == "cancelled"
    assert event.delivered_at == clock.now


def test_a_receiver_slower_than_the_timeout_counts_as_failed(
    session, subscribe, make_route, clock, monkeypatch
):
    monkeypatch.delenv("http_proxy", raising=False)
    webhooks.register_delivery({"WEBHOOK_TIMEOUT_S": 0.2})
    try:
        receiver, _ = subscribe()
        receiver.mode = "slow"
        [event] = webhooks.publish(session, make_route(), "route.planned", now=clock.now)

        began = time.monotonic()
        assert outbox.drain(session, now=clock.now).failed == [event.id]
        assert time.monotonic() - began < 0.9
        assert "timed out" in event.last_error
    finally:
        outbox.unregister(webhooks.TOPIC_PREFIX)


def test_a_redirect_is_not_followed_but_counts_as_failed(
    session, sender, subscribe, make_route, clock
):
    receiver, _ = subscribe()
    receiver.mode = "redirect"
    [event] = webhooks.publish(session, make_route(), "route.planned", now=clock.now)

    assert outbox.drain(session, now=clock.now).failed == [event.id]
    assert "answered 302" in event.last_error and receiver.requests == []


def test_the_scheduler_process_registers_webhook_delivery(engine, sessions, tmp_path):
    stop = threading.Event()
    stop.set()  # start, register, and stop at once
    try:
        scheduler.run(
            engine, sessions, {"WEBHOOK_TIMEOUT_S": 3}, str(tmp_path), stop=stop, say=lambda _: None
        )
        handler = outbox.handler_for("webhook.route.planned")
        assert isinstance(handler, webhooks.Sender) and handler.timeout_s == 3
    finally:
        outbox.unregister(webhooks.TOPIC_PREFIX)


# --- signatures -----------------------------------------------------------------------------

SECRET = "whsec_" + "s" * 43
BODY = b'{"id":"evt_1","type":"route.planned","created":"2026-12-02T06:00:00Z","data":{}}'
STAMP = int(AT.timestamp())


def test_a_signature_verifies_over_the_exact_body_with_the_same_secret():
    header = webhooks.sign(SECRET, timestamp=STAMP, body=BODY)

    assert header.startswith("v1=") and len(header) == 3 + 64
    assert webhooks.verify_signature(
        SECRET, timestamp=str(STAMP), body=BODY, signature_header=header, now=AT
    )
    assert webhooks.verify_signature(
        SECRET, timestamp=STAMP, body=BODY.decode(), signature_header=header, now=AT
    )


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        (SECRET, STAMP, BODY.replace(b"planned", b"changed"), AT),
        ("whsec_" + "t" * 43, STAMP, BODY, AT),
        (SECRET, STAMP + 1, BODY, AT),
        (SECRET, STAMP, BODY, AT + dt.timedelta(seconds=301)),
        (SECRET, STAMP, BODY, AT - dt.timedelta(seconds=301)),
        (SECRET, "yesterday", BODY, AT),
    ],
    ids=[
        "tampered-body",
        "wrong-secret",
        "other-timestamp",
        "too-old",
        "from-the-future",
        "no-number",
    ],
)
def test_anything_but_the_signed_delivery_fails_verification(secret, timestamp, body, now):
    header = webhooks.sign(SECRET, timestamp=STAMP, body=BODY)

    assert not webhooks.verify_signature(
        secret, timestamp=timestamp, body=body, signature_header=header, now=now
    )


def test_a_header_may_list_several_signatures_and_one_right_one_will_do():
    right = webhooks.sign(SECRET, timestamp=STAMP, body=BODY)
    wrong = webhooks.sign("whsec_old", timestamp=STAMP, body=BODY)

    for header in (f"{wrong} {right}", f"{right},{wrong}"):
        assert webhooks.verify_signature(
            SECRET, timestamp=STAMP, body=BODY, signature_header=header, now=AT
        )
    for header in ("", wrong, right[3:], "v1=" + "0" * 64):
        assert not webhooks.verify_signature(
            SECRET, timestamp=STAMP, body=BODY, signature_header=header, now=AT
        )


# --- subscriptions --------------------------------------------------------------------------


def test_a_subscription_gets_a_secret_kept_for_signing(session, carrier):
    subscription, secret = webhooks.create_subscription(
        session,
        carrier_id=carrier.id,
        url=" https://hooks.velo.example/wms ",
        events=["route.cancelled", "route.planned", "route.planned"],
    )

    assert secret.startswith("whsec_") and len(secret) > 40
    stored = session.get(WebhookSubscription, subscription.id)
    assert (stored.url, stored.secret, stored.active) == (
        "https://hooks.velo.example/wms",
        secret,
        True,
    )
    assert stored.events == ["route.planned", "route.cancelled"]
    _, other = webhooks.create_subscription(session, carrier_id=carrier.id, url=stored.url)
    assert other != secret


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example/x",
        "hooks.example/x",
        "https://",
        "http:///path",
        "not a url",
        "https://hooks.example:port/x",
        "javascript:alert(1)",
        "https://h.example/a b",
        "https://h.example/" + "x" * 500,
    ],
    ids=[
        "ftp",
        "no-scheme",
        "no-host",
        "empty-host",
        "words",
        "bad-port",
        "javascript",
        "space",
        "too-long",
    ],
)
def test_a_subscription_needs_an_http_url_with_a_host(session, carrier, url):
    with pytest.raises(RuleViolation) as refused:
        webhooks.create_subscription(session, carrier_id=carrier.id, url=url)

    assert refused.value.field == "url"


def test_a_subscription_to_unknown_events_or_carriers_is_refused(session, carrier):
    with pytest.raises(RuleViolation, match=r"route\.exploded") as refused:
        webhooks.create_subscription(
            session, carrier_id=carrier.id, url="https://h.example/", events=["route.exploded"]
        )
    assert refused.value.field == "events"

    with pytest.raises(RuleViolation, match="no carrier") as refused:
        webhooks.create_subscription(session, carrier_id=999_999, url="https://h.example/")
    assert refused.value.field == "carrier_id"


def test_subscriptions_are_listed_oldest_first_and_per_carrier(session, carrier):
    other = Carrier(code="BIKE", name="Bike Co")
    session.add(other)
    session.flush()
    first, _ = webhooks.create_subscription(
        session, carrier_id=carrier.id, url="https://a.example/"
    )
    second, _ = webhooks.create_subscription(session, carrier_id=other.id, url="https://b.example/")
    third, _ = webhooks.create_subscription(
        session, carrier_id=carrier.id, url="https://c.example/"
    )

    assert webhooks.list_subscriptions(session) == [first, second, third]
    assert webhooks.list_subscriptions(session, carrier_id=carrier.id) == [first, third]


def test_removing_is_idempotent_and_a_removed_subscription_keeps_its_secret(session, carrier):
    subscription, secret = webhooks.create_subscription(
        session, carrier_id=carrier.id, url="https://a.example/"
    )

    webhooks.deactivate_subscription(session, subscription.id)
    webhooks.deactivate_subscription(session, subscription.id)

    assert not subscription.active and subscription.secret == secret
    with pytest.raises(Conflict, match="removed"):
        webhooks.rotate_secret(session, subscription.id)
    with pytest.raises(NotFound, match="999999"):
        webhooks.deactivate_subscription(session, 999_999)

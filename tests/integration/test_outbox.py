"""The outbox: events written with their change, delivered after it, in order per key, retried
with back-off for a day, then kept as dead letters until requeued."""

from __future__ import annotations

import datetime as dt

import pytest

from wms import outbox

AT = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def receiver():
    got: list[tuple[str, dict]] = []
    down = {"now": False}

    def deliver(event, now):
        if down["now"]:
            raise ConnectionError("receiver unreachable")
        got.append((event.topic, event.payload))

    outbox.register("test.", deliver)
    yield got, down
    outbox.unregister("test.")


def test_events_are_delivered_once_in_order_per_key(session, receiver):
    got, _ = receiver
    for n in range(3):
        outbox.emit(session, "test.route.changed", {"n": n}, key="route:1", now=AT)
    outbox.emit(session, "test.route.planned", {"n": 9}, key="route:2", now=AT)
    first = outbox.drain(session, now=AT)
    assert len(first.delivered) == 4
    assert [p["n"] for t, p in got if t == "test.route.changed"] == [0, 1, 2]
    again = outbox.drain(session, now=AT + dt.timedelta(minutes=1))
    assert again.delivered == [] and len(got) == 4


def test_a_failing_receiver_is_retried_with_back_off_and_holds_its_key(session, receiver):
    got, down = receiver
    e1 = outbox.emit(session, "test.route.changed", {"n": 1}, key="route:1", now=AT)
    outbox.emit(session, "test.route.changed", {"n": 2}, key="route:1", now=AT)
    e3 = outbox.emit(session, "test.other", {"n": 3}, key="route:9", now=AT)
    down["now"] = True
    failed = outbox.drain(session, now=AT)
    assert failed.failed == [e1.id, e3.id] and failed.held_back == 1
    assert e1.available_at == AT + dt.timedelta(seconds=30)
    assert "receiver unreachable" in e1.last_error
    # Before its retry time nothing of route:1 goes, not even the later event.
    down["now"] = False
    early = outbox.drain(session, now=AT + dt.timedelta(seconds=10))
    assert early.delivered == [] and early.held_back == 1
    later = outbox.drain(session, now=AT + dt.timedelta(seconds=31))
    assert [p["n"] for _, p in got] == [1, 2, 3]
    assert len(later.delivered) == 3
    assert outbox.retry_delay(1) < outbox.retry_delay(2) < outbox.retry_delay(3)
    assert outbox.retry_delay(30) == outbox.MAX_RETRY


def test_after_a_day_of_failures_an_event_is_a_dead_letter_until_requeued(session, receiver):
    got, down = receiver
    down["now"] = True
    event = outbox.emit(session, "test.route.cancelled", {"n": 1}, key="route:1", now=AT)
    outbox.drain(session, now=AT)
    gone = outbox.drain(session, now=AT + dt.timedelta(hours=24, seconds=1))
    assert gone.dead == [event.id] and event.dead_at is not None
    assert [e.id for e in outbox.dead_letters(session)] == [event.id]
    assert outbox.drain(session, now=AT + dt.timedelta(hours=30)).failed == []
    down["now"] = False
    outbox.requeue(session, event.id, now=AT + dt.timedelta(hours=30))
    assert outbox.drain(session, now=AT + dt.timedelta(hours=30)).delivered == [event.id]
    assert got == [("test.route.cancelled", {"n": 1})]


def test_an_event_nobody_handles_is_retried_not_lost(session):
    event = outbox.emit(session, "nobody.listens", {}, now=AT)
    result = outbox.drain(session, now=AT)
    assert result.failed == [event.id] and "no handler" in event.last_error

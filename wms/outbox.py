"""The outbox: effects outside the database, written with the change that caused them.

A service that must tell the world something (a webhook to a carrier, a label to a printer)
calls :func:`emit` inside its own transaction, so the event exists exactly when the change
does. The scheduler's ``outbox`` job calls :func:`drain`, which hands each due event to the
handler registered for its topic, in id order per key (a route's events arrive in turn), and
retries a failing one with exponential back-off for ``GIVE_UP_AFTER`` (a day) before moving it
to the dead-letter list (``dead_at``) that the console shows.

Delivery is at least once: a handler that succeeds but whose acknowledgement is lost runs
again, so receivers deduplicate by the event id (webhook envelopes carry it).
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wms.models import OutboxEvent

log = logging.getLogger("wms.outbox")

#: A handler delivers one event at the drain's time (webhooks sign with it); raise = failed.
#: It may read the database through the event's session (``object_session(event)``).
Handler = Callable[[OutboxEvent, dt.datetime], None]
#: Handlers by topic prefix: "route." handles "route.planned", "route.changed", ...
_HANDLERS: dict[str, Handler] = {}

GIVE_UP_AFTER = dt.timedelta(hours=24)
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY = dt.timedelta(hours=1)
BATCH = 200


def register(topic_prefix: str, handler: Handler) -> None:
    """Deliver events whose topic starts with ``topic_prefix`` by ``handler`` (raise = failed)."""
    _HANDLERS[topic_prefix] = handler


def unregister(topic_prefix: str) -> None:
    _HANDLERS.pop(topic_prefix, None)


def handler_for(topic: str) -> Handler | None:
    """The handler of the longest registered prefix of ``topic``."""
    matches = [prefix for prefix in _HANDLERS if topic.startswith(prefix)]
    return _HANDLERS[max(matches, key=len)] if matches else None


def emit(
    session: Session, topic: str, payload: dict[str, Any], *, key: str = "", now: dt.datetime
) -> OutboxEvent:
    """Record an event in the caller's transaction; it is delivered after the commit."""
    event = OutboxEvent(
        topic=topic, key=key, payload=payload, created_at=now, available_at=now, attempts=0,
        last_error="",
    )  # fmt: skip
    session.add(event)
    session.flush()
    return event


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failures: 30 s, 1 min, 2 min, ... 1 h."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), MAX_RETRY)


@dataclass(slots=True)
class Drained:
    """What one drain did."""

    delivered: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    held_back: int = 0  # waiting behind an earlier undelivered event of the same key

    @property
    def summary(self) -> str:
        parts = [f"{len(self.delivered)} delivered", f"{len(self.failed)} to retry"]
        if self.dead:
            parts.append(f"{len(self.dead)} given up (dead letters)")
        if self.held_back:
            parts.append(f"{self.held_back} waiting behind an earlier event")
        return ", ".join(parts)


def _pending() -> Any:
    return select(OutboxEvent).where(
        OutboxEvent.delivered_at.is_(None), OutboxEvent.dead_at.is_(None)
    )


def pending_count(session: Session, *, now: dt.datetime) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(
                _pending().where(OutboxEvent.available_at <= now).subquery()
            )
        )
        or 0
    )


def drain(session: Session, *, now: dt.datetime, limit: int = BATCH) -> Drained:
    """Deliver the due events, oldest first and in order per key; record each outcome.

    The events are locked (``SKIP LOCKED`` on PostgreSQL, so a second drainer takes others);
    an event whose key has an earlier undelivered event waits for it, even when that one is
    not due yet — order per key matters more than speed.
    """
    result = Drained()
    events = list(
        session.scalars(
            _pending()
            .where(OutboxEvent.available_at <= now)
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    blocked: set[str] = set()
    keys = {event.key for event in events if event.key}
    if keys:
        first_due = {event.key: event.id for event in reversed(events) if event.key}
        earlier = session.execute(
            select(OutboxEvent.key, func.min(OutboxEvent.id))
            .where(
                OutboxEvent.key.in_(keys),
                OutboxEvent.delivered_at.is_(None),
                OutboxEvent.dead_at.is_(None),
            )
            .group_by(OutboxEvent.key)
        ).all()
        blocked = {key for key, first in earlier if first < first_due[key]}
    for event in events:
        if event.key and event.key in blocked:
            result.held_back += 1
            continue
        handler = handler_for(event.topic)
        try:
            if handler is None:
                raise LookupError(f"no handler for topic {event.topic!r}")
            handler(event, now)
        except Exception as exc:  # a failed delivery is retried, never raised into the job
            event.attempts += 1
            event.last_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            if now - event.created_at >= GIVE_UP_AFTER:
                event.dead_at = now
                result.dead.append(event.id)
            else:
                event.available_at = now + retry_delay(event.attempts)
                result.failed.append(event.id)
            if event.key:
                blocked.add(event.key)  # later events of this key wait for this one
            continue
        event.attempts += 1
        event.delivered_at = now
        event.last_error = ""
        result.delivered.append(event.id)
    session.flush()
    return result


def dead_letters(session: Session, *, limit: int = 100) -> list[OutboxEvent]:
    """Events given up on, newest first (the console's dead-letter list)."""
    return list(
        session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.dead_at.is_not(None))
            .order_by(OutboxEvent.id.desc())
            .limit(limit)
        )
    )


def requeue(session: Session, event_id: int, *, now: dt.datetime) -> OutboxEvent | None:
    """Give a dead letter another day of tries (after its receiver is mended)."""
    event = session.get(OutboxEvent, event_id, with_for_update=True)
    if event is None or event.dead_at is None:
        return None
    event.dead_at = None
    event.created_at = now  # the day of retries counts from now
    event.available_at = now
    session.flush()
    return event

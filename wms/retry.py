"""Run a unit of work again when the database refused it only because of a concurrent one.

PostgreSQL aborts one of two clashing transactions (serialization failure, deadlock) or refuses
a lock it was told not to wait for; SQLite answers "database is locked" when its busy timeout
runs out. None of these says anything about the request itself: the same unit of work, run
again in a new transaction, usually succeeds. Everything else is re-raised at once.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: serialization_failure, deadlock_detected, lock_not_available.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})

#: SQLITE_BUSY and SQLITE_LOCKED; extended codes keep the primary code in their low byte.
_SQLITE_BUSY_CODES = frozenset({5, 6})
_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked")

#: How deep to follow ``orig``, ``__cause__`` and ``__context__`` looking for the driver error.
_MAX_CHAIN = 8


def is_retryable(exc: BaseException) -> bool:
    """Tell whether exc is a concurrency refusal that a new transaction may not meet again."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _is_retryable_driver_error(current):
            return True
        # SQLAlchemy keeps the driver's exception in .orig; other wrappers chain it.
        for inner in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)
    return False


def _is_retryable_driver_error(exc: BaseException) -> bool:
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.upper() in RETRYABLE_SQLSTATES:
        return True
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE_BUSY_CODES:
            return True
        message = str(exc).lower()
        return any(text in message for text in _SQLITE_BUSY_MESSAGES)
    return False


def retrying(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 0.02,
    max_delay: float = 1.0,
) -> T:
    """Call fn, calling it again after a jittered, growing pause while it fails retryably.

    fn must be a whole unit of work that opens its own transaction: the failed transaction is
    gone, so nothing of it may be reused. The last error is re-raised after ``attempts`` calls;
    errors that are not retryable are re-raised at once.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            # Full growth, half jitter: clashing workers spread out instead of meeting again.
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            pause = random.uniform(delay / 2, delay)
            log.info(
                "retrying after a concurrency refusal (attempt %d of %d, %.0f ms): %s",
                attempt,
                attempts,
                pause * 1000,
                _first_line(exc),
            )
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return lines[0] if lines else type(inner).__name__

"""wms.retry: which database errors are worth a new transaction, and running the unit again."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from wms.db import make_engine
from wms.retry import is_retryable, retrying

# --- classification ---------------------------------------------------------------------------


def wrapped(driver_error: Exception, cls: type[DBAPIError] = OperationalError) -> DBAPIError:
    """The error as SQLAlchemy raises it: the driver's exception in .orig."""
    return cls("UPDATE stock SET on_hand = ...", {}, driver_error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.LockNotAvailable("could not obtain lock on row"),
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("database table is locked: stock"),
    ],
    ids=["pg-40001", "pg-40P01", "pg-55P03", "sqlite-locked", "sqlite-table-locked"],
)
def test_concurrency_refusals_are_retryable(error):
    assert is_retryable(wrapped(error))
    assert is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(psycopg.errors.UniqueViolation("duplicate key"), IntegrityError),
        wrapped(psycopg.errors.CheckViolation("on_hand_nonnegative"), IntegrityError),
        wrapped(psycopg.errors.UndefinedTable("relation does not exist")),
        wrapped(sqlite3.OperationalError("no such table: stock")),
        wrapped(sqlite3.IntegrityError("UNIQUE constraint failed: carrier.code"), IntegrityError),
        ValueError("database is locked"),
        RuntimeError("deadlock detected"),
    ],
    ids=[
        "pg-unique",
        "pg-check",
        "pg-undefined-table",
        "sqlite-no-table",
        "sqlite-unique",
        "not-a-database-error",
        "not-a-database-error-2",
    ],
)
def test_errors_about_the_request_itself_are_not_retryable(error):
    assert not is_retryable(error)


def test_a_refusal_chained_under_another_exception_is_still_found():
    try:
        try:
            raise wrapped(psycopg.errors.DeadlockDetected("deadlock detected"))
        except OperationalError as inner:
            raise RuntimeError("the unit of work failed") from inner
    except RuntimeError as outer:
        assert is_retryable(outer)


# --- retrying -------------------------------------------------------------------------------


class Flaky:
    """A unit of work that fails with the given errors first, then answers 'done'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


def test_retrying_runs_the_unit_again_after_retryable_errors():
    unit = Flaky(locked(), locked())

    assert retrying(unit, attempts=5, base_delay=0.001) == "done"
    assert unit.calls == 3


def test_retrying_reraises_other_errors_at_once():
    unit = Flaky(ValueError("bad quantity"))

    with pytest.raises(ValueError, match="bad quantity"):
        retrying(unit, attempts=5, base_delay=0.001)
    assert unit.calls == 1


def test_retrying_gives_up_after_the_last_attempt_with_the_last_error():
    last = locked()
    unit = Flaky(locked(), locked(), last)

    with pytest.raises(OperationalError) as raised:
        retrying(unit, attempts=3, base_delay=0.001)
    assert raised.value is last
    assert unit.calls == 3


def test_retrying_needs_at_least_one_attempt():
    with pytest.raises(ValueError, match="at least 1"):
        retrying(Flaky(), attempts=0)


# --- real refusals: SQLite ------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file whose writers do not wait: a held write lock fails the next at once."""
    engine = make_engine(f"sqlite:///{tmp_path / 'locks.sqlite3'}", busy_timeout_ms=0)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
    yield engine
    engine.dispose()


def test_a_held_sqlite_write_lock_is_a_retryable_refusal(sqlite_engine):
    with sqlite_engine.begin() as holder:
        holder.execute(text("UPDATE counter SET n = n + 1"))
        with pytest.raises(OperationalError) as raised, sqlite_engine.begin() as second:
            second.execute(text("UPDATE counter SET n = n + 1"))

    assert "locked" in str(raised.value)
    assert is_retryable(raised.value)


def test_a_sqlite_writer_retried_until_the_lock_is_released_succeeds(sqlite_engine):
    holder = sqlite_engine.connect()
    holder.begin()
    holder.execute(text("UPDATE counter SET n = n + 1"))
    release = threading.Timer(0.15, holder.commit)
    release.start()
    attempts = 0

    def unit() -> None:
        nonlocal attempts
        attempts += 1
        with sqlite_engine.begin() as conn:
            conn.execute(text("UPDATE counter SET n = n + 1"))

    try:
        retrying(unit, attempts=12, base_delay=0.02, max_delay=0.1)
    finally:
        release.join()
        holder.close()

    assert attempts > 1
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 2


# --- real refusals: PostgreSQL --------------------------------------------------------------


@pytest.fixture
def pg_engine(new_database: Callable[[], str]) -> Iterator[Engine]:
    """A fresh PostgreSQL database with two counter rows."""
    engine = make_engine(new_database())
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (1, 0), (2, 0)"))
    yield engine
    engine.dispose()


def counters(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return {id_: n for id_, n in conn.execute(text("SELECT id, n FROM counter ORDER BY id"))}


@pytest.mark.postgres
def test_two_transactions_locking_rows_in_opposite_orders_deadlock_and_both_finish_retried(
    pg_engine,
):
    first_attempt_met = threading.Barrier(2, timeout=10)
    calls = {"ab": 0, "ba": 0}
    refusals: list[BaseException] = []

    def transfer(name: str, first: int, second: int) -> None:
        calls[name] += 1
        attempt = calls[name]
        try:
            with pg_engine.begin() as conn:
                conn.execute(text("UPDATE counter SET n = n + 1 WHERE id = :id"), {"id": first})
                if attempt == 1:
                    # Both hold their first row before either asks for its second: a deadlock.
                    first_attempt_met.wait()
                conn.execute(text("UPDATE counter SET n = n + 1 WHERE id = :id"), {"id": second})
        except OperationalError as exc:
            refusals.append(exc)
            raise

    failures: list[BaseException] = []

    def run(name: str, first: int, second: int) -> None:
        try:
            retrying(lambda: transfer(name, first, second), attempts=5, base_delay=0.01)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=("ab", 1, 2)),
        threading.Thread(target=run, args=("ba", 2, 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert len(refusals) == 1
    assert getattr(refusals[0], "orig", None).sqlstate == "40P01"
    assert is_retryable(refusals[0])
    assert sorted(calls.values()) == [1, 2]
    assert counters(pg_engine) == {1: 2, 2: 2}


@pytest.mark.postgres
def test_a_repeatable_read_update_after_a_concurrent_commit_is_retried_without_losing_it(
    pg_engine,
):
    snapshot = pg_engine.execution_options(isolation_level="REPEATABLE READ")
    attempts = 0
    refusals: list[BaseException] = []

    def increment() -> None:
        nonlocal attempts
        attempts += 1
        try:
            with snapshot.begin() as conn:
                conn.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
                if attempts == 1:
                    # Another writer commits after this transaction took its snapshot.
                    with pg_engine.begin() as other:
                        other.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
                conn.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        except OperationalError as exc:
            refusals.append(exc)
            raise

    retrying(increment, attempts=3, base_delay=0.001)

    assert attempts == 2
    assert getattr(refusals[0], "orig", None).sqlstate == "40001"
    assert counters(pg_engine)[1] == 11


@pytest.mark.postgres
def test_a_nowait_lock_on_a_locked_row_is_a_retryable_refusal(pg_engine):
    with pg_engine.begin() as holder:
        holder.execute(text("SELECT n FROM counter WHERE id = 1 FOR UPDATE"))
        with pytest.raises(OperationalError) as raised, pg_engine.begin() as second:
            second.execute(text("SELECT n FROM counter WHERE id = 1 FOR UPDATE NOWAIT"))

    assert getattr(raised.value.orig, "sqlstate", None) == "55P03"
    assert is_retryable(raised.value)

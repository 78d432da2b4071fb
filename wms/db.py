"""Engines, session factories and the one-transaction-per-unit-of-work helper."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from wms.errors import ConfigError

EXTENSION_KEY = "wms.db"


def parse_database_url(url: str | URL) -> URL:
    """Parse a database URL, raising ConfigError with one readable line when it is bad."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        # The URL is not echoed back: it may hold a password.
        raise ConfigError(
            "WMS_DATABASE_URL is not a database URL; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        ) from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"WMS_DATABASE_URL uses {parsed.get_backend_name()!r}; "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        )
    return parsed


def make_engine(url: str | URL, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """Create an engine for SQLite (WAL, busy timeout, BEGIN IMMEDIATE) or PostgreSQL."""
    parsed = parse_database_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"WMS_DATABASE_URL names a SQLite file in {folder}, "
                    f"which cannot be created: {exc.strerror}"
                ) from exc
        kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"WMS_DATABASE_URL cannot be used: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Make SQLite behave: foreign keys on, WAL, and write transactions that lock up front."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred BEGIN that later writes can fail with SQLITE_BUSY instead of waiting;
        # IMMEDIATE takes the write lock at the start, so writers queue on the busy timeout.
        if conn.get_execution_options().get("wms_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory every entry point uses."""
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


class Database:
    """Holds the session factories of one app; registered as ``app.extensions['wms.db']``."""

    def __init__(self, sessions: sessionmaker[Session], *, engine: Engine | None = None) -> None:
        self.sessions = sessions
        self.engine = engine
        bind = sessions.kw.get("bind")
        if engine is not None:
            self.read_sessions = sessionmaker(
                engine.execution_options(wms_readonly=True), expire_on_commit=False
            )
        else:
            # A factory handed in by tests: reads share it.
            self.read_sessions = sessions
        self.bind = bind

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Database:
        engine = make_engine(
            config["DATABASE_URL"],
            busy_timeout_ms=int(config.get("SQLITE_BUSY_TIMEOUT_MS", 5000)),
            echo=bool(config.get("SQL_ECHO", False)),
        )
        return cls(make_sessions(engine), engine=engine)

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self

    def ping(self) -> None:
        """Run a trivial query; raises if the database cannot be reached."""
        with self.read_sessions() as session:
            session.execute(text("SELECT 1"))


def reading_beside(session: Session) -> AbstractContextManager[Session]:
    """A read-only session on the engine of ``session``, for a job to read (and think) before
    it writes: on SQLite a write transaction holds the database's one write lock. A session
    bound to one connection, as tests make, reads through itself."""
    bind = session.get_bind()
    if isinstance(bind, Engine):
        return Session(bind.execution_options(wms_readonly=True))
    return nullcontext(session)


def database(app: Flask | None = None) -> Database:
    """The Database of the given app, or of the current one."""
    target = app if app is not None else current_app
    db: Database = target.extensions[EXTENSION_KEY]
    return db


@contextmanager
def transaction(*, readonly: bool = False) -> Iterator[Session]:
    """Run one unit of work: commit on success, roll back on any error."""
    db = database()
    factory = db.read_sessions if readonly else db.sessions
    with factory.begin() as session:
        yield session

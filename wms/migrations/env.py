"""Alembic environment: runs on the engine handed in by wms.migrate, or on WMS_DATABASE_URL."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from wms.migrate import LIBRARY_TABLES
from wms.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave tables owned by libraries (the scheduler's job store) out of autogenerate."""
    return not (type_ == "table" and name in LIBRARY_TABLES)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones, so migrations never import models."""
    from wms.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _engine() -> Any:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    # Plain `alembic ...` from the project root: use the same URL the app would.
    from wms.app import create_app
    from wms.db import database

    app = create_app()
    db_engine = database(app).engine
    assert db_engine is not None
    return db_engine


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by rebuilding it, which trips foreign keys mid-way. The
            # pragma only takes effect outside a transaction, so it goes to the raw connection;
            # foreign_key_check below still refuses a migration that leaves a broken reference.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_object=include_object,
                render_item=render_item,
                compare_type=True,
                render_as_batch=sqlite,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()

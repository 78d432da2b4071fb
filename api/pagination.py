"""Cursor pagination: stable under inserts, cheap on large tables (keyset on the id)."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from api.blueprint import MAX_ID
from wms.errors import RuleViolation


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, value = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        last = int(value)
        if kind != "id" or not 0 <= last <= MAX_ID:
            raise ValueError(value)
        return last
    except (ValueError, UnicodeDecodeError):
        raise RuleViolation("cursor is not one this API gave out", field="cursor") from None


def where_equal(
    stmt: Select[Any], model: type[Any], args: dict[str, Any], names: tuple[str, ...]
) -> Select[Any]:
    """Add ``model.name == args[name]`` for each of names the request gave."""
    for name in names:
        if name in args:
            stmt = stmt.where(getattr(model, name) == args[name])
    return stmt


def page(
    session: Session,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> dict[str, Any]:
    """One page of ``stmt`` ordered by ``id_column``, with the cursor of the next page."""
    if cursor:
        last = decode_cursor(cursor)
        stmt = stmt.where(id_column < last if newest_first else id_column > last)
    stmt = stmt.order_by(id_column.desc() if newest_first else id_column).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}

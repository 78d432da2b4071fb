"""The health probe: is the app up and can it reach its database?"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy.exc import SQLAlchemyError

from wms.db import database

blp = Blueprint("health", __name__, url_prefix="/healthz", description="Liveness and readiness")


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "ok or unavailable"})
    database = fields.String(metadata={"description": "ok, or why it cannot be reached"})


@blp.route("", methods=["GET"])
@blp.doc(security=[])  # load balancers probe it without credentials
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database cannot be reached")
def health() -> Any:
    """Report whether the app can reach its database (200) or not (503)."""
    try:
        database().ping()
    except SQLAlchemyError as exc:
        current_app.logger.warning("health check failed: %s", exc)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return {"status": "unavailable", "database": reason}, 503
    return {"status": "ok", "database": "ok"}

"""Scans recorded as they happened on the handhelds (raw, parsed, who, where, result)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import (
    FLOOR,
    SUPERVISE,
    acting_user_id,
    request_key,
    require_named_site,
    visible_sites,
)
from api.auth import current_principal, require_role
from api.blueprint import Blueprint
from api.context import mutation
from api.pagination import page, where_equal
from api.schemas import CursorArgsSchema, GsStandIn, Id, StrictSchema, page_schema
from wms import scanning
from wms.db import transaction
from wms.models import ScanEvent

blp = Blueprint("scans", __name__, url_prefix="/api/v1", description="Scans from the handhelds")


class ScanCreateSchema(StrictSchema):
    raw = fields.String(required=True, validate=validate.Length(min=1, max=512))
    step = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "The page or step that took the scan: pick, receive, ..."},
    )
    result = fields.String(required=True, validate=validate.OneOf(scanning.SCAN_RESULTS))
    message = fields.String(load_default="", validate=validate.Length(max=255))
    device = fields.String(load_default="", validate=validate.Length(max=64))
    site_id = Id(load_default=None)
    separator = GsStandIn()


class ScanEventSchema(Schema):
    id = fields.Integer(dump_only=True)
    raw = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)
    parsed = fields.Dict(dump_only=True)
    step = fields.String(dump_only=True)
    result = fields.String(dump_only=True)
    message = fields.String(dump_only=True)
    user_id = fields.Integer(dump_only=True, allow_none=True)
    device = fields.String(dump_only=True)
    site_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


@blp.route("/scans", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(ScanCreateSchema)
@blp.response(201, ScanEventSchema)
def record_scan(args: dict[str, Any], *, session: Session) -> ScanEvent:
    """Record a scan and what the page made of it; one record per Idempotency-Key."""
    if args["site_id"] is not None:
        require_named_site(session, args["site_id"])
    return scanning.record_scan(
        session,
        args.pop("raw"),
        user_id=acting_user_id(),
        user_key=current_principal().key,
        idempotency_key=request_key(),
        **args,
    )


class ScanQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    user_id = Id(strict=False)
    result = fields.String(validate=validate.OneOf(scanning.SCAN_RESULTS))
    step = fields.String(validate=validate.Length(max=40))


@blp.route("/scans", methods=["GET"])
@require_role(*SUPERVISE, "planner")
@blp.arguments(ScanQueryArgsSchema, location="query")
@blp.response(200, page_schema(ScanEventSchema, "ScanEventPage"))
def list_scans(args: dict[str, Any]) -> dict[str, Any]:
    """The latest scans by site, user, result and page (errors first to look at)."""
    stmt = select(ScanEvent)
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(ScanEvent.site_id.in_(sites))
    stmt = where_equal(stmt, ScanEvent, args, ("site_id", "user_id", "result", "step"))
    with transaction(readonly=True) as session:
        return page(
            session,
            stmt,
            ScanEvent.id,
            limit=args["limit"],
            cursor=args["cursor"],
            newest_first=True,
        )

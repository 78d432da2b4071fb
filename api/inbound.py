"""Inbound and counts: receipts, putaway tasks, blind cycle counts, CSV imports."""

from __future__ import annotations

import io
from typing import Any

from flask import current_app, request
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.access import (
    FLOOR,
    ONBOARD,
    SUPERVISE,
    acting_user_id,
    request_key,
    require_named_site,
    require_site_of,
    visible_sites,
)
from api.auth import current_principal, require_role
from api.blueprint import Blueprint
from api.context import mutation
from api.pagination import page, where_equal
from api.schemas import (
    CountCreateSchema,
    CountDecisionSchema,
    CountSchema,
    CountSubmitSchema,
    CursorArgsSchema,
    GsStandIn,
    Id,
    ImportArgsSchema,
    ImportReportSchema,
    PutawayConfirmSchema,
    PutawayCreateSchema,
    ReceiptCreateSchema,
    ReceiptLineSchema,
    ReceiptSchema,
    ReceiveSchema,
    StrictSchema,
    TaskSchema,
    page_schema,
)
from wms import counting, imports, putaway, receiving, scope, tasks
from wms.db import transaction
from wms.errors import NotFound
from wms.models import (
    Receipt,
    ReceiptLine,
    ReceiptStatus,
    StockCount,
    Task,
    TaskKind,
    TaskStatus,
)

blp = Blueprint("inbound", __name__, url_prefix="/api/v1", description="Receiving, putaway, counts")

# --- receipts ---------------------------------------------------------------------------------


def _receipt(session: Session, receipt_id: int) -> Receipt:
    # Lines need their receipt for the variance; load both before the session closes.
    receipt = session.get(
        Receipt,
        receipt_id,
        options=[selectinload(Receipt.lines).joinedload(ReceiptLine.receipt)],
    )
    if receipt is None:
        raise NotFound(f"receipt {receipt_id} does not exist")
    return receipt


@blp.route("/receipts", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(ReceiptCreateSchema)
@blp.response(201, ReceiptSchema)
def create_receipt(args: dict[str, Any], *, session: Session) -> Receipt:
    """Open a receipt: against an ASN (expected lines) or blind (no lines)."""
    require_site_of(scope.known_site(session, args["site_id"]))
    lines = [receiving.ExpectedLine(**line) for line in args.pop("lines")]
    receipt = receiving.create_receipt(session, lines=lines, user_id=acting_user_id(), **args)
    return _receipt(session, receipt.id)


class ReceiptQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    number = fields.String(metadata={"description": "Exact receipt number, as scanned"})
    status = fields.Enum(ReceiptStatus, by_value=True)


@blp.route("/receipts", methods=["GET"])
@blp.arguments(ReceiptQueryArgsSchema, location="query")
@blp.response(200, page_schema(ReceiptSchema, "ReceiptPage"))
def list_receipts(args: dict[str, Any]) -> dict[str, Any]:
    """List receipts by site, number and status."""
    stmt = select(Receipt).options(selectinload(Receipt.lines).joinedload(ReceiptLine.receipt))
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Receipt.site_id.in_(sites))
    stmt = where_equal(stmt, Receipt, args, ("site_id", "number", "status"))
    with transaction(readonly=True) as session:
        return page(session, stmt, Receipt.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/receipts/<id:receipt_id>", methods=["GET"])
@blp.response(200, ReceiptSchema)
def get_receipt(receipt_id: int) -> Receipt:
    """One receipt with its lines: expected, received and the variance of each."""
    with transaction(readonly=True) as session:
        receipt = _receipt(session, receipt_id)
        require_site_of(receipt.site_id)
        return receipt


@blp.route("/receipts/<id:receipt_id>/lines", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(ReceiveSchema)
@blp.response(201, ReceiptLineSchema)
@blp.alt_response(409, response="CONFLICT", description="The receipt is closed")
def receive(args: dict[str, Any], receipt_id: int, *, session: Session) -> Any:
    """Record units that arrived; they land in the receipt's dock slot."""
    require_site_of(scope.site_of_receipt(session, receipt_id))
    return receiving.receive(
        session, receipt_id, user_id=acting_user_id(), idempotency_key=request_key(), **args
    )


class ReceiveScanSchema(StrictSchema):
    scan = fields.String(
        required=True,
        validate=validate.Length(min=1, max=512),
        metadata={"description": "The item barcode as scanned (GTIN or GS1 with lot/expiry)"},
    )
    quantity = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(1, 2**31 - 1),
        metadata={"description": "Scans of that barcode (a case barcode counts its units)"},
    )
    separator = GsStandIn()


@blp.route("/receipts/<id:receipt_id>/scanned-lines", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(ReceiveScanSchema)
@blp.response(201, ReceiptLineSchema)
@blp.alt_response(409, response="CONFLICT", description="The receipt is closed")
def receive_scan(args: dict[str, Any], receipt_id: int, *, session: Session) -> Any:
    """Record units by their scanned barcode: item, lot and expiry are read from it."""
    require_site_of(scope.site_of_receipt(session, receipt_id))
    return receiving.receive_scan(
        session, receipt_id, user_id=acting_user_id(), idempotency_key=request_key(), **args
    )


@blp.route("/receipts/<id:receipt_id>/close", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.response(200, ReceiptSchema)
def close_receipt(receipt_id: int, *, session: Session) -> Receipt:
    """Close a receipt; over- and under-receipts stay recorded on its lines."""
    require_site_of(scope.site_of_receipt(session, receipt_id))
    receiving.close_receipt(session, receipt_id, user_id=acting_user_id())
    return _receipt(session, receipt_id)


@blp.route("/receipts/<id:receipt_id>/cancel", methods=["POST"])
@require_role(*SUPERVISE)
@mutation()
@blp.response(200, ReceiptSchema)
def cancel_receipt(receipt_id: int, *, session: Session) -> Receipt:
    """Cancel a receipt that received nothing."""
    require_site_of(scope.site_of_receipt(session, receipt_id))
    receiving.cancel_receipt(session, receipt_id, user_id=acting_user_id())
    return _receipt(session, receipt_id)


# --- putaway ---------------------------------------------------------------------------------


class TaskQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    status = fields.Enum(TaskStatus, by_value=True)


@blp.route("/putaway-tasks", methods=["GET"])
@blp.arguments(TaskQueryArgsSchema, location="query")
@blp.response(200, page_schema(TaskSchema, "TaskPage"))
def list_putaway_tasks(args: dict[str, Any]) -> dict[str, Any]:
    """List putaway tasks by site and status."""
    stmt = select(Task).where(Task.kind == TaskKind.PUTAWAY)
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Task.site_id.in_(sites))
    stmt = where_equal(stmt, Task, args, ("site_id", "status"))
    with transaction(readonly=True) as session:
        return page(session, stmt, Task.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/putaway-tasks", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PutawayCreateSchema)
@blp.response(201, TaskSchema)
@blp.alt_response(409, response="CONFLICT", description="No slot fits these units")
def create_putaway_task(args: dict[str, Any], *, session: Session) -> Task:
    """Create a putaway task with the suggested destination slot."""
    require_site_of(scope.site_of_slot(session, args["from_slot_id"]))
    return putaway.create_putaway_task(session, user_id=acting_user_id(), **args)


class PutawayForScanSchema(StrictSchema):
    site_id = Id(required=True)
    scan = fields.String(
        required=True,
        validate=validate.Length(min=1, max=512),
        metadata={"description": "The item barcode scanned at the dock"},
    )
    separator = GsStandIn()


@blp.route("/putaway-tasks/for-scan", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PutawayForScanSchema)
@blp.response(200, TaskSchema)
@blp.alt_response(409, response="CONFLICT", description="Nothing of it waits at a dock")
def putaway_for_scan(args: dict[str, Any], *, session: Session) -> Task:
    """The putaway task for an item scanned at a dock: an open one, or one made for it."""
    require_named_site(session, args["site_id"])
    return putaway.task_for_scan(
        session,
        args["site_id"],
        args["scan"],
        user_id=acting_user_id(),
        separator=args["separator"],
    )


@blp.route("/putaway-tasks/<id:task_id>/confirm", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PutawayConfirmSchema)
@blp.response(200, TaskSchema)
@blp.alt_response(409, response="CONFLICT", description="Slot locked or full, or task done")
def confirm_putaway(args: dict[str, Any], task_id: int, *, session: Session) -> Task:
    """Confirm a putaway by the slot scanned (another valid slot than suggested is recorded)."""
    require_site_of(scope.site_of_task(session, task_id))
    return putaway.confirm_putaway(
        session, task_id, user_id=acting_user_id(), idempotency_key=request_key(), **args
    )


# --- move-type tasks, worked by scans (putaway, replenishment, move) ------------------------------


class MyTasksArgsSchema(StrictSchema):
    site_id = Id(strict=False, required=True)


class TaskCompleteSchema(StrictSchema):
    from_slot = fields.String(required=True, metadata={"description": "The source slot scanned"})
    item = fields.String(required=True, metadata={"description": "The item scanned (GTIN, GS1)"})
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, 2**31 - 1))
    to_slot = fields.String(required=True, metadata={"description": "The destination scanned"})
    separator = GsStandIn()


@blp.route("/tasks", methods=["GET"])
@blp.arguments(MyTasksArgsSchema, location="query")
@blp.response(200, TaskSchema(many=True))
def my_tasks(args: dict[str, Any]) -> list[Task]:
    """The site's open putaway, replenishment and move tasks that are yours or nobody's."""
    with transaction(readonly=True) as session:
        require_named_site(session, args["site_id"])
        return tasks.tasks_for(session, site_id=args["site_id"], user_id=acting_user_id())


@blp.route("/tasks/<id:task_id>/claim", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.response(200, TaskSchema)
@blp.alt_response(409, response="CONFLICT", description="Done, or someone else's")
def claim_task(task_id: int, *, session: Session) -> Task:
    """Take a task: it is yours until it is done."""
    require_site_of(scope.site_of_task(session, task_id))
    return tasks.claim(session, task_id, user_id=acting_user_id())


@blp.route("/tasks/<id:task_id>/complete", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(TaskCompleteSchema)
@blp.response(200, TaskSchema)
@blp.alt_response(409, response="CONFLICT", description="Done, someone else's, slot locked")
def complete_task(args: dict[str, Any], task_id: int, *, session: Session) -> Task:
    """Do (part of) a task from its scans; a wrong scan says what was expected (422)."""
    require_site_of(scope.site_of_task(session, task_id))
    return tasks.complete(
        session, task_id, user_id=acting_user_id(), idempotency_key=request_key(), **args
    )


# --- blind cycle counts --------------------------------------------------------------------------


def _count(session: Session, count_id: int) -> StockCount:
    count = session.get(StockCount, count_id, options=[selectinload(StockCount.lines)])
    if count is None:
        raise NotFound(f"count {count_id} does not exist")
    return count


@blp.route("/counts", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(CountCreateSchema)
@blp.response(201, CountSchema)
@blp.alt_response(409, response="CONFLICT", description="The slot already has a count open")
def start_count(args: dict[str, Any], *, session: Session) -> StockCount:
    """Start a blind count of a slot."""
    require_site_of(scope.site_of_slot(session, args["slot_id"]))
    count = counting.start_count(
        session, args["slot_id"], reason=args["reason"], user_id=acting_user_id()
    )
    return _count(session, count.id)


@blp.route("/counts/<id:count_id>", methods=["GET"])
@blp.response(200, CountSchema)
def get_count(count_id: int) -> StockCount:
    """One count; expected quantities appear only once it was submitted."""
    with transaction(readonly=True) as session:
        require_site_of(scope.site_of_count(session, count_id))
        return _count(session, count_id)


@blp.route("/counts/<id:count_id>/submit", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(CountSubmitSchema)
@blp.response(200, CountSchema)
def submit_count(args: dict[str, Any], count_id: int, *, session: Session) -> StockCount:
    """Submit what was counted; small variances apply at once, big ones wait for approval."""
    require_site_of(scope.site_of_count(session, count_id))
    counting.submit_count(
        session,
        count_id,
        lines=[counting.CountedLine(**line) for line in args["lines"]],
        variance_threshold=int(
            current_app.config.get("COUNT_APPROVAL_THRESHOLD", counting.DEFAULT_VARIANCE_THRESHOLD)
        ),
        user_id=acting_user_id(),
    )
    return _count(session, count_id)


@blp.route("/counts/<id:count_id>/approve", methods=["POST"])
@require_role(*SUPERVISE)
@mutation()
@blp.response(200, CountSchema)
def approve_count(count_id: int, *, session: Session) -> StockCount:
    """Approve a count's variance: on-hand becomes what was counted (supervisors)."""
    require_site_of(scope.site_of_count(session, count_id))
    counting.approve_count(session, count_id, user_id=acting_user_id())
    return _count(session, count_id)


@blp.route("/counts/<id:count_id>/reject", methods=["POST"])
@require_role(*SUPERVISE)
@mutation()
@blp.arguments(CountDecisionSchema)
@blp.response(200, CountSchema)
def reject_count(args: dict[str, Any], count_id: int, *, session: Session) -> StockCount:
    """Reject a count's variance; nothing changes and the slot stays flagged (supervisors)."""
    require_site_of(scope.site_of_count(session, count_id))
    counting.reject_count(session, count_id, user_id=acting_user_id(), reason=args["reason"])
    return _count(session, count_id)


@blp.route("/counts/<id:count_id>/cancel", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(CountDecisionSchema)
@blp.response(200, CountSchema)
@blp.alt_response(409, response="CONFLICT", description="Submitted already, or someone else's")
def cancel_count(args: dict[str, Any], count_id: int, *, session: Session) -> StockCount:
    """Give up a count not submitted yet: one's own, or anyone's for supervisors."""
    require_site_of(scope.site_of_count(session, count_id))
    counting.cancel_count(
        session,
        count_id,
        user_id=acting_user_id(),
        reason=args["reason"],
        anyones=current_principal().has_role(*SUPERVISE),
    )
    return _count(session, count_id)


# --- CSV imports ---------------------------------------------------------------------------------

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@blp.route("/imports/items", methods=["POST"])
@require_role(*ONBOARD)
@mutation()
@blp.arguments(ImportArgsSchema, location="query")
@blp.response(200, ImportReportSchema)
@blp.doc(**CSV_BODY)
def import_items(args: dict[str, Any], *, session: Session) -> imports.ImportReport:
    """Create or update items from a CSV body; all or nothing, every bad row reported (422)."""
    # A stream, never a str: the service reads a str as a path on this server's disk.
    return imports.import_items(session, io.BytesIO(request.get_data()), **args)


@blp.route("/imports/slots", methods=["POST"])
@require_role(*ONBOARD)
@mutation()
@blp.arguments(ImportArgsSchema, location="query")
@blp.response(200, ImportReportSchema)
@blp.doc(**CSV_BODY)
def import_slots(args: dict[str, Any], *, session: Session) -> imports.ImportReport:
    """Create or update slots from a CSV body; all or nothing, every bad row reported (422)."""
    return imports.import_slots(session, io.BytesIO(request.get_data()), **args)

"""Stock operations: moves, adjustments, slot locks, shipments, allocations and picks.

Each view checks who may act for which site, then hands over to one service call inside the
``mutation()`` unit of work (one transaction, idempotency, retries).
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.access import (
    FLOOR,
    PLAN,
    SUPERVISE,
    acting_user_id,
    request_key,
    require_site_of,
    require_site_of_named,
    visible_sites,
)
from api.auth import require_role
from api.blueprint import Blueprint
from api.context import mutation
from api.pagination import page, where_equal
from api.schemas import (
    AdjustmentCreateSchema,
    AllocationCreateSchema,
    AllocationResultSchema,
    AllocationSchema,
    CursorArgsSchema,
    Id,
    MoveCreateSchema,
    MovementSchema,
    MoveResultSchema,
    PickCreateSchema,
    PickResultSchema,
    ShipmentCreateSchema,
    SlotLockSchema,
    SlotSchema,
    page_schema,
)
from wms import allocation, picklists, scope, stock
from wms.db import transaction
from wms.models import Allocation, AllocationStatus, Slot

blp = Blueprint("operations", __name__, url_prefix="/api/v1", description="Stock operations")


@blp.route("/moves", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(MoveCreateSchema)
@blp.response(201, MoveResultSchema)
@blp.alt_response(409, response="CONFLICT", description="Not enough units, slot locked or full")
def create_move(args: dict[str, Any], *, session: Session) -> stock.MoveResult:
    """Move units of one item and lot from one slot to another."""
    require_site_of(scope.site_of_slot(session, args["from_slot_id"]))
    return stock.move(
        session,
        user_id=acting_user_id(),
        idempotency_key=request_key(),
        **args,
    )


@blp.route("/adjustments", methods=["POST"])
@require_role(*SUPERVISE)
@mutation()
@blp.arguments(AdjustmentCreateSchema)
@blp.response(201, MovementSchema)
@blp.alt_response(409, response="CONFLICT", description="Fewer units than the adjustment takes")
def create_adjustment(args: dict[str, Any], *, session: Session) -> Any:
    """Add or remove units with a reason code (damaged, lost, expired, found, correction)."""
    require_site_of(scope.site_of_slot(session, args["slot_id"]))
    return stock.adjust(session, user_id=acting_user_id(), idempotency_key=request_key(), **args)


@blp.route("/slots/<id:slot_id>/lock", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(SlotLockSchema)
@blp.response(200, SlotSchema)
def lock_slot(args: dict[str, Any], slot_id: int, *, session: Session) -> Slot:
    """Lock a slot: nothing is picked from it or put into it until it is unlocked."""
    require_site_of(scope.site_of_slot(session, slot_id))
    return stock.set_slot_lock(
        session, slot_id, locked=True, reason=args["reason"], user_id=acting_user_id()
    )


@blp.route("/slots/<id:slot_id>/unlock", methods=["POST"])
@require_role(*SUPERVISE)
@mutation()
@blp.response(200, SlotSchema)
def unlock_slot(slot_id: int, *, session: Session) -> Slot:
    """Unlock a slot (supervisors)."""
    require_site_of(scope.site_of_slot(session, slot_id))
    return stock.set_slot_lock(session, slot_id, locked=False, user_id=acting_user_id())


@blp.route("/shipments", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(ShipmentCreateSchema)
@blp.response(201, MovementSchema)
def create_shipment(args: dict[str, Any], *, session: Session) -> Any:
    """Ship units out of a staging or dock slot."""
    require_site_of(scope.site_of_slot(session, args["slot_id"]))
    return stock.ship(session, user_id=acting_user_id(), idempotency_key=request_key(), **args)


# --- allocations and picks -------------------------------------------------------------------


class AllocationQueryArgsSchema(CursorArgsSchema):
    order_line_id = Id(strict=False)
    stock_id = Id(strict=False)
    status = fields.Enum(AllocationStatus, by_value=True)


@blp.route("/allocations", methods=["GET"])
@blp.arguments(AllocationQueryArgsSchema, location="query")
@blp.response(200, page_schema(AllocationSchema, "AllocationPage"))
def list_allocations(args: dict[str, Any]) -> dict[str, Any]:
    """List allocations by order line, stock row or status."""
    stmt = select(Allocation).options(selectinload(Allocation.stock))
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Allocation.stock_id.in_(scope.stock_ids_at_sites(sites)))
    stmt = where_equal(stmt, Allocation, args, ("order_line_id", "stock_id", "status"))
    with transaction(readonly=True) as session:
        return page(session, stmt, Allocation.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/allocations", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.arguments(AllocationCreateSchema)
@blp.response(201, AllocationResultSchema)
@blp.alt_response(409, response="CONFLICT", description="No stock, or only expired stock")
def create_allocation(args: dict[str, Any], *, session: Session) -> allocation.AllocationResult:
    """Reserve stock for an order line (FEFO, FIFO, pick faces first, nearest); may be partial."""
    line_id = args["order_line_id"]
    require_site_of_named(
        scope.site_of_order_line(session, line_id),
        field="order_line_id",
        what="order line",
        value=line_id,
    )
    # Serialised inside this transaction, so each allocation's stock loads when dumped.
    return allocation.allocate(session, line_id, refuse_if_none=True)


@blp.route("/allocations/<id:allocation_id>/release", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.response(200, AllocationSchema)
@blp.alt_response(409, response="CONFLICT", description="Not open, or on a pick list")
def release_allocation(allocation_id: int, *, session: Session) -> Allocation:
    """Give an open allocation's units back to its stock row."""
    require_site_of(scope.site_of_allocation(session, allocation_id))
    picklists.guard_allocation(session, allocation_id)
    return allocation.release(session, allocation_id)


@blp.route("/picks", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PickCreateSchema)
@blp.response(201, PickResultSchema)
@blp.alt_response(
    409, response="CONFLICT", description="Already picked, slot locked, or on a pick list"
)
def create_pick(args: dict[str, Any], *, session: Session) -> allocation.PickResult:
    """Confirm a pick against an allocation; fewer units than allocated is a short pick."""
    require_site_of_named(
        scope.site_of_allocation(session, args["allocation_id"]),
        field="allocation_id",
        what="allocation",
        value=args["allocation_id"],
    )
    picklists.guard_allocation(session, args["allocation_id"])
    return allocation.confirm_pick(
        session,
        args["allocation_id"],
        quantity=args["quantity"],
        reason=args["reason"],
        user_id=acting_user_id(),
        idempotency_key=request_key(),
    )

"""Schemas shared by every API resource."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from api.blueprint import MAX_ID
from wms.models import (
    AllocationStatus,
    CountStatus,
    MovementKind,
    ReceiptKind,
    ReceiptStatus,
    SlotKind,
    SlotSide,
    TaskKind,
    TaskStatus,
    Temperature,
    VelocityClass,
)


class ProblemSchema(Schema):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type = fields.String(metadata={"description": "Stable identifier of the kind of problem"})
    title = fields.String(metadata={"description": "Short summary of the kind of problem"})
    status = fields.Integer(metadata={"description": "HTTP status code"})
    detail = fields.String(metadata={"description": "What went wrong with this request"})
    instance = fields.String(metadata={"description": "The path of the request"})
    field = fields.String(metadata={"description": "The request field at fault, if one is"})
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Validation messages per field, for 422 answers"},
    )


# --- inputs shared by list endpoints ------------------------------------------------------------


class StrictSchema(Schema):
    """Input schemas refuse fields they do not know (``unknown = RAISE``)."""

    class Meta:
        unknown = RAISE


class CursorArgsSchema(StrictSchema):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "Rows per page (1-500)"},
    )
    cursor = fields.String(
        load_default=None, metadata={"description": "next_cursor of the previous page"}
    )


# --- resources (dump only: ids, balances and timestamps are never writable) -------------------


class ItemBarcodeSchema(Schema):
    barcode = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True, metadata={"description": "Units one scan means"})


class ItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    sku = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    barcodes = fields.List(fields.Nested(ItemBarcodeSchema), dump_only=True)
    length_mm = fields.Integer(dump_only=True)
    width_mm = fields.Integer(dump_only=True)
    height_mm = fields.Integer(dump_only=True)
    weight_g = fields.Integer(dump_only=True)
    lot_tracked = fields.Boolean(dump_only=True)
    expiry_tracked = fields.Boolean(dump_only=True)
    shelf_life_days = fields.Integer(dump_only=True, allow_none=True)
    temperature = fields.Enum(Temperature, by_value=True, dump_only=True)
    velocity = fields.Enum(VelocityClass, by_value=True, dump_only=True)
    active = fields.Boolean(dump_only=True)


class SlotSchema(Schema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    zone_id = fields.Integer(dump_only=True)
    barcode = fields.String(dump_only=True)
    kind = fields.Enum(SlotKind, by_value=True, dump_only=True)
    block = fields.Integer(dump_only=True, allow_none=True)
    aisle = fields.Integer(dump_only=True, allow_none=True)
    bay = fields.Integer(dump_only=True, allow_none=True)
    side = fields.Enum(SlotSide, by_value=True, dump_only=True, allow_none=True)
    level = fields.Integer(dump_only=True, allow_none=True)
    volume_cm3 = fields.Integer(dump_only=True, allow_none=True)
    max_weight_g = fields.Integer(dump_only=True, allow_none=True)
    item_id = fields.Integer(dump_only=True, allow_none=True)
    min_qty = fields.Integer(dump_only=True, allow_none=True)
    max_qty = fields.Integer(dump_only=True, allow_none=True)
    locked = fields.Boolean(dump_only=True)
    lock_reason = fields.String(dump_only=True, allow_none=True)
    needs_count = fields.Boolean(dump_only=True)
    count_reason = fields.String(dump_only=True, allow_none=True)


class StockSchema(Schema):
    id = fields.Integer(dump_only=True)
    slot_id = fields.Integer(dump_only=True)
    slot_barcode = fields.String(dump_only=True, attribute="slot.barcode")
    item_id = fields.Integer(dump_only=True)
    sku = fields.String(dump_only=True, attribute="item.sku")
    lot = fields.String(dump_only=True)
    expiry = fields.Date(dump_only=True, allow_none=True)
    on_hand = fields.Integer(dump_only=True)
    reserved = fields.Integer(dump_only=True)
    available = fields.Integer(dump_only=True)
    received_at = fields.DateTime(dump_only=True)


class MovementSchema(Schema):
    id = fields.Integer(dump_only=True)
    stock_id = fields.Integer(dump_only=True)
    slot_id = fields.Integer(dump_only=True, attribute="stock.slot_id")
    item_id = fields.Integer(dump_only=True, attribute="stock.item_id")
    lot = fields.String(dump_only=True, attribute="stock.lot")
    kind = fields.Enum(MovementKind, by_value=True, dump_only=True)
    quantity = fields.Integer(dump_only=True)
    operation_id = fields.String(dump_only=True)
    user_id = fields.Integer(dump_only=True, allow_none=True)
    reason = fields.String(dump_only=True)
    reference = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A page of a list: its rows and the cursor of the next page (null on the last)."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), dump_only=True),
            "next_cursor": fields.String(dump_only=True, allow_none=True),
        },
        name=name,
    )


# --- operations ------------------------------------------------------------------------------


#: Quantities are 32-bit integers in the database.
MAX_QUANTITY = 2**31 - 1


def Id(*, strict: bool = True, **kwargs: Any) -> fields.Integer:
    """A database id field: a whole number from 1 to 2³¹-1 (query strings: ``strict=False``)."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _quantity(*, minimum: int = 1, **kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=minimum, max=MAX_QUANTITY),
        **kwargs,
    )


class MoveCreateSchema(StrictSchema):
    from_slot_id = Id(required=True)
    to_slot_id = Id(required=True)
    item_id = Id(required=True)
    lot = fields.String(load_default="")
    quantity = _quantity()
    reason = fields.String(load_default="", validate=validate.Length(max=255))


class MoveResultSchema(Schema):
    operation_id = fields.String(dump_only=True)
    taken = fields.Nested(MovementSchema, dump_only=True)
    put = fields.Nested(MovementSchema, dump_only=True)


class AdjustmentCreateSchema(StrictSchema):
    slot_id = Id(required=True)
    item_id = Id(required=True)
    lot = fields.String(load_default="")
    expiry = fields.Date(load_default=None)
    quantity = _quantity(
        minimum=-MAX_QUANTITY, metadata={"description": "Signed: negative takes units out"}
    )
    reason = fields.String(
        required=True, metadata={"description": "damaged, lost, expired, found or correction"}
    )
    note = fields.String(load_default="", validate=validate.Length(max=200))


class SlotLockSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))


class ShipmentCreateSchema(StrictSchema):
    slot_id = Id(required=True)
    item_id = Id(required=True)
    lot = fields.String(load_default="")
    quantity = _quantity()
    reference = fields.String(load_default=None, validate=validate.Length(max=120))


class AllocationSchema(Schema):
    id = fields.Integer(dump_only=True)
    order_line_id = fields.Integer(dump_only=True)
    stock_id = fields.Integer(dump_only=True)
    slot_id = fields.Integer(dump_only=True, attribute="stock.slot_id")
    quantity = fields.Integer(dump_only=True)
    picked_qty = fields.Integer(dump_only=True)
    status = fields.Enum(AllocationStatus, by_value=True, dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)


class AllocationCreateSchema(StrictSchema):
    order_line_id = Id(required=True)


class AllocationResultSchema(Schema):
    order_line_id = fields.Integer(dump_only=True)
    requested = fields.Integer(dump_only=True)
    allocated = fields.Integer(dump_only=True)
    short = fields.Integer(dump_only=True)
    reason = fields.String(dump_only=True, allow_none=True)
    allocations = fields.List(fields.Nested(AllocationSchema), dump_only=True)


class PickCreateSchema(StrictSchema):
    allocation_id = Id(required=True)
    quantity = _quantity(
        minimum=0, metadata={"description": "Units picked; fewer than allocated is a short pick"}
    )
    reason = fields.String(load_default="", validate=validate.Length(max=255))


class PickResultSchema(Schema):
    allocation = fields.Nested(AllocationSchema, dump_only=True)
    picked = fields.Integer(dump_only=True)
    missing = fields.Integer(dump_only=True)
    reallocated = fields.List(fields.Nested(AllocationSchema), dump_only=True)
    backordered = fields.Integer(dump_only=True)


# --- inbound, putaway and counts ----------------------------------------------------------------


class ExpectedLineSchema(StrictSchema):
    item_id = Id(required=True)
    quantity = _quantity()
    lot = fields.String(load_default="")
    expiry = fields.Date(load_default=None)


class ReceiptCreateSchema(StrictSchema):
    site_id = Id(required=True)
    dock_slot_id = Id(required=True)
    kind = fields.Enum(ReceiptKind, by_value=True, required=True)
    supplier = fields.String(load_default="", validate=validate.Length(max=120))
    reference = fields.String(load_default=None, validate=validate.Length(max=120))
    number = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    lines = fields.List(fields.Nested(ExpectedLineSchema), load_default=list)


class ReceiveSchema(ExpectedLineSchema):
    """Units that arrived for a receipt (the line is matched by item and lot)."""


class ReceiptLineSchema(Schema):
    id = fields.Integer(dump_only=True)
    line_no = fields.Integer(dump_only=True)
    item_id = fields.Integer(dump_only=True)
    lot = fields.String(dump_only=True)
    expiry = fields.Date(dump_only=True, allow_none=True)
    expected_qty = fields.Integer(dump_only=True, allow_none=True)
    received_qty = fields.Integer(dump_only=True)
    variance = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "+ over, - under receipt"}
    )


class ReceiptSchema(Schema):
    id = fields.Integer(dump_only=True)
    number = fields.String(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    kind = fields.Enum(ReceiptKind, by_value=True, dump_only=True)
    status = fields.Enum(ReceiptStatus, by_value=True, dump_only=True)
    supplier = fields.String(dump_only=True)
    reference = fields.String(dump_only=True, allow_none=True)
    dock_slot_id = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    lines = fields.List(fields.Nested(ReceiptLineSchema), dump_only=True)


class PutawayCreateSchema(StrictSchema):
    from_slot_id = Id(required=True)
    item_id = Id(required=True)
    lot = fields.String(load_default="")
    quantity = _quantity()
    reference = fields.String(load_default=None, validate=validate.Length(max=120))


class PutawayConfirmSchema(StrictSchema):
    to_slot_id = Id(required=True, metadata={"description": "The slot scanned; may differ"})
    quantity = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=1, max=MAX_QUANTITY)
    )


class TaskSchema(Schema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    kind = fields.Enum(TaskKind, by_value=True, dump_only=True)
    status = fields.Enum(TaskStatus, by_value=True, dump_only=True)
    item_id = fields.Integer(dump_only=True)
    lot = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True)
    done_qty = fields.Integer(dump_only=True)
    from_slot_id = fields.Integer(dump_only=True)
    to_slot_id = fields.Integer(dump_only=True, allow_none=True)
    done_slot_id = fields.Integer(dump_only=True, allow_none=True)
    reference = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    completed_at = fields.DateTime(dump_only=True, allow_none=True)


class CountCreateSchema(StrictSchema):
    slot_id = Id(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=255))


class CountedLineSchema(StrictSchema):
    item_id = Id(required=True)
    lot = fields.String(load_default="")
    expiry = fields.Date(load_default=None)
    quantity = _quantity(minimum=0)


class CountSubmitSchema(StrictSchema):
    lines = fields.List(fields.Nested(CountedLineSchema), required=True)


class CountDecisionSchema(StrictSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=255))


class CountLineSchema(Schema):
    item_id = fields.Integer(dump_only=True)
    lot = fields.String(dump_only=True)
    expiry = fields.Date(dump_only=True, allow_none=True)
    counted_qty = fields.Integer(dump_only=True)
    expected_qty = fields.Integer(dump_only=True)
    variance = fields.Integer(dump_only=True)


class CountSchema(Schema):
    """A cycle count. Blind: no expected quantity is shown before the count is submitted."""

    id = fields.Integer(dump_only=True)
    slot_id = fields.Integer(dump_only=True)
    status = fields.Enum(CountStatus, by_value=True, dump_only=True)
    reason = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    counted_at = fields.DateTime(dump_only=True, allow_none=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    lines = fields.List(fields.Nested(CountLineSchema), dump_only=True)


class ImportReportSchema(Schema):
    what = fields.String(dump_only=True)
    rows = fields.Integer(dump_only=True)
    created = fields.Integer(dump_only=True)
    updated = fields.Integer(dump_only=True)
    unchanged = fields.Integer(dump_only=True)
    dry_run = fields.Boolean(dump_only=True)


class ImportArgsSchema(StrictSchema):
    dry_run = fields.Boolean(load_default=False)
    delimiter = fields.String(load_default=None, validate=validate.OneOf([",", ";", "\t"]))

"""Schemas shared by every API resource."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from api.blueprint import MAX_ID
from wms.models import (
    AllocationStatus,
    CountStatus,
    MovementKind,
    OrderStatus,
    PackageStatus,
    PickListStatus,
    PickTaskStatus,
    ReceiptKind,
    ReceiptStatus,
    SlotKind,
    SlotSide,
    TaskKind,
    TaskStatus,
    Temperature,
    VelocityClass,
    WaveStatus,
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
    available = fields.Integer(
        metadata={"description": "Units there are to take, when a request asks for more"}
    )
    rule = fields.String(metadata={"description": "The rule a request breaks, when one is named"})
    expected = fields.String(metadata={"description": "What a scan step expected"})
    scanned = fields.String(metadata={"description": "The scan refused, as it was read"})


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
    # A query parameter is never null: left out means the first page; an empty one is refused.
    cursor = fields.String(
        load_default=None,
        allow_none=False,
        validate=validate.Length(min=1),
        metadata={"description": "next_cursor of the previous page"},
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


def GsStandIn() -> fields.String:
    """The optional stand-in a wedge types for the GS1 group separator: one character."""
    return fields.String(
        load_default=None,
        validate=validate.Length(equal=1),
        metadata={"description": "The stand-in the scanner types for the GS1 group separator"},
    )


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
    sku = fields.String(dump_only=True, attribute="item.sku")
    item_name = fields.String(dump_only=True, attribute="item.name")
    from_slot_id = fields.Integer(dump_only=True)
    from_slot_barcode = fields.String(dump_only=True, attribute="from_slot.barcode")
    to_slot_id = fields.Integer(dump_only=True, allow_none=True)
    to_slot_barcode = fields.String(
        dump_only=True,
        allow_none=True,
        attribute="to_slot.barcode",
        metadata={"description": "The suggested or required destination"},
    )
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


# --- orders, waves, pick lists, packages -------------------------------------------------------


PICKED_OR_LATER = (
    OrderStatus.PICKED,
    OrderStatus.PACKED,
    OrderStatus.DISPATCHED,
    OrderStatus.DELIVERED,
)


class OrderLineCreateSchema(StrictSchema):
    item_id = Id(load_default=None, metadata={"description": "The item, or give its sku"})
    sku = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    quantity = _quantity()


class OrderCreateSchema(StrictSchema):
    site_id = Id(required=True, metadata={"description": "The front warehouse that delivers"})
    number = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Your order number; one is made up when none is given"},
    )
    customer_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    phone = fields.String(load_default="", validate=validate.Length(max=32))
    address = fields.String(required=True, validate=validate.Length(min=1, max=255))
    latitude = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    promised_start = fields.AwareDateTime(required=True, format="iso")
    promised_end = fields.AwareDateTime(required=True, format="iso")
    priority = fields.Integer(strict=True, load_default=0, validate=validate.Range(-100, 100))
    lines = fields.List(
        fields.Nested(OrderLineCreateSchema),
        required=True,
        validate=validate.Length(min=1, max=500),
    )


class OrderLineSchema(Schema):
    id = fields.Integer(dump_only=True)
    line_no = fields.Integer(dump_only=True)
    item_id = fields.Integer(dump_only=True)
    sku = fields.String(dump_only=True, attribute="item.sku")
    quantity = fields.Integer(dump_only=True)
    picked_qty = fields.Integer(dump_only=True)


class OrderSchema(Schema):
    id = fields.Integer(dump_only=True)
    number = fields.String(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    customer_name = fields.String(dump_only=True)
    phone = fields.String(dump_only=True)
    address = fields.String(dump_only=True)
    latitude = fields.Float(dump_only=True)
    longitude = fields.Float(dump_only=True)
    promised_start = fields.DateTime(dump_only=True)
    promised_end = fields.DateTime(dump_only=True)
    priority = fields.Integer(dump_only=True)
    status = fields.Enum(OrderStatus, by_value=True, dump_only=True)
    wave_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    cancelled_at = fields.DateTime(dump_only=True, allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema), dump_only=True)
    short = fields.Function(
        lambda o: (
            o.status in PICKED_OR_LATER and any(ln.picked_qty < ln.quantity for ln in o.lines)
        ),
        dump_only=True,
        metadata={"description": "Picked with units missing (a short pick found no stock)"},
    )


class WaveSettingsSchema(StrictSchema):
    """How to cut the wave; every field defaults to the site's configuration."""

    horizon_minutes = fields.Float(
        load_default=None,
        validate=validate.Range(min=0, max=24 * 60),
        metadata={"description": "Plan orders whose pick cut-off falls before now + this"},
    )
    max_orders = fields.Integer(strict=True, load_default=None, validate=validate.Range(1, 20_000))
    cart_totes = fields.Integer(strict=True, load_default=None, validate=validate.Range(1, 64))
    cart_max_weight_g = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(1, 1_000_000)
    )
    tote_volume_cm3 = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(1, 1_000_000)
    )


class WavePlanCreateSchema(WaveSettingsSchema):
    site_id = Id(required=True)
    order_ids = fields.List(
        Id(),
        load_default=None,
        validate=validate.Length(min=1, max=20_000),
        metadata={"description": "Plan exactly these orders; default: the site's due orders"},
    )


class PickListSummarySchema(Schema):
    id = fields.Integer(dump_only=True, allow_none=True)
    number = fields.String(dump_only=True)
    sequence = fields.Integer(dump_only=True)
    temperature = fields.Enum(Temperature, by_value=True, dump_only=True)
    status = fields.Enum(PickListStatus, by_value=True, dump_only=True)
    totes = fields.Integer(dump_only=True)
    weight_g = fields.Integer(dump_only=True)
    walk_m = fields.Float(dump_only=True, allow_none=True)
    path_method = fields.String(dump_only=True)
    tasks = fields.Function(
        lambda pl: sum(t.status is not PickTaskStatus.CANCELLED for t in pl.tasks),
        dump_only=True,
    )
    assigned_to = fields.Integer(dump_only=True, allow_none=True)


class WaveSchema(Schema):
    id = fields.Integer(dump_only=True)
    number = fields.String(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    status = fields.Enum(WaveStatus, by_value=True, dump_only=True)
    cutoff_until = fields.DateTime(dump_only=True)
    cart_totes = fields.Integer(dump_only=True)
    cart_max_weight_g = fields.Integer(dump_only=True, allow_none=True)
    cart_max_volume_cm3 = fields.Integer(dump_only=True, allow_none=True)
    orders_count = fields.Integer(dump_only=True)
    lines_count = fields.Integer(dump_only=True)
    pick_lists_count = fields.Function(lambda w: len(w.pick_lists), dump_only=True)
    walk_m = fields.Float(dump_only=True)
    single_order_walk_m = fields.Float(
        dump_only=True, metadata={"description": "The walk of picking each order alone"}
    )
    saving_pct = fields.Function(
        lambda w: (
            round(100 * (1 - w.walk_m / w.single_order_walk_m), 1)
            if w.single_order_walk_m
            else None
        ),
        dump_only=True,
        metadata={"description": "How much less the wave walks than single-order picking"},
    )
    order_ids = fields.Function(
        lambda w: sorted({t.order_id for pl in w.pick_lists for t in pl.tasks}),
        dump_only=True,
        metadata={"description": "The orders planned into it (kept after a cancel)"},
    )
    pick_lists = fields.List(fields.Nested(PickListSummarySchema), dump_only=True)
    planned_at = fields.DateTime(dump_only=True)
    released_at = fields.DateTime(dump_only=True, allow_none=True)
    completed_at = fields.DateTime(dump_only=True, allow_none=True)
    cancelled_at = fields.DateTime(dump_only=True, allow_none=True)


class SkippedSchema(Schema):
    order_id = fields.Integer(dump_only=True)
    number = fields.String(dump_only=True)
    reason = fields.String(
        dump_only=True,
        metadata={
            "description": "not_due, window_missed, no_stock, expired_stock, held_stock, "
            "locked_slot, wave_full or not_plannable"
        },
    )
    detail = fields.String(dump_only=True)


class WavePlanSchema(Schema):
    wave = fields.Nested(WaveSchema, dump_only=True, allow_none=True)
    skipped = fields.List(fields.Nested(SkippedSchema), dump_only=True)


class PickTaskSchema(Schema):
    id = fields.Integer(dump_only=True)
    sequence = fields.Integer(dump_only=True)
    status = fields.Enum(PickTaskStatus, by_value=True, dump_only=True)
    order_id = fields.Integer(dump_only=True)
    order_number = fields.String(dump_only=True, attribute="order.number")
    order_line_id = fields.Integer(dump_only=True)
    allocation_id = fields.Integer(dump_only=True)
    slot_id = fields.Integer(dump_only=True)
    slot_barcode = fields.String(dump_only=True, attribute="slot.barcode")
    aisle = fields.Integer(dump_only=True, attribute="slot.aisle", allow_none=True)
    bay = fields.Integer(dump_only=True, attribute="slot.bay", allow_none=True)
    side = fields.Enum(SlotSide, by_value=True, dump_only=True, attribute="slot.side")
    level = fields.Integer(dump_only=True, attribute="slot.level", allow_none=True)
    item_id = fields.Integer(dump_only=True)
    sku = fields.String(dump_only=True, attribute="item.sku")
    item_name = fields.String(dump_only=True, attribute="item.name")
    lot = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True)
    picked_qty = fields.Integer(dump_only=True)
    tote = fields.Integer(dump_only=True, metadata={"description": "Tote position on the cart"})
    tote_code = fields.String(dump_only=True, metadata={"description": "The tote's label"})
    short_reason = fields.String(dump_only=True)
    done_at = fields.DateTime(dump_only=True, allow_none=True)


class PickListSchema(PickListSummarySchema):
    wave_id = fields.Integer(dump_only=True)
    started_at = fields.DateTime(dump_only=True, allow_none=True)
    done_at = fields.DateTime(dump_only=True, allow_none=True)
    done = fields.Function(
        lambda pl: sum(t.status is not PickTaskStatus.OPEN for t in pl.tasks), dump_only=True
    )
    tasks = fields.Function(
        lambda pl: PickTaskSchema(many=True).dump(
            [t for t in pl.tasks if t.status is not PickTaskStatus.CANCELLED]
        ),
        dump_only=True,
        metadata={"description": "In walking order; withdrawn tasks are left out"},
    )


class PickListNextSchema(StrictSchema):
    site_id = Id(required=True)
    temperature = fields.Enum(Temperature, by_value=True, load_default=None)


class TaskConfirmSchema(StrictSchema):
    quantity = _quantity(
        minimum=0, metadata={"description": "Units picked; fewer than the task's is a short pick"}
    )
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=255),
        metadata={"description": "Why fewer were found (required on a short pick)"},
    )


class PackageOpenSchema(StrictSchema):
    tote = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "The scanned tote label, T<pick list>-<position>"},
    )


class PackageLineCreateSchema(StrictSchema):
    order_line_id = Id(required=True)
    quantity = _quantity()


class PackageCloseSchema(StrictSchema):
    weight_g = fields.Integer(strict=True, load_default=None, validate=validate.Range(1, 10**7))


class PackageLineSchema(Schema):
    order_line_id = fields.Integer(dump_only=True)
    sku = fields.String(dump_only=True, attribute="order_line.item.sku")
    quantity = fields.Integer(dump_only=True)


class PackageSchema(Schema):
    id = fields.Integer(dump_only=True)
    order_id = fields.Integer(dump_only=True)
    order_number = fields.String(dump_only=True, attribute="order.number")
    order_status = fields.Enum(OrderStatus, by_value=True, dump_only=True, attribute="order.status")
    status = fields.Enum(PackageStatus, by_value=True, dump_only=True)
    sscc = fields.String(dump_only=True, allow_none=True)
    totes = fields.List(fields.String(), dump_only=True)
    weight_g = fields.Integer(dump_only=True)
    lines = fields.List(fields.Nested(PackageLineSchema), dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)

"""Read the inventory: items, slots, stock and the ledger (movements)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.access import require_site_of, visible_sites
from api.blueprint import Blueprint
from api.pagination import page, where_equal
from api.schemas import (
    CursorArgsSchema,
    GsStandIn,
    Id,
    ItemSchema,
    MovementSchema,
    SlotSchema,
    StockSchema,
    StrictSchema,
    page_schema,
)
from wms import scanning, scope
from wms.db import transaction
from wms.errors import NotFound
from wms.models import (
    Item,
    ItemBarcode,
    Movement,
    MovementKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
)

blp = Blueprint("inventory", __name__, url_prefix="/api/v1", description="Items, slots, stock")


class ItemQueryArgsSchema(CursorArgsSchema):
    sku = fields.String(metadata={"description": "Exact SKU"})
    gtin = fields.String(metadata={"description": "Any barcode of the item"})
    q = fields.String(metadata={"description": "Part of the name or SKU"})
    temperature = fields.Enum(Temperature, by_value=True)


class SlotQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    kind = fields.Enum(SlotKind, by_value=True)
    barcode = fields.String()
    locked = fields.Boolean()
    needs_count = fields.Boolean()


class StockQueryArgsSchema(CursorArgsSchema):
    item_id = Id(strict=False)
    slot_id = Id(strict=False)
    site_id = Id(strict=False)
    lot = fields.String()
    expiry_before = fields.Date(metadata={"description": "Only rows expiring before this day"})
    include_empty = fields.Boolean(load_default=False, metadata={"description": "Rows at 0"})


class MovementQueryArgsSchema(CursorArgsSchema):
    stock_id = Id(strict=False)
    item_id = Id(strict=False)
    slot_id = Id(strict=False)
    kind = fields.Enum(MovementKind, by_value=True)
    operation_id = fields.String()
    since = fields.AwareDateTime(metadata={"description": "Created at or after (ISO 8601)"})
    until = fields.AwareDateTime(metadata={"description": "Created before (ISO 8601)"})


class ScanArgsSchema(StrictSchema):
    separator = GsStandIn()


class ScannedItemSchema(Schema):
    item = fields.Nested(ItemSchema, dump_only=True)
    units = fields.Integer(
        dump_only=True, metadata={"description": "Units this scan stands for (pack size x count)"}
    )
    lot = fields.String(dump_only=True, allow_none=True)
    expiry = fields.Date(dump_only=True, allow_none=True)
    serial = fields.String(dump_only=True, allow_none=True)


ItemPageSchema = page_schema(ItemSchema, "ItemPage")
SlotPageSchema = page_schema(SlotSchema, "SlotPage")
StockPageSchema = page_schema(StockSchema, "StockPage")
MovementPageSchema = page_schema(MovementSchema, "MovementPage")


@blp.route("/items", methods=["GET"])
@blp.arguments(ItemQueryArgsSchema, location="query")
@blp.response(200, ItemPageSchema)
def list_items(args: dict[str, Any]) -> dict[str, Any]:
    """List items, filtered by SKU, barcode, name or temperature."""
    stmt = select(Item).options(selectinload(Item.barcodes))
    if "sku" in args:
        stmt = stmt.where(Item.sku == args["sku"])
    if "gtin" in args:
        stmt = stmt.where(
            Item.id.in_(select(ItemBarcode.item_id).where(ItemBarcode.barcode == args["gtin"]))
        )
    if "q" in args:
        pattern = f"%{args['q']}%"
        stmt = stmt.where(Item.name.ilike(pattern) | Item.sku.ilike(pattern))
    if "temperature" in args:
        stmt = stmt.where(Item.temperature == args["temperature"])
    with transaction(readonly=True) as session:
        return page(session, stmt, Item.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/items/<id:item_id>", methods=["GET"])
@blp.response(200, ItemSchema)
def get_item(item_id: int) -> Item:
    """One item with its barcodes."""
    with transaction(readonly=True) as session:
        item = session.get(Item, item_id, options=[selectinload(Item.barcodes)])
        if item is None:
            raise NotFound(f"item {item_id} does not exist")
        return item


@blp.route("/items/scan/<path:raw>", methods=["GET"])
@blp.arguments(ScanArgsSchema, location="query")
@blp.response(200, ScannedItemSchema)
def scan_item(args: dict[str, Any], raw: str) -> dict[str, Any]:
    """Look an item up by a raw scan: GTIN, GS1-128 or GS1 DataMatrix (404 if unknown)."""
    scan = scanning.parse_scan(raw, separator=args.get("separator"))
    with transaction(readonly=True) as session:
        item, units = scanning.find_item(session, scan)
        item.barcodes  # load them before the session closes  # noqa: B018
    return {"item": item, "units": units, "lot": scan.lot, "expiry": scan.expiry,
            "serial": scan.serial}  # fmt: skip


@blp.route("/slots", methods=["GET"])
@blp.arguments(SlotQueryArgsSchema, location="query")
@blp.response(200, SlotPageSchema)
def list_slots(args: dict[str, Any]) -> dict[str, Any]:
    """List slots by site, kind, barcode, lock or count flag."""
    stmt = select(Slot)
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Slot.site_id.in_(sites))
    stmt = where_equal(stmt, Slot, args, ("site_id", "kind", "barcode", "locked", "needs_count"))
    with transaction(readonly=True) as session:
        return page(session, stmt, Slot.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/slots/<id:slot_id>", methods=["GET"])
@blp.response(200, SlotSchema)
def get_slot(slot_id: int) -> Slot:
    """One slot."""
    with transaction(readonly=True) as session:
        slot = session.get(Slot, slot_id)
        if slot is None:
            raise NotFound(f"slot {slot_id} does not exist")
        require_site_of(slot.site_id)
        return slot


@blp.route("/slots/scan/<path:barcode>", methods=["GET"])
@blp.response(200, SlotSchema)
def scan_slot(barcode: str) -> Slot:
    """Look a slot up by its barcode (404 naming the scanned value if unknown)."""
    with transaction(readonly=True) as session:
        slot = scanning.find_slot(session, barcode)
        require_site_of(slot.site_id)
        return slot


@blp.route("/stock", methods=["GET"])
@blp.arguments(StockQueryArgsSchema, location="query")
@blp.response(200, StockPageSchema)
def list_stock(args: dict[str, Any]) -> dict[str, Any]:
    """List stock rows by item, slot, site, lot or expiry; empty rows only on request."""
    stmt = select(Stock).options(selectinload(Stock.slot), selectinload(Stock.item))
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Stock.slot_id.in_(select(Slot.id).where(Slot.site_id.in_(sites))))
    stmt = where_equal(stmt, Stock, args, ("item_id", "slot_id", "lot"))
    if "site_id" in args:
        stmt = stmt.where(Stock.slot_id.in_(select(Slot.id).where(Slot.site_id == args["site_id"])))
    if "expiry_before" in args:
        stmt = stmt.where(Stock.expiry < args["expiry_before"])
    if not args["include_empty"]:
        stmt = stmt.where(Stock.on_hand > 0)
    with transaction(readonly=True) as session:
        return page(session, stmt, Stock.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/movements", methods=["GET"])
@blp.arguments(MovementQueryArgsSchema, location="query")
@blp.response(200, MovementPageSchema)
def list_movements(args: dict[str, Any]) -> dict[str, Any]:
    """Read the ledger, newest first, filtered by row, item, slot, kind, operation or time."""
    stmt = select(Movement).options(selectinload(Movement.stock))
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Movement.stock_id.in_(scope.stock_ids_at_sites(sites)))
    stmt = where_equal(stmt, Movement, args, ("stock_id", "kind", "operation_id"))
    if "item_id" in args:
        stmt = stmt.where(
            Movement.stock_id.in_(select(Stock.id).where(Stock.item_id == args["item_id"]))
        )
    if "slot_id" in args:
        stmt = stmt.where(
            Movement.stock_id.in_(select(Stock.id).where(Stock.slot_id == args["slot_id"]))
        )
    if "since" in args:
        stmt = stmt.where(Movement.created_at >= args["since"])
    if "until" in args:
        stmt = stmt.where(Movement.created_at < args["until"])
    with transaction(readonly=True) as session:
        return page(
            session, stmt, Movement.id, limit=args["limit"], cursor=args["cursor"],
            newest_first=True,
        )  # fmt: skip

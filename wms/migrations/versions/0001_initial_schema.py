"""initial schema: network, items, stock ledger, orders, people, carriers

Revision ID: 0001
Revises:
Create Date: 2026-11-22

The movement table is the stock ledger: triggers refuse UPDATE and DELETE on it, so not even a
hand-written query can edit history (autogenerate does not see triggers; they live here).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "associate",
                "supervisor",
                "planner",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("badge_hmac", sa.String(length=64), nullable=True),
        sa.Column("pin_hash", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("badge_hmac", name=op.f("uq_app_user_badge_hmac")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "carrier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("contact_email", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier")),
        sa.UniqueConstraint("code", name=op.f("uq_carrier_code")),
    )
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("length_mm", sa.Integer(), nullable=False),
        sa.Column("width_mm", sa.Integer(), nullable=False),
        sa.Column("height_mm", sa.Integer(), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("lot_tracked", sa.Boolean(), nullable=False),
        sa.Column("expiry_tracked", sa.Boolean(), nullable=False),
        sa.Column("shelf_life_days", sa.Integer(), nullable=True),
        sa.Column(
            "temperature",
            sa.Enum(
                "ambient",
                "chilled",
                "frozen",
                name="temperature",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "velocity",
            sa.Enum(
                "A", "B", "C", name="velocity_class", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "NOT expiry_tracked OR lot_tracked", name=op.f("ck_item_expiry_needs_lot")
        ),
        sa.CheckConstraint(
            "length_mm > 0 AND width_mm > 0 AND height_mm > 0", name=op.f("ck_item_dims_positive")
        ),
        sa.CheckConstraint(
            "shelf_life_days IS NULL OR shelf_life_days > 0", name=op.f("ck_item_shelf_life")
        ),
        sa.CheckConstraint("weight_g > 0", name=op.f("ck_item_weight_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item")),
        sa.UniqueConstraint("sku", name=op.f("uq_item_sku")),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "central_dc",
                "front_warehouse",
                name="site_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("layout", sa.JSON(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_site_latitude_range")),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name=op.f("ck_site_longitude_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("code", name=op.f("uq_site_code")),
    )
    op.create_table(
        "customer_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("customer_name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("promised_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promised_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "backordered",
                "allocated",
                "in_wave",
                "picked",
                "packed",
                "dispatched",
                "delivered",
                "failed_delivery",
                "returned",
                "cancelled",
                name="order_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90", name=op.f("ck_customer_order_latitude_range")
        ),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_customer_order_longitude_range")
        ),
        sa.CheckConstraint(
            "promised_end > promised_start", name=op.f("ck_customer_order_window_order")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_customer_order_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_order")),
        sa.UniqueConstraint("number", name=op.f("uq_customer_order_number")),
    )
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.create_index("ix_customer_order_promised_start", ["promised_start"], unique=False)
        batch_op.create_index("ix_customer_order_site_status", ["site_id", "status"], unique=False)

    op.create_table(
        "item_barcode",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_item_barcode_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_item_barcode_item_id_item"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_barcode")),
        sa.UniqueConstraint("barcode", name=op.f("uq_item_barcode_barcode")),
    )
    with op.batch_alter_table("item_barcode", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_barcode_item_id"), ["item_id"], unique=False)

    op.create_table(
        "user_site",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_user_site_site_id_site"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_site_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "site_id", name=op.f("pk_user_site")),
    )
    op.create_table(
        "vehicle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cargo_bike",
                "scooter",
                "van",
                "truck",
                name="vehicle_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("capacity_totes", sa.Integer(), nullable=False),
        sa.Column("capacity_kg", sa.Integer(), nullable=False),
        sa.Column("chilled", sa.Boolean(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("shift_start", sa.Time(), nullable=False),
        sa.Column("shift_end", sa.Time(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("NOT frozen OR chilled", name=op.f("ck_vehicle_frozen_implies_chilled")),
        sa.CheckConstraint("capacity_kg > 0", name=op.f("ck_vehicle_kg_positive")),
        sa.CheckConstraint("capacity_totes > 0", name=op.f("ck_vehicle_totes_positive")),
        sa.CheckConstraint("shift_end > shift_start", name=op.f("ck_vehicle_shift_order")),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carrier.id"], name=op.f("fk_vehicle_carrier_id_carrier")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_vehicle_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle")),
        sa.UniqueConstraint("carrier_id", "code", name=op.f("uq_vehicle_carrier_id_code")),
    )
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vehicle_site_id"), ["site_id"], unique=False)

    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "temperature",
            sa.Enum(
                "ambient",
                "chilled",
                "frozen",
                name="temperature",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_zone_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_zone_site_id_code")),
    )
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zone_site_id"), ["site_id"], unique=False)

    op.create_table(
        "order_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked_qty", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "picked_qty >= 0 AND picked_qty <= quantity", name=op.f("ck_order_line_picked_within")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_line_quantity_positive")),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_order_line_item_id_item")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["customer_order.id"], name=op.f("fk_order_line_order_id_customer_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line")),
        sa.UniqueConstraint("order_id", "line_no", name=op.f("uq_order_line_order_id_line_no")),
    )
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_line_item_id"), ["item_id"], unique=False)

    op.create_table(
        "slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "pick_face",
                "reserve",
                "staging",
                "dock",
                "pack",
                name="slot_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("block", sa.Integer(), nullable=True),
        sa.Column("aisle", sa.Integer(), nullable=True),
        sa.Column("bay", sa.Integer(), nullable=True),
        sa.Column(
            "side",
            sa.Enum("L", "R", name="slot_side", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("volume_cm3", sa.Integer(), nullable=True),
        sa.Column("max_weight_g", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("min_qty", sa.Integer(), nullable=True),
        sa.Column("max_qty", sa.Integer(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("lock_reason", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "(min_qty IS NULL AND max_qty IS NULL) OR kind = 'pick_face'",
            name=op.f("ck_slot_min_max_only_on_pick_faces"),
        ),
        sa.CheckConstraint("aisle IS NULL OR aisle >= 1", name=op.f("ck_slot_aisle_positive")),
        sa.CheckConstraint("bay IS NULL OR bay >= 1", name=op.f("ck_slot_bay_positive")),
        sa.CheckConstraint("block IS NULL OR block >= 1", name=op.f("ck_slot_block_positive")),
        sa.CheckConstraint("level IS NULL OR level >= 1", name=op.f("ck_slot_level_positive")),
        sa.CheckConstraint(
            "max_qty IS NULL OR (max_qty > 0 AND (min_qty IS NULL OR min_qty <= max_qty))",
            name=op.f("ck_slot_min_le_max"),
        ),
        sa.CheckConstraint(
            "max_weight_g IS NULL OR max_weight_g > 0", name=op.f("ck_slot_weight_positive")
        ),
        sa.CheckConstraint(
            "min_qty IS NULL OR min_qty >= 0", name=op.f("ck_slot_min_qty_nonnegative")
        ),
        sa.CheckConstraint(
            "volume_cm3 IS NULL OR volume_cm3 > 0", name=op.f("ck_slot_volume_positive")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_slot_item_id_item")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_slot_site_id_site")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_slot_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot")),
        sa.UniqueConstraint("barcode", name=op.f("uq_slot_barcode")),
        sa.UniqueConstraint(
            "site_id",
            "aisle",
            "bay",
            "side",
            "level",
            name=op.f("uq_slot_site_id_aisle_bay_side_level"),
        ),
    )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slot_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_slot_site_id"), ["site_id"], unique=False)
        batch_op.create_index("ix_slot_site_kind", ["site_id", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_slot_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "stock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_on_hand_nonnegative")),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= on_hand", name=op.f("ck_stock_reserved_within_on_hand")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_stock_item_id_item")),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"], name=op.f("fk_stock_slot_id_slot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock")),
        sa.UniqueConstraint("slot_id", "item_id", "lot", name=op.f("uq_stock_slot_id_item_id_lot")),
    )
    with op.batch_alter_table("stock", schema=None) as batch_op:
        batch_op.create_index("ix_stock_item_expiry", ["item_id", "expiry"], unique=False)
        batch_op.create_index(batch_op.f("ix_stock_slot_id"), ["slot_id"], unique=False)

    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("stock_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "picked",
                "released",
                name="allocation_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_allocation_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_line.id"],
            name=op.f("fk_allocation_order_line_id_order_line"),
        ),
        sa.ForeignKeyConstraint(
            ["stock_id"], ["stock.id"], name=op.f("fk_allocation_stock_id_stock")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation")),
    )
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocation_order_line_id"), ["order_line_id"], unique=False
        )
        batch_op.create_index("ix_allocation_stock_status", ["stock_id", "status"], unique=False)

    op.create_table(
        "movement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stock_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "receipt",
                "putaway",
                "move",
                "pick",
                "adjust",
                "count",
                "transfer",
                "ship",
                "return",
                name="movement_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_movement_quantity_nonzero")),
        sa.ForeignKeyConstraint(
            ["stock_id"], ["stock.id"], name=op.f("fk_movement_stock_id_stock")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_movement_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movement")),
    )
    with op.batch_alter_table("movement", schema=None) as batch_op:
        batch_op.create_index("ix_movement_created", ["created_at"], unique=False)
        batch_op.create_index("ix_movement_operation", ["operation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_movement_stock_id"), ["stock_id"], unique=False)

    _create_ledger_guards()


def downgrade() -> None:
    _drop_ledger_guards()
    with op.batch_alter_table("movement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_movement_stock_id"))
        batch_op.drop_index("ix_movement_operation")
        batch_op.drop_index("ix_movement_created")

    op.drop_table("movement")
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.drop_index("ix_allocation_stock_status")
        batch_op.drop_index(batch_op.f("ix_allocation_order_line_id"))

    op.drop_table("allocation")
    with op.batch_alter_table("stock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_slot_id"))
        batch_op.drop_index("ix_stock_item_expiry")

    op.drop_table("stock")
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_zone_id"))
        batch_op.drop_index("ix_slot_site_kind")
        batch_op.drop_index(batch_op.f("ix_slot_site_id"))
        batch_op.drop_index(batch_op.f("ix_slot_item_id"))

    op.drop_table("slot")
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_line_item_id"))

    op.drop_table("order_line")
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_site_id"))

    op.drop_table("zone")
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vehicle_site_id"))

    op.drop_table("vehicle")
    op.drop_table("user_site")
    with op.batch_alter_table("item_barcode", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_barcode_item_id"))

    op.drop_table("item_barcode")
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_order_site_status")
        batch_op.drop_index("ix_customer_order_promised_start")

    op.drop_table("customer_order")
    op.drop_table("site")
    op.drop_table("item")
    op.drop_table("carrier")
    op.drop_table("app_user")


LEDGER_GUARD_MESSAGE = "the stock ledger is append-only: movements are never updated or deleted"


def _create_ledger_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION movement_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{LEDGER_GUARD_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END $$;
            """
        )
        op.execute(
            "CREATE TRIGGER movement_append_only BEFORE UPDATE OR DELETE ON movement "
            "FOR EACH ROW EXECUTE FUNCTION movement_append_only()"
        )
    elif dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER movement_no_{event.lower()} BEFORE {event} ON movement "
                f"BEGIN SELECT RAISE(ABORT, '{LEDGER_GUARD_MESSAGE}'); END"
            )


def _drop_ledger_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS movement_append_only ON movement")
        op.execute("DROP FUNCTION IF EXISTS movement_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS movement_no_update")
        op.execute("DROP TRIGGER IF EXISTS movement_no_delete")

"""waves, pick lists, pick tasks, packages; orders know their wave

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "wave",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "released",
                "completed",
                "cancelled",
                name="wave_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("cutoff_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cart_totes", sa.Integer(), nullable=False),
        sa.Column("cart_max_weight_g", sa.Integer(), nullable=True),
        sa.Column("cart_max_volume_cm3", sa.Integer(), nullable=True),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("lines_count", sa.Integer(), nullable=False),
        sa.Column("walk_m", sa.Float(), nullable=False),
        sa.Column("single_order_walk_m", sa.Float(), nullable=False),
        sa.Column("planned_by", sa.Integer(), nullable=True),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("cart_totes > 0", name=op.f("ck_wave_cart_totes_positive")),
        sa.ForeignKeyConstraint(
            ["planned_by"], ["app_user.id"], name=op.f("fk_wave_planned_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["released_by"], ["app_user.id"], name=op.f("fk_wave_released_by_app_user")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_wave_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wave")),
        sa.UniqueConstraint("number", name=op.f("uq_wave_number")),
    )
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.create_index("ix_wave_site_status", ["site_id", "status"], unique=False)

    op.create_table(
        "pick_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
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
            "status",
            sa.Enum(
                "planned",
                "open",
                "in_progress",
                "done",
                "cancelled",
                name="pick_list_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("totes", sa.Integer(), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("volume_cm3", sa.Integer(), nullable=False),
        sa.Column("walk_m", sa.Float(), nullable=True),
        sa.Column("path_method", sa.String(length=16), nullable=False),
        sa.Column("assigned_to", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("totes > 0", name=op.f("ck_pick_list_totes_positive")),
        sa.ForeignKeyConstraint(
            ["assigned_to"], ["app_user.id"], name=op.f("fk_pick_list_assigned_to_app_user")
        ),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"], name=op.f("fk_pick_list_wave_id_wave")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_list")),
        sa.UniqueConstraint("number", name=op.f("uq_pick_list_number")),
        sa.UniqueConstraint("wave_id", "sequence", name=op.f("uq_pick_list_wave_id_sequence")),
    )
    with op.batch_alter_table("pick_list", schema=None) as batch_op:
        batch_op.create_index("ix_pick_list_status", ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_pick_list_wave_id"), ["wave_id"], unique=False)

    op.create_table(
        "package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "closed", name="package_status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("sscc", sa.String(length=18), nullable=True),
        sa.Column("totes", sa.JSON(), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("packed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["customer_order.id"], name=op.f("fk_package_order_id_customer_order")
        ),
        sa.ForeignKeyConstraint(
            ["packed_by"], ["app_user.id"], name=op.f("fk_package_packed_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package")),
        sa.UniqueConstraint("sscc", name=op.f("uq_package_sscc")),
    )
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.create_index("ix_package_order_status", ["order_id", "status"], unique=False)

    op.create_table(
        "package_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_package_line_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_line.id"],
            name=op.f("fk_package_line_order_line_id_order_line"),
        ),
        sa.ForeignKeyConstraint(
            ["package_id"], ["package.id"], name=op.f("fk_package_line_package_id_package")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_line")),
        sa.UniqueConstraint(
            "package_id", "order_line_id", name=op.f("uq_package_line_package_id_order_line_id")
        ),
    )
    with op.batch_alter_table("package_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_package_line_package_id"), ["package_id"], unique=False
        )

    op.create_table(
        "pick_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pick_list_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked_qty", sa.Integer(), nullable=False),
        sa.Column("tote", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "picked",
                "short",
                "cancelled",
                name="pick_task_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("short_reason", sa.String(length=255), nullable=False),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "picked_qty >= 0 AND picked_qty <= quantity", name=op.f("ck_pick_task_picked_within")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_pick_task_quantity_positive")),
        sa.CheckConstraint("tote > 0", name=op.f("ck_pick_task_tote_positive")),
        sa.ForeignKeyConstraint(
            ["allocation_id"], ["allocation.id"], name=op.f("fk_pick_task_allocation_id_allocation")
        ),
        sa.ForeignKeyConstraint(
            ["done_by"], ["app_user.id"], name=op.f("fk_pick_task_done_by_app_user")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_pick_task_item_id_item")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["customer_order.id"], name=op.f("fk_pick_task_order_id_customer_order")
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["order_line.id"], name=op.f("fk_pick_task_order_line_id_order_line")
        ),
        sa.ForeignKeyConstraint(
            ["pick_list_id"], ["pick_list.id"], name=op.f("fk_pick_task_pick_list_id_pick_list")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"], name=op.f("fk_pick_task_slot_id_slot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_task")),
        sa.UniqueConstraint("allocation_id", name=op.f("uq_pick_task_allocation_id")),
        sa.UniqueConstraint(
            "pick_list_id", "sequence", name=op.f("uq_pick_task_pick_list_id_sequence")
        ),
    )
    with op.batch_alter_table("pick_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pick_task_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pick_task_order_line_id"), ["order_line_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pick_task_pick_list_id"), ["pick_list_id"], unique=False
        )

    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wave_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_customer_order_wave_id"), ["wave_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_customer_order_wave_id_wave"), "wave", ["wave_id"], ["id"]
        )


def downgrade() -> None:

    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_customer_order_wave_id_wave"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_customer_order_wave_id"))
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("wave_id")

    with op.batch_alter_table("pick_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pick_task_pick_list_id"))
        batch_op.drop_index(batch_op.f("ix_pick_task_order_line_id"))
        batch_op.drop_index(batch_op.f("ix_pick_task_order_id"))

    op.drop_table("pick_task")
    with op.batch_alter_table("package_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_package_line_package_id"))

    op.drop_table("package_line")
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_index("ix_package_order_status")

    op.drop_table("package")
    with op.batch_alter_table("pick_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pick_list_wave_id"))
        batch_op.drop_index("ix_pick_list_status")

    op.drop_table("pick_list")
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.drop_index("ix_wave_site_status")

    op.drop_table("wave")

"""receipts, tasks, counts, api tokens, idempotency records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint(
            "principal",
            "method",
            "path",
            "key",
            name=op.f("uq_idempotency_record_principal_method_path_key"),
        ),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_record_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "integration",
                "supervisor",
                "planner",
                "admin",
                name="token_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_api_token_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_token_prefix")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_api_token_secret_sha256")),
    )
    op.create_table(
        "api_token_site",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
            name=op.f("fk_api_token_site_site_id_site"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_token.id"],
            name=op.f("fk_api_token_site_token_id_api_token"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", "site_id", name=op.f("pk_api_token_site")),
    )
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("asn", "blind", name="receipt_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                "cancelled",
                name="receipt_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("supplier", sa.String(length=120), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("dock_slot_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_receipt_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["dock_slot_id"], ["slot.id"], name=op.f("fk_receipt_dock_slot_id_slot")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_receipt_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
        sa.UniqueConstraint("number", name=op.f("uq_receipt_number")),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipt_site_id"), ["site_id"], unique=False)

    op.create_table(
        "stock_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "pending_approval",
                "applied",
                "rejected",
                "cancelled",
                name="count_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("counted_by", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["counted_by"], ["app_user.id"], name=op.f("fk_stock_count_counted_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["app_user.id"], name=op.f("fk_stock_count_decided_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["app_user.id"], name=op.f("fk_stock_count_requested_by_app_user")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"], name=op.f("fk_stock_count_slot_id_slot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count")),
    )
    with op.batch_alter_table("stock_count", schema=None) as batch_op:
        batch_op.create_index("ix_stock_count_slot_status", ["slot_id", "status"], unique=False)

    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "putaway",
                "replenishment",
                "move",
                name="task_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "in_progress",
                "done",
                "cancelled",
                name="task_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("done_qty", sa.Integer(), nullable=False),
        sa.Column("from_slot_id", sa.Integer(), nullable=False),
        sa.Column("to_slot_id", sa.Integer(), nullable=True),
        sa.Column("done_slot_id", sa.Integer(), nullable=True),
        sa.Column("assigned_to", sa.Integer(), nullable=True),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("done_qty >= 0", name=op.f("ck_task_done_nonnegative")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_task_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["assigned_to"], ["app_user.id"], name=op.f("fk_task_assigned_to_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["completed_by"], ["app_user.id"], name=op.f("fk_task_completed_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["done_slot_id"], ["slot.id"], name=op.f("fk_task_done_slot_id_slot")
        ),
        sa.ForeignKeyConstraint(
            ["from_slot_id"], ["slot.id"], name=op.f("fk_task_from_slot_id_slot")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_task_item_id_item")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_task_site_id_site")),
        sa.ForeignKeyConstraint(["to_slot_id"], ["slot.id"], name=op.f("fk_task_to_slot_id_slot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_from_slot_id"), ["from_slot_id"], unique=False)
        batch_op.create_index("ix_task_site_status", ["site_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_to_slot_id"), ["to_slot_id"], unique=False)

    op.create_table(
        "receipt_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("expected_qty", sa.Integer(), nullable=True),
        sa.Column("received_qty", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "expected_qty IS NULL OR expected_qty > 0",
            name=op.f("ck_receipt_line_expected_positive"),
        ),
        sa.CheckConstraint("received_qty >= 0", name=op.f("ck_receipt_line_received_nonnegative")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_receipt_line_item_id_item")
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["receipt.id"], name=op.f("fk_receipt_line_receipt_id_receipt")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_line")),
        sa.UniqueConstraint(
            "receipt_id", "line_no", name=op.f("uq_receipt_line_receipt_id_line_no")
        ),
    )
    with op.batch_alter_table("receipt_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receipt_line_receipt_id"), ["receipt_id"], unique=False
        )

    op.create_table(
        "stock_count_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("expected_qty", sa.Integer(), nullable=False),
        sa.Column("counted_qty", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "counted_qty >= 0", name=op.f("ck_stock_count_line_counted_nonnegative")
        ),
        sa.CheckConstraint(
            "expected_qty >= 0", name=op.f("ck_stock_count_line_expected_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["count_id"], ["stock_count.id"], name=op.f("fk_stock_count_line_count_id_stock_count")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_stock_count_line_item_id_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_line")),
        sa.UniqueConstraint(
            "count_id", "item_id", "lot", name=op.f("uq_stock_count_line_count_id_item_id_lot")
        ),
    )
    with op.batch_alter_table("stock_count_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_count_line_count_id"), ["count_id"], unique=False
        )

    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("picked_qty", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        # Autogenerate does not see CHECK constraints on existing tables.
        batch_op.create_check_constraint(
            "picked_within", "picked_qty >= 0 AND picked_qty <= quantity"
        )

    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("needs_count", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("count_reason", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_column("count_reason")
        batch_op.drop_column("needs_count")

    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.drop_constraint("picked_within", type_="check")
        batch_op.drop_column("picked_qty")

    with op.batch_alter_table("stock_count_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_count_line_count_id"))

    op.drop_table("stock_count_line")
    with op.batch_alter_table("receipt_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_line_receipt_id"))

    op.drop_table("receipt_line")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_to_slot_id"))
        batch_op.drop_index("ix_task_site_status")
        batch_op.drop_index(batch_op.f("ix_task_from_slot_id"))

    op.drop_table("task")
    with op.batch_alter_table("stock_count", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_count_slot_status")

    op.drop_table("stock_count")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_site_id"))

    op.drop_table("receipt")
    op.drop_table("api_token_site")
    op.drop_table("api_token")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_record_expires_at")

    op.drop_table("idempotency_record")

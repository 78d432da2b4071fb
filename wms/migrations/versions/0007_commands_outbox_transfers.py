"""scheduler commands and schedules, the outbox, DC transfer orders, stock holds

Command rows are what the console asks the scheduler leader to do (run now, dry run, pause,
resume, reschedule, on-demand tasks); one run per job may be in flight (partial unique index).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_schedule",
        sa.Column("job_id", sa.String(length=80), nullable=False),
        sa.Column("every_s", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(every_s IS NOT NULL AND every_s > 0 AND cron IS NULL) OR (every_s IS NULL AND cron IS NOT NULL)",
            name=op.f("ck_job_schedule_interval_or_cron"),
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_schedule")),
    )
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    op.create_index(
        "ix_outbox_event_pending",
        "outbox_event",
        ["delivered_at", "dead_at", "available_at"],
        unique=False,
    )
    op.create_table(
        "job_command",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.String(length=80), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "run",
                "dry_run",
                "pause",
                "resume",
                "reschedule",
                "task",
                name="job_command_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                name="job_command_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["job_run.id"],
            name=op.f("fk_job_command_run_id_job_run"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_command")),
    )
    op.create_index("ix_job_command_status", "job_command", ["status", "id"], unique=False)
    op.create_index(
        "uq_job_command_one_in_flight",
        "job_command",
        ["job_id", "kind"],
        unique=True,
        postgresql_where=sa.text(
            "status IN ('queued', 'running') AND kind IN ('run', 'dry_run', 'task')"
        ),
        sqlite_where=sa.text(
            "status IN ('queued', 'running') AND kind IN ('run', 'dry_run', 'task')"
        ),
    )
    op.create_table(
        "transfer_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("from_site_id", sa.Integer(), nullable=False),
        sa.Column("to_site_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "dispatched",
                "received",
                "cancelled",
                name="transfer_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("needed_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_site_id"], ["site.id"], name=op.f("fk_transfer_order_from_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["receipt.id"], name=op.f("fk_transfer_order_receipt_id_receipt")
        ),
        sa.ForeignKeyConstraint(
            ["to_site_id"], ["site.id"], name=op.f("fk_transfer_order_to_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_order")),
        sa.UniqueConstraint("number", name=op.f("uq_transfer_order_number")),
    )
    op.create_index(
        "ix_transfer_order_to_status", "transfer_order", ["to_site_id", "status"], unique=False
    )
    op.create_table(
        "transfer_order_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_order_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("wanted", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("forecast_per_day", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("free", sa.Integer(), nullable=False),
        sa.Column("days_of_cover", sa.Float(), nullable=False),
        sa.Column("stockout_risk", sa.Boolean(), nullable=False),
        sa.Column("trace", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "quantity >= 0", name=op.f("ck_transfer_order_line_quantity_nonnegative")
        ),
        sa.CheckConstraint("wanted > 0", name=op.f("ck_transfer_order_line_wanted_positive")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_transfer_order_line_item_id_item")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_order_id"],
            ["transfer_order.id"],
            name=op.f("fk_transfer_order_line_transfer_order_id_transfer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_order_line")),
        sa.UniqueConstraint(
            "transfer_order_id",
            "item_id",
            name=op.f("uq_transfer_order_line_transfer_order_id_item_id"),
        ),
    )
    with op.batch_alter_table("stock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock", schema=None) as batch_op:
        batch_op.drop_column("hold")
    op.drop_table("transfer_order_line")
    op.drop_index("ix_transfer_order_to_status", table_name="transfer_order")
    op.drop_table("transfer_order")
    op.drop_index(
        "uq_job_command_one_in_flight",
        table_name="job_command",
        postgresql_where=sa.text(
            "status IN ('queued', 'running') AND kind IN ('run', 'dry_run', 'task')"
        ),
        sqlite_where=sa.text(
            "status IN ('queued', 'running') AND kind IN ('run', 'dry_run', 'task')"
        ),
    )
    op.drop_index("ix_job_command_status", table_name="job_command")
    op.drop_table("job_command")
    op.drop_index("ix_outbox_event_pending", table_name="outbox_event")
    op.drop_table("outbox_event")
    op.drop_table("job_schedule")

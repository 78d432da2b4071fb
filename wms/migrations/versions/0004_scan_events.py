"""scan events: every handheld scan as it happened

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "scan_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("raw", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parsed", sa.JSON(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("message", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_key", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("result IN ('ok', 'error')", name=op.f("ck_scan_event_result_known")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_scan_event_site_id_site")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_scan_event_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_event")),
        sa.UniqueConstraint(
            "user_key", "idempotency_key", name=op.f("uq_scan_event_user_key_idempotency_key")
        ),
    )
    with op.batch_alter_table("scan_event", schema=None) as batch_op:
        batch_op.create_index("ix_scan_event_site_created", ["site_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_scan_event_user_id"), ["user_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("scan_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_event_user_id"))
        batch_op.drop_index("ix_scan_event_site_created")

    op.drop_table("scan_event")

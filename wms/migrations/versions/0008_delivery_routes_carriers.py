"""delivery and trunk routes, stops and their events, drivers, carrier keys, webhooks

Routes and their ordered stops come from route planning; a partial unique index keeps one live
stop per order (a failed or skipped stop frees it for another window). Packages record the stop
they were handed over to and how they came back after a failed delivery.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "driver",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_latitude", sa.Float(), nullable=True),
        sa.Column("last_longitude", sa.Float(), nullable=True),
        sa.Column("last_position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "last_latitude BETWEEN -90 AND 90", name=op.f("ck_driver_latitude_range")
        ),
        sa.CheckConstraint(
            "last_longitude BETWEEN -180 AND 180", name=op.f("ck_driver_longitude_range")
        ),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carrier.id"], name=op.f("fk_driver_carrier_id_carrier")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver")),
        sa.UniqueConstraint("carrier_id", "code", name=op.f("uq_driver_carrier_id_code")),
    )
    op.create_table(
        "upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "photo", "signature", name="upload_kind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_upload_size_positive")),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carrier.id"], name=op.f("fk_upload_carrier_id_carrier")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload")),
    )
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_carrier_id"), ["carrier_id"], unique=False)

    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carrier.id"], name=op.f("fk_webhook_subscription_carrier_id_carrier")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["app_user.id"],
            name=op.f("fk_webhook_subscription_created_by_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_subscription_carrier_id"), ["carrier_id"], unique=False
        )

    op.create_table(
        "carrier_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carrier.id"], name=op.f("fk_carrier_key_carrier_id_carrier")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_carrier_key_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["driver.id"], name=op.f("fk_carrier_key_driver_id_driver")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_carrier_key_prefix")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_carrier_key_secret_sha256")),
    )
    with op.batch_alter_table("carrier_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_carrier_key_carrier_id"), ["carrier_id"], unique=False)

    op.create_table(
        "route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "delivery", "trunk", name="route_kind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "accepted",
                "in_progress",
                "completed",
                "cancelled",
                name="route_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("matrix_source", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("planned_by", sa.String(length=64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "distance_m >= 0 AND duration_s >= 0", name=op.f("ck_route_totals_nonnegative")
        ),
        sa.CheckConstraint("planned_end >= planned_start", name=op.f("ck_route_planned_order")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_route_window_order")),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carrier.id"], name=op.f("fk_route_carrier_id_carrier")
        ),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["driver.id"], name=op.f("fk_route_driver_id_driver")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_route_site_id_site")),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_route_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route")),
        sa.UniqueConstraint("number", name=op.f("uq_route_number")),
    )
    with op.batch_alter_table("route", schema=None) as batch_op:
        batch_op.create_index(
            "ix_route_carrier_updated", ["carrier_id", "updated_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_route_driver_id"), ["driver_id"], unique=False)
        batch_op.create_index("ix_route_site_window", ["site_id", "window_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_route_vehicle_id"), ["vehicle_id"], unique=False)

    op.create_table(
        "driver_position",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90", name=op.f("ck_driver_position_latitude_range")
        ),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_driver_position_longitude_range")
        ),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["driver.id"], name=op.f("fk_driver_position_driver_id_driver")
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["route.id"], name=op.f("fk_driver_position_route_id_route")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_position")),
    )
    with op.batch_alter_table("driver_position", schema=None) as batch_op:
        batch_op.create_index(
            "ix_driver_position_driver_time", ["driver_id", "recorded_at"], unique=False
        )

    op.create_table(
        "stop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("transfer_order_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "dispatched",
                "en_route",
                "arrived",
                "delivered",
                "failed",
                "skipped",
                name="stop_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_arrival", sa.DateTime(timezone=True), nullable=False),
        sa.Column("eta", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_s", sa.Float(), nullable=False),
        sa.Column("totes", sa.Integer(), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "failure_reason",
            sa.Enum(
                "recipient_absent",
                "address_not_found",
                "no_access",
                "refused",
                "damaged",
                "unsafe",
                "vehicle_problem",
                "out_of_time",
                "other",
                name="failure_reason",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("recipient_name", sa.String(length=120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(order_id IS NULL) <> (transfer_order_id IS NULL)",
            name=op.f("ck_stop_order_or_transfer"),
        ),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_stop_latitude_range")),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name=op.f("ck_stop_longitude_range")),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_stop_sequence_positive")),
        sa.CheckConstraint("totes >= 0 AND weight_kg >= 0", name=op.f("ck_stop_load_nonnegative")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_stop_window_order")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["customer_order.id"], name=op.f("fk_stop_order_id_customer_order")
        ),
        sa.ForeignKeyConstraint(["route_id"], ["route.id"], name=op.f("fk_stop_route_id_route")),
        sa.ForeignKeyConstraint(
            ["transfer_order_id"],
            ["transfer_order.id"],
            name=op.f("fk_stop_transfer_order_id_transfer_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stop")),
    )
    with op.batch_alter_table("stop", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stop_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_stop_route_sequence", ["route_id", "sequence"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stop_transfer_order_id"), ["transfer_order_id"], unique=False
        )
        batch_op.create_index(
            "uq_stop_one_live_per_order",
            ["order_id"],
            unique=True,
            postgresql_where=sa.text(
                "order_id IS NOT NULL AND status NOT IN ('failed', 'skipped')"
            ),
            sqlite_where=sa.text("order_id IS NOT NULL AND status NOT IN ('failed', 'skipped')"),
        )

    op.create_table(
        "stop_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stop_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "en_route",
                "arrived",
                "delivered",
                "failed",
                "skipped",
                name="stop_event_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("happened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column(
            "failure_reason",
            sa.Enum(
                "recipient_absent",
                "address_not_found",
                "no_access",
                "refused",
                "damaged",
                "unsafe",
                "vehicle_problem",
                "out_of_time",
                "other",
                name="failure_reason",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("recipient_name", sa.String(length=120), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=True),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90", name=op.f("ck_stop_event_latitude_range")
        ),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_stop_event_longitude_range")
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"], ["upload.id"], name=op.f("fk_stop_event_photo_id_upload")
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"], ["upload.id"], name=op.f("fk_stop_event_signature_id_upload")
        ),
        sa.ForeignKeyConstraint(["stop_id"], ["stop.id"], name=op.f("fk_stop_event_stop_id_stop")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stop_event")),
    )
    with op.batch_alter_table("stop_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stop_event_stop_id"), ["stop_id"], unique=False)

    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stop_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("loaded_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "return_disposition",
                sa.Enum(
                    "restocked",
                    "quarantined",
                    name="return_disposition",
                    native_enum=False,
                    create_constraint=True,
                ),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_package_stop_id"), ["stop_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_package_stop_id_stop"), "stop", ["stop_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_package_loaded_by_app_user"), "app_user", ["loaded_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_package_loaded_by_app_user"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_package_stop_id_stop"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_package_stop_id"))
        # SQLite's batch copy would keep the enum's CHECK and refer to the dropped column.
        batch_op.drop_constraint(op.f("ck_package_return_disposition"), type_="check")
        batch_op.drop_column("return_disposition")
        batch_op.drop_column("returned_at")
        batch_op.drop_column("loaded_by")
        batch_op.drop_column("loaded_at")
        batch_op.drop_column("stop_id")

    with op.batch_alter_table("stop_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stop_event_stop_id"))

    op.drop_table("stop_event")
    with op.batch_alter_table("stop", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_stop_one_live_per_order",
            postgresql_where=sa.text(
                "order_id IS NOT NULL AND status NOT IN ('failed', 'skipped')"
            ),
            sqlite_where=sa.text("order_id IS NOT NULL AND status NOT IN ('failed', 'skipped')"),
        )
        batch_op.drop_index(batch_op.f("ix_stop_transfer_order_id"))
        batch_op.drop_index("ix_stop_route_sequence")
        batch_op.drop_index(batch_op.f("ix_stop_order_id"))

    op.drop_table("stop")
    with op.batch_alter_table("driver_position", schema=None) as batch_op:
        batch_op.drop_index("ix_driver_position_driver_time")

    op.drop_table("driver_position")
    with op.batch_alter_table("route", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_vehicle_id"))
        batch_op.drop_index("ix_route_site_window")
        batch_op.drop_index(batch_op.f("ix_route_driver_id"))
        batch_op.drop_index("ix_route_carrier_updated")

    op.drop_table("route")
    with op.batch_alter_table("carrier_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carrier_key_carrier_id"))

    op.drop_table("carrier_key")
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_subscription_carrier_id"))

    op.drop_table("webhook_subscription")
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_carrier_id"))

    op.drop_table("upload")
    op.drop_table("driver")

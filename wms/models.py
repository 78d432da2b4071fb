"""The data model (ARCHITECTURE.md), as SQLAlchemy 2.x typed models.

The database is the last line of defence: bounds, uniqueness and references are constraints,
not just checks in services. Quantities are whole units (``int``); every ``*_at`` timestamp is
stored in UTC and comes back timezone-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp kept in UTC; refuses naive datetimes and returns aware ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: a VARCHAR with a CHECK listing the allowed values."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in cls),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


# --- vocabularies -------------------------------------------------------------------------


class SiteKind(enum.StrEnum):
    CENTRAL_DC = "central_dc"
    FRONT_WAREHOUSE = "front_warehouse"


class Temperature(enum.StrEnum):
    AMBIENT = "ambient"
    CHILLED = "chilled"
    FROZEN = "frozen"


class SlotKind(enum.StrEnum):
    PICK_FACE = "pick_face"
    RESERVE = "reserve"
    STAGING = "staging"
    DOCK = "dock"
    PACK = "pack"


class SlotSide(enum.StrEnum):
    LEFT = "L"
    RIGHT = "R"


class VelocityClass(enum.StrEnum):
    A = "A"
    B = "B"
    C = "C"


class MovementKind(enum.StrEnum):
    RECEIPT = "receipt"
    PUTAWAY = "putaway"
    MOVE = "move"
    PICK = "pick"
    ADJUST = "adjust"
    COUNT = "count"
    TRANSFER = "transfer"
    SHIP = "ship"
    RETURN = "return"


class AllocationStatus(enum.StrEnum):
    OPEN = "open"
    PICKED = "picked"
    RELEASED = "released"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    BACKORDERED = "backordered"
    ALLOCATED = "allocated"
    IN_WAVE = "in_wave"
    PICKED = "picked"
    PACKED = "packed"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    FAILED_DELIVERY = "failed_delivery"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class WaveStatus(enum.StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PickListStatus(enum.StrEnum):
    PLANNED = "planned"  # its wave is not released yet
    OPEN = "open"  # released, waiting for a picker
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class PickTaskStatus(enum.StrEnum):
    OPEN = "open"
    PICKED = "picked"
    SHORT = "short"  # fewer units found than allocated
    CANCELLED = "cancelled"


class PackageStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ReceiptKind(enum.StrEnum):
    ASN = "asn"
    BLIND = "blind"


class ReceiptStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class TaskKind(enum.StrEnum):
    PUTAWAY = "putaway"
    REPLENISHMENT = "replenishment"
    MOVE = "move"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class CountStatus(enum.StrEnum):
    OPEN = "open"
    PENDING_APPROVAL = "pending_approval"
    APPLIED = "applied"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class TokenRole(enum.StrEnum):
    INTEGRATION = "integration"
    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    ADMIN = "admin"


class Role(enum.StrEnum):
    ASSOCIATE = "associate"
    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    ADMIN = "admin"


class RouteKind(enum.StrEnum):
    DELIVERY = "delivery"  # a front warehouse's van or bike to customers
    TRUNK = "trunk"  # the DC's lorry to front warehouses, carrying transfer orders


class RouteStatus(enum.StrEnum):
    PLANNED = "planned"
    ACCEPTED = "accepted"  # the carrier took it (and named a driver)
    IN_PROGRESS = "in_progress"  # the vehicle left
    COMPLETED = "completed"  # every stop delivered, failed or skipped
    CANCELLED = "cancelled"  # before it left


class StopStatus(enum.StrEnum):
    PLANNED = "planned"
    DISPATCHED = "dispatched"  # its packages are on the vehicle
    EN_ROUTE = "en_route"  # the driver is heading there
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"  # taken off the route (re-planned, cancelled) before it was served


class FailureReason(enum.StrEnum):
    """Why a delivery failed, as the driver reports it."""

    RECIPIENT_ABSENT = "recipient_absent"
    ADDRESS_NOT_FOUND = "address_not_found"
    NO_ACCESS = "no_access"
    REFUSED = "refused"
    DAMAGED = "damaged"
    UNSAFE = "unsafe"
    VEHICLE_PROBLEM = "vehicle_problem"
    OUT_OF_TIME = "out_of_time"
    OTHER = "other"


class StopEventKind(enum.StrEnum):
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class UploadKind(enum.StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"


class ReturnDisposition(enum.StrEnum):
    RESTOCKED = "restocked"  # back into sellable stock
    QUARANTINED = "quarantined"  # into the quarantine slot, on hold


class VehicleKind(enum.StrEnum):
    CARGO_BIKE = "cargo_bike"
    SCOOTER = "scooter"
    VAN = "van"
    TRUCK = "truck"


# --- network: sites, zones, slots -----------------------------------------------------------


class Site(Base):
    """A central DC or a front warehouse."""

    __tablename__ = "site"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[SiteKind] = mapped_column(_enum(SiteKind, "site_kind"))
    address: Mapped[str] = mapped_column(String(255), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    #: IANA time zone; cut-offs and windows are computed in this local time.
    timezone: Mapped[str] = mapped_column(String(64))
    #: Rack geometry for pick paths (aisles, blocks, bays, pitches, depot): docs/architecture.md.
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    zones: Mapped[list[Zone]] = relationship(back_populates="site")


class Zone(Base):
    """A temperature-controlled area of a site."""

    __tablename__ = "zone"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    temperature: Mapped[Temperature] = mapped_column(_enum(Temperature, "temperature"))

    site: Mapped[Site] = relationship(back_populates="zones")


class Slot(Base):
    """A bin location: where units of stock physically are.

    Rack slots carry layout coordinates (block, aisle, bay, side, level); dock, staging and
    pack slots may have none.
    """

    __tablename__ = "slot"
    __table_args__ = (
        CheckConstraint("volume_cm3 IS NULL OR volume_cm3 > 0", name="volume_positive"),
        CheckConstraint("max_weight_g IS NULL OR max_weight_g > 0", name="weight_positive"),
        CheckConstraint("min_qty IS NULL OR min_qty >= 0", name="min_qty_nonnegative"),
        CheckConstraint(
            "max_qty IS NULL OR (max_qty > 0 AND (min_qty IS NULL OR min_qty <= max_qty))",
            name="min_le_max",
        ),
        CheckConstraint(
            "(min_qty IS NULL AND max_qty IS NULL) OR kind = 'pick_face'",
            name="min_max_only_on_pick_faces",
        ),
        CheckConstraint("aisle IS NULL OR aisle >= 1", name="aisle_positive"),
        CheckConstraint("bay IS NULL OR bay >= 1", name="bay_positive"),
        CheckConstraint("level IS NULL OR level >= 1", name="level_positive"),
        CheckConstraint("block IS NULL OR block >= 1", name="block_positive"),
        UniqueConstraint("site_id", "aisle", "bay", "side", "level"),
        Index("ix_slot_site_kind", "site_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), index=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[SlotKind] = mapped_column(_enum(SlotKind, "slot_kind"))
    block: Mapped[int | None] = mapped_column(Integer)
    aisle: Mapped[int | None] = mapped_column(Integer)
    bay: Mapped[int | None] = mapped_column(Integer)
    side: Mapped[SlotSide | None] = mapped_column(_enum(SlotSide, "slot_side"))
    level: Mapped[int | None] = mapped_column(Integer)
    volume_cm3: Mapped[int | None] = mapped_column(Integer)
    max_weight_g: Mapped[int | None] = mapped_column(Integer)
    #: The item a pick face is dedicated to (pick faces only; reserve slots hold anything).
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"), index=True)
    min_qty: Mapped[int | None] = mapped_column(Integer)
    max_qty: Mapped[int | None] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    lock_reason: Mapped[str | None] = mapped_column(String(255))
    #: Set by a short pick or a supervisor: the slot waits for a cycle count.
    needs_count: Mapped[bool] = mapped_column(Boolean, default=False)
    count_reason: Mapped[str | None] = mapped_column(String(255))

    site: Mapped[Site] = relationship()
    zone: Mapped[Zone] = relationship()
    item: Mapped[Item | None] = relationship()


# --- items --------------------------------------------------------------------------------


class Item(Base):
    """A stock-keeping unit."""

    __tablename__ = "item"
    __table_args__ = (
        CheckConstraint("length_mm > 0 AND width_mm > 0 AND height_mm > 0", name="dims_positive"),
        CheckConstraint("weight_g > 0", name="weight_positive"),
        CheckConstraint("NOT expiry_tracked OR lot_tracked", name="expiry_needs_lot"),
        CheckConstraint("shelf_life_days IS NULL OR shelf_life_days > 0", name="shelf_life"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    length_mm: Mapped[int] = mapped_column(Integer)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    weight_g: Mapped[int] = mapped_column(Integer)
    lot_tracked: Mapped[bool] = mapped_column(Boolean, default=False)
    expiry_tracked: Mapped[bool] = mapped_column(Boolean, default=False)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    temperature: Mapped[Temperature] = mapped_column(_enum(Temperature, "temperature"))
    velocity: Mapped[VelocityClass] = mapped_column(
        _enum(VelocityClass, "velocity_class"), default=VelocityClass.C
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    barcodes: Mapped[list[ItemBarcode]] = relationship(
        back_populates="item", cascade="all, delete-orphan"
    )


class ItemBarcode(Base):
    """A barcode that identifies an item (GTIN-8/12/13/14 or an internal code) and a pack size."""

    __tablename__ = "item_barcode"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), index=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    #: Units one scan of this barcode stands for (1 for the consumer unit, 6 for a case...).
    quantity: Mapped[int] = mapped_column(Integer, default=1)

    item: Mapped[Item] = relationship(back_populates="barcodes")


# --- stock and its ledger -----------------------------------------------------------------


class Stock(Base):
    """Units of one item, lot and expiry in one slot.

    ``on_hand`` always equals the sum of the row's ledger movements and ``reserved`` the sum of
    its open allocations (invariant 1; ``wms check`` verifies both). Items without lot tracking
    use the empty lot ``''`` so that the unique key works on every backend.
    """

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_nonnegative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        UniqueConstraint("slot_id", "item_id", "lot"),
        Index("ix_stock_item_expiry", "item_id", "expiry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    #: When the first units of this row arrived: the FIFO key.
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Why these units may not be allocated (``near_expiry`` from the expiry sweep); None: free.
    hold: Mapped[str | None] = mapped_column(String(32))

    slot: Mapped[Slot] = relationship()
    item: Mapped[Item] = relationship()

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Movement(Base):
    """One entry of the append-only stock ledger: a signed change of one Stock row's on-hand.

    Never updated, never deleted: database triggers (see the initial migration) refuse both.
    """

    __tablename__ = "movement"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_nonzero"),
        Index("ix_movement_operation", "operation_id"),
        Index("ix_movement_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("stock.id"), index=True)
    kind: Mapped[MovementKind] = mapped_column(_enum(MovementKind, "movement_kind"))
    quantity: Mapped[int] = mapped_column(Integer)
    #: Links the rows written by one operation (the two sides of a move, for instance).
    operation_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str] = mapped_column(String(255), default="")
    #: What the movement is for, e.g. "order:123/line:2" or "receipt:45".
    reference: Mapped[str | None] = mapped_column(String(120))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    stock: Mapped[Stock] = relationship()


# --- orders and allocations -----------------------------------------------------------------


class Order(Base):
    """A customer order promised for delivery from one front warehouse in a time window."""

    __tablename__ = "customer_order"
    __table_args__ = (
        CheckConstraint("promised_end > promised_start", name="window_order"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        Index("ix_customer_order_site_status", "site_id", "status"),
        Index("ix_customer_order_promised_start", "promised_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    customer_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(255))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    promised_start: Mapped[dt.datetime]
    promised_end: Mapped[dt.datetime]
    #: Higher goes first.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[OrderStatus] = mapped_column(
        _enum(OrderStatus, "order_status"), default=OrderStatus.OPEN
    )
    #: The wave the order is planned into or picked in (none before planning, after cancel).
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("wave.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]

    site: Mapped[Site] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.line_no"
    )


class OrderLine(Base):
    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("picked_qty >= 0 AND picked_qty <= quantity", name="picked_within"),
        UniqueConstraint("order_id", "line_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    picked_qty: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()


class Allocation(Base):
    """Units of one Stock row reserved for one order line.

    ``Stock.reserved`` is the sum of the row's open allocations; reservations are not ledger
    movements.
    """

    __tablename__ = "allocation"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("picked_qty >= 0 AND picked_qty <= quantity", name="picked_within"),
        Index("ix_allocation_stock_status", "stock_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), index=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("stock.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    #: Units confirmed picked; below ``quantity`` after a short pick.
    picked_qty: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[AllocationStatus] = mapped_column(
        _enum(AllocationStatus, "allocation_status"), default=AllocationStatus.OPEN
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    order_line: Mapped[OrderLine] = relationship()
    stock: Mapped[Stock] = relationship()


# --- waves, pick lists, packages ------------------------------------------------------------


class Wave(Base):
    """Orders picked together: batched onto carts per temperature zone, each cart a pick list.

    The figures are the plan's: what the wave's walk is and what picking each order alone
    would have walked.
    """

    __tablename__ = "wave"
    __table_args__ = (
        CheckConstraint("cart_totes > 0", name="cart_totes_positive"),
        Index("ix_wave_site_status", "site_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    status: Mapped[WaveStatus] = mapped_column(
        _enum(WaveStatus, "wave_status"), default=WaveStatus.PLANNED
    )
    #: Orders whose pick cut-off falls before this moment were eligible.
    cutoff_until: Mapped[dt.datetime]
    cart_totes: Mapped[int] = mapped_column(Integer)
    cart_max_weight_g: Mapped[int | None] = mapped_column(Integer)
    cart_max_volume_cm3: Mapped[int | None] = mapped_column(Integer)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    lines_count: Mapped[int] = mapped_column(Integer, default=0)
    walk_m: Mapped[float] = mapped_column(Float, default=0.0)
    #: The walk of picking every order alone (each zone part on its own path).
    single_order_walk_m: Mapped[float] = mapped_column(Float, default=0.0)
    planned_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    released_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    planned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]

    site: Mapped[Site] = relationship()
    pick_lists: Mapped[list[PickList]] = relationship(
        back_populates="wave", order_by="PickList.sequence"
    )
    orders: Mapped[list[Order]] = relationship(order_by="Order.id", viewonly=True)


class PickList(Base):
    """One cart's work in one temperature zone: tasks in walking order, a tote per order."""

    __tablename__ = "pick_list"
    __table_args__ = (
        UniqueConstraint("wave_id", "sequence"),
        CheckConstraint("totes > 0", name="totes_positive"),
        Index("ix_pick_list_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    temperature: Mapped[Temperature] = mapped_column(_enum(Temperature, "temperature"))
    status: Mapped[PickListStatus] = mapped_column(
        _enum(PickListStatus, "pick_list_status"), default=PickListStatus.PLANNED
    )
    #: Tote positions used on the cart (one or more per order).
    totes: Mapped[int] = mapped_column(Integer)
    weight_g: Mapped[int] = mapped_column(Integer, default=0)
    volume_cm3: Mapped[int] = mapped_column(Integer, default=0)
    #: The planned walk from the zone's start through every task to its end (None: no layout).
    walk_m: Mapped[float | None] = mapped_column(Float)
    #: How the walk was found ("exact", "ortools", or "slot_order" without a layout).
    path_method: Mapped[str] = mapped_column(String(16))
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    started_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]

    wave: Mapped[Wave] = relationship(back_populates="pick_lists")
    tasks: Mapped[list[PickTask]] = relationship(
        back_populates="pick_list", order_by="PickTask.sequence"
    )


class PickTask(Base):
    """Pick one allocation's units from its slot into the order's tote on the cart."""

    __tablename__ = "pick_task"
    __table_args__ = (
        UniqueConstraint("pick_list_id", "sequence"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("picked_qty >= 0 AND picked_qty <= quantity", name="picked_within"),
        CheckConstraint("tote > 0", name="tote_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pick_list_id: Mapped[int] = mapped_column(ForeignKey("pick_list.id"), index=True)
    #: Position in the walk (1 = first).
    sequence: Mapped[int] = mapped_column(Integer)
    #: One task per allocation: a unit reserved once is picked once.
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocation.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    picked_qty: Mapped[int] = mapped_column(Integer, default=0)
    #: The tote position on the cart this task's units go into (its order's tote).
    tote: Mapped[int] = mapped_column(Integer)
    status: Mapped[PickTaskStatus] = mapped_column(
        _enum(PickTaskStatus, "pick_task_status"), default=PickTaskStatus.OPEN
    )
    short_reason: Mapped[str] = mapped_column(String(255), default="")
    done_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    done_at: Mapped[dt.datetime | None]

    pick_list: Mapped[PickList] = relationship(back_populates="tasks")
    allocation: Mapped[Allocation] = relationship()
    order: Mapped[Order] = relationship()
    slot: Mapped[Slot] = relationship()
    item: Mapped[Item] = relationship()

    @property
    def tote_code(self) -> str:
        """The label on the tote: pick list and position, e.g. ``T123-2``."""
        return tote_code(self.pick_list_id, self.tote)


def tote_code(pick_list_id: int, position: int) -> str:
    """The barcode printed on a cart's tote: ``T<pick list id>-<position>``."""
    return f"T{pick_list_id}-{position}"


class Package(Base):
    """What leaves for the customer: an order's picked units packed and labelled with an SSCC."""

    __tablename__ = "package"
    __table_args__ = (Index("ix_package_order_status", "order_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"))
    status: Mapped[PackageStatus] = mapped_column(
        _enum(PackageStatus, "package_status"), default=PackageStatus.OPEN
    )
    #: Serial Shipping Container Code (18 digits with its check digit), set when closed.
    sscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    #: The totes scanned into it (tote codes).
    totes: Mapped[list[str]] = mapped_column(JSON, default=list)
    weight_g: Mapped[int] = mapped_column(Integer, default=0)
    packed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    #: The route stop it was scanned onto at dispatch hand-over, by whom and when.
    stop_id: Mapped[int | None] = mapped_column(ForeignKey("stop.id"), index=True)
    loaded_at: Mapped[dt.datetime | None]
    loaded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    #: Brought back after a failed delivery, and where its units went.
    returned_at: Mapped[dt.datetime | None]
    return_disposition: Mapped[ReturnDisposition | None] = mapped_column(
        _enum(ReturnDisposition, "return_disposition")
    )

    order: Mapped[Order] = relationship()
    lines: Mapped[list[PackageLine]] = relationship(
        back_populates="package", order_by="PackageLine.id"
    )


class PackageLine(Base):
    """Units of one order line confirmed into a package at the packing station."""

    __tablename__ = "package_line"
    __table_args__ = (
        UniqueConstraint("package_id", "order_line_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    package: Mapped[Package] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()


# --- people ---------------------------------------------------------------------------------

user_site = Table(
    "user_site",
    Base.metadata,
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A person who signs in: by badge scan (+ PIN) on a handheld, by password on the console.

    Badges are looked up by an HMAC of the badge number, never stored in clear; PINs and
    passwords are argon2 hashes.
    """

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    badge_hmac: Mapped[str | None] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: Wrong PINs in a row, and until when signing in is refused (back-off).
    failed_pin_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_locked_until: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    sites: Mapped[list[Site]] = relationship(secondary=user_site)


# --- carriers -------------------------------------------------------------------------------


class Carrier(Base):
    """A delivery company whose vehicles and drivers carry orders from the front warehouses."""

    __tablename__ = "carrier"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    contact_email: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    vehicles: Mapped[list[Vehicle]] = relationship(back_populates="carrier")


class Vehicle(Base):
    """One vehicle of a carrier, based at a site for a daily shift (site-local times)."""

    __tablename__ = "vehicle"
    __table_args__ = (
        UniqueConstraint("carrier_id", "code"),
        CheckConstraint("capacity_totes > 0", name="totes_positive"),
        CheckConstraint("capacity_kg > 0", name="kg_positive"),
        CheckConstraint("shift_end > shift_start", name="shift_order"),
        CheckConstraint("NOT frozen OR chilled", name="frozen_implies_chilled"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[VehicleKind] = mapped_column(_enum(VehicleKind, "vehicle_kind"))
    plate: Mapped[str] = mapped_column(String(16), default="")
    capacity_totes: Mapped[int] = mapped_column(Integer)
    capacity_kg: Mapped[int] = mapped_column(Integer)
    chilled: Mapped[bool] = mapped_column(Boolean, default=False)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    shift_start: Mapped[dt.time] = mapped_column(Time)
    shift_end: Mapped[dt.time] = mapped_column(Time)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    carrier: Mapped[Carrier] = relationship(back_populates="vehicles")
    site: Mapped[Site] = relationship()


class Driver(Base):
    """A carrier's driver; drivers' own tokens reach only the routes they drive."""

    __tablename__ = "driver"
    __table_args__ = (
        UniqueConstraint("carrier_id", "code"),
        CheckConstraint("last_latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("last_longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The latest GPS fix received, for ETAs and the console's map.
    last_latitude: Mapped[float | None] = mapped_column(Float)
    last_longitude: Mapped[float | None] = mapped_column(Float)
    last_position_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    carrier: Mapped[Carrier] = relationship()


# --- inbound, tasks and counts ------------------------------------------------------------------


class Receipt(Base):
    """Goods arriving at a site: against an advance shipping notice (ASN) or blind."""

    __tablename__ = "receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    kind: Mapped[ReceiptKind] = mapped_column(_enum(ReceiptKind, "receipt_kind"))
    status: Mapped[ReceiptStatus] = mapped_column(
        _enum(ReceiptStatus, "receipt_status"), default=ReceiptStatus.OPEN
    )
    supplier: Mapped[str] = mapped_column(String(120), default="")
    #: The purchase or transfer order this receipt answers, if any.
    reference: Mapped[str | None] = mapped_column(String(120))
    #: The dock or staging slot where received units land.
    dock_slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    lines: Mapped[list[ReceiptLine]] = relationship(
        back_populates="receipt", order_by="ReceiptLine.line_no"
    )
    dock_slot: Mapped[Slot] = relationship()


class ReceiptLine(Base):
    """One item and lot of a receipt: expected (ASN) or not (blind), and what arrived."""

    __tablename__ = "receipt_line"
    __table_args__ = (
        UniqueConstraint("receipt_id", "line_no"),
        CheckConstraint("expected_qty IS NULL OR expected_qty > 0", name="expected_positive"),
        CheckConstraint("received_qty >= 0", name="received_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipt.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    expected_qty: Mapped[int | None] = mapped_column(Integer)
    received_qty: Mapped[int] = mapped_column(Integer, default=0)

    receipt: Mapped[Receipt] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()

    @property
    def variance(self) -> int | None:
        """Received minus expected: positive is over-receipt, negative under-receipt.

        A line the ASN did not list is over-receipt of everything received; blind receipts
        expect nothing, so they have no variance.
        """
        if self.expected_qty is not None:
            return self.received_qty - self.expected_qty
        return self.received_qty if self.receipt.kind is ReceiptKind.ASN else None


class Task(Base):
    """Work for the floor that moves stock: put away, replenish a pick face, move."""

    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("done_qty >= 0", name="done_nonnegative"),
        Index("ix_task_site_status", "site_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    kind: Mapped[TaskKind] = mapped_column(_enum(TaskKind, "task_kind"))
    status: Mapped[TaskStatus] = mapped_column(
        _enum(TaskStatus, "task_status"), default=TaskStatus.OPEN
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    done_qty: Mapped[int] = mapped_column(Integer, default=0)
    from_slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"), index=True)
    #: The suggested destination.
    to_slot_id: Mapped[int | None] = mapped_column(ForeignKey("slot.id"), index=True)
    #: Where the units really went (may differ from the suggestion when valid).
    done_slot_id: Mapped[int | None] = mapped_column(ForeignKey("slot.id"))
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reference: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]

    # Loaded with the task (a second query: FOR UPDATE takes no outer join on PostgreSQL);
    # every screen and answer that shows a task names them.
    item: Mapped[Item] = relationship(lazy="selectin")
    from_slot: Mapped[Slot] = relationship(foreign_keys=[from_slot_id], lazy="selectin")
    to_slot: Mapped[Slot | None] = relationship(foreign_keys=[to_slot_id], lazy="selectin")
    done_slot: Mapped[Slot | None] = relationship(foreign_keys=[done_slot_id])


class StockCount(Base):
    """A blind cycle count of one slot; big variances wait for a supervisor."""

    __tablename__ = "stock_count"
    __table_args__ = (Index("ix_stock_count_slot_status", "slot_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    status: Mapped[CountStatus] = mapped_column(
        _enum(CountStatus, "count_status"), default=CountStatus.OPEN
    )
    reason: Mapped[str] = mapped_column(String(255), default="")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    counted_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    counted_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]

    slot: Mapped[Slot] = relationship()
    lines: Mapped[list[StockCountLine]] = relationship(back_populates="count")


class StockCountLine(Base):
    """What was counted of one item and lot, and what the system expected at that moment."""

    __tablename__ = "stock_count_line"
    __table_args__ = (
        UniqueConstraint("count_id", "item_id", "lot"),
        CheckConstraint("counted_qty >= 0", name="counted_nonnegative"),
        CheckConstraint("expected_qty >= 0", name="expected_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_count.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    expected_qty: Mapped[int] = mapped_column(Integer)
    counted_qty: Mapped[int] = mapped_column(Integer)

    count: Mapped[StockCount] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()

    @property
    def variance(self) -> int:
        return self.counted_qty - self.expected_qty


# --- scans --------------------------------------------------------------------------------------


class ScanEvent(Base):
    """One scan on a handheld, as it happened: the raw characters, what they parsed to, who
    scanned where, and whether the page took it (ok) or refused it (error)."""

    __tablename__ = "scan_event"
    __table_args__ = (
        CheckConstraint("result IN ('ok', 'error')", name="result_known"),
        UniqueConstraint("user_key", "idempotency_key"),
        Index("ix_scan_event_site_created", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    raw: Mapped[str] = mapped_column(String(512))
    #: What the scan was read as: gtin, gs1, sscc, other, or invalid.
    kind: Mapped[str] = mapped_column(String(16))
    parsed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The page or step that took the scan (pick, receive, count ...).
    step: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(String(255), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    #: Who sent it, for the pair (who, key) that makes a re-sent scan one record.
    user_key: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64), default="")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- scheduled jobs ---------------------------------------------------------------------------


class JobRunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Its process died while it ran (found by the sweeper).
    ABANDONED = "abandoned"


class JobRun(Base):
    """One firing of a scheduled job (or a manual run), kept once per job and scheduled time.

    The unique key is what makes a firing run once however many scheduler processes fire it
    (invariant 4): the second to insert it does not run the job.
    """

    __tablename__ = "job_run"
    __table_args__ = (
        UniqueConstraint("job_id", "scheduled_for"),
        Index("ix_job_run_status_heartbeat", "status", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(80))
    scheduled_for: Mapped[dt.datetime]
    status: Mapped[JobRunStatus] = mapped_column(_enum(JobRunStatus, "job_run_status"))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    #: Refreshed while the run goes on; a running run whose heartbeat is old was abandoned.
    heartbeat_at: Mapped[dt.datetime]
    summary: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    #: Who asked for a manual run ("user:3"); None for scheduled firings.
    actor: Mapped[str | None] = mapped_column(String(64))
    #: The process that ran it: host and pid.
    worker: Mapped[str] = mapped_column(String(120), default="")


class JobSchedule(Base):
    """A job's schedule as planners set it: interval or cron (site-local), and paused or not.

    Written by the scheduler leader when it applies a command from the console; read by the
    console to show the schedule in words and its next fire times. A job without a row runs on
    its configured default.
    """

    __tablename__ = "job_schedule"
    __table_args__ = (
        CheckConstraint(
            "(every_s IS NOT NULL AND every_s > 0 AND cron IS NULL)"
            " OR (every_s IS NULL AND cron IS NOT NULL)",
            name="interval_or_cron",
        ),
    )

    job_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    every_s: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(120))
    #: The IANA time zone a cron expression is read in (the site's).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobCommandKind(enum.StrEnum):
    RUN = "run"  # run the job now (allowed while paused)
    DRY_RUN = "dry_run"  # run it and roll its work back: what it would do
    PAUSE = "pause"
    RESUME = "resume"
    RESCHEDULE = "reschedule"  # payload: {"every_s": n} or {"cron": "...", "timezone": "..."}
    TASK = "task"  # an on-demand long job another capability submitted (payload: its arguments)


class JobCommandStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: The kinds that do work; one of each per job may be queued or running at a time.
WORK_COMMAND_KINDS = ("run", "dry_run", "task")
_IN_FLIGHT = text("status IN ('queued', 'running') AND kind IN ('run', 'dry_run', 'task')")


class JobCommand(Base):
    """A request from the console or the API that the scheduler leader carries out in turn.

    Run now, dry run, pause, resume and schedule edits, and the on-demand long jobs (route
    planning). A partial unique index keeps one run (or dry run, or task) per job queued or
    running: a second "run now" while one is in flight finds the first.
    """

    __tablename__ = "job_command"
    __table_args__ = (
        Index(
            "uq_job_command_one_in_flight",
            "job_id",
            "kind",
            unique=True,
            postgresql_where=_IN_FLIGHT,
            sqlite_where=_IN_FLIGHT,
        ),
        Index("ix_job_command_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[JobCommandKind] = mapped_column(_enum(JobCommandKind, "job_command_kind"))
    status: Mapped[JobCommandStatus] = mapped_column(
        _enum(JobCommandStatus, "job_command_status"), default=JobCommandStatus.QUEUED
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Who asked ("user:3", "token:ab12cd"), as job runs name manual actors.
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    run_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("job_run.id", ondelete="SET NULL")
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    #: What a task or dry run produced, for the page or API that asked (JSON).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxEvent(Base):
    """An effect outside the database (a webhook, a print), written in the transaction that
    caused it and delivered afterwards by the scheduler's outbox job, with retries."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "delivered_at", "dead_at", "available_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: What happened, dotted ("route.planned"); picks the handler that delivers it.
    topic: Mapped[str] = mapped_column(String(80))
    #: Events with the same key are delivered in id order (a route's events, in turn).
    key: Mapped[str] = mapped_column(String(120), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Not before this time (the next retry).
    available_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[dt.datetime | None]
    #: Given up (retried for a day): the dead-letter list.
    dead_at: Mapped[dt.datetime | None]


# --- transfers from the DC to the front warehouses ----------------------------------------


class TransferStatus(enum.StrEnum):
    PLANNED = "planned"  # proposed by the transfer job; its receipt waits at the front warehouse
    DISPATCHED = "dispatched"  # on a trunk route
    RECEIVED = "received"  # its receipt closed at the front warehouse
    CANCELLED = "cancelled"


class TransferOrder(Base):
    """Stock the DC sends a front warehouse, from the demand forecast and days of cover.

    Received at the front warehouse through the receiving flow: its receipt (an ASN whose
    number is the transfer's) is created with it.
    """

    __tablename__ = "transfer_order"
    __table_args__ = (Index("ix_transfer_order_to_status", "to_site_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    from_site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    to_site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    status: Mapped[TransferStatus] = mapped_column(
        _enum(TransferStatus, "transfer_status"), default=TransferStatus.PLANNED
    )
    #: When the front warehouse needs it (now + the lead time, when planned).
    needed_by: Mapped[dt.datetime]
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipt.id"))
    #: Who made it: "job:transfers" or "user:3".
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[TransferOrderLine]] = relationship(
        back_populates="transfer_order", order_by="TransferOrderLine.id"
    )
    from_site: Mapped[Site] = relationship(foreign_keys=[from_site_id])
    to_site: Mapped[Site] = relationship(foreign_keys=[to_site_id])
    receipt: Mapped[Receipt | None] = relationship()


class TransferOrderLine(Base):
    """One item of a transfer, with the forecast figures that chose its quantity."""

    __tablename__ = "transfer_order_line"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        CheckConstraint("wanted > 0", name="wanted_positive"),
        UniqueConstraint("transfer_order_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_order_id: Mapped[int] = mapped_column(
        ForeignKey("transfer_order.id", ondelete="CASCADE")
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    #: What the cover target asked for, and what the DC could send (less when it ran short).
    wanted: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    #: Forecast units per day at the front warehouse, and the method that gave it.
    forecast_per_day: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(40))
    #: Free stock at the front warehouse and on its way when planned, and its days of cover.
    free: Mapped[int] = mapped_column(Integer)
    days_of_cover: Mapped[float] = mapped_column(Float)
    #: Heading for a stock-out within the lead time (even with this transfer, when short).
    stockout_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How the quantity was chosen, in words, for the console.
    trace: Mapped[str] = mapped_column(Text, default="")

    transfer_order: Mapped[TransferOrder] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()


# --- delivery and trunk routes ------------------------------------------------------------

#: Stops that still hold their order: one per order at a time (a failed one frees it).
_LIVE_STOP = text("order_id IS NOT NULL AND status NOT IN ('failed', 'skipped')")


class Route(Base):
    """One vehicle's trip in a dispatch window: from its site, the stops in order, and back.

    ``version`` goes up with every change a carrier should hear about (``route.changed``).
    """

    __tablename__ = "route"
    __table_args__ = (
        CheckConstraint("window_end > window_start", name="window_order"),
        CheckConstraint("planned_end >= planned_start", name="planned_order"),
        CheckConstraint("distance_m >= 0 AND duration_s >= 0", name="totals_nonnegative"),
        Index("ix_route_carrier_updated", "carrier_id", "updated_at", "id"),
        Index("ix_route_site_window", "site_id", "window_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[RouteKind] = mapped_column(_enum(RouteKind, "route_kind"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("driver.id"), index=True)
    status: Mapped[RouteStatus] = mapped_column(
        _enum(RouteStatus, "route_status"), default=RouteStatus.PLANNED
    )
    #: The dispatch window it was planned for (orders promised in it).
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    planned_start: Mapped[dt.datetime]
    planned_end: Mapped[dt.datetime]
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    #: Where the travel times came from ("haversine", "osrm") and whether they are estimates.
    matrix_source: Mapped[str] = mapped_column(String(40), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Who planned it: "job:plan-routes:FW01", "user:3", "token:ab12cd34".
    planned_by: Mapped[str] = mapped_column(String(64), default="")
    accepted_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    site: Mapped[Site] = relationship()
    carrier: Mapped[Carrier] = relationship()
    vehicle: Mapped[Vehicle] = relationship()
    driver: Mapped[Driver | None] = relationship()
    stops: Mapped[list[Stop]] = relationship(back_populates="route", order_by="Stop.sequence")


class Stop(Base):
    """A place on a route: a customer order's delivery, or a front warehouse on a trunk route."""

    __tablename__ = "stop"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("window_end > window_start", name="window_order"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        CheckConstraint("totes >= 0 AND weight_kg >= 0", name="load_nonnegative"),
        CheckConstraint(
            "(order_id IS NULL) <> (transfer_order_id IS NULL)", name="order_or_transfer"
        ),
        Index(
            "uq_stop_one_live_per_order",
            "order_id",
            unique=True,
            postgresql_where=_LIVE_STOP,
            sqlite_where=_LIVE_STOP,
        ),
        Index("ix_stop_route_sequence", "route_id", "sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("route.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("customer_order.id"), index=True)
    transfer_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("transfer_order.id"), index=True
    )
    status: Mapped[StopStatus] = mapped_column(
        _enum(StopStatus, "stop_status"), default=StopStatus.PLANNED
    )
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(255))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    planned_arrival: Mapped[dt.datetime]
    #: Recomputed from the driver's positions while the route is under way.
    eta: Mapped[dt.datetime]
    service_s: Mapped[float] = mapped_column(Float, default=0.0)
    totes: Mapped[int] = mapped_column(Integer, default=0)
    weight_kg: Mapped[float] = mapped_column(Float, default=0.0)
    notes: Mapped[str] = mapped_column(Text, default="")
    arrived_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    failure_reason: Mapped[FailureReason | None] = mapped_column(
        _enum(FailureReason, "failure_reason")
    )
    recipient_name: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    route: Mapped[Route] = relationship(back_populates="stops")
    order: Mapped[Order | None] = relationship()
    transfer_order: Mapped[TransferOrder | None] = relationship()
    events: Mapped[list[StopEvent]] = relationship(back_populates="stop", order_by="StopEvent.id")


class StopEvent(Base):
    """What a driver reported at a stop, with the proof of delivery."""

    __tablename__ = "stop_event"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    stop_id: Mapped[int] = mapped_column(ForeignKey("stop.id"), index=True)
    kind: Mapped[StopEventKind] = mapped_column(_enum(StopEventKind, "stop_event_kind"))
    #: When it happened on the device, and when the server heard of it.
    happened_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    failure_reason: Mapped[FailureReason | None] = mapped_column(
        _enum(FailureReason, "failure_reason")
    )
    recipient_name: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("upload.id"))
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("upload.id"))
    #: Who reported it: "carrier-key:ab12cd34", "user:3".
    actor: Mapped[str] = mapped_column(String(64))

    stop: Mapped[Stop] = relationship(back_populates="events")


class Upload(Base):
    """A proof-of-delivery file (photo or signature) a carrier uploaded, kept in the database
    so that backups hold it; attached to the stop event that cites it."""

    __tablename__ = "upload"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"), index=True)
    kind: Mapped[UploadKind] = mapped_column(_enum(UploadKind, "upload_kind"))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DriverPosition(Base):
    """One GPS fix of a driver, as the handset sent it."""

    __tablename__ = "driver_position"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        Index("ix_driver_position_driver_time", "driver_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("driver.id"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("route.id"))
    recorded_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)


class CarrierKey(Base):
    """A carrier's API key (or one driver's token); only its SHA-256 is kept."""

    __tablename__ = "carrier_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"), index=True)
    #: A driver token reaches that driver's routes only.
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("driver.id"))
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: Of "routes:read", "stops:write", "positions:write".
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    carrier: Mapped[Carrier] = relationship()
    driver: Mapped[Driver | None] = relationship()


class WebhookSubscription(Base):
    """A carrier's URL that hears of its routes' events, signed with the subscription's secret.

    The secret is kept as given: the sender needs it to sign every delivery.
    """

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    #: Event types it wants ("route.planned", ...); empty: all of them.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- API principals and idempotency ---------------------------------------------------------

api_token_site = Table(
    "api_token_site",
    Base.metadata,
    Column("token_id", ForeignKey("api_token.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
)


class ApiToken(Base):
    """A bearer token for integrations and planners' scripts; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    #: The first characters of the token, shown so people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[TokenRole] = mapped_column(_enum(TokenRole, "token_role"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    sites: Mapped[list[Site]] = relationship(secondary=api_token_site)


class IdempotencyRecord(Base):
    """The first answer to a mutating request, kept 24 h and replayed for the same key."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("principal", "method", "path", "key"),
        Index("ix_idempotency_record_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(128))
    #: SHA-256 of the request body (and query), to refuse the same key with another payload.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]

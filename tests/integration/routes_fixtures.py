"""Routes ready to drive, built with the ORM (not the planner), for the dispatch tests.

A front warehouse (``waves_fixtures.build_warehouse``) with a staging slot, a carrier with a
vehicle, drivers and a webhook subscription, packed orders whose units were picked through the
ledger (a picked allocation and a ``pick`` movement per lot) into closed packages with SSCCs,
and planned routes of stops for them. Every stock row keeps invariant 1, so ``wms check``
holds from the start.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing.matrix import Matrix, MatrixProvider
from tests.integration.waves_fixtures import NOW, Warehouse, build_warehouse
from wms import dispatch, packing
from wms.models import (
    Allocation,
    AllocationStatus,
    Carrier,
    Driver,
    DriverPosition,
    Item,
    Movement,
    MovementKind,
    Order,
    OrderStatus,
    OutboxEvent,
    Package,
    PackageLine,
    PackageStatus,
    Route,
    RouteKind,
    RouteStatus,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Stop,
    StopEvent,
    Temperature,
    TransferOrder,
    TransferStatus,
    Upload,
    UploadKind,
    Vehicle,
    VehicleKind,
    WebhookSubscription,
)

__all__ = ["ACTOR", "NOW", "FixedLegs", "Fleet", "build_fleet", "snapshot"]

ACTOR = "carrier-key:test"


@dataclass(frozen=True)
class FixedLegs(MatrixProvider):
    """Every leg between two different points takes ``leg_s`` seconds (and as many metres)."""

    leg_s: float = 600.0
    name: ClassVar[str] = "fixed"

    def matrix(self, points: Sequence[tuple[float, float]]) -> Matrix:
        grid = tuple(
            tuple(0.0 if i == j else float(self.leg_s) for j in range(len(points)))
            for i in range(len(points))
        )
        return Matrix(grid, grid, source=self.name)


@dataclass
class Fleet:
    """One front warehouse and one carrier serving it; makes orders, routes and uploads."""

    session: Session
    house: Warehouse
    staging: Slot
    carrier: Carrier
    vehicle: Vehicle
    driver: Driver
    subscription: WebhookSubscription
    counter: int = 0
    routes: list[Route] = field(default_factory=list)

    @property
    def site(self) -> Site:
        return self.house.site

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    # --- people and vehicles ------------------------------------------------------------------

    def add_driver(self, *, carrier: Carrier | None = None, active: bool = True) -> Driver:
        n = self._next()
        driver = Driver(
            carrier_id=(carrier or self.carrier).id,
            code=f"D{n:03d}",
            name=f"Driver {n}",
            active=active,
        )
        self.session.add(driver)
        self.session.flush()
        return driver

    def other_carrier(self) -> Carrier:
        return make_carrier(self.session, self.site)[0]

    def upload(
        self, kind: UploadKind = UploadKind.PHOTO, *, carrier: Carrier | None = None
    ) -> Upload:
        data = f"{kind.value}-{self._next()}".encode()
        upload = Upload(
            carrier_id=(carrier or self.carrier).id,
            kind=kind,
            content_type="image/jpeg" if kind is UploadKind.PHOTO else "image/png",
            size_bytes=len(data),
            sha256="0" * 64,
            data=data,
        )
        self.session.add(upload)
        self.session.flush()
        return upload

    # --- orders ---------------------------------------------------------------------------------

    def packed_order(
        self,
        lines: list[tuple[Item, int]] | None = None,
        *,
        packages: int = 1,
        km_east: float = 1.0,
        start: dt.datetime | None = None,
    ) -> Order:
        """An order picked through the ledger and packed into ``packages`` closed packages."""
        s = self.session
        lines = lines or [(self.house.stocked(qty=20, bay=1 + self.counter % 10), max(2, packages))]
        order = self.house.order(lines, km_east=km_east, start=start)
        for line in order.lines:
            self._pick(line.id, line.item_id, line.quantity)
            line.picked_qty = line.quantity
        made = []
        for n in range(packages):
            package = Package(
                order_id=order.id,
                status=PackageStatus.CLOSED,
                totes=[f"T0-{n + 1}"],
                weight_g=1000,
                closed_at=NOW,
            )
            s.add(package)
            s.flush()
            package.sscc = packing.sscc(packing.DEFAULT_COMPANY_PREFIX, package.id)
            made.append(package)
        # Unit i of the order goes into package i mod n: each package gets some of the lines.
        shares: dict[tuple[int, int], int] = {}
        unit = 0
        for line in order.lines:
            for _ in range(line.quantity):
                key = (made[unit % packages].id, line.id)
                shares[key] = shares.get(key, 0) + 1
                unit += 1
        assert unit >= packages, "fewer units than packages"
        for (package_id, line_id), quantity in shares.items():
            s.add(PackageLine(package_id=package_id, order_line_id=line_id, quantity=quantity))
        order.status = OrderStatus.PACKED
        s.flush()
        return order

    def _pick(self, line_id: int, item_id: int, quantity: int) -> None:
        """Take the line's units from the site's rows, first expiry first (picked allocations)."""
        s = self.session
        rows = s.scalars(
            select(Stock)
            .join(Slot, Slot.id == Stock.slot_id)
            .where(
                Stock.item_id == item_id,
                Slot.site_id == self.site.id,
                Slot.kind.in_((SlotKind.PICK_FACE, SlotKind.RESERVE)),
                Stock.on_hand > Stock.reserved,
            )
            .order_by(Stock.expiry.is_(None), Stock.expiry, Stock.id)
        ).all()
        need = quantity
        for row in rows:
            take = min(need, row.on_hand - row.reserved)
            s.add(
                Allocation(
                    order_line_id=line_id,
                    stock_id=row.id,
                    quantity=take,
                    picked_qty=take,
                    status=AllocationStatus.PICKED,
                    closed_at=NOW,
                )
            )
            row.on_hand -= take
            s.add(
                Movement(
                    stock_id=row.id,
                    kind=MovementKind.PICK,
                    quantity=-take,
                    operation_id=str(uuid.uuid4()),
                    reference=f"order_line:{line_id}",
                )
            )
            need -= take
            if not need:
                break
        assert not need, f"not enough stock of item {item_id} for the test order"
        s.flush()

    def packages(self, order: Order) -> list[Package]:
        return list(
            self.session.scalars(
                select(Package).where(Package.order_id == order.id).order_by(Package.id)
            )
        )

    def scans(self, order: Order) -> list[str]:
        return [p.sscc or "" for p in self.packages(order)]

    # --- routes ---------------------------------------------------------------------------------

    def route(
        self,
        orders: Sequence[Order],
        *,
        start: dt.datetime | None = None,
        service_s: float = 120.0,
        vehicle: Vehicle | None = None,
        carrier: Carrier | None = None,
    ) -> Route:
        """A planned delivery route with a stop per order, in the order given."""
        start = start or NOW + dt.timedelta(minutes=30)
        route = self._route(RouteKind.DELIVERY, start, len(orders), vehicle, carrier)
        for sequence, order in enumerate(orders, start=1):
            eta = start + dt.timedelta(minutes=10 * sequence)
            self.session.add(
                Stop(
                    route_id=route.id,
                    sequence=sequence,
                    order_id=order.id,
                    name=order.customer_name,
                    address=order.address,
                    latitude=order.latitude,
                    longitude=order.longitude,
                    window_start=order.promised_start,
                    window_end=order.promised_end,
                    planned_arrival=eta,
                    eta=eta,
                    service_s=service_s,
                    totes=1,
                    weight_kg=1.0,
                    updated_at=NOW,
                )
            )
        self.session.flush()
        self.session.refresh(route)
        return route

    def failed_delivery(self, order: Order, *, start: dt.datetime, at: dt.datetime) -> Route:
        """The order's route: loaded, accepted and started at ``start``, and its delivery
        failed at ``at`` (recipient absent): the order's packages are coming back."""
        route = self.route([order], start=start)
        for scan in self.scans(order):
            dispatch.hand_over(
                self.session, route_id=route.id, package_scan=scan, user_id=None, now=start
            )
        dispatch.accept_route(
            self.session, route.id, driver_id=self.driver.id, actor=ACTOR, now=start
        )
        dispatch.start_route(self.session, route.id, actor=ACTOR, now=start)
        dispatch.complete_stop(
            self.session, route.stops[0].id, outcome="failed", failure_reason="recipient_absent",
            at=at, actor=ACTOR, now=at,
        )  # fmt: skip
        return route

    def trunk_route(self, transfers: Sequence[TransferOrder]) -> Route:
        """A planned trunk route from the DC with a stop per transfer order."""
        start = NOW + dt.timedelta(minutes=30)
        dc = self.session.get(Site, transfers[0].from_site_id)
        assert dc is not None
        vehicle = self._vehicle(dc, VehicleKind.TRUCK)
        route = self._route(RouteKind.TRUNK, start, len(transfers), vehicle, None)
        for sequence, transfer in enumerate(transfers, start=1):
            to = self.session.get(Site, transfer.to_site_id)
            assert to is not None
            eta = start + dt.timedelta(minutes=30 * sequence)
            self.session.add(
                Stop(
                    route_id=route.id,
                    sequence=sequence,
                    transfer_order_id=transfer.id,
                    name=to.name,
                    address=to.address or to.code,
                    latitude=to.latitude,
                    longitude=to.longitude,
                    window_start=start,
                    window_end=start + dt.timedelta(hours=4),
                    planned_arrival=eta,
                    eta=eta,
                    service_s=900,
                    updated_at=NOW,
                )
            )
        self.session.flush()
        self.session.refresh(route)
        return route

    def transfer(
        self, *, dc: Site | None = None, status: TransferStatus = TransferStatus.PLANNED
    ) -> TransferOrder:
        dc = dc or self.dc()
        transfer = TransferOrder(
            number=f"TO-{uuid.uuid4().hex[:10].upper()}",
            from_site_id=dc.id,
            to_site_id=self.site.id,
            status=status,
            needed_by=NOW + dt.timedelta(hours=6),
            created_by="test",
        )
        self.session.add(transfer)
        self.session.flush()
        return transfer

    def dc(self) -> Site:
        code = f"DC{uuid.uuid4().hex[:6].upper()}"
        site = Site(
            code=code,
            name=f"DC {code}",
            kind=SiteKind.CENTRAL_DC,
            latitude=52.40,
            longitude=4.80,
            timezone="Europe/Amsterdam",
        )
        self.session.add(site)
        self.session.flush()
        return site

    def _route(
        self,
        kind: RouteKind,
        start: dt.datetime,
        stops: int,
        vehicle: Vehicle | None,
        carrier: Carrier | None,
    ) -> Route:
        vehicle = vehicle or self.vehicle
        n = self._next()
        route = Route(
            number=f"R-{self.site.code}-{n:04d}",
            kind=kind,
            site_id=vehicle.site_id,
            carrier_id=(carrier or self.carrier).id,
            vehicle_id=vehicle.id,
            status=RouteStatus.PLANNED,
            window_start=start,
            window_end=start + dt.timedelta(hours=2),
            planned_start=start,
            planned_end=start + dt.timedelta(minutes=10 * (stops + 1)),
            distance_m=1000.0 * stops,
            duration_s=600.0 * stops,
            matrix_source="haversine",
            version=1,
            planned_by="test",
            created_at=NOW,
            updated_at=NOW,
        )
        self.session.add(route)
        self.session.flush()
        self.routes.append(route)
        return route

    def _vehicle(self, site: Site, kind: VehicleKind = VehicleKind.VAN) -> Vehicle:
        vehicle = Vehicle(
            carrier_id=self.carrier.id,
            site_id=site.id,
            code=f"V{self._next():03d}",
            kind=kind,
            capacity_totes=40,
            capacity_kg=700,
            shift_start=dt.time(6),
            shift_end=dt.time(22),
        )
        self.session.add(vehicle)
        self.session.flush()
        return vehicle


def make_carrier(
    session: Session, site: Site
) -> tuple[Carrier, Vehicle, Driver, WebhookSubscription]:
    """A carrier with a van at the site, one driver and a webhook subscription to everything."""
    code = f"C{uuid.uuid4().hex[:8].upper()}"
    carrier = Carrier(code=code, name=f"Carrier {code}")
    session.add(carrier)
    session.flush()
    vehicle = Vehicle(
        carrier_id=carrier.id,
        site_id=site.id,
        code="VAN1",
        kind=VehicleKind.VAN,
        capacity_totes=40,
        capacity_kg=700,
        shift_start=dt.time(6),
        shift_end=dt.time(22),
    )
    driver = Driver(carrier_id=carrier.id, code="D1", name="First driver")
    subscription = WebhookSubscription(
        carrier_id=carrier.id, url="https://carrier.example/hooks", secret="s" * 32, events=[]
    )
    session.add_all([vehicle, driver, subscription])
    session.flush()
    return carrier, vehicle, driver, subscription


def build_fleet(session: Session, code: str | None = None) -> Fleet:
    """A front warehouse with a staging slot and a carrier serving it."""
    house = build_warehouse(session, code)
    staging = Slot(
        site_id=house.site.id,
        zone_id=house.zones[Temperature.AMBIENT].id,
        barcode=f"{house.site.code}-STAGE",
        kind=SlotKind.STAGING,
    )
    session.add(staging)
    session.flush()
    carrier, vehicle, driver, subscription = make_carrier(session, house.site)
    return Fleet(session, house, staging, carrier, vehicle, driver, subscription)


def snapshot(session: Session) -> dict[str, Any]:
    """Everything the dispatch services may touch, read with Core selects (so a refused call
    can be shown to have changed nothing)."""

    def rows(*columns: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in session.execute(select(*columns).order_by(columns[0]))]

    return {
        "routes": rows(Route.id, Route.status, Route.version, Route.driver_id, Route.updated_at),
        "stops": rows(
            Stop.id, Stop.status, Stop.arrived_at, Stop.completed_at, Stop.eta, Stop.updated_at
        ),
        "packages": rows(
            Package.id,
            Package.stop_id,
            Package.loaded_at,
            Package.returned_at,
            Package.return_disposition,
        ),
        "orders": rows(Order.id, Order.status),
        "transfers": rows(TransferOrder.id, TransferOrder.status),
        "stock": rows(Stock.id, Stock.on_hand, Stock.reserved, Stock.hold),
        "drivers": rows(Driver.id, Driver.last_latitude, Driver.last_position_at),
        "counts": [
            session.scalar(select(func.count()).select_from(table))
            for table in (StopEvent, OutboxEvent, DriverPosition, Movement)
        ],
    }

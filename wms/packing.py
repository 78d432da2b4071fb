"""Packing: an order's totes into a package, its lines confirmed, the package labelled (SSCC).

At the packing station a packer scans a tote (``open_package``): its order must be picked; its
open package is found or started and the tote recorded. The packer confirms each line's
units (``confirm_line``: no more than were picked) and closes the package (``close``), which
gets its SSCC. Once every picked unit is in a closed package (a big order may fill several)
the order is packed, ready for its route stop.

SSCCs (GS1): extension digit, the company prefix (``GS1_COMPANY_PREFIX`` in the config, 7 to
10 digits), a serial reference from the package id, and the check digit — 18 digits.
"""

from __future__ import annotations

from biip.checksums import gs1_standard_check_digit
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wms import orders, picklists
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    OrderLine,
    OrderStatus,
    Package,
    PackageLine,
    PackageStatus,
    PickTask,
    utcnow,
)

#: GS1 Netherlands' range for internal use in examples; a real site sets its own prefix.
DEFAULT_COMPANY_PREFIX = "8712345"
EXTENSION_DIGIT = "0"


def sscc(company_prefix: str, serial: int) -> str:
    """The 18-digit SSCC for a serial number under a GS1 company prefix."""
    if not (company_prefix.isdigit() and 7 <= len(company_prefix) <= 10):
        raise RuleViolation("the GS1 company prefix must be 7 to 10 digits", field="prefix")
    room = 16 - len(company_prefix)
    if not 0 <= serial < 10**room:
        raise RuleViolation(f"serial {serial} does not fit {room} digits", field="serial")
    body = f"{EXTENSION_DIGIT}{company_prefix}{serial:0{room}d}"
    return f"{body}{gs1_standard_check_digit(body)}"


def _lock_package(session: Session, package_id: int) -> Package:
    package = session.scalars(
        select(Package)
        .where(Package.id == package_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if package is None:
        raise NotFound(f"package {package_id} does not exist", field="package_id")
    return package


def open_package(session: Session, tote: str, *, user_id: int | None = None) -> Package:
    """Start (or continue) packing the order whose units are in the scanned tote.

    Refused: an unknown tote label (422); an order not picked yet or already packed (409).
    """
    order = orders.lock_order(session, picklists.order_of_tote(session, tote).id)
    if order.status is not OrderStatus.PICKED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: only picked orders are packed",
            field="tote",
        )
    package = session.scalars(
        select(Package)
        .where(Package.order_id == order.id, Package.status == PackageStatus.OPEN)
        .with_for_update()
    ).first()
    if package is None:
        package = Package(order_id=order.id, status=PackageStatus.OPEN, totes=[], packed_by=user_id)
        session.add(package)
    label = tote.strip().upper()
    if label not in package.totes:
        package.totes = [*package.totes, label]
    session.flush()
    return package


def _picked(session: Session, order_id: int) -> dict[int, int]:
    """Units picked per order line (what went into the order's totes)."""
    return {
        line_id: int(units)
        for line_id, units in session.execute(
            select(PickTask.order_line_id, func.sum(PickTask.picked_qty))
            .where(PickTask.order_id == order_id)
            .group_by(PickTask.order_line_id)
        )
    }


def _packed(session: Session, order_id: int) -> dict[int, int]:
    """Units already in the order's closed packages, per line."""
    rows = session.execute(
        select(PackageLine.order_line_id, func.sum(PackageLine.quantity))
        .join(Package, Package.id == PackageLine.package_id)
        .where(Package.order_id == order_id, Package.status == PackageStatus.CLOSED)
        .group_by(PackageLine.order_line_id)
    )
    return {line_id: int(units) for line_id, units in rows}


def confirm_line(
    session: Session, package_id: int, *, order_line_id: int, quantity: int
) -> PackageLine:
    """Confirm units of an order line into an open package (replacing an earlier count).

    Refused: a line of another order or more units than were picked (422); a closed
    package (409).
    """
    package = _lock_package(session, package_id)
    if package.status is not PackageStatus.OPEN:
        raise Conflict(f"package {package.sscc or package.id} is closed", field="package_id")
    line = session.get(OrderLine, order_line_id)
    if line is None or line.order_id != package.order_id:
        raise RuleViolation(
            f"order line {order_line_id} is not on this package's order", field="order_line_id"
        )
    if quantity < 1:
        raise RuleViolation("must be at least 1", field="quantity")
    existing = next((pl for pl in package.lines if pl.order_line_id == line.id), None)
    others = _packed(session, package.order_id).get(line.id, 0)
    picked = _picked(session, package.order_id).get(line.id, 0)
    if others + quantity > picked:
        item = session.get(Item, line.item_id)
        raise RuleViolation(
            f"only {picked - others} of {item.sku if item else 'this item'} were picked for "
            "this order",
            field="quantity",
        )
    if existing is None:
        existing = PackageLine(package_id=package.id, order_line_id=line.id, quantity=quantity)
        session.add(existing)
        package.lines.append(existing)
    else:
        existing.quantity = quantity
    session.flush()
    return existing


def close(
    session: Session,
    package_id: int,
    *,
    company_prefix: str = DEFAULT_COMPANY_PREFIX,
    weight_g: int | None = None,
    user_id: int | None = None,
) -> Package:
    """Close a package with its SSCC; the order is packed once every picked unit is in a
    closed package (a big order may take several). Refused (409): an empty package."""
    order_id = session.scalar(select(Package.order_id).where(Package.id == package_id))
    if order_id is None:
        raise NotFound(f"package {package_id} does not exist", field="package_id")
    order = orders.lock_order(session, order_id)  # the order before its package, always
    package = _lock_package(session, package_id)
    if package.status is not PackageStatus.OPEN:
        raise Conflict(f"package {package.sscc} is already closed", field="package_id")
    if not package.lines:
        raise Conflict("the package is empty: confirm its lines first", field="lines")
    if weight_g is not None and weight_g < 1:
        raise RuleViolation("must be at least 1", field="weight_g")
    package.sscc = sscc(company_prefix, package.id)
    package.status = PackageStatus.CLOSED
    package.closed_at = utcnow()
    package.packed_by = user_id or package.packed_by
    if weight_g is not None:
        package.weight_g = weight_g
    session.flush()
    if not unpacked(session, order.id):
        orders.advance(order, OrderStatus.PACKED)
        session.flush()
    return package


def unpacked(session: Session, order_id: int) -> dict[int, int]:
    """Picked units of an order not yet in a closed package, per order line."""
    packed = _packed(session, order_id)
    left = {line: units - packed.get(line, 0) for line, units in _picked(session, order_id).items()}
    return {line: units for line, units in left.items() if units > 0}

"""Inbound: receipts against an advance shipping notice (ASN) or blind, and the units received.

Received units land in the receipt's dock or staging slot through one receipt movement per
scan. Docks take anything: neither the item's temperature nor the slot's capacity is checked
there (the units are already on the floor); only a locked dock refuses them. Receiving more
than expected, or an item and lot the ASN does not list, is allowed and shows up as
over-receipt in the summary.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wms import scanning
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    MovementKind,
    Receipt,
    ReceiptKind,
    ReceiptLine,
    ReceiptStatus,
    Site,
    Slot,
    SlotKind,
    TransferOrder,
    TransferStatus,
    utcnow,
)
from wms.stock import (
    SlotLocked,
    check_quantity,
    ensure_row,
    get_item,
    lock_rows,
    new_operation_id,
    post,
)

#: Slots received units may land in.
RECEIVING_KINDS = (SlotKind.DOCK, SlotKind.STAGING)

#: Generated receipt numbers: "RC" and the receipt id, zero-padded to eight digits.
_GENERATED_NUMBER = re.compile(r"RC\d{8}")

_LOT_MAX = 64
#: The most units one receipt line may take (the quantity columns are 32-bit integers).
MAX_UNITS = 2**31 - 1
_NUMBER_MAX = 32
_TEXT_MAX = 120


@dataclass(frozen=True, slots=True)
class ExpectedLine:
    """One line of an advance shipping notice: what the supplier says is coming."""

    item_id: int
    quantity: int
    lot: str = ""
    expiry: dt.date | None = None


@dataclass(frozen=True, slots=True)
class LineSummary:
    line_no: int
    item_id: int
    sku: str
    lot: str
    expiry: dt.date | None
    #: None for blind receipts and for lines the ASN did not list.
    expected: int | None
    received: int
    #: Received minus expected: + over-receipt, - under-receipt. On an ASN receipt a line the
    #: ASN did not list counts as all over-receipt; blind receipts have no variance (None).
    variance: int | None

    @property
    def unexpected(self) -> bool:
        return self.expected is None


@dataclass(frozen=True, slots=True)
class ReceiptSummary:
    receipt: Receipt
    lines: tuple[LineSummary, ...]

    @property
    def over_received(self) -> int:
        """Units received beyond what the ASN announced (0 for blind receipts)."""
        return sum(line.variance for line in self.lines if line.variance and line.variance > 0)

    @property
    def under_received(self) -> int:
        """Units the ASN announced that did not arrive (a positive number)."""
        return -sum(line.variance for line in self.lines if line.variance and line.variance < 0)

    @property
    def received(self) -> int:
        return sum(line.received for line in self.lines)


# --- helpers ---------------------------------------------------------------------------------


def _site_today(site: Site) -> dt.date:
    return dt.datetime.now(ZoneInfo(site.timezone)).date()


def _clean_text(value: str, *, field: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise RuleViolation(f"{field} is longer than {limit} characters", field=field)
    return value


def _check_tracking(
    item: Item,
    lot: str,
    expiry: dt.date | None,
    *,
    today: dt.date | None,
    lot_field: str = "lot",
    expiry_field: str = "expiry",
    expiry_required: bool = True,
) -> str:
    """Refuse a lot or expiry the item's tracking does not allow; return the cleaned lot."""
    lot = _clean_text(lot, field=lot_field, limit=_LOT_MAX)
    if item.lot_tracked and not lot:
        raise RuleViolation(f"{item.sku} is lot-tracked: give the lot", field=lot_field)
    if not item.lot_tracked and lot:
        raise RuleViolation(f"{item.sku} is not lot-tracked: leave the lot empty", field=lot_field)
    if item.expiry_tracked and expiry is None and expiry_required:
        raise RuleViolation(f"{item.sku} is expiry-tracked: give the expiry", field=expiry_field)
    if not item.expiry_tracked and expiry is not None:
        raise RuleViolation(
            f"{item.sku} is not expiry-tracked: leave the expiry empty", field=expiry_field
        )
    if expiry is not None and today is not None and expiry < today:
        raise RuleViolation(
            f"{item.sku} lot {lot} expired on {expiry:%Y-%m-%d}: refuse the goods",
            field=expiry_field,
        )
    return lot


def _lock_receipt(session: Session, receipt_id: int) -> Receipt:
    receipt = session.scalars(
        select(Receipt)
        .where(Receipt.id == receipt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if receipt is None:
        raise NotFound(f"receipt {receipt_id} does not exist", field="receipt_id")
    return receipt


def _require_open(receipt: Receipt, doing: str) -> None:
    if receipt.status is not ReceiptStatus.OPEN:
        raise Conflict(
            f"receipt {receipt.number} is {receipt.status.value}: cannot {doing}",
            field="receipt_id",
        )


# --- services --------------------------------------------------------------------------------


def create_receipt(
    session: Session,
    *,
    site_id: int,
    dock_slot_id: int,
    kind: ReceiptKind,
    lines: list[ExpectedLine] | None = None,
    supplier: str = "",
    reference: str | None = None,
    number: str | None = None,
    user_id: int | None = None,
) -> Receipt:
    """Open a receipt at a dock or staging slot: an ASN with its expected lines, or blind."""
    lines = list(lines or [])
    try:
        kind = ReceiptKind(kind)
    except ValueError:
        raise RuleViolation(
            f"unknown receipt kind {kind!r}; use asn or blind", field="kind"
        ) from None
    site = session.get(Site, site_id)
    if site is None:
        raise RuleViolation(f"site {site_id} does not exist", field="site_id")
    slot = session.get(Slot, dock_slot_id)
    if slot is None:
        raise RuleViolation(f"slot {dock_slot_id} does not exist", field="dock_slot_id")
    if slot.site_id != site.id:
        raise RuleViolation(f"slot {slot.barcode} is not in site {site.code}", field="dock_slot_id")
    if slot.kind not in RECEIVING_KINDS:
        raise RuleViolation(
            f"goods are received into a dock or staging slot, not {slot.kind.value} {slot.barcode}",
            field="dock_slot_id",
        )
    if kind is ReceiptKind.ASN and not lines:
        raise RuleViolation("an ASN receipt lists the expected lines", field="lines")
    if kind is ReceiptKind.BLIND and lines:
        raise RuleViolation("a blind receipt has no expected lines", field="lines")
    supplier = _clean_text(supplier, field="supplier", limit=_TEXT_MAX)
    if reference is not None:
        reference = _clean_text(reference, field="reference", limit=_TEXT_MAX) or None
    if number is not None:
        number = _clean_text(number, field="number", limit=_NUMBER_MAX)
        if not number:
            raise RuleViolation(
                "number must not be blank; leave it out to generate one", field="number"
            )
        if _GENERATED_NUMBER.fullmatch(number):
            raise RuleViolation(
                "numbers of the form RC + 8 digits are generated; choose another", field="number"
            )
        if session.scalar(select(Receipt.id).where(Receipt.number == number)) is not None:
            raise Conflict(f"receipt number {number} is already used", field="number")

    expected: list[ReceiptLine] = []
    seen: set[tuple[int, str]] = set()
    for i, line in enumerate(lines):
        at = f"lines[{i}]"
        item = get_item(session, line.item_id, field=f"{at}.item_id")
        quantity = check_quantity(line.quantity, field=f"{at}.quantity")
        # The expiry on an ASN is informative (it may be missing or already passed on paper);
        # what counts is the expiry scanned at receipt.
        lot = _check_tracking(
            item,
            line.lot,
            line.expiry,
            today=None,
            lot_field=f"{at}.lot",
            expiry_field=f"{at}.expiry",
            expiry_required=False,
        )
        if (item.id, lot) in seen:
            raise RuleViolation(
                f"{item.sku}" + (f" lot {lot}" if lot else "") + " is listed twice", field=at
            )
        seen.add((item.id, lot))
        expected.append(
            ReceiptLine(
                line_no=i + 1,
                item_id=item.id,
                lot=lot,
                expiry=line.expiry,
                expected_qty=quantity,
                received_qty=0,
            )
        )

    receipt = Receipt(
        # A unique placeholder until the id is known (the number column is NOT NULL UNIQUE).
        number=number or f"new-{uuid.uuid4().hex[:24]}",
        site_id=site.id,
        kind=kind,
        status=ReceiptStatus.OPEN,
        supplier=supplier,
        reference=reference,
        dock_slot_id=slot.id,
        created_by=user_id,
    )
    receipt.lines.extend(expected)
    session.add(receipt)
    session.flush()
    if number is None:
        receipt.number = f"RC{receipt.id:08d}"
        session.flush()
    return receipt


def receive(
    session: Session,
    receipt_id: int,
    *,
    item_id: int,
    quantity: int,
    lot: str = "",
    expiry: dt.date | None = None,
    user_id: int | None = None,
    idempotency_key: str | None = None,
) -> ReceiptLine:
    """Receive units of an item and lot into the receipt's dock slot and count them on its line.

    Matches the ASN line of the same item and lot; anything else gets a new, unexpected line
    (expected quantity None). Receiving more than expected is recorded, not refused.
    """
    receipt = _lock_receipt(session, receipt_id)
    _require_open(receipt, "receive into it")
    check_quantity(quantity)
    item = get_item(session, item_id)
    site = session.get(Site, receipt.site_id)
    assert site is not None
    lot = _check_tracking(item, lot, expiry, today=_site_today(site))

    # Slots are locked before stock rows; a locked dock takes nothing in.
    dock = session.scalars(
        select(Slot)
        .where(Slot.id == receipt.dock_slot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if dock.locked:
        raise SlotLocked(
            f"dock slot {dock.barcode} is locked"
            + (f": {dock.lock_reason}" if dock.lock_reason else ""),
            field="receipt_id",
        )
    row = ensure_row(session, slot_id=dock.id, item_id=item.id, lot=lot, expiry=expiry)
    row = lock_rows(session, [row.id])[row.id]

    line = next((ln for ln in receipt.lines if ln.item_id == item.id and ln.lot == lot), None)
    if line is None:
        last = session.scalar(
            select(func.max(ReceiptLine.line_no)).where(ReceiptLine.receipt_id == receipt.id)
        )
        line = ReceiptLine(
            line_no=(last or 0) + 1,
            item_id=item.id,
            lot=lot,
            expiry=expiry,
            expected_qty=None,
            received_qty=0,
        )
        receipt.lines.append(line)
    elif line.expiry is None:
        line.expiry = expiry
    line.received_qty += quantity
    post(
        session,
        row,
        quantity,
        MovementKind.RECEIPT,
        operation_id=new_operation_id(),
        user_id=user_id,
        reason=f"received on {receipt.number}",
        reference=f"receipt:{receipt.id}",
        idempotency_key=idempotency_key,
    )
    return line


def summarize(session: Session, receipt_id: int) -> ReceiptSummary:
    """Per line: expected, received and the variance (+ over-receipt, - under-receipt)."""
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound(f"receipt {receipt_id} does not exist", field="receipt_id")
    return _summary(receipt)


def _summary(receipt: Receipt) -> ReceiptSummary:
    rows = []
    for line in receipt.lines:
        if receipt.kind is ReceiptKind.BLIND:
            variance = None
        else:
            variance = line.received_qty - (line.expected_qty or 0)
        rows.append(
            LineSummary(
                line_no=line.line_no,
                item_id=line.item_id,
                sku=line.item.sku,
                lot=line.lot,
                expiry=line.expiry,
                expected=line.expected_qty,
                received=line.received_qty,
                variance=variance,
            )
        )
    return ReceiptSummary(receipt=receipt, lines=tuple(rows))


def close_receipt(
    session: Session, receipt_id: int, *, user_id: int | None = None
) -> ReceiptSummary:
    """Close an open receipt and return what arrived against what was expected.

    A DC transfer's receipt closing means the transfer has arrived: it becomes received.
    """
    receipt = _lock_receipt(session, receipt_id)
    _require_open(receipt, "close it")
    closed = utcnow()
    receipt.status = ReceiptStatus.CLOSED
    receipt.closed_at = closed
    # Planned ones too: nothing records a trunk route's departure (dispatched) yet.
    transfer = session.scalars(
        select(TransferOrder)
        .where(
            TransferOrder.receipt_id == receipt.id,
            TransferOrder.status.in_((TransferStatus.PLANNED, TransferStatus.DISPATCHED)),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if transfer is not None:
        transfer.status = TransferStatus.RECEIVED
        transfer.updated_at = closed
    session.flush()
    return _summary(receipt)


def cancel_receipt(session: Session, receipt_id: int, *, user_id: int | None = None) -> Receipt:
    """Cancel an open receipt on which nothing has been received yet."""
    receipt = _lock_receipt(session, receipt_id)
    _require_open(receipt, "cancel it")
    received = sum(line.received_qty for line in receipt.lines)
    if received:
        raise Conflict(
            f"{received} unit(s) were already received on {receipt.number}: close it instead",
            field="receipt_id",
        )
    receipt.status = ReceiptStatus.CANCELLED
    receipt.closed_at = utcnow()
    session.flush()
    return receipt


__all__ = [
    "RECEIVING_KINDS",
    "ExpectedLine",
    "LineSummary",
    "ReceiptSummary",
    "cancel_receipt",
    "close_receipt",
    "create_receipt",
    "receive",
    "summarize",
]


def receive_scan(
    session: Session,
    receipt_id: int,
    *,
    scan: str,
    quantity: int,
    separator: str | None = None,
    user_id: int | None = None,
    idempotency_key: str | None = None,
) -> ReceiptLine:
    """Receive what a handheld scanned: the item, lot and expiry come from the barcode.

    ``quantity`` counts scans of that barcode, so a case GTIN of 12 units scanned with
    quantity 2 receives 24 units. Lot-tracked items need a GS1 code that carries the lot.
    """
    check_quantity(quantity)
    parsed = scanning.parse_scan(scan, separator=separator)
    try:
        item, units = scanning.find_item(session, parsed)
    except NotFound as error:  # a barcode in the request, not a missing resource
        raise RuleViolation(error.message, field="scan") from None
    if quantity * units > MAX_UNITS:
        raise RuleViolation(
            f"{quantity} x {units} units is more than one receipt line takes ({MAX_UNITS})",
            field="quantity",
        )
    return receive(
        session,
        receipt_id,
        item_id=item.id,
        quantity=quantity * units,
        lot=parsed.lot or "",
        expiry=parsed.expiry,
        user_id=user_id,
        idempotency_key=idempotency_key,
    )


def summary_at(session: Session, receipt_id: int, *, site_id: int) -> ReceiptSummary:
    """A receipt's summary, if it is one of the site's (NotFound otherwise)."""
    if not 0 < receipt_id < 2**31:
        raise NotFound(f"receipt {receipt_id} does not exist", field="receipt_id")
    receipt = session.get(Receipt, receipt_id)
    if receipt is None or receipt.site_id != site_id:
        raise NotFound(f"receipt {receipt_id} is not at this site", field="receipt_id")
    return _summary(receipt)

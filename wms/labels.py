"""Labels for the floor: slots, totes and parcels (SSCC), as PDF pages and as ZPL for Zebras.

Every label is a ``Label`` — a title, lines of text and one barcode — drawn the same way in
both forms: 100 x 150 mm (4 x 6 inch, the common thermal size), the barcode in Code 128 and,
for SSCCs, GS1-128 with the application identifier ``(00)`` (FNC1 first, as GS1 requires).
ZPL is for 203 dpi printers (8 dots per mm); the PDF has one label per page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from wms.errors import RuleViolation
from wms.models import Order, Package, PackageStatus, Site, Slot

WIDTH_MM, HEIGHT_MM = 100, 150
DOTS_PER_MM = 8  # 203 dpi
FNC1 = "\xf1"  # reportlab's Code 128 reads this as the FNC1 character


@dataclass(frozen=True, slots=True)
class Label:
    """What one label shows: a big title, up to six lines, and its barcode."""

    title: str
    lines: tuple[str, ...]
    barcode: str  # the data, as scanned
    human: str  # the text under the barcode
    gs1: bool = False  # GS1-128 (FNC1 first) rather than plain Code 128


def slot_label(slot: Slot) -> Label:
    """A rack label: the slot barcode and where the slot is."""
    where = (
        f"aisle {slot.aisle} bay {slot.bay} {slot.side.value if slot.side else ''} level "
        f"{slot.level}"
        if slot.aisle is not None
        else slot.kind.value.replace("_", " ")
    )
    return Label(
        slot.barcode, (where, slot.kind.value.replace("_", " ")), slot.barcode, slot.barcode
    )


def tote_label(code: str, *, order_number: str | None = None) -> Label:
    """A cart tote's label (``T<pick list>-<position>``), with its order when known."""
    return Label(code, (f"order {order_number}",) if order_number else (), code, code)


def sscc_label(package: Package, order: Order, site: Site) -> Label:
    """A parcel's label: the SSCC as GS1-128, the customer, the address and the window."""
    if package.status is not PackageStatus.CLOSED or not package.sscc:
        raise RuleViolation("close the package first: it has no SSCC yet", field="package_id")
    window = f"{order.promised_start:%d %b %H:%M}-{order.promised_end:%H:%M} UTC"
    lines = (
        order.customer_name,
        order.address,
        f"order {order.number}",
        f"deliver {window}",
        f"from {site.code} {site.name}",
    )
    return Label(f"SSCC {package.sscc}", lines, f"00{package.sscc}", f"(00) {package.sscc}", True)


# --- ZPL ----------------------------------------------------------------------------------------


def _zpl_text(text: str) -> str:
    # ^FH lets _xx stand for a byte: escape the characters ZPL reads as commands.
    return "".join(f"_{ord(c):02X}" if c in "^~_" or ord(c) > 126 else c for c in text)


def to_zpl(labels: Sequence[Label]) -> str:
    """The labels as one ZPL II job for a 203 dpi printer, 100 x 150 mm each."""
    jobs = []
    for label in labels:
        dots = [
            "^XA",
            "^CI28",  # UTF-8
            f"^PW{WIDTH_MM * DOTS_PER_MM}^LL{HEIGHT_MM * DOTS_PER_MM}",
            f"^FO40,40^A0N,60,60^FH^FD{_zpl_text(label.title)}^FS",
        ]
        for n, line in enumerate(label.lines[:6]):
            dots.append(f"^FO40,{130 + n * 50}^A0N,36,36^FH^FD{_zpl_text(line)}^FS")
        # >; switches Code 128 to subset C, >8 is FNC1: GS1-128 for the SSCC.
        data = f">;>8{label.barcode}" if label.gs1 else _zpl_text(label.barcode)
        dots.append(f"^FO40,500^BY3^BCN,240,N,N,N^FD{data}^FS")
        dots.append(f"^FO40,770^A0N,44,44^FH^FD{_zpl_text(label.human)}^FS")
        dots.append("^XZ")
        jobs.append("\n".join(dots))
    return "\n".join(jobs) + "\n"


# --- PDF ----------------------------------------------------------------------------------------


def to_pdf(labels: Sequence[Label]) -> bytes:
    """The labels as a PDF, one 100 x 150 mm page each."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(WIDTH_MM * mm, HEIGHT_MM * mm), invariant=True)
    page.setTitle("labels")
    for label in labels:
        top = HEIGHT_MM * mm
        page.setFont("Helvetica-Bold", 20)
        page.drawString(6 * mm, top - 14 * mm, label.title[:40])
        page.setFont("Helvetica", 12)
        for n, line in enumerate(label.lines[:6]):
            page.drawString(6 * mm, top - (24 + n * 7) * mm, line[:60])
        data = f"{FNC1}{label.barcode}" if label.gs1 else label.barcode
        barcode = Code128(data, barHeight=30 * mm, barWidth=0.33 * mm, quiet=True)
        width = min(barcode.width, (WIDTH_MM - 8) * mm)
        if barcode.width > width:  # narrow the bars to fit the page
            barcode = Code128(data, barHeight=30 * mm, barWidth=0.33 * mm * width / barcode.width)
        barcode.drawOn(page, 4 * mm, top - 105 * mm)
        page.setFont("Helvetica", 14)
        page.drawString(6 * mm, top - 114 * mm, label.human)
        page.showPage()
    page.save()
    return out.getvalue()

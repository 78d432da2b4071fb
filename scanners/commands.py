"""Command barcodes: scanned instead of tapping, so gloves never have to find a button.

Every scanner page understands these values in its scan field. The printable sheet draws
them as Code 128 symbols (SVG, by reportlab's barcode module).
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.graphics.barcode import createBarcodeDrawing
from reportlab.graphics.renderSVG import drawToString

#: The value every command barcode starts with: no slot, item or tote label begins so.
PREFIX = "CMD:"


@dataclass(frozen=True, slots=True)
class Command:
    """One command barcode: its value, its label and what it does on a page."""

    value: str
    label: str
    does: str


COMMANDS = (
    Command(f"{PREFIX}CONFIRM", "Confirm", "Accept what is shown (the suggested quantity)"),
    Command(f"{PREFIX}OK", "OK", "Acknowledge an error banner"),
    Command(f"{PREFIX}SKIP", "Skip", "Leave this task for later"),
    Command(f"{PREFIX}SHORT", "Short", "Fewer units than asked: say how many and why"),
    Command(f"{PREFIX}CANCEL", "Cancel", "Drop the current step and start the task again"),
    Command(f"{PREFIX}LOGOUT", "Log out", "Sign out of this handheld"),
    Command(f"{PREFIX}RESTOCK", "Back to stock", "Returns: the package's units go back on sale"),
    Command(f"{PREFIX}QUARANTINE", "Quarantine", "Returns: the package's units go on hold"),
)


def svg(value: str) -> str:
    """A Code 128 symbol of the value, with its text below, as an SVG document."""
    drawing = createBarcodeDrawing(
        "Code128", value=value, barHeight=48, barWidth=1.6, humanReadable=True, fontSize=14
    )
    text = drawToString(drawing)
    # Drop the XML prologue and DOCTYPE so the SVG can sit inline in the page.
    return text[text.index("<svg") :]


def sheet() -> list[tuple[Command, str]]:
    """Every command with its symbol, in the order printed."""
    return [(command, svg(command.value)) for command in COMMANDS]

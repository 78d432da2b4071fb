"""Raw scans: what a handheld sent, read with the ``biip`` GS1 library, and what it names.

A scan is one of four kinds:

- ``gtin``: a bare GTIN-8/12/13/14 (EAN-8, UPC-A, EAN-13, ITF-14), check digit verified;
- ``sscc``: a bare 18-digit SSCC (a pallet or parcel label), check digit verified;
- ``gs1``: a GS1 element string — GS1-128, GS1 DataMatrix, GS1 QR, DataBar — sent raw with
  FNC1 as ASCII 29 (GS), in the bracketed human-readable form ``(01)…(10)…``, or as a GS1
  Digital Link URI;
- ``other``: anything else — slot labels (``FW01-03-14L-2``), totes, badges. Not an error:
  slot barcodes are scanned all day; the caller decides what an ``other`` scan may be.

A scan that is recognisably GS1 or a GTIN and is malformed is a :class:`RuleViolation`
(``field="scan"``) whose message names the application identifier (AI) and what is wrong.
Recognisably GS1 means: a GS1 symbology identifier (``]C1``, ``]e0``, ``]d2``, ``]Q3``,
``]J1``), the bracketed form, a GS separator after a leading AI, or a leading (00) SSCC or
(01)/(02) GTIN with more data after it. A code of only digits is a GTIN when it has 8, 12, 13
or 14 digits and an SSCC when it has 18; other codes are ``other``, even when they happen to
start with digits that look like an AI, because an internal code such as ``1012345`` must not
be read as "lot 12345".

Many keyboard-wedge scanners cannot type ASCII 29; configure them to send a stand-in that
never occurs inside GS1 data (``|``, ``~``, ``^``...) and pass it as ``separator``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Literal

from biip import EncodeError, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.sscc import Sscc
from biip.symbology import GS1Symbology, SymbologyIdentifier
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import Item, ItemBarcode, ScanEvent, Slot

ScanKind = Literal["gtin", "gs1", "sscc", "other"]

#: ASCII 29, the group separator scanners send for FNC1.
GS = "\x1d"

#: GS1 character set 82 plus space: what may appear inside GS1 data, so never a stand-in.
_GS1_DATA_CHARACTERS = frozenset(
    "!\"%&'()*+,-./:;<=>?_ 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

#: How messages name the AIs people meet on the floor; others go by their GS1 data title.
_AI_NAMES = {
    "00": "SSCC",
    "01": "GTIN",
    "02": "GTIN of the contents",
    "10": "lot",
    "11": "production date",
    "15": "best-before date",
    "17": "expiry date",
    "21": "serial number",
    "30": "count",
    "37": "count",
}

_HRI_START = re.compile(r"\(\d{2,4}\)")
_HRI_ELEMENT = re.compile(r"\((\d+)\)([^(]*)")
#: A GS1-128 or DataMatrix code sent without symbology identifier: (00) or (01)/(02) first.
#: (Bare 14- and 18-digit codes are GTINs and SSCCs and never reach this test.)
_LEADING_KEY = re.compile(r"00\d{18}|0[12]\d{14}")


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan, parsed: what kind of code it is and the GS1 data it carries."""

    #: Exactly what the scanner sent.
    raw: str
    kind: ScanKind
    #: The scanned characters without surrounding whitespace and symbology identifier; for an
    #: ``other`` scan, the code to look up.
    text: str
    #: The symbology identifier the scanner prefixed, e.g. ``"]C1"``, if any.
    symbology: str | None = None
    #: The GTIN as 14 digits, from a bare GTIN, AI (01), or AI (02) on a logistic label.
    gtin: str | None = None
    lot: str | None = None
    #: AI (17), or AI (15) best-before when there is no (17); day "00" is the month's last day.
    expiry: dt.date | None = None
    serial: str | None = None
    #: How many trade items the scan stands for: AI (37), or AI (30) when there is no (37).
    quantity: int | None = None
    sscc: str | None = None

    @property
    def gtin_candidates(self) -> tuple[str, ...]:
        """The spellings of the scan's GTIN a barcode table may hold, GTIN-14 first."""
        return gtin_forms(self.gtin) if self.gtin else ()


def gtin_forms(gtin: str) -> tuple[str, ...]:
    """Return every GTIN-14/13/12/8 spelling of a valid GTIN, longest first."""
    parsed = Gtin.parse(gtin)
    forms: list[str] = []
    for encode in (parsed.as_gtin_14, parsed.as_gtin_13, parsed.as_gtin_12, parsed.as_gtin_8):
        try:
            forms.append(encode())
        except EncodeError:  # a GTIN-13 has no GTIN-12 or GTIN-8 spelling
            break
    return tuple(forms)


def normalize_gtin(value: str, *, field: str = "scan") -> str:
    """Validate a GTIN-8/12/13/14 (check digit included) and return it as 14 digits."""
    text = value.strip()
    try:
        return Gtin.parse(text).as_gtin_14()
    except ParseError as exc:
        raise RuleViolation(f"GTIN {text}: {_gtin_problem(text, exc)}", field=field) from None


def parse_scan(raw: str, *, separator: str | None = None) -> Scan:
    """Parse what a scanner sent into a Scan; refuse recognisable GS1 codes that are malformed.

    ``separator`` is the character a scanner sends instead of ASCII 29 (GS); it is replaced by
    GS before GS1 parsing and must be a character that cannot occur inside GS1 data (a
    RuleViolation on ``separator`` otherwise: it often comes from a device's settings).
    """
    _refuse_control_characters(raw.strip())
    if separator is not None and (len(separator) != 1 or separator in _GS1_DATA_CHARACTERS):
        raise RuleViolation(
            f"the separator stand-in {separator!r} must be one character that cannot occur "
            "in GS1 data, such as '|', '~' or '^'",
            field="separator",
        )
    stripped = raw.strip()
    if not stripped:
        raise RuleViolation("the scan is empty", field="scan")
    symbology = _symbology(stripped)
    text = stripped[len(symbology) :] if symbology else stripped
    if not text:
        raise RuleViolation("the scan holds nothing after its symbology identifier", field="scan")
    data = (text.replace(separator, GS) if separator else text).lstrip(GS)
    gs1_symbology = symbology.gs1_symbology if symbology else None
    scan = Scan(raw=raw, kind="other", text=text, symbology=str(symbology) if symbology else None)

    if gs1_symbology in GS1Symbology.with_gtin():
        return _bare_gtin(scan, data)
    if gs1_symbology in GS1Symbology.with_gs1_messages():
        if data.startswith(("http://", "https://")):
            return _digital_link(scan, data, strict=True)
        return _message(scan, data)
    if _HRI_START.match(data):
        return _human_readable(scan, data)
    if data.startswith(("http://", "https://")):
        return _digital_link(scan, data, strict=False)
    if _digits(data) and len(data) in (8, 12, 13, 14):
        return _bare_gtin(scan, data)
    if _digits(data) and len(data) == 18:
        return _bare_sscc(scan, data)
    if _LEADING_KEY.match(data) or (GS in data and _digits(data[:2])):
        return _message(scan, data)
    return scan


def find_item(session: Session, scan: Scan) -> tuple[Item, int]:
    """Find the item a scan names and how many units one scan of it stands for."""
    if scan.gtin is not None:
        candidates = scan.gtin_candidates
        shown = scan.text if scan.kind == "gtin" else f"GTIN {scan.gtin}"
    elif scan.kind == "other":
        candidates = (scan.text,)
        shown = repr(scan.text)
    elif scan.sscc is not None:
        raise RuleViolation(
            f"SSCC {scan.sscc} is a pallet or parcel label, not an item barcode", field="scan"
        )
    else:
        raise RuleViolation("the GS1 code carries no GTIN: scan the item barcode", field="scan")

    barcodes = session.scalars(
        select(ItemBarcode)
        .where(ItemBarcode.barcode.in_(candidates))
        .options(joinedload(ItemBarcode.item))
    ).all()
    if not barcodes:
        raise NotFound(f"no item has the barcode {shown}", field="scan")
    meanings = {(b.item_id, b.quantity) for b in barcodes}
    if len(meanings) > 1:
        # The same number stored in two spellings for different items or pack sizes: the
        # master data must be fixed before this barcode can be used.
        listed = ", ".join(sorted(f"{b.barcode} is {b.quantity} of {b.item.sku}" for b in barcodes))
        raise Conflict(f"the barcode {shown} is ambiguous: {listed}", field="scan")
    barcode = barcodes[0]
    return barcode.item, barcode.quantity * (scan.quantity or 1)


def find_slot(session: Session, raw: str) -> Slot:
    """Find the slot whose label was scanned."""
    value = raw.strip()
    if not value:
        raise RuleViolation("the scan is empty", field="scan")
    _refuse_control_characters(value)
    candidates = [value]
    symbology = _symbology(value)
    if symbology is not None and len(value) > len(symbology):
        # Scanners configured to prefix symbology identifiers prefix slot labels too.
        candidates.append(value[len(symbology) :])
    slots = {
        s.barcode: s for s in session.scalars(select(Slot).where(Slot.barcode.in_(candidates)))
    }
    for candidate in candidates:
        if candidate in slots:
            return slots[candidate]
    raise NotFound(f"no slot has the barcode {candidates[-1]!r}", field="scan")


def _refuse_control_characters(raw: str) -> None:
    """No label carries control characters but GS (ASCII 29, the GS1 separator)."""
    bad = next((c for c in raw if (ord(c) < 32 and c != "\x1d") or ord(c) == 127), None)
    if bad is not None:
        raise RuleViolation(
            f"the scan holds the control character {ord(bad):#04x}, which no label carries: "
            "check the scanner's settings",
            field="scan",
        )


# --- the kinds of scan ----------------------------------------------------------------------


def _symbology(value: str) -> SymbologyIdentifier | None:
    if not value.startswith("]"):
        return None
    try:
        return SymbologyIdentifier.extract(value)
    except (ParseError, IndexError, ValueError):
        return None  # a "]" that is part of the data


def _bare_gtin(scan: Scan, data: str) -> Scan:
    try:
        gtin = Gtin.parse(data)
    except ParseError as exc:
        raise RuleViolation(f"GTIN {data}: {_gtin_problem(data, exc)}", field="scan") from None
    return replace(scan, kind="gtin", gtin=gtin.as_gtin_14())


def _bare_sscc(scan: Scan, data: str) -> Scan:
    try:
        sscc = Sscc.parse(data)
    except ParseError as exc:
        raise RuleViolation(f"SSCC {data}: {_check_problem(data, exc)}", field="scan") from None
    return replace(scan, kind="sscc", sscc=sscc.value)


def _message(scan: Scan, data: str) -> Scan:
    try:
        message = GS1Message.parse(data)
    except ParseError:
        raise RuleViolation(_diagnose_message(data), field="scan") from None
    return _from_elements(scan, message.element_strings)


def _human_readable(scan: Scan, data: str) -> Scan:
    try:
        message = GS1Message.parse_hri(data)
    except ParseError:
        raise RuleViolation(_diagnose_hri(data), field="scan") from None
    if len(message.element_strings) != len(_HRI_START.findall(data)):
        # biip skips an AI with no data after it, "(01)…(10)"; a lot that went missing is
        # as wrong as a malformed one.
        raise RuleViolation(_diagnose_hri(data), field="scan")
    return _from_elements(scan, message.element_strings)


def _digital_link(scan: Scan, data: str, *, strict: bool) -> Scan:
    try:
        link = GS1DigitalLinkURI.parse(data)
    except ParseError as exc:
        if not strict:
            return scan  # an ordinary web address, e.g. on a tote's QR code
        raise RuleViolation(f"not a GS1 Digital Link: {exc}", field="scan") from None
    return _from_elements(scan, link.element_strings)


def _from_elements(scan: Scan, elements: GS1ElementStrings) -> Scan:
    for element in elements:
        problem = element.gtin_error or element.sscc_error
        if problem:
            raise RuleViolation(
                f"{_label(element.ai)} {element.value}: {_check_problem(element.value, problem)}",
                field="scan",
            )
    key = elements.get(ai="01") or elements.get(ai="02")
    expiry = elements.get(ai="17") or elements.get(ai="15")
    count = elements.get(ai="37") or elements.get(ai="30")
    quantity = None
    if count is not None:
        quantity = int(count.value)
        if quantity < 1:
            raise RuleViolation(f"{_label(count.ai)} must be at least 1", field="scan")
    return replace(
        scan,
        kind="gs1",
        gtin=key.gtin.as_gtin_14() if key is not None and key.gtin is not None else None,
        lot=_value(elements, "10"),
        expiry=expiry.date if expiry is not None else None,
        serial=_value(elements, "21"),
        quantity=quantity,
        sscc=_value(elements, "00"),
    )


def _value(elements: GS1ElementStrings, ai: str) -> str | None:
    element = elements.get(ai=ai)
    return element.value if element is not None else None


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


# --- saying what is wrong -------------------------------------------------------------------
# biip says *that* a message does not parse; these passes, run only after it refused one, walk
# the message with biip's own element parser to say *which* AI is wrong and why.


def _diagnose_message(data: str) -> str:
    rest = data
    previous: GS1ElementString | None = None
    terminated = True
    while rest:
        try:
            element = GS1ElementString.extract(rest)
        except ParseError:
            if previous is not None and previous.ai.separator_required and not terminated:
                # A variable-length field without a separator swallows the next element up
                # to its maximum length; what is left over cannot be read.
                return (
                    f"{_label(previous.ai)} {previous.value!r} is not ended by a separator "
                    f"(FNC1/GS) before the next element: {rest!r} is left over"
                )
            ai = _ai(rest)
            if ai is None:
                after = f" after {_label(previous.ai)}" if previous is not None else ""
                return f"{rest[:12]!r}{after} does not start with a GS1 application identifier"
            return _bad_value(ai, rest[len(ai.ai) :].split(GS, 1)[0])
        rest = rest[len(element) :]
        terminated = rest.startswith(GS)
        rest = rest.lstrip(GS)
        previous = element
    return "the GS1 code cannot be read"  # biip refused what this walk accepts


def _diagnose_hri(data: str) -> str:
    text = "".join(data.split())
    elements = _HRI_ELEMENT.findall(text)
    if "".join(f"({number}){value}" for number, value in elements) != text:
        return f"{data.strip()!r} is not in the bracketed form (AI)data(AI)data"
    for number, value in elements:
        ai = _ai(number)
        if ai is None or ai.ai != number:
            return f"({number}) is not a GS1 application identifier"
        try:
            GS1ElementString.parse(f"{number}{value}")
        except ParseError:
            return _bad_value(ai, value)
    return "the GS1 code cannot be read"


def _ai(value: str) -> GS1ApplicationIdentifier | None:
    try:
        return GS1ApplicationIdentifier.extract(value)
    except ParseError:
        return None


def _label(ai: GS1ApplicationIdentifier) -> str:
    return f"({ai.ai}) {_AI_NAMES.get(ai.ai, ai.data_title)}"


def _bad_value(ai: GS1ApplicationIdentifier, value: str) -> str:
    if not value:
        return f"{_label(ai)} is empty"
    if "YYMMDD" in ai.description:
        return f"{_label(ai)} {value!r} is not a date (YYMMDD)"
    return f"{_label(ai)} {value!r} does not fit its format: {_describe_format(ai)}"


def _describe_format(ai: GS1ApplicationIdentifier) -> str:
    """Turn a GS1 format such as ``N2+X..20`` into words for the data part."""
    parts = []
    for part in ai.format.split("+")[1:]:
        match = re.fullmatch(r"(N|X|Y|Z)(\.\.)?(\d+)", part.strip("[]"))
        if match is None:
            parts.append(part)
            continue
        kind = "digits" if match[1] == "N" else "characters"
        parts.append(f"{'up to ' if match[2] else ''}{match[3]} {kind}")
    return ", then ".join(parts) or ai.format


def _gtin_problem(value: str, exc: ParseError) -> str:
    if not value.isdigit():
        return "a GTIN has only digits"
    if len(value) not in (8, 12, 13, 14):
        return f"a GTIN has 8, 12, 13 or 14 digits, not {len(value)}"
    return _check_problem(value, exc)


def _check_problem(value: str, problem: ParseError | str) -> str:
    """Say what is wrong with a GTIN or SSCC, naming the check digit it should have."""
    if value.isdigit() and len(value) > 1:
        expected = gs1_standard_check_digit(value[:-1])
        if int(value[-1]) != expected:
            return f"the check digit should be {expected}, not {value[-1]}"
    return str(problem)


# --- recording scans --------------------------------------------------------------------------

SCAN_RESULTS = ("ok", "error")


def record_scan(
    session: Session,
    raw: str,
    *,
    step: str,
    result: str,
    user_key: str,
    message: str = "",
    user_id: int | None = None,
    device: str = "",
    site_id: int | None = None,
    separator: str | None = None,
    idempotency_key: str | None = None,
) -> ScanEvent:
    """Keep one scan as it happened; the same key from the same sender is kept once.

    A scan that does not parse is still recorded (kind ``invalid``, the reason in
    ``parsed["problem"]``): the record is of what the scanner sent. An unknown result is a
    RuleViolation naming ``result``.
    """
    if result not in SCAN_RESULTS:
        raise RuleViolation(f"must be one of {', '.join(SCAN_RESULTS)}", field="result")
    if idempotency_key is not None:
        kept = session.scalars(
            select(ScanEvent).where(
                ScanEvent.user_key == user_key, ScanEvent.idempotency_key == idempotency_key
            )
        ).one_or_none()
        if kept is not None:
            return kept
    try:
        scan = parse_scan(raw, separator=separator)
        kind: str = scan.kind
        parsed = {
            name: value.isoformat() if isinstance(value, dt.date) else value
            for name in ("text", "symbology", "gtin", "lot", "expiry", "serial", "quantity", "sscc")
            if (value := getattr(scan, name)) is not None
        }
    except RuleViolation as error:
        kind, parsed = "invalid", {"problem": error.message}
    event = ScanEvent(
        raw=raw[:512],
        kind=kind,
        parsed=parsed,
        step=step[:40],
        result=result,
        message=message[:255],
        user_id=user_id,
        user_key=user_key[:64],
        device=device[:64],
        site_id=site_id,
        idempotency_key=idempotency_key,
    )
    session.add(event)
    session.flush()
    return event

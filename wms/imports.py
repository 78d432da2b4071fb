"""Onboarding a warehouse from spreadsheets: items and slots from CSV files, all or nothing.

Every row is validated before anything is written. When any row is wrong, nothing is written
and :class:`ImportRejected` lists every problem as a :class:`RowError`; otherwise each row
creates or updates one record, found by its natural key (items by ``sku``, slots by
``barcode``).

Row numbers are the ones a spreadsheet shows: the header is row 1 and the first data row is
row 2. A blank line keeps its row number (a spreadsheet shows it as an empty row) and is
skipped; a quoted cell with a line break in it stays one row.

Files are UTF-8, with or without the byte-order mark spreadsheets write, separated by ``,``,
``;`` or tabs (detected from the header row unless given). Headers are matched without regard
to case or surrounding spaces. A column that is present is authoritative: a blank optional
cell means "none" (or the default). An optional column that is absent leaves the value an
existing record has, and gives new records the default.
"""

from __future__ import annotations

import csv
import enum
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from biip.gtin import Gtin
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from wms.errors import RuleViolation
from wms.models import (
    Item,
    ItemBarcode,
    Site,
    Slot,
    SlotKind,
    SlotSide,
    Temperature,
    VelocityClass,
    Zone,
)
from wms.scanning import gtin_forms, normalize_gtin
from wms.stock import RACK_KINDS

#: A path to a CSV file, an open CSV file (text or bytes), or rows already read as mappings
#: from column name to value (numbered as if a header came first).
Source = str | os.PathLike[str] | IO[str] | IO[bytes] | Iterable[Mapping[str, object]]

#: Columns of the items file: name → required.
ITEM_COLUMNS: dict[str, bool] = {
    "sku": True,
    "name": True,
    "gtin": False,
    "length_mm": True,
    "width_mm": True,
    "height_mm": True,
    "weight_g": True,
    "temperature": True,
    "lot_tracked": True,
    "expiry_tracked": True,
    "shelf_life_days": False,
    "velocity": False,
}

#: Columns of the slots file: name → required.
SLOT_COLUMNS: dict[str, bool] = {
    "site": True,
    "zone": True,
    "barcode": True,
    "kind": True,
    "block": False,
    "aisle": False,
    "bay": False,
    "side": False,
    "level": False,
    "volume_cm3": False,
    "max_weight_g": False,
    "item": False,
    "min_qty": False,
    "max_qty": False,
}

#: Slots in the racks: they need every layout coordinate.

_POSITION = ("aisle", "bay", "side", "level")
#: Slot attributes an optional column sets; when the column is absent a stored slot keeps them.
_KEPT = ("block", *_POSITION, "volume_cm3", "max_weight_g", "item_id", "min_qty", "max_qty")
_POSITION_COLUMN = "aisle/bay/side/level"
_WHOLE = re.compile(r"-?[0-9]+")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
#: Integer columns are 32-bit in the database.
_MAX_INT = 2**31 - 1
#: How many values go into one SQL ``IN (...)``.
_CHUNK = 500

E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an import file: its spreadsheet row, its column, and what is wrong."""

    #: The spreadsheet row: 1 is the header, 2 the first data row.
    row: int
    #: The column's name, or "" when the problem is the whole row or file.
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    what: str
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool = False


class ImportRejected(RuleViolation):
    """The file has problems; nothing was written. ``errors`` lists every one of them."""

    code = "import_rejected"

    def __init__(
        self, what: str, errors: Sequence[RowError], *, columns: Sequence[str] = ()
    ) -> None:
        count = len(errors)
        super().__init__(
            f"the {what} file has {count} problem{'' if count == 1 else 's'}; nothing was imported",
            field="file",
        )
        self.what = what
        # By row, then in the file's column order, as a person fixes them.
        order = {name: position for position, name in enumerate(columns)}
        self.errors = sorted(errors, key=lambda e: (e.row, order.get(e.column, len(order))))


def import_items(
    session: Session, source: Source, *, delimiter: str | None = None, dry_run: bool = False
) -> ImportReport:
    """Create or update items by SKU from a CSV file; write nothing if any row is wrong.

    GTINs (``gtin``, several separated by ``|``) are consumer-unit barcodes: they are added to
    the item and never removed, since an item's case codes and internal codes are not in the
    file. A case code (GTIN-14 with packaging indicator 1-8) is refused: it would count one
    unit per case. ``lot_tracked`` and ``expiry_tracked`` take true/false, yes/no or 1/0; a
    blank cell is false.
    """
    rows = [_parse_item(row) for row in _read(source, delimiter, ITEM_COLUMNS, "items")]
    errors = [e for row in rows for e in row.errors]

    first_row_of: dict[str, int] = {}
    for row in rows:
        if row.sku is None:
            continue
        if row.sku in first_row_of:
            row.error("sku", f"SKU {row.sku} is also on row {first_row_of[row.sku]}")
            row.sku = None
        else:
            first_row_of[row.sku] = row.number

    existing = _items_by_sku(session, [r.sku for r in rows if r.sku is not None])
    owners = _barcode_owners(session, [form for r in rows for g in r.gtins for form in g.forms])
    gtin_first_row: dict[str, tuple[int, str]] = {}
    for row in rows:
        if row.sku is None:
            continue
        item = existing.get(row.sku)
        for gtin in row.gtins:
            seen = gtin_first_row.get(gtin.gtin14)
            if seen is not None and seen[1] != row.sku:
                row.error("gtin", f"GTIN {gtin.text} is also on row {seen[0]} (SKU {seen[1]})")
                continue
            gtin_first_row.setdefault(gtin.gtin14, (row.number, row.sku))
            owner = next((owners[f] for f in gtin.forms if f in owners), None)
            if owner is not None and (item is None or owner[0] != item.id):
                row.error("gtin", f"GTIN {gtin.text} already belongs to item {owner[1]}")
            elif owner is not None:
                gtin.known = True
    errors.extend(e for row in rows for e in row.late_errors)
    if errors:
        raise ImportRejected("items", errors, columns=list(ITEM_COLUMNS))

    created = updated = unchanged = 0
    for row in rows:
        assert row.sku is not None
        item = existing.get(row.sku)
        new_gtins = [g.text for g in row.gtins if not g.known]
        if item is None:
            created += 1
            if not dry_run:
                item = Item(sku=row.sku, **{"velocity": VelocityClass.C, **row.values})
                item.barcodes.extend(ItemBarcode(barcode=g, quantity=1) for g in new_gtins)
                session.add(item)
            continue
        changes = {k: v for k, v in row.values.items() if getattr(item, k) != v}
        if changes or new_gtins:
            updated += 1
            if not dry_run:
                for key, value in changes.items():
                    setattr(item, key, value)
                item.barcodes.extend(ItemBarcode(barcode=g, quantity=1) for g in new_gtins)
        else:
            unchanged += 1
    if not dry_run:
        session.flush()
    return ImportReport("items", len(rows), created, updated, unchanged, dry_run)


def import_slots(
    session: Session, source: Source, *, delimiter: str | None = None, dry_run: bool = False
) -> ImportReport:
    """Create or update slots by barcode from a CSV file; write nothing if any row is wrong.

    Sites and zones must exist; a pick face's ``item`` is an existing SKU. Rack slots
    (pick faces and reserve) need block, aisle, bay, side and level; min/max and a dedicated
    item belong to pick faces only. Two slots may not share a barcode or a position
    (site, aisle, bay, side, level), whether both are in the file or one is already stored.
    """
    rows = _read(source, delimiter, SLOT_COLUMNS, "slots")
    errors: list[RowError] = []
    sites = {site.code: site for site in session.scalars(select(Site))}
    zones = {(zone.site_id, zone.code): zone for zone in session.scalars(select(Zone))}
    items = _items_by_sku(session, [row.get("item") for row in rows if row.get("item")])
    existing = _slots_by_barcode(session, [row.get("barcode") for row in rows])

    plans: list[_SlotPlan] = []
    first_row_of: dict[str, int] = {}
    for row in rows:
        plan = _parse_slot(row, sites, zones, items, existing)
        if plan.barcode is not None and plan.barcode in first_row_of:
            row.error(
                "barcode", f"barcode {plan.barcode} is also on row {first_row_of[plan.barcode]}"
            )
        elif plan.barcode is not None:
            first_row_of[plan.barcode] = row.number
        errors.extend(row.errors)
        plans.append(plan)

    errors.extend(_position_clashes(session, plans))
    if errors:
        raise ImportRejected("slots", errors, columns=list(SLOT_COLUMNS))

    created = updated = unchanged = 0
    moving: list[Slot] = []
    for plan in plans:
        if plan.slot is None:
            created += 1
        elif any(getattr(plan.slot, k) != v for k, v in plan.values.items()):
            updated += 1
            if _position_of(plan.slot) != _position(plan.values):
                moving.append(plan.slot)
        else:
            unchanged += 1
    if dry_run:
        return ImportReport("slots", len(plans), created, updated, unchanged, dry_run)

    # Slots changing places (A to B's position and B to A's) would clash halfway through
    # the UPDATEs; taking the moving ones out of the racks first lets them swap.
    for slot in moving:
        slot.aisle = None
    if moving:
        session.flush()
    for plan in plans:
        if plan.slot is None:
            session.add(Slot(**plan.values))
        else:
            for key, value in plan.values.items():
                if getattr(plan.slot, key) != value:
                    setattr(plan.slot, key, value)
    session.flush()
    return ImportReport("slots", len(plans), created, updated, unchanged, dry_run)


# --- reading the file -----------------------------------------------------------------------


class _Row:
    """One data row: its cells by column name, and the problems found in it."""

    def __init__(self, number: int, cells: dict[str, str]) -> None:
        self.number = number
        self.cells = cells
        self.errors: list[RowError] = []

    def has(self, column: str) -> bool:
        return column in self.cells

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    def error(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.number, column, reason))

    def text(self, column: str, *, max_length: int, required: bool = True) -> str | None:
        value = self.get(column)
        if not value:
            if required:
                self.error(column, "is required")
            return None
        if len(value) > max_length:
            self.error(column, f"is longer than {max_length} characters")
            return None
        return value

    def whole(self, column: str, *, minimum: int = 1, required: bool = True) -> int | None:
        value = self.get(column)
        if not value:
            if required:
                self.error(column, "is required")
            return None
        words = "greater than zero" if minimum == 1 else f"at least {minimum}"
        if not _WHOLE.fullmatch(value):
            self.error(column, f"{value!r} is not a whole number {words}")
            return None
        number = int(value)
        if number < minimum:
            self.error(column, f"must be {words}, not {number}")
            return None
        if number > _MAX_INT:
            self.error(column, f"{number} is too large")
            return None
        return number

    def choice(self, column: str, vocabulary: type[E], *, required: bool = True) -> E | None:
        value = self.get(column)
        if not value:
            if required:
                self.error(column, "is required")
            return None
        for member in vocabulary:
            if value.casefold() == str(member.value).casefold():
                return member
        allowed = ", ".join(str(member.value) for member in vocabulary)
        self.error(column, f"{value!r} is not one of {allowed}")
        return None

    def flag(self, column: str) -> bool | None:
        value = self.get(column).casefold()
        if value in _TRUE:
            return True
        if value in _FALSE or not value:
            return False
        self.error(column, f"{self.get(column)!r} is not true/false, yes/no or 1/0")
        return None


def _read(
    source: Source, delimiter: str | None, columns: Mapping[str, bool], what: str
) -> list[_Row]:
    """Read the header and the non-blank rows; header problems reject the file at once."""
    try:
        records = list(_records(source, delimiter))
    except _Unreadable as exc:
        raise ImportRejected(what, [RowError(exc.row, "", exc.reason)]) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise ImportRejected(
            what, [RowError(1, "", "the file is empty: row 1 must name the columns")]
        )
    header = [cell.strip().lower() for cell in records[0]]
    errors: list[RowError] = []
    seen: set[str] = set()
    for name in header:
        if not name:
            continue
        if name in seen:
            errors.append(RowError(1, name, "appears twice"))
        elif name not in columns:
            errors.append(
                RowError(1, name, f"is not a column of the {what} file: {', '.join(columns)}")
            )
        seen.add(name)
    errors.extend(
        RowError(1, name, "is a required column and is missing")
        for name, required in columns.items()
        if required and name not in seen
    )
    if errors:
        raise ImportRejected(what, errors)

    rows: list[_Row] = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        row = _Row(number, {name: "" for name in header if name})
        for position, cell in enumerate(record):
            name = header[position] if position < len(header) else ""
            if name:
                row.cells[name] = cell.strip()
            elif cell.strip():
                row.error("", f"{cell.strip()!r} is in a column with no name in row 1")
        rows.append(row)
    return rows


class _Unreadable(Exception):
    def __init__(self, row: int, reason: str) -> None:
        super().__init__(reason)
        self.row = row
        self.reason = reason


def _records(source: Source, delimiter: str | None) -> Iterator[list[str]]:
    if isinstance(source, str | os.PathLike):
        yield from _csv_records(_decode(Path(source).read_bytes()), delimiter)
    elif hasattr(source, "read"):
        content = source.read()
        text = _decode(content) if isinstance(content, bytes) else content.lstrip("\ufeff")
        yield from _csv_records(text, delimiter)
    else:
        yield from _mapping_records(source)


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = content[: exc.start].count(b"\n") + 1
        raise _Unreadable(
            row, "this row is not UTF-8 text: save the file as CSV UTF-8 and import it again"
        ) from None


def _csv_records(text: str, delimiter: str | None) -> Iterator[list[str]]:
    if delimiter is None:
        first_line = text.split("\n", 1)[0]
        try:
            delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","  # one column only, or no header at all
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as exc:
        raise _Unreadable(reader.line_num, f"cannot be read as CSV: {exc}") from None


def _mapping_records(rows: Iterable[Mapping[str, object]]) -> Iterator[list[str]]:
    materialised = list(rows)
    header: list[str] = []
    for row in materialised:
        header.extend(key for key in row if key not in header)
    yield header
    for row in materialised:
        yield [_cell(row.get(name)) for name in header]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


# --- items ----------------------------------------------------------------------------------


@dataclass
class _Gtin:
    text: str
    gtin14: str
    forms: tuple[str, ...]
    #: Already one of this item's barcodes (in some spelling).
    known: bool = False


@dataclass
class _ItemRow:
    number: int
    sku: str | None
    values: dict[str, Any]
    gtins: list[_Gtin]
    errors: list[RowError]
    #: Problems found against other rows and the database.
    late_errors: list[RowError] = field(default_factory=list)

    def error(self, column: str, reason: str) -> None:
        self.late_errors.append(RowError(self.number, column, reason))


def _parse_item(row: _Row) -> _ItemRow:
    values: dict[str, Any] = {
        "name": row.text("name", max_length=200),
        "length_mm": row.whole("length_mm"),
        "width_mm": row.whole("width_mm"),
        "height_mm": row.whole("height_mm"),
        "weight_g": row.whole("weight_g"),
        "temperature": row.choice("temperature", Temperature),
        "lot_tracked": row.flag("lot_tracked"),
        "expiry_tracked": row.flag("expiry_tracked"),
    }
    if row.has("shelf_life_days"):
        values["shelf_life_days"] = row.whole("shelf_life_days", required=False)
    if row.has("velocity"):
        values["velocity"] = row.choice("velocity", VelocityClass, required=False)
        values["velocity"] = values["velocity"] or VelocityClass.C
    if values["expiry_tracked"] and values["lot_tracked"] is False:
        row.error("expiry_tracked", "expiry tracking needs lot tracking: set lot_tracked too")
    return _ItemRow(
        number=row.number,
        sku=row.text("sku", max_length=64),
        values=values,
        gtins=_parse_gtins(row),
        errors=row.errors,
    )


def _parse_gtins(row: _Row) -> list[_Gtin]:
    gtins: dict[str, _Gtin] = {}
    for text in (part.strip() for part in row.get("gtin").split("|")):
        if not text:
            continue
        try:
            gtin14 = normalize_gtin(text, field="gtin")
        except RuleViolation as exc:
            row.error("gtin", exc.message)
            continue
        if len(text) > 64:  # only zero padding can make a valid GTIN this long
            row.error("gtin", f"GTIN {text} is longer than 64 characters")
            continue
        indicator = Gtin.parse(gtin14).packaging_level
        if indicator is not None and 1 <= indicator <= 8:
            row.error(
                "gtin",
                f"GTIN {text} is a case code (packaging indicator {indicator}); list the "
                "consumer unit's GTIN: a case code here would count one unit per case",
            )
            continue
        gtins.setdefault(gtin14, _Gtin(text, gtin14, gtin_forms(gtin14)))
    return list(gtins.values())


def _items_by_sku(session: Session, skus: Iterable[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for chunk in _chunks(sorted(set(skus))):
        query = select(Item).where(Item.sku.in_(chunk)).options(selectinload(Item.barcodes))
        found.update((item.sku, item) for item in session.scalars(query))
    return found


def _barcode_owners(session: Session, barcodes: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Which item (id, SKU) each of the given barcodes already belongs to."""
    owners: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(sorted(set(barcodes))):
        query = (
            select(ItemBarcode.barcode, Item.id, Item.sku)
            .join(Item, ItemBarcode.item_id == Item.id)
            .where(ItemBarcode.barcode.in_(chunk))
        )
        owners.update((barcode, (item_id, sku)) for barcode, item_id, sku in session.execute(query))
    return owners


# --- slots ----------------------------------------------------------------------------------


@dataclass
class _SlotPlan:
    number: int
    barcode: str | None
    #: The stored slot this row updates, if any.
    slot: Slot | None
    #: Every column of the slot as it will be (only meaningful when the row has no errors).
    values: dict[str, Any]


def _parse_slot(
    row: _Row,
    sites: Mapping[str, Site],
    zones: Mapping[tuple[int, str], Zone],
    items: Mapping[str, Item],
    existing: Mapping[str, Slot],
) -> _SlotPlan:
    barcode = row.text("barcode", max_length=64)
    slot = existing.get(barcode) if barcode is not None else None
    kind = row.choice("kind", SlotKind)

    site = None
    site_code = row.text("site", max_length=32)
    if site_code is not None:
        site = sites.get(site_code)
        if site is None:
            row.error("site", f"no site has the code {site_code!r}")
        elif slot is not None and slot.site_id != site.id:
            row.error("site", f"slot {barcode} is at another site; a slot cannot move sites")
    zone = None
    zone_code = row.text("zone", max_length=32)
    if site is not None and zone_code is not None:
        zone = zones.get((site.id, zone_code))
        if zone is None:
            row.error("zone", f"site {site.code} has no zone {zone_code!r}")

    # Start from the stored slot, so an optional column left out keeps its value.
    values: dict[str, Any] = {
        column: getattr(slot, column) if slot is not None else None for column in _KEPT
    }
    for column in ("block", "aisle", "bay", "level", "volume_cm3", "max_weight_g", "max_qty"):
        if row.has(column):
            values[column] = row.whole(column, required=False)
    if row.has("min_qty"):
        values["min_qty"] = row.whole("min_qty", minimum=0, required=False)
    if row.has("side"):
        values["side"] = row.choice("side", SlotSide, required=False)
    item = None
    if row.has("item"):
        sku = row.get("item")
        item = items.get(sku) if sku else None
        if sku and item is None:
            row.error("item", f"no item has the SKU {sku!r}")
        values["item_id"] = item.id if item is not None else None
    values.update(
        barcode=barcode,
        kind=kind,
        site_id=site.id if site is not None else None,
        zone_id=zone.id if zone is not None else None,
    )

    if kind in RACK_KINDS:
        for column in ("block", *_POSITION):
            if values[column] is None and not any(e.column == column for e in row.errors):
                row.error(column, f"a {kind.value} slot needs a {column}")
    if kind is not None and kind is not SlotKind.PICK_FACE:
        for column in ("min_qty", "max_qty"):
            if values[column] is not None:
                row.error(column, f"only pick faces have a {column}, not a {kind.value} slot")
        if values["item_id"] is not None:
            row.error("item", f"only pick faces are dedicated to an item, not a {kind.value} slot")
    if (
        values["min_qty"] is not None
        and values["max_qty"] is not None
        and values["min_qty"] > values["max_qty"]
    ):
        row.error("min_qty", f"min_qty {values['min_qty']} is above max_qty {values['max_qty']}")
    if item is not None and zone is not None and item.temperature != zone.temperature:
        row.error(
            "item",
            f"{item.sku} is {item.temperature.value} but zone {zone.code} is "
            f"{zone.temperature.value}",
        )
    return _SlotPlan(row.number, barcode, slot, values)


def _position(values: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The slot's place in the racks, or None when it has none (the database allows any)."""
    key = (values["site_id"], *(values[column] for column in _POSITION))
    return None if any(part is None for part in key) else key


def _position_of(slot: Slot) -> tuple[Any, ...] | None:
    return _position({"site_id": slot.site_id, **{c: getattr(slot, c) for c in _POSITION}})


def _position_clashes(session: Session, plans: Sequence[_SlotPlan]) -> list[RowError]:
    """Rows whose position another row, or a stored slot not in the file, already takes."""
    taken: dict[tuple[Any, ...], str] = {}
    in_file = {plan.barcode for plan in plans}
    site_ids = sorted({plan.values["site_id"] for plan in plans} - {None})
    for chunk in _chunks(site_ids):
        stored = session.execute(
            select(Slot.barcode, Slot.site_id, *(getattr(Slot, c) for c in _POSITION)).where(
                Slot.site_id.in_(chunk), Slot.aisle.is_not(None)
            )
        )
        for barcode, *stored_position in stored:
            if barcode not in in_file and None not in stored_position:
                taken[tuple(stored_position)] = f"taken by slot {barcode}"
    errors: list[RowError] = []
    for plan in plans:
        position = _position(plan.values)
        if position is None:
            continue
        if position in taken:
            where = "aisle {} bay {} side {} level {}".format(*position[1:])
            errors.append(RowError(plan.number, _POSITION_COLUMN, f"{where} is {taken[position]}"))
        else:
            taken[position] = f"also on row {plan.number}"
    return errors


def _slots_by_barcode(session: Session, barcodes: Iterable[str]) -> dict[str, Slot]:
    found: dict[str, Slot] = {}
    for chunk in _chunks(sorted(set(barcodes))):
        found.update(
            (slot.barcode, slot)
            for slot in session.scalars(select(Slot).where(Slot.barcode.in_(chunk)))
        )
    return found


T = TypeVar("T")


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]

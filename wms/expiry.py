"""The expiry sweep: hold stock about to expire, flag what comes next, release what no longer does.

A stock row with units whose expiry date is at most ``block_days`` after the site's local
today is put on hold (``Stock.hold = "near_expiry"``; past its date, ``"expired"``), and
allocation and replenishment leave it alone from then on. Rows expiring within ``warn_days``
are only listed (flagged) so a planner can mark them down or move them first. A row the sweep
held whose expiry no longer qualifies (the date was corrected) is released. Holds set for any
other reason are not the sweep's and are left as they are.

Units already allocated when their row is held stay allocated — the pick goes on, and the
sweep lists those rows so a supervisor can decide. Running the sweep twice changes nothing the
second time. The rows it changes are locked (FOR UPDATE, id order) and decided again on their
locked values; a dry run reads without locking and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from wms.errors import RuleViolation
from wms.models import Allocation, AllocationStatus, Item, Site, Slot, Stock
from wms.stock import lock_rows

NEAR_EXPIRY = "near_expiry"
EXPIRED = "expired"
#: The holds the sweep sets, and so the only ones it releases.
SWEEP_HOLDS = (NEAR_EXPIRY, EXPIRED)


@dataclass(frozen=True, slots=True)
class ExpirySettings:
    """How close to its expiry stock is held, and how close it is flagged (days)."""

    #: Held when its last day is at most this many days after today (1: today or tomorrow).
    block_days: int = 1
    #: Flagged, not held, when its last day is at most this many days after today.
    warn_days: int = 3

    def check(self) -> None:
        """Refuse settings the sweep cannot work with (422 naming the field)."""
        for name in ("block_days", "warn_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RuleViolation("must be a whole number of days, 0 or more", field=name)
        if self.warn_days < self.block_days:
            raise RuleViolation("must be at least block_days", field="warn_days")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> ExpirySettings:
        """Defaults ← ``EXPIRY_*`` keys of the app config (``WMS_EXPIRY_BLOCK_DAYS=2``) ←
        overrides."""
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            key = f"EXPIRY_{name.upper()}"
            if key in config:
                values[name] = config[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings


def decide(
    expiry: dt.date, today: dt.date, *, hold: str | None, on_hand: int, settings: ExpirySettings
) -> tuple[str | None, bool]:
    """The hold a row should carry and whether it is flagged, from its expiry and today.

    Only the sweep's own holds are decided; a row held for another reason keeps its hold.
    Empty rows are not held (nothing to allocate) but keep a hold they have while it applies.
    """
    if hold is not None and hold not in SWEEP_HOLDS:
        return hold, False
    days_left = (expiry - today).days
    due = EXPIRED if days_left < 0 else NEAR_EXPIRY if days_left <= settings.block_days else None
    if on_hand <= 0 and hold is None:
        return None, False
    flagged = due is None and on_hand > 0 and days_left <= settings.warn_days
    return due, flagged


@dataclass(frozen=True, slots=True)
class ExpiryRow:
    """One stock row the sweep held, released, kept held or flagged, as it now stands."""

    stock_id: int
    site_id: int
    site_code: str
    slot_id: int
    slot_barcode: str
    item_id: int
    sku: str
    lot: str
    expiry: dt.date
    #: Days from the site's local today to the expiry date (negative: past it).
    days_left: int
    on_hand: int
    reserved: int
    hold_before: str | None
    hold: str | None
    #: Open allocations on the row: they stay allocated when it is held.
    open_allocation_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ExpirySweep:
    """What one sweep held, released and flagged (or would have, on a dry run)."""

    now: dt.datetime
    settings: ExpirySettings
    site_id: int | None
    dry_run: bool
    #: Rows put on hold, or whose hold changed (near_expiry → expired).
    held: tuple[ExpiryRow, ...]
    #: Rows whose sweep hold was lifted: their expiry no longer qualifies.
    released: tuple[ExpiryRow, ...]
    #: Rows already held as they should be: unchanged.
    kept: tuple[ExpiryRow, ...]
    #: Rows within the warning days: listed, not held.
    flagged: tuple[ExpiryRow, ...]

    @property
    def held_with_allocations(self) -> tuple[ExpiryRow, ...]:
        """Rows held by this sweep that still carry open allocations (they stay allocated)."""
        return tuple(row for row in self.held if row.reserved > 0)

    @property
    def summary(self) -> str:
        verb = "would hold" if self.dry_run else "held"
        lift = "would release" if self.dry_run else "released"
        units = sum(row.on_hand for row in self.held)
        text = (
            f"{verb} {len(self.held)} stock row(s) ({units} units) within "
            f"{self.settings.block_days} day(s) of expiry or past it, {lift} "
            f"{len(self.released)}, {len(self.kept)} already held; {len(self.flagged)} "
            f"flagged within {self.settings.warn_days} day(s)"
        )
        allocated = self.held_with_allocations
        if allocated:
            text += (
                f"; {len(allocated)} held row(s) keep {sum(r.reserved for r in allocated)} "
                "allocated unit(s), still to be picked"
            )
        return text


def sweep_expiry(
    session: Session,
    *,
    now: dt.datetime,
    settings: ExpirySettings,
    site_id: int | None = None,
    dry_run: bool = False,
) -> ExpirySweep:
    """Hold stock near or past its expiry, release holds that no longer apply, flag the rest.

    Every site is swept unless ``site_id`` names one; each uses its own local today.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    settings.check()
    sites = select(Site.id, Site.code, Site.timezone).order_by(Site.id)
    if site_id is not None:
        sites = sites.where(Site.id == site_id)
    today_of: dict[int, dt.date] = {}
    code_of: dict[int, str] = {}
    for sid, code, timezone in session.execute(sites):
        today_of[sid] = now.astimezone(ZoneInfo(timezone)).date()
        code_of[sid] = code
    if not today_of:
        return ExpirySweep(now, settings, site_id, dry_run, (), (), (), ())
    # Nothing expiring after the latest today plus the warning days can concern any site.
    horizon = max(today_of.values()) + dt.timedelta(days=settings.warn_days)
    query = (
        select(Stock, Slot.site_id)
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Slot.site_id.in_(sorted(today_of)),
            Stock.expiry.is_not(None),
            (
                (Stock.hold.in_(SWEEP_HOLDS))
                | (Stock.hold.is_(None) & (Stock.on_hand > 0) & (Stock.expiry <= horizon))
            ),
        )
        .order_by(Stock.id)
    )
    found = session.execute(query).tuples().all()
    rows = {row.id: row for row, _ in found}
    site_of = {row.id: sid for row, sid in found}

    def verdict(row: Stock) -> tuple[str | None, bool]:
        assert row.expiry is not None
        today = today_of[site_of[row.id]]
        return decide(row.expiry, today, hold=row.hold, on_hand=row.on_hand, settings=settings)

    locked: set[int] = set()
    if not dry_run:
        # Lock what changes, then decide again on the locked values (another sweep, a count).
        changing = [row.id for row in rows.values() if verdict(row)[0] != row.hold]
        locked = set(lock_rows(session, changing))
    decisions: list[_Decision] = []
    for stock_id in sorted(rows):
        row = rows[stock_id]
        if row.expiry is None or (row.hold is not None and row.hold not in SWEEP_HOLDS):
            continue  # changed since it was read: not the sweep's to decide any more
        due, flagged = verdict(row)
        # An unlocked row that now wants a change was changed meanwhile: the next sweep sees it.
        change = due != row.hold and (dry_run or stock_id in locked)
        decisions.append(_Decision(row, row.hold, due if change else row.hold, flagged))
        if change and not dry_run:
            row.hold = due
    if not dry_run:
        session.flush()
    describe = _describer(session, decisions, code_of, today_of, site_of)
    return ExpirySweep(
        now=now,
        settings=settings,
        site_id=site_id,
        dry_run=dry_run,
        held=tuple(describe(d) for d in decisions if d.after is not None and d.after != d.before),
        released=tuple(describe(d) for d in decisions if d.after is None and d.before is not None),
        kept=tuple(describe(d) for d in decisions if d.after is not None and d.after == d.before),
        flagged=tuple(describe(d) for d in decisions if d.flagged),
    )


@dataclass(frozen=True, slots=True)
class _Decision:
    row: Stock
    before: str | None
    after: str | None
    flagged: bool


def _describer(
    session: Session,
    decisions: list[_Decision],
    code_of: Mapping[int, str],
    today_of: Mapping[int, dt.date],
    site_of: Mapping[int, int],
) -> Callable[[_Decision], ExpiryRow]:
    """Turn decisions into result rows, with slot barcodes, SKUs and open allocations."""
    rows = [d.row for d in decisions]
    slot_ids = sorted({row.slot_id for row in rows})
    item_ids = sorted({row.item_id for row in rows})
    barcodes = {
        slot_id: barcode
        for slot_id, barcode in session.execute(
            select(Slot.id, Slot.barcode).where(Slot.id.in_(slot_ids))
        )
    }
    skus = {
        item_id: sku
        for item_id, sku in session.execute(select(Item.id, Item.sku).where(Item.id.in_(item_ids)))
    }
    allocated = sorted(row.id for row in rows if row.reserved > 0)
    allocations: dict[int, list[int]] = {}
    if allocated:
        for allocation_id, stock_id in session.execute(
            select(Allocation.id, Allocation.stock_id)
            .where(Allocation.stock_id.in_(allocated), Allocation.status == AllocationStatus.OPEN)
            .order_by(Allocation.id)
        ):
            allocations.setdefault(stock_id, []).append(allocation_id)

    def describe(decision: _Decision) -> ExpiryRow:
        row = decision.row
        assert row.expiry is not None
        sid = site_of[row.id]
        return ExpiryRow(
            stock_id=row.id,
            site_id=sid,
            site_code=code_of[sid],
            slot_id=row.slot_id,
            slot_barcode=barcodes.get(row.slot_id, str(row.slot_id)),
            item_id=row.item_id,
            sku=skus.get(row.item_id, str(row.item_id)),
            lot=row.lot,
            expiry=row.expiry,
            days_left=(row.expiry - today_of[sid]).days,
            on_hand=row.on_hand,
            reserved=row.reserved,
            hold_before=decision.before,
            hold=decision.after,
            open_allocation_ids=tuple(allocations.get(row.id, ())),
        )

    return describe

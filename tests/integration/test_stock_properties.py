"""Stock invariants hold after any sequence of floor operations, refused ones included.

A hypothesis state machine drives the real services (``stock.adjust`` and ``stock.move``,
``allocation.allocate``, ``release`` and ``confirm_pick``, slot locks and count flags) on the
test database. Each step runs like an API request: inside a savepoint that a refusal rolls
back, and a refusal must leave every balance, movement, allocation and flag as it was. After
every step the invariants of ARCHITECTURE.md must hold, read back from the database. Two steps
stand in for services this machine does not drive: a count that finds no variance clears a
slot's count flag, and a wave takes an allocated order to the floor (status ``in_wave``).

Invariants alone would let a service that refuses everything pass, so the machine also keeps a
small model (units per item, ledger entries, units picked per line) and predicts, from the
state before each step, whether the step must succeed or which refusal it must get. A service
that refuses too much or too little, or moves the wrong number of units, fails as surely as
one that breaks a balance.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from wms import allocation, check, stock
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    Zone,
)

SITE_TZ = "Europe/Amsterdam"
PREFIX = "PROP-"
#: Every test item is 100 x 80 x 60 mm.
UNIT_CM3 = 480

#: name -> (kind, aisle, bay, level, volume_cm3); the pick face is kept for TEA.
SLOTS: dict[str, tuple[SlotKind, int | None, int | None, int | None, int | None]] = {
    "PF-TEA": (SlotKind.PICK_FACE, 1, 1, 1, None),
    "R-1": (SlotKind.RESERVE, 1, 2, 2, None),
    "R-2": (SlotKind.RESERVE, 2, 1, 1, None),
    "R-SMALL": (SlotKind.RESERVE, 2, 2, 1, 4 * UNIT_CM3),
    # Not a rack slot: units here are never allocated.
    "STAGE": (SlotKind.STAGING, None, None, None, None),
}
RACK_KINDS = (SlotKind.PICK_FACE, SlotKind.RESERVE)
#: name -> (lot_tracked, expiry_tracked)
ITEMS: dict[str, tuple[bool, bool]] = {
    "TEA": (False, False),
    "MILK": (True, True),
    "RICE": (True, False),
}
ORDERS: dict[str, list[tuple[str, int]]] = {
    "O1": [("TEA", 3), ("MILK", 4)],
    "O2": [("MILK", 5), ("RICE", 2)],
}
LINES = [f"{order}/{n}" for order, lines in ORDERS.items() for n in range(1, len(lines) + 1)]
LOTS = ("", "L1", "L2")
#: Days from the site's today; -1 is already expired.
EXPIRY_DAYS = (None, -1, 0, 5, 20)
#: Order states in which lines may be allocated.
ALLOCATABLE = (OrderStatus.OPEN, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED)
ADJUST_REASONS = ("damaged", "lost", "expired", "found", "correction", "stolen")
VALID_REASONS = {"damaged", "lost", "expired", "found", "correction"}
TAKE_OUT = {"damaged", "lost", "expired"}

slot_names = st.sampled_from(list(SLOTS))
item_names = st.sampled_from(list(ITEMS))
lots = st.sampled_from(LOTS)

#: The refusal a step must get (one class or several), or None when it must succeed.
Refusal = type[WmsError] | tuple[type[WmsError], ...] | None
#: What ``_attempt`` returns when the service refused (and the refusal was the predicted one).
REFUSED = object()


@dataclass(frozen=True)
class State:
    """What the database holds for the machine's warehouse, read with Core selects."""

    rows: tuple[Any, ...]
    movements: tuple[Any, ...]
    allocations: tuple[Any, ...]
    #: Order lines with their order's status.
    lines: tuple[Any, ...]
    slots: tuple[Any, ...]


class StockLedgerMachine(RuleBasedStateMachine):
    """One small warehouse per example, in a transaction rolled back at teardown."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.connection = engine.connect()
        self.outer = self.connection.begin()
        self.session = Session(
            bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            self.today = dt.datetime.now(ZoneInfo(SITE_TZ)).date()
            self._build_warehouse()
        except BaseException:
            self.teardown()
            raise
        # The model: what the database must agree with after every step.
        self.units = dict.fromkeys(ITEMS, 0)
        self.ledger_entries = 0
        self.picked = dict.fromkeys(LINES, 0)
        self._state: State | None = None

    def teardown(self) -> None:
        self.session.close()
        if self.outer.is_active:
            self.outer.rollback()
        self.connection.close()

    def _build_warehouse(self) -> None:
        s = self.session
        site = Site(
            code=f"{PREFIX}FW", name="Property site", kind=SiteKind.FRONT_WAREHOUSE,
            latitude=52.37, longitude=4.89, timezone=SITE_TZ,
        )  # fmt: skip
        s.add(site)
        s.flush()
        zone = Zone(site_id=site.id, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
        s.add(zone)
        items = {
            name: Item(
                sku=f"{PREFIX}{name}",
                name=name.title(),
                length_mm=100,
                width_mm=80,
                height_mm=60,
                weight_g=250,
                lot_tracked=lot,
                expiry_tracked=expiry,
                temperature=Temperature.AMBIENT,
            )
            for name, (lot, expiry) in ITEMS.items()
        }
        s.add_all(items.values())
        s.flush()
        slots = {}
        for name, (kind, aisle, bay, level, volume) in SLOTS.items():
            face = kind is SlotKind.PICK_FACE
            slots[name] = Slot(
                site_id=site.id, zone_id=zone.id, barcode=f"{PREFIX}{name}", kind=kind,
                block=1 if aisle else None, aisle=aisle, bay=bay, level=level,
                side="L" if aisle else None, volume_cm3=volume,
                item_id=items["TEA"].id if face else None,
                min_qty=2 if face else None, max_qty=20 if face else None,
            )  # fmt: skip
        s.add_all(slots.values())
        start = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
        orders = {
            number: Order(
                number=f"{PREFIX}{number}",
                site_id=site.id,
                customer_name="Customer",
                address="Teststraat 1",
                latitude=52.38,
                longitude=4.9,
                promised_start=start,
                promised_end=start + dt.timedelta(hours=1),
                lines=[
                    OrderLine(line_no=n, item_id=items[item].id, quantity=qty)
                    for n, (item, qty) in enumerate(lines, start=1)
                ],
            )
            for number, lines in ORDERS.items()
        }
        s.add_all(orders.values())
        s.flush()
        self.site_id = site.id
        self.item_id = {name: item.id for name, item in items.items()}
        self.item_name = {item.id: name for name, item in items.items()}
        self.slot_id = {name: slot.id for name, slot in slots.items()}
        self.slot_name = {slot.id: name for name, slot in slots.items()}
        self.order_id = {number: order.id for number, order in orders.items()}
        self.line_id: dict[str, int] = {}
        self.line_item: dict[str, str] = {}
        self.line_qty: dict[str, int] = {}
        for number, order in orders.items():
            for line, (item, qty) in zip(order.lines, ORDERS[number], strict=True):
                name = f"{number}/{line.line_no}"
                self.line_id[name], self.line_item[name], self.line_qty[name] = line.id, item, qty
        self.line_name = {line_id: name for name, line_id in self.line_id.items()}

    # --- reading the database ---------------------------------------------------------------

    @property
    def state(self) -> State:
        """What the database holds now: read once per step, when the step ends."""
        return self._state or self._read()

    def _read(self) -> State:
        s = self.session
        slot_ids = list(self.slot_id.values())
        line_ids = list(self.line_id.values())
        self._state = State(
            rows=tuple(
                s.execute(
                    select(
                        Stock.id,
                        Stock.slot_id,
                        Stock.item_id,
                        Stock.lot,
                        Stock.expiry,
                        Stock.on_hand,
                        Stock.reserved,
                        Stock.received_at,
                    )
                    .where(Stock.slot_id.in_(slot_ids))
                    .order_by(Stock.id)
                )
            ),
            movements=tuple(
                s.execute(
                    select(
                        Movement.id,
                        Movement.stock_id,
                        Movement.kind,
                        Movement.quantity,
                        Movement.operation_id,
                        Stock.slot_id,
                        Stock.item_id,
                        Stock.lot,
                    )
                    # An outer join, so a movement without a stock row shows up too.
                    .outerjoin(Stock, Stock.id == Movement.stock_id)
                    .where(Stock.slot_id.in_(slot_ids) | Stock.id.is_(None))
                    .order_by(Movement.id)
                )
            ),
            allocations=tuple(
                s.execute(
                    select(
                        Allocation.id,
                        Allocation.order_line_id,
                        Allocation.stock_id,
                        Allocation.quantity,
                        Allocation.picked_qty,
                        Allocation.status,
                    )
                    .where(Allocation.order_line_id.in_(line_ids))
                    .order_by(Allocation.id)
                )
            ),
            lines=tuple(
                s.execute(
                    select(OrderLine.id, OrderLine.picked_qty, OrderLine.order_id, Order.status)
                    .join(Order, Order.id == OrderLine.order_id)
                    .where(OrderLine.id.in_(line_ids))
                    .order_by(OrderLine.id)
                )
            ),
            slots=tuple(
                s.execute(
                    select(
                        Slot.id,
                        Slot.kind,
                        Slot.locked,
                        Slot.lock_reason,
                        Slot.needs_count,
                        Slot.count_reason,
                        Slot.item_id,
                        Slot.volume_cm3,
                    )
                    .where(Slot.id.in_(slot_ids))
                    .order_by(Slot.id)
                )
            ),
        )
        return self._state

    def _row(self, state: State, slot: str, item: str, lot: str) -> Any:
        key = (self.slot_id[slot], self.item_id[item], lot)
        return next((r for r in state.rows if (r.slot_id, r.item_id, r.lot) == key), None)

    def _stock_row(self, state: State, stock_id: int) -> Any:
        return next(r for r in state.rows if r.id == stock_id)

    def _slot(self, state: State, name: str) -> Any:
        return next(s for s in state.slots if s.id == self.slot_id[name])

    def _allocation(self, state: State, allocation_id: int) -> Any:
        return next((a for a in state.allocations if a.id == allocation_id), None)

    def _committed(self, state: State, line: str) -> int:
        """Units the line holds: open allocations, and what its picked allocations took."""
        return sum(
            a.picked_qty if a.status is AllocationStatus.PICKED else a.quantity
            for a in state.allocations
            if a.order_line_id == self.line_id[line] and a.status is not AllocationStatus.RELEASED
        )

    def _order_status(self, state: State, line: str) -> OrderStatus:
        return next(li.status for li in state.lines if li.id == self.line_id[line])

    def _allocatable(self, state: State, item: str) -> tuple[dict[int, int], dict[int, int]]:
        """The spec, written independently of the service: free units of usable rows.

        Usable: a rack slot (pick face or reserve), not locked, not waiting for a count.
        Returns {stock id: free units} for fresh rows (no expiry, or expiry today or later)
        and for expired ones.
        """
        usable = {
            s.id for s in state.slots if s.kind in RACK_KINDS and not s.locked and not s.needs_count
        }
        fresh, expired = {}, {}
        for r in state.rows:
            if r.item_id == self.item_id[item] and r.slot_id in usable and r.on_hand > r.reserved:
                is_fresh = r.expiry is None or r.expiry >= self.today
                (fresh if is_fresh else expired)[r.id] = r.on_hand - r.reserved
        return fresh, expired

    # --- one request ----------------------------------------------------------------------

    def _attempt(self, what: str, expected: Refusal, call: Any) -> Any:
        """Run a service call in a savepoint, as a request does; a refusal rolls it back.

        ``expected`` is the refusal the state before the call demands, or None when the call
        must succeed.
        """
        before = self.state
        self._state = None
        savepoint = self.session.begin_nested()
        try:
            result = call()
        except WmsError as exc:
            savepoint.rollback()
            event(f"{what}: refused, {type(exc).__name__}")
            assert self._read() == before, f"refused ({exc!r}) but the state changed"
            assert expected is not None, f"refused with {exc!r}, but it should have succeeded"
            assert isinstance(exc, expected), f"refused with {exc!r}, expected {expected}"
            return REFUSED
        savepoint.commit()
        event(f"{what}: done")
        assert expected is None, f"succeeded, but {expected} was expected"
        return result

    def _draw_place(self, data: st.DataObject, *, free: bool = False) -> tuple[str, str, str, int]:
        """(slot, item, lot, units) of a row holding units most of the time, else anywhere.

        Units are the row's on-hand, or with ``free`` its unreserved units.
        """
        held = []
        for r in self.state.rows:
            units = r.on_hand - r.reserved if free else r.on_hand
            if units > 0:
                held.append((self.slot_name[r.slot_id], self.item_name[r.item_id], r.lot, units))
        where = data.draw(st.sampled_from(["a row holding units"] * 3 + ["anywhere"]))
        if held and where != "anywhere":
            return data.draw(st.sampled_from(held), label="(slot, item, lot, units)")
        return (
            data.draw(slot_names, label="slot"), data.draw(item_names, label="item"),
            data.draw(lots, label="lot"), 0,
        )  # fmt: skip

    def _boundary(self, slot: str, item: str, lot: str) -> list[int]:
        """Quantities at the edges of a row: its free units and its on-hand, and one more."""
        row = self._row(self.state, slot, item, lot)
        if row is None:
            return [1]
        free = row.on_hand - row.reserved
        return sorted({q for q in (free, free + 1, row.on_hand, row.on_hand + 1) if q > 0})

    def _open_allocations(self) -> list[int]:
        return [a.id for a in self.state.allocations if a.status is AllocationStatus.OPEN]

    def _draw_allocation(self, data: st.DataObject) -> int:
        """Mostly an open allocation (often one in a locked slot, if there is one); sometimes
        any allocation, or one that does not exist."""
        state = self.state
        open_ids = self._open_allocations()
        slot_of = {r.id: r.slot_id for r in state.rows}
        locked = {s.id for s in state.slots if s.locked}
        in_locked = [
            a.id for a in state.allocations if a.id in open_ids and slot_of[a.stock_id] in locked
        ]
        choices = ["open"] * 3 + ["any"] + (["open, in a locked slot"] if in_locked else [])
        which = data.draw(st.sampled_from(choices), label="which allocation")
        if which == "open" and open_ids:
            pool = open_ids
        elif which == "open, in a locked slot":
            pool = in_locked
        else:
            pool = [a.id for a in state.allocations] + [0]  # 0: an allocation that does not exist
        return data.draw(st.sampled_from(pool), label="allocation id")

    # --- rules ----------------------------------------------------------------------------

    #: (slot, item, lot, expiry in days) of the rows the racks start with, in any amounts.
    OPENING_STOCK = (
        ("PF-TEA", "TEA", "", None),
        ("R-2", "TEA", "", None),
        ("R-1", "MILK", "L1", 5),
        ("R-2", "MILK", "L2", 20),
        ("R-SMALL", "MILK", "L0", -1),
        ("R-SMALL", "RICE", "L1", None),
        ("R-1", "RICE", "L2", None),
    )

    @initialize(
        units=st.lists(st.integers(0, 6), min_size=len(OPENING_STOCK), max_size=len(OPENING_STOCK)),
        first_lines=st.lists(st.sampled_from(LINES), min_size=1, unique=True),
    )
    def stock_the_racks(self, units: list[int], first_lines: list[str]) -> None:
        """Units in the racks (one lot of milk already expired), and some lines allocated."""
        for (slot, item, lot, days), qty in zip(self.OPENING_STOCK, units, strict=True):
            if qty:
                self._receive(slot, item, qty, lot, days)
        for line in first_lines:
            self.allocate(line, refuse_if_none=False)

    @rule(data=st.data(), slot=slot_names, item=item_names, quantity=st.integers(1, 8))
    def receive(self, data: st.DataObject, slot: str, item: str, quantity: int) -> None:
        """Units arrive as found units, until receiving lands: mostly with the lot and expiry
        the item tracks, sometimes with any."""
        lot_tracked, expiry_tracked = ITEMS[item]
        how = data.draw(st.sampled_from(["as tracked"] * 3 + ["anything"]), label="lot, expiry")
        if how == "as tracked":
            lot = data.draw(st.sampled_from(LOTS[1:]) if lot_tracked else st.just(""), label="lot")
            days = data.draw(
                st.sampled_from(EXPIRY_DAYS[1:]) if expiry_tracked else st.none(), label="expiry"
            )
        else:
            lot = data.draw(lots, label="lot")
            days = data.draw(st.sampled_from(EXPIRY_DAYS), label="expiry")
        self._receive(slot, item, quantity, lot, days)

    def _receive(self, slot: str, item: str, quantity: int, lot: str, days: int | None) -> None:
        expiry = None if days is None else self.today + dt.timedelta(days=days)
        self._adjust("receive", slot, item, quantity, "found", lot, expiry)

    @rule(data=st.data(), reason=st.sampled_from(ADJUST_REASONS))
    def adjust(self, data: st.DataObject, reason: str) -> None:
        """Damaged, lost, expired, found or corrected units, of any sign and size."""
        slot, item, lot, on_hand = self._draw_place(data)
        sign = -1 if reason in TAKE_OUT else 1 if reason == "found" else 0
        size = st.one_of(
            st.sampled_from(self._boundary(slot, item, lot)), st.integers(1, on_hand + 2)
        )
        agreeing = size.map(lambda q: sign * q) if sign else size.map(lambda q: -q)
        quantity = data.draw(st.one_of(agreeing, st.integers(-on_hand - 2, 10)), label="quantity")
        self._adjust("adjust", slot, item, quantity, reason, lot, None)

    def _adjust(
        self, what: str, slot: str, item: str, quantity: int, reason: str, lot: str,
        expiry: dt.date | None,
    ) -> None:  # fmt: skip
        row = self._row(self.state, slot, item, lot)
        lot_tracked, expiry_tracked = ITEMS[item]
        expected: Refusal = None
        if (
            reason not in VALID_REASONS
            or quantity == 0
            or (reason in TAKE_OUT and quantity > 0)
            or (reason == "found" and quantity < 0)
            or (lot_tracked and not lot)
        ):
            expected = RuleViolation
        elif (lot and not lot_tracked) or (expiry is not None and not expiry_tracked):
            # As receiving and counting do (422): a lot or an expiry the item does not track
            # would make units that can never be counted, or never be allocated once "expired".
            # Taking out such units finds none (409) if the refusal comes later.
            expected = RuleViolation if quantity > 0 else (RuleViolation, stock.InsufficientStock)
        elif quantity > 0:
            if row is None:
                if expiry_tracked and expiry is None:
                    expected = RuleViolation
            elif None not in (expiry, row.expiry) and row.expiry != expiry:
                expected = RuleViolation
        elif row is None or row.on_hand + quantity < row.reserved:
            expected = stock.InsufficientStock

        movement = self._attempt(
            what,
            expected,
            lambda: stock.adjust(
                self.session,
                slot_id=self.slot_id[slot],
                item_id=self.item_id[item],
                quantity=quantity,
                reason=reason,
                lot=lot,
                expiry=expiry,
            ),
        )
        if movement is REFUSED:
            return
        after = self._row(self._read(), slot, item, lot)
        assert after.on_hand == (row.on_hand if row else 0) + quantity
        assert after.reserved == (row.reserved if row else 0)
        assert (movement.stock_id, movement.quantity) == (after.id, quantity)
        assert after.expiry == (row.expiry if row else expiry)
        self.units[item] += quantity
        self.ledger_entries += 1

    @rule(data=st.data(), to_slot=slot_names)
    def move(self, data: st.DataObject, to_slot: str) -> None:
        """Move units of a row, often more than it has free, sometimes from nowhere."""
        from_slot, item, lot, free = self._draw_place(data, free=True)
        quantity = data.draw(
            st.one_of(
                st.sampled_from(self._boundary(from_slot, item, lot)),
                st.integers(-1, free + 2 if free else 12),
            ),
            label="quantity",
        )
        before = self.state
        src, dst = self._row(before, from_slot, item, lot), self._row(before, to_slot, item, lot)
        to = self._slot(before, to_slot)
        expected: Refusal = None
        if quantity <= 0 or from_slot == to_slot:
            expected = RuleViolation
        elif src is None or src.on_hand - src.reserved < quantity:
            expected = stock.InsufficientStock
        elif to.locked:
            expected = stock.SlotLocked
        elif to.kind is SlotKind.PICK_FACE and to.item_id not in (None, self.item_id[item]):
            expected = RuleViolation
        elif (
            to.volume_cm3 is not None
            and (sum(r.on_hand for r in before.rows if r.slot_id == to.id) + quantity) * UNIT_CM3
            > to.volume_cm3
        ):
            expected = stock.OverCapacity
        elif dst is not None and None not in (src.expiry, dst.expiry) and src.expiry != dst.expiry:
            expected = RuleViolation

        result = self._attempt(
            "move",
            expected,
            lambda: stock.move(
                self.session,
                from_slot_id=self.slot_id[from_slot],
                to_slot_id=self.slot_id[to_slot],
                item_id=self.item_id[item],
                lot=lot,
                quantity=quantity,
            ),
        )
        if result is REFUSED:
            return
        after = self._read()
        src_after = self._row(after, from_slot, item, lot)
        dst_after = self._row(after, to_slot, item, lot)
        assert (src_after.on_hand, src_after.reserved) == (src.on_hand - quantity, src.reserved)
        assert dst_after.on_hand == (dst.on_hand if dst else 0) + quantity
        assert dst_after.expiry == (dst.expiry if dst else src.expiry)
        assert result.taken.operation_id == result.put.operation_id
        assert (result.taken.quantity, result.put.quantity) == (-quantity, quantity)
        self.ledger_entries += 2

    @rule(line=st.sampled_from(LINES), refuse_if_none=st.booleans())
    def allocate(self, line: str, refuse_if_none: bool) -> None:
        """Reserve what a line still needs, or refuse (409) when nothing is left for it."""
        item = self.line_item[line]
        before = self.state
        needed = max(self.line_qty[line] - self._committed(before, line), 0)
        fresh, expired = self._allocatable(before, item)
        available = sum(fresh.values())
        expected: Refusal = None
        if self._order_status(before, line) not in ALLOCATABLE:
            expected = Conflict
        elif refuse_if_none and needed and not available:
            expected = allocation.ExpiredStockOnly if expired else stock.InsufficientStock

        result = self._attempt(
            "allocate",
            expected,
            lambda: allocation.allocate(
                self.session, self.line_id[line], today=self.today, refuse_if_none=refuse_if_none
            ),
        )
        if result is REFUSED:
            return
        event(f"allocate: {'units' if result.allocations else 'nothing'} allocated")
        # Exactly what the line still needs, as far as fresh usable stock goes.
        assert result.allocated == min(needed, available), (needed, available, result)
        assert result.short == needed - result.allocated
        after = self._read()
        known = {a.id for a in before.allocations}
        new = [a for a in after.allocations if a.id not in known]
        assert sorted(a.id for a in new) == sorted(a.id for a in result.allocations)
        for a in new:
            assert a.order_line_id == self.line_id[line] and a.status is AllocationStatus.OPEN
            assert a.stock_id in fresh, f"allocated from a row that is not usable: {a}"
            assert a.quantity <= fresh[a.stock_id]
        if new:
            # FEFO, then FIFO: no unit left free comes before a unit just allocated.
            key = self._preference(item)
            latest_taken = max(key(self._stock_row(before, a.stock_id)) for a in new)
            still_free, _ = self._allocatable(after, item)
            for stock_id in still_free:
                assert key(self._stock_row(after, stock_id)) >= latest_taken, (stock_id, new)

    def _preference(self, item: str) -> Any:
        far = dt.date.max
        expiry_tracked = ITEMS[item][1]
        return lambda r: ((r.expiry or far) if expiry_tracked else far, r.received_at)

    @precondition(lambda self: self._open_allocations())
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        """Give an open allocation's units back; anything else is refused."""
        allocation_id = self._draw_allocation(data)
        before = self.state
        a = self._allocation(before, allocation_id)
        expected: Refusal = None
        if a is None:
            expected = NotFound
        elif a.status is not AllocationStatus.OPEN:
            expected = Conflict

        result = self._attempt(
            "release", expected, lambda: allocation.release(self.session, allocation_id)
        )
        if result is REFUSED:
            return
        after = self._read()
        released = self._allocation(after, allocation_id)
        assert (released.status, released.picked_qty) == (AllocationStatus.RELEASED, 0)
        row_before, row = self._stock_row(before, a.stock_id), self._stock_row(after, a.stock_id)
        assert (row.on_hand, row.reserved) == (row_before.on_hand, row_before.reserved - a.quantity)

    @precondition(lambda self: self._open_allocations())
    @rule(data=st.data(), over=st.sampled_from([False, False, False, True]))
    def confirm_pick(self, data: st.DataObject, over: bool) -> None:
        """Pick an allocation in full, or one unit over it (refused)."""
        allocation_id = self._draw_allocation(data)
        a = self._allocation(self.state, allocation_id)
        allocated = a.quantity if a else 1
        self._pick("confirm_pick", allocation_id, allocated + 1 if over else allocated)

    @precondition(lambda self: self._open_allocations())
    @rule(data=st.data())
    def short_pick(self, data: st.DataObject) -> None:
        """Pick fewer units than allocated, even none: the slot did not hold them."""
        allocation_id = self._draw_allocation(data)
        a = self._allocation(self.state, allocation_id)
        allocated = a.quantity if a else 1
        self._pick("short_pick", allocation_id, data.draw(st.integers(0, allocated - 1)))

    def _pick(self, what: str, allocation_id: int, quantity: int) -> None:
        """Confirm a pick; a short pick flags the slot and re-allocates what is missing.

        Picking goes on while the order is in a wave, short picks included.
        """
        before = self.state
        a = self._allocation(before, allocation_id)
        row_before = self._stock_row(before, a.stock_id) if a else None
        expected: Refusal = None
        if a is None:
            expected = NotFound
        elif a.status is not AllocationStatus.OPEN:
            expected = Conflict
        elif quantity > a.quantity:
            expected = RuleViolation
        elif quantity and self._slot(before, self.slot_name[row_before.slot_id]).locked:
            expected = Conflict

        result = self._attempt(
            what,
            expected,
            lambda: allocation.confirm_pick(self.session, allocation_id, quantity=quantity),
        )
        if result is REFUSED:
            return
        line = self.line_name[a.order_line_id]
        missing = a.quantity - quantity
        after = self._read()
        picked = self._allocation(after, allocation_id)
        assert (picked.status, picked.picked_qty) == (AllocationStatus.PICKED, quantity)
        assert (result.picked, result.missing) == (quantity, missing)
        row = self._stock_row(after, a.stock_id)
        # Picked units leave the row and its whole reservation ends (a flagged slot is not
        # allocated again, so nothing comes back to it).
        assert row.on_hand == row_before.on_hand - quantity
        assert row.reserved == row_before.reserved - a.quantity
        self.units[self.line_item[line]] -= quantity
        self.ledger_entries += 1 if quantity else 0
        self.picked[line] += quantity
        if not missing:
            assert result.reallocated == [] and result.backordered == 0
            return
        slot = self._slot(after, self.slot_name[row.slot_id])
        assert slot.needs_count, "a short pick must flag the slot for a count"
        still_needed = self.line_qty[line] - self._committed(after, line)
        assert result.backordered == still_needed
        if still_needed and self._order_status(before, line) in ALLOCATABLE:
            # The missing units were re-allocated as far as fresh usable stock goes.
            assert not self._allocatable(after, self.line_item[line])[0]
            assert self._order_status(after, line) is OrderStatus.BACKORDERED

    @rule(
        data=st.data(),
        action=st.sampled_from(["lock", "lock", "unlock", "lock without a reason"]),
    )
    def set_slot_lock(self, data: st.DataObject, action: str) -> None:
        """Lock a slot (often one holding reserved units) or unlock it; a lock needs a reason."""
        reserved = sorted({self.slot_name[r.slot_id] for r in self.state.rows if r.reserved})
        if reserved and data.draw(st.sampled_from(["reserved", "any"])) == "reserved":
            slot = data.draw(st.sampled_from(reserved), label="slot")
        else:
            slot = data.draw(slot_names, label="slot")
        locked, reason = action != "unlock", "broken rack" if action == "lock" else ""
        expected = RuleViolation if locked and not reason.strip() else None
        result = self._attempt(
            "set_slot_lock",
            expected,
            lambda: stock.set_slot_lock(
                self.session, self.slot_id[slot], locked=locked, reason=reason
            ),
        )
        if result is not REFUSED:
            assert self._slot(self._read(), slot).locked is locked

    @rule(slot=slot_names, flag=st.booleans())
    def count_flag(self, slot: str, flag: bool) -> None:
        """Flag a slot for a cycle count, or clear a flag as a count without variance would.

        Clearing stands in for wms/counting.py: it changes no stock, only the flag.
        """
        if flag:
            result = self._attempt(
                "flag_for_count",
                None,
                lambda: stock.flag_for_count(self.session, self.slot_id[slot], reason="check"),
            )
            assert result is not REFUSED and self._slot(self._read(), slot).needs_count
        else:
            self._state = None
            self.session.execute(
                update(Slot)
                .where(Slot.id == self.slot_id[slot])
                .values(needs_count=False, count_reason=None)
            )

    def _orders_with_open_allocations(self) -> list[str]:
        open_lines = {
            a.order_line_id for a in self.state.allocations if a.status is AllocationStatus.OPEN
        }
        waved = {li.order_id for li in self.state.lines if li.status is OrderStatus.IN_WAVE}
        return sorted(
            number
            for number, order_id in self.order_id.items()
            if order_id not in waved
            and any(
                self.line_id[f"{number}/{n}"] in open_lines
                for n in range(1, len(ORDERS[number]) + 1)
            )
        )

    @precondition(lambda self: self._orders_with_open_allocations())
    @rule(data=st.data())
    def release_to_wave(self, data: st.DataObject) -> None:
        """An allocated order goes to the floor in a wave: it is picked, short picks included,
        and no longer allocated. Stands in for wms/waves.py (only the status changes)."""
        order = data.draw(st.sampled_from(self._orders_with_open_allocations()), label="order")
        self._state = None
        self.session.execute(
            update(Order).where(Order.id == self.order_id[order]).values(status=OrderStatus.IN_WAVE)
        )

    # --- the invariants, after every step -------------------------------------------------

    @invariant()
    def stock_invariants_hold(self) -> None:
        # The state the step left, read at its end (by the step or now); reused as the
        # "before" of the next step.
        state = self.state
        self._balances_agree_with_the_ledger_and_the_open_allocations()
        self._no_row_is_negative_or_reserved_beyond_its_units(state)
        self._no_unit_is_allocated_twice(state)
        self._picked_units_agree_line_by_line(state)
        self._the_ledger_is_complete_and_every_move_balances(state)

    def _balances_agree_with_the_ledger_and_the_open_allocations(self) -> None:
        report = check.verify(self.session)
        assert report.ok, report.violations

    def _no_row_is_negative_or_reserved_beyond_its_units(self, state: State) -> None:
        for r in state.rows:
            assert r.on_hand >= 0 and 0 <= r.reserved <= r.on_hand, r

    def _no_unit_is_allocated_twice(self, state: State) -> None:
        rows = {r.id: r for r in state.rows}
        open_per_row: dict[int, int] = defaultdict(int)
        for a in state.allocations:
            line = self.line_name[a.order_line_id]
            assert rows[a.stock_id].item_id == self.item_id[self.line_item[line]], a
            assert 0 <= a.picked_qty <= a.quantity, a
            if a.status is AllocationStatus.OPEN:
                open_per_row[a.stock_id] += a.quantity
                assert a.picked_qty == 0, a
        for line in LINES:
            assert self._committed(state, line) <= self.line_qty[line], line
        for stock_id, row in rows.items():
            assert open_per_row[stock_id] == row.reserved, row

    def _picked_units_agree_line_by_line(self, state: State) -> None:
        on_line = {li.id: li.picked_qty for li in state.lines}
        by_allocation: dict[int, int] = defaultdict(int)
        for a in state.allocations:
            if a.status is AllocationStatus.PICKED:
                by_allocation[a.order_line_id] += a.picked_qty
        for line, line_id in self.line_id.items():
            assert on_line[line_id] == by_allocation[line_id] == self.picked[line], line

    def _the_ledger_is_complete_and_every_move_balances(self, state: State) -> None:
        orphans = [m for m in state.movements if m.slot_id is None]
        assert not orphans, f"movements without a stock row: {orphans}"
        assert len(state.movements) == self.ledger_entries
        operations: dict[str, list[Any]] = defaultdict(list)
        for m in state.movements:
            operations[m.operation_id].append(m)
        for operation_id, entries in operations.items():
            assert len(entries) in (1, 2), operation_id
            if len(entries) == 2:
                taken, put = sorted(entries, key=lambda m: m.quantity)
                assert taken.quantity + put.quantity == 0, entries
                assert taken.kind is put.kind is MovementKind.MOVE, entries
                assert (taken.item_id, taken.lot) == (put.item_id, put.lot), entries
                assert taken.slot_id != put.slot_id, entries
        totals: dict[int, int] = defaultdict(int)
        for r in state.rows:
            totals[r.item_id] += r.on_hand
        for item, units in self.units.items():
            assert totals[self.item_id[item]] == units, item


def test_stock_invariants_hold_after_any_sequence_of_floor_operations(engine: Engine) -> None:
    run_state_machine_as_test(
        lambda: StockLedgerMachine(engine),
        settings=settings(
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.too_slow],
        ),
    )

"""Pick waves: from open orders to released waves of batched, path-ordered pick lists.

``plan_wave`` takes a front warehouse's orders that are due (their pick cut-off — the start
of the promised window minus pick, pack and travel time — falls within the planning
horizon), highest priority and earliest cut-off first; allocates them whole (an order short
of stock waits, backordered, with the reason); splits each into its temperature zones (each
zone is picked on its own and the parts meet at packing); batches the parts onto carts
(``routing.batching``: orders never split across carts unless one cart cannot take them);
orders each cart's tasks along its walk (``routing.picking``) with a tote per order; and
stores the wave as ``planned`` with its figures: orders, lines, pick lists, the walk in
metres and what picking each order alone would have walked.

A planned wave can be released to the floor (its pick lists appear on the scanners),
re-planned or cancelled (every reservation given back). Orders left out come back with the
reason: ``not_due``, ``window_missed``, ``no_stock``, ``expired_stock``, ``held_stock`` (on
hold near its expiry), ``locked_slot``, ``wave_full`` or ``not_plannable``.

Planning at one site is serialised by locking the site's row, so two planners never take the
same order; every allocation goes through ``wms.allocation.allocate_lines`` on locked rows.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from routing.batching import BatchOrder, Cart, batch_orders
from routing.picking import plan_pick_path
from routing.types import Pick
from wms import allocation, orders
from wms.errors import Conflict, NotFound, RuleViolation
from wms.floor import ZoneFloor, zone_floor
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    Order,
    OrderStatus,
    PickList,
    PickListStatus,
    PickTask,
    PickTaskStatus,
    Site,
    Slot,
    Stock,
    Temperature,
    Wave,
    WaveStatus,
    Zone,
    utcnow,
)

# Why an order was left out of a wave (``Skipped.reason``).
NOT_DUE = "not_due"
WINDOW_MISSED = "window_missed"
NO_STOCK = "no_stock"
EXPIRED_STOCK = "expired_stock"
HELD_STOCK = "held_stock"
LOCKED_SLOT = "locked_slot"
WAVE_FULL = "wave_full"
NOT_PLANNABLE = "not_plannable"
SLOT_UNMAPPED = "slot_unmapped"  # a slot of the order is off its zone's racks (layout data)

PLANNABLE = (OrderStatus.OPEN, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED)
#: Orders starting this much beyond the horizon are not even looked at (no lead time is
#: longer than pick + pack + a cross-city drive).
LOOKAHEAD = dt.timedelta(hours=3)
#: Zones are picked in this order, pick lists numbered so.
ZONE_ORDER = (Temperature.AMBIENT, Temperature.CHILLED, Temperature.FROZEN)
#: Straight-line distance times this is the road distance in a city.
ROAD_FACTOR = 1.3


@dataclass(frozen=True, slots=True)
class WaveSettings:
    """How waves are cut: carts, totes and the lead times before a delivery window."""

    cart_totes: int = 8
    cart_max_weight_g: int | None = 60_000
    tote_volume_cm3: int = 40_000  # what one tote holds
    pick_minutes: float = 15.0  # from release to the last tote at packing
    pack_minutes: float = 5.0
    travel_speed_kmh: float = 20.0  # door to door in the city, stops included
    horizon_minutes: float = 30.0  # plan the orders whose cut-off falls before now + this
    max_orders: int | None = None

    @property
    def cart_max_volume_cm3(self) -> int:
        return self.cart_totes * self.tote_volume_cm3

    @property
    def cart(self) -> Cart:
        return Cart(
            totes=self.cart_totes,
            max_weight_g=self.cart_max_weight_g,
            max_volume_cm3=self.cart_max_volume_cm3,
        )

    def check(self) -> None:
        """Refuse settings no wave can be planned with (422 naming the field)."""
        for name in ("cart_totes", "tote_volume_cm3"):
            if getattr(self, name) < 1:
                raise RuleViolation("must be at least 1", field=name)
        if self.cart_max_weight_g is not None and self.cart_max_weight_g < 1:
            raise RuleViolation("must be at least 1", field="cart_max_weight_g")
        for name in ("pick_minutes", "pack_minutes", "horizon_minutes"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise RuleViolation("must be a number >= 0", field=name)
        if not (math.isfinite(self.travel_speed_kmh) and self.travel_speed_kmh > 0):
            raise RuleViolation("must be a number > 0", field="travel_speed_kmh")
        if self.max_orders is not None and self.max_orders < 1:
            raise RuleViolation("must be at least 1", field="max_orders")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> WaveSettings:
        """Defaults ← ``WAVE_*`` keys of the app config (``WMS_WAVE_CART_TOTES=6``) ← overrides."""
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            key = f"WAVE_{name.upper()}"
            if key in config:
                values[name] = config[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An order left out of a wave, and why."""

    order_id: int
    number: str
    reason: str
    detail: str


@dataclass(slots=True)
class WavePlan:
    """A planned wave (None when no order could go in) and the orders left out."""

    wave: Wave | None
    skipped: list[Skipped] = field(default_factory=list)


# --- timing -----------------------------------------------------------------------------------


def travel_minutes(site: Site, order: Order, settings: WaveSettings) -> float:
    """Driving time from the site to the delivery point: great-circle distance on city roads."""
    lat1, lon1, lat2, lon2 = map(
        math.radians, (site.latitude, site.longitude, order.latitude, order.longitude)
    )
    a = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    km = 2 * 6371.0 * math.asin(math.sqrt(a)) * ROAD_FACTOR
    return km / settings.travel_speed_kmh * 60.0


def lead_time(site: Site, order: Order, settings: WaveSettings) -> dt.timedelta:
    """Pick, pack and drive: how long before its window an order must be released."""
    minutes = settings.pick_minutes + settings.pack_minutes + travel_minutes(site, order, settings)
    return dt.timedelta(minutes=minutes)


def cutoff(site: Site, order: Order, settings: WaveSettings) -> dt.datetime:
    """The latest release that still reaches the customer when the window opens."""
    return order.promised_start - lead_time(site, order, settings)


# --- planning ---------------------------------------------------------------------------------


def plan_wave(
    session: Session,
    site_id: int,
    *,
    settings: WaveSettings,
    now: dt.datetime | None = None,
    order_ids: Sequence[int] | None = None,
    by: int | None = None,
    lock: bool = True,
) -> WavePlan:
    """Plan a wave at a front warehouse (see the module docstring).

    ``order_ids`` plans exactly those orders (each still checked for its window and stock);
    otherwise the site's due orders whose window has not ended. Returns the planned wave, or
    None with every order's reason when nothing could be planned. Nothing is half-planned: an
    error leaves the session's transaction for the caller to roll back. ``lock=False`` takes
    no row locks, for a preview the caller rolls back.
    """
    settings.check()
    now = now or utcnow()
    site = lock_site(session, site_id) if lock else session.get(Site, site_id)
    if site is None:
        raise RuleViolation(f"site {site_id} does not exist", field="site_id")
    floors = {t: zone_floor(site.code, site.layout, t) for t in ZONE_ORDER}
    skipped: list[Skipped] = []
    candidates = _candidates(session, site, now, settings, order_ids, skipped, lock=lock)

    horizon = now + dt.timedelta(minutes=settings.horizon_minutes)
    due: list[tuple[dt.datetime, Order]] = []
    for order in candidates:
        lead = lead_time(site, order, settings)
        if now + lead > order.promised_end:
            detail = (
                f"needs {_minutes(lead)} min; the window ends at {order.promised_end:%H:%M} UTC"
            )
            skipped.append(_skip(order, WINDOW_MISSED, detail))
        elif order_ids is None and cutoff(site, order, settings) > horizon:
            detail = f"cut-off {cutoff(site, order, settings):%H:%M} UTC"
            skipped.append(_skip(order, NOT_DUE, detail))
        else:
            due.append((cutoff(site, order, settings), order))
    due.sort(key=lambda pair: (-pair[1].priority, pair[0], pair[1].id))
    if settings.max_orders is not None:
        for _, order in due[settings.max_orders :]:
            skipped.append(_skip(order, WAVE_FULL, f"the wave takes {settings.max_orders} orders"))
        due = due[: settings.max_orders]

    chosen = _allocate(session, site, [order for _, order in due], now, skipped, lock=lock)
    parts = _parts(session, chosen, floors, settings, skipped)
    chosen = [order for order in chosen if any(p.order is order for p in parts)]
    if not chosen:
        return WavePlan(None, skipped)
    wave = _build(session, site, chosen, parts, floors, settings, now, by)
    return WavePlan(wave, skipped)


def lock_site(session: Session, site_id: int) -> Site | None:
    """The site, locked: planning at one site happens one planner at a time."""
    return session.scalars(
        select(Site)
        .where(Site.id == site_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _minutes(delta: dt.timedelta) -> int:
    return math.ceil(delta.total_seconds() / 60)


def _skip(order: Order, reason: str, detail: str) -> Skipped:
    return Skipped(order.id, order.number, reason, detail)


def _candidates(
    session: Session,
    site: Site,
    now: dt.datetime,
    settings: WaveSettings,
    order_ids: Sequence[int] | None,
    skipped: list[Skipped],
    *,
    lock: bool,
) -> list[Order]:
    """The orders to consider, locked (id order); named ones that cannot be planned skipped."""
    query = (
        select(Order)
        .options(selectinload(Order.lines))
        .where(Order.site_id == site.id)
        .order_by(Order.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=Order)
    if order_ids is None:
        until = now + dt.timedelta(minutes=settings.horizon_minutes) + LOOKAHEAD
        return list(
            session.scalars(
                query.where(
                    Order.status.in_(PLANNABLE),
                    Order.wave_id.is_(None),
                    Order.promised_start <= until,
                    # A window that has ended is for the planner to resolve, not for a wave.
                    Order.promised_end > now,
                )
            )
        )
    wanted = list(dict.fromkeys(order_ids))
    found = {o.id: o for o in session.scalars(query.where(Order.id.in_(wanted)))}
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise RuleViolation(
            f"order {unknown[0]} does not exist at site {site.code}", field="order_ids"
        )
    plannable = []
    for order_id in wanted:
        order = found[order_id]
        if order.status not in PLANNABLE or order.wave_id is not None:
            where = f"in wave {order.wave_id}" if order.wave_id else order.status.value
            skipped.append(_skip(order, NOT_PLANNABLE, f"the order is {where}"))
        else:
            plannable.append(order)
    return plannable


def _allocate(
    session: Session,
    site: Site,
    due: list[Order],
    now: dt.datetime,
    skipped: list[Skipped],
    *,
    lock: bool,
) -> list[Order]:
    """Allocate the due orders whole, in their order; one that falls short takes nothing,
    gives back what it held from before and waits, backordered."""
    if not due:
        return []
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(site.timezone)).date()
    results = allocation.allocate_orders(
        session,
        [[line.id for line in order.lines] for order in due],
        site_id=site.id,
        today=today,
        lock=lock,
    )
    items = {
        i.id: i
        for i in session.scalars(
            select(Item).where(Item.id.in_({line.item_id for o in due for line in o.lines}))
        )
    }
    chosen = []
    for order in due:
        short = [(line, results[line.id]) for line in order.lines if results[line.id].short]
        if not short:
            orders.advance(order, OrderStatus.ALLOCATED)
            chosen.append(order)
            continue
        orders.release_open_allocations(session, order)
        orders.advance(order, OrderStatus.BACKORDERED)
        line, result = short[0]
        reason = {
            allocation.EXPIRED_ONLY: EXPIRED_STOCK,
            allocation.HELD_ONLY: HELD_STOCK,
            allocation.LOCKED_ONLY: LOCKED_SLOT,
        }.get(result.reason or "", NO_STOCK)
        detail = f"{items[line.item_id].sku}: {result.short} of {line.quantity} short"
        detail += f" ({result.reason})" if result.reason else ""
        if len(short) > 1:
            detail += f", and {len(short) - 1} more line(s)"
        skipped.append(_skip(order, reason, detail))
    session.flush()
    return chosen


@dataclass(frozen=True, slots=True)
class _Entry:
    """One allocation to pick, with what planning needs of its row, slot and item."""

    allocation: Allocation
    stock: Stock
    slot: Slot
    pick: Pick | None  # None without a layout
    weight_g: int
    volume_cm3: int


@dataclass(slots=True)
class _Part:
    """One order's allocations in one zone: what batching sees as an order."""

    order: Order
    temperature: Temperature
    entries: list[_Entry] = field(default_factory=list)

    @property
    def picks(self) -> list[Pick]:
        return [e.pick for e in self.entries if e.pick is not None]

    @property
    def weight_g(self) -> int:
        return sum(e.weight_g for e in self.entries)

    @property
    def volume_cm3(self) -> int:
        return sum(e.volume_cm3 for e in self.entries)

    def totes(self, tote_volume_cm3: int) -> int:
        return max(1, math.ceil(self.volume_cm3 / tote_volume_cm3))


def _build(
    session: Session,
    site: Site,
    chosen: list[Order],
    parts: list[_Part],
    floors: Mapping[Temperature, ZoneFloor | None],
    settings: WaveSettings,
    now: dt.datetime,
    by: int | None,
) -> Wave:
    wave = Wave(
        number=f"new-{uuid.uuid4().hex[:24]}",  # the site code and id once it has one
        site_id=site.id,
        status=WaveStatus.PLANNED,
        cutoff_until=now + dt.timedelta(minutes=settings.horizon_minutes),
        cart_totes=settings.cart_totes,
        cart_max_weight_g=settings.cart_max_weight_g,
        cart_max_volume_cm3=settings.cart_max_volume_cm3,
        planned_by=by,
        planned_at=now,
    )
    session.add(wave)
    session.flush()
    wave.number = f"{site.code}-W{wave.id:06d}"
    for order in chosen:
        order.wave_id = wave.id

    sequence = 0
    walk = single = 0.0
    for temperature in ZONE_ORDER:
        zone_parts = [p for p in parts if p.temperature is temperature]
        if not zone_parts:
            continue
        floor = floors[temperature]
        for members in _carts(zone_parts, floor, settings):
            sequence += 1
            walk += _pick_list(session, wave, sequence, members, floor, settings) or 0.0
        if floor is not None:
            single += sum(plan_pick_path(floor.layout, part.picks).length_m for part in zone_parts)
    wave.orders_count = len(chosen)
    wave.lines_count = sum(len(o.lines) for o in chosen)
    wave.walk_m = round(walk, 2)
    wave.single_order_walk_m = round(single, 2)
    session.flush()
    return wave


def _parts(
    session: Session,
    chosen: list[Order],
    floors: Mapping[Temperature, ZoneFloor | None],
    settings: WaveSettings,
    skipped: list[Skipped],
) -> list[_Part]:
    """Every chosen order's open allocations, split by the zone of their slot, and pieces of
    any part too big for one cart. An order with a slot off its zone's racks is left out
    (``slot_unmapped``) and gives its reservations back."""
    line_ids = [line.id for order in chosen for line in order.lines]
    order_of_line = {line.id: order for order in chosen for line in order.lines}
    grouped: dict[tuple[int, Temperature], _Part] = {}
    unmapped: dict[int, str] = {}
    for start in range(0, len(line_ids), 900):
        rows = session.execute(
            select(Allocation, Stock, Slot, Zone, Item)
            .join(Stock, Stock.id == Allocation.stock_id)
            .join(Slot, Slot.id == Stock.slot_id)
            .join(Zone, Zone.id == Slot.zone_id)
            .join(Item, Item.id == Stock.item_id)
            .where(
                Allocation.order_line_id.in_(line_ids[start : start + 900]),
                Allocation.status == AllocationStatus.OPEN,
            )
            .order_by(Allocation.id)
        ).tuples()
        for alloc, stock, slot, zone, item in rows:
            order = order_of_line[alloc.order_line_id]
            part = grouped.setdefault((order.id, zone.temperature), _Part(order, zone.temperature))
            floor = floors[zone.temperature]
            try:
                pick = floor.pick(slot) if floor is not None else None
            except RuleViolation as error:
                unmapped.setdefault(order.id, error.message)
                continue
            volume = item.length_mm * item.width_mm * item.height_mm * alloc.quantity // 1000
            part.entries.append(
                _Entry(
                    allocation=alloc,
                    stock=stock,
                    slot=slot,
                    pick=pick,
                    weight_g=item.weight_g * alloc.quantity,
                    volume_cm3=volume,
                )
            )
    for order in chosen:
        if order.id in unmapped:
            orders.release_open_allocations(session, order)
            orders.advance(order, OrderStatus.OPEN)
            skipped.append(_skip(order, SLOT_UNMAPPED, unmapped[order.id]))
    pieces: list[_Part] = []
    for part in grouped.values():
        if part.order.id not in unmapped and part.entries:
            pieces += _split(part, settings.cart)
    return pieces


def _fits(cart: Cart, weight_g: int, volume_cm3: int) -> bool:
    return (cart.max_weight_g is None or weight_g <= cart.max_weight_g) and (
        cart.max_volume_cm3 is None or volume_cm3 <= cart.max_volume_cm3
    )


def _split(part: _Part, cart: Cart) -> list[_Part]:
    """A part too big for one cart, in pieces that fit (first fit, largest first)."""
    if _fits(cart, part.weight_g, part.volume_cm3):
        return [part]
    pieces: list[_Part] = []
    for entry in sorted(part.entries, key=lambda e: (-e.volume_cm3, e.allocation.id)):
        home = next(
            (
                p
                for p in pieces
                if _fits(cart, p.weight_g + entry.weight_g, p.volume_cm3 + entry.volume_cm3)
            ),
            None,
        )
        if home is None:
            home = _Part(part.order, part.temperature)
            pieces.append(home)
        home.entries.append(entry)
    return pieces


def _carts(
    parts: list[_Part], floor: ZoneFloor | None, settings: WaveSettings
) -> list[list[_Part]]:
    """Group a zone's parts onto carts: batching on the layout, in order without one. A part
    that alone exceeds a cart (one allocation too heavy) goes on a cart of its own."""
    cart = settings.cart
    fitting = [
        p
        for p in parts
        if p.totes(settings.tote_volume_cm3) <= cart.totes and _fits(cart, p.weight_g, p.volume_cm3)
    ]
    oversize = [[p] for p in parts if p not in fitting]
    if floor is None:
        carts: list[list[_Part]] = []
        load: tuple[int, ...] = (0, 0, 0)
        for part in fitting:
            need = (part.totes(settings.tote_volume_cm3), part.weight_g, part.volume_cm3)
            total = tuple(a + b for a, b in zip(load, need, strict=True))
            if carts and total[0] <= cart.totes and _fits(cart, total[1], total[2]):
                carts[-1].append(part)
                load = total
            else:
                carts.append([part])
                load = need
        return carts + oversize
    batching = batch_orders(
        floor.layout,
        [
            BatchOrder(
                picks=tuple(part.picks),
                totes=part.totes(settings.tote_volume_cm3),
                weight_g=part.weight_g,
                volume_cm3=part.volume_cm3,
            )
            for part in fitting
        ],
        cart,
    )
    return [[fitting[i] for i in batch] for batch in batching.batches] + oversize


def _pick_list(
    session: Session,
    wave: Wave,
    sequence: int,
    members: list[_Part],
    floor: ZoneFloor | None,
    settings: WaveSettings,
) -> float | None:
    """Store one cart: its tasks in walking order, each order's units in its own tote(s).
    Returns the cart's walk (None without a layout)."""
    tasks: list[tuple[_Entry, int]] = []
    position = 0
    for part in members:
        # The part's totes are filled in turn, by volume, in allocation order.
        totes = part.totes(settings.tote_volume_cm3)
        filled = 0
        for entry in part.entries:
            tote = position + 1 + min(totes - 1, filled // settings.tote_volume_cm3)
            tasks.append((entry, tote))
            filled += entry.volume_cm3
        position += totes
    if floor is not None:
        path = plan_pick_path(floor.layout, [entry.pick for entry, _ in tasks if entry.pick])
        ordered = [tasks[i] for i in path.order]
        length: float | None = path.length_m
        method = path.method
    else:
        ordered = sorted(tasks, key=lambda task: _slot_order(task[0].slot))
        length, method = None, "slot_order"
    pick_list = PickList(
        wave_id=wave.id,
        sequence=sequence,
        number=f"{wave.number}-{sequence:03d}",
        temperature=members[0].temperature,
        status=PickListStatus.PLANNED,
        totes=position,
        weight_g=sum(p.weight_g for p in members),
        volume_cm3=sum(p.volume_cm3 for p in members),
        walk_m=round(length, 2) if length is not None else None,
        path_method=method,
    )
    session.add(pick_list)
    session.flush()
    order_of = {e.allocation.id: p.order.id for p in members for e in p.entries}
    for index, (entry, tote) in enumerate(ordered, start=1):
        alloc = entry.allocation
        session.add(
            PickTask(
                pick_list_id=pick_list.id,
                sequence=index,
                allocation_id=alloc.id,
                order_id=order_of[alloc.id],
                order_line_id=alloc.order_line_id,
                slot_id=entry.slot.id,
                item_id=entry.stock.item_id,
                lot=entry.stock.lot,
                quantity=alloc.quantity,
                tote=tote,
            )
        )
    return length


def _slot_order(slot: Slot) -> tuple[Any, ...]:
    return (slot.aisle or 0, slot.bay or 0, slot.level or 0, slot.barcode)


# --- release, cancel, re-plan ------------------------------------------------------------------
#
# Locks, always in this order (as everywhere in wms): site, wave, orders, pick lists, tasks,
# allocations, order lines, stock rows; each kind in id order.


def _lock_wave(session: Session, wave_id: int) -> Wave:
    wave = session.scalars(
        select(Wave)
        .where(Wave.id == wave_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if wave is None:
        raise NotFound(f"wave {wave_id} does not exist", field="wave_id")
    return wave


def _wave_orders(session: Session, wave: Wave) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.wave_id == wave.id)
            .order_by(Order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _wave_tasks(session: Session, wave: Wave) -> tuple[list[PickList], list[PickTask]]:
    """The wave's pick lists, locked, and their tasks as they are now."""
    lists = list(
        session.scalars(
            select(PickList)
            .where(PickList.wave_id == wave.id)
            .order_by(PickList.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    tasks = list(
        session.scalars(
            select(PickTask)
            .where(PickTask.pick_list_id.in_([pl.id for pl in lists]))
            .order_by(PickTask.id)
            .execution_options(populate_existing=True)
        )
    )
    return lists, tasks


def release_wave(
    session: Session, wave_id: int, *, by: int | None = None, now: dt.datetime | None = None
) -> Wave:
    """Send a planned wave to the floor: its pick lists open, its orders are in the wave.

    Refused (409) unless the wave is planned (releasing twice, or after a cancel), or when
    nothing is left to pick (every order of it cancelled).
    """
    wave = _lock_wave(session, wave_id)
    if wave.status is not WaveStatus.PLANNED:
        raise Conflict(f"wave {wave.number} is {wave.status.value}, not planned", field="status")
    wave_orders = _wave_orders(session, wave)
    lists, tasks = _wave_tasks(session, wave)
    open_lists = {t.pick_list_id for t in tasks if t.status is PickTaskStatus.OPEN}
    if not open_lists:
        raise Conflict(f"wave {wave.number} has nothing left to pick; cancel it", field="status")
    for order in wave_orders:
        if order.status is OrderStatus.ALLOCATED:
            orders.advance(order, OrderStatus.IN_WAVE)
    for pick_list in lists:
        if pick_list.status is PickListStatus.PLANNED:
            opened = pick_list.id in open_lists
            pick_list.status = PickListStatus.OPEN if opened else PickListStatus.CANCELLED
    wave.status = WaveStatus.RELEASED
    wave.released_by = by
    wave.released_at = now or utcnow()
    session.flush()
    return wave


def cancel_wave(session: Session, wave_id: int, *, now: dt.datetime | None = None) -> Wave:
    """Cancel a wave before picking starts: reservations released, orders back to open.

    Refused (409) once any unit of the wave has been picked, or when it is over already.
    """
    wave = _lock_wave(session, wave_id)
    if wave.status not in (WaveStatus.PLANNED, WaveStatus.RELEASED):
        raise Conflict(f"wave {wave.number} is {wave.status.value}", field="status")
    wave_orders = _wave_orders(session, wave)
    lists, tasks = _wave_tasks(session, wave)
    if any(
        t.picked_qty or t.status in (PickTaskStatus.PICKED, PickTaskStatus.SHORT) for t in tasks
    ):
        raise Conflict(
            f"picking of wave {wave.number} has started; cancel its orders one by one",
            field="status",
        )
    for task in tasks:
        if task.status is PickTaskStatus.OPEN:
            task.status = PickTaskStatus.CANCELLED
    for pick_list in lists:
        pick_list.status = PickListStatus.CANCELLED
    orders.release_open_allocations(session, *wave_orders)
    for order in wave_orders:
        order.wave_id = None
        if order.status in (OrderStatus.ALLOCATED, OrderStatus.IN_WAVE):
            orders.advance(order, OrderStatus.OPEN)
    wave.status = WaveStatus.CANCELLED
    wave.cancelled_at = now or utcnow()
    session.flush()
    return wave


def replan_wave(
    session: Session,
    wave_id: int,
    *,
    settings: WaveSettings,
    now: dt.datetime | None = None,
    by: int | None = None,
) -> WavePlan:
    """Plan a planned wave's orders again (new settings, stock or orders changed): the old
    wave is cancelled and a new one planned from the same orders."""
    site_id = session.scalar(select(Wave.site_id).where(Wave.id == wave_id))
    if site_id is None:
        raise NotFound(f"wave {wave_id} does not exist", field="wave_id")
    lock_site(session, site_id)
    wave = _lock_wave(session, wave_id)
    if wave.status is not WaveStatus.PLANNED:
        raise Conflict(
            f"wave {wave.number} is {wave.status.value}; only planned waves are re-planned",
            field="status",
        )
    order_ids = [o.id for o in _wave_orders(session, wave)]
    cancel_wave(session, wave_id, now=now)
    return plan_wave(session, site_id, settings=settings, now=now, order_ids=order_ids, by=by)

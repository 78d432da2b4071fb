"""DC → front-warehouse transfers: forecast each item's demand, keep days of cover, send the rest.

**The forecast** (:func:`forecast_demand`, pure): the item's units ordered per site-local day
at a front warehouse over the last ``history_days`` days (oldest first; today, still going,
is left out), forecast over the coming days with statsmodels' exponential smoothing:

- *Holt-Winters* (``ExponentialSmoothing``, additive weekday seasonality, ``seasonal_periods
  = 7``, no trend) when there are at least three weeks of history and demand on at least half
  the days: city demand follows the week (Saturdays are not Tuesdays). Additive, because a
  multiplicative season cannot take the zero days of slow movers.
- *Simple exponential smoothing* when the history is shorter or the demand intermittent: a
  weekday pattern fitted to a handful of sales is noise.
- The plain *mean* when there are fewer than three days, or a model cannot be fitted; and 0
  (method ``none``) when nothing was ordered at all.

Forecasts are clipped at 0. The residual spread ``sigma`` is the root mean square of the
model's one-day-ahead in-sample errors.

**The quantity** (:func:`plan_transfers`): per front warehouse and item with demand,

    free      = on hand - reserved (unheld, unexpired stock) + units of open transfers on their way
    target    = forecast per day x (cover days + lead time days) + z x sigma x sqrt(lead time days)
    wanted    = ceil(target - free), when positive
    quantity  = wanted, or less when the DC cannot spare it

where z is the standard normal quantile of the service level (0.95 → 1.645). Days of cover are
free / forecast per day; a line whose cover is shorter than the lead time is a *stock-out risk*
(a transfer planned now arrives too late to prevent it). What the DC can spare — its unheld
stock, still good on arrival, less reserved, less what open transfers already promise — is
shared item by item, stock-out risks first, then the fewest days of cover.

A front warehouse the DC sends anything gets one transfer per run, with a line per item that
wants stock (a line the DC could not serve stays, with quantity 0, so the console shows the
shortage), and its receipt: an ASN at the front warehouse's dock with the transfer's number,
one expected line per DC lot (first to expire first), received on the scanners like any
other; closing the receipt marks the transfer received (:mod:`wms.receiving`). Open transfers
count as on their way (less what their receipts took in already), so a second run creates
nothing. The DC's row is locked for the decision, so two runs at once cannot both promise the
same units. A front warehouse without an unlocked dock or staging slot is skipped, and its
share goes to the others.

The history is bucketed by the front warehouse's local days and starts at its first day with
any order in the window, so a new front warehouse is not read as weeks of zero demand.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from wms import receiving
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    Item,
    Order,
    OrderLine,
    OrderStatus,
    Receipt,
    ReceiptKind,
    ReceiptLine,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    TransferOrder,
    TransferOrderLine,
    TransferStatus,
    utcnow,
)

# --- the forecast -----------------------------------------------------------------------------

HOLT_WINTERS = "holt_winters_weekly"
SES = "simple_exp_smoothing"
MEAN = "mean"
NO_DEMAND = "none"

WEEK = 7
#: Holt-Winters wants this many days (three weeks: two to start the season, one to learn it) ...
SEASONAL_MIN_DAYS = 3 * WEEK
#: ... and demand on at least this share of them; sparser series get simple smoothing.
SEASONAL_MIN_SHARE = 0.5
#: Fewer days than this: the mean (a smoothing model needs something to smooth).
SMOOTHING_MIN_DAYS = 3


@dataclass(frozen=True, slots=True)
class Forecast:
    """Units per day over the coming days (day 1 follows the history), how, and how surely."""

    per_day: tuple[float, ...]
    method: str
    #: Spread of one day's demand around the model (root mean square residual), units.
    sigma: float

    @property
    def mean(self) -> float:
        """Mean units per day over the horizon."""
        return sum(self.per_day) / len(self.per_day) if self.per_day else 0.0


def forecast_demand(history: Sequence[float], *, horizon_days: int = 3) -> Forecast:
    """Forecast daily demand from a daily series (oldest first); never raises on its values.

    Holt-Winters with weekday seasonality on three weeks or more of regular demand, simple
    exponential smoothing on shorter or intermittent series, the mean on a few days, zero on
    none; a model that cannot be fitted falls back to the next. See the module docstring.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, not {horizon_days}")
    y = np.asarray(history, dtype=float)
    if y.ndim != 1 or not np.all(np.isfinite(y)):
        raise ValueError("history must be a flat series of finite numbers")
    y = np.clip(y, 0.0, None)  # returns are not negative demand
    if y.size == 0 or not y.any():
        return Forecast((0.0,) * horizon_days, NO_DEMAND, 0.0)
    if y.size >= SEASONAL_MIN_DAYS and np.count_nonzero(y) >= SEASONAL_MIN_SHARE * y.size:
        fitted = _fit(y, horizon_days, seasonal=True)
        if fitted is not None:
            return fitted
    if y.size >= SMOOTHING_MIN_DAYS:
        fitted = _fit(y, horizon_days, seasonal=False)
        if fitted is not None:
            return fitted
    mean = float(y.mean())
    sigma = float(y.std(ddof=1)) if y.size > 1 else 0.0
    return Forecast((mean,) * horizon_days, MEAN, sigma)


def _fit(y: np.ndarray, horizon_days: int, *, seasonal: bool) -> Forecast | None:
    """One statsmodels fit and forecast; None when it fails or gives nonsense."""
    # Imported here: statsmodels (and pandas, scipy) take seconds to import, and the web
    # processes that only list transfers never forecast.
    from statsmodels.tools.sm_exceptions import ModelWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing, SimpleExpSmoothing

    with warnings.catch_warnings():
        # Short, flat or sparse demand makes the optimiser warn (no convergence, log of 0 in
        # the likelihood); the fit it returns is still usable, and is checked below.
        warnings.simplefilter("ignore", ModelWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            if seasonal:
                # The heuristic start (from the first two weeks) and no brute-force grid over
                # the smoothing weights: several times faster, as accurate on daily demand.
                model = ExponentialSmoothing(
                    y,
                    trend=None,
                    seasonal="add",
                    seasonal_periods=WEEK,
                    initialization_method="heuristic",
                )
                results = model.fit(use_brute=False)
            else:
                results = SimpleExpSmoothing(y, initialization_method="estimated").fit()
            path = np.asarray(results.forecast(horizon_days), dtype=float)
            residuals = np.asarray(results.resid, dtype=float)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            return None
    if path.shape != (horizon_days,) or not np.all(np.isfinite(path)):
        return None
    sigma = float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0
    if not math.isfinite(sigma):
        return None
    per_day = tuple(max(0.0, float(v)) for v in path)
    return Forecast(per_day, HOLT_WINTERS if seasonal else SES, sigma)


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferSettings:
    """How much a front warehouse keeps: days of cover, the trunk's lead time, service level."""

    cover_days: float = 2.0  # what a transfer should last once it has arrived
    lead_time_days: float = 1.0  # from planning to the units on the front warehouse's dock
    service_level: float = 0.95  # chance the safety stock covers the lead time's demand
    history_days: int = 28  # days of order lines the forecast learns from

    @property
    def z(self) -> float:
        """The standard normal quantile of the service level (0.95 → 1.645)."""
        return statistics.NormalDist().inv_cdf(self.service_level)

    @property
    def horizon_days(self) -> int:
        """Whole days the forecast looks ahead: the cover and the lead time."""
        return max(1, math.ceil(self.cover_days + self.lead_time_days))

    def check(self) -> None:
        """Refuse settings no transfer can be planned with (422 naming the field)."""
        for name in ("cover_days", "lead_time_days"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 60):
                raise RuleViolation(f"{name} must be a number of days from 0 to 60", field=name)
        if not (0.5 <= self.service_level < 1):
            raise RuleViolation(
                "service_level must be at least 0.5 and below 1", field="service_level"
            )
        if not (WEEK <= self.history_days <= 366):
            raise RuleViolation(
                f"history_days must be from {WEEK} to 366 days", field="history_days"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> TransferSettings:
        """Defaults ← ``TRANSFER_*`` keys of the app config (``WMS_TRANSFER_COVER_DAYS=3``) ←
        overrides; checked."""
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            key = f"TRANSFER_{name.upper()}"
            if key in config:
                values[name] = config[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name, value in values.items():
            # Environment variables may arrive as text; "3" and 3 mean the same.
            kind = int if name == "history_days" else float
            try:
                values[name] = kind(value)
            except (TypeError, ValueError):
                raise RuleViolation(f"{name}: {value!r} is not a number", field=name) from None
        settings = cls(**values)
        settings.check()
        return settings


# --- the plan ---------------------------------------------------------------------------------

#: Transfers whose units count as on their way to the front warehouse.
OPEN_STATUSES = (TransferStatus.PLANNED, TransferStatus.DISPATCHED)
#: Transfers whose units the DC has promised. Nothing posts the DC's stock out on dispatch
#: yet; when the trunk-route dispatch does, DISPATCHED leaves this tuple.
PROMISED_STATUSES = (TransferStatus.PLANNED, TransferStatus.DISPATCHED)
#: Days of cover shown when the forecast is zero (the column is a float, not infinity).
MAX_COVER_DAYS = 999.0


@dataclass(frozen=True, slots=True)
class LotShare:
    """Units of one DC lot on a transfer line: one expected line of its receipt."""

    lot: str
    expiry: dt.date | None
    quantity: int


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One item at one front warehouse: the figures, what it wants and what the DC sends."""

    site_id: int
    site_code: str
    item_id: int
    sku: str
    forecast: Forecast
    on_hand: int
    reserved: int
    on_its_way: int
    target: float
    wanted: int
    quantity: int
    #: Its cover is shorter than the lead time: it runs out before a transfer can arrive.
    stockout_risk: bool
    lots: tuple[LotShare, ...]
    trace: str

    @property
    def free(self) -> int:
        return self.on_hand - self.reserved + self.on_its_way

    @property
    def per_day(self) -> float:
        return self.forecast.mean

    @property
    def days_of_cover(self) -> float:
        if self.per_day <= 0:
            return MAX_COVER_DAYS
        return min(MAX_COVER_DAYS, max(self.free, 0) / self.per_day)

    @property
    def short(self) -> int:
        """Units wanted that the DC could not spare."""
        return self.wanted - self.quantity


@dataclass(frozen=True, slots=True)
class TransferPlan:
    """What a run forecast and decided at every front warehouse, and the transfers it made."""

    dc_site_id: int
    sites: int
    #: Items with demand in the history, over all front warehouses (each was forecast).
    forecast: int
    lines: tuple[PlannedLine, ...]
    transfer_ids: tuple[int, ...]
    dry_run: bool
    #: Front warehouses that wanted stock but got no transfer, and why.
    skipped: tuple[str, ...] = field(default=())

    @property
    def sending(self) -> tuple[PlannedLine, ...]:
        return tuple(line for line in self.lines if line.quantity > 0)

    @property
    def at_risk(self) -> tuple[PlannedLine, ...]:
        return tuple(line for line in self.lines if line.stockout_risk)

    @property
    def summary(self) -> str:
        if self.dry_run:
            made = len({line.site_id for line in self.sending})
        else:
            made = len(self.transfer_ids)
        units = sum(line.quantity for line in self.sending)
        short = sum(1 for line in self.lines if line.short > 0)
        verb = "would create" if self.dry_run else "created"
        text = (
            f"{self.sites} front warehouse(s), {self.forecast:,} item(s) forecast: {verb} "
            f"{made} transfer(s) with {len(self.sending):,} line(s) for {units:,} units; "
            f"{len(self.at_risk):,} line(s) at risk of a stock-out, {short:,} short at the DC"
        )
        if self.skipped:
            text += f"; skipped: {'; '.join(self.skipped)}"
        return text


@dataclass(slots=True)
class _Need:
    """A front warehouse's want of one item before the DC's stock is shared out."""

    site: Site
    item_id: int
    forecast: Forecast
    on_hand: int
    reserved: int
    on_its_way: int
    target: float
    wanted: int
    risk: bool
    cover: float
    steps: list[str]
    #: False when the site has nowhere to receive: the DC sends it nothing.
    receivable: bool = True


#: A forecast per (front warehouse id, item id).
Forecasts = Mapping[tuple[int, int], Forecast]


def _front_warehouses(session: Session) -> list[Site]:
    return list(
        session.scalars(
            select(Site)
            .where(Site.kind == SiteKind.FRONT_WAREHOUSE, Site.active.is_(True))
            .order_by(Site.code)
        )
    )


def forecast_network(
    session: Session, *, now: dt.datetime, settings: TransferSettings | None = None
) -> dict[tuple[int, int], Forecast]:
    """Forecast every item with recent demand at every active front warehouse; reads only.

    The slow half of planning (a model fit per item and site). The history is whole past days,
    so the forecasts hold all day; on SQLite, where a write transaction locks the whole file,
    make them in a read transaction and hand them to :func:`plan_transfers`.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    settings = settings or TransferSettings()
    settings.check()
    forecasts: dict[tuple[int, int], Forecast] = {}
    for site in _front_warehouses(session):
        for item_id, series in _history(session, site, now=now, days=settings.history_days):
            forecasts[site.id, item_id] = forecast_demand(
                series, horizon_days=settings.horizon_days
            )
    return forecasts


def plan_transfers(
    session: Session,
    *,
    now: dt.datetime,
    settings: TransferSettings | None = None,
    dry_run: bool = False,
    created_by: str = "job:transfers",
    forecasts: Forecasts | None = None,
) -> TransferPlan:
    """Forecast every front warehouse's demand and create the DC transfers that keep it covered.

    The forecasts come first (they read only past days' orders; pass ``forecasts`` from
    :func:`forecast_network` with the same ``now`` and settings to skip them); then the DC's
    row is locked and the stock, open transfers and promises are read and shared out, so two
    runs at once decide one after the other. ``dry_run`` decides the same, without locking or
    writing.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    settings = settings or TransferSettings()
    settings.check()
    dc = _central_dc(session)
    fronts = _front_warehouses(session)
    if forecasts is None:
        forecasts = forecast_network(session, now=now, settings=settings)
    by_id = {site.id: site for site in fronts}
    # Forecasts made earlier may name a front warehouse closed since.
    forecasts = {key: f for key, f in forecasts.items() if key[0] in by_id}

    if not dry_run:
        _lock_site(session, dc.id)
    site_ids = [site.id for site in fronts]
    levels = _front_levels(session, site_ids, now=now, sites=fronts)
    on_its_way = _on_their_way(session, site_ids)
    needs: list[_Need] = []
    for (site_id, item_id), forecast in forecasts.items():
        need = _need(
            by_id[site_id],
            item_id,
            forecast,
            levels.get((site_id, item_id), (0, 0)),
            on_its_way.get((site_id, item_id), 0),
            settings,
        )
        if need is not None:
            needs.append(need)
    item_ids = {need.item_id for need in needs}
    items = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    # A front warehouse that cannot receive gets nothing: the DC's units go to the others.
    docks = {site.id: _dock(session, site) for site in fronts if any(n.site is site for n in needs)}
    skipped = tuple(
        f"{by_id[site_id].code} has no dock or staging slot to receive at"
        for site_id, dock in docks.items()
        if dock is None
    )
    for need in needs:
        if docks.get(need.site.id) is None:
            need.steps.append("no dock or staging slot to receive at: nothing sent")
            need.receivable = False
    lines = _share_out(session, dc, needs, items, now=now, settings=settings)

    transfer_ids: list[int] = []
    if not dry_run:
        for site in fronts:
            site_lines = [line for line in lines if line.site_id == site.id]
            dock = docks.get(site.id)
            if dock is None or not any(line.quantity > 0 for line in site_lines):
                continue
            transfer = _create_transfer(
                session,
                dc,
                site,
                dock,
                site_lines,
                now=now,
                settings=settings,
                created_by=created_by,
            )
            transfer_ids.append(transfer.id)
    return TransferPlan(
        dc_site_id=dc.id,
        sites=len(fronts),
        forecast=len(forecasts),
        lines=tuple(lines),
        transfer_ids=tuple(transfer_ids),
        dry_run=dry_run,
        skipped=skipped,
    )


def _central_dc(session: Session) -> Site:
    dcs = list(
        session.scalars(
            select(Site)
            .where(Site.kind == SiteKind.CENTRAL_DC, Site.active.is_(True))
            .order_by(Site.id)
        )
    )
    if not dcs:
        raise RuleViolation("the network has no active central DC to send from")
    if len(dcs) > 1:
        codes = ", ".join(dc.code for dc in dcs)
        raise RuleViolation(f"the network has several central DCs ({codes}): one is supported")
    return dcs[0]


def _lock_site(session: Session, site_id: int) -> None:
    # As wms.waves.lock_site does; not imported from there, which would load the router.
    session.scalars(select(Site.id).where(Site.id == site_id).with_for_update()).one()


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.UTC)


def _history(
    session: Session, site: Site, *, now: dt.datetime, days: int
) -> list[tuple[int, list[float]]]:
    """Per item: units ordered on each of the site's last ``days`` local days, oldest first.

    Bucketed in SQL by the UTC instants of the site's local midnights (so daylight saving is
    right on every backend); cancelled orders are no demand. The series start at the site's
    first day with any order in the window, so a new front warehouse is not read as weeks of
    zero demand.
    """
    zone = ZoneInfo(site.timezone)
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=days)
    bounds = [_local_midnight(first + dt.timedelta(days=n), zone) for n in range(days + 1)]
    bucket = case(
        *((Order.promised_start < bounds[n + 1], n) for n in range(days - 1)), else_=days - 1
    ).label("day")
    # Grouped outside: PostgreSQL takes a CASE in SELECT and one in GROUP BY, bound
    # separately, for two different expressions.
    lines = (
        select(OrderLine.item_id, bucket, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Item, Item.id == OrderLine.item_id)
        .where(
            Order.site_id == site.id,
            Order.status != OrderStatus.CANCELLED,
            Order.promised_start >= bounds[0],
            Order.promised_start < bounds[-1],
            Item.active.is_(True),
        )
        .subquery()
    )
    rows = session.execute(
        select(lines.c.item_id, lines.c.day, func.sum(lines.c.quantity)).group_by(
            lines.c.item_id, lines.c.day
        )
    ).all()
    if not rows:
        return []
    start = min(int(n) for _item, n, _units in rows)
    series: dict[int, list[float]] = {}
    for item_id, n, units in rows:
        series.setdefault(item_id, [0.0] * (days - start))[int(n) - start] += float(units)
    return sorted(series.items())


def _front_levels(
    session: Session, site_ids: list[int], *, now: dt.datetime, sites: list[Site]
) -> dict[tuple[int, int], tuple[int, int]]:
    """(on hand, reserved) of each item's unheld, unexpired stock at each front warehouse."""
    if not site_ids:
        return {}
    # Expiry is compared with the earliest local date of the sites (stock expiring today is
    # still good today everywhere).
    today = min(now.astimezone(ZoneInfo(s.timezone)).date() for s in sites)
    rows = session.execute(
        select(Slot.site_id, Stock.item_id, func.sum(Stock.on_hand), func.sum(Stock.reserved))
        .join(Slot, Slot.id == Stock.slot_id)
        .where(
            Slot.site_id.in_(site_ids),
            Stock.hold.is_(None),
            Stock.expiry.is_(None) | (Stock.expiry >= today),
        )
        .group_by(Slot.site_id, Stock.item_id)
    )
    return {
        (site_id, item_id): (int(on_hand or 0), int(reserved or 0))
        for site_id, item_id, on_hand, reserved in rows
    }


def _on_their_way(session: Session, site_ids: list[int]) -> dict[tuple[int, int], int]:
    """Units of open transfers to each front warehouse not received on their receipts yet.

    Units already received sit in the dock's on-hand: counting them again would be twice.
    """
    if not site_ids:
        return {}
    lines = session.execute(
        select(
            TransferOrder.to_site_id,
            TransferOrder.receipt_id,
            TransferOrderLine.item_id,
            TransferOrderLine.quantity,
        )
        .join(TransferOrder, TransferOrder.id == TransferOrderLine.transfer_order_id)
        .where(
            TransferOrder.to_site_id.in_(site_ids),
            TransferOrder.status.in_(OPEN_STATUSES),
            TransferOrderLine.quantity > 0,
        )
    ).all()
    receipt_ids = {receipt_id for _s, receipt_id, _i, _q in lines if receipt_id is not None}
    received: dict[tuple[int, int], int] = {}
    if receipt_ids:
        for receipt_id, item_id, units in session.execute(
            select(ReceiptLine.receipt_id, ReceiptLine.item_id, func.sum(ReceiptLine.received_qty))
            .where(ReceiptLine.receipt_id.in_(receipt_ids))
            .group_by(ReceiptLine.receipt_id, ReceiptLine.item_id)
        ):
            received[receipt_id, item_id] = int(units or 0)
    found: dict[tuple[int, int], int] = {}
    for site_id, receipt_id, item_id, quantity in lines:
        left = quantity - received.get((receipt_id, item_id), 0)
        found[site_id, item_id] = found.get((site_id, item_id), 0) + max(left, 0)
    return found


def _need(
    site: Site,
    item_id: int,
    forecast: Forecast,
    level: tuple[int, int],
    on_its_way: int,
    settings: TransferSettings,
) -> _Need | None:
    """What the cover target asks of one item at one site; None when its free stock suffices."""
    on_hand, reserved = level
    free = on_hand - reserved + on_its_way
    per_day = forecast.mean
    cycle = settings.cover_days + settings.lead_time_days
    safety = settings.z * forecast.sigma * math.sqrt(settings.lead_time_days)
    target = per_day * cycle + safety
    # A hair above a whole unit is that unit (float sums of forecasts are not exact).
    wanted = math.ceil(target - free - 1e-9)
    if wanted <= 0:
        return None
    cover = min(MAX_COVER_DAYS, max(free, 0) / per_day) if per_day > 0 else MAX_COVER_DAYS
    risk = cover < settings.lead_time_days
    steps = [
        f"forecast {per_day:.1f}/day ({forecast.method}, sd {forecast.sigma:.1f})",
        f"free {free} = {on_hand} on hand - {reserved} reserved + {on_its_way} on its way",
        f"{cover:.1f} d of cover"
        + (
            f" < {settings.lead_time_days:g} d lead time: stock-out risk"
            if risk
            else f" >= {settings.lead_time_days:g} d lead time"
        ),
        f"target {per_day:.1f} x {cycle:g} d + {settings.z:.2f} x {forecast.sigma:.1f} x "
        f"sqrt({settings.lead_time_days:g}) safety = {target:.1f}",
        f"want ceil({target:.1f} - {free}) = {wanted}",
    ]
    return _Need(
        site, item_id, forecast, on_hand, reserved, on_its_way, target, wanted, risk, cover, steps
    )


@dataclass(slots=True)
class _Lot:
    lot: str
    expiry: dt.date | None
    spare: int


def _share_out(
    session: Session,
    dc: Site,
    needs: list[_Need],
    items: dict[int, Item],
    *,
    now: dt.datetime,
    settings: TransferSettings,
) -> list[PlannedLine]:
    """Give each item's spare DC stock to the front warehouses: stock-out risks first."""
    spare, lots = _dc_spare(session, dc, {n.item_id for n in needs}, now=now, settings=settings)
    order = sorted(needs, key=lambda n: (n.item_id, not n.risk, n.cover, n.site.code))
    lines: list[PlannedLine] = []
    taken: dict[int, list[str]] = {}
    for need in order:
        left = spare.get(need.item_id, 0)
        quantity = min(need.wanted, left) if need.receivable else 0
        spare[need.item_id] = left - quantity
        before = taken.setdefault(need.item_id, [])
        after = f" (after {', '.join(before)})" if before else ""
        if not need.receivable:
            pass  # the reason is in the steps already
        elif quantity == need.wanted:
            need.steps.append(f"the DC spares {left}{after}: send {quantity}")
        elif quantity > 0:
            need.steps.append(
                f"the DC spares only {left}{after}: send {quantity}, {need.wanted - quantity} short"
            )
        else:
            need.steps.append(f"the DC has none to spare{after}: {need.wanted} short")
        if quantity > 0:
            before.append(need.site.code)
        item = items[need.item_id]
        lines.append(
            PlannedLine(
                site_id=need.site.id,
                site_code=need.site.code,
                item_id=need.item_id,
                sku=item.sku,
                forecast=need.forecast,
                on_hand=need.on_hand,
                reserved=need.reserved,
                on_its_way=need.on_its_way,
                target=need.target,
                wanted=need.wanted,
                quantity=quantity,
                stockout_risk=need.risk,
                lots=_take_lots(lots.get(need.item_id, []), quantity, item),
                trace="; ".join(need.steps),
            )
        )
    lines.sort(key=lambda line: (line.site_code, line.sku))
    return lines


def _dc_spare(
    session: Session,
    dc: Site,
    item_ids: set[int],
    *,
    now: dt.datetime,
    settings: TransferSettings,
) -> tuple[dict[int, int], dict[int, list[_Lot]]]:
    """Per item: the DC's units no one has claimed, and its lots first to expire first.

    Unheld stock still good on the day it would arrive, less reserved, less what the receipts
    of open transfers expect of that lot (a lot promised beyond what is left takes from the
    item's other lots, so the item's total is what counts).
    """
    if not item_ids:
        return {}, {}
    arrival = (now + dt.timedelta(days=settings.lead_time_days)).astimezone(ZoneInfo(dc.timezone))
    free: dict[tuple[int, str], list[Any]] = {}
    for item_id, lot, expiry, units in session.execute(
        select(
            Stock.item_id,
            Stock.lot,
            func.min(Stock.expiry),
            func.sum(Stock.on_hand - Stock.reserved),
        )
        .join(Slot, Slot.id == Stock.slot_id)
        .join(Item, Item.id == Stock.item_id)
        .where(
            Slot.site_id == dc.id,
            Stock.item_id.in_(item_ids),
            Stock.hold.is_(None),
            Stock.expiry.is_(None) | (Stock.expiry >= arrival.date()),
            # A lot the item's tracking does not allow could not go on the receipt.
            or_(
                and_(Item.lot_tracked.is_(True), Stock.lot != ""),
                and_(Item.lot_tracked.is_(False), Stock.lot == ""),
            ),
        )
        .group_by(Stock.item_id, Stock.lot)
    ):
        free[item_id, lot] = [expiry, int(units or 0)]
    promised: dict[tuple[int, str], int] = {}
    for item_id, lot, units in session.execute(
        select(ReceiptLine.item_id, ReceiptLine.lot, func.sum(ReceiptLine.expected_qty))
        .join(TransferOrder, TransferOrder.receipt_id == ReceiptLine.receipt_id)
        .where(
            TransferOrder.from_site_id == dc.id,
            TransferOrder.status.in_(PROMISED_STATUSES),
            ReceiptLine.item_id.in_(item_ids),
            ReceiptLine.expected_qty.is_not(None),
        )
        .group_by(ReceiptLine.item_id, ReceiptLine.lot)
    ):
        promised[item_id, lot] = int(units or 0)
    spare: dict[int, int] = {}
    lots: dict[int, list[_Lot]] = {}
    for (item_id, lot), (expiry, units) in free.items():
        spare[item_id] = spare.get(item_id, 0) + units
        left = units - promised.get((item_id, lot), 0)
        if left > 0:
            lots.setdefault(item_id, []).append(_Lot(lot, expiry, left))
    for (item_id, _lot), units in promised.items():
        spare[item_id] = spare.get(item_id, 0) - units
    for item_id in lots:
        lots[item_id].sort(key=lambda s: (s.expiry is None, s.expiry or dt.date.max, s.lot))
    return {item_id: max(units, 0) for item_id, units in spare.items()}, lots


def _take_lots(lots: list[_Lot], quantity: int, item: Item) -> tuple[LotShare, ...]:
    """Take ``quantity`` from the item's lots, first to expire first (the lots shrink)."""
    shares: list[LotShare] = []
    for lot in lots:
        if quantity <= 0:
            break
        units = min(lot.spare, quantity)
        if units <= 0:
            continue
        lot.spare -= units
        quantity -= units
        expiry = lot.expiry if item.expiry_tracked else None
        shares.append(LotShare(lot.lot, expiry, units))
    return tuple(shares)


def _dock(session: Session, site: Site) -> Slot | None:
    """Where a transfer is received at the site: its first unlocked dock, else staging."""
    return session.scalars(
        select(Slot)
        .where(
            Slot.site_id == site.id,
            Slot.kind.in_(receiving.RECEIVING_KINDS),
            Slot.locked.is_(False),
        )
        .order_by(Slot.kind != SlotKind.DOCK, Slot.barcode)
        .limit(1)
    ).first()


def _user_id(actor: str) -> int | None:
    kind, _, number = actor.partition(":")
    return int(number) if kind == "user" and number.isdigit() else None


def _create_transfer(
    session: Session,
    dc: Site,
    site: Site,
    dock: Slot,
    lines: list[PlannedLine],
    *,
    now: dt.datetime,
    settings: TransferSettings,
    created_by: str,
) -> TransferOrder:
    """Write one transfer with its lines, and its ASN receipt at the front warehouse's dock."""
    transfer = TransferOrder(
        # A unique placeholder until the id is known (the number column is NOT NULL UNIQUE).
        number=f"new-{uuid.uuid4().hex[:24]}",
        from_site_id=dc.id,
        to_site_id=site.id,
        status=TransferStatus.PLANNED,
        needed_by=now + dt.timedelta(days=settings.lead_time_days),
        created_by=created_by,
    )
    for line in lines:
        transfer.lines.append(
            TransferOrderLine(
                item_id=line.item_id,
                wanted=line.wanted,
                quantity=line.quantity,
                forecast_per_day=round(line.per_day, 3),
                method=line.forecast.method,
                free=line.free,
                days_of_cover=round(line.days_of_cover, 3),
                stockout_risk=line.stockout_risk,
                trace=line.trace,
            )
        )
    session.add(transfer)
    session.flush()
    transfer.number = f"TR{transfer.id:08d}"
    expected = [
        receiving.ExpectedLine(
            item_id=line.item_id, quantity=share.quantity, lot=share.lot, expiry=share.expiry
        )
        for line in lines
        for share in line.lots
    ]
    receipt = receiving.create_receipt(
        session,
        site_id=site.id,
        dock_slot_id=dock.id,
        kind=ReceiptKind.ASN,
        lines=expected,
        supplier=dc.name,
        reference=f"transfer {transfer.number} from {dc.code}",
        number=transfer.number,
        user_id=_user_id(created_by),
    )
    transfer.receipt_id = receipt.id
    session.flush()
    return transfer


# --- after planning -----------------------------------------------------------------------------


def cancel_transfer(session: Session, transfer_id: int, *, by: str | None = None) -> TransferOrder:
    """Cancel a planned transfer and its receipt (nothing may have been received on it)."""
    transfer = session.get(TransferOrder, transfer_id)
    if transfer is None:
        raise NotFound(f"transfer {transfer_id} does not exist", field="transfer_id")
    # The receipt first, then the transfer: the order closing a receipt locks them in.
    if transfer.receipt_id is not None:
        session.scalars(
            select(Receipt.id).where(Receipt.id == transfer.receipt_id).with_for_update()
        ).one()
    transfer = session.scalars(
        select(TransferOrder)
        .where(TransferOrder.id == transfer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if transfer.status is not TransferStatus.PLANNED:
        raise Conflict(
            f"transfer {transfer.number} is {transfer.status.value}: only planned transfers "
            "are cancelled",
            field="transfer_id",
        )
    if transfer.receipt_id is not None:
        receiving.cancel_receipt(session, transfer.receipt_id, user_id=_user_id(by or ""))
    transfer.status = TransferStatus.CANCELLED
    transfer.updated_at = utcnow()
    session.flush()
    return transfer


def get_transfer(session: Session, transfer_id: int) -> TransferOrder:
    """One transfer with its lines and items (NotFound otherwise)."""
    transfer = session.scalars(
        select(TransferOrder)
        .where(TransferOrder.id == transfer_id)
        .options(selectinload(TransferOrder.lines).selectinload(TransferOrderLine.item))
    ).one_or_none()
    if transfer is None:
        raise NotFound(f"transfer {transfer_id} does not exist", field="transfer_id")
    return transfer


def list_transfers(
    session: Session,
    *,
    site_id: int | None = None,
    status: TransferStatus | str | None = None,
) -> list[TransferOrder]:
    """Transfers to a front warehouse (or all), open ones unless a status is given.

    Newest first per front warehouse, with their lines, items and sites loaded for display.
    """
    query = select(TransferOrder).options(
        selectinload(TransferOrder.lines).selectinload(TransferOrderLine.item),
        selectinload(TransferOrder.to_site),
        selectinload(TransferOrder.from_site),
    )
    if status is None:
        query = query.where(TransferOrder.status.in_(OPEN_STATUSES))
    else:
        try:
            query = query.where(TransferOrder.status == TransferStatus(status))
        except ValueError:
            known = ", ".join(s.value for s in TransferStatus)
            raise RuleViolation(f"unknown status {status!r}; use {known}", field="status") from None
    if site_id is not None:
        query = query.where(TransferOrder.to_site_id == site_id)
    query = query.join(Site, Site.id == TransferOrder.to_site_id).order_by(
        Site.code, TransferOrder.id.desc()
    )
    return list(session.scalars(query))


def stockout_risks(session: Session, *, site_id: int | None = None) -> list[TransferOrderLine]:
    """Lines of open transfers flagged as heading for a stock-out, fewest days of cover first."""
    query = (
        select(TransferOrderLine)
        .join(TransferOrder, TransferOrder.id == TransferOrderLine.transfer_order_id)
        .where(
            TransferOrder.status.in_(OPEN_STATUSES),
            TransferOrderLine.stockout_risk.is_(True),
        )
        .options(
            selectinload(TransferOrderLine.item),
            selectinload(TransferOrderLine.transfer_order).selectinload(TransferOrder.to_site),
        )
        .order_by(TransferOrderLine.days_of_cover, TransferOrderLine.id)
    )
    if site_id is not None:
        query = query.where(TransferOrder.to_site_id == site_id)
    return list(session.scalars(query))


__all__ = [
    "HOLT_WINTERS",
    "MEAN",
    "NO_DEMAND",
    "SES",
    "Forecast",
    "Forecasts",
    "LotShare",
    "PlannedLine",
    "TransferPlan",
    "TransferSettings",
    "cancel_transfer",
    "forecast_demand",
    "forecast_network",
    "get_transfer",
    "list_transfers",
    "plan_transfers",
    "stockout_risks",
]

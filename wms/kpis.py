"""Picking KPIs per front warehouse and site-local day, for the planner console.

Per day (the site's local calendar day, today last):

- **orders**: orders picked or gone further (packed, dispatched, delivered...), on the day of
  their last confirmed pick;
- **lines**: order lines with units picked, on the day of the pick;
- **walk per line**: the planned walk of the pick lists finished that day (``PickList.walk_m``,
  lists without a layout left out) over their picked lines;
- **pick rate**: picked lines per picker-hour, a picker's time on a list being from taking it
  (``started_at``) to its last confirmed task; **pickers**: people who confirmed a pick.

Days are bucketed in SQL by comparing timestamps with each local midnight (converted to UTC),
so it works the same on SQLite and PostgreSQL; sites sharing a time zone share one set of
statements, three in all for a city's front warehouses.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, extract, func, literal, select
from sqlalchemy.orm import Session

from wms.errors import RuleViolation
from wms.models import (
    Order,
    OrderStatus,
    PickList,
    PickTask,
    PickTaskStatus,
    Site,
    SiteKind,
    Wave,
)

DEFAULT_DAYS = 14
#: Orders that have been picked, whatever happened to them after.
PICKED_OR_LATER = (
    OrderStatus.PICKED,
    OrderStatus.PACKED,
    OrderStatus.DISPATCHED,
    OrderStatus.DELIVERED,
    OrderStatus.FAILED_DELIVERY,
    OrderStatus.RETURNED,
)
CONFIRMED = (PickTaskStatus.PICKED, PickTaskStatus.SHORT)


@dataclass(frozen=True, slots=True)
class DayKpis:
    """One site's picking on one local day (the raw sums, and the ratios from them)."""

    day: dt.date
    orders: int = 0
    lines: int = 0
    #: Planned walk of the pick lists finished this day, and their picked lines.
    walk_m: float = 0.0
    walked_lines: int = 0
    #: Time pickers spent on the lists finished this day, and the lines of those lists.
    picker_hours: float = 0.0
    timed_lines: int = 0
    pickers: int = 0

    @property
    def walk_per_line_m(self) -> float | None:
        return self.walk_m / self.walked_lines if self.walked_lines else None

    @property
    def pick_rate(self) -> float | None:
        """Lines per picker-hour; None without timed picking."""
        return self.timed_lines / self.picker_hours if self.picker_hours > 0 else None


@dataclass(frozen=True, slots=True)
class SiteKpis:
    """A front warehouse's days, oldest first (every day present, empty ones zero)."""

    site_id: int
    code: str
    name: str
    timezone: str
    days: tuple[DayKpis, ...]

    @property
    def total(self) -> DayKpis:
        """The whole period as one (``day`` is the last day; ``pickers`` the busiest day's)."""
        days = self.days
        return DayKpis(
            day=days[-1].day if days else dt.date.min,
            orders=sum(d.orders for d in days),
            lines=sum(d.lines for d in days),
            walk_m=sum(d.walk_m for d in days),
            walked_lines=sum(d.walked_lines for d in days),
            picker_hours=sum(d.picker_hours for d in days),
            timed_lines=sum(d.timed_lines for d in days),
            pickers=max((d.pickers for d in days), default=0),
        )


def front_warehouse_kpis(
    session: Session,
    *,
    now: dt.datetime,
    days: int = DEFAULT_DAYS,
    site_ids: Sequence[int] | None = None,
) -> list[SiteKpis]:
    """Daily picking KPIs of every active front warehouse (or those named), by site code."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise RuleViolation("must be a whole number of days, 1 to 366", field="days")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    query = (
        select(Site)
        .where(Site.kind == SiteKind.FRONT_WAREHOUSE, Site.active.is_(True))
        .order_by(Site.code)
    )
    if site_ids is not None:
        query = query.where(Site.id.in_(list(site_ids)))
    sites = list(session.scalars(query))
    by_zone: dict[str, list[Site]] = defaultdict(list)
    for site in sites:
        by_zone[site.timezone].append(site)
    found: dict[tuple[int, int], dict[str, Any]] = defaultdict(dict)
    calendars: dict[str, list[dt.date]] = {}
    for timezone, members in by_zone.items():
        local_days, bounds = _calendar(now, timezone, days)
        calendars[timezone] = local_days
        ids = [site.id for site in members]
        for key, values in _aggregate(session, ids, bounds).items():
            found[key].update(values)
    result = []
    for site in sites:
        series = tuple(
            DayKpis(day=day, **found.get((site.id, index), {}))
            for index, day in enumerate(calendars[site.timezone])
        )
        result.append(SiteKpis(site.id, site.code, site.name, site.timezone, series))
    return result


def _calendar(
    now: dt.datetime, timezone: str, days: int
) -> tuple[list[dt.date], list[dt.datetime]]:
    """The last ``days`` local days (today last) and their ``days + 1`` midnights in UTC."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    local_days = [today - dt.timedelta(days=days - 1 - i) for i in range(days)]
    midnights = [
        dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
        for day in [*local_days, today + dt.timedelta(days=1)]
    ]
    return local_days, midnights


def _day_index(column: Any, bounds: list[dt.datetime]) -> ColumnElement[int]:
    """The index of the local day a UTC timestamp falls in (the caller keeps it in range)."""
    whens = [(column < bound, literal(i)) for i, bound in enumerate(bounds[1:-1])]
    return case(*whens, else_=literal(len(bounds) - 2)) if whens else literal(0)


def _aggregate(
    session: Session, site_ids: list[int], bounds: list[dt.datetime]
) -> dict[tuple[int, int], dict[str, Any]]:
    """The day figures of sites sharing one calendar, keyed by (site id, day index)."""
    first, end = bounds[0], bounds[-1]
    out: dict[tuple[int, int], dict[str, Any]] = defaultdict(dict)
    with_units = PickTask.picked_qty > 0
    in_period = and_(PickTask.done_at >= first, PickTask.done_at < end)

    # Lines and pickers, by the day of each confirmed pick. (Days are worked out in a subquery
    # and grouped outside it: PostgreSQL does not see two renderings of one CASE as the same.)
    picks = (
        select(
            Wave.site_id.label("site_id"),
            _day_index(PickTask.done_at, bounds).label("day"),
            case((with_units, PickTask.order_line_id)).label("line_id"),
            PickTask.done_by.label("picker"),
        )
        .join(PickList, PickList.id == PickTask.pick_list_id)
        .join(Wave, Wave.id == PickList.wave_id)
        .where(Wave.site_id.in_(site_ids), PickTask.status.in_(CONFIRMED), in_period)
        .subquery()
    )
    for site_id, index, line_count, pickers in session.execute(
        select(
            picks.c.site_id,
            picks.c.day,
            func.count(func.distinct(picks.c.line_id)),
            func.count(func.distinct(picks.c.picker)),
        ).group_by(picks.c.site_id, picks.c.day)
    ):
        out[(site_id, int(index))].update(lines=int(line_count), pickers=int(pickers))

    # Orders, by the day of their last confirmed pick.
    last_pick = (
        select(
            Order.site_id.label("site_id"),
            func.max(PickTask.done_at).label("picked_at"),
        )
        .join(Order, Order.id == PickTask.order_id)
        .where(
            Order.site_id.in_(site_ids),
            Order.status.in_(PICKED_OR_LATER),
            PickTask.status.in_(CONFIRMED),
            PickTask.done_at.is_not(None),
        )
        .group_by(Order.id, Order.site_id)
        .subquery()
    )
    picked = (
        select(last_pick.c.site_id, _day_index(last_pick.c.picked_at, bounds).label("day"))
        .where(last_pick.c.picked_at >= first, last_pick.c.picked_at < end)
        .subquery()
    )
    for site_id, index, count in session.execute(
        select(picked.c.site_id, picked.c.day, func.count()).group_by(
            picked.c.site_id, picked.c.day
        )
    ):
        out[(site_id, int(index))]["orders"] = int(count)

    # Walk and picker time, by the day each pick list's last task was confirmed.
    per_list = (
        select(
            Wave.site_id.label("site_id"),
            PickList.walk_m.label("walk_m"),
            func.coalesce(PickList.started_at, func.min(PickTask.done_at)).label("began"),
            func.max(PickTask.done_at).label("ended"),
            func.count(func.distinct(case((with_units, PickTask.order_line_id)))).label("lines"),
        )
        .join(PickList, PickList.id == PickTask.pick_list_id)
        .join(Wave, Wave.id == PickList.wave_id)
        .where(Wave.site_id.in_(site_ids), PickTask.status.in_(CONFIRMED), in_period)
        .group_by(PickList.id, Wave.site_id, PickList.walk_m, PickList.started_at)
        .subquery()
    )
    lists = select(
        per_list.c.site_id,
        _day_index(per_list.c.ended, bounds).label("day"),
        per_list.c.walk_m,
        per_list.c.lines,
        (extract("epoch", per_list.c.ended) - extract("epoch", per_list.c.began)).label("seconds"),
    ).subquery()
    walked = lists.c.walk_m.is_not(None)
    timed = lists.c.seconds > 0
    for site_id, index, walk_m, walked_lines, picker_s, timed_lines in session.execute(
        select(
            lists.c.site_id,
            lists.c.day,
            func.sum(case((walked, lists.c.walk_m), else_=0.0)),
            func.sum(case((walked, lists.c.lines), else_=0)),
            func.sum(case((timed, lists.c.seconds), else_=0)),
            func.sum(case((timed, lists.c.lines), else_=0)),
        ).group_by(lists.c.site_id, lists.c.day)
    ):
        out[(site_id, int(index))].update(
            walk_m=float(walk_m or 0.0),
            walked_lines=int(walked_lines or 0),
            picker_hours=float(picker_s or 0) / 3600.0,
            timed_lines=int(timed_lines or 0),
        )
    return out

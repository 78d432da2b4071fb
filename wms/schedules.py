"""When a job fires: every N seconds from a fixed epoch, or a cron expression in a site's time.

A :class:`Schedule` is what planners see and edit on the console (in words, with its next fire
times) and what the scheduler process turns into an APScheduler trigger. Validation happens
here, so the console's form and the scheduler leader refuse the same bad input the same way
(a :class:`~wms.errors.RuleViolation` naming the field).

Cron expressions are standard five-field crontab (minute hour day-of-month month day-of-week,
Sunday = 0 or 7), read in the schedule's IANA time zone. APScheduler 3 numbers weekdays from
Monday = 0, so numeric weekdays are turned into names before it sees them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from cron_descriptor import get_description

from wms.errors import RuleViolation

#: Interval jobs fire at EPOCH + k x interval, in every process alike.
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MIN_EVERY_S = 1
MAX_EVERY_S = 7 * 24 * 3600
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Every ``every_s`` seconds, or at the times of a ``cron`` expression in ``timezone``."""

    every_s: int | None = None
    cron: str | None = None
    timezone: str = "UTC"

    @classmethod
    def parse(
        cls, *, every_s: object = None, cron: object = None, timezone: str = "UTC"
    ) -> Schedule:
        """A checked schedule from form or command input; RuleViolation names the bad field."""
        has_every = every_s not in (None, "")
        has_cron = cron not in (None, "")
        if has_every == has_cron:
            raise RuleViolation(
                "give either an interval in seconds or a cron expression", field="cron"
            )
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RuleViolation(f"unknown time zone {timezone!r}", field="timezone") from None
        if has_every:
            try:
                seconds = int(str(every_s).strip())
            except ValueError:
                raise RuleViolation(
                    "the interval must be a whole number of seconds", field="every_s"
                ) from None
            if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
                raise RuleViolation(
                    f"the interval must be {MIN_EVERY_S} s to {MAX_EVERY_S // 86400} days",
                    field="every_s",
                )
            return cls(every_s=seconds, timezone=timezone)
        expression = " ".join(str(cron).split())
        schedule = cls(cron=expression, timezone=timezone)
        schedule.trigger()  # raises RuleViolation for an expression APScheduler cannot read
        return schedule

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger for this schedule."""
        if self.every_s is not None:
            return IntervalTrigger(seconds=self.every_s, start_date=EPOCH, timezone=dt.UTC)
        assert self.cron is not None
        fields = self.cron.split()
        if len(fields) != 5:
            raise RuleViolation(
                "a cron expression has 5 fields (minute hour day month weekday),"
                f" not {len(fields)}",
                field="cron",
            )
        minute, hour, day, month, weekday = fields
        try:
            return CronTrigger(
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=_weekday_names(weekday),
                timezone=ZoneInfo(self.timezone),
            )
        except ValueError as exc:
            raise RuleViolation(f"not a valid cron expression: {exc}", field="cron") from None

    @property
    def grace_s(self) -> int:
        """A firing later than this is skipped (the next comes soon): half the interval, or a
        minute for cron schedules (their times are minutes apart at least)."""
        if self.every_s is not None:
            return max(1, self.every_s // 2)
        return 60

    def in_words(self) -> str:
        """The schedule as a planner reads it: "every 15 minutes", "At 07:30 AM, Monday…"."""
        if self.every_s is not None:
            return "every " + _duration(self.every_s)
        assert self.cron is not None
        try:
            words = get_description(self.cron)
        except Exception:  # the describer knows fewer forms than APScheduler; show the expression
            words = self.cron
        return f"{words} ({self.timezone})"

    def next_times(self, now: dt.datetime, count: int = 5) -> list[dt.datetime]:
        """The next ``count`` fire times after ``now`` (UTC)."""
        trigger = self.trigger()
        times: list[dt.datetime] = []
        previous: dt.datetime | None = None
        moment = now
        while len(times) < count:
            fire = trigger.get_next_fire_time(previous, moment)
            if fire is None:
                break
            fire = fire.astimezone(dt.UTC)
            if fire > now:
                times.append(fire)
            previous = fire
            moment = fire + dt.timedelta(microseconds=1)
        return times

    def latest_fire_time(self, now: dt.datetime, *, lookback: dt.timedelta) -> dt.datetime | None:
        """The last fire time at or before ``now`` within ``lookback``: the firing under way.

        A firing's scheduled time keys its job run; APScheduler 3 does not hand it to the job,
        so the job finds it from its own trigger.
        """
        trigger = self.trigger()
        latest: dt.datetime | None = None
        fire = trigger.get_next_fire_time(None, now - lookback)
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
        return latest.astimezone(dt.UTC) if latest is not None else None


def _weekday_names(field: str) -> str:
    """Standard crontab weekdays (0 or 7 = Sunday) as names, which APScheduler reads alike."""
    if not re.search(r"\d", field):
        return field
    parts: list[str] = []
    for item in field.split(","):
        if item == "*" or not re.search(r"\d", item):
            parts.append(item)
            continue
        match = re.fullmatch(r"(\d)(?:-(\d))?", item)
        if match is None:
            raise RuleViolation(
                f"weekday {item!r}: use 0-7 (Sunday = 0 or 7), ranges like 1-5, or names",
                field="cron",
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first > 7 or last > 7 or first > last:
            raise RuleViolation(f"weekday {item!r} is not a range of 0-7", field="cron")
        if first == 0 or first == 7:
            parts.append("sun")
            first = 1
        if last == 7:
            parts.append("sun")
            last = 6
        if first <= last and not (match.group(2) is None and item in ("0", "7")):
            parts.append(_DAYS[first] if first == last else f"{_DAYS[first]}-{_DAYS[last]}")
    return ",".join(dict.fromkeys(parts))


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}" + ("s" if n != 1 else "") if n != 1 else unit
    return f"{seconds} seconds" if seconds != 1 else "second"

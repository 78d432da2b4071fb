"""Schedules as planners write them: intervals from the epoch, crontab in a site's time."""

from __future__ import annotations

import datetime as dt

import pytest

from wms.errors import RuleViolation
from wms.schedules import Schedule

UTC = dt.UTC


def test_standard_crontab_weekdays_mean_what_cron_means():
    # 1-5 is Monday to Friday in crontab; APScheduler alone would read it Tuesday to Saturday.
    weekdays = Schedule.parse(cron="0 12 * * 1-5", timezone="UTC")
    saturday = dt.datetime(2026, 12, 5, 13, tzinfo=UTC)
    fired = weekdays.next_times(saturday, 5)
    assert [t.strftime("%a") for t in fired] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    sundays = Schedule.parse(cron="0 12 * * 0", timezone="UTC").next_times(saturday, 2)
    assert [t.strftime("%a") for t in sundays] == ["Sun", "Sun"]
    also_sunday = Schedule.parse(cron="0 12 * * 7", timezone="UTC").next_times(saturday, 1)
    assert also_sunday == sundays[:1]


def test_cron_times_are_site_local_and_come_back_in_utc():
    schedule = Schedule.parse(cron="30 7 * * *", timezone="Europe/Amsterdam")
    (winter,) = schedule.next_times(dt.datetime(2026, 12, 1, tzinfo=UTC), 1)
    (summer,) = schedule.next_times(dt.datetime(2026, 7, 1, tzinfo=UTC), 1)
    assert (winter.hour, winter.minute, summer.hour) == (6, 30, 5)
    assert "07:30" in schedule.in_words() and "Europe/Amsterdam" in schedule.in_words()


def test_intervals_count_from_the_epoch_so_every_process_agrees():
    schedule = Schedule.parse(every_s="900")
    now = dt.datetime(2026, 12, 2, 10, 7, 12, tzinfo=UTC)
    assert schedule.next_times(now, 2) == [
        dt.datetime(2026, 12, 2, 10, 15, tzinfo=UTC),
        dt.datetime(2026, 12, 2, 10, 30, tzinfo=UTC),
    ]
    assert schedule.in_words() == "every 15 minutes"
    assert Schedule(every_s=60).in_words() == "every minute"
    assert Schedule(every_s=90).in_words() == "every 90 seconds"


def test_a_firing_finds_its_own_scheduled_time():
    schedule = Schedule.parse(cron="*/10 * * * *", timezone="UTC")
    late = dt.datetime(2026, 12, 2, 10, 20, 3, tzinfo=UTC)  # fired 3 s after its time
    assert schedule.latest_fire_time(late, lookback=dt.timedelta(seconds=65)) == dt.datetime(
        2026, 12, 2, 10, 20, tzinfo=UTC
    )
    # Nothing due within the look-back: no firing to key.
    assert (
        schedule.latest_fire_time(late.replace(minute=25), lookback=dt.timedelta(seconds=65))
        is None
    )


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"cron": "0 12 * * 8"}, "cron"),
        ({"cron": "0 12 * * 1-5/2"}, "cron"),
        ({"every_s": "soon"}, "every_s"),
        ({"every_s": "0"}, "every_s"),
        ({"every_s": str(8 * 86400)}, "every_s"),
        ({}, "cron"),
        ({"every_s": "60", "cron": "* * * * *"}, "cron"),
        ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(given, field):
    with pytest.raises(RuleViolation) as refused:
        Schedule.parse(**given)
    assert refused.value.field == field

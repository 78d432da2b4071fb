"""The console's jobs pages: schedules in words with next fire times, run now / dry run /
pause / resume as commands for the scheduler leader, schedule edits checked before anything is
written, run history with failures shown."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from wms.models import (
    JobCommand,
    JobCommandKind,
    JobCommandStatus,
    JobRun,
    JobRunStatus,
    Role,
    SiteKind,
    utcnow,
)


@pytest.fixture
def planner(signed_in):
    return signed_in(Role.PLANNER)


@pytest.fixture
def front_warehouse(site, session):
    site.kind = SiteKind.FRONT_WAREHOUSE
    session.flush()
    return site


def commands_of(session, job_id):
    session.expire_all()
    return list(session.scalars(select(JobCommand).where(JobCommand.job_id == job_id)))


def test_the_jobs_page_shows_schedules_in_words_and_next_fire_times(planner, front_warehouse):
    page = planner.get("/console/jobs").get_data(as_text=True)
    code = front_warehouse.code
    assert f"replenish:{code}" in page and f"release-waves:{code}" in page
    assert "every 15 minutes" in page
    assert "Every 10 minutes" in page  # the wave release cut-offs, in words
    row = page[page.index(f'id="job-replenish-{code}"') :]
    row = row[: row.index("</tr>")]
    assert len(re.findall(r"\d\d:\d\d:\d\d<br>", row)) == 5  # the next five fire times
    assert "The scheduler is not running" in page  # no heartbeat in this database


def test_run_now_twice_asks_once(planner, front_warehouse, session):
    job = f"replenish:{front_warehouse.code}"
    first = planner.post(f"/console/jobs/{job}/run", data={"back": "jobs"})
    second = planner.post(f"/console/jobs/{job}/run", data={"back": "jobs"}, follow_redirects=True)
    assert first.status_code == 302
    assert "already under way" in second.get_data(as_text=True)
    queued = commands_of(session, job)
    assert [(c.kind, c.status) for c in queued] == [(JobCommandKind.RUN, JobCommandStatus.QUEUED)]
    assert queued[0].requested_by.startswith("user:")


def test_pause_and_dry_run_are_commands_for_the_leader(planner, front_warehouse, session):
    job = f"replenish:{front_warehouse.code}"
    planner.post(f"/console/jobs/{job}/pause", data={"back": "job"})
    planner.post(f"/console/jobs/{job}/dry-run", data={"back": "job"})
    kinds = sorted(c.kind.value for c in commands_of(session, job))
    assert kinds == ["dry_run", "pause"]
    page = planner.get(f"/console/jobs/{job}").get_data(as_text=True)
    assert "dry run" in page and "pause" in page


def test_an_invalid_cron_shows_the_error_and_changes_nothing(planner, front_warehouse, session):
    job = f"release-waves:{front_warehouse.code}"
    answer = planner.post(
        f"/console/jobs/{job}/schedule",
        data={"every_s": "", "cron": "61 * * * *", "timezone": "Europe/Amsterdam"},
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "not a valid cron expression" in page and 'value="61 * * * *"' in page
    assert 'id="cron" name="cron"' in page and 'aria-invalid="true"' in page
    assert commands_of(session, job) == []

    good = planner.post(
        f"/console/jobs/{job}/schedule",
        data={"every_s": "", "cron": "0,30 7-22 * * 1-6", "timezone": "UTC"},
    )
    assert good.status_code == 302
    (command,) = commands_of(session, job)
    assert command.kind is JobCommandKind.RESCHEDULE
    assert command.payload == {"every_s": None, "cron": "0,30 7-22 * * 1-6", "timezone": "UTC"}


def test_unknown_jobs_are_404_and_forms_need_their_csrf_token(planner, client, session):
    assert planner.get("/console/jobs/no-such-job").status_code == 404
    assert planner.post("/console/jobs/no-such-job/run").status_code == 404
    bare = planner.client.post("/console/jobs/heartbeat/run")  # no CSRF header or field
    assert bare.status_code == 400
    assert session.scalar(select(func.count()).select_from(JobCommand)) == 0


def test_run_history_shows_summaries_and_failures(planner, session):
    now = utcnow()
    session.add_all(
        [
            JobRun(
                job_id="heartbeat",
                scheduled_for=now - dt.timedelta(minutes=1),
                status=JobRunStatus.SUCCEEDED,
                started_at=now,
                finished_at=now,
                heartbeat_at=now,
                summary="alive",
                error="",
                worker="w:1",
            ),
            JobRun(
                job_id="housekeeping",
                scheduled_for=now,
                status=JobRunStatus.FAILED,
                started_at=now,
                finished_at=now + dt.timedelta(seconds=2),
                heartbeat_at=now,
                summary="",
                error="OperationalError: the disk is full",
                worker="w:1",
                actor="user:9",
            ),
        ]
    )
    session.flush()
    page = planner.get("/console/runs").get_data(as_text=True)
    assert "OperationalError: the disk is full" in page and "user:9" in page and "2.0 s" in page
    failed_only = planner.get("/console/runs?status=failed").get_data(as_text=True)
    assert "the disk is full" in failed_only and ">alive<" not in failed_only
    assert planner.get("/console/runs?status=bogus").status_code == 400
    # With a fresh heartbeat the warning is gone.
    assert "The scheduler is not running" not in planner.get("/console/jobs").get_data(as_text=True)


def test_floor_staff_are_refused(signed_in):
    associate = signed_in(Role.ASSOCIATE)
    assert associate.get("/console/jobs").status_code == 403
    assert associate.post("/console/jobs/heartbeat/run").status_code == 403

"""Commands the console queues and the scheduler leader carries out: run now (once while one
is in flight), dry run (nothing kept), pause/resume and schedule edits (kept for the next
leader), on-demand tasks; commands of a dead process are failed by the sweeper."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from wms import commands, jobs
from wms.errors import NotFound, RuleViolation
from wms.job_catalog import JobSpec
from wms.models import (
    JobCommand,
    JobCommandKind,
    JobCommandStatus,
    JobRun,
    JobRunStatus,
    JobSchedule,
    OutboxEvent,
    utcnow,
)
from wms.scheduler import CommandRunner, start_jobs
from wms.schedules import Schedule

AT = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
KNOWN = {"replenish:FW01"}


def test_two_run_now_clicks_queue_one_run(session):
    first = commands.submit(
        session, "replenish:FW01", JobCommandKind.RUN, actor="user:1", known_jobs=KNOWN, now=AT
    )
    second = commands.submit(
        session, "replenish:FW01", JobCommandKind.RUN, actor="user:2", known_jobs=KNOWN, now=AT
    )
    assert first.created and not second.created
    assert second.command.id == first.command.id
    # A dry run is another kind of work: it may wait beside the run.
    dry = commands.submit(
        session, "replenish:FW01", JobCommandKind.DRY_RUN, actor="user:2", known_jobs=KNOWN, now=AT
    )
    assert dry.created
    first.command.status = JobCommandStatus.SUCCEEDED
    session.flush()
    again = commands.submit(
        session, "replenish:FW01", JobCommandKind.RUN, actor="user:1", known_jobs=KNOWN, now=AT
    )
    assert again.created


def test_bad_commands_write_nothing(session):
    with pytest.raises(RuleViolation) as refused:
        commands.submit(
            session,
            "replenish:FW01",
            JobCommandKind.RESCHEDULE,
            actor="user:1",
            known_jobs=KNOWN,
            payload={"cron": "61 * * * *"},
        )
    assert refused.value.field == "cron"
    with pytest.raises(NotFound):
        commands.submit(
            session, "no-such-job", JobCommandKind.RUN, actor="user:1", known_jobs=KNOWN
        )
    with pytest.raises(NotFound):
        commands.submit_task(session, "no-such-task", {}, actor="user:1", now=AT)
    assert session.scalar(select(func.count()).select_from(JobCommand)) == 0


# --- the leader carrying them out ---------------------------------------------------------------


def _emit_work(session, now, dry_run) -> str:
    """A job that writes something, so a dry run can be seen to keep nothing."""
    session.add(
        OutboxEvent(
            topic="test.made",
            key="",
            payload={"at": now.isoformat()},
            created_at=now,
            available_at=now,
            attempts=0,
            last_error="",
        )
    )
    session.flush()
    return ("would make" if dry_run else "made") + " 1 event"


@pytest.fixture
def leader(pg_sessions):
    """A real APScheduler with one job (firing hourly, so only commands run it) and a runner."""
    engine = pg_sessions.kw["bind"]
    specs = [JobSpec("emit", "Emit an event", Schedule(every_s=3600), _emit_work)]
    scheduler = start_jobs(engine, pg_sessions, specs)
    runner = CommandRunner(pg_sessions, scheduler, specs)
    yield pg_sessions, scheduler, runner, specs
    runner.shutdown()
    scheduler.shutdown(wait=True)


def submit(sessions, kind, payload=None, job="emit"):
    with sessions.begin() as session:
        return commands.submit(
            session, job, kind, actor="user:7", known_jobs={"emit"}, payload=payload
        ).command.id


def settle(sessions, runner, command_id) -> JobCommand:
    runner.poll()
    runner.pool.submit(lambda: None).result(timeout=30)
    for _ in range(100):
        with sessions() as session:
            command = session.get(JobCommand, command_id)
            if command.status not in commands.IN_FLIGHT:
                return command
        threading.Event().wait(0.1)
    raise AssertionError(f"command {command_id} did not finish")


def events(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxEvent))


def test_pause_then_run_now_runs_it_once_and_records_who_asked(leader):
    sessions, scheduler, runner, _ = leader
    paused = settle(sessions, runner, submit(sessions, JobCommandKind.PAUSE))
    assert paused.status is JobCommandStatus.SUCCEEDED
    assert scheduler.get_job("emit").next_run_time is None  # paused in APScheduler
    with sessions() as session:
        assert session.get(JobSchedule, "emit").paused

    ran = settle(sessions, runner, submit(sessions, JobCommandKind.RUN))
    assert ran.status is JobCommandStatus.SUCCEEDED and ran.summary == "made 1 event"
    with sessions() as session:
        run = session.get(JobRun, ran.run_id)
        assert (run.job_id, run.actor, run.status) == ("emit", "user:7", JobRunStatus.SUCCEEDED)
    assert events(sessions) == 1


def test_a_dry_run_says_what_it_would_do_and_keeps_nothing(leader):
    sessions, _, runner, _ = leader
    done = settle(sessions, runner, submit(sessions, JobCommandKind.DRY_RUN))
    assert done.status is JobCommandStatus.SUCCEEDED
    assert done.summary == "dry run: would make 1 event"
    assert events(sessions) == 0
    with sessions() as session:
        assert session.get(JobRun, done.run_id).job_id == "dry-run:emit"


def test_a_schedule_edit_reaches_apscheduler_and_the_next_leader(leader):
    sessions, scheduler, runner, specs = leader
    edit = {"cron": "15 6 * * 1-5", "timezone": "Europe/Amsterdam"}
    done = settle(sessions, runner, submit(sessions, JobCommandKind.RESCHEDULE, edit))
    assert done.status is JobCommandStatus.SUCCEEDED, done.error
    assert "06:15" in done.summary
    fire = scheduler.get_job("emit").next_run_time
    assert (fire.astimezone(dt.UTC).hour, fire.minute) == (5, 15)  # 06:15 in Amsterdam, winter
    settle(sessions, runner, submit(sessions, JobCommandKind.PAUSE))

    # A new leader starts with the planner's schedule, still paused.
    scheduler.shutdown(wait=True)
    again = start_jobs(sessions.kw["bind"], sessions, specs)
    try:
        job = again.get_job("emit")
        assert job.next_run_time is None
        assert "hour='6'" in str(job.trigger) and "minute='15'" in str(job.trigger)
    finally:
        again.shutdown(wait=True)
    scheduler.start()  # the fixture shuts it down again


def test_an_on_demand_task_runs_and_keeps_its_result(leader):
    sessions, _, runner, _ = leader
    seen = []

    def plan(session, now, payload):
        seen.append(dict(payload))
        return "2 routes planned", {"routes": [1, 2]}

    commands.register_task("test-plan", plan)
    try:
        with sessions.begin() as session:
            command_id = commands.submit_task(
                session, "test-plan", {"site": "FW01"}, actor="token:ab12", now=utcnow()
            ).command.id
        done = settle(sessions, runner, command_id)
    finally:
        commands.TASKS.pop("test-plan", None)
    assert (done.status, done.summary, done.result) == (
        JobCommandStatus.SUCCEEDED,
        "2 routes planned",
        {"routes": [1, 2]},
    )
    assert seen == [{"site": "FW01"}]


def test_a_failing_job_fails_its_command_and_frees_the_job(leader):
    sessions, _, runner, _specs = leader

    def broken(session, now, dry_run):
        raise RuntimeError("the DC feed is down")

    runner.specs = [JobSpec("emit", "Emit", Schedule(every_s=3600), broken)]
    done = settle(sessions, runner, submit(sessions, JobCommandKind.RUN))
    assert done.status is JobCommandStatus.FAILED and "the DC feed is down" in done.error
    # The next "run now" is a new command.
    with sessions.begin() as session:
        assert commands.submit(
            session, "emit", JobCommandKind.RUN, actor="user:7", known_jobs={"emit"}
        ).created


def test_commands_of_a_dead_process_are_failed_by_the_sweeper(session):
    now = AT
    run = JobRun(
        job_id="emit",
        scheduled_for=now,
        status=JobRunStatus.ABANDONED,
        started_at=now,
        heartbeat_at=now,
        finished_at=now,
        summary="",
        error="",
        worker="gone:1",
    )
    session.add(run)
    session.flush()
    orphan = JobCommand(
        job_id="emit",
        kind=JobCommandKind.RUN,
        status=JobCommandStatus.RUNNING,
        payload={},
        requested_by="user:1",
        requested_at=now,
        started_at=now,
        run_id=run.id,
        summary="",
        error="",
    )
    fresh = JobCommand(
        job_id="other",
        kind=JobCommandKind.RUN,
        status=JobCommandStatus.RUNNING,
        payload={},
        requested_by="user:1",
        requested_at=now,
        started_at=now + dt.timedelta(minutes=9),
        summary="",
        error="",
    )
    session.add_all([orphan, fresh])
    session.flush()
    failed = jobs.sweep_commands(session, now=now + dt.timedelta(minutes=10))
    assert failed == [orphan.id]
    assert orphan.status is JobCommandStatus.FAILED and "stopped" in orphan.error
    assert fresh.status is JobCommandStatus.RUNNING

"""Job runs: a firing runs once whoever fires it, and says how it ended (invariant 4)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from wms import jobs
from wms.models import JobRun, JobRunStatus, Site, SiteKind

AT = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)


def clock_at(moment: dt.datetime):
    return lambda: moment


def runs(session) -> list[JobRun]:
    session.expire_all()
    return list(session.scalars(select(JobRun).order_by(JobRun.id)))


def test_a_firing_runs_once_however_often_it_is_fired(sessions, session):
    calls = []

    def job(s) -> str:
        calls.append(1)
        return "3 tasks created"

    first = jobs.run_once(sessions, "replenish:FW01", AT, job, clock=clock_at(AT))
    again = jobs.run_once(sessions, "replenish:FW01", AT, job, clock=clock_at(AT))
    later = jobs.run_once(
        sessions, "replenish:FW01", AT + dt.timedelta(minutes=15), job, clock=clock_at(AT)
    )

    assert (first.ran_here, again.ran_here, later.ran_here) == (True, False, True)
    assert len(calls) == 2
    [run, next_run] = runs(session)
    assert (run.status, run.summary, run.actor) == (JobRunStatus.SUCCEEDED, "3 tasks created", None)
    assert run.finished_at is not None and run.worker
    assert next_run.scheduled_for == AT + dt.timedelta(minutes=15)


def test_a_failing_job_leaves_nothing_of_its_work_and_a_failed_run(sessions, session):
    def job(s) -> str:
        s.add(
            Site(
                code="HALF",
                name="half-written",
                kind=SiteKind.FRONT_WAREHOUSE,
                latitude=52.0,
                longitude=4.0,
                timezone="Europe/Amsterdam",
            )
        )
        s.flush()
        raise RuntimeError("the reserve is unreachable")

    outcome = jobs.run_once(sessions, "replenish:FW01", AT, job, clock=clock_at(AT))

    assert outcome.status is JobRunStatus.FAILED
    [run] = runs(session)
    assert run.status is JobRunStatus.FAILED
    assert run.error == "RuntimeError: the reserve is unreachable"
    assert session.scalar(select(func.count()).select_from(Site).where(Site.code == "HALF")) == 0


def test_a_manual_run_names_who_asked(sessions, session):
    outcome = jobs.run_once(
        sessions, "expiry-sweep", AT, lambda s: "nothing near expiry", actor="user:7"
    )

    assert outcome.ran_here
    assert runs(session)[0].actor == "user:7"


def test_runs_left_by_a_dead_process_are_swept_as_abandoned(sessions, session):
    with sessions.begin() as s:
        dead = jobs.claim(s, "replenish:FW01", AT, now=AT)
        alive = jobs.claim(s, "replenish:FW02", AT, now=AT + dt.timedelta(minutes=9))
        assert dead is not None and alive is not None
        dead_id, alive_id = dead.id, alive.id

    with sessions.begin() as s:
        swept = jobs.sweep_abandoned(s, now=AT + dt.timedelta(minutes=10))

    assert swept == [dead_id]
    by_id = {run.id: run for run in runs(session)}
    assert by_id[dead_id].status is JobRunStatus.ABANDONED
    assert "no heartbeat" in by_id[dead_id].error
    assert by_id[alive_id].status is JobRunStatus.RUNNING


@pytest.mark.postgres
def test_processes_firing_the_same_moment_at_once_run_it_once(pg_sessions):
    calls = []
    lock = threading.Lock()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def job(s) -> str:
        with lock:
            calls.append(1)
        return "done"

    def fire() -> None:
        try:
            start.wait()
            jobs.run_once(pg_sessions, "wave-release:FW01", AT, job, clock=clock_at(AT))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(calls) == 1
    with pg_sessions() as s:
        assert s.scalar(select(func.count()).select_from(JobRun)) == 1

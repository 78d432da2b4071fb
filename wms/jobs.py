"""Job runs: a scheduled job's firing runs once, whoever fires it, and says what it did.

:func:`run_once` is what a scheduler process calls for a firing (and the console for a manual
run): it claims the firing by inserting its :class:`JobRun` — unique per job and scheduled time,
so a second process firing the same moment finds it taken and does nothing — runs the job's
unit of work in a transaction of its own, and records how it ended: its summary, or its error
(the work's changes rolled back). :func:`sweep_abandoned` marks runs whose process died.

Jobs are plain functions of a Session returning a one-line summary; time comes in as an
argument (an injectable clock), UTC inside.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wms.models import JobCommand, JobCommandStatus, JobRun, JobRunStatus, utcnow

#: A running run whose heartbeat is older than this was left by a dead process.
ABANDONED_AFTER = dt.timedelta(minutes=5)

Job = Callable[[Session], str]
Clock = Callable[[], dt.datetime]


def worker_name() -> str:
    """This process, as job runs name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a firing: run here (with its run id and status), or taken already."""

    run_id: int | None
    status: JobRunStatus | None
    summary: str = ""
    error: str = ""

    @property
    def ran_here(self) -> bool:
        return self.run_id is not None


def claim(
    session: Session,
    job_id: str,
    scheduled_for: dt.datetime,
    *,
    now: dt.datetime,
    actor: str | None = None,
    worker: str = "",
) -> JobRun | None:
    """Insert the firing's run as running; None when another process has it already."""
    run = JobRun(
        job_id=job_id,
        scheduled_for=scheduled_for,
        status=JobRunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        summary="",
        error="",
        actor=actor,
        worker=worker,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run


def run_once(
    sessions: sessionmaker[Session],
    job_id: str,
    scheduled_for: dt.datetime,
    job: Job,
    *,
    clock: Clock = utcnow,
    actor: str | None = None,
    on_claim: Callable[[Session, int], None] | None = None,
) -> Outcome:
    """Run a firing of a job unless it ran (or runs) already; record how it ended.

    Three transactions: the claim (committed at once, so other processes see it), the job's
    own work, and the record of its end. A job that raises leaves nothing of its work and a
    ``failed`` run with the error. ``on_claim(session, run_id)`` runs inside the claim's
    transaction (a command links itself to its run there).
    """
    worker = worker_name()
    with sessions.begin() as session:
        run = claim(session, job_id, scheduled_for, now=clock(), actor=actor, worker=worker)
        if run is None:
            return Outcome(None, None)
        run_id = run.id
        if on_claim is not None:
            on_claim(session, run_id)
    summary = error = ""
    status = JobRunStatus.SUCCEEDED
    done = threading.Event()
    beating = threading.Thread(
        target=_beat_until, args=(sessions, run_id, done, clock), name=f"beat {job_id}", daemon=True
    )
    beating.start()
    try:
        with sessions.begin() as session:
            summary = job(session)
    except Exception as exc:  # every failure of a job is recorded, none stops the scheduler
        status = JobRunStatus.FAILED
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    finally:
        done.set()
        beating.join()
    with sessions.begin() as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(
                status=status,
                finished_at=clock(),
                heartbeat_at=clock(),
                summary=summary[:4000],
                error=error[:4000],
            )
        )
    return Outcome(run_id, status, summary, error)


def sweep_abandoned(
    session: Session, *, now: dt.datetime, older_than: dt.timedelta = ABANDONED_AFTER
) -> list[int]:
    """Mark running runs whose heartbeat stopped as abandoned; return their ids."""
    stale = list(
        session.scalars(
            select(JobRun.id).where(
                JobRun.status == JobRunStatus.RUNNING, JobRun.heartbeat_at < now - older_than
            )
        )
    )
    if stale:
        session.execute(
            update(JobRun)
            .where(JobRun.id.in_(stale), JobRun.status == JobRunStatus.RUNNING)
            .values(
                status=JobRunStatus.ABANDONED,
                finished_at=now,
                error="its process stopped while it ran (no heartbeat)",
            )
        )
    return stale


def sweep_commands(
    session: Session, *, now: dt.datetime, older_than: dt.timedelta = ABANDONED_AFTER
) -> list[int]:
    """Fail commands left running by a dead process; return their ids.

    A command is running while its run is (their ends are written one after the other); when
    the run ended or was abandoned and the command did not follow, or the command was claimed
    long ago and never got its run, its process died. Failing it frees the job for the next
    "run now".
    """
    running = session.execute(
        select(JobCommand, JobRun.status, JobRun.finished_at)
        .outerjoin(JobRun, JobRun.id == JobCommand.run_id)
        .where(JobCommand.status == JobCommandStatus.RUNNING)
        .with_for_update(of=JobCommand)
    ).all()
    failed: list[int] = []
    settle = dt.timedelta(seconds=30)  # the runner writes the command's end just after the run's
    for command, run_status, run_finished in running:
        if run_status is JobRunStatus.RUNNING:
            continue
        if run_status is None:
            stale = command.started_at is not None and command.started_at < now - older_than
        else:
            stale = run_finished is None or run_finished < now - settle
        if not stale:
            continue
        command.status = JobCommandStatus.FAILED
        command.finished_at = now
        command.error = command.error or "the scheduler process stopped while it ran"
        failed.append(command.id)
    session.flush()
    return failed


#: How often a run says it is alive while its job goes on.
BEAT_EVERY = dt.timedelta(seconds=30)


def _beat_until(
    sessions: sessionmaker[Session], run_id: int, done: threading.Event, clock: Clock
) -> None:
    """Refresh the run's heartbeat until the job is done, so the sweeper leaves it alone."""
    while not done.wait(BEAT_EVERY.total_seconds()):
        try:
            with sessions.begin() as session:
                session.execute(
                    update(JobRun).where(JobRun.id == run_id).values(heartbeat_at=clock())
                )
        except Exception:  # a missed beat is retried at the next one
            continue

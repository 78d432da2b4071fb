"""Commands for the scheduler leader: run now, dry run, pause, resume, reschedule, tasks.

The console (and the API, for on-demand long jobs such as route planning) never touches
APScheduler: it writes a :class:`JobCommand` row, which the scheduler leader picks up within
a second or two and carries out (``wms.scheduler``). What is asked is checked here first, so
bad input is refused before anything is written; the leader checks it again.

One run, dry run or task per job may be queued or running at a time (a partial unique index):
a second "run now" while the first is in flight gets the first back, not a second run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wms.errors import NotFound, RuleViolation
from wms.models import (
    WORK_COMMAND_KINDS,
    JobCommand,
    JobCommandKind,
    JobCommandStatus,
    JobRun,
    JobRunStatus,
    utcnow,
)
from wms.schedules import Schedule

#: On-demand tasks by name: (session, now, payload) → (summary, result). Other capabilities
#: register theirs (the delivery issue's route planning); they run in the scheduler process.
Task = Callable[[Session, dt.datetime, Mapping[str, Any]], tuple[str, dict[str, Any]]]
TASKS: dict[str, Task] = {}

IN_FLIGHT = (JobCommandStatus.QUEUED, JobCommandStatus.RUNNING)


def register_task(name: str, task: Task) -> None:
    """Make ``task`` runnable on demand as ``submit_task(session, name, ...)``.

    ``name:anything`` runs the same task, so that one may be in flight per argument
    (``plan-routes:FW01`` beside ``plan-routes:FW02``).
    """
    TASKS[name] = task


def task_for(job_id: str) -> Task | None:
    """The task a command names: ``plan-routes:FW01`` is the ``plan-routes`` task."""
    return TASKS.get(job_id) or TASKS.get(job_id.split(":", 1)[0])


@dataclass(frozen=True, slots=True)
class Submitted:
    """The command asked for, and whether this request made it (False: one was in flight)."""

    command: JobCommand
    created: bool


def submit(
    session: Session,
    job_id: str,
    kind: JobCommandKind,
    *,
    actor: str,
    known_jobs: set[str],
    payload: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Submitted:
    """Queue a command for a job of ``known_jobs``; a run already in flight is returned as is.

    A reschedule's payload (``every_s``, or ``cron`` and ``timezone``) is checked here: an
    invalid expression raises RuleViolation naming the field and writes nothing.
    """
    if kind is JobCommandKind.TASK:
        if task_for(job_id) is None:
            raise NotFound(f"no on-demand task {job_id!r}", field="task")
    elif job_id not in known_jobs:
        raise NotFound(f"no job {job_id!r}", field="job_id")
    body = dict(payload or {})
    if kind is JobCommandKind.RESCHEDULE:
        schedule = Schedule.parse(
            every_s=body.get("every_s"),
            cron=body.get("cron"),
            timezone=str(body.get("timezone") or "UTC"),
        )
        body = {"every_s": schedule.every_s, "cron": schedule.cron, "timezone": schedule.timezone}
    command = JobCommand(
        job_id=job_id,
        kind=kind,
        status=JobCommandStatus.QUEUED,
        payload=body,
        requested_by=actor,
        requested_at=now or utcnow(),
        summary="",
        error="",
    )
    if kind.value not in WORK_COMMAND_KINDS:
        session.add(command)
        session.flush()
        return Submitted(command, True)
    try:
        with session.begin_nested():
            session.add(command)
            session.flush()
    except IntegrityError:
        existing = in_flight(session, job_id, kind)
        if existing is None:  # it finished between the insert and the look-up: ask again
            raise
        return Submitted(existing, False)
    return Submitted(command, True)


def submit_task(
    session: Session, name: str, payload: Mapping[str, Any], *, actor: str, now: dt.datetime
) -> Submitted:
    """Queue an on-demand long job (one per name in flight)."""
    return submit(
        session, name, JobCommandKind.TASK, actor=actor, known_jobs=set(), payload=payload, now=now
    )


def in_flight(session: Session, job_id: str, kind: JobCommandKind) -> JobCommand | None:
    return session.scalars(
        select(JobCommand).where(
            JobCommand.job_id == job_id, JobCommand.kind == kind, JobCommand.status.in_(IN_FLIGHT)
        )
    ).first()


def get(session: Session, command_id: int) -> JobCommand:
    command = session.get(JobCommand, command_id)
    if command is None:
        raise NotFound(f"no command {command_id}", field="command_id")
    return command


def recent(session: Session, *, job_id: str | None = None, limit: int = 20) -> list[JobCommand]:
    """The newest commands (of one job, dry runs and tasks included), newest first."""
    query = select(JobCommand).order_by(JobCommand.id.desc()).limit(limit)
    if job_id is not None:
        query = query.where(JobCommand.job_id == job_id)
    return list(session.scalars(query))


def run_job_id(command: JobCommand) -> str:
    """The job id the command's run is recorded under: dry runs and tasks apart from firings."""
    if command.kind is JobCommandKind.DRY_RUN:
        return f"dry-run:{command.job_id}"
    if command.kind is JobCommandKind.TASK:
        return f"task:{command.job_id}"
    return command.job_id


def runs(
    session: Session,
    *,
    job_id: str | None = None,
    status: JobRunStatus | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[JobRun]:
    """Run history, newest first; a job's own firings, manual runs and dry runs together."""
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job_id is not None:
        query = query.where(JobRun.job_id.in_((job_id, f"dry-run:{job_id}")))
    if status is not None:
        query = query.where(JobRun.status == status)
    if before_id is not None:
        query = query.where(JobRun.id < before_id)
    return list(session.scalars(query))


def last_runs(session: Session, job_ids: list[str]) -> dict[str, JobRun]:
    """Each job's newest run (firing or manual), for the jobs page."""
    if not job_ids:
        return {}
    newest = (
        select(JobRun.job_id, func.max(JobRun.id).label("id"))
        .where(JobRun.job_id.in_(job_ids))
        .group_by(JobRun.job_id)
        .subquery()
    )
    rows = session.scalars(select(JobRun).join(newest, newest.c.id == JobRun.id))
    return {run.job_id: run for run in rows}


def check_schedule_form(every_s: str, cron: str, timezone: str) -> Schedule:
    """The console's schedule form, checked (RuleViolation names ``every_s``/``cron``/...)."""
    if every_s.strip() and cron.strip():
        raise RuleViolation("give an interval or a cron expression, not both", field="cron")
    return Schedule.parse(every_s=every_s.strip() or None, cron=cron.strip() or None,
                          timezone=timezone.strip() or "UTC")  # fmt: skip

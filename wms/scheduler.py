"""The scheduler process (`wms scheduler`): one leader fires the jobs, the others stand by.

APScheduler 3 runs the jobs with its SQLAlchemy job store (table ``apscheduler_jobs``, kept out
of ``wms db check``), in this one dedicated process — never inside web workers. Several
scheduler processes may run: one becomes leader by a PostgreSQL advisory lock held on a
connection of its own (a file lock in the instance folder on SQLite) and starts APScheduler;
the others poll the lock every ``WMS_SCHEDULER_POLL_S`` seconds and take over when the
leader's process dies (its connection, and so its lock, goes with it).

Every firing goes through :func:`wms.jobs.run_once`, keyed by the job's id and the time it was
scheduled for, so a firing runs once even while two leaders overlap during a takeover.
Interval jobs count their times from a fixed epoch, so every process agrees on them.

The jobs are listed in :mod:`wms.job_catalog` (replenishment and wave release per front
warehouse, transfers, expiry sweep, slotting review, housekeeping, the outbox, ...). A cron
job's scheduled time is found from its trigger (APScheduler 3 does not pass it to the job).

While it leads, the process also carries out the command rows of :mod:`wms.commands` every
``WMS_SCHEDULER_COMMAND_POLL_S`` seconds: pause, resume and schedule edits at once (kept in
``job_schedule``, so a new leader starts with them), runs, dry runs and on-demand tasks on a
small pool of worker threads, each recorded as a job run.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor as CommandPool
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from wms import commands, jobs, webhooks
from wms.errors import WmsError
from wms.job_catalog import JobSpec, effective_schedules, job_specs, register_tasks, spec_for
from wms.models import (
    JobCommand,
    JobCommandKind,
    JobCommandStatus,
    JobRunStatus,
    JobSchedule,
    utcnow,
)
from wms.schedules import EPOCH, Schedule

log = logging.getLogger("wms.scheduler")

__all__ = ["EPOCH", "LOCK_KEY", "JobSpec", "Leadership", "run", "start_jobs"]

#: The advisory lock the leader holds on PostgreSQL ("wms" and 1).
LOCK_KEY = 0x776D7301
LOCK_FILE = "scheduler.lock"
#: How long before now a firing's scheduled time is looked for, beyond its grace time.
LOOKBACK_SLACK = dt.timedelta(seconds=5)


# --- leadership -------------------------------------------------------------------------------


class Leadership:
    """Who fires the jobs: the holder of a PostgreSQL advisory lock, or of a lock file."""

    def __init__(self, engine: Engine, instance_path: str) -> None:
        self.engine = engine
        self.lock_path = Path(instance_path) / LOCK_FILE
        self._connection: Connection | None = None
        self._file: Any = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Become leader if nobody is; True when this process leads now."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
            connection.commit()
            if got:
                self._connection = connection
                return True
            connection.close()
            return False
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """Whether the lock is still ours (a PostgreSQL connection can break under us)."""
        if self._connection is None:
            return self._file is not None
        try:
            self._connection.scalar(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:  # the connection is gone, and the lock with it
            self._connection = None
            return False

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None


# --- the process ------------------------------------------------------------------------------

#: What a firing needs, set when this process starts leading (APScheduler stores the job by
#: reference to :func:`fire` and its id, so nothing else can travel through the job store).
_RUNTIME: dict[str, Any] = {}


def fire(job_id: str) -> None:
    """One firing of a job: its scheduled time from its trigger, then run once."""
    spec: JobSpec = _RUNTIME["specs"][job_id]
    schedule: Schedule = _RUNTIME["schedules"][job_id]
    clock: Callable[[], dt.datetime] = _RUNTIME["clock"]
    sessions: sessionmaker[Session] = _RUNTIME["sessions"]
    if not spec.records_runs:
        with sessions.begin() as session:
            summary = spec.work(session, clock(), False)
        log.debug("%s: %s", job_id, summary)
        return
    lookback = dt.timedelta(seconds=schedule.grace_s) + LOOKBACK_SLACK
    scheduled_for = schedule.latest_fire_time(dt.datetime.now(dt.UTC), lookback=lookback)
    if scheduled_for is None:
        return
    outcome = jobs.run_once(
        sessions,
        job_id,
        scheduled_for,
        lambda session: spec.work(session, clock(), False),
        clock=clock,
    )
    if outcome.ran_here:
        log.info("%s at %s: %s %s", job_id, scheduled_for.isoformat(), outcome.status,
                 outcome.summary or outcome.error)  # fmt: skip


def start_jobs(
    engine: Engine,
    sessions: sessionmaker[Session],
    specs: list[JobSpec],
    *,
    clock: Callable[[], dt.datetime] = utcnow,
) -> BackgroundScheduler:
    """Start APScheduler with the jobs (stable ids, coalesced, one instance, a grace time),
    each on its effective schedule and paused where a planner paused it."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        executors={"default": ThreadPoolExecutor(4)},
        timezone=dt.UTC,
    )
    with sessions() as session:
        schedules = effective_schedules(session, specs)
    _RUNTIME.update(scheduler=scheduler, specs={s.id: s for s in specs}, sessions=sessions,
                    clock=clock, schedules={k: v[0] for k, v in schedules.items()})  # fmt: skip
    scheduler.start(paused=True)
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
    for spec in specs:
        schedule, paused = schedules[spec.id]
        scheduler.add_job(
            fire,
            schedule.trigger(),
            args=[spec.id],
            id=spec.id,
            name=spec.title,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=schedule.grace_s,
        )
        if paused:
            scheduler.pause_job(spec.id)
    scheduler.resume()
    return scheduler


# --- commands from the console --------------------------------------------------------------


class CommandRunner:
    """Carries out queued commands while this process leads (see :mod:`wms.commands`)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        scheduler: BackgroundScheduler,
        specs: list[JobSpec],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        workers: int = 2,
    ) -> None:
        self.sessions = sessions
        self.scheduler = scheduler
        self.specs = specs
        self.clock = clock
        self.pool = CommandPool(max_workers=workers, thread_name_prefix="command")

    def poll(self) -> int:
        """Take every queued command in turn; return how many were taken."""
        with self.sessions() as session:
            queued = list(
                session.scalars(
                    select(JobCommand.id)
                    .where(JobCommand.status == JobCommandStatus.QUEUED)
                    .order_by(JobCommand.id)
                    .limit(50)
                )
            )
        taken = 0
        for command_id in queued:
            command = self._claim(command_id)
            if command is None:
                continue
            taken += 1
            if command.kind.value in ("pause", "resume", "reschedule"):
                self._apply(command)
            else:
                self.pool.submit(self._work, command)
        return taken

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait)

    def _claim(self, command_id: int) -> JobCommand | None:
        """Queued → running, by one process only (a conditional update)."""
        now = self.clock()
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(JobCommand)
                .where(JobCommand.id == command_id, JobCommand.status == JobCommandStatus.QUEUED)
                .values(status=JobCommandStatus.RUNNING, started_at=now)
            )
            if not getattr(claimed, "rowcount", 0):
                return None
            command = session.get(JobCommand, command_id)
            assert command is not None
            session.expunge(command)
            return command

    def _finish(
        self,
        command_id: int,
        status: JobCommandStatus,
        *,
        summary: str = "",
        error: str = "",
        result: dict[str, Any] | None = None,
    ) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(JobCommand)
                .where(JobCommand.id == command_id)
                .values(
                    status=status,
                    finished_at=self.clock(),
                    summary=summary[:4000],
                    error=error[:4000],
                    result=result,
                )
            )

    def _apply(self, command: JobCommand) -> None:
        """Pause, resume or reschedule a job in APScheduler and in ``job_schedule``."""
        spec = spec_for(self.specs, command.job_id)
        if spec is None:
            self._finish(command.id, JobCommandStatus.FAILED, error=f"no job {command.job_id!r}")
            return
        # APScheduler first, outside our transaction (on SQLite its job store writes through
        # another connection, which our open write would lock out); then the kept schedule.
        try:
            with self.sessions() as session:
                row = session.get(JobSchedule, spec.id)
                paused = row.paused if row is not None else False
                schedule = (
                    Schedule(every_s=row.every_s, cron=row.cron, timezone=row.timezone)
                    if row is not None
                    else spec.schedule
                )
            if command.kind is JobCommandKind.PAUSE:
                paused, summary = True, "paused"
                self.scheduler.pause_job(spec.id)
            elif command.kind is JobCommandKind.RESUME:
                paused, summary = False, "resumed"
                self.scheduler.resume_job(spec.id)
            else:
                schedule = Schedule.parse(
                    every_s=command.payload.get("every_s"),
                    cron=command.payload.get("cron"),
                    timezone=str(command.payload.get("timezone") or "UTC"),
                )
                self.scheduler.modify_job(spec.id, misfire_grace_time=schedule.grace_s)
                self.scheduler.reschedule_job(spec.id, trigger=schedule.trigger())
                if paused:
                    self.scheduler.pause_job(spec.id)
                _RUNTIME["schedules"][spec.id] = schedule
                summary = f"schedule now {schedule.in_words()}"
        except (WmsError, JobLookupError) as exc:
            self._finish(command.id, JobCommandStatus.FAILED, error=str(exc))
            return
        with self.sessions.begin() as session:
            row = session.get(JobSchedule, spec.id, with_for_update=True)
            if row is None:
                row = JobSchedule(job_id=spec.id)
                session.add(row)
            row.every_s, row.cron, row.timezone = schedule.every_s, schedule.cron, schedule.timezone
            row.paused = paused
            row.updated_by = command.requested_by
            row.updated_at = self.clock()
        self._finish(command.id, JobCommandStatus.SUCCEEDED, summary=summary)

    def _work(self, command: JobCommand) -> None:
        """Run now, dry run or a task, recorded as a job run linked to the command."""
        try:
            self._work_unsafe(command)
        except Exception as exc:  # the pool must never swallow a command silently
            log.exception("command %s failed", command.id)
            self._finish(command.id, JobCommandStatus.FAILED, error=str(exc))

    def _work_unsafe(self, command: JobCommand) -> None:
        result: dict[str, Any] = {}
        if command.kind is JobCommandKind.TASK:
            task = commands.task_for(command.job_id)
            if task is None:
                self._finish(command.id, JobCommandStatus.FAILED,
                             error=f"no on-demand task {command.job_id!r}")  # fmt: skip
                return

            def work(session: Session) -> str:
                summary, produced = task(session, self.clock(), command.payload)
                result.update(produced)
                return summary

        else:
            spec = spec_for(self.specs, command.job_id)
            if spec is None:
                self._finish(command.id, JobCommandStatus.FAILED,
                             error=f"no job {command.job_id!r}")  # fmt: skip
                return
            dry_run = command.kind is JobCommandKind.DRY_RUN

            def work(session: Session) -> str:
                if not dry_run:
                    return spec.work(session, self.clock(), False)
                savepoint = session.begin_nested()
                try:
                    return "dry run: " + spec.work(session, self.clock(), True)
                finally:
                    savepoint.rollback()  # whatever the job wrote, a dry run keeps none of it

        def link(session: Session, run_id: int) -> None:
            session.execute(
                update(JobCommand).where(JobCommand.id == command.id).values(run_id=run_id)
            )

        outcome = jobs.run_once(
            self.sessions,
            commands.run_job_id(command),
            command.requested_at,
            work,
            clock=self.clock,
            actor=command.requested_by,
            on_claim=link,
        )
        if not outcome.ran_here:
            self._finish(command.id, JobCommandStatus.FAILED, error="this command ran already")
            return
        status = (
            JobCommandStatus.SUCCEEDED
            if outcome.status is JobRunStatus.SUCCEEDED
            else JobCommandStatus.FAILED
        )
        self._finish(command.id, status, summary=outcome.summary, error=outcome.error,
                     result=result or None)  # fmt: skip


def run(
    engine: Engine,
    sessions: sessionmaker[Session],
    config: dict[str, Any],
    instance_path: str,
    *,
    stop: threading.Event,
    say: Callable[[str], None] = print,
) -> None:
    """Lead or stand by until ``stop`` is set; lead again whenever the lock comes free."""
    poll = float(config.get("SCHEDULER_POLL_S", 2))
    # The outbox job delivers through the handlers of this process: register them here, in
    # the scheduler process only (web workers never drain the outbox).
    webhooks.register_delivery(config)
    register_tasks(config)  # on-demand tasks (route planning) run here
    command_poll = float(config.get("SCHEDULER_COMMAND_POLL_S", 1))
    leadership = Leadership(engine, instance_path)
    scheduler: BackgroundScheduler | None = None
    runner: CommandRunner | None = None
    checked = 0.0
    say(f"scheduler {jobs.worker_name()}: standing by")
    try:
        while not stop.is_set():
            now = dt.datetime.now(dt.UTC).timestamp()
            if scheduler is None and leadership.try_acquire():
                with sessions() as session:
                    specs = job_specs(config, session)
                scheduler = start_jobs(engine, sessions, specs)
                runner = CommandRunner(sessions, scheduler, specs)
                checked = now
                say(f"scheduler {jobs.worker_name()}: leading, {len(specs)} job(s)")
            elif scheduler is not None and now - checked >= poll:
                checked = now
                if not leadership.still_held():
                    scheduler.shutdown(wait=False)
                    scheduler = None
                    if runner is not None:
                        runner.shutdown(wait=False)
                        runner = None
                    say(f"scheduler {jobs.worker_name()}: lost the lead, standing by")
            if runner is not None:
                try:
                    runner.poll()
                except Exception:  # the database may be away a moment; poll again
                    log.exception("taking commands failed")
            stop.wait(command_poll if scheduler is not None else poll)
    finally:
        if runner is not None:
            runner.shutdown(wait=True)
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        leadership.release()
        say(f"scheduler {jobs.worker_name()}: stopped")

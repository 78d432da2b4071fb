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

Jobs (intervals from ``WMS_SCHEDULER_*``):

- ``replenish:<site>`` per front warehouse, every 15 minutes: pick-face replenishment;
- ``sweep-runs`` every minute: runs left running by a dead process become ``abandoned``;
- ``housekeeping`` hourly: expired idempotency records and job runs older than 30 days go;
- ``heartbeat`` every minute: a run that says the scheduler is alive.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from wms import jobs, replenishment
from wms.models import IdempotencyRecord, JobRun, Site, SiteKind, utcnow

log = logging.getLogger("wms.scheduler")

#: Interval jobs fire at EPOCH + k x interval, in every process alike.
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
#: The advisory lock the leader holds on PostgreSQL ("wms" and 1).
LOCK_KEY = 0x776D7301
LOCK_FILE = "scheduler.lock"
KEEP_RUNS = dt.timedelta(days=30)

Work = Callable[[Session, dt.datetime], str]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job the scheduler fires: its stable id, how often, and its unit of work."""

    id: str
    every: dt.timedelta
    work: Work

    @property
    def grace_s(self) -> int:
        """A firing later than this is skipped (the next one comes soon): half the interval."""
        return max(1, int(self.every.total_seconds() // 2))


def job_specs(config: dict[str, Any], sessions: sessionmaker[Session]) -> list[JobSpec]:
    """The jobs, from the configuration and the network's front warehouses."""
    seconds = dt.timedelta(seconds=1)
    abandoned_after = float(config.get("SCHEDULER_ABANDONED_AFTER_S", 300)) * seconds

    def sweep(session: Session, now: dt.datetime) -> str:
        swept = jobs.sweep_abandoned(session, now=now, older_than=abandoned_after)
        return f"{len(swept)} abandoned run(s) swept" + (f": {swept}" if swept else "")

    def housekeeping(session: Session, now: dt.datetime) -> str:
        expired = list(
            session.scalars(select(IdempotencyRecord.id).where(IdempotencyRecord.expires_at <= now))
        )
        old = list(session.scalars(select(JobRun.id).where(JobRun.started_at < now - KEEP_RUNS)))
        if expired:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(expired)))
        if old:
            session.execute(delete(JobRun).where(JobRun.id.in_(old)))
        return (
            f"{len(expired)} expired idempotency record(s), "
            f"{len(old)} job run(s) older than 30 days"
        )

    specs = [
        JobSpec("heartbeat", float(config.get("SCHEDULER_HEARTBEAT_S", 60)) * seconds,
                lambda session, now: "alive"),
        JobSpec("sweep-runs", float(config.get("SCHEDULER_SWEEP_S", 60)) * seconds, sweep),
        JobSpec("housekeeping", dt.timedelta(hours=1), housekeeping),
    ]  # fmt: skip
    every = float(config.get("SCHEDULER_REPLENISH_MINUTES", 15)) * 60 * seconds
    with sessions() as session:
        sites = session.execute(
            select(Site.id, Site.code).where(Site.kind == SiteKind.FRONT_WAREHOUSE)
        ).all()
    for site_id, code in sites:
        specs.append(JobSpec(f"replenish:{code}", every, _replenish(site_id)))
    return specs


def _replenish(site_id: int) -> Work:
    def work(session: Session, now: dt.datetime) -> str:
        return replenishment.replenish(session, site_id, now=now).summary

    return work


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
    """One firing of a job: its scheduled time from the job store, then run once."""
    scheduler: BackgroundScheduler = _RUNTIME["scheduler"]
    spec: JobSpec = _RUNTIME["specs"][job_id]
    clock: Callable[[], dt.datetime] = _RUNTIME["clock"]
    job = scheduler.get_job(job_id)
    if job is None or job.next_run_time is None:
        return
    # The store already holds the next time: this firing's is one interval before it.
    scheduled_for = job.next_run_time.astimezone(dt.UTC) - spec.every
    outcome = jobs.run_once(
        _RUNTIME["sessions"],
        job_id,
        scheduled_for,
        lambda session: spec.work(session, clock()),
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
    """Start APScheduler with the jobs (stable ids, coalesced, one instance, a grace time)."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        executors={"default": ThreadPoolExecutor(4)},
        timezone=dt.UTC,
    )
    _RUNTIME.update(scheduler=scheduler, specs={s.id: s for s in specs}, sessions=sessions,
                    clock=clock)  # fmt: skip
    scheduler.start(paused=True)
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
    for spec in specs:
        scheduler.add_job(
            fire,
            IntervalTrigger(seconds=spec.every.total_seconds(), start_date=EPOCH, timezone=dt.UTC),
            args=[spec.id],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.grace_s,
        )
    scheduler.resume()
    return scheduler


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
    leadership = Leadership(engine, instance_path)
    scheduler: BackgroundScheduler | None = None
    say(f"scheduler {jobs.worker_name()}: standing by")
    try:
        while not stop.is_set():
            if scheduler is None and leadership.try_acquire():
                specs = job_specs(config, sessions)
                scheduler = start_jobs(engine, sessions, specs)
                say(f"scheduler {jobs.worker_name()}: leading, {len(specs)} job(s)")
            elif scheduler is not None and not leadership.still_held():
                scheduler.shutdown(wait=False)
                scheduler = None
                say(f"scheduler {jobs.worker_name()}: lost the lead, standing by")
            stop.wait(poll)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        leadership.release()
        say(f"scheduler {jobs.worker_name()}: stopped")

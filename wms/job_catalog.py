"""The scheduled jobs: their stable ids, default schedules and units of work.

Shared by the scheduler process (which fires them) and the console (which shows them, and
queues run-now, dry-run, pause, resume and schedule edits as command rows). A job's unit of
work is a plain function of a Session, the time and a dry-run flag, returning a one-line
summary; the caller owns the transaction (a dry run's is rolled back whatever the job does).

Default schedules come from the configuration (``WMS_SCHEDULER_*``, ``WMS_WAVE_RELEASE_CRON``,
...); a planner's edit is kept in ``job_schedule`` and wins over the default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wms import jobs, outbox, replenishment, waves
from wms.db import reading_beside
from wms.models import (
    IdempotencyRecord,
    JobCommand,
    JobCommandStatus,
    JobRun,
    JobSchedule,
    Site,
    SiteKind,
)
from wms.schedules import Schedule

KEEP_RUNS = dt.timedelta(days=30)

#: A job's unit of work: (session, now, dry_run) → summary.
Work = Callable[[Session, dt.datetime, bool], str]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job the scheduler fires: stable id, what it is for, default schedule, unit of work.

    ``records_runs=False`` is for the outbox drain, which polls every few seconds and is safe to
    fire twice (each event is claimed on its own): it keeps no job run per firing.
    """

    id: str
    title: str
    schedule: Schedule
    work: Work
    site_code: str | None = None
    records_runs: bool = True


def job_specs(config: Mapping[str, Any], session: Session) -> list[JobSpec]:
    """Every job, from the configuration and the network's sites."""
    seconds = dt.timedelta(seconds=1)
    abandoned_after = float(config.get("SCHEDULER_ABANDONED_AFTER_S", 300)) * seconds

    def every(key: str, default: float) -> Schedule:
        return Schedule(every_s=max(1, int(float(config.get(key, default)))))

    def sweep(session: Session, now: dt.datetime, dry_run: bool) -> str:
        swept = jobs.sweep_abandoned(session, now=now, older_than=abandoned_after)
        failed = jobs.sweep_commands(session, now=now, older_than=abandoned_after)
        return (
            f"{len(swept)} abandoned run(s) swept"
            + (f": {swept}" if swept else "")
            + (f"; {len(failed)} command(s) of dead runs failed" if failed else "")
        )

    specs = [
        JobSpec("heartbeat", "Heartbeat: the scheduler is alive",
                every("SCHEDULER_HEARTBEAT_S", 60), lambda session, now, dry_run: "alive"),
        JobSpec("sweep-runs", "Sweep runs left by a dead scheduler process",
                every("SCHEDULER_SWEEP_S", 60), sweep),
        JobSpec("housekeeping", "Housekeeping: expired idempotency records, old job runs",
                Schedule(every_s=3600), _housekeeping),
        JobSpec("outbox", "Deliver the outbox (webhooks)", every("SCHEDULER_OUTBOX_S", 5),
                _drain_outbox, records_runs=False),
    ]  # fmt: skip
    sites = session.execute(select(Site.id, Site.code, Site.kind, Site.timezone)).all()
    dc_zone = next((zone for _, _, kind, zone in sites if kind is SiteKind.CENTRAL_DC), "UTC")
    specs.append(
        JobSpec("transfers", "DC → front-warehouse transfers from the demand forecast",
                Schedule(cron=str(config.get("TRANSFER_CRON", "0 4 * * *")), timezone=dc_zone),
                _transfers(config))
    )  # fmt: skip
    specs.append(
        JobSpec("trunk-routes", "Trunk routes: the DC's lorries to the front warehouses",
                Schedule(cron=str(config.get("TRUNK_CRON", "30 4 * * *")), timezone=dc_zone),
                _trunk_routes(config))
    )  # fmt: skip
    specs.append(
        JobSpec("expiry-sweep", "Expiry sweep: hold stock near its expiry, flag what comes next",
                Schedule(cron=str(config.get("EXPIRY_CRON", "30 4 * * *")), timezone=dc_zone),
                _expiry(config))
    )  # fmt: skip
    replenish_every = max(1, int(float(config.get("SCHEDULER_REPLENISH_MINUTES", 15)) * 60))
    release_cron = str(config.get("WAVE_RELEASE_CRON", "*/10 * * * *"))
    slotting_cron = str(config.get("SLOTTING_CRON", "0 3 * * 1"))
    plan_every = max(60, int(float(config.get("DELIVERY_PLAN_EVERY_MINUTES", 10)) * 60))
    for site_id, code, kind, zone in sites:
        if kind is not SiteKind.FRONT_WAREHOUSE:
            continue
        specs += [
            JobSpec(f"replenish:{code}", f"Pick-face replenishment at {code}",
                    Schedule(every_s=replenish_every), _replenish(site_id), code),
            JobSpec(f"release-waves:{code}", f"Wave release at the cut-offs of {code}",
                    Schedule(cron=release_cron, timezone=zone), _release_waves(site_id, config),
                    code),
            JobSpec(f"slotting-review:{code}", f"Slotting review at {code}",
                    Schedule(cron=slotting_cron, timezone=zone), _slotting(site_id), code),
            JobSpec(f"plan-routes:{code}", f"Delivery routes of the coming windows at {code}",
                    Schedule(every_s=plan_every), _plan_routes(site_id, config), code),
        ]  # fmt: skip
    return specs


def effective_schedules(session: Session, specs: list[JobSpec]) -> dict[str, tuple[Schedule, bool]]:
    """Each job's schedule and paused flag: the planner's edit where there is one."""
    edits = {row.job_id: row for row in session.scalars(select(JobSchedule))}
    result: dict[str, tuple[Schedule, bool]] = {}
    for spec in specs:
        row = edits.get(spec.id)
        if row is None:
            result[spec.id] = (spec.schedule, False)
        else:
            schedule = Schedule(every_s=row.every_s, cron=row.cron, timezone=row.timezone)
            result[spec.id] = (schedule, row.paused)
    return result


def spec_for(specs: list[JobSpec], job_id: str) -> JobSpec | None:
    return next((spec for spec in specs if spec.id == job_id), None)


# --- units of work ------------------------------------------------------------------------------


def _housekeeping(session: Session, now: dt.datetime, dry_run: bool) -> str:
    expired = list(
        session.scalars(select(IdempotencyRecord.id).where(IdempotencyRecord.expires_at <= now))
    )
    old = list(session.scalars(select(JobRun.id).where(JobRun.started_at < now - KEEP_RUNS)))
    done = (JobCommandStatus.SUCCEEDED, JobCommandStatus.FAILED)
    old_commands = list(
        session.scalars(
            select(JobCommand.id).where(
                JobCommand.status.in_(done), JobCommand.requested_at < now - KEEP_RUNS
            )
        )
    )
    if not dry_run:
        if expired:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(expired)))
        if old_commands:
            session.execute(delete(JobCommand).where(JobCommand.id.in_(old_commands)))
        if old:
            session.execute(delete(JobRun).where(JobRun.id.in_(old)))
    verb = "would remove" if dry_run else "removed"
    return (
        f"{verb} {len(expired)} expired idempotency record(s), "
        f"{len(old)} job run(s) and {len(old_commands)} command(s) older than 30 days"
    )


def _drain_outbox(session: Session, now: dt.datetime, dry_run: bool) -> str:
    if dry_run:
        return f"{outbox.pending_count(session, now=now)} event(s) due for delivery"
    return outbox.drain(session, now=now).summary


def _replenish(site_id: int) -> Work:
    def work(session: Session, now: dt.datetime, dry_run: bool) -> str:
        return replenishment.replenish(session, site_id, now=now, dry_run=dry_run).summary

    return work


def _release_waves(site_id: int, config: Mapping[str, Any]) -> Work:
    settings = waves.WaveSettings.from_config(config)

    def work(session: Session, now: dt.datetime, dry_run: bool) -> str:
        plan = waves.plan_wave(session, site_id, settings=settings, now=now, lock=not dry_run)
        skipped = f"; {len(plan.skipped)} order(s) left out" if plan.skipped else ""
        if plan.wave is None:
            return "no order due at this cut-off" + skipped
        wave = plan.wave
        what = (
            f"{wave.orders_count} order(s), {wave.lines_count} line(s), "
            f"{len(wave.pick_lists)} pick list(s), walk {wave.walk_m:.0f} m"
        )
        if dry_run:
            return f"would release a wave of {what}{skipped}"
        waves.release_wave(session, wave.id, now=now)
        return f"released wave {wave.number}: {what}{skipped}"

    return work


def _transfers(config: Mapping[str, Any]) -> Work:
    def work(session: Session, now: dt.datetime, dry_run: bool) -> str:
        from wms import transfers

        settings = transfers.TransferSettings.from_config(config)
        # The forecast (a model fit per item and site, a minute or two on a city network) is
        # made first, in a read transaction: on SQLite a write one would lock out the floor.
        with reading_beside(session) as reading:
            forecasts = transfers.forecast_network(reading, now=now, settings=settings)
        plan = transfers.plan_transfers(
            session, now=now, settings=settings, dry_run=dry_run, forecasts=forecasts
        )
        return plan.summary

    return work


def _expiry(config: Mapping[str, Any]) -> Work:
    def work(session: Session, now: dt.datetime, dry_run: bool) -> str:
        from wms import expiry

        settings = expiry.ExpirySettings.from_config(config)
        return expiry.sweep_expiry(session, now=now, settings=settings, dry_run=dry_run).summary

    return work


def _plan_routes(site_id: int, config: Mapping[str, Any]) -> Work:
    def work(session: Session, now: dt.datetime, dry_run: bool) -> str:
        from zoneinfo import ZoneInfo

        from wms import delivery

        settings = delivery.DeliverySettings.from_config(config)
        provider = delivery.matrix_provider(config)
        site = session.get(Site, site_id)
        if site is None:
            return "the site is gone"
        done = []
        for start, end in delivery.upcoming_windows(
            now, zone=ZoneInfo(site.timezone), settings=settings
        ):
            if not delivery.needs_planning(session, site_id, window_start=start, window_end=end):
                continue
            plan = delivery.plan_window_beside(
                session, site_id, window_start=start, window_end=end, now=now,
                actor=f"job:plan-routes:{site.code}", settings=settings, provider=provider,
            )  # fmt: skip
            done.append(plan.summary)
        verb = "would plan" if dry_run else "planned"
        return f"{verb} " + "; ".join(done) if done else "every coming window is planned"

    return work


def _trunk_routes(config: Mapping[str, Any]) -> Work:
    def work(session: Session, now: dt.datetime, dry_run: bool) -> str:
        from wms import delivery

        dc = session.scalars(select(Site).where(Site.kind == SiteKind.CENTRAL_DC)).first()
        if dc is None:
            return "no central DC"
        plan = delivery.plan_trunk(
            session, dc.id, now=now, actor="job:trunk-routes",
            settings=delivery.DeliverySettings.from_config(config),
            provider=delivery.matrix_provider(config),
        )  # fmt: skip
        return ("would plan " if dry_run else "planned ") + plan.summary

    return work


def register_tasks(config: Mapping[str, Any]) -> None:
    """Make the on-demand tasks runnable (the web app queues them, the scheduler runs them)."""
    from wms import commands, delivery

    commands.register_task(delivery.PLAN_TASK, delivery.plan_task(config))


def _slotting(site_id: int) -> Work:
    def work(session: Session, now: dt.datetime, dry_run: bool) -> str:
        from wms import slotting

        return slotting.review_slotting(session, site_id=site_id, now=now).summary

    return work

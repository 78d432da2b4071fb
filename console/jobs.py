"""Console pages for the scheduled jobs: schedules, next fire times, run now, dry run, pause,
resume, schedule edits, and the run history.

Nothing here touches APScheduler: every action is a command row (``wms.commands``) that the
scheduler leader carries out within a second or two. The pages say so when it is not running.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.auth import actor, planner_required
from console.views import bp
from wms import commands
from wms.db import transaction
from wms.errors import NotFound, RuleViolation
from wms.job_catalog import JobSpec, effective_schedules, job_specs, spec_for
from wms.models import JobCommandKind, JobRun, JobRunStatus, utcnow
from wms.schedules import Schedule

#: The heartbeat job fires every minute; older than this, the scheduler is not running.
SCHEDULER_SILENT_AFTER = dt.timedelta(minutes=3)
ACTIONS = {
    "run": (JobCommandKind.RUN, "Run now"),
    "dry-run": (JobCommandKind.DRY_RUN, "Dry run"),
    "pause": (JobCommandKind.PAUSE, "Pause"),
    "resume": (JobCommandKind.RESUME, "Resume"),
}


def _specs(session: Session) -> list[JobSpec]:
    return job_specs(current_app.config, session)


def _local(moment: dt.datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M:%S")


def scheduler_state(session: Session, now: dt.datetime) -> dict[str, Any]:
    """When the scheduler last said it was alive, and whether that is recent."""
    beat = session.scalar(
        select(JobRun.finished_at)
        .where(JobRun.job_id == "heartbeat", JobRun.status == JobRunStatus.SUCCEEDED)
        .order_by(JobRun.id.desc())
        .limit(1)
    )
    return {"last_beat": beat, "alive": beat is not None and now - beat < SCHEDULER_SILENT_AFTER}


def _job_rows(session: Session, specs: list[JobSpec], now: dt.datetime) -> list[dict[str, Any]]:
    schedules = effective_schedules(session, specs)
    last = commands.last_runs(session, [spec.id for spec in specs])
    pending = {
        (c.job_id, c.kind): c
        for c in commands.recent(session, limit=200)
        if c.status in commands.IN_FLIGHT
    }
    rows = []
    for spec in specs:
        schedule, paused = schedules[spec.id]
        rows.append(
            {
                "spec": spec,
                "schedule": schedule,
                "paused": paused,
                "zone": schedule.timezone,
                "next": [] if paused else schedule.next_times(now, 5),
                "last": last.get(spec.id),
                "pending": [c for (job, _), c in pending.items() if job == spec.id],
            }
        )
    return rows


@bp.get("/jobs")
@planner_required
def jobs() -> str:
    """Every job: its schedule in words, next five fire times, last run, and its actions."""
    now = utcnow()
    with transaction(readonly=True) as session:
        specs = _specs(session)
        rows = _job_rows(session, specs, now)
        state = scheduler_state(session, now)
    return render_template(
        "console/jobs.html", rows=rows, state=state, local=_local, actions=ACTIONS, now=now
    )


@bp.get("/jobs/<path:job_id>")
@planner_required
def job(job_id: str) -> str:
    """One job: schedule, the edit form, its commands (dry-run answers) and run history."""
    return _job_page(job_id)


def _job_page(
    job_id: str, *, form: dict[str, str] | None = None, error: RuleViolation | None = None
) -> Any:
    now = utcnow()
    with transaction(readonly=True) as session:
        specs = _specs(session)
        spec = spec_for(specs, job_id)
        if spec is None:
            abort(404, description=f"There is no job {job_id!r}.")
        row = _job_rows(session, [spec], now)[0]
        recent = commands.recent(session, job_id=job_id, limit=15)
        history = commands.runs(session, job_id=job_id, limit=50)
        state = scheduler_state(session, now)
    schedule: Schedule = row["schedule"]
    form = form or {
        "every_s": str(schedule.every_s or ""),
        "cron": schedule.cron or "",
        "timezone": schedule.timezone,
    }
    page = render_template(
        "console/job.html",
        row=row,
        commands=recent,
        history=history,
        state=state,
        local=_local,
        actions=ACTIONS,
        form=form,
        error=error,
    )
    return (page, 422) if error is not None else page


@bp.post("/jobs/<path:job_id>/<any(run, 'dry-run', pause, resume):action>")
@planner_required
def job_action(job_id: str, action: str) -> Response:
    """Queue run now, dry run, pause or resume; a run already in flight is not queued twice."""
    kind, label = ACTIONS[action]
    with transaction() as session:
        known = {spec.id for spec in _specs(session)}
        try:
            submitted = commands.submit(session, job_id, kind, actor=actor(), known_jobs=known)
        except NotFound:
            abort(404, description=f"There is no job {job_id!r}.")
        command_id = submitted.command.id
    if submitted.created:
        flash(
            f"{label} of {job_id} asked (command {command_id}); the scheduler takes it in a moment."
        )
    else:
        flash(f"{label} of {job_id} is already under way (command {command_id}): not asked twice.")
    return redirect(_back(job_id))


@bp.post("/jobs/<path:job_id>/schedule")
@planner_required
def job_schedule(job_id: str) -> Any:
    """Change a job's schedule: an interval in seconds, or a cron expression and time zone."""
    form = {
        "every_s": request.form.get("every_s", ""),
        "cron": request.form.get("cron", ""),
        "timezone": request.form.get("timezone", "") or "UTC",
    }
    try:
        schedule = commands.check_schedule_form(form["every_s"], form["cron"], form["timezone"])
    except RuleViolation as refused:
        return _job_page(job_id, form=form, error=refused)
    payload = {"every_s": schedule.every_s, "cron": schedule.cron, "timezone": schedule.timezone}
    with transaction() as session:
        known = {spec.id for spec in _specs(session)}
        try:
            command = commands.submit(session, job_id, JobCommandKind.RESCHEDULE, actor=actor(),
                                      known_jobs=known, payload=payload).command  # fmt: skip
        except NotFound:
            abort(404, description=f"There is no job {job_id!r}.")
        command_id = command.id
    flash(f"New schedule for {job_id} asked (command {command_id}): {schedule.in_words()}.")
    return redirect(url_for("console.job", job_id=job_id))


def _back(job_id: str) -> str:
    target = request.form.get("back", "")
    if target == "job":
        return url_for("console.job", job_id=job_id)
    return url_for("console.jobs")


@bp.get("/runs")
@planner_required
def runs() -> str:
    """Run history of every job, newest first; failures highlighted, filter by status."""
    wanted = request.args.get("status") or None
    status = None
    if wanted is not None:
        try:
            status = JobRunStatus(wanted)
        except ValueError:
            abort(400, description=f"Unknown status {wanted!r}.")
    before = request.args.get("before", type=int)
    with transaction(readonly=True) as session:
        history = commands.runs(session, status=status, before_id=before, limit=100)
    older = history[-1].id if len(history) == 100 else None
    return render_template(
        "console/runs.html",
        history=history,
        status=wanted,
        statuses=[s.value for s in JobRunStatus],
        older=older,
        local=_local,
    )

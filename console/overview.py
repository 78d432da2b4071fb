"""The console's first page: is the scheduler alive, what failed, what waits for a planner."""

from __future__ import annotations

from flask import render_template

from console.auth import planner_required
from console.jobs import _job_rows, _local, _specs, scheduler_state
from console.views import bp
from wms.db import transaction
from wms.models import JobRunStatus, utcnow


@bp.get("/")
@planner_required
def index() -> str:
    """Scheduler state, jobs whose last run failed, and links to the planner's pages."""
    now = utcnow()
    with transaction(readonly=True) as session:
        specs = _specs(session)
        rows = _job_rows(session, specs, now)
        state = scheduler_state(session, now)
    failing = [row for row in rows if row["last"] and row["last"].status in (
        JobRunStatus.FAILED, JobRunStatus.ABANDONED)]  # fmt: skip
    paused = [row for row in rows if row["paused"]]
    return render_template(
        "console/overview.html", state=state, failing=failing, paused=paused, jobs=len(rows),
        local=_local,
    )  # fmt: skip

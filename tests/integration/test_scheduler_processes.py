"""Two `wms scheduler` processes: one leads (a PostgreSQL advisory lock, a file lock on
SQLite), every firing runs once, and when the leader is killed the other takes over and sweeps
what the dead one left running."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from wms import migrate
from wms.db import make_engine, make_sessions
from wms.models import JobRun, JobRunStatus, utcnow

pytestmark = pytest.mark.slow


def start(url: str, folder: Path, name: str) -> tuple[subprocess.Popen[str], Path]:
    out = folder / f"{name}.log"
    env = {
        **os.environ,
        "WMS_DATABASE_URL": url,
        # One instance folder, as on one machine: on SQLite the lock file is there.
        "WMS_INSTANCE_PATH": str(folder / "instance"),
        "WMS_SCHEDULER_HEARTBEAT_S": "1",
        "WMS_SCHEDULER_SWEEP_S": "1",
        "WMS_SCHEDULER_POLL_S": "0.5",
        "WMS_SCHEDULER_ABANDONED_AFTER_S": "2",
    }
    wms = Path(sys.executable).with_name("wms")
    handle = out.open("w")
    process = subprocess.Popen(
        [str(wms), "scheduler"], env=env, stdout=handle, stderr=subprocess.STDOUT, text=True
    )
    handle.close()
    return process, out


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s")
        time.sleep(0.2)


def heartbeats(sessions) -> list[JobRun]:
    with sessions() as session:
        return list(
            session.scalars(
                select(JobRun).where(JobRun.job_id == "heartbeat").order_by(JobRun.scheduled_for)
            )
        )


def test_one_leader_fires_each_moment_once_and_the_other_takes_over(new_database, tmp_path):
    url = new_database()
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_sessions(engine)
    first, first_log = start(url, tmp_path, "a")
    second, second_log = start(url, tmp_path, "b")
    processes = {"a": (first, first_log), "b": (second, second_log)}
    try:
        leading = lambda name: "leading" in processes[name][1].read_text()  # noqa: E731
        wait_for(lambda: leading("a") or leading("b"), 30, "a scheduler leads")
        leader = "a" if leading("a") else "b"
        other = "b" if leader == "a" else "a"
        time.sleep(20)  # a 1 s job for 20 s

        beats = heartbeats(sessions)
        assert not leading(other)
        assert len(beats) >= 15  # every firing ran (a busy machine may skip a few; none twice)
        assert len({run.worker for run in beats}) == 1  # the leader's alone
        times = [run.scheduled_for for run in beats]
        assert len(set(times)) == len(times)
        # Firings one interval apart (a firing the machine was too busy for may be skipped).
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= dt.timedelta(seconds=1) and gap.microseconds == 0 for gap in gaps)
        assert {run.status for run in beats} == {JobRunStatus.SUCCEEDED}

        processes[leader][0].send_signal(signal.SIGKILL)
        processes[leader][0].wait(timeout=10)
        # What the dead leader was running when it died.
        with sessions.begin() as session:
            left = JobRun(
                job_id="replenish:slow",
                scheduled_for=utcnow(),
                status=JobRunStatus.RUNNING,
                started_at=utcnow() - dt.timedelta(seconds=10),
                heartbeat_at=utcnow() - dt.timedelta(seconds=10),
                worker=beats[0].worker,
            )
            session.add(left)
            session.flush()
            left_id = left.id

        wait_for(lambda: leading(other), 30, "the other scheduler takes over")
        wait_for(
            lambda: len({run.worker for run in heartbeats(sessions)}) == 2,
            15,
            "heartbeats come from the new leader",
        )

        def swept() -> bool:
            with sessions() as session:
                run = session.get(JobRun, left_id)
                return run is not None and run.status is JobRunStatus.ABANDONED

        wait_for(swept, 15, "the dead leader's run is swept")
        after = heartbeats(sessions)
        times = [run.scheduled_for for run in after]
        assert len(set(times)) == len(times)
        # The job store's own table is not schema drift.
        migrate.check(engine)
    finally:
        for process, _log in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        engine.dispose()

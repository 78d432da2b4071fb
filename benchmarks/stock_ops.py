"""Pick confirmations per second, through the service layer and through HTTP, next to pgbench.

    python -m benchmarks.stock_ops [--quick] [--postgres URL] [--csv PATH] [--seconds N]

What it measures: full picks of pre-made allocations, each its own transaction, by 1 and by 8
client threads for ``--seconds`` per cell (default 15, ``--quick`` 3) after a 1 s warm-up:

- ``service``: ``with sessions.begin() as s: allocation.confirm_pick(s, id, quantity=q)``
  in-process, a new session per pick, serialization failures and deadlocks retried
  (``wms.retry.retrying``);
- ``http``: ``POST /api/v1/picks`` against the real server (``wms serve --workers 4``,
  gunicorn) with an integration bearer token and a new ``Idempotency-Key`` per request, one
  keep-alive ``http.client`` connection per client thread (gunicorn's sync workers close
  every connection anyway; the run prints how many were opened);
- ``pgbench`` (PostgreSQL only): the built-in TPC-B-like transaction, ``pgbench -i -s 10`` in a
  database of its own, then ``pgbench -T N -c C -j 2`` (latencies from its ``-l`` log): the
  server's ceiling for small write transactions on this machine.

Each backend gets a fresh database (SQLite in a temp dir; PostgreSQL when ``--postgres`` or
``WMS_TEST_DATABASE_URL`` names a server, where ``wms_bench_<hex>`` databases are created and
dropped), seeded with committed bulk inserts: one front warehouse, a zone, 400 pick faces, one
item and stock row per pick face (stock arrives as a receipt movement, so the ledger holds),
orders of 5 lines and one open allocation per line. Allocation is setup, not timed: the
allocations are written in bulk with ``Stock.reserved`` to match, and ``wms.check.verify`` must
hold before and after the run. Consecutive picks use different stock rows and order lines, so
the 8 clients seldom wait on one another's row locks: this is the per-transaction cost, not a
hot-spot test. For each client count pgbench, the service cell and the HTTP cell run back to
back, so that other work on the machine weighs on all three alike; every progress line shows
the 1-minute load average (compare runs only when it was similar).

How to read the ratio: ``ops/s ÷ pgbench TPS`` at the same client count. pgbench's transaction
is five statements and one commit, sent by a C client; a pick is eight statements and one
commit through the service layer, and through HTTP also a token lookup (its own read
transaction) and the idempotency record. So the ratio is the share of the database's capacity
for small write transactions that one pick confirmation reaches, Python included. The client
threads, gunicorn's workers and PostgreSQL share this machine's cores, so when Python's CPU per
pick is the bottleneck the ratio falls as cores get fewer; the gap between the ``service`` and
``http`` rows is what the web layer (auth, idempotency, JSON, the worker model) adds. Errors
must be 0: any exception or non-2xx answer counts and is printed.

Prints one table and writes CSV (default ``benchmarks/results/stock_ops.csv``); exits 1 when a
cell had errors or the stock invariants do not hold.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import logging
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from benchmarks._databases import postgres_database
from wms import allocation, check, migrate, tokens
from wms.db import make_engine, make_sessions
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    SlotSide,
    Stock,
    Temperature,
    TokenRole,
    Zone,
    utcnow,
)
from wms.retry import retrying

CLIENTS = (1, 8)
HTTP_WORKERS = 4
WARMUP_S = 1.0
#: Pick faces (and items, and stock rows): 10 aisles x 20 bays x 2 sides, one level.
AISLES, BAYS = 10, 20
SLOTS = AISLES * BAYS * 2
LINES_PER_ORDER = 5
OPENING_STOCK = 1_000_000
#: Allocations set aside per second of a cell, a ceiling on the rate a cell can show; a cell
#: that runs out stops early and says so (its ops/s stay valid over the time it ran).
POOL_RATE = {"service": 1500, "http": 600}
PGBENCH_SCALE = 10
PICKS_PATH = "/api/v1/picks"
CHUNK = 1000

console = Console(width=140)


@dataclass(frozen=True, slots=True)
class Pick:
    allocation_id: int
    quantity: int


@dataclass(slots=True)
class Cell:
    """One row of the table."""

    backend: str
    layer: str
    clients: int
    ops: int | None = None
    ops_per_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    ratio: float | None = None
    errors: int | None = None
    note: str = ""

    def as_csv(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "layer": self.layer,
            "clients": self.clients,
            "ops": self.ops,
            "ops_per_s": _round(self.ops_per_s, 1),
            "p50_ms": _round(self.p50_ms, 2),
            "p95_ms": _round(self.p95_ms, 2),
            "ratio_to_pgbench": _round(self.ratio, 3),
            "errors": self.errors,
            "note": self.note,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- seeding ------------------------------------------------------------------------------------


def _insert(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Bulk-insert rows, returning their ids in order."""
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        result = session.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True),
            list(rows[start : start + CHUNK]),
        )
        ids.extend(result.scalars().all())
    return ids


def _seed(sessions: sessionmaker[Session], allocations: int) -> tuple[int, list[Pick]]:
    """Write a front warehouse with stock (through the ledger) and open allocations."""
    now = utcnow()
    # Allocation k takes 1-3 units from stock row k % SLOTS: neighbours use different rows.
    quantities = [1 + k % 3 for k in range(allocations)]
    reserved = [0] * SLOTS
    for k, quantity in enumerate(quantities):
        reserved[k % SLOTS] += quantity
    with sessions.begin() as session:
        (site_id,) = _insert(
            session,
            Site,
            [
                {
                    "code": "BENCH-FW",
                    "name": "Benchmark front warehouse",
                    "kind": SiteKind.FRONT_WAREHOUSE,
                    "latitude": 52.52,
                    "longitude": 13.405,
                    "timezone": "Europe/Berlin",
                }
            ],
        )
        (zone_id,) = _insert(
            session,
            Zone,
            [
                {
                    "site_id": site_id,
                    "code": "AMB",
                    "name": "Ambient",
                    "temperature": Temperature.AMBIENT,
                }
            ],
        )
        item_ids = _insert(
            session,
            Item,
            [
                {"sku": f"BENCH-{i:04d}", "name": f"Benchmark item {i}", "length_mm": 100,
                 "width_mm": 80, "height_mm": 60, "weight_g": 250,
                 "temperature": Temperature.AMBIENT}
                for i in range(SLOTS)
            ],
        )  # fmt: skip
        faces = [
            (aisle, bay, side)
            for aisle in range(1, AISLES + 1)
            for bay in range(1, BAYS + 1)
            for side in (SlotSide.LEFT, SlotSide.RIGHT)
        ]
        slot_ids = _insert(
            session,
            Slot,
            [
                {"site_id": site_id, "zone_id": zone_id, "kind": SlotKind.PICK_FACE,
                 "barcode": f"BENCH-{aisle:02d}-{bay:02d}-{side.value}", "block": 1,
                 "aisle": aisle, "bay": bay, "side": side, "level": 1, "item_id": item_id}
                for (aisle, bay, side), item_id in zip(faces, item_ids, strict=True)
            ],
        )  # fmt: skip
        stock_ids = _insert(
            session,
            Stock,
            [
                {"slot_id": slot_id, "item_id": item_id, "lot": "", "on_hand": OPENING_STOCK,
                 "reserved": held, "received_at": now}
                for slot_id, item_id, held in zip(slot_ids, item_ids, reserved, strict=True)
            ],
        )  # fmt: skip
        operation_id = str(uuid.uuid4())
        _insert(
            session,
            Movement,
            [
                {"stock_id": stock_id, "kind": MovementKind.RECEIPT, "quantity": OPENING_STOCK,
                 "operation_id": operation_id, "reason": "benchmark opening stock",
                 "reference": "benchmark", "created_at": now}
                for stock_id in stock_ids
            ],
        )  # fmt: skip
        orders = -(-allocations // LINES_PER_ORDER)
        order_ids = _insert(
            session,
            Order,
            [
                {"number": f"BENCH-{j:07d}", "site_id": site_id, "customer_name": "Bench",
                 "address": "1 Benchmark Street", "latitude": 52.5, "longitude": 13.4,
                 "promised_start": now + dt.timedelta(hours=1),
                 "promised_end": now + dt.timedelta(hours=2), "status": OrderStatus.ALLOCATED}
                for j in range(orders)
            ],
        )  # fmt: skip
        line_ids = _insert(
            session,
            OrderLine,
            [
                {"order_id": order_ids[k // LINES_PER_ORDER],
                 "line_no": k % LINES_PER_ORDER + 1, "item_id": item_ids[k % SLOTS],
                 "quantity": quantity}
                for k, quantity in enumerate(quantities)
            ],
        )  # fmt: skip
        allocation_ids = _insert(
            session,
            Allocation,
            [
                {"order_line_id": line_id, "stock_id": stock_ids[k % SLOTS],
                 "quantity": quantity, "status": AllocationStatus.OPEN}
                for k, (line_id, quantity) in enumerate(zip(line_ids, quantities, strict=True))
            ],
        )  # fmt: skip
    return site_id, [Pick(a, q) for a, q in zip(allocation_ids, quantities, strict=True)]


def _verify(sessions: sessionmaker[Session], label: str) -> bool:
    with sessions() as session:
        report = check.verify(session)
    status = "[green]ok[/]" if report.ok else f"[red]{len(report.violations)} violation(s)[/]"
    console.print(
        f"{label}: wms.check.verify {status} ({report.stock_rows} stock rows, "
        f"{report.movements:,} movements, {report.open_allocations:,} open allocations)"
    )
    for violation in report.violations[:20]:
        console.print(f"  {violation}")
    return report.ok


# --- clients ------------------------------------------------------------------------------------


class Client(Protocol):
    def pick(self, pick: Pick) -> str | None:
        """Confirm one full pick; return None on success, else what went wrong."""

    def close(self) -> None: ...


class ServiceClient:
    """Calls the service layer: one transaction per pick, retried on concurrency refusals."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _confirm(self, pick: Pick) -> None:
        with self._sessions.begin() as session:
            allocation.confirm_pick(session, pick.allocation_id, quantity=pick.quantity)

    def pick(self, pick: Pick) -> str | None:
        try:
            retrying(lambda: self._confirm(pick))
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            return f"{type(exc).__name__}: {lines[0] if lines else ''}"
        return None

    def close(self) -> None:
        pass


class HttpClient:
    """POSTs picks over one HTTP connection, reopened only when the server closes it."""

    def __init__(self, port: int, token: str) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.connections = 0

    def pick(self, pick: Pick) -> str | None:
        body = json.dumps({"allocation_id": pick.allocation_id, "quantity": pick.quantity})
        headers = {**self._headers, "Idempotency-Key": str(uuid.uuid4())}
        try:
            if self._conn.sock is None:
                self.connections += 1
            self._conn.request("POST", PICKS_PATH, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            return f"{type(exc).__name__}: {exc}"
        if not 200 <= response.status < 300:
            return f"HTTP {response.status}: {data[:300].decode('utf-8', 'replace')}"
        picked = json.loads(data).get("picked")
        if picked != pick.quantity:
            return f"HTTP {response.status} but picked {picked!r}, not {pick.quantity}"
        return None

    def close(self) -> None:
        self._conn.close()


class _RetryCounter(logging.Handler):
    """Counts the retries wms.retry logs (one INFO record per retry)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


# --- one cell -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    exhausted: bool = False


def _drive(
    picks: Sequence[Pick], clients: int, seconds: float, new_client: Callable[[], Client]
) -> tuple[Run, list[Client]]:
    """Run clients threads for a warm-up plus seconds; time the picks that start after it."""
    queue = iter(picks)
    lock = threading.Lock()
    window: dict[str, float] = {}
    ends: list[float] = []
    run = Run()
    made: list[Client] = []

    def open_window() -> None:
        now = time.perf_counter()
        window["measure_from"] = now + WARMUP_S
        window["until"] = now + WARMUP_S + seconds

    barrier = threading.Barrier(clients, action=open_window)

    def work() -> None:
        client = new_client()
        latencies: list[float] = []
        last_end = 0.0
        with lock:
            made.append(client)
        try:
            barrier.wait()
            measure_from, until = window["measure_from"], window["until"]
            while (started := time.perf_counter()) < until:
                with lock:
                    pick = next(queue, None)
                if pick is None:
                    run.exhausted = True
                    break
                error = client.pick(pick)
                ended = time.perf_counter()
                if error is not None:
                    with lock:
                        run.errors[error] += 1
                elif started >= measure_from:
                    latencies.append(ended - started)
                    last_end = ended
        finally:
            client.close()
            with lock:
                run.latencies.extend(latencies)
                ends.append(last_end)

    threads = [threading.Thread(target=work, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if run.latencies:
        run.elapsed = max(ends) - window["measure_from"]
    return run, made


def _cell(
    backend: str, layer: str, clients: int, run: Run, pgbench_tps: float | None = None
) -> Cell:
    ops = len(run.latencies)
    cell = Cell(backend, layer, clients, ops=ops, errors=sum(run.errors.values()))
    if ops:
        cell.ops_per_s = ops / run.elapsed if run.elapsed > 0 else None
        cell.p50_ms, cell.p95_ms = _percentiles([s * 1000 for s in run.latencies])
    if cell.ops_per_s is not None and pgbench_tps:
        cell.ratio = cell.ops_per_s / pgbench_tps
    if run.exhausted:
        cell.note = "ran out of allocations: stopped early"
    return cell


def _percentiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94]


def _report_cell(cell: Cell, run: Run, extra: str = "") -> None:
    rate = f"{cell.ops_per_s:,.1f} ops/s" if cell.ops_per_s else "no ops"
    console.print(
        f"  {cell.backend} {cell.layer} x{cell.clients}: {cell.ops:,} picks, {rate}, "
        f"{cell.errors} error(s){extra} (load {_load1()})"
        + (f" [yellow]({cell.note})[/]" if cell.note else "")
    )
    for message, count in run.errors.most_common():
        console.print(f"    [red]{count} x[/] {message}", markup=True, highlight=False)


# --- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wms_command() -> str:
    beside = Path(sys.executable).parent / "wms"
    found = str(beside) if beside.exists() else shutil.which("wms")
    if found is None:
        raise SystemExit("cannot find the wms command; run from the project's .venv")
    return found


@contextmanager
def _server(url: str, tmp: Path) -> Iterator[int]:
    """Serve the app with gunicorn on a free port until the block ends; yield the port."""
    port = _free_port()
    env = {
        **os.environ,
        "WMS_DATABASE_URL": url,
        "WMS_SECRET_KEY": f"bench-{secrets.token_hex(24)}",
        "WMS_INSTANCE_PATH": str(tmp / "instance"),
    }
    log_path = tmp / f"server-{port}.log"
    command = [_wms_command(), "serve", "--port", str(port), "--workers", str(HTTP_WORKERS)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(port, process, log_path)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"wms serve exited with {process.returncode}:\n{tail}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError(f"wms serve did not answer /healthz on port {port} within 60 s")


# --- one backend --------------------------------------------------------------------------------


#: Runs pgbench for a client count and returns its row.
Ceiling = Callable[[int], Cell]
LAYERS = ("service", "http", "pgbench")


def _measure_backend(
    url: str, seconds: int, tmp: Path, ceiling: Ceiling | None = None
) -> tuple[list[Cell], bool]:
    """Seed a fresh database, run every cell, verify; return the rows and whether check held.

    For each client count, pgbench (when given), the service cell and the HTTP cell run back
    to back, so that whatever else the machine is doing weighs on all three alike.
    """
    backend = make_url(url).get_backend_name()
    budget = {
        (layer, c): int((seconds + WARMUP_S) * POOL_RATE[layer])
        for layer in ("service", "http")
        for c in CLIENTS
    }
    engine = make_engine(url)
    sessions = make_sessions(engine)
    cells: list[Cell] = []
    retries = _RetryCounter()
    retry_log = logging.getLogger("wms.retry")
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        site_id, picks = _seed(sessions, sum(budget.values()))
        console.print(
            f"{backend}: seeded {SLOTS} pick faces and {len(picks):,} open allocations "
            f"in {time.perf_counter() - started:.1f} s"
        )
        if not _verify(sessions, f"{backend} (seeded)"):
            return cells, False
        pools: dict[tuple[str, int], Sequence[Pick]] = {}
        offset = 0
        for key, size in budget.items():
            pools[key] = picks[offset : offset + size]
            offset += size
        with sessions.begin() as session:
            _, token = tokens.issue(
                session, name="stock_ops benchmark", role=TokenRole.INTEGRATION, site_ids=[site_id]
            )

        retry_log.addHandler(retries)
        retry_log.setLevel(logging.INFO)
        with _server(url, tmp) as port:
            for clients in CLIENTS:
                pgbench_tps = None
                if ceiling is not None:
                    cells.append(ceiling(clients))
                    pgbench_tps = cells[-1].ops_per_s
                retries.count = 0
                run, _ = _drive(
                    pools["service", clients], clients, seconds, lambda: ServiceClient(sessions)
                )
                cells.append(_cell(backend, "service", clients, run, pgbench_tps))
                _report_cell(cells[-1], run, f", {retries.count} retried transaction(s)")
                run, made = _drive(
                    pools["http", clients], clients, seconds, lambda: HttpClient(port, token)
                )
                cells.append(_cell(backend, "http", clients, run, pgbench_tps))
                opened = sum(c.connections for c in made if isinstance(c, HttpClient))
                _report_cell(cells[-1], run, f", {opened:,} TCP connection(s) opened")
        ok = _verify(sessions, backend)
    finally:
        retry_log.removeHandler(retries)
        engine.dispose()
    cells.sort(key=lambda cell: (LAYERS.index(cell.layer), cell.clients))
    return cells, ok


# --- pgbench ------------------------------------------------------------------------------------

_TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
_PROCESSED = re.compile(r"number of transactions actually processed: (\d+)")
_FAILED = re.compile(r"number of failed transactions: (\d+)")


@contextmanager
def _pgbench(server_url: str, seconds: int, tmp: Path) -> Iterator[Ceiling]:
    """Set up pgbench's TPC-B-like tables in a fresh database; yield a runner per client count."""
    exe = shutil.which("pgbench")
    if exe is None:
        console.print("[yellow]pgbench not found[/] (it ships with the PostgreSQL client)")
        yield lambda clients: Cell(
            "postgresql", "pgbench", clients, note="pgbench not found (postgresql-client)"
        )
        return
    url, drop = postgres_database(server_url)
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    connection = [f"--host={parsed.host or 'localhost'}", f"--port={parsed.port or 5432}"]
    if parsed.username:
        connection.append(f"--username={parsed.username}")
    database = str(parsed.database)

    def failed(clients: int) -> Cell:
        return Cell("postgresql", "pgbench", clients, note="pgbench failed")

    def run(clients: int) -> Cell:
        prefix = tmp / f"pgbench_c{clients}"
        command = [
            exe, "-T", str(seconds), "-c", str(clients), "-j", "2",
            "-l", f"--log-prefix={prefix}", *connection, database,
        ]  # fmt: skip
        try:
            done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            console.print(f"[red]pgbench failed[/]: {exc.stderr or exc.stdout}")
            return failed(clients)
        tps, processed = _TPS.search(done.stdout), _PROCESSED.search(done.stdout)
        if tps is None or processed is None:
            raise RuntimeError(f"cannot read pgbench's output:\n{done.stdout}{done.stderr}")
        lost = _FAILED.search(done.stdout)
        # -l logs one line per transaction; the third field is its latency in µs.
        latencies = [
            int(line.split()[2]) / 1000
            for log in tmp.glob(f"{prefix.name}.*")
            for line in log.read_text().splitlines()
            if line.strip()
        ]
        cell = Cell(
            "postgresql",
            "pgbench",
            clients,
            ops=int(processed.group(1)),
            ops_per_s=float(tps.group(1)),
            errors=int(lost.group(1)) if lost else 0,
        )
        if latencies:
            cell.p50_ms, cell.p95_ms = _percentiles(latencies)
        console.print(
            f"  postgresql pgbench x{clients}: {cell.ops_per_s:,.1f} TPS (load {_load1()})"
        )
        return cell

    try:
        init = [exe, "-i", "-q", "-s", str(PGBENCH_SCALE), *connection, database]
        try:
            subprocess.run(init, env=env, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            console.print(f"[red]pgbench -i failed[/]: {exc.stderr or exc.stdout}")
            yield failed
        else:
            yield run
    finally:
        drop()


# --- main ---------------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _load1() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _fmt(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per cell instead of 15")
    parser.add_argument("--postgres", default=os.environ.get("WMS_TEST_DATABASE_URL"))
    parser.add_argument("--csv", default="benchmarks/results/stock_ops.csv")
    parser.add_argument("--seconds", type=int, help="seconds per cell (default 15, quick 3)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (3 if args.quick else 15)
    if seconds < 1:
        parser.error("--seconds must be at least 1")

    # Other work on the machine skews every row; say how busy it was.
    console.print(f"{os.cpu_count()} CPUs, load average {_load()} at the start")
    rows: list[Cell] = []
    checks_ok = True
    with tempfile.TemporaryDirectory(prefix="stock_ops_") as tmp_name:
        tmp = Path(tmp_name)
        cells, ok = _measure_backend(f"sqlite:///{tmp / 'bench.sqlite3'}", seconds, tmp)
        rows += cells
        checks_ok &= ok
        if args.postgres:
            with _pgbench(args.postgres, seconds, tmp) as ceiling:
                url, drop = postgres_database(args.postgres)
                try:
                    cells, ok = _measure_backend(url, seconds, tmp, ceiling)
                finally:
                    drop()
            rows += cells
            checks_ok &= ok

    table = Table(title=f"pick confirmations, {seconds} s per cell (after {WARMUP_S:g} s warm-up)")
    for column in ("backend", "layer", "clients", "ops", "ops/s", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column in ("backend", "layer") else "right")
    table.add_column("ratio to pgbench", justify="right")
    table.add_column("errors", justify="right")
    for cell in rows:
        layer = f"{cell.layer} ({cell.note})" if cell.note else cell.layer
        table.add_row(
            cell.backend,
            layer,
            str(cell.clients),
            _fmt(cell.ops, ","),
            _fmt(cell.ops_per_s, ",.1f"),
            _fmt(cell.p50_ms, ".2f"),
            _fmt(cell.p95_ms, ".2f"),
            _fmt(cell.ratio, ".2f"),
            _fmt(cell.errors, "d"),
        )
    console.print(table)
    console.print(f"load average {_load()} at the end")

    out = Path(args.csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].as_csv()))
        writer.writeheader()
        writer.writerows(cell.as_csv() for cell in rows)
    console.print(f"wrote {out}")

    if not checks_ok or any(cell.errors for cell in rows if cell.layer != "pgbench"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

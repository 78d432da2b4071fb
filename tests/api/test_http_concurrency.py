"""Scarce stock fought over through a real HTTP server: no unit is allocated or picked twice.

Each test seeds a fresh migrated PostgreSQL database with committed data, serves the real app
from a threaded werkzeug server, and lets many client threads — each with its own connection
and token — race for the same units (invariant 2), or repeat one request with one key
(invariant 3).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from werkzeug.serving import make_server

from wms import check, migrate, tokens
from wms.app import create_app
from wms.db import database, make_engine, make_sessions
from wms.idempotency import KeyInProgress
from wms.models import (
    Allocation,
    AllocationStatus,
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    TokenRole,
    Zone,
)
from wms.stock import InsufficientStock

pytestmark = pytest.mark.postgres

#: Units per slot of each scarce item: supply is their sum.
SUPPLY = {"RICE-1KG": (7, 6, 7), "OIL-1L": (9, 6)}
#: Units each one-line order asks for, per item: demand is their sum, at least 1.5 x supply.
DEMAND = {"RICE-1KG": [1, 2, 3, 2] * 4, "OIL-1L": [2, 1, 2, 3] * 4}


@dataclass
class World:
    """What was seeded: ids by name, and one token per client thread."""

    url: str
    site_id: int
    item_ids: dict[str, int]
    stock_ids: dict[str, list[int]]
    #: (order line id, item SKU, quantity) per order.
    lines: list[tuple[int, str, int]]
    tokens: list[str] = field(default_factory=list)


def seed(engine: Engine, *, clients: int) -> World:
    """Commit a site, its slots, scarce stock (received through the ledger) and orders."""
    with make_sessions(engine).begin() as session:
        site = Site(
            code="FW01",
            name="FW01",
            kind=SiteKind.FRONT_WAREHOUSE,
            latitude=52.37,
            longitude=4.89,
            timezone="Europe/Amsterdam",
        )
        session.add(site)
        session.flush()
        zone = Zone(site_id=site.id, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
        session.add(zone)
        session.flush()
        item_ids: dict[str, int] = {}
        stock_ids: dict[str, list[int]] = {}
        for aisle, (sku, quantities) in enumerate(SUPPLY.items(), start=1):
            item = Item(
                sku=sku,
                name=sku,
                length_mm=100,
                width_mm=100,
                height_mm=100,
                weight_g=500,
                temperature=Temperature.AMBIENT,
            )
            session.add(item)
            session.flush()
            item_ids[sku] = item.id
            stock_ids[sku] = []
            for bay, quantity in enumerate(quantities, start=1):
                slot = Slot(
                    site_id=site.id,
                    zone_id=zone.id,
                    barcode=f"A{aisle:02d}-{bay:02d}",
                    kind=SlotKind.PICK_FACE if bay == 1 else SlotKind.RESERVE,
                    block=1,
                    aisle=aisle,
                    bay=bay,
                    side="L",
                    level=1,
                )
                session.add(slot)
                session.flush()
                stock = Stock(
                    slot_id=slot.id, item_id=item.id, lot="", on_hand=quantity, reserved=0
                )
                session.add(stock)
                session.flush()
                session.add(
                    Movement(
                        stock_id=stock.id,
                        kind=MovementKind.RECEIPT,
                        quantity=quantity,
                        operation_id=str(uuid.uuid4()),
                        reason="seed",
                    )
                )
                stock_ids[sku].append(stock.id)
        start = dt.datetime(2030, 1, 7, 10, 0, tzinfo=dt.UTC)
        lines: list[tuple[int, str, int]] = []
        for sku, quantities in DEMAND.items():
            for n, quantity in enumerate(quantities):
                order = Order(
                    number=f"{sku}-{n:03d}",
                    site_id=site.id,
                    customer_name=f"Customer {n}",
                    address=f"Teststraat {n}",
                    latitude=52.38,
                    longitude=4.90,
                    promised_start=start,
                    promised_end=start + dt.timedelta(hours=1),
                )
                order.lines.append(OrderLine(line_no=1, item_id=item_ids[sku], quantity=quantity))
                session.add(order)
                session.flush()
                lines.append((order.lines[0].id, sku, quantity))
        world = World(
            engine.url.render_as_string(hide_password=False), site.id, item_ids, stock_ids, lines
        )
        for n in range(clients):
            _, plaintext = tokens.issue(
                session, name=f"scanner {n}", role=TokenRole.INTEGRATION, site_ids=[site.id]
            )
            world.tokens.append(plaintext)
    return world


@pytest.fixture
def served(new_database, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A fresh migrated database and a threaded HTTP server on it: (database URL, port)."""
    url = new_database()
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    app = create_app({"PROFILE": "testing", "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        database(app).engine.dispose()


@dataclass(frozen=True)
class Answer:
    path: str
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Caller:
    """One client: its own keep-alive connection and bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = token

    def post(self, path: str, body: dict[str, Any], *, key: str | None = None) -> Answer:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key or str(uuid.uuid4()),
        }
        self.connection.request("POST", path, json.dumps(body), headers)
        response = self.connection.getresponse()
        data = response.read()
        return Answer(
            path,
            response.status,
            response.getheader("Content-Type", ""),
            dict(response.getheaders()),
            data,
        )

    def close(self) -> None:
        self.connection.close()


def run_threads(count: int, work) -> list[Any]:
    """Run work(n) on count threads released at once; re-raise the first failure."""
    barrier = threading.Barrier(count, timeout=20)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(n: int) -> None:
        try:
            barrier.wait()
            results[n] = work(n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    if errors:
        raise errors[0]
    return results


def on_hand_by_item(engine: Engine, world: World) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            sku: int(
                conn.scalar(select(func.sum(Stock.on_hand)).where(Stock.item_id == item_id)) or 0
            )
            for sku, item_id in world.item_ids.items()
        }


def test_clients_racing_for_scarce_stock_pick_exactly_the_supply_and_nothing_twice(served):
    url, port = served
    engine = make_engine(url)
    try:
        world = seed(engine, clients=sum(len(q) for q in DEMAND.values()))
        initial = on_hand_by_item(engine, world)

        def client(n: int) -> list[Answer]:
            line_id, _, _ = world.lines[n]
            caller = Caller(port, world.tokens[n])
            try:
                allocated = caller.post("/api/v1/allocations", {"order_line_id": line_id})
                answers = [allocated]
                if allocated.status == 201:
                    for held in allocated.json["allocations"]:
                        answers.append(
                            caller.post(
                                "/api/v1/picks",
                                {"allocation_id": held["id"], "quantity": held["quantity"]},
                            )
                        )
                return answers
            finally:
                caller.close()

        results = run_threads(len(world.lines), client)

        answers = [answer for answers in results for answer in answers]
        assert not [a for a in answers if a.status >= 500], "a client was answered 5xx"
        for answer in answers:
            if not 200 <= answer.status < 300:
                assert answer.status == 409, (answer.path, answer.status, answer.body)
                assert answer.content_type == "application/problem+json"
                assert answer.json["type"] == f"/problems/{InsufficientStock.code}"
        picks = [a for a in answers if a.path == "/api/v1/picks"]
        assert all(a.status == 201 for a in picks), [a.body for a in picks if a.status != 201]

        sku_of_stock = {sid: sku for sku, ids in world.stock_ids.items() for sid in ids}
        picked: dict[str, int] = defaultdict(int)
        for pick in picks:
            picked[sku_of_stock[pick.json["allocation"]["stock_id"]]] += pick.json["picked"]
        final = on_hand_by_item(engine, world)
        for sku, quantities in SUPPLY.items():
            supply, demand = sum(quantities), sum(DEMAND[sku])
            assert demand >= 1.5 * supply
            assert picked[sku] == min(supply, demand) == initial[sku] - final[sku], sku

        refused = [a for a in answers if a.path == "/api/v1/allocations" and a.status == 409]
        assert refused, "demand exceeded supply, so some lines must have been refused"
        with make_sessions(engine)() as session:
            report = check.verify(session)
            assert report.ok, report.violations
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(Allocation)
                    .where(Allocation.status == AllocationStatus.OPEN)
                )
                == 0
            )
            assert session.scalar(select(func.coalesce(func.sum(OrderLine.picked_qty), 0))) == sum(
                picked.values()
            )
            pick_units = session.scalar(
                select(func.coalesce(func.sum(Movement.quantity), 0)).where(
                    Movement.kind == MovementKind.PICK
                )
            )
            assert -pick_units == sum(picked.values())
    finally:
        engine.dispose()


def test_one_pick_sent_by_many_clients_with_one_key_picks_once(served):
    url, port = served
    engine = make_engine(url)
    senders = 8
    try:
        world = seed(engine, clients=1)
        initial = on_hand_by_item(engine, world)
        line_id, sku, quantity = world.lines[0]
        setup = Caller(port, world.tokens[0])
        allocated = setup.post("/api/v1/allocations", {"order_line_id": line_id})
        setup.close()
        assert allocated.status == 201, allocated.body
        (held,) = allocated.json["allocations"]
        body = {"allocation_id": held["id"], "quantity": quantity}

        def send(_: int) -> Answer:
            caller = Caller(port, world.tokens[0])
            try:
                return caller.post("/api/v1/picks", body, key="pick-once")
            finally:
                caller.close()

        answers = run_threads(senders, send)
        late = Caller(port, world.tokens[0])
        replayed = late.post("/api/v1/picks", body, key="pick-once")
        late.close()

        statuses = sorted(a.status for a in answers)
        assert set(statuses) <= {201, 409}, statuses
        originals = [
            a for a in answers if a.status == 201 and "Idempotent-Replayed" not in a.headers
        ]
        assert len(originals) == 1, statuses
        for answer in answers:
            if answer.status == 201:
                assert answer.body == originals[0].body
            else:
                assert answer.content_type == "application/problem+json"
                assert answer.json["type"] == f"/problems/{KeyInProgress.code}"
        assert replayed.status == 201
        assert replayed.headers.get("Idempotent-Replayed") == "true"
        assert replayed.body == originals[0].body

        with make_sessions(engine)() as session:
            pick_movements = session.scalars(
                select(Movement).where(Movement.kind == MovementKind.PICK)
            ).all()
            assert [(m.quantity, m.idempotency_key) for m in pick_movements] == [
                (-quantity, "pick-once")
            ]
            assert check.verify(session).ok
        assert on_hand_by_item(engine, world)[sku] == initial[sku] - quantity
    finally:
        engine.dispose()

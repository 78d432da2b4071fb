"""The test harness: one migrated database per run, one rolled-back transaction per test.

The suite runs on SQLite by default and on PostgreSQL when ``WMS_TEST_DATABASE_URL`` is set;
on PostgreSQL the harness creates and drops its own databases on that server (the database
named in the URL is only used to connect). Tests that use the database are marked ``db``
automatically, so CI can run just those on the second backend (``pytest -m db``).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from wms import migrate
from wms.app import create_app
from wms.db import make_engine
from wms.models import (
    Item,
    ItemBarcode,
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
    Zone,
)

settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

PG_URL = os.environ.get("WMS_TEST_DATABASE_URL")
BACKEND = "postgresql" if PG_URL else "sqlite"


def pytest_report_header(config: pytest.Config) -> str:
    where = make_url(PG_URL).render_as_string(hide_password=True) if PG_URL else "SQLite files"
    return f"wms test database: {BACKEND} ({where})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if {"database_url", "new_database", "database_factory"} & set(names):
            item.add_marker(pytest.mark.db)
        if item.get_closest_marker("postgres") and BACKEND != "postgresql":
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set WMS_TEST_DATABASE_URL"))


# --- databases ----------------------------------------------------------------------------


class DatabaseFactory:
    """Creates empty databases on the test backend and drops them at the end of the run."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []
        self._admin: Engine | None = None
        if PG_URL:
            self._admin = create_engine(
                make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
            )

    def new(self) -> str:
        """The URL of a new, empty database."""
        name = f"wms_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        if self._admin is None:
            return f"sqlite:///{self.tmp / (name + '.sqlite3')}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        url = make_url(PG_URL).set(database=name)  # type: ignore[arg-type]
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture
def new_database(database_factory: DatabaseFactory) -> Callable[[], str]:
    """Call it for the URL of a new, empty database (not migrated)."""
    return database_factory.new


@pytest.fixture
def pg_sessions(new_database: Callable[[], str]) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh, migrated database, where transactions really commit.

    For tests of concurrent transactions (the shared test database rolls each test back on
    one connection, which threads cannot share).
    """
    engine = make_engine(new_database())
    migrate.upgrade(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(database_factory: DatabaseFactory) -> str:
    """The URL of the run's shared database, migrated to head."""
    url = database_factory.new()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """A session factory on the test's connection; commits become savepoint releases."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


# --- the app --------------------------------------------------------------------------------


@pytest.fixture
def app(sessions: sessionmaker[Session], tmp_path: Path) -> Any:
    return create_app({"PROFILE": "testing", "INSTANCE_PATH": str(tmp_path)}, sessions=sessions)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def wms_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run the `wms` CLI in-process: ``wms_cli("check", database_url=url)``."""
    from click.testing import CliRunner

    from wms.cli import cli

    def run(*args: str, database_url: str, env: dict[str, str] | None = None) -> Any:
        environment = {
            "WMS_DATABASE_URL": database_url,
            "WMS_INSTANCE_PATH": str(tmp_path / "instance"),
            "WMS_PROFILE": "testing",
            **(env or {}),
        }
        return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)

    return run


# --- callable factories with defaults -------------------------------------------------------


@pytest.fixture
def make_site(session: Session) -> Callable[..., Site]:
    counter = iter(range(1, 10_000))

    def make(
        code: str | None = None,
        *,
        kind: SiteKind = SiteKind.FRONT_WAREHOUSE,
        timezone: str = "Europe/Amsterdam",
        latitude: float = 52.37,
        longitude: float = 4.89,
    ) -> Site:
        n = next(counter)
        site = Site(
            code=code or f"FW{n:02d}",
            name=f"Test site {n}",
            kind=kind,
            latitude=latitude,
            longitude=longitude,
            timezone=timezone,
        )
        session.add(site)
        session.flush()
        return site

    return make


@pytest.fixture
def make_zone(session: Session, make_site: Callable[..., Site]) -> Callable[..., Zone]:
    """Zones of one default site per test unless a site is given; one zone per temperature."""
    zones: dict[tuple[int, Temperature], Zone] = {}
    default_site: list[Site] = []

    def make(*, site: Site | None = None, temperature: Temperature = Temperature.AMBIENT) -> Zone:
        if site is None:
            # A savepoint rolled back by a test takes its new rows with it: make them again.
            if not default_site or not inspect(default_site[0]).persistent:
                default_site[:] = [make_site()]
            site = default_site[0]
        key = (site.id, temperature)
        if key not in zones or not inspect(zones[key]).persistent:
            zone = Zone(
                site_id=site.id,
                code=temperature.value.upper(),
                name=temperature.value.title(),
                temperature=temperature,
            )
            session.add(zone)
            session.flush()
            zones[key] = zone
        return zones[key]

    return make


@pytest.fixture
def make_slot(session: Session, make_zone: Callable[..., Zone]) -> Callable[..., Slot]:
    counter = iter(range(1, 100_000))

    def make(
        barcode: str | None = None,
        *,
        zone: Zone | None = None,
        kind: SlotKind = SlotKind.PICK_FACE,
        aisle: int | None = None,
        bay: int | None = None,
        level: int = 1,
        **fields: Any,
    ) -> Slot:
        zone = zone or make_zone()
        n = next(counter)
        slot = Slot(
            site_id=zone.site_id,
            zone_id=zone.id,
            barcode=barcode or f"T-{n:05d}",
            kind=kind,
            block=1,
            aisle=aisle if aisle is not None else 1 + n // 20,
            bay=bay if bay is not None else 1 + n % 20,
            side="L",
            level=level,
            **fields,
        )
        session.add(slot)
        session.flush()
        return slot

    return make


@pytest.fixture
def make_item(session: Session) -> Callable[..., Item]:
    counter = iter(range(1, 100_000))

    def make(
        sku: str | None = None,
        *,
        gtin: str | None = None,
        temperature: Temperature = Temperature.AMBIENT,
        lot_tracked: bool = False,
        expiry_tracked: bool = False,
        **fields: Any,
    ) -> Item:
        n = next(counter)
        defaults: dict[str, Any] = {
            "name": f"Test item {n}",
            "length_mm": 100,
            "width_mm": 80,
            "height_mm": 60,
            "weight_g": 250,
        }
        item = Item(
            sku=sku or f"SKU-{n:05d}",
            temperature=temperature,
            lot_tracked=lot_tracked or expiry_tracked,
            expiry_tracked=expiry_tracked,
            **{**defaults, **fields},
        )
        if gtin:
            item.barcodes.append(ItemBarcode(barcode=gtin, quantity=1))
        session.add(item)
        session.flush()
        return item

    return make


@pytest.fixture
def make_stock(
    session: Session, make_slot: Callable[..., Slot], make_item: Callable[..., Item]
) -> Callable[..., Stock]:
    """Stock received through the ledger: one receipt movement, so invariant 1 holds."""

    def make(
        sku: str | None = None,
        qty: int = 10,
        *,
        slot: Slot | None = None,
        item: Item | None = None,
        lot: str = "",
        expiry: dt.date | None = None,
    ) -> Stock:
        item = item or make_item(sku)
        slot = slot or make_slot()
        stock = Stock(
            slot_id=slot.id, item_id=item.id, lot=lot, expiry=expiry, on_hand=qty, reserved=0
        )
        session.add(stock)
        session.flush()
        session.add(
            Movement(
                stock_id=stock.id,
                kind=MovementKind.RECEIPT,
                quantity=qty,
                operation_id=str(uuid.uuid4()),
                reason="test receipt",
            )
        )
        session.flush()
        return stock

    return make


@pytest.fixture
def make_order(
    session: Session, make_site: Callable[..., Site], make_item: Callable[..., Item]
) -> Callable[..., Order]:
    counter = iter(range(1, 100_000))

    def make(
        *,
        site: Site | None = None,
        lines: list[tuple[Item, int]] | None = None,
        start: dt.datetime | None = None,
        minutes: int = 60,
    ) -> Order:
        site = site or make_site()
        n = next(counter)
        start = start or dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
        order = Order(
            number=f"T{n:06d}",
            site_id=site.id,
            customer_name=f"Customer {n}",
            address=f"Teststraat {n}",
            latitude=site.latitude + 0.01,
            longitude=site.longitude + 0.01,
            promised_start=start,
            promised_end=start + dt.timedelta(minutes=minutes),
        )
        for line_no, (item, qty) in enumerate(lines or [(make_item(), 1)], start=1):
            order.lines.append(OrderLine(line_no=line_no, item_id=item.id, quantity=qty))
        session.add(order)
        session.flush()
        return order

    return make

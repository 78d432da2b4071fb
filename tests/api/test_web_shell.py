"""The web shell: health probe, landing page, console sign-in, API docs and error answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from wms.app import create_app
from wms.db import database
from wms.models import OrderStatus, SiteKind

UNREACHABLE_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/x"


class _PageParser(HTMLParser):
    """Collects the landing page's figures and every asset a page links to."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, str] = {}
        self.assets: list[str] = []
        self._count: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "data-count" in attributes:
            self._count = attributes["data-count"]
            self.counts[self._count] = ""
        if tag == "script" and attributes.get("src"):
            self.assets.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.assets.append(attributes["href"])

    def handle_data(self, data: str) -> None:
        if self._count is not None:
            self.counts[self._count] += data

    def handle_endtag(self, tag: str) -> None:
        self._count = None


def parse(html: bytes) -> _PageParser:
    parser = _PageParser()
    parser.feed(html.decode())
    parser.close()
    return parser


def figures(html: bytes) -> dict[str, int]:
    return {name: int(text.strip().replace(",", "")) for name, text in parse(html).counts.items()}


@pytest.fixture
def unreachable_client(tmp_path) -> Iterator:
    """A client of an app whose database nobody answers for."""
    app = create_app(
        {
            "PROFILE": "testing",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": UNREACHABLE_DATABASE,
        }
    )
    yield app.test_client()
    database(app).engine.dispose()


# --- health ---------------------------------------------------------------------------------


def test_health_reports_ok_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.is_json
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_answers_503_in_json_when_the_database_is_unreachable(unreachable_client):
    response = unreachable_client.get("/healthz")

    assert response.status_code == 503
    assert response.is_json
    assert response.json["status"] == "unavailable"
    assert response.json["database"] not in ("", "ok")


# --- the landing page -----------------------------------------------------------------------


def test_landing_page_shows_what_the_network_holds(
    client, session, make_site, make_zone, make_slot, make_stock, make_order
):
    site = make_site("FW-NOORD")
    make_site("DC-1", kind=SiteKind.CENTRAL_DC)
    zone = make_zone(site=site)
    slots = [make_slot(zone=zone) for _ in range(3)]
    milk = make_stock("MILK-1L", qty=1200, slot=slots[0])
    make_stock("BREAD", qty=34, slot=slots[1])
    make_order(site=site, lines=[(milk.item, 2)])
    cancelled = make_order(site=site, lines=[(milk.item, 1)])
    cancelled.status = OrderStatus.CANCELLED
    session.flush()

    response = client.get("/")

    assert response.status_code == 200
    assert figures(response.data) == {
        "front_warehouses": 1,
        "central_dcs": 1,
        "slots": 3,
        "items": 2,
        "units_on_hand": 1234,
        "open_orders": 1,
        "carriers": 0,
        "vehicles": 0,
    }
    assert b"FW-NOORD" in response.data
    assert b"DC-1" in response.data


def test_landing_page_says_when_the_database_is_empty(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b"The database is empty" in response.data
    assert figures(response.data) == {}


def test_landing_page_still_opens_when_the_database_is_unreachable(unreachable_client):
    response = unreachable_client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"The database cannot be reached" in response.data


# --- the console --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/console/", "/console/jobs", "/console/runs"])
def test_the_console_asks_who_you_are_first(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")
    login = client.get("/console/login")
    assert login.status_code == 200 and b'name="password"' in login.data


# --- API docs -------------------------------------------------------------------------------


def test_api_docs_load_every_asset_from_our_own_server(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assets = parse(response.data).assets
    assert "/api/docs/assets/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        with client.get(asset) as fetched:
            assert fetched.status_code == 200, asset
            assert fetched.data


def test_openapi_document_is_json_and_describes_the_health_probe(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = json.loads(response.data)
    assert document["openapi"].startswith("3.")
    assert "get" in document["paths"]["/healthz"]


# --- errors ---------------------------------------------------------------------------------


def test_an_unknown_api_path_answers_404_problem_json(client):
    response = client.get("/api/v1/nope")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    problem = json.loads(response.data)
    assert problem["status"] == 404
    assert problem["title"] == "Not Found"
    assert problem["type"]
    assert problem["instance"] == "/api/v1/nope"


@pytest.mark.parametrize("path", ["/nope", "/scanners/nope", "/console/nope"])
def test_an_unknown_page_answers_404_in_html_never_json(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert response.data.lstrip().lower().startswith(b"<!doctype html>")
    assert b"404" in response.data

"""Scans recorded from the handhelds: parsed, kept once per key, listed for supervisors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from wms.models import Role, ScanEvent, TokenRole

GS = "\x1d"


def scans(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(ScanEvent))


def test_a_gs1_scan_is_recorded_with_what_it_parsed_to(signed_in, site, session):
    picker = signed_in(Role.ASSOCIATE)
    raw = f"]C1010871234500001110LOT7{GS}17261231"

    answer = picker.post(
        "/api/v1/scans",
        {"raw": raw, "step": "pick", "result": "ok", "device": "TC52-07", "site_id": site.id},
    )

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["kind"] == "gs1" and body["step"] == "pick" and body["device"] == "TC52-07"
    assert body["parsed"]["gtin"] == "08712345000011"
    assert body["parsed"]["lot"] == "LOT7" and body["parsed"]["expiry"] == "2026-12-31"
    assert body["user_id"] is not None


def test_a_scan_that_does_not_parse_is_kept_as_it_came(api_client, session):
    answer = api_client.post(
        "/api/v1/scans",
        {"raw": "]C10112345", "step": "receive", "result": "error", "message": "expected item"},
    )

    assert answer.status_code == 201
    body = answer.get_json()
    assert body["kind"] == "invalid" and body["parsed"]["problem"]
    assert body["message"] == "expected item"


def test_a_scan_resent_from_the_outbox_is_kept_once(signed_in, session):
    picker = signed_in(Role.ASSOCIATE)
    body = {"raw": "8712345000011", "step": "pick", "result": "ok"}
    before = scans(session)

    first = picker.post("/api/v1/scans", body, key="scan-key-1")
    again = picker.post("/api/v1/scans", body, key="scan-key-1")

    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert scans(session) == before + 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"raw": "", "step": "pick", "result": "ok"}, "raw"),
        ({"raw": "x", "step": "pick", "result": "maybe"}, "result"),
        ({"raw": "x", "result": "ok"}, "step"),
        ({"raw": "x", "step": "pick", "result": "ok", "site_id": 2_000_000}, "site_id"),
    ],
)
def test_a_bad_scan_record_is_refused_naming_the_field(api_client, problem, session, body, field):
    before = scans(session)

    problem(api_client.post("/api/v1/scans", body), 422, field=field)

    assert scans(session) == before


def test_supervisors_list_the_latest_scans_and_associates_do_not(
    api_client, client, make_api_token, signed_in, site
):
    from tests.api.conftest import ApiClient

    for result in ("ok", "error", "error"):
        api_client.post(
            "/api/v1/scans",
            {"raw": "8712345000011", "step": "count", "result": result, "site_id": site.id},
        )
    supervisor = ApiClient(
        client, {"Authorization": f"Bearer {make_api_token(TokenRole.SUPERVISOR)}"}
    )

    listed = supervisor.get("/api/v1/scans", query={"result": "error", "site_id": site.id})

    assert listed.status_code == 200
    assert [s["result"] for s in listed.get_json()["items"]] == ["error", "error"]
    assert signed_in(Role.ASSOCIATE).get("/api/v1/scans").status_code == 403

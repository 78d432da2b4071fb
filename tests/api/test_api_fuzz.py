"""The carrier and delivery APIs against their own OpenAPI document (schemathesis).

Two carriers share a front warehouse; every generated request is sent with one carrier's
key (each in turn): whatever schemathesis makes of the document, the answer is never a 5xx,
always matches the documented status codes, content types and schemas, and never carries the
other carrier's route numbers. The planners' delivery endpoints are fuzzed with a planner's
token, and the dispatch dock's (hand-overs, returns) with a supervisor's token of the site
whose routes are being loaded.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from tests.integration.routes_fixtures import NOW, build_fleet, make_carrier
from wms import carrier_keys

pytestmark = pytest.mark.fuzz

#: A schema-valid request may still be refused: a cursor this API never gave out, a moment in
#: the future, another carrier's upload. The document cannot say so; the other checks hold.
NOT_JUDGED = [checks.positive_data_acceptance]

#: Examples per operation: a quick pass in CI, more when asked (WMS_FUZZ_EXAMPLES).
EXAMPLES = int(os.environ.get("WMS_FUZZ_EXAMPLES", "15"))


@pytest.fixture
def carriers(session, app) -> dict[str, Any]:
    """Two carriers at one site, each with routes and a key: each key must never show the
    other carrier's route numbers."""
    fleet = build_fleet(session)
    a_route = fleet.route([fleet.packed_order(), fleet.packed_order(km_east=2)])
    b_carrier, b_vehicle, _, _ = make_carrier(session, fleet.site)
    b_route = fleet.route([fleet.packed_order()], vehicle=b_vehicle, carrier=b_carrier)
    scopes = list(carrier_keys.SCOPES)
    _, a_key = carrier_keys.issue(session, carrier_id=fleet.carrier.id, name="a", scopes=scopes)
    _, b_key = carrier_keys.issue(session, carrier_id=b_carrier.id, name="b", scopes=scopes)
    return {
        "a": {"key": a_key, "never": [b_route.number]},
        "b": {"key": b_key, "never": [a_route.number]},
    }


MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.mark.parametrize("who", ["a", "b"])
@pytest.mark.parametrize("mode", MODES)
def test_the_carrier_api_answers_every_request_as_documented(app, carriers, mode, who):
    carrier = carriers[who]
    _fuzz(app, "^/api/v1/carrier/", carrier["key"], carrier["never"], mode, at_least=10)


@pytest.mark.parametrize("mode", MODES)
def test_the_planners_delivery_api_answers_every_request_as_documented(
    app, carriers, make_api_token, mode
):
    from wms.models import TokenRole

    token = make_api_token(TokenRole.PLANNER)
    _fuzz(app, "^/api/v1/(route-plans|routes|orders/[^/]+/redeliver)", token, [], mode, at_least=5)


def _fuzz(app, paths: str, bearer: str, never: list[str], mode, *, at_least: int) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).include(path_regex=paths)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= at_least, f"the operations of {paths} are in the document"
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def answers_as_documented(case: schemathesis.Case) -> None:
            # The case's own Idempotency-Key is kept: in negative mode it may be the very
            # value under test. Without one, a fresh key (or every POST would answer 428).
            headers = {"Authorization": f"Bearer {bearer}"}
            if "Idempotency-Key" not in (case.headers or {}):
                headers["Idempotency-Key"] = str(uuid.uuid4())
            response = case.call_and_validate(headers=headers, excluded_checks=NOT_JUDGED)
            assert not any(number in response.text for number in never)

        try:
            answers_as_documented()
        except Exception as error:
            raise AssertionError(f"{operation.label} ({mode.value}): {error}") from error


@pytest.mark.parametrize("mode", MODES)
def test_the_dispatch_docks_api_answers_every_request_as_documented(
    session, app, make_api_token, mode
):
    from wms.models import TokenRole

    fleet = build_fleet(session)
    fleet.route([fleet.packed_order(), fleet.packed_order(km_east=2)])
    fleet.failed_delivery(fleet.packed_order(km_east=3), start=NOW, at=NOW)
    token = make_api_token(TokenRole.SUPERVISOR, sites=[fleet.site])
    _fuzz(app, "^/api/v1/dispatch/", token, [], mode, at_least=6)

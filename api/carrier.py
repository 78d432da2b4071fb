"""The carrier API (``/api/v1/carrier``): routes, stops, proof of delivery, positions, webhooks.

Only carrier keys and driver tokens (``fwc_...``) reach it, and they reach nothing else. Every
route, stop, driver, upload and webhook is looked up *within* the key's carrier (and, for a
driver token, the driver's own routes): anything else answers 404 exactly as a missing id does,
so no identifier of another carrier ever shows. Every POST needs an ``Idempotency-Key``; a
replay answers as the first request did and changes nothing. Each key has a request budget
(429 with ``Retry-After`` beyond it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from api.auth import Principal, current_principal, require_scope
from api.blueprint import Blueprint
from api.carrier_schemas import (
    AcceptSchema,
    ArriveSchema,
    CarrierRouteQueryArgsSchema,
    CarrierRouteSchema,
    CarrierRouteSummarySchema,
    CarrierStopSchema,
    CompleteSchema,
    DriverPageSchema,
    PositionsResultSchema,
    PositionsSchema,
    StartSchema,
    UploadFileSchema,
    UploadFormSchema,
    UploadSchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookPageSchema,
    WebhookSchema,
)
from api.context import mutation
from api.pagination import page
from api.route_views import route_summary, route_view, stop_view
from api.schemas import page_schema
from wms import carrier_keys, delivery, dispatch, uploads, webhooks
from wms.db import transaction
from wms.errors import Forbidden, NotFound
from wms.models import (
    Driver,
    Route,
    Site,
    Stop,
    Upload,
    WebhookSubscription,
    utcnow,
)

blp = Blueprint(
    "carrier",
    __name__,
    url_prefix="/api/v1/carrier",
    description=(
        "For carriers and their drivers, with a carrier key or a driver token (fwc_...): "
        "routes and stops, proof of delivery, GPS positions, webhooks."
    ),
)

#: What an OpenAPI reader sees as the security of every carrier endpoint.
SECURITY: list[dict[str, list[str]]] = [{"carrierKey": []}]


def _principal() -> Principal:
    principal = current_principal()
    if principal.kind != "carrier" or principal.carrier_id is None:
        raise Forbidden("the carrier API takes a carrier key (fwc_...)")
    return principal


def _actor(principal: Principal) -> str:
    return f"carrier-key:{principal.id}"


def _visible_routes(principal: Principal) -> ColumnElement[bool]:
    """The routes a key may see (``carrier_keys.route_filter``); none without a carrier."""
    if principal.carrier_id is None:
        return false()
    return carrier_keys.route_filter(principal.carrier_id, principal.driver_id)


def _route(session: Session, principal: Principal, route_id: int) -> Route:
    route = session.scalars(
        select(Route)
        .where(Route.id == route_id, _visible_routes(principal))
        .options(
            joinedload(Route.site),
            joinedload(Route.vehicle),
            selectinload(Route.stops).joinedload(Stop.order),
            selectinload(Route.stops).joinedload(Stop.transfer_order),
        )
        .execution_options(populate_existing=True)
    ).one_or_none()
    if route is None:
        raise NotFound(f"route {route_id} does not exist")
    return route


def _stop_route(session: Session, principal: Principal, stop_id: int) -> int:
    """The route of a stop the key may see (404 for any other stop)."""
    route_id = session.scalar(
        select(Stop.route_id)
        .join(Route, Stop.route_id == Route.id)
        .where(Stop.id == stop_id, _visible_routes(principal))
    )
    if route_id is None:
        raise NotFound(f"stop {stop_id} does not exist")
    return route_id


# --- what carriers read ------------------------------------------------------------------------


def _on_local_day(session: Session, day: dt.date) -> ColumnElement[bool]:
    """Routes whose window starts on ``day`` in their own site's time zone."""
    clauses = []
    for zone_name in session.scalars(select(Site.timezone).distinct()):
        zone = ZoneInfo(zone_name)
        start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        clauses.append(
            and_(
                Route.site_id.in_(select(Site.id).where(Site.timezone == zone_name)),
                Route.window_start >= start,
                Route.window_start < end,
            )
        )
    return or_(*clauses) if clauses else false()


@blp.route("/routes", methods=["GET"])
@require_scope(carrier_keys.ROUTES_READ)
@blp.arguments(CarrierRouteQueryArgsSchema, location="query")
@blp.response(200, page_schema(CarrierRouteSummarySchema, "CarrierRoutePage"))
@blp.doc(security=SECURITY)
def list_routes(args: dict[str, Any]) -> dict[str, Any]:
    """List the carrier's routes (a driver token: the driver's), oldest first.

    Poll with ``updated_since`` (the ``updated_at`` of the last route seen) to hear of changes
    without webhooks; walk the pages with ``cursor``.
    """
    principal = _principal()
    with transaction(readonly=True) as session:
        stmt = (
            select(Route)
            .where(_visible_routes(principal))
            .options(joinedload(Route.site), joinedload(Route.vehicle), selectinload(Route.stops))
        )
        if args["status"] is not None:
            stmt = stmt.where(Route.status == args["status"])
        if args["updated_since"] is not None:
            stmt = stmt.where(Route.updated_at >= args["updated_since"])
        if args["date"] is not None:
            stmt = stmt.where(_on_local_day(session, args["date"]))
        found = page(session, stmt, Route.id, limit=args["limit"], cursor=args["cursor"])
        return {**found, "items": [route_summary(route) for route in found["items"]]}


@blp.route("/routes/<id:route_id>", methods=["GET"])
@require_scope(carrier_keys.ROUTES_READ)
@blp.response(200, CarrierRouteSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(security=SECURITY)
def get_route(route_id: int) -> dict[str, Any]:
    """One route with its stops in order: address, position, window, ETA, packages, notes."""
    principal = _principal()
    with transaction(readonly=True) as session:
        return route_view(session, _route(session, principal, route_id))


@blp.route("/drivers", methods=["GET"])
@require_scope(carrier_keys.ROUTES_READ)
@blp.response(200, DriverPageSchema)
@blp.doc(security=SECURITY)
def list_drivers() -> dict[str, Any]:
    """The carrier's drivers (a driver token: itself), to name one when accepting a route."""
    principal = _principal()
    with transaction(readonly=True) as session:
        stmt = select(Driver).where(Driver.carrier_id == principal.carrier_id)
        if principal.driver_id is not None:
            stmt = stmt.where(Driver.id == principal.driver_id)
        return {"items": list(session.scalars(stmt.order_by(Driver.code)))}


# --- the route's lifecycle ---------------------------------------------------------------------


@blp.route("/routes/<id:route_id>/accept", methods=["POST"])
@require_scope(carrier_keys.STOPS_WRITE)
@mutation(idempotency="required")
@blp.arguments(AcceptSchema)
@blp.response(200, CarrierRouteSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(security=SECURITY)
def accept_route(args: dict[str, Any], route_id: int, *, session: Session) -> dict[str, Any]:
    """Take a planned route and name its driver.

    The carrier's key accepts: a driver token reaches only routes its driver already has.
    """
    principal = _principal()
    _route(session, principal, route_id)
    dispatch.accept_route(
        session, route_id, driver_id=args["driver_id"], actor=_actor(principal), now=utcnow()
    )
    return route_view(session, _route(session, principal, route_id))


@blp.route("/routes/<id:route_id>/start", methods=["POST"])
@require_scope(carrier_keys.STOPS_WRITE)
@mutation(idempotency="required")
@blp.arguments(StartSchema)
@blp.response(200, CarrierRouteSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(security=SECURITY)
def start_route(args: dict[str, Any], route_id: int, *, session: Session) -> dict[str, Any]:
    """The vehicle leaves with every stop's packages on board; the first stop is en route."""
    principal = _principal()
    _route(session, principal, route_id)
    dispatch.start_route(session, route_id, actor=_actor(principal), now=utcnow())
    return route_view(session, _route(session, principal, route_id))


@blp.route("/stops/<id:stop_id>/arrive", methods=["POST"])
@require_scope(carrier_keys.STOPS_WRITE)
@mutation(idempotency="required")
@blp.arguments(ArriveSchema)
@blp.response(200, CarrierStopSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(security=SECURITY)
def arrive(args: dict[str, Any], stop_id: int, *, session: Session) -> dict[str, Any]:
    """The driver is at the stop."""
    principal = _principal()
    _stop_route(session, principal, stop_id)
    stop = dispatch.arrive(session, stop_id, **args, actor=_actor(principal), now=utcnow())
    return stop_view(session, stop)


@blp.route("/stops/<id:stop_id>/complete", methods=["POST"])
@require_scope(carrier_keys.STOPS_WRITE)
@mutation(idempotency="required")
@blp.arguments(CompleteSchema)
@blp.response(200, CarrierStopSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(security=SECURITY)
def complete_stop(args: dict[str, Any], stop_id: int, *, session: Session) -> dict[str, Any]:
    """Delivered, or failed with a reason; with the recipient, notes and proof of delivery.

    Photos and signatures are uploaded first (``POST /uploads``) and cited by id. A failed
    delivery goes back to the planner, who delivers it again in a later window or returns it.
    """
    principal = _principal()
    _stop_route(session, principal, stop_id)
    stop = dispatch.complete_stop(session, stop_id, **args, actor=_actor(principal), now=utcnow())
    return stop_view(session, stop)


# --- proof of delivery and positions -----------------------------------------------------------


@blp.route("/uploads", methods=["POST"])
@require_scope(carrier_keys.STOPS_WRITE)
@mutation(idempotency="required")
@blp.arguments(UploadFormSchema, location="form")
@blp.arguments(UploadFileSchema, location="files")
@blp.response(201, UploadSchema)
@blp.doc(security=SECURITY)
def create_upload(form: dict[str, Any], files: dict[str, Any], *, session: Session) -> Upload:
    """Upload a photo (JPEG, PNG or WebP) or a signature (PNG) to cite when completing a stop."""
    principal = _principal()
    assert principal.carrier_id is not None
    limit = int(current_app.config.get("CARRIER_UPLOAD_MAX_BYTES", uploads.MAX_BYTES))
    # One byte more than the limit is enough to know it is too big.
    data = files["file"].stream.read(limit + 1)
    return uploads.store(
        session, carrier_id=principal.carrier_id, kind=form["kind"], data=data, max_bytes=limit
    )


@blp.route("/drivers/<id:driver_id>/positions", methods=["POST"])
@require_scope(carrier_keys.POSITIONS_WRITE)
@mutation(idempotency="required")
@blp.arguments(PositionsSchema)
@blp.response(200, PositionsResultSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(security=SECURITY)
def record_positions(args: dict[str, Any], driver_id: int, *, session: Session) -> dict[str, Any]:
    """A batch of GPS fixes (oldest first or not); the ETAs of the route under way follow."""
    principal = _principal()
    if principal.driver_id not in (None, driver_id):
        raise NotFound(f"driver {driver_id} does not exist")
    driver = session.get(Driver, driver_id)
    if driver is None or driver.carrier_id != principal.carrier_id:
        raise NotFound(f"driver {driver_id} does not exist")
    fixes = [dispatch.PositionFix(**fix) for fix in args["positions"]]
    done = dispatch.record_positions(
        session,
        driver_id,
        fixes,
        now=utcnow(),
        provider=delivery.matrix_provider(current_app.config),
    )
    return {
        "stored": done.stored,
        "route_id": done.route_id,
        "etas": [{"stop_id": stop_id, "eta": eta} for stop_id, eta in done.etas.items()],
    }


# --- webhooks ------------------------------------------------------------------------------------


def _fleet_key(principal: Principal) -> None:
    if principal.driver_id is not None:
        raise Forbidden("a driver token cannot manage the carrier's webhooks")


@blp.route("/webhooks", methods=["GET"])
@require_scope(carrier_keys.ROUTES_READ)
@blp.response(200, WebhookPageSchema)
@blp.doc(security=SECURITY)
def list_webhooks() -> dict[str, Any]:
    """The carrier's webhook subscriptions (their secrets are never shown again)."""
    principal = _principal()
    _fleet_key(principal)
    with transaction(readonly=True) as session:
        return {"items": webhooks.list_subscriptions(session, carrier_id=principal.carrier_id)}


@blp.route("/webhooks", methods=["POST"])
@require_scope(carrier_keys.ROUTES_READ)
@mutation(idempotency="required")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookCreatedSchema)
@blp.doc(security=SECURITY)
def create_webhook(args: dict[str, Any], *, session: Session) -> dict[str, Any]:
    """Subscribe a URL to the carrier's route events; the answer holds its signing secret."""
    principal = _principal()
    _fleet_key(principal)
    assert principal.carrier_id is not None
    subscription, secret = webhooks.create_subscription(
        session, carrier_id=principal.carrier_id, url=args["url"], events=args["events"]
    )
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": subscription.events,
        "active": subscription.active,
        "created_at": subscription.created_at,
        "secret": secret,
    }


@blp.route("/webhooks/<id:subscription_id>", methods=["DELETE"])
@require_scope(carrier_keys.ROUTES_READ)
@mutation(idempotency="required")
@blp.response(200, WebhookSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(security=SECURITY)
def delete_webhook(subscription_id: int, *, session: Session) -> WebhookSubscription:
    """Stop a subscription: nothing more is sent to its URL."""
    principal = _principal()
    _fleet_key(principal)
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.carrier_id != principal.carrier_id:
        raise NotFound(f"webhook {subscription_id} does not exist")
    return webhooks.deactivate_subscription(session, subscription_id)

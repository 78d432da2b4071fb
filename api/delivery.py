"""Delivery for planners and integrations: plan a window's routes, follow them, deliver again.

Planning is a long job: ``POST /route-plans`` queues it for the scheduler process and answers
202 with the plan's address; ``GET /route-plans/{id}`` tells its status (queued → running →
succeeded | failed) and, once done, the routes it made or changed and the orders it could not
serve, each with the reason.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from api.access import PLAN, require_named_site, require_site_of, visible_sites
from api.auth import current_principal, require_role
from api.blueprint import Blueprint
from api.carrier_schemas import CarrierRouteSchema, CarrierRouteSummarySchema
from api.context import mutation
from api.pagination import page
from api.route_views import route_summary, route_view
from api.schemas import CursorArgsSchema, Id, OrderSchema, StrictSchema, page_schema
from wms import commands, delivery, dispatch
from wms.db import transaction
from wms.errors import NotFound
from wms.models import (
    JobCommand,
    JobCommandKind,
    JobCommandStatus,
    Order,
    OrderLine,
    Route,
    RouteKind,
    RouteStatus,
    Site,
    Stop,
    utcnow,
)

blp = Blueprint(
    "delivery",
    __name__,
    url_prefix="/api/v1",
    description="Delivery planning: route plans, routes, failed deliveries delivered again",
)


class RoutePlanCreateSchema(StrictSchema):
    site_id = Id(required=True)
    window_start = fields.AwareDateTime(required=True)
    window_end = fields.AwareDateTime(required=True)


class RoutePlanSchema(Schema):
    id = fields.Integer(dump_only=True)
    site = fields.String(dump_only=True)
    window_start = fields.String(dump_only=True)
    window_end = fields.String(dump_only=True)
    status = fields.Enum(JobCommandStatus, by_value=True, dump_only=True)
    requested_by = fields.String(dump_only=True)
    requested_at = fields.AwareDateTime(dump_only=True)
    started_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    finished_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    summary = fields.String(dump_only=True)
    error = fields.String(dump_only=True)
    result = fields.Dict(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": (
                "Once succeeded: routes_planned, routes_changed, routes_cancelled, "
                "routes_unchanged (ids), and unassigned [{order_id, number, reason, why}]"
            )
        },
    )


class CarrierNameSchema(Schema):
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)


class RouteSummarySchema(CarrierRouteSummarySchema):
    carrier = fields.Nested(CarrierNameSchema, dump_only=True)


class RouteSchema(CarrierRouteSchema):
    carrier = fields.Nested(CarrierNameSchema, dump_only=True)


class RouteQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    status = fields.Enum(RouteStatus, by_value=True)
    kind = fields.Enum(RouteKind, by_value=True)
    window_from = fields.AwareDateTime(metadata={"description": "Windows starting at or after"})
    window_to = fields.AwareDateTime(metadata={"description": "Windows starting before"})


class RedeliverSchema(StrictSchema):
    window_start = fields.AwareDateTime(required=True)
    window_end = fields.AwareDateTime(required=True)


def _plan_view(command: JobCommand) -> dict[str, Any]:
    payload = command.payload or {}
    return {
        "id": command.id,
        "site": payload.get("site", command.job_id.partition(":")[2]),
        "window_start": payload.get("window_start", ""),
        "window_end": payload.get("window_end", ""),
        "status": command.status,
        "requested_by": command.requested_by,
        "requested_at": command.requested_at,
        "started_at": command.started_at,
        "finished_at": command.finished_at,
        "summary": command.summary,
        "error": command.error,
        "result": command.result,
    }


@blp.route("/route-plans", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.arguments(RoutePlanCreateSchema)
@blp.response(202, RoutePlanSchema)
def create_route_plan(args: dict[str, Any], *, session: Session) -> Any:
    """Queue the planning (or re-planning) of a front warehouse's dispatch window.

    One plan per front warehouse runs at a time: asking again while one is queued or running
    answers that one.
    """
    require_named_site(session, args["site_id"])
    site = session.get(Site, args["site_id"])
    assert site is not None
    payload = delivery.plan_payload(
        session, site.code, window_start=args["window_start"], window_end=args["window_end"]
    )
    principal = current_principal()
    submitted = commands.submit_task(
        session,
        f"{delivery.PLAN_TASK}:{site.code}",
        {**payload, "actor": principal.key},
        actor=principal.key,
        now=utcnow(),
    )
    location = url_for("delivery.get_route_plan", command_id=submitted.command.id)
    return _plan_view(submitted.command), 202, {"Location": location}


@blp.route("/route-plans/<id:command_id>", methods=["GET"])
@require_role(*PLAN)
@blp.response(200, RoutePlanSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_route_plan(command_id: int) -> dict[str, Any]:
    """A route plan's status and, once done, what it did and which orders it left out."""
    with transaction(readonly=True) as session:
        command = session.get(JobCommand, command_id)
        if (
            command is None
            or command.kind is not JobCommandKind.TASK
            or not command.job_id.startswith(f"{delivery.PLAN_TASK}:")
        ):
            raise NotFound(f"route plan {command_id} does not exist")
        code = command.job_id.partition(":")[2]
        site_id = session.scalar(select(Site.id).where(Site.code == code))
        sites = visible_sites()
        if site_id is None or (sites is not None and site_id not in sites):
            raise NotFound(f"route plan {command_id} does not exist")
        return _plan_view(command)


def _with_carrier(route: Route, view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "carrier": route.carrier}


@blp.route("/routes", methods=["GET"])
@require_role(*PLAN)
@blp.arguments(RouteQueryArgsSchema, location="query")
@blp.response(200, page_schema(RouteSummarySchema, "RoutePage"))
def list_routes(args: dict[str, Any]) -> dict[str, Any]:
    """Routes of the principal's sites, newest first, by site, status, kind and window."""
    stmt = select(Route).options(
        joinedload(Route.site),
        joinedload(Route.vehicle),
        joinedload(Route.carrier),
        selectinload(Route.stops),
    )
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Route.site_id.in_(sites))
    for name in ("site_id", "status", "kind"):
        if name in args:
            stmt = stmt.where(getattr(Route, name) == args[name])
    if "window_from" in args:
        stmt = stmt.where(Route.window_start >= args["window_from"])
    if "window_to" in args:
        stmt = stmt.where(Route.window_start < args["window_to"])
    with transaction(readonly=True) as session:
        found = page(
            session, stmt, Route.id, limit=args["limit"], cursor=args["cursor"], newest_first=True
        )
        return {
            **found,
            "items": [_with_carrier(r, route_summary(r)) for r in found["items"]],
        }


def _route(session: Session, route_id: int) -> Route:
    route = session.scalars(
        select(Route)
        .where(Route.id == route_id)
        .options(
            joinedload(Route.site),
            joinedload(Route.vehicle),
            joinedload(Route.carrier),
            selectinload(Route.stops).joinedload(Stop.order),
            selectinload(Route.stops).joinedload(Stop.transfer_order),
        )
        .execution_options(populate_existing=True)
    ).one_or_none()
    if route is None:
        raise NotFound(f"route {route_id} does not exist")
    require_site_of(route.site_id)
    return route


@blp.route("/routes/<id:route_id>", methods=["GET"])
@require_role(*PLAN)
@blp.response(200, RouteSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_route(route_id: int) -> dict[str, Any]:
    """One route with its stops in order, their ETAs, statuses and packages."""
    with transaction(readonly=True) as session:
        route = _route(session, route_id)
        return _with_carrier(route, route_view(session, route))


@blp.route("/routes/<id:route_id>/cancel", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.response(200, RouteSchema)
@blp.alt_response(404, response="NOT_FOUND")
def cancel_route(route_id: int, *, session: Session) -> dict[str, Any]:
    """Cancel a route before it leaves: its stops are skipped, its orders free for re-planning."""
    _route(session, route_id)
    dispatch.cancel_route(session, route_id, actor=current_principal().key, now=utcnow())
    route = _route(session, route_id)
    return _with_carrier(route, route_view(session, route))


@blp.route("/orders/<id:order_id>/redeliver", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.arguments(RedeliverSchema)
@blp.response(200, OrderSchema)
@blp.alt_response(404, response="NOT_FOUND")
def redeliver(args: dict[str, Any], order_id: int, *, session: Session) -> Order:
    """Promise a failed delivery again in a later window; planning that window routes it."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    require_site_of(order.site_id)
    delivery.redeliver(session, order_id, **args)
    found = session.get(
        Order,
        order_id,
        options=[selectinload(Order.lines).joinedload(OrderLine.item)],
        populate_existing=True,
    )
    assert found is not None
    return found

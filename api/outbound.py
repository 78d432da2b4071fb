"""Outbound: customer orders, pick waves, pick lists and packages.

Each view checks who may act for which site, then hands over to one service call inside the
``mutation()`` unit of work (one transaction, idempotency, retries).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from marshmallow import fields
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from api.access import (
    FLOOR,
    PLAN,
    acting_user_id,
    request_key,
    require_named_site,
    require_site_of,
    visible_sites,
)
from api.auth import require_role
from api.blueprint import Blueprint
from api.context import mutation
from api.errors import service_unavailable
from api.pagination import page, where_equal
from api.schemas import (
    CursorArgsSchema,
    Id,
    OrderCreateSchema,
    OrderSchema,
    PackageCloseSchema,
    PackageLineCreateSchema,
    PackageOpenSchema,
    PackageSchema,
    PickListNextSchema,
    PickListSchema,
    PickListSummarySchema,
    TaskConfirmSchema,
    WavePlanCreateSchema,
    WavePlanSchema,
    WaveSchema,
    WaveSettingsSchema,
    page_schema,
)
from wms import orders, packing, picklists, scope, waves
from wms.db import database, transaction
from wms.errors import NotFound
from wms.models import (
    Order,
    OrderLine,
    OrderStatus,
    Package,
    PackageLine,
    PickList,
    PickListStatus,
    PickTask,
    Temperature,
    Wave,
    WaveStatus,
)
from wms.retry import is_retryable, retrying

blp = Blueprint(
    "outbound", __name__, url_prefix="/api/v1", description="Orders, waves, pick lists, packing"
)


# --- orders ---------------------------------------------------------------------------------


def _order(session: Session, order_id: int) -> Order:
    order = session.get(
        Order,
        order_id,
        options=[selectinload(Order.lines).joinedload(OrderLine.item)],
        populate_existing=True,
    )
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order


@blp.route("/orders", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderSchema)
def create_order(args: dict[str, Any], *, session: Session) -> Order:
    """Take a customer order for delivery from a front warehouse in a promised window."""
    require_named_site(session, args["site_id"])
    lines = [orders.LineRequest(**line) for line in args.pop("lines")]
    order = orders.create_order(session, lines=lines, **args)
    return _order(session, order.id)


class OrderQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    status = fields.Enum(OrderStatus, by_value=True)
    wave_id = Id(strict=False)


@blp.route("/orders", methods=["GET"])
@blp.arguments(OrderQueryArgsSchema, location="query")
@blp.response(200, page_schema(OrderSchema, "OrderPage"))
def list_orders(args: dict[str, Any]) -> dict[str, Any]:
    """List orders by site, status and wave, newest first."""
    stmt = select(Order).options(selectinload(Order.lines).joinedload(OrderLine.item))
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Order.site_id.in_(sites))
    stmt = where_equal(stmt, Order, args, ("site_id", "status", "wave_id"))
    with transaction(readonly=True) as session:
        return page(
            session, stmt, Order.id, limit=args["limit"], cursor=args["cursor"], newest_first=True
        )


@blp.route("/orders/<id:order_id>", methods=["GET"])
@blp.response(200, OrderSchema)
def get_order(order_id: int) -> Order:
    """One order with its lines and where it is in its lifecycle."""
    with transaction(readonly=True) as session:
        order = _order(session, order_id)
        require_site_of(order.site_id)
        return order


@blp.route("/orders/<id:order_id>/cancel", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.response(200, OrderSchema)
@blp.alt_response(409, response="CONFLICT", description="Picked, packed or later")
def cancel_order(order_id: int, *, session: Session) -> Order:
    """Cancel an order until its first unit is picked; its reservations are given back."""
    require_site_of(scope.site_of_order(session, order_id))
    orders.cancel_order(session, order_id)
    return _order(session, order_id)


# --- waves ----------------------------------------------------------------------------------


def _settings(args: dict[str, Any]) -> waves.WaveSettings:
    names = WaveSettingsSchema().fields
    return waves.WaveSettings.from_config(
        current_app.config, **{k: args.get(k) for k in names if k in args}
    )


def _wave(session: Session, wave_id: int) -> Wave:
    wave = session.get(
        Wave,
        wave_id,
        options=[selectinload(Wave.pick_lists).selectinload(PickList.tasks)],
        populate_existing=True,
    )
    if wave is None:
        raise NotFound(f"wave {wave_id} does not exist")
    return wave


def _plan_answer(session: Session, plan: waves.WavePlan) -> tuple[dict[str, Any], int]:
    wave = _wave(session, plan.wave.id) if plan.wave is not None else None
    return {"wave": wave, "skipped": plan.skipped}, 201 if wave is not None else 200


@blp.route("/waves", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.arguments(WavePlanCreateSchema)
@blp.response(201, WavePlanSchema)
@blp.alt_response(200, schema=WavePlanSchema, description="No order could go: reasons only")
def plan_wave(args: dict[str, Any], *, session: Session) -> tuple[dict[str, Any], int]:
    """Plan a wave of the site's due orders (or the orders named): 201 with the planned wave
    and the orders left out with their reasons, or 200 with reasons only."""
    require_named_site(session, args["site_id"])
    plan = waves.plan_wave(
        session,
        args["site_id"],
        settings=_settings(args),
        order_ids=args.get("order_ids"),
        by=acting_user_id(),
    )
    return _plan_answer(session, plan)


@blp.route("/waves/preview", methods=["POST"])
@require_role(*PLAN)
@blp.arguments(WavePlanCreateSchema)
@blp.response(200, WavePlanSchema)
def preview_wave(args: dict[str, Any]) -> Response:
    """What planning would do now — the wave's figures, pick lists and the orders left out —
    without keeping anything: no row is locked, nothing is reserved, no wave is stored."""

    def attempt() -> dict[str, Any]:
        session = database().sessions()
        try:
            with session.begin():
                require_named_site(session, args["site_id"])
                plan = waves.plan_wave(
                    session,
                    args["site_id"],
                    settings=_settings(args),
                    order_ids=args.get("order_ids"),
                    lock=False,
                )
                answer, _ = _plan_answer(session, plan)
                body: dict[str, Any] = WavePlanSchema().dump(answer)
                session.rollback()
        finally:
            session.close()
        return body

    try:
        body = retrying(attempt)
    except SQLAlchemyError as error:
        if not is_retryable(error):
            raise
        return service_unavailable("the database is busy with other requests; try again shortly")
    if body["wave"] is not None:  # nothing was stored: no ids, no numbers
        body["wave"]["id"] = body["wave"]["number"] = None
        for pick_list in body["wave"]["pick_lists"]:
            pick_list["id"] = pick_list["number"] = None
    return jsonify(body)


class WaveQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    status = fields.Enum(WaveStatus, by_value=True)


@blp.route("/waves", methods=["GET"])
@blp.arguments(WaveQueryArgsSchema, location="query")
@blp.response(200, page_schema(WaveSchema, "WavePage"))
def list_waves(args: dict[str, Any]) -> dict[str, Any]:
    """List waves by site and status, newest first."""
    stmt = select(Wave).options(selectinload(Wave.pick_lists).selectinload(PickList.tasks))
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Wave.site_id.in_(sites))
    stmt = where_equal(stmt, Wave, args, ("site_id", "status"))
    with transaction(readonly=True) as session:
        return page(
            session, stmt, Wave.id, limit=args["limit"], cursor=args["cursor"], newest_first=True
        )


@blp.route("/waves/<id:wave_id>", methods=["GET"])
@blp.response(200, WaveSchema)
def get_wave(wave_id: int) -> Wave:
    """One wave: its figures, its pick lists and its orders."""
    with transaction(readonly=True) as session:
        wave = _wave(session, wave_id)
        require_site_of(wave.site_id)
        return wave


@blp.route("/waves/<id:wave_id>/release", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.response(200, WaveSchema)
@blp.alt_response(409, response="CONFLICT", description="Not planned (released twice?)")
def release_wave(wave_id: int, *, session: Session) -> Wave:
    """Release a planned wave to the floor: its pick lists appear on the scanners."""
    require_site_of(scope.site_of_wave(session, wave_id))
    waves.release_wave(session, wave_id, by=acting_user_id())
    return _wave(session, wave_id)


@blp.route("/waves/<id:wave_id>/cancel", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.response(200, WaveSchema)
@blp.alt_response(409, response="CONFLICT", description="Picking has started, or it is over")
def cancel_wave(wave_id: int, *, session: Session) -> Wave:
    """Cancel a wave before picking starts; every reservation is given back."""
    require_site_of(scope.site_of_wave(session, wave_id))
    waves.cancel_wave(session, wave_id)
    return _wave(session, wave_id)


@blp.route("/waves/<id:wave_id>/replan", methods=["POST"])
@require_role(*PLAN)
@mutation()
@blp.arguments(WaveSettingsSchema)
@blp.response(201, WavePlanSchema)
@blp.alt_response(200, schema=WavePlanSchema, description="None of its orders could go")
@blp.alt_response(409, response="CONFLICT", description="The wave is not planned")
def replan_wave(
    args: dict[str, Any], wave_id: int, *, session: Session
) -> tuple[dict[str, Any], int]:
    """Plan a planned wave's orders again; the old wave is cancelled."""
    require_site_of(scope.site_of_wave(session, wave_id))
    plan = waves.replan_wave(session, wave_id, settings=_settings(args), by=acting_user_id())
    return _plan_answer(session, plan)


# --- pick lists -------------------------------------------------------------------------------


def _pick_list(session: Session, pick_list_id: int) -> PickList:
    pick_list = session.get(
        PickList,
        pick_list_id,
        options=[
            selectinload(PickList.tasks).options(
                selectinload(PickTask.slot),
                selectinload(PickTask.item),
                selectinload(PickTask.order),
            )
        ],
        populate_existing=True,
    )
    if pick_list is None:
        raise NotFound(f"pick list {pick_list_id} does not exist")
    return pick_list


class PickListQueryArgsSchema(CursorArgsSchema):
    site_id = Id(strict=False)
    wave_id = Id(strict=False)
    status = fields.Enum(PickListStatus, by_value=True)
    temperature = fields.Enum(Temperature, by_value=True)


@blp.route("/pick-lists", methods=["GET"])
@blp.arguments(PickListQueryArgsSchema, location="query")
@blp.response(200, page_schema(PickListSummarySchema, "PickListPage"))
def list_pick_lists(args: dict[str, Any]) -> dict[str, Any]:
    """List pick lists by site, wave, status and temperature zone."""
    stmt = (
        select(PickList)
        .join(Wave, Wave.id == PickList.wave_id)
        .options(selectinload(PickList.tasks))
    )
    if (sites := visible_sites()) is not None:
        stmt = stmt.where(Wave.site_id.in_(sites))
    if "site_id" in args:
        stmt = stmt.where(Wave.site_id == args["site_id"])
    stmt = where_equal(stmt, PickList, args, ("wave_id", "status", "temperature"))
    with transaction(readonly=True) as session:
        return page(session, stmt, PickList.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/pick-lists/<id:pick_list_id>", methods=["GET"])
@blp.response(200, PickListSchema)
def get_pick_list(pick_list_id: int) -> PickList:
    """One pick list with its tasks in walking order, its walk in metres and its progress."""
    with transaction(readonly=True) as session:
        require_site_of(scope.site_of_pick_list(session, pick_list_id))
        return _pick_list(session, pick_list_id)


@blp.route("/pick-lists/<id:pick_list_id>/svg", methods=["GET"])
@blp.response(200, content_type="image/svg+xml", description="The racks, the tasks, the walk")
def pick_list_svg(pick_list_id: int) -> Response:
    """The pick list drawn: the zone's racks, the tasks numbered in walking order, the walk."""
    with transaction(readonly=True) as session:
        require_site_of(scope.site_of_pick_list(session, pick_list_id))
        drawing = picklists.svg(session, _pick_list(session, pick_list_id))
    if drawing is None:
        raise NotFound("the site has no rack layout to draw the walk on")
    return Response(drawing, mimetype="image/svg+xml")


@blp.route("/pick-lists/next", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PickListNextSchema)
@blp.response(200, PickListSchema)
@blp.alt_response(204, description="No pick list is waiting")
def next_pick_list(args: dict[str, Any], *, session: Session) -> Any:
    """Take the next pick list of a released wave (your own in progress first)."""
    require_named_site(session, args["site_id"])
    taken = picklists.take_next(
        session, args["site_id"], user_id=acting_user_id(), temperature=args["temperature"]
    )
    if taken is None:
        return Response(status=204)
    return _pick_list(session, taken.id)


@blp.route("/pick-lists/<id:pick_list_id>/start", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.response(200, PickListSchema)
@blp.alt_response(409, response="CONFLICT", description="Not released, done or someone else's")
def start_pick_list(pick_list_id: int, *, session: Session) -> PickList:
    """Take a given pick list."""
    require_site_of(scope.site_of_pick_list(session, pick_list_id))
    picklists.start(session, pick_list_id, user_id=acting_user_id())
    return _pick_list(session, pick_list_id)


@blp.route("/pick-lists/<id:pick_list_id>/tasks/<id:task_id>/confirm", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(TaskConfirmSchema)
@blp.response(200, PickListSchema)
@blp.alt_response(409, response="CONFLICT", description="Confirmed already, or not released")
def confirm_task(
    args: dict[str, Any], pick_list_id: int, task_id: int, *, session: Session
) -> PickList:
    """Confirm the units picked for a task (fewer is a short pick: give the reason)."""
    require_site_of(scope.site_of_pick_list(session, pick_list_id))
    picklists.confirm_task(
        session,
        pick_list_id,
        task_id,
        user_id=acting_user_id(),
        idempotency_key=request_key(),
        **args,
    )
    return _pick_list(session, pick_list_id)


# --- packages ---------------------------------------------------------------------------------


def _package(session: Session, package_id: int) -> Package:
    package = session.get(
        Package,
        package_id,
        options=[
            selectinload(Package.lines)
            .joinedload(PackageLine.order_line)
            .joinedload(OrderLine.item),
            selectinload(Package.order),
        ],
        populate_existing=True,
    )
    if package is None:
        raise NotFound(f"package {package_id} does not exist")
    return package


@blp.route("/packages", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PackageOpenSchema)
@blp.response(201, PackageSchema)
@blp.alt_response(409, response="CONFLICT", description="The order is not picked yet")
def open_package(args: dict[str, Any], *, session: Session) -> Package:
    """Start packing the order whose units are in the scanned tote (or continue its package)."""
    package = packing.open_package(session, args["tote"], user_id=acting_user_id())
    require_site_of(package.order.site_id)  # refused: the whole transaction rolls back
    return _package(session, package.id)


@blp.route("/packages/<id:package_id>", methods=["GET"])
@blp.response(200, PackageSchema)
def get_package(package_id: int) -> Package:
    """One package: its lines, totes, SSCC and its order's status."""
    with transaction(readonly=True) as session:
        require_site_of(scope.site_of_package(session, package_id))
        return _package(session, package_id)


@blp.route("/packages/<id:package_id>/lines", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PackageLineCreateSchema)
@blp.response(200, PackageSchema)
def confirm_package_line(args: dict[str, Any], package_id: int, *, session: Session) -> Package:
    """Confirm units of an order line into the package (no more than were picked)."""
    require_site_of(scope.site_of_package(session, package_id))
    packing.confirm_line(session, package_id, **args)
    return _package(session, package_id)


@blp.route("/packages/<id:package_id>/close", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(PackageCloseSchema)
@blp.response(200, PackageSchema)
@blp.alt_response(409, response="CONFLICT", description="Closed already, or empty")
def close_package(args: dict[str, Any], package_id: int, *, session: Session) -> Package:
    """Close the package with its SSCC; the order is packed once all its units are packed."""
    require_site_of(scope.site_of_package(session, package_id))
    packing.close(
        session,
        package_id,
        # From the environment a prefix of digits arrives as a number (JSON): keep it text.
        company_prefix=str(
            current_app.config.get("GS1_COMPANY_PREFIX", packing.DEFAULT_COMPANY_PREFIX)
        ),
        user_id=acting_user_id(),
        **args,
    )
    return _package(session, package_id)

"""The floor's side of dispatch: loading a route's vehicle, taking failed deliveries back.

For the handheld pages ``/scanners/dispatch`` and ``/scanners/returns``:

- ``GET /dispatch/routes?site_id=`` the site's delivery routes of the (site-local) day that
  may still be loaded, with their vehicle, carrier and packages loaded of the total;
- ``GET /dispatch/routes/scan/{code}?site_id=`` the route a scanned route number or vehicle
  code names (a vehicle: its next route still to load), 404 naming the code otherwise;
- ``GET /dispatch/routes/{id}`` one route's stops and packages, loaded or still to load;
- ``POST /dispatch/routes/{id}/hand-overs`` a scanned package onto the route's vehicle
  (``wms.dispatch.hand_over``);
- ``GET /dispatch/packages/scan/{code}`` a package by its label, for the returns desk;
- ``POST /dispatch/returns`` a failed delivery's package back, to stock or to quarantine
  (``wms.dispatch.receive_return``).

Each mutation is one ``mutation()`` unit of work (one transaction, the Idempotency-Key,
retries) around one service call; refusals name the scan they refuse (``scanned``).

What the floor reads of a route or a package is ``wms.dock``'s, which the scanner pages also
render into themselves.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from api.access import FLOOR, acting_user_id, require_named_site, require_site_of
from api.auth import require_role
from api.blueprint import Blueprint
from api.context import mutation
from api.schemas import Id, StrictSchema
from wms import dispatch, dock
from wms.db import transaction
from wms.errors import NotFound, WmsError
from wms.models import (
    PackageStatus,
    ReturnDisposition,
    RouteKind,
    RouteStatus,
    StopStatus,
    VehicleKind,
    utcnow,
)

blp = Blueprint(
    "dispatch_floor",
    __name__,
    url_prefix="/api/v1/dispatch",
    description="The floor's dispatch: loading routes' vehicles, taking failed deliveries back",
)

#: A scan as a wedge sends it: a label's text, with room for GS1 element strings.
MAX_SCAN = 512


def _named(error: WmsError, scan: str) -> WmsError:
    """The refusal of a scan carries the scan (``scanned`` in the problem document)."""
    if error.field == "package_scan":
        error.scanned = scan  # type: ignore[attr-defined]
    return error


# --- schemas ------------------------------------------------------------------------------------


class FloorRouteArgsSchema(StrictSchema):
    site_id = Id(strict=False, required=True)


class FloorLoadPackageSchema(Schema):
    id = fields.Integer(dump_only=True)
    sscc = fields.String(dump_only=True, allow_none=True)
    loaded = fields.Boolean(dump_only=True, metadata={"description": "On this stop's vehicle"})
    loaded_at = fields.DateTime(dump_only=True, allow_none=True)


class FloorStopSchema(Schema):
    id = fields.Integer(dump_only=True)
    sequence = fields.Integer(dump_only=True)
    status = fields.Enum(StopStatus, by_value=True, dump_only=True)
    name = fields.String(dump_only=True, metadata={"description": "The customer"})
    address = fields.String(dump_only=True)
    order_id = fields.Integer(dump_only=True, allow_none=True)
    order_number = fields.String(dump_only=True, allow_none=True)
    loaded = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)
    packages = fields.List(fields.Nested(FloorLoadPackageSchema), dump_only=True)


class FloorRouteSchema(Schema):
    id = fields.Integer(dump_only=True)
    number = fields.String(dump_only=True)
    kind = fields.Enum(RouteKind, by_value=True, dump_only=True)
    status = fields.Enum(RouteStatus, by_value=True, dump_only=True)
    site_id = fields.Integer(dump_only=True)
    vehicle_code = fields.String(dump_only=True)
    vehicle_kind = fields.Enum(VehicleKind, by_value=True, dump_only=True)
    carrier = fields.String(dump_only=True)
    window_start = fields.DateTime(dump_only=True)
    window_end = fields.DateTime(dump_only=True)
    planned_start = fields.DateTime(dump_only=True)
    loadable = fields.Boolean(
        dump_only=True, metadata={"description": "Planned or accepted: packages may go on"}
    )
    ready = fields.Boolean(
        dump_only=True, metadata={"description": "Every stop still to serve is dispatched"}
    )
    loaded = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)
    stops = fields.List(fields.Nested(FloorStopSchema), dump_only=True)


class FloorRouteRowSchema(Schema):
    id = fields.Integer(dump_only=True)
    number = fields.String(dump_only=True)
    status = fields.Enum(RouteStatus, by_value=True, dump_only=True)
    vehicle_code = fields.String(dump_only=True)
    carrier = fields.String(dump_only=True)
    planned_start = fields.DateTime(dump_only=True)
    starts_local = fields.String(dump_only=True, metadata={"description": "HH:MM, site time"})
    stops = fields.Integer(dump_only=True)
    loaded = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)
    ready = fields.Boolean(dump_only=True)


class FloorRouteBoardSchema(Schema):
    items = fields.List(fields.Nested(FloorRouteRowSchema), dump_only=True)


class HandOverCreateSchema(StrictSchema):
    package_scan = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_SCAN),
        metadata={"description": "The package label as scanned: SSCC, (00)… or 00…"},
    )


class HandedPackageSchema(Schema):
    id = fields.Integer(dump_only=True)
    sscc = fields.String(dump_only=True, allow_none=True)
    order_number = fields.String(dump_only=True, attribute="order.number")
    stop_id = fields.Integer(dump_only=True, allow_none=True)
    loaded_at = fields.DateTime(dump_only=True, allow_none=True)


class HandOverSchema(Schema):
    package = fields.Nested(HandedPackageSchema, dump_only=True)
    stop = fields.Nested(FloorStopSchema, dump_only=True)
    route = fields.Nested(FloorRouteSchema, dump_only=True)


class FloorPackageLineSchema(Schema):
    sku = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True)


class FloorPackageSchema(Schema):
    id = fields.Integer(dump_only=True)
    sscc = fields.String(dump_only=True, allow_none=True)
    status = fields.Enum(PackageStatus, by_value=True, dump_only=True)
    order_id = fields.Integer(dump_only=True)
    order_number = fields.String(dump_only=True)
    order_status = fields.String(dump_only=True)
    customer = fields.String(dump_only=True)
    address = fields.String(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    route_number = fields.String(dump_only=True, allow_none=True)
    stop_status = fields.String(dump_only=True, allow_none=True)
    failure_reason = fields.String(dump_only=True, allow_none=True)
    loaded_at = fields.DateTime(dump_only=True, allow_none=True)
    returned_at = fields.DateTime(dump_only=True, allow_none=True)
    return_disposition = fields.String(dump_only=True, allow_none=True)
    lines = fields.List(fields.Nested(FloorPackageLineSchema), dump_only=True)


class ReturnCreateSchema(StrictSchema):
    package_scan = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_SCAN),
        metadata={"description": "The returned package's label as scanned"},
    )
    disposition = fields.Enum(
        ReturnDisposition,
        by_value=True,
        required=True,
        metadata={"description": "restocked (sellable, into slot_id) or quarantined (on hold)"},
    )
    slot_id = Id(
        load_default=None,
        metadata={"description": "Where the units go; quarantined: the staging slot if left out"},
    )


class ReturnedUnitsSchema(Schema):
    slot_id = fields.Integer(dump_only=True)
    slot_barcode = fields.String(dump_only=True)
    sku = fields.String(dump_only=True)
    lot = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True)
    hold = fields.String(dump_only=True, allow_none=True)


class ReturnReceivedSchema(Schema):
    package = fields.Nested(FloorPackageSchema, dump_only=True)
    units = fields.List(fields.Nested(ReturnedUnitsSchema), dump_only=True)


# --- routes and the hand-over -------------------------------------------------------------------


@blp.route("/routes", methods=["GET"])
@blp.arguments(FloorRouteArgsSchema, location="query")
@blp.response(200, FloorRouteBoardSchema)
def list_routes_to_load(args: dict[str, Any]) -> dict[str, Any]:
    """Today's (site time) delivery routes of a site still to load, by planned start."""
    with transaction(readonly=True) as session:
        require_named_site(session, args["site_id"])
        return {"items": dock.route_board(session, args["site_id"], now=utcnow())}


@blp.route("/routes/scan/<path:code>", methods=["GET"])
@blp.arguments(FloorRouteArgsSchema, location="query")
@blp.response(200, FloorRouteSchema)
@blp.alt_response(404, response="NOT_FOUND")
def scan_route(args: dict[str, Any], code: str) -> dict[str, Any]:
    """The route a scanned route number or vehicle code names (a vehicle: its next route)."""
    with transaction(readonly=True) as session:
        require_named_site(session, args["site_id"])
        route = dock.find_route(session, args["site_id"], code)
        return dock.route_load(session, route.id)


@blp.route("/routes/<id:route_id>", methods=["GET"])
@blp.response(200, FloorRouteSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_route_load(route_id: int) -> dict[str, Any]:
    """A route's stops and their packages: loaded, and still to hand over."""
    with transaction(readonly=True) as session:
        site_id = dock.site_of_route(session, route_id)
        if site_id is None:
            raise NotFound(f"route {route_id} does not exist")
        require_site_of(site_id)
        return dock.route_load(session, route_id)


@blp.route("/routes/<id:route_id>/hand-overs", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(HandOverCreateSchema)
@blp.response(200, HandOverSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(
    409,
    response="CONFLICT",
    description="Another route's package, already on, not closed, or the route has left",
)
def hand_over(args: dict[str, Any], route_id: int, *, session: Session) -> dict[str, Any]:
    """Load a scanned package onto the route's vehicle; its stop is dispatched once all are."""
    require_site_of(dock.site_of_route(session, route_id))
    scan = args["package_scan"]
    try:
        package = dispatch.hand_over(
            session, route_id=route_id, package_scan=scan, user_id=acting_user_id(), now=utcnow()
        )
    except WmsError as error:
        raise _named(error, scan) from None
    load = dock.route_load(session, route_id)
    stop = next(s for s in load["stops"] if s["id"] == package.stop_id)
    return {"package": package, "stop": stop, "route": load}


# --- returns ------------------------------------------------------------------------------------


@blp.route("/packages/scan/<path:code>", methods=["GET"])
@blp.response(200, FloorPackageSchema)
@blp.alt_response(404, response="NOT_FOUND")
def scan_package(code: str) -> dict[str, Any]:
    """A package by its scanned label: its order, where it went, whether it came back."""
    with transaction(readonly=True) as session:
        package = dock.package_by_scan(session, code)
        require_site_of(package.order.site_id)
        return dock.package_view(session, package)


@blp.route("/returns", methods=["POST"])
@require_role(*FLOOR)
@mutation()
@blp.arguments(ReturnCreateSchema)
@blp.response(200, ReturnReceivedSchema)
@blp.alt_response(
    409,
    response="CONFLICT",
    description="Not a failed delivery, already back, loaded again, or held and sellable mixed",
)
def receive_return(args: dict[str, Any], *, session: Session) -> dict[str, Any]:
    """Take a failed delivery's package back: to stock (into a rack slot) or to quarantine."""
    scan = args["package_scan"]
    require_site_of(dock.site_of_scan(session, scan))
    try:
        package = dispatch.receive_return(
            session,
            package_scan=scan,
            disposition=args["disposition"],
            slot_id=args["slot_id"],
            user_id=acting_user_id(),
            now=utcnow(),
        )
    except WmsError as error:
        raise _named(error, scan) from None
    return {
        "package": dock.package_view(session, package),
        "units": dock.returned_units(session, package),
    }

"""Schemas of the carrier API: what carriers read (dump only) and the little they may send.

Input schemas list the only fields a carrier may write; a route's status, carrier, vehicle,
times and versions are never among them (``unknown = RAISE`` refuses any other field).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.schemas import CursorArgsSchema, Id, StrictSchema
from wms import dispatch, webhooks
from wms.models import (
    FailureReason,
    RouteKind,
    RouteStatus,
    StopStatus,
    UploadKind,
    VehicleKind,
)


def Latitude(**kwargs: Any) -> fields.Float:
    """Degrees north, -90 to 90."""
    return fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False, **kwargs)


def Longitude(**kwargs: Any) -> fields.Float:
    """Degrees east, -180 to 180."""
    return fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False, **kwargs)


# --- reading -------------------------------------------------------------------------------------


class PlaceSchema(Schema):
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    address = fields.String(dump_only=True)
    latitude = fields.Float(dump_only=True)
    longitude = fields.Float(dump_only=True)


class CarrierVehicleSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True)
    kind = fields.Enum(VehicleKind, by_value=True, dump_only=True)
    plate = fields.String(dump_only=True)
    capacity_totes = fields.Integer(dump_only=True)
    capacity_kg = fields.Integer(dump_only=True)


class StopPackageSchema(Schema):
    sscc = fields.String(dump_only=True, allow_none=True)
    weight_g = fields.Integer(dump_only=True)
    loaded = fields.Boolean(
        dump_only=True, metadata={"description": "Handed over onto the vehicle"}
    )


class CarrierStopSchema(Schema):
    id = fields.Integer(dump_only=True)
    route_id = fields.Integer(dump_only=True)
    sequence = fields.Integer(dump_only=True, metadata={"description": "1 is served first"})
    status = fields.Enum(StopStatus, by_value=True, dump_only=True)
    kind = fields.String(
        dump_only=True, metadata={"description": "delivery (a customer) or transfer (a site)"}
    )
    reference = fields.String(
        dump_only=True, metadata={"description": "The order or transfer number"}
    )
    name = fields.String(dump_only=True, metadata={"description": "Who or what to deliver to"})
    phone = fields.String(dump_only=True)
    address = fields.String(dump_only=True)
    latitude = fields.Float(dump_only=True)
    longitude = fields.Float(dump_only=True)
    window_start = fields.AwareDateTime(dump_only=True)
    window_end = fields.AwareDateTime(dump_only=True)
    planned_arrival = fields.AwareDateTime(dump_only=True)
    eta = fields.AwareDateTime(dump_only=True)
    service_s = fields.Float(dump_only=True)
    totes = fields.Integer(dump_only=True)
    weight_kg = fields.Float(dump_only=True)
    packages = fields.List(fields.Nested(StopPackageSchema), dump_only=True)
    notes = fields.String(dump_only=True)
    arrived_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    completed_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    failure_reason = fields.Enum(FailureReason, by_value=True, dump_only=True, allow_none=True)
    recipient_name = fields.String(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class CarrierRouteSummarySchema(Schema):
    id = fields.Integer(dump_only=True)
    number = fields.String(dump_only=True)
    kind = fields.Enum(RouteKind, by_value=True, dump_only=True)
    status = fields.Enum(RouteStatus, by_value=True, dump_only=True)
    version = fields.Integer(
        dump_only=True, metadata={"description": "Goes up with every change to the route"}
    )
    site = fields.Nested(PlaceSchema, dump_only=True)
    vehicle = fields.Nested(CarrierVehicleSchema, dump_only=True)
    driver_id = fields.Integer(dump_only=True, allow_none=True)
    window_start = fields.AwareDateTime(dump_only=True)
    window_end = fields.AwareDateTime(dump_only=True)
    planned_start = fields.AwareDateTime(dump_only=True)
    planned_end = fields.AwareDateTime(dump_only=True)
    distance_m = fields.Float(dump_only=True)
    duration_s = fields.Float(dump_only=True)
    stops_count = fields.Integer(dump_only=True)
    accepted_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    started_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    completed_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    cancelled_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class CarrierRouteSchema(CarrierRouteSummarySchema):
    stops = fields.List(fields.Nested(CarrierStopSchema), dump_only=True)


class CarrierRouteQueryArgsSchema(CursorArgsSchema):
    date = fields.Date(
        load_default=None,
        metadata={"description": "Routes whose window starts on this day, in the site's time"},
    )
    status = fields.Enum(RouteStatus, by_value=True, load_default=None)
    updated_since = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "Routes changed at or after this moment (with its UTC offset)"},
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "Routes per page (1-100)"},
    )


class DriverSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    active = fields.Boolean(dump_only=True)


class DriverPageSchema(Schema):
    items = fields.List(fields.Nested(DriverSchema), dump_only=True)


# --- writing -------------------------------------------------------------------------------------


class AcceptSchema(StrictSchema):
    driver_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "The carrier's driver who drives it"},
    )


class StartSchema(StrictSchema):
    """Nothing to send: starting records the moment the server hears of it."""


class _AtAPlace(StrictSchema):
    at = fields.AwareDateTime(
        required=True, metadata={"description": "When it happened on the device (UTC offset)"}
    )
    latitude = Latitude(load_default=None)
    longitude = Longitude(load_default=None)

    @validates_schema
    def _both_or_neither(self, data: dict[str, object], **kwargs: object) -> None:
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("give latitude and longitude together", "latitude")


class ArriveSchema(_AtAPlace):
    pass


class CompleteSchema(_AtAPlace):
    outcome = fields.String(required=True, validate=validate.OneOf(["delivered", "failed"]))
    failure_reason = fields.Enum(
        FailureReason,
        by_value=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "Why it failed (only with outcome failed)"},
    )
    recipient_name = fields.String(load_default="", validate=validate.Length(max=120))
    notes = fields.String(load_default="", validate=validate.Length(max=2000))
    photo_id = Id(load_default=None, allow_none=True)
    signature_id = Id(load_default=None, allow_none=True)


class UploadFormSchema(StrictSchema):
    kind = fields.Enum(UploadKind, by_value=True, required=True)


class UploadFileSchema(StrictSchema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class UploadSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.Enum(UploadKind, by_value=True, dump_only=True)
    content_type = fields.String(dump_only=True)
    size_bytes = fields.Integer(dump_only=True)
    sha256 = fields.String(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class PositionSchema(StrictSchema):
    recorded_at = fields.AwareDateTime(required=True)
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    accuracy_m = fields.Float(
        load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(min=0)
    )
    speed_mps = fields.Float(
        load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(min=0)
    )
    heading_deg = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(min=0, max=360),
    )


class PositionsSchema(StrictSchema):
    positions = fields.List(
        fields.Nested(PositionSchema),
        required=True,
        validate=validate.Length(min=1, max=dispatch.MAX_POSITIONS),
    )


class EtaSchema(Schema):
    stop_id = fields.Integer(dump_only=True)
    eta = fields.AwareDateTime(dump_only=True)


class PositionsResultSchema(Schema):
    stored = fields.Integer(dump_only=True)
    route_id = fields.Integer(dump_only=True, allow_none=True)
    etas = fields.List(fields.Nested(EtaSchema), dump_only=True)


class WebhookCreateSchema(StrictSchema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=500))
    events = fields.List(
        fields.String(validate=validate.OneOf(webhooks.EVENT_TYPES)),
        load_default=list,
        metadata={"description": "Event types wanted; none: all of them"},
    )


class WebhookSchema(Schema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)
    events = fields.List(fields.String(), dump_only=True)
    active = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        dump_only=True,
        metadata={"description": "Signs every delivery (HMAC-SHA256); shown only in this answer"},
    )


class WebhookPageSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema), dump_only=True)

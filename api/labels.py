"""Labels: slots, totes and parcels as PDF (any printer) or ZPL (Zebra thermal printers)."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import fields, validate
from sqlalchemy.orm import Session

from api.access import require_site_of
from api.blueprint import Blueprint
from api.schemas import StrictSchema
from wms import labels, picklists, scope
from wms.db import transaction
from wms.errors import NotFound
from wms.models import Order, Package, Site, Slot

blp = Blueprint("labels", __name__, url_prefix="/api/v1/labels", description="Labels to print")

MIMETYPES = {"pdf": "application/pdf", "zpl": "application/vnd.zebra-zpl"}


class LabelArgsSchema(StrictSchema):
    format = fields.String(
        load_default="pdf",
        validate=validate.OneOf(sorted(MIMETYPES)),
        metadata={"description": "pdf (any printer) or zpl (Zebra, 203 dpi, 100 x 150 mm)"},
    )


def _answer(label: labels.Label, fmt: str, name: str) -> Response:
    body: Any = labels.to_pdf([label]) if fmt == "pdf" else labels.to_zpl([label])
    response = Response(body, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'inline; filename="{name}.{fmt}"'
    return response


def _get(session: Session, model: type[Any], ident: int, what: str) -> Any:
    found = session.get(model, ident)
    if found is None:
        raise NotFound(f"{what} {ident} does not exist")
    return found


@blp.route("/slots/<id:slot_id>", methods=["GET"])
@blp.arguments(LabelArgsSchema, location="query")
@blp.response(200, content_type="application/pdf", description="The label (PDF or ZPL)")
def slot_label(args: dict[str, Any], slot_id: int) -> Response:
    """A slot's rack label."""
    with transaction(readonly=True) as session:
        slot = _get(session, Slot, slot_id, "slot")
        require_site_of(slot.site_id)
        return _answer(labels.slot_label(slot), args["format"], f"slot-{slot.barcode}")


@blp.route("/totes/<string:code>", methods=["GET"])
@blp.arguments(LabelArgsSchema, location="query")
@blp.response(200, content_type="application/pdf", description="The label (PDF or ZPL)")
def tote_label(args: dict[str, Any], code: str) -> Response:
    """A cart tote's label, with the order picked into it."""
    with transaction(readonly=True) as session:
        order = picklists.order_of_tote(session, code)
        require_site_of(order.site_id)
        label = labels.tote_label(code.strip().upper(), order_number=order.number)
        return _answer(label, args["format"], f"tote-{label.barcode}")


@blp.route("/packages/<id:package_id>", methods=["GET"])
@blp.arguments(LabelArgsSchema, location="query")
@blp.response(200, content_type="application/pdf", description="The label (PDF or ZPL)")
def package_label(args: dict[str, Any], package_id: int) -> Response:
    """A closed parcel's shipping label: its SSCC as GS1-128, the customer and the window."""
    with transaction(readonly=True) as session:
        require_site_of(scope.site_of_package(session, package_id))
        package = _get(session, Package, package_id, "package")
        order = _get(session, Order, package.order_id, "order")
        site = _get(session, Site, order.site_id, "site")
        label = labels.sscc_label(package, order, site)
        return _answer(label, args["format"], f"sscc-{package.sscc}")

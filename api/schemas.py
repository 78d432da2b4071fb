"""Schemas shared by every API resource."""

from __future__ import annotations

from marshmallow import Schema, fields


class ProblemSchema(Schema):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type = fields.String(metadata={"description": "Stable identifier of the kind of problem"})
    title = fields.String(metadata={"description": "Short summary of the kind of problem"})
    status = fields.Integer(metadata={"description": "HTTP status code"})
    detail = fields.String(metadata={"description": "What went wrong with this request"})
    instance = fields.String(metadata={"description": "The path of the request"})
    field = fields.String(metadata={"description": "The request field at fault, if one is"})
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Validation messages per field, for 422 answers"},
    )

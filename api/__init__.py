"""REST API under /api/v1 (flask-smorest + marshmallow, OpenAPI, problem+json errors)."""

from __future__ import annotations

from flask import Flask, Response, json, send_from_directory
from flask_smorest import Api

from api.schemas import ProblemSchema

API_PREFIX = "/api"


class ProblemApi(Api):
    """flask-smorest's Api, documenting errors as problem+json documents."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # flask-smorest documents its shared error responses with the success content type;
        # ours are application/problem+json, so say so in the spec.
        self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/problem+json"
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/json"


def init_app(app: Flask) -> None:
    """Register the API, its OpenAPI document and its offline Swagger UI."""
    import swagger_ui_bundle

    app.config.setdefault("API_TITLE", "Front-warehouse fulfilment API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "v1/openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    # Serve Swagger UI's assets ourselves: the docs work on a warehouse LAN with no internet.
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", f"{API_PREFIX}/docs/assets/")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": (
                    "Stock, waves, routes and scheduling for a network of front warehouses. "
                    "Errors are RFC 9457 problem+json documents."
                )
            }
        },
    )

    from api.blueprint import IdConverter, id_parameter_schema

    app.url_map.converters["id"] = IdConverter
    api = ProblemApi(app)
    api.register_converter(IdConverter, id_parameter_schema)
    app.extensions["wms.api"] = api

    from api import auth, context

    # Before any blueprint: every route under /api/v1/ needs a principal (api/auth.py).
    auth.init_app(app, api)
    context.init_app(api)

    assets = swagger_ui_bundle.swagger_ui_path

    @app.get(f"{API_PREFIX}/openapi.json")
    def openapi_unversioned() -> Response:
        # The same document as /api/v1/openapi.json, at the address integrators look first.
        return app.response_class(json.dumps(api.spec.to_dict()), mimetype="application/json")

    @app.get(f"{API_PREFIX}/docs/assets/<path:filename>")
    def swagger_ui_assets(filename: str) -> Response:
        return send_from_directory(assets, filename, max_age=86400)

    from api import (
        carrier,
        delivery,
        dispatch_floor,
        health,
        inbound,
        inventory,
        labels,
        limits,
        operations,
        outbound,
        scans,
    )

    api.register_blueprint(health.blp)
    api.register_blueprint(inventory.blp)
    api.register_blueprint(operations.blp)
    api.register_blueprint(outbound.blp)
    api.register_blueprint(labels.blp)
    api.register_blueprint(scans.blp)
    api.register_blueprint(inbound.blp)
    api.register_blueprint(delivery.blp)
    api.register_blueprint(carrier.blp)
    api.register_blueprint(dispatch_floor.blp)
    limits.init_app(app, carrier.blp)

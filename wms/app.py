"""The one composition root: build the Flask app, its database and its blueprints."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from wms.config import load_config
from wms.db import Database
from wms.errors import ConfigError


def create_app(
    overrides: dict[str, Any] | None = None, *, sessions: sessionmaker[Session] | None = None
) -> Flask:
    """Create the web app: defaults → ``WMS_*`` environment → overrides.

    Tests pass their own session factory in ``sessions`` (bound to a rolled-back connection).
    """
    instance_path = (overrides or {}).get("INSTANCE_PATH") or os.environ.get("WMS_INSTANCE_PATH")
    app = Flask(
        "wms",
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
    )
    load_config(app, overrides)
    _trust_proxies(app)

    db = Database(sessions) if sessions is not None else Database.from_config(app.config)
    db.init_app(app)
    # The pages and the API queue on-demand tasks by name; the scheduler process runs them.
    from wms.job_catalog import register_tasks

    register_tasks(app.config)

    # Web packages sit above wms/; only this factory knows them.
    import api
    import console
    import scanners

    api.init_app(app)
    scanners.init_app(app)
    console.init_app(app)
    from api import limits

    limits.limit_sign_in(app)  # once the sign-in pages exist
    _register_error_handlers(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``WMS_PROXIES`` reverse proxies (nginx: 1), take the client's address, scheme,
    host and port from their ``X-Forwarded-*`` headers; with none, those headers are ignored
    (a client could write them)."""
    count = app.config.get("PROXIES", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 5:
        raise ConfigError(f"WMS_PROXIES={count!r}: give the number of reverse proxies, 0 to 5")
    if count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count
        )


def _register_error_handlers(app: Flask) -> None:
    """API paths answer problem+json; pages answer HTML (a handheld must never get JSON)."""
    from flask import render_template
    from werkzeug.exceptions import HTTPException, InternalServerError

    from api.errors import problem_from_domain, problem_from_http, wants_problem_json
    from wms.errors import WmsError

    def html_error(status: int, title: str, detail: str) -> tuple[str, int]:
        return (
            render_template("console/error.html", status=status, title=title, detail=detail),
            status,
        )

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException) -> Any:
        if wants_problem_json():
            return problem_from_http(error)
        return html_error(error.code or 500, error.name, error.description or "")

    @app.errorhandler(WmsError)
    def on_domain_error(error: WmsError) -> Any:
        if wants_problem_json():
            return problem_from_domain(error)
        return html_error(422, "Cannot do that", error.message)

    @app.errorhandler(Exception)
    def on_unexpected_error(error: Exception) -> Any:
        app.logger.exception("unhandled error", exc_info=error)
        return on_http_error(InternalServerError())

"""Planner console pages, the landing page and the HTML error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_login import current_user

#: The console's menu: (endpoint, label, roles that see it). Pages register on ``console.bp``.
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("console.index", "Overview", ("planner", "admin")),
    ("console.jobs", "Jobs", ("planner", "admin")),
    ("console.runs", "Runs", ("planner", "admin")),
    ("console.replenishment", "Replenishment", ("planner", "admin")),
    ("console.transfers", "Transfers", ("planner", "admin")),
    ("console.waves", "Waves", ("planner", "admin")),
    ("console.routes", "Routes", ("planner", "admin")),
    ("console.failed_deliveries", "Failed deliveries", ("planner", "admin")),
    ("console.kpis", "KPIs", ("planner", "admin")),
    ("console.slotting", "Slotting", ("planner", "admin")),
    ("console.expiry", "Expiry", ("planner", "admin")),
    ("console.users", "Users", ("admin",)),
    ("console.tokens", "API tokens", ("admin",)),
    ("console.carrier_keys", "Carrier keys", ("admin",)),
    ("console.dead_letters", "Dead letters", ("planner", "admin")),
    ("console.imports", "Import", ("admin",)),
)


def init_app(app: Flask) -> None:
    """Register the landing page and the console's pages."""
    from console import admin, auth, carriers, delivery, jobs, overview, planning, views  # noqa: F401  (pages register)

    app.register_blueprint(views.home)
    app.register_blueprint(views.bp)
    app.context_processor(_console_nav)


def _console_nav() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"console_nav": []}
    role = getattr(current_user, "role", "")
    views = current_app.view_functions
    return {
        "console_nav": [
            (endpoint, label)
            for endpoint, label, roles in NAV
            if role in roles and endpoint in views
        ]
    }

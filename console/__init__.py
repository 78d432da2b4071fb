"""Planner console pages, the landing page and the HTML error pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the landing page and the console."""
    from console import views

    app.register_blueprint(views.home)
    app.register_blueprint(views.bp)

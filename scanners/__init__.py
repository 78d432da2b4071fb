"""Handheld scanner pages for floor staff."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the scanner pages."""
    from scanners import views

    app.register_blueprint(views.bp)

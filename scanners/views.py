"""Scanner pages: a placeholder until the scanner issue lands."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("scanners", __name__, url_prefix="/scanners", template_folder="templates")


@bp.get("/")
def index() -> str:
    """The scanner home: not built yet, and says so."""
    return render_template(
        "console/placeholder.html",
        title="Scanner pages",
        arrives="with the handheld scanner pages issue (#7)",
    )

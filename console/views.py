"""The landing page at / and the console's blueprint (its pages live in the modules beside)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy.exc import SQLAlchemyError

from wms import network
from wms.db import transaction

home = Blueprint("home", __name__, template_folder="templates")
bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")


@home.get("/")
def landing() -> str:
    """Show what the network holds and link to every part of the system."""
    error = None
    summary = sites = None
    try:
        with transaction(readonly=True) as session:
            summary = network.summary(session)
            sites = network.sites(session)
    except SQLAlchemyError as exc:
        # The landing page must still open (and say why) when the database is down.
        error = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return render_template("console/landing.html", summary=summary, sites=sites, error=error)

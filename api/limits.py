"""Request budgets per caller (Flask-Limiter): 429 with ``Retry-After`` beyond them.

The carrier API counts per carrier key (``CARRIER_RATE_LIMIT``, default 600 a minute): one
integration's loop cannot starve the others. Sign-in forms count posts per client address
(``SIGN_IN_RATE_LIMIT``, default 30 a minute). Counts live in ``RATELIMIT_STORAGE_URI``
(``memory://`` by default: per process; behind several gunicorn workers set a shared store
such as ``redis://``, see docs/deploy.md).
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, request
from flask_limiter import Limiter

DEFAULT_CARRIER_LIMIT = "600 per minute"
#: Sign-in attempts per address (badge and PIN on the handhelds, password on the console), on
#: top of each account's own back-off: guessing across many accounts is slowed too.
DEFAULT_SIGN_IN_LIMIT = "30 per minute"
SIGN_IN_ENDPOINTS = ("console.login", "scanners.login")


def _caller() -> str:
    """The principal the request acts for, else its address (before authentication)."""
    principal = g.get("principal")
    if principal is not None:
        return str(principal.key)
    return request.remote_addr or "unknown"


def init_app(app: Flask, carrier: Blueprint) -> Limiter:
    """Count requests per caller and hold the carrier blueprint to its budget.

    Call after the API's authentication is set up, so that the budget is the principal's.
    """
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter = Limiter(key_func=_caller, app=app, default_limits=[])
    limit = str(app.config.get("CARRIER_RATE_LIMIT") or DEFAULT_CARRIER_LIMIT)
    limiter.limit(limit, key_func=_caller)(carrier)
    app.extensions["wms.limiter"] = limiter
    return limiter


def limit_sign_in(app: Flask) -> None:
    """Hold the sign-in forms' posts to a budget per client address (after they registered)."""
    limiter: Limiter = app.extensions["wms.limiter"]
    limit = str(app.config.get("SIGN_IN_RATE_LIMIT") or DEFAULT_SIGN_IN_LIMIT)
    for endpoint in SIGN_IN_ENDPOINTS:
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = limiter.limit(  # type: ignore[assignment]
                limit, key_func=_address, methods=["POST"]
            )(view)


def _address() -> str:
    return request.remote_addr or "unknown"

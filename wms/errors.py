"""Domain errors. Their messages are safe to show a user; they know nothing of HTTP."""

from __future__ import annotations


class WmsError(Exception):
    """Base of every error a service raises on purpose."""

    #: Stable machine-readable code; the API turns it into the problem ``type``.
    code = "wms_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(WmsError):
    """The thing named does not exist."""

    code = "not_found"


class Conflict(WmsError):
    """The request clashes with the current state; it may succeed later."""

    code = "conflict"


class RuleViolation(WmsError):
    """The request can never succeed as written."""

    code = "rule_violation"


class ConfigError(WmsError):
    """The configuration (environment, instance folder) is unusable."""

    code = "config_error"


class Unauthorized(WmsError):
    """No valid credentials came with the request (none, unknown, revoked or expired)."""

    code = "unauthorized"


class Forbidden(WmsError):
    """The principal is known but may not do this (role too low, another site)."""

    code = "forbidden"

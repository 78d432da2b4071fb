"""RFC 9457 problem+json answers for the API, mapped from HTTP and domain errors."""

from __future__ import annotations

from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

from wms.errors import Conflict, Forbidden, NotFound, RuleViolation, Unauthorized, WmsError

PROBLEM_MIME = "application/problem+json"
API_PATH_PREFIXES = ("/api/", "/healthz")

#: Attributes of domain errors copied into the problem document when present.
PROBLEM_EXTRAS = ("available", "errors", "rule", "expected", "scanned")

#: 422: can never succeed as written; 409: clashes with the current state.
STATUS_OF: list[tuple[type[WmsError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RuleViolation, 422),
    (WmsError, 422),
]


def wants_problem_json() -> bool:
    """True for requests to the API (and the health probe), which answer in JSON."""
    return request.path.startswith(API_PATH_PREFIXES) or request.path == "/api"


def problem(
    status: int, title: str, detail: str | None = None, *, kind: str | None = None, **extra: Any
) -> Response:
    """Build a problem+json response; ``kind`` names its stable ``type`` (default: the title)."""
    body: dict[str, Any] = {
        "type": f"/problems/{kind or _slug(title)}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)


def problem_from_http(error: HTTPException) -> Response:
    """Turn werkzeug/webargs errors into problem+json; validation errors name their fields."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    extra: dict[str, Any] = {}
    messages = data.get("messages")
    if messages:
        # webargs: {"json": {"field": ["msg"]}}; flatten to field → messages.
        extra["errors"] = _flatten(messages)
    detail = data.get("message") or error.description
    response = problem(status, error.name, detail, **extra)
    for key, value in (data.get("headers") or {}).items():
        response.headers[key] = value
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def problem_from_domain(error: WmsError) -> Response:
    """Turn a service's WmsError into 401 / 403 / 404 / 409 / 422 with a stable type."""
    status = next(code for cls, code in STATUS_OF if isinstance(error, cls))
    if status == 401:
        return unauthorized(error.message)
    body_title = {
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Content",
    }[status]
    # Domain errors may carry figures a client acts on (InsufficientStock.available, ...).
    extra = {name: getattr(error, name) for name in PROBLEM_EXTRAS if hasattr(error, name)}
    return problem(status, body_title, error.message, kind=error.code, field=error.field, **extra)


def unauthorized(detail: str, *, invalid_token: bool = False) -> Response:
    """Build a 401 problem asking for a bearer token (RFC 6750 ``WWW-Authenticate``)."""
    response = problem(401, "Unauthorized", detail, kind="unauthorized")
    challenge = 'Bearer realm="wms"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def precondition_required(header: str, detail: str) -> Response:
    """Build a 428 problem naming the request header that must be sent."""
    return problem(428, "Precondition Required", detail, kind="precondition-required", field=header)


def bad_header(header: str, detail: str) -> Response:
    """Build a 400 problem naming the request header whose value is unusable."""
    return problem(400, "Bad Request", detail, kind="bad-header", field=header)


def service_unavailable(detail: str, *, retry_after: int = 1) -> Response:
    """Build a 503 problem telling the client to try again after a pause."""
    response = problem(503, "Service Unavailable", detail, kind="busy")
    response.headers["Retry-After"] = str(retry_after)
    return response


def _flatten(messages: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix and key not in ("json", "query", "form") else str(key)
        if key in ("json", "query", "form", "files", "headers") and not prefix:
            name = ""
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def _slug(title: str) -> str:
    return "_".join(title.lower().replace("-", " ").split())

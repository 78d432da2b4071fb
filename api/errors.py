"""RFC 9457 problem+json answers for the API, mapped from HTTP and domain errors."""

from __future__ import annotations

from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

from wms.errors import Conflict, NotFound, RuleViolation, WmsError

PROBLEM_MIME = "application/problem+json"
API_PATH_PREFIXES = ("/api/", "/healthz")

#: 422: can never succeed as written; 409: clashes with the current state.
STATUS_OF: list[tuple[type[WmsError], int]] = [
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
    """Turn a service's WmsError into 404 / 409 / 422 with a stable type."""
    status = next(code for cls, code in STATUS_OF if isinstance(error, cls))
    body_title = {404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"}[status]
    return problem(status, body_title, error.message, kind=error.code, field=error.field)


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
    return "-".join(title.lower().split())

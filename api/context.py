"""The unit of work around every mutating API view: one transaction, idempotency, retries.

::

    @blp.route("/moves", methods=["POST"])
    @mutation()
    @blp.arguments(MoveCreateSchema)
    @blp.response(201, MovementSchema(many=True))
    def create_move(args, *, session):
        return stock.move(session, ...)

``mutation()`` sits between ``@blp.route`` and ``@blp.arguments``, so the body is parsed and
the answer serialised inside the transaction. For each attempt it opens one transaction
(``database().sessions.begin()``; SQLite takes its write lock up front), injects
``session=``, and then:

- with an ``Idempotency-Key``: holds the key (PostgreSQL: 409 while another request holds
  it), replays a stored answer for the same request (``Idempotent-Replayed: true``), refuses
  the key for a different request (422), or runs the view and stores a 2xx answer in the same
  transaction;
- a domain error, an HTTP error or a 4xx/5xx answer rolls everything back and stores nothing,
  so a later retry with the same key may still succeed;
- a serialization failure, deadlock or busy database runs the whole unit again in a new
  transaction, a bounded number of times, then answers 503.

Users (scanner pages) must send a key (428 without one); tokens may.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from copy import deepcopy
from typing import Any, Literal, TypeVar, cast

from flask import Response, current_app, request
from flask_smorest import Api
from sqlalchemy.exc import SQLAlchemyError

from api.auth import current_principal, document_errors
from api.errors import bad_header, precondition_required, service_unavailable
from wms import idempotency
from wms.db import database
from wms.models import utcnow
from wms.retry import is_retryable, retrying

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)

IdempotencyPolicy = Literal["auto", "required"]

REPLAYED_HEADER = "Idempotent-Replayed"
#: The OpenAPI parameter component every mutation refers to.
KEY_PARAMETER = "IdempotencyKey"
#: Calls of the whole unit of work, first one included, before answering 503.
ATTEMPTS = 4


def mutation(*, idempotency: IdempotencyPolicy = "auto") -> Callable[[F], F]:
    """Run a flask-smorest view as one idempotent, retried unit of work with ``session=``.

    ``idempotency="auto"`` asks for a key only from principals that must send one (users);
    ``"required"`` asks every principal.
    """
    if idempotency not in ("auto", "required"):
        raise ValueError(f"unknown idempotency policy {idempotency!r}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            return _run(view, args, kwargs, policy=idempotency)

        _document(wrapper, required=idempotency == "required")
        return cast(F, wrapper)

    return decorator


def init_app(api: Api) -> None:
    """Describe the Idempotency-Key header once, for every mutation to refer to."""
    api.spec.components.parameter(
        KEY_PARAMETER,
        "header",
        {
            "name": idempotency.HEADER,
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
            "description": (
                "Any unique string (1-128 printable ASCII characters, a UUID is ideal). A "
                "request repeated with the same key, by the same principal, to the same method "
                "and path gets the first answer again (with `Idempotent-Replayed: true`) and "
                "changes nothing; the same key with a different request is refused (422); "
                "while the first is still running the repeat is answered 409. Answers are "
                "kept 24 hours. Required for signed-in users (428 without it)."
            ),
        },
        lazy=True,
    )


# --- one request ------------------------------------------------------------------------------


class _Discard(Exception):
    """Carries an unsuccessful answer out of the transaction so that it rolls back."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _run(
    view: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    policy: IdempotencyPolicy,
) -> Response:
    principal = current_principal()
    key = request.headers.get(idempotency.HEADER)
    if key is not None and not idempotency.is_valid_key(key):
        return bad_header(
            idempotency.HEADER,
            f"{idempotency.HEADER} must be 1 to {idempotency.MAX_KEY_LENGTH} printable "
            "ASCII characters",
        )
    if key is None and (policy == "required" or principal.requires_idempotency_key):
        return precondition_required(
            idempotency.HEADER,
            f"send an {idempotency.HEADER} header (a new UUID per action) with this request, "
            "so that a repeat cannot apply it twice",
        )
    scope: idempotency.Scope | None = None
    fingerprint = ""
    if key is not None:
        scope = idempotency.Scope.of(
            principal=principal.key, method=request.method, path=request.path, key=key
        )
        fingerprint = idempotency.fingerprint(
            request.method,
            request.path,
            request.args.items(multi=True),
            request.get_data(cache=True),
        )

    def unit() -> Response:
        try:
            with database().sessions.begin() as session:
                now = utcnow()
                if scope is not None:
                    stored = idempotency.claim(session, scope, fingerprint=fingerprint, now=now)
                    if stored is not None:
                        replay = Response(
                            stored.response_body,
                            status=stored.status_code,
                            content_type=stored.content_type,
                        )
                        replay.headers[REPLAYED_HEADER] = "true"
                        return replay
                response = current_app.make_response(view(*args, session=session, **kwargs))
                if response.status_code >= 400:
                    raise _Discard(response)
                if scope is not None and 200 <= response.status_code < 300:
                    idempotency.remember(
                        session,
                        scope,
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        body=response.get_data(as_text=True),
                        content_type=response.content_type or "application/octet-stream",
                        now=now,
                    )
                return response
        except _Discard as discarded:
            return discarded.response

    try:
        return retrying(unit, attempts=ATTEMPTS)
    except SQLAlchemyError as exc:
        if not is_retryable(exc):
            raise
        log.warning("gave up after %d attempts: %s", ATTEMPTS, exc)
        return service_unavailable("the database is busy with other requests; try again shortly")


# --- OpenAPI ----------------------------------------------------------------------------------


def _document(view: Callable[..., Any], *, required: bool) -> None:
    """Advertise the Idempotency-Key header and the answers it brings in the view's doc."""
    doc = deepcopy(getattr(view, "_apidoc", {}))
    parameters = doc.setdefault("arguments", {}).setdefault("parameters", [])
    if required:
        parameters.append(
            {
                "name": idempotency.HEADER,
                "in": "header",
                "required": True,
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": idempotency.MAX_KEY_LENGTH,
                },
                "description": "Required here; see the IdempotencyKey parameter component.",
            }
        )
    else:
        parameters.append(KEY_PARAMETER)
    view._apidoc = doc  # type: ignore[attr-defined]
    document_errors(
        view,
        {
            400: "BAD_REQUEST",
            409: "CONFLICT",
            422: "UNPROCESSABLE_ENTITY",
            428: "PRECONDITION_REQUIRED",
            503: "SERVICE_UNAVAILABLE",
        },
    )

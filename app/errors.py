"""Every error becomes an RFC 9457 problem (``application/problem+json``) under ``/api``.

One table maps the domain's errors to HTTP statuses. Bad input never yields a 500, and a 500
never shows a stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from ledger.errors import Conflict, InvalidInput, LedgerError, NotFound

logger = logging.getLogger("commonpurse")

PROBLEM_MEDIA_TYPE = "application/problem+json"

# The domain's errors and the HTTP status each one means.
STATUS_OF: list[tuple[type[LedgerError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
]


def status_of(error: LedgerError) -> int:
    for error_type, status in STATUS_OF:
        if isinstance(error, error_type):
            return status
    return 400


def problem_document(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    type_: str | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        document["errors"] = errors
    return document


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = msgspec.json.encode(problem_document(status, detail, errors=errors))
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def ledger_problem(error: LedgerError) -> tuple[int, bytes]:
    """Status and body of the problem for a domain error (kept for idempotent replays)."""
    status = status_of(error)
    errors = [{"field": error.field, "message": str(error)}] if error.field else None
    return status, msgspec.json.encode(problem_document(status, str(error), errors=errors))


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    """Pages answer errors as HTML pages; the API, feeds and documents as problems."""
    path = request.url.path
    if path.startswith(("/api/", "/schema", "/.well-known/", "/health")):
        return False
    return "text/html" in request.headers.get("accept", "")


def respond(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    if _wants_html(request):
        from app.web.errors import error_page

        return error_page(request, status, detail, headers=headers)
    return problem_response(status, detail, errors=errors, headers=headers)


def on_ledger_error(request: Request[Any, Any, Any], error: LedgerError) -> Response[Any]:
    if _wants_html(request):
        return respond(request, status_of(error), str(error))
    status, body = ledger_problem(error)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def on_validation_error(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[Any]:
    errors: list[dict[str, str]] = []
    from_body = False
    for item in error.extra if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            field = str(item.get("key") or "")
            errors.append({"field": field, "message": str(item.get("message", ""))})
            from_body = from_body or item.get("source") == "body"
    # Malformed JSON is a 400; well-formed JSON with wrong fields is a 422.
    malformed = "JSON is malformed" in str(error.detail) or "Malformed" in str(error.detail)
    status = 422 if (from_body and not malformed) else 400
    detail = "The request is not valid." if errors else str(error.detail)
    return respond(request, status, detail, errors=errors)


def on_http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    return respond(request, error.status_code, str(error.detail), headers=error.headers)


def on_unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    logger.exception("Unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return respond(request, 500, "Something went wrong on our side; nothing was changed.")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LedgerError: on_ledger_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_unexpected_error,
}

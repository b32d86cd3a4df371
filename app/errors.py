"""Every error becomes an RFC 9457 problem (``application/problem+json``) under ``/api``.

One table maps the domain's errors to HTTP statuses. Bad input never yields a 500, and a 500
never shows a stack trace.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.enums import ParamType
from litestar.exceptions import (
    HTTPException,
    SerializationException,
    ValidationException,
)
from litestar.params import ParameterKwarg
from litestar.types import ExceptionHandlersMap

from app.db import keep_changes
from app.web.errors import error_page, page_http_error, page_unexpected_error
from ledger.errors import (
    Conflict,
    Erased,
    FileTooLarge,
    InvalidInput,
    LedgerError,
    NotFound,
    NotYet,
    UnsupportedFile,
)
from proposals.errors import NotAllowed

logger = logging.getLogger("commonpurse")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Paths whose errors are problem documents even for a browser; elsewhere a browser that asks
# for HTML gets an error page.
NEVER_HTML = ("/api/", "/schema", "/.well-known/", "/health")

# The domain's errors and the HTTP status each one means; the first that matches counts.
STATUS_OF: list[tuple[type[LedgerError], int]] = [
    (UnsupportedFile, 415),
    (FileTooLarge, 413),
    (InvalidInput, 422),
    (NotYet, 503),
    (Erased, 410),
    (NotFound, 404),
    # A Conflict to the domain, but a refusal of who is asking: 403, as a missing role is
    # (and as the members' pages answer).
    (NotAllowed, 403),
    (Conflict, 409),
]


def status_of(error: LedgerError) -> int:
    for error_type, status in STATUS_OF:
        if isinstance(error, error_type):
            return status
    return 400


class FieldError(msgspec.Struct, kw_only=True):
    """One field at fault, named as the caller sent it (``amount``, ``rules.quorum``)."""

    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    """The document of every error of the API (RFC 9457), as ``problem_document`` writes it.

    Only the OpenAPI schema reads this type: it says what the problems look like."""

    type: Annotated[str, msgspec.Meta(examples=["about:blank"])]
    title: Annotated[str, msgspec.Meta(description="The status's name.")]
    status: int
    detail: Annotated[str, msgspec.Meta(description="What went wrong, in a sentence for people.")]
    errors: Annotated[
        list[FieldError],
        msgspec.Meta(description="The fields at fault, when the fault is in some field."),
    ] = msgspec.field(default_factory=list)


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


def kept_refusal(
    request: Request[Any, Any, Any], error: LedgerError, headers: dict[str, str]
) -> Response[bytes]:
    """A request under an ``Idempotency-Key`` was refused: the refusal is the key's first
    outcome, so the request's transaction keeps it (the key's record) instead of rolling
    back, and the answer is the problem, as a retry will get it again."""
    keep_changes(request)
    status, body = ledger_problem(error)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    """Pages answer errors as HTML pages; the API, feeds and documents as problems."""
    path = request.url.path
    if path.startswith(NEVER_HTML):
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
        return error_page(request, status, detail, headers=headers)
    return problem_response(status, detail, errors=errors, headers=headers)


# How long to wait before asking again for what is not there yet (see ``NotYet``).
RETRY_AFTER_SECONDS = 1


def on_ledger_error(request: Request[Any, Any, Any], error: LedgerError) -> Response[Any]:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(error, NotYet) else None
    if _wants_html(request):
        return error_page(
            request,
            status_of(error),
            str(error),
            headers=headers,
            words=getattr(error, "words", None),
        )
    status, body = ledger_problem(error)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# msgspec names the field at fault in backquotes when the body as a whole is wrong.
_FIELD_OF_BODY = re.compile(r"Object (?:missing required|contains unknown) field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")
# Litestar's name for the decoded body, and its message when there is no body at all.
_BODY = "data"
_NO_BODY = f"'{_BODY}'"


def _public_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The names callers use for the handler's parameters (``from`` for ``first``, the
    ``Idempotency-Key`` header for ``idempotency_key``)."""
    try:
        parameters = request.route_handler.parsed_fn_signature.parameters
    except (AttributeError, KeyError):  # no route was matched
        return {}
    names: dict[str, str] = {}
    for name, definition in parameters.items():
        kwarg = getattr(definition, "kwarg_definition", None)
        if isinstance(kwarg, ParameterKwarg) and kwarg.name:
            names[name] = kwarg.name
    return names


def _field_errors(
    request: Request[Any, Any, Any], error: ValidationException
) -> tuple[list[dict[str, str]], list[str]]:
    """Litestar's error items as ``{field, message}`` in the caller's names, and the
    problems of the body as a whole (which no field is at fault for)."""
    names = _public_names(request)
    errors: list[dict[str, str]] = []
    body_problems: list[str] = []
    for item in error.extra if isinstance(error.extra, list) else []:
        if not isinstance(item, dict):
            continue
        key, message = str(item.get("key") or ""), str(item.get("message", ""))
        if key == _BODY or key.startswith(_BODY + "."):
            named = _FIELD_OF_BODY.search(message)
            if named is None:
                body_problems.append(message)
                continue
            key = key.removeprefix(_BODY).lstrip(".")
            key = f"{key}.{named.group(1)}" if key else named.group(1)
        errors.append({"field": names.get(key, key), "message": message})
    if not errors and (missing := _MISSING_PARAMETER.search(str(error.detail))):
        errors.append({"field": missing.group(1), "message": missing.group(0) + "."})
    return errors, body_problems


def on_validation_error(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[Any]:
    errors, body_problems = _field_errors(request, error)
    items = [item for item in (error.extra if isinstance(error.extra, list) else [])]
    sources = {item.get("source") for item in items if isinstance(item, dict)}
    if sources == {ParamType.PATH}:
        # A path that names an entry, a proposal or a member that cannot exist (a number
        # beyond 64 bits, a negative one) names nothing: 404, as for one that does not.
        return respond(request, 404, f"There is nothing at {request.url.path}.", errors=errors)
    from_body = bool(body_problems) or "body" in sources
    # Malformed JSON is a 400; well-formed JSON with wrong fields is a 422.
    malformed = "JSON is malformed" in str(error.detail) or "Malformed" in str(error.detail)
    status = 422 if (from_body and not malformed) else 400
    if _NO_BODY in body_problems:
        detail = "The request needs a JSON body."
    elif body_problems:
        detail = "The request body is not valid: " + "; ".join(body_problems) + "."
    elif errors:
        listed = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        detail = f"The request is not valid: {listed}."
    else:
        detail = str(error.detail)
    return respond(request, status, detail, errors=errors)


def _clear_detail(request: Request[Any, Any, Any], error: HTTPException) -> str:
    """The error's own sentence; a sentence about the request where it has only a name."""
    status, detail = error.status_code, str(error.detail)
    if isinstance(error.__cause__, SerializationException):
        return f"The request body is not valid JSON: {detail.removeprefix('JSON is malformed: ')}."
    if detail and detail != HTTPStatus(status).phrase:
        return detail
    if status == 404:
        return f"There is nothing at {request.url.path}."
    if status == 405:
        return f"{request.method} is not allowed at {request.url.path}."
    return detail or HTTPStatus(status).phrase


def on_http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    return respond(request, error.status_code, _clear_detail(request, error), headers=error.headers)


def _raised_while_reading_the_body(error: BaseException) -> bool:
    """True when the request body was being decoded (Litestar lets a UnicodeDecodeError
    out of ``Request.json``); False for one raised by our own code."""
    traceback = error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if code.co_name == "json" and Path(code.co_filename).match(
            "litestar/connection/request.py"
        ):
            return True
        traceback = traceback.tb_next
    return False


def on_undecodable_body(
    request: Request[Any, Any, Any], error: UnicodeDecodeError
) -> Response[Any]:
    if not _raised_while_reading_the_body(error):
        return on_unexpected_error(request, error)
    return respond(request, 400, "The request body is not valid JSON: it is not UTF-8 text.")


def on_deep_body(request: Request[Any, Any, Any], error: RecursionError) -> Response[Any]:
    """JSON nested deeper than the decoder goes (msgspec stops at its recursion limit) is
    malformed input, not a failure of ours."""
    if not _raised_while_reading_the_body(error):
        return on_unexpected_error(request, error)
    return respond(request, 400, "The request body is not valid JSON: it is nested too deeply.")


def on_unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    logger.exception("Unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return respond(request, 500, "Something went wrong on our side; nothing was changed.")


def on_ledger_error_page(request: Request[Any, Any, Any], error: LedgerError) -> Response[Any]:
    # An error that carries its ``words`` (text and values) is said in the reader's language.
    return error_page(request, status_of(error), str(error), words=getattr(error, "words", None))


# The pages' controllers answer every error with a page, whatever the Accept header says.
PAGE_ERROR_HANDLERS: ExceptionHandlersMap = {
    HTTPException: page_http_error,
    LedgerError: on_ledger_error_page,
    Exception: page_unexpected_error,
}

EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LedgerError: on_ledger_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    UnicodeDecodeError: on_undecodable_body,
    RecursionError: on_deep_body,
    Exception: on_unexpected_error,
}

"""What the OpenAPI schema says each operation answers, derived in one place.

Every operation documents its success and each problem it can answer, as the ``Problem``
document of ``app.errors`` (``application/problem+json``). The problems follow from how the
route is built, so a new route is documented without a list to keep up to date:

1. a guard: 401 (no token where a login is needed, or a wrong one); ``public_or_member``
   also 404 (no such group, or a private one); a role guard also 403 (not a member, or
   without the role) and 404;
2. input (a query or header parameter, a path parameter besides the group, or a body): 400
   (a malformed value) and 422 (well-formed but refused, such as an unknown fund);
3. a path parameter besides the group: 404 (nothing with that number);
4. a body: 413 (too large);
5. a method that writes: 403 (a browser session without its CSRF token) and 409 (the state of
   the group refuses it: a fund would go below zero, a slug is taken, a key is reused);
   under ``/api/``, POST, PUT and PATCH also 415 (a body that is not JSON);
6. the exceptions a handler declares with Litestar's ``raises=`` (the documents' 503).

Responses a handler declares itself (``responses=``) win over these. Pages outside the API
answer a browser (``Accept: text/html``) with an HTML page instead of a problem document.
Guards also give the operation's ``security``: a bearer token, optional where anyone may read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, OpenAPIMediaType, Operation, Schema, SecurityScheme
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import KwargDefinition
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.typing import FieldDefinition

from app.errors import NEVER_HTML, PROBLEM_MEDIA_TYPE, Problem
from app.guards import public_or_member, require_user

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

BEARER = "bearer"
COMPONENTS = Components(
    security_schemes={
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            description="An API token from `commonpurse token add EMAIL`.",
        )
    }
)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# What each problem means here; the status's own description where this says nothing.
MEANING = {
    400: "Malformed: a parameter of the wrong type or out of range, or a body that is not "
    "valid JSON. `errors` names the fields at fault.",
    401: "No valid credentials: send `Authorization: Bearer <token>` (a wrong token is "
    "refused even where anyone may read).",
    403: "Not allowed: not a member of the group or without the role this needs, or a "
    "browser session that sent no CSRF token.",
    404: "No such group (a private group answers 404 to everyone but its members), or "
    "nothing with that number.",
    409: "Refused by the state of the group: a fund would go below zero, a slug is taken, "
    "an entry is reversed twice, a proposal is not open, or an Idempotency-Key is reused "
    "with another body.",
    413: "The body is too large.",
    415: "The body is not JSON: send it with `Content-Type: application/json`.",
    422: "Well-formed but not valid: `errors` names each field at fault and why.",
    503: "Busy: try again after the seconds of the `Retry-After` header.",
}


class ExactIntegerBounds(OpenAPISchemaPlugin):
    """Bounded integers with their bounds as integers.

    Litestar writes a constrained integer's bounds as floats, and 2**63 - 1 (the largest id)
    does not survive that: it becomes 2**63, a number the API refuses. Here the schema of
    such an integer is left bare, and Litestar then copies the bounds onto it as they are."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        bounds = field_definition.kwarg_definition
        return (
            field_definition.annotation is int
            and isinstance(bounds, KwargDefinition)
            and any(getattr(bounds, name) is not None for name in ("ge", "gt", "le", "lt"))
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        return Schema(type=OpenAPIType.INTEGER)


@dataclass
class ApiOperation(Operation):
    """An operation whose errors are all problem documents.

    Litestar documents a 400 of its own shape (``application/json``) wherever a route has a
    parameter, even one that cannot fail, such as the group's name; ``document`` adds the 400
    where one can happen, so Litestar's are dropped."""

    def __post_init__(self) -> None:
        responses = self.responses or {}
        for status, response in list(responses.items()):
            content = getattr(response, "content", None)
            if int(status) >= 400 and content and PROBLEM_MEDIA_TYPE not in content:
                del responses[status]


@dataclass
class PageOperation(ApiOperation):
    """An operation outside the API: a browser that asks for HTML gets its errors as pages."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for status, response in (self.responses or {}).items():
            content = getattr(response, "content", None)
            if int(status) >= 400 and content:
                content["text/html"] = OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, description="An error page.")
                )


def success(data_container: type, description: str) -> ResponseSpec:
    """The documentation of a JSON success that Litestar cannot read off the handler (one
    that answers with bytes it encoded itself)."""
    return ResponseSpec(data_container, description=description, generate_examples=False)


def problem(status: int, description: str | None = None) -> ResponseSpec:
    """The documentation of a problem answer with ``status``."""
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description=description or MEANING.get(status) or HTTPStatus(status).description,
        generate_examples=False,
    )


def problem_statuses(
    handler: HTTPRouteHandler, path: str, path_parameters: Iterable[str]
) -> set[int]:
    """The statuses of the problems ``handler`` can answer at ``path`` (see the module's list)."""
    statuses: set[int] = set()
    guards = handler.resolve_guards()
    if guards:
        statuses.add(401)
    if public_or_member in guards:
        statuses.add(404)
    if any(guard not in (public_or_member, require_user) for guard in guards):
        statuses.update((403, 404))
    signature = handler.parsed_fn_signature.parameters
    dependencies = handler.resolve_dependencies()
    parameters = {
        name for name in signature if name not in RESERVED_KWARGS and name not in dependencies
    }
    numbers = set(path_parameters) - {"group"}
    if parameters or numbers or "data" in signature:
        statuses.update((400, 422))
    if numbers:
        statuses.add(404)
    if "data" in signature:
        statuses.add(413)
    methods = handler.http_methods
    if methods & WRITES:
        statuses.update((403, 409))
    if methods & JSON_BODY_METHODS and path.startswith("/api/"):
        statuses.add(415)
    statuses.update(exception.status_code for exception in handler.raises or ())
    return statuses


def document(route: BaseRoute) -> None:
    """Give each handler of ``route`` its problems and security (before the schema is built)."""
    if not isinstance(route, HTTPRoute):
        return
    for handler in route.route_handlers:
        if not handler.resolve_include_in_schema():
            continue
        own = dict(handler.responses or {})
        statuses = problem_statuses(handler, route.path, route.path_parameters)
        handler.responses = {status: problem(status) for status in sorted(statuses)} | own
        guards = handler.resolve_guards()
        if guards and handler.security is None:
            bearer: dict[str, list[str]] = {BEARER: []}
            anyone: list[dict[str, list[str]]] = [{}] if public_or_member in guards else []
            handler.security = [*anyone, bearer]
        if handler.operation_class is Operation:
            pages = not route.path.startswith(NEVER_HTML)
            handler.operation_class = PageOperation if pages else ApiOperation

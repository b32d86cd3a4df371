"""The API reference at ``/schema``: the OpenAPI document rendered as a page of our own.

Litestar's viewers load their scripts, styles and fonts from a CDN, so offline (a group's
laptop at a meeting, an instance behind a firewall) the page stayed blank and every visit
told a third party. This page is plain server-rendered HTML with the site's own stylesheet
and no script; the machine-readable schema stays at ``/schema/openapi.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

from app.presenters.formatting import Formatter

_METHODS = ("get", "put", "post", "patch", "delete")
_REF = "#/components/schemas/"


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    where: str
    required: bool
    kind: str
    description: str


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    description: str
    body: str


@dataclass(frozen=True, slots=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Parameter]
    body: str
    answers: list[Answer]


@dataclass(frozen=True, slots=True)
class Section:
    tag: str
    operations: list[Operation]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: str
    required: bool


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    fields: list[Field]


def kind_of(schema: dict[str, Any]) -> str:
    """A schema in a few words: a type, a linked shape's name, ``list of X``, ``A or B``."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(_REF)
    for combined in ("oneOf", "anyOf"):
        if combined in schema:
            return " or ".join(kind_of(part) for part in schema[combined])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(map(str, kind))
    if kind == "array":
        return f"list of {kind_of(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(repr(value) for value in schema["enum"])
    return str(kind) + (f" ({schema['format']})" if "format" in schema else "")


def _body_of(content: dict[str, Any]) -> str:
    return ", ".join(
        f"{media}: {kind_of(item.get('schema', {}))}" for media, item in content.items()
    )


def sections_of(document: dict[str, Any]) -> list[Section]:
    """The operations grouped by their first tag, in the schema's order."""
    sections: dict[str, list[Operation]] = {}
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = [
                Parameter(
                    name=p["name"],
                    where=p["in"],
                    required=bool(p.get("required")),
                    kind=kind_of(p.get("schema", {})),
                    description=p.get("description", ""),
                )
                for p in operation.get("parameters", [])
            ]
            answers = [
                Answer(status, answer.get("description", ""), _body_of(answer.get("content", {})))
                for status, answer in operation.get("responses", {}).items()
            ]
            tag = (operation.get("tags") or ["Other"])[0]
            sections.setdefault(tag, []).append(
                Operation(
                    anchor=operation.get("operationId", f"{method}-{path}"),
                    method=method.upper(),
                    path=path,
                    summary=operation.get("summary", ""),
                    description=operation.get("description", ""),
                    parameters=parameters,
                    body=_body_of(operation.get("requestBody", {}).get("content", {})),
                    answers=answers,
                )
            )
    return [Section(tag, operations) for tag, operations in sections.items()]


def shapes_of(document: dict[str, Any]) -> list[Shape]:
    schemas = document.get("components", {}).get("schemas", {})
    return [
        Shape(
            name,
            [
                Field(field, kind_of(spec), field in schema.get("required", []))
                for field, spec in schema.get("properties", {}).items()
            ],
        )
        for name, schema in sorted(schemas.items())
    ]


class ApiReference(OpenAPIRenderPlugin):
    """Serves ``templates/api_reference.html`` at the schema's root."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        environment = request.app.template_engine.engine  # type: ignore[union-attr]
        info = openapi_schema.get("info", {})
        html: str = environment.get_template("api_reference.html").render(
            request=request,
            info=info,
            sections=sections_of(openapi_schema),
            shapes=shapes_of(openapi_schema),
            current_user=request.scope.get("state", {}).get("cp_user"),
            fmt=Formatter(),
        )
        return html.encode()

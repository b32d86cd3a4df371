"""Friendly HTML error pages for people using a browser."""

from __future__ import annotations

from html import escape
from http import HTTPStatus
from typing import Any

from litestar import Request, Response

_MESSAGES = {
    403: "You do not have permission to do this.",
    404: "We could not find this page.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
}


def error_page(
    request: Request[Any, Any, Any], status: int, detail: str, *,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    title = HTTPStatus(status).phrase
    message = _MESSAGES.get(status, detail)
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p><p><a href=\"/\">Home</a></p></html>"
    )
    return Response(body, status_code=status, media_type="text/html", headers=headers)

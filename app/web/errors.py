"""Friendly HTML error pages for people using a browser (``templates/errors/error.html``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from html import escape
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from app.auth import session_cookie_name
from app.i18n import translations
from app.presenters.formatting import Formatter
from app.web.language import visitor_language
from app.web.templating import languages_offered

logger = logging.getLogger("commonpurse")

_TITLES = {
    400: "That request did not work",
    401: "Please log in",
    403: "You cannot do this here",
    404: "Page not found",
    405: "That does not work here",
    409: "That could not be done",
    422: "Some details need fixing",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}
_MESSAGES = {
    401: "This page is for members. Log in to see it.",
    403: "You do not have permission to do this.",
    404: "We could not find this page. If a group is private, only its members can see it.",
    # Mostly an address a form sends to, opened by itself (a bookmark, the address bar).
    405: "This address takes what a form sends. Go back to the page the form is on and send "
    "it from there.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
}
# Statuses whose detail helps the reader (it never holds more than what they sent or may see).
_SHOW_DETAIL = frozenset({400, 403, 409, 422, 429})


def error_page(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    words: tuple[str, Mapping[str, object]] | None = None,
) -> Response[str]:
    """An error page in the visitor's language; ``words``: the detail as its English text
    with placeholders and their values, translated before it is filled in."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    title = _TITLES.get(status, phrase)
    message = _MESSAGES.get(status, "")
    shown_detail = detail if status in _SHOW_DETAIL and detail and detail != message else ""
    if not message and not shown_detail:
        message = phrase + "."
    try:
        language = visitor_language(request)
        translate = translations(language).gettext
        if shown_detail and words is not None:
            values = dict(words[1])
            if isinstance(values.get("field"), str):  # a form's field, named in its words
                values["field"] = translate(str(values["field"]))
            shown_detail = translate(words[0]) % values
        environment = request.app.template_engine.engine  # type: ignore[union-attr]
        user = request.scope.get("state", {}).get("cp_user")
        settings = request.app.state.settings
        body = environment.get_template("errors/error.html").render(
            request=request,
            t=translate,
            visitor_t=translate,
            language=language,
            visitor_language=language,
            languages_offered=languages_offered(),
            status=status,
            title=translate(title),
            message=translate(message) if message else "",
            detail=shown_detail,
            current_user=user,
            # An address no route has, or a method it does not take, is answered before
            # anyone is looked up: a browser with a session is shown the way to its groups,
            # not "Log in".
            session_seen=user is None and bool(request.cookies.get(session_cookie_name(settings))),
            fmt=Formatter(),
            login_next=request.url.path if status == 401 else "",
        )
    except Exception:  # the error page must never fail: fall back to plain HTML
        logger.exception("Rendering the error page failed")
        body = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
            f"<h1>{escape(title)}</h1><p>{escape(message or shown_detail)}</p>"
            '<p><a href="/">Home</a></p></html>'
        )
    return Response(
        body, status_code=status, media_type="text/html; charset=utf-8", headers=headers
    )


# Pages answer every error with a page, whatever the browser's Accept header says (the
# domain's errors too: ``app.errors.PAGE_ERROR_HANDLERS`` adds them with their statuses).


def page_http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[str]:
    return error_page(request, error.status_code, str(error.detail), headers=error.headers)


def page_unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[str]:
    logger.exception("Unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return error_page(request, 500, "")

"""The language a visitor reads the pages in (and their forms' errors)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from babel import Locale
from litestar import Request

from app.deps import settings_of
from app.i18n import SOURCE_LANGUAGE, available_languages, choose
from app.presenters.formatting import Formatter, locale_or_default

if TYPE_CHECKING:
    from ledger.models import Group

LANGUAGE_COOKIE = "lang"


def visitor_language(request: Request[Any, Any, Any]) -> str:
    """The language a visitor reads: the one they picked (``?lang=``, or the picker's
    cookie), else their browser's ``Accept-Language``, else the instance's own language."""
    offered = available_languages()
    picked = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if picked in offered:
        return str(picked)
    accept = request.headers.get("accept-language", "")
    if accept:
        return choose(accept, offered)
    instance = Locale.parse(Formatter.for_group(None, settings_of(request)).locale).language
    return instance if instance in offered else SOURCE_LANGUAGE


def language_asked(request: Request[Any, Any, Any]) -> bool:
    """Whether the visitor said which language they read (the picker, ``?lang=`` or their
    browser's ``Accept-Language``); without it, money and days keep the instance's locale."""
    return bool(
        request.query_params.get("lang")
        or request.cookies.get(LANGUAGE_COOKIE)
        or request.headers.get("accept-language")
    )


def visitor_formatter(request: Request[Any, Any, Any], group: Group | None = None) -> Formatter:
    """The group's (else the instance's) formatter, writing money and days the way the
    visitor's language does ("1.234,50 €" in Spanish) when they asked for one: what the
    presenters format for a page reads like the page."""
    fmt = Formatter.for_group(group, settings_of(request))
    if not language_asked(request):
        return fmt
    return for_language(fmt, visitor_language(request))


def for_language(fmt: Formatter, language: str) -> Formatter:
    """``fmt`` in ``language``'s way of writing money and days (its locale when the
    locale is of that language already: ``es_MX`` stays)."""
    if Locale.parse(fmt.locale).language == language:
        return fmt
    return replace(fmt, locale=locale_or_default(language))

"""Jinja2 for the pages: autoescaped, ``StrictUndefined``, and the few helpers pages share.

Money, dates and times are formatted by a ``Formatter`` (``app.presenters.formatting``)
bound to a group's locale and time zone, which each page passes to its template as ``fmt``.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from app.auth import Caller
from app.deps import settings_of
from app.i18n import SOURCE_LANGUAGE, available_languages, language_name, page_words
from app.migrate import PROJECT_ROOT
from app.presenters.formatting import Formatter
from app.web.forms import Form
from app.web.language import LANGUAGE_COOKIE, for_language, language_asked, visitor_language

TEMPLATES = PROJECT_ROOT / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
CSRF_COOKIE = "csrftoken"


@cache
def static_version(name: str) -> str:
    """A short digest of a static file, so a changed stylesheet is fetched anew."""
    path = STATIC / name
    if not path.is_file():
        return "0"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    return f"/static/{name}?v={static_version(name)}"


def csrf_token_of(request: Request[Any, Any, Any]) -> str:
    """The CSRF token for forms: the one the middleware chose for this request, else the
    browser's cookie (pages that set no cookie for anonymous visitors)."""
    token = ScopeState.from_scope(request.scope).csrf_token
    if isinstance(token, str) and token:
        return token
    return request.cookies.get(CSRF_COOKIE, "")


@pass_context
def csrf_field(context: Context) -> Markup:
    request: Request[Any, Any, Any] = context["request"]
    return Markup('<input type="hidden" name="_csrf_token" value="{}">').format(
        csrf_token_of(request)
    )


_english, _english_plural = page_words(SOURCE_LANGUAGE)


def create_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Pages in one language pass their own ``t``; the others are written in English.
    environment.globals.update(
        static=static_url, csrf_field=csrf_field, t=_english, tn=_english_plural
    )
    return environment


# --- rendering ---------------------------------------------------------------------------


def languages_offered() -> list[tuple[str, str]]:
    """Each language of the site with its name in itself, for the language picker."""
    return [(code, language_name(code)) for code in available_languages()]


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A page rendered from ``template`` with what every page's layout needs.

    Its words are in the visitor's language (``t``, ``language``), unless the page is in
    a language of its own (the ask pages pass the person's ``t`` and ``language``); the
    layout's "Ask for support" stays in the visitor's (``visitor_t``)."""
    context.setdefault("current_user", request.scope.get("state", {}).get("cp_user"))
    visitor = visitor_language(request)
    visitor_t, _ = page_words(visitor)
    context.setdefault("visitor_t", visitor_t)
    context.setdefault("visitor_language", visitor)
    own_language = "language" in context  # a page in a language of its own (the ask pages)
    context.setdefault("t", visitor_t)
    context.setdefault("language", visitor)
    context.setdefault("tn", page_words(context["language"])[1])
    context.setdefault("languages_offered", languages_offered())
    form = context.get("form")
    if isinstance(form, Form) and form.errors:
        # A form built without the reader's language still says its errors in the page's.
        context["form"] = form.said_in(context["language"])
    fmt = context.get("fmt") or Formatter.for_group(context.get("group"), settings_of(request))
    # Money and days read the way the page's language writes them (the instance's locale
    # stays for a visitor who asked for no language).
    if own_language or language_asked(request):
        fmt = for_language(fmt, context["language"])
    context["fmt"] = fmt
    return Template(
        template_name=template,
        context=context,
        status_code=status_code,
        headers=headers or {},
        media_type="text/html; charset=utf-8",
    )


def settings_page(
    request: Request[Any, Any, Any],
    template: str,
    caller: Caller,
    form: Form,
    *,
    status: int = 200,
    saved: bool = False,
    **context: Any,
) -> Template:
    """A group's settings form for its members (the rules, how to give, notifications):
    the form with what was typed and its errors (``status`` 422), or "saved"."""
    return page(
        request,
        template,
        status_code=status,
        group=caller.group,
        caller=caller,
        form=form,
        saved=saved,
        **context,
    )


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else ``/`` (never a redirect elsewhere)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def language_cookie(language: str) -> Cookie:
    """The language picker's choice, kept for a year (it says nothing about the person)."""
    return Cookie(
        key=LANGUAGE_COOKIE, value=language, max_age=365 * 86_400, httponly=True, samesite="lax"
    )


def see_other(path: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    """POST-redirect-GET: a 303 to the page that shows the result (a redirect commits the
    form's work: ``app.db.unit_of_work_middleware``)."""
    return Redirect(path, status_code=303, cookies=cookies or [])

"""Jinja2 for the pages: autoescaped, ``StrictUndefined``, and the few helpers pages share.

Money, dates and times are formatted by a ``Formatter`` bound to a group's currency locale
and time zone (Babel), which each page passes to its template as ``fmt``.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from app.deps import settings_of
from app.migrate import PROJECT_ROOT
from app.settings import Settings
from ledger.models import Group
from ledger.money import exponent, format_amount

TEMPLATES = PROJECT_ROOT / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
CSRF_COOKIE = "csrftoken"
DEFAULT_LOCALE = "en"
DEFAULT_TIME_ZONE = "UTC"


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


def create_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(static=static_url, csrf_field=csrf_field)
    return environment


# --- formatting --------------------------------------------------------------------------


def _locale(name: str) -> str:
    try:
        return str(Locale.parse(name.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return DEFAULT_LOCALE


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


@dataclass(frozen=True, slots=True)
class Formatter:
    """Formats money and moments for people, in one locale and time zone."""

    locale: str = DEFAULT_LOCALE
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIME_ZONE))

    @classmethod
    def for_group(cls, group: Group | None, settings: Settings) -> Formatter:
        """The group's locale and time zone when it has them (a later column), else the
        instance's (``COMMONPURSE_LOCALE``, ``COMMONPURSE_TIME_ZONE``), else English/UTC."""
        locale = getattr(group, "locale", None) or settings.extra.get("LOCALE") or DEFAULT_LOCALE
        zone = (
            getattr(group, "time_zone", None)
            or settings.extra.get("TIME_ZONE")
            or DEFAULT_TIME_ZONE
        )
        return cls(_locale(str(locale)), _zone(str(zone)))

    def money(self, minor: int, currency: str) -> str:
        """``€1,234.50`` (in the locale's way), from integer minor units; never a float."""
        return format_currency(
            Decimal(format_amount(minor, currency)), currency, locale=self.locale
        )

    def money_short(self, minor: int, currency: str) -> str:
        """Whole amounts without their zero decimals (``€1,000``), for chart axes."""
        if minor % 10 ** exponent(currency):
            return self.money(minor, currency)
        locale = Locale.parse(self.locale)
        pattern = copy.copy(locale.currency_formats["standard"])
        pattern.frac_prec = (0, 0)
        text: str = pattern.apply(
            Decimal(minor // 10 ** exponent(currency)),
            locale,
            currency=currency,
            currency_digits=False,
        )
        return text

    def number(self, value: int) -> str:
        """A count as people read it: ``1,000,000`` (in the locale's way)."""
        return format_decimal(value, locale=self.locale)

    def signed(self, minor: int, currency: str) -> str:
        """Money with an explicit sign: ``+€50.00``, ``−€20.00`` (a real minus sign)."""
        text = self.money(abs(minor), currency)
        return ("+" if minor > 0 else "\u2212" if minor < 0 else "") + text

    def day(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return format_date(value, format="medium", locale=self.locale)

    def month(self, value: date) -> str:
        """``November 2026`` (in the locale's way)."""
        return format_date(value, format="LLLL y", locale=self.locale)

    def moment(self, value: datetime) -> str:
        return format_datetime(value, format="medium", tzinfo=self.zone, locale=self.locale)

    def zone_name(self) -> str:
        return str(self.zone.key)


# --- rendering ---------------------------------------------------------------------------


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A page rendered from ``template`` with what every page's layout needs."""
    context.setdefault("current_user", request.scope.get("state", {}).get("cp_user"))
    if "fmt" not in context:
        fmt = Formatter.for_group(context.get("group"), settings_of(request))
        language = context.get("language")  # a page in the reader's language (the ask form)
        if language and Locale.parse(fmt.locale).language != language:
            fmt = replace(fmt, locale=_locale(language))
        context["fmt"] = fmt
    return Template(
        template_name=template,
        context=context,
        status_code=status_code,
        headers=headers or {},
        media_type="text/html; charset=utf-8",
    )


def see_other(path: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    """POST-redirect-GET: a 303 to the page that shows the result (a redirect commits the
    form's work: ``app.db.unit_of_work_middleware``)."""
    return Redirect(path, status_code=303, cookies=cookies or [])

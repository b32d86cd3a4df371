"""How people read money, counts, days and moments: one ``Formatter`` per reader, in a
locale and a time zone (the group's, else the instance's, else English and UTC)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal

from app.i18n import say, translations
from app.settings import Settings
from ledger.models import Group
from ledger.money import exponent, format_amount
from ledger.words import Words

DEFAULT_LOCALE = "en"
DEFAULT_TIME_ZONE = "UTC"


def locale_or_default(name: str) -> str:
    """A locale Babel knows, by its name (``fr-BE`` or ``fr_BE``), else the default."""
    try:
        return str(Locale.parse(name.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return DEFAULT_LOCALE


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


# What a person may write around an amount: a currency's sign or code, and spaces (the
# locale's own, no-break ones included).
_AROUND_AN_AMOUNT = re.compile(r"[\s\u00a0\u202f€$£¥]|[A-Za-z]{3}")


def typed_amount(text: str, language: str) -> str:
    """An amount as a person typed it in their language (``60,50``, ``60,50 €`` and
    ``1.234,50`` in Spanish; ``60.50``, ``€60.50`` and ``1,234.50`` in English) as the
    decimal text the ledger reads (``60.50``). The locale's way is tried first, then the
    English one (a Spanish speaker who writes ``60.50`` means sixty and a half). Text
    that reads as neither comes back as it was, for the ledger's own check to refuse."""
    bare = _AROUND_AN_AMOUNT.sub("", text)
    if not bare:
        return text
    for locale in dict.fromkeys((locale_or_default(language), DEFAULT_LOCALE)):
        try:
            value = parse_decimal(bare, locale=locale, strict=True)
        except NumberFormatError:
            continue
        return f"{value:f}"
    return text


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
        return cls(locale_or_default(str(locale)), _zone(str(zone)))

    @property
    def language(self) -> str:
        """The language its texts are in (``es`` for ``es_ES``)."""
        return str(Locale.parse(self.locale).language)

    def translate(self, message: str) -> str:
        """``message`` (an English text of the catalogues) in this reader's language: the
        presenters' words follow the same reader as their money and days."""
        return translations(self.language).gettext(message)

    def translate_plural(self, singular: str, plural: str, n: int) -> str:
        return translations(self.language).ngettext(singular, plural, n)

    def said(self, words: Words) -> str:
        """What the domain said (``ledger.words.Words``), in this reader's language."""
        return say(words, self.language)

    def explained(
        self, words: Iterable[Words | Mapping[str, Any]] | None, english: str = ""
    ) -> str:
        """An explanation the domain wrote as sentences (``words``, or their JSON as a round
        keeps them), in this reader's language; ``english``, as stored, when the sentences
        were not kept (a round decided before they were)."""
        if words is None:
            return english
        return " ".join(self.said(w if isinstance(w, Words) else Words.from_json(w)) for w in words)

    def money(self, minor: int, currency: str) -> str:
        """``€1,234.50`` (in the locale's way), from integer minor units; never a float."""
        return format_currency(
            Decimal(format_amount(minor, currency)), currency, locale=self.locale
        )

    def money_text(self, amount: str, currency: str) -> str:
        """``money`` for an amount as the API writes it (``"120.50"``; zero included)."""
        return format_currency(Decimal(amount), currency, locale=self.locale)

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

    def deadline(self, value: datetime) -> str:
        """``Friday 11 Dec, 18:00``: a deadline as people say it, with its weekday."""
        return format_datetime(
            value, format="EEEE d MMM, HH:mm", tzinfo=self.zone, locale=self.locale
        )

    def zone_name(self) -> str:
        return str(self.zone.key)

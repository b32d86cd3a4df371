"""Translations of the pages people in need use, from gettext catalogues.

Catalogues are plain ``.po`` files under ``app/locales/<language>/LC_MESSAGES/messages.po``;
they are compiled in memory when first used, so adding a language is adding one file (copy
``app/locales/messages.pot``, translate, and list the language in the group's settings).
English is the source language and needs no catalogue.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from markupsafe import Markup, escape

from ledger.words import Words

LOCALES = Path(__file__).resolve().parent / "locales"
SOURCE_LANGUAGE = "en"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The translations of a language (English, or any unknown one, translates nothing)."""
    path = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if language == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def available_languages() -> list[str]:
    """English and every language with a catalogue."""
    found = {SOURCE_LANGUAGE} | {
        path.parent.parent.name for path in LOCALES.glob("*/LC_MESSAGES/messages.po")
    }
    return sorted(found)


def language_name(language: str) -> str:
    """A language's name in itself ("Español"), for a language picker."""
    try:
        return str(Locale.parse(language).get_display_name(language)).capitalize()
    except (ValueError, UnknownLocaleError):
        return language


def choose(accept_language: str, offered: list[str]) -> str:
    """The first language of an Accept-Language header that is offered, else English."""
    for part in accept_language.split(","):
        tag = part.split(";", 1)[0].strip().lower()
        for candidate in (tag, tag.split("-", 1)[0]):
            if candidate in offered:
                return candidate
    return offered[0] if offered else SOURCE_LANGUAGE


def page_text(text: str) -> Markup:
    """A text of the catalogues as a page or a PDF shows it: escaped, save its apostrophes
    (harmless in text and in the double-quoted attributes the templates write), so "group's"
    reads as it did before it was translated. Being Markup, ``|format(...)`` escapes what it
    fills in."""
    return Markup(str(escape(text)).replace("&#39;", "'"))  # noqa: S704 (escaped just now)


def page_words(language: str) -> tuple[Callable[[str], Markup], Callable[[str, str, int], Markup]]:
    """``t`` and ``tn`` of a template in ``language``."""
    catalogue = translations(language)

    def t(message: str) -> Markup:
        return page_text(catalogue.gettext(message))

    def tn(singular: str, plural: str, n: int) -> Markup:
        return page_text(catalogue.ngettext(singular, plural, n))

    return t, tn


def say(words: Words, language: str) -> str:
    """What the domain said (``ledger.words.Words``) in ``language``."""
    catalogue = translations(language)
    return words.said(catalogue.gettext, catalogue.ngettext)

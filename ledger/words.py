"""``N_``: marks an English text that people read, for the catalogues to collect.

The domain never translates (it imports no ``app`` and no gettext): it returns its English
words, and the page, e-mail or PDF that shows them translates them into its reader's
language. ``app.locales.extract`` collects the first argument of every ``N_(...)`` call in
the files it reads (``PYTHON_SOURCES``)."""

from __future__ import annotations


def N_(text: str) -> str:
    """``text`` itself: translated later, where it is shown."""
    return text

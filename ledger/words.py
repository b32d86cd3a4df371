"""``N_``: marks an English text that people read, for the catalogues to collect; ``Words``:
such a text kept with its values, so that it is translated where it is shown.

The domain never translates (it imports no ``app`` and no gettext): it returns its English
words, and the page, e-mail or PDF that shows them translates them into its reader's
language. ``app.locales.extract`` collects the first argument of every ``N_(...)`` call, and
both arguments of every ``Nn_(...)`` call, in the files it reads (``PYTHON_SOURCES``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(text: str) -> str:
    """``text`` itself: translated later, where it is shown."""
    return text


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """A text that depends on a number ``%(n)s``: translated later, where it is shown."""
    return singular, plural


@dataclass(frozen=True, slots=True)
class Words:
    """An English text of the catalogues (marked ``N_``, or ``Nn_`` with ``plural``) and
    the values of its ``%(name)s`` placeholders, kept apart: a reader's page translates the
    text first and fills the values in after, so a sentence the domain writes once (an
    outcome's explanation, kept with the round) reads in every reader's language."""

    text: str
    values: Mapping[str, Value] = field(default_factory=dict)
    plural: str | None = None  # the English text when ``values["n"]`` is not one

    @classmethod
    def counted(cls, forms: tuple[str, str], n: int, /, **values: Value) -> Words:
        """``Words(*Nn_("%(n)s block", "%(n)s blocks"), n)``, as one call."""
        return cls(forms[0], {"n": n, **values}, plural=forms[1])

    def said(
        self,
        gettext: Callable[[str], str],
        ngettext: Callable[[str, str, int], str],
    ) -> str:
        """The words in the language of ``gettext``/``ngettext`` (a catalogue's)."""
        if self.plural is not None:
            text = ngettext(self.text, self.plural, int(self.values["n"]))  # type: ignore[arg-type]
        else:
            text = gettext(self.text)
        if not self.values:  # a text without placeholders may hold a "%" of its own
            return text
        return text % {
            name: value.said(gettext, ngettext) if isinstance(value, Words) else value
            for name, value in self.values.items()
        }

    @property
    def english(self) -> str:
        """The words as the domain wrote them."""
        return self.said(_same, _english_plural)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (to keep with a round's minute), read back by ``from_json``."""
        data: dict[str, Any] = {
            "text": self.text,
            "values": {
                name: value.to_json() if isinstance(value, Words) else value
                for name, value in self.values.items()
            },
        }
        if self.plural is not None:
            data["plural"] = self.plural
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Words:
        return cls(
            text=str(data["text"]),
            values={
                str(name): cls.from_json(value) if isinstance(value, Mapping) else value
                for name, value in dict(data.get("values") or {}).items()
            },
            plural=None if data.get("plural") is None else str(data["plural"]),
        )


# What fills a placeholder: a number, a text shown as it is (a name, an amount), or words
# translated in their turn.
Value = int | str | Words


def english(sentences: Iterable[Words]) -> str:
    """Sentences as the domain wrote them, one after the other."""
    return " ".join(sentence.english for sentence in sentences)


def _same(text: str) -> str:
    return text


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural

"""What every statement format is read into: normalized lines and statement-level facts.

A ``StatementLine`` is one booking on the bank's side: its date, its signed amount in the
currency's minor units (money in positive, money out negative), the counterparty's name
(private: it names people), the bank's reference and the remittance text, and where in the
file it came from. A ``Statement`` is the whole file read: its format, currency, lines,
balances and dates where the format carries them, and the SHA-256 of the file's bytes (the
one fact about the file that may become public).

The fingerprint of a line
-------------------------
``fingerprint`` is the SHA-256 (hex) of the UTF-8 JSON array, without spaces, of the line's
own facts, each written as a string::

    ["1", booked_on, amount, currency, reference, counterparty, description, occurrence]

``"1"`` is the rule's version; ``booked_on`` the ISO date; ``amount`` the signed minor units
in decimal ("-1250"); texts as stored on the line (NFC, runs of whitespace as one space, no
control characters, trimmed; a missing text is ""); ``occurrence`` counts the earlier lines
*of the same booked day in the same file* with exactly the same other facts ("0" for the
first). Two donations of 20.00 from the same person with the same reference on one day are
two lines ("0" and "1"), and any file that holds that whole day gives them the same two
fingerprints. So importing a file twice, or a file that overlaps an earlier one by whole
days, yields the same fingerprints for the same lines; nothing in the fingerprint depends on
the file's other days, its name, its order or its format's statement-level data. (A file
cut in the middle of a day may hold only some of that day's identical lines; banks export
whole days.) The same bank line read from two different formats (CSV and CAMT.053 of one
account) carries different texts and so a different fingerprint: a place imports one format.

Fingerprints are derived from names and amounts: they are as private as the lines.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from datetime import date
from enum import StrEnum

import msgspec

FINGERPRINT_VERSION = "1"
# C0 and C1 control characters and the Unicode line/paragraph separators: never part of a
# name or a reference, and a source of invisible differences between two exports.
_CONTROLS = {code: " " for code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]}


class StatementFormat(StrEnum):
    """The formats a statement can be read from (the ``format`` parameter's values)."""

    CSV = "csv"
    OFX = "ofx"
    QFX = "qfx"
    CAMT053 = "camt.053"
    MT940 = "mt940"


class Balance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A balance the bank states, at the end of ``on`` (minor units, signed)."""

    on: date
    amount: int


# ``gc=False``: lines hold only scalars and texts, never a cycle, so the garbage collector
# need not track the tens of thousands a statement makes (it would rescan them repeatedly).
class StatementLine(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One booking on the statement.

    ``line`` is the file's line number (CSV, MT940: where the line's ``:61:`` is), ``element``
    the XML path of its element (CAMT.053, OFX/QFX); ``balance`` the running balance after
    it, where the file gives one.
    """

    booked_on: date
    amount: int
    currency: str
    fingerprint: str
    occurrence: int = 0
    value_on: date | None = None
    counterparty: str | None = None
    reference: str | None = None
    description: str | None = None
    balance: int | None = None
    line: int | None = None
    element: str | None = None

    @property
    def is_credit(self) -> bool:
        """Money in (the amount is positive)."""
        return self.amount > 0


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """A statement file read whole. ``starts_on``/``ends_on`` are the period the file says
    it covers, or else the first and last booked dates; ``opening``/``closing`` the balances
    the file states (derived from a running-balance column for CSV)."""

    format: StatementFormat
    currency: str
    sha256: str
    lines: tuple[StatementLine, ...]
    starts_on: date | None = None
    ends_on: date | None = None
    opening: Balance | None = None
    closing: Balance | None = None
    account: str | None = None
    # The format's own name and version, e.g. "camt.053.001.08", "OFX 102".
    variant: str | None = None

    @property
    def total(self) -> int:
        """The lines' sum in minor units (money in minus money out)."""
        return sum(line.amount for line in self.lines)


def clean_text(text: str | None) -> str | None:
    """A text as lines store it: NFC, control characters and runs of whitespace as one
    space, trimmed; None when nothing is left."""
    if not text:
        return None
    if (
        text.isascii()
        and text.isprintable()
        and text[0] != " "
        and text[-1] != " "
        and "  " not in text
    ):
        return text  # the common case, already clean: no copy
    if not text.isascii():
        text = unicodedata.normalize("NFC", text.translate(_CONTROLS))
    elif not text.isprintable():
        text = text.translate(_CONTROLS)
    text = " ".join(text.split())
    return text or None


class LineFacts(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A line as a format reads it, before its occurrence and fingerprint are known.
    Texts are cleaned by ``finish_lines``."""

    booked_on: date
    amount: int
    currency: str
    value_on: date | None = None
    counterparty: str | None = None
    reference: str | None = None
    description: str | None = None
    balance: int | None = None
    line: int | None = None
    element: str | None = None


_encode = msgspec.json.encode


def fingerprint(
    booked_on: date,
    amount: int,
    currency: str,
    reference: str | None,
    counterparty: str | None,
    description: str | None,
    occurrence: int,
) -> str:
    """The line's fingerprint (see the module's docstring for the rule)."""
    canonical = _encode(
        [
            FINGERPRINT_VERSION,
            booked_on.isoformat(),
            str(amount),
            currency,
            reference or "",
            counterparty or "",
            description or "",
            str(occurrence),
        ]
    )
    return hashlib.sha256(canonical).hexdigest()


def finish_lines(facts: Iterable[LineFacts]) -> tuple[StatementLine, ...]:
    """Clean each line's texts, count identical lines of a day, and fingerprint them."""
    seen: dict[tuple[object, ...], int] = {}
    lines: list[StatementLine] = []
    # Names and purposes repeat through a statement: each distinct text is cleaned once.
    cleaned: dict[str | None, str | None] = {None: None}

    def clean(text: str | None) -> str | None:
        found = cleaned.get(text, "")
        if found == "":
            found = cleaned[text] = clean_text(text)
        return found

    sha256 = hashlib.sha256
    days: dict[date, str] = {}
    for fact in facts:
        counterparty = clean(fact.counterparty)
        reference = clean_text(fact.reference)  # mostly unique: not worth remembering
        description = clean(fact.description)
        booked_on = fact.booked_on
        key = (booked_on, fact.amount, fact.currency, reference, counterparty, description)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        day = days.get(booked_on)
        if day is None:
            day = days[booked_on] = booked_on.isoformat()
        # ``fingerprint``, inline: this loop runs once per line of a long statement.
        canonical = _encode(
            [
                FINGERPRINT_VERSION,
                day,
                str(fact.amount),
                fact.currency,
                reference or "",
                counterparty or "",
                description or "",
                str(occurrence),
            ]
        )
        lines.append(
            StatementLine(
                booked_on=booked_on,
                amount=fact.amount,
                currency=fact.currency,
                fingerprint=sha256(canonical).hexdigest(),
                occurrence=occurrence,
                value_on=fact.value_on,
                counterparty=counterparty,
                reference=reference,
                description=description,
                balance=fact.balance,
                line=fact.line,
                element=fact.element,
            )
        )
    return tuple(lines)

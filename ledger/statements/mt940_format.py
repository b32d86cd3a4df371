"""MT940 (SWIFT customer statement), read with mt-940.

A file holds one or more statements (each from a ``:20:`` on), one after the other, of one
account. A line is a ``:61:`` with the ``:86:`` that follows it: its value date and its
booking date (``:61:``'s optional MMDD; the value date when absent), its amount signed by the
debit/credit mark (a reversal of a credit, ``RC``, is money out), its reference the bank's
(``//...``) or else the customer's (never ``NONREF``), its description and counterparty from
the ``:86:`` (the structured ``?20``-``?29`` purpose and ``?32`` name when the bank writes
them, else the whole text). Opening and closing balances are ``:60F:``/``:60M:`` and
``:62F:``/``:62M:``; each statement's opening plus its lines must make its closing, and each
must open where the one before closed. Errors name the line of the file.

The file is read as UTF-8 (a byte-order mark decides first), else as Latin-1: SWIFT's own
character set is a subset of ASCII, and banks that go beyond it use one of the two.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import mt940

from ledger.statements.amounts import StatementsRead, minor_units, same_currency
from ledger.statements.decoding import bom_encoding
from ledger.statements.errors import StatementError
from ledger.statements.lines import Balance, LineFacts

_OPTIONS = mt940.Options.all()
_STATEMENT_START = re.compile(r"(?m)^[ \t]*:20:")
_TAG = re.compile(r"(?m)^[ \t]*:(\d{2}[A-Z]?|NS):")
_OPENING_KEYS = ("final_opening_balance", "opening_balance", "intermediate_opening_balance")
_CLOSING_KEYS = ("final_closing_balance", "closing_balance", "intermediate_closing_balance")


def decode_mt940(data: bytes) -> str:
    encoding = bom_encoding(data)
    if encoding is not None:
        return data.decode(encoding, errors="strict").removeprefix("\ufeff")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _parse_block(block: str) -> Any:
    transactions = mt940.models.Transactions(options=_OPTIONS)
    transactions.parse(block)
    return transactions


def _failing_line(text: str, start: int, block: str) -> int:
    """The line of the first tag of ``block`` (which starts at ``start`` in ``text``) that
    mt-940 cannot read: the shortest prefix of whole tags that fails ends with it (failure
    only grows with the prefix, so a binary search finds it)."""
    cuts = [match.start() for match in _TAG.finditer(block)] + [len(block)]
    low, high = 1, len(cuts) - 1  # prefixes block[:cuts[k]] with k tags
    while low < high:
        middle = (low + high) // 2
        try:
            _parse_block(block[: cuts[middle]])
        except Exception:
            high = middle
        else:
            low = middle + 1
    return _line_of(text, start + cuts[max(low - 1, 0)])


def _balance(
    data: dict[str, Any], keys: tuple[str, ...], currency: str, line: int
) -> Balance | None:
    for key in keys:
        found = data.get(key)
        if found is not None:
            same_currency(found.amount.currency, currency, line=line)
            return Balance(
                on=date(found.date.year, found.date.month, found.date.day),
                amount=minor_units(Decimal(found.amount.amount), currency, line=line),
            )
    return None


def _tag_line(text: str, start: int, block: str, tag: str) -> int:
    match = re.search(rf"(?m)^[ \t]*:{tag}:", block)
    return _line_of(text, start + (match.start() if match else 0))


def read_mt940(data: bytes, currency: str) -> StatementsRead:
    """Read an MT940 statement; all of it or a ``StatementError``."""
    text = decode_mt940(data).replace("\r\n", "\n").replace("\r", "\n")
    starts = [match.start() for match in _STATEMENT_START.finditer(text)]
    if not starts:
        raise StatementError("the file has no MT940 statement (no ':20:' line).", line=1)
    stray = next(
        (match for match in _TAG.finditer(text, 0, starts[0]) if match.group(1) == "61"), None
    )
    if stray is not None:  # mt-940 would drop it: nothing is left out silently
        raise StatementError(
            "a statement line (':61:') comes before the statement's ':20:'.",
            line=_line_of(text, stray.start()),
        )
    read = StatementsRead()
    accounts: set[str] = set()
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(text)
        block = text[start:end]
        try:
            transactions = _parse_block(block)
        except Exception as error:  # mt-940 raises RuntimeError, ValueError, decimal errors
            if isinstance(error, ArithmeticError):
                reason = "its amount is not a number (digits and one decimal comma)"
            else:
                reason = error.args[0] if error.args else type(error).__name__
            raise StatementError(
                f"MT940 cannot read this line: {reason}", line=_failing_line(text, start, block)
            ) from None
        line_starts = [
            _line_of(text, start + match.start())
            for match in _TAG.finditer(block)
            if match.group(1) == "61"
        ]
        if len(line_starts) != len(transactions.transactions):
            raise StatementError(
                "MT940 read a different number of lines than the file's ':61:' tags.",
                line=_line_of(text, start),
            )
        facts = transactions.data
        account = facts.get("account_identification")
        if account:
            accounts.add(str(account).strip())
        opening_line = _tag_line(text, start, block, "60[FM]")
        closing_line = _tag_line(text, start, block, "62[FM]")
        opening = _balance(facts, _OPENING_KEYS, currency, opening_line)
        closing = _balance(facts, _CLOSING_KEYS, currency, closing_line)
        lines = [
            _line(transaction.data, currency, line)
            for transaction, line in zip(transactions.transactions, line_starts, strict=True)
        ]
        read.add(
            lines,
            opening,
            closing,
            currency,
            first=number == 0,
            opening_line=opening_line,
            closing_line=closing_line,
        )
    read.of_one_account(accounts, line=1)
    return read


def _text(value: object) -> str | None:
    return str(value).strip() or None if value else None


def _line(data: dict[str, Any], currency: str, line: int) -> LineFacts:
    amount = data["amount"]
    same_currency(amount.currency, currency, line=line)
    value_on = data["date"]
    booked_on = data.get("entry_date") or value_on
    reference = _text(data.get("bank_reference"))
    customer = _text(data.get("customer_reference"))
    if not reference and customer and customer.upper() != "NONREF":
        reference = customer
    description = _text(data.get("purpose")) or _text(data.get("transaction_details"))
    return LineFacts(
        booked_on=date(booked_on.year, booked_on.month, booked_on.day),
        value_on=date(value_on.year, value_on.month, value_on.day),
        amount=minor_units(Decimal(amount.amount), currency, line=line),
        currency=currency,
        counterparty=_text(data.get("applicant_name")),
        reference=reference,
        description=description,
        line=line,
    )

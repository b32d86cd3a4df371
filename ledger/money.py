"""Money at the edges: strict decimal strings in, integer minor units inside.

Amounts are never floats. A currency's exponent comes from ISO 4217 (through Babel's data):
EUR has 2 decimals, JPY 0, KWD 3.
"""

from __future__ import annotations

import re
from functools import cache

from babel.numbers import get_currency_precision, list_currencies

from ledger.errors import InvalidInput

# Digits only: no sign, no exponent, no spaces, no leading zeros, at most one point. The
# lengths are checked after the match, so a long amount is told it is too long or too precise.
_AMOUNT = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Far above any mutual-aid fund, far below a 64-bit overflow.
MAX_MINOR_UNITS = 10**15
# The most a fund may hold (or owe): a thousand of the largest entries, and still nine
# times below the 64-bit integers both databases store balances in (SQLite would silently
# turn an overflowing sum into a float).
MAX_BALANCE = 10**18


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(code: str, *, field: str = "currency") -> str:
    """Return the ISO 4217 code, or refuse it."""
    if not _CURRENCY.fullmatch(code) or code not in _known_currencies():
        raise InvalidInput(f"{code!r} is not an ISO 4217 currency code.", field=field)
    return code


@cache
def exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit."""
    places = int(get_currency_precision(check_currency(currency)))
    return places


def parse_amount(text: object, currency: str, *, field: str = "amount") -> int:
    """Parse a positive decimal string in the currency's major unit into minor units.

    Refuses anything but a plain string of digits with at most the currency's number of
    decimals: numbers, exponents, signs, spaces, zero and amounts beyond ``MAX_MINOR_UNITS``.
    """
    if not isinstance(text, str):
        raise InvalidInput('An amount must be a decimal string such as "12.50".', field=field)
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise InvalidInput(
            f"{text!r} is not an amount: write digits with an optional decimal point, "
            'such as "12.50".',
            field=field,
        )
    whole, decimals = match.group(1), match.group(2) or ""
    places = exponent(currency)
    if len(decimals) > places:
        raise InvalidInput(
            f"{currency} amounts have at most {places} decimal(s); {text!r} has {len(decimals)}.",
            field=field,
        )
    # Digits beyond the largest amount's are refused before ``int`` reads them.
    minor: int | None = None
    if len(whole) + places <= len(str(MAX_MINOR_UNITS)):
        minor = int(whole) * 10**places + int(decimals.ljust(places, "0") or "0")
        if minor == 0:
            raise InvalidInput("The amount must be more than zero.", field=field)
    if minor is None or minor > MAX_MINOR_UNITS:
        raise InvalidInput(
            f"The amount is too large: at most {format_amount(MAX_MINOR_UNITS, currency)}.",
            field=field,
        )
    return minor


def parse_balance(text: object, currency: str, *, field: str = "balance") -> int:
    """A balance in minor units: written as ``parse_amount`` reads an amount, but it may be
    zero, or below zero with a leading minus ("-12.50": an overdrawn account)."""
    if not isinstance(text, str):
        raise InvalidInput('A balance must be a decimal string such as "12.50".', field=field)
    negative = text.startswith("-")
    body = text[1:] if negative else text
    match = _AMOUNT.fullmatch(body)
    if match is not None and not (match.group(1) + (match.group(2) or "")).strip("0"):
        places = exponent(currency)
        if len(match.group(2) or "") > places:
            raise InvalidInput(
                f"{currency} amounts have at most {places} decimal(s); {text!r} has "
                f"{len(match.group(2) or '')}.",
                field=field,
            )
        return 0
    minor = parse_amount(body, currency, field=field)
    return -minor if negative else minor


def format_amount(minor: int, currency: str) -> str:
    """Minor units as a decimal string with exactly the currency's decimals ("-12.50")."""
    if type(minor) is not int:  # a balance SQLite overflowed into a float: show its digits
        minor = int(minor)  # (``verify`` names the fund as broken)
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if places == 0:
        return sign + digits
    digits = digits.rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"

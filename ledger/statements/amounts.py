"""Amounts and currencies as statement formats give them, into the ledger's minor units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ledger.errors import InvalidInput
from ledger.money import MAX_MINOR_UNITS, check_currency, exponent, format_amount
from ledger.statements.errors import StatementError


def expected_currency(currency: str) -> str:
    """The place's currency, checked once (a bad one is the caller's bug, named as such)."""
    try:
        return check_currency(currency)
    except InvalidInput as error:
        raise StatementError(str(error), field="currency") from None


def same_currency(
    found: str | None, expected: str, *, line: int | None = None, element: str | None = None
) -> None:
    """Refuse a line or balance in another currency than the place's."""
    found = (found or "").strip().upper()
    if found and found != expected:
        raise StatementError(
            f"the statement is in {found}, but this place holds {expected}; "
            "import this file into a place in that currency.",
            line=line,
            element=element,
        )


def minor_units(
    value: Decimal | str,
    currency: str,
    *,
    line: int | None = None,
    element: str | None = None,
) -> int:
    """A decimal amount (signed) in the currency's minor units: no rounding, ever."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(value.strip())
    except InvalidOperation:
        raise StatementError(f"{value!r} is not an amount.", line=line, element=element) from None
    if not amount.is_finite():
        raise StatementError(f"{value!r} is not an amount.", line=line, element=element)
    places = exponent(currency)
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise StatementError(
            f"{value} has more decimals than {currency}'s {places}.", line=line, element=element
        )
    minor = int(scaled)
    if abs(minor) > MAX_MINOR_UNITS:
        raise StatementError(f"{value} is too large an amount.", line=line, element=element)
    return minor


def check_balances(
    opening: int,
    lines_total: int,
    closing: int,
    currency: str,
    *,
    line: int | None = None,
    element: str | None = None,
) -> None:
    """The statement's own arithmetic: its opening balance plus its lines is its closing
    balance. A file that fails it is cut short or misread, and is refused."""
    if opening + lines_total != closing:
        raise StatementError(
            f"the opening balance {format_amount(opening, currency)} plus the lines "
            f"({format_amount(lines_total, currency)}) is "
            f"{format_amount(opening + lines_total, currency)}, but the closing balance is "
            f"{format_amount(closing, currency)}: is the file whole?",
            line=line,
            element=element,
        )

"""Amounts and currencies as statement formats give them, into the ledger's minor units;
and the balances a file states, checked against its lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ledger.errors import InvalidInput
from ledger.money import MAX_MINOR_UNITS, check_currency, exponent, format_amount
from ledger.statements.errors import StatementError
from ledger.statements.lines import Balance, LineFacts


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


@dataclass(slots=True, kw_only=True)
class StatementsRead:
    """What a file of one or more statements of one account gives, statement by statement
    (CAMT.053's ``Stmt`` elements, MT940's messages): their lines, the first statement's
    opening balance, the last one's closing balance, and the account."""

    lines: list[LineFacts] = field(default_factory=list)
    opening: Balance | None = None
    closing: Balance | None = None
    account: str | None = None

    def add(
        self,
        lines: list[LineFacts],
        opening: Balance | None,
        closing: Balance | None,
        currency: str,
        *,
        first: bool,
        element: str | None = None,
        opening_line: int | None = None,
        closing_line: int | None = None,
    ) -> None:
        """The next statement of the file. It must open where the one before it closed (a
        statement missing in between is refused), and its own balances must agree with
        its lines. ``element``, or the lines of its balances, say where it is."""
        if first:
            self.opening = opening
        elif (
            opening is not None
            and self.closing is not None
            and opening.amount != self.closing.amount
        ):
            raise StatementError(
                "this statement does not open where the one before it closed: is one "
                "missing in between?",
                line=opening_line,
                element=element,
            )
        if opening is not None and closing is not None:
            check_balances(
                opening.amount,
                sum(line.amount for line in lines),
                closing.amount,
                currency,
                line=closing_line,
                element=element,
            )
        self.closing = closing  # the file's last statement's, stated or not
        self.lines.extend(lines)

    def of_one_account(
        self, accounts: set[str], *, line: int | None = None, element: str | None = None
    ) -> None:
        """The account the statements are of: a place imports one account's statements."""
        if len(accounts) > 1:
            raise StatementError(
                f"the file holds statements of {len(accounts)} accounts; a place imports one "
                "account's statements.",
                line=line,
                element=element,
            )
        self.account = next(iter(accounts), None)

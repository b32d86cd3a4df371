"""The ledger's rules as pure functions: which postings an entry makes, and whether it may.

No database here: ``service.py`` loads the funds, calls these and writes the result.

Accounts follow the plain-text accounting tools' shape, one set per fund:
``Assets:Holding:<Fund>`` (the fund's money, where it is held), ``Income:Donations:<Fund>``
and ``Expenses:Support:<Fund>``. A fund's slug is lower-case letters, digits and dashes, so
capitalising it gives a component both hledger and beancount accept, and distinct slugs
can never give the same account.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from ledger.errors import BalanceLimit, InsufficientFunds, InvalidInput
from ledger.money import MAX_BALANCE, format_amount

ENTRY_KINDS = ("donation", "disbursement", "transfer", "reversal")
HOLDING, INCOME, EXPENSE = "holding", "income", "expense"
_ACCOUNT_ROOTS = {
    HOLDING: "Assets:Holding",
    INCOME: "Income:Donations",
    EXPENSE: "Expenses:Support",
}
SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def check_slug(slug: str, *, field: str = "slug") -> str:
    if len(slug) > 64 or not SLUG.fullmatch(slug):
        raise InvalidInput(
            "A slug is 1-64 lower-case letters, digits and single dashes, starting with a "
            f'letter (like "rent-relief"); {slug!r} is not.',
            field=field,
        )
    return slug


EARLIEST_DAY = date(1970, 1, 1)
DAYS_AHEAD = 31


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The days an entry may say it occurred on: from ``earliest`` to ``days_ahead`` days
    after today (None: no limit ahead). A date far outside any group's life is a typing
    mistake, and one that no tool can carry: year 9999 has no next day for a balance
    assertion, and the ledger can never be edited to remove it."""

    earliest: date = EARLIEST_DAY
    days_ahead: int | None = DAYS_AHEAD

    def latest(self, today: date) -> date:
        if self.days_ahead is None or date.max - today < timedelta(days=self.days_ahead):
            return date.max
        return today + timedelta(days=self.days_ahead)

    def check(self, day: date, today: date, *, field: str = "occurred_on") -> date:
        """``day`` when it lies in the window, else InvalidInput naming ``field``."""
        latest = self.latest(today)
        if not self.earliest <= day <= latest:
            raise InvalidInput(
                f"{day.isoformat()} is outside the dates the ledger accepts: from "
                f"{self.earliest.isoformat()} to {latest.isoformat()}.",
                field=field,
            )
        return day


DEFAULT_DATES = DateWindow()


def account_name(account_type: str, fund_slug: str) -> str:
    return f"{_ACCOUNT_ROOTS[account_type]}:{fund_slug[0].upper()}{fund_slug[1:]}"


@dataclass(frozen=True, slots=True)
class FundState:
    id: int
    slug: str
    name: str
    currency: str
    allow_negative: bool
    balance: int


@dataclass(frozen=True, slots=True)
class PlannedPosting:
    fund_id: int
    fund_slug: str
    account_type: str
    amount: int
    currency: str

    @property
    def account(self) -> str:
        return account_name(self.account_type, self.fund_slug)


def _leg(fund: FundState, account_type: str, amount: int) -> PlannedPosting:
    return PlannedPosting(fund.id, fund.slug, account_type, amount, fund.currency)


def donation(fund: FundState, amount: int) -> list[PlannedPosting]:
    """Money comes in: the fund holds more, the donations income says from where."""
    return [_leg(fund, HOLDING, amount), _leg(fund, INCOME, -amount)]


def disbursement(fund: FundState, amount: int) -> list[PlannedPosting]:
    """Money goes out of the fund to support someone."""
    return [_leg(fund, EXPENSE, amount), _leg(fund, HOLDING, -amount)]


def transfer(source: FundState, target: FundState, amount: int) -> list[PlannedPosting]:
    if source.id == target.id:
        raise InvalidInput("A transfer needs two different funds.", field="to_fund")
    if source.currency != target.currency:
        raise InvalidInput(
            f"Cannot transfer between {source.currency} and {target.currency} funds.",
            field="to_fund",
        )
    return [_leg(target, HOLDING, amount), _leg(source, HOLDING, -amount)]


def reversal(original: Iterable[PlannedPosting]) -> list[PlannedPosting]:
    """The exact negation of an earlier entry's postings."""
    return [
        PlannedPosting(p.fund_id, p.fund_slug, p.account_type, -p.amount, p.currency)
        for p in original
    ]


def unbalanced_currencies(postings: Iterable[PlannedPosting]) -> list[str]:
    """Currencies whose postings do not sum to zero (empty when the entry balances)."""
    sums: dict[str, int] = defaultdict(int)
    for posting in postings:
        sums[posting.currency] += posting.amount
    return sorted(currency for currency, total in sums.items() if total != 0)


def fund_changes(postings: Iterable[PlannedPosting]) -> dict[int, int]:
    """How much each fund's money changes (holding postings only)."""
    changes: dict[int, int] = defaultdict(int)
    for posting in postings:
        if posting.account_type == HOLDING:
            changes[posting.fund_id] += posting.amount
    return dict(changes)


def check_no_overdraft(funds: Mapping[int, FundState], changes: Mapping[int, int]) -> None:
    """Refuse changes that take a fund below zero, unless the fund allows it, and changes
    that take a balance beyond ``MAX_BALANCE`` either way (no database column overflows)."""
    for fund_id, change in changes.items():
        fund = funds[fund_id]
        after = fund.balance + change
        if change < 0 and after < 0 and not fund.allow_negative:
            raise InsufficientFunds(
                f"The fund {fund.name!r} holds {format_amount(fund.balance, fund.currency)} "
                f"{fund.currency}; this entry needs {format_amount(-change, fund.currency)}.",
                field="amount",
            )
        if abs(after) > MAX_BALANCE:
            raise BalanceLimit(
                f"The fund {fund.name!r} cannot hold more than "
                f"{format_amount(MAX_BALANCE, fund.currency)} {fund.currency} either way; "
                "this entry would take it beyond that.",
                field="amount",
            )

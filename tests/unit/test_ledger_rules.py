"""The ledger's posting and balance rules (ledger/rules.py), without a database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import rules
from ledger.errors import (
    AlreadyReversed,
    BalanceLimit,
    Conflict,
    InsufficientFunds,
    InvalidInput,
    LedgerError,
    Unbalanced,
)
from ledger.money import MAX_BALANCE, MAX_MINOR_UNITS

TODAY = date(2026, 12, 4)


def fund(balance: int = 0, *, allow_negative: bool = False, fund_id: int = 1) -> rules.FundState:
    return rules.FundState(fund_id, "groceries", "Groceries", "EUR", allow_negative, balance)


# --- the days an entry may have occurred on -------------------------------------------------


def test_the_default_window_runs_from_1970_to_31_days_ahead() -> None:
    window = rules.DateWindow()
    assert window.check(date(1970, 1, 1), TODAY) == date(1970, 1, 1)
    assert window.check(TODAY + timedelta(days=31), TODAY) == TODAY + timedelta(days=31)


@pytest.mark.parametrize(
    "day", [date(1969, 12, 31), TODAY + timedelta(days=32), date.max, date.min]
)
def test_a_day_outside_the_window_is_refused_naming_the_field_and_the_window(day: date) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.DateWindow().check(day, TODAY, field="occurred_on")
    assert refused.value.field == "occurred_on"
    assert "from 1970-01-01 to 2027-01-04" in str(refused.value)


def test_a_window_without_a_limit_ahead_reaches_the_calendars_last_day() -> None:
    window = rules.DateWindow(date.min, None)
    assert window.latest(TODAY) == date.max
    assert window.check(date.max, TODAY) == date.max


def test_the_latest_day_never_overflows_the_calendar() -> None:
    near_the_end = date.max - timedelta(days=3)
    assert rules.DateWindow(days_ahead=31).latest(near_the_end) == date.max


@given(
    earliest=st.dates(max_value=date(2100, 1, 1)),
    days_ahead=st.integers(min_value=0, max_value=3660),
    today=st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 1, 1)),
    day=st.dates(),
)
def test_a_day_is_accepted_exactly_when_it_lies_in_the_window(
    earliest: date, days_ahead: int, today: date, day: date
) -> None:
    window = rules.DateWindow(earliest, days_ahead)
    inside = earliest <= day and (day - today).days <= days_ahead
    if inside:
        assert window.check(day, today) == day
    else:
        with pytest.raises(InvalidInput):
            window.check(day, today)


# --- the rules of the log (Books) ----------------------------------------------------------


def terms(slug: str = "groceries", *, allow_negative: bool = False) -> rules.FundTerms:
    return rules.FundTerms(slug, "EUR", allow_negative, slug.title())


def legs(postings: list[rules.PlannedPosting]) -> list[rules.Leg]:
    return [rules.Leg(p.account, p.fund_slug, p.amount, p.currency) for p in postings]


def donation_legs(amount: int, slug: str = "groceries") -> list[rules.Leg]:
    return legs(rules.donation(rules.FundState(1, slug, slug, "EUR", False, 0), amount))


def payment_legs(amount: int, slug: str = "groceries") -> list[rules.Leg]:
    return legs(rules.disbursement(rules.FundState(1, slug, slug, "EUR", False, 0), amount))


def undo(entry: list[rules.Leg]) -> list[rules.Leg]:
    return [rules.Leg(leg.account, leg.fund, -leg.amount, leg.currency) for leg in entry]


def test_a_payment_beyond_the_funds_balance_is_refused_naming_the_amount() -> None:
    books = rules.Books([terms()])
    books.record("donation", donation_legs(1000))
    with pytest.raises(InsufficientFunds) as refused:
        books.record("disbursement", payment_legs(1001))
    assert refused.value.field == "amount"
    assert str(refused.value) == "The fund 'Groceries' holds 10.00 EUR; this entry needs 10.01."
    assert refused.value.in_log == "takes the fund 'groceries' below zero"
    assert books.balances == {"groceries": 1000}  # a refused entry adds nothing
    assert books.seq == 1


def test_a_fund_that_allows_it_may_go_below_zero() -> None:
    books = rules.Books([terms(allow_negative=True)])
    books.record("disbursement", payment_legs(500))
    assert books.balances == {"groceries": -500}


def test_money_coming_in_never_counts_as_an_overdraft() -> None:
    books = rules.Books([terms()], balances={"groceries": -500})
    books.record("donation", donation_legs(100))
    assert books.balances == {"groceries": -400}


def test_an_entry_that_does_not_balance_is_refused() -> None:
    books = rules.Books([terms()])
    lopsided = donation_legs(100)[:1]
    with pytest.raises(Unbalanced) as refused:
        books.record("donation", lopsided)
    assert refused.value.in_log == "does not balance"


def test_a_reversal_undoes_an_entry_once() -> None:
    books = rules.Books([terms()])
    books.record("donation", donation_legs(100))
    books.record(
        "reversal",
        [rules.Leg(leg.account, leg.fund, -leg.amount, leg.currency) for leg in donation_legs(100)],
        reverses=1,
    )
    assert books.balances == {"groceries": 0}
    with pytest.raises(AlreadyReversed) as again:
        books.record("reversal", donation_legs(100), reverses=1)
    assert again.value.in_log == "reverses entry 1 a second time"
    with pytest.raises(Conflict) as of_a_reversal:
        books.record("reversal", donation_legs(100), reverses=2)
    assert of_a_reversal.value.in_log == "reverses entry 2, which cannot be reversed"


@pytest.mark.parametrize(
    ("kind", "reverses", "in_log"),
    [
        ("reversal", None, "is a reversal but names no entry to reverse"),
        ("reversal", 5, "reverses entry 5, which cannot be reversed"),
        ("donation", 1, "names an entry to reverse but is not a reversal"),
    ],
)
def test_what_a_reversal_names_is_checked(kind: str, reverses: int | None, in_log: str) -> None:
    books = rules.Books([terms()])
    books.record("donation", donation_legs(100))
    with pytest.raises(LedgerError) as refused:
        books.record(kind, donation_legs(5), reverses=reverses)
    assert refused.value.in_log == in_log


def test_a_reversal_must_be_the_exact_negation() -> None:
    books = rules.Books([terms()])
    books.record("donation", donation_legs(100))
    with pytest.raises(Conflict) as refused:
        books.record("reversal", payment_legs(99), reverses=1)
    assert refused.value.in_log == "is not the exact negation of entry 1"


def test_the_append_path_names_the_entry_a_reversal_reverses_from_before_the_books() -> None:
    """The append path starts from the stored balances, with only the reversed entry's
    legs in ``earlier``; the rules read them as the verifiers read the whole log."""
    earlier = {7: donation_legs(100), 8: None}
    books = rules.Books([terms()], balances={"groceries": 100}, first=9, earlier=earlier)
    with pytest.raises(Conflict, match="A reversal cannot be reversed"):
        books.record("reversal", payment_legs(100), reverses=8)
    books.record("reversal", undo(donation_legs(100)), reverses=7)
    assert books.reversed == {7}
    assert books.balances == {"groceries": 0}


def test_a_posting_to_a_fund_the_books_do_not_know_is_refused() -> None:
    books = rules.Books([terms()])
    with pytest.raises(InvalidInput) as refused:
        books.record("donation", donation_legs(100, slug="nowhere"))
    assert refused.value.in_log == "uses the unknown fund 'nowhere'"


def test_a_balance_may_reach_the_limit_but_not_pass_it() -> None:
    rules.check_balance_limit({1: fund(MAX_BALANCE - MAX_MINOR_UNITS)}, {1: MAX_MINOR_UNITS})
    with pytest.raises(BalanceLimit) as refused:
        rules.check_balance_limit({1: fund(MAX_BALANCE)}, {1: 1})
    assert refused.value.field == "amount"


def test_a_debt_may_not_pass_the_limit_either() -> None:
    with pytest.raises(BalanceLimit):
        rules.check_balance_limit({1: fund(-MAX_BALANCE, allow_negative=True)}, {1: -1})


def test_the_balance_limit_stays_far_below_64_bit_integers() -> None:
    # The sum a database computes for one append must fit a signed 64-bit column.
    assert MAX_BALANCE + MAX_MINOR_UNITS < 2**63 - 1


# --- postings --------------------------------------------------------------------------------


@given(amount=st.integers(min_value=1, max_value=MAX_MINOR_UNITS))
def test_every_kind_of_entry_balances(amount: int) -> None:
    source, target = fund(fund_id=1), rules.FundState(2, "rent", "Rent", "EUR", False, 0)
    books = rules.Books([terms("groceries"), terms("rent")], balances={"groceries": amount})
    books.record("donation", legs(rules.donation(source, amount)))
    books.record("disbursement", legs(rules.disbursement(source, amount)))
    books.record("transfer", legs(rules.transfer(source, target, amount)))
    books.record("reversal", legs(rules.reversal(rules.transfer(source, target, amount))), 3)
    assert books.balances == {"groceries": amount, "rent": 0}


def test_a_donation_adds_to_the_fund_and_a_payment_takes_from_it() -> None:
    assert rules.fund_changes(rules.donation(fund(), 250)) == {1: 250}
    assert rules.fund_changes(rules.disbursement(fund(), 250)) == {1: -250}


def test_a_reversal_is_the_exact_negation_of_the_entry() -> None:
    original = rules.donation(fund(), 250)
    assert [p.amount for p in rules.reversal(original)] == [-p.amount for p in original]


def test_a_transfer_needs_two_funds_of_one_currency() -> None:
    with pytest.raises(InvalidInput) as same:
        rules.transfer(fund(), fund(), 100)
    assert same.value.field == "to_fund"
    dollars = rules.FundState(2, "usd", "Dollars", "USD", False, 0)
    with pytest.raises(InvalidInput, match="between EUR and USD"):
        rules.transfer(fund(), dollars, 100)


@pytest.mark.parametrize("slug", ["", "Rent", "rent--relief", "-rent", "1rent", "a" * 65])
def test_a_slug_that_cannot_name_an_account_is_refused(slug: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_slug(slug)
    assert refused.value.field == "slug"

"""The ledger's posting and balance rules (ledger/rules.py), without a database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import rules
from ledger.errors import BalanceLimit, InsufficientFunds, InvalidInput
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


# --- balances --------------------------------------------------------------------------------


def test_a_payment_beyond_the_funds_balance_is_refused() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        rules.check_no_overdraft({1: fund(1000)}, {1: -1001})
    assert refused.value.field == "amount"
    assert "holds 10.00 EUR" in str(refused.value)


def test_a_fund_that_allows_it_may_go_below_zero() -> None:
    rules.check_no_overdraft({1: fund(0, allow_negative=True)}, {1: -500})


def test_money_coming_in_never_counts_as_an_overdraft() -> None:
    rules.check_no_overdraft({1: fund(-500, allow_negative=False)}, {1: 100})


def test_a_balance_may_reach_the_limit_but_not_pass_it() -> None:
    rules.check_no_overdraft({1: fund(MAX_BALANCE - MAX_MINOR_UNITS)}, {1: MAX_MINOR_UNITS})
    with pytest.raises(BalanceLimit) as refused:
        rules.check_no_overdraft({1: fund(MAX_BALANCE)}, {1: 1})
    assert refused.value.field == "amount"


def test_a_debt_may_not_pass_the_limit_either() -> None:
    with pytest.raises(BalanceLimit):
        rules.check_no_overdraft({1: fund(-MAX_BALANCE, allow_negative=True)}, {1: -1})


def test_the_balance_limit_stays_far_below_64_bit_integers() -> None:
    # The sum a database computes for one append must fit a signed 64-bit column.
    assert MAX_BALANCE + MAX_MINOR_UNITS < 2**63 - 1


# --- postings --------------------------------------------------------------------------------


@given(amount=st.integers(min_value=1, max_value=MAX_MINOR_UNITS))
def test_every_kind_of_entry_balances(amount: int) -> None:
    source, target = fund(fund_id=1), rules.FundState(2, "rent", "Rent", "EUR", False, 0)
    for postings in (
        rules.donation(source, amount),
        rules.disbursement(source, amount),
        rules.transfer(source, target, amount),
        rules.reversal(rules.donation(source, amount)),
    ):
        assert rules.unbalanced_currencies(postings) == []


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

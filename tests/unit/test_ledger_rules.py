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


# --- places: where the money is held ---------------------------------------------------------


BANK = rules.PlaceTerms("bank", "EUR", name="Bank account")
CASH = rules.PlaceTerms("cash", "EUR", name="Cash box")


def placed(entry: list[rules.Leg], place: str | None) -> list[rules.Leg]:
    """The legs of ``entry`` in ``place`` (None: the default place)."""
    return [rules.Leg(leg.account, leg.fund, leg.amount, leg.currency, place) for leg in entry]


def books_with_places(**balances: int) -> rules.Books:
    return rules.Books(
        [terms("groceries"), terms("rent")],
        places=[BANK, CASH],
        default_place="bank",
        place_balances=balances,
    )


def test_an_entry_naming_no_place_is_in_the_default_place() -> None:
    books = books_with_places()
    books.record("donation", donation_legs(1000))
    books.record("donation", placed(donation_legs(300, "rent"), "cash"))
    assert books.place_balances == {"bank": 1000, "cash": 300}
    assert books.balances == {"groceries": 1000, "rent": 300}


def test_a_place_never_goes_below_zero_though_the_fund_has_the_money() -> None:
    books = books_with_places()
    books.record("donation", donation_legs(1000))
    with pytest.raises(InsufficientFunds) as refused:
        books.record("disbursement", placed(payment_legs(1), "cash"))
    assert refused.value.field == "place"
    assert refused.value.in_log == "takes the place 'cash' below zero"
    assert str(refused.value) == (
        "The place 'Cash box' holds 0.00 EUR; this entry takes 0.01 from it."
    )
    assert books.place_balances == {"bank": 1000, "cash": 0}
    assert books.seq == 1


def test_a_place_that_allows_it_may_be_overdrawn() -> None:
    books = rules.Books(
        [terms(allow_negative=True)],
        places=[rules.PlaceTerms("bank", "EUR", allow_negative=True)],
        default_place="bank",
    )
    books.record("disbursement", payment_legs(500))
    assert books.place_balances == {"bank": -500}


def test_a_move_takes_money_from_one_place_to_another_and_touches_no_fund() -> None:
    books = books_with_places()
    books.record("donation", donation_legs(1000))
    books.record(rules.MOVE, list(rules.move_legs("bank", "cash", 400, "EUR")))
    assert books.place_balances == {"bank": 600, "cash": 400}
    assert books.balances == {"groceries": 1000, "rent": 0}
    with pytest.raises(InsufficientFunds) as refused:
        books.record(rules.MOVE, list(rules.move_legs("cash", "bank", 401, "EUR")))
    assert refused.value.field == "from_place"
    # Reversed like any entry: its exact negation, once.
    books.record("reversal", undo_placed(list(rules.move_legs("bank", "cash", 400, "EUR"))), 2)
    assert books.place_balances == {"bank": 1000, "cash": 0}


def undo_placed(entry: list[rules.Leg]) -> list[rules.Leg]:
    return [rules.Leg(leg.account, leg.fund, -leg.amount, leg.currency, leg.place) for leg in entry]


@pytest.mark.parametrize(
    ("entry", "in_log"),
    [
        (rules.move_legs("bank", "bank", 5, "EUR"), "moves money from a place to itself"),
        (
            rules.move_legs("bank", "cash", -5, "EUR"),
            "is a move that does not take an amount from one place to another",
        ),
        (
            donation_legs(5),
            "is a move that does not take an amount from one place to another",
        ),
        (rules.move_legs("bank", "safe", 5, "EUR"), "uses the unknown place 'safe'"),
        (rules.move_legs("bank", "cash", 5, "USD"), "puts USD in the EUR place 'cash'"),
    ],
)
def test_what_a_move_may_be(entry: list[rules.Leg], in_log: str) -> None:
    books = books_with_places(bank=1000)
    with pytest.raises(LedgerError) as refused:
        books.record(rules.MOVE, list(entry))
    assert refused.value.in_log == in_log
    assert books.place_balances == {"bank": 1000, "cash": 0}


def test_only_a_move_has_legs_without_a_fund_and_other_entries_are_in_one_place() -> None:
    books = books_with_places(bank=1000)
    with pytest.raises(InvalidInput) as refused:
        books.record("transfer", list(rules.move_legs("bank", "cash", 5, "EUR")))
    assert refused.value.in_log == "has a leg without a fund but is not a move"
    split = [*placed(donation_legs(5)[:1], "cash"), *placed(donation_legs(5)[1:], None)]
    with pytest.raises(InvalidInput) as refused:
        books.record("donation", split)
    assert refused.value.in_log == "is in more than one place but is not a move"


def test_a_reversal_stays_in_the_place_of_its_entry() -> None:
    books = books_with_places()
    books.record("donation", placed(donation_legs(300), "cash"))
    with pytest.raises(Conflict):
        books.record("reversal", undo(donation_legs(300)), 1)  # in the bank: not its negation
    books.record("reversal", undo_placed(placed(donation_legs(300), "cash")), 1)
    assert books.place_balances == {"bank": 0, "cash": 0}


def test_a_log_from_before_places_is_checked_by_its_funds_alone() -> None:
    """A bundle written before places lists none: its leaves name none either."""
    books = rules.Books([terms(allow_negative=True)])
    books.record("disbursement", payment_legs(500))
    assert books.balances == {"groceries": -500}
    with pytest.raises(InvalidInput) as refused:
        books.record("donation", placed(donation_legs(5), "cash"))
    assert refused.value.in_log == "uses the unknown place 'cash'"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["donation", "disbursement", "move"]),
            st.sampled_from([None, "cash"]),
            st.integers(min_value=1, max_value=2_000),
        ),
        max_size=40,
    )
)
def test_places_hold_what_the_funds_hold_and_never_less_than_nothing(
    steps: list[tuple[str, str | None, int]],
) -> None:
    """Whatever is tried, the places together hold what the funds hold, and no place that
    may not is ever below zero: an entry breaking a rule adds nothing."""
    books = books_with_places()
    for kind, place, amount in steps:
        if kind == "move":
            target = "bank" if place == "cash" else "cash"
            entry = list(rules.move_legs(place or "bank", target, amount, "EUR"))
        elif kind == "donation":
            entry = placed(donation_legs(amount), place)
        else:
            entry = placed(payment_legs(amount), place)
        before = dict(books.place_balances), dict(books.balances)
        try:
            books.record(rules.MOVE if kind == "move" else kind, entry)
        except LedgerError:
            assert (books.place_balances, books.balances) == before
        assert sum(books.place_balances.values()) == sum(books.balances.values())
        assert min(books.place_balances.values()) >= 0

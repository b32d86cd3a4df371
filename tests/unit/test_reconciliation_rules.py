"""The rules of reconciliation (ledger/rules.py ``Books.reconcile``), the leaf of version 7
(ledger/canonical.py) and the bundle verifier's reading of it, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import rules
from ledger.bundle import BundleFund, BundlePlace, _Broken, _leaf_digest, _Replay
from ledger.canonical import (
    LEAF_VERSION_RECONCILIATION,
    ZERO_HASH,
    Move,
    canonical_json,
    leaf_document,
    leaf_version_of,
    parse_leaf,
    reconciliation_leaf_document,
)
from ledger.errors import ClosedPeriod, InvalidInput
from ledger.money import parse_balance

BANK = rules.PlaceTerms("bank", "EUR", name="Bank account")
CASH = rules.PlaceTerms("cash", "EUR", name="Cash box")
NOV_30 = date(2026, 11, 30)


def holding(fund: str, amount: int) -> rules.Leg:
    return rules.Leg(rules.account_name(rules.HOLDING, fund), fund, amount, "EUR")


def donation(amount: int, place: str | None = None, fund: str = "rent") -> list[rules.Leg]:
    return [
        rules.Leg(rules.account_name(rules.HOLDING, fund), fund, amount, "EUR", place),
        rules.Leg(rules.account_name(rules.INCOME, fund), fund, -amount, "EUR", place),
    ]


def books() -> rules.Books:
    return rules.Books(
        [rules.FundTerms("rent", "EUR", False), rules.FundTerms("food", "EUR", False)],
        places=[BANK, CASH],
        default_place="bank",
    )


def test_a_place_is_reconciled_when_its_entries_through_the_day_add_up_to_the_balance() -> None:
    book = books()
    book.record("donation", donation(1000), occurred_on=date(2026, 11, 3))
    book.record("donation", donation(250), occurred_on=date(2026, 12, 2))  # after the day
    book.record("donation", donation(70, "cash"), occurred_on=date(2026, 11, 4))  # elsewhere
    book.reconcile("bank", NOV_30, 1000, "EUR")
    assert book.reconciled == {"bank": "2026-11-30"}
    assert book.seq == 4
    assert 4 in book.records  # a leaf no reversal or attachment may name


def test_a_closing_balance_that_differs_is_refused_saying_both_figures() -> None:
    book = books()
    book.record("donation", donation(1000), occurred_on=date(2026, 11, 3))
    with pytest.raises(InvalidInput) as refused:
        book.reconcile("bank", NOV_30, 1200, "EUR")
    assert refused.value.field == "closing_balance"
    assert "10.00 EUR" in str(refused.value)
    assert "12.00 EUR" in str(refused.value)
    assert refused.value.in_log == (
        "states a balance of 1200 for the place 'bank' through 2026-11-30, but the entries "
        "put 1000 there"
    )
    assert book.reconciled == {}
    assert book.seq == 1


def test_a_closed_reconciliation_is_never_reopened() -> None:
    book = books()
    book.reconcile("bank", NOV_30, 0)
    for day in (NOV_30, NOV_30 - timedelta(days=1)):
        with pytest.raises(InvalidInput) as refused:
            book.reconcile("bank", day, 0)
        assert refused.value.field == "through"
        assert "not after its last reconciliation (2026-11-30)" in refused.value.in_log
    book.reconcile("bank", NOV_30 + timedelta(days=1), 0)  # a later day: a new one
    book.reconcile("cash", NOV_30, 0)  # each place has its own


def test_an_unknown_place_or_another_currency_is_refused() -> None:
    with pytest.raises(InvalidInput) as unknown:
        books().reconcile("safe", NOV_30, 0)
    assert unknown.value.in_log == "reconciles the unknown place 'safe'"
    with pytest.raises(InvalidInput) as currency:
        books().reconcile("bank", NOV_30, 0, "USD")
    assert currency.value.field == "closing_balance"


@pytest.mark.parametrize(
    ("kind", "legs", "field"),
    [
        ("donation", donation(5), "occurred_on"),
        # A transfer between funds leaves the balance as it was, but is in the closed period.
        ("transfer", [holding("food", 5), holding("rent", -5)], "occurred_on"),
        (rules.MOVE, list(rules.move_legs("cash", "bank", 5, "EUR")), "occurred_on"),
    ],
)
def test_an_entry_dated_into_a_reconciled_period_is_refused(
    kind: str, legs: list[rules.Leg], field: str
) -> None:
    book = books()
    book.record("donation", donation(100), occurred_on=date(2026, 11, 1))
    book.record("donation", donation(100, "cash"), occurred_on=date(2026, 11, 1))
    book.reconcile("bank", NOV_30, 100)
    for day in (NOV_30, date(2026, 1, 1)):
        with pytest.raises(ClosedPeriod) as refused:
            book.record(kind, legs, occurred_on=day)
        assert refused.value.field == field
        assert "reconciled through 2026-11-30" in refused.value.in_log
    book.record(kind, legs, occurred_on=NOV_30 + timedelta(days=1))  # the day after: fine


def test_a_reversal_is_refused_on_the_reconciled_day_and_accepted_the_next() -> None:
    """A reversal is dated the day it is recorded: reversing an entry of a closed period
    is a new entry in an open one, unless it is recorded on the closed day itself."""
    book = books()
    book.record("donation", donation(100), occurred_on=date(2026, 11, 1))
    book.reconcile("bank", NOV_30, 100)
    undo = [rules.Leg(leg.account, leg.fund, -leg.amount, leg.currency) for leg in donation(100)]
    with pytest.raises(ClosedPeriod) as refused:
        book.record("reversal", undo, 1, occurred_on=NOV_30)
    assert refused.value.field == "reverses"
    book.record("reversal", undo, 1, occurred_on=NOV_30 + timedelta(days=1))
    assert book.place_balances["bank"] == 0


def test_entries_in_another_place_or_without_a_day_are_not_held_by_it() -> None:
    book = books()
    book.reconcile("bank", NOV_30, 0)
    book.record("donation", donation(5, "cash"), occurred_on=date(2026, 11, 2))
    book.record("donation", donation(5))  # the append path of a caller that reads no day


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=50)),
        max_size=30,
    ),
    st.integers(min_value=0, max_value=40),
)
def test_the_balance_through_a_day_is_the_sum_of_the_entries_dated_on_or_before_it(
    entries: list[tuple[int, int]], through: int
) -> None:
    """Whatever order entries were recorded in (backdated ones too), the balance the rule
    reads is the sum over the entries dated on or before the day; any other is refused."""
    start = date(2026, 1, 1)
    book = books()
    for offset, amount in entries:
        book.record("donation", donation(amount), occurred_on=start + timedelta(days=offset))
    day = start + timedelta(days=through)
    expected = sum(amount for offset, amount in entries if offset <= through)
    with pytest.raises(InvalidInput):
        book.reconcile("bank", day, expected + 1)
    book.reconcile("bank", day, expected)


def test_the_append_path_passes_the_balance_of_the_day_as_that_days_change() -> None:
    book = rules.Books(
        (), places=[BANK], default_place="bank", place_days={"bank": {"2026-11-30": 4200}}
    )
    book.reconcile("bank", NOV_30, 4200, "EUR")


@pytest.mark.parametrize(
    ("text", "minor"), [("0", 0), ("0.00", 0), ("-0.00", 0), ("-12.50", -1250), ("3.1", 310)]
)
def test_a_closing_balance_may_be_zero_or_overdrawn(text: str, minor: int) -> None:
    assert parse_balance(text, "EUR") == minor


@pytest.mark.parametrize("text", ["12.505", "--1", "1e3", " 1", "+1", ""])
def test_a_closing_balance_is_written_as_amounts_are(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_balance(text, "EUR", field="closing_balance")


# --- the leaf -------------------------------------------------------------------------------

SHA = "ab" * 32


def reconciliation_leaf(seq: int, prev: str, balance: int = 1000, through: date = NOV_30) -> bytes:
    return canonical_json(
        reconciliation_leaf_document(
            group="g",
            seq=seq,
            occurred_on=date(2026, 12, 6),
            recorded_at=datetime(2026, 12, 6, 12, tzinfo=UTC),
            place="bank",
            through=through,
            balance=balance,
            currency="EUR",
            lines=3,
            sha256=SHA,
            prev=prev,
        )
    )


def test_a_reconciliation_is_a_leaf_of_version_7_read_back_byte_for_byte() -> None:
    leaf = reconciliation_leaf(2, ZERO_HASH)
    assert leaf == (
        b'{"group":"g","kind":"reconciliation","memo":"","occurred_on":"2026-12-06",'
        b'"postings":[],"prev":"' + ZERO_HASH.encode() + b'","reconciliation":{"balance":"1000",'
        b'"currency":"EUR","lines":"3","place":"bank","sha256":"' + SHA.encode() + b'",'
        b'"through":"2026-11-30"},"recorded_at":"2026-12-06T12:00:00.000000Z","seq":"2",'
        b'"v":"7"}'
    )
    document = parse_leaf(leaf)
    assert document.v == LEAF_VERSION_RECONCILIATION == leaf_version_of(document)


def donation_leaf(seq: int, prev: str, amount: int, day: date) -> bytes:
    return canonical_json(
        leaf_document(
            group="g",
            seq=seq,
            kind="donation",
            occurred_on=day,
            recorded_at=datetime(2026, 12, 6, tzinfo=UTC),
            memo="",
            counterparty=None,
            postings=donation(amount),
            reverses=None,
            proposal=None,
            prev=prev,
        )
    )


FUNDS = {"rent": BundleFund("rent", "EUR", False), "food": BundleFund("food", "EUR", False)}
PLACES = [BundlePlace("bank", "EUR", False, True), BundlePlace("cash", "EUR", False, False)]


def replay(leaves: list[bytes]) -> _Replay:
    played = _Replay("g", FUNDS, {}, PLACES)
    for leaf in leaves:
        played._entry(parse_leaf(leaf), _leaf_digest(leaf))
    return played


def chain(*makers: object) -> list[bytes]:
    leaves: list[bytes] = []
    prev = ZERO_HASH
    for seq, make in enumerate(makers, start=1):
        leaf = make(seq, prev)  # type: ignore[operator]
        leaves.append(leaf)
        prev = _leaf_digest(leaf).hex()
    return leaves


def test_the_bundle_verifier_checks_a_reconciliation_against_the_replayed_days() -> None:
    leaves = chain(
        lambda s, p: donation_leaf(s, p, 1000, date(2026, 11, 3)),
        lambda s, p: donation_leaf(s, p, 500, date(2026, 12, 1)),
        lambda s, p: reconciliation_leaf(s, p, 1000),
    )
    assert replay(leaves).books.reconciled == {"bank": "2026-11-30"}
    tampered = chain(
        lambda s, p: donation_leaf(s, p, 1000, date(2026, 11, 3)),
        lambda s, p: donation_leaf(s, p, 500, date(2026, 12, 1)),
        lambda s, p: reconciliation_leaf(s, p, 1500),  # the balance of the wrong day
    )
    with pytest.raises(_Broken) as broken:
        replay(tampered)
    assert broken.value.seq == 3
    assert "states a balance of 1500" in broken.value.problem


def test_the_bundle_verifier_refuses_an_entry_backdated_into_a_reconciled_period() -> None:
    leaves = chain(
        lambda s, p: donation_leaf(s, p, 1000, date(2026, 11, 3)),
        lambda s, p: reconciliation_leaf(s, p, 1000),
        lambda s, p: donation_leaf(s, p, 5, date(2026, 11, 29)),
    )
    with pytest.raises(_Broken) as broken:
        replay(leaves)
    assert broken.value.seq == 3
    assert "reconciled through 2026-11-30" in broken.value.problem
    # The batched check leaves it to the entry-by-entry one.
    played = replay(leaves[:2])
    third = parse_leaf(leaves[2])
    assert not played._batch_holds([third], _leaf_digest(leaves[2]))


def test_the_batched_check_keeps_the_days_the_entry_by_entry_check_keeps() -> None:
    days = [date(2026, 11, 3), date(2026, 11, 3), date(2026, 12, 1), date(2026, 10, 9)]
    leaves = chain(
        *(
            (lambda s, p, day=day, amount=amount: donation_leaf(s, p, amount, day))
            for amount, day in zip((100, 20, 3, 4), days, strict=True)
        )
    )
    one = replay(leaves)
    fast = _Replay("g", FUNDS, {}, PLACES)
    documents = [parse_leaf(leaf) for leaf in leaves]
    assert fast._batch_holds(documents, b"".join(map(_leaf_digest, leaves)))
    assert (
        fast.books.days
        == one.books.days
        == {"bank": {"2026-11-03": 120, "2026-12-01": 3, "2026-10-09": 4}}
    )


@pytest.mark.parametrize(
    ("part", "problem"),
    [
        ({"balance": "1e3"}, "not written as whole minor units"),
        ({"balance": "-0"}, "not written as whole minor units"),
        ({"lines": "-1"}, "not a whole number"),
        ({"sha256": "AB" * 32}, "not a SHA-256"),
        ({"through": "2026-11-31"}, "not a day"),
    ],
)
def test_a_malformed_reconciliation_leaf_is_refused(part: dict[str, str], problem: str) -> None:
    document = msgspec_document(part)
    leaf = canonical_json(document)
    with pytest.raises(_Broken) as broken:
        replay([leaf])
    assert problem in broken.value.problem


def msgspec_document(part: dict[str, str]) -> dict[str, object]:
    document = reconciliation_leaf_document(
        group="g",
        seq=1,
        occurred_on=date(2026, 12, 6),
        recorded_at=datetime(2026, 12, 6, tzinfo=UTC),
        place="bank",
        through=NOV_30,
        balance=0,
        currency="EUR",
        lines=0,
        sha256=SHA,
        prev=ZERO_HASH,
    )
    document["reconciliation"] = {**document["reconciliation"], **part}
    return document


# --- the batched check and reconciled places: a property --------------------------------------

BATCH_FUNDS = {"rent": BundleFund("rent", "EUR", False), "food": BundleFund("food", "EUR", True)}
days_in_november = st.integers(min_value=1, max_value=30).map(lambda d: date(2026, 11, d))


@st.composite
def dated_entries(draw: st.DrawFn) -> tuple[str, list[rules.Leg], date]:
    fund, amount, day = (
        draw(st.sampled_from(["rent", "food"])),
        draw(st.integers(1, 9)),
        draw(days_in_november),
    )
    if draw(st.booleans()):
        return "donation", donation(amount, fund=fund), day
    return (
        "disbursement",
        [
            rules.Leg(rules.account_name(rules.EXPENSE, fund), fund, amount, "EUR"),
            rules.Leg(rules.account_name(rules.HOLDING, fund), fund, -amount, "EUR"),
        ],
        day,
    )


def dated_leaf(seq: int, prev: str, kind: str, legs: list[rules.Leg], day: date) -> bytes:
    return canonical_json(
        leaf_document(
            group="g",
            seq=seq,
            kind=kind,
            occurred_on=day,
            recorded_at=datetime(2026, 12, 6, tzinfo=UTC),
            memo="",
            counterparty=None,
            postings=legs,
            reverses=None,
            proposal=None,
            prev=prev,
        )
    )


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(dated_entries(), max_size=8),
    through=days_in_november,
    batch=st.lists(dated_entries(), min_size=1, max_size=10),
)
def test_the_batched_check_passes_only_what_the_rules_pass_in_a_reconciled_place(
    before: list[tuple[str, list[rules.Leg], date]],
    through: date,
    batch: list[tuple[str, list[rules.Leg], date]],
) -> None:
    """A history, a reconciliation of the default place at the balance of its day, then a
    batch with dates before and after that day: what the batched check passes, the rules
    pass one by one, with the same place balances and days; what it refuses it leaves
    untouched (the entry-by-entry check then names the problem)."""
    leaves: list[bytes] = []
    prev = ZERO_HASH
    for kind, legs, day in before:
        leaves.append(dated_leaf(len(leaves) + 1, prev, kind, legs, day))
        prev = _leaf_digest(leaves[-1]).hex()
    held = sum(
        legs[0].amount if kind == "donation" else legs[1].amount
        for kind, legs, day in before
        if day <= through
    )
    leaves.append(reconciliation_leaf(len(leaves) + 1, prev, balance=held, through=through))
    prev = _leaf_digest(leaves[-1]).hex()
    split = len(leaves)
    for kind, legs, day in batch:
        leaves.append(dated_leaf(len(leaves) + 1, prev, kind, legs, day))
        prev = _leaf_digest(leaves[-1]).hex()

    one = _Replay("g", BATCH_FUNDS, {}, PLACES)
    problem = None
    for leaf in leaves:
        try:
            one._entry(parse_leaf(leaf), _leaf_digest(leaf))
        except _Broken as broken:
            problem = broken
            break
    if problem is not None and one.books.seq < split:
        return  # the history broke before the batch (a fund ran dry)
    fast = _Replay("g", BATCH_FUNDS, {}, PLACES)
    for leaf in leaves[:split]:
        fast._entry(parse_leaf(leaf), _leaf_digest(leaf))
    untouched = (fast.books.seq, dict(fast.books.place_balances), repr(fast.books.days))
    documents = [parse_leaf(leaf) for leaf in leaves[split:]]
    if fast._batch_holds(documents, b"".join(map(_leaf_digest, leaves[split:]))):
        assert problem is None
        assert fast.books.place_balances == one.books.place_balances
        assert fast.books.days == one.books.days
        assert fast.books.seq == one.books.seq
    else:
        assert (fast.books.seq, dict(fast.books.place_balances), repr(fast.books.days)) == untouched
        if any(day <= through for _, _, day in batch):
            assert problem is not None  # an entry dated into the closed period


def test_leaves_of_earlier_versions_replay_as_before_and_a_reconciliation_needs_version_7() -> None:
    """A log of version 1 and 6 leaves (the default place, a place named, a move) replays
    unchanged under the rules that know reconciliations, and a reconciliation may follow
    it; the same reconciliation leaf claiming version 6 is refused."""

    def in_cash(seq: int, prev: str) -> bytes:
        return canonical_json(
            leaf_document(
                group="g",
                seq=seq,
                kind="donation",
                occurred_on=date(2026, 11, 2),
                recorded_at=datetime(2026, 12, 6, tzinfo=UTC),
                memo="",
                counterparty=None,
                postings=donation(300, "cash"),
                reverses=None,
                proposal=None,
                prev=prev,
                place="cash",
            )
        )

    def move(seq: int, prev: str) -> bytes:
        return canonical_json(
            leaf_document(
                group="g",
                seq=seq,
                kind=rules.MOVE,
                occurred_on=date(2026, 11, 5),
                recorded_at=datetime(2026, 12, 6, tzinfo=UTC),
                memo="",
                counterparty=None,
                postings=(),
                reverses=None,
                proposal=None,
                prev=prev,
                move=Move("cash", "bank", 100, "EUR"),
            )
        )

    history = chain(
        lambda s, p: donation_leaf(s, p, 1000, date(2026, 11, 1)),
        in_cash,
        move,
        lambda s, p: reconciliation_leaf(s, p, 1100),
    )
    assert [parse_leaf(leaf).v for leaf in history] == ["1", "6", "6", "7"]
    played = replay(history)
    assert played.books.place_balances == {"bank": 1100, "cash": 200}
    assert played.books.reconciled == {"bank": "2026-11-30"}
    claimed = history[3].replace(b'"v":"7"', b'"v":"6"')
    with pytest.raises(_Broken) as broken:
        replay([*history[:3], claimed])
    assert "written as version '6' but holds the parts of version '7'" in broken.value.problem

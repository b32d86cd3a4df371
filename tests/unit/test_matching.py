"""The pure rules of matching bank lines with entries (ledger.matching): amount and direction
agree, the date within the window, ranked by what the bank's texts carry; matches add up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.matching import (
    NUMBER,
    PROPOSAL,
    PSEUDONYM,
    Candidate,
    LineText,
    Matcher,
    check_match,
    check_window,
)

DAY = date(2026, 11, 10)


def line(amount: int, day: date = DAY, *texts: str) -> LineText:
    return LineText.of(amount, day, *texts)


def test_amount_and_direction_must_agree() -> None:
    matcher = Matcher([Candidate(1, 5000, DAY), Candidate(2, -5000, DAY), Candidate(3, 5001, DAY)])
    assert [s.seq for s in matcher.suggest(line(5000))] == [1]
    assert [s.seq for s in matcher.suggest(line(-5000))] == [2]
    assert matcher.suggest(line(4999)) == ()


def test_the_window_is_inclusive_and_configurable() -> None:
    entries = [Candidate(1, 100, DAY - timedelta(days=5)), Candidate(2, 100, DAY + timedelta(6))]
    assert [s.seq for s in Matcher(entries).suggest(line(100))] == [1]
    assert [s.seq for s in Matcher(entries, 6).suggest(line(100))] == [1, 2]
    assert Matcher(entries, 0).suggest(line(100)) == ()


def test_closer_dates_rank_first_then_older_entries() -> None:
    entries = [
        Candidate(1, 100, DAY - timedelta(days=3)),
        Candidate(2, 100, DAY + timedelta(days=1)),
        Candidate(3, 100, DAY - timedelta(days=1)),
    ]
    found = Matcher(entries).suggest(line(100))
    assert [(s.seq, s.days) for s in found] == [(2, 1), (3, 1), (1, 3)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Payment for entry #7", NUMBER),
        ("Rent relief proposal 12 flat 3B", PROPOSAL),
        ("from r-17 with thanks", PSEUDONYM),
    ],
)
def test_the_bank_texts_rank_an_entry_up(text: str, reason: str) -> None:
    far = Candidate(7, 100, DAY + timedelta(days=4), proposal=12, counterparty="R-17")
    near = Candidate(8, 100, DAY)
    found = Matcher([far, near]).suggest(line(100, DAY, text))
    assert found[0].seq == 7
    assert found[0].reasons == (reason,)


def test_numbers_inside_codes_do_not_count() -> None:
    entry = Candidate(2, 100, DAY, proposal=11, counterparty="R-1")
    found = Matcher([entry]).suggest(line(100, DAY, "CV-2611-0002 R-17 12.50 3B"))
    assert found[0].reasons == ()


def test_rejected_entries_are_not_suggested_and_the_list_is_short() -> None:
    matcher = Matcher([Candidate(seq, 100, DAY) for seq in range(1, 10)])
    assert [s.seq for s in matcher.suggest(line(100), rejected=[1, 2])] == [3, 4, 5]


def test_matches_add_up() -> None:
    assert check_match([5000], [5000]) is True
    assert check_match([2000], [4000]) is False  # one entry, more lines to come
    assert check_match([2000, 2000], [4000]) is True
    assert check_match([-4000], [-1000, -3000]) is True
    for lines, entries in (([5000], [4000]), ([5000], [-5000]), ([100], []), ([100], [0])):
        with pytest.raises(InvalidInput) as refused:
            check_match(lines, entries)
        assert refused.value.field == "entries"


def test_the_window_has_bounds() -> None:
    assert check_window(0) == 0
    with pytest.raises(InvalidInput):
        check_window(61)


amounts = st.integers(min_value=-10_000, max_value=10_000).filter(bool)
days = st.integers(min_value=-20, max_value=20)


@given(
    entries=st.lists(st.tuples(amounts, days), max_size=40),
    bank=st.tuples(amounts, days),
    window=st.integers(min_value=0, max_value=10),
)
def test_suggestions_are_exactly_the_entries_a_scan_would_find(
    entries: list[tuple[int, int]], bank: tuple[int, int], window: int
) -> None:
    """The sweep finds what a plain scan of every entry finds, in rank order."""
    candidates = [
        Candidate(seq, amount, DAY + timedelta(days=offset))
        for seq, (amount, offset) in enumerate(entries, start=1)
    ]
    wanted = line(bank[0], DAY + timedelta(days=bank[1]))
    scan = sorted(
        (abs((c.occurred_on - wanted.booked_on).days), c.seq)
        for c in candidates
        if c.amount == wanted.amount and abs((c.occurred_on - wanted.booked_on).days) <= window
    )
    found = Matcher(candidates, window).suggest(wanted, limit=len(candidates) or 1)
    assert [(s.days, s.seq) for s in found] == scan[: len(found)]
    assert len(found) == len(scan)


# Few amounts, so that lines share entries and windows overlap.
few_amounts = st.sampled_from((100, -100, 250))


@given(
    entries=st.lists(st.tuples(few_amounts, days), max_size=40),
    lines=st.lists(
        st.tuples(few_amounts, days, st.sets(st.integers(1, 40), max_size=3)), max_size=30
    ),
    window=st.integers(min_value=0, max_value=10),
)
def test_a_whole_statement_gets_what_each_line_would_get_alone(
    entries: list[tuple[int, int]], lines: list[tuple[int, int, set[int]]], window: int
) -> None:
    """The sweep over lines in any order, some entries refused for some lines, suggests for
    each line exactly the entries a plain scan finds for it, in the same order as before."""
    candidates = [
        Candidate(seq, amount, DAY + timedelta(days=offset))
        for seq, (amount, offset) in enumerate(entries, start=1)
    ]
    texts = [line(amount, DAY + timedelta(days=offset)) for amount, offset, _ in lines]
    refused = [refused for _, _, refused in lines]
    found = Matcher(candidates, window).suggest_all(texts, refused, limit=len(candidates) or 1)
    for text, refusals, suggestions in zip(texts, refused, found, strict=True):
        scan = sorted(
            (abs((c.occurred_on - text.booked_on).days), c.seq)
            for c in candidates
            if c.amount == text.amount
            and c.seq not in refusals
            and abs((c.occurred_on - text.booked_on).days) <= window
        )
        assert [(s.days, s.seq) for s in suggestions] == scan

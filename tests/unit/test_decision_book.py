"""The rule that payments follow decisions (``ledger.decisions.DecisionBook``), pure: each
way a payment can lack its authority is named, and what holds is counted."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.canonical import LeafDecisionDoc, canonical_json, parse_leaf
from ledger.decisions import DecisionBook, DecisionLeaf, PolicyDecision, decision_body
from ledger.errors import NotAuthorised
from proposals.rules import DecisionRules

TALLY = dict.fromkeys(
    ("agree", "concern", "stand_aside", "block", "responded", "eligible", "quorum_needed"), 1
)


def body(outcome: str = "passed", **parts: Any) -> LeafDecisionDoc:
    """A decision's body as a verifier reads it back from its leaf."""
    leaf = DecisionLeaf(
        proposal=1,
        version=1,
        round=1,
        outcome=outcome,
        closed_by="facilitator",
        tally=TALLY,
        rules=DecisionRules().to_json(),
        minute_sha256="0" * 64,
        **parts,
    )
    document = {
        "v": "4",
        "group": "g",
        "seq": "1",
        "kind": "decision",
        "occurred_on": "2026-12-01",
        "recorded_at": "2026-12-01T10:00:00.000000Z",
        "memo": "",
        "postings": [],
        "prev": "0" * 64,
        "proposal": {"number": "1", "version": "1"},
        "decision": decision_body(leaf),
    }
    decision = parse_leaf(canonical_json(document, nulls=True)).decision
    assert decision is not None
    return decision


def pay(book: DecisionBook, seq: int, amount: int = 1000, **given: Any) -> None:
    named = {
        "proposal": (1, 1),
        "policy": None,
        "decided_in": 1,
        "fund": "rent",
        "amount": amount,
        "currency": "EUR",
        "counterparty": "R-1",
        "occurred_on": "2026-12-02",
        "recorded_on": "2026-12-02",
        **given,
    }
    book.payment(seq, **named)


def proposal_book(outcome: str = "passed") -> DecisionBook:
    book = DecisionBook()
    book.decision(1, 1, 1, body(outcome, money=("rent", 5000, "EUR", "R-1")))
    return book


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"decided_in": 5}, "comes later in the log"),
        ({"decided_in": 0}, "entry 0, which is not a decision"),
        ({"fund": "food"}, "paid from the fund 'food'; proposal 1 (entry 1) authorised"),
        ({"counterparty": "R-9"}, "pays R-9; proposal 1 (entry 1) decided to pay R-1"),
        ({"counterparty": None}, "pays nobody named"),
        ({"amount": 5001}, "which had 50.00 EUR left"),
        ({"proposal": (2, 1)}, "entry 1 decided proposal 1 version 1"),
        ({"proposal": (1, 2)}, "version 2"),
    ],
)
def test_a_payment_the_decision_does_not_cover_is_named(given: dict[str, Any], words: str) -> None:
    with pytest.raises(NotAuthorised) as refused:
        pay(proposal_book(), 3, **given)
    assert words in (refused.value.in_log or "")


def test_a_decision_that_did_not_pass_authorises_nothing() -> None:
    with pytest.raises(NotAuthorised) as refused:
        pay(proposal_book("blocked"), 3)
    assert refused.value.in_log == "is paid under proposal 1, which did not pass (entry 1: blocked)"


def test_partial_payments_use_up_the_amount_and_a_reversal_frees_it() -> None:
    book = proposal_book()
    pay(book, 2, 3000)
    pay(book, 3, 2000)
    with pytest.raises(NotAuthorised):
        pay(book, 4, 1)
    book.reversal(3)
    pay(book, 5, 2000)


def test_a_payment_without_its_decision_is_missing_once_the_log_holds_the_decision() -> None:
    book = proposal_book()
    with pytest.raises(NotAuthorised) as refused:
        pay(book, 2, decided_in=None)
    assert "without naming its decision (entry 1)" in (refused.value.in_log or "")
    old = DecisionBook()
    pay(old, 1, decided_in=None)  # decided before decisions were logged
    pay(old, 2, decided_in=None, proposal=None)  # before every payment needed a decision
    assert (old.unlogged, old.unlogged_seqs) == (2, [1, 2])


def policy_book() -> DecisionBook:
    book = DecisionBook()
    terms = PolicyDecision(
        fund="food", currency="EUR", max_per_payment=2000, max_per_month=5000, purpose="cards"
    )
    book.decision(1, 1, 1, body(policy=terms))
    return book


def under_policy(book: DecisionBook, seq: int, amount: int, **given: Any) -> None:
    pay(book, seq, amount, **{"proposal": None, "policy": (1, 1), "fund": "food", **given})


def test_a_policy_holds_payments_to_its_limits_month_by_month() -> None:
    book = policy_book()
    under_policy(book, 2, 2000)
    under_policy(book, 3, 2000)
    with pytest.raises(NotAuthorised) as refused:
        under_policy(book, 4, 1500)
    assert "which had 10.00 EUR left for 2026-12" in (refused.value.in_log or "")
    under_policy(book, 5, 1500, occurred_on="2027-01-03")  # a new month
    with pytest.raises(NotAuthorised) as refused:
        under_policy(book, 6, 2001)
    assert "most per payment is 20.00" in (refused.value.in_log or "")
    with pytest.raises(NotAuthorised) as refused:
        under_policy(book, 7, 100, fund="rent")
    assert "policy 1 (entry 1) pays from 'food'" in (refused.value.in_log or "")


def test_a_policy_ended_by_a_later_decision_authorises_nothing_after_it() -> None:
    book = policy_book()
    under_policy(book, 2, 100)
    book.decision(3, 2, 1, body(policy=PolicyDecision(end=True, replaces=1)))
    with pytest.raises(NotAuthorised) as refused:
        under_policy(book, 4, 100)
    assert refused.value.in_log == "is paid under policy 1, which entry 3 ended"


def test_a_batch_taken_back_leaves_the_book_as_it_was() -> None:
    book = proposal_book()
    pay(book, 2, 1000)
    before = (dict(book.paid), dict(book.payments), book.unlogged)
    book.mark()
    pay(book, 3, 1000)
    book.reversal(2)
    pay(book, 4, decided_in=None, proposal=None)
    book.undo()
    assert (dict(book.paid), dict(book.payments), book.unlogged) == before

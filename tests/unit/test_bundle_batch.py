"""The bundle verifier's batched check decides exactly what the rules of the log decide.

``ledger.rules.Books`` is the one statement of what an entry may be; the bundle verifier
applies it entry by entry (``_Replay._entry``) and, for speed, decides whole batches with
list operations (``_Replay._batch_holds``). Random histories, honest and broken, must get
the same answer both ways: a batch the fast path accepts is one the rules accept, leaving
the same books; a batch it refuses leaves the books untouched (the caller then replays it
entry by entry, which names the problem); and it refuses an honest batch only when an entry
mixes currencies, which it leaves to the entry-by-entry check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.bundle import BundleFund, _Broken, _leaf_digest, _Replay
from ledger.canonical import ZERO_HASH, LeafDoc, canonical_json, leaf_document, parse_leaf
from ledger.rules import Leg, account_name, negation

FUNDS = {
    "rent": BundleFund("rent", "EUR", False),
    "food": BundleFund("food", "EUR", False),
    "float": BundleFund("float", "EUR", True),
    "yen": BundleFund("yen", "JPY", False),
}
CURRENCY = {slug: fund.currency for slug, fund in FUNDS.items()}


@dataclass(frozen=True)
class Step:
    """One entry of a generated history, described before its number is known."""

    kind: str
    legs: list[Leg]
    reverses_back: int | None = None  # a reversal of the entry this many entries back
    reverses_to: int | None = None  # a reversal of this entry (its exact negation)
    reverses_number: int | None = None  # or of this entry number, whatever it is


def holding(slug: str, amount: int, currency: str | None = None) -> Leg:
    return Leg(account_name("holding", slug), slug, amount, currency or CURRENCY[slug])


def other(kind: str, slug: str, amount: int, currency: str | None = None) -> Leg:
    return Leg(account_name(kind, slug), slug, amount, currency or CURRENCY[slug])


funds = st.sampled_from(sorted(FUNDS))
# Small amounts, so that funds run dry, exactly to zero and one below, often.
amounts = st.integers(min_value=1, max_value=12)


@st.composite
def steps(draw: st.DrawFn) -> Step:
    choice = draw(st.integers(min_value=0, max_value=11))
    slug, amount = draw(funds), draw(amounts)
    if choice <= 3:
        return Step("donation", [holding(slug, amount), other("income", slug, -amount)])
    if choice <= 5:
        return Step("disbursement", [other("expense", slug, amount), holding(slug, -amount)])
    if choice == 6:
        target = draw(funds)
        return Step("transfer", [holding(target, amount), holding(slug, -amount)])
    if choice <= 8:  # a reversal of an earlier entry (which may be refused)
        if draw(st.booleans()):
            return Step("reversal", [], reverses_back=draw(st.integers(min_value=1, max_value=4)))
        # Of one of the first entries: often one reversed already.
        return Step("reversal", [], reverses_to=draw(st.integers(min_value=1, max_value=3)))
    if choice == 9:  # does not balance
        return Step("donation", [holding(slug, amount), other("income", slug, 1 - amount)])
    if choice == 10:  # a fund nobody declared
        return Step(
            "donation", [holding("nowhere", amount, "EUR"), other("income", slug, -amount, "EUR")]
        )
    # Names an entry without being a reversal, or a reversal that is not a negation.
    if draw(st.booleans()):
        return Step(
            "donation",
            [holding(slug, amount), other("income", slug, -amount)],
            reverses_number=draw(st.integers(min_value=1, max_value=8)),
        )
    return Step(
        "reversal",
        [holding(slug, -amount), other("income", slug, amount)],
        reverses_number=draw(st.integers(min_value=1, max_value=8)),
    )


def leaves(history: list[Step]) -> tuple[list[LeafDoc], list[bytes]]:
    """The history as the leaves of a log: canonical, chained, numbered."""
    documents: list[LeafDoc] = []
    digests: list[bytes] = []
    written: list[list[Leg]] = []
    prev = ZERO_HASH
    for seq, step in enumerate(history, start=1):
        legs, reverses = step.legs, step.reverses_number
        if step.reverses_back is not None or step.reverses_to is not None:
            reverses = step.reverses_to or max(seq - (step.reverses_back or 0), 1)
            original = written[reverses - 1] if reverses < seq else []
            legs = [Leg(a, f, amount, c, p) for a, f, amount, c, p in negation(original)]
        leaf = canonical_json(
            leaf_document(
                group="g",
                seq=seq,
                kind=step.kind,
                occurred_on=date(2026, 1, 1),
                recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
                memo="",
                counterparty=None,
                postings=legs,
                reverses=reverses,
                proposal=None,
                prev=prev,
            )
        )
        documents.append(parse_leaf(leaf))
        digests.append(_leaf_digest(leaf))
        written.append(legs)
        prev = digests[-1].hex()
    return documents, digests


def books_of(replay: _Replay) -> dict[str, Any]:
    """What a replay holds, in one comparable form (kept postings as plain tuples)."""
    books = replay.books
    return {
        "seq": books.seq,
        "prev": replay.prev,
        "balances": dict(books.balances),
        "used": set(books.used),
        "reversed": set(books.reversed),
        "reversible": [None if legs is None else negation(legs) for legs in books.reversible],
    }


PAID = [
    Step("donation", [holding("food", 5), other("income", "food", -5)]),
    Step("disbursement", [other("expense", "food", 5), holding("food", -5)]),
]


@settings(max_examples=1500, deadline=None)
# A payment reversed twice in one batch: money back twice, no fund runs dry, so only the
# rule "once" refuses it.
@example(before=PAID, batch=[Step("reversal", [], reverses_to=2)] * 2)
@given(
    before=st.lists(steps(), max_size=8),
    batch=st.lists(steps(), min_size=1, max_size=12),
)
def test_the_batched_check_decides_what_the_rules_decide(
    before: list[Step], batch: list[Step]
) -> None:
    documents, digests = leaves(before + batch)
    split = len(before)

    # The definition: entry by entry, through the rules of the log.
    one = _Replay("g", FUNDS, {})
    problem: str | None = None
    for document, digest in zip(documents, digests, strict=True):
        try:
            one._entry(document, digest)
        except _Broken as broken:
            problem = broken.problem
            break
    if problem is not None and one.books.seq < split:
        return  # the history broke before the batch: nothing to compare

    # The same history with the batch decided at once.
    fast = _Replay("g", FUNDS, {})
    for document, digest in zip(documents[:split], digests[:split], strict=True):
        fast._entry(document, digest)
    untouched = books_of(fast)
    holds = fast._batch_holds(documents[split:], b"".join(digests[split:]))

    if holds:
        assert problem is None
        assert books_of(fast) == books_of(one)
    else:
        assert books_of(fast) == untouched
        if problem is None:  # an honest batch it leaves to the entry-by-entry check
            assert any(
                len({p.currency for p in document.postings}) > 1 for document in documents[split:]
            )

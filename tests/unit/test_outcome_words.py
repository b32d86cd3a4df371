"""An outcome's explanation is kept as words (``ledger.words.Words``): English messages of
the catalogues and their values, so each page says it in its reader's language while the
English, as stored and as the API gives it, stays word for word what it was."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from app.i18n import translations
from app.presenters.formatting import Formatter
from ledger.words import Words
from proposals.minute import decode, encode
from proposals.rules import (
    DecisionRules,
    Fallback,
    Outcome,
    Position,
    choose_tier,
    decide,
    tier_label_words,
    tier_why_words,
    tiers_from_json,
)
from tests.unit.test_minute import WRITTEN

A, C, S, B = Position.AGREE, Position.CONCERN, Position.STAND_ASIDE, Position.BLOCK
MEMBERS = list(range(1, 7))
SPANISH = Formatter("es")
TIERS = tiers_from_json(
    [{"up_to": "100", "mode": "lazy"}, {"mode": "consensus", "quorum": "0.75"}],
    DecisionRules(),
    2,
)


def outcomes() -> list[Outcome]:
    """One outcome of each kind the rules explain."""
    fallback = DecisionRules(fallback=Fallback(after_blocked_rounds=1, agree_share=Fraction(3, 4)))
    two_blocks = DecisionRules(blocks_to_stop=2)
    return [
        decide(DecisionRules(), [], {}),
        decide(DecisionRules(), [1], {}, beneficiaries=[1]),
        decide(DecisionRules(), MEMBERS, {1: A}),
        decide(DecisionRules(), [1, 2], {1: A, 2: C}),
        decide(DecisionRules(), [1, 2], {1: A, 2: A}),
        decide(DecisionRules(), MEMBERS, {1: B, 2: S, 3: A, 4: A}),
        decide(two_blocks, MEMBERS, {1: B, 2: B, 3: S, 4: A}),
        decide(two_blocks, MEMBERS, {1: B, 2: A, 3: A, 4: A}),
        decide(DecisionRules(), MEMBERS, {1: S, 2: S, 3: A, 4: A}),
        decide(DecisionRules(), MEMBERS, {1: A, 2: C, 3: S, 4: A, 5: A}),
        decide(fallback, MEMBERS, {1: B, 2: A, 3: A, 4: A, 5: A}, blocked_rounds_before=1),
        decide(fallback, MEMBERS, {1: B, 2: B, 3: A, 4: A}, blocked_rounds_before=2),
        decide(
            DecisionRules(),
            MEMBERS,
            {1: B},
            tier=choose_tier(TIERS, 8_000, currency="EUR", group_currency="EUR", minor_digits=2),
        ),
        decide(
            DecisionRules(),
            MEMBERS,
            {1: A, 2: A, 3: A, 4: A, 5: A},
            tier=choose_tier(TIERS, 8_000, currency="USD", group_currency="EUR", minor_digits=2),
        ),
    ]


def messages_of(words: Words) -> list[Words]:
    found = [words]
    for value in words.values.values():
        if isinstance(value, Words):
            found += messages_of(value)
    return found


@pytest.mark.parametrize("outcome", outcomes(), ids=lambda outcome: outcome.reason)
def test_every_word_of_an_explanation_has_its_spanish(outcome: Outcome) -> None:
    catalogue = translations("es")
    for sentence in outcome.words:
        for words in messages_of(sentence):
            if words.plural is None:
                assert catalogue.gettext(words.text) != words.text, words.text
            else:
                assert catalogue.ngettext(words.text, words.plural, 2) != words.plural
    spanish = SPANISH.explained(outcome.words)
    assert spanish
    assert spanish != outcome.explanation
    assert "%(" not in spanish


def test_the_english_explanation_reads_as_it_always_has() -> None:
    assert decide(DecisionRules(), MEMBERS, {1: B, 2: S, 3: A, 4: A}).explanation == (
        "Blocked by 1 member; 1 of 4 stood aside, the limit is 1. 4 of 6 eligible members "
        "responded: 2 agree, 0 concerns, 1 stand-aside, 1 block."
    )
    assert Formatter("en").explained(decide(DecisionRules(), MEMBERS, {1: A}).words) == (
        "Not passed for lack of a quorum: 3 of 6 eligible members must respond. 1 of 6 "
        "eligible members responded: 1 agree, 0 concerns, 0 stand-asides, 0 blocks."
    )


def test_spanish_counts_take_their_plural() -> None:
    outcome = decide(DecisionRules(), MEMBERS, {1: B, 2: B, 3: A, 4: C})
    assert SPANISH.explained(outcome.words) == (
        "Bloqueada por 2 miembros. Respondieron 4 de 6 miembros con derecho a decidir: "
        "1 de acuerdo, 1 con una preocupación, 0 se hacen a un lado, 2 bloqueos."
    )


def test_words_read_back_from_their_json() -> None:
    for outcome in outcomes():
        kept = json.loads(json.dumps([sentence.to_json() for sentence in outcome.words]))
        assert tuple(Words.from_json(sentence) for sentence in kept) == outcome.words


def test_a_tier_stored_in_english_is_translated_from_its_words() -> None:
    assert SPANISH.said(tier_label_words("up to EUR 1,000")) == "hasta EUR 1,000"
    assert SPANISH.said(tier_label_words("any amount")) == "cualquier cantidad"
    assert SPANISH.said(tier_why_words("EUR 80.00 is asked")) == "se piden EUR 80.00"
    # A text the rules never wrote is shown as it is.
    assert SPANISH.said(tier_why_words("asked in 1999")) == "asked in 1999"


def test_a_minute_keeps_the_words_and_its_bytes_and_an_old_one_stays_without() -> None:
    minute = decode(WRITTEN)
    assert minute.outcome is not None
    assert minute.outcome.words is None
    assert minute.outcome.said() is None
    assert encode(minute) == WRITTEN
    outcome = decide(DecisionRules(), MEMBERS, {1: A, 2: A, 3: A, 4: C})
    minute.outcome.words = [sentence.to_json() for sentence in outcome.words]
    written = encode(minute)
    again = decode(written)
    assert encode(again) == written
    assert again.outcome is not None
    assert again.outcome.said() == outcome.words
    # No explanation "without words" reads as an empty one: None stays "show the stored".
    assert SPANISH.explained(None, "As stored.") == "As stored."

"""Rules that fit the amount (proposals/rules.py): choosing the tier, lazy consensus and
urgent passing, as pure functions beside `decide`."""

from __future__ import annotations

from fractions import Fraction

import pytest

from proposals.rules import (
    ChosenTier,
    DecisionRules,
    Position,
    Tier,
    choose_tier,
    decide,
    decide_lazily,
    tiers_from_json,
    tiers_to_json,
    urgent_passes,
    urgent_state,
)

AGREE, CONCERN, STAND_ASIDE, BLOCK = (
    Position.AGREE,
    Position.CONCERN,
    Position.STAND_ASIDE,
    Position.BLOCK,
)
DEFAULT = DecisionRules()
TABLE = [
    {"up_to": "100", "mode": "lazy", "min_deadline_hours": 24, "urgent_agreements": 2},
    {"up_to": "1000", "mode": "consensus"},
    {"mode": "consensus", "quorum": "0.75", "min_deadline_hours": 96},
]
TIERS = tiers_from_json(TABLE, DEFAULT, 2)


def chosen(amount: int | None, currency: str = "EUR") -> ChosenTier | None:
    return choose_tier(TIERS, amount, currency=currency, group_currency="EUR", minor_digits=2)


def test_a_table_reads_back_as_written_with_the_defaults_filled_in() -> None:
    assert tiers_to_json(TIERS, 2) == [
        {
            "up_to": "100",
            "mode": "lazy",
            "min_deadline_hours": 24,
            "quorum": "0",
            "urgent_agreements": 2,
        },
        {
            "up_to": "1000",
            "mode": "consensus",
            "min_deadline_hours": 48,
            "quorum": "0.5",
            "urgent_agreements": None,
        },
        {
            "mode": "consensus",
            "min_deadline_hours": 96,
            "quorum": "0.75",
            "urgent_agreements": None,
        },
    ]
    assert tiers_from_json(tiers_to_json(TIERS, 2), DEFAULT, 2) == TIERS
    assert tiers_from_json([], DEFAULT, 2) == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "tiers must be a list"),
        ([{"mode": "lazy"}, {"mode": "lazy"}], "tiers[0].up_to is required"),
        ([{"up_to": "100", "mode": "lazy"}], "tiers[0].up_to: the last tier has no upper"),
        (
            [{"up_to": "100", "mode": "lazy"}, {"up_to": "100", "mode": "lazy"}, {"mode": "lazy"}],
            "tiers[1].up_to must be more than the tier before it",
        ),
        ([{"up_to": 100, "mode": "lazy"}, {"mode": "lazy"}], "tiers[0].up_to must be a decimal"),
        ([{"up_to": "1.001", "mode": "lazy"}, {"mode": "lazy"}], "tiers[0].up_to must be a"),
        ([{"up_to": "0", "mode": "lazy"}, {"mode": "lazy"}], "tiers[0].up_to must be more than"),
        ([{"up_to": "10", "mode": "vote"}, {"mode": "lazy"}], "tiers[0].mode must be"),
        ([{"up_to": "10"}, {"mode": "lazy"}], "tiers[0].mode is required"),
        ([{"mode": "lazy", "quorum": "0.5"}], 'tiers[0].quorum must be "0"'),
        ([{"mode": "consensus", "quorum": "2"}], "tiers[0].quorum must be between 0 and 1"),
        ([{"mode": "consensus", "min_deadline_hours": -1}], "tiers[0].min_deadline_hours"),
        ([{"mode": "consensus", "urgent_agreements": 0}], "tiers[0].urgent_agreements must be"),
        ([{"mode": "consensus", "urgent_agreements": True}], "tiers[0].urgent_agreements"),
        ([{"mode": "consensus", "quorom": "0.5"}], "unknown decision rule: tiers[0].quorom"),
        ([{"mode": "lazy"}] * 11, "at most 10 tiers"),
    ],
)
def test_a_bad_table_is_refused_naming_the_field(table: object, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        tiers_from_json(table, DEFAULT, 2)
    assert message in str(refused.value)


def test_the_tier_is_the_first_whose_limit_reaches_the_amount() -> None:
    assert [c.number if c else None for c in map(chosen, [1, 100_00, 100_01, 1000_00])] == [
        1,
        1,
        2,
        2,
    ]
    last = chosen(1000_01)
    assert last is not None
    assert last.number == 3
    assert last.explanation.startswith("Tier 3, above EUR 1,000 (EUR 1,000.01 is asked)")
    first = chosen(80_00)
    assert first is not None
    assert first.label == "up to EUR 100"
    assert first.explanation == (
        "Tier 1, up to EUR 100 (EUR 80 is asked): lazy consensus, open at least 24 hours."
    )
    assert ChosenTier.from_json(first.to_json()) == first


def test_no_amount_or_no_table_keeps_the_ordinary_rules() -> None:
    assert chosen(None) is None
    assert choose_tier((), 5, currency="EUR", group_currency="EUR", minor_digits=2) is None


def test_an_amount_in_another_currency_takes_the_last_tier() -> None:
    tier = chosen(1, currency="USD")
    assert tier is not None
    assert tier.number == 3
    assert "USD, not the group's EUR" in tier.why


def test_a_tier_changes_the_quorum_and_the_minimum_deadline_only() -> None:
    rules = DecisionRules(blocks_to_stop=2)
    applied = TIERS[2].applied_to(rules)
    assert (applied.quorum, applied.min_open_hours, applied.blocks_to_stop) == (
        Fraction(3, 4),
        96,
        2,
    )


def test_lazy_consensus_passes_in_silence_and_stops_at_one_block() -> None:
    members = list(range(5))
    assert decide_lazily(DEFAULT, members, {}).reason == "lazy_passed"
    assert decide_lazily(DEFAULT, members, {0: STAND_ASIDE, 1: STAND_ASIDE}).passed
    blocked = decide_lazily(DEFAULT, members, {0: AGREE, 1: BLOCK})
    assert (blocked.status, blocked.block) == ("blocked", 1)
    # The beneficiary's block does not count when beneficiaries are excluded.
    assert decide_lazily(DEFAULT, members, {4: BLOCK}, beneficiaries=[4]).passed
    assert decide_lazily(DEFAULT, [], {}).reason == "no_eligible_members"


def test_decide_names_the_tier_and_decides_by_its_mode() -> None:
    small, large = chosen(50_00), chosen(5000_00)
    assert small is not None
    assert large is not None
    members = list(range(8))
    lazy = decide(small.tier.applied_to(DEFAULT), members, {}, tier=small)
    assert lazy.passed
    assert lazy.explanation.startswith("Tier 1, up to EUR 100 (EUR 50 is asked): lazy consensus")
    # Five of eight respond: a quorum under the ordinary rules, not under 75%.
    answers = dict.fromkeys(range(5), AGREE)
    assert decide(DEFAULT, members, answers).passed
    high = decide(large.tier.applied_to(DEFAULT), members, answers, tier=large)
    assert (high.reason, high.quorum_needed) == ("no_quorum", 6)
    assert "Tier 3, above EUR 1,000" in high.explanation
    assert "quorum of 75%" in high.explanation


def test_urgent_passes_once_enough_agree_and_nobody_blocks() -> None:
    small, middle = chosen(50_00), chosen(500_00)
    members = list(range(6))
    assert not urgent_passes(small, DEFAULT, members, {0: AGREE})
    assert urgent_passes(small, DEFAULT, members, {0: AGREE, 1: CONCERN})
    assert not urgent_passes(small, DEFAULT, members, {0: AGREE, 1: AGREE, 2: BLOCK})
    assert not urgent_passes(small, DEFAULT, members, {0: AGREE, 1: STAND_ASIDE})
    # The beneficiary's agreement does not count.
    assert not urgent_passes(small, DEFAULT, members, {0: AGREE, 5: AGREE}, beneficiaries=[5])
    # A tier without urgency, or no tier at all, never passes early.
    assert not urgent_passes(middle, DEFAULT, members, dict.fromkeys(members, AGREE))
    assert not urgent_passes(None, DEFAULT, members, dict.fromkeys(members, AGREE))


def test_an_urgent_decision_is_awaiting_then_confirmed_or_not() -> None:
    assert urgent_state(False, True, "passed") is None
    assert urgent_state(True, False, None) == "awaiting confirmation"
    assert urgent_state(True, True, "passed") == "confirmed"
    assert urgent_state(True, True, "blocked") == "not confirmed"


def test_a_tier_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match="lazy tier"):
        Tier(up_to=None, mode="lazy", min_deadline_hours=1, quorum=Fraction(1, 2))

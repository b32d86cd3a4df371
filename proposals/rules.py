"""The consensus rules: who decides, what they said, and what follows from it.

Pure functions over plain values (no I/O, no database, stdlib only), so the service only
loads a round, calls `decide` and stores the outcome, and every rule is tested without a
database (GUIDE section 2, the cosmicpython note).

Shares (quorum, stand-aside and support shares, the fallback's agree share) are exact
`Fraction`s, and every threshold is an integer taken with `math.ceil`/`math.floor` of an
exact value: a quorum of 0.7 of 10 members is 7, never the 8 that float arithmetic gives.

`decide` applies these checks in this order; the first that fails gives the outcome:

1. someone must be eligible (with `exclude_beneficiary`, a member who would receive the
   money does not count, and their response is ignored);
2. quorum: at least ceil(quorum * eligible) members responded, and never fewer than one,
   so nobody's silence passes a proposal;
3. groups of fewer than three eligible members: blocked when the blocks reach
   `blocks_to_stop`, otherwise every eligible member must agree; no vote overrides this;
4. blocks: blocked when blocks >= `blocks_to_stop`;
5. stand-asides: not passed when more than floor(max_stand_aside_share * responses)
   stood aside. Blocks too few to stop the proposal are counted here with the
   stand-asides: a block says at least as much as a stand-aside, and otherwise turning
   a stand-aside into a block could make a proposal pass;
6. support: agree + concern must reach ceil(min_support_share * responses);
7. fallback vote: once the proposal was blocked in `after_blocked_rounds` earlier rounds,
   a round that fails checks 4-6 still passes when agree >= ceil(agree_share * responses)
   and agree is more than half of the responses, so a tie always fails. The vote is
   offered whatever made consensus fail, not only after a block: otherwise a supporter
   could block on purpose to reach a vote that passes what consensus refused.

The outcome carries its explanation as sentences (`ledger.words.Words`: English messages
marked for the catalogues, with their values), written here once, so that every page says
it in its reader's language; `Outcome.explanation` is them in English, as rounds store it.

These rules are monotone in the ways a member would expect (tests/unit/test_rules.py
checks them with hypothesis): a new agree never turns a passed outcome into a failed one,
and turning a response into a block never turns a failed outcome into a passed one. A
block from a member who had not responded is a response too, so it may complete the
quorum; it then makes a proposal pass only if one block does not stop it
(`blocks_to_stop` >= 2) or a fallback vote is open.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Final, Literal, TypeVar

from ledger.words import N_, Nn_, Value, Words, english

MemberId = TypeVar("MemberId", bound=Hashable)
_T = TypeVar("_T")

Status = Literal["passed", "blocked", "not_passed"]
Reason = Literal[
    "passed",
    "lazy_passed",
    "fallback_passed",
    "no_eligible_members",
    "no_quorum",
    "blocked",
    "not_unanimous",
    "too_many_stand_asides",
    "too_little_support",
    "fallback_failed",
]

# CONTRACT section 5: "Groups of fewer than three members need everyone to agree."
SMALL_GROUP_SIZE: Final = 3

# An amendment changing any of these opens a new round; a title-only fix keeps responses.
ROUND_RESETTING_FIELDS: Final = frozenset({"body", "amount", "fund", "counterparty"})
AMENDABLE_FIELDS: Final = ROUND_RESETTING_FIELDS | {"title"}

# Shares travel as plain decimal strings ("0.5"), like amounts: a JSON number would
# invite float rounding. Six places are plenty for a share and keep `to_json` exact.
_SHARE_DECIMALS: Final = 6
_SHARE_PATTERN: Final = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?")


class Position(StrEnum):
    """A member's response in a round."""

    AGREE = "agree"
    CONCERN = "concern"  # agree, with a concern on record: counts as support
    STAND_ASIDE = "stand_aside"  # will not stop it, will not take part in it
    BLOCK = "block"  # a principled objection that stops the proposal


@dataclass(frozen=True, slots=True)
class Fallback:
    """After this many blocked rounds, a round may also pass by an agree-share vote."""

    after_blocked_rounds: int
    agree_share: Fraction

    def __post_init__(self) -> None:
        _check_count("fallback.after_blocked_rounds", self.after_blocked_rounds, minimum=1)
        # Below one half the vote would be a minority decision; the tie rule already
        # demands more than half, so a smaller share would silently mean something else.
        _check_share("fallback.agree_share", self.agree_share, minimum=Fraction(1, 2))

    @classmethod
    def from_json(cls, data: object) -> Fallback:
        """Read `{"after_blocked_rounds": 2, "agree_share": "0.75"}`; ValueError if bad."""
        if not isinstance(data, Mapping):
            raise ValueError(
                'fallback must be null or an object {"after_blocked_rounds": N, '
                '"agree_share": "0.75"}'
            )
        expected = {"after_blocked_rounds", "agree_share"}
        _refuse_unknown_names("fallback.", data, expected)
        missing = sorted(expected - set(data))
        if missing:
            raise ValueError(f"fallback.{missing[0]} is required")
        return cls(
            after_blocked_rounds=_parse_count(
                "fallback.after_blocked_rounds", data["after_blocked_rounds"]
            ),
            agree_share=_parse_share("fallback.agree_share", data["agree_share"]),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "after_blocked_rounds": self.after_blocked_rounds,
            "agree_share": _decimal_text(self.agree_share),
        }


# A round that must stay open longer than a year helps nobody (and a far larger number would
# overflow the deadline's date).
MAX_OPEN_HOURS = 24 * 365


@dataclass(frozen=True, slots=True)
class DecisionRules:
    """A group's decision rules (CONTRACT section 5), frozen onto each round when it opens."""

    quorum: Fraction = Fraction(1, 2)
    min_open_hours: int = 48
    blocks_to_stop: int = 1
    max_stand_aside_share: Fraction = Fraction(1, 4)
    min_support_share: Fraction = Fraction(1, 2)
    close_when_all_responded: bool = True
    exclude_beneficiary: bool = True
    fallback: Fallback | None = None

    def __post_init__(self) -> None:
        # Checked here, not only in from_json, so rules built in code are just as sound.
        _check_share("quorum", self.quorum)
        _check_count("min_open_hours", self.min_open_hours, minimum=0, maximum=MAX_OPEN_HOURS)
        _check_count("blocks_to_stop", self.blocks_to_stop, minimum=1)
        _check_share("max_stand_aside_share", self.max_stand_aside_share)
        _check_share("min_support_share", self.min_support_share)
        _parse_flag("close_when_all_responded", self.close_when_all_responded)
        _parse_flag("exclude_beneficiary", self.exclude_beneficiary)
        if self.fallback is not None and not isinstance(self.fallback, Fallback):
            raise ValueError("fallback must be None or a Fallback")

    @classmethod
    def from_json(cls, data: object) -> DecisionRules:
        """Read rules as stored or sent over HTTP; a missing rule takes its default.

        Raises ValueError naming the field on a wrong type, a value out of range or an
        unknown name (a typo such as "quorom" must not silently keep the default).
        """
        if not isinstance(data, Mapping):
            raise ValueError("decision rules must be a JSON object")
        _refuse_unknown_names("", data, _RULE_NAMES)
        default = cls()
        return cls(
            quorum=_read(data, "quorum", _parse_share, default.quorum),
            min_open_hours=_read(data, "min_open_hours", _parse_count, default.min_open_hours),
            blocks_to_stop=_read(data, "blocks_to_stop", _parse_count, default.blocks_to_stop),
            max_stand_aside_share=_read(
                data, "max_stand_aside_share", _parse_share, default.max_stand_aside_share
            ),
            min_support_share=_read(
                data, "min_support_share", _parse_share, default.min_support_share
            ),
            close_when_all_responded=_read(
                data, "close_when_all_responded", _parse_flag, default.close_when_all_responded
            ),
            exclude_beneficiary=_read(
                data, "exclude_beneficiary", _parse_flag, default.exclude_beneficiary
            ),
            fallback=_read(data, "fallback", _parse_fallback, default.fallback),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "quorum": _decimal_text(self.quorum),
            "min_open_hours": self.min_open_hours,
            "blocks_to_stop": self.blocks_to_stop,
            "max_stand_aside_share": _decimal_text(self.max_stand_aside_share),
            "min_support_share": _decimal_text(self.min_support_share),
            "close_when_all_responded": self.close_when_all_responded,
            "exclude_beneficiary": self.exclude_beneficiary,
            "fallback": None if self.fallback is None else self.fallback.to_json(),
        }


_RULE_NAMES: Final = frozenset(rule.name for rule in fields(DecisionRules))


@dataclass(frozen=True, slots=True)
class Outcome:
    """A round's outcome, why, and the numbers behind it (shown and stored as they are).

    ``words``: why, as sentences a page translates for its reader (``explanation`` is
    them in English, as the round stores them)."""

    status: Status
    reason: Reason
    words: tuple[Words, ...]
    agree: int
    concern: int
    stand_aside: int
    block: int
    responded: int
    eligible: int
    quorum_needed: int
    support_needed: int
    stand_aside_limit: int

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def explanation(self) -> str:
        return english(self.words)


def decide(
    rules: DecisionRules,
    eligible: Collection[MemberId],
    responses: Mapping[MemberId, Position],
    *,
    beneficiaries: Collection[MemberId] = (),
    blocked_rounds_before: int = 0,
    tier: ChosenTier | None = None,
) -> Outcome:
    """The outcome of a round (or its live tally while open), by the checks in the module doc.

    `eligible` are the members when the round opened; `responses` hold each member's
    latest position, and responses of anyone not eligible are ignored. `beneficiaries`
    would receive the money. `blocked_rounds_before` counts this proposal's earlier
    rounds that ended blocked (amendments do not reset it); it opens the fallback vote.
    `tier`: the tier of the amount chosen when the round opened (`rules` are then the
    tier's rules, `Tier.applied_to`); a lazy tier decides by `decide_lazily`, and the
    explanation begins with the tier and why it applied.
    """
    if tier is not None:
        if tier.tier.mode == "lazy":
            outcome = decide_lazily(rules, eligible, responses, beneficiaries=beneficiaries)
        else:
            outcome = decide(
                rules,
                eligible,
                responses,
                beneficiaries=beneficiaries,
                blocked_rounds_before=blocked_rounds_before,
            )
        return _with_words(outcome, (tier.explanation_words, *outcome.words))
    if blocked_rounds_before < 0:
        raise ValueError("blocked_rounds_before must be 0 or more")
    counting = counting_members(rules, eligible, beneficiaries)
    tally = _Tally.of(rules, counting, responses)

    status: Status
    reason: Reason
    headline: tuple[Words, ...]
    if not counting:
        status, reason = "not_passed", "no_eligible_members"
        if set(eligible):
            headline = (
                Words(
                    N_(
                        "Not passed: no member is eligible to decide this round, because "
                        "members who would receive the money do not count."
                    )
                ),
            )
        else:
            headline = (Words(NO_ELIGIBLE_MEMBERS),)
    elif tally.responded < tally.quorum_needed:
        status, reason = "not_passed", "no_quorum"
        headline = (
            Words(
                N_(
                    "Not passed for lack of a quorum: %(needed)s of %(eligible)s eligible "
                    "members must respond."
                ),
                {"needed": tally.quorum_needed, "eligible": tally.eligible},
            ),
        )
    elif tally.eligible < SMALL_GROUP_SIZE:
        status, reason, headline = _decide_small_group(rules, tally)
    else:
        status, reason, headline = _decide_by_consensus(rules, tally)
        fallback = rules.fallback
        if (
            status != "passed"
            and fallback is not None
            and blocked_rounds_before >= fallback.after_blocked_rounds
        ):
            vote_passed, vote = _fallback_vote(fallback, tally)
            rounds = Words.counted(
                Nn_("%(n)s earlier round", "%(n)s earlier rounds"), blocked_rounds_before
            )
            if vote_passed:
                status, reason = "passed", "fallback_passed"
                headline = (
                    Words(
                        N_(
                            "Passed by the fallback vote, open because the proposal was "
                            "blocked in %(rounds)s: %(vote)s. Without the vote:"
                        ),
                        {"rounds": rounds, "vote": vote},
                    ),
                    *headline,
                )
            else:
                # The consensus status stays: a blocked round still counts as a blocked
                # round towards the next fallback.
                reason = "fallback_failed"
                headline = (
                    *headline,
                    Words(
                        N_("The fallback vote, open after %(rounds)s blocked, fails: %(vote)s."),
                        {"rounds": rounds, "vote": vote},
                    ),
                )
    return tally.outcome(status, reason, headline)


def everyone_responded(
    rules: DecisionRules,
    eligible: Collection[MemberId],
    responses: Mapping[MemberId, Position],
    *,
    beneficiaries: Collection[MemberId] = (),
) -> bool:
    """Whether every member who counts in the round has responded."""
    return all(member in responses for member in counting_members(rules, eligible, beneficiaries))


def earliest_close_at(rules: DecisionRules, opened_at: datetime) -> datetime:
    """When a round may close even if some eligible members have not responded."""
    _require_aware("opened_at", opened_at)
    return opened_at + timedelta(hours=rules.min_open_hours)


def can_close(
    rules: DecisionRules,
    opened_at: datetime,
    now: datetime,
    eligible: Collection[MemberId],
    responses: Mapping[MemberId, Position],
    *,
    beneficiaries: Collection[MemberId] = (),
) -> bool:
    """Whether a round may close now: after `min_open_hours`, or once everyone responded.

    The limit protects members who have not had time to respond; once every eligible
    member has, there is nobody left to protect.
    """
    _require_aware("now", now)
    return now >= earliest_close_at(rules, opened_at) or everyone_responded(
        rules, eligible, responses, beneficiaries=beneficiaries
    )


def should_close_early(
    rules: DecisionRules,
    eligible: Collection[MemberId],
    responses: Mapping[MemberId, Position],
    *,
    beneficiaries: Collection[MemberId] = (),
) -> bool:
    """Whether a round closes by itself now, before its deadline: everyone responded."""
    return rules.close_when_all_responded and everyone_responded(
        rules, eligible, responses, beneficiaries=beneficiaries
    )


def round_is_reset_by(changed_fields: AbstractSet[str]) -> bool:
    """Whether an amendment changing these fields opens a new round and clears responses.

    Responses were given to a body, amount, fund and counterparty; changing any of them
    makes those responses stale. A title-only fix keeps them. An unknown field name is a
    programming error and raises, rather than quietly keeping stale responses.
    """
    unknown = sorted(changed_fields - AMENDABLE_FIELDS)
    if unknown:
        raise ValueError(f"not an amendable proposal field: {', '.join(unknown)}")
    return not ROUND_RESETTING_FIELDS.isdisjoint(changed_fields)


# --- rules that fit the amount -------------------------------------------------------------

TierMode = Literal["consensus", "lazy"]
TIER_MODES: Final = ("consensus", "lazy")
MAX_TIERS: Final = 10
_TIER_NAMES: Final = frozenset(
    {"up_to", "mode", "min_deadline_hours", "quorum", "urgent_agreements"}
)
_UP_TO_PATTERN: Final = re.compile(r"([0-9]{1,15})(?:\.([0-9]+))?")


@dataclass(frozen=True, slots=True)
class Tier:
    """One row of a group's table of rules by amount.

    `up_to` (minor units, inclusive) is None for the last, open-ended tier. `consensus`
    is the group's ordinary rules with this tier's quorum and minimum deadline; `lazy`
    passes at its deadline unless someone blocks, with no quorum. `urgent_agreements`:
    None when urgent proposals are not allowed in the tier; N when an urgent proposal
    passes early once N members agree and nobody blocks.
    """

    up_to: int | None
    mode: TierMode
    min_deadline_hours: int
    quorum: Fraction
    urgent_agreements: int | None = None

    def __post_init__(self) -> None:
        if self.up_to is not None:
            _check_count("up_to", self.up_to, minimum=1)
        if self.mode not in TIER_MODES:
            raise ValueError('mode must be "consensus" or "lazy"')
        _check_count(
            "min_deadline_hours", self.min_deadline_hours, minimum=0, maximum=MAX_OPEN_HOURS
        )
        _check_share("quorum", self.quorum)
        if self.mode == "lazy" and self.quorum != 0:
            raise ValueError('quorum must be "0" (or left out) in a lazy tier: it has no quorum')
        if self.urgent_agreements is not None:
            _check_count("urgent_agreements", self.urgent_agreements, minimum=1)

    def applied_to(self, rules: DecisionRules) -> DecisionRules:
        """The group's rules as this tier changes them (frozen onto the round)."""
        return DecisionRules(
            **{
                **{rule.name: getattr(rules, rule.name) for rule in fields(DecisionRules)},
                "quorum": self.quorum,
                "min_open_hours": self.min_deadline_hours,
            }
        )

    def to_json(self, minor_digits: int) -> dict[str, object]:
        data: dict[str, object] = {}
        if self.up_to is not None:
            data["up_to"] = _minor_text(self.up_to, minor_digits, grouped=False)
        data.update(
            mode=self.mode,
            min_deadline_hours=self.min_deadline_hours,
            quorum=_decimal_text(self.quorum),
            urgent_agreements=self.urgent_agreements,
        )
        return data


def tiers_from_json(data: object, rules: DecisionRules, minor_digits: int) -> tuple[Tier, ...]:
    """Read a table of tiers as sent over HTTP or stored; ValueError naming the field.

    `up_to` is a decimal string in the currency's major unit, ascending, and only the
    last tier leaves it out. A tier's missing quorum or minimum deadline is the group's
    (a lazy tier's quorum is zero). An empty table means the ordinary rules for every amount.
    """
    if not isinstance(data, list):
        raise ValueError("tiers must be a list of tiers")
    if len(data) > MAX_TIERS:
        raise ValueError(f"tiers: at most {MAX_TIERS} tiers")
    tiers: list[Tier] = []
    for index, raw in enumerate(data):
        name = f"tiers[{index}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{name} must be an object")
        _refuse_unknown_names(f"{name}.", raw, _TIER_NAMES)
        last = index == len(data) - 1
        up_to: int | None = None
        if "up_to" in raw and raw["up_to"] is not None:
            if last:
                raise ValueError(
                    f"{name}.up_to: the last tier has no upper limit (it covers every "
                    "larger amount)"
                )
            up_to = _parse_up_to(f"{name}.up_to", raw["up_to"], minor_digits)
            if tiers and tiers[-1].up_to is not None and up_to <= tiers[-1].up_to:
                raise ValueError(f"{name}.up_to must be more than the tier before it")
        elif not last:
            raise ValueError(f"{name}.up_to is required: only the last tier is open-ended")
        if "mode" not in raw:
            raise ValueError(f'{name}.mode is required: "consensus" or "lazy"')
        mode = raw["mode"]
        if mode not in TIER_MODES:
            raise ValueError(f'{name}.mode must be "consensus" or "lazy"')
        default_quorum = Fraction(0) if mode == "lazy" else rules.quorum
        try:
            hours = _read(raw, "min_deadline_hours", _parse_count, rules.min_open_hours)
            quorum = _read(raw, "quorum", _parse_share, default_quorum)
            urgent = raw.get("urgent_agreements")
            if urgent is not None:
                urgent = _parse_count("urgent_agreements", urgent)
            tiers.append(
                Tier(
                    up_to=up_to,
                    mode="lazy" if mode == "lazy" else "consensus",
                    min_deadline_hours=hours,
                    quorum=quorum,
                    urgent_agreements=urgent,
                )
            )
        except ValueError as error:
            raise ValueError(f"{name}.{error}") from None
    return tuple(tiers)


def tiers_to_json(tiers: Collection[Tier], minor_digits: int) -> list[dict[str, object]]:
    return [tier.to_json(minor_digits) for tier in tiers]


@dataclass(frozen=True, slots=True)
class ChosenTier:
    """The tier a round's amount fell in, fixed when the round opened, and why."""

    number: int  # its place in the table, from 1
    tier: Tier
    currency: str
    minor_digits: int
    why: str  # "EUR 80.00 is asked"

    @property
    def label(self) -> str:
        """ "up to EUR 100", "above EUR 1,000" or "every amount" (the decision leaf
        states it, in English; ``tier_label_words`` for a page)."""
        if self.tier.up_to is not None:
            return f"up to {self.currency} {_minor_text(self.tier.up_to, self.minor_digits)}"
        if self.previous_up_to is not None:
            return f"above {self.currency} {_minor_text(self.previous_up_to, self.minor_digits)}"
        return "any amount"

    previous_up_to: int | None = None

    @property
    def mode_words(self) -> Words:
        hours = self.tier.min_deadline_hours
        if self.tier.mode == "lazy":
            return Words(N_("lazy consensus, open at least %(hours)s hours"), {"hours": hours})
        return Words(
            N_(
                "the group's ordinary rules with a quorum of %(quorum)s, open at least "
                "%(hours)s hours"
            ),
            {"quorum": _percent(self.tier.quorum), "hours": hours},
        )

    @property
    def mode_text(self) -> str:
        return self.mode_words.english

    @property
    def explanation_words(self) -> Words:
        return Words(
            N_("Tier %(number)s, %(label)s (%(why)s): %(mode)s."),
            {
                "number": self.number,
                "label": tier_label_words(self.label),
                "why": tier_why_words(self.why),
                "mode": self.mode_words,
            },
        )

    @property
    def explanation(self) -> str:
        """ "Tier 1, up to EUR 100 (EUR 80.00 is asked): lazy consensus." """
        return self.explanation_words.english

    def to_json(self) -> dict[str, object]:
        return {
            "number": self.number,
            "label": self.label,
            "why": self.why,
            "currency": self.currency,
            "minor_digits": self.minor_digits,
            "previous_up_to": self.previous_up_to,
            **self.tier.to_json(self.minor_digits),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ChosenTier:
        """Read back what `to_json` stored on a round."""
        digits = _parse_count("minor_digits", data["minor_digits"])
        up_to = data.get("up_to")
        urgent = data.get("urgent_agreements")
        previous = data.get("previous_up_to")
        return cls(
            number=_parse_count("number", data["number"]),
            tier=Tier(
                up_to=None if up_to is None else _parse_up_to("up_to", up_to, digits),
                mode="lazy" if data["mode"] == "lazy" else "consensus",
                min_deadline_hours=_parse_count("min_deadline_hours", data["min_deadline_hours"]),
                quorum=_parse_share("quorum", data["quorum"]),
                urgent_agreements=None if urgent is None else _parse_count("urgent", urgent),
            ),
            currency=str(data["currency"]),
            minor_digits=digits,
            why=str(data["why"]),
            previous_up_to=None if previous is None else _parse_count("previous", previous),
        )


def choose_tier(
    tiers: Sequence[Tier],
    amount: int | None,
    *,
    currency: str,
    group_currency: str,
    minor_digits: int,
) -> ChosenTier | None:
    """The tier for an amount asked: the first whose `up_to` reaches it.

    None without tiers, or for a proposal that asks no money (the ordinary rules apply).
    An amount in another currency than the group's cannot be compared with the table, so
    it takes the last tier, the most careful one.
    """
    if not tiers or amount is None:
        return None
    if currency != group_currency:
        number = len(tiers)
        why = f"the amount is in {currency}, not the group's {group_currency}: the last tier"
    else:
        number = next(
            index
            for index, tier in enumerate(tiers, start=1)
            if tier.up_to is None or amount <= tier.up_to
        )
        why = f"{group_currency} {_minor_text(amount, minor_digits)} is asked"
    return ChosenTier(
        number=number,
        tier=tiers[number - 1],
        currency=group_currency,
        minor_digits=minor_digits,
        why=why,
        previous_up_to=tiers[number - 2].up_to if number > 1 else None,
    )


_LABEL_UP_TO: Final = re.compile(r"up to (?P<amount>.+)")
_LABEL_ABOVE: Final = re.compile(r"above (?P<amount>.+)")
_WHY_ASKED: Final = re.compile(r"(?P<amount>[A-Z]{3} [0-9][0-9,.]*) is asked")
_WHY_OTHER_CURRENCY: Final = re.compile(
    r"the amount is in (?P<currency>[A-Z]{3}), not the group's (?P<group>[A-Z]{3}): "
    r"the last tier"
)


def tier_label_words(label: str) -> Words:
    """A tier's label as ``ChosenTier.label`` writes it ("up to EUR 100"), as words a page
    translates (a round keeps its tier's label in English)."""
    if label == "any amount":
        return Words(N_("any amount"))
    if match := _LABEL_UP_TO.fullmatch(label):
        return Words(N_("up to %(amount)s"), match.groupdict())
    if match := _LABEL_ABOVE.fullmatch(label):
        return Words(N_("above %(amount)s"), match.groupdict())
    return Words(label)


def tier_why_words(why: str) -> Words:
    """Why a round's amount fell in its tier, as ``choose_tier`` writes it ("EUR 80.00 is
    asked"), as words a page translates."""
    if match := _WHY_ASKED.fullmatch(why):
        return Words(N_("%(amount)s is asked"), match.groupdict())
    if match := _WHY_OTHER_CURRENCY.fullmatch(why):
        return Words(
            N_("the amount is in %(currency)s, not the group's %(group)s: the last tier"),
            match.groupdict(),
        )
    return Words(why)


NO_ELIGIBLE_MEMBERS: Final = N_("Not passed: no member is eligible to decide this round.")


def decide_lazily(
    rules: DecisionRules,
    eligible: Collection[MemberId],
    responses: Mapping[MemberId, Position],
    *,
    beneficiaries: Collection[MemberId] = (),
) -> Outcome:
    """Lazy consensus: passed unless someone who counts blocks; silence is consent, so
    there is no quorum and stand-asides do not hold it back."""
    counting = counting_members(rules, eligible, beneficiaries)
    tally = _Tally.of(rules, counting, responses)
    if not counting:
        return tally.outcome("not_passed", "no_eligible_members", (Words(NO_ELIGIBLE_MEMBERS),))
    if tally.block:
        return tally.outcome(
            "blocked",
            "blocked",
            (
                Words(
                    N_("Blocked by %(members)s: under lazy consensus one block stops a proposal."),
                    {"members": _members(tally.block)},
                ),
            ),
        )
    return tally.outcome(
        "passed",
        "lazy_passed",
        (Words(N_("Passed by lazy consensus: nobody blocked by the deadline.")),),
    )


def urgent_passes(
    tier: ChosenTier | None,
    rules: DecisionRules,
    eligible: Collection[MemberId],
    responses: Mapping[MemberId, Position],
    *,
    beneficiaries: Collection[MemberId] = (),
) -> bool:
    """Whether an urgent proposal passes early, before its deadline: its tier allows
    urgency, at least `urgent_agreements` members who count agree (a concern is agreement
    too), and nobody who counts blocks. It must still be confirmed at the deadline."""
    if tier is None or tier.tier.urgent_agreements is None:
        return False
    counting = counting_members(rules, eligible, beneficiaries)
    tally = _Tally.of(rules, counting, responses)
    return tally.block == 0 and tally.support >= tier.tier.urgent_agreements


Confirmation = Literal["awaiting confirmation", "confirmed", "not confirmed"]


def urgent_state(passed_urgently: bool, closed: bool, outcome: str | None) -> Confirmation | None:
    """Where an urgent decision stands: None when the round did not pass urgently."""
    if not passed_urgently:
        return None
    if not closed:
        return "awaiting confirmation"
    return "confirmed" if outcome == "passed" else "not confirmed"


def what_happens_next(
    status: str,
    reason: str,
    deadline: str,
    *,
    blocks: int = 0,
    missing: int = 0,
    hidden: bool = False,
    passed_urgently: bool = False,
    closes_when_all_respond: bool = False,
) -> str:
    """What will become of an open round, in one sentence a member reads first: from where
    it stands (the ``status`` and ``reason`` of its live outcome, its ``blocks`` and the
    responses ``missing`` for a quorum) to its ``deadline`` (as people read it).
    ``hidden``: the group keeps the tally hidden, so nothing is said of where it stands."""
    text, values = what_happens_next_words(
        status,
        reason,
        deadline,
        blocks=blocks,
        missing=missing,
        hidden=hidden,
        passed_urgently=passed_urgently,
        closes_when_all_respond=closes_when_all_respond,
    )
    return text % values


def what_happens_next_words(
    status: str,
    reason: str,
    deadline: str,
    *,
    blocks: int = 0,
    missing: int = 0,
    hidden: bool = False,
    passed_urgently: bool = False,
    closes_when_all_respond: bool = False,
) -> tuple[str, dict[str, object]]:
    """``what_happens_next`` as its English text with placeholders and their values, so a
    page translates the text before it fills in the values (``N_`` marks the texts)."""
    values: dict[str, object] = {"deadline": deadline, "n": missing if missing else blocks}
    if passed_urgently:
        return N_(
            "Passed urgently: members may still respond until %(deadline)s, when the decision "
            "is confirmed or not."
        ), values
    if hidden:
        if closes_when_all_respond:
            return N_(
                "Decided on %(deadline)s, or sooner once everyone has responded; what each "
                "member said shows then."
            ), values
        return N_("Decided on %(deadline)s; what each member said shows then."), values
    if reason in ("passed", "lazy_passed"):
        return N_("Passes on %(deadline)s unless someone blocks."), values
    if status == "passed":  # by the fallback vote
        return N_("Passes on %(deadline)s by the fallback vote, unless the vote changes."), values
    if reason == "no_quorum":
        values["n"] = missing
        if missing == 1:
            return N_(
                "Needs %(n)s more response by %(deadline)s; without them it does not pass."
            ), values
        return N_(
            "Needs %(n)s more responses by %(deadline)s; without them it does not pass."
        ), values
    if status == "blocked":
        values["n"] = blocks
        if blocks == 1:
            return N_(
                "Blocked by %(n)s member: it does not pass on %(deadline)s unless the block is "
                "withdrawn, or an amendment answers it and opens a new round."
            ), values
        return N_(
            "Blocked by %(n)s members: it does not pass on %(deadline)s unless the block is "
            "withdrawn, or an amendment answers it and opens a new round."
        ), values
    if closes_when_all_respond:
        return N_(
            "Does not pass as it stands; decided on %(deadline)s, or sooner once everyone has "
            "responded."
        ), values
    return N_("Does not pass as it stands; decided on %(deadline)s."), values


def _with_words(outcome: Outcome, words: tuple[Words, ...]) -> Outcome:
    return Outcome(
        **{
            **{name.name: getattr(outcome, name.name) for name in fields(Outcome)},
            "words": words,
        }
    )


def _parse_up_to(name: str, raw: object, minor_digits: int) -> int:
    match = _UP_TO_PATTERN.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or len(match.group(2) or "") > minor_digits:
        raise ValueError(
            f'{name} must be a decimal string such as "100" or "100.50", with at most '
            f"{minor_digits} decimal places"
        )
    decimals = (match.group(2) or "").ljust(minor_digits, "0")
    minor: int = int(match.group(1)) * 10**minor_digits + int(decimals or "0")
    if minor < 1:
        raise ValueError(f"{name} must be more than zero")
    return minor


def _minor_text(minor: int, minor_digits: int, *, grouped: bool = True) -> str:
    """100_000 with two digits -> "1,000" (or "1000" ungrouped), 100_50 -> "100.50"."""
    whole, cents = divmod(minor, 10**minor_digits)
    text = f"{whole:,}" if grouped else str(whole)
    if cents == 0 or minor_digits == 0:
        return text
    return f"{text}.{cents:0{minor_digits}d}"


# --- the checks ---------------------------------------------------------------------


def counting_members(
    rules: DecisionRules, eligible: Collection[MemberId], beneficiaries: Collection[MemberId]
) -> frozenset[MemberId]:
    """The members whose responses count: the eligible, less beneficiaries if excluded."""
    members = frozenset(eligible)
    if rules.exclude_beneficiary:
        members -= frozenset(beneficiaries)
    return members


@dataclass(frozen=True, slots=True)
class _Tally:
    eligible: int
    agree: int
    concern: int
    stand_aside: int
    block: int
    quorum_needed: int
    support_needed: int
    stand_aside_limit: int

    @classmethod
    def of(
        cls,
        rules: DecisionRules,
        counting: frozenset[MemberId],
        responses: Mapping[MemberId, Position],
    ) -> _Tally:
        # Iterating the counting members (not the responses) is what ignores responses
        # from anyone not eligible, and makes the result independent of their order.
        counts = Counter(responses[member] for member in counting if member in responses)
        responded = counts.total()
        return cls(
            eligible=len(counting),
            agree=counts[Position.AGREE],
            concern=counts[Position.CONCERN],
            stand_aside=counts[Position.STAND_ASIDE],
            block=counts[Position.BLOCK],
            quorum_needed=max(1, math.ceil(rules.quorum * len(counting))),
            support_needed=math.ceil(rules.min_support_share * responded),
            stand_aside_limit=math.floor(rules.max_stand_aside_share * responded),
        )

    @property
    def responded(self) -> int:
        return self.agree + self.concern + self.stand_aside + self.block

    @property
    def support(self) -> int:
        return self.agree + self.concern

    def outcome(self, status: Status, reason: Reason, headline: tuple[Words, ...]) -> Outcome:
        counts = Words(
            N_(
                "%(responded)s of %(eligible)s eligible members responded: %(agree)s agree, "
                "%(concerns)s, %(stand_asides)s, %(blocks)s."
            ),
            {
                "responded": self.responded,
                "eligible": self.eligible,
                "agree": self.agree,
                "concerns": Words.counted(Nn_("%(n)s concern", "%(n)s concerns"), self.concern),
                "stand_asides": _stand_asides(self.stand_aside),
                "blocks": _blocks(self.block),
            },
        )
        return Outcome(
            status=status,
            reason=reason,
            words=(*headline, counts),
            agree=self.agree,
            concern=self.concern,
            stand_aside=self.stand_aside,
            block=self.block,
            responded=self.responded,
            eligible=self.eligible,
            quorum_needed=self.quorum_needed,
            support_needed=self.support_needed,
            stand_aside_limit=self.stand_aside_limit,
        )


def _decide_small_group(
    rules: DecisionRules, tally: _Tally
) -> tuple[Status, Reason, tuple[Words, ...]]:
    if tally.block >= rules.blocks_to_stop:
        return "blocked", "blocked", (_blocked_headline(rules, tally),)
    values: dict[str, Value] = {
        "size": SMALL_GROUP_SIZE,
        "agree": tally.agree,
        "eligible": tally.eligible,
    }
    if tally.agree < tally.eligible:
        return (
            "not_passed",
            "not_unanimous",
            (
                Words(
                    N_(
                        "Not passed: a group of fewer than %(size)s members needs every "
                        "member to agree, and %(agree)s of %(eligible)s agreed."
                    ),
                    values,
                ),
            ),
        )
    return (
        "passed",
        "passed",
        (
            Words(
                N_(
                    "Passed: every eligible member agreed (%(agree)s of %(eligible)s), as a "
                    "group of fewer than %(size)s members needs."
                ),
                values,
            ),
        ),
    )


def _decide_by_consensus(
    rules: DecisionRules, tally: _Tally
) -> tuple[Status, Reason, tuple[Words, ...]]:
    if tally.block >= rules.blocks_to_stop:
        return "blocked", "blocked", (_blocked_headline(rules, tally),)
    # Blocks that did not stop the proposal weigh at least like stand-asides.
    held_back = tally.stand_aside + tally.block
    counts: dict[str, Value] = {
        "held": held_back,
        "responded": tally.responded,
        "limit": tally.stand_aside_limit,
    }
    if tally.block:
        stood_aside = Words(
            N_(
                "%(held)s of %(responded)s stood aside or blocked without stopping it "
                "(%(stand_asides)s, %(blocks)s), the limit is %(limit)s"
            ),
            {
                **counts,
                "stand_asides": _stand_asides(tally.stand_aside),
                "blocks": _blocks(tally.block),
            },
        )
    else:
        stood_aside = Words(
            N_("%(held)s of %(responded)s stood aside, the limit is %(limit)s"), counts
        )
    if held_back > tally.stand_aside_limit:
        return (
            "not_passed",
            "too_many_stand_asides",
            (
                Words(
                    N_("Not passed: %(stood_aside)s (%(share)s of responses)."),
                    {
                        "stood_aside": stood_aside,
                        "share": _percent(rules.max_stand_aside_share),
                    },
                ),
            ),
        )
    support: dict[str, Value] = {
        "support": tally.support,
        "responded": tally.responded,
        "needed": tally.support_needed,
    }
    if tally.support < tally.support_needed:
        return (
            "not_passed",
            "too_little_support",
            (
                Words(
                    N_(
                        "Not passed: %(support)s of %(responded)s responses agree or agree "
                        "with concerns, %(needed)s needed (%(share)s of responses)."
                    ),
                    {**support, "share": _percent(rules.min_support_share)},
                ),
            ),
        )
    if tally.block:
        blocks = Words(N_("%(stop)s blocks are needed to stop it"), {"stop": rules.blocks_to_stop})
    else:
        blocks = Words(N_("nobody blocked"))
    return (
        "passed",
        "passed",
        (
            Words(
                N_(
                    "Passed: %(support)s of %(responded)s responses agree or agree with "
                    "concerns, %(needed)s needed; %(stood_aside)s; %(blocks)s."
                ),
                {**support, "stood_aside": stood_aside, "blocks": blocks},
            ),
        ),
    )


def _fallback_vote(fallback: Fallback, tally: _Tally) -> tuple[bool, Words]:
    # "More than half" is what makes a tie (agree == everything else) fail.
    needed = max(math.ceil(fallback.agree_share * tally.responded), tally.responded // 2 + 1)
    return tally.agree >= needed, Words(
        N_(
            "%(agree)s of %(responded)s agree, %(needed)s needed (%(share)s of responses "
            "and more than half)"
        ),
        {
            "agree": tally.agree,
            "responded": tally.responded,
            "needed": needed,
            "share": _percent(fallback.agree_share),
        },
    )


def _blocked_headline(rules: DecisionRules, tally: _Tally) -> Words:
    values: dict[str, Value] = {
        "members": _members(tally.block),
        "stop": rules.blocks_to_stop,
        "stood_aside": tally.stand_aside,
        "responded": tally.responded,
        "limit": tally.stand_aside_limit,
    }
    if rules.blocks_to_stop > 1 and tally.stand_aside:
        text = N_(
            "Blocked by %(members)s (%(stop)s blocks stop a proposal); %(stood_aside)s of "
            "%(responded)s stood aside, the limit is %(limit)s."
        )
    elif rules.blocks_to_stop > 1:
        text = N_("Blocked by %(members)s (%(stop)s blocks stop a proposal).")
    elif tally.stand_aside:
        text = N_(
            "Blocked by %(members)s; %(stood_aside)s of %(responded)s stood aside, the "
            "limit is %(limit)s."
        )
    else:
        text = N_("Blocked by %(members)s.")
    return Words(text, values)


def _members(count: int) -> Words:
    return Words.counted(Nn_("%(n)s member", "%(n)s members"), count)


def _stand_asides(count: int) -> Words:
    return Words.counted(Nn_("%(n)s stand-aside", "%(n)s stand-asides"), count)


def _blocks(count: int) -> Words:
    return Words.counted(Nn_("%(n)s block", "%(n)s blocks"), count)


# --- values at the edges ------------------------------------------------------------


def _refuse_unknown_names(
    prefix: str, data: Mapping[object, object], known: AbstractSet[str]
) -> None:
    unknown = sorted(str(name) for name in data if name not in known)
    if unknown:
        raise ValueError(f"unknown decision rule: {prefix}{unknown[0]}")


def _read(
    data: Mapping[str, object], name: str, parse: Callable[[str, object], _T], default: _T
) -> _T:
    return parse(name, data[name]) if name in data else default


def _parse_fallback(name: str, raw: object) -> Fallback | None:
    return None if raw is None else Fallback.from_json(raw)


def _parse_share(name: str, raw: object) -> Fraction:
    if not isinstance(raw, str) or not _SHARE_PATTERN.fullmatch(raw):
        raise ValueError(
            f'{name} must be a decimal string between 0 and 1 such as "0.5", '
            f"with at most {_SHARE_DECIMALS} decimal places"
        )
    return Fraction(raw)


def _parse_count(name: str, raw: object) -> int:
    # bool is a subclass of int in Python, but `true` is not a number of hours.
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"{name} must be a whole number")
    return raw


def _parse_flag(name: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(f"{name} must be true or false")
    return raw


def _check_share(name: str, value: object, minimum: Fraction = Fraction(0)) -> None:
    if not isinstance(value, Fraction):
        raise ValueError(f"{name} must be a Fraction")
    if not minimum <= value <= 1:
        raise ValueError(f"{name} must be between {_decimal_text(minimum)} and 1")
    if (value * 10**_SHARE_DECIMALS).denominator != 1:
        raise ValueError(f"{name} must have at most {_SHARE_DECIMALS} decimal places")


def _check_count(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    count = _parse_count(name, value)
    if count < minimum:
        raise ValueError(f"{name} must be {minimum} or more")
    if maximum is not None and count > maximum:
        raise ValueError(f"{name} must be {maximum:,} or less")


def _require_aware(name: str, moment: datetime) -> None:
    # A naive datetime has no defined instant; comparing it with stored UTC times would
    # either raise deep inside or, worse, be off by the server's offset.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC)")


def _decimal_text(value: Fraction) -> str:
    """Exact decimal text of a value with at most six decimal places: 1/2 -> "0.5"."""
    scaled = value * 10**_SHARE_DECIMALS
    if scaled.denominator != 1:
        raise ValueError(f"{value} has more than {_SHARE_DECIMALS} decimal places")
    whole, fraction = divmod(scaled.numerator, 10**_SHARE_DECIMALS)
    return f"{whole}.{fraction:0{_SHARE_DECIMALS}d}".rstrip("0").rstrip(".")


def _percent(share: Fraction) -> str:
    return f"{_decimal_text(share * 100)}%"

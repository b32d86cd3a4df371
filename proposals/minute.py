"""A round's minute: the record written once when the round closes, read by the API, the
pages and the decision record. One type writes it and reads it back.

The stored text is ``json.dumps(..., sort_keys=True)`` of the fields below (ASCII, with
Python's default separators), exactly as minutes have always been written: a group's
minutes are kept forever, so ``encode`` must never change the bytes of a minute.
Minutes written before the tally was kept have no ``tally``; they decode with ``tally``
None and encode back without it. Likewise an outcome written before its explanation's
words were kept has no ``words``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from ledger.words import Words
from proposals import rules
from proposals.models import Proposal, ProposalVersion, Response, Round


class MinuteVersion(msgspec.Struct, kw_only=True):
    """The proposal's text when the round closed (the latest version, after title fixes)."""

    number: int
    title: str
    body: str
    fund: str | None  # the fund's slug
    amount: int | None  # minor units
    counterparty: str | None


class MinuteMember(msgspec.Struct, kw_only=True):
    """A member who counted in the round; ``name`` None when the person is gone."""

    id: int
    name: str | None


class MinuteResponse(msgspec.Struct, kw_only=True):
    member_id: int
    member: str
    position: str
    reason: str
    at: str  # ISO 8601, as written at close


class MinuteTally(msgspec.Struct, kw_only=True):
    agree: int
    concern: int
    stand_aside: int
    block: int
    responded: int
    eligible: int
    quorum_needed: int


class MinuteOutcome(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: str
    reason: str
    explanation: str  # in English, as the round stores it
    # The explanation as the sentences a page translates (``ledger.words.Words.to_json``);
    # absent from minutes written before (omitted again when encoded): those show
    # ``explanation`` as it is.
    words: list[dict[str, Any]] | None = None

    def said(self) -> tuple[Words, ...] | None:
        """The explanation's words, or None in a minute written before they were kept."""
        return None if self.words is None else tuple(Words.from_json(w) for w in self.words)


class Minute(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The record of a closed round: what was decided, by whom, and why."""

    proposal: int
    round: int
    version: MinuteVersion
    eligible: list[MinuteMember]
    responses: list[MinuteResponse]
    outcome: MinuteOutcome | None  # None when an amendment or a withdrawal closed the round
    closed_at: str  # ISO 8601
    closed_by: str
    # Absent from minutes written before the tally was kept (omitted again when encoded).
    tally: MinuteTally | None = None

    def to_builtins(self) -> dict[str, Any]:
        """The minute as plain JSON values, keys as stored."""
        value: dict[str, Any] = msgspec.to_builtins(self)
        return value


def minute_of(
    proposal: Proposal,
    round_: Round,
    version: ProposalVersion,
    *,
    members: Mapping[int, str],
    eligible: Iterable[int],
    responses: Sequence[Response],
    tally: rules.Outcome,
    outcome: rules.Outcome | None,
    closed_at: datetime,
    closed_by: str,
) -> Minute:
    """The minute of ``round_`` closing now. ``eligible`` and ``responses`` are those that
    counted (as the tally counts them); ``members`` names people by user id."""
    return Minute(
        proposal=proposal.number,
        round=round_.number,
        version=MinuteVersion(
            number=version.version,
            title=version.title,
            body=version.body,
            fund=version.fund.slug if version.fund else None,
            amount=version.amount,
            counterparty=version.counterparty,
        ),
        eligible=[MinuteMember(id=uid, name=members.get(uid)) for uid in eligible],
        responses=[
            MinuteResponse(
                member_id=r.user_id,
                member=r.user.name,
                position=r.position,
                reason=r.reason,
                at=r.created_at.isoformat(),
            )
            for r in responses
        ],
        tally=MinuteTally(
            agree=tally.agree,
            concern=tally.concern,
            stand_aside=tally.stand_aside,
            block=tally.block,
            responded=tally.responded,
            eligible=tally.eligible,
            quorum_needed=tally.quorum_needed,
        ),
        outcome=None
        if outcome is None
        else MinuteOutcome(
            status=outcome.status,
            reason=outcome.reason,
            explanation=outcome.explanation,
            words=[sentence.to_json() for sentence in outcome.words],
        ),
        closed_at=closed_at.isoformat(),
        closed_by=closed_by,
    )


def encode(minute: Minute) -> str:
    """The stored text of a minute (byte for byte what minutes have always been)."""
    return json.dumps(minute.to_builtins(), sort_keys=True, default=str)


def decode(text: str) -> Minute:
    """A stored minute read back."""
    return msgspec.json.decode(text, type=Minute)


def minute_of_round(round_: Round) -> Minute | None:
    """The minute of a closed round, or None while it is open (or closed without one)."""
    if round_.closed_at is None or not round_.minute:
        return None
    return decode(round_.minute)


def explanation_words(round_: Round) -> tuple[Words, ...] | None:
    """The words of a closed round's explanation, for a page to translate; None for a round
    closed before they were kept (its stored English ``explanation`` shows as it is)."""
    written = minute_of_round(round_)
    if written is None or written.outcome is None:
        return None
    return written.outcome.said()

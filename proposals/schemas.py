"""Inputs and read models of the decision process (msgspec Structs; amounts as strings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from ledger.schemas import MAX_ID, Amount, Counterparty, ProposalNumber, Slug

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Body = Annotated[str, msgspec.Meta(max_length=20_000)]
Reason = Annotated[str, msgspec.Meta(max_length=5_000)]


MemberId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class PolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A spending policy's terms, or (``end``) the end of the policy it ``replaces``."""

    fund: Slug | None = None
    max_per_payment: Amount | None = None
    max_per_month: Amount | None = None
    purpose: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    ends_on: Annotated[date, msgspec.Meta(description="The last day it is in force")] | None = None
    payers: Annotated[
        list[MemberId],
        msgspec.Meta(max_length=100, description="Member ids; empty for every steward"),
    ] = msgspec.field(default_factory=list)
    replaces: ProposalNumber | None = None
    end: bool = False


class ProposalIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    body: Body = ""
    kind: Literal["policy"] | None = None
    policy: PolicyIn | None = None
    fund: Slug | None = None
    amount: Amount | None = None
    counterparty: Counterparty | None = None
    closes_at: datetime | None = None
    beneficiary: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1, le=MAX_ID, description="Member id of a member who would receive the money"
            ),
        ]
        | None
    ) = None


class ResponseIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    position: Annotated[str, msgspec.Meta(examples=["agree", "concern", "stand_aside", "block"])]
    reason: Reason = ""


class AmendmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=5_000)]
    title: Title | None = None
    body: Body | None = None
    fund: Slug | None = None
    amount: Amount | None = None
    counterparty: Counterparty | None = None


class RulesIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rules: dict[str, Any] = msgspec.field(default_factory=dict)
    public_names: bool | None = None
    # Whether spending policies' unused room this month counts as committed money.
    policy_room_committed: bool | None = None


class RulesOut(msgspec.Struct, kw_only=True):
    rules: dict[str, Any]
    public_names: bool
    policy_room_committed: bool = False


class VersionOut(msgspec.Struct, kw_only=True):
    version: int
    title: str
    body: str
    fund: str | None
    amount: str | None
    currency: str | None
    counterparty: str | None
    reason: str
    author: str | None  # None where the group keeps names off its public pages
    created_at: datetime
    changed: list[str]


class ResponseOut(msgspec.Struct, kw_only=True):
    position: str
    reason: str
    at: datetime
    member: str | None = None
    member_id: int | None = None


class TallyOut(msgspec.Struct, kw_only=True):
    agree: int
    concern: int
    stand_aside: int
    block: int
    responded: int
    eligible: int
    quorum_needed: int


class OutcomeOut(msgspec.Struct, kw_only=True):
    status: str
    reason: str
    explanation: str


class RoundOut(msgspec.Struct, kw_only=True):
    number: int
    version: int
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    tally: TallyOut
    outcome: OutcomeOut | None
    live: OutcomeOut | None
    responses: list[ResponseOut]
    concerns_to_answer: list[ResponseOut]
    # The entry of the group's log that holds this round's decision (None while it is
    # open, and for rounds closed before decisions were logged).
    decided_in: int | None = None


class PolicyOut(msgspec.Struct, kw_only=True):
    """A policy the group adopted, as it stands, with this month's room."""

    number: int
    version: int
    title: str
    purpose: str
    fund: str
    currency: str
    max_per_payment: str
    max_per_month: str
    used_this_month: str
    remaining_this_month: str
    payers: list[int]
    ends_on: date | None
    status: str
    ended_by: int | None


class PolicyTermsOut(msgspec.Struct, kw_only=True):
    """What a policy proposal states (all None but ``replaces`` when it ends a policy)."""

    max_per_payment: str | None
    max_per_month: str | None
    purpose: str
    payers: list[int]
    ends_on: date | None
    replaces: int | None


class ProposalOut(msgspec.Struct, kw_only=True):
    number: int
    kind: str
    status: str
    title: str
    body: str
    fund: str | None
    amount: str | None
    currency: str | None
    counterparty: str | None
    author: str | None  # None where the group keeps names off its public pages
    created_at: datetime
    decided_at: datetime | None
    versions: list[VersionOut]
    rounds: list[RoundOut]
    authorised: str | None
    paid: str | None
    policy: PolicyTermsOut | None = None


class ProposalSummary(msgspec.Struct, kw_only=True):
    number: int
    kind: str
    status: str
    title: str
    fund: str | None
    amount: str | None
    currency: str | None
    created_at: datetime
    closes_at: datetime | None

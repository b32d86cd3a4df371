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
    reimbursements: Annotated[
        bool, msgspec.Meta(description="Members' claims may be paid under it")
    ] = False


class ProposalIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    body: Body = ""
    kind: Literal["policy"] | None = None
    policy: PolicyIn | None = None
    fund: Slug | None = None
    amount: Amount | None = None
    counterparty: Counterparty | None = None
    closes_at: datetime | None = None
    urgent: Annotated[
        bool,
        msgspec.Meta(
            description="Urgent: may pass early once the tier's number of members agree "
            "and nobody blocks, then be confirmed at the deadline (422 where the amount's "
            "tier does not allow it)"
        ),
    ] = False
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


# A reminder more than a year before a deadline reminds of nothing (rules.MAX_OPEN_HOURS).
ReminderHours = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=24 * 365,
        description="Hours before a round's deadline when the members who have not "
        "responded are reminded; 0 turns the automatic reminder off",
    ),
]


class RulesIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rules: dict[str, Any] = msgspec.field(default_factory=dict)
    public_names: bool | None = None
    # Whether spending policies' unused room this month counts as committed money.
    policy_room_committed: bool | None = None
    # Whether anyone who may read the proposals also reads their discussions.
    public_comments: bool | None = None
    reminder_hours_before: ReminderHours | None = None
    # Whether responses and counts stay hidden until a round closes (rounds already open
    # keep the choice they opened with).
    hide_tally_until_close: bool | None = None
    tiers: (
        Annotated[
            list[Any],
            msgspec.Meta(
                description="Rules by amount: [{up_to?, mode, min_deadline_hours?, quorum?, "
                "urgent_agreements?}], up_to ascending, the last tier without; [] for the "
                "ordinary rules at every amount"
            ),
        ]
        | None
    ) = None


class RulesOut(msgspec.Struct, kw_only=True):
    rules: dict[str, Any]
    tiers: list[dict[str, Any]] = msgspec.field(default_factory=list)
    public_names: bool
    policy_room_committed: bool = False
    public_comments: bool = False
    reminder_hours_before: int = 24
    hide_tally_until_close: bool = False


# --- the discussion ---------------------------------------------------------------------------

CommentBody = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]


class CommentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: Annotated[CommentBody, msgspec.Meta(description="Markdown, shown sanitised")]
    reply_to: (
        Annotated[
            int,
            msgspec.Meta(ge=1, le=MAX_ID, description="The id of the comment this answers"),
        ]
        | None
    ) = None


class CommentEditIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: CommentBody


class HideIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2_000)]


class EarlierTextOut(msgspec.Struct, kw_only=True):
    """A comment's text before an edit: ``written_at`` until ``replaced_at``."""

    body: str
    written_at: datetime
    replaced_at: datetime


class HiddenOut(msgspec.Struct, kw_only=True):
    reason: str
    at: datetime
    by: str | None  # None where names are not shown


class CommentOut(msgspec.Struct, kw_only=True):
    id: int
    author: str | None  # None where the group keeps names off its public pages
    body: str | None  # Markdown; None when hidden (facilitators still read it)
    created_at: datetime
    round: int | None  # the round open when it was written
    reply_to: int | None = None
    author_id: int | None = None
    edited_at: datetime | None = None
    # The texts before each edit, oldest first (for members).
    earlier: list[EarlierTextOut] = msgspec.field(default_factory=list)
    hidden: HiddenOut | None = None
    replies: list[CommentOut] = msgspec.field(default_factory=list)


class NotRespondedOut(msgspec.Struct, kw_only=True):
    """An eligible member who has not responded in the open round yet."""

    member_id: int
    member: str
    reminded_at: datetime | None = None


class RemindedOut(msgspec.Struct, kw_only=True):
    reminded: int


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
    # None while the round's tally is hidden (``RoundOut.tally_hidden``): who responded
    # shows, what they said does not.
    agree: int | None
    concern: int | None
    stand_aside: int | None
    block: int | None
    responded: int
    eligible: int
    quorum_needed: int


class OutcomeOut(msgspec.Struct, kw_only=True):
    status: str
    reason: str
    explanation: str  # in English
    # The explanation as sentences to translate: each an English message of the
    # catalogues (``text``, and ``plural`` when it depends on ``values["n"]``) and the
    # values of its ``%(name)s`` placeholders (a number, a text, or such a sentence in
    # turn). None for a round closed before they were kept.
    words: list[dict[str, Any]] | None = None


class TierOut(msgspec.Struct, kw_only=True):
    """The tier of the amount, fixed when the round opened."""

    number: int
    label: str  # "up to EUR 100"
    why: str
    mode: str  # "consensus" or "lazy"
    min_deadline_hours: int
    quorum: str
    urgent_agreements: int | None


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
    # Comments written while this round was open (the discussion holds them).
    comments: int = 0
    # The entry of the group's log that holds this round's decision (None while it is
    # open, and for rounds closed before decisions were logged).
    decided_in: int | None = None
    tier: TierOut | None = None  # None: the ordinary rules applied
    # When an urgent proposal passed early in this round.
    urgent_passed_at: datetime | None = None
    # The group keeps responses and counts hidden until the round closes: while it is open
    # the tally holds no counts of positions, ``live`` is None and ``responses`` holds only
    # the reader's own.
    tally_hidden: bool = False


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
    reimbursements: bool = False


class PolicyTermsOut(msgspec.Struct, kw_only=True):
    """What a policy proposal states (all None but ``replaces`` when it ends a policy)."""

    max_per_payment: str | None
    max_per_month: str | None
    purpose: str
    payers: list[int]
    ends_on: date | None
    replaces: int | None
    reimbursements: bool = False


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
    # For members: who has not responded in the open round yet (None for others).
    not_responded: list[NotRespondedOut] | None = None
    urgent: bool = False
    # "passed urgently, awaiting confirmation" / "..., confirmed" / "..., not confirmed".
    urgent_decision: str | None = None


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


class ClaimIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A member's claim to be paid back what they paid out of pocket (the receipt comes
    with it: the API's multipart field ``file``, the page's ``receipt``)."""

    fund: Slug
    amount: Amount
    what_for: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=200, description="What the money was spent on"),
    ]
    body: Body = ""
    policy: Annotated[
        ProposalNumber | None,
        msgspec.Meta(
            description=(
                "A spending policy in force that pays reimbursements: the claim is paid under "
                "it by a steward, with no proposal of its own"
            )
        ),
    ] = None


class ClaimReceiptOut(msgspec.Struct, kw_only=True):
    sha256: str
    content_type: str
    size: int
    erased_on: date | None = None  # the file was erased with the claimant's data


class ClaimOut(msgspec.Struct, kw_only=True):
    """A claim: the proposal it became (to the claimant's pseudonym), or the policy it is
    paid under; and its receipt."""

    id: int
    proposal: int | None
    policy: int | None
    paid_in: int | None  # the payment (its seq) of a claim paid under a policy
    counterparty: str
    fund: str
    amount: str
    what_for: str
    status: str
    receipt: ClaimReceiptOut

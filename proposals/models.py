"""Tables of the decision process. Nothing here is edited in place: an amendment is a new
version, a response is a new row (the latest of a member in a round counts), a round's
outcome and minute are written once when it closes."""

from __future__ import annotations

from datetime import date, datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models import Base, BigId, Fund, User


class GroupRules(Base):
    """A group's decision rules (JSON, CONTRACT section 5) and who the public may see."""

    __tablename__ = "group_rules"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    rules: Mapped[str] = mapped_column(Text)
    # Public pages show counts and reasons; names only when the group chooses so.
    public_names: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether a spending policy's unused room this month counts as committed money.
    policy_room_committed: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Whether anyone who may read the group's proposals also reads their discussions.
    public_comments: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How many hours before a round's deadline the members who have not responded are
    # reminded (0: no automatic reminder).
    reminder_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    # The table of rules by amount (``rules.tiers_from_json``); "[]": the ordinary rules.
    tiers: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    # Whether responses and counts stay hidden until a round closes (each round keeps the
    # value it opened with, ``Round.tally_hidden``).
    hide_tally_until_close: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (UniqueConstraint("group_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # "general" or "disbursement" (a fund and an amount to pay from it).
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    # The member who would receive the money, if any: they do not count in its rounds.
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Flagged urgent by its author: may pass early where its tier allows it.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined", innerjoin=True)
    versions: Mapped[list[ProposalVersion]] = relationship(
        order_by="ProposalVersion.version", lazy="selectin", viewonly=True
    )
    rounds: Mapped[list[Round]] = relationship(
        order_by="Round.number", lazy="selectin", viewonly=True
    )


class ProposalVersion(Base):
    __tablename__ = "proposal_versions"
    __table_args__ = (UniqueConstraint("proposal_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("funds.id"))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    counterparty: Mapped[str | None] = mapped_column(String(64))
    # Why this version exists (empty for the first).
    reason: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    fund: Mapped[Fund | None] = relationship(lazy="joined", viewonly=True)
    author: Mapped[User] = relationship(lazy="joined", innerjoin=True, viewonly=True)


class PolicyTerms(Base):
    """What a version of a policy proposal says: a standing decision that small payments
    run under (its fund is the version's). Written once, with its version."""

    __tablename__ = "policy_terms"

    version_id: Mapped[int] = mapped_column(ForeignKey("proposal_versions.id"), primary_key=True)
    # What it adopts; all None for a proposal that only ends the policy it replaces.
    max_per_payment: Mapped[int | None] = mapped_column(BigInteger)
    max_per_month: Mapped[int | None] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(Text, default="")
    # Who may pay under it: member ids (space separated); empty for every steward.
    payers: Mapped[str] = mapped_column(Text, default="")
    ends_on: Mapped[date | None] = mapped_column(Date)  # the last day it is in force
    # The policy (its proposal's number) that this one amends or ends once it passes.
    replaces: Mapped[int | None] = mapped_column(Integer)
    # Whether members' claims may be paid under it (``proposals.claims``).
    reimbursements: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Claim(Base):
    """A member's claim to be paid back what they paid out of pocket: the disbursement
    proposal it became (to the member's pseudonym), or the spending policy it is paid under
    (then the claim keeps its own fund, amount, purpose and pseudonym); and its receipt,
    cleaned and kept by its SHA-256 until the payment is recorded and the receipt attached
    to it. Written once."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), unique=True)
    # A claim under a policy that pays reimbursements (no proposal): what it asks.
    policy_number: Mapped[int | None] = mapped_column(Integer)
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("funds.id"))
    fund: Mapped[Fund | None] = relationship(lazy="joined", viewonly=True)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    what_for: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    counterparty: Mapped[str | None] = mapped_column(String(64))
    # Who paid and is to be paid back: their own response does not count on the claim.
    claimant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    # When the receipt's file was erased with the claimant's data (the hash stays); the one
    # change a claim sees after it is written.
    receipt_erased_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class ClaimPayment(Base):
    """The payment that paid a claim under a policy (a claim under a proposal is paid under
    its proposal). One per claim. Written once."""

    __tablename__ = "claim_payments"
    __table_args__ = (UniqueConstraint("group_id", "seq"),)

    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class Round(Base):
    """One round of responses to one version. Eligible members and rules are frozen when it
    opens; the outcome, its explanation and the minute are written once when it closes."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("proposal_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    number: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[str] = mapped_column(Text)
    eligible: Mapped[str] = mapped_column(Text)  # JSON list of user ids
    opened_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # How it closed: deadline, facilitator, all_responded, amended, withdrawn.
    closed_by: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(String(32))
    explanation: Mapped[str | None] = mapped_column(Text)
    minute: Mapped[str | None] = mapped_column(Text)  # JSON, written at close
    # When the automatic reminder of this round was done (or found needless).
    reminded_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # The tier of the amount, chosen when the round opened (JSON, ``rules.ChosenTier``);
    # None when the ordinary rules apply.
    tier: Mapped[str | None] = mapped_column(Text)
    # When an urgent proposal passed early in this round; the round stays open until its
    # deadline, where the outcome confirms the decision or not.
    urgent_passed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # The minute as it stood when it passed urgently (JSON): its decision leaf, appended
    # then, states its hash.
    urgent_minute: Mapped[str | None] = mapped_column(Text)
    # Whether its responses and counts stay hidden until it closes (the group's setting
    # when it opened).
    tally_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_round_user", "round_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    position: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True, viewonly=True)


class Comment(Base):
    """A member's comment in a proposal's discussion, or a reply to one (one level deep).
    Edits keep the earlier text (``CommentVersion``); a facilitator may hide a comment with
    a reason; nothing deletes one."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    # The round open when it was written (None between rounds or after the decision).
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"), index=True)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)  # Markdown, the latest text
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    edited_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hidden_reason: Mapped[str] = mapped_column(Text, default="")

    author: Mapped[User] = relationship(
        foreign_keys=[author_id], lazy="joined", innerjoin=True, viewonly=True
    )
    hidden_by: Mapped[User | None] = relationship(
        foreign_keys=[hidden_by_id], lazy="joined", viewonly=True
    )
    versions: Mapped[list[CommentVersion]] = relationship(
        order_by="CommentVersion.id", lazy="selectin", viewonly=True
    )


class CommentVersion(Base):
    """An earlier text of a comment, kept when its author edited it (append-only)."""

    __tablename__ = "comment_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    replaced_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class Reminder(Base):
    """A member was reminded to respond in a round: once per round per member, by a
    facilitator or automatically before the deadline."""

    __tablename__ = "reminders"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "facilitator" or "automatic"
    sent_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


# --- requests for support -------------------------------------------------------------------
# A person asks without an account. Their details live only in ``request_details`` (and the
# stewards' notes), readable by the group's stewards and facilitators, every read logged,
# erased on demand or after the group's retention period. Everything else (the queue, the
# proposal, the ledger, the public pages) only ever sees the pseudonym.


class SupportRequest(Base):
    __tablename__ = "support_requests"
    __table_args__ = (UniqueConstraint("group_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    # The private reference the person follows their request with (a secret).
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(16))
    # received, discussing, proposed, declined, paid (decided comes from the proposal).
    status: Mapped[str] = mapped_column(String(16), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(8))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    # Kind words for the person when the group cannot help (no personal data).
    decline_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    # When it stopped needing the details; the retention period counts from here.
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Sent during a flood without proof of a person behind it: kept apart from the queue
    # until a steward releases it (or discards all of them).
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RequestKey(Base):
    """The key that seals one request's details and notes (AES-256-GCM). Erasure deletes
    it, so any copy of the sealed rows that survives (a table file, a log, a backup taken
    after the erasure) can no longer be read."""

    __tablename__ = "request_keys"

    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32))


class RequestDetails(Base):
    """The person's details, sealed with the request's key (``proposals.privacy``):
    deleted, not blanked, when erased."""

    __tablename__ = "request_details"

    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class RequestNote(Base):
    """Stewards' notes on a request: may hold personal data, so sealed with the request's
    key and erased with the details."""

    __tablename__ = "request_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), index=True)
    # None: added by the person who asked, from their status page.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    author: Mapped[User | None] = relationship(lazy="joined", viewonly=True)


class RequestEvent(Base):
    """What the person did on their status page (added information, withdrew, erased their
    details): the request's history as the stewards see it. No personal data: the text the
    person added is a sealed note."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class RequestUpdate(Base):
    """A change of a request's status to tell the person by e-mail, if they asked to be told
    (an outbox, sent with retries like ``Notification``). The address is read from the
    sealed details when sending, never copied here; erasing the details deletes these."""

    __tablename__ = "request_updates"
    __table_args__ = (Index("ix_request_updates_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")


class DetailsRead(Base):
    """Who read a person's details, and when (holds no details itself)."""

    __tablename__ = "details_reads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class SupportSettings(Base):
    """A group's settings for requests: retention and, for private groups, the ask form."""

    __tablename__ = "support_settings"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    retention_days: Mapped[int] = mapped_column(Integer, default=90)
    ask_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The languages the ask form offers, space-separated (each needs a catalogue).
    languages: Mapped[str] = mapped_column(String(100), default="en es")


class NotificationPreference(Base):
    """How a member wants to hear of new requests and proposals by e-mail: none (the
    default: the dashboard lists them anyway), each, or a daily digest."""

    __tablename__ = "notification_preferences"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), default="none")


class Notification(Base):
    """An e-mail waiting to go out (an outbox): kept until sent, retried with back-off, and
    listed on the member's dashboard. It names the pseudonym, never the person."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The proposal it is about, if any (the dashboard links to it).
    proposal_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    # "each": e-mailed at once; "daily": in the next digest; "none": the dashboard only.
    delivery: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    # When the member opened it from their inbox (or the page it is about); None: unread.
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # The subject and body as words to say in the member's language (JSON,
    # ``proposals.notify.Said``); None for notifications written before: their English
    # ``subject`` and ``body`` show as they are.
    words: Mapped[str | None] = mapped_column(Text)

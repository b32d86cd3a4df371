"""Tables of the decision process. Nothing here is edited in place: an amendment is a new
version, a response is a new row (the latest of a member in a round counts), a round's
outcome and minute are written once when it closes."""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
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

"""What the pages read of proposals: the lists of proposals and decisions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Entry, Group
from proposals.models import Proposal, ProposalVersion, Round

# --- proposals ---------------------------------------------------------------------------

PROPOSALS_PAGE = 30
DECIDED = ("passed", "blocked", "not_passed")


async def open_proposals(session: AsyncSession, group: Group, *, limit: int) -> list[Proposal]:
    """Open proposals, the next deadline first (most are few; ``limit`` bounds the page)."""
    deadline = (  # the deadline of the proposal's latest round, the one open
        select(Round.closes_at)
        .where(Round.proposal_id == Proposal.id)
        .order_by(Round.number.desc())
        .limit(1)
        .correlate(Proposal)
        .scalar_subquery()
    )
    return list(
        await session.scalars(
            select(Proposal)
            .where(Proposal.group_id == group.id, Proposal.status == "open")
            .order_by(deadline, Proposal.number)
            .limit(limit)
        )
    )


async def recently_decided(session: AsyncSession, group: Group, *, limit: int) -> list[Proposal]:
    """Proposals passed, blocked or not passed, the latest decision first."""
    return list(
        await session.scalars(
            select(Proposal)
            .where(Proposal.group_id == group.id, Proposal.status.in_(DECIDED))
            .order_by(Proposal.decided_at.desc(), Proposal.number.desc())
            .limit(limit)
        )
    )


async def closed_proposals(
    session: AsyncSession, group: Group, *, before: int | None = None, limit: int = PROPOSALS_PAGE
) -> tuple[list[Proposal], int | None]:
    """Proposals no longer open (decided or withdrawn), newest number first, by keyset on
    the number; returns the page and the ``before`` of the next."""
    statement = select(Proposal).where(Proposal.group_id == group.id, Proposal.status != "open")
    if before is not None:
        statement = statement.where(Proposal.number < before)
    rows = list(await session.scalars(statement.order_by(Proposal.number.desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].number
    return rows, None


async def proposal_payments(session: AsyncSession, group: Group, number: int) -> list[Entry]:
    """The ledger entries that paid money under proposal ``number``, newest first."""
    return list(
        await session.scalars(
            select(Entry)
            .where(Entry.group_id == group.id, Entry.proposal_number == number)
            .order_by(Entry.seq.desc())
        )
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """A round that ended in a decision: what the feed announces."""

    number: int
    round: int
    title: str
    status: str
    explanation: str
    closed_at: datetime


async def recent_decisions(session: AsyncSession, group: Group, *, limit: int) -> list[Decision]:
    """Rounds closed with a decision (passed, blocked, not passed), newest first. A proposal
    blocked and then passed after an amendment made two decisions."""
    rows = await session.execute(
        select(Round, Proposal.number, ProposalVersion.title)
        .join(Proposal, Proposal.id == Round.proposal_id)
        .join(
            ProposalVersion,
            and_(
                ProposalVersion.proposal_id == Proposal.id,
                ProposalVersion.version == Round.version,
            ),
        )
        .where(
            Proposal.group_id == group.id,
            Round.closed_at.is_not(None),
            Round.outcome.in_(DECIDED),
        )
        .order_by(Round.closed_at.desc(), Round.id.desc())
        .limit(limit)
    )
    decisions: list[Decision] = []
    for round_, number, title in rows:
        assert round_.closed_at is not None
        assert round_.outcome is not None
        # The minute keeps the title the round decided on, after title-only amendments too.
        minute = json.loads(round_.minute) if round_.minute else {}
        decisions.append(
            Decision(
                number=number,
                round=round_.number,
                title=str(minute.get("version", {}).get("title") or title),
                status=round_.outcome,
                explanation=round_.explanation or "",
                closed_at=round_.closed_at,
            )
        )
    return decisions

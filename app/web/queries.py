"""What the pages read, beyond the ledger and proposals services: the directory, filtered
ledger pages, reversal links, a fund's recent history, a member's groups, and the lists of
proposals and decisions.

Every query that can grow with the ledger walks an index from the newest entry down and
stops after one page (keyset pagination on ``seq``): a page deep in a million entries
costs what the first one does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Entry, Fund, Group, LogState, Membership, Posting
from ledger.rules import HOLDING
from proposals.models import Proposal, ProposalVersion, Round

DIRECTORY_PAGE = 30
LEDGER_PAGE = 50
HISTORY_POINTS = 500


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """A group as the directory and the dashboard list it."""

    slug: str
    name: str
    description: str
    currency: str
    public: bool
    entries: int
    last_activity: datetime | None
    # Money held, per currency (a group's funds may hold more than one currency).
    totals: list[tuple[str, int]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


def _summary_query() -> Select[Group, int, datetime]:
    last = (
        select(Entry.recorded_at)
        .where(Entry.group_id == Group.id, Entry.seq == LogState.size)
        .correlate(Group, LogState)
        .scalar_subquery()
    )
    return select(Group, LogState.size, last).join(LogState, LogState.group_id == Group.id)


async def _totals(
    session: AsyncSession, group_ids: Sequence[int]
) -> dict[int, list[tuple[str, int]]]:
    if not group_ids:
        return {}
    rows = await session.execute(
        select(Fund.group_id, Fund.currency, func.sum(Fund.balance))
        .where(Fund.group_id.in_(list(group_ids)))
        .group_by(Fund.group_id, Fund.currency)
        .order_by(Fund.group_id, Fund.currency)
    )
    totals: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for group_id, currency, total in rows:
        totals[group_id].append((currency, int(total or 0)))
    return totals


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def public_groups(
    session: AsyncSession, *, query: str = "", after: str | None = None, limit: int = DIRECTORY_PAGE
) -> tuple[list[GroupSummary], str | None]:
    """Public groups by name, searched by name or slug; keyset pages after a group's slug.

    Only public groups can be a cursor, so a private group's name never shapes a page."""
    statement = _summary_query().where(Group.public.is_(True))
    if query:
        pattern = _like(query)
        statement = statement.where(
            or_(
                func.lower(Group.name).like(pattern, escape="\\"),
                Group.slug.like(pattern, escape="\\"),
            )
        )
    if after:
        cursor = (
            await session.execute(
                select(Group.name, Group.id).where(Group.slug == after, Group.public.is_(True))
            )
        ).one_or_none()
        if cursor is not None:
            name, group_id = cursor
            statement = statement.where(
                or_(Group.name > name, and_(Group.name == name, Group.id > group_id))
            )
    rows = list(await session.execute(statement.order_by(Group.name, Group.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    totals = await _totals(session, [group.id for group, _, _ in rows])
    summaries = [
        GroupSummary(
            slug=group.slug,
            name=group.name,
            description=group.description,
            currency=group.currency,
            public=group.public,
            entries=int(size),
            last_activity=last,
            totals=totals.get(group.id, []),
        )
        for group, size, last in rows
    ]
    return summaries, (summaries[-1].slug if more and summaries else None)


async def member_groups(session: AsyncSession, user_id: int) -> list[GroupSummary]:
    """The groups a person belongs to, with their roles in each."""
    rows = list(
        await session.execute(
            _summary_query()
            .add_columns(Membership.roles)
            .join(Membership, Membership.group_id == Group.id)
            .where(Membership.user_id == user_id, Membership.removed_at.is_(None))
            .order_by(Group.name, Group.id)
        )
    )
    totals = await _totals(session, [row[0].id for row in rows])
    return [
        GroupSummary(
            slug=group.slug,
            name=group.name,
            description=group.description,
            currency=group.currency,
            public=group.public,
            entries=int(size),
            last_activity=last,
            totals=totals.get(group.id, []),
            roles=roles.split(),
        )
        for group, size, last, roles in rows
    ]


async def last_activity(session: AsyncSession, group: Group) -> datetime | None:
    result = await session.execute(
        select(Entry.recorded_at)
        .join(LogState, and_(LogState.group_id == Entry.group_id, LogState.size == Entry.seq))
        .where(Entry.group_id == group.id)
    )
    return result.scalar_one_or_none()


# --- the ledger, page by page ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    fund: Fund | None = None
    kind: str | None = None
    start: date | None = None
    end: date | None = None


async def ledger_page(
    session: AsyncSession,
    group: Group,
    where: LedgerFilter,
    *,
    before: int | None = None,
    limit: int = LEDGER_PAGE,
) -> tuple[list[Entry], int | None]:
    """Entries newest first, filtered; returns the page and the ``before`` of the next.

    Without a fund it walks the unique (group, seq) index down from ``before``; with a fund
    it walks the postings' (fund, holding, seq) index and joins each posting to its entry.
    Kind and date filters are checked on the rows walked; no OFFSET anywhere."""
    if where.fund is not None:
        statement = (
            select(Entry)
            .join(Posting, Posting.entry_id == Entry.id)
            .where(
                Posting.fund_id == where.fund.id,
                Posting.account_type == HOLDING,
                Entry.group_id == group.id,
            )
            .order_by(Posting.seq.desc())
        )
        if before is not None:
            statement = statement.where(Posting.seq < before)
    else:
        statement = select(Entry).where(Entry.group_id == group.id).order_by(Entry.seq.desc())
        if before is not None:
            statement = statement.where(Entry.seq < before)
    if where.kind:
        statement = statement.where(Entry.kind == where.kind)
    if where.start:
        statement = statement.where(Entry.occurred_on >= where.start)
    if where.end:
        statement = statement.where(Entry.occurred_on <= where.end)
    entries = list(await session.scalars(statement.limit(limit + 1)))
    if len(entries) > limit:
        return entries[:limit], entries[limit - 1].seq
    return entries, None


@dataclass(frozen=True, slots=True)
class ReversalLinks:
    """For a page of entries: which were reversed (by what), and what the reversals undo."""

    reversed_by: dict[int, Entry]
    originals: dict[int, Entry]


async def reversal_links(
    session: AsyncSession, group: Group, entries: Sequence[Entry]
) -> ReversalLinks:
    seqs = [entry.seq for entry in entries]
    undone = [entry.reverses_seq for entry in entries if entry.reverses_seq is not None]
    reversed_by: dict[int, Entry] = {}
    originals: dict[int, Entry] = {}
    if seqs:
        for reversal in await session.scalars(
            select(Entry).where(Entry.group_id == group.id, Entry.reverses_seq.in_(seqs))
        ):
            if reversal.reverses_seq is not None:
                reversed_by[reversal.reverses_seq] = reversal
    if undone:
        for original in await session.scalars(
            select(Entry).where(Entry.group_id == group.id, Entry.seq.in_(undone))
        ):
            originals[original.seq] = original
    return ReversalLinks(reversed_by, originals)


# --- a fund's history --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BalancePoint:
    """The fund's balance at the end of ``on`` (the day the money moved)."""

    on: date
    seq: int
    balance: int


async def fund_history(
    session: AsyncSession, fund: Fund, *, limit: int = HISTORY_POINTS
) -> tuple[list[BalancePoint], bool]:
    """The fund's balance after each of its last ``limit`` entries, by the day the money
    moved (``occurred_on``), oldest first, starting with the balance before them; and
    whether that is its whole history. Read through the fund's postings index from the
    stored balance, so it costs ``limit`` rows however long the ledger is."""
    rows = list(
        await session.execute(
            select(Posting.seq, Posting.amount, Entry.occurred_on)
            .join(Entry, Entry.id == Posting.entry_id)
            .where(Posting.fund_id == fund.id, Posting.account_type == HOLDING)
            .order_by(Posting.seq.desc())
            .limit(limit + 1)
        )
    )
    complete = len(rows) <= limit
    rows = rows[:limit]
    if not rows:
        return [], complete
    balance = fund.balance - sum(int(amount) for _, amount, _ in rows)
    # Entries may be recorded after the day they happened: draw them on that day.
    moves = sorted(((on, seq, int(amount)) for seq, amount, on in rows), key=lambda m: m[:2])
    points = [BalancePoint(moves[0][0], 0, balance)]
    for on, seq, amount in moves:
        balance += amount
        points.append(BalancePoint(on, seq, balance))
    return points, complete


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

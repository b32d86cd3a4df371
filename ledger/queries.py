"""The ledger's reads: what the API, the exports, the pages and the documents show of
groups, funds and entries, as typed read models or the rows themselves.

Every query that can grow with the ledger walks an index from the newest entry down and
stops after one page (keyset pagination on ``seq``): a page deep in a million entries
costs what the first one does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from ledger.attachments import AttachmentView
from ledger.canonical import ATTACHMENT, timestamp
from ledger.kept import LogSums
from ledger.models import Entry, Fund, Group, LogState, Membership, Place, Posting
from ledger.money import format_amount
from ledger.places import DEFAULT_PLACE_SLUG
from ledger.rules import DECISION, HOLDING, RECONCILIATION
from ledger.schemas import (
    AttachmentOut,
    EntryOut,
    FundOut,
    MoveOut,
    PlaceOut,
    PostingOut,
    ProposalRef,
)
from ledger.verify import VerifyReport

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
        # Money entries; the files attached to them are shown with them.
        statement = (
            select(Entry)
            .where(Entry.group_id == group.id, Entry.kind.not_in((ATTACHMENT, RECONCILIATION)))
            .order_by(Entry.seq.desc())
        )
        if before is not None:
            statement = statement.where(Entry.seq < before)
    if where.kind:
        statement = statement.where(Entry.kind == where.kind)
    else:  # the money: decisions are shown with their proposals
        statement = statement.where(Entry.kind != DECISION)
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


async def running_balances(
    session: AsyncSession, fund: Fund, seqs: Sequence[int]
) -> dict[int, int]:
    """The fund's balance just after each entry of ``seqs``: its stored balance less what
    every later entry moved. Reads the fund's postings from the oldest of ``seqs`` on (the
    newest page reads only itself), through the (fund, holding, seq) index."""
    if not seqs:
        return {}
    rows = await session.execute(
        select(Posting.seq, func.sum(Posting.amount))
        .where(
            Posting.fund_id == fund.id,
            Posting.account_type == HOLDING,
            Posting.seq >= min(seqs),
        )
        .group_by(Posting.seq)
        .order_by(Posting.seq.desc())
    )
    wanted = set(seqs)
    balance = fund.balance
    after: dict[int, int] = {}
    for seq, amount in rows:
        if seq in wanted:
            after[seq] = balance
        balance -= int(amount)
    return after


@dataclass(frozen=True, slots=True)
class MonthFlow:
    """Money that came into and went out of the group in one month, in one currency."""

    month: date  # its first day
    currency: str
    money_in: int
    money_out: int  # positive


# In and out per day and currency, from some day on: kept between requests and grown by new
# entries (``ledger.kept``), so the group page does not read every entry of its months.
DAILY_FLOWS: LogSums[dict[tuple[date, str], tuple[int, int]]] = LogSums()


async def monthly_flows(session: AsyncSession, group: Group, since: date) -> list[MonthFlow]:
    """In and out per month (by the day the money moved) from ``since``'s month on.

    Each entry counts by what it did to the group's funds together: a donation in, a payment
    out, a reversal the other way, and a transfer between two funds not at all."""
    since = since.replace(day=1)

    async def grow(
        last: dict[tuple[date, str], tuple[int, int]] | None, after: int, through: int
    ) -> dict[tuple[date, str], tuple[int, int]]:
        # From nothing, no lower bound on seq: with one, SQLite walked the whole log by seq
        # rather than the index by day (560 ms against 366 ms at 200,000 entries).
        newer = [Entry.seq > after] if after else []
        per_entry = (
            select(
                Entry.occurred_on.label("day"),
                Posting.currency.label("currency"),
                func.sum(Posting.amount).label("net"),
            )
            .join(Posting, Posting.entry_id == Entry.id)
            .where(
                Entry.group_id == group.id,
                *newer,
                Entry.seq <= through,
                Entry.occurred_on >= since,
                Posting.account_type == HOLDING,
            )
            .group_by(Entry.id, Entry.occurred_on, Posting.currency)
            .subquery()
        )
        # Summed per day in the database: at most a row per day and currency, however many
        # entries the days hold.
        rows = await session.execute(
            select(
                per_entry.c.day,
                per_entry.c.currency,
                func.sum(case((per_entry.c.net > 0, per_entry.c.net), else_=0)),
                func.sum(case((per_entry.c.net < 0, -per_entry.c.net), else_=0)),
            ).group_by(per_entry.c.day, per_entry.c.currency)
        )
        days = dict(last) if last is not None else {}
        for day, currency, money_in, money_out in rows:
            before_in, before_out = days.get((day, currency), (0, 0))
            days[(day, currency)] = (
                before_in + int(money_in or 0),
                before_out + int(money_out or 0),
            )
        return days

    by_day = await DAILY_FLOWS.read(session, group, grow, over=since)
    flows: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for (day, currency), (money_in, money_out) in by_day.items():
        flow = flows[(day.replace(day=1), currency)]
        flow[0] += money_in
        flow[1] += money_out
    return [
        MonthFlow(month, currency, money_in, money_out)
        for (month, currency), (money_in, money_out) in sorted(flows.items())
    ]


# --- the API's and the exports' read models ----------------------------------------------


def attachment_out(view: AttachmentView) -> AttachmentOut:
    return AttachmentOut(
        sha256=view.sha256,
        content_type=view.content_type,
        size=view.size,
        entry=view.entry,
        seq=view.seq,
        recorded_at=timestamp(view.recorded_at),
        erased_on=view.erased_at.date() if view.erased_at else None,
    )


def entry_out(
    entry: Entry,
    reversed_by: int | None = None,
    attachments: Sequence[AttachmentView] = (),
) -> EntryOut:
    return EntryOut(
        seq=entry.seq,
        kind=entry.kind,
        occurred_on=entry.occurred_on,
        recorded_at=timestamp(entry.recorded_at),
        memo=entry.memo,
        counterparty=entry.counterparty,
        reverses=entry.reverses_seq,
        reversed_by=reversed_by,
        proposal=(
            ProposalRef(number=entry.proposal_number, version=entry.proposal_version)
            if entry.proposal_number is not None and entry.proposal_version is not None
            else None
        ),
        policy=(
            ProposalRef(number=entry.policy_number, version=entry.policy_version)
            if entry.policy_number is not None and entry.policy_version is not None
            else None
        ),
        decided_in=entry.decided_in,
        place=place_of(entry),
        move=(
            MoveOut(
                from_place=entry.place.slug if entry.place else DEFAULT_PLACE_SLUG,
                to_place=entry.to_place.slug,
                amount=format_amount(entry.moved, entry.to_place.currency),
                currency=entry.to_place.currency,
            )
            if entry.moved is not None and entry.to_place is not None
            else None
        ),
        postings=[
            PostingOut(
                fund=p.fund.slug,
                account=p.account,
                amount=format_amount(p.amount, p.currency),
                currency=p.currency,
            )
            for p in entry.postings
        ],
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        attachments=[attachment_out(view) for view in attachments],
    )


def place_of(entry: Entry) -> str | None:
    """The slug of the place an entry moved money in (for a move, the place it left); None
    for entries that move no money. An entry written before places is in the default
    place, whose slug every group has (``ledger.places``)."""
    if entry.place is not None:
        return entry.place.slug
    if entry.kind in (ATTACHMENT, DECISION, RECONCILIATION):
        return None
    return DEFAULT_PLACE_SLUG


def place_out(place: Place) -> PlaceOut:
    return PlaceOut(
        slug=place.slug,
        name=place.name,
        currency=place.currency,
        default=place.is_default,
        allow_negative=place.allow_negative,
        balance=format_amount(place.balance, place.currency),
        reconciled_through=place.reconciled_through,
    )


def fund_out(fund: Fund, committed: int = 0) -> FundOut:
    return FundOut(
        slug=fund.slug,
        name=fund.name,
        currency=fund.currency,
        allow_negative=fund.allow_negative,
        balance=format_amount(fund.balance, fund.currency),
        committed=format_amount(committed, fund.currency),
        available=format_amount(fund.balance - committed, fund.currency),
    )


def verify_summary(report: VerifyReport) -> str:
    if report.ok:
        return f"ok: {report.entries} entries verified; head {report.head_seq} {report.head_hash}"
    return f"broken at entry {report.first_bad_seq}: {report.problem}"


# --- a period, for the audit statement ---------------------------------------------------


async def first_day(session: AsyncSession, group: Group) -> date | None:
    """The day the group's first entry occurred (None while the log is empty)."""
    first: date | None = await session.scalar(
        select(func.min(Entry.occurred_on)).where(Entry.group_id == group.id)
    )
    return first


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """An entry of a statement's period, with what it did to each fund's holding."""

    seq: int
    occurred_on: date
    kind: str
    memo: str
    counterparty: str | None
    reverses: int | None
    amounts: dict[int, int]  # fund id -> holding amount of the entry


async def count_period_rows(session: AsyncSession, group: Group, start: date, end: date) -> int:
    """How many fund movements (holding postings) occurred from ``start`` to ``end``."""
    count: int = (
        await session.scalar(
            select(func.count())
            .select_from(Posting)
            .join(Entry, Entry.id == Posting.entry_id)
            .where(
                Entry.group_id == group.id,
                Posting.account_type == HOLDING,
                Entry.occurred_on >= start,
                Entry.occurred_on <= end,
            )
        )
        or 0
    )
    return count


async def period_rows(
    session: AsyncSession, group: Group, start: date, end: date
) -> list[PeriodRow]:
    """The entries that occurred from ``start`` to ``end`` (both included), in ``seq`` order."""
    result = await session.execute(
        select(
            Entry.seq,
            Entry.occurred_on,
            Entry.kind,
            Entry.memo,
            Entry.counterparty,
            Entry.reverses_seq,
            Posting.fund_id,
            Posting.amount,
        )
        .join(Posting, Posting.entry_id == Entry.id)
        .where(
            Entry.group_id == group.id,
            Posting.account_type == HOLDING,
            Entry.occurred_on >= start,
            Entry.occurred_on <= end,
        )
        .order_by(Entry.seq, Posting.position)
    )
    rows: list[PeriodRow] = []
    for seq, occurred_on, kind, memo, counterparty, reverses, fund_id, amount in result:
        if not rows or rows[-1].seq != seq:
            rows.append(PeriodRow(seq, occurred_on, kind, memo, counterparty, reverses, {}))
        amounts = rows[-1].amounts
        amounts[fund_id] = amounts.get(fund_id, 0) + amount
    return rows


async def balances_before(session: AsyncSession, group: Group, start: date) -> dict[int, int]:
    """Each fund's holding from the entries that occurred before ``start`` (by fund id)."""
    result = await session.execute(
        select(Posting.fund_id, func.sum(Posting.amount))
        .join(Entry, Entry.id == Posting.entry_id)
        .where(
            Entry.group_id == group.id,
            Posting.account_type == HOLDING,
            Entry.occurred_on < start,
        )
        .group_by(Posting.fund_id)
    )
    return {fund_id: int(total or 0) for fund_id, total in result}


async def period_leaves(session: AsyncSession, group: Group, start: date, end: date) -> bytes:
    """The leaves of the period's entries, exactly as hashed, one per line in ``seq`` order
    (the lines of ``export.jsonl`` whose entry occurred in the period)."""
    leaves = await session.scalars(
        select(Entry.leaf)
        .where(Entry.group_id == group.id, Entry.occurred_on >= start, Entry.occurred_on <= end)
        .order_by(Entry.seq)
    )
    return b"".join(leaf + b"\n" for leaf in leaves)


# --- money paid under decisions ---------------------------------------------------------------


def is_reversed(group: Group) -> ColumnElement[bool]:
    """The group's entry (``Entry``) was reversed. Each entry looks up its own reversal, by
    the unique key on reverses_seq, rather than every reversal of the log being gathered
    first (as SQLite did for ``NOT IN``, and PostgreSQL cannot make an anti-join of)."""
    reversal = aliased(Entry)
    return (
        select(reversal.id)
        .where(reversal.group_id == group.id, reversal.reverses_seq == Entry.seq)
        .exists()
    )


async def paid_under(
    session: AsyncSession,
    group: Group,
    decision: InstrumentedAttribute[int | None],
    numbers: Sequence[int],
    *,
    between: tuple[date, date] | None = None,
) -> dict[int, int]:
    """Money paid out under each of the decisions ``numbers`` (``decision``: the entries'
    column naming them, ``Entry.proposal_number`` or ``Entry.policy_number``), by payments
    that occurred ``between`` two days when given, less payments reversed."""
    if not numbers:
        return {}
    query = (
        select(decision, func.sum(-Posting.amount))
        .join(Posting, Posting.entry_id == Entry.id)
        .where(
            Entry.group_id == group.id,
            decision.in_(list(numbers)),
            Posting.account_type == HOLDING,
            ~is_reversed(group),
        )
        .group_by(decision)
    )
    if between is not None:
        query = query.where(Entry.occurred_on >= between[0], Entry.occurred_on <= between[1])
    rows = await session.execute(query)
    return {number: int(total) for number, total in rows if number is not None}

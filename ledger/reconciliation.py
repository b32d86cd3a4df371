"""Reconciliation: a steward closes a place's books against its bank statement through a day.

Closing through day D (``close``) appends a leaf of kind "reconciliation" (leaf version 7,
``ledger.canonical.reconciliation_leaf_document``) when, checked in this order:

1. D is not a day still to come;
2. an imported statement of the place covers D (its period holds D): the latest such
   import is the one closed against, and its file's SHA-256 goes in the leaf;
3. every statement line of the place booked on or before D is in a confirmed match (the
   lines are private, so this rule is the database's alone, not the log's);
4. D is later than the place's last reconciliation (a closed one is never reopened), and
   the place's balance over the entries dated on or before D equals the closing balance
   given: the log's rule, ``rules.Books.reconcile``, which both verifiers apply too.

The number of lines the leaf states is the count of the place's statement lines booked on
or before D, over every import (each line counted once: lines are unique per place by
fingerprint), so it only grows from one reconciliation to the next.

Once a place is reconciled through D, an entry in that place dated on or before D is
refused (``rules.Books._check_open``), so the agreed balance can never change; a reversal
is dated the day it is recorded, so it is refused only on D itself when D is today. A
correction is a new entry dated after D, and a new reconciliation.

Never commits: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import bank, rules, service
from ledger.canonical import reconciliation_leaf_document
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.groups import utcnow
from ledger.idempotency import run_once
from ledger.log import Notary, add_leaf
from ledger.models import (
    BankLine,
    BankMatchLine,
    BankStatement,
    Entry,
    Group,
    Place,
    Posting,
    Reconciliation,
)
from ledger.money import format_amount, parse_balance

# A place whose last reconciliation is older than this (or that has statements and was
# never reconciled) is shown as not reconciled lately, in amber: banks send monthly
# statements, so a month and a half gives a month's statement time to arrive and be closed.
STALE_AFTER = timedelta(days=45)
# How many dates of unmatched lines a refusal names.
FIRST_DATES = 3


@dataclass(frozen=True, slots=True)
class ReconciliationView:
    """A reconciliation as the API, the pages and the audit statement show it."""

    seq: int  # its leaf in the log
    place: str  # the place's slug
    place_name: str
    through: date
    closing_balance: int
    currency: str
    lines: int
    sha256: str
    recorded_at: datetime


def view_of(row: Reconciliation, place: Place) -> ReconciliationView:
    return ReconciliationView(
        seq=row.seq,
        place=place.slug,
        place_name=place.name,
        through=row.through,
        closing_balance=row.closing_balance,
        currency=row.currency,
        lines=row.lines,
        sha256=row.sha256,
        recorded_at=row.recorded_at,
    )


@dataclass(frozen=True, slots=True)
class PlaceStanding:
    """Whether a place's books match the bank lately, for the public pages: its last
    reconciliation (None: never), and whether it has statements at all (a place without
    any, like a cash box, is not said to be unreconciled)."""

    place: Place
    last: ReconciliationView | None
    has_statements: bool
    stale: bool  # never reconciled though it has statements, or not for STALE_AFTER


async def balance_through(session: AsyncSession, group: Group, place: Place, day: date) -> int:
    """What the entries dated on or before ``day`` put in ``place``: their holding postings
    there, and moves out of it and into it."""
    held = await session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0))
        .join(Entry, Entry.id == Posting.entry_id)
        .where(
            Entry.group_id == group.id,
            bank.in_place(place),  # type: ignore[arg-type]
            Posting.account_type == rules.HOLDING,
            Entry.occurred_on <= day,
        )
    )
    moved_out = await session.scalar(
        select(func.coalesce(func.sum(Entry.moved), 0)).where(
            Entry.group_id == group.id,
            Entry.moved.is_not(None),
            bank.in_place(place),  # type: ignore[arg-type]
            Entry.occurred_on <= day,
        )
    )
    moved_in = await session.scalar(
        select(func.coalesce(func.sum(Entry.moved), 0)).where(
            Entry.group_id == group.id,
            Entry.to_place_id == place.id,
            Entry.occurred_on <= day,
        )
    )
    return int(held or 0) - int(moved_out or 0) + int(moved_in or 0)


async def covering_statement(
    session: AsyncSession, place: Place, day: date
) -> BankStatement | None:
    """The latest import of the place whose period holds ``day``."""
    result = await session.scalars(
        select(BankStatement)
        .where(
            BankStatement.place_id == place.id,
            BankStatement.starts_on <= day,
            BankStatement.ends_on >= day,
        )
        .order_by(BankStatement.id.desc())
        .limit(1)
    )
    return result.first()


async def unmatched_lines_through(
    session: AsyncSession, place: Place, day: date
) -> tuple[int, list[date]]:
    """How many of the place's lines booked on or before ``day`` are in no confirmed match,
    and the first few of their dates."""
    unmatched = (
        BankLine.place_id == place.id,
        BankLine.booked_on <= day,
        BankLine.id.not_in(select(BankMatchLine.line_id)),
    )
    count = int(await session.scalar(select(func.count()).where(*unmatched)) or 0)
    if not count:
        return 0, []
    dates = await session.scalars(
        select(BankLine.booked_on).where(*unmatched).order_by(BankLine.booked_on).limit(FIRST_DATES)
    )
    return count, list(dates)


def closing_day(statement: BankStatement) -> date | None:
    """The day a statement closes: the closing day it states, else its last line's day."""
    return statement.closing_on or statement.ends_on


async def next_closing_day(session: AsyncSession, place: Place) -> date | None:
    """The day the place's next reconciliation may close through, as the place page's form
    is filled in (its latest statement's closing day), or None when there is nothing new to
    close: no statement, or the place is reconciled through that day already. Whether the
    rule then holds (every line matched, the balance agreed) is ``close``'s to say."""
    latest = await bank.latest_statement(session, place)
    day = closing_day(latest) if latest is not None else None
    if day is None or (place.reconciled_through is not None and day <= place.reconciled_through):
        return None
    return day


async def lines_through(session: AsyncSession, place: Place, day: date) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(BankLine.place_id == place.id, BankLine.booked_on <= day)
        )
        or 0
    )


async def close(
    session: AsyncSession,
    group: Group,
    place_slug: str,
    through: date,
    closing_balance: str,
    *,
    recorded_by: int | None,
    notary: Notary | None = None,
    now: datetime | None = None,
) -> ReconciliationView:
    """Close the reconciliation of the place ``place_slug`` through ``through`` at the
    ``closing_balance`` (a decimal string, maybe zero or negative), or raise
    ``InvalidInput`` naming the field at fault without writing anything."""
    now = now or utcnow()
    log = await service.lock_log(session, group)
    places = await service.list_places(session, group)  # as of now, after the lock
    place = next((p for p in places if p.slug == place_slug), None)
    if place is None:
        raise NotFound(f"Group {group.slug!r} has no place {place_slug!r}.", field="place")
    balance = parse_balance(closing_balance, place.currency, field="closing_balance")
    if through > now.date():
        raise InvalidInput(
            f"{through.isoformat()} is still to come: a reconciliation closes a day the bank "
            "has booked.",
            field="through",
        )
    statement = await covering_statement(session, place, through)
    if statement is None:
        raise InvalidInput(
            f"No imported statement of the place {place.name!r} covers {through.isoformat()}: "
            "import the statement whose period holds that day first.",
            field="through",
        )
    count, first = await unmatched_lines_through(session, place, through)
    if count:
        raise InvalidInput(
            f"{count} bank line(s) of the place {place.name!r} dated on or before "
            f"{through.isoformat()} are not matched with entries yet (the first on "
            f"{', '.join(day.isoformat() for day in first)}): match them first.",
            field="through",
        )
    held = await balance_through(session, group, place, through)
    seq = log.size + 1
    # The rule of the log, as both verifiers apply it to this leaf.
    books = rules.Books(
        (),
        first=seq,
        places=(rules.PlaceTerms(p.slug, p.currency, p.allow_negative, p.name) for p in places),
        default_place=next((p.slug for p in places if p.is_default), None),
        reconciled={
            p.slug: p.reconciled_through.isoformat()
            for p in places
            if p.reconciled_through is not None
        },
        place_days={place.slug: {through.isoformat(): held}},
    )
    books.reconcile(place.slug, through, balance, place.currency)
    lines = await lines_through(session, place, through)
    document = reconciliation_leaf_document(
        group=group.slug,
        seq=seq,
        occurred_on=now.date(),
        recorded_at=now,
        place=place.slug,
        through=through,
        balance=balance,
        currency=place.currency,
        lines=lines,
        sha256=statement.sha256,
        prev=log.head_hash,
    )
    add_leaf(
        session,
        group,
        log,
        rules.RECONCILIATION,
        document,
        recorded_by=recorded_by,
        notary=notary,
        now=now,
    )
    row = Reconciliation(
        group_id=group.id,
        seq=seq,
        place_id=place.id,
        through=through,
        closing_balance=balance,
        currency=place.currency,
        lines=lines,
        statement_id=statement.id,
        sha256=statement.sha256,
        recorded_by=recorded_by,
        recorded_at=now,
    )
    session.add(row)
    place.reconciled_through = through
    await session.flush()
    return view_of(row, place)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request to close with a key came to (as ``ledger.idempotency.Outcome``)."""

    reconciliation: ReconciliationView | None
    refusal: LedgerError | None
    replayed: bool


async def close_once(
    session: AsyncSession,
    group: Group,
    place_slug: str,
    through: date,
    closing_balance: str,
    *,
    key: str,
    caller_id: int,
    notary: Notary | None = None,
    now: datetime | None = None,
) -> Outcome:
    """``close`` under the caller's ``key``, as entries are recorded once
    (``ledger.idempotency``): the first outcome, success or refusal, is given again to a
    retry with the same request; the same key for another request is refused."""
    digest = hashlib.sha256(
        msgspec.json.encode(
            {
                "reconcile": place_slug,
                "through": through.isoformat(),
                "closing_balance": closing_balance,
            }
        )
    ).hexdigest()
    found, refusal, replayed = await run_once(
        session,
        group,
        key=key,
        caller_id=caller_id,
        digest=digest,
        act=lambda at: close(
            session,
            group,
            place_slug,
            through,
            closing_balance,
            recorded_by=caller_id,
            notary=notary,
            now=at,
        ),
        kept=lambda seq: get_reconciliation(session, group, seq),
        now=now,
    )
    return Outcome(found, refusal, replayed)


async def get_reconciliation(session: AsyncSession, group: Group, seq: int) -> ReconciliationView:
    found = (
        await session.execute(
            select(Reconciliation, Place)
            .join(Place, Place.id == Reconciliation.place_id)
            .where(Reconciliation.group_id == group.id, Reconciliation.seq == seq)
        )
    ).one_or_none()
    if found is None:
        raise NotFound(f"Group {group.slug!r} has no reconciliation {seq}.")
    return view_of(found[0], found[1])


async def list_reconciliations(
    session: AsyncSession, group: Group, place: Place | None = None
) -> list[ReconciliationView]:
    """The group's reconciliations (or one place's), newest first."""
    query = (
        select(Reconciliation, Place)
        .join(Place, Place.id == Reconciliation.place_id)
        .where(Reconciliation.group_id == group.id)
        .order_by(Reconciliation.seq.desc())
    )
    if place is not None:
        query = query.where(Reconciliation.place_id == place.id)
    return [view_of(row, where) for row, where in (await session.execute(query)).all()]


async def standings(
    session: AsyncSession, group: Group, today: date, *, as_of: date | None = None
) -> list[PlaceStanding]:
    """Per place of the group (the default first), its last reconciliation and whether it
    is stale on ``today``: what the group page and the audit statement say of each place.
    ``as_of``: only reconciliations through that day or before count (an audit statement
    of an earlier period says what was known at its end)."""
    places = await service.list_places(session, group)
    last: dict[str, ReconciliationView] = {}
    for each in await list_reconciliations(session, group):
        if as_of is None or each.through <= as_of:
            last.setdefault(each.place, each)
    with_statements = set(
        await session.scalars(
            select(BankStatement.place_id).where(BankStatement.group_id == group.id).distinct()
        )
    )
    found = []
    for place in places:
        view = last.get(place.slug)
        has = place.id in with_statements
        stale = (view is None and has) or (view is not None and today - view.through > STALE_AFTER)
        found.append(PlaceStanding(place, view, has, stale))
    return found


def describe(view: ReconciliationView) -> str:
    """One line for a log or a terminal."""
    return (
        f"{view.place} reconciled through {view.through.isoformat()} at "
        f"{format_amount(view.closing_balance, view.currency)} {view.currency} "
        f"({view.lines} line(s); statement {view.sha256[:12]}...; entry {view.seq})"
    )

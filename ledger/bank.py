"""A place's bank statements, stored, and matched with the ledger's entries.

Importing (``read_for_place`` then ``store_statement``) is all or nothing: the file is read
whole first (``ledger.statements``), and only then are its lines stored, each once per place
by fingerprint, so a re-import or an overlapping file adds only what is new. The file's
bytes are kept by the caller in the file store under their SHA-256, never in the database.

Matching (``statement_lines``, ``confirm_match``, ``reject_suggestion``) applies the pure
rules of ``ledger.matching`` to the place's entries; ``donation_from_line`` turns an
unmatched credit into a donation through the ledger's one append path and matches them. The
bank's names and texts stay here: nothing of a line enters the log but its amount and date.

Never commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import attachments, rules, service
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.groups import utcnow
from ledger.log import Notary
from ledger.matching import (
    DEFAULT_WINDOW_DAYS,
    Candidate,
    LineText,
    Matcher,
    Suggestion,
    check_match,
    check_window,
)
from ledger.models import (
    BankLine,
    BankMatch,
    BankMatchEntry,
    BankMatchLine,
    BankMatchUndo,
    BankStatement,
    Entry,
    Group,
    Place,
    Posting,
    Reconciliation,
    RejectedSuggestion,
    StatementSettings,
    StatementWithdrawal,
)
from ledger.money import format_amount
from ledger.schemas import DonationIn
from ledger.statements import (
    CsvMapping,
    Statement,
    StatementLine,
    detect_format,
    mapping_from_json,
    parse_statement,
)

MATCHED, SUGGESTED, UNMATCHED = "matched", "suggested", "unmatched"
STATUSES = (MATCHED, SUGGESTED, UNMATCHED)
# Lines stored per SQLite INSERT (and per step of a terminal's progress bar).
INSERT_CHUNK = 2000


# --- places and their settings -----------------------------------------------------------


async def settings_of(session: AsyncSession, place: Place) -> StatementSettings | None:
    return await session.get(StatementSettings, place.id)


def window_of(settings: StatementSettings | None) -> int:
    if settings is None or settings.match_window_days is None:
        return DEFAULT_WINDOW_DAYS
    return settings.match_window_days


def saved_mapping(settings: StatementSettings | None) -> CsvMapping | None:
    if settings is None or settings.csv_mapping is None:
        return None
    return mapping_from_json(settings.csv_mapping)


async def change_settings(
    session: AsyncSession,
    place: Place,
    *,
    mapping: CsvMapping | None = None,
    window_days: int | None = None,
    now: datetime | None = None,
) -> StatementSettings:
    """Save the place's CSV mapping and/or its matching window (None: left as it is)."""
    settings = await settings_of(session, place)
    if settings is None:
        settings = StatementSettings(place_id=place.id, group_id=place.group_id)
        session.add(settings)
    if mapping is not None:
        settings.csv_mapping = mapping.to_json().decode()
    if window_days is not None:
        settings.match_window_days = check_window(window_days)
    settings.updated_at = now or utcnow()
    await session.flush()
    return settings


# --- import ------------------------------------------------------------------------------


def read_for_place(
    data: bytes,
    place: Place,
    *,
    format: str | None = None,
    mapping: CsvMapping | None = None,
) -> Statement:
    """The file read whole for ``place`` (its currency), or ``StatementError``. Pure and
    slow on a long file: a server runs it in a worker thread."""
    return parse_statement(data, currency=place.currency, format=format or None, mapping=mapping)


def detect(data: bytes) -> str | None:
    """The structured format the content is in (None: CSV, or nothing this reads)."""
    found = detect_format(data)
    return found.value if found else None


@dataclass(frozen=True, slots=True)
class Imported:
    statement: BankStatement
    new_lines: int


async def store_statement(
    session: AsyncSession,
    group: Group,
    place: Place,
    statement: Statement,
    *,
    imported_by: int | None,
    mapping: CsvMapping | None = None,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> Imported:
    """Store a statement read for ``place``: a row for the import, and each line the place
    has not had yet (by fingerprint). With ``mapping`` (a CSV import that sent one), the
    mapping is saved as the place's. ``progress`` is told how many lines each step
    stored (a terminal's progress bar)."""
    now = now or utcnow()
    # One import of a group at a time: two overlapping files never race on a fingerprint.
    await service.lock_log(session, group)
    known: set[str] = set()
    if statement.lines:
        first = min(line.booked_on for line in statement.lines)
        last = max(line.booked_on for line in statement.lines)
        known = set(
            await session.scalars(
                select(BankLine.fingerprint).where(
                    BankLine.place_id == place.id,
                    BankLine.booked_on >= first,
                    BankLine.booked_on <= last,
                )
            )
        )
    fresh = []
    for line in statement.lines:
        if line.fingerprint not in known:
            known.add(line.fingerprint)
            fresh.append(line)
    row = BankStatement(
        group_id=group.id,
        place_id=place.id,
        sha256=statement.sha256,
        format=statement.format.value,
        variant=statement.variant,
        starts_on=statement.starts_on,
        ends_on=statement.ends_on,
        opening_on=statement.opening.on if statement.opening else None,
        opening=statement.opening.amount if statement.opening else None,
        closing_on=statement.closing.on if statement.closing else None,
        closing=statement.closing.amount if statement.closing else None,
        lines=len(statement.lines),
        new_lines=len(fresh),
        imported_by=imported_by,
        imported_at=now,
    )
    session.add(row)
    await session.flush()
    known_count = len(statement.lines) - len(fresh)
    if progress is not None and known_count:
        progress(known_count)
    await insert_lines(session, group.id, place.id, row.id, fresh, progress=progress)
    if mapping is not None:
        await change_settings(session, place, mapping=mapping, now=now)
    return Imported(row, len(fresh))


_LINE_COLUMNS = (
    "group_id",
    "place_id",
    "statement_id",
    "fingerprint",
    "booked_on",
    "value_on",
    "amount",
    "currency",
    "counterparty",
    "reference",
    "description",
    "source",
)
_INSERT_LINES_SQLITE = (
    f"INSERT INTO bank_lines ({', '.join(_LINE_COLUMNS)}) "  # noqa: S608 (our own names)
    f"VALUES ({', '.join('?' for _ in _LINE_COLUMNS)})"
)


def _line_rows(
    group_id: int,
    place_id: int,
    statement_id: int,
    lines: Sequence[StatementLine],
    *,
    days_as_text: bool = False,
) -> list[tuple[Any, ...]]:
    """Rows of ``bank_lines`` for a statement's lines, values in ``_LINE_COLUMNS`` order;
    ``source`` says where in the file a line was (its line, or its element). With
    ``days_as_text``, days are written as SQLAlchemy's ``Date`` writes them for SQLite
    (``YYYY-MM-DD``). A statement has few distinct days: each is written once, and the
    rows are built in one pass (building them was a quarter of storing them on SQLite)."""
    days: dict[date | None, date | str | None] = {
        day: day.isoformat() if days_as_text and day else day
        for day in {line.booked_on for line in lines} | {line.value_on for line in lines}
    }
    return [
        (
            group_id,
            place_id,
            statement_id,
            line.fingerprint,
            days[line.booked_on],
            days[line.value_on],
            line.amount,
            line.currency,
            line.counterparty,
            line.reference,
            line.description,
            f"line {line.line}" if line.line is not None else (line.element or "")[:200] or None,
        )
        for line in lines
    ]


async def insert_lines(
    session: AsyncSession,
    group_id: int,
    place_id: int,
    statement_id: int,
    lines: Sequence[StatementLine],
    *,
    progress: Callable[[int], object] | None = None,
) -> None:
    """Insert statement lines as rows of ``bank_lines`` in the session's transaction,
    handed to the driver as they are: SQLAlchemy's processing of each row's parameters was
    most of an import's storing time (bench import). ``progress`` is told each
    ``INSERT_CHUNK`` lines stored.

    PostgreSQL takes all the lines in one COPY, the rows made as it reads them: each COPY
    costs the server a start of its own, which a 50,000-line file sent in chunks paid 25
    times (50,000 rows with only a primary key: 408 ms in 25 COPYs, 210 ms in one).
    SQLite stores days as SQLAlchemy's ``Date`` does, ``YYYY-MM-DD``, in one
    ``executemany`` a chunk."""

    connection = await session.connection()
    postgresql = connection.dialect.name == "postgresql"

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        for start in range(0, len(lines), INSERT_CHUNK):
            chunk = lines[start : start + INSERT_CHUNK]
            yield _line_rows(group_id, place_id, statement_id, chunk, days_as_text=not postgresql)
            if progress is not None:
                progress(len(chunk))

    if postgresql:
        raw: Any = (await connection.get_raw_connection()).driver_connection
        records = (row for rows in chunks() for row in rows)
        await raw.copy_records_to_table("bank_lines", records=records, columns=_LINE_COLUMNS)
        return
    for rows in chunks():
        await connection.exec_driver_sql(_INSERT_LINES_SQLITE, rows)


async def reconciled_through(session: AsyncSession, place: Place) -> date | None:
    """The day the place's books are reconciled through, read under the log's lock: the
    ``place`` loaded before the lock may predate a reconciliation closed meanwhile."""
    return await session.scalar(select(Place.reconciled_through).where(Place.id == place.id))


async def latest_statement(session: AsyncSession, place: Place) -> BankStatement | None:
    """The place's latest import: the one that can be withdrawn, and what the close form
    is filled in from (its closing day and balance, when the file states them)."""
    result = await session.scalars(
        select(BankStatement)
        .where(BankStatement.place_id == place.id)
        .order_by(BankStatement.id.desc())
        .limit(1)
    )
    return result.first()


async def withdrawal_refusal(
    session: AsyncSession, place: Place, statement: BankStatement
) -> str | None:
    """Why the import cannot be withdrawn, or None when it can: the page asks before it
    offers the form, and ``withdraw_statement`` asks again under the log's lock."""
    latest = await latest_statement(session, place)
    if latest is None or latest.id != statement.id:
        return (
            "Only the place's latest import can be withdrawn: later files skipped the lines "
            "this one brought."
        )
    if await session.scalar(
        select(func.count())
        .select_from(Reconciliation)
        .where(Reconciliation.statement_id == statement.id)
    ):
        return "A reconciliation was closed against this import: it stays."
    brought = select(BankLine.id).where(BankLine.statement_id == statement.id)
    through = await reconciled_through(session, place)
    if through is not None:
        reconciled = await session.scalar(
            select(func.count())
            .select_from(BankLine)
            .where(BankLine.statement_id == statement.id, BankLine.booked_on <= through)
        )
        if reconciled:
            return (
                f"{reconciled} of its lines are on days the books are reconciled through "
                f"({through.isoformat()}): the import stays."
            )
    matched = await session.scalar(
        select(func.count()).select_from(BankMatchLine).where(BankMatchLine.line_id.in_(brought))
    )
    if matched:
        return f"{matched} of its lines matched: undo those matches first."
    # A match undone stays on record, naming its line: the line, and so the import, stays.
    undone = await session.scalar(
        select(func.count(BankMatchUndo.line_id.distinct())).where(
            BankMatchUndo.line_id.in_(brought)
        )
    )
    if undone:
        return (
            f"{undone} of its lines were matched before (the record of it stays): the import stays."
        )
    return None


async def withdraw_statement(
    session: AsyncSession,
    group: Group,
    place: Place,
    statement: BankStatement,
    *,
    withdrawn_by: int | None,
    now: datetime | None = None,
) -> StatementWithdrawal:
    """Withdraw an import made by mistake (the wrong file, or the wrong place): its row and
    the lines it brought are deleted, with the suggestions rejected for them; the record of
    it stays (``StatementWithdrawal``), and its file leaves the store once this is
    committed (``withdrawn_hashes``). Only the place's latest import, and only while
    nothing rests on it: no line of it matched now or before, none on a day a
    reconciliation closed, no reconciliation closed against it. (A later import skips the
    lines an earlier one brought, so withdrawing an earlier one would take lines that a
    later file holds too.)"""
    await service.lock_log(session, group)
    refusal = await withdrawal_refusal(session, place, statement)
    if refusal is not None:
        raise Conflict(refusal, field="statement")
    brought = select(BankLine.id).where(BankLine.statement_id == statement.id)
    record = StatementWithdrawal(
        group_id=group.id,
        place_id=place.id,
        statement_id=statement.id,
        sha256=statement.sha256,
        format=statement.format,
        starts_on=statement.starts_on,
        ends_on=statement.ends_on,
        lines=statement.lines,
        new_lines=statement.new_lines,
        imported_by=statement.imported_by,
        imported_at=statement.imported_at,
        withdrawn_by=withdrawn_by,
        withdrawn_at=now or utcnow(),
    )
    session.add(record)
    await session.execute(delete(RejectedSuggestion).where(RejectedSuggestion.line_id.in_(brought)))
    await session.execute(delete(BankLine).where(BankLine.statement_id == statement.id))
    await session.delete(statement)
    await session.flush()
    return record


async def withdrawn_hashes(session: AsyncSession) -> list[str]:
    """The files of withdrawn imports that no import and no attachment still keeps: none
    of them may stay in the store (they name people the group may have nothing to do
    with)."""
    rows = await session.scalars(
        select(StatementWithdrawal.sha256)
        .where(
            StatementWithdrawal.sha256.not_in(select(BankStatement.sha256)),
            StatementWithdrawal.sha256.not_in(attachments.kept_hashes()),
        )
        .distinct()
    )
    return sorted(rows)


async def list_statements(session: AsyncSession, place: Place) -> list[BankStatement]:
    """The place's imports, newest first."""
    result = await session.scalars(
        select(BankStatement)
        .where(BankStatement.place_id == place.id)
        .order_by(BankStatement.id.desc())
    )
    return list(result)


async def get_statement(session: AsyncSession, place: Place, statement_id: int) -> BankStatement:
    row = await session.get(BankStatement, statement_id)
    if row is None or row.place_id != place.id:
        raise NotFound(f"The place {place.name!r} has no statement {statement_id}.")
    return row


# --- the place's entries, as matching sees them ----------------------------------------


def in_place(place: Place) -> object:
    """Entries whose money is in ``place`` (those naming no place are in the default one)."""
    if place.is_default:
        return or_(Entry.place_id == place.id, Entry.place_id.is_(None))
    return Entry.place_id == place.id


async def candidates(
    session: AsyncSession,
    group: Group,
    place: Place,
    *,
    since: date | None = None,
    until: date | None = None,
    seqs: Sequence[int] | Any | None = None,
) -> list[Candidate]:
    """The place's entries that move money there, with their signed amount in the place:
    what their holding postings add up to, or for a move, what it took out or brought in."""
    dated = []
    if since is not None:
        dated.append(Entry.occurred_on >= since)
    if until is not None:
        dated.append(Entry.occurred_on <= until)
    if seqs is not None:
        dated.append(Entry.seq.in_(seqs))
    held = (
        select(
            Entry.seq,
            Entry.occurred_on,
            Entry.proposal_number,
            Entry.counterparty,
            func.sum(Posting.amount),
        )
        .join(Posting, Posting.entry_id == Entry.id)
        .where(
            Entry.group_id == group.id,
            in_place(place),  # type: ignore[arg-type]
            Posting.account_type == rules.HOLDING,
            *dated,
        )
        # By id first: grouped by seq, SQLite (which has no statistics: the app runs no
        # ANALYZE) walked the group's entries in the order of its key by seq, every one of
        # them, rather than only the days asked for by the index by day: 34 ms instead of
        # 1 ms for a page of lines at 50,000 entries (bench matching).
        .group_by(Entry.id, Entry.seq, Entry.occurred_on, Entry.proposal_number, Entry.counterparty)
    )
    found = [
        Candidate(seq, int(amount), day, proposal, counterparty)
        for seq, day, proposal, counterparty, amount in await session.execute(held)
        if amount
    ]
    moves = select(
        Entry.seq, Entry.occurred_on, Entry.place_id, Entry.to_place_id, Entry.moved
    ).where(
        Entry.group_id == group.id,
        Entry.moved.is_not(None),
        or_(in_place(place), Entry.to_place_id == place.id),  # type: ignore[arg-type]
        *dated,
    )
    for seq, day, _, to_id, moved in await session.execute(moves):
        amount = int(moved or 0)
        found.append(Candidate(seq, amount if to_id == place.id else -amount, day))
    return found


# --- lines and their status ----------------------------------------------------------------


class MatchView(msgspec.Struct, frozen=True, gc=False):
    id: int
    entries: tuple[int, ...]
    complete: bool


class UndoneMatch(msgspec.Struct, frozen=True, gc=False):
    """A match the line was taken out of: the entries it named, and when."""

    entries: tuple[int, ...]
    undone_at: datetime


class Rejection(msgspec.Struct, frozen=True, gc=False):
    """An entry a steward said is not the line: it is not suggested for it, until a steward
    takes the rejection back."""

    seq: int
    rejected_at: datetime


class LineView(msgspec.Struct, frozen=True, gc=False):
    line: BankLine | Any  # the ORM object, or a row of bank_lines with the same names
    status: str
    match: MatchView | None = None
    suggestions: tuple[Suggestion, ...] = ()
    undone: tuple[UndoneMatch, ...] = ()
    rejected: tuple[Rejection, ...] = ()


def _lines_of(lines: Sequence[BankLine | Any]) -> Any:
    """The bank lines of ``lines``' place and days: a range the indexes find, where a list
    of 50,000 ids would be a long IN."""
    return and_(
        BankLine.place_id == lines[0].place_id,
        BankLine.booked_on >= min(line.booked_on for line in lines),
        BankLine.booked_on <= max(line.booked_on for line in lines),
    )


def _matches_around(lines: Sequence[BankLine | Any]) -> Any:
    """The matches of any line in ``lines``' place and days (a subquery)."""
    return (
        select(BankMatchLine.match_id)
        .join(BankLine, BankLine.id == BankMatchLine.line_id)
        .where(_lines_of(lines))
    )


async def _matches_of_lines(
    session: AsyncSession, lines: Sequence[BankLine | Any]
) -> dict[int, MatchView]:
    if not lines:
        return {}
    pairs = (
        await session.execute(
            select(BankMatchLine.line_id, BankMatchLine.match_id).where(
                BankMatchLine.match_id.in_(_matches_around(lines))
            )
        )
    ).all()
    if not pairs:
        return {}
    entries: dict[int, list[int]] = {}
    for match_id, seq in await session.execute(
        select(BankMatchEntry.match_id, BankMatchEntry.entry_seq)
        .where(BankMatchEntry.match_id.in_(_matches_around(lines)))
        .order_by(BankMatchEntry.entry_seq)
    ):
        entries.setdefault(match_id, []).append(seq)
    return {
        line_id: MatchView(match_id, tuple(entries.get(match_id, ())), False)
        for line_id, match_id in pairs
    }


async def statement_lines(
    session: AsyncSession, group: Group, place: Place, statement: BankStatement
) -> list[LineView]:
    """The place's lines in the statement's period (those of earlier imports too), in date
    order, each with its status: ``matched`` (in a confirmed match), ``suggested`` (entries
    that may be it, best first) or ``unmatched``."""
    return (await statement_lines_page(session, group, place, statement)).views


class LinesPage(msgspec.Struct, frozen=True, gc=False):
    """Some of a statement's lines, and whether more (of the status asked for) follow."""

    views: list[LineView]
    more: bool


# Lines read at a time for a page of one status: most of them may be of another.
_PAGE_PART = 500


async def statement_lines_page(
    session: AsyncSession,
    group: Group,
    place: Place,
    statement: BankStatement,
    *,
    after: int | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> LinesPage:
    """``statement_lines`` from the one after line ``after`` (by day, then id, whatever
    its status), of ``status`` only when given, at most ``limit`` of them. A line's view
    depends on that line alone, so only the lines read are viewed: a page of a 50,000-line
    statement costs a page, not the whole statement (``bench matching``)."""
    if statement.starts_on is not None and statement.ends_on is not None:
        where = and_(
            BankLine.place_id == place.id,
            BankLine.booked_on >= statement.starts_on,
            BankLine.booked_on <= statement.ends_on,
        )
    else:
        where = BankLine.statement_id == statement.id
    cursor: Any = None
    if after is not None:
        cursor = (
            await session.execute(
                select(BankLine.booked_on, BankLine.id).where(where, BankLine.id == after)
            )
        ).first()
        if cursor is None:
            raise InvalidInput(f"Line {after} is not in this statement's period.", field="after")
    # Without a status every line read is kept: one more than the page tells whether more
    # follow. With a status, read on part by part until the page is full.
    part = None if limit is None else limit + 1 if status is None else max(limit + 1, _PAGE_PART)
    kept: list[LineView] = []
    while True:
        query = select(*BankLine.__table__.columns).where(where)
        if cursor is not None:
            # The plain bound lets the index start at the cursor's day.
            query = query.where(
                BankLine.booked_on >= cursor.booked_on,
                or_(
                    BankLine.booked_on > cursor.booked_on,
                    and_(BankLine.booked_on == cursor.booked_on, BankLine.id > cursor.id),
                ),
            )
        # Rows, not ORM objects: a statement may have 50,000 lines, read-only here.
        lines = list(
            (
                await session.execute(query.order_by(BankLine.booked_on, BankLine.id).limit(part))
            ).all()
        )
        views = await views_of(session, group, place, lines)
        kept += [view for view in views if status in (None, view.status)]
        if limit is None or part is None:
            return LinesPage(kept, more=False)
        if len(kept) > limit or len(lines) < part:
            return LinesPage(kept[:limit], more=len(kept) > limit)
        cursor = lines[-1]


async def views_of(
    session: AsyncSession, group: Group, place: Place, lines: Sequence[BankLine | Any]
) -> list[LineView]:
    """Each line with its status. ``lines``: ORM objects or rows of ``bank_lines``."""
    if not lines:
        return []
    matches = await _matches_of_lines(session, lines)
    # A match is complete when its lines add up to its entries.
    complete: dict[int, bool] = {}
    if matches:
        around = _matches_around(lines)
        totals = await session.execute(
            select(BankMatchLine.match_id, func.sum(BankLine.amount))
            .join(BankLine, BankLine.id == BankMatchLine.line_id)
            .where(BankMatchLine.match_id.in_(around))
            .group_by(BankMatchLine.match_id)
        )
        line_totals = {match_id: total for match_id, total in totals}
        seqs = select(BankMatchEntry.entry_seq).where(BankMatchEntry.match_id.in_(around))
        amounts = {c.seq: c.amount for c in await candidates(session, group, place, seqs=seqs)}
        for view in matches.values():
            complete[view.id] = int(line_totals.get(view.id, 0)) == sum(
                amounts.get(seq, 0) for seq in view.entries
            )
    window = window_of(await settings_of(session, place))
    open_lines = [line for line in lines if line.id not in matches]
    suggestions: dict[int, tuple[Suggestion, ...]] = {}
    rejected = await _rejections(session, open_lines)
    if open_lines:
        first = min(line.booked_on for line in open_lines) - timedelta(days=window)
        last = max(line.booked_on for line in open_lines) + timedelta(days=window)
        taken = select(BankMatchEntry.entry_seq).where(BankMatchEntry.group_id == group.id)
        taken_seqs = set(await session.scalars(taken))
        matcher = Matcher(
            (
                c
                for c in await candidates(session, group, place, since=first, until=last)
                if c.seq not in taken_seqs
            ),
            window,
        )
        found = matcher.suggest_all(
            [
                LineText.of(line.amount, line.booked_on, line.reference, line.description)
                for line in open_lines
            ],
            [{r.seq for r in rejected.get(line.id, ())} for line in open_lines],
        )
        suggestions = {line.id: best for line, best in zip(open_lines, found, strict=True)}
    undone = await _undone_matches(session, lines)
    views = []
    for line in lines:
        match = matches.get(line.id)
        taken_back = undone.get(line.id, ())
        if match is not None:
            views.append(
                LineView(
                    line,
                    MATCHED,
                    MatchView(match.id, match.entries, complete.get(match.id, False)),
                    undone=taken_back,
                )
            )
        elif suggestions.get(line.id):
            views.append(
                LineView(
                    line,
                    SUGGESTED,
                    suggestions=suggestions[line.id],
                    undone=taken_back,
                    rejected=rejected.get(line.id, ()),
                )
            )
        else:
            views.append(
                LineView(line, UNMATCHED, undone=taken_back, rejected=rejected.get(line.id, ()))
            )
    return views


async def _rejections(
    session: AsyncSession, lines: Sequence[BankLine | Any]
) -> dict[int, tuple[Rejection, ...]]:
    """The entries rejected for each of ``lines``, in the order they were rejected. Only
    open lines need them (a matched line is suggested nothing)."""
    if not lines:
        return {}
    wanted = {line.id for line in lines}
    found: dict[int, list[Rejection]] = {}
    for line_id, seq, rejected_at in await session.execute(
        select(
            RejectedSuggestion.line_id, RejectedSuggestion.entry_seq, RejectedSuggestion.rejected_at
        )
        .join(BankLine, BankLine.id == RejectedSuggestion.line_id)
        .where(_lines_of(lines))
        .order_by(RejectedSuggestion.rejected_at, RejectedSuggestion.entry_seq)
    ):
        if line_id in wanted:
            found.setdefault(line_id, []).append(Rejection(seq, rejected_at))
    return {line_id: tuple(rejections) for line_id, rejections in found.items()}


async def _undone_matches(
    session: AsyncSession, lines: Sequence[BankLine | Any]
) -> dict[int, tuple[UndoneMatch, ...]]:
    """The matches each of ``lines`` was taken out of, oldest first (few: most lines have
    none)."""
    wanted = {line.id for line in lines}
    found: dict[int, list[UndoneMatch]] = {}
    for line_id, entries, undone_at in await session.execute(
        select(BankMatchUndo.line_id, BankMatchUndo.entries, BankMatchUndo.undone_at)
        .join(BankLine, BankLine.id == BankMatchUndo.line_id)
        .where(_lines_of(lines))
        .order_by(BankMatchUndo.id)
    ):
        if line_id in wanted:
            seqs = tuple(int(seq) for seq in entries.split(",") if seq)
            found.setdefault(line_id, []).append(UndoneMatch(seqs, undone_at))
    return {line_id: tuple(undos) for line_id, undos in found.items()}


async def get_line(
    session: AsyncSession, place: Place, statement: BankStatement, line_id: int
) -> BankLine:
    line = await session.get(BankLine, line_id)
    if line is None or line.place_id != place.id:
        raise NotFound(f"The statement {statement.id} has no line {line_id}.")
    return line


async def find_line(
    session: AsyncSession, group: Group, place_slug: str, statement_id: int, line_id: int
) -> tuple[Place, BankLine]:
    """A line of a place's statement, by the numbers in its address, with its place."""
    place = await service.get_place(session, group, place_slug)
    statement = await get_statement(session, place, statement_id)
    return place, await get_line(session, place, statement, line_id)


def _unmatched_debit() -> ColumnElement[bool]:
    """A bank line of money out with no entry matched to it yet."""
    return and_(BankLine.amount < 0, BankLine.id.not_in(select(BankMatchLine.line_id)))


async def unmatched_debits(
    session: AsyncSession, place: Place, *, limit: int
) -> tuple[int, list[BankLine]]:
    """Money that left the place by the bank's word with no entry matched to it yet: how
    many lines, and the oldest ``limit`` of them."""
    where = and_(BankLine.place_id == place.id, _unmatched_debit())
    count = await session.scalar(select(func.count()).select_from(BankLine).where(where))
    result = await session.scalars(
        select(BankLine).where(where).order_by(BankLine.booked_on, BankLine.id).limit(limit)
    )
    return count or 0, list(result)


# --- confirming, rejecting, donations ------------------------------------------------------


async def confirm_match(
    session: AsyncSession,
    group: Group,
    place: Place,
    line: BankLine,
    seqs: Sequence[int],
    *,
    confirmed_by: int | None,
    now: datetime | None = None,
) -> BankMatch:
    """Confirm that ``line`` is the money of the entries ``seqs``. When those entries are
    already matched (together, to other lines), the line joins that match: one entry may
    cover several lines. Their amounts must add up (``ledger.matching.check_match``)."""
    await service.lock_log(session, group)
    wanted = sorted(set(seqs))
    if not wanted:
        raise InvalidInput("Name at least one entry.", field="entries")
    if await session.get(BankMatchLine, line.id) is not None:
        raise Conflict("This bank line is matched already.", field="line")
    amounts = {c.seq: c.amount for c in await candidates(session, group, place, seqs=wanted)}
    missing = [seq for seq in wanted if seq not in amounts]
    if missing:
        raise InvalidInput(
            f"Entry {missing[0]} moves no money in the place {place.name!r}.", field="entries"
        )
    held = (
        await session.execute(
            select(BankMatchEntry.entry_seq, BankMatchEntry.match_id).where(
                BankMatchEntry.group_id == group.id, BankMatchEntry.entry_seq.in_(wanted)
            )
        )
    ).all()
    match: BankMatch | None = None
    if held:
        match_ids = {match_id for _, match_id in held}
        in_match = set(
            await session.scalars(
                select(BankMatchEntry.entry_seq).where(BankMatchEntry.match_id.in_(match_ids))
            )
        )
        if len(match_ids) > 1 or in_match != set(wanted):
            raise Conflict(
                f"Entry {held[0][0]} is matched already with other bank lines; name the same "
                "entries to add this line to that match.",
                field="entries",
            )
        match = await session.get(BankMatch, held[0][1])
        assert match is not None
        earlier = list(
            await session.scalars(
                select(BankLine.amount)
                .join(BankMatchLine, BankMatchLine.line_id == BankLine.id)
                .where(BankMatchLine.match_id == match.id)
            )
        )
        check_match([*earlier, line.amount], [amounts[seq] for seq in wanted])
    else:
        check_match([line.amount], [amounts[seq] for seq in wanted])
        match = BankMatch(
            group_id=group.id,
            place_id=place.id,
            confirmed_by=confirmed_by,
            confirmed_at=now or utcnow(),
        )
        session.add(match)
        await session.flush()
        session.add_all(
            BankMatchEntry(match_id=match.id, group_id=group.id, entry_seq=seq) for seq in wanted
        )
    session.add(BankMatchLine(line_id=line.id, match_id=match.id))
    await session.flush()
    return match


async def undo_match(
    session: AsyncSession,
    group: Group,
    place: Place,
    line: BankLine,
    *,
    undone_by: int | None,
    now: datetime | None = None,
) -> BankMatchUndo:
    """Take ``line`` out of its confirmed match (the wrong entry was confirmed): the line is
    open again and its match loses it; a match left with no line is gone, and its entries
    are free to match other lines. Refused once a reconciliation closed over the line's day:
    the match is part of that proof. What was confirmed, by whom and when, stays on record
    (``BankMatchUndo``)."""
    await service.lock_log(session, group)
    held = await session.get(BankMatchLine, line.id)
    if held is None:
        raise Conflict("This bank line is not matched.", field="line")
    through = await reconciled_through(session, place)
    if through is not None and line.booked_on <= through:
        raise Conflict(
            f"The books of {place.name} are reconciled through {through.isoformat()}: this "
            "line's match is part of that proof and stays. A mistake is corrected with a "
            "new entry and a new reconciliation.",
            field="line",
        )
    match = await session.get(BankMatch, held.match_id)
    assert match is not None  # a foreign key
    seqs = list(
        await session.scalars(
            select(BankMatchEntry.entry_seq)
            .where(BankMatchEntry.match_id == match.id)
            .order_by(BankMatchEntry.entry_seq)
        )
    )
    undo = BankMatchUndo(
        group_id=group.id,
        line_id=line.id,
        entries=",".join(str(seq) for seq in seqs),
        confirmed_by=match.confirmed_by,
        confirmed_at=match.confirmed_at,
        undone_by=undone_by,
        undone_at=now or utcnow(),
    )
    session.add(undo)
    await session.delete(held)
    await session.flush()
    others = await session.scalar(
        select(func.count()).select_from(BankMatchLine).where(BankMatchLine.match_id == match.id)
    )
    if not others:
        await session.execute(delete(BankMatchEntry).where(BankMatchEntry.match_id == match.id))
        await session.delete(match)
        await session.flush()
    return undo


async def reject_suggestion(
    session: AsyncSession,
    line: BankLine,
    seq: int,
    *,
    rejected_by: int | None,
    now: datetime | None = None,
) -> None:
    """The entry ``seq`` is not this line: never suggest it for the line again."""
    if await session.get(RejectedSuggestion, (line.id, seq)) is None:
        session.add(
            RejectedSuggestion(
                line_id=line.id, entry_seq=seq, rejected_by=rejected_by, rejected_at=now or utcnow()
            )
        )
        await session.flush()


async def restore_suggestion(session: AsyncSession, line: BankLine, seq: int) -> None:
    """Take back a rejection made by mistake: the entry ``seq`` may be suggested for the
    line again. Nothing else changes: a rejection is the stewards' working note, not part
    of any record, so taking it back leaves none either."""
    rejection = await session.get(RejectedSuggestion, (line.id, seq))
    if rejection is None:
        raise NotFound(f"Entry {seq} was not rejected for this line.", field="entry")
    await session.delete(rejection)
    await session.flush()


DONATION_MEMO = "Received in the bank"


async def donation_from_line(
    session: AsyncSession,
    group: Group,
    place: Place,
    line: BankLine,
    fund: str,
    *,
    recorded_by: int | None,
    notary: Notary | None = None,
    dates: rules.DateWindow = rules.DEFAULT_DATES,
    now: datetime | None = None,
) -> Entry:
    """Record an unmatched credit as a donation to ``fund`` in the line's place, on the
    line's booking date, matched to the line. The donor's name stays on the bank line
    (private): the entry names no counterparty."""
    await service.lock_log(session, group)
    if line.amount <= 0:
        raise InvalidInput("Only money in can be a donation.", field="line")
    if await session.get(BankMatchLine, line.id) is not None:
        raise Conflict("This bank line is matched already.", field="line")
    entry = await service.record_entry(
        session,
        group,
        DonationIn(
            fund=fund,
            amount=format_amount(line.amount, line.currency),
            place=place.slug,
            occurred_on=line.booked_on,
            memo=DONATION_MEMO,
        ),
        recorded_by=recorded_by,
        notary=notary,
        now=now,
        dates=dates,
    )
    await confirm_match(session, group, place, line, [entry.seq], confirmed_by=recorded_by, now=now)
    return entry


async def unmatched_debit_counts(session: AsyncSession, group: Group) -> list[tuple[Place, int]]:
    """Per place of the group, how many bank lines of money out have no entry matched yet
    (places with none left out)."""
    rows = await session.execute(
        select(BankLine.place_id, func.count())
        .where(BankLine.group_id == group.id, _unmatched_debit())
        .group_by(BankLine.place_id)
    )
    counts = {place_id: int(count) for place_id, count in rows}
    if not counts:
        return []
    places = await service.list_places(session, group)
    return [(place, counts[place.id]) for place in places if place.id in counts]

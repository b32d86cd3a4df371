"""Bulk generator of large, valid ledgers: a million entries in a minute or two.

Appending through ``ledger.service.record_entry`` costs a few milliseconds per entry, so a
1,000,000-entry group would take most of an hour. This module writes the same rows directly:
it builds every entry with the ledger's own pieces, exactly as ``record_entry`` does

- the postings from ``ledger.rules`` (``donation``, ``disbursement``, ``transfer``,
  ``reversal``), so account names and signs are the service's own;
- the leaf with ``ledger.canonical.leaf_document`` and ``canonical_json``, the hash with
  ``leaf_hash_hex``, chained through ``prev``;
- the Merkle tree's compact range, carried as ``ledger.merkle.CompactRange.append`` does;
- no fund ever goes below zero (checked per entry, as ``rules.Books`` does);
  reversals name a recent entry that is neither a reversal nor reversed already;

and inserts them with Core ``insert()`` statements, compiled once and sent as driver-level
executemany in large batches, then stores the
funds' balances and the log's head, size and compact range. With a ``notary`` it signs one
checkpoint of the final tree (the service signs one per entry; the latest is what counts).
``ledger.verify.verify_group`` says ``ok`` on the result.

The generator continues an existing log (it starts after the group's current head, with
the funds' current balances) and creates the funds it is asked for when they are missing.
It never commits: the caller owns the transaction (call it several times with commits in
between to keep transactions small). It takes explicit ids for entries and postings; on
PostgreSQL it locks both tables against other writers while it runs and moves their id
sequences past the rows it wrote, so later appends through the service keep working.

Usable from tests::

    from bench.generate import generate
    summary = await generate(session, "rent-fund", 1_000_000)
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ledger import rules
from ledger.canonical import canonical_json, leaf_document, leaf_hash_hex
from ledger.log import Notary
from ledger.merkle import CompactRange, node_hash
from ledger.models import Checkpoint, Entry, Fund, Group, LogState, Place, Posting

DEFAULT_FUNDS: tuple[str, ...] = ("rent-relief", "groceries", "utilities", "emergency")
DEFAULT_BATCH = 20_000
DEFAULT_STEP = timedelta(seconds=30)

# Memos and counterparties as members write them: some of it beyond ASCII (all NFC).
_MEMOS = {
    "donation": (
        "Monthly gift",
        "Bucket at the street fair",
        "Standing order",
        "Benefit gig",
        "Café solidaire",
        "Spende vom Straßenfest",
        "",
    ),
    "disbursement": (
        "Rent support",
        "Grocery vouchers",
        "Electricity top-up",
        "School shoes",
        "Bus passes",
        "Miete für März",
        "",
    ),
    "transfer": ("Rebalancing after the meeting", "Top-up of the emergency fund", ""),
    "reversal": ("Recorded twice", "Wrong fund", "Bank returned the payment", "Typo in amount"),
}
_DONORS = ("Bakery on 5th", "Tenants' union", "Parish collection", "Bäckerei Süd", None, None)

entries_table: Table = Entry.__table__  # type: ignore[assignment]
postings_table: Table = Posting.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Generated:
    """What one call wrote, and the group's log and balances after it."""

    entries: int
    postings: int
    head_seq: int
    head_hash: str
    merkle: str
    balances: dict[str, int]


@dataclass(slots=True)
class _Recent:
    """A recent entry that a later reversal may name."""

    seq: int
    postings: list[rules.PlannedPosting]


async def generate(
    session_or_connection: AsyncSession | AsyncConnection,
    group_slug: str,
    n_entries: int,
    funds: Sequence[str] = DEFAULT_FUNDS,
    *,
    seed: int = 1,
    start: datetime | None = None,
    step: timedelta = DEFAULT_STEP,
    recorded_by: int | None = None,
    notary: Notary | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> Generated:
    """Append ``n_entries`` valid, chained entries to the log of the group ``group_slug``.

    ``funds`` are the slugs of the funds to use (created when missing). Entries are recorded
    about ``step`` apart from ``start``; by default right after the log's last entry, or,
    in an empty log, so that the last new entry is about now. The same ``seed`` on the same
    starting state writes the same entries, bar the times.
    """
    if n_entries < 0:
        raise ValueError("n_entries must be zero or more")
    if not funds:
        raise ValueError("at least one fund is needed")
    if isinstance(session_or_connection, AsyncSession):
        return await session_or_connection.run_sync(
            _generate_in_session,
            group_slug,
            n_entries,
            tuple(funds),
            seed,
            start,
            step,
            recorded_by,
            notary,
            batch_size,
        )
    return await session_or_connection.run_sync(
        _generate,
        group_slug,
        n_entries,
        tuple(funds),
        seed,
        start,
        step,
        recorded_by,
        notary,
        batch_size,
    )


def _generate_in_session(session: Session, group_slug: str, *args: Any) -> Generated:
    """Run in the session's transaction, then show the new head and balances to the ORM
    objects the session already holds (without marking them changed)."""
    summary = _generate(session.connection(), group_slug, *args)
    group_id = session.scalar(select(Group.id).where(Group.slug == group_slug))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, LogState) and obj.group_id == group_id:
            set_committed_value(obj, "size", summary.head_seq)
            set_committed_value(obj, "head_hash", summary.head_hash)
            set_committed_value(obj, "merkle", summary.merkle)
        elif isinstance(obj, Fund) and obj.group_id == group_id and obj.slug in summary.balances:
            set_committed_value(obj, "balance", summary.balances[obj.slug])
    return summary


def _generate(
    connection: Connection,
    group_slug: str,
    n_entries: int,
    fund_slugs: tuple[str, ...],
    seed: int,
    start: datetime | None,
    step: timedelta,
    recorded_by: int | None,
    notary: Notary | None,
    batch_size: int,
) -> Generated:
    postgres = connection.dialect.name == "postgresql"
    group = connection.execute(
        select(Group.id, Group.currency).where(Group.slug == group_slug)
    ).one_or_none()
    if group is None:
        raise ValueError(f"there is no group {group_slug!r}")
    group_id, currency = group
    # The append lock first, as the service takes it (a no-op clause on SQLite, where the
    # write transaction already holds the database's only write lock).
    log = connection.execute(
        select(LogState.size, LogState.head_hash, LogState.merkle)
        .where(LogState.group_id == group_id)
        .with_for_update()
    ).one()
    if postgres:
        connection.execute(text("LOCK TABLE entries, postings IN EXCLUSIVE MODE"))

    states = _funds(connection, group_id, currency, fund_slugs)
    balances = {state.id: state.balance for state in states}
    next_entry_id = (connection.scalar(select(func.max(Entry.id))) or 0) + 1
    next_posting_id = (connection.scalar(select(func.max(Posting.id))) or 0) + 1

    rng = random.Random(seed)
    first_seq = log.size + 1
    if start is None and log.size:
        start = connection.scalar(
            select(Entry.recorded_at).where(Entry.group_id == group_id, Entry.seq == log.size)
        )
    origin = (start or datetime.now(UTC) - step * n_entries).astimezone(UTC)
    moment = origin
    # Up to half a step later than the regular grid: times vary, stay in order, and the
    # last entry lands about ``step * n_entries`` after the start.
    jitter = max(1, step // timedelta(microseconds=2))
    prev = log.head_hash
    tree = CompactRange.from_json(log.merkle)
    # CompactRange.append's carry, on a list (a new frozen range per entry costs more than
    # the hashing); the range built from it at the end checks its own shape.
    peaks, size = list(tree.peaks), tree.size
    recent: deque[_Recent] = deque(maxlen=64)
    entry_rows: list[dict[str, Any]] = []
    posting_rows: list[dict[str, Any]] = []
    postings_written = 0
    insert_entries = _BulkInsert(connection, entries_table)
    insert_postings = _BulkInsert(connection, postings_table)

    def flush() -> None:
        nonlocal postings_written
        insert_entries(connection, entry_rows)
        insert_postings(connection, posting_rows)
        postings_written += len(posting_rows)
        entry_rows.clear()
        posting_rows.clear()

    for seq in range(first_seq, first_seq + n_entries):
        moment = origin + step * (seq - first_seq + 1)
        moment += timedelta(microseconds=rng.randrange(jitter))
        kind, planned, reverses = _plan(rng, states, balances, recent)
        for posting in planned:
            if posting.account_type == rules.HOLDING:
                balances[posting.fund_id] += posting.amount
        today = moment.date()
        if kind in ("donation", "disbursement"):
            occurred_on: date = today - timedelta(days=rng.choice((0, 0, 0, 1, 2)))
            counterparty = (
                rng.choice(_DONORS) if kind == "donation" else f"R-{rng.randrange(1, 400)}"
            )
        else:
            occurred_on, counterparty = today, None
        memo = rng.choice(_MEMOS[kind])
        # check=False: every value here is a string this module made (ASCII or NFC), and the
        # bytes are the same with or without the check; verify re-derives them anyway.
        leaf = canonical_json(
            leaf_document(
                group=group_slug,
                seq=seq,
                kind=kind,
                occurred_on=occurred_on,
                recorded_at=moment,
                memo=memo,
                counterparty=counterparty,
                postings=[rules.Leg(p.account, p.fund_slug, p.amount, p.currency) for p in planned],
                reverses=reverses,
                proposal=None,
                prev=prev,
            ),
            check=False,
        )
        entry_hash = leaf_hash_hex(leaf)
        merged, carry = bytes.fromhex(entry_hash), size
        while carry & 1:
            merged = node_hash(peaks.pop(), merged)
            carry >>= 1
        peaks.append(merged)
        size += 1
        entry_id = next_entry_id
        next_entry_id += 1
        entry_rows.append(
            {
                "id": entry_id,
                "group_id": group_id,
                "seq": seq,
                "kind": kind,
                "occurred_on": occurred_on,
                "recorded_at": moment,
                "memo": memo,
                "counterparty": counterparty,
                "reverses_seq": reverses,
                "proposal_number": None,
                "proposal_version": None,
                "recorded_by": recorded_by,
                "prev_hash": prev,
                "hash": entry_hash,
                "leaf": leaf,
            }
        )
        for position, posting in enumerate(planned):
            posting_rows.append(
                {
                    "id": next_posting_id,
                    "entry_id": entry_id,
                    "seq": seq,
                    "position": position,
                    "fund_id": posting.fund_id,
                    "account": posting.account,
                    "account_type": posting.account_type,
                    "amount": posting.amount,
                    "currency": posting.currency,
                }
            )
            next_posting_id += 1
        if kind != "reversal":
            recent.append(_Recent(seq, planned))
        prev = entry_hash
        if len(entry_rows) >= batch_size:
            flush()
    flush()
    tree = CompactRange(size, tuple(peaks))
    head_seq = first_seq + n_entries - 1
    connection.execute(
        update(LogState)
        .where(LogState.group_id == group_id)
        .values(size=head_seq, head_hash=prev, merkle=tree.to_json())
    )
    if notary is not None and n_entries:
        root = tree.root()
        connection.execute(
            insert(Checkpoint).values(
                group_id=group_id,
                size=head_seq,
                root_hash=root.hex(),
                note=notary.sign(group_slug, head_seq, root),
                signed_at=moment,
            )
        )
    for state in states:
        connection.execute(
            update(Fund).where(Fund.id == state.id).values(balance=balances[state.id])
        )
    # Every generated entry is in the group's default place (its leaf names none): the place
    # holds what the funds gained.
    connection.execute(
        update(Place)
        .where(Place.group_id == group_id, Place.is_default.is_(True))
        .values(balance=Place.balance + sum(balances[state.id] - state.balance for state in states))
    )
    if postgres and n_entries:
        for table in ("entries", "postings"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    return Generated(
        entries=n_entries,
        postings=postings_written,
        head_seq=head_seq,
        head_hash=prev,
        merkle=tree.to_json(),
        balances={state.slug: balances[state.id] for state in states},
    )


_STATEMENTS: dict[tuple[str, str, str, int], str] = {}


class _BulkInsert:
    """Core ``insert()`` of a whole table, compiled once for the connection's dialect.

    The columns' own bind processors (dates and ``DateTimeUTC`` on SQLite, ``DateTimeUTC``
    on PostgreSQL) are applied, so rows are stored exactly as the ORM stores them; what is
    skipped is SQLAlchemy's per-row parameter bookkeeping, which costs more than the
    database's own insert. SQLite gets one driver-level executemany per batch; PostgreSQL
    multi-row ``INSERT ... VALUES`` statements of ``ROWS_PER_STATEMENT`` rows (asyncpg's
    executemany runs the statement once per row)."""

    ROWS_PER_STATEMENT = 1_000

    def __init__(self, connection: Connection, table: Table) -> None:
        self.dialect = dialect = connection.dialect
        self.table = table
        self.keys = [column.key for column in table.columns]
        self.multi_row = dialect.name == "postgresql"
        self.processors = [
            (index, processor)
            for index, column in enumerate(table.columns)
            if (processor := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]

    def _sql(self, rows: int) -> str:
        """The statement inserting ``rows`` rows (positional parameters, row by row)."""
        cache_key = (self.dialect.name, self.dialect.driver, self.table.name, rows)
        sql = _STATEMENTS.get(cache_key)
        if sql is None:
            if self.multi_row:
                statement = insert(self.table).values([dict.fromkeys(self.keys)] * rows)
                compiled = statement.compile(dialect=self.dialect)
                expected = [f"{key}_m{row}" for row in range(rows) for key in self.keys]
            else:
                compiled = insert(self.table).compile(dialect=self.dialect, column_keys=self.keys)
                expected = self.keys
            if compiled.positiontup != expected:
                raise RuntimeError(f"unexpected parameter order inserting into {self.table.name}")
            sql = _STATEMENTS[cache_key] = str(compiled)
        return sql

    def __call__(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        keys, processors = self.keys, self.processors
        values = []
        for row in rows:
            value = [row.get(key) for key in keys]  # (columns a row leaves out are NULL)
            for index, processor in processors:
                value[index] = processor(value[index])
            values.append(value)
        if not self.multi_row:
            connection.exec_driver_sql(self._sql(1), [tuple(value) for value in values])
            return
        step = self.ROWS_PER_STATEMENT
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            flat = tuple(item for value in chunk for item in value)
            connection.exec_driver_sql(self._sql(len(chunk)), flat)


def _funds(
    connection: Connection, group_id: int, currency: str, slugs: tuple[str, ...]
) -> list[rules.FundState]:
    """The funds to use, as the rules see them; missing ones are created (empty)."""
    for slug in slugs:
        rules.check_slug(slug)
    existing = {
        row.slug: row
        for row in connection.execute(
            select(Fund.id, Fund.slug, Fund.name, Fund.currency, Fund.allow_negative, Fund.balance)
            .where(Fund.group_id == group_id, Fund.slug.in_(slugs))
            .with_for_update()
        )
    }
    states = []
    for slug in dict.fromkeys(slugs):
        row = existing.get(slug)
        if row is None:
            name = slug.replace("-", " ").capitalize()
            fund_id = connection.execute(
                insert(Fund)
                .values(
                    group_id=group_id,
                    slug=slug,
                    name=name,
                    currency=currency,
                    allow_negative=False,
                    balance=0,
                    created_at=datetime.now(UTC),
                )
                .returning(Fund.id)
            ).scalar_one()
            states.append(rules.FundState(fund_id, slug, name, currency, False, 0))
        else:
            states.append(
                rules.FundState(
                    row.id, row.slug, row.name, row.currency, row.allow_negative, row.balance
                )
            )
    if len({state.currency for state in states}) != 1:
        raise ValueError("the generator's funds must share one currency")
    return states


def _plan(
    rng: random.Random,
    states: list[rules.FundState],
    balances: dict[int, int],
    recent: deque[_Recent],
) -> tuple[str, list[rules.PlannedPosting], int | None]:
    """The next entry: its kind, postings (from ``ledger.rules``) and the entry it reverses.

    Roughly 45% donations, 35% disbursements, 12% transfers and 8% reversals, never taking a
    fund below zero (nor letting a fund that allows it go negative either)."""
    roll = rng.random()
    if roll < 0.08 and recent:
        candidate = recent[rng.randrange(len(recent))]
        planned = rules.reversal(candidate.postings)
        if _affordable(planned, balances):
            recent.remove(candidate)
            return "reversal", planned, candidate.seq
    if roll < 0.20 and len(states) > 1:
        source, target = rng.sample(states, 2)
        if balances[source.id] >= 100:
            amount = rng.randrange(100, min(balances[source.id], 200_00) + 1)
            return "transfer", rules.transfer(source, target, amount), None
    if roll < 0.55:
        fund = rng.choice(states)
        if balances[fund.id] >= 100:
            amount = rng.randrange(100, min(balances[fund.id], 500_00) + 1)
            return "disbursement", rules.disbursement(fund, amount), None
    fund = rng.choice(states)
    amount = rng.randrange(100, 1_000_00)
    return "donation", rules.donation(fund, amount), None


def _affordable(planned: list[rules.PlannedPosting], balances: dict[int, int]) -> bool:
    return all(
        balances[fund_id] + change >= 0 for fund_id, change in rules.fund_changes(planned).items()
    )

"""``verify``: checking a 1,000,000-entry group against plain JSON + SHA-256 over its rows.

The group is written with ``bench.generate`` (``--quick``: 100,000 entries), committed in
chunks of 100,000, into a fresh database. Then, alternating, in the same process:

- **baseline**: in one read transaction, the same joined query ``ledger.verify`` runs
  (entries outer-joined with their postings, in ``seq, position`` order, streamed 10,000
  rows at a time with ``yield_per``), the rows grouped per entry, and for each entry one
  dict of its columns (seq, kind, occurred_on, recorded_at, memo, counterparty, reverses,
  prev, and a list of postings with fund id, account, amount, currency), every number and
  date as a string, encoded with stdlib ``json.dumps(sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)``, and hashed with ``hashlib.sha256(b"\\x00" + bytes)``; the digest is
  compared with the stored hash so the work cannot be skipped. That is the least any
  re-hashing verifier reading those rows has to do: no chain, balance, reversal or Merkle
  checks.
- **verify**: ``ledger.verify.verify_group`` on the same group, everything it checks.
- **rows only** (printed for the profile, not a target): the same query and grouping with no
  JSON and no hashing, i.e. what reading the rows costs by itself.

The passes alternate (``--quick``: two rounds; full size: one). Both are single-threaded
and CPU-bound in this process (on SQLite the database work runs in aiosqlite's thread of
this same process and is counted too), so the ratio compares **process CPU time**, which
other work on a shared machine does not inflate the way it inflates wall time; wall times
are printed beside it. On PostgreSQL the server's share (the same query for both) is not in
this process's CPU time, which makes the ratio slightly stricter, not looser.

Target: verify within 2x of the baseline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session

from app.db import create_session_maker
from bench.common import (
    Result,
    Stopwatch,
    build_group,
    fresh_database,
    load_group,
    open_engine,
    progress,
)
from ledger.models import Entry, Group, Posting
from ledger.verify import verify_group

FULL_ENTRIES = 1_000_000
QUICK_ENTRIES = 100_000
TARGET = 2.0
# Each pass over 1,000,000 entries takes a minute or more: one round at full size.
ROUNDS = 1
QUICK_ROUNDS = 2
_BATCH = 10_000

_ENTRY_COLUMNS = (
    Entry.seq,
    Entry.kind,
    Entry.occurred_on,
    Entry.recorded_at,
    Entry.memo,
    Entry.counterparty,
    Entry.reverses_seq,
    Entry.proposal_number,
    Entry.proposal_version,
    Entry.prev_hash,
    Entry.hash,
    Entry.leaf,
)
_POSTING_COLUMNS = (
    Posting.fund_id,
    Posting.account,
    Posting.account_type,
    Posting.amount,
    Posting.currency,
)
_ENTRY_WIDTH = len(_ENTRY_COLUMNS)

EntryHandler = Callable[[Sequence[Any], list[Sequence[Any]]], None]


def _walk(session: Session, group_id: int, handle: EntryHandler) -> int:
    """The verifier's query, rows grouped per entry; returns the number of entries."""
    query = (
        select(*_ENTRY_COLUMNS, *_POSTING_COLUMNS)
        .outerjoin(Posting, Posting.entry_id == Entry.id)
        .where(Entry.group_id == group_id)
        .order_by(Entry.seq, Posting.position)
        .execution_options(yield_per=_BATCH)
    )
    count = 0
    current: Sequence[Any] | None = None
    postings: list[Sequence[Any]] = []
    for row in session.execute(query):
        if current is None or row[0] != current[0]:
            if current is not None:
                handle(current, postings)
                count += 1
            current, postings = row, []
        if row[_ENTRY_WIDTH] is not None:
            postings.append(row[_ENTRY_WIDTH:])
    if current is not None:
        handle(current, postings)
        count += 1
    return count


def _baseline(session: Session, group_id: int) -> tuple[int, int]:
    matches = 0

    def handle(entry: Sequence[Any], postings: list[Sequence[Any]]) -> None:
        nonlocal matches
        document = {
            "seq": str(entry[0]),
            "kind": entry[1],
            "occurred_on": entry[2].isoformat(),
            "recorded_at": entry[3].isoformat(),
            "memo": entry[4],
            "counterparty": entry[5],
            "reverses": None if entry[6] is None else str(entry[6]),
            "prev": entry[9],
            "postings": [
                {"fund": str(p[0]), "account": p[1], "amount": str(p[3]), "currency": p[4]}
                for p in postings
            ],
        }
        data = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if hashlib.sha256(b"\x00" + data.encode("utf-8")).hexdigest() == entry[10]:
            matches += 1

    return _walk(session, group_id, handle), matches


def _rows_only(session: Session, group_id: int) -> int:
    return _walk(session, group_id, lambda _entry, _postings: None)


async def _timed_baseline(sessions: async_sessionmaker[Any], group: Group) -> tuple[Stopwatch, int]:
    async with sessions() as session:
        with Stopwatch() as watch:
            count, _ = await session.run_sync(_baseline, group.id)
    return watch, count


async def _timed_rows(sessions: async_sessionmaker[Any], group: Group) -> Stopwatch:
    async with sessions() as session:
        with Stopwatch() as watch:
            await session.run_sync(_rows_only, group.id)
    return watch


async def _timed_verify(
    sessions: async_sessionmaker[Any], group: Group
) -> tuple[Stopwatch, bool, str | None]:
    async with sessions() as session:
        with Stopwatch() as watch:
            report = await verify_group(session, group)
    return watch, report.ok, report.problem


def _rate(watch: Stopwatch, count: int) -> str:
    return (
        f"{watch.wall:8.2f} s wall ({count / watch.wall:8,.0f} entries/s), {watch.cpu:7.2f} s CPU"
    )


async def _measure(url: str, slug: str, rounds: int, result: Result) -> None:
    engine = open_engine(url)
    sessions = create_session_maker(engine)
    try:
        async with sessions() as session:
            group = await load_group(session, slug)
        baseline: list[Stopwatch] = []
        verified: list[Stopwatch] = []
        count = 0
        for number in range(1, rounds + 1):
            watch, count = await _timed_baseline(sessions, group)
            baseline.append(watch)
            progress(f"round {number}: baseline {watch.wall:.1f} s over {count:,} entries")
            watch, ok, problem = await _timed_verify(sessions, group)
            verified.append(watch)
            progress(f"round {number}: verify {watch.wall:.1f} s, ok={ok}")
            if not ok:
                result.note(f"verify did not say ok: {problem}")
        rows = await _timed_rows(sessions, group)
    finally:
        await engine.dispose()
    best_baseline = min(baseline, key=lambda watch: watch.cpu)
    best_verify = min(verified, key=lambda watch: watch.cpu)
    result.figure("entries", f"{count:,}")
    result.figure("baseline json.dumps + sha256 (best round)", _rate(best_baseline, count))
    result.figure("verify_group (best round)", _rate(best_verify, count))
    result.figure("the rows alone (same query, no JSON, no hash)", _rate(rows, count))
    result.figure(
        "verify / baseline in wall time",
        f"{best_verify.wall / best_baseline.wall:6.2f}x (varies with other load)",
    )
    ratio = best_verify.cpu / best_baseline.cpu
    result.check("verify / baseline (CPU time)", ratio, f"<= {TARGET:g}x", ratio <= TARGET)


def run(engine_name: str, quick: bool) -> Result:
    n_entries = QUICK_ENTRIES if quick else FULL_ENTRIES
    result = Result("verify", engine_name)
    with fresh_database(engine_name) as url:
        with Stopwatch() as watch:
            slug = asyncio.run(build_group(url, n_entries)).slug
        result.figure(
            "generated with bench.generate", f"{n_entries:,} entries in {watch.wall:.0f} s"
        )
        asyncio.run(_measure(url, slug, QUICK_ROUNDS if quick else ROUNDS, result))
    return result

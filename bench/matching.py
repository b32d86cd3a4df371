"""``matching``: a statement's lines matched against a place's entries, at 5,000 and 50,000.

For each size n, a fresh database gets a group with n entries (``bench.generate``: donations,
payments and transfers over the months before now, in the default place) and a statement of
n bank lines stored through ``ledger.bank.store_statement``: one line for each entry that
moves money in the place, its amount the entry's and its date up to three days off, a
reference carrying the entry's number for a third of them, the rest (transfers move none)
as bank fees no entry matches. Then ``ledger.bank.statement_lines`` is timed: the place's
entries in the period read with their amounts, the lines read, matched ones and rejected
suggestions read, and every open line given its best suggestions: what the API's and the
page's list of lines costs.

Figures: wall time per line at each size, and the ratio time(50k) / time(5k), which a
quadratic matcher would put near 100. Target: <= 12 (linear, with room for the larger
database's caches). ``--quick``: 1,000 and 10,000.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from datetime import timedelta

from sqlalchemy import select

from app.db import create_session_maker
from bench.common import (
    BENCH_SLUG,
    Result,
    analyze,
    build_group,
    fresh_database,
    open_engine,
    progress,
)
from ledger import bank, groups
from ledger.models import Place
from ledger.statements import Statement, StatementFormat, StatementLine, fingerprint

FULL = (5_000, 50_000)
QUICK = (1_000, 10_000)
TARGET = 12.0


def _lines(candidates: list[bank.Candidate], size: int, seed: int = 13) -> list[StatementLine]:
    """A bank line for each entry (date up to three days off), then fees up to ``size``."""
    chosen = random.Random(seed)
    lines: list[StatementLine] = []
    for candidate in candidates[:size]:
        day = candidate.occurred_on + timedelta(days=chosen.randint(-3, 3))
        reference = (
            f"Entry {candidate.seq}" if candidate.seq % 3 == 0 else f"TX{chosen.getrandbits(40)}"
        )
        lines.append(_line(day, candidate.amount, reference))
    last = max((c.occurred_on for c in candidates), default=None)
    while len(lines) < size and last is not None:
        lines.append(
            _line(
                last - timedelta(days=len(lines) % 300),
                -chosen.randint(100, 900),
                f"FEE{len(lines)}",
            )
        )
    return lines


def _line(day, amount: int, reference: str) -> StatementLine:  # type: ignore[no-untyped-def]
    return StatementLine(
        booked_on=day,
        amount=amount,
        currency="EUR",
        reference=reference,
        fingerprint=fingerprint(day, amount, "EUR", reference, None, None, 0),
    )


async def _measure(url: str, size: int) -> tuple[float, int, int]:
    await build_group(url, size)
    engine = open_engine(url)
    try:
        sessions = create_session_maker(engine)
        async with sessions() as session, session.begin():
            group = await groups.get_group(session, BENCH_SLUG)
            place = (await session.scalars(select(Place).where(Place.group_id == group.id))).one()
            candidates = sorted(await bank.candidates(session, group, place), key=lambda c: c.seq)
            lines = _lines(candidates, size)
            statement = Statement(
                format=StatementFormat.CSV,
                currency="EUR",
                sha256="0" * 64,
                lines=tuple(lines),
                starts_on=min(line.booked_on for line in lines),
                ends_on=max(line.booked_on for line in lines),
            )
            imported = await bank.store_statement(
                session, group, place, statement, imported_by=None
            )
        progress(f"{size:,} entries and {imported.new_lines:,} bank lines stored")
        await analyze(engine)  # as autovacuum would after a large import
        async with sessions() as session:
            group = await groups.get_group(session, BENCH_SLUG)
            row = imported.statement
            place = await session.get(Place, row.place_id)
            assert place is not None
            best = float("inf")
            suggested = 0
            # As in ``bench bank``: what the process holds already (the app, the generator's
            # leftovers) is moved out of the collector's sight, so the rounds pay only for
            # rescanning their own objects.
            gc.collect()
            gc.freeze()
            for _ in range(3):
                started = time.perf_counter()
                views = await bank.statement_lines(
                    session, group, place, await session.get(type(row), row.id)
                )  # type: ignore[arg-type]
                best = min(best, time.perf_counter() - started)
                suggested = sum(1 for view in views if view.status == bank.SUGGESTED)
            gc.unfreeze()
            return best, len(views), suggested
    finally:
        await engine.dispose()


def run(engine: str = "sqlite", quick: bool = False) -> Result:
    small, large = QUICK if quick else FULL
    result = Result("matching", engine)
    timings: dict[int, float] = {}
    for size in (small, large):
        with fresh_database(engine, f"matching{size}") as url:
            seconds, count, suggested = asyncio.run(_measure(url, size))
        timings[size] = seconds
        result.figure(
            f"{size:,} lines against {size:,} entries",
            f"{seconds * 1000:.0f} ms, {seconds / count * 1e6:.1f} µs/line, "
            f"{suggested:,} suggested",
        )
    ratio = timings[large] / timings[small]
    result.check(f"time({large:,}) / time({small:,})", ratio, f"<= {TARGET:g}", ratio <= TARGET)
    return result

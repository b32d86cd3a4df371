"""``matching``: a statement's lines matched against a place's entries, at 5,000 and 50,000.

For each size n, a fresh database gets a group with n entries (``bench.generate``: donations,
payments and transfers over the months before now, in the default place) and a statement of
n bank lines stored through ``ledger.bank.store_statement``: one line for each entry that
moves money in the place, its amount the entry's and its date up to three days off, a
reference carrying the entry's number for a third of them, the rest (transfers move none)
as bank fees no entry matches. Then ``ledger.bank.statement_lines`` is timed: the place's
entries in the period read with their amounts, the lines read, matched ones and rejected
suggestions read, and every open line given its best suggestions: what the API's and the
page's list of lines costs. Both databases are made first; then the two sizes take turns,
``ROUNDS`` times each, and the best time of each counts.

Figures: wall time per line at each size, and the ratio time(50k) / time(5k), which a
quadratic matcher would put near 100. Target: <= 12 (linear, with room for the larger
database's caches). ``--quick``: 1,000 and 10,000.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.db import create_session_maker
from bench.common import (
    BENCH_SLUG,
    Result,
    analyze,
    build_group,
    fresh_database,
    frozen,
    open_engine,
    progress,
)
from ledger import bank, groups
from ledger.models import BankStatement, Place
from ledger.statements import Statement, StatementFormat, StatementLine, fingerprint

FULL = (5_000, 50_000)
QUICK = (1_000, 10_000)
TARGET = 12.0
ROUNDS = 5
PAGE = 100  # lines: a page of the API's, as a client pages a long statement
# An entry an hour, as in a busy group: 5,000 entries span seven months and 50,000 nearly six
# years, so a line's window of days holds as many entries at both sizes. (Entries 30 s apart,
# the generator's default, put all 5,000 within two days, inside every line's window, while
# 50,000 span 17 days: the work per line then grew with the entries in its window.)
STEP = timedelta(hours=1)


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


async def _prepare(url: str, size: int) -> int:
    """A group of ``size`` entries at ``url`` and a statement of ``size`` lines; its id."""
    await build_group(url, size, step=STEP)
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
        return imported.statement.id
    finally:
        await engine.dispose()


@dataclass(slots=True)
class Measured:
    best: float = float("inf")
    lines: int = 0
    suggested: int = 0
    # A page of the API's (``?after=…&limit=100``) from the middle of the statement.
    page_best: float = float("inf")


async def _measure(prepared: dict[int, tuple[str, int]]) -> dict[int, Measured]:
    """Each size's statement listed ``ROUNDS`` times, the sizes taking turns (so that a
    burst of other work on the machine hits both), each round on an open session."""
    engines = {size: open_engine(url) for size, (url, _) in prepared.items()}
    measured = {size: Measured() for size in prepared}
    try:
        sessions = {size: create_session_maker(engine) for size, engine in engines.items()}
        # As in ``bench bank``: the rounds pay only for rescanning their own objects.
        with frozen():
            for _ in range(ROUNDS):
                for size, (_, statement_id) in prepared.items():
                    async with sessions[size]() as session:
                        group = await groups.get_group(session, BENCH_SLUG)
                        row = await session.get(BankStatement, statement_id)
                        assert row is not None
                        place = await session.get(Place, row.place_id)
                        assert place is not None
                        started = time.perf_counter()
                        views = await bank.statement_lines(session, group, place, row)
                        took = time.perf_counter() - started
                        middle = views[len(views) // 2].line.id
                        started = time.perf_counter()
                        page = await bank.statement_lines_page(
                            session, group, place, row, after=middle, limit=PAGE
                        )
                        took_page = time.perf_counter() - started
                        assert len(page.views) == PAGE
                        assert page.more
                    figures = measured[size]
                    figures.best = min(figures.best, took)
                    figures.page_best = min(figures.page_best, took_page)
                    figures.lines = len(views)
                    figures.suggested = sum(1 for view in views if view.status == bank.SUGGESTED)
                    del views
        return measured
    finally:
        for engine in engines.values():
            await engine.dispose()


def run(engine: str = "sqlite", quick: bool = False) -> Result:
    small, large = QUICK if quick else FULL
    result = Result("matching", engine)
    with (
        fresh_database(engine, f"matching{small}") as small_url,
        fresh_database(engine, f"matching{large}") as large_url,
    ):
        prepared = {
            small: (small_url, asyncio.run(_prepare(small_url, small))),
            large: (large_url, asyncio.run(_prepare(large_url, large))),
        }
        measured = asyncio.run(_measure(prepared))
    for size, figures in measured.items():
        result.figure(
            f"{size:,} lines against {size:,} entries",
            f"{figures.best * 1000:.0f} ms, {figures.best / figures.lines * 1e6:.1f} µs/line, "
            f"{figures.suggested:,} suggested",
        )
        result.figure(
            f"  a page of {PAGE} of them from the middle",
            f"{figures.page_best * 1000:.1f} ms, {figures.page_best / figures.best:.3f}x the whole",
        )
    timings = {size: figures.best for size, figures in measured.items()}
    ratio = timings[large] / timings[small]
    result.check(f"time({large:,}) / time({small:,})", ratio, f"<= {TARGET:g}", ratio <= TARGET)
    return result

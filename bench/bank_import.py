"""``import``: importing a 50,000-line bank statement CSV whole, against ``csv.reader`` alone.

``bench bank`` measures the parse; this measures what a steward waits for when a statement
is imported (the CLI's ``statements import``, the API's and the page's import): the same CSV
as ``bench bank`` (50,000 lines; ``--quick``: 10,000) read for a place
(``ledger.bank.read_for_place``: decoding, rows, dates, amounts, the running balance, each
line's SHA-256 fingerprint), its lines stored by ``ledger.bank.store_statement`` (the
log-state lock, the known fingerprints of the period read, one row for the import, the new
lines inserted, the mapping saved as the place's), the transaction committed, and the file
kept in a content-addressed store (``ledger.files.DirectoryStore``, written and fsynced).

Each round imports into a fresh database (``bench.common.fresh_database``: migrated like a
real instance, with a bench group whose default place receives the file), so every round
stores 50,000 new lines into empty tables. After the timed import the same file is imported
again, as a steward who sends it twice would: nothing new is stored (every fingerprint is
known), which is timed too.

The baseline is ``bench bank``'s: the file's bytes decoded and split into rows by the
standard library's ``csv.reader``, the least any CSV import does, measured in the same
rounds. As there, the objects the process held before the rounds are frozen out of the
garbage collector's sight.

Figures: wall time and CPU time of this process (best of the rounds) per line for each, and
the ratios. The target, within 5x of the baseline, is checked on wall time: on PostgreSQL
the server's work is in another process, which this process's CPU time does not count, and
the steward waits for the wall clock.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_session_maker
from bench.bank import FULL_LINES, MAPPING, QUICK_LINES, TARGET, generate
from bench.bank import _baseline as csv_reader_alone
from bench.common import (
    Result,
    create_bench_group,
    fresh_database,
    frozen,
    open_engine,
    progress,
)
from ledger import bank, groups
from ledger.files import DirectoryStore
from ledger.groups import utcnow
from ledger.models import BankStatement, Group, Place
from ledger.statements import StatementLine

ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float
    cpu: float


def _timed_baseline(data: bytes) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    csv_reader_alone(data)
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


@dataclass(frozen=True, slots=True)
class Round:
    first: Timing  # the whole import into empty tables
    reading: float  # of which: the file read for the place (wall)
    storing: float  # of which: ``store_statement`` (wall)
    finishing: float  # of which: the commit and the file kept (wall)
    again: Timing  # the same file again: nothing new
    stored: int


async def _group_and_place(session: AsyncSession, slug: str) -> tuple[Group, Place]:
    """The bench group and its one place, the default, which receives the file."""
    group = await groups.get_group(session, slug)
    place = (await session.scalars(select(Place).where(Place.group_id == group.id))).one()
    return group, place


async def _import(url: str, data: bytes, files: Path) -> tuple[Round, tuple[StatementLine, ...]]:
    """Import ``data`` into the default place of a new bench group at ``url``, then again,
    each timed, the first in its steps."""
    engine = open_engine(url)
    try:
        sessions = create_session_maker(engine)
        async with sessions() as session, session.begin():
            made = await create_bench_group(session)
        timings: list[Timing] = []
        steps: list[float] = []
        stored = 0
        for _ in range(2):
            wall, cpu = time.perf_counter(), time.process_time()
            async with sessions() as session:
                async with session.begin():
                    group, place = await _group_and_place(session, made.slug)
                    read = time.perf_counter()
                    statement = bank.read_for_place(data, place, format="csv", mapping=MAPPING)
                    storing = time.perf_counter()
                    imported = await bank.store_statement(
                        session,
                        group,
                        place,
                        statement,
                        imported_by=made.steward_id,
                        mapping=MAPPING,
                    )
                    committing = time.perf_counter()
                DirectoryStore(files).put(data)
            done = time.perf_counter()
            timings.append(Timing(done - wall, time.process_time() - cpu))
            steps = steps or [storing - read, committing - storing, done - committing]
            stored = stored or imported.new_lines
            assert len(statement.lines) == imported.statement.lines
        return Round(timings[0], *steps, again=timings[1], stored=stored), statement.lines
    finally:
        await engine.dispose()


async def _store_alone(url: str, lines: tuple[StatementLine, ...]) -> Timing:
    """The floor under the import's storing: the same lines handed to the driver as the
    import hands them (``bank.insert_lines``), with no parse, no fingerprint read and no
    import's row, into the empty tables of a fresh database, committed."""
    engine = open_engine(url)
    try:
        sessions = create_session_maker(engine)
        async with sessions() as session, session.begin():
            made = await create_bench_group(session)
            group, place = await _group_and_place(session, made.slug)
            statement = BankStatement(
                group_id=group.id,
                place_id=place.id,
                sha256="0" * 64,
                format="csv",
                lines=len(lines),
                new_lines=len(lines),
                imported_at=utcnow(),
            )
            session.add(statement)
        wall, cpu = time.perf_counter(), time.process_time()
        async with sessions() as session, session.begin():
            await bank.insert_lines(session, group.id, place.id, statement.id, lines)
        return Timing(time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        await engine.dispose()


def _per_line(timing: float, size: int) -> str:
    return f"{timing * 1000:.0f} ms, {timing / size * 1e6:.2f} µs/line"


def run(engine: str = "sqlite", quick: bool = False) -> Result:
    size = QUICK_LINES if quick else FULL_LINES
    result = Result("import", engine)
    data = generate(size)
    progress(f"generated a CSV statement of {size:,} lines ({len(data) / 1e6:.1f} MB)")
    baselines: list[Timing] = []
    rounds: list[Round] = []
    alones: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="commonpurse-bench-files-") as directory:
        for number in range(ROUNDS):
            # Frozen after the migration, which leaves objects the collector would rescan.
            with fresh_database(engine, f"import{number}") as url, frozen():
                baselines.append(_timed_baseline(data))
                measured, lines = asyncio.run(_import(url, data, Path(directory)))
            with fresh_database(engine, f"alone{number}") as url, frozen():
                alone = asyncio.run(_store_alone(url, lines))
            assert measured.stored == size, measured.stored
            rounds.append(measured)
            alones.append(alone)
            progress(
                f"round {number + 1}: import {measured.first.wall:.2f} s (reading "
                f"{measured.reading:.2f}, storing {measured.storing:.2f}, commit and file "
                f"{measured.finishing:.2f}), again {measured.again.wall:.2f} s, storing alone "
                f"{alone.wall:.2f} s, csv.reader {baselines[-1].wall:.3f} s"
            )
    best = Timing(min(t.wall for t in baselines), min(t.cpu for t in baselines))
    whole = min(rounds, key=lambda measured: measured.first.wall)
    cpu = min(measured.first.cpu for measured in rounds)
    twice = min(measured.again.wall for measured in rounds)
    alone = min(timing.wall for timing in alones)
    result.figure("lines", f"{size:,}")
    result.figure("baseline: csv.reader, wall (best)", _per_line(best.wall, size))
    result.figure("import into a fresh database, wall (best)", _per_line(whole.first.wall, size))
    for label, seconds in (
        ("reading the file (parse, fingerprints)", whole.reading),
        ("storing (store_statement)", whole.storing),
        ("commit and the file kept", whole.finishing),
    ):
        result.figure(
            f"  of which {label}", f"{_per_line(seconds, size)}, {seconds / best.wall:.2f}x"
        )
    result.figure("the same file again (nothing new), wall (best)", _per_line(twice, size))
    result.figure(
        "storing alone (the same lines, no parse), wall (best), ratio",
        f"{_per_line(alone, size)}, {alone / best.wall:.2f}x",
    )
    result.figure(
        "CPU of this process (best): baseline, import, ratio",
        f"{best.cpu * 1000:.0f} ms, {cpu * 1000:.0f} ms, {cpu / best.cpu:.2f}x",
    )
    ratio = whole.first.wall / best.wall
    result.check("whole import / csv.reader (wall)", ratio, f"<= {TARGET:g}x", ratio <= TARGET)
    return result


if __name__ == "__main__":
    import sys

    engine = "postgres" if "postgres" in sys.argv[1:] else "sqlite"
    run(engine, quick="--quick" in sys.argv[1:])

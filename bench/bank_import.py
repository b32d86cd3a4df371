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
import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from app.db import create_session_maker
from bench.bank import FULL_LINES, MAPPING, QUICK_LINES, TARGET, generate
from bench.bank import _baseline as csv_reader_alone
from bench.common import Result, create_bench_group, fresh_database, open_engine, progress
from ledger import bank, groups, service
from ledger.files import DirectoryStore
from ledger.models import Place
from ledger.schemas import PlaceIn

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
    first: Timing  # the import into empty tables
    again: Timing  # the same file again: nothing new
    storing: Timing  # the driver's insert of the same rows alone, into another place
    stored: int


async def _import(url: str, data: bytes, files: Path) -> Round:
    """Import ``data`` into the default place of a new bench group at ``url``, then again,
    then store the same lines alone into a second place, each timed."""
    engine = open_engine(url)
    try:
        sessions = create_session_maker(engine)
        async with sessions() as session, session.begin():
            made = await create_bench_group(session)
        timings: list[Timing] = []
        stored = 0
        for _ in range(2):
            wall, cpu = time.perf_counter(), time.process_time()
            async with sessions() as session, session.begin():
                group = await groups.get_group(session, made.slug)
                place = (
                    await session.scalars(select(Place).where(Place.group_id == group.id))
                ).one()
                statement = bank.read_for_place(data, place, format="csv", mapping=MAPPING)
                imported = await bank.store_statement(
                    session, group, place, statement, imported_by=made.steward_id, mapping=MAPPING
                )
            DirectoryStore(files).put(data)
            timings.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))
            stored = stored or imported.new_lines
            assert len(statement.lines) == imported.statement.lines
        # The floor under the import's storing: the same rows handed to the driver as the
        # import hands them (``bank.insert_lines``), with no parse and no fingerprint read,
        # into a place of their own (the fingerprints are unique per place).
        async with sessions() as session, session.begin():
            group = await groups.get_group(session, made.slug)
            other = await service.create_place(session, group, PlaceIn(slug="cash", name="Cash"))
        wall, cpu = time.perf_counter(), time.process_time()
        async with sessions() as session, session.begin():
            await bank.insert_lines(
                session, group.id, other.id, imported.statement.id, statement.lines
            )
        storing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
        return Round(timings[0], timings[1], storing, stored)
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
    imports: list[Timing] = []
    again: list[Timing] = []
    storings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="commonpurse-bench-files-") as directory:
        for number in range(ROUNDS):
            with fresh_database(engine, f"import{number}") as url:
                gc.collect()
                gc.freeze()
                baselines.append(_timed_baseline(data))
                measured = asyncio.run(_import(url, data, Path(directory)))
                gc.unfreeze()
            assert measured.stored == size, measured.stored
            imports.append(measured.first)
            again.append(measured.again)
            storings.append(measured.storing)
            progress(
                f"round {number + 1}: import {measured.first.wall:.2f} s, "
                f"again {measured.again.wall:.2f} s, storing alone {measured.storing.wall:.2f} s, "
                f"csv.reader {baselines[-1].wall:.3f} s"
            )
    best = Timing(min(t.wall for t in baselines), min(t.cpu for t in baselines))
    whole = Timing(min(t.wall for t in imports), min(t.cpu for t in imports))
    twice = Timing(min(t.wall for t in again), min(t.cpu for t in again))
    storing = min(t.wall for t in storings)
    result.figure("lines", f"{size:,}")
    result.figure("baseline: csv.reader, wall (best)", _per_line(best.wall, size))
    result.figure("import into a fresh database, wall (best)", _per_line(whole.wall, size))
    result.figure("the same file again (nothing new), wall (best)", _per_line(twice.wall, size))
    result.figure(
        "storing alone (the same rows, no parse), wall (best), ratio",
        f"{_per_line(storing, size)}, {storing / best.wall:.2f}x",
    )
    result.figure(
        "CPU of this process (best): baseline, import, ratio",
        f"{best.cpu * 1000:.0f} ms, {whole.cpu * 1000:.0f} ms, {whole.cpu / best.cpu:.2f}x",
    )
    ratio = whole.wall / best.wall
    result.check("whole import / csv.reader (wall)", ratio, f"<= {TARGET:g}x", ratio <= TARGET)
    return result


if __name__ == "__main__":
    import sys

    engine = "postgres" if "postgres" in sys.argv[1:] else "sqlite"
    run(engine, quick="--quick" in sys.argv[1:])

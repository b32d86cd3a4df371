"""``bundle``: checking a 100,000-entry verification bundle against ``hledger check``.

A fresh database gets one group of 100,000 entries from ``bench.generate`` (``--quick``:
20,000), about 30 s apart, and a signed checkpoint after the last entry of every day, as the
service leaves them (it signs after every entry; a bundle keeps the last of each day): for
100,000 entries, 36 checkpoints over 35 days. The bundle is exported as the API serves it;
then, alternating for a few rounds:

- **baseline**: the real ``hledger -f ledger.journal check`` on the bundle's own journal
  (the same entries, with a balance assertion after every fund posting);
- **verify**: ``ledger.bundle.verify_bundle`` with the published key, as ``commonpurse
  verify --bundle`` runs it: every leaf read back and re-encoded canonically, re-hashed and
  chained, the Merkle root at every checkpoint, every signature, every entry balanced,
  balances replayed never below zero, and the reversal rules. On a machine of two cores
  the leaves are checked by two processes (one inflates and hashes them and grows the
  Merkle tree, the other checks the rules);
- **verify, one process**: the same check forced into one process, for comparison.

Printed: the best wall time and the CPU time (user + system, the child processes'
included: hledger's, and the verifier's second process) of each, the ratios, and the load
average. Target: verify at least 10x faster than hledger's check, in wall time (what the
person checking waits). The CPU ratio is printed beside it: two processes spend a little
more CPU in all than one, to finish sooner.

``python -m bench.bundle [--quick] [--engine sqlite|postgres]`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import subprocess
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import create_session_maker
from app.signing import load_notary
from bench.common import (
    ENGINES,
    Result,
    Stopwatch,
    bench_settings,
    create_bench_group,
    fresh_database,
    load_average,
    load_group,
    open_engine,
    progress,
)
from bench.generate import generate
from ledger.bundle import uses_two_processes, verify_bundle
from ledger.export import export_bundle
from ledger.log import Notary
from ledger.merkle import TreeBuilder
from ledger.models import Checkpoint, Entry

FULL_ENTRIES = 100_000
QUICK_ENTRIES = 20_000
ROUNDS = 3


async def _sign_daily_checkpoints(
    maker: async_sessionmaker[AsyncSession], slug: str, notary: Notary
) -> int:
    """A signed checkpoint after the last entry of each day (the generator signs only the
    final one), dated when that entry was recorded."""
    async with maker() as session, session.begin():
        group = await load_group(session, slug)
        rows = (
            await session.execute(
                select(Entry.seq, Entry.recorded_at, Entry.hash)
                .where(Entry.group_id == group.id)
                .order_by(Entry.seq)
            )
        ).all()
        tree = TreeBuilder()
        signed = 0
        for (seq, recorded_at, entry_hash), following in zip(rows, [*rows[1:], None], strict=True):
            tree.append(bytes.fromhex(entry_hash))
            if following is None or following[1].date() == recorded_at.date():
                continue  # the generator signed the final tree; later entries share the day
            root = tree.root()
            session.add(
                Checkpoint(
                    group_id=group.id,
                    size=seq,
                    root_hash=root.hex(),
                    note=notary.sign(slug, seq, root),
                    signed_at=recorded_at,
                )
            )
            signed += 1
    return signed + 1


async def _build(url: str, n_entries: int, directory: Path) -> tuple[Path, str]:
    settings = bench_settings(url, directory)
    notary = load_notary(settings)
    engine = open_engine(url)
    try:
        maker = create_session_maker(engine)
        async with maker() as session, session.begin():
            group = await create_bench_group(session)
        async with maker() as session, session.begin():
            await generate(session, group.slug, n_entries, notary=notary)
        await _sign_daily_checkpoints(maker, group.slug, notary)
        async with maker() as session, session.begin():
            content = await export_bundle(
                session, await load_group(session, group.slug), notary.key.vkey(), settings.base_url
            )
    finally:
        await engine.dispose()
    path = directory / "bundle.zip"
    path.write_bytes(content)
    return path, notary.key.vkey()


def _build_elsewhere(url: str, n_entries: int, directory: Path) -> tuple[Path, str]:
    """``_build`` in a process of its own, so that this one stays as small as the process of
    ``commonpurse verify --bundle``: building leaves some 600 MB behind, which would make the
    verifier's fork of its second process cost some 30 ms more than it does from the CLI."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as builder:
        return builder.submit(_build_now, url, n_entries, directory).result()


def _build_now(url: str, n_entries: int, directory: Path) -> tuple[Path, str]:
    return asyncio.run(_build(url, n_entries, directory))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _hledger(journal: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``hledger check`` on the journal."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        ["hledger", "-f", str(journal), "check"],
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def run(engine_name: str, quick: bool) -> Result:
    n_entries = QUICK_ENTRIES if quick else FULL_ENTRIES
    result = Result("bundle", engine_name)
    if shutil.which("hledger") is None:
        result.note("hledger is not installed (apt-get install hledger): no baseline")
        return result
    with fresh_database(engine_name) as url, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with Stopwatch() as watch:
            bundle, vkey = _build_elsewhere(url, n_entries, directory)
        result.figure(
            "bundle built",
            f"{n_entries:,} entries in {watch.wall:.0f} s, {bundle.stat().st_size / 1e6:.1f} MB",
        )
        with zipfile.ZipFile(bundle) as archive:
            archive.extract("ledger.journal", directory)
            checkpoints = len(archive.read("checkpoints.jsonl").splitlines())
            leaves = archive.getinfo("leaves.jsonl").file_size
        result.figure(
            "in the bundle", f"{checkpoints} signed checkpoints, {leaves / 1e6:.1f} MB of leaves"
        )
        journal = directory / "ledger.journal"
        hledger_runs: list[tuple[float, float]] = []
        verify_runs: dict[bool | None, list[tuple[float, float]]] = {None: [], False: []}
        loads: list[str] = []
        for round_number in range(ROUNDS):
            progress(f"round {round_number + 1} of {ROUNDS} (load average {load_average()})")
            loads.append(load_average())
            hledger_runs.append(_hledger(journal))
            for two_processes, runs in verify_runs.items():
                with Stopwatch() as verify_watch:
                    report = verify_bundle(bundle, vkey, two_processes=two_processes)
                runs.append((verify_watch.wall, verify_watch.cpu))
                if not report.ok:
                    result.note(f"the bundle did not verify: {report.problem}")
                    return result
        hledger_wall, hledger_cpu = _best(hledger_runs)
        result.figure(
            f"hledger check (best of {ROUNDS})",
            f"{hledger_wall:.2f} s wall, {hledger_cpu:.2f} s CPU",
        )
        (verify_wall, verify_cpu), (alone_wall, alone_cpu) = map(_best, verify_runs.values())
        processes = 2 if uses_two_processes(leaves) else 1
        for label, wall, cpu in (
            (f"verify --bundle ({processes} processes)", verify_wall, verify_cpu),
            ("verify --bundle forced into 1 process", alone_wall, alone_cpu),
        ):
            result.figure(
                f"{label} (best of {ROUNDS})",
                f"{wall:.2f} s wall, {cpu:.2f} s CPU ({cpu / n_entries * 1e6:.1f} us of CPU "
                f"per entry); {hledger_wall / wall:.2f}x in wall time, "
                f"{hledger_cpu / cpu:.2f}x in CPU",
            )
        result.figure("load average at each round", ", ".join(loads))
        wall_ratio = hledger_wall / verify_wall
        result.check("hledger time / verify time (wall)", wall_ratio, ">= 10x", wall_ratio >= 10)
    return result


def _best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The best wall time and the best CPU time of some runs."""
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bundle", description=__doc__)
    parser.add_argument("--engine", choices=ENGINES, default="sqlite")
    parser.add_argument("--quick", action="store_true", help="20,000 entries instead of 100,000")
    args = parser.parse_args(argv)
    print(f"bundle ({args.engine}; load average {load_average()})", flush=True)
    run(args.engine, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

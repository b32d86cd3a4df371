"""``bundle``: checking a 100,000-entry verification bundle against ``hledger check``.

A fresh database gets one group of 100,000 entries from ``bench.generate`` (``--quick``:
20,000), with a checkpoint signed after every entry, so the bundle carries the last
checkpoint of every day. The bundle is exported as the API serves it; then, alternating:

- **baseline**: the real ``hledger -f ledger.journal check`` on the bundle's own journal
  (the same entries, with a balance assertion after every fund posting);
- **verify**: ``ledger.bundle.verify_bundle`` with the published key: every leaf re-encoded
  canonically and re-hashed, the chain, every Merkle root at every checkpoint, every
  signature, balances, overdrafts and reversal rules.

Target: verify at least 10x faster than hledger's check.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from app.db import create_session_maker
from app.signing import load_notary
from bench.common import (
    Result,
    Stopwatch,
    bench_settings,
    create_bench_group,
    fresh_database,
    load_group,
    open_engine,
    progress,
)
from bench.generate import generate
from ledger.bundle import verify_bundle
from ledger.export import export_bundle

FULL_ENTRIES = 100_000
QUICK_ENTRIES = 20_000
ROUNDS = 2


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
        async with maker() as session, session.begin():
            content = await export_bundle(
                session, await load_group(session, group.slug), notary.key.vkey(), settings.base_url
            )
    finally:
        await engine.dispose()
    path = directory / "bundle.zip"
    path.write_bytes(content)
    return path, notary.key.vkey()


def _hledger(journal: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["hledger", "-f", str(journal), "check"],
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    return time.perf_counter() - started


def run(engine_name: str, quick: bool) -> Result:
    n_entries = QUICK_ENTRIES if quick else FULL_ENTRIES
    result = Result("bundle", engine_name)
    if shutil.which("hledger") is None:
        result.note("hledger is not installed (apt-get install hledger): no baseline")
        return result
    with fresh_database(engine_name) as url, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with Stopwatch() as watch:
            bundle, vkey = asyncio.run(_build(url, n_entries, directory))
        result.figure(
            "bundle built",
            f"{n_entries:,} entries in {watch.wall:.0f} s, {bundle.stat().st_size / 1e6:.1f} MB",
        )
        with zipfile.ZipFile(bundle) as archive:
            archive.extract("ledger.journal", directory)
            checkpoints = len(archive.read("checkpoints.jsonl").splitlines())
        result.figure("signed checkpoints in the bundle", f"{checkpoints}")
        journal = directory / "ledger.journal"
        hledger_times, verify_times = [], []
        for round_number in range(ROUNDS):
            progress(f"round {round_number + 1} of {ROUNDS}")
            hledger_times.append(_hledger(journal))
            started = time.perf_counter()
            report = verify_bundle(bundle, vkey)
            verify_times.append(time.perf_counter() - started)
            if not report.ok:
                result.note(f"the bundle did not verify: {report.problem}")
                return result
        hledger_best, verify_best = min(hledger_times), min(verify_times)
        result.figure("hledger check (best of rounds)", f"{hledger_best:.2f} s")
        result.figure("verify --bundle (best of rounds)", f"{verify_best:.2f} s")
        ratio = hledger_best / verify_best
        result.check("hledger time / verify time", ratio, ">= 10x", ratio >= 10)
    return result


if __name__ == "__main__":
    run("sqlite", quick=False)

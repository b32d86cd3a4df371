"""``pages``: the public ledger page at 1,000,000 entries, a deep page against the first.

One group of 1,000,000 entries (``--quick``: 100,000), generated in bulk by
``bench/generate.py``; the app runs in this process with its lifespan behind
``httpx.ASGITransport`` (as in ``reads``), anonymous, as a donor would read it. Timed, in
alternation so that noise hits both:

- **first page**: ``GET /g/{g}/ledger``, the newest 50 entries;
- **deep page**: ``GET /g/{g}/ledger?before=101``, the 50 entries before entry 101, near the
  start of the log (keyset pagination: no OFFSET, so it should cost what the first does);
- **deep page of one fund**: ``?fund=rent-relief&before=...`` near the start of that fund.

Each is rendered in full (Jinja2, amounts formatted with Babel). Target: the deep pages'
median within 1.5x of the first page's.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from litestar import Litestar

from app.asgi import create_app
from bench.common import (
    BenchGroup,
    Result,
    Stopwatch,
    bench_settings,
    build_group,
    fresh_database,
    median_ms,
    p90_ms,
)

FULL_ENTRIES = 1_000_000
QUICK_ENTRIES = 100_000
TARGET = 1.5
ROUNDS = 200
QUICK_ROUNDS = 100
WARM_UP = 10
FIRST = "first page"


def _pages(slug: str) -> dict[str, str]:
    return {
        FIRST: f"/g/{slug}/ledger",
        "deep page (before=101)": f"/g/{slug}/ledger?before=101",
        "deep page of one fund (before=201)": f"/g/{slug}/ledger?fund=rent-relief&before=201",
    }


async def _measure(app: Litestar, group: BenchGroup, rounds: int) -> dict[str, list[float]]:
    pages = _pages(group.slug)
    samples: dict[str, list[float]] = {name: [] for name in pages}
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://testserver.local",
        ) as client,
    ):
        order = list(pages.items())
        for number in range(WARM_UP + rounds):
            # Each page goes first in turn, so none always follows another.
            shift = number % len(order)
            for name, url in order[shift:] + order[:shift]:
                started = time.perf_counter()
                response = await client.get(url, headers={"Accept": "text/html"})
                elapsed = time.perf_counter() - started
                if response.status_code != 200 or "Entry #" not in response.text:
                    raise RuntimeError(f"GET {url} answered {response.status_code}")
                if number >= WARM_UP:
                    samples[name].append(elapsed)
    return samples


def run(engine_name: str, quick: bool) -> Result:
    n_entries = QUICK_ENTRIES if quick else FULL_ENTRIES
    rounds = QUICK_ROUNDS if quick else ROUNDS
    result = Result("pages", engine_name)
    with (
        tempfile.TemporaryDirectory(prefix="commonpurse-bench-keys-") as keys,
        fresh_database(engine_name, "_pages") as url,
    ):
        with Stopwatch() as watch:
            group = asyncio.run(build_group(url, n_entries))
        result.figure("generated the group", f"{n_entries:,} entries in {watch.wall:.0f} s")
        app = create_app(bench_settings(url, Path(keys)))
        samples = asyncio.run(_measure(app, group, rounds))
    result.figure("requests per page", f"{rounds}")
    for name, times in samples.items():
        result.figure(name, f"{median_ms(times):7.2f} ms (p90 {p90_ms(times):7.2f})")
    first = median_ms(samples[FIRST])
    for name, times in samples.items():
        if name != FIRST:
            ratio = median_ms(times) / first
            result.check(f"{name} / first page", ratio, f"<= {TARGET:g}x", ratio <= TARGET)
    return result

"""``reads``: the balance and entry pages of a 1,000,000-entry group against a 1,000-entry one.

Two fresh databases, one per size (so a query that scans more than it should shows up as a
difference instead of hitting both sides), each with one public group written by
``bench.generate`` (``--quick``: 100,000 entries against 1,000). Both apps run in this
process (started with their lifespan, as Litestar's test client does) and are called through
``httpx.ASGITransport`` on the same event loop: unlike ``AsyncTestClient``, which hands each
request to the app's thread, that adds no thread switch to the time measured, so the figures
are the app's and the database's. Requests carry the steward's bearer token.
The routes, each timed on the small and the big group one after the other (each size first
every other round), over many rounds so machine noise hits both:

- ``GET /api/groups/{g}/funds``: every fund with its balance;
- ``GET /api/groups/{g}/entries?limit=50``: the newest page;
- ``GET /api/groups/{g}/entries?limit=50&before=101``: a deep page near the start of the log
  (the same entries 51-100 on both sides);
- ``GET /api/groups/{g}/entries?limit=50&fund=rent-relief``: the newest page of one fund;
- ``GET /api/groups/{g}/giving``: how to give, with the standing donations counted and summed
  (what the group page and the give page show).

Figures are medians (and 90th percentiles) in milliseconds. Target: every route's median at
1,000,000 entries within 1.5x of the same route's at 1,000.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from contextlib import AsyncExitStack
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

SMALL_ENTRIES = 1_000
FULL_ENTRIES = 1_000_000
QUICK_ENTRIES = 100_000
TARGET = 1.5
ROUNDS = 300
QUICK_ROUNDS = 150
WARM_UP = 20
ROUTES = {
    "funds (balances)": "/funds",
    "entries, newest page": "/entries?limit=50",
    "entries, deep page (before=101)": "/entries?limit=50&before=101",
    "entries, one fund's newest page": "/entries?limit=50&fund=rent-relief",
    "giving (the donations counted and summed)": "/giving",
}


async def _measure(
    apps: dict[str, tuple[Litestar, BenchGroup]], rounds: int
) -> dict[tuple[str, str], list[float]]:
    samples: dict[tuple[str, str], list[float]] = {
        (route, size): [] for route in ROUTES for size in apps
    }
    async with AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for size, (app, _) in apps.items():
            await stack.enter_async_context(app.lifespan())
            clients[size] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                    base_url="http://testserver.local",
                )
            )
        sizes = list(apps)
        for number in range(WARM_UP + rounds):
            for route, path in ROUTES.items():
                # Each size goes first every other round, so neither always follows the other.
                for size in sizes if number % 2 else sizes[::-1]:
                    group = apps[size][1]
                    url = f"/api/groups/{group.slug}{path}"
                    headers = {"Authorization": f"Bearer {group.token}"}
                    started = time.perf_counter()
                    response = await clients[size].get(url, headers=headers)
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {url} answered {response.status_code}")
                    if number >= WARM_UP:
                        samples[route, size].append(elapsed)
    return samples


def run(engine_name: str, quick: bool) -> Result:
    big_entries = QUICK_ENTRIES if quick else FULL_ENTRIES
    sizes = {"small": SMALL_ENTRIES, "big": big_entries}
    result = Result("reads", engine_name)
    with (
        tempfile.TemporaryDirectory(prefix="commonpurse-bench-keys-") as keys,
        fresh_database(engine_name) as small_url,
        fresh_database(engine_name, "_big") as big_url,
    ):
        urls = {"small": small_url, "big": big_url}
        groups: dict[str, BenchGroup] = {}
        for size, n_entries in sizes.items():
            with Stopwatch() as watch:
                groups[size] = asyncio.run(build_group(urls[size], n_entries))
            result.figure(
                f"generated the {size} group", f"{n_entries:,} entries in {watch.wall:.0f} s"
            )
        apps = {
            size: (create_app(bench_settings(urls[size], Path(keys))), groups[size])
            for size in sizes
        }
        rounds = QUICK_ROUNDS if quick else ROUNDS
        samples = asyncio.run(_measure(apps, rounds))
    result.figure("requests per route and size", f"{rounds}")
    for route in ROUTES:
        small, big = samples[route, "small"], samples[route, "big"]
        result.figure(
            f"{route}",
            f"{SMALL_ENTRIES:,}: {median_ms(small):6.2f} ms (p90 {p90_ms(small):6.2f})   "
            f"{big_entries:,}: {median_ms(big):6.2f} ms (p90 {p90_ms(big):6.2f})",
        )
    for route in ROUTES:
        ratio = median_ms(samples[route, "big"]) / median_ms(samples[route, "small"])
        result.check(f"{route}: big / small", ratio, f"<= {TARGET:g}x", ratio <= TARGET)
    return result

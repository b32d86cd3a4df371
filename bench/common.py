"""What every bench shares: a fresh migrated database, a group to work in, timing, report.

Each bench gets its own database: a SQLite file in a temporary directory, or on PostgreSQL a
``commonpurse_bench_<pid>`` database created from the ``postgres`` maintenance database
(``COMMONPURSE_BENCH_POSTGRES_URL``, default the local server) and dropped afterwards. Both
are migrated with ``app.migrate.upgrade`` like a real instance.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import create_token
from app.db import create_engine, create_session_maker
from app.migrate import upgrade
from app.settings import Settings
from bench.generate import DEFAULT_STEP, generate
from ledger import groups, service
from ledger.models import Group
from ledger.schemas import FundIn

ENGINES = ("sqlite", "postgres")
POSTGRES_URL = os.environ.get(
    "COMMONPURSE_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
BENCH_SLUG = "bench-fund"
BENCH_FUNDS = (("rent-relief", "Rent relief"), ("groceries", "Groceries"))


# --- databases ---------------------------------------------------------------------------


async def _pg_admin(statement: str) -> None:
    url = make_url(POSTGRES_URL).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def frozen() -> Iterator[None]:
    """What the process holds when the block starts (``python -m bench`` imports the whole
    app; a fresh database's migration leaves objects too) is moved out of the garbage
    collector's sight, so what the block measures pays only for rescanning its own."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def fresh_database(engine: str, suffix: str = "") -> Iterator[str]:
    """The URL of a new, migrated database, removed afterwards."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="commonpurse-bench-") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    name = f"commonpurse_bench_{os.getpid()}{suffix}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def bench_settings(url: str, directory: Path | None = None) -> Settings:
    """Settings of a bench instance; ``directory`` holds its signing key."""
    directory = directory or Path(tempfile.gettempdir()) / f"commonpurse-bench-{os.getpid()}"
    return Settings(
        database_url=url,
        secret_key="bench-secret-" + "x" * 40,
        signing_key_file=directory / "bench-signing-key.pem",
        base_url="http://127.0.0.1",
    )


def open_engine(url: str) -> AsyncEngine:
    """The app's own engine (WAL, busy timeout, BEGIN IMMEDIATE on SQLite)."""
    return create_engine(bench_settings(url))


@dataclass(frozen=True, slots=True)
class BenchGroup:
    slug: str
    steward_id: int
    token: str


async def create_bench_group(session: AsyncSession, slug: str = BENCH_SLUG) -> BenchGroup:
    """A public EUR group with an admin, a steward (who has an API token) and two funds."""
    admin = await groups.create_user(
        session, email=f"admin@{slug}.example.org", name="Bench Admin", password_hash=None
    )
    steward = await groups.create_user(
        session, email=f"steward@{slug}.example.org", name="Bench Steward", password_hash=None
    )
    group = await groups.create_group(
        session, slug=slug, name="Bench group", currency="EUR", admin=admin
    )
    await groups.add_member(session, group, steward, ["steward"])
    for fund_slug, name in BENCH_FUNDS:
        await service.create_fund(session, group, FundIn(slug=fund_slug, name=name))
    token = await create_token(session, steward, "bench")
    return BenchGroup(slug=group.slug, steward_id=steward.id, token=token)


async def build_group(
    url: str, n_entries: int, *, chunk: int = 100_000, step: timedelta = DEFAULT_STEP
) -> BenchGroup:
    """A bench group with ``n_entries`` entries from ``bench.generate``, about ``step``
    apart, committed in chunks (small transactions), the last entry recorded about now;
    then ``analyze``."""
    engine = open_engine(url)
    try:
        sessions = create_session_maker(engine)
        async with sessions() as session, session.begin():
            group = await create_bench_group(session)
        start = datetime.now(UTC) - step * n_entries
        done = 0
        while done < n_entries:
            size = min(chunk, n_entries - done)
            async with sessions() as session, session.begin():
                await generate(
                    session,
                    group.slug,
                    size,
                    seed=done + 1,
                    start=start if done == 0 else None,
                    step=step,
                    recorded_by=group.steward_id,
                )
            done += size
            if n_entries > chunk:
                progress(f"generated {done:,} of {n_entries:,} entries")
        await analyze(engine)
    finally:
        await engine.dispose()
    return group


async def load_group(session: AsyncSession, slug: str) -> Group:
    return await groups.get_group(session, slug)


async def analyze(engine: AsyncEngine) -> None:
    """Refresh the planner's statistics after a bulk load, as autovacuum would on
    PostgreSQL. SQLite is left as the app leaves it (no ANALYZE, no ``PRAGMA optimize``)."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
        await connection.commit()


# --- timing and report -------------------------------------------------------------------


class Stopwatch:
    """Wall time and CPU time of a block: this process's, and that of child processes it
    started and waited for inside the block (a verifier may check on two cores)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall = time.perf_counter()
        self._cpu = _cpu_with_children()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += _cpu_with_children() - self._cpu


def _cpu_with_children() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p90_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000


@dataclass(slots=True)
class Result:
    """One bench's printed report: figures, ratios and their targets."""

    name: str
    engine: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    checks: list[tuple[str, float, str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(self, label: str, value: str) -> None:
        self.figures.append((label, value))
        print(f"  {label:<52} {value}", flush=True)

    def check(self, label: str, ratio: float, target: str, met: bool) -> None:
        self.checks.append((label, ratio, target, met))
        print(
            f"  {label:<52} {ratio:6.2f}x  target {target:<8} {'PASS' if met else 'MISS'}",
            flush=True,
        )

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)


def load_average() -> str:
    """The machine's 1-minute load average (other work on it skews wall times)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def progress(text: str) -> None:
    print(f"  .. {text}", flush=True)

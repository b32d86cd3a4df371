"""The fixtures every test may ask for: a fresh, migrated database per test on SQLite and
on PostgreSQL (``db_url``, parametrised by engine), the settings, engine and session on it,
the app and its test client, and a ``world`` (a group with one person per role).

What they are made of lives in ``tests/support/`` (see there), which test modules import
directly; nothing is imported from this file.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.asgi import create_app
from app.db import create_engine, create_session_maker, write_intent
from app.migrate import upgrade
from app.settings import Settings
from tests.support.databases import (
    EACH_TEST,
    ENGINES,
    POSTGRES_URL,
    database_name,
    fresh_database,
    pg_admin,
    postgres_url,
    settings_for,
    unavailable,
)
from tests.support.people import World, build_world


def pytest_configure(config: pytest.Config) -> None:
    """The interpreter's garbage collector scans every live object again and again; most
    of them (modules, the apps) live for the whole run. Freezing what is loaded by now and
    collecting the youngest objects less often takes a large share of the suite's time off
    without holding more than a test's worth of garbage."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


WRITING = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@pytest.fixture(autouse=True)
def reads_never_write() -> Iterator[None]:
    """A request that only reads (a GET or HEAD whose route does not say ``writes=True``)
    writes nothing, in every test, on both engines: on SQLite its transaction began without
    the write lock, and a write would have to take it midway, which fails at once (no busy
    wait) when another request writes."""
    written: list[str] = []

    def check(*args: object) -> None:
        statement = str(args[2])
        if not write_intent.get() and statement.lstrip().upper().startswith(WRITING):
            written.append(statement)

    event.listen(Engine, "before_cursor_execute", check)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", check)
    assert not written, f"a read-only request wrote: {written[0][:200]}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = database_name("template")
    try:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        unavailable(
            f"PostgreSQL at {POSTGRES_URL} did not answer ({error}); "
            "start it to run the PostgreSQL half of the suite"
        )
    upgrade(postgres_url(name))
    yield name
    for left in (database_name(EACH_TEST), name):  # ``db_url``'s, kept from test to test
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{left}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def worker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test process's own directory for what its tests' apps keep on disk."""
    return tmp_path_factory.mktemp("worker")


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, worker_dir: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database (one test, one engine). Each test's database
    of an engine has the same address in a worker, so the same settings, so one app."""
    directory = worker_dir / request.param
    directory.mkdir(exist_ok=True)
    with fresh_database(request, request.param, directory, name=EACH_TEST) as url:
        yield url


@pytest.fixture(scope="module", params=ENGINES)
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``db_url``, once per engine for a whole module (a matrix of many requests on
    one stage)."""
    with fresh_database(request, request.param, tmp_path_factory.mktemp("module")) as url:
        yield url


@pytest.fixture
def settings(db_url: str, worker_dir: Path) -> Settings:
    """The test instance's settings: the same in every test of a worker but for the engine
    (the keys are the worker's; the stored files start empty each test)."""
    attachments = worker_dir / "attachments"
    shutil.rmtree(attachments, ignore_errors=True)
    return settings_for(db_url, worker_dir, attachments_dir=attachments)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_maker(engine)


@pytest.fixture
async def session(session_maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work the test commits itself (as a request or a CLI command would)."""
    async with session_maker() as session:
        yield session


@pytest.fixture(scope="session")
def built_apps() -> dict[str, Litestar]:
    return {}


@pytest.fixture
def app(settings: Settings, built_apps: dict[str, Litestar]) -> Litestar:
    """The app for these settings, built once per worker: building one costs about 0.2 s
    of CPU (Litestar registering some 800 routes), most of a test's own cost. Reusing it is
    sound because each run (a client's lifespan) starts from scratch: what an app keeps
    between requests is set up on startup and its connections are closed on shutdown, and
    the database and stored files under the same addresses are fresh for each test."""
    key = repr(settings)
    if key not in built_apps:
        built_apps[key] = create_app(settings)
    return built_apps[key]


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await build_world(session)

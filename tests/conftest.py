"""The fixtures every test may ask for: a fresh, migrated database per test on SQLite and
on PostgreSQL (``db_url``, parametrised by engine), the settings, engine and session on it,
the app and its test client, and a ``world`` (a group with one person per role).

What they are made of lives in ``tests/support/`` (see there), which test modules import
directly; nothing is imported from this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.asgi import create_app
from app.db import create_engine, create_session_maker
from app.migrate import upgrade
from app.settings import Settings
from tests.support.databases import (
    ENGINES,
    POSTGRES_URL,
    database_name,
    fresh_database,
    pg_admin,
    postgres_url,
    unavailable,
)
from tests.support.people import World, build_world


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
    asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database (one test, one engine)."""
    with fresh_database(request, request.param, tmp_path) as url:
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
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key="test-secret-" + "x" * 40,
        signing_key_file=tmp_path / "signing-key.pem",
        base_url="http://testserver.local",
        attachments_dir=tmp_path / "attachments",
    )


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


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await build_world(session)

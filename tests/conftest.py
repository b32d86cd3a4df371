"""Shared fixtures: a fresh, migrated database per test, on SQLite and on PostgreSQL.

The real Alembic migrations run once per engine and test worker into a template; each test
then gets its own copy (a copied SQLite file; ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL), so no test sees another's rows and nothing needs cleaning up.

PostgreSQL comes from ``COMMONPURSE_TEST_POSTGRES_URL`` (default: the local server's
``commonpurse_test`` database). Outside CI, database tests on PostgreSQL are skipped with a
reason when no server answers; in CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.asgi import create_app
from app.auth import create_token
from app.db import create_engine, create_session_maker
from app.migrate import upgrade
from app.settings import Settings
from ledger import groups, service
from ledger.models import Group, User
from ledger.schemas import FundIn

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Something a test needs is missing: a failure in CI (where nothing may be skipped), a
    skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason}; CI must run this test")
    pytest.skip(reason)


POSTGRES_URL = os.environ.get(
    "COMMONPURSE_TEST_POSTGRES_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/commonpurse_test",
)
ENGINES = ("sqlite", "postgres")
_counter = itertools.count()


def _worker() -> str:
    """Unique per test process, so parallel runs on one server never share a database."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_admin(statement: str) -> None:
    """Run a statement on the server's maintenance database (databases come and go)."""
    admin_url = make_url(POSTGRES_URL).set(database="postgres")
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url.render_as_string(False)), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"{make_url(POSTGRES_URL).database}_{_worker()}_template"
    try:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        unavailable(
            f"PostgreSQL at {POSTGRES_URL} did not answer ({error}); "
            "start it to run the PostgreSQL half of the suite"
        )
    upgrade(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database (one test, one engine)."""
    with fresh_database(request, request.param, tmp_path) as url:
        yield url


@contextmanager
def fresh_database(request: pytest.FixtureRequest, engine: str, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the migrated template of ``engine`` for one test, dropped after it."""
    if engine == "sqlite":
        path = tmp_path / "commonpurse.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"{make_url(POSTGRES_URL).database}_{_worker()}_{next(_counter)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key="test-secret-" + "x" * 40,
        signing_key_file=tmp_path / "signing-key.pem",
        base_url="http://testserver.local",
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


@dataclass
class Person:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """A group "rent-fund" (EUR, public) with two funds and one person per role, plus an
    outsider who belongs to no group."""

    group: Group
    slug: str
    admin: Person
    steward: Person
    facilitator: Person
    member: Person
    outsider: Person

    async def fresh_group(self, session: AsyncSession) -> Group:
        """The group re-read (after a rollback has expired the loaded object)."""
        return await groups.get_group(session, self.slug)


async def make_person(session: AsyncSession, name: str) -> Person:
    user = await groups.create_user(
        session, email=f"{name}@example.org", name=name.title(), password_hash=None
    )
    return Person(user, await create_token(session, user, "tests"))


async def build_world(
    session: AsyncSession, *, slug: str = "rent-fund", public: bool = True
) -> World:
    people = {
        name: await make_person(session, f"{name}-{slug}")
        for name in ("admin", "steward", "facilitator", "member", "outsider")
    }
    group = await groups.create_group(
        session,
        slug=slug,
        name="Rent Fund",
        currency="EUR",
        admin=people["admin"].user,
        public=public,
    )
    for role in ("steward", "facilitator", "member"):
        await groups.add_member(session, group, people[role].user, [role])
    await service.create_fund(session, group, FundIn(slug="rent-relief", name="Rent relief"))
    await service.create_fund(session, group, FundIn(slug="groceries", name="Groceries"))
    await session.commit()
    return World(group=group, slug=group.slug, **people)


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await build_world(session)


def racing_client(settings: Settings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """A client whose requests really overlap: a new app serves them on the test's event loop
    (the test client serves one request at a time, however they are gathered)."""
    return in_loop_client(create_app(settings))


@asynccontextmanager
async def in_loop_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` running (its lifespan) and a client calling it on the test's event loop."""
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://testserver.local",
        ) as client,
    ):
        yield client

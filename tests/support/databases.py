"""Fresh, migrated databases for tests, on SQLite and on PostgreSQL.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "COMMONPURSE_TEST_POSTGRES_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/commonpurse_test",
)
ENGINES = ("sqlite", "postgres")
_counter = itertools.count()


def unavailable(reason: str) -> NoReturn:
    """Something a test needs is missing: a failure in CI (where nothing may be skipped), a
    skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason}; CI must run this test")
    pytest.skip(reason)


def worker() -> str:
    """Unique per test process, so parallel runs on one server never share a database."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_url(database: str) -> str:
    """The test server's URL for another database."""
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


def database_name(suffix: str) -> str:
    """A database name of this worker's own (``commonpurse_test_gw0_1234_<suffix>``)."""
    return f"{make_url(POSTGRES_URL).database}_{worker()}_{suffix}"


async def pg_admin(statement: str) -> None:
    """Run a statement on the server's maintenance database (databases come and go)."""
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url("postgres")), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_database(
    request: pytest.FixtureRequest, engine: str, directory: Path, name: str | None = None
) -> Iterator[str]:
    """A fresh copy of the migrated template of ``engine`` (a SQLite file in ``directory``),
    dropped after the block. With ``name`` the copy has the same address each time (what
    lets one app serve many tests, see ``tests/conftest.py``); whatever an earlier copy of
    that name left is replaced first."""
    if engine == "sqlite":
        path = directory / "commonpurse.db"
        for left in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))):
            # A new file, not the old one overwritten: a connection an earlier test left
            # open keeps reading its own copy instead of this one half-written.
            left.unlink(missing_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = database_name(name or str(next(_counter)))
    asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield postgres_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def drop_triggers(session: AsyncSession) -> None:
    if is_postgres(session):
        for table in ("entries", "postings"):
            await session.execute(text(f"DROP TRIGGER {table}_refuse_change ON {table}"))
    else:
        for table in ("entries", "postings"):
            for action in ("update", "delete"):
                await session.execute(text(f"DROP TRIGGER {table}_refuse_{action}"))

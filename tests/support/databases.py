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
from typing import Any, NoReturn

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import create_engine
from app.settings import Settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "COMMONPURSE_TEST_POSTGRES_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/commonpurse_test",
)
ENGINES = ("sqlite", "postgres")
# The name of the database each test of a worker gets, emptied between tests (``db_url``).
EACH_TEST = "each_test"
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
    if name is not None:
        # The same database each test, emptied in place when it still has the template's
        # schema: a new database costs a tenth of a second (a copy of every relation and two
        # fsyncs) and is made only when a test changed the schema, or the first time.
        database = database_name(name)
        if not asyncio.run(_emptied(database, template)):
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            asyncio.run(pg_admin(f'CREATE DATABASE "{database}" TEMPLATE "{template}"'))
        yield postgres_url(database)
        return
    database = database_name(str(next(_counter)))
    asyncio.run(pg_admin(f'CREATE DATABASE "{database}" TEMPLATE "{template}"'))
    try:
        yield postgres_url(database)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


# What a database's schema is made of, to tell whether a test changed it (dropped a
# trigger, restored an older backup, ...): then it is made afresh, not emptied.
_SCHEMA = """
SELECT (SELECT string_agg(version_num, ',') FROM alembic_version),
       (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal),
       (SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'),
       (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'),
       (SELECT count(*) FROM pg_constraint)
"""
_TABLES = """
SELECT quote_ident(tablename) FROM pg_tables
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
"""
_SEQUENCES = """
SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = 'public'
"""
_template_schema: dict[str, tuple[object, ...]] = {}


async def _emptied(database: str, template: str) -> bool:
    """Empty ``database`` in place (every row gone, every sequence restarted) if it exists
    with the template's schema and holds no row the template lacks elsewhere; False when
    it must be made afresh."""
    if template not in _template_schema:
        connection = await asyncpg.connect(asyncpg_dsn(postgres_url(template)), timeout=5)
        try:
            _template_schema[template] = tuple(await connection.fetchrow(_SCHEMA))
        finally:
            await connection.close()
    try:
        connection = await asyncpg.connect(asyncpg_dsn(postgres_url(database)), timeout=5)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        # Connections a test left open (a killed server's, a leaked pool's) would hold locks
        # the emptying waits for.
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if tuple(await connection.fetchrow(_SCHEMA)) != _template_schema[template]:
            return False
        tables = [row[0] for row in await connection.fetch(_TABLES)]
        sequences = [row[0] for row in await connection.fetch(_SEQUENCES)]
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes every table's
        # files anew (slower than a new database). Triggers are off for the reset: the
        # append-only tables refuse deletes, and foreign keys need no order here.
        await connection.execute(
            "BEGIN; SET LOCAL lock_timeout = '5s'; "
            "SET LOCAL session_replication_role = replica; "
            + "".join(f"DELETE FROM {table}; " for table in tables)
            + "".join(f"ALTER SEQUENCE {sequence} RESTART; " for sequence in sequences)
            + "COMMIT;"
        )
        return True
    except asyncpg.PostgresError:
        return False
    finally:
        await connection.close()


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


def settings_for(url: str, keys: Path, **more: Any) -> Settings:
    """An instance's settings for a test's own database at ``url``, its signing key kept
    in the directory ``keys``."""
    return Settings(
        database_url=url,
        secret_key="test-secret-" + "x" * 40,
        signing_key_file=keys / "signing-key.pem",
        base_url="http://testserver.local",
        **more,
    )


async def run_sql(url: str, *statements: tuple[str, dict[str, object]]) -> list[tuple[Any, ...]]:
    """Run ``statements`` in one transaction on the database at ``url`` (at whatever
    revision it is): the rows of the last that returns rows."""
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as connection:
            rows: list[tuple[Any, ...]] = []
            for statement, parameters in statements:
                result = await connection.execute(text(statement), parameters)
                if result.returns_rows:
                    rows = [tuple(row) for row in result]
            return rows
    finally:
        await engine.dispose()


async def rows_in(sessions: async_sessionmaker[AsyncSession], *tables: Any) -> tuple[int, ...]:
    """How many rows each of ``tables`` (models or tables) holds, read in a session of its
    own: what a refused request must leave as it was."""
    async with sessions() as session:
        return tuple(
            [
                int(await session.scalar(select(func.count()).select_from(table)) or 0)
                for table in tables
            ]
        )

"""One migration history serves both engines, and it matches the models."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from app.db import create_engine
from app.migrate import alembic_config, check, upgrade
from app.settings import Settings
from tests.conftest import POSTGRES_URL, _pg_admin, _worker


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("postgres_template")  # skips or fails clearly without a server
    name = f"{make_url(POSTGRES_URL).database}_{_worker()}_empty"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def table_names(url: str) -> set[str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_upgrade_from_empty_matches_the_models_and_downgrades_cleanly(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    check(empty_db_url)  # raises when models and migrations drift apart
    tables = asyncio.run(table_names(empty_db_url))
    assert {"entries", "postings", "funds", "groups", "checkpoints", "log_states"} <= tables
    command.downgrade(alembic_config(empty_db_url), "base")
    assert asyncio.run(table_names(empty_db_url)) <= {"alembic_version"}
    upgrade(empty_db_url)
    check(empty_db_url)

"""Alembic environment: one history for SQLite and PostgreSQL (batch mode for SQLite)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

import app.models  # noqa: F401  (registers the shell's tables on the shared metadata)
import ledger.models
import proposals.models  # noqa: F401
from app.db import create_engine
from app.settings import Settings

target_metadata = ledger.models.Base.metadata


def _database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    return url or Settings.from_env().database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        # One transaction for the whole upgrade on SQLite too (Alembic commits each
        # migration there by default): it goes in whole, foreign keys checked, or not at all.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def _foreign_keys_off(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """SQLite's way to change a table that others refer to (its "twelve steps"): with
    foreign keys off, which only takes before the transaction begins, a table is rebuilt
    under its name (batch mode) without its referring rows counting as orphans meanwhile."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    """The keys the migrations could not check as they went, checked before committing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migrations leave rows with broken foreign keys: {broken[:10]}")


async def _run_online() -> None:
    settings = Settings(database_url=_database_url())
    engine = create_engine(settings)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())

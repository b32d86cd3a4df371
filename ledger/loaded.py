"""Rows the append path reads or writes without the ORM, made to look loaded by it.

The append path is the hot path: its lock, read and writes are plain statements (on
PostgreSQL sent to asyncpg directly), and the session's objects are then made to match the
rows, as if the ORM had loaded them. That leans on how SQLAlchemy keeps an object's state,
through its public inspection functions (``identity_key``, ``instance_dict``,
``make_transient_to_detached``, ``set_committed_value``) and the mapper's class manager;
``tests/unit/test_loaded.py`` fails when SQLAlchemy changes what they mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Column, Select, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value

from ledger.models import Base

Model = TypeVar("Model", bound=Base)


def as_loaded(model: type[Model], values: dict[str, Any]) -> Model:
    """A new object for a row written or read without the unit of work, made to look
    loaded (no pending changes), so the session neither inserts it again nor reloads it.

    ``values`` may hold a many-to-one relationship's object too, loaded with the row as
    ``set_committed_value`` would load it (a collection needs ``set_committed_value``).

    It skips the constructor, which would record every value as a change to undo at once:
    the ORM's loader fills a new instance's ``__dict__`` the same way, at a quarter of the
    cost (an append makes five of these)."""
    instance: Model = model.__mapper__.class_manager.new_instance()
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    return instance


def held(session: AsyncSession, model: type[Model], values: dict[str, Any]) -> Model | None:
    """The session's object for a row read without the ORM, brought up to date with the
    row's values as if just loaded (what ``populate_existing`` does); None when the session
    holds none."""
    mapper = model.__mapper__
    key = mapper.identity_key_from_primary_key(tuple(values[name] for name in _primary_key(model)))
    found: Model | None = session.sync_session.identity_map.get(key)
    if found is not None:
        for name, value in values.items():
            set_committed_value(found, name, value)
    return found


def current(session: AsyncSession, model: type[Model], values: dict[str, Any]) -> Model:
    """The session's object for a row read without the ORM, holding the row's values as if
    just loaded: the one in the session brought up to date (``held``), or a new one added
    to it."""
    found = held(session, model, values)
    if found is None:
        found = as_loaded(model, values)
        session.add(found)
    return found


@cache
def _primary_key(model: type[Base]) -> tuple[str, ...]:
    return tuple(column.name for column in table_of(model).primary_key)


def table_of(model: type[Base]) -> Table:
    """A model's table (``__table__`` is typed as any FROM clause)."""
    return cast("Table", model.__table__)


def column_names(model: type[Base]) -> tuple[str, ...]:
    """The names of every column of a model's table, in order: a row read of all of them
    makes a whole object (an unloaded column would be read lazily, which an async session
    cannot do)."""
    return tuple(column.name for column in table_of(model).columns)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    parameters: tuple[str, ...]  # the bound parameters' names, in the driver's order
    postgres: bool
    read: tuple[Callable[[Any], Any] | None, ...]  # each column's result processor


class DriverQuery:
    """A SELECT of table columns sent to the session's driver connection (asyncpg's or
    aiosqlite's) in the session's transaction: SQLAlchemy compiles it once per dialect, and
    its rows come back as the columns' types read them, but without SQLAlchemy's execution
    and ORM machinery, which cost some four times what the driver does for one row."""

    def __init__(self, statement: Select[Any], columns: Sequence[Column[Any]]) -> None:
        self.statement = statement
        self.columns = tuple(columns)
        self._compiled: dict[type[Dialect], _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(type(dialect))
        if compiled is None:
            statement = self.statement.compile(dialect=dialect)
            compiled = self._compiled[type(dialect)] = _Compiled(
                str(statement),
                tuple(statement.positiontup or ()),
                dialect.name == "postgresql",
                tuple(
                    column.type.dialect_impl(dialect).result_processor(dialect, None)
                    for column in self.columns
                ),
            )
        return compiled

    async def rows(self, session: AsyncSession, **parameters: Any) -> list[tuple[Any, ...]]:
        return await self.rows_on(*await driver_connection(session), **parameters)

    async def rows_on(
        self, connection: AsyncConnection, driver: Any, **parameters: Any
    ) -> list[tuple[Any, ...]]:
        """``rows`` on what ``driver_connection`` gave."""
        compiled = self._compile(connection.dialect)
        arguments = [parameters[name] for name in compiled.parameters]
        if compiled.postgres:
            rows = await driver.fetch(compiled.sql, *arguments)
        else:
            cursor = await driver.execute(compiled.sql, arguments)
            rows = await cursor.fetchall()
            await cursor.close()
        read = compiled.read
        return [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(read, row, strict=True)
            )
            for row in rows
        ]


async def driver_connection(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """The session's connection and its driver connection (asyncpg's or aiosqlite's), in the
    session's transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN only before the first statement it runs itself:
    a statement sent to asyncpg before that would run outside the transaction and be
    committed at once (a lock released as soon as taken). So the adapter is asked to begin
    first, through its own (private) ``_start_transaction``, which its commit and rollback
    then end; ``tests/integration/test_loaded.py`` fails if that changes. SQLite's
    transaction has begun already (``app.db``'s "begin" listener)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if connection.dialect.name == "postgresql" and not driver.is_in_transaction():
        adapter: Any = raw.dbapi_connection
        await adapter._start_transaction()
    return connection, driver

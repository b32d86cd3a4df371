"""Database wiring for both engines: one engine per process, one transaction per request.

SQLite: WAL, foreign keys and a busy timeout on every connection, and write transactions
begin with ``BEGIN IMMEDIATE`` so that read-then-append never fails with "database is
locked" under concurrency (SQLAlchemy's documented recipe for pysqlite/aiosqlite). Requests
that only read (GET, HEAD) begin a plain deferred transaction, so readers never queue
behind writers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000

# False while serving a request that only reads (set by ``ReadOnlyRequestMiddleware``).
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for PostgreSQL and in-memory databases."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


class WriterTurn:
    """One request's turn to write (SQLite; ``app.asgi.WriterTurns`` queues them). A
    request that must wait for a while without a transaction (a slowed login) steps out
    of its turn meanwhile, so the other writers go on."""

    STATE_KEY = "cp_writer_turn"

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock
        self._held = False

    async def __aenter__(self) -> WriterTurn:
        await self._lock.acquire()
        self._held = True
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._held:
            self._held = False
            self._lock.release()

    @asynccontextmanager
    async def stepped_out(self) -> AsyncIterator[None]:
        if self._held:
            self._held = False
            self._lock.release()
        try:
            yield
        finally:
            # Cancelled while waiting here, the lock is not held and exit releases nothing.
            await self._lock.acquire()
            self._held = True


class _SqliteConnection(aiosqlite.Connection):
    """aiosqlite, except that write transactions run their statements on the event loop.

    aiosqlite hands every call (cursor, execute, fetch, close) to the connection's thread
    and back: four thread switches per query, which cost an append (ten statements) more
    than its SQL, and more again on a busy machine. A write transaction's statements cannot
    wait for a lock once ``BEGIN IMMEDIATE`` holds the database's write lock (WAL readers
    never block a writer), so they run inline, briefly. What may wait stays on the thread:
    ``BEGIN IMMEDIATE`` itself (another process, or a WAL checkpoint, may hold the lock; the
    busy handler waits there), COMMIT (which may checkpoint the WAL), and everything in read
    transactions (an export may read for seconds), so the event loop keeps serving.
    """

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        connection = self._connection
        if write_intent.get() and connection is not None:
            bound_to = getattr(fn, "__self__", None)
            if connection.in_transaction:
                if bound_to is not connection or fn.__name__ not in _MAY_WAIT:
                    return fn(*args, **kwargs)
            elif bound_to is connection and fn.__name__ == "cursor":
                return fn(*args, **kwargs)
            elif bound_to is connection and fn.__name__ == "rollback":
                return None  # the pool's reset after a commit: nothing to roll back
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]


_MAY_WAIT = frozenset({"commit", "rollback", "close"})


def _sqlite_connector(path: Path) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    async def connect() -> aiosqlite.Connection:
        connection = _SqliteConnection(
            lambda: sqlite3.connect(path, check_same_thread=False), iter_chunk_size=64
        )
        connection._thread.daemon = True  # as SQLAlchemy does: never hold up the exit
        return await connection

    return connect


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    url = settings.database_url
    if settings.is_sqlite:
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("async_creator", _sqlite_connector(path))
        engine = create_async_engine(url, pool_size=10, max_overflow=40, pool_timeout=60, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url, pool_size=10, max_overflow=40, pool_timeout=60, pool_pre_ping=True, **kwargs
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Erased personal data must not linger in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def create_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction for a CLI command or a background job: commit on success, roll back
    on any error."""
    engine = create_engine(settings)
    try:
        async with create_session_maker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()

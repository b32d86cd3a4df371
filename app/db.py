"""Database wiring for both engines: one engine per process, one transaction per request.

SQLite: WAL, foreign keys and a busy timeout on every connection, and write transactions
begin with ``BEGIN IMMEDIATE`` so that read-then-append never fails with "database is
locked" under concurrency (SQLAlchemy's documented recipe for pysqlite/aiosqlite). Requests
that only read (GET, HEAD) begin a plain deferred transaction, so readers never queue
behind writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)
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
from app.sqlite_inline import inline_connector

logger = logging.getLogger("commonpurse")
SQLITE_BUSY_TIMEOUT_MS = 30_000

# False while serving a request that only reads (set by ``read_only_request_middleware``).
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A route's option: this GET (or HEAD) writes, as a logged read of personal details does.
# It then begins its transaction with the write lock and takes its writer's turn, as a POST.
WRITES = "writes"


def request_writes(scope: Scope) -> bool:
    """Whether the routed request may write: any method but GET, HEAD and OPTIONS, and the
    reads whose route says ``writes=True``."""
    if scope.get("method") not in READ_ONLY_METHODS:
        return True
    handler = scope.get("route_handler")
    return handler is not None and bool(handler.opt.get(WRITES))


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


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    url = settings.database_url
    if settings.is_sqlite:
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("async_creator", inline_connector(path, write_intent.get))
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


# The sessions opened while serving the current request (see ``unit_of_work_middleware``).
_request_sessions: ContextVar[list[AsyncSession] | None] = ContextVar(
    "request_sessions", default=None
)


class _SessionMaker(async_sessionmaker[AsyncSession]):
    """Sessions that the request being served (if any) knows it opened."""

    def __call__(self, **local_kw: Any) -> AsyncSession:
        session = super().__call__(**local_kw)
        opened = _request_sessions.get()
        if opened is not None:
            opened.append(session)
        return session


def create_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return _SessionMaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(
    session_maker: async_sessionmaker[AsyncSession], *, writes: bool = True
) -> AsyncIterator[AsyncSession]:
    """One transaction for work outside a request's own (a background job, a command, the
    close of due rounds before a request reads): committed when the block ends, rolled back
    on any error. ``writes``: on SQLite it begins with the write lock (``BEGIN IMMEDIATE``),
    so a transaction that reads and then writes never has to upgrade; a reader passes False
    and never waits for writers."""
    token = write_intent.set(writes)
    try:
        async with session_maker() as session, session.begin():
            yield session
    finally:
        write_intent.reset(token)


@asynccontextmanager
async def session_scope(settings: Settings) -> AsyncIterator[AsyncSession]:
    """``unit_of_work`` on an engine of its own, for a CLI command."""
    engine = create_engine(settings)
    try:
        async with unit_of_work(create_session_maker(engine)) as session:
            yield session
    finally:
        await engine.dispose()


# --- the request's unit of work ----------------------------------------------------------

KEEP_CHANGES = "cp_keep_changes"
AFTER_COMMIT = "cp_after_commit"


def keep_changes(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Commit this request's work although its answer is a refusal (4xx): a refused
    request's recorded outcome is part of what it did (``ledger.idempotency``)."""
    connection.state[KEEP_CHANGES] = True


def after_commit(
    connection: ASGIConnection[Any, Any, Any, Any], work: Callable[[], Awaitable[None]]
) -> None:
    """Run ``work`` once the request's work is committed (never when it is rolled back):
    for what cannot run inside a transaction, such as making erased rows leave the files.
    A failure of ``work`` is logged; the answer stands, since the commit did."""
    connection.state.setdefault(AFTER_COMMIT, []).append(work)


async def commit_so_far(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Keep what the request did so far, whatever its answer will be, and end its
    transaction; its next statement begins another. The one commit a handler may ask for:
    for work that must stand before a slow step and must not hold its locks meanwhile (a
    login attempt is counted before its password is checked, and before a slowed attempt
    waits)."""
    for session in _request_sessions.get() or ():
        if session.in_transaction():
            await session.commit()


def unit_of_work_middleware(app: ASGIApp) -> ASGIApp:
    """One transaction per request, committed before the first byte of the answer leaves.

    The answer's status decides: success and redirects commit, refusals and failures roll
    back (unless the handler called ``keep_changes``). When the commit itself fails (the
    disk is full, the server went away), the client gets a 500 instead of the answer it
    would have had, so nobody is told "recorded" for work the database never kept; a retry
    with the same Idempotency-Key is then safe. Handlers never commit.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        failed = False
        opened: list[AsyncSession] = []
        token = _request_sessions.set(opened)

        async def send_after_commit(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the original answer's body: replaced by the problem below
            if message["type"] == "http.response.start":
                failed = not await _end_transactions(scope, opened, message["status"])
                if failed:
                    await _send_failure(send)
                    return
            await send(message)

        try:
            await app(scope, receive, send_after_commit)
        finally:
            _request_sessions.reset(token)

    return middleware


async def _end_transactions(scope: Scope, opened: list[AsyncSession], status: int) -> bool:
    """Commit or roll back what the request's sessions did; False when a commit failed
    (the work is then rolled back)."""
    state = scope.get("state", {})
    keep = status < 400 or bool(state.get(KEEP_CHANGES))
    for session in opened:
        if not session.in_transaction():
            continue
        if not keep:
            await session.rollback()
            continue
        try:
            await session.commit()
        except Exception:
            logger.exception("The commit of %s %s failed", scope.get("method"), scope.get("path"))
            with contextlib.suppress(Exception):
                await session.rollback()
            return False
    if keep:
        for work in state.pop(AFTER_COMMIT, ()):
            try:
                await work()
            except Exception:
                logger.exception("Work after the commit of %s failed", scope.get("path"))
    return True


async def _send_failure(send: Send) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "Something went wrong on our side; nothing was changed. "
            "It is safe to send the request again.",
        }
    ).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 500,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)

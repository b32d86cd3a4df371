"""aiosqlite, except that a write transaction runs its statements on the event loop.

The one place the application relies on a library's private names: aiosqlite's
``Connection._execute`` (the hop of every call to the connection's thread), ``_connection``
and ``_thread``. ``tests/unit/test_sqlite_inline.py`` fails when aiosqlite changes them.

Why: aiosqlite hands every call (cursor, execute, fetch, close) to the connection's thread
and back, four thread switches per query, which cost an append (ten statements) more than
its SQL, and more again on a busy machine. A write transaction's statements cannot wait for
a lock once ``BEGIN IMMEDIATE`` holds the database's write lock (WAL readers never block a
writer), so they run inline, briefly. What may wait stays on the thread: ``BEGIN
IMMEDIATE`` itself (another process, or a WAL checkpoint, may hold the lock; the busy
handler waits there), COMMIT (which may checkpoint the WAL), and everything in read
transactions (an export may read for seconds), so the event loop keeps serving.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

# What may wait for the database (or the disk) even inside a write transaction.
MAY_WAIT = frozenset({"commit", "rollback", "close"})


class InlineWrites(aiosqlite.Connection):
    """A connection whose write transactions run on the caller's thread (see the module)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], writing: Callable[[], bool]):
        super().__init__(connector, iter_chunk_size=64)
        self._writing = writing

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        connection = self._connection
        if self._writing() and connection is not None:
            bound_to = getattr(fn, "__self__", None)
            if connection.in_transaction:
                if bound_to is not connection or fn.__name__ not in MAY_WAIT:
                    return fn(*args, **kwargs)
            elif bound_to is connection and fn.__name__ == "cursor":
                return fn(*args, **kwargs)
            elif bound_to is connection and fn.__name__ == "rollback":
                return None  # the pool's reset after a commit: nothing to roll back
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]


def inline_connector(
    path: Path, writing: Callable[[], bool]
) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """SQLAlchemy's ``async_creator`` for the database at ``path``; ``writing`` says whether
    the request being served may write (its transactions then run inline)."""

    async def connect() -> aiosqlite.Connection:
        connection = InlineWrites(lambda: sqlite3.connect(path, check_same_thread=False), writing)
        connection._thread.daemon = True  # as SQLAlchemy does: never hold up the exit
        return await connection

    return connect

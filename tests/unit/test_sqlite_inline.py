"""app/sqlite_inline.py leans on aiosqlite's private names: these tests fail when aiosqlite
changes them, before the speed they buy turns into a wrong answer."""

from __future__ import annotations

import inspect
import sqlite3
import threading
from pathlib import Path

import aiosqlite

from app.sqlite_inline import InlineWrites, inline_connector


def test_aiosqlite_still_has_the_hook_that_is_overridden() -> None:
    hook = inspect.signature(aiosqlite.Connection._execute)
    assert list(hook.parameters) == ["self", "fn", "args", "kwargs"]
    assert InlineWrites._execute is not aiosqlite.Connection._execute


async def _thread_of_a_statement(connection: aiosqlite.Connection) -> int:
    cursor = await connection.execute("SELECT thread_id()")
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return int(row[0])


async def test_a_write_transaction_runs_inline_and_a_read_on_aiosqlites_thread(
    tmp_path: Path,
) -> None:
    writing = [False]
    connection = await inline_connector(tmp_path / "inline.db", lambda: writing[0])()
    try:
        assert isinstance(connection._connection, sqlite3.Connection)
        assert connection._thread.daemon
        await connection.create_function("thread_id", 0, threading.get_ident)
        here = threading.get_ident()

        await connection.execute("BEGIN")  # a read: every call goes to aiosqlite's thread
        assert await _thread_of_a_statement(connection) != here
        await connection.commit()

        writing[0] = True
        await connection.execute("BEGIN IMMEDIATE")  # on the thread: it may wait
        assert await _thread_of_a_statement(connection) == here  # inline
        await connection.commit()
    finally:
        writing[0] = False
        await connection.close()

"""Erasure leaves no readable trace in the database's files, on both engines.

The person's details and the notes are sealed with a key of the request's own, so their
text never reaches the database's files at all; erasure deletes the key, and then the key
leaves the files too (SQLite: secure_delete and a checkpoint of the write-ahead log;
PostgreSQL: ``VACUUM FULL`` of the keys table, after which the old file is gone). The files
are read as the server keeps them: PostgreSQL's after a CHECKPOINT, as root.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_engine, sqlite_path
from app.jobs import forget_erased_pages
from app.settings import Settings
from proposals import personal, support
from proposals.models import RequestDetails, RequestKey
from proposals.privacy import unseal
from tests.support.databases import unavailable
from tests.support.people import World

Client = AsyncTestClient[Litestar]


def personal_data() -> dict[str, str]:
    """Words found nowhere else on this server (other tests share PostgreSQL's log)."""
    mark = uuid.uuid4().hex[:10]
    return {
        "name": f"Philippa Zanzibar{mark}",
        "phone": "+34 6" + "".join(str(int(c, 16) % 10) for c in mark[:8]),
        "email": f"philippa.{mark}@example.net",
        "need": f"My landlord changed the locks ({mark}) and I sleep in my car.",
    }


async def checkpoint(session: AsyncSession, settings: Settings) -> None:
    await session.commit()
    if not settings.is_sqlite:
        await session.execute(text("CHECKPOINT"))
        await session.commit()


async def database_files(session: AsyncSession, settings: Settings) -> dict[str, bytes]:
    """Every file of the database: SQLite's file and its write-ahead log; PostgreSQL's
    directory of the database (tables, indexes, TOAST), after a checkpoint."""
    await checkpoint(session, settings)
    if settings.is_sqlite:
        path = sqlite_path(settings.database_url)
        assert path is not None
        files = (path, Path(f"{path}-wal"))
        return {file.name: file.read_bytes() for file in files if file.exists()}
    directory = Path(str(await session.scalar(text("SHOW data_directory"))))
    oid = await session.scalar(
        text("SELECT oid FROM pg_database WHERE datname = current_database()")
    )
    await session.commit()
    base = directory / "base" / str(oid)
    try:
        return {file.name: file.read_bytes() for file in base.iterdir() if file.is_file()}
    except PermissionError:
        unavailable(f"PostgreSQL's files under {base} are not readable here (run as root)")


async def recent_wal(session: AsyncSession, settings: Settings, since: float) -> bytes:
    """PostgreSQL's write-ahead log segments written since ``since`` (empty on SQLite)."""
    if settings.is_sqlite:
        return b""
    directory = Path(str(await session.scalar(text("SHOW data_directory")))) / "pg_wal"
    await session.commit()
    return b"".join(
        file.read_bytes()
        for file in directory.iterdir()
        if file.is_file() and file.stat().st_mtime >= since - 1
    )


async def forget_again(settings: Settings) -> None:
    """What the hourly job does after the purge."""
    engine = create_engine(settings)
    try:
        await forget_erased_pages(engine)
    finally:
        await engine.dispose()


def holding(files: dict[str, bytes], needle: bytes) -> list[str]:
    return [name for name, content in files.items() if needle in content]


async def keys_file(session: AsyncSession, settings: Settings) -> str:
    if settings.is_sqlite:
        return ""
    found = str(await session.scalar(text("SELECT pg_relation_filepath('request_keys')")))
    await session.commit()
    return found


async def test_erased_details_and_notes_leave_no_readable_trace_in_the_files(
    client: Client, world: World, session: AsyncSession, settings: Settings
) -> None:
    started = time.time()
    details = personal_data()
    note = f"She works nights; called on {uuid.uuid4().hex[:10]}."
    request = await support.ask(
        session,
        world.group,
        support.AskForm(consent=True, **details),
    )
    await session.commit()
    requests = f"/api/groups/{world.slug}/requests/{request.id}"
    added = await client.post(
        f"{requests}/notes", headers=world.steward.headers, json={"text": note}
    )
    assert added.status_code == 201, added.text
    key = await session.scalar(select(RequestKey.key).where(RequestKey.request_id == request.id))
    sealed = await session.scalar(
        select(RequestDetails.sealed).where(RequestDetails.request_id == request.id)
    )
    assert key is not None
    assert sealed is not None
    keys_file_before = await keys_file(session, settings)

    # Before erasure: the key is in the files (the search finds what is there), the text
    # never was, in the table files nor in PostgreSQL's log.
    files = await database_files(session, settings)
    assert holding(files, key), "the search should find the key before erasure"
    assert holding(files, sealed[:24]), "the sealed details are stored"
    wal = await recent_wal(session, settings, started)
    for secret in (*details.values(), note):
        assert not holding(files, secret.encode()), secret
        assert secret.encode() not in wal, secret

    erased = await client.delete(f"{requests}/personal-data", headers=world.facilitator.headers)
    assert erased.status_code == 204

    files = await database_files(session, settings)
    for _ in range(20):
        if not holding(files, key):
            break
        # PostgreSQL's rewrite keeps a deleted row that a transaction begun before the
        # erasure might still read (autovacuum's ANALYZE, say); the hourly job rewrites the
        # table again, which removes it once no such transaction is left.
        await asyncio.sleep(0.5)
        await forget_again(settings)
        files = await database_files(session, settings)
    assert not holding(files, key), "the erased key is still in the files"
    for secret in (*details.values(), note):
        assert not holding(files, secret.encode()), secret
    if not settings.is_sqlite:
        assert await keys_file(session, settings) != keys_file_before  # rewritten
    # A copy of the sealed details kept anywhere (a backup taken after the erasure) is
    # unreadable: the key is gone from the database.
    assert await personal.details_of(session, request.id) is None
    assert await session.get(RequestKey, request.id) is None
    await session.commit()
    assert unseal(key, request.id, "details", sealed)  # only the destroyed key opened it


async def test_erasing_again_is_harmless(world: World, session: AsyncSession) -> None:
    """``commonpurse restore`` re-applies erasures by calling ``erase`` again."""
    request = await support.ask(
        session,
        world.group,
        support.AskForm(need="Rent", phone="611 222 333", consent=True),
    )
    await session.commit()
    await support.erase(session, request)
    first = request.erased_at
    await support.erase(session, request, first)
    await session.commit()
    assert request.erased_at == first
    assert await personal.details_of(session, request.id) is None

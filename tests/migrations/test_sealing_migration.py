"""Migration 0007 seals the personal data written before it, on both engines: the details
and notes read back the same through the new code, their text leaves the database's
files, and a downgrade gives the plaintext back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import command
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_engine, create_session_maker, sqlite_path
from app.migrate import alembic_config, upgrade
from app.settings import Settings
from ledger.models import User
from proposals import personal
from proposals.privacy import Details
from tests.support.databases import unavailable

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DETAILS = {
    "name": "Gwendolyn Okonkwo-Larsen",
    "need": "The boiler broke and the landlord will not fix it before March.",
    "phone": "+34 655 410 928",
    "email": "gwen.ol@example.net",
    "via_member": "",
}
NOTE = "Gwendolyn called back: two children, the youngest is ill."
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _table(name: str, *columns: sa.ColumnClause[object]) -> sa.TableClause:
    return sa.table(name, *columns)


async def write_plaintext_as_0006(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    when = DateTimeUTC(timezone=True)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(
                    _table(
                        "users",
                        sa.column("id", Id),
                        sa.column("email", sa.String()),
                        sa.column("name", sa.String()),
                        sa.column("created_at", when),
                    )
                ),
                [{"id": 1, "email": "steward@example.org", "name": "Steward", "created_at": WHEN}],
            )
            await connection.execute(
                sa.insert(
                    _table(
                        "groups",
                        sa.column("id", Id),
                        sa.column("slug", sa.String()),
                        sa.column("name", sa.String()),
                        sa.column("currency", sa.String()),
                        sa.column("description", sa.String()),
                        sa.column("public", sa.Boolean()),
                        sa.column("created_at", when),
                    )
                ),
                [
                    {
                        "id": 1,
                        "slug": "pod",
                        "name": "Pod",
                        "currency": "EUR",
                        "description": "",
                        "public": True,
                        "created_at": WHEN,
                    }
                ],
            )
            await connection.execute(
                sa.insert(
                    _table(
                        "support_requests",
                        *(
                            sa.column(n, t)
                            for n, t in (
                                ("id", Id),
                                ("group_id", Id),
                                ("reference", sa.String()),
                                ("pseudonym", sa.String()),
                                ("status", sa.String()),
                                ("urgency", sa.String()),
                                ("currency", sa.String()),
                                ("language", sa.String()),
                                ("decline_message", sa.String()),
                                ("created_at", when),
                            )
                        ),
                    )
                ),
                [
                    {
                        "id": 5,
                        "group_id": 1,
                        "reference": "ref-5",
                        "pseudonym": "R-0005",
                        "status": "discussing",
                        "urgency": "urgent",
                        "currency": "EUR",
                        "language": "en",
                        "decline_message": "",
                        "created_at": WHEN,
                    }
                ],
            )
            await connection.execute(
                sa.insert(
                    _table(
                        "request_details",
                        sa.column("request_id", Id),
                        *(sa.column(n, sa.String()) for n in DETAILS),
                    )
                ),
                [{"request_id": 5, **DETAILS}],
            )
            await connection.execute(
                sa.insert(
                    _table(
                        "request_notes",
                        sa.column("id", Id),
                        sa.column("request_id", Id),
                        sa.column("author_id", Id),
                        sa.column("text", sa.String()),
                        sa.column("created_at", when),
                    )
                ),
                [{"id": 3, "request_id": 5, "author_id": 1, "text": NOTE, "created_at": WHEN}],
            )
    finally:
        await engine.dispose()


async def files_of(url: str) -> dict[str, bytes]:
    path = sqlite_path(url)
    if path is not None:
        return {f.name: f.read_bytes() for f in (path, Path(f"{path}-wal")) if f.exists()}
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("COMMIT"))
            await connection.execute(sa.text("CHECKPOINT"))
            directory = await connection.scalar(sa.text("SHOW data_directory"))
            oid = await connection.scalar(
                sa.text("SELECT oid FROM pg_database WHERE datname = current_database()")
            )
    finally:
        await engine.dispose()
    base = Path(str(directory)) / "base" / str(oid)
    try:
        return {f.name: f.read_bytes() for f in base.iterdir() if f.is_file()}
    except PermissionError:
        unavailable(f"PostgreSQL's files under {base} are not readable here (run as root)")


async def read_back(url: str) -> tuple[Details | None, list[str], int]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with create_session_maker(engine)() as session:
            details = await personal.details_of(session, 5)
            notes = [note.text for note in await personal.notes_of(session, 5)]
            author = await session.get(User, 1)
            assert author is not None
            added = await personal.add_note(session, 5, author, "A new note.", WHEN)
            await session.commit()
            return details, notes, added.id
    finally:
        await engine.dispose()


async def plaintext_after_downgrade(url: str) -> tuple[str, str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with AsyncSession(engine) as session:
            name = await session.scalar(sa.text("SELECT name FROM request_details"))
            note = await session.scalar(sa.text("SELECT text FROM request_notes WHERE id = 3"))
            return str(name), str(note)
    finally:
        await engine.dispose()


def test_personal_data_written_before_0007_is_sealed_by_it(empty_db_url: str) -> None:
    url = empty_db_url
    upgrade(url, "0006")
    asyncio.run(write_plaintext_as_0006(url))
    files = asyncio.run(files_of(url))
    assert any(DETAILS["name"].encode() in content for content in files.values())  # found
    upgrade(url)
    details, notes, new_note = asyncio.run(read_back(url))
    assert details == Details(**DETAILS)
    assert notes == [NOTE]
    assert new_note > 3  # ids go on after the copied notes
    files = asyncio.run(files_of(url))
    for secret in (*DETAILS.values(), NOTE):
        if secret:
            assert not [name for name, data in files.items() if secret.encode() in data], secret
    command.downgrade(alembic_config(url), "0006")
    assert asyncio.run(plaintext_after_downgrade(url)) == (DETAILS["name"], NOTE)

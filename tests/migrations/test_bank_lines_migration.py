"""Migration 0029 gives ``bank_lines`` one unique key by place, day and fingerprint and one
foreign key, to the line's import (its id, place and group), on both engines: the lines
stored before it, their matches and rejected suggestions are kept as they were; the keys
then refuse what the old ones refused, and a line of another place than its import's too;
and it downgrades with the lines kept."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from app.db import create_engine, create_session_maker
from app.migrate import alembic_config, check, upgrade
from app.settings import Settings
from app.signing import load_notary
from ledger import bank, groups, service
from ledger.models import BankLine, BankStatement, Group, Place
from ledger.schemas import DonationIn, FundIn, PlaceIn
from ledger.statements import CsvMapping
from tests.support.databases import run_sql, settings_for

STATEMENT = (
    b"Date,Text,Amount\n"
    b"2026-11-30,Gig takings,20.00\n"
    b"2026-11-30,Gig takings,20.00\n"  # the same again that day: a line of its own
    b"2026-12-01,Bank fee,-2.50\n"
)
MAPPING = CsvMapping(date=1, description=(2,), amount=3)
KEPT = (
    "SELECT id, group_id, place_id, statement_id, fingerprint, booked_on, amount FROM "
    "bank_lines ORDER BY id",
    "SELECT line_id, match_id FROM bank_match_lines ORDER BY line_id",
    "SELECT line_id, entry_seq FROM rejected_suggestions ORDER BY line_id",
)


async def _import_and_match(settings: Settings) -> None:
    """As 0028 stored them: a statement of three lines, one matched, one with a rejected
    suggestion."""
    engine = create_engine(settings)
    try:
        async with create_session_maker(engine)() as session:
            admin = await groups.create_user(
                session, email="ana@example.org", name="Ana", password_hash=None
            )
            group = await groups.create_group(
                session, slug="pod", name="Pod", currency="EUR", admin=admin
            )
            await service.create_fund(session, group, FundIn(slug="rent", name="Rent"))
            notary = load_notary(settings)
            first, second = [
                await service.record_entry(
                    session,
                    group,
                    DonationIn(fund="rent", amount="20.00", occurred_on=date(2026, 11, 30)),
                    recorded_by=None,
                    notary=notary,
                )
                for _ in range(2)
            ]
            place = (await session.scalars(sa.select(Place))).one()
            statement = bank.read_for_place(STATEMENT, place, format="csv", mapping=MAPPING)
            await bank.store_statement(session, group, place, statement, imported_by=admin.id)
            lines = (await session.scalars(sa.select(BankLine).order_by(BankLine.id))).all()
            await bank.confirm_match(
                session, group, place, lines[0], [first.seq], confirmed_by=None
            )
            await bank.reject_suggestion(session, lines[1], second.seq, rejected_by=None)
            await session.commit()
    finally:
        await engine.dispose()


def _rows(url: str) -> list[list[tuple[Any, ...]]]:
    return [asyncio.run(run_sql(url, (query, {}))) for query in KEPT]


async def _keys(url: str) -> tuple[list[list[str]], list[tuple[list[str], list[str]]], set[str]]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:

            def read(sync: sa.Connection) -> Any:
                inspector = sa.inspect(sync)
                unique = [u["column_names"] for u in inspector.get_unique_constraints("bank_lines")]
                foreign = [
                    (f["constrained_columns"], f["referred_columns"])
                    for f in inspector.get_foreign_keys("bank_lines")
                ]
                indexes = {str(i["name"]) for i in inspector.get_indexes("bank_lines")}
                return unique, foreign, indexes

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def _after(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        sessions = create_session_maker(engine)
        async with sessions() as session:
            group = (await session.scalars(sa.select(Group))).one()
            place = (await session.scalars(sa.select(Place))).one()
            # The same file again adds nothing: the new key finds every line.
            statement = bank.read_for_place(STATEMENT, place, format="csv", mapping=MAPPING)
            again = await bank.store_statement(session, group, place, statement, imported_by=None)
            assert again.new_lines == 0
            views = await bank.statement_lines(session, group, place, again.statement)
            assert views[0].status == bank.MATCHED
            cash = await service.create_place(session, group, PlaceIn(slug="cash", name="Cash"))
            await session.commit()
            old = (await session.scalars(sa.select(BankLine).order_by(BankLine.id))).first()
            assert old is not None
            imported = (await session.scalars(sa.select(BankStatement.id))).first()
        row = {
            "group_id": group.id,
            "statement_id": imported,
            "fingerprint": "f" * 64,
            "booked_on": old.booked_on,
            "amount": 100,
            "currency": "EUR",
        }
        refused = [
            {**row, "place_id": cash.id},  # the import is the bank's, not the cash box's
            {**row, "place_id": place.id, "fingerprint": old.fingerprint},  # a line twice
            {**row, "place_id": place.id, "group_id": group.id + 1},  # another group's
        ]
        for values in refused:
            with pytest.raises(IntegrityError):
                async with sessions() as session, session.begin():
                    await session.execute(sa.insert(BankLine), [values])
        async with sessions() as session, session.begin():
            await session.execute(sa.insert(BankLine), [{**row, "place_id": place.id}])
    finally:
        await engine.dispose()


def test_lines_matched_before_0029_are_kept_under_its_keys_and_downgrade(
    empty_db_url: str, tmp_path: Path
) -> None:
    settings = settings_for(empty_db_url, tmp_path)
    upgrade(empty_db_url, "0028")
    asyncio.run(_import_and_match(settings))
    before = _rows(empty_db_url)
    assert [len(rows) for rows in before] == [3, 1, 1]

    upgrade(empty_db_url)
    check(empty_db_url)
    assert _rows(empty_db_url) == before
    unique, foreign, indexes = asyncio.run(_keys(empty_db_url))
    assert unique == [["place_id", "booked_on", "fingerprint"]]
    assert foreign == [(["statement_id", "place_id", "group_id"], ["id", "place_id", "group_id"])]
    assert "ix_bank_lines_place_day" not in indexes
    asyncio.run(_after(settings))

    kept = _rows(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "0028")
    assert _rows(empty_db_url) == kept
    unique, foreign, _ = asyncio.run(_keys(empty_db_url))
    assert unique == [["place_id", "fingerprint"]]
    assert sorted(foreign) == [
        (["group_id"], ["id"]),
        (["place_id"], ["id"]),
        (["statement_id"], ["id"]),
    ]
    upgrade(empty_db_url)
    check(empty_db_url)


def test_sqlite_migrations_refuse_to_commit_rows_with_broken_foreign_keys(tmp_path: Path) -> None:
    """SQLite migrates with foreign keys off (so a table others refer to can be rebuilt),
    and checks them all before committing: a line whose import does not exist, written
    when nothing checked it, stops the upgrade, which leaves the database as it was."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'orphan.db'}"
    settings = settings_for(url, tmp_path)
    upgrade(url, "0028")
    asyncio.run(_import_and_match(settings))

    with closing(sqlite3.connect(tmp_path / "orphan.db")) as connection:
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute("UPDATE bank_lines SET statement_id = 99")
        connection.commit()
    with pytest.raises(RuntimeError, match="broken foreign keys"):
        upgrade(url)
    [(version,)] = asyncio.run(run_sql(url, ("SELECT version_num FROM alembic_version", {})))
    assert version == "0028"

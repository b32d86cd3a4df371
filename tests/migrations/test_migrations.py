"""One migration history serves both engines, and it matches the models."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect

from app.db import create_engine
from app.migrate import alembic_config, check, upgrade
from app.settings import Settings
from tests.support.databases import run_sql


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


def test_idempotency_records_of_0006_keep_their_entries_under_the_caller_who_recorded_them(
    empty_db_url: str,
) -> None:
    """Records written before keys were the caller's: an answered entry stays replayable
    by the steward who recorded it; an old refusal, whose caller nobody knows, is dropped
    (it recorded nothing, so a retry decided afresh cannot record twice)."""
    upgrade(empty_db_url, "0006")
    now = datetime(2026, 11, 30, tzinfo=UTC)
    asyncio.run(
        run_sql(
            empty_db_url,
            (
                "INSERT INTO users (id, email, name, created_at) VALUES (7, 'b@x.org', 'Ben', :t)",
                {"t": now},
            ),
            (
                "INSERT INTO groups (id, slug, name, currency, description, public, created_at) "
                "VALUES (3, 'north', 'North', 'EUR', '', true, :t)",
                {"t": now},
            ),
            (
                "INSERT INTO entries (group_id, seq, kind, occurred_on, recorded_at, memo, "
                "recorded_by, prev_hash, hash, leaf) VALUES (3, 1, 'donation', :d, :t, '', 7, "
                ":zero, :zero, :leaf)",
                {"d": now.date(), "t": now, "zero": "0" * 64, "leaf": b"{}"},
            ),
            (
                "INSERT INTO idempotency_records (group_id, key, request_hash, status_code, "
                "response, created_at) VALUES (3, 'paid', :h, 201, :body, :t), "
                "(3, 'refused', :h, 409, :problem, :t)",
                {
                    "h": "a" * 64,
                    "body": json.dumps({"seq": 1, "kind": "donation"}).encode(),
                    "problem": json.dumps({"status": 409, "detail": "No money"}).encode(),
                    "t": now,
                },
            ),
        )
    )
    upgrade(empty_db_url)
    rows = asyncio.run(
        run_sql(
            empty_db_url,
            (
                "SELECT group_id, user_id, key, request_hash, entry_seq, refusal_kind "
                "FROM idempotency_records",
                {},
            ),
        )
    )
    assert rows == [(3, 7, "paid", "a" * 64, 1, None)]

"""A reconciliation in the database log, on both engines: its row is append-only, and when
someone goes around the database (triggers dropped by hand), ``verify`` names the leaf whose
row changed, or the place whose kept day differs from what the log says."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.verify import verify_group
from tests.http.test_reconciliations import close, november
from tests.support.databases import drop_triggers, is_postgres
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def reconciled(client: Client, world: World) -> int:
    await november(client, world)
    closed = await close(client, world, "2026-11-28", "100.00")
    assert closed.status_code == 201, closed.text
    seq: int = closed.json()["seq"]
    return seq


async def test_the_database_refuses_to_change_a_reconciliation(
    client: Client, session: AsyncSession, world: World
) -> None:
    await reconciled(client, world)
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text("UPDATE reconciliations SET closing_balance = 1"))
    await session.rollback()
    assert (await verify_group(session, await world.fresh_group(session))).ok


async def test_verify_names_a_reconciliation_whose_row_was_changed(
    client: Client, session: AsyncSession, world: World
) -> None:
    seq = await reconciled(client, world)
    await drop_triggers(session)
    if is_postgres(session):
        await session.execute(text("DROP TRIGGER reconciliations_refuse_change ON reconciliations"))
    else:
        await session.execute(text("DROP TRIGGER reconciliations_refuse_update"))
    await session.execute(text("UPDATE reconciliations SET closing_balance = closing_balance + 1"))
    await session.commit()
    report = await verify_group(session, await world.fresh_group(session))
    assert not report.ok
    assert report.first_bad_seq == seq, report.problem
    assert "differs from the leaf" in (report.problem or "")


async def test_verify_names_a_place_whose_reconciled_day_was_changed(
    client: Client, session: AsyncSession, world: World
) -> None:
    await reconciled(client, world)
    await session.execute(text("UPDATE places SET reconciled_through = NULL"))
    await session.commit()
    report = await verify_group(session, await world.fresh_group(session))
    assert not report.ok
    assert "reconciled through None, but the log says 2026-11-28" in (report.problem or "")

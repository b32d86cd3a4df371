"""The append path's shortcuts around the ORM (ledger/loaded.py, and the column lists of
its PostgreSQL statement): these fail when SQLAlchemy changes what the shortcuts rely on, or
when a column is added that the hand-written statement would leave out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger import service
from ledger.loaded import as_loaded, current, driver_connection
from ledger.models import Entry, Fund, Posting
from ledger.schemas import DonationIn
from tests.support.people import World


def test_the_postgres_statement_names_every_column_of_an_entry_and_a_posting() -> None:
    entry_columns = {column.name for column in Entry.__table__.columns} - {"id"}
    assert set(service._ENTRY_COLUMNS) == entry_columns
    posting_columns = {column.name for column in Posting.__table__.columns}
    # The entry's id and seq come from the entry itself in the statement.
    assert set(service._POSTING_COLUMNS) == posting_columns - {"id", "entry_id", "seq"}


async def test_an_object_made_to_look_loaded_is_neither_written_again_nor_reloaded(
    session: AsyncSession, world: World
) -> None:
    entry = await service.record_entry(
        session, world.group, DonationIn(fund="groceries", amount="5.00"), recorded_by=None
    )
    state = inspect(entry)
    assert state.persistent
    assert not state.modified
    assert entry.postings[0].fund.slug == "groceries"  # no lazy load in an async session
    assert entry.place is not None
    assert entry.place.is_default
    for loaded in (state, inspect(entry.postings[0])):  # relationships loaded as committed
        assert not loaded.modified
        assert not loaded.committed_state
        assert not loaded.expired_attributes & {"postings", "place", "to_place", "fund"}
    sent: list[str] = []

    def record(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    engine = session.bind
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await session.flush()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert sent == []  # nothing pending: no INSERT of the entry a second time
    await session.commit()
    stored = (await session.scalars(select(Entry).where(Entry.seq == entry.seq))).one()
    assert stored is entry


async def test_current_brings_a_held_object_up_to_date_without_a_change_to_write(
    session: AsyncSession, world: World
) -> None:
    fund = (await session.scalars(select(Fund).where(Fund.slug == "groceries"))).one()
    values = {column.name: getattr(fund, column.name) for column in Fund.__table__.columns}
    held = current(session, Fund, {**values, "balance": 1234})
    assert held is fund
    assert fund.balance == 1234
    assert not inspect(fund).modified
    fresh = as_loaded(Fund, {**values, "id": 10**9, "slug": "elsewhere"})
    assert inspect(fresh).detached


async def test_an_append_sent_to_the_driver_first_is_in_the_sessions_transaction(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    """On PostgreSQL SQLAlchemy's adapter begins only before a statement it runs itself: an
    append that is a session's first work (its lock and write go to the driver) must still
    be in the session's transaction, holding its lock until the commit, and undone by a
    rollback."""
    async with session_maker() as reader:
        before = await reader.scalar(select(func.count()).select_from(Entry))
    async with session_maker() as fresh:
        connection, driver = await driver_connection(fresh)
        if connection.dialect.name == "postgresql":
            assert driver.is_in_transaction()
        await service.record_entry(
            fresh, world.group, DonationIn(fund="groceries", amount="5.00"), recorded_by=None
        )
        await fresh.rollback()
    async with session_maker() as reader:
        assert await reader.scalar(select(func.count()).select_from(Entry)) == before

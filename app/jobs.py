"""Background work of the server, in one loop per worker process:

- rounds close at their deadline even when nobody calls (a close also happens at the first
  request that touches the proposal; a round's close is a conditional update, so workers
  racing each other still give each round exactly one outcome);
- the members who have not responded are reminded the group's set time before a round's
  deadline (once per round: the round is claimed by a conditional update too);
- the notification outbox is e-mailed, with retries (``app.mail``);
- requests for support past their group's retention period are erased.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import limits
from app.db import after_commit, unit_of_work
from app.mail import SmtpSettings, send_due, send_request_updates
from ledger import attachments, bank
from ledger.files import FileStore
from ledger.groups import utcnow
from ledger.models import BankStatement, Group, Place, StatementWithdrawal
from proposals import claims, discussion, support
from proposals import service as proposals
from proposals.models import Proposal, Round, SupportRequest

logger = logging.getLogger("commonpurse.jobs")
TICK_SECONDS = 15
CLOSE_DUE_EVERY_SECONDS = 60
PURGE_EVERY_SECONDS = 3600


async def close_due_rounds(
    session_maker: async_sessionmaker[AsyncSession], group_id: int | None = None
) -> int:
    """Close the rounds past their deadline (of one group, or of all) in a write transaction
    of their own."""
    async with unit_of_work(session_maker) as session:
        group = await session.get(Group, group_id) if group_id is not None else None
        return await proposals.close_due(session, group=group)


async def send_due_reminders(session_maker: async_sessionmaker[AsyncSession]) -> int:
    """The automatic reminders that are due, in a write transaction of their own."""
    async with unit_of_work(session_maker) as session:
        return await discussion.remind_due(session)


def send_mail_soon(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Once the request's notifications are committed, send the outbox's due e-mail now
    rather than at the loop's next tick (a reminder should not wait). Without a mail server
    configured this does nothing; a failure leaves the rows for the loop's retries."""
    settings = connection.app.state.settings
    smtp = SmtpSettings.from_settings(settings)
    if smtp is None:
        return
    session_maker = connection.app.state.alchemy_config.create_session_maker()

    async def send() -> None:
        async with unit_of_work(session_maker) as session:
            await send_due(session, smtp, settings.host)

    after_commit(connection, send)


# A route's option: the group in its path has its rounds past their deadline closed before
# the request reads anything (see ``due_rounds_first_middleware``).
CLOSES_DUE_ROUNDS = "closes_due_rounds"


def due_rounds_first_middleware(app: ASGIApp) -> ASGIApp:
    """Deadlines pass even when nobody acts: a route that shows or acts on proposals (the
    API's, the pages, the feed, the decision record) says ``closes_due_rounds=True``, and
    its group's rounds past their deadline are closed, and committed, before its guards and
    handler begin their own transaction. So what they read includes the close (a SQLite
    reader keeps the snapshot it began with), an action after a deadline meets the decided
    round, and the close stands even when the action is then refused."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if (
            scope["type"] == ScopeType.HTTP
            and handler is not None
            and handler.opt.get(CLOSES_DUE_ROUNDS)
            and isinstance(slug := scope["path_params"].get("group"), str)
        ):
            session_maker = scope["litestar_app"].state.alchemy_config.create_session_maker()
            group_id = await _group_with_due_rounds(session_maker, slug)
            if group_id is not None:
                await close_due_rounds(session_maker, group_id)
        await app(scope, receive, send)

    return middleware


async def _group_with_due_rounds(
    session_maker: async_sessionmaker[AsyncSession], slug: str
) -> int | None:
    """A cheap read: the group's id when it has an open round past its deadline."""
    query = select(Group.id).where(
        Group.slug == slug,
        exists().where(
            Round.proposal_id == Proposal.id,
            Proposal.group_id == Group.id,
            or_(Proposal.status == "open", Round.urgent_passed_at.is_not(None)),
            Round.closed_at.is_(None),
            Round.closes_at <= utcnow(),
        ),
    )
    async with unit_of_work(session_maker, writes=False) as session:
        return await session.scalar(query)


async def forget_erased_pages(engine: AsyncEngine) -> None:
    """After an erasure, make the deleted rows leave the database's files.

    SQLite: fold the write-ahead log into the database and truncate it; secure_delete has
    zeroed the deleted rows in the database file, and this removes the older copies of
    those pages that the log still holds.

    PostgreSQL: a deleted row stays in its table file until its space is reused. The
    details and notes are sealed, so what matters is the key: ``VACUUM FULL`` writes the
    small keys table into a new file and removes the old one. It waits at most a few
    seconds for the table's lock; if it cannot have it, the hourly job tries again."""
    if engine.dialect.name != "sqlite":
        await _rewrite_keys_table(engine)
        return
    async with engine.connect() as connection:
        # Outside any transaction (a checkpoint cannot run inside one): the driver's own
        # connection, which the "begin" listener never sees.
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def _rewrite_keys_table(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        try:
            # VACUUM cannot run inside a transaction: on asyncpg's own connection, which
            # runs a lone statement outside one.
            await driver.execute("SET lock_timeout = '5s'")
            await driver.execute("VACUUM FULL request_keys")
        except Exception:
            logger.warning("Could not rewrite request_keys now; the hourly job will retry.")
        finally:
            await driver.execute("RESET lock_timeout")


async def erase_personal_data(
    connection: ASGIConnection[Any, Any, Any, Any], session: AsyncSession, request: SupportRequest
) -> None:
    """Erase one person's details now (asked for by a steward), in the request's own
    transaction; once it is committed, the deleted key and rows are made to leave the
    database's files."""
    await support.erase(session, request)
    _forget_after_commit(connection)


async def discard_held_requests(
    connection: ASGIConnection[Any, Any, Any, Any],
    session: AsyncSession,
    group: Group,
    *,
    up_to: int | None = None,
) -> int:
    """Discard a group's held requests now (a steward's one action), as erasure does."""
    discarded = await support.discard_held(session, group, up_to=up_to)
    if discarded:
        _forget_after_commit(connection)
    return discarded


async def withdraw_statement(
    connection: ASGIConnection[Any, Any, Any, Any],
    session: AsyncSession,
    group: Group,
    place: Place,
    statement: BankStatement,
    *,
    withdrawn_by: int | None,
) -> StatementWithdrawal:
    """Withdraw an import now (a steward's one action), as erasure does: once it is
    committed, its deleted lines leave the database's files and its file the store."""
    record = await bank.withdraw_statement(
        session, group, place, statement, withdrawn_by=withdrawn_by
    )
    _forget_after_commit(connection)
    return record


def _forget_after_commit(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    engine: AsyncEngine = connection.app.state.alchemy_config.get_engine()
    after_commit(connection, lambda: forget_erased_pages(engine))
    forget_erased_files_after_commit(connection)


def forget_erased_files_after_commit(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Once an erasure is committed, the files of the receipts it erased leave the store
    (never before: a rolled-back erasure keeps its files)."""
    config = connection.app.state.alchemy_config
    store: FileStore = connection.app.state.files

    async def forget() -> None:
        await forget_erased_files(config.create_session_maker(), store)

    after_commit(connection, forget)


async def forget_erased_files(
    session_maker: async_sessionmaker[AsyncSession], store: FileStore
) -> int:
    """Remove from the store the files of every erased receipt; how many were there."""
    async with unit_of_work(session_maker, writes=False) as session:
        return await forget_erased_files_in(session, store)


async def forget_erased_files_in(session: AsyncSession, store: FileStore) -> int:
    """Remove from the store the erased files: attached receipts (``ledger.attachments``),
    claims' receipts (``proposals.claims``) and withdrawn statements (``ledger.bank``);
    how many were still there."""
    removed = await attachments.forget_erased_files(session, store)
    gone = [*await claims.erased_hashes(session), *await bank.withdrawn_hashes(session)]
    return removed + sum(store.delete(sha256) for sha256 in gone)


async def purge_requests(
    session_maker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    store: FileStore | None = None,
) -> int:
    """The hourly work on personal data: erase what is past its retention, sweep spent
    rate counters, and make erased keys leave the files (on PostgreSQL every hour, so an
    erasure whose rewrite could not run at once is covered too), and erased receipts'
    files leave the ``store``."""

    async with unit_of_work(session_maker) as session:
        erased = await support.purge(session)
        await limits.sweep(session, utcnow())
    if erased or engine.dialect.name != "sqlite":
        await forget_erased_pages(engine)
    if store is not None:
        await forget_erased_files(session_maker, store)
    return erased


@asynccontextmanager
async def maintenance_loop(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: close due rounds, send mail and purge old requests while the server runs."""
    config = app.state.alchemy_config
    session_maker = config.create_session_maker()
    settings = app.state.settings
    smtp = SmtpSettings.from_settings(settings)

    async def loop() -> None:
        ticks = 0
        while True:
            # First wait: a server that just started has nothing due that a request would
            # not close anyway, and short-lived apps (tests, CLI) never race this loop.
            await asyncio.sleep(TICK_SECONDS)
            try:
                if ticks % (CLOSE_DUE_EVERY_SECONDS // TICK_SECONDS) == 0:
                    closed = await close_due_rounds(session_maker)
                    if closed:
                        logger.info("Closed %d round(s) at their deadline.", closed)
                    reminded = await send_due_reminders(session_maker)
                    if reminded:
                        logger.info("Reminded %d member(s) before a deadline.", reminded)
                if smtp is not None:
                    async with unit_of_work(session_maker) as session:
                        await send_due(session, smtp, settings.host)
                        await send_request_updates(session, smtp, settings.base_url)
                if ticks % (PURGE_EVERY_SECONDS // TICK_SECONDS) == 0:
                    await purge_requests(session_maker, config.get_engine(), app.state.files)
            except Exception:  # keep the loop alive; the next tick tries again
                logger.exception("Background work failed")
            ticks += 1

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        # Wait for the loop to stop before the database engine is disposed, so a half-done
        # transaction is rolled back rather than left waiting on a closed connection.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""Background work of the server: rounds close at their deadline even when nobody calls.

A close also happens at the first request that touches the proposal after its deadline;
this loop makes sure it happens within a minute regardless. Several workers may run it at
once: a round's close is a conditional update, so each round gets exactly one outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import write_intent
from ledger.groups import utcnow
from ledger.models import Group
from proposals import service as proposals
from proposals.models import Proposal, Round

logger = logging.getLogger("commonpurse.jobs")
CLOSE_DUE_EVERY_SECONDS = 60


async def close_due_rounds(
    session_maker: async_sessionmaker[AsyncSession], group_id: int | None = None
) -> int:
    """Close the rounds past their deadline in a write transaction of their own (so a GET
    that notices one never upgrades its read transaction)."""
    token = write_intent.set(True)
    try:
        async with session_maker() as session, session.begin():
            group = await session.get(Group, group_id) if group_id is not None else None
            return await proposals.close_due(session, group=group)
    finally:
        write_intent.reset(token)


async def has_due_rounds(session: AsyncSession, group: Group) -> bool:
    """A cheap read: does this group have an open round past its deadline?"""
    query = select(
        exists().where(
            Round.proposal_id == Proposal.id,
            Proposal.group_id == group.id,
            Proposal.status == "open",
            Round.closed_at.is_(None),
            Round.closes_at <= utcnow(),
        )
    )
    return bool(await session.scalar(query))


@asynccontextmanager
async def close_due_loop(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: close due rounds every minute while the server runs."""
    session_maker = app.state.alchemy_config.create_session_maker()

    async def loop() -> None:
        while True:
            try:
                closed = await close_due_rounds(session_maker)
                if closed:
                    logger.info("Closed %d round(s) at their deadline.", closed)
            except Exception:  # keep the loop alive; the next run tries again
                logger.exception("Closing due rounds failed")
            await asyncio.sleep(CLOSE_DUE_EVERY_SECONDS)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()

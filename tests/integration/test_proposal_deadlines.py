"""Deadlines pass even when nobody calls; blocked rounds lead to the fallback vote."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import main
from app.settings import Settings
from ledger.groups import active_membership, utcnow
from proposals import service
from proposals.schemas import AmendmentIn, ProposalIn
from tests.conftest import World

REASON = "This would empty the fund before winter bills arrive."


async def test_close_due_closes_rounds_past_their_deadline_once(
    session: AsyncSession, world: World
) -> None:
    start = utcnow()
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a chest freezer"), now=start
    )
    await service.respond(session, world.group, 1, world.admin.user, "agree", "", now=start)
    await service.respond(session, world.group, 1, world.steward.user, "agree", "", now=start)
    await session.commit()
    assert await service.close_due(session, now=start + timedelta(days=6)) == 0
    later = start + timedelta(days=7, minutes=1)
    assert await service.close_due(session, now=later) == 1
    assert await service.close_due(session, now=later) == 0
    await session.commit()
    proposal = await service.get_proposal(session, world.group, 1)
    assert proposal.status == "passed"
    assert proposal.rounds[0].closed_by == "deadline"


async def test_the_cli_closes_due_rounds(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    past = utcnow() - timedelta(days=8)
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a chest freezer"), now=past
    )
    await session.commit()
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke,
        main,
        ["proposals", "close-due"],
        env={"COMMONPURSE_DATABASE_URL": settings.database_url},
    )
    assert result.exit_code == 0, result.output
    assert "Closed 1 round(s)" in result.output
    listed = await asyncio.to_thread(
        runner.invoke,
        main,
        ["proposals", "list", world.slug],
        env={"COMMONPURSE_DATABASE_URL": settings.database_url},
    )
    assert "#1 [not_passed] Buy a chest freezer" in listed.output


async def test_the_fallback_vote_opens_after_blocked_rounds_and_amendments_keep_the_count(
    session: AsyncSession, world: World
) -> None:
    await service.set_rules(
        session, world.group, {"fallback": {"after_blocked_rounds": 1, "agree_share": "0.75"}}, None
    )
    now = utcnow()
    await service.create_proposal(
        session,
        world.group,
        world.member.user,
        ProposalIn(title="Pay the fridge repair", body="v1"),
        now=now,
    )
    voters = [world.steward, world.facilitator, world.member]
    await service.respond(session, world.group, 1, world.admin.user, "block", REASON, now=now)
    for person in voters:
        await service.respond(session, world.group, 1, person.user, "agree", "", now=now)
    assert (await service.get_proposal(session, world.group, 1)).status == "blocked"

    membership = await active_membership(session, world.group.id, world.member.user.id)
    assert membership is not None
    await service.amend(
        session,
        world.group,
        1,
        world.member.user,
        membership,
        AmendmentIn(body="v2: cheaper repair", reason="Answering the block"),
        now=now,
    )
    await service.respond(session, world.group, 1, world.admin.user, "block", REASON, now=now)
    for person in voters:
        await service.respond(session, world.group, 1, person.user, "agree", "", now=now)
    proposal = await service.get_proposal(session, world.group, 1)
    assert proposal.status == "passed"
    assert proposal.rounds[1].outcome_reason == "fallback_passed"

"""Deadlines pass even when nobody calls; blocked rounds lead to the fallback vote."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cli import main
from app.jobs import close_due_rounds
from app.settings import Settings
from ledger.groups import active_membership, utcnow
from proposals import service
from proposals.errors import RoundClosed
from proposals.schemas import AmendmentIn, ProposalIn
from tests.support.people import World

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
    shown = await asyncio.to_thread(
        runner.invoke,
        main,
        ["proposals", "show", world.slug, "1"],
        env={"COMMONPURSE_DATABASE_URL": settings.database_url},
    )
    assert shown.exit_code == 0, shown.output
    proposal = json.loads(shown.output)
    assert proposal["status"] == "not_passed"
    assert proposal["rounds"][0]["closed_by"] == "deadline"
    assert "quorum" in proposal["rounds"][0]["outcome"]["explanation"]


async def test_the_background_task_closes_due_rounds_in_a_transaction_of_its_own(
    session: AsyncSession, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    past = utcnow() - timedelta(days=8)
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a chest freezer"), now=past
    )
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a kettle")
    )
    await session.commit()
    assert await close_due_rounds(session_maker) == 1
    assert await close_due_rounds(session_maker) == 0
    group = await world.fresh_group(session)
    assert (await service.get_proposal(session, group, 1)).rounds[0].closed_by == "deadline"
    assert (await service.get_proposal(session, group, 2)).status == "open"


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


async def test_an_amendment_after_the_deadline_first_closes_the_round_and_its_block_counts(
    session: AsyncSession, world: World
) -> None:
    # Nobody read the proposal between its deadline and the amendment: the round is
    # decided (blocked) first, not closed as "amended", so the fallback vote opens.
    await service.set_rules(
        session, world.group, {"fallback": {"after_blocked_rounds": 1, "agree_share": "0.75"}}, None
    )
    start = utcnow()
    await service.create_proposal(
        session,
        world.group,
        world.member.user,
        ProposalIn(title="Pay the fridge repair"),
        now=start,
    )
    await service.respond(session, world.group, 1, world.admin.user, "block", REASON, now=start)
    for person in (world.steward, world.facilitator):
        await service.respond(session, world.group, 1, person.user, "agree", "", now=start)
    later = start + timedelta(days=7, minutes=1)
    membership = await active_membership(session, world.group.id, world.member.user.id)
    assert membership is not None
    await service.amend(
        session,
        world.group,
        1,
        world.member.user,
        membership,
        AmendmentIn(body="A cheaper repair", reason="Answering the block"),
        now=later,
    )
    proposal = await service.get_proposal(session, world.group, 1)
    assert [(r.closed_by, r.outcome) for r in proposal.rounds] == [
        ("deadline", "blocked"),
        (None, None),
    ]
    await service.respond(session, world.group, 1, world.admin.user, "block", REASON, now=later)
    for person in (world.steward, world.facilitator, world.member):
        await service.respond(session, world.group, 1, person.user, "agree", "", now=later)
    proposal = await service.get_proposal(session, world.group, 1)
    assert proposal.status == "passed"
    assert proposal.rounds[1].outcome_reason == "fallback_passed"


async def test_a_round_that_passed_at_its_deadline_is_neither_amended_nor_withdrawn(
    session: AsyncSession, world: World
) -> None:
    start = utcnow()
    for number, title in enumerate(("Buy a chest freezer", "Buy a kettle"), start=1):
        await service.create_proposal(
            session, world.group, world.member.user, ProposalIn(title=title), now=start
        )
        for person in (world.admin, world.steward):
            await service.respond(session, world.group, number, person.user, "agree", "", now=start)
    later = start + timedelta(days=7, minutes=1)
    with pytest.raises(RoundClosed, match="passed"):
        await service.withdraw(session, world.group, 1, world.member.user, now=later)
    membership = await active_membership(session, world.group.id, world.member.user.id)
    assert membership is not None
    with pytest.raises(RoundClosed, match="passed"):
        await service.amend(
            session,
            world.group,
            2,
            world.member.user,
            membership,
            AmendmentIn(body="Two kettles", reason="One is not enough"),
            now=later,
        )
    for number in (1, 2):
        proposal = await service.get_proposal(session, world.group, number)
        assert proposal.status == "passed"
        assert [r.closed_by for r in proposal.rounds] == ["deadline"]


# --- the facilitators' shell ----------------------------------------------------------------


async def shell(settings: Settings, *args: str) -> Result:
    """Run ``commonpurse ARGS`` as a facilitator would; the command runs its own event loop,
    so it runs beside this test's, in a thread."""
    return await asyncio.to_thread(
        CliRunner().invoke,
        main,
        list(args),
        env={"COMMONPURSE_DATABASE_URL": settings.database_url},
        catch_exceptions=False,
    )


async def closes_of(session: AsyncSession, world: World, number: int) -> list[str | None]:
    """How each round of the proposal closed, read fresh (and the read ended, so that on
    SQLite the shell can write)."""
    proposal = await service.get_proposal(session, world.group, number)
    closes = [r.closed_by for r in proposal.rounds]
    await session.commit()
    return closes


async def test_listing_or_showing_from_the_shell_first_closes_the_rounds_past_their_deadline(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    past = utcnow() - timedelta(days=8)
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a chest freezer"), now=past
    )
    await session.commit()
    # Nobody ran close-due, nor read it over HTTP: the shell never shows it open.
    shown = await shell(settings, "proposals", "show", world.slug, "1")
    assert shown.exit_code == 0, shown.output
    proposal = json.loads(shown.output)
    assert proposal["status"] == "not_passed"
    assert proposal["rounds"][0]["closed_by"] == "deadline"
    assert await closes_of(session, world, 1) == ["deadline"]

    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a kettle"), now=past
    )
    await session.commit()
    listed = await shell(settings, "proposals", "list", world.slug)
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "#2 [not_passed] Buy a kettle",
        "#1 [not_passed] Buy a chest freezer",
    ]
    assert await closes_of(session, world, 2) == ["deadline"]


async def test_a_facilitator_closes_a_round_from_the_shell_and_nobody_else_does(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    # Opened three days ago: past the 48 hours a round stays open, before its deadline.
    opened = utcnow() - timedelta(days=3)
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a chest freezer"), now=opened
    )
    for person in (world.admin, world.steward):  # a quorum of the 4 members, all agreeing
        await service.respond(session, world.group, 1, person.user, "agree", "", now=opened)
    await session.commit()

    for email, refusal in (
        (world.member.user.email, "is not a facilitator of 'rent-fund'"),  # the author
        (world.steward.user.email, "is not a facilitator of 'rent-fund'"),
        (world.outsider.user.email, "is not a member of 'rent-fund'"),
        ("nobody@example.org", "No user has the e-mail nobody@example.org"),
    ):
        refused = await shell(settings, "proposals", "close", world.slug, "1", "--as", email)
        assert refused.exit_code == 1, refused.output
        assert refusal in refused.output
        assert "Traceback" not in refused.output
        assert await closes_of(session, world, 1) == [None]

    closed = await shell(
        settings, "proposals", "close", world.slug, "1", "--as", world.facilitator.user.email
    )
    assert closed.exit_code == 0, closed.output
    assert closed.output.startswith("Closed proposal 1. Passed: 2 of 2 responses agree")
    assert await closes_of(session, world, 1) == ["facilitator"]
    assert (await service.get_proposal(session, world.group, 1)).status == "passed"
    await session.commit()
    again = await shell(
        settings, "proposals", "close", world.slug, "1", "--as", world.facilitator.user.email
    )
    assert again.exit_code == 1
    assert "Proposal 1 is passed." in again.output


async def test_the_shell_keeps_the_minimum_hours_and_meets_a_round_decided_at_its_deadline(
    session: AsyncSession, world: World, settings: Settings
) -> None:
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a kettle")
    )
    past = utcnow() - timedelta(days=8)
    await service.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a chest freezer"), now=past
    )
    await session.commit()
    admin = world.admin.user.email  # admin implies facilitator

    early = await shell(settings, "proposals", "close", world.slug, "1", "--as", admin)
    assert early.exit_code == 1
    assert "This round can close from" in early.output
    assert await closes_of(session, world, 1) == [None]

    # Its deadline closed proposal 2 first; that close stands though this one is refused.
    late = await shell(settings, "proposals", "close", world.slug, "2", "--as", admin)
    assert late.exit_code == 1
    assert "Proposal 2 is not passed." in late.output
    assert await closes_of(session, world, 2) == ["deadline"]
    assert await closes_of(session, world, 1) == [None]

    missing = await shell(settings, "proposals", "close", world.slug, "9", "--as", admin)
    assert missing.exit_code == 1
    assert "has no proposal 9" in missing.output

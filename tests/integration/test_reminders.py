"""Who has not spoken yet, and reminding them: by a facilitator, and automatically the
group's set time before a deadline; each member at most once per round, by e-mail through
the outbox (a real SMTP server on localhost)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.mail import SmtpSettings, send_due
from proposals import discussion
from proposals.models import Notification, Reminder, Round
from tests.integration.test_mail import Inbox, free_port
from tests.support.people import Person, World

Client = AsyncTestClient[Litestar]


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSettings, Inbox]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSettings(host="127.0.0.1", port=port, sender="pod@example.org"), inbox
    controller.stop()


def url(world: World, tail: str = "") -> str:
    return f"/api/groups/{world.slug}/proposals{tail}"


async def propose(client: Client, world: World, **more: Any) -> Any:
    response = await client.post(
        url(world),
        json={"title": "Mend the roof", "body": "The rain comes in.", **more},
        headers=world.member.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def agree(client: Client, world: World, person: Person) -> None:
    response = await client.post(
        url(world, "/1/responses"), json={"position": "agree"}, headers=person.headers
    )
    assert response.status_code == 201, response.text


async def remind(client: Client, world: World, by: Person | None = None) -> Any:
    return await client.post(url(world, "/1/reminders"), headers=(by or world.facilitator).headers)


async def reminders(session: AsyncSession) -> list[Notification]:
    found = list(
        await session.scalars(
            select(Notification).where(Notification.kind == "reminder").order_by(Notification.id)
        )
    )
    await session.commit()  # end the read: on SQLite it would hold the write lock
    return found


async def test_members_see_who_has_not_responded_and_visitors_do_not(
    client: Client, world: World
) -> None:
    await propose(client, world)
    await agree(client, world, world.steward)
    shown = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert [m["member"] for m in shown["not_responded"]] == sorted(
        p.user.name for p in (world.admin, world.facilitator, world.member)
    )
    assert {m["member_id"] for m in shown["not_responded"]} == {
        world.admin.user.id,
        world.facilitator.user.id,
        world.member.user.id,
    }
    public = (await client.get(url(world, "/1"))).json()
    assert public["not_responded"] is None
    outsider = (await client.get(url(world, "/1"), headers=world.outsider.headers)).json()
    assert outsider["not_responded"] is None
    for person in (world.admin, world.facilitator, world.member):
        await agree(client, world, person)
    closed = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert closed["status"] == "passed"
    assert closed["not_responded"] == []


async def test_a_facilitator_reminds_each_silent_member_once_per_round(
    client: Client, world: World, session: AsyncSession, smtp: tuple[SmtpSettings, Inbox]
) -> None:
    settings, inbox = smtp
    await propose(client, world)
    await agree(client, world, world.member)
    refused = await remind(client, world, world.member)
    assert refused.status_code == 403, refused.text
    assert await reminders(session) == []
    first = await remind(client, world)
    assert first.status_code == 200, first.text
    assert first.json() == {"reminded": 3}
    again = await remind(client, world)
    assert again.json() == {"reminded": 0}
    sent = await reminders(session)
    assert sorted(n.user_id for n in sent) == sorted(
        p.user.id for p in (world.admin, world.steward, world.facilitator)
    )
    # A reminder is e-mailed at once, whatever the member chose for other news: a digest
    # could arrive after the deadline.
    assert {n.delivery for n in sent} == {"each"}
    assert all("awaits your response" in n.body for n in sent)
    shown = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert all(m["reminded_at"] is not None for m in shown["not_responded"])
    assert await send_due(session, settings, "pod.example.org") == 3
    await session.commit()
    assert sorted(m["To"] for m in inbox.messages) == sorted(
        p.user.email for p in (world.admin, world.steward, world.facilitator)
    )
    assert all("Reminder" in m["Subject"] for m in inbox.messages)


async def test_a_new_round_may_remind_again_and_a_closed_one_refuses(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world)
    assert (await remind(client, world)).json() == {"reminded": 4}
    amended = await client.post(
        url(world, "/1/amendments"),
        json={"body": "The rain comes in; the gutter too.", "reason": "The gutter."},
        headers=world.member.headers,
    )
    assert amended.status_code == 201, amended.text
    assert (await remind(client, world)).json() == {"reminded": 4}  # round 2
    withdrawn = await client.post(url(world, "/1/withdraw"), headers=world.member.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    late = await remind(client, world)
    assert late.status_code == 409, late.text
    assert late.headers["content-type"].startswith("application/problem+json")
    assert len(await reminders(session)) == 8


async def test_the_automatic_reminder_goes_the_set_time_before_the_deadline_once(
    client: Client, world: World, session: AsyncSession, smtp: tuple[SmtpSettings, Inbox]
) -> None:
    settings, inbox = smtp
    await propose(client, world)
    await agree(client, world, world.member)
    assert (await remind(client, world)).json() == {"reminded": 3}
    await session.commit()
    round_ = (await session.scalars(select(Round))).one()
    closes_at = round_.closes_at
    await session.commit()
    # The facilitator reminded all three already: the automatic reminder adds nobody.
    assert await discussion.remind_due(session, closes_at - timedelta(hours=23)) == 0
    await session.commit()
    assert len(await reminders(session)) == 3
    # A second proposal, nobody reminded yet: not before its time, then once.
    await propose(client, world)
    assert await discussion.remind_due(session, closes_at - timedelta(hours=25)) == 0
    await session.commit()
    assert await discussion.remind_due(session, closes_at - timedelta(hours=23)) == 4
    await session.commit()
    assert await discussion.remind_due(session, closes_at - timedelta(hours=22)) == 0
    await session.commit()
    rows = list(await session.scalars(select(Reminder).where(Reminder.kind == "automatic")))
    await session.commit()
    assert len(rows) == 4
    later = closes_at - timedelta(hours=22)
    assert await send_due(session, settings, "pod.example.org", now=later) == 7
    await session.commit()
    assert len(inbox.messages) == 7


async def test_the_group_sets_the_reminder_time_or_turns_it_off(
    client: Client, world: World, session: AsyncSession
) -> None:
    rules = f"/api/groups/{world.slug}/rules"
    shown = (await client.get(rules, headers=world.admin.headers)).json()
    assert shown["reminder_hours_before"] == 24
    assert shown["public_comments"] is False
    off = await client.put(rules, json={"reminder_hours_before": 0}, headers=world.admin.headers)
    assert off.status_code == 200, off.text
    assert off.json()["reminder_hours_before"] == 0
    await propose(client, world)
    round_ = (await session.scalars(select(Round))).one()
    closes_at = round_.closes_at
    await session.commit()
    assert await discussion.remind_due(session, closes_at - timedelta(minutes=5)) == 0
    await session.commit()
    assert await reminders(session) == []
    # Turned on again at 48 hours: the round that waited is reminded.
    on = await client.put(rules, json={"reminder_hours_before": 48}, headers=world.admin.headers)
    assert on.json()["reminder_hours_before"] == 48
    assert await discussion.remind_due(session, closes_at - timedelta(hours=49)) == 0
    await session.commit()
    assert await discussion.remind_due(session, closes_at - timedelta(hours=47)) == 4
    await session.commit()
    # Bad settings are refused and change nothing.
    for bad in (-1, 9000, "24", None):
        refused = await client.put(
            rules, json={"reminder_hours_before": bad}, headers=world.admin.headers
        )
        assert refused.status_code == (200 if bad is None else 422), refused.text
    assert (await client.get(rules, headers=world.admin.headers)).json()[
        "reminder_hours_before"
    ] == 48


async def test_a_round_too_short_for_its_reminder_time_is_not_reminded(
    client: Client, world: World, session: AsyncSession
) -> None:
    """The opening told everyone already: a reminder time before the round opened is none."""
    rules = f"/api/groups/{world.slug}/rules"
    changed = await client.put(
        rules,
        json={"rules": {"min_open_hours": 0}, "reminder_hours_before": 24},
        headers=world.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    round_open = await propose(client, world, closes_at=None)
    assert round_open["status"] == "open"
    round_ = (await session.scalars(select(Round))).one()
    opened_at = round_.opened_at
    round_.closes_at = opened_at + timedelta(hours=12)
    await session.commit()
    assert await discussion.remind_due(session, opened_at + timedelta(hours=1)) == 0
    await session.commit()
    assert await reminders(session) == []
    marked = (await session.scalars(select(Round).execution_options(populate_existing=True))).one()
    assert marked.reminded_at is not None
    await session.commit()

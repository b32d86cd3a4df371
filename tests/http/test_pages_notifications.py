"""A member's notifications: an inbox (a readable line each, one per proposal, read once
opened, decided proposals gone), what is new on the dashboard, and the form that chooses
how they also come by e-mail (none, each, a daily digest)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger import groups
from proposals import support
from proposals.models import Notification, NotificationPreference
from proposals.support import AskForm
from tests.support.clients import browser, give_password, post_form, propose, text_of
from tests.support.people import World, build_world

HTML = {"Accept": "text/html"}


def settings_url(world: World) -> str:
    return f"/m/{world.slug}/notifications"


def notification_links(html: str) -> list[tuple[str, str]]:
    """(link, text) of each notification listed, in page order."""
    section = html.split('<ul class="plain-list inbox">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', section)


def texts(html: str) -> list[str]:
    return [text for _, text in notification_links(html)]


async def test_the_dashboard_lists_my_notifications_newest_first_with_links(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.member) as member:
        await propose(member, world, title="Paint the hall", fund="", amount="")
        await propose(member, world, title="Fix the boiler", fund="", amount="")
        own = await member.get("/m", headers=HTML)
        # The author is not told of their own proposals.
        assert 'id="notifications-heading"' not in own.text
    asked = await support.ask(
        session,
        await world.fresh_group(session),
        AskForm(need="Rent for March", email="asker@example.org", consent=True),
    )
    await session.commit()
    async with browser(settings, world.steward) as steward:
        page = await steward.get("/m", headers=HTML)
        assert page.status_code == 200
        # A readable line each, not the e-mails' subjects.
        assert texts(page.text) == [
            f"New request for support {asked.pseudonym}",
            "Proposal #2, \u201cFix the boiler\u201d, awaits your response",
            "Proposal #1, \u201cPaint the hall\u201d, awaits your response",
        ]
        assert "[Rent Fund]" not in page.text
        for link, _ in notification_links(page.text):
            assert re.fullmatch(r"/notifications/\d+", link)
        first = notification_links(page.text)[0][0]
        opened = await steward.get(first, follow_redirects=False)
        assert opened.status_code == 303
        assert opened.headers["location"] == "/m/rent-fund/requests"
        assert "asker@example.org" not in page.text  # only the pseudonym, never the person
        assert "Rent for March" not in page.text
    async with browser(settings, world.member) as member:
        page = await member.get("/m", headers=HTML)
        assert 'id="notifications-heading"' not in page.text  # members hear of no requests


async def test_notifications_of_a_group_i_left_are_not_listed(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.member) as member:
        await propose(member, world, title="Paint the hall", fund="", amount="")
    membership = await groups.active_membership(session, world.group.id, world.steward.user.id)
    assert membership is not None
    await groups.remove_member(session, await world.fresh_group(session), membership.id)
    await session.commit()
    async with browser(settings, world.steward) as steward:
        page = await steward.get("/m", headers=HTML)
        assert "Paint the hall" not in page.text
        assert "You are not a member of any group yet." in text_of(page.text)


async def test_a_member_chooses_how_notifications_come_by_e_mail(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward, world.member)
    async with browser(settings, world.steward) as steward:
        form = await steward.get(settings_url(world), headers=HTML)
        assert form.status_code == 200
        text = text_of(form.text)
        assert "or a new request for support arrives" in text
        assert "This site does not send e-mail yet" in text
        assert 'name="mode" value="none" checked' in form.text
        saved = await post_form(steward, settings_url(world), {"mode": "each"})
        assert saved.status_code == 303
        assert saved.headers["location"] == settings_url(world) + "?done=saved"
        shown = await steward.get(saved.headers["location"], headers=HTML)
        assert "Your choice was saved." in text_of(shown.text)
        assert 'name="mode" value="each" checked' in shown.text
        assert 'name="mode" value="none" checked' not in shown.text
    async with browser(settings, world.member) as member:
        text = text_of((await member.get(settings_url(world), headers=HTML)).text)
        assert "new request for support" not in text
        await propose(member, world, title="Paint the hall", fund="", amount="")
    deliveries = {
        n.user_id: n.delivery
        for n in await session.scalars(
            select(Notification).where(Notification.kind == "awaiting_response")
        )
    }
    await session.commit()
    assert deliveries[world.steward.user.id] == "each"
    assert deliveries[world.admin.user.id] == "none"
    async with browser(settings, world.steward) as steward:
        daily = await post_form(steward, settings_url(world), {"mode": "daily"})
        assert daily.status_code == 303
    preference = await session.get(NotificationPreference, (world.group.id, world.steward.user.id))
    assert preference is not None
    assert preference.mode == "daily"
    await session.commit()


async def test_the_settings_form_explains_mistakes_and_refuses_forged_posts(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        empty = await post_form(member, settings_url(world), {"mode": ""})
        assert empty.status_code == 422
        assert "Choose how you want to hear of them." in text_of(empty.text)
        assert 'id="error-mode"' in empty.text
        bogus = await post_form(member, settings_url(world), {"mode": "hourly"})
        assert bogus.status_code == 422
        assert "mode is one of none, each, daily." in text_of(bogus.text)
        no_token = await member.post(
            settings_url(world), data={"mode": "each"}, headers=HTML, follow_redirects=False
        )
        assert no_token.status_code == 403
    assert list(await session.scalars(select(NotificationPreference))) == []
    await session.commit()


async def test_only_members_reach_the_settings(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    hidden = await build_world(session, slug="hidden-fund", public=False)
    await give_password(session, world.outsider)
    async with browser(settings, world.outsider) as outsider:
        assert (await outsider.get(settings_url(world), headers=HTML)).status_code == 403
        assert (await outsider.get(settings_url(hidden), headers=HTML)).status_code == 404
    async with browser(settings) as anonymous:
        sent = await anonymous.get(settings_url(world), follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"].startswith("/login?next=")


async def unread_on_dashboard(client: httpx.AsyncClient) -> list[str]:
    page = await client.get("/m", headers=HTML)
    assert page.status_code == 200
    return texts(page.text) if 'id="notifications-heading"' in page.text else []


async def test_opening_a_notification_marks_it_read_and_it_leaves_the_dashboard(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.member) as member:
        await propose(member, world, title="Paint the hall", fund="", amount="")
    async with browser(settings, world.steward) as steward:
        page = await steward.get("/m", headers=HTML)
        assert "1 new" in text_of(page.text)
        [(link, _)] = notification_links(page.text)
        opened = await steward.get(link, follow_redirects=False)
        assert opened.status_code == 303
        assert opened.headers["location"] == "/m/rent-fund/proposals/1"
        assert await unread_on_dashboard(steward) == []
        inbox = await steward.get("/notifications", headers=HTML)
        assert inbox.status_code == 200
        assert texts(inbox.text) == [
            "Proposal #1, \u201cPaint the hall\u201d, awaits your response"
        ]
        assert "(read)" in inbox.text
        assert "Mark all as read" not in inbox.text
    notification = await session.scalar(
        select(Notification).where(Notification.user_id == world.steward.user.id)
    )
    assert notification is not None
    assert notification.read_at is not None
    await session.commit()


async def test_opening_the_proposal_page_marks_its_notification_read(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.admin)
    async with browser(settings, world.member) as member:
        await propose(member, world, title="Paint the hall", fund="", amount="")
    async with browser(settings, world.admin) as admin:
        assert len(await unread_on_dashboard(admin)) == 1
        assert (await admin.get("/m/rent-fund/proposals/1", headers=HTML)).status_code == 200
        assert await unread_on_dashboard(admin) == []


async def test_one_line_per_proposal_whatever_its_rounds_and_decided_ones_fall_away(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.member) as member:
        await propose(member, world, title="Paint the hall", fund="", amount="")
        await propose(member, world, title="Fix the boiler", fund="", amount="")
    async with browser(settings, world.steward) as steward:
        await steward.get("/m/rent-fund/proposals/1", headers=HTML)  # read round 1
    async with browser(settings, world.member) as member:
        amended = await post_form(
            member,
            "/m/rent-fund/proposals/1/amend",
            {
                "title": "Paint the hall",
                "body": "Two coats, not one.",
                "fund": "",
                "amount": "",
                "counterparty": "",
                "amend_reason": "One coat will not do",
            },
            form_url="/m/rent-fund/proposals/1",
        )
        assert amended.status_code == 303, amended.text
        withdrawn = await post_form(
            member, "/m/rent-fund/proposals/2/withdraw", {}, form_url="/m/rent-fund/proposals/2"
        )
        assert withdrawn.status_code == 303, withdrawn.text
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == world.steward.user.id)
    )
    assert count == 3  # two rounds of proposal 1, one of proposal 2
    await session.commit()
    async with browser(settings, world.steward) as steward:
        # The new round is new again; the withdrawn proposal is gone.
        assert await unread_on_dashboard(steward) == [
            "Proposal #1, \u201cPaint the hall\u201d, awaits your response (round 2)"
        ]
        inbox = await steward.get("/notifications", headers=HTML)
        assert texts(inbox.text) == [
            "Proposal #1, \u201cPaint the hall\u201d, awaits your response (round 2)"
        ]
        assert "Fix the boiler" not in inbox.text
        marked = await post_form(steward, "/notifications/read", {}, form_url="/notifications")
        assert marked.status_code == 303
        assert marked.headers["location"] == "/notifications"
        assert await unread_on_dashboard(steward) == []


async def test_a_notification_of_someone_else_is_not_found(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.member) as member:
        await propose(member, world, title="Paint the hall", fund="", amount="")
    theirs = await session.scalar(
        select(Notification.id).where(Notification.user_id == world.steward.user.id)
    )
    await session.commit()
    async with browser(settings, world.member) as member:
        answer = await member.get(f"/notifications/{theirs}", headers=HTML)
        assert answer.status_code == 404
    read_at = await session.scalar(select(Notification.read_at).where(Notification.id == theirs))
    assert read_at is None
    await session.commit()


async def test_the_inbox_through_the_api_reads_and_marks_as_the_page_does(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    """``GET /api/me/notifications``: one line per open proposal (not per round), unread
    until marked; a line of someone else's is 404 and changes nothing."""
    for title in ("Paint the hall", "Fix the boiler"):
        opened = await client.post(
            f"/api/groups/{world.slug}/proposals",
            json={"title": title, "body": "Soon."},
            headers=world.member.headers,
        )
        assert opened.status_code == 201, opened.text
    amended = await client.post(
        f"/api/groups/{world.slug}/proposals/2/amendments",
        json={"body": "Before winter.", "reason": "A date helps."},
        headers=world.member.headers,
    )
    assert amended.status_code in (200, 201), amended.text
    inbox = await client.get("/api/me/notifications", headers=world.steward.headers)
    assert inbox.status_code == 200, inbox.text
    lines = inbox.json()
    assert [(line["proposal"], line["unread"]) for line in lines] == [(2, True), (1, True)]
    assert lines[0]["url"] == f"/m/{world.slug}/proposals/2"
    assert lines[0]["group"] == world.slug
    assert "Fix the boiler" in lines[0]["subject"]
    # Not the steward's: refused, and their line stays unread.
    other = await client.post(
        f"/api/me/notifications/{lines[0]['id']}/read", headers=world.member.headers
    )
    assert other.status_code == 404, other.text
    marked = await client.post(
        f"/api/me/notifications/{lines[0]['id']}/read", headers=world.steward.headers
    )
    assert marked.status_code == 204, marked.text
    after = (await client.get("/api/me/notifications", headers=world.steward.headers)).json()
    assert [(line["proposal"], line["unread"]) for line in after] == [(2, False), (1, True)]
    everything = await client.post("/api/me/notifications/read", headers=world.steward.headers)
    assert everything.status_code == 204
    after = (await client.get("/api/me/notifications", headers=world.steward.headers)).json()
    assert [line["unread"] for line in after] == [False, False]
    anonymous = await client.get("/api/me/notifications")
    assert anonymous.status_code == 401
    unread = await session.scalar(
        select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))
    )
    await session.commit()
    assert unread  # the other members' lines are untouched

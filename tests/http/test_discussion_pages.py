"""The discussion and reminders on the proposal's pages: comment, reply, edit, hide and
remind through the forms (CSRF, errors kept next to the form, 303 to the comment), what the
member's and the public page show, and hostile Markdown made harmless."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from proposals.models import Comment, Notification
from tests.support.clients import browser, give_password, post_form, proposal_url, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


async def open_proposal(client: Client, world: World) -> None:
    response = await client.post(
        f"/api/groups/{world.slug}/proposals",
        json={"title": "Mend the roof", "body": "The rain comes in."},
        headers=world.member.headers,
    )
    assert response.status_code == 201, response.text


async def send(client: Client, world: World, action: str, data: dict[str, str]) -> object:
    return await post_form(
        client, proposal_url(world, f"/1/{action}"), data, form_url=proposal_url(world, "/1")
    )


async def comments(session: AsyncSession) -> int:
    counted = int(await session.scalar(select(func.count()).select_from(Comment)) or 0)
    await session.commit()
    return counted


async def test_members_discuss_on_the_proposal_page(
    client: Client, world: World, settings: Settings, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward, world.facilitator)
    await open_proposal(client, world)
    async with browser(settings, world.steward) as steward:
        posted = await send(steward, world, "comments", {"body": "Do we have *two* quotes?"})
        assert posted.status_code == 303, posted.text  # type: ignore[attr-defined]
        location = posted.headers["location"]  # type: ignore[attr-defined]
        first = (await session.scalars(select(Comment))).one().id
        await session.commit()
        assert location.endswith(f"?done=commented#comment-{first}")
    async with browser(settings, world.member) as member:
        replied = await send(
            member, world, "comments", {"body": "Yes: attached.", "reply_to": str(first)}
        )
        assert replied.status_code == 303  # type: ignore[attr-defined]
        page = await member.get(proposal_url(world, "/1"), headers=HTML)
        text = text_of(page.text)
        assert "Do we have two quotes?" in text
        assert "<em>two</em>" in page.text
        assert "Yes: attached." in text
        assert "Who has not responded yet" in text
        assert world.facilitator.user.name in text
        # The author edits (the steward), not the member.
        refused = await send(member, world, f"comments/{first}/edit", {"body": "Mine now."})
        assert refused.status_code == 403  # type: ignore[attr-defined]
    async with browser(settings, world.steward) as steward:
        edited = await send(
            steward, world, f"comments/{first}/edit", {"body": "Do we have three quotes?"}
        )
        assert edited.status_code == 303  # type: ignore[attr-defined]
        page = await steward.get(proposal_url(world, "/1"), headers=HTML)
        text = text_of(page.text)
        assert "three quotes" in text
        assert "edited" in text
        assert "Earlier text (1)" in text
        assert "Do we have two quotes?" in text  # the earlier text, for members
    async with browser(settings, world.facilitator) as facilitator:
        empty = await send(facilitator, world, f"comments/{first}/hide", {"reason": ""})
        assert empty.status_code == 422  # type: ignore[attr-defined]
        assert "Say why you hide it." in empty.text  # type: ignore[attr-defined]
        hidden = await send(
            facilitator, world, f"comments/{first}/hide", {"reason": "Quotes are private."}
        )
        assert hidden.status_code == 303  # type: ignore[attr-defined]
        reminded = await send(facilitator, world, "remind", {})
        assert reminded.status_code == 303  # type: ignore[attr-defined]
        assert reminded.headers["location"].endswith("done=reminded")  # type: ignore[attr-defined]
        again = await send(facilitator, world, "remind", {})
        assert again.headers["location"].endswith("done=nobody_to_remind")  # type: ignore[attr-defined]
    async with browser(settings, world.member) as member:
        page = await member.get(proposal_url(world, "/1"), headers=HTML)
        text = text_of(page.text)
        assert "Why: Quotes are private." in text
        assert "three quotes" not in text
        assert "(reminded" in text
    told = list(
        await session.scalars(select(Notification.kind).where(Notification.kind == "reminder"))
    )
    await session.commit()
    assert len(told) == 4


async def test_an_empty_or_overlong_comment_is_refused_and_the_text_kept(
    client: Client, world: World, settings: Settings, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    await open_proposal(client, world)
    async with browser(settings, world.member) as member:
        empty = await send(member, world, "comments", {"body": "   "})
        assert empty.status_code == 422  # type: ignore[attr-defined]
        assert "Write your comment first." in empty.text  # type: ignore[attr-defined]
        long = "word " * 2_001
        overlong = await send(member, world, "comments", {"body": long})
        assert overlong.status_code == 422  # type: ignore[attr-defined]
        assert "10,000 characters" in overlong.text  # type: ignore[attr-defined]
        assert long.strip()[:50] in overlong.text  # type: ignore[attr-defined]
        deep = await send(member, world, "comments", {"body": "Hi", "reply_to": "999"})
        assert deep.status_code == 422  # type: ignore[attr-defined]
    assert await comments(session) == 0


async def test_hostile_markdown_in_a_comment_is_harmless(
    client: Client, world: World, settings: Settings, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    await open_proposal(client, world)
    hostile = '<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror="y">'
    posted = await client.post(
        f"/api/groups/{world.slug}/proposals/1/comments",
        json={"body": hostile},
        headers=world.member.headers,
    )
    assert posted.status_code == 201
    async with browser(settings, world.member) as member:
        page = await member.get(proposal_url(world, "/1"), headers=HTML)
    assert "<script>alert" not in page.text
    assert 'href="javascript' not in page.text
    assert not re.search(r"<img[^>]*onerror", page.text)


async def test_the_public_page_shows_the_discussion_only_when_the_group_chooses(
    client: Client, world: World
) -> None:
    await open_proposal(client, world)
    posted = await client.post(
        f"/api/groups/{world.slug}/proposals/1/comments",
        json={"body": "A thought for members."},
        headers=world.steward.headers,
    )
    assert posted.status_code == 201
    public = await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)
    assert "A thought for members." not in public.text
    assert "1 comment, for the group's members" in text_of(public.text)
    made_public = await client.put(
        f"/api/groups/{world.slug}/rules",
        json={"public_comments": True},
        headers=world.admin.headers,
    )
    assert made_public.status_code == 200
    public = await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)
    text = text_of(public.text)
    assert "A thought for members." in text
    assert world.steward.user.name not in text  # names stay off: public_names is off
    assert 'href="#discussion"' in public.text

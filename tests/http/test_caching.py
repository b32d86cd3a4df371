"""Answers that may carry personal data are never kept by a cache."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from proposals import support
from tests.support.clients import browser, give_password
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def test_every_api_answer_to_a_logged_in_caller_says_no_store(
    client: Client, world: World, session: AsyncSession
) -> None:
    form = support.AskForm(need="Rent for March", email="asker@example.org", consent=True)
    request = await support.ask(session, world.group, form)
    await session.commit()
    for path in (
        "/api/me",
        f"/api/groups/{world.slug}/members",
        f"/api/groups/{world.slug}/requests",
        f"/api/groups/{world.slug}/requests/{request.id}",
        f"/api/groups/{world.slug}/proposals",
        f"/api/groups/{world.slug}/funds",
        f"/api/groups/{world.slug}/requests/999999",  # a refusal too
    ):
        answer = await client.get(path, headers=world.steward.headers)
        assert answer.headers.get("cache-control") == "no-store", path


async def test_a_browsers_api_calls_say_no_store_too(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        answer = await member.get("/api/me")
        assert answer.status_code == 200
        assert answer.headers.get("cache-control") == "no-store"


async def test_anonymous_reads_of_public_books_may_be_cached(client: Client, world: World) -> None:
    answer = await client.get(f"/api/groups/{world.slug}/funds")
    assert answer.status_code == 200
    assert "no-store" not in answer.headers.get("cache-control", "")

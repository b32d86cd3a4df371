"""During a flood, the ask page's own script solves the challenge in a real browser, so
the request reaches the stewards' queue; without JavaScript the form still sends, and a
request sent in a hurry is held rather than refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app import challenge
from app.limits import ASK_FLOOD, Limiter
from app.settings import Settings
from ledger.groups import utcnow
from tests.browser.steps import PHONE, STATUS_URL, WORDS, Cast, fill_the_form


@pytest.fixture
async def flooded(cast: Cast, session: AsyncSession, settings: Settings) -> Cast:
    """The group has received more than its hourly share of requests."""
    limiter = Limiter.of(settings)
    for _ in range(ASK_FLOOD.most + 1):
        await limiter.hit(session, utcnow(), (ASK_FLOOD, str(cast.world.group.id)))
    await session.commit()
    return cast


def queues(server: str, cast: Cast) -> tuple[list[Any], list[Any]]:
    url = f"{server}/api/groups/{cast.world.slug}/requests"
    headers = cast.steward.headers
    queue = httpx.get(url, headers=headers, timeout=30).json()
    held = httpx.get(f"{url}?held=true", headers=headers, timeout=30).json()
    return queue, held


def test_the_pages_script_solves_the_challenge_and_the_request_reaches_the_queue(
    flooded: Cast, chromium: Any, server: str
) -> None:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{server}/g/{flooded.world.slug}/ask")
        form = page.locator("form[data-challenge-bits]")
        assert form.get_attribute("data-challenge-bits") == str(challenge.BITS)
        # Sent at once: the script holds the form back until the challenge is solved.
        fill_the_form(page, WORDS["en"])
        page.get_by_role("button", name=WORDS["en"]["send"]).click()
        page.wait_for_url(STATUS_URL, timeout=30_000)
    finally:
        context.close()
    queue, held = queues(server, flooded)
    assert len(queue) == 1
    assert held == []


def test_without_javascript_a_hurried_request_is_held_not_refused(
    flooded: Cast, chromium: Any, server: str
) -> None:
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{server}/g/{flooded.world.slug}/ask")
        fill_the_form(page, WORDS["en"])
        page.get_by_role("button", name=WORDS["en"]["send"]).click()
        page.wait_for_url(STATUS_URL)
        assert WORDS["en"]["thanks"] in page.get_by_role("status").inner_text()
    finally:
        context.close()
    queue, held = queues(server, flooded)
    assert queue == []
    assert len(held) == 1

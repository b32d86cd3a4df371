"""The proposal's page on a phone 360 px wide, read top to bottom: the text, where it stands
and what happens next, your response, who has not spoken, the discussion, the history.
A member responds and comments there with their thumb; nothing scrolls sideways and the
accessibility check finds nothing moderate or worse."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.steps import Cast, accessibility_violations, log_in

NARROW = {"width": 360, "height": 740}
ORDER = [
    "The proposal",
    "Round 1: open until",
    "Your response",
    "Who has not responded yet",
    "Discussion",
    "History",
]


def headings(page: Any) -> list[str]:
    texts = page.locator("main h2").all_inner_texts()
    return [" ".join(text.split()) for text in texts]


def fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"{page.url} scrolls sideways ({width}px)"


def test_a_member_reads_and_answers_a_proposal_on_a_phone(
    chromium: Any, server: str, cast: Cast
) -> None:
    world = cast.world
    opened = httpx.post(
        f"{server}/api/groups/{world.slug}/proposals",
        json={
            "title": "Groceries for the Tuesday fridge run, every week until the end of March",
            "body": "We buy **staples** for the fridge:\n\n- rice\n- oil\n- beans",
            "fund": "groceries",
            "amount": "120.00",
            "counterparty": "R-20",
        },
        headers=world.member.headers,
        timeout=30,
    )
    assert opened.status_code == 201, opened.text
    url = f"{server}/m/{world.slug}/proposals/1"
    context = chromium.new_context(viewport=NARROW, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        log_in(phone, server, cast.steward.user.email, cast.password)
        phone.goto(url)
        fits(phone)
        found = headings(phone)
        assert [h for h in ORDER if any(f.startswith(h) for f in found)] == ORDER, found
        order = [next(i for i, f in enumerate(found) if f.startswith(h)) for h in ORDER]
        assert order == sorted(order), found
        stands = phone.locator(".next-step").inner_text()
        assert stands.startswith("Needs 2 more responses by "), stands

        phone.get_by_label("Agree", exact=True).check()
        phone.get_by_role("button", name="Send your response").click()
        phone.wait_for_load_state()
        fits(phone)
        stands = phone.locator(".next-step").inner_text()
        assert stands.startswith("Needs 1 more response by "), stands

        phone.get_by_label("Your comment", exact=True).fill("Can we add lentils?")
        phone.get_by_role("button", name="Post the comment").click()
        phone.wait_for_url(f"{url}?done=commented#comment-1")
        fits(phone)
        assert "Can we add lentils?" in phone.locator("#discussion").inner_text()
        not_yet = phone.locator("#not-responded").inner_text()
        assert cast.steward.user.name not in not_yet
        assert world.member.user.name in not_yet
        history = phone.locator("section", has=phone.locator("#history-heading")).inner_text()
        assert "Proposed" in history
        assert accessibility_violations(phone) == []

        # A second member agrees: the round has its quorum and would pass.
        other = httpx.post(
            f"{server}/api/groups/{world.slug}/proposals/1/responses",
            json={"position": "agree", "reason": ""},
            headers=world.facilitator.headers,
            timeout=30,
        )
        assert other.status_code in (200, 201), other.text
        phone.goto(url)
        stands = phone.locator(".next-step").inner_text()
        assert stands.startswith("Passes on "), stands
        assert stands.endswith("unless someone blocks."), stands
        fits(phone)
    finally:
        context.close()

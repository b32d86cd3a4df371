"""A discussion and a reminder in a real browser, against a real server that mails through
a test SMTP server (aiosmtpd): the author opens a proposal, a member comments, the author
replies, the commenter edits their comment, the facilitator hides another and reminds who
has not responded; the reminders arrive by e-mail, once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.browser.steps import DESKTOP, Cast, accessibility_violations, log_in
from tests.integration.test_mail import Inbox, free_port


@pytest.fixture
def mailbox() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def server_env(mailbox: tuple[Inbox, int]) -> dict[str, str]:
    _, port = mailbox
    return {
        "COMMONPURSE_SMTP_HOST": "127.0.0.1",
        "COMMONPURSE_SMTP_PORT": str(port),
        "COMMONPURSE_SMTP_FROM": "pod@example.org",
    }


def page_of(chromium: Any, base: str, email: str, password: str, opened: list[Any]) -> Any:
    context = chromium.new_context(viewport=DESKTOP)
    opened.append(context)
    page = context.new_page()
    log_in(page, base, email, password)
    return page


def reminders_in(inbox: Inbox, count: int) -> list[Any]:
    deadline = time.monotonic() + 20  # sent just after the facilitator's answer
    while time.monotonic() < deadline:
        found = [m for m in inbox.messages if "Reminder" in str(m["Subject"])]
        if len(found) >= count:
            return found
        time.sleep(0.2)
    return [m for m in inbox.messages if "Reminder" in str(m["Subject"])]


def test_members_discuss_a_proposal_and_a_facilitator_reminds_who_has_not_responded(
    chromium: Any, server: str, cast: Cast, mailbox: tuple[Inbox, int]
) -> None:
    inbox, _ = mailbox
    world = cast.world
    opened = httpx.post(
        f"{server}/api/groups/{world.slug}/proposals",
        json={"title": "Mend the roof", "body": "The rain comes in over the **kitchen**."},
        headers=world.member.headers,
        timeout=30,
    )
    assert opened.status_code == 201, opened.text
    proposal = f"{server}/m/{world.slug}/proposals/1"
    contexts: list[Any] = []
    try:
        steward = page_of(chromium, server, cast.steward.user.email, cast.password, contexts)
        steward.goto(proposal)
        steward.get_by_label("Your comment", exact=True).fill("Do we have *two* quotes?")
        steward.get_by_role("button", name="Post the comment").click()
        steward.wait_for_url(f"{proposal}?done=commented#comment-1")
        assert "Your comment is in the discussion." in steward.locator("main").inner_text()

        author = page_of(chromium, server, world.member.user.email, cast.password, contexts)
        author.goto(proposal)
        comment = author.locator("#comment-1")
        assert "Do we have two quotes?" in comment.inner_text()
        comment.get_by_text("Reply", exact=True).click()
        comment.get_by_label(f"Your reply to {cast.steward.user.name}").fill("Yes, both here.")
        comment.get_by_role("button", name="Send the reply").click()
        author.wait_for_url(f"{proposal}?done=commented#comment-2")
        author.get_by_label("Your comment", exact=True).fill("Something off topic.")
        author.get_by_role("button", name="Post the comment").click()
        author.wait_for_url(f"{proposal}?done=commented#comment-3")

        steward.goto(proposal)
        mine = steward.locator("#comment-1")
        mine.get_by_text("Edit", exact=True).first.click()
        mine.get_by_label("Your comment, edited").fill("Do we have three quotes?")
        mine.get_by_role("button", name="Save the edit").click()
        steward.wait_for_url(f"{proposal}?done=edited#comment-1")
        edited = steward.locator("#comment-1")
        assert "three quotes" in edited.inner_text()
        assert "edited" in edited.inner_text()
        edited.get_by_text("Earlier text (1)").click()
        assert "two quotes" in edited.inner_text()

        facilitator = page_of(
            chromium, server, world.facilitator.user.email, cast.password, contexts
        )
        facilitator.goto(proposal)
        off_topic = facilitator.locator("#comment-3")
        off_topic.get_by_text("Hide", exact=True).click()
        off_topic.get_by_label("Why hide this comment?").fill("Off topic: start a proposal.")
        off_topic.get_by_role("button", name="Hide the comment").click()
        facilitator.wait_for_url(f"{proposal}?done=hidden#comment-3")
        waiting = facilitator.locator("#not-responded").inner_text()
        assert cast.admin.user.name in waiting
        facilitator.get_by_role("button", name="Remind them").click()
        facilitator.wait_for_url(f"{proposal}?done=reminded")
        assert "(reminded" in facilitator.locator("#not-responded").inner_text()
        assert accessibility_violations(facilitator) == []

        author.goto(proposal)
        assert "Why: Off topic: start a proposal." in author.locator("#comment-3").inner_text()
        assert "Something off topic." not in author.locator("#comment-3").inner_text()

        mailed = reminders_in(inbox, 4)
        assert sorted(str(m["To"]) for m in mailed) == sorted(
            p.user.email for p in (world.admin, world.steward, world.facilitator, world.member)
        )
        body = mailed[0].get_payload(decode=True).decode()
        assert "Mend the roof" in body
        # A second reminder reaches nobody: everyone was reminded in this round.
        facilitator.get_by_role("button", name="Remind them").click()
        facilitator.wait_for_url(f"{proposal}?done=nobody_to_remind")
        time.sleep(1)  # what would be sent is sent just after the answer, as above
        assert len([m for m in inbox.messages if "Reminder" in str(m["Subject"])]) == 4
    finally:
        for context in contexts:
            context.close()

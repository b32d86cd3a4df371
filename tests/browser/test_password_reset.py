"""A member who forgot their password sets a new one from the e-mail, in a real browser
against a real server that mails through a test SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.browser.steps import DESKTOP, Cast, log_in
from tests.integration.test_mail import Inbox, free_port

NEW_PASSWORD = "lantern orchard violet sledge"


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


def mailed_link(inbox: Inbox, base: str) -> str:
    deadline = time.monotonic() + 10  # the e-mail goes out just after the answer
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    [message] = inbox.messages
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = re.search(re.escape(base) + r"/password/reset/[A-Za-z0-9_-]+", body.decode())
    assert found is not None, body
    return found.group(0)


def test_a_member_sets_a_new_password_from_the_e_mail(
    chromium: Any, server: str, cast: Cast, mailbox: tuple[Inbox, int]
) -> None:
    inbox, _ = mailbox
    email = cast.world.member.user.email
    page = chromium.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{server}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(f"{server}/password/forgot")
    page.get_by_label("E-mail address", exact=True).fill(email)
    page.get_by_role("button", name="Send me a link").click()
    assert "If an account has this address" in page.locator("main").inner_text()
    page.goto(mailed_link(inbox, server))
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    page.wait_for_url(f"{server}/login?reset=done")
    assert "Your new password is set" in page.locator("main").inner_text()
    log_in(page, server, email, NEW_PASSWORD)
    assert page.url == f"{server}/m"

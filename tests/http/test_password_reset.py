"""A forgotten password, set anew by e-mail through a real SMTP server (aiosmtpd): the link
works once and not for long, is stored only as a digest, and asking says nothing about
which addresses have accounts; without e-mail the page says to ask an admin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import token_digest
from app.limits import RESET_PER_ACCOUNT
from app.models import PasswordReset, WebSession
from app.settings import Settings
from ledger.groups import utcnow
from tests.integration.test_mail import Inbox, free_port
from tests.support.clients import browser, give_password, post_form, text_of
from tests.support.people import World

HTML = {"Accept": "text/html"}
NEW_PASSWORD = "lantern orchard violet sledge"
LINK = re.compile(r"http://testserver\.local/password/reset/([A-Za-z0-9_-]+)")


@pytest.fixture
def mailbox() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mailing(settings: Settings, mailbox: tuple[Inbox, int]) -> Settings:
    """The settings of an instance that sends e-mail (to the test's SMTP server)."""
    _, port = mailbox
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_FROM": "pod@example.org"}
    return replace(settings, extra={**settings.extra, **smtp})


async def ask_for_link(settings: Settings, email: str) -> str:
    """The text of the answer to asking for a link for ``email``."""
    async with browser(settings) as anyone:
        # The login page's token: without e-mail the page has no form of its own.
        asked = await post_form(anyone, "/password/forgot", {"email": email}, form_url="/login")
        assert asked.status_code == 200, asked.text
        return text_of(asked.text)


def link_in(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = LINK.search(body.decode())
    assert found is not None, body
    return found.group(1)


async def test_without_mail_the_page_says_to_ask_an_admin(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    async with browser(settings) as visitor:
        login = await visitor.get("/login", headers=HTML)
        assert 'href="/password/forgot"' in login.text
        page = await visitor.get("/password/forgot", headers=HTML)
        assert page.status_code == 200
        assert "Please ask an admin of your group" in text_of(page.text)
        assert 'name="email"' not in page.text
    answer = await ask_for_link(settings, world.member.user.email)
    assert "Please ask an admin" in answer
    assert list(await session.scalars(select(PasswordReset))) == []
    await session.commit()


async def test_a_member_sets_a_new_password_with_the_link_once(
    mailing: Settings, mailbox: tuple[Inbox, int], world: World, session: AsyncSession
) -> None:
    inbox, _ = mailbox
    await give_password(session, world.member)
    async with browser(mailing, world.member) as elsewhere:  # a session from before
        answer = await ask_for_link(mailing, world.member.user.email.upper())
        assert "If an account has this address" in answer
        [message] = inbox.messages
        assert message["To"] == world.member.user.email
        token = link_in(message)
        # Only the digest is kept.
        stored = list(await session.scalars(select(PasswordReset)))
        assert [row.token_hash for row in stored] == [token_digest(token)]
        await session.commit()
        async with browser(mailing) as member:
            form = await member.get(f"/password/reset/{token}", headers=HTML)
            assert form.status_code == 200
            assert form.headers["referrer-policy"] == "no-referrer"
            assert form.headers["cache-control"] == "no-store"
            weak = await post_form(member, f"/password/reset/{token}", {"password": "password1"})
            assert weak.status_code == 422
            assert 'id="error-password"' in weak.text
            done = await post_form(member, f"/password/reset/{token}", {"password": NEW_PASSWORD})
            assert done.status_code == 303
            assert done.headers["location"] == "/login?reset=done"
            again = await member.get(f"/password/reset/{token}", headers=HTML)
            assert again.status_code == 404
            assert "it was used already" in text_of(again.text)
            replay = await post_form(
                member,
                f"/password/reset/{token}",
                {"password": "another quite long phrase"},
                form_url="/password/forgot",
            )
            assert replay.status_code == 404
            logged_in = await post_form(
                member, "/login", {"email": world.member.user.email, "password": NEW_PASSWORD}
            )
            assert logged_in.status_code == 303
        # The new password ended the sessions opened with the old one.
        assert (await elsewhere.get("/m", follow_redirects=False)).status_code == 303
    sessions = await session.scalars(
        select(WebSession).where(WebSession.user_id == world.member.user.id)
    )
    assert len(list(sessions)) == 1  # the one logged in with the new password
    await session.commit()


async def test_asking_answers_the_same_whether_or_not_the_address_has_an_account(
    mailing: Settings, mailbox: tuple[Inbox, int], world: World
) -> None:
    inbox, _ = mailbox
    known = await ask_for_link(mailing, world.member.user.email)
    unknown = await ask_for_link(mailing, "nobody-here@example.org")
    assert known == unknown
    assert [message["To"] for message in inbox.messages] == [world.member.user.email]


async def test_an_expired_or_replaced_link_sets_nothing(
    mailing: Settings, mailbox: tuple[Inbox, int], world: World, session: AsyncSession
) -> None:
    inbox, _ = mailbox
    await ask_for_link(mailing, world.member.user.email)
    await ask_for_link(mailing, world.member.user.email)
    first, second = (link_in(message) for message in inbox.messages)
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == token_digest(second))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    async with browser(mailing) as member:
        for token in (first, second):  # replaced by the second; the second expired
            page = await member.get(f"/password/reset/{token}", headers=HTML)
            assert page.status_code == 404
            assert "Ask for a new one." in text_of(page.text)


async def test_asking_is_rate_limited_alike_for_every_address(
    mailing: Settings, mailbox: tuple[Inbox, int], world: World
) -> None:
    inbox, _ = mailbox
    for email in (world.member.user.email, "nobody-here@example.org"):
        for _ in range(RESET_PER_ACCOUNT.most):
            await ask_for_link(mailing, email)
        async with browser(mailing) as anyone:
            refused = await post_form(anyone, "/password/forgot", {"email": email})
            assert refused.status_code == 429
            assert "Too many requests for a new password" in text_of(refused.text)
            assert int(refused.headers["retry-after"]) > 0
    assert len(inbox.messages) == RESET_PER_ACCOUNT.most


async def test_the_admin_link_of_an_instance_without_mail_works_once(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    from app.password_reset import start_reset

    started = await start_reset(session, world.member.user.email)
    assert started is not None
    _, token = started
    await session.commit()
    async with browser(settings) as member:
        done = await post_form(member, f"/password/reset/{token}", {"password": NEW_PASSWORD})
        assert done.status_code == 303
        logged_in = await post_form(
            member, "/login", {"email": world.member.user.email, "password": NEW_PASSWORD}
        )
        assert logged_in.status_code == 303

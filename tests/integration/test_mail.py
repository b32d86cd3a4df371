"""E-mail through a real SMTP server (aiosmtpd on localhost): once, retried, never twice."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.mail import SmtpSettings, send_due
from ledger.groups import utcnow
from proposals import notify, support
from proposals.models import Notification
from tests.support.people import World


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def handle_message(self, message: Message) -> None:
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSettings, Inbox, Any]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    yield SmtpSettings(host="127.0.0.1", port=port, sender="pod@example.org"), inbox, controller
    if controller._thread is not None:  # stop only a server that was started
        controller.stop()


async def test_a_new_request_mails_opted_in_stewards_once(
    session: AsyncSession, world: World, smtp: tuple[SmtpSettings, Inbox, Any]
) -> None:
    settings, inbox, controller = smtp
    controller.start()
    await notify.set_mode(session, world.group, world.steward.user.id, "each")
    request = await support.ask(
        session,
        world.group,
        support.AskForm(need="Groceries", phone="611222333", name="Ada Byrne", consent=True),
    )
    await session.commit()
    assert await send_due(session, settings, "pod.example.org") == 1
    await session.commit()
    assert await send_due(session, settings, "pod.example.org") == 0
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == world.steward.user.email
    assert request.pseudonym in message["Subject"]
    assert "Ada Byrne" not in message.as_string()


async def test_mail_waits_while_the_server_is_down_and_goes_once_it_is_up(
    session: AsyncSession, world: World, smtp: tuple[SmtpSettings, Inbox, Any]
) -> None:
    settings, inbox, controller = smtp
    await notify.set_mode(session, world.group, world.steward.user.id, "each")
    await support.ask(
        session,
        world.group,
        support.AskForm(need="Rent", phone="611222333", consent=True),
    )
    await session.commit()
    now = utcnow()
    assert await send_due(session, settings, "pod.example.org", now=now) == 0  # server down
    await session.commit()
    pending = (
        await session.scalars(select(Notification).where(Notification.delivery == "each"))
    ).one()
    assert pending.sent_at is None
    assert pending.attempts == 1
    assert pending.last_error
    controller.start()
    assert await send_due(session, settings, "pod.example.org", now=now) == 0  # not yet due
    later = now + timedelta(minutes=2)
    assert await send_due(session, settings, "pod.example.org", now=later) == 1
    await session.commit()
    assert await send_due(session, settings, "pod.example.org", now=later) == 0
    assert len(inbox.messages) == 1


async def test_daily_digests_bundle_a_days_notifications(
    session: AsyncSession, world: World, smtp: tuple[SmtpSettings, Inbox, Any]
) -> None:
    settings, inbox, controller = smtp
    controller.start()
    await notify.set_mode(session, world.group, world.facilitator.user.id, "daily")
    for need in ("Rent", "Food", "Bus fare"):
        await support.ask(
            session,
            world.group,
            support.AskForm(need=need, phone="611222333", consent=True),
        )
    await session.commit()
    assert await send_due(session, settings, "pod.example.org") == 0  # not a day old yet
    assert (
        await send_due(
            session, settings, "pod.example.org", now=utcnow() + timedelta(days=1, minutes=1)
        )
        == 1
    )
    await session.commit()
    assert len(inbox.messages) == 1
    assert "(3)" in inbox.messages[0]["Subject"]

"""A member reads their e-mails and inbox in the language they picked: the picker keeps it
on their account, and notifications keep their words to be said in it. Notifications
written before they kept their words still go out as written, in English."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.message import Message
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.mail import SmtpSettings, send_due
from app.settings import Settings
from ledger.models import User
from proposals import notify, support
from proposals.models import Notification
from tests.integration.test_mail import Inbox, smtp  # noqa: F401  (the SMTP server fixture)
from tests.support.clients import browser, give_password, log_in, post_form, text_of
from tests.support.people import World

HTML = {"Accept": "text/html"}
HOST = "pod.example.org"


def subject_of(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def test_a_member_who_picked_spanish_gets_spanish_mail_and_inbox(
    session: AsyncSession,
    settings: Settings,
    world: World,
    smtp: tuple[SmtpSettings, Inbox, Any],  # noqa: F811
) -> None:
    mail, inbox, controller = smtp
    controller.start()
    group, steward_email, admin_email = (
        world.group.name,
        world.steward.user.email,
        world.admin.user.email,
    )
    steward_id, admin_id = world.steward.user.id, world.admin.user.id
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        picked = await steward.get(
            "/language", params={"to": "es", "next": "/m"}, follow_redirects=False
        )
        assert picked.status_code == 303
        assert await session.scalar(select(User.language).where(User.id == steward_id)) == "es"
        await notify.set_mode(session, world.group, steward_id, "each")
        await notify.set_mode(session, world.group, admin_id, "each")
        request = await support.ask(
            session,
            world.group,
            support.AskForm(need="Groceries", phone="611222333", consent=True, urgency="urgent"),
        )
        await session.commit()
        assert await send_due(session, mail, HOST) == 2
        await session.commit()
        lines = text_of((await steward.get("/notifications", headers=HTML)).text)
    by_address = {message["To"]: message for message in inbox.messages}
    spanish = by_address[steward_email]
    assert subject_of(spanish) == (f"[{group}] Nueva petición de apoyo {request.pseudonym}")
    assert (
        f"Ha llegado una nueva petición de apoyo ({request.pseudonym}, urgente) a "
        f"{group}." in body_of(spanish)
    )
    # The admin never picked a language: English, word for word as before.
    english = by_address[admin_email]
    assert subject_of(english) == f"[{group}] New request for support {request.pseudonym}"
    assert (
        f"A new request for support ({request.pseudonym}, urgent) arrived in "
        f"{group}. Open the stewards' queue to read it." in body_of(english)
    )
    # The inbox line reads in Spanish too.
    assert f"Nueva petición de apoyo {request.pseudonym}" in lines


async def test_a_notification_written_before_words_were_kept_goes_out_as_written(
    session: AsyncSession,
    world: World,
    smtp: tuple[SmtpSettings, Inbox, Any],  # noqa: F811
) -> None:
    mail, inbox, controller = smtp
    controller.start()
    await session.execute(
        update(User).where(User.id == world.steward.user.id).values(language="es")
    )
    await notify.set_mode(session, world.group, world.steward.user.id, "each")
    await support.ask(
        session, world.group, support.AskForm(need="Rent", phone="611222333", consent=True)
    )
    # As the code before wrote it: English text, no words.
    await session.execute(
        update(Notification).values(
            subject="[Old] Written in English", body="As it was.", words=None
        )
    )
    await session.commit()
    assert await send_due(session, mail, HOST) == 1
    assert subject_of(inbox.messages[0]) == "[Old] Written in English"
    assert "As it was." in body_of(inbox.messages[0])


async def test_logging_in_joins_the_browsers_language_and_the_members(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    await give_password(session, world.steward, world.admin)
    # Picked before logging in: it becomes the member's.
    async with browser(settings) as steward:
        await steward.get("/language", params={"to": "es", "next": "/"})
        await log_in(steward, world.steward)
    assert (
        await session.scalar(select(User.language).where(User.id == world.steward.user.id)) == "es"
    )
    # A member who picked one elsewhere reads it in a new browser.
    await session.execute(update(User).where(User.id == world.admin.user.id).values(language="es"))
    await session.commit()
    async with browser(settings) as admin:
        logged_in = await log_in(admin, world.admin)
        assert "lang=es" in logged_in.headers.get("set-cookie", "")
        home = await admin.get("/m", headers=HTML)
    assert '<html lang="es">' in home.text


async def test_a_member_chooses_the_language_of_their_mail_in_their_settings(
    session: AsyncSession, settings: Settings, world: World
) -> None:
    await give_password(session, world.member)
    url = f"/m/{world.slug}/notifications"
    async with browser(settings, world.member) as member:
        form = text_of((await member.get(url, headers=HTML)).text)
        assert "Language of your e-mails and notifications" in form
        assert "Español" in form
        refused = await post_form(member, url, {"mode": "each", "language": "xx"})
        assert refused.status_code == 422
        assert "Choose one of the languages offered." in text_of(refused.text)
        saved = await post_form(member, url, {"mode": "each", "language": "es"})
        assert saved.status_code == 303
    assert (
        await session.scalar(select(User.language).where(User.id == world.member.user.id)) == "es"
    )

"""E-mail delivery of the notification outbox (``proposals.notify``).

Settings: ``COMMONPURSE_SMTP_HOST`` (no host: nothing is sent, notifications stay on the
dashboard), ``COMMONPURSE_SMTP_PORT`` (25), ``COMMONPURSE_SMTP_USER``,
``COMMONPURSE_SMTP_PASSWORD``, ``COMMONPURSE_SMTP_FROM``, ``COMMONPURSE_SMTP_STARTTLS``.

A message is marked sent only after the server accepted it; a failure schedules a retry
with back-off, so nothing is lost while the server is down. Each message carries a
Message-ID derived from the notification, so the rare resend after a crash between "sent"
and "marked" is recognisably the same message.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.i18n import SOURCE_LANGUAGE, available_languages, say, translations
from app.settings import Settings
from ledger.groups import utcnow
from ledger.models import Group, User
from proposals import notify, personal
from proposals.models import Notification, RequestUpdate, SupportRequest
from proposals.notify import next_attempt

logger = logging.getLogger("commonpurse.mail")
BATCH = 50


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    sender: str = "commonpurse@localhost"
    starttls: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings | None:
        extra = settings.extra
        if not extra.get("SMTP_HOST"):
            return None
        return cls(
            host=extra["SMTP_HOST"],
            port=int(extra.get("SMTP_PORT") or 25),
            user=extra.get("SMTP_USER", ""),
            password=extra.get("SMTP_PASSWORD", ""),
            sender=extra.get("SMTP_FROM") or f"commonpurse@{settings.host.split(':')[0]}",
            starttls=extra.get("SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
        )


def _send(smtp: SmtpSettings, message: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=20) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(message)


def _message(
    smtp: SmtpSettings, to: str, subject: str, body: str, message_id: str, host: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}@{host.split(':')[0]}>"
    message.set_content(body)
    return message


async def send_now(
    smtp: SmtpSettings, to: str, subject: str, body: str, message_id: str, host: str
) -> bool:
    """Send one message at once, outside the outbox: for what must not be kept in the
    database, such as a password reset link. A failure is logged, never raised."""
    message = _message(smtp, to, subject, body, message_id, host)
    try:
        await anyio.to_thread.run_sync(_send, smtp, message)
    except (OSError, smtplib.SMTPException) as error:
        logger.warning("Sending %s failed (%s).", message["Message-ID"], error)
        return False
    return True


async def send_due(
    session: AsyncSession, smtp: SmtpSettings, host: str, now: datetime | None = None
) -> int:
    """Send the due notifications: each "each" one on its own, and one digest per member
    whose oldest waiting "daily" item is a day old. Returns how many were sent."""
    now = now or utcnow()
    sent = 0
    due = list(
        await session.scalars(
            select(Notification)
            .where(
                Notification.sent_at.is_(None),
                Notification.delivery == "each",
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for item in due:
        user = await session.get(User, item.user_id)
        assert user is not None
        subject, body = await _said(session, item, member_language(user))
        message = _message(smtp, user.email, subject, body, f"notification-{item.id}", host)
        if await _try(smtp, message, [item], now):
            sent += 1
    sent += await _send_digests(session, smtp, host, now)
    await session.flush()
    return sent


async def _send_digests(session: AsyncSession, smtp: SmtpSettings, host: str, now: datetime) -> int:
    waiting = list(
        await session.scalars(
            select(Notification)
            .where(
                Notification.sent_at.is_(None),
                Notification.delivery == "daily",
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.user_id, Notification.id)
            .with_for_update(skip_locked=True)
        )
    )
    by_user: dict[int, list[Notification]] = {}
    for item in waiting:
        by_user.setdefault(item.user_id, []).append(item)
    sent = 0
    for user_id, items in by_user.items():
        if items[0].created_at > now - timedelta(days=1):
            continue  # the digest goes out once the oldest item is a day old
        user = await session.get(User, user_id)
        assert user is not None
        language = member_language(user)
        said = [await _said(session, item, language) for item in items]
        body = "\n\n".join(f"- {subject}\n  {text}" for subject, text in said)
        translate = translations(language).gettext
        message = _message(
            smtp,
            user.email,
            translate("Your daily Common Purse digest (%(n)s)") % {"n": len(items)},
            body,
            f"digest-{items[0].id}-{items[-1].id}",
            host,
        )
        if await _try(smtp, message, items, now):
            sent += 1
    return sent


def member_language(user: User) -> str:
    """The language of the e-mails a member gets: the one they picked (the language picker
    while logged in, or their settings), else English."""
    if user.language and user.language in available_languages():
        return user.language
    return SOURCE_LANGUAGE


async def _said(session: AsyncSession, item: Notification, language: str) -> tuple[str, str]:
    """A notification's subject and body in ``language``; as written (English) when it was
    written before notifications kept their words."""
    said = notify.said_of(item)
    group = await session.get(Group, item.group_id)
    if said is None or group is None:
        return item.subject, item.body
    return (
        notify.subject_line(group, say(said.subject, language))[:200],
        say(said.body, language),
    )


async def _try(
    smtp: SmtpSettings, message: EmailMessage, items: list[Notification], now: datetime
) -> bool:
    try:
        await anyio.to_thread.run_sync(_send, smtp, message)
    except (OSError, smtplib.SMTPException) as error:
        for item in items:
            item.attempts += 1
            item.next_attempt_at = next_attempt(item.attempts, now)
            item.last_error = str(error)[:500]
        logger.warning("Sending %s failed (%s); will retry.", message["Message-ID"], error)
        return False
    for item in items:
        item.attempts += 1
        item.sent_at = now
        item.last_error = ""
    return True


# --- updates to the people who asked for support ------------------------------------------


def _news(translate: Callable[[str], str], status: str) -> str:
    """What changed, in the person's language (the status page says more)."""
    news = {
        "discussing": translate(
            "Someone who handles requests is looking at it and may contact you."
        ),
        "proposed": translate("The group is deciding together whether to help."),
        "decided": translate("The group has decided. Your page says what."),
        "paid": translate("The money has been paid."),
        "declined": translate(
            "The group cannot help with this request. Your page has a message for you."
        ),
    }
    return news.get(status, "")


async def send_request_updates(
    session: AsyncSession, smtp: SmtpSettings, base_url: str, now: datetime | None = None
) -> int:
    """Tell the people who asked to be told of each change of their request. The address
    is unsealed only now; an update whose request was erased meanwhile is gone with it.
    The subject names the group only; the body links to the private status page."""
    now = now or utcnow()
    sent = 0
    due = list(
        await session.scalars(
            select(RequestUpdate)
            .where(RequestUpdate.sent_at.is_(None), RequestUpdate.next_attempt_at <= now)
            .order_by(RequestUpdate.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for update in due:
        request = await session.get(SupportRequest, update.request_id)
        details = await personal.details_of(session, update.request_id)
        group = await session.get(Group, request.group_id) if request else None
        if request is None or group is None or details is None or not details.updates_email:
            update.sent_at = now  # nobody to tell any more
            continue
        translate = translations(request.language).gettext
        body = "\n\n".join(
            (
                _news(translate, update.status),
                translate("Follow your request on your private page:")
                + f"\n{base_url}/g/{group.slug}/ask/{request.reference}",
                translate(
                    "You get this e-mail because you asked to be told of each change. "
                    "To stop, erase your details on that page."
                ),
            )
        )
        message = _message(
            smtp,
            details.updates_email,
            translate("News about your request to %(group)s") % {"group": group.name},
            body,
            f"request-update-{update.id}",
            base_url.split("://", 1)[-1],
        )
        try:
            await anyio.to_thread.run_sync(_send, smtp, message)
        except (OSError, smtplib.SMTPException) as error:
            update.attempts += 1
            update.next_attempt_at = next_attempt(update.attempts, now)
            update.last_error = str(error)[:500]
            logger.warning("Sending %s failed (%s); will retry.", message["Message-ID"], error)
            continue
        update.attempts += 1
        update.sent_at = now
        update.last_error = ""
        sent += 1
    await session.flush()
    return sent

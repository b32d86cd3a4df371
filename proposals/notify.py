"""Notifications: an outbox of e-mails for members, also listed on their dashboard.

Rows are written in the same transaction as what they announce, so nothing is lost when the
mail server is down; ``app.mail`` sends them later with retries. They name pseudonyms and
proposal titles, never a person's details.

Each keeps its subject and body in English and as words (``ledger.words.Words``), so the
e-mail and the inbox say it in the member's language (``said_of``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.groups import list_members, utcnow
from ledger.models import Group
from ledger.words import N_, Words
from proposals.models import Notification, NotificationPreference, SupportRequest

MODES = ("none", "each", "daily")
# How urgent a request is, as the notification has always said it (its code, in English).
URGENCY_WORDS = {"urgent": N_("urgent"), "normal": N_("normal"), "low": N_("low")}
# Back-off between attempts to send one e-mail; the last step repeats (never given up).
RETRY_STEPS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)


async def _modes(session: AsyncSession, group: Group, user_ids: Sequence[int]) -> dict[int, str]:
    rows = await session.scalars(
        select(NotificationPreference).where(
            NotificationPreference.group_id == group.id,
            NotificationPreference.user_id.in_(list(user_ids)),
        )
    )
    return {row.user_id: row.mode for row in rows}


@dataclass(frozen=True, slots=True)
class Said:
    """A notification's subject (without the "[Group name] " an e-mail's subject starts
    with) and body, as words to say in the reader's language."""

    subject: Words
    body: Words

    def to_json(self) -> str:
        return json.dumps(
            {"subject": self.subject.to_json(), "body": self.body.to_json()}, sort_keys=True
        )


def said_of(notification: Notification) -> Said | None:
    """What a notification says, as words; None for one written before they were kept
    (its English ``subject`` and ``body`` show as they are)."""
    if not notification.words:
        return None
    data = json.loads(notification.words)
    return Said(Words.from_json(data["subject"]), Words.from_json(data["body"]))


def subject_line(group: Group, subject: str) -> str:
    """An e-mail's subject: the group's name first, so a member sees at once where from."""
    return f"[{group.name}] {subject}"


async def notify(
    session: AsyncSession,
    group: Group,
    user_ids: Sequence[int],
    kind: str,
    said: Said,
    now: datetime | None = None,
    *,
    proposal_number: int | None = None,
    delivery: str | None = None,
) -> None:
    """Queue a notification for each of ``user_ids``, delivered as each member chose
    (``delivery`` overrides it: a reminder is e-mailed at once, since a digest could
    arrive after the deadline it reminds of)."""
    now = now or utcnow()
    modes = await _modes(session, group, user_ids)
    for user_id in user_ids:
        session.add(
            Notification(
                group_id=group.id,
                user_id=user_id,
                kind=kind,
                subject=subject_line(group, said.subject.english)[:200],
                body=said.body.english,
                words=said.to_json(),
                proposal_number=proposal_number,
                created_at=now,
                delivery=delivery or modes.get(user_id, "none"),
                attempts=0,
                next_attempt_at=now,
                last_error="",
            )
        )
    await session.flush()


async def notify_stewards(
    session: AsyncSession, group: Group, request: SupportRequest, now: datetime
) -> None:
    members = await list_members(session, group.id)
    stewards = [
        m.user_id for m in members if set(m.roles.split()) & {"steward", "facilitator", "admin"}
    ]
    await notify(
        session,
        group,
        stewards,
        "new_request",
        Said(
            Words(N_("New request for support %(pseudonym)s"), {"pseudonym": request.pseudonym}),
            Words(
                N_(
                    "A new request for support (%(pseudonym)s, %(urgency)s) arrived in "
                    "%(group)s. Open the stewards' queue to read it."
                ),
                {
                    "pseudonym": request.pseudonym,
                    "urgency": Words(URGENCY_WORDS.get(request.urgency, request.urgency)),
                    "group": group.name,
                },
            ),
        ),
        now,
    )


async def notify_round_opened(
    session: AsyncSession,
    group: Group,
    number: int,
    title: str,
    eligible: Sequence[int],
    author_id: int,
    now: datetime,
) -> None:
    others = [user_id for user_id in eligible if user_id != author_id]
    await notify(
        session,
        group,
        others,
        "awaiting_response",
        Said(
            Words(N_("Your response is awaited: %(title)s"), {"title": title}),
            Words(
                N_(
                    "Proposal %(number)s in %(group)s, \u201c%(title)s\u201d, awaits your response."
                ),
                {"number": number, "group": group.name, "title": title},
            ),
        ),
        now,
        proposal_number=number,
    )


async def set_mode(session: AsyncSession, group: Group, user_id: int, mode: str) -> None:
    if mode not in MODES:
        from proposals.errors import InvalidProposal

        raise InvalidProposal(f"mode is one of {', '.join(MODES)}.", field="mode")
    row = await session.get(NotificationPreference, (group.id, user_id))
    if row is None:
        session.add(NotificationPreference(group_id=group.id, user_id=user_id, mode=mode))
    else:
        row.mode = mode
    await session.flush()


async def for_member(session: AsyncSession, user_id: int, limit: int = 50) -> list[Notification]:
    """The member's newest notifications, for the dashboard."""
    return list(
        await session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


async def mark_read(
    session: AsyncSession, user_id: int, notification_id: int, now: datetime | None = None
) -> Notification | None:
    """Mark one of my notifications read, with every other of mine about the same proposal
    (the inbox shows them as one line). None when it is not mine."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        return None
    if notification.proposal_number is None:
        notification.read_at = notification.read_at or now or utcnow()
        await session.flush()
    else:
        await mark_read_about(
            session, user_id, notification.group_id, notification.proposal_number, now
        )
    return notification


async def mark_read_about(
    session: AsyncSession,
    user_id: int,
    group_id: int,
    proposal_number: int,
    now: datetime | None = None,
) -> None:
    """The member opened the proposal: what told them of it is read."""
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.group_id == group_id,
            Notification.proposal_number == proposal_number,
            Notification.read_at.is_(None),
        )
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )


async def mark_all_read(session: AsyncSession, user_id: int, now: datetime | None = None) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )


def next_attempt(attempts: int, now: datetime) -> datetime:
    return now + RETRY_STEPS[min(attempts, len(RETRY_STEPS)) - 1]

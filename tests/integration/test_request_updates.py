"""The person who asked leaves an address on their status page and is told of each change
by e-mail: the address stays sealed with their details, the subject names only the group,
and erasing the details cancels what was not sent yet."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.mail import SmtpSettings, send_request_updates
from ledger.errors import InvalidInput
from proposals import personal, support
from proposals.models import RequestDetails, RequestEvent, RequestUpdate
from tests.integration.test_mail import Inbox, smtp  # noqa: F401 (a fixture)
from tests.support.people import World

BASE = "https://pod.example.org"


async def pending(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(RequestUpdate).where(RequestUpdate.sent_at.is_(None))
        )
        or 0
    )


async def test_each_change_is_mailed_in_the_persons_language(
    session: AsyncSession,
    world: World,
    smtp: tuple[SmtpSettings, Inbox, Any],  # noqa: F811
) -> None:
    settings, inbox, controller = smtp
    controller.start()
    request = await support.ask(
        session,
        world.group,
        support.AskForm(
            need="Alquiler", phone="611222333", name="Ada Byrne", language="es", consent=True
        ),
    )
    # Nothing is queued for a person who left no address for it.
    await support.read_details(session, world.group, request, world.steward.user)
    assert await pending(session) == 0

    with_address = await support.ask(
        session,
        world.group,
        support.AskForm(
            need="Alquiler", phone="611222333", name="Ada Byrne", language="es", consent=True
        ),
    )
    with pytest.raises(InvalidInput, match="e-mail address"):
        await support.follow_by_email(session, with_address, "not an address")
    await support.follow_by_email(session, with_address, "Ada.B@Example.net")
    assert await support.follows_by_email(session, with_address)
    details = await personal.details_of(session, with_address.id)
    assert details is not None
    assert details.updates_email == "ada.b@example.net"
    # Sealed: the address is not in the stored bytes.
    row = await session.get(RequestDetails, with_address.id)
    assert row is not None
    assert b"example.net" not in row.sealed
    kinds = list(
        await session.scalars(
            select(RequestEvent.kind).where(RequestEvent.request_id == with_address.id)
        )
    )
    assert kinds == ["follows"]

    await support.read_details(session, world.group, with_address, world.steward.user)
    await support.decline(session, with_address, "Lo sentimos.")
    assert await pending(session) == 2
    assert await send_request_updates(session, settings, BASE) == 2
    assert await send_request_updates(session, settings, BASE) == 0
    assert len(inbox.messages) == 2
    first = inbox.messages[0]
    assert first["To"] == "ada.b@example.net"
    assert first["Subject"] == f"Novedades sobre tu solicitud a {world.group.name}"
    assert "Ada" not in first["Subject"]
    text = first.get_payload()
    assert f"{BASE}/g/{world.slug}/ask/{with_address.reference}" in str(text)
    # The whole message is in the language the person asked in, not only its subject.
    said = first.get_payload(decode=True).decode("utf-8")
    assert "Sigue tu solicitud en tu página privada:" in said
    assert "Recibes este correo porque pediste que te avisáramos" in said
    assert "Follow your request" not in said
    assert "You get this e-mail" not in said


async def test_erasing_the_details_cancels_the_updates_not_yet_sent(
    session: AsyncSession,
    world: World,
    smtp: tuple[SmtpSettings, Inbox, Any],  # noqa: F811
) -> None:
    settings, inbox, controller = smtp
    controller.start()
    request = await support.ask(
        session,
        world.group,
        support.AskForm(need="Food", phone="611222333", consent=True),
    )
    await support.follow_by_email(session, request, "someone@example.net")
    await support.read_details(session, world.group, request, world.steward.user)
    assert await pending(session) == 1
    await support.erase_by_person(session, request)
    assert await pending(session) == 0
    assert await send_request_updates(session, settings, BASE) == 0
    assert inbox.messages == []

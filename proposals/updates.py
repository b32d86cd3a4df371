"""Telling the person who asked of each change of their request, if they left an address
for it (an outbox, ``app.mail.send_request_updates``). Apart from ``proposals.support`` so
that the decision rules (``proposals.service``) can call it without an import circle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from proposals import personal
from proposals.models import Proposal, RequestUpdate, SupportRequest


async def tell_the_person(
    session: AsyncSession, request: SupportRequest, status: str, now: datetime
) -> None:
    """Queue an e-mail about the new status, if the person left an address for it."""
    details = await personal.details_of(session, request.id)
    if details is None or not details.updates_email:
        return
    session.add(
        RequestUpdate(
            request_id=request.id,
            status=status,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            last_error="",
        )
    )
    await session.flush()


async def proposal_decided(session: AsyncSession, proposal: Proposal, now: datetime) -> None:
    """The group decided on (or withdrew) the proposal a request became: tell the person."""
    request = (
        await session.scalars(
            select(SupportRequest).where(SupportRequest.proposal_id == proposal.id)
        )
    ).first()
    if request is not None and request.status == "proposed":
        await tell_the_person(session, request, "decided", now)

"""Where a request's personal data is kept: its details and the stewards' notes, sealed
with the request's own key (``proposals.privacy``), the key in ``request_keys``.

Nothing outside this module reads or writes those three tables. Erasing deletes the key
with the sealed rows; on PostgreSQL ``app.jobs.forget_erased_pages`` then rewrites the
small keys table, so that the deleted key leaves its table file too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import User
from proposals.models import RequestDetails, RequestKey, RequestNote, SupportRequest
from proposals.privacy import Details, new_key, seal, unseal

PERSON_WHO_ASKED = "The person who asked"


@dataclass(frozen=True, slots=True)
class Note:
    """A note as the stewards read it."""

    id: int
    author: User | None  # None: the person who asked
    text: str
    created_at: datetime

    @property
    def by(self) -> str:
        return self.author.name if self.author is not None else PERSON_WHO_ASKED


async def _key(session: AsyncSession, request_id: int) -> bytes | None:
    found = await session.get(RequestKey, request_id)
    return found.key if found is not None else None


async def keep_details(session: AsyncSession, request_id: int, details: Details) -> None:
    """Seal and store the details of a new request, with a new key of its own."""
    key = new_key()
    session.add(RequestKey(request_id=request_id, key=key))
    session.add(
        RequestDetails(
            request_id=request_id, sealed=seal(key, request_id, "details", details.to_bytes())
        )
    )
    await session.flush()


async def replace_details(session: AsyncSession, request_id: int, details: Details) -> None:
    """Seal changed details with the request's key (raises LookupError once erased)."""
    key = await _key(session, request_id)
    row = await session.get(RequestDetails, request_id)
    if key is None or row is None:
        raise LookupError("this request's details are gone")  # erased: the caller checks first
    row.sealed = seal(key, request_id, "details", details.to_bytes())
    await session.flush()


async def details_of(session: AsyncSession, request_id: int) -> Details | None:
    """The details, or None once erased."""
    key = await _key(session, request_id)
    row = await session.get(RequestDetails, request_id)
    if key is None or row is None:
        return None
    return Details.from_bytes(unseal(key, request_id, "details", row.sealed))


async def details_of_proposal(
    session: AsyncSession, proposal_id: int
) -> tuple[str, Details] | None:
    """The pseudonym and details of the request a proposal was made from, if any."""
    request = (
        await session.scalars(
            select(SupportRequest).where(SupportRequest.proposal_id == proposal_id)
        )
    ).first()
    if request is None:
        return None
    details = await details_of(session, request.id)
    return None if details is None else (request.pseudonym, details)


async def add_note(
    session: AsyncSession, request_id: int, author: User | None, text: str, now: datetime
) -> Note:
    key = await _key(session, request_id)
    if key is None:
        raise LookupError("this request's key is gone")  # erased: the caller checks first
    row = RequestNote(
        request_id=request_id,
        author_id=author.id if author is not None else None,
        sealed=seal(key, request_id, "note", text.encode()),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return Note(row.id, author, text, now)


async def notes_of(session: AsyncSession, request_id: int) -> list[Note]:
    key = await _key(session, request_id)
    if key is None:
        return []
    rows = await session.scalars(
        select(RequestNote).where(RequestNote.request_id == request_id).order_by(RequestNote.id)
    )
    return [
        Note(
            row.id, row.author, unseal(key, request_id, "note", row.sealed).decode(), row.created_at
        )
        for row in rows
    ]


async def forget(session: AsyncSession, request_id: int) -> None:
    """Delete the key, the sealed details and the sealed notes."""
    await session.execute(delete(RequestDetails).where(RequestDetails.request_id == request_id))
    await session.execute(delete(RequestNote).where(RequestNote.request_id == request_id))
    await session.execute(delete(RequestKey).where(RequestKey.request_id == request_id))

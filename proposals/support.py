"""Requests for support: asked without an account, kept private, erasable.

The person's details stay in ``request_details`` and the stewards' notes. The proposal a
request becomes carries only its pseudonym, an amount and a summary the steward writes,
and the service refuses a summary that contains the person's name, phone or e-mail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.canonical import has_control_characters, nfc
from ledger.errors import Conflict, InvalidInput, NotFound

__all__ = ["InvalidInput", "NotFound", "RateLimited"]
from ledger.groups import utcnow
from ledger.models import Group, User
from ledger.money import check_currency, format_amount, parse_amount
from proposals import service as proposals
from proposals.models import (
    AskAttempt,
    DetailsRead,
    Proposal,
    RequestDetails,
    RequestNote,
    SupportRequest,
    SupportSettings,
)
from proposals.schemas import ProposalIn

URGENCIES = ("low", "normal", "urgent")
LANGUAGES = ("en", "es")
DEFAULT_RETENTION_DAYS = 90
# Letters that cannot be misread (Crockford's base 32 without I, L, O, U).
_PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Rate limits of the ask form: per address, and per group (a flood from many addresses).
PER_ADDRESS = (5, timedelta(hours=1))
PER_GROUP = (60, timedelta(hours=1))
_PHONE = re.compile(r"[0-9+()\-. ]{6,40}")


class RateLimited(Conflict):
    """Too many requests from one place or to one group in a short time."""


@dataclass(frozen=True, slots=True)
class AskForm:
    need: str
    amount: str = ""
    urgency: str = "normal"
    name: str = ""
    phone: str = ""
    email: str = ""
    via_member: str = ""
    language: str = "en"
    consent: bool = False


# --- settings -------------------------------------------------------------------------------


async def settings_of(session: AsyncSession, group: Group) -> SupportSettings:
    found = await session.get(SupportSettings, group.id)
    return found or SupportSettings(
        group_id=group.id,
        retention_days=DEFAULT_RETENTION_DAYS,
        ask_enabled=False,
        languages=" ".join(LANGUAGES),
    )


def ask_is_open(group: Group, settings: SupportSettings) -> bool:
    """Public groups take requests; private groups only when they enable it."""
    return group.public or settings.ask_enabled


# --- asking ---------------------------------------------------------------------------------


def address_key(address: str, secret: str) -> str:
    """A keyed hash of the caller's address: enough to count, useless to identify."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()


async def check_rate(session: AsyncSession, group: Group, address: str, now: datetime) -> None:
    limit, window = PER_ADDRESS
    recent = await session.scalar(
        select(func.count())
        .select_from(AskAttempt)
        .where(AskAttempt.address == address, AskAttempt.at > now - window)
    )
    if (recent or 0) >= limit:
        raise RateLimited(
            "You have sent several requests in the last hour. Please wait an "
            "hour and try again, or ask a member you know to help."
        )
    limit, window = PER_GROUP
    recent = await session.scalar(
        select(func.count())
        .select_from(AskAttempt)
        .where(AskAttempt.group_id == group.id, AskAttempt.at > now - window)
    )
    if (recent or 0) >= limit:
        raise RateLimited(
            "This group has received very many requests in the last hour. Please try again later."
        )


def _field(value: str, name: str, limit: int, *, required: bool = False) -> str:
    value = nfc(value.strip())
    if has_control_characters(value, multiline=True):
        raise InvalidInput("Please remove the unusual characters from this field.", field=name)
    if required and not value:
        raise InvalidInput("Please tell us what you need.", field=name)
    if len(value) > limit:
        raise InvalidInput(f"Please keep this under {limit} characters.", field=name)
    return value


def validate(
    form: AskForm, currency: str, languages: Sequence[str] = LANGUAGES
) -> tuple[dict[str, str], int | None]:
    """Clean and check a request; raises InvalidInput naming the field at fault."""
    details = {
        "need": _field(form.need, "need", 4000, required=True),
        "name": _field(form.name, "name", 120),
        "phone": _field(form.phone, "phone", 40),
        "email": _field(form.email, "email", 254).lower(),
        "via_member": _field(form.via_member, "via_member", 200),
    }
    if details["phone"] and not _PHONE.fullmatch(details["phone"]):
        raise InvalidInput("Please write the phone number with digits only.", field="phone")
    if details["email"] and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", details["email"]):
        raise InvalidInput("Please check the e-mail address.", field="email")
    if not (details["phone"] or details["email"] or details["via_member"]):
        raise InvalidInput(
            "Please tell us one way to reach you: a phone, an e-mail, or a "
            "member who can pass on our answer.",
            field="phone",
        )
    if form.urgency not in URGENCIES:
        raise InvalidInput("Please choose how urgent this is.", field="urgency")
    if form.language not in languages:
        raise InvalidInput("Please choose a language.", field="language")
    if not form.consent:
        raise InvalidInput(
            "Please confirm that you agree to how we keep your details.", field="consent"
        )
    amount = parse_amount(form.amount.strip(), currency) if form.amount.strip() else None
    return details, amount


async def _new_pseudonym(session: AsyncSession, group: Group) -> str:
    while True:
        pseudonym = "R-" + "".join(secrets.choice(_PSEUDONYM_ALPHABET) for _ in range(4))
        taken = await session.scalar(
            select(SupportRequest.id).where(
                SupportRequest.group_id == group.id, SupportRequest.pseudonym == pseudonym
            )
        )
        if taken is None:
            return pseudonym


async def ask(
    session: AsyncSession,
    group: Group,
    form: AskForm,
    address: str,
    now: datetime | None = None,
    *,
    languages: Sequence[str] = LANGUAGES,
) -> SupportRequest:
    """Record a request (after the rate limits) and queue notifications for stewards."""
    now = now or utcnow()
    await check_rate(session, group, address, now)
    details, amount = validate(form, check_currency(group.currency), languages)
    session.add(AskAttempt(group_id=group.id, address=address, at=now))
    request = SupportRequest(
        group_id=group.id,
        reference=secrets.token_urlsafe(18),
        pseudonym=await _new_pseudonym(session, group),
        status="received",
        urgency=form.urgency,
        amount=amount,
        currency=group.currency,
        language=form.language,
        created_at=now,
    )
    session.add(request)
    await session.flush()
    session.add(RequestDetails(request_id=request.id, **details))
    await session.flush()
    from proposals.notify import notify_stewards

    await notify_stewards(session, group, request, now)
    return request


def record_attempt(session: AsyncSession, group: Group, address: str, now: datetime) -> None:
    """Count a refused attempt too (a honeypot hit), so floods are limited all the same."""
    session.add(AskAttempt(group_id=group.id, address=address, at=now))


# --- the person's view ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestStatus:
    pseudonym: str
    status: str  # received, discussing, proposed, decided, paid, declined
    created_at: datetime
    amount: str | None
    decision: str | None  # passed, not_passed, blocked, withdrawn
    decline_message: str


async def find_by_reference(
    session: AsyncSession, group: Group, reference: str
) -> SupportRequest | None:
    return (
        await session.scalars(
            select(SupportRequest).where(
                SupportRequest.group_id == group.id, SupportRequest.reference == reference
            )
        )
    ).one_or_none()


async def status_by_reference(session: AsyncSession, group: Group, reference: str) -> RequestStatus:
    found = (
        await session.scalars(
            select(SupportRequest).where(
                SupportRequest.group_id == group.id, SupportRequest.reference == reference
            )
        )
    ).one_or_none()
    if found is None:
        raise NotFound("We could not find a request with this reference.")
    return await status_of(session, group, found)


async def status_of(session: AsyncSession, group: Group, request: SupportRequest) -> RequestStatus:
    status, decision = request.status, None
    if request.proposal_id is not None and status not in ("declined", "paid"):
        proposal = await session.get(Proposal, request.proposal_id)
        if proposal is not None and proposal.status != "open":
            status, decision = "decided", proposal.status
            if proposal.status == "passed" and await _fully_paid(session, group, proposal):
                status = "paid"
    amount = format_amount(request.amount, request.currency) if request.amount else None
    return RequestStatus(
        request.pseudonym, status, request.created_at, amount, decision, request.decline_message
    )


async def _fully_paid(session: AsyncSession, group: Group, proposal: Proposal) -> bool:
    version = proposals.current_version(proposal)
    done = (await proposals.paid(session, group, [proposal.number])).get(proposal.number, 0)
    return version.amount is not None and done >= version.amount


# --- the stewards' queue --------------------------------------------------------------------


async def queue(
    session: AsyncSession, group: Group, *, open_only: bool = False
) -> list[SupportRequest]:
    """Requests, most urgent and oldest first (no personal details in this list)."""
    query = select(SupportRequest).where(SupportRequest.group_id == group.id)
    if open_only:
        query = query.where(SupportRequest.status.in_(("received", "discussing")))
    urgency_order = case(
        {"urgent": 0, "normal": 1, "low": 2}, value=SupportRequest.urgency, else_=3
    )
    return list(await session.scalars(query.order_by(urgency_order, SupportRequest.created_at)))


async def get_request(session: AsyncSession, group: Group, request_id: int) -> SupportRequest:
    found = await session.get(SupportRequest, request_id)
    if found is None or found.group_id != group.id:
        raise NotFound(f"Group {group.slug!r} has no request {request_id}.")
    return found


async def read_details(
    session: AsyncSession,
    group: Group,
    request: SupportRequest,
    reader: User,
    now: datetime | None = None,
) -> tuple[RequestDetails | None, list[RequestNote]]:
    """The person's details and the notes, for a steward or facilitator; the read is logged."""
    now = now or utcnow()
    session.add(DetailsRead(request_id=request.id, user_id=reader.id, read_at=now))
    if request.status == "received":
        request.status = "discussing"
    await session.flush()
    details = await session.get(RequestDetails, request.id)
    notes = list(
        await session.scalars(
            select(RequestNote).where(RequestNote.request_id == request.id).order_by(RequestNote.id)
        )
    )
    return details, notes


async def add_note(
    session: AsyncSession,
    request: SupportRequest,
    author: User,
    text: str,
    now: datetime | None = None,
) -> RequestNote:
    if request.erased_at is not None:
        raise Conflict("This request's details were erased; notes cannot be added.")
    note = RequestNote(
        request_id=request.id,
        author_id=author.id,
        text=_field(text, "text", 4000, required=True),
        created_at=now or utcnow(),
    )
    session.add(note)
    if request.status == "received":
        request.status = "discussing"
    await session.flush()
    return note


async def propose(
    session: AsyncSession,
    group: Group,
    request: SupportRequest,
    steward: User,
    *,
    title: str,
    summary: str,
    fund: str,
    amount: str,
    now: datetime | None = None,
) -> Proposal:
    """Turn a request into a disbursement proposal to its pseudonym."""
    if request.status not in ("received", "discussing"):
        raise Conflict(f"This request is {request.status} already.")
    details = await session.get(RequestDetails, request.id)
    _refuse_personal_data(details, {"title": title, "body": summary})
    proposal = await proposals.create_proposal(
        session,
        group,
        steward,
        ProposalIn(
            title=title, body=summary, fund=fund, amount=amount, counterparty=request.pseudonym
        ),
        now=now,
    )
    request.proposal_id = proposal.id
    request.status = "proposed"
    await session.flush()
    return proposal


def _refuse_personal_data(details: RequestDetails | None, texts: dict[str, str]) -> None:
    """A summary must not repeat the person's name, phone or e-mail."""
    if details is None:
        return
    words = [w.lower() for w in (details.name, details.email) if len(w) >= 3]
    # The last seven digits of a phone identify it, whatever the prefix or the spacing.
    phone = "".join(ch for ch in details.phone if ch.isdigit())[-7:]
    for name, text in texts.items():
        lowered = text.lower()
        digits = "".join(ch for ch in text if ch.isdigit())
        if any(word in lowered for word in words) or (len(phone) == 7 and phone in digits):
            raise InvalidInput(
                "Write this without the person's name, phone or e-mail: the "
                "proposal is seen by every member and its record is kept.",
                field=name,
            )


async def decline(
    session: AsyncSession, request: SupportRequest, message: str, now: datetime | None = None
) -> None:
    if request.status not in ("received", "discussing"):
        raise Conflict(f"This request is {request.status} already.")
    request.status = "declined"
    request.decline_message = _field(message, "message", 2000) or (
        "We are sorry: the group cannot help with this request now."
    )
    request.closed_at = now or utcnow()
    await session.flush()


async def mark_paid(
    session: AsyncSession, group: Group, request: SupportRequest, now: datetime | None = None
) -> None:
    """Close a request whose proposal's money has been paid (the ledger must show it)."""
    proposal = await session.get(Proposal, request.proposal_id) if request.proposal_id else None
    if (
        proposal is None
        or proposal.status != "passed"
        or not await _fully_paid(session, group, proposal)
    ):
        raise Conflict("Record the authorised payment in the ledger first.")
    request.status = "paid"
    request.closed_at = now or utcnow()
    await session.flush()


# --- erasure --------------------------------------------------------------------------------


async def erase(
    session: AsyncSession, request: SupportRequest, now: datetime | None = None
) -> None:
    """Delete the person's details and the notes; the pseudonym, the proposal, the minutes
    and the ledger stay as they are."""
    await session.execute(delete(RequestDetails).where(RequestDetails.request_id == request.id))
    await session.execute(delete(RequestNote).where(RequestNote.request_id == request.id))
    request.erased_at = now or utcnow()
    if request.closed_at is None:
        request.closed_at = request.erased_at
    await session.flush()


async def purge(session: AsyncSession, now: datetime | None = None) -> int:
    """Erase the details of every request closed longer ago than its group's retention."""
    now = now or utcnow()
    candidates = await session.scalars(
        select(SupportRequest).where(SupportRequest.erased_at.is_(None))
    )
    erased = 0
    for request in candidates:
        group = await session.get(Group, request.group_id)
        assert group is not None
        closed = request.closed_at or await _decided_at(session, group, request)
        if closed is None:
            continue
        retention = (await settings_of(session, group)).retention_days
        if closed + timedelta(days=retention) <= now:
            await erase(session, request, now)
            erased += 1
    return erased


async def _decided_at(
    session: AsyncSession, group: Group, request: SupportRequest
) -> datetime | None:
    """A request closes when its proposal ends without money to pay, or is fully paid."""
    if request.proposal_id is None:
        return None
    proposal = await session.get(Proposal, request.proposal_id)
    if proposal is None or proposal.status == "open" or proposal.decided_at is None:
        return None
    if proposal.status == "passed" and not await _fully_paid(session, group, proposal):
        return None
    return proposal.decided_at

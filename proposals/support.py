"""Requests for support: asked without an account, kept private, erasable.

The person's details stay in ``request_details`` and the stewards' notes, sealed with the
request's own key (``proposals.personal``). The proposal a request becomes carries only its
pseudonym, an amount and a summary the steward writes, and the service refuses a title or
summary (then and in every amendment) that contains part of the person's name, phone or
e-mail (``proposals.privacy``).

How often the form may be used is the web shell's business (``app.limits``); it tells
``ask`` when a request arrived during a flood without proof of a person, and such a request
is **held**: kept apart from the queue, notifying nobody, until a steward releases it or
discards the held requests together.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import attachments
from ledger.canonical import has_control_characters, nfc
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.groups import utcnow
from ledger.models import Entry, Group, User
from ledger.money import check_currency, format_amount, parse_amount
from ledger.words import N_
from proposals import personal
from proposals import service as proposals
from proposals.models import (
    DetailsRead,
    Proposal,
    RequestEvent,
    RequestUpdate,
    SupportRequest,
    SupportSettings,
)
from proposals.personal import Note
from proposals.privacy import Details, refuse_personal_data
from proposals.schemas import ProposalIn
from proposals.updates import tell_the_person as _tell_the_person

__all__ = ["Details", "InvalidInput", "NotFound", "Note"]

URGENCIES = ("low", "normal", "urgent")
LANGUAGES = ("en", "es")
DEFAULT_RETENTION_DAYS = 90
# Letters that cannot be misread (Crockford's base 32 without I, L, O, U).
_PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PHONE = re.compile(r"[0-9+()\-. ]{6,40}")


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
) -> tuple[Details, int | None]:
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
    return Details(**details), amount


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
    now: datetime | None = None,
    *,
    languages: Sequence[str] = LANGUAGES,
    held: bool = False,
) -> SupportRequest:
    """Record a request; the stewards hear of it, unless it is held (see the module)."""
    now = now or utcnow()
    details, amount = validate(form, check_currency(group.currency), languages)
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
        held=held,
    )
    session.add(request)
    await session.flush()
    await personal.keep_details(session, request.id, details)
    if not held:
        await _tell_stewards(session, group, request, now)
    return request


async def _tell_stewards(
    session: AsyncSession, group: Group, request: SupportRequest, now: datetime
) -> None:
    from proposals.notify import notify_stewards

    await notify_stewards(session, group, request, now)


# --- the person's view ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestStatus:
    pseudonym: str
    status: str  # received, discussing, proposed, decided, paid, declined, withdrawn
    created_at: datetime
    amount: str | None
    decision: str | None  # passed, not_passed, blocked, withdrawn
    decline_message: str
    erased: bool = False


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
    found = await find_by_reference(session, group, reference)
    if found is None:
        raise NotFound("We could not find a request with this reference.")
    return await status_of(session, group, found)


async def status_of(session: AsyncSession, group: Group, request: SupportRequest) -> RequestStatus:
    return (await statuses_of(session, group, [request]))[0]


async def statuses_of(
    session: AsyncSession, group: Group, requests: Sequence[SupportRequest]
) -> list[RequestStatus]:
    """Each request's status as its person and the stewards see it. The proposals the
    requests became, and what was paid under those that passed, are read once for all
    (the stewards' queue shows every open request)."""
    settled = ("declined", "paid", "withdrawn")
    ids = {r.proposal_id for r in requests if r.proposal_id is not None and r.status not in settled}
    decided: dict[int, Proposal] = {}
    if ids:
        found = await session.scalars(select(Proposal).where(Proposal.id.in_(ids)))
        decided = {proposal.id: proposal for proposal in found if proposal.status != "open"}
    passed = [proposal for proposal in decided.values() if proposal.status == "passed"]
    done = await proposals.paid(session, group, [p.number for p in passed]) if passed else {}
    statuses = []
    for request in requests:
        status, decision = request.status, None
        proposal = None
        if request.proposal_id is not None and status not in settled:
            proposal = decided.get(request.proposal_id)
        if proposal is not None:
            status, decision = "decided", proposal.status
            if proposal.status == "passed" and _fully_paid(proposal, done):
                status = "paid"
        amount = format_amount(request.amount, request.currency) if request.amount else None
        statuses.append(
            RequestStatus(
                request.pseudonym,
                status,
                request.created_at,
                amount,
                decision,
                request.decline_message,
                erased=request.erased_at is not None,
            )
        )
    return statuses


def _fully_paid(proposal: Proposal, paid: dict[int, int]) -> bool:
    """Whether ``paid`` (money paid under each proposal, by number) covers what the
    proposal's current version asks."""
    version = proposals.current_version(proposal)
    return version.amount is not None and paid.get(proposal.number, 0) >= version.amount


async def _paid_in_full(session: AsyncSession, group: Group, proposal: Proposal) -> bool:
    return _fully_paid(proposal, await proposals.paid(session, group, [proposal.number]))


# --- what the person may do on their status page ------------------------------------------

# Each is an event of the request's history, which the stewards see.
EVENT_KINDS = ("added", "withdrawn", "erased", "follows")
# While the group may still act on it, the person may add to or withdraw their request.
_STILL_OPEN = ("received", "discussing", "proposed")


async def _record(session: AsyncSession, request: SupportRequest, kind: str, now: datetime) -> None:
    session.add(RequestEvent(request_id=request.id, kind=kind, at=now))
    await session.flush()


def _refuse_unless_open(request: SupportRequest, what: str) -> None:
    if request.erased_at is not None:
        raise Conflict(f"Your details were erased: you cannot {what} any more.")
    if request.status not in _STILL_OPEN:
        raise Conflict(f"This request is closed: you cannot {what} any more.")


async def add_information(
    session: AsyncSession, request: SupportRequest, text: str, now: datetime | None = None
) -> None:
    """The person adds to their request: a note sealed like the stewards' own (no author)."""
    now = now or utcnow()
    _refuse_unless_open(request, "add information")
    text = _field(text, "information", 4000)
    if not text:
        raise InvalidInput("Please write what you want to add.", field="information")
    await personal.add_note(session, request.id, None, text, now)
    await _record(session, request, "added", now)


async def withdraw(
    session: AsyncSession, request: SupportRequest, now: datetime | None = None
) -> None:
    """The person no longer needs the group's help. A proposal already made stays for the
    group to withdraw or decide (its members see the request was withdrawn)."""
    now = now or utcnow()
    _refuse_unless_open(request, "withdraw it")
    request.status = "withdrawn"
    request.closed_at = now
    await _record(session, request, "withdrawn", now)


async def erase_by_person(
    session: AsyncSession, request: SupportRequest, now: datetime | None = None
) -> None:
    """The person erases their details now (the request, its code and history stay)."""
    now = now or utcnow()
    if request.erased_at is not None:
        raise Conflict("Your details were erased already.")
    await erase(session, request, now)
    await _record(session, request, "erased", now)


async def follow_by_email(
    session: AsyncSession, request: SupportRequest, email: str, now: datetime | None = None
) -> None:
    """The person leaves an address to be told of each change of their request's status:
    kept sealed with their details (``proposals.personal``) and erased with them."""
    now = now or utcnow()
    if request.erased_at is not None:
        raise Conflict("Your details were erased: you cannot add an address any more.")
    email = _field(email, "updates_email", 254).lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidInput("Please check the e-mail address.", field="updates_email")
    details = await personal.details_of(session, request.id)
    if details is None:
        raise Conflict("Your details were erased: you cannot add an address any more.")
    await personal.replace_details(session, request.id, replace(details, updates_email=email))
    await _record(session, request, "follows", now)


async def follows_by_email(session: AsyncSession, request: SupportRequest) -> bool:
    details = await personal.details_of(session, request.id)
    return details is not None and bool(details.updates_email)


async def history(session: AsyncSession, request: SupportRequest) -> list[RequestEvent]:
    return list(
        await session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request.id)
            .order_by(RequestEvent.at, RequestEvent.id)
        )
    )


async def latest_events(
    session: AsyncSession, requests: Sequence[SupportRequest]
) -> dict[int, RequestEvent]:
    """The latest event of each of these requests that has one (for the queue)."""
    ids = [r.id for r in requests]
    if not ids:
        return {}
    found: dict[int, RequestEvent] = {}
    for event in await session.scalars(
        select(RequestEvent).where(RequestEvent.request_id.in_(ids)).order_by(RequestEvent.id)
    ):
        found[event.request_id] = event
    return found


# --- the stewards' queue --------------------------------------------------------------------


# A request waits for the group's answer while it is one of these.
OPEN_STATUSES = ("received", "discussing")


async def queue(
    session: AsyncSession, group: Group, *, open_only: bool = False, held: bool = False
) -> list[SupportRequest]:
    """Requests, most urgent and oldest first (no personal details in this list): the
    queue, or (``held``) the requests held during a flood."""
    query = select(SupportRequest).where(
        SupportRequest.group_id == group.id, SupportRequest.held.is_(held)
    )
    if open_only:
        query = query.where(SupportRequest.status.in_(OPEN_STATUSES))
    urgency_order = case(
        {"urgent": 0, "normal": 1, "low": 2}, value=SupportRequest.urgency, else_=3
    )
    return list(await session.scalars(query.order_by(urgency_order, SupportRequest.created_at)))


async def answered(
    session: AsyncSession, group: Group, *, limit: int, before: int | None = None
) -> tuple[int, list[SupportRequest]]:
    """The requests the group has answered (proposed, declined, paid, withdrawn), newest
    first: how many there are, and up to ``limit`` of them (older than request ``before``).
    A group's history grows for years; its open queue stays short."""
    where = (
        SupportRequest.group_id == group.id,
        SupportRequest.held.is_(False),
        SupportRequest.status.not_in(OPEN_STATUSES),
    )
    count = await session.scalar(select(func.count()).select_from(SupportRequest).where(*where))
    query = select(SupportRequest).where(*where)
    if before is not None:
        query = query.where(SupportRequest.id < before)
    listed = await session.scalars(query.order_by(SupportRequest.id.desc()).limit(limit))
    return count or 0, list(listed)


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
) -> tuple[Details | None, list[Note]]:
    """The person's details and the notes, for a steward or facilitator; the read is logged."""
    now = now or utcnow()
    session.add(DetailsRead(request_id=request.id, user_id=reader.id, read_at=now))
    if request.status == "received" and not request.held:
        request.status = "discussing"
        await _tell_the_person(session, request, "discussing", now)
    await session.flush()
    return await personal.details_of(session, request.id), await personal.notes_of(
        session, request.id
    )


def _refuse_if_held(request: SupportRequest) -> None:
    if request.held:
        raise Conflict(
            "This request was held during a flood: release it to the queue first.",
            field="held",
        )


async def add_note(
    session: AsyncSession,
    request: SupportRequest,
    author: User,
    text: str,
    now: datetime | None = None,
) -> Note:
    if request.erased_at is not None:
        raise Conflict("This request's details were erased; notes cannot be added.")
    _refuse_if_held(request)
    now = now or utcnow()
    note = await personal.add_note(
        session, request.id, author, _field(text, "text", 4000, required=True), now
    )
    if request.status == "received":
        request.status = "discussing"
        await _tell_the_person(session, request, "discussing", now)
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
    _refuse_if_held(request)
    if request.status not in ("received", "discussing"):
        raise Conflict(f"This request is {request.status} already.")
    details = await personal.details_of(session, request.id)
    refuse_personal_data(details, {"title": title, "body": summary})
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
    await _tell_the_person(session, request, "proposed", now or utcnow())
    await session.flush()
    return proposal


DECLINED_WITHOUT_A_MESSAGE = N_("We are sorry: the group cannot help with this request now.")
"""What a declined request says when the steward wrote nothing (pages say it in the reader's
language: ``app.web.ask.decline_message``)."""


async def decline(
    session: AsyncSession, request: SupportRequest, message: str, now: datetime | None = None
) -> None:
    _refuse_if_held(request)
    if request.status not in ("received", "discussing"):
        raise Conflict(f"This request is {request.status} already.")
    request.status = "declined"
    request.decline_message = _field(message, "message", 2000) or DECLINED_WITHOUT_A_MESSAGE
    request.closed_at = now or utcnow()
    await _tell_the_person(session, request, "declined", request.closed_at)
    await session.flush()


async def mark_paid(
    session: AsyncSession, group: Group, request: SupportRequest, now: datetime | None = None
) -> None:
    """Close a request whose proposal's money has been paid (the ledger must show it)."""
    proposal = await session.get(Proposal, request.proposal_id) if request.proposal_id else None
    if (
        proposal is None
        or proposal.status != "passed"
        or not await _paid_in_full(session, group, proposal)
    ):
        raise Conflict("Record the authorised payment in the ledger first.")
    request.status = "paid"
    request.closed_at = now or utcnow()
    await _tell_the_person(session, request, "paid", request.closed_at)
    await session.flush()


# --- erasure --------------------------------------------------------------------------------


async def erase(
    session: AsyncSession, request: SupportRequest, now: datetime | None = None
) -> None:
    """Delete the person's details, the notes and the key that sealed them; the pseudonym,
    the proposal, the minutes and the ledger stay as they are. Erasing again changes
    nothing but the time (``commonpurse restore`` re-applies erasures this way)."""
    await personal.forget(session, request.id)
    # The address went with the details: nothing is left to send.
    await session.execute(delete(RequestUpdate).where(RequestUpdate.request_id == request.id))
    request.erased_at = now or utcnow()
    await _erase_receipts(session, request, request.erased_at)
    if request.closed_at is None:
        request.closed_at = request.erased_at
    await session.flush()


async def _erase_receipts(session: AsyncSession, request: SupportRequest, now: datetime) -> None:
    """The files of the receipts of the payments made under the request's proposal (and of
    their reversals) are the person's data too: they go; their leaves and hashes stay."""
    proposal = await session.get(Proposal, request.proposal_id) if request.proposal_id else None
    group = await session.get(Group, request.group_id)
    if proposal is None or group is None:
        return
    paid = select(Entry.seq).where(
        Entry.group_id == group.id, Entry.proposal_number == proposal.number
    )
    seqs = list(await session.scalars(paid))
    seqs += await session.scalars(
        select(Entry.seq).where(Entry.group_id == group.id, Entry.reverses_seq.in_(seqs))
    )
    await attachments.erase_files(session, group, seqs, now)


# --- requests held during a flood -------------------------------------------------------------


async def release(
    session: AsyncSession, group: Group, request: SupportRequest, now: datetime | None = None
) -> None:
    """A steward saw a person behind a held request: it joins the queue, as if just sent."""
    if not request.held:
        raise Conflict("This request is in the queue already.", field="held")
    request.held = False
    await session.flush()
    await _tell_stewards(session, group, request, now or utcnow())


async def discard_held(session: AsyncSession, group: Group, *, up_to: int | None = None) -> int:
    """Delete the group's held requests (those up to id ``up_to``: the ones a steward saw
    listed), with their details, keys and reads. Returns how many."""
    query = select(SupportRequest.id).where(
        SupportRequest.group_id == group.id, SupportRequest.held.is_(True)
    )
    if up_to is not None:
        query = query.where(SupportRequest.id <= up_to)
    ids = list(await session.scalars(query))
    await _discard(session, ids)
    return len(ids)


async def _discard(session: AsyncSession, ids: Sequence[int]) -> None:
    for request_id in ids:
        await personal.forget(session, request_id)
    if ids:
        await session.execute(delete(DetailsRead).where(DetailsRead.request_id.in_(ids)))
        await session.execute(delete(RequestEvent).where(RequestEvent.request_id.in_(ids)))
        await session.execute(delete(RequestUpdate).where(RequestUpdate.request_id.in_(ids)))
        await session.execute(delete(SupportRequest).where(SupportRequest.id.in_(ids)))
    await session.flush()


async def purge(session: AsyncSession, now: datetime | None = None) -> int:
    """Erase the details of every request closed longer ago than its group's retention,
    and discard held requests older than that. Returns how many requests lost details."""
    now = now or utcnow()
    candidates = await session.scalars(
        select(SupportRequest).where(SupportRequest.erased_at.is_(None))
    )
    erased = 0
    for request in list(candidates):
        group = await session.get(Group, request.group_id)
        assert group is not None
        retention = timedelta(days=(await settings_of(session, group)).retention_days)
        if request.held:
            # Never released: nobody will answer it, so it goes after the same period.
            if request.created_at + retention <= now:
                await _discard(session, [request.id])
                erased += 1
            continue
        closed = request.closed_at or await _decided_at(session, group, request)
        if closed is None:
            continue
        if closed + retention <= now:
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
    if proposal.status == "passed" and not await _paid_in_full(session, group, proposal):
        return None
    return proposal.decided_at

"""The stewards' queue of requests for support, as pages for the group's stewards and
facilitators (admins imply both).

The list shows no personal details. Opening a request shows the person's details and the
notes, and every such showing is logged by ``support.read_details`` (an error page that
shows the form again shows the details again, so it logs again). Each action is a form:
CSRF, errors next to the fields with the input kept, then a 303 to the request's page.
The rules live in ``proposals.support``; these pages only call it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from babel.dates import format_timedelta
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import func, select

from app.auth import Caller, provide_caller
from app.db import keep_changes
from app.deps import CurrentCaller, DbSession, Id
from app.errors import status_of
from app.guards import member_with, steward_or_facilitator_page
from app.i18n import language_name, translations
from app.jobs import discard_held_requests, erase_personal_data
from app.presenters.formatting import Formatter
from app.presenters.ledger import fund_view
from app.web.ask import decline_message
from app.web.forms import Form, read_form, typed_number
from app.web.language import visitor_formatter, visitor_language
from app.web.templating import page, see_other
from ledger import service
from ledger.errors import LedgerError
from ledger.groups import utcnow
from ledger.models import User
from ledger.money import format_amount
from ledger.schemas import MAX_ID
from ledger.words import N_, Words
from proposals import support
from proposals.models import DetailsRead, Proposal, RequestEvent, SupportRequest

TITLE_MAX = 200  # as the API's ProposalIn
SUMMARY_MAX = 20_000
NOTE_MAX = 4000
MESSAGE_MAX = 2000
SHOWN_READS = 10

STATUS_LABELS = {
    "received": N_("New"),
    "discussing": N_("Being discussed"),
    "proposed": N_("Proposed to the group"),
    "decided": N_("Decided"),
    "paid": N_("Paid"),
    "declined": N_("Declined"),
    "withdrawn": N_("Withdrawn by the person"),
}
# What the person did on their status page, as the stewards read it.
EVENT_LABELS = {
    "added": N_("The person added information (see the notes)"),
    "withdrawn": N_("The person withdrew the request"),
    "erased": N_("The person erased their details"),
}
DECISION_LABELS = {
    "passed": N_("passed"),
    "not_passed": N_("not passed"),
    "blocked": N_("blocked"),
    "withdrawn": N_("withdrawn"),
}
URGENCY_LABELS = {"urgent": N_("Urgent"), "normal": N_("Soon"), "low": N_("Not urgent")}
DONE_MESSAGES = {
    "noted": N_("Your note was added."),
    "proposed": N_("The request is now a proposal; the group decides on it."),
    "declined": N_("The request was declined. The person sees your message on their page."),
    "paid": N_("The request is marked as paid. The person's page says so."),
    "erased": N_(
        "The person's details and the notes were erased. The code, the proposal "
        "and the ledger stay as they were."
    ),
    "released": N_("The request is in the queue now, and the stewards have been told of it."),
}
QUEUE_DONE_MESSAGES = {
    "cleared": N_("The held requests were discarded, with their details."),
    "none": N_("There was no held request to discard."),
}
OPEN = support.OPEN_STATUSES
# Answered requests shown on the queue page at a time.
ANSWERED_SHOWN = 50
Translate = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A line of the queue: no personal details."""

    id: int
    pseudonym: str
    status: str
    status_label: str
    urgency: str
    urgency_label: str
    received: str
    age: str
    amount: str
    erased: bool
    # The person's latest action on their status page, if any ("... 2 hours ago").
    latest: str = ""


def _age(created_at: datetime, now: datetime, fmt: Formatter) -> str:
    return format_timedelta(now - created_at, threshold=1.0, locale=fmt.locale)


def _status_label(status: support.RequestStatus, translate: Translate) -> str:
    label = translate(STATUS_LABELS[status.status])
    if status.status == "decided" and status.decision:
        label += f": {translate(DECISION_LABELS.get(status.decision, status.decision))}"
    return label


def _row(
    request: SupportRequest,
    status: support.RequestStatus,
    fmt: Formatter,
    now: datetime,
    translate: Translate,
    latest: RequestEvent | None = None,
) -> RequestRow:
    return RequestRow(
        id=request.id,
        pseudonym=request.pseudonym,
        status=status.status,
        status_label=_status_label(status, translate),
        urgency=request.urgency,
        urgency_label=translate(URGENCY_LABELS.get(request.urgency, request.urgency)),
        received=fmt.day(request.created_at),
        age=_age(request.created_at, now, fmt),
        amount=fmt.money(request.amount, request.currency) if request.amount else "",
        erased=request.erased_at is not None,
        latest=translate("%(event)s, %(age)s ago")
        % {"event": translate(EVENT_LABELS[latest.kind]), "age": _age(latest.at, now, fmt)}
        if latest
        else "",
    )


def _base(slug: str, request_id: int) -> str:
    return f"/m/{slug}/requests/{request_id}"


class RequestPages(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/m/{group:str}/requests", guards=[steward_or_facilitator_page], name="requests")
    async def queue(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        done: Annotated[str, QueryParameter(max_length=20)] = "",
        before: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> Template:
        """The open requests, those held during a flood, and the answered ones, newest
        first, ``ANSWERED_SHOWN`` at a time (``before``: older than that request)."""
        fmt = visitor_formatter(request, caller.group)
        translate = translations(visitor_language(request)).gettext
        now = utcnow()
        waiting = await support.queue(db_session, caller.group, open_only=True)
        answered_count, answered = await support.answered(
            db_session, caller.group, limit=ANSWERED_SHOWN + 1, before=before
        )
        more, answered = len(answered) > ANSWERED_SHOWN, answered[:ANSWERED_SHOWN]
        latest = await support.latest_events(db_session, [*waiting, *answered])

        async def rows_of(requests: list[SupportRequest]) -> list[RequestRow]:
            statuses = await support.statuses_of(db_session, caller.group, requests)
            return [
                _row(r, status, fmt, now, translate, latest.get(r.id))
                for r, status in zip(requests, statuses, strict=True)
            ]

        # Held requests show no latest event (their events are not read).
        held_rows = await rows_of(await support.queue(db_session, caller.group, held=True))
        return page(
            request,
            "member/requests.html",
            group=caller.group,
            fmt=fmt,
            caller=caller,
            # Open requests in the queue's order (most urgent, then oldest); answered ones
            # newest first, a page at a time.
            open_rows=await rows_of(waiting),
            other_rows=await rows_of(answered),
            other_count=answered_count,
            # The next, older page of answered requests (none when this one is the last).
            older=answered[-1].id if more else None,
            paged=before is not None,
            held_rows=held_rows,
            # The button discards those listed here, not one that arrives meanwhile.
            held_up_to=max((row.id for row in held_rows), default=0),
            done=QUEUE_DONE_MESSAGES.get(done, ""),
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/m/{group:str}/requests/held/clear",
        guards=[steward_or_facilitator_page],
        name="requests_clear_held",
    )
    async def clear_held(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Redirect:
        form = await read_form(request, ("up_to",))
        up_to = form.value("up_to")
        discarded = await discard_held_requests(
            request,
            db_session,
            caller.group,
            up_to=typed_number(up_to, MAX_ID) or 0,
        )
        done = "cleared" if discarded else "none"
        return Redirect(f"/m/{caller.group.slug}/requests?done={done}", status_code=303)

    @post(
        "/m/{group:str}/requests/{request_id:int}/release",
        guards=[steward_or_facilitator_page],
        name="request_release",
    )
    async def release(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> Template | Redirect:
        found = await support.get_request(db_session, caller.group, request_id)
        form = await read_form(request, ())
        refused = await _attempt(
            db_session,
            form,
            (),
            found,
            support.release(db_session, caller.group, found),
            whole="held",
        )
        return await self._after(request, db_session, caller, found, form, refused, "released")

    @get(
        "/m/{group:str}/requests/{request_id:int}",
        guards=[steward_or_facilitator_page],
        name="request",
        writes=True,  # the read of the person's details is logged
    )
    async def show(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        found = await support.get_request(db_session, caller.group, request_id)
        return await self._request_page(
            request,
            db_session,
            caller,
            found,
            _fresh_form(found, visitor_formatter(request, caller.group)),
            done=done,
        )

    @post(
        "/m/{group:str}/requests/{request_id:int}/notes",
        guards=[steward_or_facilitator_page],
        name="request_note",
    )
    async def add_note(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> Template | Redirect:
        found = await support.get_request(db_session, caller.group, request_id)
        form = await read_form(request, ("text",))
        text = _limited(form, "text", NOTE_MAX, required=N_("Write the note first."))
        refused = 422
        if form.ok:
            refused = await _attempt(
                db_session,
                form,
                ("text",),
                found,
                support.add_note(db_session, found, caller.logged_in_user, text),
            )
        return await self._after(request, db_session, caller, found, form, refused, "noted")

    @post(
        "/m/{group:str}/requests/{request_id:int}/propose",
        guards=[member_with("steward")],
        name="request_propose",
    )
    async def propose(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> Template | Redirect:
        found = await support.get_request(db_session, caller.group, request_id)
        fields = ("title", "summary", "fund", "amount")
        form = await read_form(request, fields)
        title = _limited(form, "title", TITLE_MAX, required=N_("Give the proposal a title."))
        summary = _limited(form, "summary", SUMMARY_MAX)
        if not form.value("fund"):
            form.fail("fund", N_("Choose the fund the money comes from."))
        if not form.value("amount"):
            form.fail("amount", N_("Enter the amount to pay, such as 120.00."))
        refused = 422
        if form.ok:
            refused = await _attempt(
                db_session,
                form,
                fields,
                found,
                support.propose(
                    db_session,
                    caller.group,
                    found,
                    caller.logged_in_user,
                    title=title,
                    summary=summary,
                    fund=form.value("fund"),
                    amount=form.amount("amount"),
                ),
                # The service knows the summary as the proposal's body.
                renamed={"body": "summary"},
            )
        return await self._after(request, db_session, caller, found, form, refused, "proposed")

    @post(
        "/m/{group:str}/requests/{request_id:int}/decline",
        guards=[steward_or_facilitator_page],
        name="request_decline",
    )
    async def decline(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> Template | Redirect:
        found = await support.get_request(db_session, caller.group, request_id)
        form = await read_form(request, ("message",))
        message = _limited(form, "message", MESSAGE_MAX)
        refused = 422
        if form.ok:
            refused = await _attempt(
                db_session, form, ("message",), found, support.decline(db_session, found, message)
            )
        return await self._after(request, db_session, caller, found, form, refused, "declined")

    @post(
        "/m/{group:str}/requests/{request_id:int}/paid",
        guards=[member_with("steward")],
        name="request_paid",
    )
    async def mark_paid(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> Template | Redirect:
        found = await support.get_request(db_session, caller.group, request_id)
        form = Form()
        refused = await _attempt(
            db_session,
            form,
            (),
            found,
            support.mark_paid(db_session, caller.group, found),
            whole="paid",
        )
        return await self._after(request, db_session, caller, found, form, refused, "paid")

    @get(
        "/m/{group:str}/requests/{request_id:int}/erase",
        guards=[steward_or_facilitator_page],
        name="request_erase_confirm",
    )
    async def erase_confirm(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> Template:
        found = await support.get_request(db_session, caller.group, request_id)
        return _erase_page(request, caller, found, Form())

    @post(
        "/m/{group:str}/requests/{request_id:int}/erase",
        guards=[steward_or_facilitator_page],
        name="request_erase",
    )
    async def erase(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> Template | Redirect:
        found = await support.get_request(db_session, caller.group, request_id)
        form = await read_form(request, ("confirm",))
        if found.erased_at is not None:
            form.fail("", N_("These details were erased already."))
            return _erase_page(request, caller, found, form, status=409)
        if form.value("confirm") != "yes":
            form.fail("confirm", N_("Tick the box to confirm that the details go for good."))
            return _erase_page(request, caller, found, form, status=422)
        await erase_personal_data(request, db_session, found)
        return Redirect(f"{_base(caller.group.slug, found.id)}?done=erased", status_code=303)

    # --- the request's page ------------------------------------------------------------

    async def _after(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: Caller,
        found: SupportRequest,
        form: Form,
        refused: int,
        done: str,
    ) -> Template | Redirect:
        """PRG on success; otherwise the request's page again, with the errors."""
        if form.ok:
            return see_other(f"{_base(caller.group.slug, found.id)}?done={done}")
        return await self._request_page(request, db_session, caller, found, form, status=refused)

    async def _request_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: Caller,
        found: SupportRequest,
        form: Form,
        *,
        status: int = 200,
        done: str = "",
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        translate = translations(visitor_language(request)).gettext
        details, notes = await support.read_details(db_session, group, found, caller.logged_in_user)
        state = await support.status_of(db_session, group, found)
        proposal = await db_session.get(Proposal, found.proposal_id) if found.proposal_id else None
        reads = [
            (read_at, name)
            for read_at, name in await db_session.execute(
                select(DetailsRead.read_at, User.name)
                .join(User, User.id == DetailsRead.user_id)
                .where(DetailsRead.request_id == found.id)
                .order_by(DetailsRead.id.desc())
                .limit(SHOWN_READS)
            )
        ]
        read_count = await db_session.scalar(
            select(func.count()).select_from(DetailsRead).where(DetailsRead.request_id == found.id)
        )
        funds = await service.list_funds(db_session, group)
        # The read is logged even when the page answers an error.
        keep_changes(request)
        return page(
            request,
            "member/request.html",
            status_code=status,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            group=group,
            fmt=fmt,
            caller=caller,
            roles=caller.roles,
            req=found,
            # As the person reads it: in the language they asked in.
            decline_message=decline_message(
                found.decline_message, translations(found.language).gettext
            ),
            row=_row(found, state, fmt, utcnow(), translate),
            history=[
                (translate(EVENT_LABELS[event.kind]), event.at)
                for event in await support.history(db_session, found)
            ],
            state=state,
            details=details,
            notes=notes,
            preferred_language=language_name(found.language),  # "language" sets <html lang>
            proposal=proposal,
            reads=reads,
            read_count=read_count or 0,
            funds=[fund_view(f, fmt) for f in funds],
            is_open=found.status in OPEN and not found.held,
            form=form,
            done=DONE_MESSAGES.get(done, ""),
        )


def _erase_page(
    request: Request[Any, Any, Any],
    caller: Caller,
    found: SupportRequest,
    form: Form,
    *,
    status: int = 200,
) -> Template:
    return page(
        request,
        "member/request_erase.html",
        status_code=status,
        headers={"Cache-Control": "no-store"},
        group=caller.group,
        caller=caller,
        req=found,
        form=form,
    )


def _fresh_form(found: SupportRequest, fmt: Formatter) -> Form:
    """The propose form's starting values: a title by code (in the steward's language),
    and the amount asked for."""
    amount = format_amount(found.amount, found.currency) if found.amount else ""
    title = fmt.said(Words(N_("Support for %(code)s"), {"code": found.pseudonym}))
    return Form(values={"title": title, "amount": amount})


def _limited(form: Form, name: str, limit: int, *, required: str = "") -> str:
    text = form.value(name).replace("\r\n", "\n")
    if required and not text:
        form.fail(name, required)
    elif len(text) > limit:
        form.fail(
            name,
            N_("Keep this to %(limit)s characters or fewer (it has %(count)s)."),
            limit=limit,
            count=len(text),
        )
    return text


async def _attempt(
    db_session: DbSession,
    form: Form,
    fields: tuple[str, ...],
    found: SupportRequest,
    action: Awaitable[object],
    *,
    renamed: dict[str, str] | None = None,
    whole: str = "",
) -> int:
    """Run a service call in a savepoint: a refusal undoes only its own changes (the page
    that shows it still logs its read) and becomes the form's error next to its field.
    Returns the refusal's HTTP status, or 0."""
    try:
        async with db_session.begin_nested():
            await action
    except LedgerError as error:
        name = (renamed or {}).get(error.field or "", error.field or "")
        form.fail(name if name in fields else whole, str(error))
        # The savepoint's rollback expired what the call had changed: read it again.
        await db_session.refresh(found)
        return status_of(error)
    return 0

"""The stewards' queue of requests for support, and erasure of a person's details.

Only stewards and facilitators of the group (admins imply both) read requests; every read
of a person's details is logged. The queue itself shows no personal details.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from app.api.schemas import (
    DeclineIn,
    DetailsOut,
    DiscardedOut,
    NoteIn,
    NoteOut,
    PreferenceIn,
    ProposedOut,
    ProposeIn,
    ReadOut,
    RequestOut,
    SupportSettingsIn,
    SupportSettingsOut,
)
from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession, Id
from app.guards import requires, steward_or_facilitator
from app.jobs import discard_held_requests, erase_personal_data
from ledger.money import format_amount
from ledger.schemas import MAX_ID
from proposals import notify, support
from proposals.models import DetailsRead, SupportRequest


class RequestDetailOut(RequestOut, kw_only=True):
    details: DetailsOut | None
    notes: list[NoteOut]


def request_out(request: SupportRequest) -> RequestOut:
    return RequestOut(
        id=request.id,
        pseudonym=request.pseudonym,
        status=request.status,
        urgency=request.urgency,
        amount=format_amount(request.amount, request.currency) if request.amount else None,
        currency=request.currency,
        language=request.language,
        created_at=request.created_at,
        proposal=request.proposal_id,
        erased=request.erased_at is not None,
        held=request.held,
    )


class RequestController(Controller):
    path = "/api/groups/{group:str}"
    tags = ["Requests for support"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/requests",
        guards=[steward_or_facilitator],
        summary="The queue: most urgent and oldest first, without personal details",
        description="With `held=true`, the requests held apart during a flood instead.",
    )
    async def list_requests(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        open_only: FromQuery[bool] = False,
        held: FromQuery[bool] = False,
    ) -> list[RequestOut]:
        return [
            request_out(r)
            for r in await support.queue(db_session, caller.group, open_only=open_only, held=held)
        ]

    @post(
        "/requests/held/clear",
        guards=[steward_or_facilitator],
        status_code=200,
        summary="Discard the requests held during a flood, with their details, at once",
        description="`up_to`: only those with this id or lower (the ones you were shown).",
    )
    async def clear_held(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        up_to: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> DiscardedOut:
        discarded = await discard_held_requests(request, db_session, caller.group, up_to=up_to)
        return DiscardedOut(discarded=discarded)

    @post(
        "/requests/{request_id:int}/release",
        guards=[steward_or_facilitator],
        status_code=200,
        summary="Release a request held during a flood into the queue",
    )
    async def release(
        self, db_session: DbSession, caller: CurrentCaller, request_id: Id
    ) -> RequestOut:
        found = await support.get_request(db_session, caller.group, request_id)
        await support.release(db_session, caller.group, found)
        return request_out(found)

    @get(
        "/requests/{request_id:int}",
        guards=[steward_or_facilitator],
        summary="A request with the person's details and notes (this read is logged)",
        writes=True,  # the read is logged: begin with the write lock (SQLite), as a POST
    )
    async def show(
        self, db_session: DbSession, caller: CurrentCaller, request_id: Id
    ) -> RequestDetailOut:
        assert caller.user is not None
        found = await support.get_request(db_session, caller.group, request_id)
        details, notes = await support.read_details(db_session, caller.group, found, caller.user)
        base = msgspec.structs.asdict(request_out(found))
        return RequestDetailOut(
            **base,
            details=None
            if details is None
            else DetailsOut(
                name=details.name,
                need=details.need,
                phone=details.phone,
                email=details.email,
                via_member=details.via_member,
            ),
            notes=[NoteOut(author=n.by, text=n.text, at=n.created_at) for n in notes],
        )

    @get(
        "/requests/{request_id:int}/reads",
        guards=[steward_or_facilitator],
        summary="Who read this request's personal details, and when",
    )
    async def reads(
        self, db_session: DbSession, caller: CurrentCaller, request_id: Id
    ) -> list[ReadOut]:
        from sqlalchemy import select

        found = await support.get_request(db_session, caller.group, request_id)
        rows = await db_session.scalars(
            select(DetailsRead).where(DetailsRead.request_id == found.id).order_by(DetailsRead.id)
        )
        return [ReadOut(user_id=r.user_id, read_at=r.read_at) for r in rows]

    @post(
        "/requests/{request_id:int}/notes",
        guards=[steward_or_facilitator],
        summary="Add a note (seen only by stewards and facilitators)",
    )
    async def add_note(
        self, db_session: DbSession, caller: CurrentCaller, request_id: Id, data: JSONBody[NoteIn]
    ) -> NoteOut:
        assert caller.user is not None
        found = await support.get_request(db_session, caller.group, request_id)
        note = await support.add_note(db_session, found, caller.user, data.text)
        return NoteOut(author=note.by, text=note.text, at=note.created_at)

    @post(
        "/requests/{request_id:int}/propose",
        guards=[requires("steward")],
        summary="Turn the request into a proposal to pay its pseudonym",
    )
    async def propose(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
        data: JSONBody[ProposeIn],
    ) -> ProposedOut:
        assert caller.user is not None
        found = await support.get_request(db_session, caller.group, request_id)
        proposal = await support.propose(
            db_session,
            caller.group,
            found,
            caller.user,
            title=data.title,
            summary=data.summary,
            fund=data.fund,
            amount=data.amount,
        )
        return ProposedOut(proposal=proposal.number)

    @post(
        "/requests/{request_id:int}/decline",
        guards=[steward_or_facilitator],
        status_code=200,
        summary="Decline with a kind message the person will see",
    )
    async def decline(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
        data: JSONBody[DeclineIn],
    ) -> RequestOut:
        found = await support.get_request(db_session, caller.group, request_id)
        await support.decline(db_session, found, data.message)
        return request_out(found)

    @post(
        "/requests/{request_id:int}/paid",
        guards=[requires("steward")],
        status_code=200,
        summary="Mark as paid once the authorised payment is in the ledger",
    )
    async def paid(
        self, db_session: DbSession, caller: CurrentCaller, request_id: Id
    ) -> RequestOut:
        found = await support.get_request(db_session, caller.group, request_id)
        await support.mark_paid(db_session, caller.group, found)
        return request_out(found)

    @delete(
        "/requests/{request_id:int}/personal-data",
        guards=[steward_or_facilitator],
        summary="Erase the person's details; the ledger, decisions and pseudonym stay",
    )
    async def erase(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        request_id: Id,
    ) -> None:
        found = await support.get_request(db_session, caller.group, request_id)
        await erase_personal_data(request, db_session, found)

    @get(
        "/support-settings",
        guards=[requires("member")],
        summary="Retention of personal details, and the ask form of a private group",
    )
    async def get_settings(
        self, db_session: DbSession, caller: CurrentCaller
    ) -> SupportSettingsOut:
        found = await support.settings_of(db_session, caller.group)
        return SupportSettingsOut(
            retention_days=found.retention_days, ask_enabled=found.ask_enabled
        )

    @put("/support-settings", guards=[requires("admin")], summary="Change them (admin)")
    async def put_settings(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[SupportSettingsIn]
    ) -> SupportSettingsOut:
        found = await support.settings_of(db_session, caller.group)
        if data.retention_days is not None:
            found.retention_days = data.retention_days
        if data.ask_enabled is not None:
            found.ask_enabled = data.ask_enabled
        db_session.add(found)
        await db_session.flush()
        return SupportSettingsOut(
            retention_days=found.retention_days, ask_enabled=found.ask_enabled
        )

    @put(
        "/notifications",
        guards=[requires("member")],
        summary="How I hear of new requests and proposals: none, each, daily",
    )
    async def set_notifications(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[PreferenceIn]
    ) -> PreferenceIn:
        assert caller.user is not None
        await notify.set_mode(db_session, caller.group, caller.user.id, data.mode)
        return data

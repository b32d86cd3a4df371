"""Proposals, responses, amendments, closes and the group's decision rules.

Every route here first closes the group's rounds past their deadline
(``app.jobs.due_rounds_first_middleware``): an action after a deadline meets the decided
round, and the close stands even when the action is then refused.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, patch, post, put
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Caller, provide_caller
from app.deps import CurrentCaller, DbSession, Id, ProposalNumber
from app.guards import discussion_readers, public_or_member, requires
from app.jobs import CLOSES_DUE_ROUNDS, send_mail_soon
from ledger.groups import utcnow
from proposals import discussion, policies, queries, service
from proposals.models import Comment
from proposals.schemas import (
    AmendmentIn,
    CommentEditIn,
    CommentIn,
    CommentOut,
    HideIn,
    PolicyOut,
    ProposalIn,
    ProposalOut,
    ProposalSummary,
    RemindedOut,
    ResponseIn,
    RulesIn,
    RulesOut,
)

# Proposal numbers are 32-bit in the database: a larger one names no proposal, and PostgreSQL
# would refuse to compare it with the column.


async def _show(session: AsyncSession, caller: Caller, number: int) -> ProposalOut:
    proposal = await service.get_proposal(session, caller.group, number)
    member = caller.membership is not None
    names = await queries.names_visible(session, caller.group, member=member)
    out = await queries.proposal_out(
        session, caller.group, proposal, show_names=names, viewer=caller.user_id
    )
    if not member:
        return out
    silent = await discussion.not_responded(session, caller.group, proposal)
    return msgspec.structs.replace(out, not_responded=discussion.not_responded_out(silent))


async def _comment(
    session: AsyncSession, caller: Caller, number: int, comment: Comment
) -> CommentOut:
    """A comment just written (or hidden), as the member who acted reads it."""
    proposal = await service.get_proposal(session, caller.group, number)
    return discussion.comment_out(
        comment,
        discussion.round_numbers_of(proposal),
        show_names=True,
        member=True,
        facilitator=caller.may("facilitator"),
    )


async def _rules_out(session: AsyncSession, caller: Caller) -> RulesOut:
    rules, public_names = await service.get_rules(session, caller.group)
    talk = await discussion.settings_of(session, caller.group)
    return RulesOut(
        rules=rules.to_json(),
        tiers=service.tiers_json(caller.group, await service.get_tiers(session, caller.group)),
        public_names=public_names,
        policy_room_committed=await service.policy_room_committed(session, caller.group),
        public_comments=talk.public_comments,
        reminder_hours_before=talk.reminder_hours,
        hide_tally_until_close=await service.hides_tallies(session, caller.group),
    )


class ProposalController(Controller):
    path = "/api/groups/{group:str}"
    tags = ["Proposals"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}
    opt = {CLOSES_DUE_ROUNDS: True}

    @post(
        "/proposals", guards=[requires("member")], summary="Open a proposal (round 1 of version 1)"
    )
    async def create(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[ProposalIn]
    ) -> ProposalOut:
        assert caller.user is not None
        proposal = await service.create_proposal(db_session, caller.group, caller.user, data)
        return await _show(db_session, caller, proposal.number)

    @get("/proposals", guards=[public_or_member], summary="Proposals, newest first")
    async def list_proposals(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        status: FromQuery[str | None] = None,
    ) -> list[ProposalSummary]:
        return [
            queries.proposal_summary(p)
            for p in await service.list_proposals(db_session, caller.group, status)
        ]

    @get(
        "/proposals/{number:int}",
        guards=[public_or_member],
        summary="A proposal: versions, rounds, the live tally, the outcome and its reasons",
    )
    async def show(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> ProposalOut:
        return await _show(db_session, caller, number)

    @post(
        "/proposals/{number:int}/responses",
        guards=[requires("member")],
        summary="Respond: agree, concern, stand_aside or block (a block needs a reason)",
    )
    async def respond(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        data: JSONBody[ResponseIn],
    ) -> ProposalOut:
        assert caller.user is not None
        await service.respond(
            db_session, caller.group, number, caller.user, data.position, data.reason
        )
        return await _show(db_session, caller, number)

    @post(
        "/proposals/{number:int}/amendments",
        guards=[requires("member")],
        summary="Amend (author or facilitator); a change of substance opens a new round",
    )
    async def amend(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        data: JSONBody[AmendmentIn],
    ) -> ProposalOut:
        assert caller.user is not None
        assert caller.membership is not None
        await service.amend(db_session, caller.group, number, caller.user, caller.membership, data)
        return await _show(db_session, caller, number)

    @post(
        "/proposals/{number:int}/close",
        guards=[requires("facilitator")],
        status_code=200,
        summary="Close the open round now (facilitator)",
    )
    async def close(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> ProposalOut:
        await service.close(db_session, caller.group, number)
        return await _show(db_session, caller, number)

    @post(
        "/proposals/{number:int}/withdraw",
        guards=[requires("member")],
        status_code=200,
        summary="Withdraw the proposal (its author)",
    )
    async def withdraw(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> ProposalOut:
        assert caller.user is not None
        await service.withdraw(db_session, caller.group, number, caller.user)
        return await _show(db_session, caller, number)

    # --- the discussion, and who has not spoken yet ------------------------------------------

    @post(
        "/proposals/{number:int}/comments",
        guards=[requires("member")],
        summary="Comment on a proposal, or reply to a comment (members)",
        description="The body is Markdown, shown sanitised. `reply_to` names a comment of "
        "the same proposal; replies go one level deep, so a reply to a reply is a 422. A "
        "comment written while a round is open belongs to that round (`round`). The "
        "proposal's author and everyone who commented are notified, as each chose to hear.",
    )
    async def comment(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        data: JSONBody[CommentIn],
    ) -> CommentOut:
        comment = await discussion.post_comment(
            db_session, caller.group, number, caller.logged_in_user, data.body, data.reply_to
        )
        return await _comment(db_session, caller, number, comment)

    @get(
        "/proposals/{number:int}/comments",
        guards=[discussion_readers],
        summary="A proposal's discussion: comments, oldest first, each with its replies",
        description="Members read every discussion; anyone else only where the group made "
        "its discussions public (`public_comments` in the rules), with names only where "
        "it shows names (`public_names`). A hidden comment shows who hid it and why, "
        "without its text (facilitators still read it); members see the earlier texts of "
        "an edited comment.",
    )
    async def comments(
        self, db_session: DbSession, caller: CurrentCaller, number: ProposalNumber
    ) -> list[CommentOut]:
        member = caller.membership is not None
        proposal = await service.get_proposal(db_session, caller.group, number)
        names = await queries.names_visible(db_session, caller.group, member=member)
        return await discussion.comments_out(
            db_session,
            proposal,
            show_names=names,
            member=member,
            facilitator=caller.may("facilitator"),
        )

    @patch(
        "/proposals/{number:int}/comments/{comment_id:int}",
        guards=[requires("member")],
        summary="Edit your comment (its author); the earlier text is kept",
        description="The comment shows `edited_at`, and members read each earlier text in "
        "`earlier`. A hidden comment cannot be edited (409).",
    )
    async def edit_comment(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        comment_id: Id,
        data: JSONBody[CommentEditIn],
    ) -> CommentOut:
        comment = await discussion.edit_comment(
            db_session, caller.group, number, caller.logged_in_user, comment_id, data.body
        )
        return await _comment(db_session, caller, number, comment)

    @post(
        "/proposals/{number:int}/comments/{comment_id:int}/hide",
        guards=[requires("facilitator")],
        status_code=200,
        summary="Hide a comment, saying why (facilitator); nobody deletes a comment",
    )
    async def hide_comment(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        comment_id: Id,
        data: JSONBody[HideIn],
    ) -> CommentOut:
        comment = await discussion.hide_comment(
            db_session, caller.group, number, caller.logged_in_user, comment_id, data.reason
        )
        return await _comment(db_session, caller, number, comment)

    @post(
        "/proposals/{number:int}/reminders",
        guards=[requires("facilitator")],
        status_code=200,
        summary="Remind the members who have not responded in the open round (facilitator)",
        description="Each of them gets a notification and an e-mail, at most once per "
        "round: a second call reminds nobody already reminded. `reminded` counts the "
        "members reminded by this call. 409 when no round is open.",
    )
    async def remind(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> RemindedOut:
        reminded = await discussion.remind(db_session, caller.group, number)
        if reminded:
            send_mail_soon(request)
        return RemindedOut(reminded=reminded)

    @get(
        "/policies",
        guards=[public_or_member],
        summary="Spending policies the group adopted, with this month's use and room",
    )
    async def list_policies(self, db_session: DbSession, caller: CurrentCaller) -> list[PolicyOut]:
        return await policies.policies_out(db_session, caller.group, utcnow().date())

    @get("/rules", guards=[requires("admin")], summary="The group's decision rules (admin)")
    async def get_rules(self, db_session: DbSession, caller: CurrentCaller) -> RulesOut:
        return await _rules_out(db_session, caller)

    @put(
        "/rules",
        guards=[requires("admin")],
        summary="Change decision rules (admin); open rounds keep theirs",
    )
    async def put_rules(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[RulesIn]
    ) -> RulesOut:
        await service.set_rules(db_session, caller.group, data.rules, data.public_names)
        if data.tiers is not None:
            await service.set_tiers(db_session, caller.group, data.tiers)
        if data.policy_room_committed is not None:
            await service.set_policy_room_committed(
                db_session, caller.group, data.policy_room_committed
            )
        if data.hide_tally_until_close is not None:
            await service.set_hides_tallies(db_session, caller.group, data.hide_tally_until_close)
        await discussion.set_settings(
            db_session,
            caller.group,
            public_comments=data.public_comments,
            reminder_hours=data.reminder_hours_before,
        )
        return await _rules_out(db_session, caller)

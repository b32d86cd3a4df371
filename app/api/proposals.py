"""Proposals, responses, amendments, closes and the group's decision rules.

Every route here first closes the group's rounds past their deadline
(``app.jobs.due_rounds_first_middleware``): an action after a deadline meets the decided
round, and the close stands even when the action is then refused.
"""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Caller, provide_caller
from app.deps import CurrentCaller, DbSession, ProposalNumber
from app.guards import public_or_member, requires
from app.jobs import CLOSES_DUE_ROUNDS
from ledger.groups import utcnow
from proposals import policies, queries, service
from proposals.schemas import (
    AmendmentIn,
    PolicyOut,
    ProposalIn,
    ProposalOut,
    ProposalSummary,
    ResponseIn,
    RulesIn,
    RulesOut,
)

# Proposal numbers are 32-bit in the database: a larger one names no proposal, and PostgreSQL
# would refuse to compare it with the column.


async def _show(session: AsyncSession, caller: Caller, number: int) -> ProposalOut:
    proposal = await service.get_proposal(session, caller.group, number)
    names = await queries.names_visible(session, caller.group, member=caller.membership is not None)
    return await queries.proposal_out(session, caller.group, proposal, show_names=names)


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

    @get(
        "/policies",
        guards=[public_or_member],
        summary="Spending policies the group adopted, with this month's use and room",
    )
    async def list_policies(self, db_session: DbSession, caller: CurrentCaller) -> list[PolicyOut]:
        return await policies.policies_out(db_session, caller.group, utcnow().date())

    @get("/rules", guards=[requires("admin")], summary="The group's decision rules (admin)")
    async def get_rules(self, db_session: DbSession, caller: CurrentCaller) -> RulesOut:
        rules, public_names = await service.get_rules(db_session, caller.group)
        return RulesOut(
            rules=rules.to_json(),
            public_names=public_names,
            policy_room_committed=await service.policy_room_committed(db_session, caller.group),
        )

    @put(
        "/rules",
        guards=[requires("admin")],
        summary="Change decision rules (admin); open rounds keep theirs",
    )
    async def put_rules(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[RulesIn]
    ) -> RulesOut:
        rules, public_names = await service.set_rules(
            db_session, caller.group, data.rules, data.public_names
        )
        if data.policy_room_committed is not None:
            await service.set_policy_room_committed(
                db_session, caller.group, data.policy_room_committed
            )
        return RulesOut(
            rules=rules.to_json(),
            public_names=public_names,
            policy_room_committed=await service.policy_room_committed(db_session, caller.group),
        )

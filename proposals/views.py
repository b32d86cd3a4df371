"""Read models of proposals: what the API, the pages and the documents show."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Group
from ledger.money import format_amount
from proposals import rules, service
from proposals.models import Proposal, ProposalVersion, Round
from proposals.schemas import (
    OutcomeOut,
    ProposalOut,
    ProposalSummary,
    ResponseOut,
    RoundOut,
    TallyOut,
    VersionOut,
)

_COMPARED = ("title", "body", "fund", "amount", "counterparty")


def _money(version: ProposalVersion) -> tuple[str | None, str | None, str | None]:
    if version.fund is None or version.amount is None:
        return None, None, None
    return (
        version.fund.slug,
        format_amount(version.amount, version.fund.currency),
        version.fund.currency,
    )


def _fields(version: ProposalVersion) -> dict[str, object]:
    return {
        "title": version.title,
        "body": version.body,
        "fund": version.fund_id,
        "amount": version.amount,
        "counterparty": version.counterparty,
    }


def version_out(version: ProposalVersion, before: ProposalVersion | None) -> VersionOut:
    fund, amount, currency = _money(version)
    changed = (
        []
        if before is None
        else [name for name in _COMPARED if _fields(before)[name] != _fields(version)[name]]
    )
    return VersionOut(
        version=version.version,
        title=version.title,
        body=version.body,
        fund=fund,
        amount=amount,
        currency=currency,
        counterparty=version.counterparty,
        reason=version.reason,
        author=version.author.name,
        created_at=version.created_at,
        changed=changed,
    )


def _outcome(outcome: rules.Outcome) -> OutcomeOut:
    return OutcomeOut(status=outcome.status, reason=outcome.reason, explanation=outcome.explanation)


def _tally(outcome: rules.Outcome) -> TallyOut:
    return TallyOut(
        agree=outcome.agree,
        concern=outcome.concern,
        stand_aside=outcome.stand_aside,
        block=outcome.block,
        responded=outcome.responded,
        eligible=outcome.eligible,
        quorum_needed=outcome.quorum_needed,
    )


async def _round_out(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    previous: RoundOut | None,
    show_names: bool,
) -> RoundOut:
    live = await service.live_outcome(session, group, proposal, round_)
    if round_.closed_at is not None and round_.minute:
        minute = json.loads(round_.minute)
        responses = [
            ResponseOut(
                position=r["position"],
                reason=r["reason"],
                at=r["at"],
                member=r["member"] if show_names else None,
                member_id=r["member_id"] if show_names else None,
            )
            for r in minute["responses"]
        ]
    else:
        responses = [
            ResponseOut(
                position=r.position,
                reason=r.reason,
                at=r.created_at,
                member=r.user.name if show_names else None,
                member_id=r.user_id if show_names else None,
            )
            for r in await service.latest_responses(session, round_)
        ]
    stored = (
        OutcomeOut(
            status=round_.outcome,
            reason=round_.outcome_reason or "",
            explanation=round_.explanation or "",
        )
        if round_.outcome
        else None
    )
    # The blocks and concerns of the round before are what an amendment has to answer.
    to_answer = (
        [r for r in previous.responses if r.position in ("block", "concern")]
        if previous is not None
        else []
    )
    return RoundOut(
        number=round_.number,
        version=round_.version,
        opened_at=round_.opened_at,
        closes_at=round_.closes_at,
        closed_at=round_.closed_at,
        closed_by=round_.closed_by,
        tally=_tally(live),
        outcome=stored,
        live=_outcome(live) if round_.closed_at is None else None,
        responses=responses,
        concerns_to_answer=to_answer,
    )


async def proposal_out(
    session: AsyncSession, group: Group, proposal: Proposal, *, show_names: bool
) -> ProposalOut:
    version = service.current_version(proposal)
    fund, amount, currency = _money(version)
    rounds: list[RoundOut] = []
    for round_ in proposal.rounds:
        rounds.append(
            await _round_out(
                session, group, proposal, round_, rounds[-1] if rounds else None, show_names
            )
        )
    versions = [
        version_out(v, proposal.versions[i - 1] if i else None)
        for i, v in enumerate(proposal.versions)
    ]
    authorised = paid = None
    if (
        proposal.kind == "disbursement"
        and version.fund is not None
        and version.amount is not None
        and proposal.status == "passed"
    ):
        done = (await service.paid(session, group, [proposal.number])).get(proposal.number, 0)
        authorised = format_amount(version.amount, version.fund.currency)
        paid = format_amount(done, version.fund.currency)
    return ProposalOut(
        number=proposal.number,
        kind=proposal.kind,
        status=proposal.status,
        title=version.title,
        body=version.body,
        fund=fund,
        amount=amount,
        currency=currency,
        counterparty=version.counterparty,
        author=proposal.author.name,
        created_at=proposal.created_at,
        decided_at=proposal.decided_at,
        versions=versions,
        rounds=rounds,
        authorised=authorised,
        paid=paid,
    )


def proposal_summary(proposal: Proposal) -> ProposalSummary:
    version = service.current_version(proposal)
    fund, amount, currency = _money(version)
    open_round = service.current_round(proposal)
    return ProposalSummary(
        number=proposal.number,
        kind=proposal.kind,
        status=proposal.status,
        title=version.title,
        fund=fund,
        amount=amount,
        currency=currency,
        created_at=proposal.created_at,
        closes_at=open_round.closes_at if open_round.closed_at is None else None,
    )

"""Read models of proposals: what the API, the pages and the documents show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import service as ledger_service
from ledger.models import Entry, Group
from ledger.money import format_amount
from ledger.rules import HOLDING
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


def version_out(
    version: ProposalVersion, before: ProposalVersion | None, *, show_names: bool
) -> VersionOut:
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
        author=version.author.name if show_names else None,
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
    minute = json.loads(round_.minute) if round_.closed_at is not None and round_.minute else None
    live: rules.Outcome | None = None
    if minute is not None:
        if "tally" in minute:  # frozen at close
            tally = TallyOut(**minute["tally"])
        else:  # a minute written before the tally was kept
            tally = _tally(await service.live_outcome(session, group, proposal, round_))
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
        latest = await service.latest_responses(session, round_)
        live = await service.live_outcome(session, group, proposal, round_, latest)
        tally = _tally(live)
        responses = [
            ResponseOut(
                position=r.position,
                reason=r.reason,
                at=r.created_at,
                member=r.user.name if show_names else None,
                member_id=r.user_id if show_names else None,
            )
            for r in latest
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
        tally=tally,
        outcome=stored,
        live=_outcome(live) if live is not None and round_.closed_at is None else None,
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
        version_out(v, proposal.versions[i - 1] if i else None, show_names=show_names)
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
        author=proposal.author.name if show_names else None,
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


# --- for documents: the decisions of a period, and what was paid under a proposal ----------


@dataclass(frozen=True, slots=True)
class DecisionOut:
    """A decision on a proposal: a round that closed with an outcome, or a withdrawal."""

    number: int
    round: int | None  # None for a withdrawal (it closes no round when none was open)
    title: str
    status: str
    explanation: str
    decided_at: datetime
    fund: str | None
    amount: str | None
    currency: str | None


async def decisions_between(
    session: AsyncSession, group: Group, start: datetime, end: datetime
) -> list[DecisionOut]:
    """The group's decisions taken from ``start`` (included) to ``end`` (excluded), oldest
    first: every round that closed with an outcome (a proposal blocked, amended and then
    passed made two decisions) and every withdrawal. Rounds closed by an amendment decided
    nothing and are left out."""
    rounds = await session.execute(
        select(Proposal, Round)
        .join(Round, Round.proposal_id == Proposal.id)
        .where(
            Proposal.group_id == group.id,
            Round.outcome.is_not(None),
            Round.closed_at >= start,
            Round.closed_at < end,
        )
    )
    withdrawn = await session.scalars(
        select(Proposal).where(
            Proposal.group_id == group.id,
            Proposal.status == "withdrawn",
            Proposal.decided_at >= start,
            Proposal.decided_at < end,
        )
    )
    decisions: list[DecisionOut] = []
    for proposal, round_ in rounds:
        if round_.outcome is None or round_.closed_at is None:
            continue  # the query asks for closed rounds with an outcome; this is for mypy
        version = next(v for v in proposal.versions if v.version == round_.version)
        decisions.append(
            _decision(
                proposal,
                version,
                round_.number,
                round_.outcome,
                round_.explanation or "",
                round_.closed_at,
            )
        )
    for proposal in withdrawn:
        if proposal.decided_at is None:
            continue
        decisions.append(
            _decision(
                proposal,
                service.current_version(proposal),
                None,
                "withdrawn",
                "Withdrawn by its author.",
                proposal.decided_at,
            )
        )
    decisions.sort(key=lambda d: (d.decided_at, d.number, d.round or 0))
    return decisions


def _decision(
    proposal: Proposal,
    version: ProposalVersion,
    round_number: int | None,
    status: str,
    explanation: str,
    decided_at: datetime,
) -> DecisionOut:
    fund, amount, currency = _money(version)
    return DecisionOut(
        number=proposal.number,
        round=round_number,
        title=version.title,
        status=status,
        explanation=explanation,
        decided_at=decided_at,
        fund=fund,
        amount=amount,
        currency=currency,
    )


@dataclass(frozen=True, slots=True)
class PaymentOut:
    """A ledger entry that paid money under a proposal (``amount`` > 0: money out)."""

    seq: int
    occurred_on: date
    recorded_at: datetime
    fund: str
    fund_name: str
    amount: int
    currency: str
    memo: str
    counterparty: str | None
    version: int | None
    hash: str
    leaf: bytes
    reversed_by: int | None


async def payments_under(session: AsyncSession, group: Group, number: int) -> list[PaymentOut]:
    """The entries that paid money under proposal ``number``, in ``seq`` order, each with
    the entry that reversed it, if any (a reversed payment no longer counts as paid)."""
    entries = list(
        await session.scalars(
            select(Entry)
            .where(Entry.group_id == group.id, Entry.proposal_number == number)
            .order_by(Entry.seq)
        )
    )
    reversed_by = await ledger_service.reversals_of(session, group, [e.seq for e in entries])
    payments: list[PaymentOut] = []
    for entry in entries:
        holding = [p for p in entry.postings if p.account_type == HOLDING]
        fund = holding[0].fund if holding else entry.postings[0].fund
        payments.append(
            PaymentOut(
                seq=entry.seq,
                occurred_on=entry.occurred_on,
                recorded_at=entry.recorded_at,
                fund=fund.slug,
                fund_name=fund.name,
                amount=-sum(p.amount for p in holding),
                currency=fund.currency,
                memo=entry.memo,
                counterparty=entry.counterparty,
                version=entry.proposal_version,
                hash=entry.hash,
                leaf=entry.leaf,
                reversed_by=reversed_by.get(entry.seq),
            )
        )
    return payments

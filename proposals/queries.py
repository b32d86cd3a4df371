"""The proposals' reads: what the API, the pages and the documents show of proposals,
their rounds and decisions, as typed read models (or the rows themselves for lists that a
presenter formats).

Only reads. The rules (who is eligible, what counts, what a proposal authorises) stay in
``proposals.service`` and ``proposals.rules``; these functions call them. Who may see
names is decided once, by ``names_visible``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

import msgspec
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import service as ledger_service
from ledger.canonical import parse_leaf
from ledger.groups import utcnow
from ledger.models import Entry, Fund, Group, Membership
from ledger.money import format_amount
from ledger.queries import ReversalLinks
from ledger.rules import DECISION, HOLDING
from ledger.words import N_, Words
from proposals import discussion, policies, rules, service
from proposals.minute import explanation_words, minute_of_round
from proposals.models import Notification, Proposal, ProposalVersion, Response, Round
from proposals.notify import for_member
from proposals.schemas import (
    OutcomeOut,
    PolicyTermsOut,
    ProposalOut,
    ProposalSummary,
    ResponseOut,
    RoundOut,
    TallyOut,
    TierOut,
    VersionOut,
)

PROPOSALS_PAGE = 30
DECIDED = ("passed", "blocked", "not_passed")
"""The statuses a round's decision gives a proposal."""


# --- who sees names ---------------------------------------------------------------------------


async def names_visible(session: AsyncSession, group: Group, *, member: bool) -> bool:
    """Whether the reader sees who proposed and who said what: a member always does;
    anyone else only when the group chose ``public_names``. Documents that travel beyond
    the group (the decision record) ask as a non-member. Counts, positions and reasons are
    shown to everyone either way."""
    if member:
        return True
    _, public_names = await service.get_rules(session, group)
    return public_names


# --- a proposal, whole ------------------------------------------------------------------------


def _as_written(moment: str) -> datetime:
    # A minute's moments are answered as written at close: msgspec encodes the text as is,
    # where a parsed datetime would spell its UTC offset differently.
    return cast("datetime", moment)


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
    return OutcomeOut(
        status=outcome.status,
        reason=outcome.reason,
        explanation=outcome.explanation,
        words=[sentence.to_json() for sentence in outcome.words],
    )


def _tally(outcome: rules.Outcome, *, sealed: bool = False) -> TallyOut:
    """The counts; ``sealed``: only how many responded (``service.tally_sealed``)."""
    return TallyOut(
        agree=None if sealed else outcome.agree,
        concern=None if sealed else outcome.concern,
        stand_aside=None if sealed else outcome.stand_aside,
        block=None if sealed else outcome.block,
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
    comments: int = 0,
    viewer: int | None = None,
) -> RoundOut:
    """``viewer``: the member reading, whose own response shows in a hidden tally."""
    minute = minute_of_round(round_)
    live: rules.Outcome | None = None
    sealed = service.tally_sealed(round_)
    if minute is not None:
        if minute.tally is not None:  # frozen at close
            tally = TallyOut(**msgspec.structs.asdict(minute.tally))
        else:  # a minute written before the tally was kept
            tally = _tally(await service.live_outcome(session, group, proposal, round_))
        responses = [
            ResponseOut(
                position=r.position,
                reason=r.reason,
                at=_as_written(r.at),
                member=r.member if show_names else None,
                member_id=r.member_id if show_names else None,
            )
            for r in minute.responses
        ]
    else:
        latest = await service.latest_responses(session, round_)
        live = await service.live_outcome(session, group, proposal, round_, latest)
        tally = _tally(live, sealed=sealed)
        if sealed:  # the reader's own response only, and what would happen stays unsaid
            latest = [r for r in latest if viewer is not None and r.user_id == viewer]
            live = None
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
            words=None
            if minute is None or minute.outcome is None or minute.outcome.words is None
            else minute.outcome.words,
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
        comments=comments,
        tier=tier_out(service.tier_of(round_)),
        urgent_passed_at=round_.urgent_passed_at,
        tally_hidden=sealed,
    )


async def decisions_of(session: AsyncSession, group: Group, number: int) -> dict[int, int]:
    """Where the log holds each decided round of proposal ``number``: round -> entry seq."""
    leaves = await session.execute(
        select(Entry.seq, Entry.leaf)
        .where(
            Entry.group_id == group.id,
            Entry.proposal_number == number,
            Entry.kind == DECISION,
        )
        # A round that passed urgently has two leaves; the later (its close) is its record.
        .order_by(Entry.seq)
    )
    found: dict[int, int] = {}
    for seq, leaf in leaves:
        decision = parse_leaf(leaf).decision
        if decision is not None:
            found[int(decision.round)] = seq
    return found


def tier_out(tier: rules.ChosenTier | None) -> TierOut | None:
    if tier is None:
        return None
    data = tier.tier.to_json(tier.minor_digits)
    return TierOut(
        number=tier.number,
        label=tier.label,
        why=tier.why,
        mode=tier.tier.mode,
        min_deadline_hours=tier.tier.min_deadline_hours,
        quorum=str(data["quorum"]),
        urgent_agreements=tier.tier.urgent_agreements,
    )


def urgent_decision(proposal: Proposal) -> str | None:
    """ "passed urgently, confirmed" (or "not confirmed", "awaiting confirmation"): the
    latest round where the proposal passed urgently, if any."""
    urgent = [r for r in proposal.rounds if r.urgent_passed_at is not None]
    if not urgent:
        return None
    round_ = urgent[-1]
    state = rules.urgent_state(True, round_.closed_at is not None, round_.outcome)
    return f"passed urgently, {state}"


async def proposal_out(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    *,
    show_names: bool,
    viewer: int | None = None,
) -> ProposalOut:
    """The proposal as one reader may read it: ``show_names`` from ``names_visible``;
    ``viewer``, the member reading (their own response shows in a hidden tally)."""
    version = service.current_version(proposal)
    fund, amount, currency = _money(version)
    rounds: list[RoundOut] = []
    # The discussion during each round: its record links to it (the minute stays as written).
    comments = await discussion.comments_per_round(session, proposal)
    logged = await decisions_of(session, group, proposal.number)
    for round_ in proposal.rounds:
        out = await _round_out(
            session,
            group,
            proposal,
            round_,
            rounds[-1] if rounds else None,
            show_names,
            comments.get(round_.number, 0),
            viewer,
        )
        out.decided_in = logged.get(round_.number)
        rounds.append(out)
    versions = [
        version_out(v, proposal.versions[i - 1] if i else None, show_names=show_names)
        for i, v in enumerate(proposal.versions)
    ]
    authorised = paid = None
    urgently = urgent_decision(proposal)
    if (
        proposal.kind == "disbursement"
        and version.fund is not None
        and version.amount is not None
        # Money paid under an urgent decision later not confirmed stays paid, and shows.
        and (proposal.status == "passed" or urgently is not None)
    ):
        done = (await service.paid(session, group, [proposal.number])).get(proposal.number, 0)
        if proposal.status == "passed":
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
        policy=await _policy_terms(session, proposal),
        urgent=proposal.urgent,
        urgent_decision=urgently,
    )


async def _policy_terms(session: AsyncSession, proposal: Proposal) -> PolicyTermsOut | None:
    if proposal.kind != policies.POLICY:
        return None
    version = service.current_version(proposal)
    terms = await policies.terms_of(session, version)
    currency = version.fund.currency if version.fund else ""
    return policies.terms_out(terms, currency) if terms is not None else None


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


# --- lists of proposals -------------------------------------------------------------------------


async def open_proposals(session: AsyncSession, group: Group, *, limit: int) -> list[Proposal]:
    """Open proposals, the next deadline first (most are few; ``limit`` bounds the page)."""
    deadline = (  # the deadline of the proposal's latest round, the one open
        select(Round.closes_at)
        .where(Round.proposal_id == Proposal.id)
        .order_by(Round.number.desc())
        .limit(1)
        .correlate(Proposal)
        .scalar_subquery()
    )
    return list(
        await session.scalars(
            select(Proposal)
            .where(Proposal.group_id == group.id, Proposal.status == "open")
            .order_by(deadline, Proposal.number)
            .limit(limit)
        )
    )


async def recently_decided(
    session: AsyncSession, group: Group, *, limit: int, statuses: Sequence[str] = DECIDED
) -> list[Proposal]:
    """Proposals with one of ``statuses`` (by default decided by a round: passed, blocked or
    not passed), the latest decision first."""
    return list(
        await session.scalars(
            select(Proposal)
            .where(Proposal.group_id == group.id, Proposal.status.in_(list(statuses)))
            .order_by(Proposal.decided_at.desc(), Proposal.number.desc())
            .limit(limit)
        )
    )


async def closed_proposals(
    session: AsyncSession, group: Group, *, before: int | None = None, limit: int = PROPOSALS_PAGE
) -> tuple[list[Proposal], int | None]:
    """Proposals no longer open (decided or withdrawn), newest number first, by keyset on
    the number; returns the page and the ``before`` of the next."""
    statement = select(Proposal).where(Proposal.group_id == group.id, Proposal.status != "open")
    if before is not None:
        statement = statement.where(Proposal.number < before)
    rows = list(await session.scalars(statement.order_by(Proposal.number.desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].number
    return rows, None


async def in_discussion(session: AsyncSession, group: Group) -> list[Proposal]:
    """Proposals still in discussion: open ones, then blocked ones their author may amend
    (each newest number first)."""
    return [
        proposal
        for status in ("open", "blocked")
        for proposal in await service.list_proposals(session, group, status)
    ]


@dataclass(frozen=True, slots=True)
class LiveTally:
    """Where an open round stands, as the lists show it."""

    tally: TallyOut  # no counts of positions while the tally is hidden
    explanation: str  # what would happen if it closed now; empty while hidden
    words: tuple[Words, ...] = ()  # the explanation, to translate


async def live_tallies(
    session: AsyncSession, group: Group, proposals: Sequence[Proposal]
) -> dict[int, LiveTally]:
    """The live tally of each proposal's open round, by proposal number (none for a
    proposal whose round is closed)."""
    tallies: dict[int, LiveTally] = {}
    for proposal in proposals:
        round_ = service.current_round(proposal)
        if round_.closed_at is None:
            live = await service.live_outcome(session, group, proposal, round_)
            sealed = service.tally_sealed(round_)
            tallies[proposal.number] = LiveTally(
                _tally(live, sealed=sealed),
                "" if sealed else live.explanation,
                () if sealed else live.words,
            )
    return tallies


@dataclass(frozen=True, slots=True)
class Awaiting:
    """A proposal whose open round waits for the reader's response."""

    group: Group
    proposal: Proposal


async def awaiting_response(
    session: AsyncSession,
    user_id: int,
    group: Group | None = None,
    now: datetime | None = None,
) -> list[Awaiting]:
    """Open rounds, in my groups (or one of them), where I count and have not responded
    yet: soonest deadline first."""
    now = now or utcnow()
    query = (
        select(Proposal, Round, Group)
        .join(Round, Round.proposal_id == Proposal.id)
        .join(Group, Group.id == Proposal.group_id)
        .join(
            Membership,
            (Membership.group_id == Group.id)
            & (Membership.user_id == user_id)
            & Membership.removed_at.is_(None),
        )
        .where(Proposal.status == "open", Round.closed_at.is_(None), Round.closes_at > now)
        .order_by(Round.closes_at, Group.name, Proposal.number)
    )
    if group is not None:
        query = query.where(Proposal.group_id == group.id)
    rows = [
        (proposal, round_, owner)
        for proposal, round_, owner in (await session.execute(query)).all()
        if user_id in service.eligible_of(round_)
        # A member who would receive the money does not count in its rounds.
        and not (
            proposal.beneficiary_id == user_id and service.rules_of(round_).exclude_beneficiary
        )
    ]
    if not rows:
        return []
    answered = set(
        await session.scalars(
            select(Response.round_id).where(
                Response.user_id == user_id,
                Response.round_id.in_([round_.id for _, round_, _ in rows]),
            )
        )
    )
    return [
        Awaiting(owner, proposal) for proposal, round_, owner in rows if round_.id not in answered
    ]


# --- decisions ---------------------------------------------------------------------------------

WITHDRAWN = Words(N_("Withdrawn by its author."))


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision on a proposal: a round that closed with an outcome, or a withdrawal.
    The feed, the pages and the audit statement all show these."""

    number: int
    round: int | None  # None for a withdrawal (it closes no round when none was open)
    title: str
    status: str
    explanation: str  # in English, as stored
    decided_at: datetime
    fund: str | None  # the fund's slug
    amount: str | None  # decimal text in the currency's major unit
    currency: str | None
    # The explanation, to translate (None: decided before its words were kept).
    words: tuple[Words, ...] | None = None


def _decision(
    proposal_number: int,
    version: ProposalVersion,
    round_number: int | None,
    status: str,
    explanation: str,
    decided_at: datetime,
    title: str | None = None,
    words: tuple[Words, ...] | None = None,
) -> Decision:
    fund, amount, currency = _money(version)
    return Decision(
        number=proposal_number,
        round=round_number,
        title=title or version.title,
        status=status,
        explanation=explanation,
        decided_at=decided_at,
        words=words,
        fund=fund,
        amount=amount,
        currency=currency,
    )


async def recent_decisions(session: AsyncSession, group: Group, *, limit: int) -> list[Decision]:
    """Rounds closed with a decision (passed, blocked, not passed), newest first. A proposal
    blocked and then passed after an amendment made two decisions."""
    rows = await session.execute(
        select(Round, Proposal.number, ProposalVersion)
        .join(Proposal, Proposal.id == Round.proposal_id)
        .join(
            ProposalVersion,
            and_(
                ProposalVersion.proposal_id == Proposal.id,
                ProposalVersion.version == Round.version,
            ),
        )
        .where(
            Proposal.group_id == group.id,
            Round.closed_at.is_not(None),
            Round.outcome.in_(DECIDED),
        )
        .order_by(Round.closed_at.desc(), Round.id.desc())
        .limit(limit)
    )
    decisions: list[Decision] = []
    for round_, number, version in rows:
        if round_.closed_at is None or round_.outcome is None:
            continue  # the query asks for closed rounds with an outcome; this is for mypy
        # The minute keeps the title the round decided on, after title-only amendments too.
        minute = minute_of_round(round_)
        decisions.append(
            _decision(
                number,
                version,
                round_.number,
                round_.outcome,
                round_.explanation or "",
                round_.closed_at,
                title=minute.version.title if minute is not None else None,
                words=explanation_words(round_),
            )
        )
    return decisions


async def decisions_between(
    session: AsyncSession, group: Group, start: datetime, end: datetime
) -> list[Decision]:
    """The group's decisions taken from ``start`` (included) to ``end`` (excluded), oldest
    first: every round that closed with an outcome (a proposal blocked, amended and then
    passed made two decisions) and every withdrawal. Rounds closed by an amendment decided
    nothing and are left out. Each is named by the title of the version its round was on."""
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
    decisions: list[Decision] = []
    for proposal, round_ in rounds:
        if round_.outcome is None or round_.closed_at is None:
            continue  # the query asks for closed rounds with an outcome; this is for mypy
        version = next(v for v in proposal.versions if v.version == round_.version)
        decisions.append(
            _decision(
                proposal.number,
                version,
                round_.number,
                round_.outcome,
                round_.explanation or "",
                round_.closed_at,
                words=explanation_words(round_),
            )
        )
    for proposal in withdrawn:
        if proposal.decided_at is None:
            continue
        decisions.append(
            _decision(
                proposal.number,
                service.current_version(proposal),
                None,
                "withdrawn",
                WITHDRAWN.english,
                proposal.decided_at,
                words=(WITHDRAWN,),
            )
        )
    decisions.sort(key=lambda d: (d.decided_at, d.number, d.round or 0))
    return decisions


# --- money paid under a proposal, and what is left to pay --------------------------------------


async def payment_entries(session: AsyncSession, group: Group, number: int) -> list[Entry]:
    """The ledger entries that paid money under proposal ``number``, newest first."""
    return list(
        await session.scalars(
            select(Entry)
            .where(
                Entry.group_id == group.id,
                Entry.proposal_number == number,
                Entry.kind != DECISION,  # the decision leaf names the proposal too
            )
            .order_by(Entry.seq.desc())
        )
    )


def paid_under(payments: Sequence[Entry], links: ReversalLinks) -> int:
    """Money paid by ``payments`` (the entries made under one proposal), less those reversed:
    what ``proposals.service.paid`` counts, from rows a page has read already."""
    return sum(
        -posting.amount
        for entry in payments
        if entry.seq not in links.reversed_by
        for posting in entry.postings
        if posting.account_type == HOLDING
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
            .where(
                Entry.group_id == group.id,
                Entry.proposal_number == number,
                Entry.kind != DECISION,  # the decision leaf names the proposal too
            )
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


@dataclass(frozen=True, slots=True)
class Payable:
    """A passed proposal to pay money with some of it still unpaid."""

    number: int
    title: str
    fund: Fund
    authorised: int  # minor units
    remaining: int  # minor units
    counterparty: str | None  # whom the group decided to pay (None: nobody named)


async def payable_proposals(session: AsyncSession, group: Group) -> list[Payable]:
    """The proposals a steward may pay under now (the ledger checks again when paying)."""
    promised = await service.authorised(session, group)
    if not promised:
        return []
    done = await service.paid(session, group, list(promised))
    funds = {fund.id: fund for fund in await ledger_service.list_funds(session, group)}
    payable: list[Payable] = []
    for proposal in await service.list_proposals(session, group, "passed"):
        if proposal.number not in promised:
            continue
        fund_id, amount = promised[proposal.number]
        remaining = amount - done.get(proposal.number, 0)
        if remaining > 0:
            version = service.current_version(proposal)
            payable.append(
                Payable(
                    number=proposal.number,
                    title=version.title,
                    fund=funds[fund_id],
                    authorised=amount,
                    remaining=remaining,
                    counterparty=version.counterparty,
                )
            )
    return payable


# --- notifications -----------------------------------------------------------------------------


# How far back the inbox looks (its lines are grouped per proposal from these).
INBOX_DEPTH = 500
# How many lines the inbox shows (the page and the API alike).
INBOX_LINES = 100


@dataclass(frozen=True, slots=True)
class InboxLine:
    """One line of a member's inbox: the newest notification about one thing (a proposal
    gathers the notifications of all its rounds), read only when all of them are."""

    notification: Notification
    group: Group
    unread: bool
    proposal: Proposal | None  # open, when the line is about a proposal


async def inbox(
    session: AsyncSession, user_id: int, *, limit: int = INBOX_LINES
) -> list[InboxLine]:
    """My inbox, newest first: one line per proposal still open (decided ones fall away)
    and one per other notification, of the groups I still belong to."""
    notifications = await my_notifications(session, user_id, limit=INBOX_DEPTH)
    numbers_by_group: dict[int, set[int]] = {}
    for notification, group in notifications:
        if notification.proposal_number is not None:
            numbers_by_group.setdefault(group.id, set()).add(notification.proposal_number)
    proposals: dict[tuple[int, int], Proposal] = {}
    for group_id, numbers in numbers_by_group.items():
        for found in await session.scalars(
            select(Proposal).where(Proposal.group_id == group_id, Proposal.number.in_(numbers))
        ):
            proposals[(group_id, found.number)] = found
    lines: list[InboxLine] = []
    seen: dict[tuple[int, int], int] = {}  # (group, proposal) -> index of its line
    for notification, group in notifications:  # newest first
        number = notification.proposal_number
        if number is None:
            lines.append(InboxLine(notification, group, notification.read_at is None, None))
            continue
        proposal = proposals.get((group.id, number))
        if proposal is None or proposal.status != "open":
            continue
        key = (group.id, number)
        if key in seen:
            line = lines[seen[key]]
            if notification.read_at is None and not line.unread:
                lines[seen[key]] = InboxLine(line.notification, group, True, proposal)
            continue
        seen[key] = len(lines)
        lines.append(InboxLine(notification, group, notification.read_at is None, proposal))
    return lines[:limit]


async def my_notifications(
    session: AsyncSession, user_id: int, *, limit: int
) -> list[tuple[Notification, Group]]:
    """My newest notifications, of the groups I still belong to, each with its group."""
    notifications = await for_member(session, user_id, limit=limit)
    if not notifications:
        return []
    groups = {
        group.id: group
        for group in await session.scalars(
            select(Group)
            .join(Membership, Membership.group_id == Group.id)
            .where(Membership.user_id == user_id, Membership.removed_at.is_(None))
        )
    }
    return [
        (notification, groups[notification.group_id])
        for notification in notifications
        if notification.group_id in groups
    ]

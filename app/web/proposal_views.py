"""Proposals as the members' pages show them: what awaits my response, the group's open
and decided proposals, the proposals a payment can be made under, and my notifications.

Only reads. The rules (who is eligible, what counts, what a proposal authorises) stay in
``proposals.service``; these functions call it and format the answers for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.web.templating import Formatter
from ledger.groups import utcnow
from ledger.models import Fund, Group, Membership
from ledger.money import format_amount
from proposals import service
from proposals.labels import STATUS_LABELS
from proposals.models import Notification, Proposal, ProposalVersion, Response, Round
from proposals.notify import for_member

RECENT_DECISIONS = 5
SHOWN_NOTIFICATIONS = 20


def money_text(version: ProposalVersion, fmt: Formatter) -> str:
    """``€80.00 from Rent relief``, or empty for a proposal that pays nothing."""
    if version.fund is None or version.amount is None:
        return ""
    return f"{fmt.money(version.amount, version.fund.currency)} from {version.fund.name}"


@dataclass(frozen=True, slots=True)
class ProposalCard:
    """One line about a proposal in a list."""

    group_slug: str
    group_name: str
    number: int
    title: str
    status: str
    status_label: str
    money: str
    closes_at: str  # the open round's deadline, as people read it; empty when closed
    responded: str  # "2 of 4 members have responded"; empty when not counted
    mine: bool  # the reader wrote it


def _card(
    group: Group,
    proposal: Proposal,
    fmt: Formatter,
    reader_id: int,
    responded: str = "",
) -> ProposalCard:
    version = service.current_version(proposal)
    round_ = service.current_round(proposal)
    return ProposalCard(
        group_slug=group.slug,
        group_name=group.name,
        number=proposal.number,
        title=version.title,
        status=proposal.status,
        status_label=STATUS_LABELS.get(proposal.status, proposal.status),
        money=money_text(version, fmt),
        closes_at=fmt.moment(round_.closes_at) if round_.closed_at is None else "",
        responded=responded,
        mine=proposal.author_id == reader_id,
    )


async def awaiting_response(
    session: AsyncSession,
    user_id: int,
    fmt: Formatter,
    group: Group | None = None,
    now: datetime | None = None,
) -> list[ProposalCard]:
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
        _card(owner, proposal, fmt, user_id)
        for proposal, round_, owner in rows
        if round_.id not in answered
    ]


async def _responded_text(session: AsyncSession, group: Group, proposal: Proposal) -> str:
    round_ = service.current_round(proposal)
    if round_.closed_at is not None:
        return ""
    tally = await service.live_outcome(session, group, proposal, round_)
    return f"{tally.responded} of {tally.eligible} members have responded"


async def open_proposals(
    session: AsyncSession, group: Group, fmt: Formatter, reader_id: int
) -> list[ProposalCard]:
    """Proposals still in discussion: open ones, and blocked ones their author may amend."""
    cards: list[ProposalCard] = []
    for status in ("open", "blocked"):
        for proposal in await service.list_proposals(session, group, status):
            responded = await _responded_text(session, group, proposal)
            cards.append(_card(group, proposal, fmt, reader_id, responded))
    return cards


async def recent_decisions(
    session: AsyncSession, group: Group, fmt: Formatter, reader_id: int
) -> list[ProposalCard]:
    decided = [
        p
        for p in await service.list_proposals(session, group)
        if p.status in ("passed", "not_passed", "withdrawn")
    ]
    decided.sort(key=lambda p: p.decided_at or p.created_at, reverse=True)
    return [_card(group, p, fmt, reader_id) for p in decided[:RECENT_DECISIONS]]


# --- payments under a decision -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayableProposal:
    """A passed proposal to pay money with some of it still unpaid."""

    number: int
    title: str
    fund_slug: str
    fund_name: str
    remaining: str
    authorised: str
    counterparty: str | None  # whom the group decided to pay (None: nobody named)
    left_to_pay: str  # the remaining amount as a form field takes it, such as "380.00"

    @property
    def label(self) -> str:
        return f"#{self.number} {self.title}: {self.remaining} left to pay from {self.fund_name}"


async def payable_proposals(
    session: AsyncSession, group: Group, fmt: Formatter
) -> list[PayableProposal]:
    """The proposals a steward may pay under now (the ledger checks again when paying)."""
    promised = await service.authorised(session, group)
    if not promised:
        return []
    done = await service.paid(session, group, list(promised))
    funds = {
        fund.id: fund
        for fund in await session.scalars(select(Fund).where(Fund.group_id == group.id))
    }
    payable: list[PayableProposal] = []
    for proposal in await service.list_proposals(session, group, "passed"):
        if proposal.number not in promised:
            continue
        fund_id, amount = promised[proposal.number]
        remaining = amount - done.get(proposal.number, 0)
        fund = funds[fund_id]
        if remaining > 0:
            version = service.current_version(proposal)
            payable.append(
                PayableProposal(
                    number=proposal.number,
                    title=version.title,
                    fund_slug=fund.slug,
                    fund_name=fund.name,
                    remaining=fmt.money(remaining, fund.currency),
                    authorised=fmt.money(amount, fund.currency),
                    counterparty=version.counterparty,
                    left_to_pay=format_amount(remaining, fund.currency),
                )
            )
    return payable


# --- notifications -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationView:
    subject: str
    body: str
    group_name: str
    at: str
    link: str
    link_text: str


def _link(notification: Notification, slug: str) -> tuple[str, str]:
    if notification.kind == "new_request":
        return f"/m/{slug}/requests", "Open the stewards' queue"
    if notification.proposal_number is not None:
        return f"/m/{slug}/proposals/{notification.proposal_number}", "Open the proposal"
    return f"/m/{slug}", "Open the group"


async def my_notifications(
    session: AsyncSession, user_id: int, fmt: Formatter, limit: int = SHOWN_NOTIFICATIONS
) -> list[NotificationView]:
    """My newest notifications, of the groups I still belong to."""
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
    views: list[NotificationView] = []
    for notification in notifications:
        group = groups.get(notification.group_id)
        if group is None:
            continue
        link, link_text = _link(notification, group.slug)
        views.append(
            NotificationView(
                subject=notification.subject,
                body=notification.body,
                group_name=group.name,
                at=fmt.moment(notification.created_at),
                link=link,
                link_text=link_text,
            )
        )
    return views

"""Reimbursements: a member who paid for the group out of pocket files a claim.

A claim is a disbursement proposal whose recipient is the member's pseudonym
(``M-<membership id>``: stable, and it says nothing about who they are), decided by the
group's rules like any other, except that the claimant's own response never counts
(``service._counting``). Its receipt is cleaned and kept when the claim is filed; when a
steward records the payment under the claim's proposal, the receipt is attached to that
payment (``receipt_to_attach``). Nobody pays themselves under a spending policy
(``pseudonyms.refuse_payment_to_oneself``): money to oneself needs the group's decision.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.cleaning import CleanFile
from ledger.files import sha256_of
from ledger.groups import active_membership, utcnow
from ledger.models import Entry, Group, User
from ledger.money import format_amount
from proposals import service
from proposals.errors import NotAllowed
from proposals.models import Claim, Proposal
from proposals.pseudonyms import pseudonym
from proposals.schemas import ClaimIn, ClaimOut, ClaimReceiptOut, ProposalIn


async def file_claim(
    session: AsyncSession,
    group: Group,
    claimant: User,
    data: ClaimIn,
    receipt: CleanFile,
    now: datetime | None = None,
) -> tuple[Proposal, Claim]:
    """Open the claim's proposal (to the claimant's pseudonym, the claimant its beneficiary)
    and record its receipt; the caller keeps the receipt's bytes in its store."""
    now = now or utcnow()
    membership = await active_membership(session, group.id, claimant.id)
    if membership is None:
        raise NotAllowed(f"Only members of {group.slug!r} can file a claim there.")
    proposal = await service.create_proposal(
        session,
        group,
        claimant,
        ProposalIn(
            title=data.what_for,
            body=data.body,
            fund=data.fund,
            amount=data.amount,
            counterparty=pseudonym(membership),
            beneficiary=membership.id,
        ),
        now,
    )
    claim = Claim(
        group_id=group.id,
        proposal_id=proposal.id,
        claimant_id=claimant.id,
        sha256=sha256_of(receipt.content),
        content_type=receipt.content_type,
        size=len(receipt.content),
        created_at=now,
    )
    session.add(claim)
    await session.flush()
    # The claim counts its claimant out from now on; a round that opened without it knowing
    # has no responses yet, so nothing was counted wrongly.
    return proposal, claim


def claim_out(proposal: Proposal, claim: Claim) -> ClaimOut:
    version = service.current_version(proposal)
    assert version.fund is not None
    assert version.amount is not None
    return ClaimOut(
        proposal=proposal.number,
        counterparty=version.counterparty or "",
        fund=version.fund.slug,
        amount=format_amount(version.amount, version.fund.currency),
        what_for=version.title,
        status=proposal.status,
        receipt=ClaimReceiptOut(
            sha256=claim.sha256, content_type=claim.content_type, size=claim.size
        ),
    )


async def receipt_to_attach(session: AsyncSession, group: Group, entry: Entry) -> Claim | None:
    """The claim whose receipt goes with this payment: the claim its proposal is, if any."""
    if entry.kind != "disbursement" or entry.proposal_number is None:
        return None
    claim: Claim | None = await session.scalar(
        select(Claim)
        .join(Proposal, Proposal.id == Claim.proposal_id)
        .where(Proposal.group_id == group.id, Proposal.number == entry.proposal_number)
    )
    return claim


async def list_claims(session: AsyncSession, group: Group) -> list[ClaimOut]:
    """The group's claims, newest first, each with where its proposal stands."""
    rows = await session.execute(
        select(Proposal, Claim)
        .join(Claim, Claim.proposal_id == Proposal.id)
        .where(Claim.group_id == group.id)
        .order_by(Proposal.number.desc())
    )
    return [claim_out(proposal, claim) for proposal, claim in rows]


async def claim_of(session: AsyncSession, proposal: Proposal) -> Claim | None:
    """The claim this proposal is, if it is one."""
    claim: Claim | None = await session.scalar(
        select(Claim).where(Claim.proposal_id == proposal.id)
    )
    return claim

"""Reimbursements: a member who paid for the group out of pocket files a claim.

A claim is a disbursement proposal whose recipient is the member's pseudonym
(``M-<membership id>``: stable, and it says nothing about who they are), decided by the
group's rules like any other, except that the claimant's own response never counts
(``service._counting``). Or, where the group adopted a spending policy that pays
reimbursements, the claim names that policy and opens no proposal: a steward pays it under
the policy, within its limits like any payment under it, naming the claim
(``policies.authorise_claim_payment``). Its receipt is cleaned and kept when the claim is
filed; when a steward records the payment, the receipt is attached to that payment
(``receipt_to_attach``). Nobody pays themselves under a spending policy: neither their own
claim (``policies.authorise_claim_payment``) nor their own pseudonym
(``pseudonyms.refuse_payment_to_oneself``); money to oneself needs someone else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import attachments
from ledger.cleaning import CleanFile
from ledger.files import sha256_of
from ledger.groups import active_membership, utcnow
from ledger.models import Entry, Group, User
from ledger.money import format_amount, parse_amount
from ledger.service import get_fund
from proposals import policies, service
from proposals.errors import InvalidProposal, NotAllowed
from proposals.models import Claim, ClaimPayment, Proposal
from proposals.pseudonyms import pseudonym
from proposals.schemas import ClaimIn, ClaimOut, ClaimReceiptOut, ProposalIn

# Where a claim under a policy stands (a claim under a proposal stands where its proposal does).
AWAITING_PAYMENT = "awaiting_payment"
PAID = "paid"


async def file_claim(
    session: AsyncSession,
    group: Group,
    claimant: User,
    data: ClaimIn,
    receipt: CleanFile,
    now: datetime | None = None,
) -> tuple[Proposal | None, Claim]:
    """Open the claim's proposal (to the claimant's pseudonym, the claimant its beneficiary),
    or, when it names a policy that pays reimbursements, file it to be paid under that
    policy (no proposal); and record its receipt. The caller keeps the receipt's bytes in
    its store."""
    now = now or utcnow()
    membership = await active_membership(session, group.id, claimant.id)
    if membership is None:
        raise NotAllowed(f"Only members of {group.slug!r} can file a claim there.")
    if data.policy is not None:
        claim = await _claim_under_policy(
            session, group, claimant, pseudonym(membership), data, receipt, now
        )
        return None, claim
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


async def _claim_under_policy(
    session: AsyncSession,
    group: Group,
    claimant: User,
    counterparty: str,
    data: ClaimIn,
    receipt: CleanFile,
    now: datetime,
) -> Claim:
    """A claim the policy ``data.policy`` is to pay: it must pay reimbursements, from this
    fund, at most this much per payment (the month's room is checked when it is paid)."""
    assert data.policy is not None
    policy = await policies.policy_paying_claims(session, group, data.policy, now.date())
    fund = await get_fund(session, group, data.fund)
    amount = parse_amount(data.amount, fund.currency)
    if policy.fund.id != fund.id:
        raise InvalidProposal(
            f"Policy {policy.number} pays from {policy.fund.name}, not {fund.name}.", field="fund"
        )
    assert policy.terms.max_per_payment is not None
    if amount > policy.terms.max_per_payment:
        most = format_amount(policy.terms.max_per_payment, fund.currency)
        raise InvalidProposal(
            f"Policy {policy.number} pays at most {most} {fund.currency} at a time: file this "
            "claim without the policy, and the group decides on it.",
            field="amount",
        )
    claim = Claim(
        group_id=group.id,
        proposal_id=None,
        policy_number=policy.number,
        fund_id=fund.id,
        amount=amount,
        what_for=service._clean_text(data.what_for, "what_for", required=True),
        body=service._clean_text(data.body, "body"),
        counterparty=counterparty,
        claimant_id=claimant.id,
        sha256=sha256_of(receipt.content),
        content_type=receipt.content_type,
        size=len(receipt.content),
        created_at=now,
    )
    session.add(claim)
    await session.flush()
    await session.refresh(claim, ["fund"])
    return claim


async def record_claim_payment(
    session: AsyncSession, group: Group, entry: Entry, claim_id: int | None
) -> Claim | None:
    """Link a payment made under a policy to the claim it pays (checked when it was
    authorised); the claim whose receipt goes with it, or None."""
    if claim_id is None or entry.kind != "disbursement" or entry.policy_number is None:
        return None
    claim = await session.get(Claim, claim_id)
    if claim is None or claim.group_id != group.id:
        return None
    if await session.get(ClaimPayment, claim.id) is None:
        session.add(
            ClaimPayment(claim_id=claim.id, group_id=group.id, seq=entry.seq, created_at=utcnow())
        )
        await session.flush()
    return claim


def claim_out(proposal: Proposal | None, claim: Claim, paid_in: int | None = None) -> ClaimOut:
    receipt = ClaimReceiptOut(
        sha256=claim.sha256,
        content_type=claim.content_type,
        size=claim.size,
        erased_on=claim.receipt_erased_at.date() if claim.receipt_erased_at else None,
    )
    if proposal is None:
        assert claim.fund is not None
        assert claim.amount is not None
        return ClaimOut(
            id=claim.id,
            proposal=None,
            policy=claim.policy_number,
            paid_in=paid_in,
            counterparty=claim.counterparty or "",
            fund=claim.fund.slug,
            amount=format_amount(claim.amount, claim.fund.currency),
            what_for=claim.what_for or "",
            status=PAID if paid_in is not None else AWAITING_PAYMENT,
            receipt=receipt,
        )
    version = service.current_version(proposal)
    assert version.fund is not None
    assert version.amount is not None
    return ClaimOut(
        id=claim.id,
        proposal=proposal.number,
        policy=None,
        paid_in=None,
        counterparty=version.counterparty or "",
        fund=version.fund.slug,
        amount=format_amount(version.amount, version.fund.currency),
        what_for=version.title,
        status=proposal.status,
        receipt=receipt,
    )


async def receipt_to_attach(
    session: AsyncSession, group: Group, entry: Entry, claim_id: int | None = None
) -> Claim | None:
    """The claim whose receipt goes with this payment: the claim its proposal is, or the
    claim (``claim_id``) it pays under a policy, linked to it here; or None."""
    if entry.kind == "disbursement" and entry.policy_number is not None:
        return await record_claim_payment(session, group, entry, claim_id)
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
    rows = list(
        await session.execute(
            select(Claim, ClaimPayment.seq)
            .outerjoin(ClaimPayment, ClaimPayment.claim_id == Claim.id)
            .where(Claim.group_id == group.id)
            .order_by(Claim.id.desc())
        )
    )
    # (Proposals apart: their eager inner joins would drop the claims that have none.)
    ids = [claim.proposal_id for claim, _ in rows if claim.proposal_id is not None]
    proposals = {
        proposal.id: proposal
        for proposal in await session.scalars(select(Proposal).where(Proposal.id.in_(ids)))
    }
    return [claim_out(proposals.get(claim.proposal_id or 0), claim, seq) for claim, seq in rows]


async def get_claim(session: AsyncSession, group: Group, claim_id: int) -> ClaimOut | None:
    """One claim of the group, as the list shows it."""
    for found in await list_claims(session, group):
        if found.id == claim_id:
            return found
    return None


# --- erasure ---------------------------------------------------------------------------------


async def erase_receipts(
    session: AsyncSession, group: Group, claimant_id: int, now: datetime | None = None
) -> list[str]:
    """Erase the receipts of every claim ``claimant_id`` filed in ``group`` (their data:
    where they shopped, when, often their card): the claims keep the hash and say when it
    was erased, every attachment of those files is erased too (its leaf and hash stay in the
    log), and the files leave the store once this is committed (``erased_hashes``). The
    hashes erased, sorted."""
    now = now or utcnow()
    filed = list(
        await session.scalars(
            select(Claim).where(Claim.group_id == group.id, Claim.claimant_id == claimant_id)
        )
    )
    for claim in filed:
        if claim.receipt_erased_at is None:
            claim.receipt_erased_at = now
    await session.flush()
    return await attachments.erase_hashes(session, {claim.sha256 for claim in filed}, now)


async def erased_hashes(session: AsyncSession) -> list[str]:
    """Claims' receipts that were erased and that no claim or attachment still keeps: none
    of them may stay in the store (a receipt never attached is kept for its claim only)."""
    kept_by_claims = select(Claim.sha256).where(Claim.receipt_erased_at.is_(None))
    rows = await session.scalars(
        select(Claim.sha256)
        .where(
            Claim.receipt_erased_at.is_not(None),
            Claim.sha256.not_in(kept_by_claims),
            Claim.sha256.not_in(attachments.kept_hashes()),
        )
        .distinct()
    )
    return sorted(rows)


async def find_claim(session: AsyncSession, group: Group, claim_id: int) -> Claim | None:
    claim = await session.get(Claim, claim_id)
    return claim if claim is not None and claim.group_id == group.id else None


async def claims_of(session: AsyncSession, group: Group) -> list[Claim]:
    return list(await session.scalars(select(Claim).where(Claim.group_id == group.id)))


async def claim_of(session: AsyncSession, proposal: Proposal) -> Claim | None:
    """The claim this proposal is, if it is one."""
    claim: Claim | None = await session.scalar(
        select(Claim).where(Claim.proposal_id == proposal.id)
    )
    return claim

"""Spending policies: standing decisions that small payments run under.

A policy is adopted by a proposal of kind ``policy``, decided by the same consensus rules as
any other. Its terms (``PolicyTerms``, written once with each version) say the fund, the most
per payment, the most per calendar month, who may pay under it, its purpose and an optional
last day. A later policy proposal that ``replaces`` it amends it (new terms) or ends it (no
terms) once that proposal passes. A payment names the policy by its proposal's number; the
ledger asks ``authorise_under_policy`` while it holds the group's log lock, so racing
payments are decided one after the other and a month's room is never overspent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import queries
from ledger.errors import NotAuthorised
from ledger.groups import active_membership, utcnow
from ledger.models import Entry, Fund, Group, Membership
from ledger.money import format_amount, parse_amount
from ledger.service import Payment, get_fund
from proposals.errors import InvalidProposal
from proposals.models import Claim, ClaimPayment, PolicyTerms, Proposal, ProposalVersion
from proposals.schemas import PolicyIn, PolicyOut, PolicyTermsOut

POLICY = "policy"
PURPOSE_MAX = 500

# A policy's standing, as its page and the API say it.
IN_FORCE = "in_force"
ENDED = "ended"  # ended or amended by a later policy that passed
EXPIRED = "expired"  # past its last day


@dataclass(frozen=True, slots=True)
class CheckedTerms:
    """A policy proposal's terms, checked, ready to be written with its version."""

    fund: Fund | None
    max_per_payment: int | None
    max_per_month: int | None
    purpose: str
    payers: tuple[int, ...]
    ends_on: date | None
    replaces: int | None
    reimbursements: bool = False


async def check_terms(
    session: AsyncSession, group: Group, terms: PolicyIn, clean: CleanText
) -> CheckedTerms:
    """The terms of a new policy proposal, or ``InvalidProposal`` naming the field."""
    replaces = terms.replaces
    if replaces is not None:
        await _policy_proposal(session, group, replaces, field="policy.replaces")
    if terms.end:
        if replaces is None:
            raise InvalidProposal(
                "Name the policy this proposal ends (replaces).", field="policy.replaces"
            )
        given = [
            name
            for name in ("fund", "max_per_payment", "max_per_month", "purpose", "ends_on")
            if getattr(terms, name) not in (None, "")
        ]
        if given or terms.payers or terms.reimbursements:
            named = given[0] if given else ("payers" if terms.payers else "reimbursements")
            raise InvalidProposal(
                "A proposal that ends a policy states no new terms.", field=f"policy.{named}"
            )
        return CheckedTerms(None, None, None, "", (), None, replaces)
    for name in ("fund", "max_per_payment", "max_per_month", "purpose"):
        if getattr(terms, name) in (None, ""):
            raise InvalidProposal(
                f"A policy states its {name.replace('_', ' ')}.", field=f"policy.{name}"
            )
    assert terms.fund is not None
    assert terms.max_per_payment is not None
    assert terms.max_per_month is not None
    fund = await get_fund(session, group, terms.fund)
    per_payment = parse_amount(terms.max_per_payment, fund.currency)
    per_month = parse_amount(terms.max_per_month, fund.currency)
    if per_payment <= 0:
        raise InvalidProposal(
            "The most per payment is more than zero.", field="policy.max_per_payment"
        )
    if per_month < per_payment:
        raise InvalidProposal(
            "The most per month is at least the most per payment.", field="policy.max_per_month"
        )
    payers: list[int] = []
    for member_id in terms.payers:
        membership = await session.get(Membership, member_id)
        if membership is None or membership.group_id != group.id or membership.removed_at:
            raise InvalidProposal(
                f"Group {group.slug!r} has no member {member_id}.", field="policy.payers"
            )
        payers.append(member_id)
    purpose = clean(terms.purpose or "", "policy.purpose")
    if len(purpose) > PURPOSE_MAX:
        raise InvalidProposal(
            f"Keep the purpose to {PURPOSE_MAX} characters.", field="policy.purpose"
        )
    return CheckedTerms(
        fund,
        per_payment,
        per_month,
        purpose,
        tuple(sorted(set(payers))),
        terms.ends_on,
        replaces,
        terms.reimbursements,
    )


class CleanText(Protocol):
    """How the proposals service cleans a text field (NFC, no control characters)."""

    def __call__(self, value: str, field: str) -> str: ...


def terms_row(version: ProposalVersion, terms: CheckedTerms) -> PolicyTerms:
    return PolicyTerms(
        version_id=version.id,
        max_per_payment=terms.max_per_payment,
        max_per_month=terms.max_per_month,
        purpose=terms.purpose,
        payers=" ".join(map(str, terms.payers)),
        ends_on=terms.ends_on,
        replaces=terms.replaces,
        reimbursements=terms.reimbursements,
    )


def copied_terms(terms: PolicyTerms, version: ProposalVersion) -> PolicyTerms:
    """The same terms for a new version (an amendment of the title or the text)."""
    return PolicyTerms(
        version_id=version.id,
        max_per_payment=terms.max_per_payment,
        max_per_month=terms.max_per_month,
        purpose=terms.purpose,
        payers=terms.payers,
        ends_on=terms.ends_on,
        replaces=terms.replaces,
        reimbursements=terms.reimbursements,
    )


async def terms_of(session: AsyncSession, version: ProposalVersion) -> PolicyTerms | None:
    return await session.get(PolicyTerms, version.id)


# --- in force --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy as it stands: its passed version's terms and what ends it."""

    number: int
    version: int
    title: str
    fund: Fund
    terms: PolicyTerms
    status: str
    decided_on: date | None
    ended_by: int | None  # the passed policy proposal that amended or ended it

    def in_force_on(self, day: date) -> bool:
        return self.status == IN_FORCE and (self.terms.ends_on is None or day <= self.terms.ends_on)

    @property
    def pays_claims(self) -> bool:
        """Whether members' claims may be paid under it (its term ``reimbursements``)."""
        return self.terms.reimbursements


async def _policy_proposal(
    session: AsyncSession, group: Group, number: int, *, field: str
) -> Proposal:
    proposal = (
        await session.scalars(
            select(Proposal)
            .where(Proposal.group_id == group.id, Proposal.number == number)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if proposal is None or proposal.kind != POLICY:
        raise InvalidProposal(f"Group {group.slug!r} has no policy {number}.", field=field)
    return proposal


async def policies(session: AsyncSession, group: Group, today: date) -> list[Policy]:
    """Every policy the group adopted (passed policy proposals that state terms), newest
    first, each with its standing on ``today``."""
    passed = list(
        await session.scalars(
            select(Proposal)
            .where(
                Proposal.group_id == group.id,
                Proposal.kind == POLICY,
                Proposal.status == "passed",
            )
            .order_by(Proposal.number.desc())
        )
    )
    by_version = {proposal.versions[-1].id: proposal.number for proposal in passed}
    terms: dict[int, PolicyTerms] = {
        by_version[row.version_id]: row
        for row in await session.scalars(
            select(PolicyTerms).where(PolicyTerms.version_id.in_(list(by_version)))
        )
    }
    # A later passed proposal that replaces a policy ends it (amended: the later one is the
    # policy in force now; ended: nothing is).
    ended_by: dict[int, int] = {}
    for proposal in sorted(passed, key=lambda p: p.number):
        replaced = terms[proposal.number].replaces if proposal.number in terms else None
        if replaced is not None and replaced not in ended_by:
            ended_by[replaced] = proposal.number
    adopted: list[Policy] = []
    for proposal in passed:
        found_terms = terms.get(proposal.number)
        version = proposal.versions[-1]
        if found_terms is None or found_terms.max_per_payment is None or version.fund is None:
            continue  # a proposal that only ends another policy
        if proposal.number in ended_by:
            status = ENDED
        elif found_terms.ends_on is not None and today > found_terms.ends_on:
            status = EXPIRED
        else:
            status = IN_FORCE
        adopted.append(
            Policy(
                number=proposal.number,
                version=version.version,
                title=version.title,
                fund=version.fund,
                terms=found_terms,
                status=status,
                decided_on=proposal.decided_at.date() if proposal.decided_at else None,
                ended_by=ended_by.get(proposal.number),
            )
        )
    return adopted


async def find_policy(session: AsyncSession, group: Group, number: int, today: date) -> Policy:
    for policy in await policies(session, group, today):
        if policy.number == number:
            return policy
    try:
        proposal = await _policy_proposal(session, group, number, field="policy")
    except InvalidProposal:
        raise NotAuthorised(f"There is no policy {number}.", field="policy") from None
    raise NotAuthorised(
        f"Policy {number} is not in force: its proposal is {proposal.status.replace('_', ' ')}.",
        field="policy",
    )


def month_of(day: date) -> tuple[date, date]:
    """The first and the last day of ``day``'s calendar month."""
    first = day.replace(day=1)
    if first.month < 12:
        return first, first.replace(month=first.month + 1) - timedelta(days=1)
    return first, first.replace(day=31)


async def used_in_month(
    session: AsyncSession, group: Group, numbers: Sequence[int], day: date
) -> dict[int, int]:
    """Money paid under each policy in ``day``'s calendar month (by the day each payment
    occurred on), less payments reversed."""
    return await queries.paid_under(
        session, group, Entry.policy_number, numbers, between=month_of(day)
    )


async def authorise_under_policy(
    session: AsyncSession, group: Group, payment: Payment, today: date
) -> tuple[int, int]:
    """A payment under a policy: in force on the day the money moved, from its fund, at
    most its most per payment and what is left of that month's room, by someone it lets
    pay. Returns (number, version) for the entry's leaf."""
    assert payment.policy is not None
    policy = await find_policy(session, group, payment.policy, today)
    number, currency = policy.number, policy.fund.currency
    if policy.status == ENDED:
        raise NotAuthorised(
            f"Policy {number} was ended by proposal {policy.ended_by}.", field="policy"
        )
    if not policy.in_force_on(payment.occurred_on) or not policy.in_force_on(today):
        raise NotAuthorised(
            f"Policy {number} is in force until {policy.terms.ends_on}.", field="policy"
        )
    if policy.fund.id != payment.fund.id:
        raise NotAuthorised(
            f"Policy {number} pays from {policy.fund.name}, not {payment.fund.name}.",
            field="fund",
        )
    payers = [int(text) for text in policy.terms.payers.split()]
    if payers:
        membership = (
            await active_membership(session, group.id, payment.recorded_by)
            if payment.recorded_by is not None
            else None
        )
        if membership is None or membership.id not in payers:
            raise NotAuthorised(
                f"Policy {number} names who may pay under it, and it is someone else.",
                field="policy",
            )
    assert policy.terms.max_per_payment is not None
    assert policy.terms.max_per_month is not None
    if payment.amount > policy.terms.max_per_payment:
        most = format_amount(policy.terms.max_per_payment, currency)
        raise NotAuthorised(
            f"Policy {number} allows at most {most} {currency} per payment; this payment is "
            f"{format_amount(payment.amount, currency)}.",
            field="amount",
        )
    used = (await used_in_month(session, group, [number], payment.occurred_on)).get(number, 0)
    room = policy.terms.max_per_month - used
    if payment.amount > room:
        month = payment.occurred_on.strftime("%B %Y")
        raise NotAuthorised(
            f"Policy {number} has {format_amount(max(room, 0), currency)} {currency} left for "
            f"{month}; this payment is {format_amount(payment.amount, currency)}.",
            field="amount",
        )
    return number, policy.version


async def policy_paying_claims(
    session: AsyncSession, group: Group, number: int, today: date
) -> Policy:
    """Policy ``number``, in force on ``today`` and paying reimbursements, for a claim filed
    under it; or ``InvalidProposal`` naming the field."""
    for policy in await policies(session, group, today):
        if policy.number == number and policy.in_force_on(today):
            if not policy.pays_claims:
                raise InvalidProposal(
                    f"Policy {number} does not pay reimbursements.", field="policy"
                )
            return policy
    raise InvalidProposal(f"Policy {number} is not a policy in force.", field="policy")


async def authorise_claim_payment(session: AsyncSession, group: Group, payment: Payment) -> None:
    """A payment under a policy that names a claim pays that claim back, once and in full:
    a claim filed under this policy, which still pays reimbursements, from the claim's fund
    to the claim's pseudonym, and never by its claimant. (The policy's own limits are
    ``authorise_under_policy``'s.)"""
    assert payment.claim is not None
    assert payment.policy is not None
    claim = await session.get(Claim, payment.claim)
    if claim is None or claim.group_id != group.id:
        raise NotAuthorised(f"There is no claim {payment.claim}.", field="claim")
    if claim.policy_number is None:
        raise NotAuthorised(
            f"Claim {claim.id} became a proposal: it is paid under that proposal.",
            field="claim",
        )
    if claim.policy_number != payment.policy:
        raise NotAuthorised(
            f"Claim {claim.id} is paid under policy {claim.policy_number}.", field="policy"
        )
    if payment.recorded_by is not None and payment.recorded_by == claim.claimant_id:
        raise NotAuthorised(
            "This is your own claim: nobody pays themselves under a policy. Another steward "
            "pays it.",
            field="claim",
        )
    policy = await find_policy(session, group, payment.policy, payment.occurred_on)
    if not policy.pays_claims:
        raise NotAuthorised(f"Policy {policy.number} does not pay reimbursements.", field="policy")
    paid = await session.get(ClaimPayment, claim.id)
    if paid is not None:
        raise NotAuthorised(f"Claim {claim.id} was paid in entry {paid.seq}.", field="claim")
    if claim.counterparty != payment.counterparty:
        raise NotAuthorised(
            f"Claim {claim.id} is paid to {claim.counterparty}.", field="counterparty"
        )
    assert claim.amount is not None
    assert claim.fund is not None
    if claim.fund_id != payment.fund.id:
        raise NotAuthorised(f"Claim {claim.id} is paid from {claim.fund.name}.", field="fund")
    if claim.amount != payment.amount:
        currency = claim.fund.currency
        raise NotAuthorised(
            f"Claim {claim.id} is for {format_amount(claim.amount, currency)} {currency}; "
            "it is paid in one payment of that amount.",
            field="amount",
        )


async def unused_room_by_fund(session: AsyncSession, group: Group, today: date) -> dict[int, int]:
    """Each fund's room left this month under the policies in force (fund id -> amount)."""
    in_force = [p for p in await policies(session, group, today) if p.in_force_on(today)]
    used = await used_in_month(session, group, [p.number for p in in_force], today)
    room: dict[int, int] = {}
    for policy in in_force:
        assert policy.terms.max_per_month is not None
        left = max(policy.terms.max_per_month - used.get(policy.number, 0), 0)
        room[policy.fund.id] = room.get(policy.fund.id, 0) + left
    return room


# --- read models -----------------------------------------------------------------------------


async def policies_out(session: AsyncSession, group: Group, today: date) -> list[PolicyOut]:
    """Every adopted policy, newest first, with this month's use and room."""
    adopted = await policies(session, group, today)
    used = await used_in_month(session, group, [p.number for p in adopted], today)
    shown: list[PolicyOut] = []
    for policy in adopted:
        currency = policy.fund.currency
        per_month = policy.terms.max_per_month or 0
        spent = used.get(policy.number, 0)
        shown.append(
            PolicyOut(
                number=policy.number,
                version=policy.version,
                title=policy.title,
                purpose=policy.terms.purpose,
                fund=policy.fund.slug,
                currency=currency,
                max_per_payment=format_amount(policy.terms.max_per_payment or 0, currency),
                max_per_month=format_amount(per_month, currency),
                used_this_month=format_amount(spent, currency),
                remaining_this_month=format_amount(
                    max(per_month - spent, 0) if policy.in_force_on(today) else 0, currency
                ),
                payers=[int(text) for text in policy.terms.payers.split()],
                ends_on=policy.terms.ends_on,
                status=policy.status,
                ended_by=policy.ended_by,
                reimbursements=policy.pays_claims,
            )
        )
    return shown


def terms_out(terms: PolicyTerms, currency: str) -> PolicyTermsOut:
    return PolicyTermsOut(
        max_per_payment=None
        if terms.max_per_payment is None
        else format_amount(terms.max_per_payment, currency),
        max_per_month=None
        if terms.max_per_month is None
        else format_amount(terms.max_per_month, currency),
        purpose=terms.purpose,
        payers=[int(text) for text in terms.payers.split()],
        ends_on=terms.ends_on,
        replaces=terms.replaces,
        reimbursements=terms.reimbursements,
    )


async def policy_payments(session: AsyncSession, group: Group, number: int) -> list[Entry]:
    """The payments made under policy ``number``, newest first."""
    return list(
        await session.scalars(
            select(Entry)
            .where(Entry.group_id == group.id, Entry.policy_number == number)
            .order_by(Entry.seq.desc())
        )
    )


# --- what authorised a payment -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authority:
    """What authorised one payment, as the pages say it: a passed proposal (with the day it
    passed), a spending policy (with what it had paid in that payment's month), or nothing
    (a payment recorded before every payment needed a decision)."""

    kind: str  # "proposal", "policy" or "none"
    number: int | None = None
    title: str = ""
    decided_on: date | None = None
    month: date | None = None  # the first day of the payment's month (policies)
    used: int = 0  # paid under the policy in that month, reversals left out
    most: int = 0  # the policy's most per month
    currency: str = ""


async def authorities(
    session: AsyncSession, group: Group, entries: Sequence[Entry]
) -> dict[int, Authority]:
    """What authorised each payment among ``entries`` (by seq)."""
    payments = [e for e in entries if e.kind == "disbursement"]
    if not payments:
        return {}
    numbers = {e.proposal_number for e in payments if e.proposal_number is not None}
    decided: dict[int, tuple[str, date | None]] = {}
    if numbers:
        for proposal in await session.scalars(
            select(Proposal).where(Proposal.group_id == group.id, Proposal.number.in_(numbers))
        ):
            decided[proposal.number] = (
                proposal.versions[-1].title,
                proposal.decided_at.date() if proposal.decided_at else None,
            )
    # The policies are read only when a payment names one (most pages show none).
    by_number = (
        {p.number: p for p in await policies(session, group, utcnow().date())}
        if any(e.policy_number is not None for e in payments)
        else {}
    )
    used: dict[tuple[int, date], int] = {}
    found: dict[int, Authority] = {}
    for entry in payments:
        if entry.proposal_number is not None:
            title, day = decided.get(entry.proposal_number, ("", None))
            found[entry.seq] = Authority("proposal", entry.proposal_number, title, day)
        elif entry.policy_number is not None and entry.policy_number in by_number:
            policy = by_number[entry.policy_number]
            month = month_of(entry.occurred_on)[0]
            if (policy.number, month) not in used:
                spent = await used_in_month(session, group, [policy.number], month)
                used[(policy.number, month)] = spent.get(policy.number, 0)
            found[entry.seq] = Authority(
                "policy",
                policy.number,
                policy.title,
                policy.decided_on,
                month,
                used[(policy.number, month)],
                policy.terms.max_per_month or 0,
                policy.fund.currency,
            )
        else:
            found[entry.seq] = Authority("none")
    return found

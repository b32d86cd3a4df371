"""A closed round as a leaf of the group's log (``ledger.decisions``): built here from the
round, its minute and the proposal's terms, appended in the transaction that closes it."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.canonical import timestamp
from ledger.decisions import DecisionLeaf, PolicyDecision
from proposals import minute as minutes
from proposals import policies, rules
from proposals.models import Proposal, ProposalVersion, Round


def minute_sha256(text: str) -> str:
    """The hash a decision leaf states of a round's minute (its stored text, UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def decision_leaf(
    session: AsyncSession,
    proposal: Proposal,
    round_: Round,
    version: ProposalVersion,
    *,
    outcome: rules.Outcome | None,
    tally: rules.Outcome,
    round_rules: rules.DecisionRules,
    minute_text: str,
    public_names: bool,
    closed_by: str | None = None,
) -> DecisionLeaf:
    """What the log says of ``round_`` closing now (or, ``closed_by`` "urgent", passing
    urgently while it stays open). A round closed without an outcome (amended, withdrawn)
    is logged too, with that as its outcome."""
    money = None
    if version.fund is not None and version.amount is not None:
        money = (version.fund.slug, version.amount, version.fund.currency, version.counterparty)
    policy = None
    if proposal.kind == policies.POLICY:
        terms = await policies.terms_of(session, version)
        if terms is not None:
            fund = version.fund
            ends = terms.max_per_payment is None
            policy = PolicyDecision(
                fund=None if ends or fund is None else fund.slug,
                currency=None if ends or fund is None else fund.currency,
                max_per_payment=terms.max_per_payment,
                max_per_month=terms.max_per_month,
                purpose=None if ends else terms.purpose,
                payers=tuple(int(text) for text in terms.payers.split()),
                ends_on=terms.ends_on,
                replaces=terms.replaces,
                end=ends,
                reimbursements=not ends and terms.reimbursements,
            )
    names = None
    if public_names:
        written = minutes.decode(minute_text)
        names = [(response.member, response.position) for response in written.responses]
    # "urgent": passed before its deadline, the round still open for its confirmation.
    closed_by = closed_by or round_.closed_by or ""
    return DecisionLeaf(
        tier=tier_text(round_),
        proposal=proposal.number,
        version=version.version,
        round=round_.number,
        outcome=outcome.status if outcome is not None else closed_by,
        closed_by=closed_by,
        tally={
            "agree": tally.agree,
            "concern": tally.concern,
            "stand_aside": tally.stand_aside,
            "block": tally.block,
            "responded": tally.responded,
            "eligible": tally.eligible,
            "quorum_needed": tally.quorum_needed,
        },
        rules=round_rules.to_json(),
        minute_sha256=minute_sha256(minute_text),
        money=money,
        policy=policy,
        names=names,
    )


def tier_text(round_: Round) -> str | None:
    """The tier the round was decided in, for its leaf ("1: up to EUR 100, lazy"), and
    whether the proposal passed urgently in it; None where the ordinary rules applied."""
    if round_.tier is None:
        return None
    chosen = rules.ChosenTier.from_json(json.loads(round_.tier))
    text = f"{chosen.number}: {chosen.label}, {chosen.tier.mode}"
    if round_.urgent_passed_at is not None:
        text += f", passed urgently at {timestamp(round_.urgent_passed_at)}"
    return text

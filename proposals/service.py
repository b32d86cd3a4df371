"""The life of a proposal: open, respond, amend, close, withdraw; and the money it authorises.

Loads rows, asks ``rules`` for the outcome, writes. Never commits: the request or command
owns the transaction. Changes that must not interleave (numbering, closing) take the
group's log lock first, the same lock the ledger takes, so the lock order is always one.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import queries as ledger_queries
from ledger import service as ledger_service
from ledger.canonical import has_control_characters, nfc
from ledger.errors import NotAuthorised
from ledger.groups import active_membership, has_role, list_members, utcnow
from ledger.models import Entry, Fund, Group, Membership, User
from ledger.money import exponent, format_amount, parse_amount
from ledger.service import Authorisation, Payment
from ledger.words import N_, Words
from proposals import decisions, minute, personal, policies, pseudonyms, rules, updates
from proposals.errors import (
    InvalidProposal,
    NotAllowed,
    NotEligible,
    ProposalNotFound,
    RoundClosed,
    TooEarly,
)
from proposals.models import Claim, GroupRules, Proposal, ProposalVersion, Response, Round
from proposals.privacy import refuse_personal_data
from proposals.schemas import AmendmentIn, ProposalIn

DEFAULT_ROUND_LENGTH = timedelta(days=7)
# A block must say why, in words the others can answer.
MIN_BLOCK_REASON = 10
STATUSES = ("open", "passed", "blocked", "not_passed", "withdrawn")


def _now(now: datetime | None) -> datetime:
    return (now or utcnow()).astimezone(UTC)


# --- rules ----------------------------------------------------------------------------------


async def get_rules(session: AsyncSession, group: Group) -> tuple[rules.DecisionRules, bool]:
    """The group's decision rules (defaults until an admin sets them) and ``public_names``."""
    row = await session.get(GroupRules, group.id)
    if row is None:
        return rules.DecisionRules(), False
    return rules.DecisionRules.from_json(json.loads(row.rules)), row.public_names


async def set_rules(
    session: AsyncSession, group: Group, changes: dict[str, object], public_names: bool | None
) -> tuple[rules.DecisionRules, bool]:
    """Change some rules; the others keep their value. Open rounds keep the rules they
    opened with."""
    current, names = await get_rules(session, group)
    try:
        updated = rules.DecisionRules.from_json({**current.to_json(), **changes})
    except ValueError as error:
        raise InvalidProposal(str(error), field="rules") from error
    row = await session.get(GroupRules, group.id)
    if row is None:
        row = GroupRules(group_id=group.id, rules="", public_names=False, updated_at=utcnow())
        session.add(row)
    row.rules = json.dumps(updated.to_json(), sort_keys=True)
    row.public_names = names if public_names is None else public_names
    row.updated_at = utcnow()
    await session.flush()
    return updated, row.public_names


async def rules_row(session: AsyncSession, group: Group) -> GroupRules:
    """The group's settings row, made with the default rules when there is none yet (for
    a setting changed on its own)."""
    await set_rules(session, group, {}, None)
    row = await session.get(GroupRules, group.id)
    assert row is not None
    return row


async def get_tiers(session: AsyncSession, group: Group) -> tuple[rules.Tier, ...]:
    """The group's table of rules by amount (empty: the ordinary rules for every amount)."""
    row = await session.get(GroupRules, group.id)
    if row is None:
        return ()
    current, _ = await get_rules(session, group)
    return rules.tiers_from_json(json.loads(row.tiers), current, exponent(group.currency))


def tiers_json(group: Group, tiers: Sequence[rules.Tier]) -> list[dict[str, object]]:
    return rules.tiers_to_json(tiers, exponent(group.currency))


_TIER_FIELD = re.compile(r"tiers(?:\[[0-9]+\](?:\.[a-z_]+)?)?")


async def set_tiers(session: AsyncSession, group: Group, data: object) -> tuple[rules.Tier, ...]:
    """Replace the table of tiers; open rounds keep the tier they opened with."""
    current, _ = await get_rules(session, group)
    try:
        tiers = rules.tiers_from_json(data, current, exponent(group.currency))
    except ValueError as error:
        message = str(error)
        named = _TIER_FIELD.match(message)
        raise InvalidProposal(message, field=named.group(0) if named else "tiers") from error
    row = await rules_row(session, group)
    row.tiers = json.dumps(tiers_json(group, tiers), sort_keys=True)
    row.updated_at = utcnow()
    await session.flush()
    return tiers


async def policy_room_committed(session: AsyncSession, group: Group) -> bool:
    """Whether the group counts its policies' unused room this month as committed money."""
    row = await session.get(GroupRules, group.id)
    return bool(row and row.policy_room_committed)


async def set_policy_room_committed(session: AsyncSession, group: Group, value: bool) -> None:
    row = await rules_row(session, group)
    row.policy_room_committed = value
    await session.flush()


async def hides_tallies(session: AsyncSession, group: Group) -> bool:
    """Whether the group's new rounds keep responses and counts hidden until they close."""
    row = await session.get(GroupRules, group.id)
    return bool(row and row.hide_tally_until_close)


async def set_hides_tallies(session: AsyncSession, group: Group, value: bool) -> None:
    """Open rounds keep the choice they opened with: members responded under it."""
    row = await rules_row(session, group)
    row.hide_tally_until_close = value
    await session.flush()


# --- loading --------------------------------------------------------------------------------


async def get_proposal(session: AsyncSession, group: Group, number: int) -> Proposal:
    result = await session.scalars(
        select(Proposal)
        .where(Proposal.group_id == group.id, Proposal.number == number)
        .execution_options(populate_existing=True)
    )
    proposal = result.one_or_none()
    if proposal is None:
        raise ProposalNotFound(f"Group {group.slug!r} has no proposal {number}.")
    return proposal


async def list_proposals(
    session: AsyncSession, group: Group, status: str | None = None
) -> list[Proposal]:
    if status is not None and status not in STATUSES:
        raise InvalidProposal(f"status is one of {', '.join(STATUSES)}.", field="status")
    query = select(Proposal).where(Proposal.group_id == group.id)
    if status is not None:
        query = query.where(Proposal.status == status)
    return list(await session.scalars(query.order_by(Proposal.number.desc())))


def current_version(proposal: Proposal) -> ProposalVersion:
    return proposal.versions[-1]


def current_round(proposal: Proposal) -> Round:
    return proposal.rounds[-1]


def eligible_of(round_: Round) -> list[int]:
    ids: list[int] = json.loads(round_.eligible)
    return ids


def rules_of(round_: Round) -> rules.DecisionRules:
    return rules.DecisionRules.from_json(json.loads(round_.rules))


def tier_of(round_: Round) -> rules.ChosenTier | None:
    """The tier the round's amount fell in when it opened (None: the ordinary rules)."""
    return None if round_.tier is None else rules.ChosenTier.from_json(json.loads(round_.tier))


def awaiting_confirmation(proposal: Proposal, round_: Round) -> bool:
    """An urgent proposal passed early and its round is open until the ordinary deadline."""
    return (
        proposal.status == "passed"
        and round_.urgent_passed_at is not None
        and round_.closed_at is None
    )


def tally_sealed(round_: Round) -> bool:
    """Whether the round's responses and counts are hidden from everyone but each
    responder's own: the group chose so when it opened, and it has not closed yet."""
    return round_.tally_hidden and round_.closed_at is None


def round_is_open(proposal: Proposal, round_: Round) -> bool:
    """Whether members may still respond in the round (also while it awaits confirmation)."""
    return round_.closed_at is None and (
        proposal.status == "open" or awaiting_confirmation(proposal, round_)
    )


async def latest_responses(session: AsyncSession, round_: Round) -> list[Response]:
    """Each member's latest response in the round (earlier ones stay as history)."""
    latest = (
        select(func.max(Response.id))
        .where(Response.round_id == round_.id)
        .group_by(Response.user_id)
        .scalar_subquery()
    )
    result = await session.scalars(
        select(Response).where(Response.id.in_(latest)).order_by(Response.id)
    )
    return list(result)


async def _active_user_ids(session: AsyncSession, group: Group) -> set[int]:
    return {m.user_id for m in await list_members(session, group.id)}


# --- opening --------------------------------------------------------------------------------


def _clean_text(value: str, field: str, *, required: bool = False) -> str:
    value = nfc(value.strip())
    if has_control_characters(value, multiline=True):
        raise InvalidProposal("Control characters are not allowed here.", field=field)
    if required and not value:
        raise InvalidProposal(f"The {field} cannot be empty.", field=field)
    return value


@dataclass(frozen=True, slots=True)
class _Money:
    fund: Fund | None
    amount: int | None
    counterparty: str | None


async def _money(
    session: AsyncSession,
    group: Group,
    fund_slug: str | None,
    amount: str | None,
    counterparty: str | None,
) -> _Money:
    if (fund_slug is None) != (amount is None):
        raise InvalidProposal(
            "A proposal to pay money names both a fund and an amount.",
            field="amount" if amount is None else "fund",
        )
    if fund_slug is None or amount is None:
        return _Money(
            None, None, _clean_text(counterparty, "counterparty") or None if counterparty else None
        )
    fund = await ledger_service.get_fund(session, group, fund_slug)
    return _Money(
        fund,
        parse_amount(amount, fund.currency),
        _clean_text(counterparty, "counterparty") or None if counterparty else None,
    )


async def _open_round(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    number: int,
    version: int,
    now: datetime,
    closes_at: datetime | None,
    money: _Money,
) -> Round:
    group_rules, _ = await get_rules(session, group)
    tier = rules.choose_tier(
        await get_tiers(session, group),
        money.amount,
        currency=money.fund.currency if money.fund is not None else group.currency,
        group_currency=group.currency,
        minor_digits=exponent(group.currency),
    )
    if tier is not None:
        group_rules = tier.tier.applied_to(group_rules)
    if proposal.urgent and (tier is None or tier.tier.urgent_agreements is None):
        where = "a proposal that asks no money" if tier is None else f"tier {tier.number}"
        raise InvalidProposal(
            f"The group's rules do not allow urgent decisions for {where}"
            + ("" if tier is None else f" ({tier.label})")
            + ": leave out urgent, or ask an amount whose tier allows it.",
            field="urgent",
        )
    earliest = rules.earliest_close_at(group_rules, now)
    if closes_at is None:
        closes_at = max(now + DEFAULT_ROUND_LENGTH, earliest)
    elif closes_at.tzinfo is None:
        raise InvalidProposal(
            "closes_at needs a time zone (e.g. 2026-03-01T18:00:00Z).", field="closes_at"
        )
    elif closes_at < earliest:
        raise InvalidProposal(
            f"A round stays open at least {group_rules.min_open_hours} hours; choose a "
            f"deadline after {earliest.isoformat()}.",
            field="closes_at",
        )
    eligible = sorted(await _active_user_ids(session, group))
    round_ = Round(
        proposal_id=proposal.id,
        number=number,
        version=version,
        rules=json.dumps(group_rules.to_json(), sort_keys=True),
        tier=None if tier is None else json.dumps(tier.to_json(), sort_keys=True),
        eligible=json.dumps(eligible),
        opened_at=now,
        closes_at=closes_at.astimezone(UTC),
        tally_hidden=await hides_tallies(session, group),
    )
    session.add(round_)
    await session.flush()
    from proposals.notify import notify_round_opened

    title = (
        await session.scalars(
            select(ProposalVersion.title).where(
                ProposalVersion.proposal_id == proposal.id, ProposalVersion.version == version
            )
        )
    ).one()
    await notify_round_opened(
        session, group, proposal.number, title, eligible, proposal.author_id, now
    )
    return round_


async def create_proposal(
    session: AsyncSession,
    group: Group,
    author: User,
    data: ProposalIn,
    now: datetime | None = None,
) -> Proposal:
    now = _now(now)
    await ledger_service.lock_log(session, group)  # numbers are per group and gapless
    title = _clean_text(data.title, "title", required=True)
    terms: policies.CheckedTerms | None = None
    if data.kind == policies.POLICY or data.policy is not None:
        if data.policy is None or data.kind != policies.POLICY:
            raise InvalidProposal(
                'A policy proposal says kind "policy" and states its terms (policy).',
                field="policy" if data.policy is None else "kind",
            )
        for name in ("fund", "amount", "counterparty", "beneficiary"):
            if getattr(data, name) is not None:
                raise InvalidProposal(
                    f"A policy proposal names its fund in its terms and pays nobody itself; "
                    f"leave out {name}.",
                    field=name,
                )
        terms = await policies.check_terms(session, group, data.policy, _clean_text)
        money = _Money(terms.fund, None, None)
    else:
        money = await _money(session, group, data.fund, data.amount, data.counterparty)
    beneficiary_id: int | None = None
    if data.beneficiary is not None:
        membership = await session.get(Membership, data.beneficiary)
        if membership is None or membership.group_id != group.id or membership.removed_at:
            raise InvalidProposal(
                f"Group {group.slug!r} has no member {data.beneficiary}.", field="beneficiary"
            )
        beneficiary_id = membership.user_id
    number = (
        await session.scalar(
            select(func.coalesce(func.max(Proposal.number), 0)).where(Proposal.group_id == group.id)
        )
        or 0
    ) + 1
    proposal = Proposal(
        group_id=group.id,
        number=number,
        author_id=author.id,
        kind=policies.POLICY
        if terms is not None
        else ("disbursement" if money.fund is not None else "general"),
        status="open",
        beneficiary_id=beneficiary_id,
        created_at=now,
        urgent=data.urgent,
    )
    session.add(proposal)
    await session.flush()
    first = ProposalVersion(
        proposal_id=proposal.id,
        version=1,
        title=title,
        body=_clean_text(data.body, "body"),
        fund_id=money.fund.id if money.fund else None,
        amount=money.amount,
        counterparty=money.counterparty,
        reason="",
        author_id=author.id,
        created_at=now,
    )
    session.add(first)
    if terms is not None:
        await session.flush()
        session.add(policies.terms_row(first, terms))
    await _open_round(session, group, proposal, 1, 1, now, data.closes_at, money)
    return await get_proposal(session, group, number)


# --- responding -----------------------------------------------------------------------------


def _position(text: str) -> rules.Position:
    try:
        return rules.Position(text)
    except ValueError:
        raise InvalidProposal(
            "position is one of agree, concern, stand_aside, block.", field="position"
        ) from None


async def _close_if_due(
    session: AsyncSession, group: Group, proposal: Proposal, now: datetime
) -> None:
    """Close the open round first if its deadline has passed, whoever acts on the proposal.

    Otherwise an amendment or a withdrawal after the deadline, before anyone read the
    proposal, would act on a round that was already decided: a passed proposal could be
    amended into a new round, and a blocked round would close as "amended" and no longer
    count towards the fallback vote."""
    round_ = current_round(proposal)
    if round_is_open(proposal, round_) and round_.closes_at <= now:
        await finish_round(session, group, proposal, round_, now, closed_by="deadline")


async def _open_round_of(
    session: AsyncSession, group: Group, proposal: Proposal, now: datetime
) -> Round:
    """The proposal's open round, closing it first if its deadline has passed."""
    if proposal.status != "open" and not awaiting_confirmation(proposal, current_round(proposal)):
        raise RoundClosed(f"Proposal {proposal.number} is {proposal.status.replace('_', ' ')}.")
    await _close_if_due(session, group, proposal, now)
    round_ = current_round(proposal)
    if round_.closed_at is not None:
        raise RoundClosed(f"Round {round_.number} of proposal {proposal.number} is closed.")
    return round_


async def open_round_of(
    session: AsyncSession, group: Group, proposal: Proposal, now: datetime | None = None
) -> Round:
    """The proposal's open round (closing it first if its deadline has passed); RoundClosed
    when none is open. The caller holds the group's lock."""
    return await _open_round_of(session, group, proposal, _now(now))


def clean_text(value: str, field: str, *, required: bool = False) -> str:
    """Text as stored: stripped, NFC, no control characters (but line breaks)."""
    return _clean_text(value, field, required=required)


async def respond(
    session: AsyncSession,
    group: Group,
    number: int,
    user: User,
    position_text: str,
    reason: str,
    now: datetime | None = None,
) -> Response:
    now = _now(now)
    position = _position(position_text)
    reason = _clean_text(reason, "reason")
    if position is rules.Position.BLOCK and len("".join(reason.split())) < MIN_BLOCK_REASON:
        raise InvalidProposal(
            "A block needs a reason the group can answer: say what would have to change.",
            field="reason",
        )
    # The group's lock, as closes take it: a response either lands before a close (and is
    # counted) or sees the round closed; of two last responses, the later sees the earlier.
    await ledger_service.lock_log(session, group)
    proposal = await get_proposal(session, group, number)
    round_ = await _open_round_of(session, group, proposal, now)
    membership = await active_membership(session, group.id, user.id)
    if user.id not in eligible_of(round_) or membership is None:
        raise NotEligible(
            "Only members who belonged to the group when this round opened can respond in it."
        )
    response = Response(
        round_id=round_.id, user_id=user.id, position=position.value, reason=reason, created_at=now
    )
    session.add(response)
    await session.flush()
    round_rules = rules_of(round_)
    eligible, answers, beneficiaries = await _counting(session, group, proposal, round_)
    if (
        proposal.urgent
        and proposal.status == "open"
        and rules.urgent_passes(
            tier_of(round_), round_rules, eligible, answers, beneficiaries=beneficiaries
        )
    ):
        # Passed now, money may be paid; the round stays open for its confirmation.
        await _pass_urgently(
            session, group, proposal, round_, now, (eligible, answers, beneficiaries)
        )
    if rules.should_close_early(round_rules, eligible, answers, beneficiaries=beneficiaries):
        await finish_round(session, group, proposal, round_, now, closed_by="all_responded")
    return response


async def _counting(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    responses: Sequence[Response] | None = None,
) -> tuple[list[int], dict[int, rules.Position], list[int]]:
    """Who counts now (eligible when the round opened and still a member), their latest
    positions, and the beneficiaries. ``responses``: the round's latest responses, when the
    caller has read them already."""
    active = await _active_user_ids(session, group)
    eligible = [member for member in eligible_of(round_) if member in active]
    if responses is None:
        responses = await latest_responses(session, round_)
    answers = {r.user_id: rules.Position(r.position) for r in responses}
    beneficiaries = [proposal.beneficiary_id] if proposal.beneficiary_id else []
    # A member never decides alone on their own claim, whatever the group's rules say
    # about beneficiaries: their response is kept but counts for nothing (nor their block).
    claimant = await claimant_of(session, proposal)
    if claimant is not None:
        eligible = [member for member in eligible if member != claimant]
    return eligible, answers, beneficiaries


async def claimant_of(session: AsyncSession, proposal: Proposal) -> int | None:
    """The member who filed the claim this proposal is, if it is one (claims always name
    their claimant as beneficiary, so other proposals cost no query)."""
    if proposal.beneficiary_id is None:
        return None
    claimant: int | None = await session.scalar(
        select(Claim.claimant_id).where(Claim.proposal_id == proposal.id)
    )
    return claimant


async def live_outcome(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    responses: Sequence[Response] | None = None,
) -> rules.Outcome:
    eligible, answers, beneficiaries = await _counting(session, group, proposal, round_, responses)
    return _decide(proposal, round_, eligible, answers, beneficiaries)


def _decide(
    proposal: Proposal,
    round_: Round,
    eligible: list[int],
    answers: dict[int, rules.Position],
    beneficiaries: list[int],
) -> rules.Outcome:
    return rules.decide(
        rules_of(round_),
        eligible,
        answers,
        beneficiaries=beneficiaries,
        blocked_rounds_before=_blocked_before(proposal, round_),
        tier=tier_of(round_),
    )


def _blocked_before(proposal: Proposal, round_: Round) -> int:
    return sum(1 for r in proposal.rounds if r.number < round_.number and r.outcome == "blocked")


# --- closing --------------------------------------------------------------------------------


async def finish_round(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    now: datetime,
    *,
    closed_by: str,
) -> rules.Outcome | None:
    """Close a round once: the outcome is computed, then written only if nobody closed the
    round first (a conditional UPDATE, atomic on both engines). Amended and withdrawn
    rounds close without an outcome."""
    responses = await latest_responses(session, round_)
    eligible, answers, beneficiaries = await _counting(session, group, proposal, round_, responses)
    tally = _decide(proposal, round_, eligible, answers, beneficiaries)
    outcome = None if closed_by in ("amended", "withdrawn") else tally
    if outcome is not None and round_.urgent_passed_at is not None:
        outcome = _confirmation(outcome, round_.urgent_passed_at)
    values: dict[str, object] = {"closed_at": now, "closed_by": closed_by}
    if outcome is not None:
        values.update(
            outcome=outcome.status, outcome_reason=outcome.reason, explanation=outcome.explanation
        )
    version = max(proposal.versions, key=lambda v: v.version)
    values["minute"] = await _minute_text(
        session,
        group,
        proposal,
        round_,
        version,
        responses,
        (eligible, beneficiaries),
        tally=tally,
        outcome=outcome,
        now=now,
        closed_by=closed_by,
    )
    result = await session.execute(
        update(Round)
        .where(Round.id == round_.id, Round.closed_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise RoundClosed(f"Round {round_.number} of proposal {proposal.number} is closed.")
    await session.refresh(round_)
    # The decision joins the group's log in the same transaction: what authorises money is
    # the leaf, not this row's status.
    await _log_decision(
        session,
        group,
        proposal,
        round_,
        version,
        str(values["minute"]),
        tally=tally,
        outcome=outcome,
        now=now,
        closed_by=closed_by,
    )
    if outcome is not None:
        proposal.status = outcome.status
        proposal.decided_at = now
        await updates.proposal_decided(session, proposal, now)
    await session.flush()
    return outcome


async def _minute_text(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    version: ProposalVersion,
    responses: Sequence[Response],
    counting: tuple[list[int], list[int]],
    *,
    tally: rules.Outcome,
    outcome: rules.Outcome | None,
    now: datetime,
    closed_by: str,
) -> str:
    """The minute of the round as it stands ``now``: what was decided, by whom and why (the
    members and responses that counted, as the tally does, and the tally itself), so the
    round reads the same after members come and go. ``counting``: the eligible members
    who count now and the beneficiaries (``_counting``)."""
    eligible, beneficiaries = counting
    counted = rules.counting_members(rules_of(round_), eligible, beneficiaries)
    members = {m.user_id: m.user.name for m in await list_members(session, group.id)}
    return minute.encode(
        minute.minute_of(
            proposal,
            round_,
            version,
            members=members,
            eligible=[uid for uid in eligible_of(round_) if uid in counted],
            responses=[r for r in responses if r.user_id in counted],
            tally=tally,
            outcome=outcome,
            closed_at=now,
            closed_by=closed_by,
        )
    )


async def _log_decision(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    version: ProposalVersion,
    minute_text: str,
    *,
    tally: rules.Outcome,
    outcome: rules.Outcome | None,
    now: datetime,
    closed_by: str,
) -> None:
    """Append the decision leaf of ``round_`` (closed now, or passed urgently now)."""
    _, public_names = await get_rules(session, group)
    leaf = await decisions.decision_leaf(
        session,
        proposal,
        round_,
        version,
        outcome=outcome,
        tally=tally,
        round_rules=rules_of(round_),
        minute_text=minute_text,
        public_names=public_names,
        closed_by=closed_by,
    )
    await ledger_service.record_decision(session, group, leaf, now=now)


async def _pass_urgently(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    now: datetime,
    counting: tuple[list[int], dict[int, rules.Position], list[int]],
) -> None:
    """An urgent proposal passes before its deadline: money may be paid from now, so the
    decision joins the log now (closed_by "urgent"); the round stays open until its
    deadline, where its outcome confirms the decision or not."""
    eligible, answers, beneficiaries = counting
    tally = _decide(proposal, round_, eligible, answers, beneficiaries)
    when = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    passed = dataclasses.replace(
        tally,
        status="passed",
        reason="passed",
        words=(
            Words(
                N_(
                    "Passed urgently on %(when)s: %(agreed)s agreed and nobody blocked; to be "
                    "confirmed at the deadline."
                ),
                {"when": when, "agreed": tally.agree + tally.concern},
            ),
        ),
    )
    round_.urgent_passed_at = now
    proposal.status = "passed"
    proposal.decided_at = now
    version = max(proposal.versions, key=lambda v: v.version)
    responses = await latest_responses(session, round_)
    text = await _minute_text(
        session,
        group,
        proposal,
        round_,
        version,
        responses,
        (eligible, beneficiaries),
        tally=tally,
        outcome=passed,
        now=now,
        closed_by="urgent",
    )
    round_.urgent_minute = text
    await _log_decision(
        session,
        group,
        proposal,
        round_,
        version,
        text,
        tally=tally,
        outcome=passed,
        now=now,
        closed_by="urgent",
    )
    await updates.proposal_decided(session, proposal, now)
    await session.flush()


def _confirmation(outcome: rules.Outcome, passed_at: datetime) -> rules.Outcome:
    """The outcome of a round where an urgent proposal passed early: it confirms the urgent
    decision when it would pass by the ordinary rules; otherwise the decision is not
    confirmed (money paid under it stays paid: the ledger never changes)."""
    when = passed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if outcome.passed:
        head = N_("Passed urgently on %(when)s, confirmed at the deadline.")
    else:
        head = N_(
            "Passed urgently on %(when)s, not confirmed at the deadline: no more money may be "
            "paid under it; money already paid stays paid."
        )
    return dataclasses.replace(outcome, words=(Words(head, {"when": when}), *outcome.words))


async def close(
    session: AsyncSession, group: Group, number: int, now: datetime | None = None
) -> rules.Outcome:
    """A facilitator closes the open round (not before ``min_open_hours`` unless everyone
    responded)."""
    now = _now(now)
    await ledger_service.lock_log(session, group)
    proposal = await get_proposal(session, group, number)
    round_ = await _open_round_of(session, group, proposal, now)
    eligible, answers, beneficiaries = await _counting(session, group, proposal, round_)
    if not rules.can_close(
        rules_of(round_), round_.opened_at, now, eligible, answers, beneficiaries=beneficiaries
    ):
        earliest = rules.earliest_close_at(rules_of(round_), round_.opened_at)
        raise TooEarly(
            f"This round can close from {earliest.isoformat()}, or as soon as "
            "every eligible member has responded."
        )
    outcome = await finish_round(session, group, proposal, round_, now, closed_by="facilitator")
    assert outcome is not None
    return outcome


async def close_due(
    session: AsyncSession, now: datetime | None = None, group: Group | None = None
) -> int:
    """Close every open round whose deadline has passed; returns how many closed."""
    now = _now(now)
    query = (
        select(Proposal, Round, Group)
        .join(Round, Round.proposal_id == Proposal.id)
        .join(Group, Group.id == Proposal.group_id)
        .where(
            Round.closed_at.is_(None),
            Round.closes_at <= now,
            or_(Proposal.status == "open", Round.urgent_passed_at.is_not(None)),
        )
        # One order for taking the groups' locks, so that two runs cannot deadlock.
        .order_by(Group.id, Round.id)
    )
    if group is not None:
        query = query.where(Proposal.group_id == group.id)
    closed = 0
    for proposal, round_, owner in (await session.execute(query)).all():
        try:
            async with session.begin_nested():
                await ledger_service.lock_log(session, owner)
                await finish_round(session, owner, proposal, round_, now, closed_by="deadline")
            closed += 1
        except RoundClosed:
            continue  # another worker closed it first
    return closed


# --- amending and withdrawing ---------------------------------------------------------------


async def amend(
    session: AsyncSession,
    group: Group,
    number: int,
    user: User,
    membership: Membership,
    data: AmendmentIn,
    now: datetime | None = None,
) -> Proposal:
    now = _now(now)
    await ledger_service.lock_log(session, group)
    proposal = await get_proposal(session, group, number)
    if user.id != proposal.author_id and not has_role(membership.roles, "facilitator"):
        raise NotAllowed("Only the author or a facilitator can amend a proposal.")
    await _close_if_due(session, group, proposal, now)
    if proposal.status not in ("open", "blocked"):
        raise RoundClosed(
            f"Proposal {number} is {proposal.status.replace('_', ' ')}; it can "
            "no longer be amended."
        )
    await _refuse_personal_data(session, proposal, data)
    before = current_version(proposal)
    if data.counterparty is not None and await claimant_of(session, proposal) is not None:
        raise InvalidProposal(
            "A claim pays back the member who filed it; its recipient cannot change.",
            field="counterparty",
        )
    if proposal.kind == policies.POLICY:
        given = [n for n in ("fund", "amount", "counterparty") if getattr(data, n) is not None]
        if given:
            raise InvalidProposal(
                "A policy's terms are changed by a new policy proposal that replaces it; an "
                "amendment changes its title or text.",
                field=given[0],
            )
    money = (
        _Money(before.fund, None, None)
        if proposal.kind == policies.POLICY
        else await _money(
            session,
            group,
            data.fund if data.fund is not None else (before.fund.slug if before.fund else None),
            data.amount
            if data.amount is not None
            else (
                None
                if before.amount is None or before.fund is None
                else format_amount(before.amount, before.fund.currency)
            ),
            data.counterparty if data.counterparty is not None else before.counterparty,
        )
    )
    after = {
        "title": _clean_text(data.title, "title", required=True)
        if data.title is not None
        else before.title,
        "body": _clean_text(data.body, "body") if data.body is not None else before.body,
        "fund": money.fund.id if money.fund else None,
        "amount": money.amount,
        "counterparty": money.counterparty,
    }
    previous = {
        "title": before.title,
        "body": before.body,
        "fund": before.fund_id,
        "amount": before.amount,
        "counterparty": before.counterparty,
    }
    changed = {name for name, value in after.items() if previous[name] != value}
    if not changed:
        raise InvalidProposal("The amendment changes nothing.", field="title")
    version = ProposalVersion(
        proposal_id=proposal.id,
        version=before.version + 1,
        title=str(after["title"]),
        body=str(after["body"]),
        fund_id=money.fund.id if money.fund else None,
        amount=money.amount,
        counterparty=money.counterparty,
        reason=_clean_text(data.reason, "reason", required=True),
        author_id=user.id,
        created_at=now,
    )
    session.add(version)
    if money.fund is not None and proposal.kind == "general":
        proposal.kind = "disbursement"
    await session.flush()
    if proposal.kind == policies.POLICY:
        terms = await policies.terms_of(session, before)
        if terms is not None:
            session.add(policies.copied_terms(terms, version))
            await session.flush()
    round_ = current_round(proposal)
    if rules.round_is_reset_by(changed):
        if round_.closed_at is None:
            await finish_round(session, group, proposal, round_, now, closed_by="amended")
        proposal.status = "open"
        proposal.decided_at = None
        await _open_round(
            session, group, proposal, round_.number + 1, version.version, now, None, money
        )
    return await get_proposal(session, group, number)


async def _refuse_personal_data(
    session: AsyncSession, proposal: Proposal, data: AmendmentIn
) -> None:
    """An amendment of a proposal made from a request for support must not name the person
    either (``proposals.privacy``): the fields it sets are checked as the first version was."""
    made_from = await personal.details_of_proposal(session, proposal.id)
    if made_from is None:
        return
    pseudonym, details = made_from
    counterparty = data.counterparty if data.counterparty != pseudonym else None
    refuse_personal_data(
        details,
        {
            "title": data.title,
            "body": data.body,
            "counterparty": counterparty,
            "reason": data.reason,  # shown with the version, as public as the rest
        },
    )


async def withdraw(
    session: AsyncSession, group: Group, number: int, user: User, now: datetime | None = None
) -> Proposal:
    now = _now(now)
    await ledger_service.lock_log(session, group)
    proposal = await get_proposal(session, group, number)
    if user.id != proposal.author_id:
        raise NotAllowed("Only the author can withdraw a proposal.")
    await _close_if_due(session, group, proposal, now)
    if proposal.status not in ("open", "blocked"):
        raise RoundClosed(f"Proposal {number} is {proposal.status.replace('_', ' ')}.")
    round_ = current_round(proposal)
    if round_.closed_at is None:
        await finish_round(session, group, proposal, round_, now, closed_by="withdrawn")
    proposal.status = "withdrawn"
    proposal.decided_at = now
    await session.flush()
    return proposal


# --- money ----------------------------------------------------------------------------------


async def paid(session: AsyncSession, group: Group, numbers: Sequence[int]) -> dict[int, int]:
    """Money paid under each proposal: its disbursements, less those reversed."""
    return await ledger_queries.paid_under(session, group, Entry.proposal_number, numbers)


async def authorised(session: AsyncSession, group: Group) -> dict[int, tuple[int, int]]:
    """Passed disbursement proposals: number -> (fund id, authorised amount)."""
    result = await session.scalars(
        select(Proposal).where(
            Proposal.group_id == group.id,
            Proposal.status == "passed",
            Proposal.kind == "disbursement",
        )
    )
    out: dict[int, tuple[int, int]] = {}
    for proposal in result:
        version = current_version(proposal)
        if version.fund_id is not None and version.amount is not None:
            out[proposal.number] = (version.fund_id, version.amount)
    return out


async def committed_by_fund(session: AsyncSession, group: Group) -> dict[int, int]:
    """Money promised by passed proposals and not yet paid, per fund id; and, where the
    group chooses so, what its spending policies may still pay this month."""
    promised = await authorised(session, group)
    done = await paid(session, group, list(promised))
    committed: dict[int, int] = {}
    for number, (fund_id, amount) in promised.items():
        committed[fund_id] = committed.get(fund_id, 0) + max(amount - done.get(number, 0), 0)
    if await policy_room_committed(session, group):
        room = await policies.unused_room_by_fund(session, group, utcnow().date())
        for fund_id, left in room.items():
            committed[fund_id] = committed.get(fund_id, 0) + left
    return committed


async def authorise_payment(session: AsyncSession, group: Group, payment: Payment) -> Authorisation:
    """The ledger's ``DisbursementAuthority``: a payment is made under a passed proposal
    (``authorise_under_proposal``) or under a spending policy in force
    (``policies.authorise_under_policy``), and when it pays a member's claim under that
    policy, the claim's own rule (``policies.authorise_claim_payment``); nothing else moves
    money out."""
    if payment.policy is not None:
        if payment.claim is not None:
            await policies.authorise_claim_payment(session, group, payment)
        await pseudonyms.refuse_payment_to_oneself(session, group, payment)
        today = utcnow().date()
        policy = await policies.authorise_under_policy(session, group, payment, today)
        return Authorisation(policy=policy, decided_in=await _decided_in(session, group, policy[0]))
    assert payment.proposal is not None
    proposal = await authorise_under_proposal(session, group, payment)
    return Authorisation(
        proposal=proposal, decided_in=await _decided_in(session, group, proposal[0])
    )


async def _decided_in(session: AsyncSession, group: Group, number: int) -> int | None:
    """The decision leaf a payment under proposal (or policy) ``number`` names: the latest
    of that proposal in the log. The verifiers check that it authorises the payment (this
    service decided from the proposal's stored status). None when the proposal was decided
    before decisions were logged."""
    decided = await ledger_service.decision_of(session, group, number)
    return None if decided is None else decided[0]


async def authorise_under_proposal(
    session: AsyncSession, group: Group, payment: Payment
) -> tuple[int, int]:
    """A payment needs a passed proposal for this fund, to the recipient it names (or to
    none when it names none), with enough left unpaid. Returns (number, version) for the
    entry's leaf."""
    assert payment.proposal is not None
    number, fund, amount, counterparty = (
        payment.proposal,
        payment.fund,
        payment.amount,
        payment.counterparty,
    )
    result = await session.scalars(
        select(Proposal)
        .where(Proposal.group_id == group.id, Proposal.number == number)
        .execution_options(populate_existing=True)
    )
    proposal = result.one_or_none()
    if proposal is None:
        raise NotAuthorised(f"There is no proposal {number}.", field="proposal")
    # A round whose deadline passed is decided now: its passing authorises this payment
    # even if nobody read the proposal since (and the close is kept with the payment).
    await _close_if_due(session, group, proposal, _now(None))
    if proposal.kind != "disbursement" or proposal.status != "passed":
        raise NotAuthorised(
            f"Proposal {number} is {proposal.status.replace('_', ' ')}; only a passed proposal "
            "to pay money authorises a payment.",
            field="proposal",
        )
    version = current_version(proposal)
    if version.fund_id != fund.id or version.amount is None:
        raise NotAuthorised(
            f"Proposal {number} authorises payments from another fund.", field="fund"
        )
    if (counterparty or None) != version.counterparty:
        # The group decided who is paid: a payment to anyone else needs its own decision.
        decided = f"pays {version.counterparty}" if version.counterparty else "names no recipient"
        named = f"names {counterparty}" if counterparty else "names no recipient"
        raise NotAuthorised(
            f"Proposal {number} {decided}; this payment {named}.", field="counterparty"
        )
    remaining = version.amount - (await paid(session, group, [number])).get(number, 0)
    if amount > remaining:
        raise NotAuthorised(
            f"Proposal {number} has {format_amount(max(remaining, 0), fund.currency)} "
            f"{fund.currency} left to pay; this payment is "
            f"{format_amount(amount, fund.currency)}.",
            field="amount",
        )
    return proposal.number, version.version

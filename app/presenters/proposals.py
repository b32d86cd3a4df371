"""Proposals as people read them, for the pages and the decision record (PDF) alike: a
proposal whole (its text, each version with what changed, each round with its tally,
responses and minute), the lines and cards the lists show, what a steward may pay, and a
member's notifications.

Presenters only format: the reads are ``proposals.queries`` (which also decides, in
``names_visible``, whether names are shown; a hidden name arrives here as None).
Moments stay datetimes and texts stay plain, so each medium writes them its own way (the
pages in the reader's zone, the PDF in UTC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup

from app.presenters.diff import DiffLine, FieldChange, field_changes, text_diff
from app.presenters.formatting import Formatter
from app.presenters.markdown import render_markdown
from ledger.models import Fund, Group
from ledger.money import format_amount
from ledger.words import N_
from proposals import notify, policies, rules, service
from proposals.labels import CLOSED_BY, KIND_LABELS, POSITION_LABELS, STATUS_LABELS
from proposals.minute import Minute, explanation_words, minute_of_round
from proposals.models import Notification, Proposal, ProposalVersion
from proposals.queries import WITHDRAWN, Awaiting, InboxLine, LiveTally, Payable
from proposals.rules import round_is_reset_by
from proposals.schemas import PolicyOut, ProposalOut, ResponseOut, RoundOut, TallyOut, VersionOut

EVERY_STEWARD = N_("Every steward")

# What an amendment changed, in words (``VersionOut.changed`` holds the field names).
FIELD_LABELS = {
    "title": "title",
    "body": "text",
    "fund": "fund",
    "amount": "amount",
    "counterparty": "counterparty",
}


def _money(fmt: Formatter, fund: Fund | None, amount: int | None) -> str:
    if fund is None or amount is None:
        return ""
    return fmt.money(amount, fund.currency)


def money_text(version: ProposalVersion, fmt: Formatter) -> str:
    """``€80.00 from Rent relief``, or empty for a proposal that pays nothing."""
    if version.fund is None or version.amount is None:
        return ""
    t = fmt.translate
    return t("%(amount)s from %(fund)s") % {
        "amount": fmt.money(version.amount, version.fund.currency),
        "fund": version.fund.name,
    }


# --- a proposal, whole ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    # None while the group keeps the round's tally hidden (only who responded shows).
    agree: int | None
    concern: int | None
    stand_aside: int | None
    block: int | None
    responded: int
    eligible: int
    quorum_needed: int

    @property
    def hidden(self) -> bool:
        return self.agree is None


def _tally_of(tally: TallyOut | rules.Outcome) -> Tally:
    return Tally(
        agree=tally.agree,
        concern=tally.concern,
        stand_aside=tally.stand_aside,
        block=tally.block,
        responded=tally.responded,
        eligible=tally.eligible,
        quorum_needed=tally.quorum_needed,
    )


@dataclass(frozen=True, slots=True)
class VersionView:
    number: int
    title: str
    body: str
    amount: str  # formatted for the page; empty when it pays nothing
    amount_minor: int | None
    currency: str | None
    fund: str | None  # the fund's name
    fund_slug: str | None
    counterparty: str | None
    reason: str
    author: str | None  # None when names are not shown
    created_at: datetime
    changed: list[str]  # the fields changed from the version before (``FIELD_LABELS``)
    changes: list[FieldChange]
    body_changes: list[DiffLine]
    # An amendment of substance opens a new round; a title fix keeps the responses.
    opened_round: bool

    @property
    def body_html(self) -> Markup:
        return render_markdown(self.body)

    @property
    def changed_labels(self) -> list[str]:
        return [FIELD_LABELS.get(name, name) for name in self.changed]


@dataclass(frozen=True, slots=True)
class ResponseView:
    position: str
    position_label: str
    reason: str
    member: str | None  # None when names are not shown
    at: datetime


@dataclass(frozen=True, slots=True)
class MinuteView:
    """The record of a closed round, as it was frozen when the round closed."""

    version: int
    title: str
    amount: str
    fund: str | None
    counterparty: str | None
    eligible: int
    # Every eligible member's name (None for a person no longer known); empty when names
    # are not shown.
    names: list[str | None]

    @property
    def eligible_names(self) -> list[str]:
        """The names known."""
        return [name for name in self.names if name]

    def names_or(self, someone: str) -> list[str]:
        """Every eligible member, ``someone`` standing for a name no longer known."""
        return [name or someone for name in self.names]


@dataclass(frozen=True, slots=True)
class RoundView:
    number: int
    version: int
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    closed_by: str  # how it closed, in words; empty while open
    outcome: str | None
    outcome_label: str
    # The outcome's plain explanation; for an open round, what closing now would give.
    explanation: str
    tally: Tally  # live while the round is open, as counted at close after
    responses: list[ResponseView]
    minute: MinuteView | None
    comments: int = 0  # written in the discussion while the round was open
    # The entry of the group's log that holds the decision (None: open, or closed before
    # decisions were logged).
    decided_in: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def state_label(self) -> str:
        """``Passed``, ``Closed without a decision`` or ``Open``."""
        if self.outcome:
            return self.outcome_label
        return "Open" if self.is_open else "Closed without a decision"

    @property
    def full_explanation(self) -> str:
        """The explanation said in full: what closing now would give, why it passed (or
        not), or how a round without a decision closed."""
        if self.is_open:
            return f"If it closed now: {self.explanation}" if self.explanation else ""
        return self.explanation if self.outcome else self.closed_by


@dataclass(frozen=True, slots=True)
class ProposalPage:
    number: int
    title: str
    body: str
    status: str
    status_label: str
    kind: str
    kind_label: str
    amount: str
    amount_minor: int | None
    fund: str | None
    fund_slug: str | None
    currency: str  # of its fund, else the group's
    counterparty: str | None
    author: str | None
    created_at: datetime
    decided_at: datetime | None
    versions: list[VersionView]
    rounds: list[RoundView]
    # What a passed proposal lets the stewards pay; None when it authorises nothing.
    authorised_minor: int | None
    paid_minor: int
    authorised: str  # formatted for the page, empty when it authorises nothing
    paid: str
    left_to_pay: str
    show_names: bool
    # The tier of the current round and where an urgent decision stands, in words.
    notes: list[str] = field(default_factory=list)
    # What will become of the open round, in a sentence; empty once it closed.
    next_step: str = ""

    @property
    def body_html(self) -> Markup:
        return render_markdown(self.body)

    @property
    def left_minor(self) -> int | None:
        if self.authorised_minor is None:
            return None
        return max(self.authorised_minor - self.paid_minor, 0)


def _moment(value: datetime | str) -> datetime:
    # Responses read back from a minute carry their time as ISO text.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _responses(responses: list[ResponseOut], fmt: Formatter) -> list[ResponseView]:
    return [
        ResponseView(
            position=r.position,
            position_label=fmt.translate(POSITION_LABELS.get(r.position, r.position)),
            reason=r.reason,
            member=r.member,
            at=_moment(r.at),
        )
        for r in responses
    ]


def _minute_view(
    minute: Minute | None, funds: Mapping[str, Fund], fmt: Formatter, show_names: bool
) -> MinuteView | None:
    if minute is None:
        return None
    fund = funds.get(str(minute.version.fund))
    return MinuteView(
        version=minute.version.number,
        title=minute.version.title,
        amount=_money(fmt, fund, minute.version.amount),
        fund=fund.name if fund else None,
        counterparty=minute.version.counterparty,
        eligible=len(minute.eligible),
        names=[member.name for member in minute.eligible] if show_names else [],
    )


def _round_view(out: RoundOut, minute: MinuteView | None, fmt: Formatter) -> RoundView:
    if out.closed_at is None:
        outcome = None
        explanation = fmt.explained(out.live.words, out.live.explanation) if out.live else ""
    else:
        outcome = out.outcome.status if out.outcome else None
        explanation = (
            fmt.explained(out.outcome.words, out.outcome.explanation) if out.outcome else ""
        )
    return RoundView(
        number=out.number,
        version=out.version,
        opened_at=out.opened_at,
        closes_at=out.closes_at,
        closed_at=out.closed_at,
        closed_by=fmt.translate(CLOSED_BY.get(out.closed_by or "", out.closed_by or "")),
        outcome=outcome,
        outcome_label=fmt.translate(STATUS_LABELS[outcome]) if outcome in STATUS_LABELS else "",
        explanation=explanation,
        tally=_tally_of(out.tally),
        responses=_responses(out.responses, fmt),
        minute=minute,
        comments=out.comments,
        decided_in=out.decided_in,
    )


def _version_view(
    version: ProposalVersion, before: ProposalVersion | None, out: VersionOut, fmt: Formatter
) -> VersionView:
    return VersionView(
        number=version.version,
        title=version.title,
        body=version.body,
        amount=_money(fmt, version.fund, version.amount),
        amount_minor=version.amount if version.fund is not None else None,
        currency=version.fund.currency if version.fund else None,
        fund=version.fund.name if version.fund else None,
        fund_slug=version.fund.slug if version.fund else None,
        counterparty=version.counterparty,
        reason=version.reason,
        author=out.author,
        created_at=version.created_at,
        changed=list(out.changed),
        changes=field_changes(before, version, fmt) if before is not None else [],
        body_changes=text_diff(before.body, version.body) if before is not None else [],
        opened_round=before is not None and round_is_reset_by(set(out.changed)),
    )


def proposal_page(
    group: Group,
    proposal: Proposal,
    out: ProposalOut,
    fmt: Formatter,
    *,
    show_names: bool,
    paid: int,
) -> ProposalPage:
    """The whole proposal, from its read model ``out`` (``proposals.queries.proposal_out``,
    read with the same ``show_names``); ``paid`` is the money paid under it
    (``proposals.queries.paid_under``)."""
    current = service.current_version(proposal)
    funds = {v.fund.slug: v.fund for v in proposal.versions if v.fund is not None}
    minutes = {r.number: minute_of_round(r) for r in proposal.rounds}
    pays = current.fund is not None and current.amount is not None
    currency = current.fund.currency if current.fund is not None and pays else group.currency
    authorised_minor: int | None = None
    authorised = paid_text = left = ""
    if out.authorised is not None and current.fund is not None and current.amount is not None:
        authorised_minor = current.amount
        authorised = fmt.money(current.amount, currency)
        paid_text = fmt.money(paid, currency)
        left = fmt.money(max(current.amount - paid, 0), currency)
    return ProposalPage(
        number=proposal.number,
        title=current.title,
        body=current.body,
        status=proposal.status,
        status_label=fmt.translate(STATUS_LABELS.get(proposal.status, proposal.status)),
        kind=proposal.kind,
        kind_label=fmt.translate(KIND_LABELS.get(proposal.kind, proposal.kind)),
        amount=_money(fmt, current.fund, current.amount),
        amount_minor=current.amount if current.fund is not None else None,
        fund=current.fund.name if current.fund else None,
        fund_slug=current.fund.slug if current.fund else None,
        currency=currency,
        counterparty=current.counterparty,
        author=out.author,
        created_at=proposal.created_at,
        decided_at=proposal.decided_at,
        versions=[
            _version_view(v, proposal.versions[i - 1] if i else None, out.versions[i], fmt)
            for i, v in enumerate(proposal.versions)
        ],
        rounds=[
            _round_view(r, _minute_view(minutes.get(r.number), funds, fmt, show_names), fmt)
            for r in out.rounds
        ],
        authorised_minor=authorised_minor,
        paid_minor=paid,
        authorised=authorised,
        paid=paid_text,
        left_to_pay=left,
        show_names=show_names,
        notes=decision_notes(out, fmt, paid=fmt.money(paid, currency) if paid else ""),
        next_step=next_step(proposal, out.rounds[-1], fmt),
    )


def next_step(proposal: Proposal, out: RoundOut, fmt: Formatter) -> str:
    """What will become of the proposal's open round ``out``, said in one sentence
    (``rules.what_happens_next``); empty once the round closed."""
    if out.closed_at is not None:
        return ""
    live = out.live
    text, values = rules.what_happens_next_words(
        live.status if live else "",
        live.reason if live else "",
        fmt.deadline(out.closes_at),
        blocks=out.tally.block or 0,
        missing=out.tally.quorum_needed - out.tally.responded,
        hidden=out.tally_hidden,
        passed_urgently=out.urgent_passed_at is not None,
        closes_when_all_respond=service.rules_of(
            service.current_round(proposal)
        ).close_when_all_responded,
    )
    return fmt.translate(text) % values


def decision_notes(out: ProposalOut, fmt: Formatter, *, paid: str = "") -> list[str]:
    """What the current round's tier is and where an urgent decision stands, for the page
    and the decision record, in the reader's language. ``paid``: the money paid under the
    proposal, formatted."""
    notes: list[str] = []
    current = out.rounds[-1] if out.rounds else None
    if current is not None and current.tier is not None:
        tier = current.tier
        mode = N_("lazy consensus") if tier.mode == "lazy" else N_("the group's ordinary rules")
        notes.append(
            fmt.translate(
                N_("Round %(round)s is decided by tier %(tier)s, %(label)s (%(why)s): %(mode)s.")
            )
            % {
                "round": current.number,
                "tier": tier.number,
                "label": fmt.said(rules.tier_label_words(tier.label)),
                "why": fmt.said(rules.tier_why_words(tier.why)),
                "mode": fmt.translate(mode),
            }
        )
    if out.urgent_decision is None:
        if out.urgent and out.status == "open":
            notes.append(
                fmt.translate(
                    N_(
                        "Urgent: it may pass early once enough members agree and nobody "
                        "blocks; it is then confirmed at its deadline."
                    )
                )
            )
        return notes
    urgent = [r for r in out.rounds if r.urgent_passed_at is not None][-1]
    assert urgent.urgent_passed_at is not None
    values = {
        "passed_on": fmt.moment(urgent.urgent_passed_at),
        "deadline": fmt.moment(urgent.closes_at),
        "paid": paid,
    }
    if urgent.closed_at is None:
        text = N_(
            "Passed urgently on %(passed_on)s, awaiting confirmation: at the deadline "
            "(%(deadline)s) it is confirmed if it passes by the ordinary rules."
        )
    elif urgent.outcome is not None and urgent.outcome.status == "passed":
        text = N_("Passed urgently on %(passed_on)s, confirmed at its deadline.")
    elif paid:
        text = N_(
            "Passed urgently on %(passed_on)s, not confirmed at its deadline. %(paid)s paid "
            "under the urgent decision stays paid (the ledger never changes); nothing more "
            "may be paid under it."
        )
    else:
        text = N_("Passed urgently on %(passed_on)s, not confirmed at its deadline.")
    notes.append(fmt.translate(text) % values)
    return notes


# --- a proposal, in a list ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposalLine:
    """A proposal as the lists show it: open ones with their live tally and deadline,
    decided ones with their outcome and why."""

    number: int
    title: str
    status: str
    status_label: str
    kind_label: str
    amount: str
    fund: str | None
    counterparty: str | None
    closes_at: datetime | None
    tally: Tally | None
    explanation: str
    decided_at: datetime | None


def proposal_line(proposal: Proposal, live: LiveTally | None, fmt: Formatter) -> ProposalLine:
    """``live`` is the tally of its open round (``proposals.queries.live_tallies``)."""
    version = service.current_version(proposal)
    round_ = service.current_round(proposal)
    tally: Tally | None = None
    closes_at: datetime | None = None
    if proposal.status == "open" and round_.closed_at is None and live is not None:
        tally = _tally_of(live.tally)
        closes_at = round_.closes_at
        explanation = fmt.explained(live.words, live.explanation)
    elif proposal.status == "withdrawn":
        explanation = fmt.said(WITHDRAWN)
    else:
        decided = [r for r in proposal.rounds if r.outcome]
        explanation = (
            fmt.explained(explanation_words(decided[-1]), decided[-1].explanation or "")
            if decided
            else ""
        )
    return ProposalLine(
        number=proposal.number,
        title=version.title,
        status=proposal.status,
        status_label=fmt.translate(STATUS_LABELS.get(proposal.status, proposal.status)),
        kind_label=fmt.translate(KIND_LABELS.get(proposal.kind, proposal.kind)),
        amount=_money(fmt, version.fund, version.amount),
        fund=version.fund.name if version.fund else None,
        counterparty=version.counterparty,
        closes_at=closes_at,
        tally=tally,
        explanation=explanation,
        decided_at=proposal.decided_at,
    )


def proposal_lines(
    proposals: Sequence[Proposal], live: Mapping[int, LiveTally], fmt: Formatter
) -> list[ProposalLine]:
    return [proposal_line(p, live.get(p.number), fmt) for p in proposals]


# A member's group page lists this many decisions.
RECENT_DECISIONS = 5


@dataclass(frozen=True, slots=True)
class ProposalCard:
    """One line about a proposal in a member's list."""

    group_slug: str
    group_name: str
    number: int
    title: str
    status: str
    status_label: str
    money: str
    closes_at: str  # the open round's deadline, as people read it; empty when closed
    # The open round's count so far ("2 of 4 members have responded", said by the page in
    # its reader's language); None when not counted.
    responded: int | None
    eligible: int
    mine: bool  # the reader wrote it


def proposal_card(
    group: Group,
    proposal: Proposal,
    fmt: Formatter,
    reader_id: int,
    live: LiveTally | None = None,
) -> ProposalCard:
    """``live``: the open round's tally, to say how many responded (else nothing is said)."""
    version = service.current_version(proposal)
    round_ = service.current_round(proposal)
    tally = live.tally if live is not None and round_.closed_at is None else None
    return ProposalCard(
        group_slug=group.slug,
        group_name=group.name,
        number=proposal.number,
        title=version.title,
        status=proposal.status,
        status_label=STATUS_LABELS.get(proposal.status, proposal.status),
        money=money_text(version, fmt),
        closes_at=fmt.moment(round_.closes_at) if round_.closed_at is None else "",
        responded=tally.responded if tally is not None else None,
        eligible=tally.eligible if tally is not None else 0,
        mine=proposal.author_id == reader_id,
    )


def awaiting_cards(
    awaiting: Sequence[Awaiting], fmt: Formatter, reader_id: int
) -> list[ProposalCard]:
    return [proposal_card(a.group, a.proposal, fmt, reader_id) for a in awaiting]


# --- payments under a decision -----------------------------------------------------------


def policy_choice(policy: PolicyOut, fmt: Formatter) -> str:
    """A policy in force as a form offers it to pay under (a payment, a claim): its number,
    title, and the room it leaves."""

    def money(text: str) -> str:
        return fmt.money_text(text, policy.currency)

    return fmt.translate(
        N_("#%(number)s %(title)s: %(left)s left this month, at most %(most)s a payment")
    ) % {
        "number": policy.number,
        "title": policy.title,
        "left": money(policy.remaining_this_month),
        "most": money(policy.max_per_payment),
    }


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


def payable_views(payable: Sequence[Payable], fmt: Formatter) -> list[PayableProposal]:
    return [
        PayableProposal(
            number=p.number,
            title=p.title,
            fund_slug=p.fund.slug,
            fund_name=p.fund.name,
            remaining=fmt.money(p.remaining, p.fund.currency),
            authorised=fmt.money(p.authorised, p.fund.currency),
            counterparty=p.counterparty,
            left_to_pay=format_amount(p.remaining, p.fund.currency),
        )
        for p in payable
    ]


# --- notifications -----------------------------------------------------------------------

SHOWN_NOTIFICATIONS = 20
# The "[Group name] " an e-mail's subject starts with: the inbox names the group apart.
_SUBJECT_PREFIX = re.compile(r"^\[[^\]]*\]\s*")


@dataclass(frozen=True, slots=True)
class NotificationView:
    """One line of a member's inbox."""

    id: int
    text: str
    group_name: str
    at: str
    open_url: str  # marks the line read, then leads where it points
    unread: bool


def _line_text(line: InboxLine, fmt: Formatter) -> str:
    """A sentence a member reads at a glance (not the e-mail's subject), in their
    language."""
    proposal = line.proposal
    if proposal is not None:
        round_number = service.current_round(proposal).number
        values = {
            "number": proposal.number,
            "title": service.current_version(proposal).title,
            "round": round_number,
        }
        if round_number > 1:
            text = N_(
                "Proposal #%(number)s, \u201c%(title)s\u201d, awaits your response "
                "(round %(round)s)"
            )
        else:
            text = N_("Proposal #%(number)s, \u201c%(title)s\u201d, awaits your response")
        return fmt.translate(text) % values
    said = notify.said_of(line.notification)
    if said is not None:
        return fmt.said(said.subject)
    return _SUBJECT_PREFIX.sub("", line.notification.subject)


def notification_target(notification: Notification, slug: str) -> str:
    """Where a notification leads once opened."""
    if notification.kind == "new_request":
        return f"/m/{slug}/requests"
    if notification.proposal_number is not None:
        return f"/m/{slug}/proposals/{notification.proposal_number}"
    return f"/m/{slug}"


def notification_views(lines: Sequence[InboxLine], fmt: Formatter) -> list[NotificationView]:
    return [
        NotificationView(
            id=line.notification.id,
            text=_line_text(line, fmt),
            group_name=line.group.name,
            at=fmt.moment(line.notification.created_at),
            open_url=f"/notifications/{line.notification.id}",
            unread=line.unread,
        )
        for line in lines
    ]


# --- spending policies -------------------------------------------------------------------------

POLICY_STATUS_LABELS = {
    policies.IN_FORCE: "In force",
    policies.ENDED: "Ended",
    policies.EXPIRED: "Expired",
}


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A spending policy as its page and the list of decisions show it."""

    number: int
    title: str
    purpose: str
    status: str
    status_label: str
    in_force: bool
    fund_name: str
    max_per_payment: str
    max_per_month: str
    used_this_month: str
    remaining_this_month: str
    payers: str
    decided_on: str
    ends_on: str
    ended_by: int | None


def policy_view(
    policy: policies.Policy, out: PolicyOut, fmt: Formatter, payer_names: Sequence[str]
) -> PolicyView:
    def money(text: str) -> str:
        return fmt.money_text(text, out.currency)

    return PolicyView(
        number=out.number,
        title=out.title,
        purpose=out.purpose,
        status=out.status,
        status_label=fmt.translate(POLICY_STATUS_LABELS.get(out.status, out.status)),
        in_force=out.status == policies.IN_FORCE,
        fund_name=policy.fund.name,
        max_per_payment=money(out.max_per_payment),
        max_per_month=money(out.max_per_month),
        used_this_month=money(out.used_this_month),
        remaining_this_month=money(out.remaining_this_month),
        payers=", ".join(payer_names) if payer_names else fmt.translate(EVERY_STEWARD),
        decided_on=fmt.day(policy.decided_on) if policy.decided_on else "",
        ends_on=fmt.day(out.ends_on) if out.ends_on else "",
        ended_by=out.ended_by,
    )

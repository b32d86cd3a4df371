"""Read models of the public side of proposals: a proposal as people read it (its text
rendered, money formatted, each version with what changed, each round with its tally,
responses and minute), the short form the lists show, and the differences between two
versions.

Names follow the API's rule (``proposals.views``): members see who said what; everyone
else sees names only when the group chose ``public_names``. Authors are people too, so
the same rule hides them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from app.web.markdown import render_markdown
from app.web.templating import Formatter
from ledger.models import Entry, Fund, Group
from ledger.queries import ReversalLinks
from ledger.rules import HOLDING
from proposals import service, views
from proposals.labels import CLOSED_BY, KIND_LABELS, POSITION_LABELS, STATUS_LABELS
from proposals.models import Proposal, ProposalVersion, Round
from proposals.rules import round_is_reset_by
from proposals.schemas import ResponseOut, RoundOut

# Lines of unchanged text shown around each change of a body.
DIFF_CONTEXT = 2
# Below this likeness two lines are shown as replaced whole, not word by word.
WORD_DIFF_LIKENESS = 0.4


# --- the differences between two versions -------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiffPart:
    text: str
    changed: bool


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a body's diff: ``same``, ``removed``, ``added``, or a ``gap`` standing
    for ``skipped`` unchanged lines."""

    kind: str
    parts: list[DiffPart]
    skipped: int = 0


_WORD = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(before: str, after: str) -> tuple[list[DiffPart], list[DiffPart]]:
    """The two texts cut into words, each marked changed or not (for one line or a title)."""
    old, new = _WORD.findall(before), _WORD.findall(after)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    if matcher.ratio() < WORD_DIFF_LIKENESS:
        return [DiffPart(before, True)], [DiffPart(after, True)]
    removed: list[DiffPart] = []
    added: list[DiffPart] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            removed.append(DiffPart("".join(old[i1:i2]), tag != "equal"))
        if j2 > j1:
            added.append(DiffPart("".join(new[j1:j2]), tag != "equal"))
    return removed, added


def text_diff(before: str, after: str, *, context: int = DIFF_CONTEXT) -> list[DiffLine]:
    """Line by line, with the changed words of a changed line marked, and long unchanged
    stretches folded into gaps; empty when nothing changed."""
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    lines: list[DiffLine] = []
    shown_to = 0  # old lines up to here are shown or folded already
    for group in matcher.get_grouped_opcodes(context):
        start = group[0][1]
        if start > shown_to:
            lines.append(DiffLine("gap", [], skipped=start - shown_to))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", [DiffPart(line, False)]) for line in old[i1:i2])
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                pairs = [word_diff(a, b) for a, b in zip(old[i1:i2], new[j1:j2], strict=True)]
                lines.extend(DiffLine("removed", removed) for removed, _ in pairs)
                lines.extend(DiffLine("added", added) for _, added in pairs)
                continue
            lines.extend(DiffLine("removed", [DiffPart(line, True)]) for line in old[i1:i2])
            lines.extend(DiffLine("added", [DiffPart(line, True)]) for line in new[j1:j2])
        shown_to = group[-1][2]
    if lines and shown_to < len(old):
        lines.append(DiffLine("gap", [], skipped=len(old) - shown_to))
    return lines


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A field an amendment changed, before and after, as people read it."""

    label: str
    before: list[DiffPart]
    after: list[DiffPart]


def _money(fmt: Formatter, fund: Fund | None, amount: int | None) -> str:
    if fund is None or amount is None:
        return ""
    return fmt.money(amount, fund.currency)


def field_changes(
    before: ProposalVersion, after: ProposalVersion, fmt: Formatter
) -> list[FieldChange]:
    """What changed between two versions, apart from the body (which ``text_diff`` shows)."""
    changes: list[FieldChange] = []
    if before.title != after.title:
        removed, added = word_diff(before.title, after.title)
        changes.append(FieldChange("Title", removed, added))
    pairs = (
        ("Amount", _money(fmt, before.fund, before.amount), _money(fmt, after.fund, after.amount)),
        (
            "Fund",
            before.fund.name if before.fund else "",
            after.fund.name if after.fund else "",
        ),
        ("Paid to", before.counterparty or "", after.counterparty or ""),
    )
    for label, old, new in pairs:
        if old != new:
            changes.append(
                FieldChange(label, [DiffPart(old or "none", True)], [DiffPart(new or "none", True)])
            )
    return changes


# --- a proposal, whole ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionView:
    number: int
    title: str
    body_html: Markup
    amount: str
    fund: str | None
    counterparty: str | None
    reason: str
    author: str | None
    created_at: datetime
    changes: list[FieldChange]
    body_changes: list[DiffLine]
    # An amendment of substance opens a new round; a title fix keeps the responses.
    opened_round: bool


@dataclass(frozen=True, slots=True)
class ResponseView:
    position: str
    position_label: str
    reason: str
    member: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Tally:
    agree: int
    concern: int
    stand_aside: int
    block: int
    responded: int
    eligible: int
    quorum_needed: int


@dataclass(frozen=True, slots=True)
class Minute:
    """The record of a closed round, as it was frozen when the round closed."""

    version: int
    title: str
    amount: str
    fund: str | None
    counterparty: str | None
    eligible: int
    eligible_names: list[str]


@dataclass(frozen=True, slots=True)
class RoundView:
    number: int
    version: int
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    closed_by: str
    outcome: str | None
    outcome_label: str
    # The outcome's plain explanation; for an open round, what closing now would give.
    explanation: str
    tally: Tally | None  # the live tally, while the round is open
    responses: list[ResponseView]
    minute: Minute | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class ProposalPage:
    number: int
    title: str
    body_html: Markup
    status: str
    status_label: str
    kind: str
    kind_label: str
    amount: str
    fund: str | None
    counterparty: str | None
    author: str | None
    created_at: datetime
    decided_at: datetime | None
    versions: list[VersionView]
    rounds: list[RoundView]
    authorised: str
    paid: str
    left_to_pay: str
    show_names: bool


def _moment(value: datetime | str) -> datetime:
    # Responses read back from a minute carry their time as ISO text.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _responses(responses: list[ResponseOut]) -> list[ResponseView]:
    return [
        ResponseView(
            position=r.position,
            position_label=POSITION_LABELS.get(r.position, r.position),
            reason=r.reason,
            member=r.member,
            at=_moment(r.at),
        )
        for r in responses
    ]


def _minute(
    round_: Round, funds: dict[str, Fund], fmt: Formatter, show_names: bool
) -> Minute | None:
    if round_.closed_at is None or not round_.minute:
        return None
    record: dict[str, Any] = json.loads(round_.minute)
    version: dict[str, Any] = record.get("version", {})
    fund = funds.get(str(version.get("fund")))
    amount = version.get("amount")
    eligible: list[dict[str, Any]] = record.get("eligible", [])
    return Minute(
        version=int(version.get("number", round_.version)),
        title=str(version.get("title", "")),
        amount=_money(fmt, fund, int(amount) if amount is not None else None),
        fund=fund.name if fund else None,
        counterparty=version.get("counterparty"),
        eligible=len(eligible),
        eligible_names=[str(e["name"]) for e in eligible if e.get("name")] if show_names else [],
    )


def _round_view(
    round_: Round, out: RoundOut, funds: dict[str, Fund], fmt: Formatter, show_names: bool
) -> RoundView:
    if out.closed_at is None:
        outcome = None
        explanation = out.live.explanation if out.live else ""
        tally: Tally | None = Tally(
            agree=out.tally.agree,
            concern=out.tally.concern,
            stand_aside=out.tally.stand_aside,
            block=out.tally.block,
            responded=out.tally.responded,
            eligible=out.tally.eligible,
            quorum_needed=out.tally.quorum_needed,
        )
    else:
        outcome = out.outcome.status if out.outcome else None
        explanation = out.outcome.explanation if out.outcome else ""
        tally = None
    return RoundView(
        number=out.number,
        version=out.version,
        opened_at=out.opened_at,
        closes_at=out.closes_at,
        closed_at=out.closed_at,
        closed_by=CLOSED_BY.get(out.closed_by or "", out.closed_by or ""),
        outcome=outcome,
        outcome_label=STATUS_LABELS.get(outcome or "", ""),
        explanation=explanation,
        tally=tally,
        responses=_responses(out.responses),
        minute=_minute(round_, funds, fmt, show_names),
    )


def _version_view(
    version: ProposalVersion, before: ProposalVersion | None, fmt: Formatter, show_names: bool
) -> VersionView:
    changed: set[str] = set()
    if before is not None:
        changed = {
            name
            for name, old, new in (
                ("title", before.title, version.title),
                ("body", before.body, version.body),
                ("fund", before.fund_id, version.fund_id),
                ("amount", before.amount, version.amount),
                ("counterparty", before.counterparty, version.counterparty),
            )
            if old != new
        }
    return VersionView(
        number=version.version,
        title=version.title,
        body_html=render_markdown(version.body),
        amount=_money(fmt, version.fund, version.amount),
        fund=version.fund.name if version.fund else None,
        counterparty=version.counterparty,
        reason=version.reason,
        author=version.author.name if show_names else None,
        created_at=version.created_at,
        changes=field_changes(before, version, fmt) if before is not None else [],
        body_changes=text_diff(before.body, version.body) if before is not None else [],
        opened_round=before is not None and round_is_reset_by(changed),
    )


def paid_under(payments: Sequence[Entry], links: ReversalLinks) -> int:
    """Money paid by ``payments`` (the entries made under one proposal), less those reversed:
    what ``proposals.service.paid`` counts, from rows the page has read already."""
    return sum(
        -posting.amount
        for entry in payments
        if entry.seq not in links.reversed_by
        for posting in entry.postings
        if posting.account_type == HOLDING
    )


async def proposal_page(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    fmt: Formatter,
    *,
    show_names: bool,
    paid: int,
) -> ProposalPage:
    """The whole proposal; ``paid`` is the money paid under it (see ``paid_under``)."""
    out = await views.proposal_out(session, group, proposal, show_names=show_names)
    current = service.current_version(proposal)
    funds = {v.fund.slug: v.fund for v in proposal.versions if v.fund is not None}
    rounds = {r.number: r for r in proposal.rounds}
    authorised = paid_text = left = ""
    if out.authorised is not None and current.fund is not None and current.amount is not None:
        done = paid
        currency = current.fund.currency
        authorised = fmt.money(current.amount, currency)
        paid_text = fmt.money(done, currency)
        left = fmt.money(max(current.amount - done, 0), currency)
    return ProposalPage(
        number=proposal.number,
        title=current.title,
        body_html=render_markdown(current.body),
        status=proposal.status,
        status_label=STATUS_LABELS.get(proposal.status, proposal.status),
        kind=proposal.kind,
        kind_label=KIND_LABELS.get(proposal.kind, proposal.kind),
        amount=_money(fmt, current.fund, current.amount),
        fund=current.fund.name if current.fund else None,
        counterparty=current.counterparty,
        author=proposal.author.name if show_names else None,
        created_at=proposal.created_at,
        decided_at=proposal.decided_at,
        versions=[
            _version_view(v, proposal.versions[i - 1] if i else None, fmt, show_names)
            for i, v in enumerate(proposal.versions)
        ],
        rounds=[_round_view(rounds[r.number], r, funds, fmt, show_names) for r in out.rounds],
        authorised=authorised,
        paid=paid_text,
        left_to_pay=left,
        show_names=show_names,
    )


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


async def proposal_line(
    session: AsyncSession, group: Group, proposal: Proposal, fmt: Formatter
) -> ProposalLine:
    version = service.current_version(proposal)
    round_ = service.current_round(proposal)
    tally: Tally | None = None
    closes_at: datetime | None = None
    if proposal.status == "open" and round_.closed_at is None:
        live = await service.live_outcome(session, group, proposal, round_)
        tally = Tally(
            agree=live.agree,
            concern=live.concern,
            stand_aside=live.stand_aside,
            block=live.block,
            responded=live.responded,
            eligible=live.eligible,
            quorum_needed=live.quorum_needed,
        )
        closes_at = round_.closes_at
        explanation = live.explanation
    elif proposal.status == "withdrawn":
        explanation = "Withdrawn by its author."
    else:
        decided = [r for r in proposal.rounds if r.outcome]
        explanation = (decided[-1].explanation or "") if decided else ""
    return ProposalLine(
        number=proposal.number,
        title=version.title,
        status=proposal.status,
        status_label=STATUS_LABELS.get(proposal.status, proposal.status),
        kind_label=KIND_LABELS.get(proposal.kind, proposal.kind),
        amount=_money(fmt, version.fund, version.amount),
        fund=version.fund.name if version.fund else None,
        counterparty=version.counterparty,
        closes_at=closes_at,
        tally=tally,
        explanation=explanation,
        decided_at=proposal.decided_at,
    )


async def proposal_lines(
    session: AsyncSession, group: Group, proposals: list[Proposal], fmt: Formatter
) -> list[ProposalLine]:
    return [await proposal_line(session, group, p, fmt) for p in proposals]

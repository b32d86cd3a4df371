"""The decision record of a proposal, as PDF/A-3 with its minutes and proofs attached.

It prints what the group decided and how: every version (with the reason for each
amendment), every round (opened, deadline, closed, outcome and its plain explanation, the
tally and the responses with their reasons), the minute written when each round closed,
the payments made under the proposal, and the latest signed checkpoint, which covers those
payments. Attached: the minutes (JSON), the payments' leaves exactly as hashed with their
inclusion proofs against that checkpoint, and the checkpoint itself.

Who said what: a decision record is meant to travel beyond the group, so it shows names
(of authors, of members who responded, of the eligible members) only when the group's
rules make names public (``public_names``), the rule ``proposals.views`` applies to
everyone who is not a member. Counts, positions and reasons are always shown.

The statement's ``decisions_in_period`` hook is here too (``proposal_decisions``): the
rounds that closed with a decision in the period, and withdrawals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.documents.columns import clean
from app.documents.pdf import PdfAttachment, PdfDocument
from app.documents.seal import Links, Seal, latest_seal
from app.documents.statement import Decision
from ledger.merkle import inclusion_proof, root_from_leaf_hashes
from ledger.models import Entry, Group
from ledger.money import format_amount
from proposals import service, views
from proposals.labels import CLOSED_BY, KIND_LABELS, POSITION_LABELS, STATUS_LABELS
from proposals.schemas import ResponseOut, RoundOut, TallyOut, VersionOut

if TYPE_CHECKING:
    from litestar import Request, Response

    from app.auth import Caller

TEMPLATE = "proposal.pdf.html"

FIELD_LABELS = {
    "title": "title",
    "body": "text",
    "fund": "fund",
    "amount": "amount",
    "counterparty": "counterparty",
}
SOMEONE = "a member"


def _when(moment: datetime | str) -> str:
    """A moment in UTC to the minute (a minute's responses hold their time as ISO text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _paragraphs(text: str) -> list[list[str]]:
    """Member text as paragraphs of lines (blank lines part paragraphs), each line cleaned
    of control and bidi-override characters; printed escaped, never as markup."""
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            paragraphs[-1].append(clean(line))
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def _money(amount: str | None, currency: str | None, fund: str | None) -> str | None:
    if amount is None or currency is None:
        return None
    return f"{amount} {currency}" + (f" from {fund}" if fund else "")


# --- what the record shows ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionView:
    number: int
    title: str
    created: str
    author: str
    reason: str
    changed: list[str]
    money: str | None
    counterparty: str | None
    # None when the text is the one of the version before.
    paragraphs: list[list[str]] | None


@dataclass(frozen=True, slots=True)
class ResponseView:
    position: str
    reason: str
    at: str
    member: str | None


@dataclass(frozen=True, slots=True)
class RoundView:
    number: int
    version: int
    opened: str
    deadline: str
    closed: str | None
    closed_how: str | None
    outcome: str
    explanation: str
    tally: TallyOut
    responses: list[ResponseView]
    # From the minute written at close (None while the round is open).
    minute_eligible: int | None
    minute_names: list[str]
    minute_version: str | None


@dataclass(frozen=True, slots=True)
class PaymentView:
    seq: int
    occurred_on: date
    fund: str
    amount: str
    counterparty: str
    memo: str
    hash: str
    reversed_by: int | None
    proven: bool
    receipt: str


def _version_view(version: VersionOut, before: VersionOut | None, names: bool) -> VersionView:
    text_changed = before is None or "body" in version.changed
    return VersionView(
        number=version.version,
        title=clean(version.title),
        created=_when(version.created_at),
        author=version.author if names and version.author else SOMEONE,
        reason=version.reason,
        changed=[FIELD_LABELS.get(name, name) for name in version.changed],
        money=_money(version.amount, version.currency, version.fund),
        counterparty=version.counterparty,
        paragraphs=_paragraphs(version.body) if text_changed else None,
    )


def _response_view(response: ResponseOut, names: bool) -> ResponseView:
    return ResponseView(
        position=POSITION_LABELS.get(response.position, response.position),
        reason=response.reason,
        at=_when(response.at),
        member=(response.member or SOMEONE) if names else None,
    )


def _round_view(shown: RoundOut, minute: dict[str, Any] | None, names: bool) -> RoundView:
    if shown.outcome is not None:
        outcome = STATUS_LABELS.get(shown.outcome.status, shown.outcome.status)
        explanation = shown.outcome.explanation
    elif shown.closed_at is not None:
        outcome, explanation = "Closed without a decision", CLOSED_BY.get(shown.closed_by or "", "")
    else:
        outcome = "Open"
        explanation = f"If it closed now: {shown.live.explanation}" if shown.live else ""
    minute_version = None
    if minute is not None:
        decided = minute["version"]
        minute_version = f"version {decided['number']}: {clean(decided['title'])}"
    return RoundView(
        number=shown.number,
        version=shown.version,
        opened=_when(shown.opened_at),
        deadline=_when(shown.closes_at),
        closed=_when(shown.closed_at) if shown.closed_at else None,
        closed_how=CLOSED_BY.get(shown.closed_by or "") if shown.closed_by else None,
        outcome=outcome,
        explanation=explanation,
        tally=shown.tally,
        responses=[_response_view(response, names) for response in shown.responses],
        minute_eligible=len(minute["eligible"]) if minute is not None else None,
        minute_names=(
            [str(member["name"] or SOMEONE) for member in minute["eligible"]]
            if minute is not None and names
            else []
        ),
        minute_version=minute_version,
    )


def _public_minute(minute: dict[str, Any], names: bool) -> dict[str, Any]:
    """A round's minute as attached: without names or member ids unless names are public."""
    if names:
        return minute
    return {
        **minute,
        "eligible": len(minute["eligible"]),
        "responses": [
            {key: value for key, value in response.items() if key not in ("member", "member_id")}
            for response in minute["responses"]
        ],
    }


async def _leaf_hashes(session: AsyncSession, group: Group, size: int) -> list[bytes]:
    hashes = await session.scalars(
        select(Entry.hash).where(Entry.group_id == group.id, Entry.seq <= size).order_by(Entry.seq)
    )
    return [bytes.fromhex(value) for value in hashes]


async def _inclusion_proofs(
    session: AsyncSession, group: Group, seqs: Sequence[int], seal: Seal | None
) -> list[dict[str, Any]]:
    """RFC 9162 inclusion proofs of these entries in the tree of the seal's checkpoint, as
    ``/entries/{seq}/proof`` serves them (the tree's hashes are read once for all)."""
    covered = [seq for seq in seqs if seal is not None and seq <= seal.size]
    if seal is None or not covered:
        return []
    hashes = await _leaf_hashes(session, group, seal.size)
    root = root_from_leaf_hashes(hashes).hex()
    return [
        {
            "seq": seq,
            "leaf_index": seq - 1,
            "tree_size": seal.size,
            "leaf_hash": hashes[seq - 1].hex(),
            "audit_path": [
                node.hex() for node in inclusion_proof(seq - 1, seal.size, hashes.__getitem__)
            ],
            "root": root,
        }
        for seq in covered
    ]


def minutes_file_name(group: Group, number: int) -> str:
    return f"{group.slug}-proposal-{number}-minutes.json"


def payments_file_name(group: Group, number: int) -> str:
    return f"{group.slug}-proposal-{number}-payments.jsonl"


def proofs_file_name(group: Group, number: int) -> str:
    return f"{group.slug}-proposal-{number}-payment-proofs.json"


async def proposal_document(
    session: AsyncSession, group: Group, number: int, *, base_url: str
) -> PdfDocument:
    """Read everything the decision record of proposal ``number`` shows (ProposalNotFound
    for a number the group does not have)."""
    proposal = await service.get_proposal(session, group, number)
    _, names = await service.get_rules(session, group)
    shown = await views.proposal_out(session, group, proposal, show_names=names)
    minutes = [json.loads(r.minute) if r.minute else None for r in proposal.rounds]
    payments = await views.payments_under(session, group, number)
    seal = await latest_seal(session, group)
    proofs = await _inclusion_proofs(session, group, [p.seq for p in payments], seal)
    links = Links(base_url.rstrip("/"), group.slug)

    versions = [
        _version_view(version, shown.versions[i - 1] if i else None, names)
        for i, version in enumerate(shown.versions)
    ]
    rounds = [
        _round_view(round_out, minute, names)
        for round_out, minute in zip(shown.rounds, minutes, strict=True)
    ]
    paid = sum(p.amount for p in payments if p.reversed_by is None)
    # What a passed proposal lets the stewards pay (shown.authorised says when it does).
    authorised = service.current_version(proposal).amount if shown.authorised else None
    currency = shown.currency or group.currency
    payment_views = [
        PaymentView(
            seq=p.seq,
            occurred_on=p.occurred_on,
            fund=p.fund_name,
            amount=f"{format_amount(p.amount, p.currency)} {p.currency}",
            counterparty=p.counterparty or "",
            memo=p.memo,
            hash=p.hash,
            reversed_by=p.reversed_by,
            proven=seal is not None and p.seq <= seal.size,
            receipt=f"{links.base_url}/g/{group.slug}/entries/{p.seq}/receipt.pdf",
        )
        for p in payments
    ]
    status = STATUS_LABELS.get(shown.status, shown.status)
    money = _money(shown.amount, shown.currency, shown.fund)

    attachments = [
        PdfAttachment(
            name=minutes_file_name(group, number),
            content=json.dumps(
                [_public_minute(m, names) for m in minutes if m is not None],
                ensure_ascii=False,
                indent=2,
                sort_keys=True,
            ).encode("utf-8")
            + b"\n",
            description=(
                f"The minutes of the closed rounds of proposal {number}, as written when each "
                "round closed"
                + ("" if names else " (names and member numbers left out, as the group asks)")
            ),
            relationship="Source",
        )
    ]
    if payments:
        attachments.append(
            PdfAttachment(
                name=payments_file_name(group, number),
                content=b"".join(p.leaf + b"\n" for p in payments),
                description=(
                    f"The {len(payments)} ledger entries that paid money under proposal "
                    f"{number}: their leaves exactly as hashed, one per line (JSON Lines)"
                ),
                relationship="Source",
            )
        )
    if proofs:
        attachments.append(
            PdfAttachment(
                name=proofs_file_name(group, number),
                content=json.dumps(proofs, indent=2).encode() + b"\n",
                description=(
                    "RFC 9162 inclusion proofs of those entries in the tree of "
                    f"{proofs[0]['tree_size']} entries of the signed checkpoint"
                ),
                relationship="Supplement",
            )
        )
    if seal is not None:
        attachments.append(seal.attachment())

    context: dict[str, Any] = {
        "group": {"name": group.name, "slug": group.slug, "public": group.public},
        "proposal": {
            "number": shown.number,
            "kind": KIND_LABELS.get(shown.kind, shown.kind),
            "status": status,
            "status_key": shown.status,
            "title": clean(shown.title),
            "paragraphs": _paragraphs(shown.body),
            "money": money,
            "counterparty": shown.counterparty,
            "author": shown.author if names else SOMEONE,
            "created": _when(shown.created_at),
            "decided": _when(shown.decided_at) if shown.decided_at else None,
            "authorised": f"{shown.authorised} {currency}" if shown.authorised else None,
            "paid": f"{format_amount(paid, currency)} {currency}",
            "left": (
                f"{format_amount(max(authorised - paid, 0), currency)} {currency}"
                if authorised is not None
                else None
            ),
        },
        "names": names,
        "versions": versions,
        "rounds": rounds,
        "payments": payment_views,
        "proofs": len(proofs),
        "seal": seal,
        "links": links,
        "minutes_name": minutes_file_name(group, number),
        "payments_name": payments_file_name(group, number) if payments else None,
        "proofs_name": proofs_file_name(group, number) if proofs else None,
        "checkpoint_name": seal.attachment().name if seal else None,
    }
    return PdfDocument(
        template=TEMPLATE,
        context=context,
        title=f"Decision record of proposal {number} of {group.name}",
        description=(
            f"Decision record of proposal {number} ({shown.title}) of the group {group.name} "
            f"({group.slug}): {status.lower()}. Its versions, rounds, responses, minutes and "
            "the payments made under it, with the signed checkpoint of the group's log."
        ),
        keywords=("decision record", group.slug, group.name, f"proposal {number}"),
        author=f"{group.name} (Common Purse)",
        attachments=attachments,
    )


async def proposal_record_response(
    request: Request[Any, Any, Any], db_session: AsyncSession, caller: Caller, number: int
) -> Response[bytes]:
    """``/g/{group}/proposals/{n}.pdf``: the decision record, printed off the event loop.

    A private group's record is for its members only (404 to anyone else, as the route's
    guard already says); an unknown number is a 404. The page's route closes rounds past
    their deadline first, so the record never shows them open."""
    from litestar.exceptions import NotFoundException

    from app.documents.routes import base_url_of, pdf_response

    group = caller.group
    if not group.public and caller.membership is None:
        raise NotFoundException(f"There is no group {group.slug!r}.")
    document = await proposal_document(db_session, group, number, base_url=base_url_of(request))
    filename = f"{group.slug}-proposal-{number}.pdf"
    return await pdf_response(document, filename, caller, db_session, request)


# --- the statement's decisions ----------------------------------------------------------------


async def proposal_decisions(
    session: AsyncSession, group: Group, date_from: date, date_to: date
) -> list[Decision]:
    """The ``decisions_in_period`` the statement prints: every round of the group's proposals
    that closed with a decision from the start of ``date_from`` to the end of ``date_to``
    (UTC days, as the ledger's dates), and every withdrawal, oldest first."""
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    return [
        Decision(
            number=decision.number,
            title=decision.title,
            outcome=STATUS_LABELS.get(decision.status, decision.status),
            decided_on=decision.decided_at.astimezone(UTC).date(),
            amount=f"{decision.amount} {decision.currency}" if decision.amount else None,
            fund=decision.fund,
            explanation=decision.explanation,
            round=decision.round,
        )
        for decision in await views.decisions_between(session, group, start, end)
    ]

"""The decision record of a proposal, as PDF/A-3 with its minutes and proofs attached.

It prints what the group decided and how: every version (with the reason for each
amendment), every round (opened, deadline, closed, outcome and its plain explanation, the
tally and the responses with their reasons), the minute written when each round closed,
the payments made under the proposal, and the latest signed checkpoint, which covers those
payments. Attached: the minutes (JSON), the payments' leaves exactly as hashed with their
inclusion proofs against that checkpoint, and the checkpoint itself.

Who said what: a decision record is meant to travel beyond the group, so it shows names
(of authors, of members who responded, of the eligible members) only when the group's
rules make names public (``public_names``): it asks ``proposals.queries.names_visible``
as someone outside the group would. The record is the proposal page's presenter
(``app.presenters.proposals``) printed by ``proposal.pdf.html``. Counts, positions and
reasons are always shown.

The statement's ``decisions_in_period`` hook is here too (``proposal_decisions``): the
rounds that closed with a decision in the period, and withdrawals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.documents.pdf import PdfAttachment, PdfDocument
from app.documents.seal import Links, Seal, latest_seal
from app.i18n import SOURCE_LANGUAGE
from app.presenters.formatting import Formatter, locale_or_default
from app.presenters.ledger import DecisionLine, decision_line
from app.presenters.proposals import proposal_page
from ledger.models import Group
from ledger.money import format_amount
from ledger.tree import tree_reader
from proposals import discussion, queries, service
from proposals.minute import Minute, minute_of_round

if TYPE_CHECKING:
    from litestar import Request, Response

    from app.auth import Caller

TEMPLATE = "proposal.pdf.html"

SOMEONE = "a member"  # stands for a name the record does not show


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


def _public_minute(written: Minute, names: bool) -> dict[str, Any]:
    """A round's minute as attached: without names or member ids unless names are public."""
    minute = written.to_builtins()
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


async def _inclusion_proofs(
    session: AsyncSession, group: Group, seqs: Sequence[int], seal: Seal | None
) -> list[dict[str, Any]]:
    """RFC 9162 inclusion proofs of these entries in the tree of the seal's checkpoint, as
    ``/entries/{seq}/proof`` serves them (the tiles they need are read once for all)."""
    covered = [seq for seq in seqs if seal is not None and seq <= seal.size]
    if seal is None or not covered:
        return []
    tree = await tree_reader(
        session,
        group.id,
        seal.size,
        lambda reader: [reader.inclusion_proof(seq - 1) for seq in covered] + [reader.root()],
    )
    root = tree.root().hex()
    return [
        {
            "seq": seq,
            "leaf_index": seq - 1,
            "tree_size": seal.size,
            "leaf_hash": tree.leaf_hash(seq - 1).hex(),
            "audit_path": [node.hex() for node in tree.inclusion_proof(seq - 1)],
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
    session: AsyncSession,
    group: Group,
    number: int,
    *,
    base_url: str,
    language: str = SOURCE_LANGUAGE,
) -> PdfDocument:
    """Read everything the decision record of proposal ``number`` shows (ProposalNotFound
    for a number the group does not have)."""
    proposal = await service.get_proposal(session, group, number)
    # A decision record travels beyond the group: it shows names as to someone outside it.
    names = await queries.names_visible(session, group, member=False)
    shown = await queries.proposal_out(session, group, proposal, show_names=names)
    minutes = [m for r in proposal.rounds if (m := minute_of_round(r)) is not None]
    payments = await queries.payments_under(session, group, number)
    seal = await latest_seal(session, group)
    proofs = await _inclusion_proofs(session, group, [p.seq for p in payments], seal)
    links = Links(base_url.rstrip("/"), group.slug)
    paid = sum(p.amount for p in payments if p.reversed_by is None)
    # Moments and money are printed in UTC and plain decimals (the PDF's filters), so the
    # page's formatter only fills texts the record does not print.
    # Its words are in the reader's language (labels, how rounds closed, what happens next).
    fmt = Formatter(locale_or_default(language))
    view = proposal_page(group, proposal, shown, fmt, show_names=names, paid=paid)
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
    status = view.status_label

    attachments = [
        PdfAttachment(
            name=minutes_file_name(group, number),
            content=json.dumps(
                [_public_minute(m, names) for m in minutes],
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
        "proposal": view,
        "names": names,
        "someone": SOMEONE,
        "versions": view.versions,
        "rounds": view.rounds,
        "payments": payment_views,
        "proofs": len(proofs),
        "seal": seal,
        "links": links,
        "minutes_name": minutes_file_name(group, number),
        "payments_name": payments_file_name(group, number) if payments else None,
        "proofs_name": proofs_file_name(group, number) if proofs else None,
        "checkpoint_name": seal.attachment().name if seal else None,
        # Where each round's comments are read: the public page when the group shows its
        # discussions, else the members' page.
        "discussion_url": f"{links.base_url}/g/{group.slug}/proposals/{number}#discussion"
        if (await discussion.settings_of(session, group)).public_comments
        else f"{links.base_url}/m/{group.slug}/proposals/{number}#discussion",
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
        lang=fmt.language,
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
    from app.web.language import visitor_language

    document = await proposal_document(
        db_session, group, number, base_url=base_url_of(request), language=visitor_language(request)
    )
    filename = f"{group.slug}-proposal-{number}.pdf"
    return await pdf_response(document, filename, caller, db_session, request)


# --- the statement's decisions ----------------------------------------------------------------


async def proposal_decisions(
    session: AsyncSession, group: Group, date_from: date, date_to: date
) -> list[DecisionLine]:
    """The ``decisions_in_period`` the statement prints: every round of the group's proposals
    that closed with a decision from the start of ``date_from`` to the end of ``date_to``
    (UTC days, as the ledger's dates), and every withdrawal, oldest first."""
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    return [
        decision_line(decision)
        for decision in await queries.decisions_between(session, group, start, end)
    ]

"""A receipt for one entry, carrying its own proof that the entry is in the group's log.

It prints the entry (amount, funds, date, memo, counterparty pseudonym, seq, hash), its
RFC 9162 inclusion proof (the audit path) against the latest signed checkpoint, that
checkpoint verbatim, and how to check the three against each other. The leaf bytes, the
proof (as the API serves it) and the checkpoint are attached inside the PDF.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.documents.pdf import DEFAULT_LIMITS, Limits, PdfAttachment, PdfDocument, render_pdf
from app.documents.seal import Links, latest_seal
from app.documents.statement import GRID_KINDS
from app.i18n import SOURCE_LANGUAGE
from ledger import log, service
from ledger.canonical import ATTACHMENT
from ledger.errors import Conflict, NotFound
from ledger.models import Group
from ledger.money import format_amount
from ledger.rules import HOLDING

TEMPLATE = "receipt.pdf.html"


def leaf_file_name(group: Group, seq: int) -> str:
    return f"{group.slug}-entry-{seq}.json"


def proof_file_name(group: Group, seq: int) -> str:
    return f"{group.slug}-entry-{seq}-inclusion-proof.json"


async def receipt_document(
    session: AsyncSession,
    group: Group,
    seq: int,
    *,
    base_url: str,
    language: str = SOURCE_LANGUAGE,
) -> PdfDocument:
    """Read the entry, its proof and the latest checkpoint (NotFound for an unknown entry;
    Conflict while no signed checkpoint covers it yet)."""
    entry = await service.get_entry(session, group, seq)
    if entry.kind == ATTACHMENT:
        # A file attached to an entry moves no money: there is nothing to give a receipt for.
        raise NotFound(f"Entry {seq} of {group.slug!r} is a file attached to an entry.")
    seal = await latest_seal(session, group)
    if seal is None or seal.size < seq:
        raise Conflict(f"Entry {seq} is not covered by a signed checkpoint yet; try again soon.")
    proof = await log.prove_inclusion(session, group, seq, seal.size)
    reversed_by = await service.reversal_of(session, group, seq)
    postings = [
        {
            "fund": p.fund.name,
            "fund_slug": p.fund.slug,
            "account": p.account,
            "holding": p.account_type == HOLDING,
            "amount": format_amount(p.amount, p.currency),
            "currency": p.currency,
        }
        for p in entry.postings
    ]
    moved = sum(p.amount for p in entry.postings if p.amount > 0)
    currency = entry.postings[0].currency if entry.postings else group.currency
    funds = list(dict.fromkeys(p.fund.name for p in entry.postings if p.account_type == HOLDING))
    links = Links(base_url.rstrip("/"), group.slug)
    proof_json = json.dumps(dataclasses.asdict(proof), indent=2).encode() + b"\n"
    context: dict[str, Any] = {
        "group": {"name": group.name, "slug": group.slug},
        "entry": {
            "seq": entry.seq,
            "kind": entry.kind,
            "occurred_on": entry.occurred_on,
            "recorded_at": entry.recorded_at,
            "memo": entry.memo,
            "counterparty": entry.counterparty,
            "reverses": entry.reverses_seq,
            "reversed_by": reversed_by,
            "hash": entry.hash,
            "prev_hash": entry.prev_hash,
            "amount": moved,
            "currency": currency,
            "funds": funds,
            "postings": postings,
            "leaf_size": len(entry.leaf),
        },
        "proof": proof,
        "seal": seal,
        "links": links,
        "leaf_name": leaf_file_name(group, seq),
        "proof_name": proof_file_name(group, seq),
        "checkpoint_name": seal.attachment().name,
        "kinds": GRID_KINDS,
    }
    return PdfDocument(
        template=TEMPLATE,
        context=context,
        title=f"Receipt for entry {seq} of {group.name}",
        description=(
            f"Receipt for entry {seq} ({entry.kind}, {format_amount(moved, currency)} "
            f"{currency}) of the group {group.name} ({group.slug}), with its inclusion proof "
            f"against the signed checkpoint of {seal.size} entries."
        ),
        keywords=("receipt", group.slug, group.name, f"entry {seq}"),
        author=f"{group.name} (Common Purse)",
        lang=language,
        attachments=[
            PdfAttachment(
                name=leaf_file_name(group, seq),
                content=entry.leaf,
                description=f"Entry {seq}: its leaf exactly as hashed (canonical JSON)",
                relationship="Source",
            ),
            PdfAttachment(
                name=proof_file_name(group, seq),
                content=proof_json,
                description=(
                    f"RFC 9162 inclusion proof of entry {seq} in the tree of {seal.size} entries"
                ),
                relationship="Supplement",
            ),
            seal.attachment(),
        ],
    )


async def render_receipt(
    session: AsyncSession,
    group: Group,
    seq: int,
    *,
    base_url: str,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """The receipt of entry ``seq`` as PDF bytes."""
    document = await receipt_document(session, group, seq, base_url=base_url)
    return await render_pdf(document, limits)

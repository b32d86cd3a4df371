"""Exports of a group's ledger. Every report is a fold over the entries in ``seq`` order.

- ``csv``: one row per posting, for spreadsheets;
- ``json``: the group, its funds and every entry as the API shows it, with the files
  attached to it (their hash, type and size);
- ``jsonl``: the leaves exactly as hashed, one per line, so anyone can re-hash them;
- ``hledger`` and ``beancount``: plain-text accounting files the standard tools check
  (``ledger.plaintext``); the verification bundle is ``ledger.bundle``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, selectinload

from ledger.attachments import AttachmentView, attachment_view
from ledger.bundle import build_bundle
from ledger.canonical import ATTACHMENT, timestamp
from ledger.log import Notary
from ledger.models import (
    Attachment,
    AttachmentErasure,
    Entry,
    Fund,
    Group,
    LogState,
    Place,
    Posting,
    Reconciliation,
)
from ledger.money import format_amount
from ledger.plaintext import BankBalance, beancount_file, hledger_journal, place_account
from ledger.queries import entry_out, fund_out, place_of, place_out
from ledger.rules import RECONCILIATION

FORMATS = ("csv", "json", "jsonl", "hledger", "beancount")
CSV_COLUMNS = (
    "seq",
    "occurred_on",
    "recorded_at",
    "kind",
    "fund",
    "account",
    "amount",
    "currency",
    "memo",
    "counterparty",
    "reverses",
    "proposal",
    "hash",
    "policy",
    "place",
)


def _entries(session: Session, group: Group, batch: int = 5_000) -> Iterator[Entry]:
    """Money entries with their postings, in log order, a batch at a time (the leaves of
    files attached to them move no money: the JSON export lists them with their entry)."""
    last = 0
    while True:
        page = list(
            session.scalars(
                select(Entry)
                .where(
                    Entry.group_id == group.id,
                    Entry.seq > last,
                    Entry.kind.not_in((ATTACHMENT, RECONCILIATION)),
                )
                .order_by(Entry.seq)
                .limit(batch)
                .options(selectinload(Entry.postings).joinedload(Posting.fund))
            )
        )
        if not page:
            return
        yield from page
        last = page[-1].seq


def _csv(session: Session, group: Group) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in _entries(session, group):
        proposal = (
            f"{entry.proposal_number}v{entry.proposal_version}" if entry.proposal_number else ""
        )
        policy = f"{entry.policy_number}v{entry.policy_version}" if entry.policy_number else ""
        place = place_of(entry) or ""
        # A row per posting: (fund, account, amount, currency, place); a move's rows are
        # its two places' own accounts, with no fund.
        rows = [(p.fund.slug, p.account, p.amount, p.currency, place) for p in entry.postings]
        if entry.moved is not None and entry.to_place is not None:
            currency, to = entry.to_place.currency, entry.to_place.slug
            rows += [
                ("", place_account(place), -entry.moved, currency, place),
                ("", place_account(to), entry.moved, currency, to),
            ]
        for fund, account, amount, currency, where in rows:
            writer.writerow(
                (
                    entry.seq,
                    entry.occurred_on.isoformat(),
                    timestamp(entry.recorded_at),
                    entry.kind,
                    fund,
                    account,
                    format_amount(amount, currency),
                    currency,
                    _spreadsheet_safe(entry.memo),
                    _spreadsheet_safe(entry.counterparty or ""),
                    entry.reverses_seq or "",
                    proposal,
                    entry.hash,
                    policy,
                    where,
                )
            )
    return out.getvalue().encode("utf-8")


def _spreadsheet_safe(text: str) -> str:
    """Keep a memo like ``=HYPERLINK(...)`` from running as a formula in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _json(session: Session, group: Group) -> bytes:
    funds = session.scalars(select(Fund).where(Fund.group_id == group.id).order_by(Fund.id))
    state = session.get(LogState, group.id)
    reversed_by = dict(
        session.execute(
            select(Entry.reverses_seq, Entry.seq).where(
                Entry.group_id == group.id, Entry.reverses_seq.is_not(None)
            )
        ).all()
    )
    attachments: dict[int, list[AttachmentView]] = {}
    for attachment, erased_at in session.execute(
        select(Attachment, AttachmentErasure.erased_at)
        .outerjoin(AttachmentErasure, AttachmentErasure.attachment_id == Attachment.id)
        .where(Attachment.group_id == group.id)
        .order_by(Attachment.seq)
    ):
        attachments.setdefault(attachment.entry_seq, []).append(
            attachment_view(attachment, erased_at)
        )
    document = {
        "group": {"slug": group.slug, "name": group.name, "currency": group.currency},
        "head": {"seq": state.size if state else 0, "hash": state.head_hash if state else ""},
        "funds": [fund_out(fund) for fund in funds],
        "places": [place_out(place) for place in _places(session, group)],
        # Each place's books agreed with its bank through a day (leaves of their own).
        "reconciliations": [
            {
                "seq": row.seq,
                "place": slug,
                "through": row.through.isoformat(),
                "closing_balance": format_amount(row.closing_balance, row.currency),
                "currency": row.currency,
                "lines": row.lines,
                "statement_sha256": row.sha256,
                "recorded_at": timestamp(row.recorded_at),
            }
            for row, slug in session.execute(
                select(Reconciliation, Place.slug)
                .join(Place, Place.id == Reconciliation.place_id)
                .where(Reconciliation.group_id == group.id)
                .order_by(Reconciliation.seq)
            )
        ],
        "entries": [
            entry_out(entry, reversed_by.get(entry.seq), attachments.get(entry.seq, ()))
            for entry in _entries(session, group)
        ],
    }
    return msgspec.json.encode(document)


def _jsonl(session: Session, group: Group) -> bytes:
    leaves = session.scalars(
        select(Entry.leaf)
        .where(Entry.group_id == group.id)
        .order_by(Entry.seq)
        .execution_options(yield_per=10_000)
    )
    return b"".join(leaf + b"\n" for leaf in leaves)


def _funds(session: Session, group: Group) -> list[Fund]:
    return list(session.scalars(select(Fund).where(Fund.group_id == group.id).order_by(Fund.id)))


def _places(session: Session, group: Group) -> list[Place]:
    return list(session.scalars(select(Place).where(Place.group_id == group.id).order_by(Place.id)))


def _reconciled(session: Session, group: Group) -> list[BankBalance]:
    """The group's reconciliations, as both plain-text exports assert them."""
    return [
        BankBalance(slug, row.through, row.closing_balance, row.currency, row.seq)
        for row, slug in session.execute(
            select(Reconciliation, Place.slug)
            .join(Place, Place.id == Reconciliation.place_id)
            .where(Reconciliation.group_id == group.id)
            .order_by(Reconciliation.seq)
        ).tuples()
    ]


def write_hledger(session: Session, group: Group) -> bytes:
    """The group's hledger journal (UTF-8)."""
    return hledger_journal(
        group,
        _funds(session, group),
        _entries(session, group),
        _places(session, group),
        _reconciled(session, group),
    ).encode()


def write_beancount(session: Session, group: Group) -> bytes:
    """The group's beancount file (UTF-8)."""
    return beancount_file(
        group,
        _funds(session, group),
        _entries(session, group),
        _places(session, group),
        _reconciled(session, group),
    ).encode()


_WRITERS = {
    "csv": _csv,
    "json": _json,
    "jsonl": _jsonl,
    "hledger": write_hledger,
    "beancount": write_beancount,
}


async def export(session: AsyncSession, group: Group, fmt: str) -> bytes:
    """The group's ledger in one of ``FORMATS``."""
    writer = _WRITERS[fmt]
    return await session.run_sync(lambda sync_session: writer(sync_session, group))


async def export_bundle(
    session: AsyncSession,
    group: Group,
    vkey: str,
    base_url: str,
    notary: Notary | None = None,
) -> bytes:
    """The verification bundle (``ledger.bundle``) as zip bytes (``notary``: to sign the
    log's head when the latest checkpoint does not cover it yet)."""

    def build(sync: Session) -> bytes:
        journal, beancount = write_hledger(sync, group), write_beancount(sync, group)
        return build_bundle(
            sync, group, vkey, base_url, journal=journal, beancount=beancount, notary=notary
        )

    return await session.run_sync(build)

"""Read models built from rows: what the API, the exports and the pages show."""

from __future__ import annotations

from ledger.canonical import timestamp
from ledger.models import Entry, Fund
from ledger.money import format_amount
from ledger.schemas import EntryOut, FundOut, PostingOut, ProposalRef
from ledger.verify import VerifyReport


def entry_out(entry: Entry, reversed_by: int | None = None) -> EntryOut:
    return EntryOut(
        seq=entry.seq,
        kind=entry.kind,
        occurred_on=entry.occurred_on,
        recorded_at=timestamp(entry.recorded_at),
        memo=entry.memo,
        counterparty=entry.counterparty,
        reverses=entry.reverses_seq,
        reversed_by=reversed_by,
        proposal=(
            ProposalRef(number=entry.proposal_number, version=entry.proposal_version)
            if entry.proposal_number is not None and entry.proposal_version is not None
            else None
        ),
        postings=[
            PostingOut(
                fund=p.fund.slug,
                account=p.account,
                amount=format_amount(p.amount, p.currency),
                currency=p.currency,
            )
            for p in entry.postings
        ],
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def fund_out(fund: Fund, committed: int = 0) -> FundOut:
    return FundOut(
        slug=fund.slug,
        name=fund.name,
        currency=fund.currency,
        allow_negative=fund.allow_negative,
        balance=format_amount(fund.balance, fund.currency),
        committed=format_amount(committed, fund.currency),
        available=format_amount(fund.balance - committed, fund.currency),
    )


def verify_summary(report: VerifyReport) -> str:
    if report.ok:
        return f"ok: {report.entries} entries verified; head {report.head_seq} {report.head_hash}"
    return f"broken at entry {report.first_bad_seq}: {report.problem}"

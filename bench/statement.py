"""``python -m bench.statement``: the audit statement of 10,000 entries against one long table.

A fresh SQLite database gets a public EUR group with two funds and ``--entries`` entries
(default 10,000: donations, disbursements, transfers and some reversals, over a year, with
memos in several scripts), recorded through ``ledger.service.record_entry`` in one
transaction, with a signed checkpoint at the end. Then, each in a subprocess of its own so
its peak memory is its own (``ru_maxrss`` of that process):

- **statement**: ``app.documents.render_statement`` for the whole period, everything the
  route does: read the rows, lay out the bands, the seal and the QR code, PDF/A-3 with the
  leaves attached;
- **baseline**: the same rows (seq, date, kind, amount, running balance, counterparty, memo,
  one row per fund movement) as one plain long HTML table with a repeated header, rendered by
  WeasyPrint with default options (no PDF/A, no attachments): what a straightforward
  template does.

Figures: wall time of the rendering, CPU time of the child process (user + system; the ratio
that other load on a shared machine does not inflate the way it inflates wall time), peak
RSS, pages and PDF size. Targets: the statement at most 0.2x the baseline's time and its
peak memory. Exit status 0 whatever the figures (a bench reports, it does not judge).

``--entries N`` changes the size; ``--keep DIR`` keeps both PDFs there.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import html
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from pypdf import PdfReader
from sqlalchemy import select

# Only what both renderings need is imported here, so neither child process carries the
# other's modules (or the ledger builder's) in its peak memory.
from app.db import create_engine, create_session_maker
from app.settings import Settings
from bench.common import Result
from ledger import groups
from ledger.models import Entry, Fund, Group, Posting, User
from ledger.money import format_amount
from ledger.rules import HOLDING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ledger.schemas import EntryIn

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-statement"
FUNDS = (("rent-relief", "Rent relief"), ("groceries", "Groceries"))
TARGET = 0.2
FULL_ENTRIES = 10_000
QUICK_ENTRIES = 2_000
BASE_URL = "https://purse.example.org"
MEMOS = (
    "Monthly gift",
    "Bucket at the street fair",
    "Rent support for March, paid directly to the landlord after the meeting",
    "Café solidaire",
    "Spende vom Straßenfest",
    "Bus passes",
    "تبرع من الجيران",
    "תרומה מהשכנים",
    "Grocery vouchers for the winter",
    "",
)
COUNTERPARTIES = ("Bakery on 5th", "Tenants' union", "Parish collection", None, None)


# --- the ledger ----------------------------------------------------------------------------


def settings_for(directory: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{directory / 'bench.db'}",
        secret_key="bench-secret-" + "x" * 40,
        signing_key_file=directory / "signing-key",
        base_url=BASE_URL,
    )


def _next_entry(rng: random.Random, balances: dict[str, int], recent: list[int]) -> EntryIn:
    """The next entry (its day is set by the caller); never overdraws a fund."""
    from ledger.schemas import DisbursementIn, DonationIn, ReversalIn, TransferIn

    roll = rng.random()
    memo = rng.choice(MEMOS)
    if roll < 0.03 and recent:
        return ReversalIn(reverses=recent.pop(rng.randrange(len(recent))), memo="Recorded twice")
    fund = rng.choice([slug for slug, _ in FUNDS])
    amount = rng.randrange(100, 20_000)
    if roll < 0.15 and balances[fund] > amount:
        other = next(slug for slug, _ in FUNDS if slug != fund)
        return TransferIn(
            from_fund=fund, to_fund=other, amount=format_amount(amount, "EUR"), memo=memo
        )
    if roll < 0.5 and balances[fund] > amount:
        return DisbursementIn(
            fund=fund,
            amount=format_amount(amount, "EUR"),
            memo=memo,
            counterparty=f"R-{rng.randrange(1, 400)}",
        )
    return DonationIn(
        fund=fund,
        amount=format_amount(amount, "EUR"),
        memo=memo,
        counterparty=rng.choice(COUNTERPARTIES),
    )


async def _standing_policies(session: AsyncSession, group: Group, admin: User) -> dict[str, int]:
    """A spending policy per fund, adopted by the group's one member: every payment is made
    under a decision. Limits wide enough never to refuse a bench payment."""
    from proposals import service as proposals
    from proposals.schemas import PolicyIn, ProposalIn

    numbers: dict[str, int] = {}
    for slug, name in FUNDS:
        terms = PolicyIn(
            fund=slug,
            max_per_payment="1000000.00",
            max_per_month="100000000.00",
            purpose=f"Everyday payments from {name}",
        )
        proposal = await proposals.create_proposal(
            session, group, admin, ProposalIn(title=name, kind="policy", policy=terms)
        )
        await proposals.respond(session, group, proposal.number, admin, "agree", "")
        numbers[slug] = proposal.number
    return numbers


async def build_ledger(settings: Settings, entries: int) -> None:
    """The bench group and its entries, through the service, in one transaction."""
    from app.signing import load_notary
    from ledger import service
    from ledger.errors import LedgerError
    from ledger.schemas import DisbursementIn, DonationIn, FundIn, TransferIn
    from proposals.service import authorise_payment

    notary = load_notary(settings)
    engine = create_engine(settings)
    rng = random.Random(7)
    first_day = date(2024, 1, 1)
    moment = datetime(2024, 1, 1, 9, tzinfo=UTC)
    try:
        async with create_session_maker(engine)() as session:
            user = await groups.create_user(
                session, email=f"steward@{SLUG}.example.org", name="Steward", password_hash=None
            )
            group = await groups.create_group(
                session, slug=SLUG, name="Bench Mutual Aid", currency="EUR", admin=user
            )
            for slug, name in FUNDS:
                await service.create_fund(session, group, FundIn(slug=slug, name=name))
            policy_of = await _standing_policies(session, group, user)
            balances = {slug: 0 for slug, _ in FUNDS}
            recent: list[int] = []
            for index in range(entries):
                moment += timedelta(minutes=50)
                entry_in = _next_entry(rng, balances, recent)
                if isinstance(entry_in, DonationIn | DisbursementIn | TransferIn):
                    entry_in.occurred_on = first_day + timedelta(days=index * 365 // entries)
                if isinstance(entry_in, DisbursementIn):
                    entry_in.policy = policy_of[entry_in.fund]
                try:
                    entry = await service.record_entry(
                        session,
                        group,
                        entry_in,
                        recorded_by=user.id,
                        notary=notary if index == entries - 1 else None,
                        now=moment,
                        authority=authorise_payment,
                    )
                except LedgerError:  # a reversal that would overdraw: record a gift instead
                    entry = await service.record_entry(
                        session,
                        group,
                        DonationIn(fund="groceries", amount="10.00", memo="Gift"),
                        recorded_by=user.id,
                        notary=notary if index == entries - 1 else None,
                        now=moment,
                    )
                for posting in entry.postings:
                    if posting.account_type == HOLDING:
                        balances[posting.fund.slug] += posting.amount
                if entry.kind != "reversal" and rng.random() < 0.2:
                    recent.append(entry.seq)
                    del recent[:-50]
                if index and index % 2000 == 0:
                    print(f"  .. {index} entries", flush=True)
            await session.commit()
    finally:
        await engine.dispose()


# --- the two renderings (each in its own process) -------------------------------------------


@dataclass(frozen=True, slots=True)
class Measure:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    pages: int
    pdf_bytes: int
    rows: int


async def _group(session: AsyncSession) -> Group:
    return await groups.get_group(session, SLUG)


async def _period(session: AsyncSession, group: Group) -> tuple[date, date]:
    days = (
        await session.execute(
            select(Entry.occurred_on).where(Entry.group_id == group.id).order_by(Entry.occurred_on)
        )
    ).scalars()
    ordered = list(days)
    return ordered[0], ordered[-1]


async def _statement(settings: Settings) -> bytes:
    from app.documents import Limits, render_statement

    engine = create_engine(settings)
    try:
        async with create_session_maker(engine)() as session:
            group = await _group(session)
            start, end = await _period(session, group)
            pdf = await render_statement(
                session,
                group,
                start,
                end,
                base_url=BASE_URL,
                limits=Limits(seconds=3600, max_rows=10**7, concurrency=1),
            )
    finally:
        await engine.dispose()
    return pdf


async def _baseline_rows(settings: Settings) -> list[tuple[str, ...]]:
    """One row per fund movement: what the statement prints, as plain strings."""
    engine = create_engine(settings)
    rows: list[tuple[str, ...]] = []
    try:
        async with create_session_maker(engine)() as session:
            group = await _group(session)
            result = await session.execute(
                select(
                    Fund.name,
                    Entry.seq,
                    Entry.occurred_on,
                    Entry.kind,
                    Posting.amount,
                    Entry.counterparty,
                    Entry.memo,
                )
                .join(Posting, Posting.entry_id == Entry.id)
                .join(Fund, Fund.id == Posting.fund_id)
                .where(Entry.group_id == group.id, Posting.account_type == HOLDING)
                .order_by(Fund.id, Entry.seq, Posting.position)
            )
            balances: dict[str, int] = {}
            for fund, seq, day, kind, amount, counterparty, memo in result:
                balances[fund] = balances.get(fund, 0) + amount
                rows.append(
                    (
                        fund,
                        str(seq),
                        day.isoformat(),
                        kind,
                        format_amount(amount, "EUR"),
                        format_amount(balances[fund], "EUR"),
                        counterparty or "",
                        memo,
                    )
                )
    finally:
        await engine.dispose()
    return rows


def _baseline(settings: Settings, output: Path) -> int:
    from weasyprint import HTML  # type: ignore[import-untyped]

    rows = asyncio.run(_baseline_rows(settings))
    head = "".join(
        f"<th>{name}</th>"
        for name in ("Fund", "#", "Date", "Kind", "Amount", "Balance", "Counterparty", "Memo")
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    document = (
        "<!doctype html><html><head><meta charset=utf-8><title>Baseline</title><style>"
        "@page { size: A4; margin: 18mm 14mm;"
        ' @bottom-right { content: "Page " counter(page) " of " counter(pages) } }'
        "body { font-family: 'DejaVu Sans', sans-serif; font-size: 7.5pt }"
        "table { width: 100%; border-collapse: collapse }"
        "th, td { text-align: left; padding: 1pt 3pt; border-bottom: 0.5pt solid #ccc }"
        f"</style></head><body><h1>Statement</h1><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>"
    )
    output.write_bytes(HTML(string=document).write_pdf())
    return len(rows)


def child(kind: str, directory: Path, output: Path) -> None:
    """Render one document in this process and print its measure as JSON."""
    settings = settings_for(directory)
    started = time.perf_counter()
    rows = 0
    if kind == "statement":
        output.write_bytes(asyncio.run(_statement(settings)))
    else:
        rows = _baseline(settings, output)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pdf = output.read_bytes()
    measure = Measure(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        pages=len(PdfReader(BytesIO(pdf)).pages),
        pdf_bytes=len(pdf),
        rows=rows,
    )
    print(json.dumps(dataclasses.asdict(measure)))


def measure(kind: str, directory: Path, output: Path) -> Measure:
    result = subprocess.run(
        [sys.executable, "-m", "bench.statement", "--child", kind, str(directory), str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"the {kind} rendering failed:\n{result.stderr[-4000:]}")
    return Measure(**json.loads(result.stdout.strip().splitlines()[-1]))


# --- report --------------------------------------------------------------------------------


def _verdict(ratio: float) -> str:
    return "PASS" if ratio <= TARGET else "MISS"


def report(statement: Measure, baseline: Measure) -> None:
    print(f"\n  {'':<28} {'statement':>12} {'baseline':>12} {'ratio':>8}")
    lines = [
        ("render wall time (s)", statement.seconds, baseline.seconds, True),
        ("process CPU time (s)", statement.cpu_seconds, baseline.cpu_seconds, True),
        ("peak RSS (MB)", statement.peak_rss_mb, baseline.peak_rss_mb, True),
        ("pages", statement.pages, baseline.pages, False),
        ("PDF size (kB)", statement.pdf_bytes / 1024, baseline.pdf_bytes / 1024, False),
    ]
    for label, ours, theirs, target in lines:
        ratio = ours / theirs if theirs else float("nan")
        verdict = f"target <= {TARGET}x {_verdict(ratio)}" if target else ""
        print(f"  {label:<28} {ours:12.1f} {theirs:12.1f} {ratio:7.3f}x  {verdict}")
    print(f"\n  rows: {baseline.rows} fund movements in both documents")


def run(engine_name: str, quick: bool) -> Result:
    """The bench as ``python -m bench`` runs it: 10,000 entries (``--quick``: 2,000), the
    statement and the baseline each in a process of its own; figures and ratios in a
    ``Result``. The ledger is always on SQLite: what is measured is the rendering."""
    entries = QUICK_ENTRIES if quick else FULL_ENTRIES
    result = Result("statement", engine_name)
    if engine_name != "sqlite":
        result.note("the statement bench renders from SQLite whatever the engine")
    with tempfile.TemporaryDirectory(prefix="commonpurse-bench-statement-") as temporary:
        directory = Path(temporary)
        statement, baseline = _render_both(directory, entries)
    result.figure("fund movements printed", f"{baseline.rows:,} (from {entries:,} entries)")
    for label, ours, theirs in (
        ("render wall time", f"{statement.seconds:.1f} s", f"{baseline.seconds:.1f} s"),
        ("process CPU time", f"{statement.cpu_seconds:.1f} s", f"{baseline.cpu_seconds:.1f} s"),
        ("peak RSS", f"{statement.peak_rss_mb:.0f} MB", f"{baseline.peak_rss_mb:.0f} MB"),
        ("pages", f"{statement.pages}", f"{baseline.pages}"),
    ):
        result.figure(f"{label}: statement / long table", f"{ours} / {theirs}")
    for label, mine, baseline_figure in (
        ("statement / long table: wall time", statement.seconds, baseline.seconds),
        ("statement / long table: CPU time", statement.cpu_seconds, baseline.cpu_seconds),
        ("statement / long table: peak memory", statement.peak_rss_mb, baseline.peak_rss_mb),
    ):
        ratio = mine / baseline_figure
        result.check(label, ratio, f"<= {TARGET}x", ratio <= TARGET)
    return result


def _render_both(directory: Path, entries: int) -> tuple[Measure, Measure]:
    """Build the ledger in ``directory``, then render the statement and the baseline."""
    settings = settings_for(directory)
    started = time.perf_counter()
    from app.migrate import upgrade

    upgrade(settings.database_url)
    asyncio.run(build_ledger(settings, entries))
    print(f"  ledger built in {time.perf_counter() - started:.0f} s", flush=True)
    print("  .. rendering the statement", flush=True)
    statement = measure("statement", directory, directory / "statement.pdf")
    print(f"  statement: {statement.seconds:.1f} s", flush=True)
    print("  .. rendering the baseline (one long table; this takes a while)", flush=True)
    baseline = measure("baseline", directory, directory / "baseline.pdf")
    print(f"  baseline: {baseline.seconds:.1f} s", flush=True)
    return statement, baseline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statement", description=__doc__)
    parser.add_argument("--entries", type=int, default=FULL_ENTRIES)
    parser.add_argument("--keep", type=Path, help="keep both PDFs in this folder")
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "DIR", "OUTPUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        kind, directory, output = args.child
        child(kind, Path(directory), Path(output))
        return 0

    print(
        f"statement bench: {args.entries} entries on SQLite; Python "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="commonpurse-bench-statement-") as temporary:
        directory = Path(temporary)
        statement, baseline = _render_both(directory, args.entries)
        report(statement, baseline)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("statement.pdf", "baseline.pdf"):
                shutil.copyfile(directory / name, args.keep / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

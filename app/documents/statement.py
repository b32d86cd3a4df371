"""The audit statement of a group for a period, as PDF/A-3 with its data attached.

Per fund: the opening balance (the holding postings of every entry that occurred before the
period), every entry of the period with its running balance, and the closing balance; then
the decisions taken in the period and the integrity seal. The period's leaves (JSON Lines,
exactly as hashed) and the latest checkpoint are attached inside the PDF. The receipts of
the period's entries are listed by hash and type; for those who may read them (members, or
everyone where the group publishes receipts) their files are attached too, as associated
files (``receipt_files``), up to ``MAX_EMBEDDED_BYTES``.

``render_statement`` works without HTTP (the bench and the CLI use it); the route in
``app.documents.routes`` only parses the period and calls it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

import anyio
from babel.numbers import get_decimal_symbol
from sqlalchemy.ext.asyncio import AsyncSession

from app.documents.columns import Column, Grid, fit_widths
from app.documents.pdf import DEFAULT_LIMITS, Limits, PdfAttachment, PdfDocument, render_pdf
from app.documents.seal import Links, latest_seal
from app.i18n import SOURCE_LANGUAGE
from app.presenters.formatting import Formatter, locale_or_default
from app.presenters.ledger import FILE_TYPE_LABELS, DecisionLine, size_text, standing_view
from ledger import reconciliation
from ledger import service as ledger_service
from ledger.attachments import AttachmentView, attachments_of
from ledger.errors import InvalidInput
from ledger.files import FileStore
from ledger.models import Fund, Group
from ledger.money import format_amount
from ledger.queries import (
    PeriodRow,
    balances_before,
    count_period_rows,
    first_day,
    period_leaves,
    period_rows,
)
from ledger.rules import DEFAULT_DATES, DateWindow
from ledger.words import N_

TEMPLATE = "statement.pdf.html"
ENTRIES_PER_BAND = 5
"""Entries printed as one block of text: a shaded band, never split across pages."""
BAND_LINES = 30
"""At most this many printed lines in a band (long memos wrap), so a band fits a page."""
LINE_CELLS = 110
"""Character cells in a printed line (DejaVu Sans Mono 7.5 pt across A4 less margins)."""
COUNTERPARTY_CELLS = 18
MAX_EMBEDDED_BYTES = 100 * 1024 * 1024
"""Receipt files attached to one statement at most (beyond: listed by hash only)."""
EXTENSIONS = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
}
ENGLISH = Formatter()
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- decisions (the proposals package plugs in here) --------------------------------------


class DecisionsInPeriod(Protocol):
    """Returns the decisions a group took between two dates (both included), oldest first."""

    def __call__(
        self, session: AsyncSession, group: Group, date_from: date, date_to: date
    ) -> Awaitable[Sequence[DecisionLine]]: ...


async def no_decisions(
    session: AsyncSession, group: Group, date_from: date, date_to: date
) -> Sequence[DecisionLine]:
    """The default ``decisions_in_period`` until proposals exist: none."""
    return []


# --- the period ----------------------------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).date()


# The period picker's fields as its refusals name them (``from`` and ``to`` in English).
PERIOD_FIELDS = (N_("from"), N_("to"))


class PeriodInvalid(InvalidInput):
    """A period that cannot be printed, with ``words`` (its English text with placeholders,
    and their values) for a page to say it in its reader's language."""

    def __init__(self, text: str, values: dict[str, object], *, field: str) -> None:
        super().__init__(text % values, field=field)
        self.words = (text, values)


def parse_day(text: str, field: str) -> date:
    if not _DATE.fullmatch(text):
        raise PeriodInvalid(
            N_("%(field)s must be a date written YYYY-MM-DD, not %(typed)s."),
            {"field": field, "typed": repr(text[:40])},
            field=field,
        )
    try:
        return date.fromisoformat(text)
    except ValueError:
        # Name the field: a person at the period picker sees this on a page, not a form.
        raise PeriodInvalid(
            N_("%(field)s: %(typed)s is not a day of the calendar (write it YYYY-MM-DD)."),
            {"field": field, "typed": repr(text)},
            field=field,
        ) from None


async def resolve_period(
    session: AsyncSession,
    group: Group,
    date_from: str | None,
    date_to: str | None,
    window: DateWindow = DEFAULT_DATES,
) -> tuple[date, date]:
    """The period asked for in ``from`` and ``to`` (YYYY-MM-DD); by default from the day of
    the group's first entry to today. InvalidInput for a malformed or backwards period, or
    a day outside the dates the ledger accepts (``window``). A day left blank (the period
    picker's empty field) means its default."""
    end = today()
    if date_to:
        end = window.check(parse_day(date_to, "to"), end, field="to")
    if date_from:
        start = window.check(parse_day(date_from, "from"), today(), field="from")
    else:
        start = min(await first_day(session, group) or end, end)
    if start > end:
        raise PeriodInvalid(
            N_(
                "The period starts (%(start)s) after it ends (%(end)s); "
                "'from' must not be after 'to'."
            ),
            {"start": start, "end": end},
            field="from",
        )
    return start, end


# --- what the statement shows --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FundSection:
    """One fund's part of the statement; ``bands`` are the rows as printed text."""

    slug: str
    name: str
    currency: str
    opening: int
    closing: int
    money_in: int
    money_out: int
    entries: int
    heading: str
    bands: list[str]


def _memo(row: PeriodRow, t: Callable[[str], str]) -> str:
    if row.reverses is not None:
        return (
            t("(reverses #%(seq)s) %(memo)s") % {"seq": row.reverses, "memo": row.memo}
        ).rstrip()
    return row.memo


def _counterparty(
    row: PeriodRow, fund_id: int, slugs: dict[int, str], t: Callable[[str], str]
) -> str:
    if row.kind in ("transfer", "reversal") and len(row.amounts) > 1:
        others = [slugs[f] for f in row.amounts if f != fund_id]
        text = t("from %(funds)s") if row.amounts[fund_id] > 0 else t("to %(funds)s")
        return text % {"funds": ", ".join(others)}
    return row.counterparty or ""


# The kinds as the statement's grid prints them (in English, the ledger's own words).
GRID_KINDS = {
    "donation": N_("donation"),
    "disbursement": N_("disbursement"),
    "transfer": N_("transfer"),
    "reversal": N_("reversal"),
    "decision": N_("decision"),
}


def _grid_amount(text: str, fmt: Formatter) -> str:
    """``1234.50`` in the grid, with the reader's decimal sign (``1234,50`` in Spanish)."""
    return text.replace(".", get_decimal_symbol(fmt.locale))


def _fund_section(
    fund: Fund,
    opening: int,
    rows: list[PeriodRow],
    slugs: dict[int, str],
    fmt: Formatter = ENGLISH,
) -> FundSection:
    t = fmt.translate
    balance = opening
    money_in = money_out = 0
    values: list[list[str]] = []
    for row in rows:
        amount = row.amounts[fund.id]
        balance += amount
        if amount > 0:
            money_in += amount
        else:
            money_out -= amount
        sign = "+" if amount > 0 else ""
        values.append(
            [
                str(row.seq),
                row.occurred_on.isoformat(),
                t(GRID_KINDS.get(row.kind, row.kind)),
                sign + _grid_amount(format_amount(amount, fund.currency), fmt),
                _grid_amount(format_amount(balance, fund.currency), fmt),
                _counterparty(row, fund.id, slugs, t),
                _memo(row, t),
            ]
        )
    headings = ["#", t("Date"), t("Kind"), t("Amount"), t("Balance"), t("Counterparty"), t("Memo")]
    fixed = fit_widths(headings[:5], [v[:5] for v in values], [None] * 5)
    counterparty = fit_widths(headings[5:6], [v[5:6] for v in values], [COUNTERPARTY_CELLS])[0]
    memo = max(20, LINE_CELLS - sum(fixed) - counterparty - 2 * 6)
    grid = Grid(
        [
            Column(headings[0], fixed[0], align_right=True),
            Column(headings[1], fixed[1]),
            Column(headings[2], fixed[2]),
            Column(headings[3], fixed[3], align_right=True),
            Column(headings[4], fixed[4], align_right=True),
            Column(headings[5], counterparty, free_text=True),
            Column(headings[6], memo, free_text=True),
        ]
    )
    bands: list[str] = []
    band: list[str] = []
    entries_in_band = 0
    for value in values:
        lines = grid.row(value)
        if entries_in_band == ENTRIES_PER_BAND or len(band) + len(lines) > BAND_LINES:
            bands.append("\n".join(band))
            band, entries_in_band = [], 0
        band.extend(lines)
        entries_in_band += 1
    if band:
        bands.append("\n".join(band))
    return FundSection(
        slug=fund.slug,
        name=fund.name,
        currency=fund.currency,
        opening=opening,
        closing=balance,
        money_in=money_in,
        money_out=money_out,
        entries=len(rows),
        heading=grid.heading(),
        bands=bands,
    )


def _reader_money(decision: DecisionLine, fmt: Formatter) -> DecisionLine:
    """A decision's amount (``300.00 EUR``) the reader's way, in a language not English
    (``300,00 €``); English statements print it as they always have."""
    if decision.amount is None or fmt.language == SOURCE_LANGUAGE:
        return decision
    value, _, currency = decision.amount.rpartition(" ")
    try:
        return replace(decision, amount=fmt.money_text(value, currency))
    except (ArithmeticError, ValueError):
        return decision  # not an amount as the decisions write it: printed as it is


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """A receipt attached to an entry of the period: its hash and type (the files are the
    members'; their hashes let an auditor who is handed one check it)."""

    entry: int
    sha256: str
    kind: str
    size: str
    erased_on: str | None
    attached_as: str | None = None  # the file's name inside the PDF, when it is attached


def receipt_file_name(entry: int, sha256: str, content_type: str) -> str:
    """A receipt's name inside the statement: its entry and hash (never its own name)."""
    return f"receipt-{entry}-{sha256}.{EXTENSIONS.get(content_type, 'bin')}"


def leaves_file_name(group: Group, start: date, end: date) -> str:
    return f"{group.slug}-leaves-{start.isoformat()}-{end.isoformat()}.jsonl"


async def statement_document(
    session: AsyncSession,
    group: Group,
    date_from: date,
    date_to: date,
    *,
    base_url: str,
    decisions_in_period: DecisionsInPeriod = no_decisions,
    limits: Limits = DEFAULT_LIMITS,
    receipt_files: FileStore | None = None,
    language: str = SOURCE_LANGUAGE,
) -> PdfDocument:
    """Read everything the statement shows (plain data, ready for a worker thread), in
    ``language`` (the reader's).

    ``receipt_files``: the store of receipts' files, for a reader who may read them; their
    files are then attached to the PDF. InvalidInput when the period holds more rows than
    ``limits.max_rows``."""
    if date_from > date_to:
        raise InvalidInput("'from' must not be after 'to'.", field="from")
    count = await count_period_rows(session, group, date_from, date_to)
    if count > limits.max_rows:
        raise InvalidInput(
            f"This period has {count} fund movements; a statement holds at most "
            f"{limits.max_rows}. Ask for a shorter period.",
            field="from",
        )
    funds = await ledger_service.list_funds(session, group)
    slugs = {fund.id: fund.slug for fund in funds}
    rows = await period_rows(session, group, date_from, date_to)
    openings = await balances_before(session, group, date_from)
    by_fund: dict[int, list[PeriodRow]] = defaultdict(list)
    for row in rows:
        for fund_id in row.amounts:
            by_fund[fund_id].append(row)
    fmt = Formatter(locale_or_default(language))
    sections = [
        _fund_section(fund, openings.get(fund.id, 0), by_fund[fund.id], slugs, fmt)
        for fund in funds
    ]
    views = await attachments_of(session, group, [row.seq for row in rows])
    files = await _receipt_files(views, receipt_files) if receipt_files is not None else []
    embedded = {(file.entry, file.sha256): file.attachment.name for file in files}
    receipts = [
        ReceiptLine(
            entry=view.entry,
            sha256=view.sha256,
            kind=fmt.translate(FILE_TYPE_LABELS.get(view.content_type, view.content_type)),
            size=size_text(view.size, fmt),
            erased_on=view.erased_at.date().isoformat() if view.erased_at else None,
            attached_as=embedded.get((view.entry, view.sha256)),
        )
        for view in views
    ]
    decisions = [
        _reader_money(decision, fmt)
        for decision in await decisions_in_period(session, group, date_from, date_to)
    ]
    # Whether each place's books matched its bank, as known at the period's end.
    standings = [
        standing_view(s, fmt)
        for s in await reconciliation.standings(session, group, date_to, as_of=date_to)
    ]
    seal = await latest_seal(session, group)
    leaves = await period_leaves(session, group, date_from, date_to)
    links = Links(base_url.rstrip("/"), group.slug)
    leaves_name = leaves_file_name(group, date_from, date_to)
    attachments = [
        PdfAttachment(
            name=leaves_name,
            content=leaves,
            description=(
                f"The {len(rows)} entries of {group.slug} that occurred from {date_from} to "
                f"{date_to}: their leaves exactly as hashed, one per line (JSON Lines)"
            ),
            relationship="Source",
        )
    ]
    if seal is not None:
        attachments.append(seal.attachment())
    attachments += [file.attachment for file in files]
    t = fmt.translate
    period = t("%(from)s to %(to)s") % {"from": date_from.isoformat(), "to": date_to.isoformat()}
    context: dict[str, Any] = {
        "group": {
            "name": group.name,
            "slug": group.slug,
            "currency": group.currency,
            "public": group.public,
        },
        "date_from": date_from,
        "date_to": date_to,
        "period": period,
        "funds": sections,
        "entry_count": len(rows),
        "first_seq": rows[0].seq if rows else None,
        "last_seq": rows[-1].seq if rows else None,
        "decisions": decisions,
        "standings": [s for s in standings if s.state != "none"],
        "receipts": receipts,
        "seal": seal,
        "links": links,
        "leaves_name": leaves_name,
        "checkpoint_name": seal.attachment().name if seal else None,
        "receipts_attached": len(files),
    }
    return PdfDocument(
        template=TEMPLATE,
        context=context,
        title=t("Audit statement of %(group)s, %(period)s")
        % {"group": group.name, "period": period},
        description=t(
            "Audit statement of the group %(group)s (%(slug)s) for the period %(period)s: "
            "opening balances, every entry, closing balances, decisions and the signed "
            "checkpoint of its log."
        )
        % {"group": group.name, "slug": group.slug, "period": period},
        keywords=(t("audit statement"), group.slug, group.name, period),
        lang=fmt.language,
        author=f"{group.name} (Common Purse)",
        attachments=attachments,
    )


@dataclass(frozen=True, slots=True)
class _ReceiptFile:
    entry: int
    sha256: str
    attachment: PdfAttachment


async def _receipt_files(views: Sequence[AttachmentView], store: FileStore) -> list[_ReceiptFile]:
    """The files of these receipts (not erased, in the store), each once per entry, as
    associated files of the statement, until ``MAX_EMBEDDED_BYTES``."""
    found: list[_ReceiptFile] = []
    seen: set[tuple[int, str]] = set()
    room = MAX_EMBEDDED_BYTES
    for view in views:
        key = (view.entry, view.sha256)
        if view.erased_at is not None or key in seen or view.size > room:
            continue
        try:
            content = await anyio.to_thread.run_sync(store.get, view.sha256)
        except FileNotFoundError:
            continue  # (the store lost it: the statement lists its hash all the same)
        seen.add(key)
        room -= len(content)
        kind = FILE_TYPE_LABELS.get(view.content_type, view.content_type)
        found.append(
            _ReceiptFile(
                view.entry,
                view.sha256,
                PdfAttachment(
                    name=receipt_file_name(view.entry, view.sha256, view.content_type),
                    content=content,
                    description=f"Receipt of entry #{view.entry}: {kind}, SHA-256 {view.sha256}",
                    relationship="Supplement",
                ),
            )
        )
    return found


async def render_statement(
    session: AsyncSession,
    group: Group,
    date_from: date,
    date_to: date,
    *,
    base_url: str,
    decisions_in_period: DecisionsInPeriod = no_decisions,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """The audit statement as PDF bytes (reads with ``session``, prints off the event loop)."""
    document = await statement_document(
        session,
        group,
        date_from,
        date_to,
        base_url=base_url,
        decisions_in_period=decisions_in_period,
        limits=limits,
    )
    return await render_pdf(document, limits)


__all__ = [
    "DecisionLine",
    "DecisionsInPeriod",
    "FundSection",
    "no_decisions",
    "render_statement",
    "resolve_period",
    "statement_document",
]

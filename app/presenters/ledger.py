"""Entries, funds and decisions as people read them (formatted, labelled): for the pages
and the audit statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from babel.numbers import format_decimal

from app.presenters.formatting import Formatter
from ledger.attachments import AttachmentView
from ledger.models import Entry, Fund, Place
from ledger.queries import ReversalLinks
from ledger.reconciliation import PlaceStanding
from ledger.rules import HOLDING
from ledger.words import Words
from proposals.labels import STATUS_LABELS
from proposals.policies import Authority
from proposals.queries import Decision

KIND_LABELS = {
    "donation": "Donation",
    "disbursement": "Payment",
    "transfer": "Transfer",
    "reversal": "Reversal",
    "decision": "Decision",
    "move": "Move between places",
}


@dataclass(frozen=True, slots=True)
class Leg:
    """What an entry did to one fund's money."""

    fund: str
    amount: str  # signed and formatted: "+€50.00"
    direction: str  # "in" or "out"


FILE_TYPE_LABELS = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/webp": "WebP image",
}


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """A file attached to an entry, as pages and the statement show it: its hash and type
    for everyone; the link only for those who may read it."""

    sha256: str
    type_label: str
    size_text: str  # "12.4 KB"
    erased_on: str | None  # "3 Nov 2026" once the file was erased
    url: str | None


def size_text(size: int, fmt: Formatter | None = None) -> str:
    """``12.4 KB``, the way the reader writes numbers (``12,4 KB`` in Spanish)."""
    t = fmt.translate if fmt is not None else str
    if size < 1024:
        return f"{size} bytes" if fmt is None else t("%(n)s bytes") % {"n": size}
    value, unit = (size / 1024, "KB") if size < 1024 * 1024 else (size / (1024 * 1024), "MB")
    if fmt is None:
        return f"{value:.1f} {unit}"
    return f"{format_decimal(round(value, 1), format='0.0', locale=fmt.locale)} {unit}"


def receipt_view(
    view: AttachmentView, fmt: Formatter, group_slug: str, *, readable: bool
) -> ReceiptView:
    return ReceiptView(
        sha256=view.sha256,
        type_label=fmt.translate(FILE_TYPE_LABELS.get(view.content_type, view.content_type)),
        size_text=size_text(view.size, fmt),
        erased_on=fmt.day(view.erased_at) if view.erased_at else None,
        url=(
            f"/api/groups/{group_slug}/entries/{view.entry}/attachments/{view.sha256}"
            if readable and view.erased_at is None
            else None
        ),
    )


@dataclass(frozen=True, slots=True)
class EntryView:
    seq: int
    kind: str
    kind_label: str
    title: str
    occurred_on: date
    occurred_on_text: str
    recorded_at: datetime
    recorded_at_text: str
    memo: str
    counterparty: str | None
    legs: list[Leg]
    hash: str
    proposal: int | None
    # What authorised a payment: "proposal", "policy" or "none" (recorded before payments
    # needed a decision); empty for other entries or where the page did not read it.
    authority_kind: str
    authority_number: int | None
    authority_name: str  # "proposal 4", "policy 2 ‘Emergency groceries’"
    authority_text: str  # ", passed 3 Nov 2026"; ": €120.00 of €300.00 used in November 2026"
    reversed_by: int | None
    reversed_reason: str | None
    reverses: int | None
    reverses_title: str | None
    receipts: list[ReceiptView] = field(default_factory=list)
    # Where a steward attaches a receipt to this entry (None for everyone else).
    attach_url: str | None = None


def _holding(entry: Entry) -> list[tuple[str, int, str]]:
    return [
        (p.fund.name, p.amount, p.currency) for p in entry.postings if p.account_type == HOLDING
    ]


def _moved(entry: Entry) -> list[tuple[str, int, str]]:
    """A move's legs, by its places' names (it touches no fund)."""
    if entry.moved is None or entry.place is None or entry.to_place is None:
        return []
    currency = entry.to_place.currency
    return [
        (entry.place.name, -entry.moved, currency),
        (entry.to_place.name, entry.moved, currency),
    ]


def entry_title(entry: Entry, fmt: Formatter) -> str:
    """One line that says what happened: "Donation of €50.00 to Rent relief"."""
    legs = _holding(entry)
    t = fmt.translate  # in the reader's language, as the money it names
    if entry.kind == "reversal":
        return t("Reversal of entry #%(seq)s") % {"seq": entry.reverses_seq}
    if entry.kind == "decision":  # moves no money: the log's record of a closed round
        return t("Decision on proposal %(number)s") % {"number": entry.proposal_number}
    if entry.kind == "move" and entry.moved is not None and entry.to_place is not None:
        leaves = entry.place.name if entry.place is not None else t("the default place")
        money = fmt.money(entry.moved, entry.to_place.currency)
        return t("Moved %(money)s from %(from_place)s to %(to_place)s") % {
            "money": money,
            "from_place": leaves,
            "to_place": entry.to_place.name,
        }
    if entry.kind == "transfer" and len(legs) == 2:
        source = next((leg for leg in legs if leg[1] < 0), legs[0])
        target = next((leg for leg in legs if leg[1] > 0), legs[1])
        return t("Transfer of %(money)s from %(source)s to %(target)s") % {
            "money": fmt.money(target[1], target[2]),
            "source": source[0],
            "target": target[0],
        }
    if legs:
        name, amount, currency = legs[0]
        money = fmt.money(abs(amount), currency)
        if entry.kind == "donation":
            return t("Donation of %(money)s to %(fund)s") % {"money": money, "fund": name}
        if entry.kind == "disbursement":
            return t("Payment of %(money)s from %(fund)s") % {"money": money, "fund": name}
    return t(KIND_LABELS.get(entry.kind, entry.kind)).capitalize()


def _authority(authority: Authority | None, fmt: Formatter) -> tuple[str, int | None, str, str]:
    if authority is None:
        return "", None, "", ""
    t = fmt.translate
    if authority.kind == "proposal":
        passed = (
            t(", passed %(day)s") % {"day": fmt.day(authority.decided_on)}
            if authority.decided_on
            else ""
        )
        name = t("proposal %(number)s") % {"number": authority.number}
        return "proposal", authority.number, name, passed
    if authority.kind == "policy" and authority.month is not None:
        used = t(": %(used)s of %(most)s used in %(month)s") % {
            "used": fmt.money(authority.used, authority.currency),
            "most": fmt.money(authority.most, authority.currency),
            "month": fmt.month(authority.month),
        }
        name = t("policy %(number)s ‘%(title)s’") % {
            "number": authority.number,
            "title": authority.title,
        }
        return "policy", authority.number, name, used
    return "none", None, "", ""


def entry_view(
    entry: Entry,
    fmt: Formatter,
    links: ReversalLinks | None = None,
    authority: Authority | None = None,
    receipts: Sequence[ReceiptView] = (),
    attach_url: str | None = None,
) -> EntryView:
    authority_kind, authority_number, authority_name, authority_text = _authority(authority, fmt)
    reversal = links.reversed_by.get(entry.seq) if links else None
    original = (
        links.originals.get(entry.reverses_seq)
        if links is not None and entry.reverses_seq is not None
        else None
    )
    return EntryView(
        seq=entry.seq,
        kind=entry.kind,
        kind_label=fmt.translate(KIND_LABELS.get(entry.kind, entry.kind)),
        title=entry_title(entry, fmt),
        occurred_on=entry.occurred_on,
        occurred_on_text=fmt.day(entry.occurred_on),
        recorded_at=entry.recorded_at,
        recorded_at_text=fmt.moment(entry.recorded_at),
        memo=entry.memo,
        counterparty=entry.counterparty,
        legs=[
            Leg(name, fmt.signed(amount, currency), "in" if amount > 0 else "out")
            for name, amount, currency in _holding(entry) or _moved(entry)
        ],
        hash=entry.hash,
        proposal=entry.proposal_number,
        authority_kind=authority_kind,
        authority_number=authority_number,
        authority_name=authority_name,
        authority_text=authority_text,
        reversed_by=reversal.seq if reversal else None,
        reversed_reason=reversal.memo if reversal else None,
        reverses=entry.reverses_seq,
        reverses_title=entry_title(original, fmt) if original else None,
        receipts=list(receipts),
        attach_url=attach_url,
    )


@dataclass(frozen=True, slots=True)
class PlaceView:
    slug: str
    name: str
    balance: str
    default: bool


@dataclass(frozen=True, slots=True)
class StandingView:
    """Whether a place's books match its bank, as the group page, the place page and the
    audit statement say it: ``state`` is ``matched`` (reconciled lately, through
    ``through``), ``stale`` (reconciled, but not for ``STALE_AFTER``), ``never`` (it has
    statements but no reconciliation) or ``none`` (no statements: nothing is said);
    ``seq`` is the last reconciliation's leaf, the proof."""

    slug: str
    name: str
    state: str
    through: str = ""
    balance: str = ""
    seq: int | None = None


def standing_view(standing: PlaceStanding, fmt: Formatter) -> StandingView:
    place, last = standing.place, standing.last
    if last is None:
        return StandingView(place.slug, place.name, "never" if standing.has_statements else "none")
    return StandingView(
        place.slug,
        place.name,
        "stale" if standing.stale else "matched",
        fmt.day(last.through),
        fmt.money(last.closing_balance, last.currency),
        last.seq,
    )


def place_view(place: Place, fmt: Formatter) -> PlaceView:
    return PlaceView(
        place.slug, place.name, fmt.money(place.balance, place.currency), place.is_default
    )


@dataclass(frozen=True, slots=True)
class FundView:
    slug: str
    name: str
    currency: str
    balance: str
    committed: str
    available: str
    balance_minor: int


def fund_view(fund: Fund, fmt: Formatter, committed: int = 0) -> FundView:
    """A fund's money: ``committed`` is what passed but unpaid proposals hold
    (``proposals.service.committed_by_fund``)."""
    return FundView(
        slug=fund.slug,
        name=fund.name,
        currency=fund.currency,
        balance=fmt.money(fund.balance, fund.currency),
        committed=fmt.money(committed, fund.currency),
        available=fmt.money(fund.balance - committed, fund.currency),
        balance_minor=fund.balance,
    )


@dataclass(frozen=True, slots=True)
class DecisionLine:
    """A decision taken in a statement's period, as the statement prints it."""

    number: int
    title: str
    outcome: str
    decided_on: date
    amount: str | None = None  # "300.00 EUR"
    fund: str | None = None
    explanation: str = ""  # in English, as stored
    round: int | None = None
    # The explanation, to translate (``Formatter.explained``); None: decided before its
    # words were kept.
    words: tuple[Words, ...] | None = None


def decision_line(decision: Decision) -> DecisionLine:
    return DecisionLine(
        number=decision.number,
        title=decision.title,
        outcome=STATUS_LABELS.get(decision.status, decision.status),
        decided_on=decision.decided_at.astimezone(UTC).date(),
        amount=f"{decision.amount} {decision.currency}" if decision.amount else None,
        fund=decision.fund,
        explanation=decision.explanation,
        round=decision.round,
        words=decision.words,
    )

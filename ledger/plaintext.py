"""Plain-text accounting exports: an hledger journal and a beancount file.

Both are folds over the group's entries that a tool nobody here wrote can check: `hledger
check` and `bean-check` must accept them, and their balances must equal ours to the cent.

Choices that keep that true:

- **Order.** Transactions are written in date order, then log order (``seq``). hledger
  checks balance assertions in exactly that order (by date, then as parsed), and entries
  may be backdated, so running balances are computed in the order the file is written in,
  not in ``seq`` order; ``seq`` and ``hash`` stay on every transaction as tags/metadata.
- **Assertions.** hledger: every posting asserts its account's running balance (``=``,
  one commodity, that account only). beancount: ``balance`` directives with an explicit
  ``~ 0`` tolerance, at the start of every month that has transactions and the day after
  each account's last posting (beancount checks a balance at the start of its day).
  Without ``~ 0`` beancount tolerates one unit of the last digit shown, so an export off
  by 0.01 would pass.
- **Accounts.** ``ledger.rules.account_name`` for every valid fund slug (the names the log
  itself uses), but a fund's money is shown where it is held: ``Assets:<Place>:<Fund>``
  (``Assets:Bank:Rent-relief``), so ``Assets:Bank`` totals what the place holds; a move
  between places, which touches no fund, posts to each place's ``Between-Places`` account
  (``Assets:Cash:Between-Places`` to ``Assets:Bank:Between-Places``): not to the place's
  own account, as a beancount balance check of an account counts its sub-accounts, and a
  name no fund can have (a fund's component has no capital after its first letter).
  Anything else gets a component that starts with a digit (which no valid
  slug can produce) followed by the slug's UTF-8 in hex, and a mapping refuses collisions.
- **Text.** Member text becomes one line: control characters and line breaks become
  spaces, bidirectional embedding/override/isolate controls become U+FFFD (they could make
  a line display differently from what it says). hledger has no escapes: ``;`` would start
  a comment and ``|`` split payee from note, so they become ``；`` and ``¦``. beancount
  strings are quoted with ``\\`` and ``\"`` escaped. The exact text stays in the JSON
  exports and the hashed leaves.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from ledger import rules
from ledger.money import exponent, format_amount

__all__ = [
    "AccountNames",
    "account_name",
    "beancount_file",
    "beancount_string",
    "hledger_journal",
    "hledger_text",
    "one_line",
]

# hledger account types: holding money is cash (it shows in `hledger cashflow`).
_HLEDGER_TYPES = {rules.HOLDING: "C", rules.INCOME: "R", rules.EXPENSE: "X"}
# What both tools accept: beancount wants every component to start with a capital letter
# or a digit; hledger only forbids two spaces and tabs, which this excludes as well.
_ACCOUNT = re.compile(r"(?:Assets|Income|Expenses)(?::[A-Z0-9][A-Za-z0-9-]*)+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_KIND = re.compile(r"[a-z][a-z0-9_-]*")
# Written bare into hledger tags and beancount metadata, so only hex may pass.
_HASH = re.compile(r"[0-9a-f]{1,128}")
_KIND_LABELS = {
    "donation": "Donation",
    "disbursement": "Disbursement",
    "transfer": "Transfer",
    "reversal": "Reversal",
    "move": "Move",
}
# Embeddings, overrides and isolates (the "Trojan Source" characters). Marks such as
# U+200F stay: right-to-left text needs them and they cannot reorder a whole line.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# --- what the exports read -----------------------------------------------------------------
# Read-only protocols, so the ORM rows and plain test objects both fit.


class GroupLike(Protocol):
    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def currency(self) -> str: ...


class FundRef(Protocol):
    @property
    def slug(self) -> str: ...


class FundLike(FundRef, Protocol):
    @property
    def name(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


class PlaceLike(Protocol):
    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def is_default(self) -> bool: ...


class PostingLike(Protocol):
    @property
    def account_type(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def fund(self) -> FundRef: ...


class EntryLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def occurred_on(self) -> date: ...
    @property
    def memo(self) -> str: ...
    @property
    def counterparty(self) -> str | None: ...
    @property
    def reverses_seq(self) -> int | None: ...
    @property
    def proposal_number(self) -> int | None: ...
    @property
    def proposal_version(self) -> int | None: ...
    @property
    def policy_number(self) -> int | None: ...
    @property
    def policy_version(self) -> int | None: ...
    @property
    def hash(self) -> str: ...
    @property
    def postings(self) -> Sequence[PostingLike]: ...


# --- account names -------------------------------------------------------------------------


def account_name(account_type: str, fund_slug: str) -> str:
    """The account both tools accept for a fund's holding, income or expense account.

    Equal to the log's own account name for every valid slug. Any other slug (none can be
    stored today; this guards old or imported data) becomes ``0`` + hex of its UTF-8: it
    starts with a digit, which a valid slug never does, and hex is one-to-one.
    """
    if account_type not in _HLEDGER_TYPES:
        raise ValueError(f"unknown account type {account_type!r}")
    if rules.SLUG.fullmatch(fund_slug):
        name = rules.account_name(account_type, fund_slug)
    else:
        name = rules.account_name(account_type, "0" + fund_slug.encode("utf-8").hex())
    if not _ACCOUNT.fullmatch(name):  # a change in rules.account_name must not slip by
        raise ValueError(f"{name!r} is not an account name hledger and beancount both accept")
    return name


def _component(slug: str) -> str:
    """An account name's component for a slug (as ``account_name`` makes it)."""
    if not rules.SLUG.fullmatch(slug):
        slug = "0" + slug.encode("utf-8").hex()
    return slug[0].upper() + slug[1:]


# Where a move's legs go: money moved between places, of no fund in particular.
BETWEEN_PLACES = "Between-Places"


def place_account(place_slug: str, fund_slug: str | None = None) -> str:
    """Where a fund's money is held, as an account of its place (``Assets:Cash:Groceries``);
    without a fund, what moves brought to the place or took from it
    (``Assets:Cash:Between-Places``); ``Assets:Cash`` is their total."""
    name = "Assets:" + _component(place_slug) + ":"
    name += BETWEEN_PLACES if fund_slug is None else _component(fund_slug)
    if not _ACCOUNT.fullmatch(name):
        raise ValueError(f"{name!r} is not an account name hledger and beancount both accept")
    return name


class AccountNames:
    """Names per (account type, fund slug, place slug), refusing two keys that would share
    a name. A holding account is named by its place (``place_account``)."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str, str | None], str] = {}
        self._keys: dict[str, tuple[str, str, str | None]] = {}

    def __call__(self, account_type: str, fund_slug: str, place: str | None = None) -> str:
        key = (account_type, fund_slug, place)
        name = self._names.get(key)
        if name is None:
            if place is not None and account_type == rules.HOLDING:
                name = place_account(place, fund_slug or None)
            else:
                name = account_name(account_type, fund_slug)
            other = self._keys.setdefault(name, key)
            if other != key:
                raise ValueError(f"accounts {other} and {key} would both be named {name!r}")
            self._names[key] = name
        return name


# --- text ----------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """Member text on one line, with nothing that can reorder how the line displays."""
    out: list[str] = []
    for ch in text:
        if ch in _BIDI_CONTROLS:
            out.append("\ufffd")
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):  # line breaks, tabs, NUL, NEL, U+2028/9
            out.append(" ")
        elif category == "Cs":  # a lone surrogate cannot be written as UTF-8
            out.append("\ufffd")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def hledger_text(text: str) -> str:
    """Text for an hledger description: it has no escapes, so swap the two special marks."""
    return one_line(text).replace(";", "\uff1b").replace("|", "\u00a6")


def beancount_string(text: str) -> str:
    """A quoted beancount string."""
    return '"' + one_line(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_currency(code: str) -> str:
    if not _CURRENCY.fullmatch(code):
        raise ValueError(f"{code!r} is not a currency code both tools accept")
    return code


def _hledger_commodity_example(currency: str) -> str:
    # hledger 1.25 insists on a decimal point even with no decimals ("1000. JPY").
    return "1000." + "0" * exponent(currency)


def _beancount_precision(currency: str) -> str:
    places = exponent(currency)
    return "1" if places == 0 else "0." + "0" * (places - 1) + "1"


# --- the read model both files are folded from ---------------------------------------------


@dataclass(frozen=True, slots=True)
class BankBalance:
    """A reconciliation (``ledger.reconciliation``): the place held ``balance`` (minor
    units of ``currency``) at the end of ``through``, as its bank said; leaf ``seq``. Both
    exports assert it on the place's account, which totals what the place holds."""

    place: str
    through: date
    balance: int
    currency: str
    seq: int

    @property
    def account(self) -> str:
        return place_account(self.place).removesuffix(":" + BETWEEN_PLACES)


@dataclass(frozen=True, slots=True)
class _Leg:
    account: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class _Transaction:
    seq: int
    on: date
    kind: str
    payee: str | None
    narration: str
    hash: str
    reverses: int | None
    proposal: str | None
    policy: str | None
    legs: tuple[_Leg, ...]


@dataclass(slots=True)
class _Account:
    name: str
    account_type: str
    fund_slug: str  # "" for a place's own account
    place_slug: str | None = None
    fund_name: str | None = None
    currencies: set[str] = field(default_factory=set)
    opened: date | None = None
    last_used: date | None = None


@dataclass(slots=True)
class _Book:
    group: GroupLike
    accounts: dict[str, _Account]
    transactions: list[_Transaction]  # date order, then seq
    reversed_by: dict[int, int]
    currencies: list[str]
    head: tuple[int, str] | None

    @property
    def first_date(self) -> date | None:
        dates = [a.opened for a in self.accounts.values() if a.opened is not None]
        return min(dates) if dates else None


def _narration(entry: EntryLike) -> str:
    kind = entry.kind
    label = _KIND_LABELS.get(kind, one_line(kind).capitalize() or "Entry")
    if entry.reverses_seq is not None:
        label += f" of entry {entry.reverses_seq}"
    if entry.proposal_number is not None:
        label += f" under proposal {entry.proposal_number} v{entry.proposal_version}"
    if entry.policy_number is not None:
        label += f" under policy {entry.policy_number} v{entry.policy_version}"
    memo = one_line(entry.memo)
    return f"{label}: {memo}" if memo else label


def _book(
    group: GroupLike,
    funds: Iterable[FundLike],
    entries: Iterable[EntryLike],
    places: Iterable[PlaceLike] = (),
) -> _Book:
    names = AccountNames()
    accounts: dict[str, _Account] = {}
    fund_opened: dict[str, date] = {}
    # Entries that name no place (or stand-ins without one) are in the default place.
    default = next((p.slug for p in places if p.is_default), rules.DEFAULT_PLACE_SLUG)

    def account(account_type: str, slug: str, place: str | None = None) -> _Account:
        where = place or default if account_type == rules.HOLDING else None
        name = names(account_type, slug, where)
        found = accounts.get(name)
        if found is None:
            found = accounts[name] = _Account(name, account_type, slug, where)
        return found

    def use(used: _Account, currency: str, on: date) -> None:
        used.currencies.add(_check_currency(currency))
        if used.last_used is None or on > used.last_used:
            used.last_used = on
        key = used.fund_slug or f"place {used.place_slug}"
        if key not in fund_opened or on < fund_opened[key]:
            fund_opened[key] = on

    for fund in funds:
        _check_currency(fund.currency)
        fund_opened[fund.slug] = fund.created_at.date()
        for account_type in _HLEDGER_TYPES:
            declared = account(account_type, fund.slug)
            declared.fund_name = fund.name
            declared.currencies.add(fund.currency)

    transactions: list[_Transaction] = []
    reversed_by: dict[int, int] = {}
    head: tuple[int, str] | None = None
    for entry in entries:
        if head is None or entry.seq > head[0]:
            head = (entry.seq, entry.hash)
        if entry.kind == rules.DECISION:
            continue  # a decision moves no money: the log holds it, the books need not
        legs = []
        # Where the money is (read with getattr: stand-ins from before places have none).
        place = getattr(entry, "place", None)
        where = place.slug if place is not None else None
        for posting in entry.postings:
            used = account(posting.account_type, posting.fund.slug, where)
            use(used, posting.currency, entry.occurred_on)
            legs.append(_Leg(used.name, posting.amount, posting.currency))
        moved: int | None = getattr(entry, "moved", None)
        to_place = getattr(entry, "to_place", None)
        if moved is not None and to_place is not None:
            # A move: from its place's own account to the other's, no fund touched.
            for slug, amount in ((where or default, -moved), (to_place.slug, moved)):
                used = account(rules.HOLDING, "", slug)
                use(used, to_place.currency, entry.occurred_on)
                legs.append(_Leg(used.name, amount, to_place.currency))
        if entry.reverses_seq is not None:
            reversed_by[entry.reverses_seq] = entry.seq
        if not _HASH.fullmatch(entry.hash):
            raise ValueError(f"entry {entry.seq} has a hash that is not lower-case hex")
        transactions.append(
            _Transaction(
                seq=entry.seq,
                on=entry.occurred_on,
                kind=entry.kind if _KIND.fullmatch(entry.kind) else "other",
                payee=one_line(entry.counterparty or "") or None,
                narration=_narration(entry),
                hash=entry.hash,
                reverses=entry.reverses_seq,
                proposal=(
                    f"{entry.proposal_number}v{entry.proposal_version}"
                    if entry.proposal_number is not None
                    else None
                ),
                policy=(
                    f"{entry.policy_number}v{entry.policy_version}"
                    if entry.policy_number is not None
                    else None
                ),
                legs=tuple(legs),
            )
        )
    # A fund's accounts open together, on or before their first use (backdated entries
    # can predate the fund's creation).
    for item in accounts.values():
        item.opened = fund_opened[item.fund_slug or f"place {item.place_slug}"]
    transactions.sort(key=lambda t: (t.on, t.seq))
    currencies = {_check_currency(group.currency)}
    for item in accounts.values():
        currencies |= item.currencies
    return _Book(
        group=group,
        accounts=dict(sorted(accounts.items())),
        transactions=transactions,
        reversed_by=reversed_by,
        currencies=sorted(currencies),
        head=head,
    )


def _header(book: _Book) -> list[str]:
    """Comment lines (";" in both formats) saying what the file is."""
    group = book.group
    lines = [
        f"; Common Purse export of group {one_line(group.slug)}: {one_line(group.name)}",
        f"; Currency {group.currency}. "
        + (
            f"Log head: entry {book.head[0]}, hash {book.head[1]}."
            if book.head
            else "No entries yet."
        ),
        "; Transactions run in date order, then log order (seq); seq and hash",
        "; name each entry of the log. Balance checks follow the same order.",
    ]
    funds = sorted(
        {(a.fund_slug, a.fund_name) for a in book.accounts.values() if a.fund_name is not None}
    )
    for slug, name in funds:
        lines.append(f";   fund {one_line(slug)}: {one_line(name or '')}")
    places = sorted({a.place_slug for a in book.accounts.values() if a.place_slug is not None})
    for place in places:
        lines.append(
            f";   place {one_line(place)}: what it holds is under "
            f"{place_account(place).removesuffix(':' + BETWEEN_PLACES)}"
        )
    return lines


# --- hledger -------------------------------------------------------------------------------


def hledger_journal(
    group: GroupLike,
    funds: Iterable[FundLike],
    entries: Iterable[EntryLike],
    places: Iterable[PlaceLike] = (),
    reconciled: Sequence[BankBalance] = (),
) -> str:
    """The group's ledger as an hledger journal that `hledger check -s ordereddates` accepts.
    ``reconciled``: each is an inclusive balance assertion (``=*``) on the place's account,
    in a transaction of its own after every transaction of its day."""
    book = _book(group, funds, entries, places)
    lines = _header(book)
    lines += ["", "decimal-mark ."]
    currencies = sorted(set(book.currencies) | {_check_currency(r.currency) for r in reconciled})
    lines += [f"commodity {_hledger_commodity_example(c)} {c}" for c in currencies]
    lines.append("")
    for account, place in sorted({(r.account, r.place) for r in reconciled}):
        lines.append(f"account {account}  ; type:C, place:{place}")
    for item in book.accounts.values():
        declared = f"account {item.name}  ; type:{_HLEDGER_TYPES[item.account_type]}"
        if rules.SLUG.fullmatch(item.fund_slug):  # a tag value would end at a comma
            declared += f", fund:{item.fund_slug}"
        if item.place_slug is not None and rules.SLUG.fullmatch(item.place_slug):
            declared += f", place:{item.place_slug}"
        lines.append(declared)

    pending = sorted(reconciled, key=lambda r: (r.through, r.seq))

    def assertions_before(day: date | None) -> list[str]:
        """The reconciliations through a day before ``day`` (None: all that are left)."""
        out: list[str] = []
        while pending and (day is None or pending[0].through < day):
            done = pending.pop(0)
            total = format_amount(done.balance, done.currency)
            out += [
                "",
                f"{done.through.isoformat()} ({done.seq}) Reconciled with the bank"
                f"  ; seq:{done.seq}, kind:reconciliation",
                f"    {done.account}  0 {done.currency} =* {total} {done.currency}",
            ]
        return out

    running: dict[tuple[str, str], int] = defaultdict(int)
    for txn in book.transactions:
        lines += assertions_before(txn.on)
        narration = hledger_text(txn.narration)
        description = f"{hledger_text(txn.payee)} | {narration}" if txn.payee else narration
        tags = [f"seq:{txn.seq}", f"hash:{txn.hash}", f"kind:{txn.kind}"]
        if txn.reverses is not None:
            tags.append(f"reverses:{txn.reverses}")
        if txn.seq in book.reversed_by:
            tags.append(f"reversed_by:{book.reversed_by[txn.seq]}")
        if txn.proposal is not None:
            tags.append(f"proposal:{txn.proposal}")
        if txn.policy is not None:
            tags.append(f"policy:{txn.policy}")
        lines.append("")
        lines.append(f"{txn.on.isoformat()} ({txn.seq}) {description}  ; {', '.join(tags)}")
        for leg in txn.legs:
            running[leg.account, leg.currency] += leg.amount
            balance = running[leg.account, leg.currency]
            lines.append(
                f"    {leg.account}  {format_amount(leg.amount, leg.currency)} {leg.currency}"
                f" = {format_amount(balance, leg.currency)} {leg.currency}"
            )
    lines += assertions_before(None)
    return "\n".join(lines) + "\n"


# --- beancount -----------------------------------------------------------------------------


def _month_starts(after: date, through: date) -> list[date]:
    """The first days of months that fall in (after, through]."""
    starts: list[date] = []
    month = date(after.year, after.month, 1)
    while (month.year, month.month) < (date.max.year, 12):  # year 9999 has no next month
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if month > through:
            break
        starts.append(month)
    return starts


def beancount_file(
    group: GroupLike,
    funds: Iterable[FundLike],
    entries: Iterable[EntryLike],
    places: Iterable[PlaceLike] = (),
    reconciled: Sequence[BankBalance] = (),
) -> str:
    """The group's ledger as a beancount file that `bean-check` accepts. ``reconciled``:
    each is a ``balance`` of the place's account (which counts its sub-accounts) the day
    after its day, as beancount checks a balance at the start of its day."""
    book = _book(group, funds, entries, places)
    lines = _header(book)
    lines += [
        "",
        f'option "title" {beancount_string(group.name)}',
        f'option "operating_currency" "{group.currency}"',
    ]
    lines += [
        f'option "display_precision" "{c}:{_beancount_precision(c)}"' for c in book.currencies
    ]
    # Makes bean-check refuse an undeclared currency, as `hledger check -s` does.
    lines.append('plugin "beancount.plugins.check_commodity"')
    first = book.first_date
    if first is None:  # no funds, no entries: nothing to declare
        return "\n".join(lines) + "\n"

    lines.append("")
    currencies = sorted(set(book.currencies) | {_check_currency(r.currency) for r in reconciled})
    lines += [f"{first.isoformat()} commodity {c}" for c in currencies]
    lines.append("")
    # Open before its first check, even one through a day before any entry (at zero).
    opens = min([first, *(r.through for r in reconciled)])
    for account, currency in sorted({(r.account, r.currency) for r in reconciled}):
        lines.append(f"{opens.isoformat()} open {account} {currency}")
    pairs: list[tuple[_Account, str]] = []
    for item in sorted(book.accounts.values(), key=lambda a: (a.opened or first, a.name)):
        assert item.opened is not None
        lines.append(
            f"{item.opened.isoformat()} open {item.name} {','.join(sorted(item.currencies))}"
        )
        if item.fund_slug:
            lines.append(f"  fund: {beancount_string(item.fund_slug)}")
        if item.place_slug is not None:
            lines.append(f"  place: {beancount_string(item.place_slug)}")
        if item.fund_name is not None:
            lines.append(f"  name: {beancount_string(item.fund_name)}")
        pairs += [(item, currency) for currency in sorted(item.currencies)]

    running: dict[tuple[str, str], int] = defaultdict(int)
    asserted: set[tuple[str, str, date]] = set()

    def balances_on(day: date, which: Iterable[tuple[_Account, str]]) -> list[str]:
        out = []
        for item, currency in which:
            amount = running[item.name, currency]
            asserted.add((item.name, currency, day))
            out.append(
                f"{day.isoformat()} balance {item.name}  "
                f"{format_amount(amount, currency)} ~ 0 {currency}"
            )
        return out

    last = book.transactions[-1].on if book.transactions else first
    checkpoints = _month_starts(first, last)
    next_checkpoint = 0
    for txn in book.transactions:
        # A month-start check (before the day's transactions: beancount checks at the start
        # of the day) for every account open by then, used or not; of months without a
        # transaction, whose balances are the same, only the last before this one.
        reached = next_checkpoint
        while reached < len(checkpoints) and checkpoints[reached] <= txn.on:
            reached += 1
        if reached > next_checkpoint:
            day = checkpoints[reached - 1]
            opened = [(a, c) for a, c in pairs if a.opened is not None and a.opened <= day]
            lines.append("")
            lines += balances_on(day, opened)
            next_checkpoint = reached
        header = f"{txn.on.isoformat()} *"
        if txn.payee:
            header += f" {beancount_string(txn.payee)}"
        header += f" {beancount_string(txn.narration)}"
        link = (
            txn.reverses
            if txn.reverses is not None
            else (txn.seq if txn.seq in book.reversed_by else None)
        )
        if link is not None:  # an entry and its reversal share a link
            header += f" ^entry-{link}"
        lines += [
            "",
            header,
            f'  seq: "{txn.seq}"',
            f'  hash: "{txn.hash}"',
            f'  kind: "{txn.kind}"',
        ]
        if txn.reverses is not None:
            lines.append(f'  reverses: "{txn.reverses}"')
        if txn.seq in book.reversed_by:
            lines.append(f'  reversed_by: "{book.reversed_by[txn.seq]}"')
        if txn.proposal is not None:
            lines.append(f'  proposal: "{txn.proposal}"')
        if txn.policy is not None:
            lines.append(f'  policy: "{txn.policy}"')
        for leg in txn.legs:
            running[leg.account, leg.currency] += leg.amount
            lines.append(
                f"  {leg.account}  {format_amount(leg.amount, leg.currency)} {leg.currency}"
            )

    # The day after each account's last posting (its opening day if it has none). An
    # account last used on the calendar's last day (a date no new entry may have, but an
    # old log can hold) has no day after: its postings' own checks are all it gets.
    closing = sorted(
        (
            (item.last_used + timedelta(days=1) if item.last_used else item.opened),
            item.name,
            currency,
            item,
        )
        for item, currency in pairs
        if item.opened is not None and item.last_used != date.max
    )
    lines.append("")
    for day, name, currency, item in closing:
        if (name, currency, day) not in asserted:
            lines += balances_on(day, [(item, currency)])
    for done in sorted(reconciled, key=lambda r: (r.through, r.seq)):
        if done.through == date.max:
            continue  # no day after it to check on
        lines.append(
            f"{(done.through + timedelta(days=1)).isoformat()} balance {done.account}  "
            f"{format_amount(done.balance, done.currency)} ~ 0 {done.currency}"
        )
    return "\n".join(lines) + "\n"

"""The ledger's rules as pure functions: which postings an entry makes, and whether it may.

No database here: ``service.py`` loads the funds, calls these and writes the result.

Accounts follow the plain-text accounting tools' shape, one set per fund:
``Assets:Holding:<Fund>`` (the fund's money, where it is held), ``Income:Donations:<Fund>``
and ``Expenses:Support:<Fund>``. A fund's slug is lower-case letters, digits and dashes, so
capitalising it gives a component both hledger and beancount accept, and distinct slugs
can never give the same account.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ledger.errors import (
    AlreadyReversed,
    BalanceLimit,
    ClosedPeriod,
    Conflict,
    InsufficientFunds,
    InvalidInput,
    Unbalanced,
)
from ledger.money import MAX_BALANCE, format_amount

ENTRY_KINDS = ("donation", "disbursement", "transfer", "reversal", "move")
HOLDING, INCOME, EXPENSE = "holding", "income", "expense"
_ACCOUNT_ROOTS = {
    HOLDING: "Assets:Holding",
    INCOME: "Income:Donations",
    EXPENSE: "Expenses:Support",
}
# The default place every group has (``ledger.places``): most hold their money in one bank
# account.
DEFAULT_PLACE_SLUG = "bank"
DEFAULT_PLACE_NAME = "Bank account"
SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# A day as a leaf writes it: days written so compare as text the way they do as dates.
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def check_slug(slug: str, *, field: str = "slug") -> str:
    if len(slug) > 64 or not SLUG.fullmatch(slug):
        raise InvalidInput(
            "A slug is 1-64 lower-case letters, digits and single dashes, starting with a "
            f'letter (like "rent-relief"); {slug!r} is not.',
            field=field,
        )
    return slug


EARLIEST_DAY = date(1970, 1, 1)
DAYS_AHEAD = 31


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The days an entry may say it occurred on: from ``earliest`` to ``days_ahead`` days
    after today (None: no limit ahead). A date far outside any group's life is a typing
    mistake, and one that no tool can carry: year 9999 has no next day for a balance
    assertion, and the ledger can never be edited to remove it."""

    earliest: date = EARLIEST_DAY
    days_ahead: int | None = DAYS_AHEAD

    def latest(self, today: date) -> date:
        if self.days_ahead is None or date.max - today < timedelta(days=self.days_ahead):
            return date.max
        return today + timedelta(days=self.days_ahead)

    def check(self, day: date, today: date, *, field: str = "occurred_on") -> date:
        """``day`` when it lies in the window, else InvalidInput naming ``field``."""
        latest = self.latest(today)
        if not self.earliest <= day <= latest:
            raise InvalidInput(
                f"{day.isoformat()} is outside the dates the ledger accepts: from "
                f"{self.earliest.isoformat()} to {latest.isoformat()}.",
                field=field,
            )
        return day


DEFAULT_DATES = DateWindow()


def account_name(account_type: str, fund_slug: str) -> str:
    return f"{_ACCOUNT_ROOTS[account_type]}:{fund_slug[0].upper()}{fund_slug[1:]}"


@dataclass(frozen=True, slots=True)
class FundState:
    id: int
    slug: str
    name: str
    currency: str
    allow_negative: bool
    balance: int


@dataclass(frozen=True, slots=True)
class PlannedPosting:
    fund_id: int
    fund_slug: str
    account_type: str
    amount: int
    currency: str

    @property
    def account(self) -> str:
        return account_name(self.account_type, self.fund_slug)


def _leg(fund: FundState, account_type: str, amount: int) -> PlannedPosting:
    return PlannedPosting(fund.id, fund.slug, account_type, amount, fund.currency)


def donation(fund: FundState, amount: int) -> list[PlannedPosting]:
    """Money comes in: the fund holds more, the donations income says from where."""
    return [_leg(fund, HOLDING, amount), _leg(fund, INCOME, -amount)]


def disbursement(fund: FundState, amount: int) -> list[PlannedPosting]:
    """Money goes out of the fund to support someone."""
    return [_leg(fund, EXPENSE, amount), _leg(fund, HOLDING, -amount)]


def transfer(source: FundState, target: FundState, amount: int) -> list[PlannedPosting]:
    if source.id == target.id:
        raise InvalidInput("A transfer needs two different funds.", field="to_fund")
    if source.currency != target.currency:
        raise InvalidInput(
            f"Cannot transfer between {source.currency} and {target.currency} funds.",
            field="to_fund",
        )
    return [_leg(target, HOLDING, amount), _leg(source, HOLDING, -amount)]


def reversal(original: Iterable[PlannedPosting]) -> list[PlannedPosting]:
    """The exact negation of an earlier entry's postings."""
    return [
        PlannedPosting(p.fund_id, p.fund_slug, p.account_type, -p.amount, p.currency)
        for p in original
    ]


def fund_changes(postings: Iterable[PlannedPosting]) -> dict[int, int]:
    """How much each fund's money changes (holding postings only)."""
    changes: dict[int, int] = defaultdict(int)
    for posting in postings:
        if posting.account_type == HOLDING:
            changes[posting.fund_id] += posting.amount
    return dict(changes)


def check_balance_limit(funds: Mapping[int, FundState], changes: Mapping[int, int]) -> None:
    """Refuse changes that take a balance beyond ``MAX_BALANCE`` either way: no database
    column may overflow (a limit of what is stored, not a rule of the log)."""
    for fund_id, change in changes.items():
        fund = funds[fund_id]
        if abs(fund.balance + change) > MAX_BALANCE:
            raise BalanceLimit(
                f"The fund {fund.name!r} cannot hold more than "
                f"{format_amount(MAX_BALANCE, fund.currency)} {fund.currency} either way; "
                "this entry would take it beyond that.",
                field="amount",
            )


def check_place_limit(
    places: Mapping[int, PlaceTerms], balances: Mapping[int, int], changes: Mapping[int, int]
) -> None:
    """``check_balance_limit`` for places: no stored place balance may overflow either."""
    for place_id, change in changes.items():
        if abs(balances[place_id] + change) > MAX_BALANCE:
            place = places[place_id]
            raise BalanceLimit(
                f"The place {place.name or place.slug!r} cannot hold more than "
                f"{format_amount(MAX_BALANCE, place.currency)} {place.currency} either way; "
                "this entry would take it beyond that.",
                field="amount",
            )


# --- what an entry may be: the rules of the log ------------------------------------------------
#
# One statement, used by the append path (before an entry is written), the database verifier
# and the bundle verifier (as each entry is replayed). ``Books`` holds what the rules of the
# next entry read; ``Books.record`` checks an entry against it and adds it. A broken rule
# raises a ``LedgerError`` that says what is wrong twice: in a sentence for the person who
# tried to record the entry (its message and field), and as a phrase for a verifier's report
# (``in_log``: "entry 7 takes the fund 'rent' below zero").
#
# The bundle verifier also has a batched form of these rules (``ledger.bundle._Replay.
# _batch_holds``), for speed; a property test holds it to this one.

HOLDING_ROOT = _ACCOUNT_ROOTS[HOLDING] + ":"
REVERSAL = "reversal"
# An entry that moves money between two of the group's places (cash paid into the bank),
# touching no fund: its two legs name places and no fund.
MOVE = "move"
# An entry that moves no money: a closed round's decision (``ledger.decisions``).
DECISION = "decision"
# A leaf that moves no money either: a place's books agreed with its bank statement through
# a day (``ledger.reconciliation``); entries in that place dated on or before it are then
# refused, so the balance that was agreed can never change afterwards.
RECONCILIATION = "reconciliation"


@dataclass(frozen=True, slots=True)
class Leg:
    """A posting as the rules see it: the account (its root says whether it holds a fund's
    money), the fund, the signed amount in minor units and the currency."""

    account: str
    fund: str
    amount: int
    currency: str
    # Where the money is: a place's slug, None for the group's default place (what every
    # leaf written before places existed means, and what a leaf in that place still says).
    place: str | None = None

    @property
    def holding(self) -> bool:
        return self.account.startswith(HOLDING_ROOT)

    @property
    def in_place(self) -> bool:
        """Whether the leg changes what a place holds: a fund's money, or a move's leg
        (which has no fund)."""
        return self.holding or not self.fund


def move_legs(from_place: str, to_place: str, amount: int, currency: str) -> tuple[Leg, Leg]:
    """The legs of a move (or of its reversal, with ``amount`` negated): the money leaves
    ``from_place`` and arrives in ``to_place``; no fund is touched."""
    return (
        Leg("", "", -amount, currency, from_place),
        Leg("", "", amount, currency, to_place),
    )


@dataclass(frozen=True, slots=True)
class FundTerms:
    """What the rules know of a fund."""

    slug: str
    currency: str
    allow_negative: bool
    name: str = ""


@dataclass(frozen=True, slots=True)
class PlaceTerms:
    """What the rules know of a place: where money is held (a bank account, a cash box)."""

    slug: str
    currency: str
    allow_negative: bool = False
    name: str = ""


def negation(legs: Iterable[Any]) -> list[tuple[str, str, int, str, str | None]]:
    """The legs of an entry's exact reversal, in the same place. Legs kept by a verifier's
    fast path may hold their amounts as the decimal text of the leaf (``int`` reads both)
    and have no place (they are in the default place)."""
    return [
        (leg.account, leg.fund, -int(leg.amount), leg.currency, getattr(leg, "place", None))
        for leg in legs
    ]


def _flat(legs: Iterable[Leg]) -> list[tuple[str, str, int, str, str | None]]:
    return [(leg.account, leg.fund, leg.amount, leg.currency, leg.place) for leg in legs]


class Books:
    """What the rules of the next entry read: each fund's balance and terms, and which
    earlier entries may still be reversed (with their legs).

    ``first`` is the number the first entry added will have. A verifier starts from nothing
    (``first=1``); the append path starts from the stored balances and names in ``earlier``
    the one entry a reversal reverses (its legs; ``None`` when it is itself a reversal),
    in ``reversed`` whether it was reversed already. ``keep`` says which entries' legs to
    keep for a later reversal (all by default; a verifier that knows which entries are
    reversed keeps only those).

    ``places``: the group's places with their terms, ``default_place`` the slug of the one
    that legs naming no place are in, ``place_balances`` what each holds. Without places
    (a bundle written before places existed) legs in the default place are not checked:
    that place was the sum of the funds, and the funds' rules held it.

    Reconciliations: ``reconciled`` says through which day (ISO text) each place was last
    reconciled; entries in a place dated on or before that day are refused. ``days`` keeps,
    per place, the net change of each day the entries added with their ``occurred_on``
    name (a verifier replays them all; the append path of a reconciliation passes the
    place's balance at its day as the change of that one day, in ``place_days``)."""

    def __init__(
        self,
        funds: Iterable[FundTerms],
        *,
        balances: Mapping[str, int] | None = None,
        first: int = 1,
        earlier: Mapping[int, Sequence[Any] | None] | None = None,
        reversed_: Iterable[int] = (),
        keep: Container[int] | None = None,
        places: Iterable[PlaceTerms] = (),
        default_place: str | None = None,
        place_balances: Mapping[str, int] | None = None,
        reconciled: Mapping[str, str] | None = None,
        place_days: Mapping[str, Mapping[str, int]] | None = None,
    ) -> None:
        self.places = {place.slug: place for place in places}
        self.reconciled: dict[str, str] = dict(reconciled or {})
        self.days: dict[str, dict[str, int]] = {
            slug: dict(changes) for slug, changes in (place_days or {}).items()
        }
        self.default_place = default_place
        self.place_balances: dict[str, int] = dict.fromkeys(self.places, 0)
        self.place_balances.update(place_balances or {})
        self.funds = {fund.slug: fund for fund in funds}
        self.balances: dict[str, int] = dict.fromkeys(self.funds, 0)
        self.balances.update(balances or {})
        self.first = first
        self.seq = first - 1  # the last entry added
        self.earlier: dict[int, Sequence[Any] | None] = dict(earlier or {})
        # The legs of entry ``first + i`` at index i while a reversal may still name it;
        # None for reversals, entries reversed already and entries not kept.
        self.reversible: list[Sequence[Any] | None] = []
        self.reversed: set[int] = set(reversed_)
        self.keep = keep
        self.used: set[str] = set()  # funds some entry moved money in or out of
        # Leaves from ``first`` on that move no money (attached files, decisions): no reversal
        # or attachment names them.
        self.records: set[int] = set()

    def record(
        self,
        kind: str,
        legs: Sequence[Leg],
        reverses: int | None = None,
        occurred_on: date | str | None = None,
    ) -> None:
        """Check the next entry against every rule of the log, then add it; nothing is
        added when a rule is broken. ``occurred_on`` (a date or its ISO text): the day the
        entry says it occurred on, for the rules of reconciled places (None: not read)."""
        seq = self.seq + 1
        if kind == DECISION:
            self._record_decision(legs, reverses)
            return
        self._check_balanced(legs)
        self._check_move(kind, legs)
        original = self._check_reversal(seq, kind, legs, reverses)
        balances = self._check_funds(legs)
        places = self._check_places(kind, legs)
        day = None if occurred_on is None else str(occurred_on)
        if day is not None:
            self._check_open(kind, places, day)
            for slug, after in places.items():
                change = after - self.place_balances.get(slug, 0)
                if change:
                    changes = self.days.setdefault(slug, {})
                    changes[day] = changes.get(day, 0) + change
        # Every rule holds: the entry joins the books.
        self.balances.update(balances)
        self.place_balances.update(places)
        self.used.update(balances)
        if original is not None:
            self._forget(original)
            self.reversed.add(original)
        keep = kind != REVERSAL and (self.keep is None or seq in self.keep)
        self.reversible.append(legs if keep else None)
        self.seq = seq

    def attach(self, entry: int) -> None:
        """Check the next leaf, a file attached to ``entry``, then add it: it must name an
        earlier entry that moves money (not another attachment), and is never reversed."""
        seq = self.seq + 1
        if not 0 < entry < seq or entry in self.records:
            raise InvalidInput(
                f"There is no entry {entry} to attach a file to.",
                field="seq",
                in_log=f"attaches a file to entry {entry}, which is not an earlier entry",
            )
        self.reversible.append(None)
        self.records.add(seq)
        self.seq = seq

    def reconcile(
        self, place: str, through: date | str, balance: int, currency: str | None = None
    ) -> None:
        """Check the next leaf, a reconciliation of ``place`` through the day ``through``
        stating ``balance`` (minor units, in ``currency``), then add it: the place exists,
        the day is later than the place's last reconciliation (a closed one is never
        reopened), and the entries dated on or before that day put exactly ``balance``
        there. From then on, entries in the place dated on or before it are refused."""
        seq = self.seq + 1
        terms = self.places.get(place)
        if terms is None:
            raise InvalidInput(
                f"There is no place {place!r}.",
                field="place",
                in_log=f"reconciles the unknown place {place!r}",
            )
        if currency is not None and currency != terms.currency:
            raise InvalidInput(
                f"The place {terms.name or place!r} holds {terms.currency}, not {currency}.",
                field="closing_balance",
                in_log=f"states a {currency} balance for the {terms.currency} place {place!r}",
            )
        day = str(through)
        if not ISO_DAY.fullmatch(day):
            raise InvalidInput(
                f"{day!r} is not a day.",
                field="through",
                in_log=f"reconciles through {day!r}, which is not written YYYY-MM-DD",
            )
        last = self.reconciled.get(place)
        if last is not None and day <= last:
            raise InvalidInput(
                f"The place {terms.name or place!r} is reconciled through {last} already; a "
                f"reconciliation closes a later day than that (a closed one is never "
                "reopened: a correction is a new entry and a new reconciliation).",
                field="through",
                in_log=f"reconciles the place {place!r} through {day}, not after its last "
                f"reconciliation ({last})",
            )
        held = self.balance_on(place, day)
        if held != balance:
            raise InvalidInput(
                f"The books put {format_amount(held, terms.currency)} {terms.currency} in "
                f"the place {terms.name or place!r} through {day}; the closing balance "
                f"given is {format_amount(balance, terms.currency)} {terms.currency}.",
                field="closing_balance",
                in_log=f"states a balance of {balance} for the place {place!r} through "
                f"{day}, but the entries put {held} there",
            )
        self.reconciled[place] = day
        self.reversible.append(None)
        self.records.add(seq)
        self.seq = seq

    def balance_on(self, place: str, day: str) -> int:
        """What the entries added with their dates put in ``place`` on or before ``day``."""
        return sum(change for on, change in self.days.get(place, {}).items() if on <= day)

    def _check_open(self, kind: str, places: Mapping[str, int], day: str) -> None:
        """An entry in a reconciled place is dated after the day it was reconciled
        through: otherwise the balance the bank agreed with would change silently. (A
        reversal is dated the day it is recorded, so it passes from the next day on.)"""
        for slug in places:
            through = self.reconciled.get(slug)
            if through is not None and not ISO_DAY.fullmatch(day):
                raise InvalidInput(
                    f"{day!r} is not a day.",
                    field="occurred_on",
                    in_log=f"states a day {day!r} that is not written YYYY-MM-DD",
                )
            if through is not None and day <= through:
                place = self.places[slug]
                raise ClosedPeriod(
                    f"The place {place.name or slug!r} is reconciled with the bank through "
                    f"{through}: an entry there dated {day} would change the balance that "
                    f"was agreed. Date it after {through} (a correction is a new entry).",
                    field="reverses" if kind == REVERSAL else "occurred_on",
                    in_log=f"is dated {day}, in the place {slug!r} reconciled through {through}",
                )

    def _record_decision(self, legs: Sequence[Leg], reverses: int | None) -> None:
        """A decision joins the log without money; it can never be reversed."""
        if legs or reverses is not None:
            raise Unbalanced(
                "A decision moves no money.", in_log="is a decision but moves or reverses money"
            )
        self.reversible.append(None)
        self.seq += 1
        self.records.add(self.seq)

    def _check_balanced(self, legs: Sequence[Leg]) -> None:
        sums: dict[str, int] = defaultdict(int)
        for leg in legs:
            sums[leg.currency] += leg.amount
        if len(legs) < 2 or any(sums.values()):
            raise Unbalanced("The entry's postings do not balance.", in_log="does not balance")

    def _check_move(self, kind: str, legs: Sequence[Leg]) -> None:
        """A move takes a positive amount from one place to another and touches no fund;
        only a move (or its reversal, held to be its exact negation) has legs without a
        fund; every other entry is in one place."""
        if kind == MOVE:
            if (
                len(legs) != 2
                or legs[0].fund
                or legs[1].fund
                or legs[0].account
                or legs[1].account
                or legs[1].amount <= 0
            ):
                raise InvalidInput(
                    "A move takes a positive amount from one place to another.",
                    field="amount",
                    in_log="is a move that does not take an amount from one place to another",
                )
            if (legs[0].place or self.default_place) == (legs[1].place or self.default_place):
                raise InvalidInput(
                    "A move needs two different places.",
                    field="to_place",
                    in_log="moves money from a place to itself",
                )
            return
        if kind != REVERSAL and any(not leg.fund for leg in legs):
            raise InvalidInput(
                "Only a move has legs without a fund.",
                field="kind",
                in_log="has a leg without a fund but is not a move",
            )
        if kind != REVERSAL and len({leg.place for leg in legs}) > 1:
            raise InvalidInput(
                "An entry other than a move is in one place.",
                field="place",
                in_log="is in more than one place but is not a move",
            )

    def _check_places(self, kind: str, legs: Sequence[Leg]) -> dict[str, int]:
        """Each place's balance after the entry: never below zero unless the place allows
        it (a bank account with an overdraft), checked on what the whole entry takes out
        (a transfer between funds, or its reversal, leaves its place as it was); a place
        other than the default holds its own currency only."""
        changes: dict[str, int] = {}
        field = "from_place" if kind == MOVE else "place"
        for leg in legs:
            if not leg.in_place:
                continue
            slug = leg.place or self.default_place
            place = None if slug is None else self.places.get(slug)
            if place is None:
                if leg.place is None and not self.places:
                    continue  # a log from before places: the funds' rules held it
                raise InvalidInput(
                    f"There is no place {slug!r}.",
                    field=field,
                    in_log=f"uses the unknown place {slug!r}",
                )
            if leg.currency != place.currency and slug != self.default_place:
                # (The default place may hold funds of other currencies, as before places.)
                raise InvalidInput(
                    f"The place {place.name or place.slug!r} holds {place.currency}, "
                    f"not {leg.currency}.",
                    field=field,
                    in_log=f"puts {leg.currency} in the {place.currency} place {place.slug!r}",
                )
            changes[place.slug] = changes.get(place.slug, 0) + leg.amount
        balances: dict[str, int] = {}
        for slug, change in changes.items():
            place = self.places[slug]
            before = self.place_balances.get(slug, 0)
            after = balances[slug] = before + change
            if change < 0 and after < 0 and not place.allow_negative:
                raise InsufficientFunds(
                    f"The place {place.name or slug!r} holds "
                    f"{format_amount(before, place.currency)} {place.currency}; this entry "
                    f"takes {format_amount(-change, place.currency)} from it.",
                    field=field,
                    in_log=f"takes the place {slug!r} below zero",
                )
        return balances

    def _check_reversal(
        self, seq: int, kind: str, legs: Sequence[Leg], reverses: int | None
    ) -> int | None:
        """The entry a reversal reverses (None for other kinds), once it may."""
        if kind != REVERSAL:
            if reverses is not None:
                raise InvalidInput(
                    "Only a reversal names an entry to reverse.",
                    field="reverses",
                    in_log="names an entry to reverse but is not a reversal",
                )
            return None
        if reverses is None:
            raise InvalidInput(
                "A reversal names the entry it reverses.",
                field="reverses",
                in_log="is a reversal but names no entry to reverse",
            )
        if reverses in self.reversed:
            raise AlreadyReversed(
                f"Entry {reverses} has been reversed already.",
                field="reverses",
                in_log=f"reverses entry {reverses} a second time",
            )
        cannot = f"reverses entry {reverses}, which cannot be reversed"
        if not 0 < reverses < seq:
            raise InvalidInput(
                f"There is no entry {reverses} to reverse.", field="reverses", in_log=cannot
            )
        if reverses >= self.first:
            original = self.reversible[reverses - self.first]
        else:
            original = self.earlier.get(reverses)
        if original is None:
            raise Conflict(
                "A reversal cannot be reversed; record a new entry instead.",
                field="reverses",
                in_log=cannot,
            )
        if negation(original) != _flat(legs):
            raise Conflict(
                f"A reversal is the exact negation of entry {reverses}.",
                field="reverses",
                in_log=f"is not the exact negation of entry {reverses}",
            )
        return reverses

    def _check_funds(self, legs: Sequence[Leg]) -> dict[str, int]:
        """Each fund's balance after the entry, posting by posting: never below zero
        unless the fund allows it."""
        balances: dict[str, int] = {}
        for leg in legs:
            if not leg.holding:
                continue
            fund = self.funds.get(leg.fund)
            if fund is None:
                raise InvalidInput(
                    f"There is no fund {leg.fund!r}.",
                    field="fund",
                    in_log=f"uses the unknown fund {leg.fund!r}",
                )
            before = balances.get(fund.slug, self.balances[fund.slug])
            after = balances[fund.slug] = before + leg.amount
            if leg.amount < 0 and after < 0 and not fund.allow_negative:
                raise InsufficientFunds(
                    f"The fund {fund.name or fund.slug!r} holds "
                    f"{format_amount(before, fund.currency)} {fund.currency}; this entry "
                    f"needs {format_amount(-leg.amount, fund.currency)}.",
                    field="amount",
                    in_log=f"takes the fund {fund.slug!r} below zero",
                )
        return balances

    def _forget(self, seq: int) -> None:
        if seq >= self.first:
            self.reversible[seq - self.first] = None
        else:
            self.earlier[seq] = None

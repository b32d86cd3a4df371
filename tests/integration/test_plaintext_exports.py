"""The hledger and beancount exports, checked by the real tools on a generated group.

A group of thousands of entries (donations, disbursements, transfers, reversals, backdated
and in three currencies, with hostile memos) goes through ``ledger.service.record_entry`` on
SQLite and PostgreSQL; `hledger check` and `bean-check` must accept its exports and report
every account's balance equal to ours to the cent; an export moved by 0.01 in one
transaction (both legs, so it still balances) must be refused by both.

The tools are found on PATH (``bean-check`` also next to this Python). Outside CI a missing
tool skips these tests with the reason; in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from app.signing import load_notary
from ledger import groups, service
from ledger.bundle import verify_bundle
from ledger.export import export, export_bundle, write_beancount, write_hledger
from ledger.models import Entry, Fund, Group, Place, Posting
from ledger.money import MAX_MINOR_UNITS, exponent, format_amount
from ledger.plaintext import account_name, hledger_text, one_line, place_account
from ledger.rules import DateWindow
from ledger.schemas import (
    DisbursementIn,
    DonationIn,
    FundIn,
    MoveIn,
    PlaceIn,
    ReversalIn,
    TransferIn,
)
from ledger.verify import verify_group
from proposals.service import authorise_payment
from tests.support.databases import unavailable
from tests.support.people import adopt_policies
from tests.support.tools import need_tool, run

TOOL_TIMEOUT = 120  # seconds; hledger 1.25 reads 2,000 transactions in well under one

Balances = dict[str, dict[str, Decimal]]


# --- the real tools --------------------------------------------------------------------------


def beancount_api() -> Any:
    try:
        from beancount import loader
    except ImportError:
        unavailable("beancount is not installed (pip install beancount)")
    return loader


def hledger_check(path: Path) -> subprocess.CompletedProcess[str]:
    """`hledger check` with its strict checks (accounts and commodities declared) and
    transactions in date order."""
    return run(need_tool("hledger"), "-f", str(path), "check", "--strict", "ordereddates")


def hledger_balances(path: Path) -> Balances:
    """Every account's balance as hledger computes it, exactly (JSON gives the decimal's
    mantissa and places; CSV would print it in the display style)."""
    done = run(need_tool("hledger"), "-f", str(path), "balance", "--flat", "-O", "json")
    assert done.returncode == 0, done.stderr
    rows, _total = json.loads(done.stdout)
    balances: Balances = {}
    for account, _display, _indent, amounts in rows:
        for amount in amounts:
            quantity = amount["aquantity"]
            value = Decimal(quantity["decimalMantissa"]).scaleb(-quantity["decimalPlaces"])
            balances.setdefault(account, {})[amount["acommodity"]] = value
    return balances


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return run(need_tool("bean-check"), str(path))


def beancount_balances(path: Path) -> Balances:
    """Every account's balance as beancount's own loader and realization compute them."""
    loader = beancount_api()
    from beancount.core import realization

    entries, errors, _options = loader.load_file(str(path))
    assert errors == []
    balances: Balances = {}
    for real in realization.iter_children(realization.realize(entries), leaf_only=True):
        for position in real.balance:
            balances.setdefault(real.account, {})[position.units.currency] = position.units.number
    return balances


def nonzero(balances: Balances) -> Balances:
    """Balances without zeros: the tools leave empty accounts out, we list every fund's."""
    kept = {
        account: {currency: value for currency, value in amounts.items() if value != 0}
        for account, amounts in balances.items()
    }
    return {account: amounts for account, amounts in kept.items() if amounts}


# --- a generated group -----------------------------------------------------------------------

MEMOS = [
    "",
    "Benefit gig",
    'Rent for "R-17"; thanks',
    "back\\slash and a trailing one\\",
    "two\nlines\r\nand a\ttab",
    "שלום עליכם, مرحبا",
    "<script>alert('x')</script> <b>bold</b>",
    "\u202eevil override",
    "payee|note; tag:value, other:1",
    "x" * 400,
]
COUNTERPARTIES = [None, "R-17", "Bakery on 5th", 'Shop "A"; | B', "مخبز"]
FUNDS = [  # slug, currency, allow_negative
    ("rent-relief", "EUR", False),
    ("groceries", "EUR", False),
    ("winter-coats-2024", "EUR", True),
    ("tokyo", "JPY", False),
    ("kuwait", "KWD", False),
]


@dataclass
class Generated:
    group: Group
    count: int
    # EUR donations to rent-relief that were never reversed: simple to tamper with.
    plain_donations: list[int] = field(default_factory=list)


async def generate(session: AsyncSession, *, slug: str, count: int, seed: int) -> Generated:
    """``count`` entries through the service in one transaction, committed at the end.

    The mix: about 40% donations, 25% disbursements, 20% transfers between the EUR funds,
    10% reversals, 5% moves between the bank and a cash box (a fifth of the EUR entries
    are in the cash box); a third backdated by up to four months (reversals are dated the
    day they are recorded), so dates are not in log order; one fund may go negative, and
    the bank account with it (an overdraft)."""
    rng = random.Random(seed)
    user = await groups.create_user(
        session, email=f"steward@{slug}.example.org", name="Steward", password_hash=None
    )
    group = await groups.create_group(
        session, slug=slug, name='Mutual aid "test"; | group', currency="EUR", admin=user
    )
    # The bank may be overdrawn (the fund that may go negative is paid from it first).
    await session.execute(
        update(Place).where(Place.group_id == group.id).values(allow_negative=True)
    )
    await service.create_place(session, group, PlaceIn(slug="cash", name="Cash box"))
    currency: dict[str, str] = {}
    allow_negative: dict[str, bool] = {"@bank": True, "@cash": False}
    for fund_slug, fund_currency, negative in FUNDS:
        await service.create_fund(
            session,
            group,
            FundIn(
                slug=fund_slug,
                name=f'Fund {fund_slug}; "{fund_currency}"',
                currency=fund_currency,
                allow_negative=negative,
            ),
        )
        currency[fund_slug] = fund_currency
        allow_negative[fund_slug] = negative
    eur_funds = [slug for slug, code in currency.items() if code == "EUR"]
    # Every payment is made under a decision: a standing policy per fund.
    policy_of = await adopt_policies(
        session, group, currency, max_per_payment="1000000", max_per_month="1000000000"
    )
    balance = dict.fromkeys([*currency, "@bank", "@cash"], 0)
    changes: dict[int, dict[str, int]] = {}  # seq -> change of each fund's money
    reversible: list[int] = []
    plain: set[int] = set()

    def fits(delta: dict[str, int]) -> bool:
        return all(allow_negative[f] or balance[f] + c >= 0 for f, c in delta.items())

    def amount(fund_slug: str, most: int | None = None) -> int:
        top = 500 * 10 ** exponent(currency[fund_slug])
        if most is not None and not allow_negative[fund_slug]:
            top = min(top, most)
        return rng.randint(1, max(top, 1))

    def plan(seq: int, memo: str, on: date, party: str | None) -> tuple[Any, dict[str, int]]:
        roll = rng.random()
        fund_slug = rng.choice(list(currency))
        # Where: a fifth of the EUR entries in the cash box, the rest in the bank.
        place = "cash" if currency[fund_slug] == "EUR" and rng.random() < 0.2 else None
        at = f"@{place or 'bank'}"
        if roll < 0.10 and reversible:
            original = rng.choice(reversible)
            undo = {f: -c for f, c in changes[original].items()}
            if fits(undo):
                reversible.remove(original)
                plain.discard(original)
                return ReversalIn(reverses=original, memo=memo or "Recorded twice"), undo
        if (
            roll < 0.35
            and (balance[fund_slug] > 0 or allow_negative[fund_slug])
            and (place is None or balance["@cash"] > 0)
        ):
            minor = amount(fund_slug, balance[fund_slug])
            if place is not None:
                minor = min(minor, balance["@cash"])
            text = format_amount(minor, currency[fund_slug])
            entry = DisbursementIn(
                fund=fund_slug,
                amount=text,
                occurred_on=on,
                memo=memo,
                counterparty=party,
                policy=policy_of[fund_slug],
                place=place,
            )
            return entry, {fund_slug: -minor, at: -minor}
        if roll < 0.55:
            source, target = rng.sample(eur_funds, 2)
            if balance[source] > 0 or allow_negative[source]:
                minor = amount(source, balance[source])
                text = format_amount(minor, "EUR")
                entry = TransferIn(
                    from_fund=source,
                    to_fund=target,
                    amount=text,
                    occurred_on=on,
                    memo=memo,
                    place=place,
                )
                return entry, {source: -minor, target: minor}
        if roll < 0.60:
            # Cash paid into the bank, or taken out of it.
            leaves, arrives = ("@cash", "@bank") if rng.random() < 0.6 else ("@bank", "@cash")
            if leaves == "@bank" or balance["@cash"] > 0:
                minor = amount("rent-relief", None if leaves == "@bank" else balance["@cash"])
                if leaves == "@cash":
                    minor = min(minor, balance["@cash"])
                move = MoveIn(
                    from_place=leaves[1:],
                    to_place=arrives[1:],
                    amount=format_amount(minor, "EUR"),
                    occurred_on=on,
                    memo=memo,
                )
                return move, {leaves: -minor, arrives: minor}
        minor = amount(fund_slug)
        text = format_amount(minor, currency[fund_slug])
        if fund_slug == "rent-relief" and place is None:
            plain.add(seq)
        entry = DonationIn(
            fund=fund_slug, amount=text, occurred_on=on, memo=memo, counterparty=party, place=place
        )
        return entry, {fund_slug: minor, at: minor}

    # Adopting each policy was a decision, an entry of the log already.
    decided = (await service.lock_log(session, group)).size
    start = datetime(2023, 1, 1, 9, tzinfo=UTC)
    for i in range(count):
        seq = decided + i + 1
        now = start + timedelta(hours=8 * i)
        backdated = rng.randint(1, 120) if rng.random() < 0.33 else 0
        entry_in, delta = plan(
            seq,
            MEMOS[i % len(MEMOS)],
            now.date() - timedelta(days=backdated),
            COUNTERPARTIES[i % len(COUNTERPARTIES)],
        )
        if i == 0:  # paid ahead of any donation, dated before everything: below zero
            entry_in = DisbursementIn(
                fund="winter-coats-2024",
                amount="100.00",
                occurred_on=now.date() - timedelta(days=200),
                memo="Coats bought before the appeal",
                policy=policy_of["winter-coats-2024"],
            )
            delta = {"winter-coats-2024": -10_000, "@bank": -10_000}
            plain.discard(seq)
        entry = await service.record_entry(
            session, group, entry_in, recorded_by=user.id, now=now, authority=authorise_payment
        )
        assert entry.seq == seq
        for fund_slug, change in delta.items():
            balance[fund_slug] += change
        changes[seq] = delta
        if not isinstance(entry_in, ReversalIn):
            reversible.append(seq)
    await session.commit()
    return Generated(group, count, sorted(plain))


# --- one generated group per engine, exported once ---------------------------------------------

ENTRIES = 2_000


@dataclass(frozen=True)
class Exported:
    journal: str
    beancount: str
    ours: Balances
    count: int
    plain_donations: list[int]
    texts: dict[int, tuple[str, str | None]]  # seq -> (memo, counterparty)

    def dumps(self) -> str:
        return json.dumps(
            {
                **self.__dict__,
                "ours": {a: {c: str(v) for c, v in m.items()} for a, m in self.ours.items()},
                "texts": {str(seq): list(text) for seq, text in self.texts.items()},
            }
        )

    @classmethod
    def loads(cls, raw: str) -> Exported:
        data = json.loads(raw)
        return cls(
            journal=data["journal"],
            beancount=data["beancount"],
            ours={a: {c: Decimal(v) for c, v in m.items()} for a, m in data["ours"].items()},
            count=data["count"],
            plain_donations=data["plain_donations"],
            texts={int(seq): (memo, party) for seq, (memo, party) in data["texts"].items()},
        )


_exported: dict[str, Exported] = {}


async def our_balances(session: AsyncSession, group: Group) -> Balances:
    """Fund balances as the ``funds`` table keeps them; income and expense accounts as the
    sums of their postings."""
    ours: Balances = {}
    # A fund's money where it is held: the sums of its holding postings in each place (the
    # fund's kept balance is their total, checked here too), and the moves' legs.
    held = await session.execute(
        select(Fund.slug, Entry.place_id, Posting.currency, func.sum(Posting.amount))
        .join(Fund, Posting.fund_id == Fund.id)
        .join(Entry, Posting.entry_id == Entry.id)
        .where(Fund.group_id == group.id, Posting.account_type == "holding")
        .group_by(Fund.slug, Entry.place_id, Posting.currency)
    )
    slugs = dict((await session.execute(select(Place.id, Place.slug))).all())
    totals: dict[str, int] = {}
    for slug, place_id, currency, total in held:
        account = place_account(slugs.get(place_id, "bank"), slug)
        ours[account] = {currency: Decimal(int(total)).scaleb(-exponent(currency))}
        totals[slug] = totals.get(slug, 0) + int(total)
    for fund in await session.scalars(select(Fund).where(Fund.group_id == group.id)):
        assert fund.balance == totals.get(fund.slug, 0)
    moves = await session.execute(
        select(Entry.place_id, Entry.to_place_id, Entry.moved).where(
            Entry.group_id == group.id, Entry.moved.is_not(None)
        )
    )
    moved: dict[str, int] = {}
    for leaves, arrives, amount in moves:
        moved[slugs[leaves]] = moved.get(slugs[leaves], 0) - amount
        moved[slugs[arrives]] = moved.get(slugs[arrives], 0) + amount
    for slug, total in moved.items():
        ours[place_account(slug)] = {"EUR": Decimal(total).scaleb(-2)}
    sums = await session.execute(
        select(Posting.account_type, Fund.slug, Posting.currency, func.sum(Posting.amount))
        .join(Fund, Posting.fund_id == Fund.id)
        .where(Fund.group_id == group.id, Posting.account_type != "holding")
        .group_by(Posting.account_type, Fund.slug, Posting.currency)
    )
    for account_type, slug, currency, total in sums:
        places = exponent(currency)
        ours[account_name(account_type, slug)] = {currency: Decimal(int(total)).scaleb(-places)}
    return ours


async def export_both(session: AsyncSession, group: Group) -> tuple[str, str]:
    journal = await session.run_sync(lambda sync: write_hledger(sync, group))
    beancount = await session.run_sync(lambda sync: write_beancount(sync, group))
    return journal.decode("utf-8"), beancount.decode("utf-8")


async def generate_and_export(session: AsyncSession) -> Exported:
    made = await generate(session, slug="generated", count=ENTRIES, seed=20240501)
    journal, beancount = await export_both(session, made.group)
    rows = await session.execute(
        select(Entry.seq, Entry.memo, Entry.counterparty).where(Entry.group_id == made.group.id)
    )
    return Exported(
        journal=journal,
        beancount=beancount,
        ours=await our_balances(session, made.group),
        count=made.count,
        plain_donations=made.plain_donations,
        texts={seq: (memo, counterparty) for seq, memo, counterparty in rows},
    )


@pytest.fixture
async def exported(session: AsyncSession, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The exports of a generated group of ``ENTRIES`` entries on this test's engine.

    Generating costs most of the time (the service appends one entry at a time), so it
    happens once per engine and test run: the first process to get here generates under a
    file lock and leaves the result where the other xdist workers of this run read it (the
    pattern pytest-xdist documents). Each test still gets its own fresh database."""
    engine = session.get_bind().dialect.name
    if engine not in _exported:
        base = tmp_path_factory.getbasetemp()
        # Under xdist each worker's base directory sits inside one directory per run.
        shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
        cached = shared / f"plaintext-exports-{engine}.json"
        with (shared / f"plaintext-exports-{engine}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another worker generates
            if cached.exists():
                _exported[engine] = Exported.loads(cached.read_text(encoding="utf-8"))
            else:
                _exported[engine] = await generate_and_export(session)
                cached.write_text(_exported[engine].dumps(), encoding="utf-8")
    return _exported[engine]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the tools accept the exports and agree with us ----------------------------------------------


@pytest.mark.slow
def test_hledger_check_accepts_the_journal_and_every_balance_matches_ours(
    exported: Exported, tmp_path: Path
) -> None:
    journal = write(tmp_path, "group.journal", exported.journal)
    checked = hledger_check(journal)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""
    stats = run(need_tool("hledger"), "-f", str(journal), "stats")
    assert re.search(rf"^Transactions\s*: {exported.count} ", stats.stdout, re.MULTILINE)
    # Every posting carries an assertion, so the check above checked every running balance.
    postings = [line for line in exported.journal.split("\n") if line.startswith("    ")]
    assert len(postings) >= 2 * exported.count
    assert all(" EUR = " in p or " JPY = " in p or " KWD = " in p for p in postings)
    # Not vacuous: several funds in three currencies, every kind of entry, backdating, and a
    # fund that went below zero.
    assert len(nonzero(exported.ours)) >= 12
    assert exported.journal.count(", kind:reversal") >= 100
    assert exported.journal.count(", kind:transfer") >= 200
    codes = [int(c) for c in re.findall(r"^\d{4}-\d\d-\d\d \((\d+)\)", exported.journal, re.M)]
    assert codes != sorted(codes)
    assert "    Assets:Bank:Winter-coats-2024  -100.00 EUR = -100.00 EUR\n" in exported.journal
    assert nonzero(hledger_balances(journal)) == nonzero(exported.ours)


@pytest.mark.slow
def test_bean_check_accepts_the_file_and_every_balance_matches_ours(
    exported: Exported, tmp_path: Path
) -> None:
    path = write(tmp_path, "group.beancount", exported.beancount)
    checked = bean_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""
    from beancount.core import data

    entries, errors, _options = beancount_api().load_file(str(path))
    assert errors == []
    assert sum(isinstance(e, data.Transaction) for e in entries) == exported.count
    balance_checks = [e for e in entries if isinstance(e, data.Balance)]
    assert len(balance_checks) > exported.count // 10  # month starts and closing days
    assert all(e.tolerance == 0 for e in balance_checks)
    assert nonzero(beancount_balances(path)) == nonzero(exported.ours)


@pytest.mark.slow
def test_hostile_memos_reach_both_tools_whole_and_on_one_line(
    exported: Exported, tmp_path: Path
) -> None:
    """Quotes, backslashes, ``;``, ``|``, line breaks, right-to-left text and HTML in memos and
    counterparties come out of each tool's parser as the text we meant, with the entry's
    seq and hash attached."""
    journal = write(tmp_path, "group.journal", exported.journal)
    printed = run(need_tool("hledger"), "-f", str(journal), "print", "-O", "json")
    assert printed.returncode == 0, printed.stderr
    transactions = json.loads(printed.stdout)
    assert len(transactions) == exported.count
    for txn in transactions:
        tags = dict(txn["ttags"])
        seq = int(tags["seq"])
        assert txn["tcode"] == str(seq)
        assert re.fullmatch("[0-9a-f]{64}", tags["hash"])
        memo, counterparty = exported.texts[seq]
        assert hledger_text(memo) in txn["tdescription"]
        if counterparty:
            assert txn["tdescription"].startswith(hledger_text(counterparty) + " | ")

    from beancount.core import data

    path = write(tmp_path, "group.beancount", exported.beancount)
    entries, errors, _options = beancount_api().load_file(str(path))
    assert errors == []
    hashes = set()
    for entry in entries:
        if isinstance(entry, data.Transaction):
            memo, counterparty = exported.texts[int(entry.meta["seq"])]
            assert one_line(memo) in entry.narration
            assert entry.payee == (one_line(counterparty) if counterparty else None)
            hashes.add(entry.meta["hash"])
    assert len(hashes) == exported.count


# --- a cent moved in one balanced transaction is caught ------------------------------------------

_HLEDGER_LEG = re.compile(r"^(    \S+  )(-?\d+\.\d\d)( EUR = .*)$")
_BEANCOUNT_LEG = re.compile(r"^(  [A-Z]\S+  )(-?\d+\.\d\d)( EUR)$")


def move_a_cent(text: str, start: re.Pattern[str], leg: re.Pattern[str]) -> str:
    """Add 0.01 to the positive leg and take 0.01 from the negative leg of the transaction
    whose first line matches ``start``: it still balances, only the balance checks can see
    the change."""
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if start.search(line))
    moved = 0
    i = first + 1
    while i < len(lines) and lines[i].startswith("  "):
        match = leg.match(lines[i])
        if match:
            amount = Decimal(match.group(2))
            amount += Decimal("0.01") if amount > 0 else Decimal("-0.01")
            lines[i] = f"{match.group(1)}{amount}{match.group(3)}"
            moved += 1
        i += 1
    assert moved == 2, "the target should be a two-leg EUR transaction"
    return "\n".join(lines)


@pytest.mark.slow
def test_hledger_refuses_a_journal_with_a_cent_moved_in_one_transaction(
    exported: Exported, tmp_path: Path
) -> None:
    seq = exported.plain_donations[len(exported.plain_donations) // 2]
    tampered = move_a_cent(
        exported.journal, re.compile(rf"^\d{{4}}-\d\d-\d\d \({seq}\) "), _HLEDGER_LEG
    )
    assert tampered != exported.journal
    checked = hledger_check(write(tmp_path, "tampered.journal", tampered))
    assert checked.returncode != 0
    assert "balance assertion" in checked.stderr
    assert f"seq:{seq}," in checked.stderr  # the moved transaction is the one named


@pytest.mark.slow
def test_bean_check_refuses_a_file_with_a_cent_moved_in_one_transaction(
    exported: Exported, tmp_path: Path
) -> None:
    seq = exported.plain_donations[len(exported.plain_donations) // 2]
    tampered = move_a_cent(exported.beancount, re.compile(rf'^  seq: "{seq}"$'), _BEANCOUNT_LEG)
    assert tampered != exported.beancount
    checked = bean_check(write(tmp_path, "tampered.beancount", tampered))
    assert checked.returncode != 0
    output = checked.stdout + checked.stderr
    assert "Balance failed for 'Assets:Bank:Rent-relief'" in output
    assert "Balance failed for 'Income:Donations:Rent-relief'" in output
    # Why every balance directive says "~ 0": beancount's default tolerance is one unit of
    # the last digit written, so the same file without it passes.
    lenient = write(tmp_path, "lenient.beancount", tampered.replace(" ~ 0 ", " "))
    assert bean_check(lenient).returncode == 0


# --- a group with funds and no entries yet ------------------------------------------------------


async def test_both_tools_accept_the_exports_of_a_group_without_entries(
    session: AsyncSession, tmp_path: Path
) -> None:
    made = await generate(session, slug="quiet", count=0, seed=1)
    journal, beancount = await export_both(session, made.group)
    checked = hledger_check(write(tmp_path, "quiet.journal", journal))
    assert checked.returncode == 0, checked.stderr
    assert "account Assets:Bank:Winter-coats-2024  ; type:C" in journal
    checked = bean_check(write(tmp_path, "quiet.beancount", beancount))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert " open Expenses:Support:Kuwait KWD" in beancount
    assert " balance Assets:Bank:Tokyo  0 ~ 0 JPY" in beancount


# --- a log written before the window of dates ---------------------------------------------------


async def test_a_log_with_dates_no_new_entry_may_have_still_exports_and_verifies(
    session: AsyncSession, tmp_path: Path, settings: Settings
) -> None:
    """Before the window of dates, the API took any day: a log holding the calendar's first
    and last days and the largest amounts must still export in every format, pass both
    tools and verify, because nothing can ever remove those entries."""
    notary = load_notary(settings)
    anything = DateWindow(date.min, None)
    admin = await groups.create_user(
        session, email="old@example.org", name="Old", password_hash=None
    )
    group = await groups.create_group(
        session, slug="old-log", name="Old log", currency="EUR", admin=admin
    )
    await service.create_fund(session, group, FundIn(slug="groceries", name="Groceries"))
    policy = (await adopt_policies(session, group, ["groceries"]))["groceries"]
    largest = format_amount(MAX_MINOR_UNITS, "EUR")
    for entry_in in (
        DonationIn(fund="groceries", amount=largest, occurred_on=date.min, memo="year one"),
        DonationIn(fund="groceries", amount=largest, occurred_on=date(1969, 12, 31)),
        DonationIn(fund="groceries", amount="10.00", occurred_on=date.max, memo="year 9999"),
        DisbursementIn(fund="groceries", amount="5.00", occurred_on=date.max, policy=policy),
        ReversalIn(reverses=3, memo="typed the year wrong"),
    ):
        await service.record_entry(
            session,
            group,
            entry_in,
            recorded_by=None,
            notary=notary,
            dates=anything,
            authority=authorise_payment,
        )
    await session.commit()

    report = await verify_group(session, group)
    assert report.ok, report.problem
    for fmt in ("csv", "json", "jsonl"):
        assert await export(session, group, fmt)
    journal, beancount = await export_both(session, group)
    checked = hledger_check(write(tmp_path, "old.journal", journal))
    assert checked.returncode == 0, checked.stderr
    checked = bean_check(write(tmp_path, "old.beancount", beancount))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bundle = tmp_path / "old.zip"
    bundle.write_bytes(await export_bundle(session, group, notary.key.vkey(), settings.base_url))
    assert verify_bundle(bundle, notary.key.vkey()).ok

"""The plain-text exports as pure functions: account names, text, amounts, order, checks.

No database: entries are small stand-ins with the attributes the exports read. beancount's
own parser (a Python library) reads the files back where the property is about parsing;
the real command-line tools run in tests/integration/test_plaintext_exports.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import plaintext, rules
from ledger.plaintext import (
    AccountNames,
    account_name,
    beancount_file,
    beancount_string,
    hledger_journal,
    hledger_text,
    one_line,
)
from tests.support.databases import unavailable

HASH = "ab" * 32


@dataclass
class Group:
    slug: str = "rent-fund"
    name: str = "Rent Fund"
    currency: str = "EUR"


@dataclass
class Fund:
    slug: str
    name: str = "A fund"
    currency: str = "EUR"
    created_at: datetime = datetime(2024, 3, 1, 12, tzinfo=UTC)


@dataclass
class Posting:
    account_type: str
    amount: int
    currency: str
    fund: Fund


@dataclass
class Entry:
    seq: int
    kind: str
    occurred_on: date
    postings: list[Posting]
    memo: str = ""
    counterparty: str | None = None
    reverses_seq: int | None = None
    proposal_number: int | None = None
    proposal_version: int | None = None
    policy_number: int | None = None
    policy_version: int | None = None
    hash: str = HASH


def donation(seq: int, on: date, fund: Fund, minor: int, **extra: Any) -> Entry:
    legs = [
        Posting("holding", minor, fund.currency, fund),
        Posting("income", -minor, fund.currency, fund),
    ]
    return Entry(seq, "donation", on, legs, **extra)


def disbursement(seq: int, on: date, fund: Fund, minor: int) -> Entry:
    legs = [
        Posting("expense", minor, fund.currency, fund),
        Posting("holding", -minor, fund.currency, fund),
    ]
    return Entry(seq, "disbursement", on, legs)


def beancount_parser() -> Any:
    try:
        from beancount.parser import parser
    except ImportError:
        unavailable("beancount is not installed (pip install beancount)")
    return parser


def load_beancount(text: str) -> tuple[list[Any], list[Any]]:
    """Entries and errors after beancount's full load: plugins, booking, balance checks."""
    beancount_parser()
    from beancount import loader

    entries, errors, _options = loader.load_string(text)
    return entries, errors


RENT = Fund("rent-relief", name="Rent relief")
FOOD = Fund("groceries", name="Groceries")


# --- account names -------------------------------------------------------------------------------

# Bounded, so Hypothesis need not filter long strings out; each is checked against the rule.
VALID_SLUGS = st.from_regex(r"[a-z][a-z0-9]{0,10}(?:-[a-z0-9]{1,6}){0,3}", fullmatch=True)
BEANCOUNT_ACCOUNT = re.compile(r"(?:Assets|Income|Expenses)(?::[A-Z0-9][A-Za-z0-9-]*)+")


@given(VALID_SLUGS, st.sampled_from(["holding", "income", "expense"]))
def test_valid_slugs_keep_the_logs_own_account_names(slug: str, account_type: str) -> None:
    assert rules.check_slug(slug) == slug
    name = account_name(account_type, slug)
    assert name == rules.account_name(account_type, slug)
    assert BEANCOUNT_ACCOUNT.fullmatch(name)


def test_capitalising_a_slug_gives_the_documented_names() -> None:
    assert account_name("holding", "rent-relief") == "Assets:Holding:Rent-relief"
    assert account_name("income", "fund-2024") == "Income:Donations:Fund-2024"
    assert account_name("expense", "a") == "Expenses:Support:A"


def test_a_slug_outside_the_rules_becomes_a_digit_led_hex_component() -> None:
    # "Rent relief;" in UTF-8, as hex.
    assert account_name("holding", "Rent relief;") == "Assets:Holding:052656e742072656c6965663b"
    assert account_name("income", "") == "Income:Donations:0"
    assert BEANCOUNT_ACCOUNT.fullmatch(account_name("expense", "шлях/≠ \n"))


@given(st.lists(st.text(max_size=8) | VALID_SLUGS, unique=True, max_size=10))
def test_distinct_slugs_never_share_an_account_name(slugs: list[str]) -> None:
    names = AccountNames()
    given_names = [names("holding", slug) for slug in slugs]
    assert len(set(given_names)) == len(slugs)
    assert all(BEANCOUNT_ACCOUNT.fullmatch(name) for name in given_names)


def test_a_collision_is_refused_rather_than_merging_two_accounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plaintext, "account_name", lambda account_type, slug: "Assets:Same")
    names = AccountNames()
    assert names("holding", "a") == "Assets:Same"
    assert names("holding", "a") == "Assets:Same"
    with pytest.raises(ValueError, match="would both be named"):
        names("holding", "b")


def test_an_unknown_account_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown account type"):
        account_name("liability", "rent-relief")


# --- text ----------------------------------------------------------------------------------------

HOSTILE = {
    "quotes": ('She said "thanks"', 'She said "thanks"'),
    "backslashes": ("C:\\path\\ and \\", "C:\\path\\ and \\"),
    "semicolon": ("rent; utilities", "rent; utilities"),
    "newlines": ("two\nlines\r\nthree\rfour", "two lines three four"),
    "tabs and NUL": ("a\tb\x00c", "a b c"),
    "unicode line breaks": ("a\u2028b\u2029c\x85d", "a b c d"),
    "right-to-left text": ("שלום עליכם \u200fمرحبا", "שלום עליכם \u200fمرحبا"),
    "bidi override": ("pay \u202eevil\u202c now", "pay \ufffdevil\ufffd now"),
    "bidi isolate": ("x\u2067y\u2069", "x\ufffdy\ufffd"),
    "html": ("<script>alert('x')</script><b>", "<script>alert('x')</script><b>"),
    "lone surrogate": ("a\ud800b", "a\ufffdb"),
    "spaces": ("  many   spaces\u00a0here  ", "many spaces here"),
}


@pytest.mark.parametrize(("text", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_member_text_becomes_one_safe_line(text: str, expected: str) -> None:
    assert one_line(text) == expected


def test_hledger_text_swaps_the_two_marks_hledger_would_read_as_syntax() -> None:
    assert hledger_text("rent; for R-17 | note\n") == "rent； for R-17 ¦ note"


@pytest.mark.parametrize(("text", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_beancount_parses_our_strings_back_to_the_same_text(text: str, expected: str) -> None:
    parser = beancount_parser()
    source = f"2024-01-01 * {beancount_string(text)} {beancount_string(text + '!')}\n"
    entries, errors, _options = parser.parse_string(source)
    assert errors == []
    assert entries[0].payee == expected
    assert entries[0].narration == one_line(text + "!")


@given(st.text(max_size=60))
def test_any_text_survives_beancounts_parser(text: str) -> None:
    parser = beancount_parser()
    entries, errors, _options = parser.parse_string(f"2024-01-01 * {beancount_string(text)}\n")
    assert errors == []
    assert entries[0].narration == one_line(text)


@given(st.text(max_size=60), st.none() | st.text(max_size=20))
def test_any_memo_keeps_an_hledger_transaction_on_one_line_with_one_comment(
    memo: str, counterparty: str | None
) -> None:
    entry = donation(1, date(2024, 3, 5), RENT, 100, memo=memo, counterparty=counterparty)
    journal = hledger_journal(Group(), [RENT], [entry])
    [header] = [line for line in journal.splitlines() if line.startswith("2024-03-05 ")]
    description, comment = header.split(";")  # exactly one ";": the tags' comment
    assert comment == f" seq:1, hash:{HASH}, kind:donation"
    assert description.startswith("2024-03-05 (1) ")
    assert description.count("|") == (1 if one_line(counterparty or "") else 0)
    assert "\u202e" not in header


# --- amounts and currencies ----------------------------------------------------------------------

YEN = Fund("tokyo", currency="JPY")
DINAR = Fund("kuwait", currency="KWD")


def test_jpy_and_kwd_amounts_have_their_iso_decimals_in_both_files() -> None:
    entries = [
        donation(1, date(2024, 3, 5), YEN, 1234),
        donation(2, date(2024, 3, 5), DINAR, 1234),
        disbursement(3, date(2024, 3, 6), DINAR, 5),
    ]
    journal = hledger_journal(Group(), [YEN, DINAR], entries)
    assert "commodity 1000.00 EUR" in journal
    assert "commodity 1000. JPY" in journal  # hledger 1.25 wants the point even for 0 places
    assert "commodity 1000.000 KWD" in journal
    assert "    Assets:Bank:Tokyo  1234 JPY = 1234 JPY" in journal
    assert "    Assets:Bank:Kuwait  1.234 KWD = 1.234 KWD" in journal
    assert "    Assets:Bank:Kuwait  -0.005 KWD = 1.229 KWD" in journal

    beancount = beancount_file(Group(), [YEN, DINAR], entries)
    assert 'option "display_precision" "JPY:1"' in beancount
    assert 'option "display_precision" "KWD:0.001"' in beancount
    assert "  Assets:Bank:Tokyo  1234 JPY" in beancount
    assert "2024-03-07 balance Assets:Bank:Kuwait  1.229 ~ 0 KWD" in beancount
    loaded, errors = load_beancount(beancount)
    assert errors == []
    [kwd] = [e for e in loaded if getattr(e, "meta", {}).get("seq") == "3"]
    assert kwd.postings[1].units.number == Decimal("-0.005")


def test_a_currency_code_the_tools_cannot_read_is_refused() -> None:
    odd = Fund("odd", currency="eur")
    with pytest.raises(ValueError, match="currency code"):
        hledger_journal(Group(), [odd], [])


# --- order and balance checks --------------------------------------------------------------------


def backdated_ledger() -> list[Entry]:
    """In log order; entry 3 is backdated before 1 and 2, entry 4 shares a day with 2."""
    return [
        donation(1, date(2024, 3, 5), RENT, 50_000, memo="Benefit gig", counterparty="Bakery"),
        disbursement(2, date(2024, 4, 2), RENT, 12_050),
        donation(3, date(2024, 2, 20), RENT, 1_000),
        donation(4, date(2024, 4, 2), FOOD, 700),
        Entry(
            5,
            "transfer",
            date(2024, 4, 10),
            [Posting("holding", 300, "EUR", FOOD), Posting("holding", -300, "EUR", RENT)],
        ),
        Entry(
            6,
            "reversal",
            date(2024, 4, 11),
            [Posting("holding", -300, "EUR", FOOD), Posting("holding", 300, "EUR", RENT)],
            memo="Wrong fund",
            reverses_seq=5,
        ),
    ]


def test_hledger_transactions_run_in_date_then_seq_order() -> None:
    journal = hledger_journal(Group(), [RENT, FOOD], backdated_ledger())
    codes = re.findall(r"^\d{4}-\d\d-\d\d \((\d+)\)", journal, re.MULTILINE)
    assert codes == ["3", "1", "2", "4", "5", "6"]


def test_hledger_assertions_are_running_balances_in_the_order_written() -> None:
    """hledger checks assertions by date, then as parsed: backdated entry 3 comes first."""
    journal = hledger_journal(Group(), [RENT, FOOD], backdated_ledger())
    running: dict[str, Decimal] = {}
    asserted = []
    for line in journal.splitlines():
        match = re.fullmatch(r"    (\S+)  (-?[\d.]+) EUR = (-?[\d.]+) EUR", line)
        if match:
            account, amount, balance = match.groups()
            running[account] = running.get(account, Decimal(0)) + Decimal(amount)
            assert running[account] == Decimal(balance), line
            asserted.append((account, balance))
    assert len(asserted) == 12  # every posting asserts
    assert asserted[0] == ("Assets:Bank:Rent-relief", "10.00")
    assert running == {
        "Assets:Bank:Rent-relief": Decimal("389.50"),
        "Income:Donations:Rent-relief": Decimal("-510.00"),
        "Expenses:Support:Rent-relief": Decimal("120.50"),
        "Assets:Bank:Groceries": Decimal("7.00"),
        "Income:Donations:Groceries": Decimal("-7.00"),
    }


def test_hledger_declares_every_account_with_its_type_and_tags_each_entry() -> None:
    journal = hledger_journal(Group(), [RENT, FOOD], backdated_ledger())
    assert "account Assets:Bank:Rent-relief  ; type:C, fund:rent-relief" in journal
    assert "account Income:Donations:Groceries  ; type:R, fund:groceries" in journal
    assert "account Expenses:Support:Groceries  ; type:X, fund:groceries" in journal
    assert f"(1) Bakery | Donation: Benefit gig  ; seq:1, hash:{HASH}, kind:donation\n" in journal
    assert f"(5) Transfer  ; seq:5, hash:{HASH}, kind:transfer, reversed_by:6\n" in journal
    assert (
        f"(6) Reversal of entry 5: Wrong fund  ; seq:6, hash:{HASH}, kind:reversal, reverses:5\n"
        in journal
    )
    assert f"; Currency EUR. Log head: entry 6, hash {HASH}." in journal


def test_beancount_opens_each_account_no_later_than_its_fund_or_first_use() -> None:
    beancount = beancount_file(Group(), [RENT, FOOD], backdated_ledger())
    # Rent relief was created on 2024-03-01 but entry 3 is backdated to 2024-02-20.
    assert "2024-02-20 open Assets:Bank:Rent-relief EUR" in beancount
    assert "2024-02-20 open Expenses:Support:Rent-relief EUR" in beancount
    assert "2024-03-01 open Income:Donations:Groceries EUR" in beancount
    assert "2024-02-20 commodity EUR" in beancount
    assert 'option "operating_currency" "EUR"' in beancount


def test_beancount_checks_every_balance_the_day_after_its_last_posting_and_each_month() -> None:
    beancount = beancount_file(Group(), [RENT, FOOD], backdated_ledger())
    balances = re.findall(r"^(\S+) balance (\S+)  (\S+) ~ 0 EUR$", beancount, re.MULTILINE)
    assert " balance " not in re.sub(r"^\S+ balance \S+  \S+ ~ 0 EUR$", "", beancount, flags=re.M)
    checks = {(day, account): amount for day, account, amount in balances}
    # Closing days: the day after each account's last posting.
    assert checks["2024-04-12", "Assets:Bank:Rent-relief"] == "389.50"
    assert checks["2024-04-12", "Assets:Bank:Groceries"] == "7.00"
    assert checks["2024-04-03", "Expenses:Support:Rent-relief"] == "120.50"
    assert checks["2024-04-03", "Income:Donations:Groceries"] == "-7.00"
    # Month starts, for every account open by then, used or not.
    assert checks["2024-03-01", "Assets:Bank:Rent-relief"] == "10.00"
    assert checks["2024-04-01", "Assets:Bank:Rent-relief"] == "510.00"
    assert checks["2024-04-01", "Expenses:Support:Groceries"] == "0.00"
    assert ("2024-03-01", "Assets:Bank:Groceries") in checks  # opened that day
    assert ("2024-02-01", "Assets:Bank:Rent-relief") not in checks  # not open yet


def test_beancount_loads_the_file_with_every_check_passing() -> None:
    beancount = beancount_file(Group(), [RENT, FOOD], backdated_ledger())
    loaded, errors = load_beancount(beancount)
    assert errors == []
    transactions = [e for e in loaded if type(e).__name__ == "Transaction"]
    assert [t.meta["seq"] for t in transactions] == ["3", "1", "2", "4", "5", "6"]
    by_seq = {t.meta["seq"]: t for t in transactions}
    assert by_seq["5"].links == by_seq["6"].links == frozenset({"entry-5"})
    assert by_seq["6"].meta["reverses"] == "5"
    assert by_seq["5"].meta["reversed_by"] == "6"
    assert by_seq["1"].payee == "Bakery"
    assert all(t.meta["hash"] == HASH for t in transactions)


def test_beancount_refuses_our_file_when_one_balance_is_a_cent_off() -> None:
    beancount = beancount_file(Group(), [RENT, FOOD], backdated_ledger())
    tampered = beancount.replace(
        "2024-04-12 balance Assets:Bank:Rent-relief  389.50 ~ 0 EUR",
        "2024-04-12 balance Assets:Bank:Rent-relief  389.51 ~ 0 EUR",
    )
    assert tampered != beancount
    _loaded, errors = load_beancount(tampered)
    assert [type(e).__name__ for e in errors] == ["BalanceError"]


def test_a_group_without_funds_or_entries_gives_files_with_only_a_header() -> None:
    journal = hledger_journal(Group(), [], [])
    assert "commodity 1000.00 EUR" in journal
    assert "No entries yet." in journal
    beancount = beancount_file(Group(), [], [])
    _loaded, errors = load_beancount(beancount)
    assert errors == []


def test_proposals_are_named_on_the_transaction() -> None:
    entry = disbursement(1, date(2024, 3, 5), RENT, 100)
    paid = Entry(**{**entry.__dict__, "proposal_number": 3, "proposal_version": 2})
    journal = hledger_journal(Group(), [RENT], [donation(2, date(2024, 3, 1), RENT, 100), paid])
    assert "(1) Disbursement under proposal 3 v2  ; seq:1" in journal
    assert ", proposal:3v2" in journal
    assert '  proposal: "3v2"' in beancount_file(Group(), [RENT], [paid])


def test_a_hash_that_is_not_hex_is_refused_before_it_reaches_a_tag() -> None:
    entry = donation(1, date(2024, 3, 5), RENT, 100, hash="ab, seq:9\n")
    with pytest.raises(ValueError, match="not lower-case hex"):
        hledger_journal(Group(), [RENT], [entry])

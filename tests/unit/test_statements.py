"""Bank statements read whole (ledger/statements): every format gives the same November of
the Calle Verde group's account, with its balances adding up; every bad file is refused with
the line or element named; fingerprints survive re-imports and overlapping files."""

from __future__ import annotations

import hashlib
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from ledger.errors import InvalidInput
from ledger.statements import (
    CsvMapping,
    Statement,
    StatementError,
    StatementFormat,
    detect_format,
    parse_statement,
)
from ledger.statements.lines import Balance

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"

UTF8 = CsvMapping(
    date="Date",
    value_date="Value date",
    amount="Amount",
    description=("Description",),
    counterparty="Counterparty",
    reference="Reference",
    balance="Balance",
)
LATIN1 = CsvMapping(
    date="Buchungstag",
    date_format="%d.%m.%Y",
    value_date="Valuta",
    amount="Betrag",
    decimal_mark=",",
    thousands_separator=".",
    description=("Verwendungszweck",),
    counterparty="Auftraggeber/Empfänger",
    currency="Währung",
    skip_lines=4,
    skip_end_lines=1,
    delimiter=";",
    encoding="latin-1",
)
UTF16 = CsvMapping(
    date=1,
    date_format="%d/%m/%Y",
    counterparty=2,
    description=(3,),
    sign="direction",
    direction=4,
    amount=5,
    currency=6,
    delimiter="\t",
    encoding="utf-16",
)
IN_OUT = CsvMapping(
    date="Date",
    date_format="%d/%m/%Y",
    description=("Text",),
    counterparty="Name",
    sign="in-out",
    amount_in="Money in",
    amount_out="Money out",
    balance="Balance",
    decimal_mark=",",
    thousands_separator=".",
    delimiter=";",
)

# The month every sample holds: (booked on, amount in cents, counterparty).
NOVEMBER = [
    (date(2026, 11, 2), 5000, "María López"),
    (date(2026, 11, 3), -32000, "Berg Hausverwaltung GmbH"),
    (date(2026, 11, 5), 2000, "Jonas Weiß"),
    (date(2026, 11, 5), 2000, "Jonas Weiß"),
    (date(2026, 11, 10), -8437, "Biomarkt Nord"),
    (date(2026, 11, 15), 15000, "Zoë Ångström"),
    (date(2026, 11, 20), -250, None),
    (date(2026, 11, 28), 3500, "Soli-Konzert Kasse"),
]
OPENING, CLOSING = 124050, 110863

SAMPLES = [
    ("utf8.csv", UTF8, StatementFormat.CSV),
    ("utf8-bom.csv", UTF8, StatementFormat.CSV),
    ("latin1.csv", LATIN1, StatementFormat.CSV),
    ("utf16.csv", UTF16, StatementFormat.CSV),
    ("decimal-comma-in-out.csv", IN_OUT, StatementFormat.CSV),
    ("november.ofx", None, StatementFormat.OFX),
    ("november.qfx", None, StatementFormat.QFX),
    ("camt053-001-02.xml", None, StatementFormat.CAMT053),
    ("camt053-001-08.xml", None, StatementFormat.CAMT053),
    ("november.sta", None, StatementFormat.MT940),
]


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parse(name: str, mapping: CsvMapping | None = None, **options: object) -> Statement:
    return parse_statement(read(name), currency="EUR", mapping=mapping, **options)  # type: ignore[arg-type]


def refusal(name: str, mapping: CsvMapping | None = None, **options: object) -> StatementError:
    with pytest.raises(StatementError) as caught:
        parse(name, mapping, **options)
    return caught.value


# --- every format reads the same month ----------------------------------------------------


@pytest.mark.parametrize(("name", "mapping", "kind"), SAMPLES)
def test_every_sample_reads_as_the_same_november(
    name: str, mapping: CsvMapping | None, kind: StatementFormat
) -> None:
    statement = parse(name, mapping)
    assert statement.format is kind
    assert statement.currency == "EUR"
    assert statement.sha256 == hashlib.sha256(read(name)).hexdigest()
    found = sorted((line.booked_on, line.amount, line.counterparty) for line in statement.lines)
    assert found == sorted(NOVEMBER, key=lambda line: (line[0], line[1], line[2] or ""))
    assert all(line.currency == "EUR" for line in statement.lines)
    assert all(len(line.fingerprint) == 64 for line in statement.lines)


@pytest.mark.parametrize(("name", "mapping", "kind"), SAMPLES)
def test_where_the_format_states_balances_opening_plus_lines_is_closing(
    name: str, mapping: CsvMapping | None, kind: StatementFormat
) -> None:
    statement = parse(name, mapping)
    if statement.closing is not None:
        assert statement.closing.amount == CLOSING
    if statement.opening is not None:
        assert statement.opening.amount == OPENING
        assert statement.closing is not None
        assert statement.opening.amount + statement.total == statement.closing.amount
    has_balances = kind in (StatementFormat.CAMT053, StatementFormat.MT940) or (
        mapping is not None and mapping.balance is not None
    )
    assert (statement.opening is not None) == has_balances


@pytest.mark.parametrize(("name", "mapping", "kind"), SAMPLES)
def test_lines_say_where_in_the_file_they_come_from(
    name: str, mapping: CsvMapping | None, kind: StatementFormat
) -> None:
    statement = parse(name, mapping)
    for line in statement.lines:
        if kind in (StatementFormat.CSV, StatementFormat.MT940):
            assert line.line is not None
            assert line.line > 1
        else:
            assert line.element is not None
            assert line.element.endswith(("]", "STMTTRN", "Ntry"))


def test_structured_formats_carry_references_value_dates_and_the_account() -> None:
    camt = parse("camt053-001-08.xml")
    assert camt.account == "DE89370400440532013000"
    assert (camt.starts_on, camt.ends_on) == (date(2026, 11, 1), date(2026, 11, 30))
    donation = camt.lines[5]
    assert donation.element == "Document/BkToCstmrStmt/Stmt/Ntry[6]"
    assert (donation.booked_on, donation.value_on) == (date(2026, 11, 15), date(2026, 11, 16))
    assert donation.reference == "STB202611150006"
    assert donation.description == "Monthly donation"
    mt940 = parse("november.sta")
    assert mt940.lines[5].value_on == date(2026, 11, 16)
    assert mt940.lines[5].booked_on == date(2026, 11, 15)
    assert mt940.lines[0].line == 5
    assert mt940.lines[0].description == "Donation November"
    ofx = parse("november.ofx")
    assert ofx.lines[0].reference == "2026110010005000"
    assert ofx.closing is not None
    assert ofx.closing.on == date(2026, 11, 30)


def test_the_content_tells_the_format_not_the_name() -> None:
    for name, mapping, kind in SAMPLES:
        detected = detect_format(read(name))
        assert detected == (None if mapping is not None else kind), name


def test_an_explicit_format_is_used_and_a_wrong_one_is_refused() -> None:
    assert parse("november.sta", format="mt940").format is StatementFormat.MT940
    assert parse("utf8.csv", UTF8, format="csv").lines
    with pytest.raises(StatementError):
        parse("camt053-001-08.xml", format="mt940")
    error = refusal("november.sta", format="pdf")
    assert error.field == "format"
    assert "pdf" in str(error)


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mapping"),
    [("utf8.csv", UTF8), ("utf8-bom.csv", UTF8), ("latin1.csv", LATIN1), ("utf16.csv", UTF16)],
)
def test_each_encoding_gives_the_same_names(name: str, mapping: CsvMapping) -> None:
    names = {line.counterparty for line in parse(name, mapping).lines}
    assert {"Jonas Weiß", "Zoë Ångström", "María López"} <= names


def test_a_byte_order_mark_decides_the_encoding() -> None:
    # The BOM file's mapping says UTF-8 without a mark; UTF-16 would say so too.
    assert parse("utf8-bom.csv", UTF8).lines == parse("utf8.csv", UTF8).lines
    assert parse("utf16.csv", replace(UTF16, encoding="latin-1")).lines


def test_a_file_in_another_encoding_than_the_mapping_says_names_line_and_byte() -> None:
    error = refusal("latin1.csv", replace(LATIN1, encoding="utf-8"))
    # The header (line 5, after the bank's preamble) has the first non-ASCII letter.
    assert error.line == 5
    assert str(error).startswith("Line 5: byte ")
    assert "not UTF-8" in str(error)


# --- bad files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mapping", "line", "element", "words"),
    [
        ("bad-date.csv", UTF8, 6, None, "'2026-11-31' is not a date"),
        ("bad-amount.csv", UTF8, 6, None, "'-84.3.7' is not an amount"),
        ("wrong-currency.csv", CsvMapping(date=1, amount=3, currency=4), 7, None, "USD"),
        ("bad-balance.csv", UTF8, 7, None, "balance column says 106713"),
        ("camt-wrong-currency.xml", None, None, "Stmt/Ntry[5]/Amt", "USD"),
        ("camt-bad-amount.xml", None, None, "Stmt/Ntry[5]/Amt", "'84.3x' is not an amount"),
        ("camt-bad-date.xml", None, None, "Ntry[5]/BookgDt/Dt", "'2026-11-31' is not a date"),
        ("camt-unbalanced.xml", None, None, "Document/BkToCstmrStmt/Stmt", "is the file whole"),
        ("camt052.xml", None, None, "Document", "camt.052.001.08"),
        ("billion-laughs.xml", None, None, "DOCTYPE", "no entity is expanded"),
        ("external-entity.xml", None, None, "DOCTYPE", "nothing is fetched"),
        ("ofx-bad-amount.ofx", None, None, "STMTTRN[5]/TRNAMT", "'-84,3x' is not an amount"),
        ("ofx-bad-date.ofx", None, None, "STMTTRN[5]", "20261310120000"),
        ("ofx-wrong-currency.ofx", None, None, "STMTRS/CURDEF", "USD"),
        ("mt940-bad-amount.sta", None, 13, None, "amount is not a number"),
        ("mt940-bad-date.sta", None, 13, None, "month must be in 1..12"),
        ("mt940-wrong-currency.sta", None, 4, None, "USD"),
        ("mt940-gap.sta", None, 22, None, "does not open where the one before it closed"),
    ],
)
def test_a_bad_file_is_refused_naming_where(
    name: str, mapping: CsvMapping | None, line: int | None, element: str | None, words: str
) -> None:
    error = refusal(name, mapping)
    assert isinstance(error, InvalidInput)  # a 422 through the web shell's one table
    assert error.field == "file"
    assert error.line == line
    if element is not None:
        assert error.element is not None
        assert error.element.endswith(element), error.element
        assert str(error).startswith(f"At {error.element}: ")
    else:
        assert str(error).startswith(f"Line {line}: ")
    assert words in str(error)


def _camt_of_two_statements(second_opening: str, second_iban: str) -> bytes:
    """The CAMT.053 sample with its one statement given twice; the second opens at
    ``second_opening`` (and closes where its lines take it) for the account
    ``second_iban``."""
    text = read("camt053-001-08.xml").decode()
    start, end = text.index("<Stmt>"), text.index("</Stmt>") + len("</Stmt>")
    second = (
        text[start:end]
        .replace(">1108.63<", f">{Decimal(second_opening) - Decimal('131.87')}<")
        .replace(">1240.50<", f">{second_opening}<")
        .replace("DE89370400440532013000", second_iban)
    )
    return (text[:end] + second + text[end:]).encode()


def test_a_file_of_several_statements_must_chain_and_be_of_one_account() -> None:
    # Each CAMT.053 statement opens where the one before it closed, in one account.
    iban = "DE89370400440532013000"
    chained = parse_statement(_camt_of_two_statements("1108.63", iban), currency="EUR")
    assert (chained.opening, chained.closing) == (
        Balance(on=date(2026, 11, 1), amount=124050),
        Balance(on=date(2026, 11, 30), amount=97676),
    )
    assert len(chained.lines) == 2 * len(parse("camt053-001-08.xml").lines)
    assert chained.account == iban
    with pytest.raises(StatementError, match="does not open where the one before it closed"):
        parse_statement(_camt_of_two_statements("1240.50", iban), currency="EUR")
    other = "DE02120300000000202051"
    with pytest.raises(StatementError, match="statements of 2 accounts") as caught:
        parse_statement(_camt_of_two_statements("1108.63", other), currency="EUR")
    assert caught.value.element == "Document/BkToCstmrStmt"
    # MT940 alike: the sample's second message for another account.
    text = read("november.sta").decode("latin-1")
    first = text.index(":25:")
    second = text.index(":25:", first + 1)
    moved = text[:second] + ":25:37040044/0000000001" + text[text.index("\n", second) :]
    with pytest.raises(StatementError, match="statements of 2 accounts") as caught:
        parse_statement(moved.encode("latin-1"), currency="EUR")
    assert caught.value.line == 1


def test_an_empty_file_is_refused() -> None:
    assert "empty" in str(refusal("empty.csv", UTF8))
    assert "empty" in str(refusal("empty.csv"))
    with pytest.raises(StatementError, match="empty"):
        parse_statement(b"\xef\xbb\xbf\r\n  \n", currency="EUR", mapping=UTF8)


def test_a_file_of_no_known_format_is_refused_and_told_a_csv_needs_a_mapping() -> None:
    error = refusal("unknown.txt")
    assert "not OFX, QFX, CAMT.053 or MT940" in str(error)
    assert "mapping" in str(error)


def test_a_csv_with_no_lines_is_refused() -> None:
    with pytest.raises(StatementError, match="no statement lines"):
        parse_statement(b"Date,Amount\r\n", currency="EUR", mapping=CsvMapping(date=1, amount=2))


def test_a_place_in_another_currency_refuses_every_format() -> None:
    for name, mapping, _ in SAMPLES:
        if mapping is not None and mapping.currency is None:
            continue  # a CSV without a currency column is in the place's currency
        with pytest.raises(StatementError, match="this place holds CHF"):
            parse_statement(read(name), currency="CHF", mapping=mapping)


def test_a_place_currency_that_is_no_currency_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        parse_statement(read("november.sta"), currency="EURO")
    assert caught.value.field == "currency"


def test_an_amount_with_more_decimals_than_the_currency_is_refused() -> None:
    # Yen have no minor unit: "20.00" would be fine, "20.50" is not an amount of yen.
    data = b"Date,Amount\n2026-11-02,20.50\n"
    with pytest.raises(StatementError, match="more decimals than JPY's 0"):
        parse_statement(data, currency="JPY", mapping=CsvMapping(date=1, amount=2))


# --- fingerprints ----------------------------------------------------------------------------


def test_reading_a_file_twice_gives_the_same_fingerprints() -> None:
    for name, mapping, _ in SAMPLES:
        first = [line.fingerprint for line in parse(name, mapping).lines]
        assert first == [line.fingerprint for line in parse(name, mapping).lines]
        assert len(set(first)) == len(first), f"{name}: two lines share a fingerprint"


def test_identical_lines_of_one_day_are_counted_not_merged() -> None:
    lines = [line for line in parse("utf8.csv", UTF8).lines if line.counterparty == "Jonas Weiß"]
    assert [line.occurrence for line in lines] == [0, 1]
    assert lines[0].fingerprint != lines[1].fingerprint


def _csv(rows: list[str]) -> bytes:
    header = read("utf8.csv").decode().splitlines()[0]
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def test_overlapping_files_give_the_shared_lines_the_same_fingerprints() -> None:
    rows = read("utf8.csv").decode().splitlines()[1:]
    earlier = [row for row in rows if row[:10] <= "2026-11-10"]  # 2 to 10 November
    later = [row for row in rows if row[:10] >= "2026-11-05"]  # 5 to 28 November
    first = parse_statement(_csv(earlier), currency="EUR", mapping=UTF8)
    second = parse_statement(_csv(later), currency="EUR", mapping=UTF8)
    shared = {line.fingerprint for line in first.lines} & {
        line.fingerprint for line in second.lines
    }
    shared_lines = [line for line in first.lines if line.fingerprint in shared]
    # 5 November (Jonas' two donations) and 10 November, and nothing else.
    assert [(line.booked_on.day, line.occurrence) for line in shared_lines] == [
        (5, 0),
        (5, 1),
        (10, 0),
    ]
    whole = {line.fingerprint for line in parse("utf8.csv", UTF8).lines}
    assert {line.fingerprint for line in [*first.lines, *second.lines]} == whole


def test_the_fingerprint_is_sha256_of_the_documented_canonical_array() -> None:
    for line in parse("camt053-001-08.xml").lines:
        canonical = [
            "1",
            line.booked_on.isoformat(),
            str(line.amount),
            line.currency,
            line.reference or "",
            line.counterparty or "",
            line.description or "",
            str(line.occurrence),
        ]
        assert hashlib.sha256(rfc8785.dumps(canonical)).hexdigest() == line.fingerprint


def test_a_different_fact_gives_a_different_fingerprint() -> None:
    mapping = replace(UTF8, balance=None)
    changed = read("utf8.csv").replace(b",-84.37,", b",-84.38,")
    before = {line.line: line.fingerprint for line in parse("utf8.csv", mapping).lines}
    after = {
        line.line: line.fingerprint
        for line in parse_statement(changed, currency="EUR", mapping=mapping).lines
    }
    assert [number for number in before if before[number] != after[number]] == [6]


def test_texts_are_stored_cleaned_so_spacing_does_not_change_a_fingerprint() -> None:
    mapping = CsvMapping(date=1, amount=2, counterparty=3, header=False)
    tidy = parse_statement(b"2026-11-02,5.00,Maria Lopez\n", currency="EUR", mapping=mapping)
    untidy = parse_statement(
        b'2026-11-02, 5.00 ,"  Maria \t Lopez "\n', currency="EUR", mapping=mapping
    )
    assert untidy.lines[0].counterparty == "Maria Lopez"
    assert tidy.lines[0].fingerprint == untidy.lines[0].fingerprint


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_the_order_of_a_files_lines_does_not_change_its_fingerprints(seed: int) -> None:
    rows = read("utf8.csv").decode().splitlines()[1:]
    random.Random(seed).shuffle(rows)
    shuffled = parse_statement(_csv(rows), currency="EUR", mapping=replace(UTF8, balance=None))
    whole = parse("utf8.csv", UTF8)
    assert {line.fingerprint for line in shuffled.lines} == {
        line.fingerprint for line in whole.lines
    }


# --- more than one statement in a file, and what is not a booked line ------------------------


def _camt_twice(second_opening: str = "1108.63") -> bytes:
    """The November CAMT.053 file with a second statement for 1-2 December appended."""
    text = read("camt053-001-02.xml").decode()
    december = f"""<Stmt>
      <Id>STB-0532013000-2026-12</Id>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{second_opening}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-30</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1128.63</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-02</Dt></Dt></Bal>
      <Ntry><Amt Ccy="EUR">20.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-12-01</Dt></BookgDt><AcctSvcrRef>STB202612010001</AcctSvcrRef></Ntry>
      <Ntry><Amt Ccy="EUR">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts>
        <BookgDt><Dt>2026-12-02</Dt></BookgDt></Ntry>
    </Stmt>
  </BkToCstmrStmt>"""
    return text.replace("  </BkToCstmrStmt>", december).encode()


def test_a_camt_file_of_two_statements_reads_as_one_and_skips_pending_entries() -> None:
    statement = parse_statement(_camt_twice(), currency="EUR")
    assert len(statement.lines) == 9  # 8 in November, 1 booked in December; pending is not
    assert statement.lines[-1].element == "Document/BkToCstmrStmt/Stmt[2]/Ntry[1]"
    assert statement.opening is not None
    assert statement.closing is not None
    assert (statement.opening.amount, statement.closing.amount) == (OPENING, 112863)
    assert statement.ends_on == date(2026, 11, 30)  # the second statement states no period


def test_a_camt_statement_that_does_not_open_where_the_last_closed_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        parse_statement(_camt_twice(second_opening="1100.00"), currency="EUR")
    assert caught.value.element == "Document/BkToCstmrStmt/Stmt[2]"
    assert "one before it closed" in str(caught.value)


def test_a_file_whose_statements_do_not_add_up_as_a_whole_is_refused() -> None:
    # December states no opening balance, so only the whole file can be checked: 1,240.50
    # in November, the month's lines and December's 20.00 make 1,128.63, not 1,130.00.
    data = _camt_twice().decode()
    start = data.index("<Bal><Tp><CdOrPrtry><Cd>PRCD")
    data = data[:start] + data[data.index("</Bal>", start) + len("</Bal>") :]
    data = data.replace('<Amt Ccy="EUR">1128.63</Amt>', '<Amt Ccy="EUR">1130.00</Amt>')
    with pytest.raises(StatementError) as caught:
        parse_statement(data.encode(), currency="EUR")
    assert caught.value.element == "Document"
    assert "1128.63, but the closing balance is 1130.00" in str(caught.value)


def test_a_camt_entry_without_a_booking_date_is_refused_naming_it() -> None:
    data = read("camt053-001-08.xml").replace(b"<BookgDt><Dt>2026-11-10</Dt></BookgDt>", b"")
    with pytest.raises(StatementError) as caught:
        parse_statement(data, currency="EUR")
    assert caught.value.element == "Document/BkToCstmrStmt/Stmt/Ntry[5]/BookgDt"
    assert "date (BookgDt) is missing" in str(caught.value)


def test_an_ofx_file_of_two_accounts_is_refused() -> None:
    text = read("november.qfx").decode()
    start, end = text.index("<STMTTRNRS>"), text.index("</STMTTRNRS>") + len("</STMTTRNRS>")
    other = text[start:end].replace("<ACCTID>0532013000", "<ACCTID>0999999999")
    with pytest.raises(StatementError, match="2 accounts"):
        parse_statement((text[:end] + other + text[end:]).encode(), currency="EUR")


def test_an_mt940_line_before_its_statement_starts_is_refused_not_dropped() -> None:
    data = b":61:2611021102C50,00NTRFNONREF\r\n" + read("november.sta")
    with pytest.raises(StatementError, match=r"^Line 1: a statement line"):
        parse_statement(data, currency="EUR", format="mt940")


def test_an_mt940_file_in_a_swift_envelope_reads_the_same() -> None:
    text = read("november.sta").decode("latin-1")
    wrapped = (
        "{1:F01STADDEFFAXXX0000000000}{2:O9401200261130STADDEFFAXXX00000000002611301200N}{4:\r\n"
    )
    wrapped += text.rstrip("-\r\n") + "\r\n-}"
    statement = parse_statement(wrapped.encode("latin-1"), currency="EUR")
    assert statement.format is StatementFormat.MT940
    assert [line.fingerprint for line in statement.lines] == [
        line.fingerprint for line in parse("november.sta").lines
    ]


def test_a_statement_is_json_for_a_preview_to_keep() -> None:
    statement = parse("camt053-001-08.xml")
    assert msgspec.json.decode(msgspec.json.encode(statement), type=Statement) == statement

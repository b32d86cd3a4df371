"""CSV statements (ledger/statements/csv_format.py): the mapping is JSON that round-trips and
is checked, amounts as banks write them come back to the cent, the preview shows a mapping
editor the file's first lines, and each sign convention reads money in and out."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import msgspec
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.money import MAX_MINOR_UNITS
from ledger.statements import (
    CsvMapping,
    StatementError,
    amount_reader,
    mapping_from_json,
    parse_statement,
    preview_csv,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


def test_a_mapping_round_trips_through_json() -> None:
    mapping = CsvMapping(
        date="Buchungstag",
        date_format="%d.%m.%Y",
        sign="in-out",
        amount_in="Haben",
        amount_out=5,
        description=("Verwendungszweck", 7),
        decimal_mark=",",
        thousands_separator=".",
        skip_lines=4,
        delimiter=";",
        encoding="latin-1",
    )
    assert mapping_from_json(mapping.to_json()) == mapping


@pytest.mark.parametrize(
    ("json", "field", "words"),
    [
        (b'{"date": 1}', "mapping.amount", "'signed' needs the 'amount' column"),
        (b'{"date": 1, "sign": "in-out", "amount_in": 2}', "mapping.amount_out", "in-out"),
        (b'{"date": 1, "amount": 2, "colour": "red"}', "mapping", "colour"),
        (b'{"date": 1, "amount": 2, "encoding": "ebcdic"}', "mapping", "encoding"),
        (b'{"date": 1, "amount": 2, "skip_lines": -1}', "mapping", "skip_lines"),
        (b'{"date": 1, "amount": 2, "date_format": "day/month"}', "mapping.date_format", ""),
        (
            b'{"date": 1, "amount": 2, "decimal_mark": ",", "thousands_separator": ","}',
            "mapping.thousands_separator",
            "",
        ),
        (b'{"date": "Date", "amount": 2, "header": false}', "mapping", "number the columns"),
        (b'{"date": 0, "amount": 2}', "mapping", "from 1"),
        (b"{not json", "mapping", "not valid JSON"),
    ],
)
def test_a_mapping_that_cannot_read_any_file_is_refused_naming_the_field(
    json: bytes, field: str, words: str
) -> None:
    with pytest.raises(StatementError) as caught:
        mapping_from_json(json)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_mapping_naming_a_column_the_file_lacks_lists_the_header() -> None:
    mapping = CsvMapping(date="Booking date", amount="Amount")
    with pytest.raises(StatementError) as caught:
        parse_statement((DATA / "utf8.csv").read_bytes(), currency="EUR", mapping=mapping)
    assert caught.value.field == "mapping.date"
    assert "'Booking date'" in str(caught.value)
    assert "'Value date'" in str(caught.value)


def test_a_file_split_by_another_delimiter_than_the_mappings_is_told_so() -> None:
    # A place's saved mapping (semicolons) meets another bank's file (commas).
    data = (DATA / "utf8.csv").read_bytes()
    mapping = CsvMapping(date="Date", amount="Amount", delimiter=";")
    with pytest.raises(StatementError) as caught:
        parse_statement(data, currency="EUR", mapping=mapping)
    assert caught.value.field == "mapping.delimiter"
    assert str(caught.value) == (
        "Line 1: the mapping separates columns with ';', but this file's lines seem "
        "separated with ','."
    )
    # Without a header, the first line says it.
    numbered = CsvMapping(date=1, amount=2, header=False, delimiter="\t")
    with pytest.raises(StatementError, match=r"^Line 1: .* with '\\t', .* with ','"):
        parse_statement(b"2026-11-02,5.00\n", currency="EUR", mapping=numbered)


def test_a_line_shorter_than_the_mapping_reads_is_refused_with_its_number() -> None:
    data = b"Date,Amount,Name\n2026-11-02,5.00,Ana\n2026-11-03,6.00\n"
    with pytest.raises(StatementError, match=r"^Line 3: the line has 2 column"):
        parse_statement(data, currency="EUR", mapping=CsvMapping(date=1, amount=2, counterparty=3))


def test_a_single_description_column_needs_no_list() -> None:
    mapping = mapping_from_json(b'{"date": 1, "amount": 2, "description": 3, "header": false}')
    data = b"2026-11-02,5.00,Donation\n"
    statement = parse_statement(data, currency="EUR", mapping=mapping)
    assert statement.lines[0].description == "Donation"


def test_a_header_name_is_found_whatever_its_case() -> None:
    data = b"DATE,AMOUNT\n2026-11-02,5.00\n"
    statement = parse_statement(
        data, currency="EUR", mapping=CsvMapping(date="Date", amount="amount")
    )
    assert statement.lines[0].amount == 500


# --- sign conventions ------------------------------------------------------------------------


def _amounts(data: bytes, mapping: CsvMapping) -> list[int]:
    return [line.amount for line in parse_statement(data, currency="EUR", mapping=mapping).lines]


def test_signed_amounts_may_be_written_as_banks_write_them() -> None:
    data = "Date,Amount\n2026-11-02,-12.50\n2026-11-02,12.50-\n2026-11-02,(12.50)\n"
    data += "2026-11-02,+7\n2026-11-02,\u22123.10\n"
    assert _amounts(data.encode(), CsvMapping(date=1, amount=2)) == [-1250, -1250, -1250, 700, -310]


def test_an_inverted_card_statement_shows_spending_positive() -> None:
    data = b"Date,Amount\n2026-11-02,12.50\n2026-11-03,-40.00\n"
    assert _amounts(data, CsvMapping(date=1, amount=2, sign="inverted")) == [-1250, 4000]


def test_a_direction_column_signs_the_amount_and_an_unknown_mark_is_refused() -> None:
    mapping = CsvMapping(date=1, amount=2, direction=3, sign="direction")
    assert _amounts(b"d,a,t\n2026-11-02,12.50,dbit\n2026-11-02,3,Credit\n", mapping) == [-1250, 300]
    with pytest.raises(StatementError, match=r"^Line 2: 'x' is neither a debit mark"):
        _amounts(b"d,a,t\n2026-11-02,12.50,X\n", mapping)


def test_in_and_out_columns_take_one_amount_per_line() -> None:
    mapping = CsvMapping(date=1, amount_in=2, amount_out=3, sign="in-out")
    assert _amounts(b"d,in,out\n2026-11-02,5.00,\n2026-11-02,,-3.00\n", mapping) == [500, -300]
    with pytest.raises(StatementError, match=r"^Line 2: both money in and money out"):
        _amounts(b"d,in,out\n2026-11-02,5.00,3.00\n", mapping)
    with pytest.raises(StatementError, match=r"^Line 3: neither money in nor money out"):
        _amounts(b"d,in,out\n2026-11-02,5.00,\n2026-11-03,,\n", mapping)


def test_lines_before_the_header_after_the_last_line_and_empty_lines_are_skipped() -> None:
    data = (
        b"Bank export\nAccount 123\nDate;Amount\n2026-11-02;1,00\n\n;\n2026-11-03;2,00\n"
        b"Total;3,00\n"
    )
    mapping = CsvMapping(
        date=1, amount=2, delimiter=";", decimal_mark=",", skip_lines=2, skip_end_lines=1
    )
    statement = parse_statement(data, currency="EUR", mapping=mapping)
    assert [(line.line, line.amount) for line in statement.lines] == [(4, 100), (7, 200)]


def test_a_quoted_field_may_hold_a_line_break_and_the_delimiter() -> None:
    data = (
        b'Date,Text,Amount\n2026-11-02,"Rent; flat 3B,\nNovember",-320.00\n2026-11-03,Fee,-2.50\n'
    )
    mapping = CsvMapping(date=1, description=(2,), amount=3)
    statement = parse_statement(data, currency="EUR", mapping=mapping)
    assert statement.lines[0].description == "Rent; flat 3B, November"
    assert [line.line for line in statement.lines] == [3, 4]


# --- amounts ---------------------------------------------------------------------------------

STYLES = [(".", ""), (".", ","), (",", ""), (",", "."), (",", " "), (".", "'"), (",", "\u202f")]


@given(
    minor=st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS),
    style=st.sampled_from(STYLES),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
    trailing_minus=st.booleans(),
)
def test_an_amount_written_in_any_bank_style_reads_back_to_the_minor_unit(
    minor: int, style: tuple[str, str], currency: str, trailing_minus: bool
) -> None:
    decimal_mark, thousands = style
    places = {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
    whole, fraction = divmod(abs(minor), 10**places)
    text = f"{whole:,}".replace(",", thousands)
    if places:
        text += decimal_mark + str(fraction).rjust(places, "0")
    if minor < 0:
        text = text + "-" if trailing_minus else "-" + text
    assert amount_reader(currency, decimal_mark, thousands)(text) == minor


@pytest.mark.parametrize(
    ("text", "decimal_mark", "thousands"),
    [
        ("12.50", ",", "."),  # a point amount read with a comma mapping is not 1250
        ("1,2345", ".", ","),  # thousands are grouped by three
        ("12.505", ".", ""),  # more decimals than the euro has
        ("12 EUR", ".", ""),
        ("--3", ".", ""),
        ("-3-", ".", ""),
        ("1e3", ".", ""),
        ("abc", ".", ""),
    ],
)
def test_an_amount_that_is_not_one_in_the_mapping_style_is_refused(
    text: str, decimal_mark: str, thousands: str
) -> None:
    with pytest.raises(ValueError):
        amount_reader("EUR", decimal_mark, thousands)(text)


def test_an_empty_amount_cell_is_none() -> None:
    assert amount_reader("EUR")("  ") is None


# --- preview for a mapping editor ------------------------------------------------------------


def test_the_preview_shows_the_first_lines_split_with_the_delimiter_guessed() -> None:
    preview = preview_csv((DATA / "latin1.csv").read_bytes(), encoding="latin-1", count=6)
    assert preview.delimiter == ";"
    assert preview.encoding == "latin-1"
    assert preview.rows[0] == (1, ["Kontoauszug", "Gemeinschaftskasse Calle Verde e.V."])
    assert preview.rows[4][1][2] == "Auftraggeber/Empfänger"
    assert len(preview.rows) == 6


def test_the_preview_of_a_utf16_file_follows_its_byte_order_mark() -> None:
    preview = preview_csv((DATA / "utf16.csv").read_bytes(), count=3)
    assert (preview.encoding, preview.delimiter) == ("utf-16", "\t")
    assert preview.rows[1][1][:2] == ["02/11/2026", "María López"]


def test_the_preview_of_a_file_not_in_the_encoding_says_where() -> None:
    with pytest.raises(StatementError, match=r"^Line 5: byte"):
        preview_csv((DATA / "latin1.csv").read_bytes(), encoding="utf-8")


# --- a whole statement, written in any style a mapping describes, reads back ----------------

names = st.text(
    alphabet=st.characters(categories=["L", "Nd"], max_codepoint=0xFF), min_size=1, max_size=20
)
statement_lines = st.lists(
    st.tuples(
        st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
        st.integers(min_value=-(10**9), max_value=10**9).filter(bool),
        names,
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=60)
@given(
    lines=statement_lines,
    style=st.sampled_from(STYLES),
    sign=st.sampled_from(["signed", "inverted", "direction", "in-out"]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]),
    date_format=st.sampled_from(["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y"]),
)
def test_a_statement_written_in_any_mapped_style_reads_back(
    lines: list[tuple[date, int, str]],
    style: tuple[str, str],
    sign: str,
    delimiter: str,
    encoding: str,
    date_format: str,
) -> None:
    decimal_mark, thousands = style
    assume(not (encoding == "latin-1" and thousands == "\u202f"))  # not a Latin-1 character

    def money(minor: int) -> str:
        whole, fraction = divmod(abs(minor), 100)
        text = f"{whole:,}".replace(",", thousands) + decimal_mark + f"{fraction:02d}"
        return "-" + text if minor < 0 else text

    header = ["Date", "Name", "Amount", "Out", "Type"]
    rows = []
    for day, minor, name in lines:
        amount, out, kind = money(minor), "", ""
        if sign == "inverted":
            amount = money(-minor)
        elif sign == "direction":
            amount, kind = money(abs(minor)), ("CRDT" if minor > 0 else "DBIT")
        elif sign == "in-out":
            amount, out = (money(minor), "") if minor > 0 else ("", money(-minor))
        rows.append([day.strftime(date_format), name, amount, out, kind])
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows([header, *rows])
    data = buffer.getvalue().encode(encoding)
    mapping = mapping_from_json(
        msgspec.json.encode(
            {
                "date": "Date",
                "date_format": date_format,
                "counterparty": "Name",
                "sign": sign,
                "amount": "Amount" if sign != "in-out" else None,
                "amount_in": "Amount" if sign == "in-out" else None,
                "amount_out": "Out" if sign == "in-out" else None,
                "direction": "Type" if sign == "direction" else None,
                "decimal_mark": decimal_mark,
                "thousands_separator": thousands,
                "delimiter": delimiter,
                "encoding": "utf-8" if encoding == "utf-8-sig" else encoding,
            }
        )
    )
    statement = parse_statement(data, currency="EUR", mapping=mapping)
    assert [(line.booked_on, line.amount, line.counterparty) for line in statement.lines] == [
        (day, minor, name) for day, minor, name in lines
    ]

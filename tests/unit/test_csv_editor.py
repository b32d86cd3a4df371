"""The mapping editor's first guess and its reading of a file's columns (pure): banks'
headers in the languages our groups use, their date formats and decimal commas, preambles
and totals, and files without a header."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.statements import parse_statement
from ledger.statements.csv_editor import file_columns, guess_mapping

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


def test_spanish_headers_with_decimal_commas_are_guessed() -> None:
    data = (
        b"Fecha;Fecha valor;Concepto;Importe;Saldo\r\n"
        b"02/11/2026;02/11/2026;Donativo noviembre;50,00;1.290,50\r\n"
        b"13/11/2026;13/11/2026;Alquiler;-1.320,00;-29,50\r\n"
    )
    mapping = guess_mapping(data)
    assert (mapping.date, mapping.value_date, mapping.amount) == ("Fecha", "Fecha valor", "Importe")
    assert mapping.description == ("Concepto",)
    assert mapping.balance == "Saldo"
    assert mapping.date_format == "%d/%m/%Y"
    assert (mapping.decimal_mark, mapping.thousands_separator) == (",", ".")
    assert mapping.delimiter == ";"
    assert mapping.sign == "signed"
    lines = parse_statement(data, currency="EUR", mapping=mapping.check()).lines
    assert [line.amount for line in lines] == [5000, -132000]


def test_german_soll_and_haben_columns_are_money_out_and_in() -> None:
    data = (
        "Buchungsdatum;Empfänger;Verwendungszweck;Soll;Haben\n"
        "03.11.2026;Berg Hausverwaltung;Miete;320,00;\n"
        "05.11.2026;Jonas Weiß;Spende;;20,00\n"
    ).encode("latin-1")
    mapping = guess_mapping(data)
    assert mapping.encoding == "latin-1"
    assert mapping.sign == "in-out"
    assert (mapping.amount_in, mapping.amount_out) == ("Haben", "Soll")
    assert mapping.counterparty == "Empfänger"
    assert mapping.date_format == "%d.%m.%Y"
    lines = parse_statement(data, currency="EUR", mapping=mapping.check()).lines
    assert [line.amount for line in lines] == [-32000, 2000]


def test_a_file_without_a_header_is_mapped_by_column_numbers_from_its_values() -> None:
    data = b"2026-11-02,50.00,Donation\n2026-11-03,-320.00,Rent\n"
    mapping = guess_mapping(data)
    assert mapping.header is False
    assert mapping.date == 1
    assert mapping.date_format == "%Y-%m-%d"
    assert mapping.amount == 2  # the first column of amounts with decimals
    assert mapping.description == ()  # nothing names it: the steward chooses it


def test_month_first_dates_are_guessed_when_a_day_is_past_the_twelfth() -> None:
    data = b"Date,Amount\n11/02/2026,50.00\n11/28/2026,-2.50\n"
    assert guess_mapping(data).date_format == "%m/%d/%Y"


@pytest.mark.parametrize(
    ("name", "encoding", "skip", "tail"),
    [
        ("utf8.csv", "utf-8", 0, 0),
        ("utf8-bom.csv", "utf-8-sig", 0, 0),
        ("latin1.csv", "latin-1", 4, 1),
        ("utf16.csv", "utf-16", 0, 0),
        ("decimal-comma-in-out.csv", "utf-8", 0, 0),
    ],
)
def test_every_sample_statement_is_read_whole_with_its_guess(
    name: str, encoding: str, skip: int, tail: int
) -> None:
    data = (DATA / name).read_bytes()
    mapping = guess_mapping(data)
    assert (mapping.encoding, mapping.skip_lines, mapping.skip_end_lines) == (encoding, skip, tail)
    statement = parse_statement(data, currency="EUR", mapping=mapping.check())
    assert len(statement.lines) == 8
    assert sum(line.amount for line in statement.lines) == -13187


def test_the_columns_are_read_as_the_settings_say() -> None:
    data = (DATA / "latin1.csv").read_bytes()
    columns = file_columns(data, encoding="latin-1", delimiter=";", skip_lines=4, header=True)
    assert columns.width == 6
    assert columns.label(3) == "3: Auftraggeber/Empfänger"
    assert columns.number_of("währung") == 6
    assert columns.column(5) == "Betrag"
    # Without the header, columns are numbers and labelled by the first line's cells.
    bare = file_columns(data, encoding="latin-1", delimiter=";", skip_lines=5, header=False)
    assert bare.label(1) == "1: 02.11.2026"
    assert bare.column(5) == 5
    assert bare.number_of("Betrag") is None

"""The mapping editor's form (pure): every sample statement's mapping shown as fields and
read back from them is the same mapping, so a steward who only presses "Import" saves what
the place had; and a form that says nothing readable says so on each field."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.web.forms import Form
from app.web.mapping_editor import columns_from_form, fields_of, mapping_from_form
from ledger.statements import CsvMapping, parse_statement
from ledger.statements.csv_editor import file_columns
from tests.unit.test_statements import IN_OUT, LATIN1, UTF8, UTF16

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


@pytest.mark.parametrize(
    ("name", "mapping"),
    [
        ("utf8.csv", UTF8),
        ("latin1.csv", LATIN1),
        ("utf16.csv", UTF16),
        ("decimal-comma-in-out.csv", IN_OUT),
    ],
)
def test_a_mapping_shown_as_fields_reads_back_the_same(name: str, mapping: CsvMapping) -> None:
    data = (DATA / name).read_bytes()
    columns = file_columns(
        data,
        encoding=mapping.encoding,
        delimiter=mapping.delimiter,
        skip_lines=mapping.skip_lines,
        header=mapping.header,
    )
    form = Form()
    fields_of(mapping, columns, form)
    assert form.ok, form.errors
    assert columns_from_form(data, form) == columns
    read_back = mapping_from_form(form, columns)
    assert read_back is not None, form.errors
    if name == "utf16.csv":
        # Numbered there; the editor names a column by its header where the file has one.
        assert (read_back.date, read_back.amount, read_back.direction) == (
            "Booking date",
            "Amount",
            "Type",
        )
    else:
        assert read_back == mapping
    read = parse_statement(data, currency="EUR", mapping=read_back)
    assert read.lines == parse_statement(data, currency="EUR", mapping=mapping).lines


def test_an_empty_form_names_each_field_it_needs() -> None:
    form = Form(values={"header": "yes"})
    columns = columns_from_form(b"Date,Amount\n2026-11-02,1.00\n", form)
    assert mapping_from_form(form, columns) is None
    for name in ("date", "encoding", "delimiter", "date_format", "sign", "decimal_mark"):
        assert form.error(name), name


def test_a_column_out_of_range_or_a_bad_count_is_refused_on_its_field() -> None:
    form = Form(
        values={
            "encoding": "utf-8",
            "delimiter": "comma",
            "skip_lines": "-1",
            "header": "yes",
            "date": "x",
            "date_format": "%Y-%m-%d",
            "sign": "signed",
            "amount": "2",
            "decimal_mark": "point",
        }
    )
    columns = columns_from_form(b"Date,Amount\n2026-11-02,1.00\n", form)
    assert mapping_from_form(form, columns) is None
    assert form.error("date") == "Choose one of the file's columns."
    assert form.error("skip_lines") == "Write a number of lines from 0 to 1000."

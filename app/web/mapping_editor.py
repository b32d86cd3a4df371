"""The CSV mapping editor's form: a ``CsvMapping`` as one field per setting, and the fields
back into a ``CsvMapping`` (the same struct the API takes as JSON, checked the same way).

In the form, columns are chosen by number from the file's own columns; the mapping saved
names a column by its header text when the file has a header and the text names it alone
(a bank adding a column then breaks nothing), else by its number, as hledger's rules do.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.web.forms import Form, typed_number
from ledger.errors import LedgerError
from ledger.statements import ENCODINGS, CsvMapping
from ledger.statements.csv_editor import DATE_FORMATS, FileColumns, file_columns
from ledger.words import N_

# Mapping fields that name one column, in the order the editor shows them.
COLUMN_FIELDS = (
    "date",
    "value_date",
    "amount",
    "amount_in",
    "amount_out",
    "direction",
    "reference",
    "counterparty",
    "balance",
    "currency",
)
FIELDS = (
    *COLUMN_FIELDS,
    "encoding",
    "delimiter",
    "skip_lines",
    "skip_end_lines",
    "header",
    "date_format",
    "date_format_other",
    "sign",
    "debit_marks",
    "credit_marks",
    "decimal_mark",
    "thousands_separator",
)
LISTS = ("description",)
# The delimiters and separators by a name a form can carry (a tab or a no-break space in
# an HTML attribute is invisible and easily lost).
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
SEPARATORS = {
    "none": "",
    "point": ".",
    "comma": ",",
    "space": " ",
    "apostrophe": "'",
    "nbsp": "\u00a0",
    "thin": "\u202f",
}
DECIMAL_MARKS = {"point": ".", "comma": ","}
OTHER_FORMAT = "other"
UNUSED = {
    "signed": ("amount_in", "amount_out", "direction"),
    "inverted": ("amount_in", "amount_out", "direction"),
    "direction": ("amount_in", "amount_out"),
    "in-out": ("amount", "direction"),
}
MAX_COLUMN = 999
# Lines a mapping may skip at a file's start or end.
MAX_SKIPPED = 1000


def _name_of(table: dict[str, str], value: str) -> str:
    return next((name for name, char in table.items() if char == value), "")


def fields_of(mapping: CsvMapping, columns: FileColumns, form: Form) -> None:
    """Fill ``form`` with ``mapping``'s settings; a column the mapping names that this
    file's header lacks is left empty, with an error saying so."""
    values = form.values
    for name in COLUMN_FIELDS:
        column = getattr(mapping, name)
        values[name] = ""
        if column is None:
            continue
        number = columns.number_of(column)
        if number is None:
            form.fail(
                name,
                N_("The saved mapping reads the column “%(column)s”, which this file lacks."),
                column=column,
            )
        else:
            values[name] = str(number)
    described = [columns.number_of(column) for column in mapping.description_columns]
    form.lists["description"] = [str(number) for number in described if number is not None]
    values["encoding"] = mapping.encoding
    values["delimiter"] = _name_of(DELIMITERS, mapping.delimiter)
    values["skip_lines"] = str(mapping.skip_lines)
    values["skip_end_lines"] = str(mapping.skip_end_lines)
    values["header"] = "yes" if mapping.header else "no"
    if mapping.date_format in DATE_FORMATS:
        values["date_format"], values["date_format_other"] = mapping.date_format, ""
    else:
        values["date_format"], values["date_format_other"] = OTHER_FORMAT, mapping.date_format
    values["sign"] = mapping.sign
    values["debit_marks"] = ", ".join(mapping.debit_marks)
    values["credit_marks"] = ", ".join(mapping.credit_marks)
    values["decimal_mark"] = _name_of(DECIMAL_MARKS, mapping.decimal_mark)
    # No separator is the select's empty first choice.
    separator = mapping.thousands_separator
    values["thousands_separator"] = _name_of(SEPARATORS, separator) if separator else ""


def _count(form: Form, name: str) -> int:
    count = typed_number(form.value(name) or "0", MAX_SKIPPED, minimum=0)
    if count is None:
        form.fail(name, N_("Write a number of lines from 0 to 1000."))
        return 0
    return count


def columns_from_form(data: bytes, form: Form) -> FileColumns:
    """The file's columns as the form's encoding, delimiter, lines to skip and header say
    (a setting that is not valid is checked by ``mapping_from_form``; here it falls back)."""
    encoding = form.value("encoding")
    skip = form.value("skip_lines")
    return file_columns(
        data,
        encoding=next((known for known in ENCODINGS if known == encoding), "utf-8"),
        delimiter=DELIMITERS.get(form.value("delimiter"), ","),
        skip_lines=typed_number(skip, MAX_SKIPPED, minimum=0) or 0,
        header=form.value("header") != "no",
    )


def _marks(text: str) -> list[str]:
    return [mark.strip() for mark in text.split(",") if mark.strip()]


def mapping_from_form(form: Form, columns: FileColumns) -> CsvMapping | None:
    """The mapping the form says, checked; None with the form's errors when it says none."""
    chosen: dict[str, Any] = {}
    for name in COLUMN_FIELDS:
        text = form.value(name)
        if not text:
            continue
        position = typed_number(text, MAX_COLUMN)
        if position is None:
            form.fail(name, N_("Choose one of the file's columns."))
            continue
        chosen[name] = columns.column(position)
    if "date" not in chosen and not form.error("date"):
        form.fail("date", N_("Choose the column that holds each line's date."))
    described = []
    for text in form.lists.get("description", []):
        position = typed_number(text, MAX_COLUMN)
        if position is not None:
            described.append(columns.column(position))
    chosen["description"] = tuple(described)
    encoding = form.value("encoding")
    if encoding not in ENCODINGS:
        form.fail("encoding", N_("Choose the file's encoding."))
    chosen["encoding"] = encoding
    delimiter = DELIMITERS.get(form.value("delimiter"))
    if delimiter is None:
        form.fail("delimiter", N_("Choose what separates the columns."))
    chosen["delimiter"] = delimiter
    chosen["skip_lines"] = _count(form, "skip_lines")
    chosen["skip_end_lines"] = _count(form, "skip_end_lines")
    chosen["header"] = form.value("header") != "no"
    date_format = form.value("date_format")
    if date_format == OTHER_FORMAT or not date_format:
        date_format = form.value("date_format_other")
        if not date_format:
            form.fail("date_format", N_("Choose how the dates are written."))
    elif date_format not in DATE_FORMATS:
        form.fail("date_format", N_("Choose how the dates are written."))
    chosen["date_format"] = date_format
    sign = form.value("sign")
    if sign not in ("signed", "inverted", "direction", "in-out"):
        form.fail("sign", N_("Choose how the file shows money in and out."))
    chosen["sign"] = sign
    # The columns the chosen convention does not read are left out of the mapping (the
    # reader would otherwise want them on every line).
    for name in UNUSED.get(sign, ()):
        chosen.pop(name, None)
    if sign == "direction":
        for name in ("debit_marks", "credit_marks"):
            marks = _marks(form.value(name))
            if not marks:
                form.fail(name, N_("Write the marks, separated by commas."))
            chosen[name] = tuple(marks)
    decimal_mark = DECIMAL_MARKS.get(form.value("decimal_mark"))
    if decimal_mark is None:
        form.fail("decimal_mark", N_("Choose the decimal mark."))
    chosen["decimal_mark"] = decimal_mark
    separator = SEPARATORS.get(form.value("thousands_separator") or "none")
    if separator is None:
        form.fail("thousands_separator", N_("Choose the thousands separator."))
    chosen["thousands_separator"] = separator
    if not form.ok:
        return None
    try:
        mapping = msgspec.convert(chosen, type=CsvMapping)
    except msgspec.ValidationError as error:
        form.fail("", str(error))
        return None
    try:
        return mapping.check()
    except LedgerError as error:
        form.fail(field_of(error), str(error))
        return None


def field_of(error: LedgerError) -> str:
    """The editor's field a statement error is about: ``mapping.<name>`` is that field;
    a fault in the file (a line) is the preview's."""
    name = (error.field or "").removeprefix("mapping.")
    if name in FIELDS:
        return name
    return "" if error.field == "mapping" else "preview"

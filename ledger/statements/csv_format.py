"""CSV statements read through a mapping, in the spirit of hledger's CSV rules.

Banks' CSV exports differ in everything: columns, date format, decimal comma or point,
thousands separators, how money out is shown, preamble lines, delimiter and encoding. A
``CsvMapping`` says all of it once per place (it is JSON, so it can be saved with the place
and edited against the file's first lines, which ``preview_csv`` returns). Columns are named
by their header text, or by number counting from 1.

Sign conventions (``sign``):

- ``signed``: one amount column, money out negative ("-12.50", "12.50-" or "(12.50)");
- ``inverted``: one amount column, money out positive (card statements);
- ``direction``: one amount column, always positive, and a column marking each line as debit
  or credit (``debit_marks``/``credit_marks``, compared without case);
- ``in-out``: separate columns for money in and money out, one of them empty on each line
  (a minus sign in the out column is ignored: the column says the direction).

Lines before the header (``skip_lines``) and after the last line (``skip_end_lines``) are
ignored, and so are empty lines. With a ``balance`` column, every line's running balance must
follow from the one before and the amount (in the file's order, oldest or newest first):
that is the statement's own check that the mapping reads money in and out the right way;
the opening and closing balances come from it.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from ledger.money import MAX_MINOR_UNITS, exponent
from ledger.statements.amounts import same_currency
from ledger.statements.decoding import ENCODINGS, Encoding, bom_encoding, decode
from ledger.statements.errors import StatementError
from ledger.statements.lines import Balance, LineFacts

# A column: its header text, or its number counting from 1.
Column = int | str
Sign = Literal["signed", "inverted", "direction", "in-out"]
DELIMITERS = (",", ";", "\t", "|")


class CsvMapping(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to read one bank's CSV export (saved per place, as JSON)."""

    date: Column
    date_format: str = "%Y-%m-%d"
    value_date: Column | None = None
    sign: Sign = "signed"
    amount: Column | None = None
    amount_in: Column | None = None
    amount_out: Column | None = None
    direction: Column | None = None
    debit_marks: tuple[str, ...] = ("D", "DR", "DBIT", "DEBIT", "-")
    credit_marks: tuple[str, ...] = ("C", "CR", "CRDT", "CREDIT", "+")
    # One column, or several joined with " " (e.g. "Purpose" and "Purpose 2").
    description: Column | tuple[Column, ...] = ()
    reference: Column | None = None
    counterparty: Column | None = None
    balance: Column | None = None
    currency: Column | None = None
    decimal_mark: Literal[".", ","] = "."
    thousands_separator: Literal["", ",", ".", " ", "'", "\u00a0", "\u202f"] = ""
    skip_lines: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    header: bool = True
    skip_end_lines: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    delimiter: Literal[",", ";", "\t", "|"] = ","
    encoding: Encoding = "utf-8"

    def check(self) -> CsvMapping:
        """The mapping itself, or the first reason it cannot read any file."""
        needs: dict[Sign, tuple[str, ...]] = {
            "signed": ("amount",),
            "inverted": ("amount",),
            "direction": ("amount", "direction"),
            "in-out": ("amount_in", "amount_out"),
        }
        for name in needs[self.sign]:
            if getattr(self, name) is None:
                raise StatementError(
                    f"the sign convention {self.sign!r} needs the {name!r} column.",
                    field=f"mapping.{name}",
                )
        if self.decimal_mark == self.thousands_separator:
            raise StatementError(
                "the decimal mark and the thousands separator must differ.",
                field="mapping.thousands_separator",
            )
        try:
            datetime.strptime(date.today().strftime(self.date_format), self.date_format)
        except ValueError:
            raise StatementError(
                f"{self.date_format!r} is not a date format such as '%d/%m/%Y'.",
                field="mapping.date_format",
            ) from None
        if "%" not in self.date_format:
            raise StatementError(
                f"{self.date_format!r} is not a date format such as '%d/%m/%Y'.",
                field="mapping.date_format",
            )
        columns = [self.date, self.value_date, self.amount, self.amount_in, self.amount_out]
        columns += [self.direction, self.reference, self.counterparty, self.balance]
        for column in [*columns, *self.description_columns, self.currency]:
            if isinstance(column, int) and column < 1:
                raise StatementError("columns are numbered from 1.", field="mapping")
            if isinstance(column, str) and not self.header:
                raise StatementError(
                    f"the column {column!r} is named, but the mapping says the file has no "
                    "header line: number the columns from 1 instead.",
                    field="mapping",
                )
        return self

    @property
    def description_columns(self) -> tuple[Column, ...]:
        if isinstance(self.description, tuple):
            return self.description
        return (self.description,)

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)


def mapping_from_json(data: bytes | str) -> CsvMapping:
    """A mapping from its JSON (as saved or sent with an upload), checked."""
    try:
        mapping = msgspec.json.decode(data, type=CsvMapping)
    except msgspec.ValidationError as error:
        raise StatementError(f"the CSV mapping is not valid: {error}", field="mapping") from None
    except msgspec.DecodeError:
        raise StatementError("the CSV mapping is not valid JSON.", field="mapping") from None
    return mapping.check()


# --- amounts -----------------------------------------------------------------------------


def amount_reader(
    currency: str, decimal_mark: str = ".", thousands_separator: str = ""
) -> Callable[[str], int | None]:
    """A function reading an amount as this bank writes it into signed minor units (None
    for an empty cell), raising ``ValueError`` with the reason otherwise. Thousands
    separators must group by three ("1.234,50"), so "12.50" is never read as 1250 when the
    decimal mark is a comma."""
    places = exponent(currency)
    scale: int = 10**places
    if thousands_separator:
        whole = rf"\d{{1,3}}(?:{re.escape(thousands_separator)}\d{{3}})+|\d+"
    else:
        whole = r"\d+"
    fullmatch = re.compile(
        rf"([-+\u2212]?)\s*({whole})(?:{re.escape(decimal_mark)}(\d+))?\s*(-?)"
    ).fullmatch
    # The common case: a leading minus at most, the currency's own decimals, nothing else
    # ("-1.234,50"). Its minor units are the text without its marks, which ``int`` reads
    # (half the time of taking the match apart: a statement has two amounts a line).
    decimals_part = rf"{re.escape(decimal_mark)}\d{{{places}}}" if places else ""
    plain = re.compile(rf"-?(?:{whole}){decimals_part}").fullmatch

    def read(text: str) -> int | None:
        if plain(text) is not None:
            digits = text.replace(thousands_separator, "") if thousands_separator else text
            minor = int(digits.replace(decimal_mark, ""))
            if -MAX_MINOR_UNITS <= minor <= MAX_MINOR_UNITS:
                return minor
            raise ValueError(f"{text!r} is too large an amount")
        return read_slowly(text)

    def read_slowly(text: str) -> int | None:
        text = text.strip()
        if not text:
            return None
        negative = False
        if text[0] == "(" and text[-1] == ")":
            negative, text = True, text[1:-1].strip()
        match = fullmatch(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not an amount written with {decimal_mark!r} as decimal mark"
                + (f" and {thousands_separator!r} between thousands" if thousands_separator else "")
            )
        sign, digits, decimals, trailing = match.groups()
        if trailing and sign:
            raise ValueError(f"{text!r} has two signs")
        if decimals is None:
            minor = int(digits.replace(thousands_separator, "") if thousands_separator else digits)
            minor *= scale
        elif len(decimals) > places:
            raise ValueError(f"{text!r} has more decimals than {currency}'s {places}")
        else:
            whole_part = digits.replace(thousands_separator, "") if thousands_separator else digits
            minor = int(whole_part) * scale + int(decimals.ljust(places, "0"))
        if minor > MAX_MINOR_UNITS:
            raise ValueError(f"{text!r} is too large an amount")
        if negative or trailing or (sign and sign != "+"):
            return -minor
        return minor

    return read


# --- reading -----------------------------------------------------------------------------


class CsvRead(msgspec.Struct, frozen=True, kw_only=True):
    """What a CSV file gives: its lines and, with a balance column, its balances."""

    lines: list[LineFacts]
    opening: Balance | None
    closing: Balance | None


def _rows(text: str, mapping: CsvMapping) -> Iterator[tuple[int, list[str]]]:
    """The file's rows with their line numbers, empty rows and the skipped lines left out.
    Rows stream through (only ``skip_end_lines`` of them are held back), so a long file
    never sits in memory twice."""
    stream = io.StringIO(text, newline="")
    for _ in range(mapping.skip_lines):
        stream.readline()
    reader = csv.reader(stream, delimiter=mapping.delimiter, strict=True)
    offset = mapping.skip_lines
    held: deque[tuple[int, list[str]]] = deque()
    keep = mapping.skip_end_lines
    try:
        for row in reader:
            if row and (row[0] or any(row)):
                if not keep:
                    yield reader.line_num + offset, row
                    continue
                held.append((reader.line_num + offset, row))
                if len(held) > keep:
                    yield held.popleft()
    except csv.Error as error:
        raise StatementError(
            f"the CSV is malformed: {error}.", line=reader.line_num + offset
        ) from None


def _index(column: Column, header: list[str] | None, name: str) -> int:
    """A mapped column's position (from 0) in the file's rows."""
    if isinstance(column, int):
        return column - 1
    assert header is not None  # CsvMapping.check: named columns need a header
    wanted = column.strip()
    for position, text in enumerate(header):
        if text == wanted:
            return position
    folded = wanted.casefold()
    for position, text in enumerate(header):
        if text.casefold() == folded:
            return position
    raise StatementError(
        f"the mapping's {name} column {column!r} is not in the file's header "
        f"({', '.join(repr(text) for text in header)}).",
        field=f"mapping.{name}",
    )


def _split_by(delimiter: str, line: int, row: list[str]) -> None:
    """Refuse a line (the header, or a line too short) that the mapping's delimiter leaves
    whole but another splits: the usual reason a place's saved mapping does not read another
    bank's file. (A mapping reads at least two columns, a date and an amount, so a line of
    one column is never right.)"""
    if len(row) != 1:
        return
    for other in DELIMITERS:
        if other != delimiter and other in row[0]:
            raise StatementError(
                f"the mapping separates columns with {delimiter!r}, but this file's lines "
                f"seem separated with {other!r}.",
                line=line,
                field="mapping.delimiter",
            )


def read_csv(data: bytes, mapping: CsvMapping, currency: str) -> CsvRead:
    """Read a CSV statement with ``mapping``; all of it or a ``StatementError``."""
    mapping.check()
    rows = _rows(decode(data, mapping.encoding), mapping)
    header: list[str] | None = None
    if mapping.header:
        first = next(rows, None)
        if first is None:
            raise StatementError("the file has no header line.")
        _split_by(mapping.delimiter, *first)
        header = [name.strip() for name in first[1]]

    def optional(column: Column | None, name: str) -> int | None:
        return None if column is None else _index(column, header, name)

    at_date = _index(mapping.date, header, "date")
    at_value_date = optional(mapping.value_date, "value_date")
    at_amount = optional(mapping.amount, "amount")
    at_in = optional(mapping.amount_in, "amount_in")
    at_out = optional(mapping.amount_out, "amount_out")
    at_direction = optional(mapping.direction, "direction")
    at_reference = optional(mapping.reference, "reference")
    at_counterparty = optional(mapping.counterparty, "counterparty")
    at_balance = optional(mapping.balance, "balance")
    at_currency = optional(mapping.currency, "currency")
    at_description = [
        _index(column, header, "description") for column in mapping.description_columns
    ]
    used = [at_date, at_value_date, at_amount, at_in, at_out, at_direction, at_reference]
    used += [at_counterparty, at_balance, at_currency, *at_description]
    width = max(position for position in used if position is not None) + 1
    one_description = at_description[0] if len(at_description) == 1 else None

    read_amount = amount_reader(currency, mapping.decimal_mark, mapping.thousands_separator)
    debit = {mark.casefold() for mark in mapping.debit_marks}
    credit = {mark.casefold() for mark in mapping.credit_marks}
    sign = mapping.sign
    date_format = mapping.date_format
    dates: dict[str, date] = {}

    def read_date(text: str, line: int, name: str) -> date:
        # Statements repeat few dates: each distinct text is parsed once.
        found = dates.get(text)
        if found is None:
            try:
                found = datetime.strptime(text.strip(), date_format).date()
            except ValueError:
                raise StatementError(
                    f"the {name} {text!r} is not a date written as {date_format!r}.", line=line
                ) from None
            dates[text] = found
        return found

    lines: list[LineFacts] = []
    append = lines.append
    for line, row in rows:
        if len(row) < width:
            _split_by(mapping.delimiter, line, row)
            raise StatementError(
                f"the line has {len(row)} column(s); the mapping reads column {width}.",
                line=line,
            )
        try:
            if sign == "in-out":
                money_in = read_amount(row[at_in])  # type: ignore[index]
                money_out = read_amount(row[at_out])  # type: ignore[index]
                if money_in is None and money_out is None:
                    raise ValueError("neither money in nor money out is given")
                if money_in and money_out:
                    raise ValueError("both money in and money out are given")
                amount = abs(money_in or 0) - abs(money_out or 0)
            else:
                found = read_amount(row[at_amount])  # type: ignore[index]
                if found is None:
                    raise ValueError("the amount is empty")
                if sign == "signed":
                    amount = found
                elif sign == "inverted":
                    amount = -found
                else:
                    mark = row[at_direction].strip().casefold()  # type: ignore[index]
                    if mark in credit:
                        amount = abs(found)
                    elif mark in debit:
                        amount = -abs(found)
                    else:
                        raise ValueError(
                            f"{mark!r} is neither a debit mark {mapping.debit_marks} nor a "
                            f"credit mark {mapping.credit_marks}"
                        )
            balance = None if at_balance is None else read_amount(row[at_balance])
        except ValueError as error:
            raise StatementError(f"{error}.", line=line) from None
        if at_currency is not None and row[at_currency] != currency:
            same_currency(row[at_currency], currency, line=line)
        date_text = row[at_date]
        booked_on = dates.get(date_text) or read_date(date_text, line, "date")
        value_on = None
        if at_value_date is not None:
            value_text = row[at_value_date]
            if value_text == date_text:
                value_on = booked_on
            elif value_text.strip():
                value_on = dates.get(value_text) or read_date(value_text, line, "value date")
        if one_description is not None:
            description: str | None = row[one_description]
        elif at_description:
            description = " ".join(row[position] for position in at_description)
        else:
            description = None
        append(
            LineFacts(
                booked_on=booked_on,
                value_on=value_on,
                amount=amount,
                currency=currency,
                counterparty=None if at_counterparty is None else row[at_counterparty],
                reference=None if at_reference is None else row[at_reference],
                description=description,
                balance=balance,
                line=line,
            )
        )
    if not lines:
        raise StatementError("the file holds no statement lines.")
    opening, closing = _balances(lines) if at_balance is not None else (None, None)
    return CsvRead(lines=lines, opening=opening, closing=closing)


def _balances(lines: list[LineFacts]) -> tuple[Balance, Balance]:
    """Check the running balance line by line, in the file's order (oldest first, or newest
    first when the first line's date is later than the last's); the opening and closing
    balances it gives."""
    newest_first = lines[0].booked_on > lines[-1].booked_on
    ordered = lines[::-1] if newest_first else lines
    for line in ordered:
        if line.balance is None:
            raise StatementError("the balance column is empty.", line=line.line)
    first = ordered[0]
    assert first.balance is not None
    running = first.balance
    for line in ordered[1:]:
        running += line.amount
        if line.balance != running:
            raise StatementError(
                f"the balance column says {line.balance} (in minor units) after this line, "
                f"but the balance before and the amount give {running}: does the mapping "
                "read money in and out the right way, and is the file whole?",
                line=line.line,
            )
    last = ordered[-1]
    assert last.balance is not None
    return (
        Balance(on=first.booked_on, amount=first.balance - first.amount),
        Balance(on=last.booked_on, amount=last.balance),
    )


# --- preview for a mapping editor --------------------------------------------------------


class CsvPreview(msgspec.Struct, frozen=True, kw_only=True):
    """The first lines of a file split into columns, to write a mapping against."""

    encoding: Encoding
    delimiter: str
    rows: list[tuple[int, list[str]]]


def guess_delimiter(text: str) -> str:
    """The delimiter that splits the sample's lines into the most, most even columns."""
    sample = text.splitlines()[:30]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(sample, delimiter=delimiter) if row]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) if common > 1 else 0, common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def preview_csv(
    data: bytes,
    *,
    encoding: Encoding = "utf-8",
    delimiter: str | None = None,
    count: int = 20,
) -> CsvPreview:
    """The file's first ``count`` lines split into columns, with their line numbers, for a
    mapping editor to show (nothing skipped: the editor shows the bank's preamble too). The
    delimiter is guessed when not given; a byte-order mark decides the encoding."""
    if encoding not in ENCODINGS:
        raise StatementError(f"{encoding!r} is not an encoding a statement may have.")
    if not data.strip():
        raise StatementError("the file is empty.")
    text = decode(data, encoding)
    head = "".join(io.StringIO(text, newline="").readlines()[:count])
    chosen = delimiter or guess_delimiter(head)
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=chosen)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error:
        pass  # a quote cut at the preview's end: show what came before it
    return CsvPreview(encoding=bom_encoding(data) or encoding, delimiter=chosen, rows=rows)

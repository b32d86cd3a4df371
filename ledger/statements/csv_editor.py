"""What a CSV mapping editor needs: a first mapping guessed from the file, and the file's
columns as a mapping would read them.

A steward who imports a bank's CSV for the first time should start from a mapping that
probably reads it, not from a blank form: the guess is what the mapping editor shows
before anything is saved, and the steward corrects it against the file's lines. It is only
ever a starting point: nothing is imported with it until the preview was seen.

The guess, in order:

1. the encoding: a byte-order mark's, else UTF-8 when the bytes are UTF-8, else UTF-16
   when the text is full of NUL bytes, else Latin-1 (which every byte is);
2. the delimiter that splits the most lines into the same number of columns;
3. the lines to skip: the bank's preamble before the first line of that width;
4. whether that line is a header: none of its cells is a date;
5. the columns, by their header's words in the languages of the banks our groups use
   (Date, Fecha, Datum; Amount, Importe, Betrag; ...): whole names first, then names
   inside longer headers; without such words, the first column of dates is the date and
   the first column of amounts with decimals the amount; separate money in and out
   columns, or an amount and a debit/credit column, decide the sign convention;
6. the date format under which every date of the sample reads (day first before month
   first: most of our groups' banks write 02/11/2026 for the 2nd of November);
7. the decimal mark and thousands separator the amounts are written with;
8. the lines to skip at the end: trailing lines whose date cell is not a date (a total).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import unicodedata
from datetime import datetime
from typing import Literal, cast

import msgspec

from ledger.statements.csv_format import CsvMapping, Sign, guess_delimiter
from ledger.statements.decoding import Encoding, bom_encoding

# The formats the editor offers, most common first (the guess tries them in this order).
DATE_FORMATS = (
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%d.%m.%y",
    "%m/%d/%y",
    "%Y%m%d",
)
SAMPLE_LINES = 40
Delimiter = Literal[",", ";", "\t", "|"]

# Header words per mapping field, compared without case or accents. Fields are guessed in
# this order, so "Value date" is the value date before "date" can claim it.
NAMES: dict[str, tuple[str, ...]] = {
    "value_date": ("value date", "valuta", "valutadatum", "wertstellung", "fecha valor",
                   "date valeur", "data valuta"),
    "date": ("date", "booking date", "transaction date", "posting date", "posted date",
             "fecha", "fecha operacion", "fecha contable", "datum", "buchungstag",
             "buchungsdatum", "data", "date operation"),
    "amount_in": ("money in", "paid in", "credit", "credits", "in", "haben", "eingang",
                  "ingreso", "ingresos", "abono", "abonos", "haber", "credit amount"),
    "amount_out": ("money out", "paid out", "debit", "debits", "out", "soll", "ausgang",
                   "gasto", "gastos", "cargo", "cargos", "debe", "debit amount"),
    "direction": ("type", "d/c", "dr/cr", "c/d", "cr/dr", "debit/credit", "credit/debit",
                  "soll/haben", "s/h", "tipo", "debe/haber"),
    "amount": ("amount", "importe", "betrag", "montant", "importo", "bedrag", "cantidad",
               "umsatz", "value"),
    "balance": ("balance", "saldo", "kontostand", "solde", "running balance"),
    "currency": ("currency", "divisa", "moneda", "wahrung", "devise", "ccy"),
    "reference": ("reference", "ref", "referencia", "referenz", "end to end reference",
                  "mandatsreferenz", "reference number"),
    "counterparty": ("counterparty", "payee", "payer", "payee or payer", "name",
                     "beneficiario", "ordenante", "beneficiario/ordenante",
                     "auftraggeber/empfanger", "empfanger", "auftraggeber",
                     "zahlungsempfanger", "name zahlungsbeteiligter", "tercero"),
    "description": ("description", "details", "concepto", "verwendungszweck", "text",
                    "memo", "purpose", "narrative", "libelle", "descripcion", "buchungstext",
                    "observaciones", "movimiento"),
}  # fmt: skip
_AMOUNT = re.compile(r"^[-+(]?\s*\d[\d.,' \u00a0\u202f]*\s*[-)]?$")


def _folded(text: str) -> str:
    """A header as compared: no accents, no case, single spaces, no punctuation at the
    ends ("Buchungstag:" is "buchungstag")."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    return " ".join(plain.casefold().strip(" .:;*#\"'").split())


def guess_encoding(data: bytes) -> Encoding:
    found = bom_encoding(data)
    if found:
        return found
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    head = data[:400]
    if head and head.count(0) * 4 >= len(head):
        return "utf-16"
    return "latin-1"


def _decoded(data: bytes, encoding: Encoding) -> str:
    chosen = bom_encoding(data) or encoding
    return data.decode(chosen, errors="replace").removeprefix("\ufeff")


def _is_date(text: str) -> bool:
    return any(_reads(text, fmt) for fmt in DATE_FORMATS)


def _reads(text: str, date_format: str) -> bool:
    try:
        datetime.strptime(text.strip(), date_format)
    except ValueError:
        return False
    return True


def _claim(header: list[str]) -> dict[str, int]:
    """Which column (from 0) each field's words name: whole names first, then names that
    stand as words inside a longer header ("Booking date" is a date)."""
    folded = [_folded(text) for text in header]
    claimed: dict[str, int] = {}
    taken: set[int] = set()
    for whole in (True, False):
        for name, words in NAMES.items():
            if name in claimed:
                continue
            for position, text in enumerate(folded):
                if position in taken or not text:
                    continue
                if whole:
                    hit = text in words
                else:
                    padded = f" {text} "
                    hit = any(f" {word} " in padded for word in words if len(word) > 3)
                if hit:
                    claimed[name] = position
                    taken.add(position)
                    break
    return claimed


def _marks(amounts: list[str]) -> tuple[str, str]:
    """The decimal mark and thousands separator the amounts are written with."""
    comma = sum(bool(re.search(r",\d{1,2}\s*-?\)?$", text)) for text in amounts)
    point = sum(bool(re.search(r"\.\d{1,2}\s*-?\)?$", text)) for text in amounts)
    if comma > point:
        for separator in (".", " ", "\u00a0", "\u202f", "'"):
            if any(re.search(rf"\d{re.escape(separator)}\d{{3}}", t) for t in amounts):
                return ",", separator
        return ",", ""
    for separator in (",", " ", "\u00a0", "\u202f", "'"):
        if any(re.search(rf"\d{re.escape(separator)}\d{{3}}", text) for text in amounts):
            return ".", separator
    return ".", ""


def guess_mapping(data: bytes) -> CsvMapping:
    """A mapping that probably reads ``data``; the columns it could not find are left
    out (the amount) or the first one (the date), for the steward to choose."""
    encoding = guess_encoding(data)
    text = _decoded(data, encoding)
    sample = "".join(io.StringIO(text, newline="").readlines()[:SAMPLE_LINES])
    delimiter = guess_delimiter(sample)
    rows = _sample_rows(sample, delimiter)
    filled = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    widths = [len(row) for _, row in filled]
    if not filled:
        return CsvMapping(date=1, encoding=encoding, delimiter=cast("Delimiter", delimiter))
    width = max(set(widths), key=widths.count)
    start = next(index for index, (_, row) in enumerate(filled) if len(row) == width)
    # The preamble and any blank lines before the table (a row is one line there).
    skip_lines = filled[start][0] - 1
    first = filled[start][1]
    header = not any(_is_date(cell) for cell in first)
    body = [row for _, row in filled[start + (1 if header else 0) :] if len(row) >= width]
    claimed = _claim(first) if header else {}
    if "date" not in claimed:
        for position in range(width):
            if body and all(_is_date(row[position]) for row in body[:5] if row[position]):
                claimed["date"] = position
                break
    date_at = claimed.get("date", 0)
    # A total or a closing note at the end has no date: the lines that do decide.
    body = [row for row in body if len(row) > date_at and _is_date(row[date_at])]
    dates = [row[date_at] for row in body]
    date_format = next(
        (fmt for fmt in DATE_FORMATS if dates and all(_reads(d, fmt) for d in dates)),
        "%Y-%m-%d",
    )
    if not {"amount", "amount_in", "amount_out"} & claimed.keys():
        # No header names the amount: the first column of amounts with decimals is it.
        for position in range(width):
            cells = [row[position].strip() for row in body if row[position].strip()]
            if (
                position not in claimed.values()
                and cells
                and all(
                    _AMOUNT.match(cell) and re.search(r"[.,]\d{1,2}\s*-?\)?$", cell)
                    for cell in cells
                )
            ):
                claimed["amount"] = position
                break
    money = [
        row[claimed[name]].strip()
        for name in ("amount", "amount_in", "amount_out", "balance")
        if name in claimed
        for row in body
        if len(row) > claimed[name] and _AMOUNT.match(row[claimed[name]].strip())
    ]
    decimal_mark, thousands = _marks(money)
    if "amount_in" in claimed and "amount_out" in claimed:
        sign: Sign = "in-out"
        claimed.pop("amount", None)
        claimed.pop("direction", None)
    elif "amount" in claimed and "direction" in claimed:
        sign = "direction"
    else:
        sign = "signed"
        for name in ("amount_in", "amount_out", "direction"):
            claimed.pop(name, None)

    def column(name: str) -> int | str | None:
        position = claimed.get(name)
        if position is None:
            return None
        return first[position].strip() if header else position + 1

    tail = 0
    if dates:
        # The last lines of the file only (a long statement is never held as rows).
        tail_text = "\n".join(text.rstrip().rsplit("\n", 6)[-6:])
        ending: list[list[str]] = []
        with contextlib.suppress(csv.Error):
            ending = [
                row
                for row in csv.reader(io.StringIO(tail_text, newline=""), delimiter=delimiter)
                if any(cell.strip() for cell in row)
            ][-5:]
        for row in reversed(ending):
            cell = row[date_at] if len(row) > date_at else ""
            if _reads(cell, date_format):
                break
            tail += 1
        if tail == len(ending):
            tail = 0
    description = column("description")
    return CsvMapping(
        date=column("date") or (first[0].strip() if header else 1),
        date_format=date_format,
        value_date=column("value_date"),
        sign=sign,
        amount=column("amount"),
        amount_in=column("amount_in"),
        amount_out=column("amount_out"),
        direction=column("direction"),
        description=() if description is None else (description,),
        reference=column("reference"),
        counterparty=column("counterparty"),
        balance=column("balance"),
        currency=column("currency"),
        decimal_mark=decimal_mark,  # type: ignore[arg-type]
        thousands_separator=thousands,  # type: ignore[arg-type]
        skip_lines=min(skip_lines, 1000),
        header=header,
        skip_end_lines=tail,
        delimiter=cast("Delimiter", delimiter),
        encoding=encoding,
    )


class FileColumns(msgspec.Struct, frozen=True, kw_only=True):
    """The columns of a file as a mapping's encoding, delimiter, lines to skip and header
    say: their names (with a header), how many there are, and the first line's cells, so
    an editor can list "3: Description" or "3: 2026-11-02" to choose from."""

    names: list[str] | None
    width: int
    first: list[str]

    def label(self, number: int) -> str:
        """Column ``number`` (from 1) as a person picks it."""
        position = number - 1
        if self.names is not None and position < len(self.names) and self.names[position]:
            text = self.names[position]
        elif position < len(self.first):
            text = self.first[position]
        else:
            text = ""
        text = " ".join(text.split())
        return f"{number}: {text[:40]}" if text else str(number)

    def number_of(self, column: int | str) -> int | None:
        """Where a mapping's column is in this file (from 1), or None when it is not."""
        if isinstance(column, int):
            return column
        if self.names is None:
            return None
        wanted = column.strip()
        for folded in (False, True):
            for position, name in enumerate(self.names):
                if (name.casefold() == wanted.casefold()) if folded else (name == wanted):
                    return position + 1
        return None

    def column(self, number: int) -> int | str:
        """Column ``number`` as a mapping saves it: by its header text when that names it
        alone (the bank adding a column then breaks nothing), else by its number."""
        if self.names is None or number > len(self.names):
            return number
        name = self.names[number - 1].strip()
        same = [other for other in self.names if other.strip().casefold() == name.casefold()]
        return name if name and len(same) == 1 else number


def file_columns(
    data: bytes,
    *,
    encoding: Encoding,
    delimiter: str,
    skip_lines: int,
    header: bool,
    count: int = SAMPLE_LINES,
) -> FileColumns:
    """The file's columns read as these settings say. Never refuses: text that is not in
    ``encoding`` shows with replacement marks (reading the statement says where)."""
    text = _decoded(data, encoding)
    stream = io.StringIO(text, newline="")
    for _ in range(skip_lines):
        stream.readline()
    head = "".join(stream.readline() for _ in range(count))
    rows = [row for _, row in _sample_rows(head, delimiter) if any(cell.strip() for cell in row)]
    names = [name.strip() for name in rows[0]] if header and rows else None
    body = rows[1:] if header else rows
    width = max((len(row) for row in rows), default=0)
    return FileColumns(names=names, width=width, first=body[0] if body else [])


def _sample_rows(sample: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The rows of a file's first lines with their line numbers, up to a quoted cell the
    sample cut in two (the lines before it are what a guess or a preview can use)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    with contextlib.suppress(csv.Error):
        for row in reader:
            rows.append((reader.line_num, row))
    return rows

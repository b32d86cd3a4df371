"""Reading a statement file, whole: the format (given, or told from the content), the
format's reader, and the lines' fingerprints.

``parse_statement(data, currency=..., format=None, mapping=None)`` returns a ``Statement``
or raises one ``StatementError``: nothing is ever half read. Detection looks at the content,
never the file's name: an XML document in a CAMT.053 namespace, an OFX header or ``<OFX>``
tag (QFX when it carries Intuit's ``INTU.`` tags), an MT940 ``:20:`` with ``:61:`` or
``:60F:`` lines; anything else is CSV when a mapping is given, and an unknown format when not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date

from ledger.statements.amounts import check_balances, expected_currency
from ledger.statements.camt_format import NAMESPACE_PREFIX, read_camt
from ledger.statements.csv_format import CsvMapping, read_csv
from ledger.statements.decoding import bom_encoding
from ledger.statements.errors import StatementError
from ledger.statements.lines import Balance, LineFacts, Statement, StatementFormat, finish_lines
from ledger.statements.mt940_format import read_mt940

_SNIFF = 4096
_XML_ROOT = re.compile(r"<(?:([A-Za-z_][\w.-]*):)?Document\b([^>]*)>")
_MT940_LINE = re.compile(r"(?m)^[ \t]*:(?:61|60F|60M|62F|62M):")
_MT940_START = re.compile(r"(?m)^[ \t]*(?:\{\d:|:20:)")


def _root_namespace(head: str) -> str | None:
    """The namespace of an ISO 20022 ``Document`` root in the file's first bytes."""
    match = _XML_ROOT.search(head)
    if match is None:
        return None
    prefix, attributes = match.group(1), match.group(2)
    name = f"xmlns:{prefix}" if prefix else "xmlns"
    declared = re.search(rf"(?:^|\s){re.escape(name)}\s*=\s*[\"']([^\"']+)[\"']", attributes)
    return declared.group(1) if declared else None


def _head(data: bytes) -> str:
    """The file's first bytes as text, for telling formats apart (never for reading)."""
    encoding = bom_encoding(data) or "utf-8"
    return data[:_SNIFF].decode(encoding, errors="replace").lstrip("\ufeff \t\r\n")


def detect_format(data: bytes) -> StatementFormat | None:
    """The statement format the content is in, or None when it is none of the structured
    ones (then it may be CSV, which only a mapping can read)."""
    head = _head(data)
    upper = head.upper()
    if upper.startswith("OFXHEADER") or "<OFX>" in upper or "<?OFX" in upper:
        return StatementFormat.QFX if "<INTU." in upper else StatementFormat.OFX
    if head.startswith("<"):
        namespace = _root_namespace(head)
        if namespace and namespace.startswith(NAMESPACE_PREFIX):
            return StatementFormat.CAMT053
        return None
    if _MT940_START.search(head) and _MT940_LINE.search(head):
        return StatementFormat.MT940
    return None


def _unknown(head: str) -> StatementError:
    if head.startswith("<"):
        namespace = _root_namespace(head)
        kind = f"an XML document in {namespace}" if namespace else "an XML document"
        return StatementError(
            f"the file is {kind}, not a statement this service reads (CAMT.053, OFX, QFX).",
            element="Document",
        )
    return StatementError(
        "the file is not OFX, QFX, CAMT.053 or MT940; if it is a CSV export, give the "
        "mapping of its columns."
    )


def _checked(statement: Statement) -> Statement:
    """The whole file's arithmetic, whatever the format: where it states both balances, the
    opening one plus all its lines is the closing one (each format checks its own parts
    first, naming the part; this holds the result to the same rule)."""
    if statement.opening is not None and statement.closing is not None:
        check_balances(
            statement.opening.amount,
            statement.total,
            statement.closing.amount,
            statement.currency,
            element="Document" if statement.format is StatementFormat.CAMT053 else None,
        )
    return statement


def parse_statement(
    data: bytes,
    *,
    currency: str,
    format: StatementFormat | str | None = None,
    mapping: CsvMapping | None = None,
) -> Statement:
    """Read a whole statement file for a place holding ``currency``.

    ``format`` forces a reader (``csv`` needs ``mapping``); without it the content decides.
    Every line must be in ``currency``. Raises ``StatementError`` naming the line or element.
    """
    currency = expected_currency(currency)
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise StatementError("the file is empty.")
    if format is not None:
        try:
            chosen = StatementFormat(format)
        except ValueError:
            raise StatementError(
                f"{format!r} is not a statement format; choose one of "
                f"{', '.join(item.value for item in StatementFormat)}.",
                field="format",
            ) from None
    else:
        detected = detect_format(data)
        if detected is None and mapping is None:
            raise _unknown(_head(data))
        chosen = detected or StatementFormat.CSV
    sha256 = hashlib.sha256(data).hexdigest()

    if chosen is StatementFormat.CSV:
        if mapping is None:
            raise StatementError("a CSV statement needs a mapping of its columns.", field="mapping")
        csv_read = read_csv(data, mapping, currency)
        return _whole(
            chosen,
            currency,
            sha256,
            csv_read.lines,
            variant="CSV",
            opening=csv_read.opening,
            closing=csv_read.closing,
        )
    if chosen in (StatementFormat.OFX, StatementFormat.QFX):
        # Imported here: ofxtools takes a quarter of a second to import, which every process
        # start (each server worker, each command) paid for the few files that are OFX.
        from ledger.statements.ofx_format import read_ofx

        ofx = read_ofx(data, currency)
        return _whole(
            chosen,
            currency,
            sha256,
            ofx.lines,
            variant=ofx.version,
            starts_on=ofx.starts_on,
            ends_on=ofx.ends_on,
            closing=ofx.closing,
            account=ofx.account,
        )
    if chosen is StatementFormat.CAMT053:
        camt = read_camt(data, currency)
        return _whole(
            chosen,
            currency,
            sha256,
            camt.lines,
            variant=camt.version,
            starts_on=camt.starts_on,
            ends_on=camt.ends_on,
            opening=camt.opening,
            closing=camt.closing,
            account=camt.account,
        )
    mt940 = read_mt940(data, currency)
    return _whole(
        chosen,
        currency,
        sha256,
        mt940.lines,
        variant="MT940",
        opening=mt940.opening,
        closing=mt940.closing,
        account=mt940.account,
    )


def _whole(
    chosen: StatementFormat,
    currency: str,
    sha256: str,
    facts: Iterable[LineFacts],
    *,
    variant: str | None,
    starts_on: date | None = None,
    ends_on: date | None = None,
    opening: Balance | None = None,
    closing: Balance | None = None,
    account: str | None = None,
) -> Statement:
    """A reader's lines, finished, with the statement's facts; its period is the one the
    file states, else its first and last booked days."""
    lines = finish_lines(facts)
    return _checked(
        Statement(
            format=chosen,
            currency=currency,
            sha256=sha256,
            lines=lines,
            starts_on=starts_on or min((line.booked_on for line in lines), default=None),
            ends_on=ends_on or max((line.booked_on for line in lines), default=None),
            opening=opening,
            closing=closing,
            account=account,
            variant=variant,
        )
    )

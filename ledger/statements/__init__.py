"""Bank statements, read: CSV (through a saved mapping), OFX/QFX, CAMT.053 and MT940 files
into one shape, a ``Statement`` of normalized ``StatementLine`` s with stable fingerprints.

Pure: no database, no web. Importing a statement into a place (storing its lines, matching
them with entries, reconciling) builds on this.

    from ledger.statements import parse_statement, mapping_from_json

    statement = parse_statement(data, currency="EUR")                # OFX, CAMT.053, MT940
    statement = parse_statement(data, currency="EUR", mapping=mapping)  # CSV
"""

from ledger.statements.csv_format import (
    CsvMapping,
    CsvPreview,
    amount_reader,
    mapping_from_json,
    preview_csv,
)
from ledger.statements.decoding import ENCODINGS, Encoding
from ledger.statements.errors import StatementError
from ledger.statements.lines import (
    Balance,
    Statement,
    StatementFormat,
    StatementLine,
    fingerprint,
)
from ledger.statements.statement import detect_format, parse_statement

__all__ = [
    "ENCODINGS",
    "Balance",
    "CsvMapping",
    "CsvPreview",
    "Encoding",
    "Statement",
    "StatementError",
    "StatementFormat",
    "StatementLine",
    "amount_reader",
    "detect_format",
    "fingerprint",
    "mapping_from_json",
    "parse_statement",
    "preview_csv",
]

"""OFX and QFX statements (bank and credit-card), read with ofxtools.

ofxtools parses the markup (OFX 1 SGML or OFX 2 XML: a tag tokenizer, not an XML parser, so
no entity is ever expanded) and validates each aggregate against the OFX specification. Each
``STMTTRN`` is converted on its own, so an error names its element's path. A line's date is
the date written in ``DTPOSTED`` (the bank's local day, not shifted to UTC); its reference
is the bank's ``FITID``, its counterparty ``NAME`` (or ``PAYEE/NAME``), its description
``MEMO``. OFX states a closing balance (``LEDGERBAL``) but no opening one.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from typing import Any

from ofxtools.header import OFXHeaderError
from ofxtools.models.base import Aggregate
from ofxtools.Parser import OFXTree, ParseError
from ofxtools.Types import DateTime

from ledger.statements.amounts import minor_units, same_currency
from ledger.statements.errors import StatementError
from ledger.statements.lines import Balance, LineFacts
from ledger.statements.paths import element_paths

# What ofxtools raises for markup or values that break the specification.
_OFX_ERRORS = (ValueError, TypeError, LookupError, SyntaxError, AttributeError, ArithmeticError)
_STATEMENTS = ("STMTRS", "CCSTMTRS")


class OfxRead:
    """What an OFX file gives (a plain holder: ``statement.py`` builds the result)."""

    def __init__(self) -> None:
        self.lines: list[LineFacts] = []
        self.closing: Balance | None = None
        self.starts_on: date | None = None
        self.ends_on: date | None = None
        self.account: str | None = None
        self.version: str | None = None


def _day(element: ET.Element | None, path: str) -> date:
    """The day an OFX date-time is on, as the bank wrote it (its first 8 digits)."""
    text = (element.text or "").strip() if element is not None else ""
    try:
        DateTime().convert(text)  # the whole value must be an OFX date-time
        return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except _OFX_ERRORS:
        raise StatementError(f"{text!r} is not an OFX date.", element=path) from None


def _convert(element: ET.Element, path: str) -> Any:
    try:
        return Aggregate.from_etree(element)
    except _OFX_ERRORS as error:
        raise StatementError(f"{error}", element=path) from None


def read_ofx(data: bytes, currency: str) -> OfxRead:
    """Read an OFX or QFX statement; all of it or a ``StatementError``."""
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
    except UnicodeDecodeError as error:
        raise StatementError(
            f"byte {error.start + 1} of the OFX body is not text in its declared encoding.",
            element="OFX",
        ) from None
    except (OFXHeaderError, ParseError, ET.ParseError, ValueError, IndexError) as error:
        raise StatementError(f"the OFX file does not parse: {error}", element="OFX") from None
    root = tree.getroot()
    if root is None:
        raise StatementError("the OFX file holds no markup.", element="OFX")
    paths = element_paths(root, str)
    read = OfxRead()
    header = tree.header
    read.version = f"OFX {getattr(header, 'version', '')}".strip()
    statements = [element for tag in _STATEMENTS for element in root.iter(tag)]
    if not statements:
        raise StatementError(
            "the file holds no bank or card statement (STMTRS or CCSTMTRS).", element=root.tag
        )
    accounts: set[str] = set()
    starts: list[date] = []
    ends: list[date] = []
    closing_at: date | None = None
    for statement in statements:
        path = paths[id(statement)]
        curdef = statement.find("CURDEF")
        if curdef is None:
            raise StatementError("the statement has no currency (CURDEF).", element=path)
        same_currency(curdef.text, currency, element=paths[id(curdef)])
        account = statement.find("BANKACCTFROM/ACCTID")
        if account is None:
            account = statement.find("CCACCTFROM/ACCTID")
        if account is not None and account.text:
            accounts.add(account.text.strip())
        transactions = statement.find("BANKTRANLIST")
        if transactions is not None:
            for tag, days in (("DTSTART", starts), ("DTEND", ends)):
                found = transactions.find(tag)
                if found is not None:
                    days.append(_day(found, paths[id(found)]))
            for element in transactions.iter("STMTTRN"):
                read.lines.append(_line(element, paths, currency))
        ledger_balance = statement.find("LEDGERBAL")
        if ledger_balance is not None:
            balance_path = paths[id(ledger_balance)]
            converted = _convert(ledger_balance, balance_path)
            on = _day(ledger_balance.find("DTASOF"), f"{balance_path}/DTASOF")
            if closing_at is None or on >= closing_at:
                closing_at = on
                read.closing = Balance(
                    on=on,
                    amount=minor_units(
                        Decimal(converted.balamt), currency, element=f"{balance_path}/BALAMT"
                    ),
                )
    if len(accounts) > 1:
        raise StatementError(
            f"the file holds statements of {len(accounts)} accounts; a place imports one "
            "account's statements.",
            element=root.tag,
        )
    read.account = accounts.pop() if accounts else None
    read.starts_on = min(starts, default=None)
    read.ends_on = max(ends, default=None)
    return read


def _line(element: ET.Element, paths: dict[int, str], currency: str) -> LineFacts:
    path = paths[id(element)]
    amount = element.find("TRNAMT")
    if amount is not None:
        # ofxtools would say only "ConversionSyntax"; name the amount instead.
        text = (amount.text or "").strip()
        try:
            Decimal(text.replace(",", "."))
        except ArithmeticError:
            raise StatementError(f"{text!r} is not an amount.", element=f"{path}/TRNAMT") from None
    transaction = _convert(element, path)
    if transaction.currency is not None:
        same_currency(transaction.currency.cursym, currency, element=f"{path}/CURRENCY")
    posted = element.find("DTPOSTED")
    available = element.find("DTAVAIL")
    name = transaction.name
    if name is None and transaction.payee is not None:
        name = transaction.payee.name
    return LineFacts(
        booked_on=_day(posted, f"{path}/DTPOSTED"),
        value_on=_day(available, f"{path}/DTAVAIL") if available is not None else None,
        amount=minor_units(Decimal(transaction.trnamt), currency, element=f"{path}/TRNAMT"),
        currency=currency,
        counterparty=name,
        reference=transaction.fitid,
        description=transaction.memo,
        element=path,
    )

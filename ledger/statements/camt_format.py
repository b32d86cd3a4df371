"""CAMT.053 (ISO 20022 bank-to-customer statement), versions .001.02 and .001.08.

The XML is parsed with defusedxml and no document type declaration is accepted at all: no
entity is expanded and nothing outside the file is fetched (a "billion laughs" or an
external entity is refused before any of it is read). Bank statements never need a DTD.

Each ``Stmt`` is one account's statement for a period; a file may hold several of the same
account, one after the other. Lines are the booked entries (``Ntry`` whose ``Sts`` is
``BOOK``; pending or informational entries are not on the account yet). A line's amount is
``Amt`` signed by ``CdtDbtInd``; its date ``BookgDt``, value date ``ValDt``; its reference
the bank's ``AcctSvcrRef`` (of the entry, else of its transaction) or else the payer's
``EndToEndId``; its counterparty the debtor of a credit or the creditor of a debit
(``RltdPties/Dbtr/Nm`` in .001.02, ``RltdPties/Dbtr/Pty/Nm`` in .001.08); its description
the unstructured remittance text (``RmtInf/Ustrd``), else the additional information. The
opening balance is ``OPBD`` (or ``PRCD``), the closing one ``CLBD``; each statement's opening
balance plus its lines must make its closing balance, and each statement must open where the
one before closed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

import defusedxml
from defusedxml.ElementTree import fromstring

from ledger.statements.amounts import StatementsRead, minor_units, same_currency
from ledger.statements.errors import StatementError
from ledger.statements.lines import Balance, LineFacts
from ledger.statements.paths import element_paths, local_name

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
VERSIONS = ("02", "08")
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD",)


@dataclass(slots=True, kw_only=True)
class CamtRead(StatementsRead):
    """What a CAMT.053 file gives."""

    version: str
    starts_on: date | None = None
    ends_on: date | None = None


def namespace_of(data: bytes) -> str | None:
    """The namespace of the document's root, read safely, or None when it is not XML."""
    try:
        root = _parse(data)
    except StatementError:
        return None
    return root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""


def _parse(data: bytes) -> ET.Element:
    try:
        root: ET.Element = fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise StatementError(
            "the XML declares a document type (DTD); statements never need one, and a file "
            "that has one is refused so that no entity is expanded and nothing is fetched.",
            element="DOCTYPE",
        ) from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise StatementError(
            "the XML declares entities or external references; they are refused.",
            element="DOCTYPE",
        ) from None
    except ET.ParseError as error:
        line, column = error.position
        raise StatementError(
            f"the XML does not parse at line {line}, column {column + 1}: {error.msg}.",
            element="Document",
        ) from None
    return root


class _Reader:
    def __init__(self, root: ET.Element, namespace: str, currency: str) -> None:
        self.root = root
        self.ns = {"c": namespace}
        self.currency = currency
        self.paths = element_paths(root, local_name)

    def path(self, element: ET.Element) -> str:
        return self.paths[id(element)]

    def find(self, element: ET.Element, path: str) -> ET.Element | None:
        return element.find("/".join(f"c:{step}" for step in path.split("/")), self.ns)

    def findall(self, element: ET.Element, path: str) -> list[ET.Element]:
        return element.findall("/".join(f"c:{step}" for step in path.split("/")), self.ns)

    def text(self, element: ET.Element, path: str) -> str | None:
        found = self.find(element, path)
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def day(self, element: ET.Element | None, *, required: str | None = None) -> date | None:
        """The date of a ``Dt``/``DtTm`` choice (or of ``FrDtTm``-like elements); when it
        is missing, None, or the error naming the ``required`` path."""
        if element is None:
            if required:
                raise StatementError(
                    f"the date ({local_name(required.rpartition('/')[2])}) is missing.",
                    element=required,
                )
            return None
        inner = self.find(element, "Dt")
        if inner is None:
            inner = self.find(element, "DtTm")
        target = inner if inner is not None else element
        text = (target.text or "").strip()
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            raise StatementError(f"{text!r} is not a date.", element=self.path(target)) from None

    def amount(self, element: ET.Element, *, sign_from: ET.Element) -> int:
        """A signed amount from ``Amt`` (its ``Ccy`` the place's) and ``CdtDbtInd``."""
        found = self.find(element, "Amt")
        if found is None or not (found.text or "").strip():
            raise StatementError("the amount is missing.", element=f"{self.path(element)}/Amt")
        where = self.path(found)
        same_currency(found.get("Ccy"), self.currency, element=where)
        minor = minor_units(found.text or "", self.currency, element=where)
        if minor < 0:
            raise StatementError("CAMT amounts are never negative.", element=where)
        indicator = self.text(sign_from, "CdtDbtInd")
        if indicator == "CRDT":
            return minor
        if indicator == "DBIT":
            return -minor
        raise StatementError(
            f"the credit/debit indicator is {indicator!r}, not CRDT or DBIT.",
            element=f"{self.path(sign_from)}/CdtDbtInd",
        )

    def name(self, party: ET.Element | None) -> str | None:
        if party is None:
            return None
        return self.text(party, "Nm") or self.text(party, "Pty/Nm")

    def entry(self, entry: ET.Element) -> LineFacts | None:
        status = self.find(entry, "Sts")
        code = None
        if status is not None:
            code = self.text(status, "Cd") or (status.text or "").strip()
        if code and code != "BOOK":
            return None
        amount = self.amount(entry, sign_from=entry)
        where = self.path(entry)
        booked = self.day(self.find(entry, "BookgDt"), required=f"{where}/BookgDt")
        assert booked is not None
        details = self.findall(entry, "NtryDtls/TxDtls")
        single = details[0] if len(details) == 1 else None
        reference = self.text(entry, "AcctSvcrRef")
        counterparty = None
        description = None
        if single is not None:
            reference = reference or self.text(single, "Refs/AcctSvcrRef")
            end_to_end = self.text(single, "Refs/EndToEndId")
            if not reference and end_to_end and end_to_end != "NOTPROVIDED":
                reference = end_to_end
            parties = self.find(single, "RltdPties")
            if parties is not None:
                role = "Dbtr" if amount > 0 else "Cdtr"
                counterparty = self.name(self.find(parties, role))
            texts = [
                (element.text or "").strip() for element in self.findall(single, "RmtInf/Ustrd")
            ]
            description = " ".join(text for text in texts if text) or self.text(
                single, "AddtlTxInf"
            )
        return LineFacts(
            booked_on=booked,
            value_on=self.day(self.find(entry, "ValDt")),
            amount=amount,
            currency=self.currency,
            counterparty=counterparty,
            reference=reference,
            description=description or self.text(entry, "AddtlNtryInf"),
            element=where,
        )

    def balance(self, element: ET.Element) -> Balance:
        on = self.day(self.find(element, "Dt"), required=f"{self.path(element)}/Dt")
        assert on is not None
        return Balance(on=on, amount=self.amount(element, sign_from=element))


def read_camt(data: bytes, currency: str) -> CamtRead:
    """Read a CAMT.053 statement; all of it or a ``StatementError``."""
    root = _parse(data)
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    version = namespace.removeprefix(NAMESPACE_PREFIX)
    if not namespace.startswith(NAMESPACE_PREFIX) or version not in VERSIONS:
        raise StatementError(
            f"the XML is {namespace or 'without a namespace'}, not a CAMT.053 statement of "
            f"version {' or '.join('camt.053.001.' + known for known in VERSIONS)}.",
            element=local_name(root.tag),
        )
    reader = _Reader(root, namespace, currency)
    read = CamtRead(version=f"camt.053.001.{version}")
    statements = reader.findall(root, "BkToCstmrStmt/Stmt")
    if not statements:
        raise StatementError("the file holds no statement (Stmt).", element="Document")
    accounts: set[str] = set()
    for statement in statements:
        first = statement is statements[0]
        where = reader.path(statement)
        account = reader.find(statement, "Acct")
        if account is not None:
            same_currency(reader.text(account, "Ccy"), currency, element=f"{where}/Acct/Ccy")
            number = reader.text(account, "Id/IBAN") or reader.text(account, "Id/Othr/Id")
            if number:
                accounts.add(number)
        period = reader.find(statement, "FrToDt")
        if period is not None:
            starts = reader.day(reader.find(period, "FrDtTm"))
            ends = reader.day(reader.find(period, "ToDtTm"))
            read.starts_on = min(filter(None, (read.starts_on, starts)), default=None)
            read.ends_on = max(filter(None, (read.ends_on, ends)), default=None)
        opening = closing = None
        for balance in reader.findall(statement, "Bal"):
            code = reader.text(balance, "Tp/CdOrPrtry/Cd")
            if code in _OPENING and opening is None:
                opening = reader.balance(balance)
            elif code in _CLOSING:
                closing = reader.balance(balance)
        lines = [
            line
            for entry in reader.findall(statement, "Ntry")
            if (line := reader.entry(entry)) is not None
        ]
        read.add(lines, opening, closing, currency, first=first, element=where)
    read.of_one_account(accounts, element="Document/BkToCstmrStmt")
    return read

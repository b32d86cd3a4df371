"""How to give to a group: the rules of its bank details and of its payment QR code.

Pure functions, no I/O, so that the API, the pages and the tests share one truth:

1. ``check_iban``: an IBAN (ISO 13616) is two letters of a country that has IBANs, two check
   digits, and an account number of letters and digits; its length is the one the IBAN
   registry gives that country, and the whole passes the ISO 7064 MOD 97-10 check (the
   remainder is 1). Spaces are allowed as people write them, and taken out.
2. ``check_bic``: a BIC (ISO 9362) is 8 or 11 letters and digits: bank, country, place and
   an optional branch.
3. ``check_account_holder`` and ``check_how_to_give``: texts with a length limit and no
   control characters.
4. ``epc_payload``: the text of a SEPA credit transfer QR code, the European Payments
   Council's "Quick Response Code: guidelines to enable data capture for the initiation of
   a SEPA credit transfer" (EPC069-12, version 002, UTF-8): a code that a banking app scans
   to fill in a transfer. It is made only for euros to an IBAN of the SEPA area.

Every error names the field it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ledger.canonical import has_control_characters, nfc
from ledger.errors import InvalidInput

# The length of an IBAN in each country that has them (the SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip

# The countries of the SEPA area (the EU, the EEA, and the others the EPC admitted, as of
# 2025); their IBANs may be paid by a SEPA credit transfer, so by the QR code. French, Finnish
# and British territories use their country's IBANs.
SEPA_COUNTRIES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    "IS", "LI", "NO", "CH", "GB", "MC", "SM", "VA", "AD", "GI", "AL", "MD", "ME", "MK",
})  # fmt: skip

_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")

ACCOUNT_HOLDER_MAX = 70  # the EPC code's beneficiary name
HOW_TO_GIVE_MAX = 5000
EPC_TEXT_MAX = 140  # the EPC code's unstructured remittance information
EPC_MAX_BYTES = 331
EPC_MAX_AMOUNT = 99_999_999_999  # EUR 999,999,999.99 in cents


def _compact(text: str) -> str:
    return _SPACES.sub("", text).upper()


def iban_remainder(iban: str) -> int:
    """The ISO 7064 MOD 97-10 remainder of an IBAN (1 when its check digits are right):
    the first four characters move to the end, each letter becomes two digits (A = 10 ...
    Z = 35), and the number is divided by 97."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make ``country`` + digits + ``bban`` a valid IBAN."""
    return f"{98 - iban_remainder(country + '00' + bban):02d}"


def check_iban(text: str, *, field: str = "iban") -> str:
    """The IBAN written without spaces and in capitals, or InvalidInput naming ``field``."""
    iban = _compact(text)
    if not iban:
        raise InvalidInput("Enter an IBAN, such as DE89 3704 0044 0532 0130 00.", field=field)
    if not _IBAN_SHAPE.fullmatch(iban):
        raise InvalidInput(
            "An IBAN is two letters of its country, two check digits and the account's "
            "letters and digits, such as DE89 3704 0044 0532 0130 00.",
            field=field,
        )
    country = iban[:2]
    length = IBAN_LENGTHS.get(country)
    if length is None:
        raise InvalidInput(f"{country} is not a country that has IBANs.", field=field)
    if len(iban) != length:
        raise InvalidInput(
            f"An IBAN of {country} has {length} characters; this one has {len(iban)}.",
            field=field,
        )
    if iban[2:4] in ("00", "01", "99") or iban_remainder(iban) != 1:
        raise InvalidInput(
            "This IBAN's check digits do not match: a character is probably mistyped.",
            field=field,
        )
    return iban


def format_iban(iban: str) -> str:
    """An IBAN as people read it: groups of four characters."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def check_bic(text: str, *, field: str = "bic") -> str:
    """A BIC in capitals, or InvalidInput naming ``field``."""
    bic = _compact(text)
    if not _BIC.fullmatch(bic):
        raise InvalidInput(
            "A BIC has 8 or 11 letters and digits, such as COBADEFFXXX.", field=field
        )
    return bic


def check_account_holder(
    text: str, *, field: str = "account_holder", what: str = "the account holder"
) -> str:
    """The name on the account, on one line, at most 70 characters (the QR code's limit);
    ``what`` names it in errors (the same rule checks a donor's name)."""
    name = nfc(" ".join(text.split()))
    if has_control_characters(name):
        raise InvalidInput(f"Remove the control characters from {what}.", field=field)
    if len(name) > ACCOUNT_HOLDER_MAX:
        raise InvalidInput(
            f"Keep {what} to {ACCOUNT_HOLDER_MAX} characters or fewer (it has {len(name)}).",
            field=field,
        )
    return name


def check_how_to_give(text: str, *, field: str = "how_to_give") -> str:
    """The group's words on how to give (Markdown), trimmed, NFC, without control characters."""
    text = nfc(text.replace("\r\n", "\n").replace("\r", "\n").strip())
    if has_control_characters(text, multiline=True):
        raise InvalidInput("Remove the control characters from this text.", field=field)
    if len(text) > HOW_TO_GIVE_MAX:
        raise InvalidInput(
            f"Keep this to {HOW_TO_GIVE_MAX} characters or fewer (it has {len(text)}).",
            field=field,
        )
    return text


@dataclass(frozen=True, slots=True)
class BankDetails:
    """Where money may be sent: a checked IBAN, an optional BIC and the account's name."""

    iban: str
    bic: str = ""
    account_holder: str = ""

    @property
    def sepa(self) -> bool:
        return self.iban[:2] in SEPA_COUNTRIES


def bank_details(
    iban: str | None, bic: str | None, account_holder: str | None
) -> BankDetails | None:
    """The bank details given, checked; None without an IBAN (a BIC or a name alone is no
    way to give, and is refused)."""
    iban = (iban or "").strip()
    bic = (bic or "").strip()
    holder = check_account_holder(account_holder or "")
    if not iban:
        if bic:
            raise InvalidInput("A BIC needs the IBAN of its account.", field="iban")
        if holder:
            raise InvalidInput("An account holder needs the IBAN of the account.", field="iban")
        return None
    return BankDetails(check_iban(iban), check_bic(bic) if bic else "", holder)


def _epc_text(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line[:limit].rstrip()


def epc_payload(
    details: BankDetails,
    *,
    beneficiary: str,
    currency: str,
    amount: int | None = None,
    text: str = "",
) -> str | None:
    """The text of the group's SEPA payment QR code, or None when there is none to make:
    only euros, only to an IBAN of the SEPA area.

    ``beneficiary`` is the name the transfer is made to (the account holder, or else the
    group's name), cut to 70 characters; ``amount`` in cents (optional: the donor types it
    otherwise); ``text`` the remittance information, cut to 140 characters. The lines are
    the EPC's: service tag, version, character set (1: UTF-8), identification, BIC, name,
    IBAN, amount, purpose, structured reference, unstructured text; the last empty ones
    are left out."""
    if currency != "EUR" or not details.sepa:
        return None
    if amount is not None and not 0 < amount <= EPC_MAX_AMOUNT:
        raise InvalidInput("An amount is from EUR 0.01 to EUR 999,999,999.99.", field="amount")
    name = _epc_text(details.account_holder or beneficiary, ACCOUNT_HOLDER_MAX)
    if not name:
        raise InvalidInput("The QR code needs the account holder's name.", field="account_holder")
    remittance = _epc_text(text, EPC_TEXT_MAX)
    payload = _epc_lines(details, name, amount, remittance)
    # At most 331 bytes: only long texts in non-Latin scripts come near; the text gives way
    # first, then the name.
    while len(payload.encode("utf-8")) > EPC_MAX_BYTES and remittance:
        remittance = remittance[:-1].rstrip()
        payload = _epc_lines(details, name, amount, remittance)
    while len(payload.encode("utf-8")) > EPC_MAX_BYTES:
        name = name[:-1].rstrip()
        payload = _epc_lines(details, name, amount, remittance)
    return payload


def _epc_lines(details: BankDetails, name: str, amount: int | None, text: str) -> str:
    lines = [
        "BCD",
        "002",
        "1",
        "SCT",
        details.bic,
        name,
        details.iban,
        f"EUR{Decimal(amount).scaleb(-2):.2f}" if amount is not None else "",
        "",  # purpose code: none
        "",  # structured creditor reference: none (the text below instead)
        text,
    ]
    while lines[-1] == "":
        lines.pop()
    return "\n".join(lines)

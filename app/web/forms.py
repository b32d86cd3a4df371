"""Reading and checking the members' forms: values kept as typed, errors per field.

A form that does not pass is shown again with the errors next to their fields (and the
input kept); one that passes leads to a 303 redirect (POST-redirect-GET).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from litestar import Request

from app.i18n import SOURCE_LANGUAGE, translations
from app.presenters.formatting import typed_amount
from app.web.language import visitor_language
from ledger.errors import InvalidInput, LedgerError
from ledger.models import Fund
from ledger.money import parse_amount
from ledger.rules import DateWindow
from ledger.schemas import DisbursementIn, DonationIn, EntryIn, MoveIn, ReversalIn, TransferIn
from ledger.words import N_

MAX_SEQ = 2**62  # far beyond any ledger, within a 64-bit column


def typed_number(text: str, maximum: int, *, minimum: int = 1) -> int | None:
    """The whole number a field or a link holds, written in the digits 0-9, from
    ``minimum`` to ``maximum``; None for anything else. (``str.isdigit`` alone lets "²"
    through, which ``int`` refuses, and any length, which the database's integers do.)"""
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(maximum)):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


FORM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
MEMO_MAX = 500
COUNTERPARTY_MAX = 64
# The web names of the entry kinds (a disbursement is a payment to people).
ENTRY_FORMS = {
    "donation": "donation",
    "payment": "disbursement",
    "transfer": "transfer",
    "reversal": "reversal",
    "move": "move",
}


@dataclass
class Form:
    """What was typed and what is wrong with it; ``errors[""]`` is about the whole form,
    each error in the ``language`` of the person filling it in."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    language: str = SOURCE_LANGUAGE

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    def amount(self, name: str) -> str:
        """An amount as the ledger reads it ("60.50"), typed the way the reader's language
        writes money ("60,50 €" in Spanish); in English, as typed."""
        text = self.value(name)
        if self.language == SOURCE_LANGUAGE or not text:
            return text
        return typed_amount(text, self.language)

    def has(self, name: str, option: str) -> bool:
        return option in self.lists.get(name, [])

    def fail(self, name: str, message: str, /, **values: object) -> None:
        """``message`` (a catalogue's, marked ``N_``, or the domain's) as the error of
        ``name``, in the form's language, with its ``%(placeholders)s`` filled in."""
        self.errors.setdefault(name, said(message, self.language, **values))

    def fail_with(self, error: LedgerError, fields: tuple[str, ...]) -> None:
        self.fail(error.field if error.field in fields else "", str(error))

    @property
    def ok(self) -> bool:
        return not self.errors

    def said_in(self, language: str) -> Form:
        """The form with its errors in ``language``, for a form built without its reader's
        language (its errors in English): a page shows every form's errors in the
        language it is in."""
        if self.language != SOURCE_LANGUAGE or language == SOURCE_LANGUAGE:
            return self
        return replace(
            self,
            errors={name: said(error, language) for name, error in self.errors.items()},
            language=language,
        )


def new_form_id() -> str:
    return secrets.token_urlsafe(18)


async def read_form(
    request: Request[Any, Any, Any], names: tuple[str, ...], lists: tuple[str, ...] = ()
) -> Form:
    data = await request.form()
    values = {name: str(data.get(name) or "").strip() for name in names}
    return Form(
        values=values,
        lists={name: [str(v) for v in data.getall(name, [])] for name in lists},
        language=visitor_language(request),
    )


# What the domain (ledger/, proposals/) says in English that a member meets most on the
# forms, as catalogue messages: a pattern of the domain's text, and the message it becomes
# (its groups fill the placeholders). Other domain texts are shown as they are.
_AMOUNT = r"'?(?P<text>.*?)'?"
DOMAIN_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (
            _AMOUNT + r" is not an amount: write digits with an optional decimal point, "
            r'such as "12\.50"\.',
            N_(
                '"%(text)s" is not an amount: write digits with an optional decimal point, '
                'such as "12.50".'
            ),
        ),
        (
            r"(?P<currency>[A-Z]{3}) amounts have at most (?P<places>\d+) decimal\(s\); "
            + _AMOUNT
            + r" has (?P<count>\d+)\.",
            N_(
                '%(currency)s amounts have at most %(places)s decimal(s); "%(text)s" has %(count)s.'
            ),
        ),
        (
            r"The amount is too large: at most (?P<most>[\d.]+)\.",
            N_("The amount is too large: at most %(most)s."),
        ),
        (
            r"The fund (?P<fund>.+) holds (?P<held>-?[\d.]+) (?P<currency>[A-Z]{3}); "
            r"this entry needs (?P<needed>[\d.]+)\.",
            N_(
                "The fund %(fund)s would go below zero: it holds %(held)s and this entry "
                "needs %(needed)s."
            ),
        ),
        (
            r"(?P<day>[\d-]+) is outside the dates the ledger accepts: from (?P<earliest>[\d-]+) "
            r"to (?P<latest>[\d-]+)\.",
            N_("%(day)s is outside the dates the ledger accepts: from %(earliest)s to %(latest)s."),
        ),
        # A join link that cannot be used (``ledger.groups.invite_refusal``).
        (
            r"This invite link has been used already; each link works once\. Please ask an "
            r"admin of (?P<group>.+) for a new one\.",
            N_(
                "This invite link has been used already; each link works once. Please ask an "
                "admin of %(group)s for a new one."
            ),
        ),
        (
            r"This invite link was withdrawn by the group\. If you should join, ask an admin "
            r"of (?P<group>.+) for a new one\.",
            N_(
                "This invite link was withdrawn by the group. If you should join, ask an admin "
                "of %(group)s for a new one."
            ),
        ),
        (
            r"This invite link has expired\. Please ask an admin of (?P<group>.+) for a new one\.",
            N_("This invite link has expired. Please ask an admin of %(group)s for a new one."),
        ),
        (
            r"Choose a password of at least (?P<count>\d+) characters\.",
            N_("Choose a password of at least %(count)s characters."),
        ),
        (
            # The advice of the password checker is in English: in another language, the
            # advice that always holds.
            r"This password is too easy to guess\. .*",
            N_("This password is too easy to guess. Add another word or two."),
        ),
        # The less common refusals: bank details (``ledger.giving_rules``), names, slugs,
        # addresses and invites (``ledger.groups``, ``ledger.rules``), donors, matching.
        (
            r"(?P<country>[A-Z]{2}) is not a country that has IBANs\.",
            N_("%(country)s is not a country that has IBANs."),
        ),
        (
            r"An IBAN of (?P<country>[A-Z]{2}) has (?P<length>\d+) characters; this one has "
            r"(?P<count>\d+)\.",
            N_("An IBAN of %(country)s has %(length)s characters; this one has %(count)s."),
        ),
        (
            r"Remove the control characters from the account holder\.",
            N_("Remove the control characters from the account holder."),
        ),
        (
            r"Remove the control characters from the donor's name\.",
            N_("Remove the control characters from the donor's name."),
        ),
        (
            r"Keep the account holder to (?P<limit>\d+) characters or fewer \(it has "
            r"(?P<count>\d+)\)\.",
            N_("Keep the account holder to %(limit)s characters or fewer (it has %(count)s)."),
        ),
        (
            r"Keep the donor's name to (?P<limit>\d+) characters or fewer \(it has "
            r"(?P<count>\d+)\)\.",
            N_("Keep the donor's name to %(limit)s characters or fewer (it has %(count)s)."),
        ),
        (
            r"Keep this to (?P<limit>\d+) characters or fewer \(it has (?P<count>\d+)\)\.",
            N_("Keep this to %(limit)s characters or fewer (it has %(count)s)."),
        ),
        (
            r"A slug is 1-64 lower-case letters, digits and single dashes, starting with a "
            r'letter \(like "rent-relief"\); (?P<slug>.*) is not\.',
            N_(
                "A slug is 1-64 lower-case letters, digits and single dashes, starting with a "
                'letter (like "rent-relief"); %(slug)s is not.'
            ),
        ),
        (r"The group slug (?P<slug>.+) is taken\.", N_("The group slug %(slug)s is taken.")),
        (r"(?P<email>.+) is not an e-mail address\.", N_("%(email)s is not an e-mail address.")),
        (r"A name is 1-(?P<most>\d+) characters\.", N_("A name is 1-%(most)s characters.")),
        (
            r"An invite link works for 1 to (?P<most>\d+) days\.",
            N_("An invite link works for 1 to %(most)s days."),
        ),
        (
            r"Entry (?P<seq>\d+) is not a donation: only donors are thanked\.",
            N_("Entry %(seq)s is not a donation: only donors are thanked."),
        ),
        (
            r"The matching window is from 0 to (?P<most>\d+) days\.",
            N_("The matching window is from 0 to %(most)s days."),
        ),
        # A statement's file that does not read (``ledger.statements``); where in the file
        # comes first ("Line 4: "), said by ``_WHERE``.
        (
            r"the date (?P<text>'.*') is not a date written as (?P<format>'.*')\.",
            N_("the date %(text)s is not a date written as %(format)s."),
        ),
        (
            r"the value date (?P<text>'.*') is not a date written as (?P<format>'.*')\.",
            N_("the value date %(text)s is not a date written as %(format)s."),
        ),
        (
            r"(?P<text>'.*') is not an amount written with (?P<mark>'.') as decimal mark and "
            r"(?P<separator>'.*') between thousands\.",
            N_(
                "%(text)s is not an amount written with %(mark)s as decimal mark and "
                "%(separator)s between thousands."
            ),
        ),
        (
            r"(?P<text>'.*') is not an amount written with (?P<mark>'.') as decimal mark\.",
            N_("%(text)s is not an amount written with %(mark)s as decimal mark."),
        ),
        (
            r"the CSV is malformed: (?P<error>.+)\.",
            N_("the CSV is malformed: %(error)s."),
        ),
        (
            r"MT940 cannot read this line: (?P<reason>.+)",
            N_("MT940 cannot read this line: %(reason)s"),
        ),
        # A mapping that cannot read any file (``CsvMapping.check``) or not this one.
        (
            r"the sign convention '(?P<sign>[\w-]+)' needs the '(?P<field>\w+)' column\.",
            N_("the sign convention “%(sign)s” needs the “%(field)s”."),
        ),
        (
            r"(?P<format>'.*') is not a date format such as '%d/%m/%Y'\.",
            N_("%(format)s is not a date format such as '%%d/%%m/%%Y'."),
        ),
        (
            r"the column (?P<column>'.*') is named, but the mapping says the file has no "
            r"header line: number the columns from 1 instead\.",
            N_(
                "the column %(column)s is named, but the mapping says the file has no header "
                "line: number the columns from 1 instead."
            ),
        ),
        (
            r"the mapping's (?P<field>\w+) column (?P<column>'.*') is not in the file's header "
            r"\((?P<header>.*)\)\.",
            N_("the mapping's “%(field)s”, %(column)s, is not in the file's header (%(header)s)."),
        ),
        (
            r"the mapping separates columns with (?P<delimiter>'.*'), but this file's lines "
            r"seem separated with (?P<other>'.*')\.",
            N_(
                "the mapping separates columns with %(delimiter)s, but this file's lines seem "
                "separated with %(other)s."
            ),
        ),
        (
            r"the line has (?P<count>\d+) column\(s\); the mapping reads column "
            r"(?P<column>\d+)\.",
            N_("the line has %(count)s column(s); the mapping reads column %(column)s."),
        ),
        (
            r"byte (?P<byte>\d+) of the file \((?P<code>0x[0-9A-F]{2})\) is not "
            r"(?P<encoding>[\w-]+) text; is the file in another encoding \(UTF-8, Latin-1, "
            r"Windows-1252, UTF-16\)\?",
            N_(
                "byte %(byte)s of the file (%(code)s) is not %(encoding)s text; is the file in "
                "another encoding (UTF-8, Latin-1, Windows-1252, UTF-16)?"
            ),
        ),
        (
            r"the statement is in (?P<found>\S+), but this place holds (?P<expected>[A-Z]{3}); "
            r"import this file into a place in that currency\.",
            N_(
                "the statement is in %(found)s, but this place holds %(expected)s; import this "
                "file into a place in that currency."
            ),
        ),
        (
            r"the balance column says (?P<said>-?\d+) \(in minor units\) after this line, but "
            r"the balance before and the amount give (?P<running>-?\d+): does the mapping read "
            r"money in and out the right way, and is the file whole\?",
            N_(
                "the balance column says %(said)s (in minor units) after this line, but the "
                "balance before and the amount give %(running)s: does the mapping read money "
                "in and out the right way, and is the file whole?"
            ),
        ),
        # CAMT.053, OFX/QFX and MT940 files, at an element ("At Document/...: ") or a line.
        (r"(?P<text>'.*') is not a date\.", N_("%(text)s is not a date.")),
        (r"(?P<text>'.*') is not an OFX date\.", N_("%(text)s is not an OFX date.")),
        (r"(?P<text>'.*') is not an amount\.", N_("%(text)s is not an amount.")),
        (
            r"(?P<value>\S+) has more decimals than (?P<currency>[A-Z]{3})'s (?P<places>\d+)\.",
            N_("%(value)s has more decimals than %(currency)s's %(places)s."),
        ),
        (r"(?P<value>\S+) is too large an amount\.", N_("%(value)s is too large an amount.")),
        (
            r"the file holds statements of (?P<count>\d+) accounts; a place imports one "
            r"account's statements\.",
            N_(
                "the file holds statements of %(count)s accounts; a place imports one "
                "account's statements."
            ),
        ),
        (
            r"the opening balance (?P<opening>-?[\d.]+) plus the lines \((?P<lines>-?[\d.]+)\) "
            r"is (?P<sum>-?[\d.]+), but the closing balance is (?P<closing>-?[\d.]+): is the "
            r"file whole\?",
            N_(
                "the opening balance %(opening)s plus the lines (%(lines)s) is %(sum)s, but the "
                "closing balance is %(closing)s: is the file whole?"
            ),
        ),
        # A statement's lines: matching, rejecting and their undoing (``ledger.bank``).
        (r"No entry has the number (?P<number>\S+)\.", N_("No entry has the number %(number)s.")),
        (
            r"Entry (?P<seq>\d+) was not rejected for this line\.",
            N_("Entry %(seq)s was not rejected for this line."),
        ),
        (
            r"Entry (?P<seq>\d+) moves no money in the place (?P<place>.+)\.",
            N_("Entry %(seq)s moves no money in the place %(place)s."),
        ),
        (
            r"Entry (?P<seq>\d+) is matched already with other bank lines; name the same "
            r"entries to add this line to that match\.",
            N_(
                "Entry %(seq)s is matched already with other bank lines; name the same "
                "entries to add this line to that match."
            ),
        ),
        (
            r"The books of (?P<place>.+) are reconciled through (?P<day>[\d-]+): this line's "
            r"match is part of that proof and stays\. A mistake is corrected with a new entry "
            r"and a new reconciliation\.",
            N_(
                "The books of %(place)s are reconciled through %(day)s: this line's match is "
                "part of that proof and stays. A mistake is corrected with a new entry and a "
                "new reconciliation."
            ),
        ),
        # Closing a reconciliation (``ledger.reconciliation``, ``ledger.rules``), and an entry
        # dated into a reconciled period.
        (
            r"(?P<day>[\d-]+) is still to come: a reconciliation closes a day the bank has "
            r"booked\.",
            N_("%(day)s is still to come: a reconciliation closes a day the bank has booked."),
        ),
        (
            r"No imported statement of the place (?P<place>.+) covers (?P<day>[\d-]+): import "
            r"the statement whose period holds that day first\.",
            N_(
                "No imported statement of the place %(place)s covers %(day)s: import the "
                "statement whose period holds that day first."
            ),
        ),
        (
            r"(?P<count>\d+) bank line\(s\) of the place (?P<place>.+) dated on or before "
            r"(?P<day>[\d-]+) are not matched with entries yet \(the first on "
            r"(?P<first>[\d, -]+)\): match them first\.",
            N_(
                "%(count)s bank line(s) of the place %(place)s dated on or before %(day)s are "
                "not matched with entries yet (the first on %(first)s): match them first."
            ),
        ),
        (
            r"The place (?P<place>.+) is reconciled through (?P<day>[\d-]+) already; a "
            r"reconciliation closes a later day than that \(a closed one is never reopened: a "
            r"correction is a new entry and a new reconciliation\)\.",
            N_(
                "The place %(place)s is reconciled through %(day)s already; a reconciliation "
                "closes a later day than that (a closed one is never reopened: a correction is "
                "a new entry and a new reconciliation)."
            ),
        ),
        (
            # ``held`` and ``needed`` are said as money in the reader's language.
            r"The books put (?P<held>-?[\d.]+) (?P<currency>[A-Z]{3}) in the place "
            r"(?P<place>.+) through (?P<day>[\d-]+); the closing balance given is "
            r"(?P<needed>-?[\d.]+) [A-Z]{3}\.",
            N_(
                "The books put %(held)s in the place %(place)s through %(day)s; the closing "
                "balance given is %(needed)s."
            ),
        ),
        (
            r"The place (?P<place>.+) is reconciled with the bank through (?P<through>[\d-]+): "
            r"an entry there dated (?P<day>[\d-]+) would change the balance that was agreed\. "
            r"Date it after [\d-]+ \(a correction is a new entry\)\.",
            N_(
                "The place %(place)s is reconciled with the bank through %(through)s: an entry "
                "there dated %(day)s would change the balance that was agreed. Date it after "
                "%(through)s (a correction is a new entry)."
            ),
        ),
        # What keeps an import from being withdrawn (``ledger.bank.withdrawal_refusal``).
        (
            r"(?P<count>\d+) of its lines are on days the books are reconciled through "
            r"\((?P<day>[\d-]+)\): the import stays\.",
            N_(
                "%(count)s of its lines are on days the books are reconciled through "
                "(%(day)s): the import stays."
            ),
        ),
        (
            r"(?P<count>\d+) of its lines matched: undo those matches first\.",
            N_("%(count)s of its lines matched: undo those matches first."),
        ),
        (
            r"(?P<count>\d+) of its lines were matched before \(the record of it stays\): the "
            r"import stays\.",
            N_(
                "%(count)s of its lines were matched before (the record of it stays): the "
                "import stays."
            ),
        ),
    )
)
# Where a refusal is about a part of what was sent, it starts by saying where: the line of
# a bank statement's form (``#12: ``), or the line or element of a statement's file
# (``ledger.statements.errors.StatementError``); the rest is said as any refusal.
_WHERE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"#(?P<line>\d+): (?P<text>.+)", re.DOTALL), "#%(line)s: %(text)s"),
    (re.compile(r"Line (?P<line>\d+): (?P<text>.+)", re.DOTALL), N_("Line %(line)s: %(text)s")),
    (re.compile(r"At (?P<element>\S+): (?P<text>.+)", re.DOTALL), N_("At %(element)s: %(text)s")),
)
# The domain's texts without values that members meet on the forms (translated as they are).
DOMAIN_TEXTS = (
    N_('An amount must be a decimal string such as "12.50".'),
    N_("The amount must be more than zero."),
    N_("A reversal needs a reason in its memo."),
    N_("A transfer needs two different funds."),
    N_("A block needs a reason the group can answer: say what would have to change."),
    # The bank statements' pages (``app.web.statements``) and their files'.
    N_("Choose the statement's file again."),
    N_("Choose the statement's file."),
    N_("Give the numbers of the entries."),
    N_("Choose the suggestion to reject."),
    N_("Choose the rejection to take back."),
    N_("Name at least one entry."),
    N_("This bank line is matched already."),
    N_("This bank line is not matched."),
    N_("Only money in can be a donation."),
    N_("A reconciliation was closed against this import: it stays."),
    N_(
        "Only the place's latest import can be withdrawn: later files skipped the lines this "
        "one brought."
    ),
    N_("Choose what to do with the line."),
    N_("the file is empty."),
    N_("a CSV statement needs a mapping of its columns."),
    N_("the file has no header line."),
    N_("the CSV mapping is not valid JSON."),
    N_("columns are numbered from 1."),
    N_("the amount is empty."),
    N_("the amount is missing."),
    N_("CAMT amounts are never negative."),
    N_("the file holds no statement (Stmt)."),
    N_("the decimal mark and the thousands separator must differ."),
    N_("this statement does not open where the one before it closed: is one missing in between?"),
    N_("the file has no MT940 statement (no ':20:' line)."),
    N_("a statement line (':61:') comes before the statement's ':20:'."),
    N_("the OFX file holds no markup."),
    N_("the file holds no bank or card statement (STMTRS or CCSTMTRS)."),
    N_("the statement has no currency (CURDEF)."),
    N_(
        "the XML declares a document type (DTD); statements never need one, and a file that "
        "has one is refused so that no entity is expanded and nothing is fetched."
    ),
    N_("the XML declares entities or external references; they are refused."),
    N_(
        "the file is not OFX, QFX, CAMT.053 or MT940; if it is a CSV export, give the "
        "mapping of its columns."
    ),
    N_("the balance column is empty."),
    N_("the file holds no statement lines."),
    N_("neither money in nor money out is given."),
    N_("both money in and money out are given."),
    # Who may do what (``ledger.groups``).
    N_("A group needs an admin: make someone else admin first."),
)


# A CSV mapping's settings as the mapping editor names them (templates/member/_csv_mapping.html).
_MAPPING_FIELDS = {
    "date": N_("Date column"),
    "value_date": N_("Value date column"),
    "amount": N_("Amount column"),
    "amount_in": N_("Money in column"),
    "amount_out": N_("Money out column"),
    "direction": N_("Debit or credit column"),
    "description": N_("Description columns"),
    "reference": N_("Reference column"),
    "counterparty": N_("Counterparty column"),
    "balance": N_("Balance column"),
    "currency": N_("Currency column"),
}
_MAPPING_SIGNS = {
    "signed": N_("One amount column: money out is negative (-12.50)"),
    "inverted": N_("One amount column: money out is positive, money in negative (card statements)"),
    "in-out": N_("Two columns: money in and money out"),
    "direction": N_("One amount column and a column saying debit or credit"),
}
# The refusals that name a mapping's setting by its JSON name (the API's words): a page says
# them with the editor's words, in English too.
_NAMING_A_SETTING = tuple(
    pattern for pattern, _ in DOMAIN_MESSAGES if {"field", "sign"} & pattern.groupindex.keys()
)


def said(message: str, language: str, /, **values: object) -> str:
    """``message`` in ``language``: a catalogue's message, or a domain text that
    ``DOMAIN_MESSAGES`` knows; any other text as it is (English)."""
    if language == SOURCE_LANGUAGE and not any(p.search(message) for p in _NAMING_A_SETTING):
        return message % values if values else message
    translate = translations(language).gettext
    for where, text in _WHERE:
        match = where.fullmatch(message)
        if match is not None:
            found = match.groupdict()
            found["text"] = said(found["text"], language)
            return translate(text) % found
    for pattern, known in DOMAIN_MESSAGES:
        match = pattern.fullmatch(message)
        if match is not None:
            found = match.groupdict()
            # A mapping's setting by the words the mapping editor shows for it.
            if "field" in found:
                found["field"] = translate(_MAPPING_FIELDS.get(found["field"], found["field"]))
            if "sign" in found:
                found["sign"] = translate(_MAPPING_SIGNS.get(found["sign"], found["sign"]))
            if "held" in found:
                # Money in the language's own way ("10,00 €").
                currency = found.pop("currency")
                for name in ("held", "needed"):
                    found[name] = format_currency(Decimal(found[name]), currency, locale=language)
            return translate(known) % found
    text = translate(message)
    return text % values if values else text


def _date(form: Form, name: str, today: date, window: DateWindow) -> date | None:
    text = form.value(name)
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        form.fail(name, N_("Write the date as YYYY-MM-DD, e.g. 2026-03-31."))
        return None
    try:  # the ledger's own rule, checked here so that it shows with the form's other errors
        return window.check(value, today, field=name)
    except InvalidInput as error:
        form.fail(name, str(error))
        return value


def _fund(
    form: Form, name: str, funds: dict[str, Fund], *, missing: str = N_("Choose a fund.")
) -> Fund | None:
    slug = form.value(name)
    if not slug:
        form.fail(name, missing)
        return None
    fund = funds.get(slug)
    if fund is None:
        form.fail(name, N_("Choose one of the group's funds."))
    return fund


def _amount(form: Form, fund: Fund | None) -> str:
    amount = form.amount("amount")
    if not amount:
        form.fail("amount", N_("Enter an amount, such as 12.50."))
    elif fund is not None:
        try:
            parse_amount(amount, fund.currency)
        except LedgerError as error:
            form.fail("amount", str(error))
    return amount


def _text(form: Form, name: str, limit: int, *, required: str = "", one_line: bool = False) -> str:
    text = form.value(name).replace("\r\n", "\n")
    if required and not text:
        form.fail(name, required)
    if len(text) > limit:
        form.fail(
            name,
            N_("Keep this to %(limit)s characters or fewer (it has %(count)s)."),
            limit=limit,
            count=len(text),
        )
    if one_line and any(ch in text for ch in "\r\n"):
        form.fail(name, N_("Write this on one line."))
    if any(ch < " " and ch not in "\n\t" for ch in text):
        form.fail(name, N_("Remove the control characters from this text."))
    return text


def entry_from_form(
    kind: str, form: Form, funds: dict[str, Fund], today: date, window: DateWindow
) -> EntryIn | None:
    """The entry the form asks for, or None with the form's errors filled in."""
    occurred_on = _date(form, "occurred_on", today, window)
    if kind == "reversal":
        reverses = typed_number(form.value("reverses").lstrip("#"), MAX_SEQ)
        if reverses is None:
            form.fail("reverses", N_("Enter the number of the entry to reverse, such as 12."))
        memo = _text(form, "memo", MEMO_MAX, required=N_("Say why the entry is reversed."))
        if reverses is None or not form.ok:
            return None
        return ReversalIn(reverses=reverses, memo=memo)
    memo = _text(form, "memo", MEMO_MAX)
    # Where the money is: the picker is shown only to groups with more than one place; the
    # ledger names an unknown place (``place``), and takes the default when none is sent.
    place = form.value("place") or None
    if kind == "move":
        leaves, arrives = form.value("from_place"), form.value("to_place")
        if not leaves:
            form.fail("from_place", N_("Choose the place the money leaves."))
        if not arrives:
            form.fail("to_place", N_("Choose the place the money goes to."))
        elif leaves == arrives:
            form.fail("to_place", N_("Choose a different place from the first."))
        amount = _amount(form, None)
        if not form.ok:
            return None
        return MoveIn(
            from_place=leaves, to_place=arrives, amount=amount, occurred_on=occurred_on, memo=memo
        )
    if kind == "transfer":
        source = _fund(form, "from_fund", funds, missing=N_("Choose the fund the money leaves."))
        target = _fund(form, "to_fund", funds, missing=N_("Choose the fund the money goes to."))
        if source is not None and source is target:
            form.fail("to_fund", N_("Choose a different fund from the first."))
        amount = _amount(form, source)
        if not form.ok or source is None or target is None:
            return None
        return TransferIn(
            from_fund=source.slug,
            to_fund=target.slug,
            amount=amount,
            occurred_on=occurred_on,
            memo=memo,
            place=place,
        )
    fund = _fund(form, "fund", funds)
    amount = _amount(form, fund)
    counterparty = _text(form, "counterparty", COUNTERPARTY_MAX, one_line=True) or None
    if not form.ok or fund is None:
        return None
    if kind == "donation":
        return DonationIn(
            fund=fund.slug,
            amount=amount,
            occurred_on=occurred_on,
            memo=memo,
            counterparty=counterparty,
            place=place,
        )
    return DisbursementIn(
        fund=fund.slug,
        amount=amount,
        occurred_on=occurred_on,
        memo=memo,
        counterparty=counterparty,
        place=place,
    )


def safe_next(target: str | None, default: str = "/m") -> str:
    """Only a path on this site may follow a login (no ``//host`` or ``\\`` tricks)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\\\r\n\t") or len(target) > 500:
        return default
    return target

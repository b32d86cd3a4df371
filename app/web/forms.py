"""Reading and checking the members' forms: values kept as typed, errors per field.

A form that does not pass is shown again with the errors next to their fields (and the
input kept); one that passes leads to a 303 redirect (POST-redirect-GET).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Request

from ledger.errors import InvalidInput, LedgerError
from ledger.models import Fund
from ledger.money import parse_amount
from ledger.rules import DateWindow
from ledger.schemas import DisbursementIn, DonationIn, EntryIn, MoveIn, ReversalIn, TransferIn

MAX_SEQ = 2**62  # far beyond any ledger, within a 64-bit column
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
    """What was typed and what is wrong with it; ``errors[""]`` is about the whole form."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    def has(self, name: str, option: str) -> bool:
        return option in self.lists.get(name, [])

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def fail_with(self, error: LedgerError, fields: tuple[str, ...]) -> None:
        self.fail(error.field if error.field in fields else "", str(error))

    @property
    def ok(self) -> bool:
        return not self.errors


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
    )


def _date(form: Form, name: str, today: date, window: DateWindow) -> date | None:
    text = form.value(name)
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        form.fail(name, "Write the date as YYYY-MM-DD, e.g. 2026-03-31.")
        return None
    try:  # the ledger's own rule, checked here so that it shows with the form's other errors
        return window.check(value, today, field=name)
    except InvalidInput as error:
        form.fail(name, str(error))
        return value


def _fund(form: Form, name: str, funds: dict[str, Fund], *, what: str = "a fund") -> Fund | None:
    slug = form.value(name)
    if not slug:
        form.fail(name, f"Choose {what}.")
        return None
    fund = funds.get(slug)
    if fund is None:
        form.fail(name, "Choose one of the group's funds.")
    return fund


def _amount(form: Form, fund: Fund | None) -> str:
    amount = form.value("amount")
    if not amount:
        form.fail("amount", "Enter an amount, such as 12.50.")
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
        form.fail(name, f"Keep this to {limit} characters or fewer (it has {len(text)}).")
    if one_line and any(ch in text for ch in "\r\n"):
        form.fail(name, "Write this on one line.")
    if any(ch < " " and ch not in "\n\t" for ch in text):
        form.fail(name, "Remove the control characters from this text.")
    return text


def entry_from_form(
    kind: str, form: Form, funds: dict[str, Fund], today: date, window: DateWindow
) -> EntryIn | None:
    """The entry the form asks for, or None with the form's errors filled in."""
    occurred_on = _date(form, "occurred_on", today, window)
    if kind == "reversal":
        reverses = form.value("reverses").lstrip("#")
        if not reverses.isdigit() or not 0 < int(reverses) <= MAX_SEQ:
            form.fail("reverses", "Enter the number of the entry to reverse, such as 12.")
        memo = _text(form, "memo", MEMO_MAX, required="Say why the entry is reversed.")
        if not form.ok:
            return None
        return ReversalIn(reverses=int(reverses), memo=memo)
    memo = _text(form, "memo", MEMO_MAX)
    # Where the money is: the picker is shown only to groups with more than one place; the
    # ledger names an unknown place (``place``), and takes the default when none is sent.
    place = form.value("place") or None
    if kind == "move":
        leaves, arrives = form.value("from_place"), form.value("to_place")
        if not leaves:
            form.fail("from_place", "Choose the place the money leaves.")
        if not arrives:
            form.fail("to_place", "Choose the place the money goes to.")
        elif leaves == arrives:
            form.fail("to_place", "Choose a different place from the first.")
        amount = _amount(form, None)
        if not form.ok:
            return None
        return MoveIn(
            from_place=leaves, to_place=arrives, amount=amount, occurred_on=occurred_on, memo=memo
        )
    if kind == "transfer":
        source = _fund(form, "from_fund", funds, what="the fund the money leaves")
        target = _fund(form, "to_fund", funds, what="the fund the money goes to")
        if source is not None and source is target:
            form.fail("to_fund", "Choose a different fund from the first.")
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

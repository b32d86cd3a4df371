"""How to give: the public page a donor reads (the group's words, its bank details and a SEPA
payment QR code), and the admins' form that writes it.

The page needs no login and no script: the QR code is inline SVG made by segno from the
text ``ledger.giving_rules.epc_payload`` writes, and a donor who wants the amount in the
code types it and asks for the page again (a GET form).
"""

from __future__ import annotations

from typing import Annotated, Any

import segno
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from markupsafe import Markup

from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession, Id
from app.guards import member_with, public_or_member
from app.i18n import SOURCE_LANGUAGE
from app.presenters.formatting import typed_amount
from app.presenters.markdown import render_markdown
from app.web.forms import Form, read_form
from app.web.language import visitor_formatter
from app.web.security import COOKIE_FREE
from app.web.templating import page, see_other, settings_page
from ledger import giving
from ledger.errors import InvalidInput, LedgerError
from ledger.giving_rules import (
    check_account_holder,
    check_bic,
    check_how_to_give,
    check_iban,
    format_iban,
)
from ledger.money import parse_amount
from ledger.schemas import GivingIn
from ledger.words import N_

GIVING_FIELDS = ("how_to_give", "iban", "bic", "account_holder")
QR_TITLE = N_("SEPA payment QR code: scan it with a banking app to fill in the transfer")


def payment_qr(payload: str, title: str = QR_TITLE) -> Markup:
    """The EPC QR code of ``payload`` as inline SVG: error correction M, UTF-8 bytes, no ECI
    (as EPC069-12 asks), a quiet zone of four modules, a light background for dark themes.

    Safe to insert unescaped: segno writes the markup (and escapes the fixed title)."""
    code = segno.make(payload, error="m", micro=False, encoding="utf-8", boost_error=False)
    svg = code.svg_inline(
        scale=1,
        border=4,
        dark="#000",
        light="#fff",
        omitsize=True,
        svgclass="give-qr__code",
        title=title,
    )
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 (segno's markup)


GIVE_AMOUNT_HELP = N_(
    "Write the amount with digits, such as 20 or 12.50, within what a transfer allows."
)


class GivingPages(Controller):
    include_in_schema = False
    opt = {COOKIE_FREE: True}
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/g/{group:str}/give", guards=[public_or_member], name="give")
    async def give_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        amount: Annotated[str, QueryParameter(max_length=40)] = "",
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        ways = await giving.get_giving(db_session, group)
        form = Form(values={"amount": amount.strip()})
        minor: int | None = None
        if form.value("amount"):
            try:
                # Typed the reader's way: "12,50" in Spanish, "12.50" in English.
                typed = typed_amount(form.value("amount"), fmt.language)
                minor = parse_amount(typed, group.currency)
                ways.qr_payload(group, minor)  # the code's own limits
            except LedgerError as error:
                # The ledger words its refusals in English; other readers get the form's help.
                english = fmt.language == SOURCE_LANGUAGE
                form.fail("amount", str(error) if english else fmt.translate(GIVE_AMOUNT_HELP))
                minor = None
        reference = fmt.said(giving.donation_reference(group))
        payload = ways.qr_payload(group, minor, reference=reference)
        bank = ways.bank
        return page(
            request,
            "public/give.html",
            status_code=200 if form.ok else 422,
            group=group,
            caller=caller,
            fmt=fmt,
            how_to_give=render_markdown(ways.how_to_give) if ways.how_to_give else "",
            bank=bank,
            iban=format_iban(bank.iban) if bank else "",
            holder=(bank.account_holder or group.name) if bank else "",
            reference=reference,
            qr=payment_qr(payload, fmt.translate(QR_TITLE)) if payload else "",
            qr_amount=fmt.money(minor, group.currency) if minor is not None else "",
            form=form,
            donors=await giving.donors(db_session, group),
            changed_on=fmt.day(ways.updated_at) if ways.updated_at else "",
        )


class GivingAdminPages(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/m/{group:str}/giving", guards=[member_with("admin")], name="giving")
    async def giving_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        ways = await giving.get_giving(db_session, caller.group)
        bank = ways.bank
        form = Form(
            values={
                "how_to_give": ways.how_to_give,
                "iban": format_iban(bank.iban) if bank else "",
                "bic": bank.bic if bank else "",
                "account_holder": bank.account_holder if bank else "",
            }
        )
        saved = request.query_params.get("saved") == "1"
        return settings_page(request, "member/giving.html", caller, form, saved=saved)

    @post("/m/{group:str}/giving", guards=[member_with("admin")], name="giving_submit")
    async def save_giving(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, GIVING_FIELDS)
        form.values["how_to_give"] = form.value("how_to_give").replace("\r\n", "\n")
        check_fields(form)
        if form.ok:
            try:
                await giving.set_giving(
                    db_session,
                    caller.group,
                    GivingIn(
                        how_to_give=form.value("how_to_give"),
                        iban=form.value("iban") or None,
                        bic=form.value("bic") or None,
                        account_holder=form.value("account_holder") or None,
                    ),
                    user_id=caller.user_id,
                )
            except LedgerError as error:
                form.fail_with(error, GIVING_FIELDS)
        if not form.ok:
            return settings_page(request, "member/giving.html", caller, form, status=422)
        return see_other(f"/m/{caller.group.slug}/giving?saved=1")


class DonorPages(Controller):
    """The stewards' list of donors thanked by name, where a name is erased on request."""

    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/m/{group:str}/donors", guards=[member_with("steward")], name="donors")
    async def donors_page(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        erased = request.query_params.get("erased", "")
        return page(
            request,
            "member/donors.html",
            group=caller.group,
            caller=caller,
            thanked=await giving.thanked_donations(db_session, caller.group),
            erased=erased if erased.isdigit() else "",
        )

    @post(
        "/m/{group:str}/donors/{seq:int}/erase",
        guards=[member_with("steward")],
        name="donor_erase",
    )
    async def erase_name(self, db_session: DbSession, caller: CurrentCaller, seq: Id) -> Redirect:
        await giving.forget_donor(db_session, caller.group, seq)
        return see_other(f"/m/{caller.group.slug}/donors?erased={seq}")


def check_fields(form: Form) -> None:
    """Each field's rule, so that every mistake shows next to its field at once."""
    iban, bic, holder = form.value("iban"), form.value("bic"), form.value("account_holder")
    checks: list[tuple[str, Any]] = [
        ("how_to_give", lambda: check_how_to_give(form.value("how_to_give"))),
        ("account_holder", lambda: check_account_holder(holder)),
    ]
    if iban:
        checks.append(("iban", lambda: check_iban(iban)))
    elif bic or holder:
        form.fail("iban", N_("Enter the IBAN of the account, or leave the bank details empty."))
    if bic:
        checks.append(("bic", lambda: check_bic(bic)))
    for name, check in checks:
        try:
            check()
        except InvalidInput as error:
            form.fail(name, str(error))

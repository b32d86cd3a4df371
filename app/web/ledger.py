"""The ledger as pages: the public ledger with its filters, and the stewards' forms that
record money (donations, payments, transfers, reversals) and make funds.

Every form carries the CSRF token; a form that does not pass comes back with its errors
next to the fields and the input kept; one that passes redirects with 303.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.attachments import cleaned, keep, read_upload, store_of
from app.api.claims import attach_claim_receipt
from app.auth import (
    Caller,
    provide_caller,
)
from app.db import keep_changes
from app.deps import CurrentCaller, CurrentNotary, DbSession, Id, settings_of
from app.errors import status_of
from app.guards import may_read_files, member_with, public_or_member
from app.i18n import translations
from app.presenters.formatting import Formatter
from app.presenters.ledger import (
    KIND_LABELS,
    EntryView,
    entry_view,
    fund_view,
    place_view,
    receipt_view,
    size_text,
    standing_view,
)
from app.presenters.proposals import PayableProposal, payable_views, policy_choice
from app.web.forms import (
    ENTRY_FORMS,
    FORM_ID,
    MAX_SEQ,
    Form,
    entry_from_form,
    new_form_id,
    read_form,
    typed_number,
)
from app.web.language import visitor_formatter, visitor_language
from app.web.security import COOKIE_FREE
from app.web.templating import page, see_other
from ledger import attachments, bank, giving, reconciliation, service
from ledger import queries as ledger_queries
from ledger.canonical import ATTACHMENT
from ledger.cleaning import CleanFile
from ledger.errors import IdempotencyMismatch, InvalidInput, LedgerError
from ledger.groups import utcnow
from ledger.idempotency import record_entry_once
from ledger.models import Group
from ledger.money import format_amount
from ledger.rules import ENTRY_KINDS
from ledger.schemas import DisbursementIn, FundIn, PlaceIn
from ledger.words import N_
from proposals import claims, policies
from proposals import queries as proposal_queries
from proposals.schemas import PolicyOut
from proposals.service import authorise_payment, committed_by_fund


async def entry_views(
    session: AsyncSession,
    group: Group,
    entries: list[Any],
    fmt: Formatter,
    caller: Caller | None = None,
) -> list[EntryView]:
    """Entries as pages show them, with their receipts (linked for ``caller`` when they may
    read them; a steward also gets where to attach one)."""
    links = await ledger_queries.reversal_links(session, group, entries)
    authorised = await policies.authorities(session, group, entries)
    files = await attachments.by_entry(session, group, [entry.seq for entry in entries])
    readable = may_read_files(caller) if caller is not None else group.publish_receipts
    steward = caller is not None and caller.may("steward")
    return [
        entry_view(
            entry,
            fmt,
            links,
            authorised.get(entry.seq),
            [
                receipt_view(view, fmt, group.slug, readable=readable)
                for view in files.get(entry.seq, [])
            ],
            f"/m/{group.slug}/entries/{entry.seq}/receipts" if steward else None,
        )
        for entry in entries
    ]


class LedgerPages(Controller):
    include_in_schema = False
    opt = {COOKIE_FREE: True}
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/g/{group:str}/ledger", guards=[public_or_member], name="ledger")
    async def ledger(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        fund: Annotated[str, QueryParameter(max_length=64)] = "",
        kind: Annotated[str, QueryParameter(max_length=32)] = "",
        start: Annotated[str, QueryParameter(name="from", max_length=32)] = "",
        end: Annotated[str, QueryParameter(name="to", max_length=32)] = "",
        before: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        t = fmt.translate  # the filters' refusals read in the page's language
        funds = await service.list_funds(db_session, group)
        values = {"fund": fund, "kind": kind, "from": start, "to": end}
        errors: dict[str, str] = {}
        fund_row = next((f for f in funds if f.slug == fund), None)
        if fund and fund_row is None:
            errors["fund"] = t("Choose one of the group's funds.")
        if kind and kind not in ENTRY_KINDS:
            errors["kind"] = t("Choose one of the kinds listed.")
        dates: dict[str, date | None] = {}
        for name, text in (("from", start), ("to", end)):
            try:
                dates[name] = date.fromisoformat(text) if text else None
            except ValueError:
                errors[name] = t("Write the date as YYYY-MM-DD, e.g. 2026-03-31.")
                dates[name] = None
        if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
            errors["to"] = t("The end date is before the start date.")
        cursor: int | None = None
        if before:
            cursor = typed_number(before, MAX_SEQ)
            if cursor is None:
                errors["before"] = t("That page link is broken; start from the newest entries.")
        entries: list[EntryView] = []
        next_before: int | None = None
        # Filtered to one fund, each entry shows the fund's balance just after it.
        balances: dict[int, str] = {}
        if not errors:
            where = ledger_queries.LedgerFilter(fund_row, kind or None, dates["from"], dates["to"])
            rows, next_before = await ledger_queries.ledger_page(
                db_session, group, where, before=cursor, limit=ledger_queries.LEDGER_PAGE
            )
            entries = await entry_views(db_session, group, rows, fmt, caller)
            if fund_row is not None:
                after = await ledger_queries.running_balances(
                    db_session, fund_row, [row.seq for row in rows]
                )
                balances = {
                    seq: fmt.money(balance, fund_row.currency) for seq, balance in after.items()
                }
        filters = {k: v for k, v in values.items() if v and k not in errors}
        return page(
            request,
            "public/ledger.html",
            status_code=400 if errors else 200,
            group=group,
            fmt=fmt,
            caller=caller,
            funds=funds,
            kinds=[(k, t(KIND_LABELS[k])) for k in ENTRY_KINDS],
            values=values,
            errors=errors,
            filters=filters,
            filtered=bool(filters),
            entries=entries,
            balances=balances,
            balance_fund=fund_row.name if fund_row is not None else "",
            before=cursor,
            next_before=next_before,
        )


class LedgerForms(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/m/{group:str}/record/{kind:str}", guards=[member_with("steward")], name="record")
    async def record_form(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        kind: FromPath[str],
        recorded: Annotated[int | None, QueryParameter(ge=1, le=MAX_SEQ)] = None,
        seq: Annotated[int | None, QueryParameter(ge=1, le=MAX_SEQ)] = None,
        proposal: Annotated[int | None, QueryParameter(ge=1, le=MAX_SEQ)] = None,
        claim: Annotated[int | None, QueryParameter(ge=1, le=MAX_SEQ)] = None,
    ) -> Template:
        _check_kind(kind)
        form = Form(values={"form_id": new_form_id()})
        if kind == "payment" and claim is not None:
            # "Pay this claim" under the policy it was filed under: what it asks comes with it.
            found = await claims.get_claim(db_session, caller.group, claim)
            if found is not None and found.policy is not None:
                form.values.update(
                    claim=str(found.id),
                    policy=str(found.policy),
                    fund=found.fund,
                    amount=found.amount,
                    counterparty=found.counterparty,
                    memo=f"Claim {found.id}: {found.what_for}"[:500],
                )
        if kind == "reversal" and seq is not None:
            form.values["reverses"] = str(seq)
        if kind == "payment" and proposal is not None:
            # "Record a payment under this proposal": what the group decided comes with it.
            form.values["proposal"] = str(proposal)
            decision = await _decision_of(db_session, caller, form)
            if decision is not None:
                form.values["fund"] = decision.fund_slug
                form.values["amount"] = decision.left_to_pay
                form.values["counterparty"] = decision.counterparty or ""
        return await self._record_page(request, db_session, caller, kind, form, recorded=recorded)

    @post("/m/{group:str}/record/{kind:str}", guards=[member_with("steward")], name="record_submit")
    async def record(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        notary: CurrentNotary,
        kind: FromPath[str],
    ) -> Template | Redirect:
        _check_kind(kind)
        group = caller.group
        fields = (
            "fund",
            "from_fund",
            "to_fund",
            "amount",
            "occurred_on",
            "counterparty",
            "memo",
            "reverses",
            "form_id",
            "proposal",
            "policy",
            "thank_as",
            "claim",
            "place",
            "from_place",
            "to_place",
        )
        form = await read_form(request, fields)
        # A receipt may come with the entry: cleaned first, so a file that cannot be kept
        # sends the form back before anything is recorded.
        try:
            receipt = await receipt_of(request, settings_of(request).max_attachment_bytes)
        except LedgerError as error:
            form.fail("receipt", str(error))
            return await self._record_page(
                request, db_session, caller, kind, form, status=status_of(error)
            )
        funds = {f.slug: f for f in await service.list_funds(db_session, group)}
        today = utcnow().astimezone(Formatter.for_group(group, settings_of(request)).zone).date()
        decided_in = _decided_in(form) if kind == "payment" else None
        if kind == "payment" and decided_in is None and form.value("policy").lstrip("#"):
            policy_in = _policy_in(form)
            if policy_in is not None and not form.value("fund"):
                form.values["fund"] = next(
                    (
                        p.fund
                        for p in await _policies_in_force(db_session, group)
                        if p.number == policy_in
                    ),
                    "",
                )
        decision = await _decision_of(db_session, caller, form) if decided_in else None
        if decision is not None:
            # The decision says where the money goes; the form shows it and cannot change it
            # (the ledger refuses a fund or a recipient other than the decision's).
            form.values["fund"] = form.value("fund") or decision.fund_slug
            form.values["counterparty"] = form.value("counterparty") or (
                decision.counterparty or ""
            )
        # A donor who asked to be thanked by name: the name stays beside the log.
        thank_as = form.value("thank_as") if kind == "donation" else ""
        if thank_as:
            try:
                thank_as = giving.check_donor_name(thank_as)
            except InvalidInput as error:
                form.fail("thank_as", str(error))
        entry_in = entry_from_form(kind, form, funds, today, settings_of(request).date_window)
        if entry_in is None or not form.ok:
            return await self._record_page(request, db_session, caller, kind, form, status=422)
        if isinstance(entry_in, DisbursementIn):
            entry_in = msgspec.structs.replace(
                entry_in, proposal=decided_in, policy=_policy_in(form), claim=_claim_in(form)
            )
        form_id = form.value("form_id")
        record: dict[str, Any] = {
            "notary": notary,
            "authority": authorise_payment,
            "dates": settings_of(request).date_window,
        }
        try:
            if not FORM_ID.fullmatch(form_id):
                entry = await service.record_entry(
                    db_session, group, entry_in, recorded_by=caller.user_id, **record
                )
            else:
                # The same form sent twice (a double click, a retried request) records once.
                assert caller.user_id is not None  # the steward guard let a member in
                outcome = await record_entry_once(
                    db_session,
                    group,
                    entry_in,
                    key=f"web:{form_id}",
                    caller_id=caller.user_id,
                    **record,
                )
                if outcome.refusal is not None:
                    keep_changes(request)  # the form's first outcome, given again if resent
                    raise outcome.refusal
                assert outcome.entry is not None
                entry = outcome.entry
        except IdempotencyMismatch:
            form.values["form_id"] = new_form_id()
            form.fail(
                "",
                N_(
                    "This form was sent before with other details. Check them and send it "
                    "again to record a new entry."
                ),
            )
            return await self._record_page(request, db_session, caller, kind, form, status=409)
        except LedgerError as error:
            # Corrected and sent again, the form is a new request.
            form.values["form_id"] = new_form_id()
            form.fail_with(error, fields)
            return await self._record_page(
                request, db_session, caller, kind, form, status=status_of(error)
            )
        if thank_as:
            await giving.thank_donor(db_session, group, entry.seq, thank_as, user_id=caller.user_id)
        if receipt is not None:
            await attach_receipt(request, db_session, caller, entry.seq, receipt)
        await attach_claim_receipt(
            request,
            db_session,
            group,
            entry,
            caller.user_id,
            entry_in.claim if isinstance(entry_in, DisbursementIn) else None,
        )
        return _recorded(group.slug, kind, entry.seq)

    async def _record_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: Caller,
        kind: FromPath[str],
        form: Form,
        *,
        status: int = 200,
        recorded: int | None = None,
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        translate = translations(visitor_language(request)).gettext
        funds = await service.list_funds(db_session, group)
        committed = await committed_by_fund(db_session, group)
        done = await service.find_entry(db_session, group, recorded) if recorded else None
        payable = (
            payable_views(await proposal_queries.payable_proposals(db_session, group), fmt)
            if kind == "payment"
            else []
        )
        in_force = await _policies_in_force(db_session, group) if kind == "payment" else []
        places = await service.list_places(db_session, group)
        # One place: nobody chooses, and there is nothing to move money between.
        kinds = [(k, translate(KIND_LABELS[v])) for k, v in ENTRY_FORMS.items()]
        if len(places) < 2:
            kinds = [(k, label) for k, label in kinds if k != "move"]
        return page(
            request,
            "member/record.html",
            status_code=status,
            group=group,
            fmt=fmt,
            caller=caller,
            kind=kind,
            kinds=kinds,
            form=form,
            places=[place_view(p, fmt) for p in places],
            funds=[fund_view(f, fmt, committed.get(f.id, 0)) for f in funds],
            payable=payable,
            policies=[(str(p.number), policy_choice(p, fmt)) for p in in_force],
            decision=next(
                (p for p in payable if str(p.number) == form.value("proposal").lstrip("#")), None
            ),
            done=entry_view(done, fmt) if done else None,
            today=utcnow().astimezone(fmt.zone).date().isoformat(),
        )

    # --- receipts of an entry -----------------------------------------------------------

    @get(
        "/m/{group:str}/entries/{seq:int}/receipts", guards=[member_with("member")], name="receipts"
    )
    async def receipts_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        seq: Id,
    ) -> Template:
        return await self._receipts_page(request, db_session, caller, seq, Form(values={}))

    @post(
        "/m/{group:str}/entries/{seq:int}/receipts",
        guards=[member_with("steward")],
        name="receipts_attach",
    )
    async def attach_receipt_form(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        seq: Id,
    ) -> Template | Redirect:
        form = Form(values={}, language=visitor_language(request))
        await self._entry_with_receipts(db_session, caller, seq)
        try:
            receipt = await receipt_of(request, settings_of(request).max_attachment_bytes)
            if receipt is None:
                raise InvalidInput(N_("Choose the file of the receipt."), field="receipt")
            await attach_receipt(request, db_session, caller, seq, receipt)
        except LedgerError as error:
            form.fail("receipt", str(error))
            return await self._receipts_page(
                request, db_session, caller, seq, form, status=status_of(error)
            )
        return see_other(f"/m/{caller.group.slug}/entries/{seq}/receipts?attached=1")

    async def _entry_with_receipts(self, db_session: AsyncSession, caller: Caller, seq: int) -> Any:
        entry = await service.find_entry(db_session, caller.group, seq)
        if entry is None or entry.kind == ATTACHMENT:
            raise NotFoundException(f"{caller.group.slug!r} has no entry {seq}.")
        return entry

    async def _receipts_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        seq: int,
        form: Form,
        *,
        status: int = 200,
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        entry = await self._entry_with_receipts(db_session, caller, seq)
        (view,) = await entry_views(db_session, group, [entry], fmt, caller)
        return page(
            request,
            "member/receipts.html",
            status_code=status,
            group=group,
            fmt=fmt,
            caller=caller,
            entry=view,
            form=form,
            steward=caller.may("steward"),
            attached=request.query_params.get("attached") == "1",
            limit=size_text(settings_of(request).max_attachment_bytes),
        )

    # --- places (stewards) ---------------------------------------------------------------

    @get("/m/{group:str}/places/new", guards=[member_with("steward")], name="place_form")
    async def place_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        return await self._place_page(request, db_session, caller, Form())

    @post("/m/{group:str}/places/new", guards=[member_with("steward")], name="place_submit")
    async def create_place(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, ("name", "slug"))
        name = _typed_name(form, "name", N_("Give the place a name, such as Cash box."))
        slug = form.value("slug") or _slugify(name)
        form.values["slug"] = slug
        if form.ok:
            try:
                await service.create_place(db_session, caller.group, PlaceIn(slug=slug, name=name))
            except LedgerError as error:
                form.fail_with(error, ("name", "slug"))
        if not form.ok:
            return await self._place_page(request, db_session, caller, form, status=422)
        return see_other(f"/m/{caller.group.slug}/places/new?added={slug}")

    @post("/m/{group:str}/places/rename", guards=[member_with("steward")], name="place_rename")
    async def rename_place(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await _renamed(
            request,
            "place",
            N_("Choose the place to rename."),
            N_("Give the place a name, such as Cash box."),
            lambda slug, name: service.rename_place(db_session, caller.group, slug, name),
        )
        if not form.ok:
            return await self._place_page(
                request,
                db_session,
                caller,
                Form(language=visitor_language(request)),
                rename_form=form,
                status=422,
            )
        return see_other(f"/m/{caller.group.slug}/places/new?renamed=1#rename")

    @post(
        "/m/{group:str}/places/{place:str}/reconciliations",
        guards=[member_with("steward")],
        name="reconcile_submit",
    )
    async def reconcile(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
    ) -> Template | Redirect:
        """Close the place's reconciliation with its bank (``ledger.reconciliation``); the
        rule's refusals are shown in the form, at their field."""
        form = await read_form(request, ("through", "closing_balance"))
        form.values["place"] = place
        through = None
        try:
            through = date.fromisoformat(form.value("through"))
        except ValueError:
            form.fail("through", N_("Give the day as the calendar shows it (YYYY-MM-DD)."))
        if through is not None:
            try:
                await reconciliation.close(
                    db_session,
                    caller.group,
                    place,
                    through,
                    form.amount("closing_balance"),
                    recorded_by=caller.user_id,
                    notary=request.app.state.notary,
                )
            except LedgerError as error:
                form.fail_with(error, ("through", "closing_balance"))
        if not form.ok:
            return await self._place_page(
                request, db_session, caller, Form(), reconcile_form=form, status=422
            )
        return see_other(f"/m/{caller.group.slug}/places/new?reconciled={place}")

    async def _place_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: Caller,
        form: Form,
        *,
        reconcile_form: Form | None = None,
        rename_form: Form | None = None,
        status: int = 200,
    ) -> Template:
        fmt = visitor_formatter(request, caller.group)
        places = await service.list_places(db_session, caller.group)
        standings = await reconciliation.standings(db_session, caller.group, utcnow().date())
        # The close form: for the place asked for (a statement page's link) or the first
        # with statements, filled in from its latest statement's closing day and balance.
        with_statements = [s.place for s in standings if s.has_statements]
        if reconcile_form is None:
            asked = request.query_params.get("reconcile")
            chosen = next((p for p in with_statements if p.slug == asked), None) or next(
                iter(with_statements), None
            )
            reconcile_form = Form(language=visitor_language(request))
            if chosen is not None:
                reconcile_form.values["place"] = chosen.slug
                latest = await bank.latest_statement(db_session, chosen)
                if latest is not None:
                    day = reconciliation.closing_day(latest)
                    reconcile_form.values["through"] = day.isoformat() if day else ""
                    if latest.closing is not None:
                        reconcile_form.values["closing_balance"] = format_amount(
                            latest.closing, chosen.currency
                        )
        return page(
            request,
            "member/place.html",
            status_code=status,
            group=caller.group,
            caller=caller,
            form=form,
            fmt=fmt,
            places=[place_view(p, fmt) for p in places],
            added=request.query_params.get("added"),
            reconciled=request.query_params.get("reconciled"),
            standings=[standing_view(s, fmt) for s in standings],
            reconcile_form=reconcile_form,
            reconcilable=[(p.slug, p.name) for p in with_statements],
            rename_form=rename_form or Form(language=visitor_language(request)),
            place_choices=[(p.slug, p.name) for p in places],
            renamed=request.query_params.get("renamed"),
        )

    # --- funds (stewards) ----------------------------------------------------------------

    @get("/m/{group:str}/funds/new", guards=[member_with("steward")], name="fund_form")
    async def fund_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        return await self._fund_page(request, db_session, caller, Form())

    @post("/m/{group:str}/funds/rename", guards=[member_with("steward")], name="fund_rename")
    async def rename_fund(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await _renamed(
            request,
            "fund",
            N_("Choose the fund to rename."),
            N_("Give the fund a name, such as Rent relief."),
            lambda slug, name: service.rename_fund(db_session, caller.group, slug, name),
        )
        if not form.ok:
            return await self._fund_page(
                request,
                db_session,
                caller,
                Form(language=visitor_language(request)),
                rename_form=form,
                status=422,
            )
        return see_other(f"/m/{caller.group.slug}/funds/new?renamed=1#rename")

    async def _fund_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: Caller,
        form: Form,
        *,
        rename_form: Form | None = None,
        status: int = 200,
    ) -> Template:
        funds = await service.list_funds(db_session, caller.group)
        return page(
            request,
            "member/fund.html",
            status_code=status,
            group=caller.group,
            caller=caller,
            form=form,
            rename_form=rename_form or Form(language=visitor_language(request)),
            fund_choices=[(fund.slug, fund.name) for fund in funds],
            renamed=request.query_params.get("renamed"),
        )

    @post("/m/{group:str}/funds/new", guards=[member_with("steward")], name="fund_submit")
    async def create_fund(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, ("name", "slug", "allow_negative"))
        name = _typed_name(form, "name", N_("Give the fund a name, such as Rent relief."))
        slug = form.value("slug") or _slugify(name)
        form.values["slug"] = slug
        if form.ok:
            try:
                await service.create_fund(
                    db_session,
                    caller.group,
                    FundIn(
                        slug=slug, name=name, allow_negative=form.value("allow_negative") == "on"
                    ),
                )
            except LedgerError as error:
                form.fail_with(error, ("name", "slug"))
        if not form.ok:
            return await self._fund_page(request, db_session, caller, form, status=422)
        return see_other(f"/m/{caller.group.slug}?fund={slug}")


async def receipt_of(request: Request[Any, Any, Any], limit: int) -> CleanFile | None:
    """The receipt a page's form sent (the field ``receipt``), cleaned; None when the form
    came without one (a browser sends an empty file then)."""
    upload = (await request.form()).get("receipt")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await cleaned(await read_upload(upload, limit))


async def attach_receipt(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    caller: Caller,
    seq: int,
    receipt: CleanFile,
) -> None:
    _, new = await attachments.attach(
        session,
        caller.group,
        seq,
        receipt,
        recorded_by=caller.user_id,
        notary=request.app.state.notary,
    )
    if new:
        await keep(store_of(request), receipt)


def _typed_name(form: Form, field: str, missing: str) -> str:
    """A fund's or a place's name as typed in ``field``, its spaces tidied; the field's
    error (``missing`` when it is empty) when it is empty or too long."""
    name = " ".join(form.value(field).split())
    if not name:
        form.fail(field, missing)
    elif len(name) > 120:
        form.fail(field, N_("Keep the name to 120 characters or fewer."))
    return name


async def _renamed(
    request: Request[Any, Any, Any],
    field: str,
    choose: str,
    missing: str,
    rename: Callable[[str, str], Awaitable[object]],
) -> Form:
    """The rename form of a fund or a place (``field`` names which one; ``new_name`` is the
    name), checked and, when it holds, ``rename(slug, name)`` done; the form says how it
    went (its errors on their fields)."""
    form = await read_form(request, (field, "new_name"))
    if not form.value(field):
        form.fail(field, choose)
    name = _typed_name(form, "new_name", missing)
    if form.ok:
        try:
            await rename(form.value(field), name)
        except LedgerError as error:
            form.fail_with(error, (field, "new_name"))
    return form


def _recorded(slug: str, kind: str, seq: int) -> Redirect:
    return see_other(f"/m/{slug}/record/{kind}?recorded={seq}")


def _policy_in(form: Form) -> int | None:
    """The spending policy a payment is made under (the ledger checks its limits)."""
    text = form.value("policy").lstrip("#")
    if not text:
        return None
    number = typed_number(text, MAX_SEQ)
    if number is None:
        form.fail("policy", N_("Choose one of the policies listed."))
    return number


def _claim_in(form: Form) -> int | None:
    """The claim a payment under a policy pays back (the ledger checks it is that claim)."""
    text = form.value("claim")
    return typed_number(text, MAX_SEQ)


async def _policies_in_force(db_session: AsyncSession, group: Group) -> list[PolicyOut]:
    return [
        policy
        for policy in await policies.policies_out(db_session, group, utcnow().date())
        if policy.status == policies.IN_FORCE
    ]


def _decided_in(form: Form) -> int | None:
    """The proposal a payment is made under (the ledger checks what it authorises)."""
    text = form.value("proposal").lstrip("#")
    if not text:
        return None
    number = typed_number(text, MAX_SEQ)
    if number is None:
        form.fail("proposal", N_("Choose one of the proposals listed."))
    return number


async def _decision_of(
    db_session: AsyncSession, caller: Caller, form: Form
) -> PayableProposal | None:
    """The chosen proposal, when it is one still waiting for payment."""
    payable = await proposal_queries.payable_proposals(db_session, caller.group)
    for view in payable_views(payable, Formatter()):
        if str(view.number) == form.value("proposal").lstrip("#"):
            return view
    return None


def _check_kind(kind: str) -> None:

    if kind not in ENTRY_FORMS:
        raise NotFoundException(f"There is no form for {kind!r}.")


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if slug and not slug[0].isalpha():
        slug = "fund-" + slug
    return slug[:64].rstrip("-")

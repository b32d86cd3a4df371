"""The members' pages of decisions: propose, read a proposal, respond, amend, close a round,
withdraw; and how a member hears of new proposals and requests (notification settings).

Each action is a form of its own: CSRF, errors next to the fields with the input kept, then
a 303 to the proposal's page. The rules live in ``proposals.service``; these pages only call
it and show its answers (a refusal of the service for the caller's role is a 403 page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.exceptions import PermissionDeniedException
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Caller, provide_caller
from app.deps import CurrentCaller, DbSession, ProposalNumber
from app.errors import status_of
from app.guards import member_with
from app.mail import SmtpSettings
from app.web import proposal_views
from app.web.forms import Form, read_form
from app.web.markdown import render_markdown
from app.web.templating import Formatter, page, see_other
from ledger import service as ledger_service
from ledger.errors import LedgerError
from ledger.groups import utcnow
from ledger.models import Fund, Group
from ledger.money import format_amount
from proposals import notify, rules, service, views
from proposals.errors import NotAllowed
from proposals.labels import POSITION_LABELS, STATUS_LABELS
from proposals.models import NotificationPreference, Proposal
from proposals.schemas import AmendmentIn, ProposalIn

# The API's limits (``proposals.schemas``), said in words next to the field.
TITLE_MAX = 200
BODY_MAX = 20_000
REASON_MAX = 5_000
COUNTERPARTY_MAX = 64

PROPOSE_FIELDS = ("title", "body", "fund", "amount", "counterparty", "closes_at")
RESPOND_FIELDS = ("position", "reason")
# The amendment's reason has a name of its own: the response form's reason is on the page too.
AMEND_FIELDS = ("title", "body", "fund", "amount", "counterparty", "amend_reason")
AMEND_FIELD_OF = {"reason": "amend_reason"}

DONE_MESSAGES = {
    "proposed": "Your proposal is open. The members have been told it awaits their response.",
    "responded": "Your response was recorded. You can change it while the round is open.",
    "amended": "The proposal was amended.",
    "closed": "The round was closed.",
    "withdrawn": "The proposal was withdrawn.",
}
MODE_LABELS = {
    "none": "No e-mail: I read them on my dashboard",
    "each": "An e-mail for each one",
    "daily": "One e-mail a day with all of them (a daily digest)",
}


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


def author_or_facilitator(proposal: Proposal, caller: Caller) -> bool:
    """Who may amend (``service.amend`` decides; the pages use it to offer the form and to
    refuse others with a 403 before reading theirs)."""
    return proposal.author_id == caller.user_id or caller.may("facilitator")


@dataclass(frozen=True, slots=True)
class Payment:
    """The money of a passed proposal: authorised, paid so far and left to pay."""

    authorised: str
    paid: str
    left: str
    left_minor: int


def _limited(
    form: Form, name: str, limit: int, *, required: str = "", one_line: bool = False
) -> str:
    text = form.value(name).replace("\r\n", "\n")
    if required and not text:
        form.fail(name, required)
    if len(text) > limit:
        form.fail(name, f"Keep this to {limit:,} characters or fewer (it has {len(text):,}).")
    if one_line and "\n" in text:
        form.fail(name, "Write this on one line.")
    return text


def _deadline(form: Form, zone: tzinfo) -> datetime | None:
    """The typed deadline, in the group's time zone unless it names one."""
    text = form.value("closes_at")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        form.fail("closes_at", "Write the deadline as YYYY-MM-DD HH:MM, e.g. 2026-03-31 18:00.")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the last moments of year 9999, west of Greenwich
        form.fail("closes_at", "Choose a deadline in the next few months.")
        return None


def proposal_from_form(form: Form, zone: tzinfo) -> ProposalIn | None:
    """The proposal the form asks for, or None with the form's errors filled in. Amounts,
    funds and deadlines are checked by the service, which names the field."""
    title = _limited(form, "title", TITLE_MAX, required="Give the proposal a title.")
    body = _limited(form, "body", BODY_MAX)
    counterparty = _limited(form, "counterparty", COUNTERPARTY_MAX, one_line=True)
    closes_at = _deadline(form, zone)
    if not form.ok:
        return None
    return ProposalIn(
        title=title,
        body=body,
        fund=form.value("fund") or None,
        amount=form.value("amount") or None,
        counterparty=counterparty or None,
        closes_at=closes_at,
    )


def amendment_from_form(form: Form, before: Proposal) -> AmendmentIn | None:
    version = service.current_version(before)
    title = _limited(form, "title", TITLE_MAX, required="Keep a title for the proposal.")
    body = _limited(form, "body", BODY_MAX)
    counterparty = _limited(form, "counterparty", COUNTERPARTY_MAX, one_line=True)
    reason = _limited(
        form, "amend_reason", REASON_MAX, required="Say why you amend it: what does it answer?"
    )
    fund, amount = form.value("fund"), form.value("amount")
    if version.fund is not None and not (fund and amount):
        # An amendment changes the money; it cannot take it away (the service keeps it).
        form.fail(
            "amount" if fund else "fund",
            "A proposal to pay money keeps a fund and an amount. To ask for no money, "
            "withdraw it and propose again.",
        )
    if not form.ok:
        return None
    return AmendmentIn(
        reason=reason,
        title=title,
        body=body,
        fund=fund or None,
        amount=amount or None,
        counterparty=counterparty,
    )


def _amend_values(proposal: Proposal) -> dict[str, str]:
    version = service.current_version(proposal)
    return {
        "title": version.title,
        "body": version.body,
        "fund": version.fund.slug if version.fund else "",
        "amount": format_amount(version.amount, version.fund.currency)
        if version.fund is not None and version.amount is not None
        else "",
        "counterparty": version.counterparty or "",
    }


class MemberProposalPages(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    # --- proposing -----------------------------------------------------------------------

    @get("/m/{group:str}/proposals/new", guards=[member_with("member")], name="propose_form")
    async def propose_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        return await self._propose_page(request, db_session, caller, Form())

    @post("/m/{group:str}/proposals/new", guards=[member_with("member")], name="propose")
    async def propose(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, PROPOSE_FIELDS)
        fmt = Formatter.for_group(caller.group, _settings(request))
        data = proposal_from_form(form, fmt.zone)
        if data is None:
            return await self._propose_page(request, db_session, caller, form, status=422)
        try:
            proposal = await service.create_proposal(
                db_session, caller.group, caller.logged_in_user, data
            )
        except LedgerError as error:
            form.fail_with(error, PROPOSE_FIELDS)
            await self._explain_deadline(db_session, caller, form, fmt)
            return await self._propose_page(
                request, db_session, caller, form, status=status_of(error)
            )
        return see_other(f"/m/{caller.group.slug}/proposals/{proposal.number}?done=proposed")

    async def _explain_deadline(
        self, db_session: AsyncSession, caller: Caller, form: Form, fmt: Formatter
    ) -> None:
        """Say the service's refusal of a deadline in the group's time, not in UTC."""
        if "closes_at" not in form.errors:
            return
        group_rules, _ = await service.get_rules(db_session, caller.group)
        earliest = rules.earliest_close_at(group_rules, utcnow())
        form.errors["closes_at"] = (
            f"A round stays open at least {group_rules.min_open_hours} hours: choose a "
            f"deadline after {fmt.moment(earliest)}."
        )

    async def _propose_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        form: Form,
        *,
        status: int = 200,
    ) -> Template:
        group = caller.group
        group_rules, _ = await service.get_rules(db_session, group)
        return page(
            request,
            "member/propose.html",
            status_code=status,
            group=group,
            caller=caller,
            form=form,
            fund_options=await _fund_options(db_session, caller),
            min_open_hours=group_rules.min_open_hours,
            zone=Formatter.for_group(group, _settings(request)).zone_name(),
        )

    # --- a proposal ----------------------------------------------------------------------

    @get(
        "/m/{group:str}/proposals/{number:int}",
        guards=[member_with("member")],
        name="member_proposal",
        closes_due_rounds=True,
    )
    async def proposal(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        return await self._proposal_page(
            request, db_session, caller, number, done=DONE_MESSAGES.get(done, "")
        )

    @post(
        "/m/{group:str}/proposals/{number:int}/respond",
        guards=[member_with("member")],
        name="member_respond",
    )
    async def respond(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Template | Redirect:
        form = await read_form(request, RESPOND_FIELDS)
        reason = _limited(form, "reason", REASON_MAX)
        if form.value("position") not in POSITION_LABELS:
            form.fail("position", "Choose your response.")
        status = 422
        if form.ok:
            try:
                await service.respond(
                    db_session,
                    caller.group,
                    number,
                    caller.logged_in_user,
                    form.value("position"),
                    reason,
                )
            except LedgerError as error:
                status = status_of(error)
                form.fail_with(error, RESPOND_FIELDS)
        if not form.ok:
            return await self._proposal_page(
                request, db_session, caller, number, respond_form=form, status=status
            )
        return await _done(db_session, caller, number, "responded")

    @post(
        "/m/{group:str}/proposals/{number:int}/amend",
        guards=[member_with("member")],
        name="member_amend",
    )
    async def amend(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Template | Redirect:
        proposal = await service.get_proposal(db_session, caller.group, number)
        if not author_or_facilitator(proposal, caller):
            raise PermissionDeniedException(
                "Only the author or a facilitator can amend a proposal."
            )
        form = await read_form(request, AMEND_FIELDS)
        data = amendment_from_form(form, proposal)
        status = 422
        if data is not None:
            assert caller.membership is not None
            try:
                await service.amend(
                    db_session, caller.group, number, caller.logged_in_user, caller.membership, data
                )
            except NotAllowed as error:
                raise PermissionDeniedException(str(error)) from error
            except LedgerError as error:
                status = status_of(error)
                field = AMEND_FIELD_OF.get(error.field or "", error.field or "")
                form.fail(field if field in AMEND_FIELDS else "", str(error))
        if not form.ok:
            return await self._proposal_page(
                request, db_session, caller, number, amend_form=form, status=status
            )
        return await _done(db_session, caller, number, "amended")

    @post(
        "/m/{group:str}/proposals/{number:int}/close",
        guards=[member_with("facilitator")],
        name="member_close",
    )
    async def close(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Template | Redirect:
        try:
            await service.close(db_session, caller.group, number)
        except LedgerError as error:
            form = Form()
            form.fail("close", str(error))
            return await self._proposal_page(
                request, db_session, caller, number, action_form=form, status=status_of(error)
            )
        return await _done(db_session, caller, number, "closed")

    @post(
        "/m/{group:str}/proposals/{number:int}/withdraw",
        guards=[member_with("member")],
        name="member_withdraw",
    )
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Template | Redirect:
        try:
            await service.withdraw(db_session, caller.group, number, caller.logged_in_user)
        except NotAllowed as error:
            raise PermissionDeniedException(str(error)) from error
        except LedgerError as error:
            form = Form()
            form.fail("withdraw", str(error))
            return await self._proposal_page(
                request, db_session, caller, number, action_form=form, status=status_of(error)
            )
        return await _done(db_session, caller, number, "withdrawn")

    async def _proposal_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        number: int,
        *,
        respond_form: Form | None = None,
        amend_form: Form | None = None,
        action_form: Form | None = None,
        status: int = 200,
        done: str = "",
    ) -> Template:
        group = caller.group
        fmt = Formatter.for_group(group, _settings(request))
        proposal = await service.get_proposal(db_session, group, number)
        shown = await views.proposal_out(db_session, group, proposal, show_names=True)
        version = service.current_version(proposal)
        round_ = service.current_round(proposal)
        round_out = shown.rounds[-1]
        mine = next(
            (
                r
                for r in await service.latest_responses(db_session, round_)
                if r.user_id == caller.user_id
            ),
            None,
        )
        round_open = proposal.status == "open" and round_.closed_at is None
        payment = await _payment(db_session, group, proposal, fmt)
        return page(
            request,
            "member/proposal.html",
            status_code=status,
            group=group,
            caller=caller,
            fmt=fmt,
            proposal=proposal,
            shown=shown,
            version=version,
            money=proposal_views.money_text(version, fmt),
            body=render_markdown(version.body),
            this_round=round_out,
            round_open=round_open,
            earliest_close=fmt.moment(
                rules.earliest_close_at(service.rules_of(round_), round_.opened_at)
            ),
            status_label=STATUS_LABELS.get(proposal.status, proposal.status),
            positions=POSITION_LABELS,
            mine=mine,
            may_respond=round_open and caller.user_id in service.eligible_of(round_),
            may_amend=proposal.status in ("open", "blocked")
            and author_or_facilitator(proposal, caller),
            may_close=round_open and caller.may("facilitator"),
            may_withdraw=proposal.status in ("open", "blocked")
            and proposal.author_id == caller.user_id,
            may_pay=caller.may("steward") and payment is not None and payment.left_minor > 0,
            payment=payment,
            respond_form=respond_form or Form(),
            amend_form=amend_form or Form(values=_amend_values(proposal)),
            action_form=action_form or Form(),
            fund_options=await _fund_options(db_session, caller),
            done=done,
        )

    # --- notification settings -----------------------------------------------------------

    @get(
        "/m/{group:str}/notifications",
        guards=[member_with("member")],
        name="notification_settings",
    )
    async def notification_settings(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        row = await db_session.get(NotificationPreference, (caller.group.id, caller.user_id))
        form = Form(values={"mode": row.mode if row else "none"})
        return self._notifications_page(request, caller, form, saved=done == "saved")

    @post(
        "/m/{group:str}/notifications",
        guards=[member_with("member")],
        name="notification_settings_submit",
    )
    async def save_notification_settings(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, ("mode",))
        if not form.value("mode"):
            form.fail("mode", "Choose how you want to hear of them.")
        else:
            try:
                await notify.set_mode(
                    db_session, caller.group, caller.logged_in_user.id, form.value("mode")
                )
            except LedgerError as error:
                form.fail_with(error, ("mode",))
        if not form.ok:
            return self._notifications_page(request, caller, form, status=422)
        return see_other(f"/m/{caller.group.slug}/notifications?done=saved")

    def _notifications_page(
        self,
        request: Request[Any, Any, Any],
        caller: Caller,
        form: Form,
        *,
        status: int = 200,
        saved: bool = False,
    ) -> Template:
        return page(
            request,
            "member/notifications.html",
            status_code=status,
            group=caller.group,
            caller=caller,
            form=form,
            modes=MODE_LABELS,
            # Stewards, facilitators and admins hear of new requests (``notify_stewards``).
            hears_of_requests=caller.may("steward") or caller.may("facilitator"),
            mail_sent=SmtpSettings.from_settings(_settings(request)) is not None,
            saved=saved,
        )


async def _fund_options(db_session: AsyncSession, caller: Caller) -> list[tuple[str, str]]:
    funds: list[Fund] = await ledger_service.list_funds(db_session, caller.group)
    return [(fund.slug, fund.name) for fund in funds]


async def _payment(
    db_session: AsyncSession, group: Group, proposal: Proposal, fmt: Formatter
) -> Payment | None:
    version = service.current_version(proposal)
    if proposal.status != "passed" or version.fund is None or version.amount is None:
        return None
    paid = (await service.paid(db_session, group, [proposal.number])).get(proposal.number, 0)
    left = max(version.amount - paid, 0)
    currency = version.fund.currency
    return Payment(
        authorised=fmt.money(version.amount, currency),
        paid=fmt.money(paid, currency),
        left=fmt.money(left, currency),
        left_minor=left,
    )


async def _done(db_session: AsyncSession, caller: Caller, number: int, what: str) -> Redirect:
    return see_other(f"/m/{caller.group.slug}/proposals/{number}?done={what}")

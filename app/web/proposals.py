"""Proposals as pages: the public list and a proposal's page (with its decision record as a
PDF); the members' forms to propose, respond, amend, close a round and withdraw; and the
admins' decision rules.

Each action is a form of its own: CSRF, errors next to the fields with the input kept, then
a 303 to the proposal's page. The rules live in ``proposals.service``; these pages only call
it and show its answers (a refusal of the service for the caller's role is a 403 page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.attachments import keep, store_of
from app.api.claims import claim_in, policy_number
from app.auth import (
    Caller,
    provide_caller,
)
from app.deps import (
    CurrentCaller,
    DbSession,
    Id,
    ProposalNumber,
    settings_of,
)
from app.documents.proposal import proposal_record_response
from app.errors import status_of
from app.guards import member_with, public_or_member
from app.i18n import translations
from app.jobs import send_mail_soon
from app.presenters.discussion import comment_count, comment_views
from app.presenters.formatting import Formatter
from app.presenters.ledger import entry_view, size_text
from app.presenters.markdown import render_markdown
from app.presenters.proposals import (
    PolicyView,
    decision_notes,
    money_text,
    next_step,
    policy_choice,
    policy_view,
    proposal_lines,
    proposal_page,
)
from app.web.forms import (
    Form,
    read_form,
    said,
    typed_number,
)
from app.web.language import visitor_formatter, visitor_language
from app.web.ledger import entry_views, receipt_of
from app.web.security import COOKIE_FREE
from app.web.templating import page, see_other, settings_page
from ledger import attachments as ledger_attachments
from ledger import groups
from ledger import queries as ledger_queries
from ledger import service as ledger_service
from ledger.errors import Erased, InvalidInput, LedgerError
from ledger.groups import utcnow
from ledger.models import Fund, Group
from ledger.money import format_amount
from ledger.schemas import MAX_ID
from ledger.words import N_, Nn_, Words
from proposals import claims, discussion, notify, policies, pseudonyms, rules, service
from proposals import queries as proposal_queries
from proposals import rules as decision_rules
from proposals import service as proposals
from proposals.errors import NotAllowed
from proposals.labels import POSITION_LABELS, STATUS_LABELS
from proposals.models import Claim, Proposal, Round
from proposals.schemas import AmendmentIn, PolicyIn, ProposalIn

OPEN_PROPOSALS = 100
# A proposal's page is /proposals/12, its decision record /proposals/12.pdf.
MAX_PROPOSAL = 999_999_999
PROPOSAL_PATH = re.compile(r"([1-9][0-9]{0,8})(\.pdf)?")

TITLE_MAX = 200
BODY_MAX = 20_000
REASON_MAX = 5_000
COUNTERPARTY_MAX = 64

PROPOSE_FIELDS = ("title", "body", "fund", "amount", "counterparty", "closes_at", "urgent")
# A claim to be paid back; its receipt comes as the file "receipt".
CLAIM_FIELDS = ("fund", "amount", "what_for", "body", "policy")
RESPOND_FIELDS = ("position", "reason")
# The amendment's reason has a name of its own: the response form's reason is on the page too.
AMEND_FIELDS = ("title", "body", "fund", "amount", "counterparty", "amend_reason")
AMEND_FIELD_OF = {"reason": "amend_reason"}

COMMENT_MAX = 10_000
COMMENT_FIELDS = ("body", "reply_to")
HIDE_FIELDS = ("reason",)

DONE_MESSAGES = {
    "commented": N_("Your comment is in the discussion."),
    "edited": N_("Your comment was edited; its earlier text stays readable."),
    "hidden": N_("The comment was hidden; the discussion shows why."),
    "reminded": N_("The members who had not responded were reminded (each once per round)."),
    "nobody_to_remind": N_("Everyone who has not responded was reminded already in this round."),
    "proposed": N_("Your proposal is open. The members have been told it awaits their response."),
    "responded": N_("Your response was recorded. You can change it while the round is open."),
    "amended": N_("The proposal was amended."),
    "closed": N_("The round was closed."),
    "withdrawn": N_("The proposal was withdrawn."),
}


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
        form.fail(
            name,
            N_("Keep this to %(limit)s characters or fewer (it has %(count)s)."),
            limit=f"{limit:,}",
            count=f"{len(text):,}",
        )
    if one_line and "\n" in text:
        form.fail(name, N_("Write this on one line."))
    return text


def _deadline(form: Form, zone: tzinfo) -> datetime | None:
    """The typed deadline, in the group's time zone unless it names one."""
    text = form.value("closes_at")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        form.fail("closes_at", N_("Write the deadline as YYYY-MM-DD HH:MM, e.g. 2026-03-31 18:00."))
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the last moments of year 9999, west of Greenwich
        form.fail("closes_at", N_("Choose a deadline in the next few months."))
        return None


def proposal_from_form(form: Form, zone: tzinfo) -> ProposalIn | None:
    """The proposal the form asks for, or None with the form's errors filled in. Amounts,
    funds and deadlines are checked by the service, which names the field."""
    title = _limited(form, "title", TITLE_MAX, required=N_("Give the proposal a title."))
    body = _limited(form, "body", BODY_MAX)
    counterparty = _limited(form, "counterparty", COUNTERPARTY_MAX, one_line=True)
    closes_at = _deadline(form, zone)
    if not form.ok:
        return None
    return ProposalIn(
        title=title,
        body=body,
        fund=form.value("fund") or None,
        amount=form.amount("amount") or None,
        counterparty=counterparty or None,
        closes_at=closes_at,
        urgent=form.value("urgent") == "on",
    )


POLICY_FIELDS = (
    "title",
    "body",
    "fund",
    "max_per_payment",
    "max_per_month",
    "purpose",
    "ends_on",
    "replaces",
    "end",
    "closes_at",
    "reimbursements",
)


def policy_from_form(form: Form, zone: tzinfo) -> ProposalIn | None:
    """The policy proposal the form asks for, or None with the form's errors filled in;
    amounts, the fund and the policy it replaces are checked by the service."""
    title = _limited(form, "title", TITLE_MAX, required=N_("Give the policy a title."))
    body = _limited(form, "body", BODY_MAX)
    purpose = _limited(form, "purpose", policies.PURPOSE_MAX, one_line=True)
    closes_at = _deadline(form, zone)
    ends_on: date | None = None
    if form.value("ends_on"):
        try:
            ends_on = date.fromisoformat(form.value("ends_on"))
        except ValueError:
            form.fail("ends_on", N_("Write the date as YYYY-MM-DD, e.g. 2026-12-31."))
    replaces: int | None = None
    if form.value("replaces"):
        replaces = typed_number(form.value("replaces").lstrip("#"), MAX_PROPOSAL)
        if replaces is None:
            form.fail("replaces", N_("Choose one of the policies listed."))
    end = form.value("end") == "on"
    if not form.ok:
        return None
    terms = (
        PolicyIn(replaces=replaces, end=True)
        if end
        else PolicyIn(
            fund=form.value("fund") or None,
            max_per_payment=form.amount("max_per_payment") or None,
            max_per_month=form.amount("max_per_month") or None,
            purpose=purpose or None,
            ends_on=ends_on,
            replaces=replaces,
            reimbursements=form.value("reimbursements") == "on",
        )
    )
    return ProposalIn(title=title, body=body, kind="policy", policy=terms, closes_at=closes_at)


def amendment_from_form(form: Form, before: Proposal) -> AmendmentIn | None:
    version = service.current_version(before)
    title = _limited(form, "title", TITLE_MAX, required=N_("Keep a title for the proposal."))
    body = _limited(form, "body", BODY_MAX)
    counterparty = _limited(form, "counterparty", COUNTERPARTY_MAX, one_line=True)
    reason = _limited(
        form, "amend_reason", REASON_MAX, required=N_("Say why you amend it: what does it answer?")
    )
    fund, amount = form.value("fund"), form.amount("amount")
    if version.fund is not None and not (fund and amount):
        # An amendment changes the money; it cannot take it away (the service keeps it).
        form.fail(
            "amount" if fund else "fund",
            N_(
                "A proposal to pay money keeps a fund and an amount. To ask for no money, "
                "withdraw it and propose again."
            ),
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


class ProposalPages(Controller):
    include_in_schema = False
    opt = {COOKIE_FREE: True}
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/g/{group:str}/proposals",
        guards=[public_or_member],
        name="proposals",
        closes_due_rounds=True,
    )
    async def proposals(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        before: Annotated[str, QueryParameter(max_length=12)] = "",
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        cursor: int | None = None
        if before:
            cursor = typed_number(before, MAX_PROPOSAL)
            if cursor is None:
                raise NotFoundException("That page link is broken; start from the newest.")
        closed, next_before = await proposal_queries.closed_proposals(
            db_session, group, before=cursor, limit=proposal_queries.PROPOSALS_PAGE
        )
        open_now = (
            []
            if cursor
            else await proposal_queries.open_proposals(db_session, group, limit=OPEN_PROPOSALS)
        )
        live = await proposal_queries.live_tallies(db_session, group, open_now)
        return page(
            request,
            "public/proposals.html",
            group=group,
            fmt=fmt,
            caller=caller,
            policies=[] if cursor else await _policy_views(db_session, group, fmt, names=False),
            open_proposals=proposal_lines(open_now, live, fmt),
            closed=proposal_lines(closed, {}, fmt),
            before=cursor,
            next_before=next_before,
        )

    @get(
        "/g/{group:str}/policies/{number:int}",
        guards=[public_or_member],
        name="policy",
        closes_due_rounds=True,
    )
    async def policy(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Template:
        """A spending policy: its terms, this month's room, every payment made under it."""
        group = caller.group
        fmt = visitor_formatter(request, group)
        names = await proposal_queries.names_visible(
            db_session, group, member=caller.membership is not None
        )
        found = [
            v for v in await _policy_views(db_session, group, fmt, names) if v.number == number
        ]
        if not found:
            raise NotFoundException(f"Group {group.slug!r} has adopted no policy {number}.")
        payments = await policies.policy_payments(db_session, group, number)
        adopted = await policies.policies(db_session, group, utcnow().date())
        return page(
            request,
            "public/policy.html",
            group=group,
            fmt=fmt,
            caller=caller,
            policy=found[0],
            pays_claims=any(p.number == number and p.pays_claims for p in adopted),
            payments=await entry_views(db_session, group, payments, fmt, caller),
        )

    @get(
        "/g/{group:str}/proposals/{number:str}",
        guards=[public_or_member],
        name="proposal",
        closes_due_rounds=True,
    )
    async def proposal(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: Annotated[str, PathParameter()],
    ) -> Response[Any]:
        """A proposal's page at ``/proposals/12``; its decision record at ``12.pdf`` (one
        route: Litestar cannot tell ``{n:int}`` and ``{n:str}`` apart in one place)."""
        match = PROPOSAL_PATH.fullmatch(number)
        if match is None:
            raise NotFoundException(f"There is no proposal {number!r}.")
        if match.group(2):
            return await proposal_record_response(request, db_session, caller, int(match.group(1)))
        return await self._proposal_page(request, db_session, caller, int(match.group(1)))

    async def _proposal_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        number: int,
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        proposal = await proposals.get_proposal(db_session, group, number)
        member = caller.membership is not None
        names = await proposal_queries.names_visible(db_session, group, member=member)
        out = await proposal_queries.proposal_out(
            db_session, group, proposal, show_names=names, viewer=caller.user_id
        )
        readable = await discussion.may_read(db_session, group, member=member)
        comments = (
            comment_views(
                await discussion.comments_out(
                    db_session,
                    proposal,
                    show_names=names,
                    member=member,
                    facilitator=caller.may("facilitator"),
                )
            )
            if readable
            else []
        )
        payments = await proposal_queries.payment_entries(db_session, group, number)
        links = await ledger_queries.reversal_links(db_session, group, payments)
        view = proposal_page(
            group,
            proposal,
            out,
            fmt,
            show_names=names,
            paid=proposal_queries.paid_under(payments, links),
        )
        return page(
            request,
            "public/proposal.html",
            group=group,
            fmt=fmt,
            caller=caller,
            proposal=view,
            payments=[entry_view(entry, fmt, links) for entry in payments],
            discussion_shown=readable,
            comments=comments,
            comment_total=comment_count(comments),
        )


async def _policy_views(
    db_session: AsyncSession, group: Group, fmt: Formatter, names: bool
) -> list[PolicyView]:
    """The group's policies as pages show them; who may pay is named only where names are
    shown (members, or a group that shows names)."""
    today = utcnow().date()
    adopted = {p.number: p for p in await policies.policies(db_session, group, today)}
    members = {m.id: m.user.name for m in await groups.list_members(db_session, group.id)}
    views = []
    for out in await policies.policies_out(db_session, group, today):
        if names:
            payers = [
                members.get(i) or fmt.said(Words(N_("member %(number)s"), {"number": i}))
                for i in out.payers
            ]
        elif out.payers:
            named = Nn_("%(n)s named member", "%(n)s named members")
            payers = [fmt.said(Words.counted(named, len(out.payers)))]
        else:
            payers = []
        views.append(policy_view(adopted[out.number], out, fmt, payers))
    return views


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
        fmt = Formatter.for_group(caller.group, settings_of(request))
        data = proposal_from_form(form, fmt.zone)
        return await self._open(request, db_session, caller, form, data, PROPOSE_FIELDS)

    @get("/m/{group:str}/policies/new", guards=[member_with("member")], name="policy_form")
    async def policy_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        return await self._propose_page(request, db_session, caller, Form(), policy=True)

    @post("/m/{group:str}/policies/new", guards=[member_with("member")], name="propose_policy")
    async def propose_policy(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, POLICY_FIELDS)
        fmt = Formatter.for_group(caller.group, settings_of(request))
        data = policy_from_form(form, fmt.zone)
        return await self._open(request, db_session, caller, form, data, POLICY_FIELDS)

    @get("/m/{group:str}/claims/new", guards=[member_with("member")], name="claim_form")
    async def claim_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        return await self._claim_page(request, db_session, caller, Form())

    @post("/m/{group:str}/claims/new", guards=[member_with("member")], name="claim")
    async def file_claim(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, CLAIM_FIELDS)
        try:
            fields: dict[str, Any] = {name: form.value(name) for name in CLAIM_FIELDS}
            fields["amount"] = form.amount("amount")
            fields["policy"] = policy_number(fields["policy"]) if fields["policy"] else None
            data = claim_in(fields)
            receipt = await receipt_of(request, settings_of(request).max_attachment_bytes)
            if receipt is None:
                raise InvalidInput(
                    N_("A claim needs its receipt: a photo or a PDF of it."), field="receipt"
                )
            proposal, filed = await claims.file_claim(
                db_session, caller.group, caller.logged_in_user, data, receipt
            )
        except LedgerError as error:
            form.fail_with(error, (*CLAIM_FIELDS, "receipt"))
            return await self._claim_page(
                request, db_session, caller, form, status=status_of(error)
            )
        await keep(store_of(request), receipt)
        if proposal is None:  # to be paid under a policy: no round
            return see_other(f"/m/{caller.group.slug}/claims?filed={filed.id}")
        return see_other(f"/m/{caller.group.slug}/proposals/{proposal.number}?done=proposed")

    @get("/m/{group:str}/claims", guards=[member_with("member")], name="claims")
    async def claims_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        filed: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> Template:
        """The group's claims: where each stands, its receipt, and (for stewards) the claims
        waiting to be paid under a policy."""
        group = caller.group
        return page(
            request,
            "member/claims.html",
            group=caller.group,
            caller=caller,
            claims=await claims.list_claims(db_session, caller.group),
            fund_names={f.slug: f.name for f in await ledger_service.list_funds(db_session, group)},
            filed=filed,
            my_id=caller.user_id,
            claimants={c.id: c.claimant_id for c in await claims.claims_of(db_session, group)},
            steward=caller.may("steward"),
        )

    @get(
        "/m/{group:str}/claims/{number:int}/file",
        guards=[member_with("member")],
        name="claim_file",
    )
    async def claim_file(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
    ) -> Response[bytes]:
        """The receipt of any claim by its id (a claim under a policy has no proposal; the
        path's number is the claim's id, as the claims page lists it)."""
        claim = await claims.find_claim(db_session, caller.group, number)
        if claim is None:
            raise NotFoundException(f"There is no claim {number}.")
        return await _claim_receipt_response(request, claim)

    @get(
        "/m/{group:str}/claims/{number:int}/receipt",
        guards=[member_with("member")],
        name="claim_receipt",
    )
    async def claim_receipt(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Response[bytes]:
        """The receipt of a claim, for the members who decide on it (before any payment)."""
        proposal = await service.get_proposal(db_session, caller.group, number)
        claim = await claims.claim_of(db_session, proposal)
        if claim is None:
            raise NotFoundException(f"Proposal {number} is not a claim.")
        return await _claim_receipt_response(request, claim)

    async def _claim_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        form: Form,
        *,
        status: int = 200,
    ) -> Template:
        membership = caller.membership
        assert membership is not None  # the member guard let them in
        fmt = visitor_formatter(request, caller.group)
        return page(
            request,
            "member/claim.html",
            status_code=status,
            group=caller.group,
            caller=caller,
            form=form,
            fund_options=await _fund_options(db_session, caller),
            policy_options=[
                (str(p.number), policy_choice(p, fmt))
                for p in await policies.policies_out(db_session, caller.group, utcnow().date())
                if p.reimbursements and p.status == policies.IN_FORCE
            ],
            pseudonym=pseudonyms.pseudonym(membership),
            limit=size_text(settings_of(request).max_attachment_bytes),
        )

    async def _open(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        form: Form,
        data: ProposalIn | None,
        fields: tuple[str, ...],
    ) -> Template | Redirect:
        """Open the proposal a form asks for, or show the form again with what to fix."""
        policy = fields is POLICY_FIELDS
        if data is None:
            return await self._propose_page(
                request, db_session, caller, form, status=422, policy=policy
            )
        try:
            proposal = await service.create_proposal(
                db_session, caller.group, caller.logged_in_user, data
            )
        except LedgerError as error:
            # The service names a policy's fields "policy.<name>"; the form names them plainly.
            field = (error.field or "").removeprefix("policy.")
            form.fail(field if field in fields else "", str(error))
            fmt = visitor_formatter(request, caller.group)
            await self._explain_deadline(db_session, caller, form, fmt)
            return await self._propose_page(
                request, db_session, caller, form, status=status_of(error), policy=policy
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
        form.errors["closes_at"] = said(
            N_("A round stays open at least %(hours)s hours: choose a deadline after %(moment)s."),
            form.language,
            hours=group_rules.min_open_hours,
            moment=fmt.moment(earliest),
        )

    async def _propose_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        form: Form,
        *,
        status: int = 200,
        policy: bool = False,
    ) -> Template:
        """The form to propose (``policy``: a spending policy, which may replace one)."""
        group = caller.group
        group_rules, _ = await service.get_rules(db_session, group)
        today = utcnow().date()
        in_force = (
            [p for p in await policies.policies(db_session, group, today) if p.in_force_on(today)]
            if policy
            else []
        )
        return page(
            request,
            "member/propose_policy.html" if policy else "member/propose.html",
            status_code=status,
            group=group,
            caller=caller,
            form=form,
            fund_options=await _fund_options(db_session, caller),
            policy_options=[(str(p.number), f"#{p.number} {p.title}") for p in in_force],
            min_open_hours=group_rules.min_open_hours,
            zone=Formatter.for_group(group, settings_of(request)).zone_name(),
        )

    # --- a proposal ----------------------------------------------------------------------

    @get(
        "/m/{group:str}/proposals/{number:int}",
        guards=[member_with("member")],
        name="member_proposal",
        closes_due_rounds=True,
        # Opening the page marks its notifications read: on SQLite a read transaction that
        # then writes fails "database is locked" when another process wrote meanwhile.
        writes=True,
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
            form.fail("position", N_("Choose your response."))
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

    # --- the discussion, and reminders ----------------------------------------------------

    @post(
        "/m/{group:str}/proposals/{number:int}/comments",
        guards=[member_with("member")],
        name="member_comment",
    )
    async def comment(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Template | Redirect:
        form = await read_form(request, COMMENT_FIELDS)
        body = _limited(form, "body", COMMENT_MAX, required=N_("Write your comment first."))
        reply_text = form.value("reply_to")
        reply_to = typed_number(reply_text, MAX_PROPOSAL)
        if reply_text and reply_to is None:
            form.fail("reply_to", N_("Reply from the comment's own Reply button."))
        status = 422
        if form.ok:
            try:
                written = await discussion.post_comment(
                    db_session,
                    caller.group,
                    number,
                    caller.logged_in_user,
                    body,
                    reply_to,
                )
            except LedgerError as error:
                status = status_of(error)
                form.fail_with(error, COMMENT_FIELDS)
        if not form.ok:
            target = f"reply-{reply_to}" if reply_to else "new"
            return await self._proposal_page(
                request, db_session, caller, number, talk_form=form, talk=target, status=status
            )
        return _done_at(caller, number, "commented", written.id)

    @post(
        "/m/{group:str}/proposals/{number:int}/comments/{comment_id:int}/edit",
        guards=[member_with("member")],
        name="member_edit_comment",
    )
    async def edit_comment(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        comment_id: Id,
    ) -> Template | Redirect:
        form = await read_form(request, ("body",))
        body = _limited(form, "body", COMMENT_MAX, required=N_("A comment cannot be empty."))
        status = 422
        if form.ok:
            try:
                await discussion.edit_comment(
                    db_session, caller.group, number, caller.logged_in_user, comment_id, body
                )
            except NotAllowed as error:
                raise PermissionDeniedException(str(error)) from error
            except LedgerError as error:
                status = status_of(error)
                form.fail_with(error, ("body",))
        if not form.ok:
            return await self._proposal_page(
                request,
                db_session,
                caller,
                number,
                talk_form=form,
                talk=f"edit-{comment_id}",
                status=status,
            )
        return _done_at(caller, number, "edited", comment_id)

    @post(
        "/m/{group:str}/proposals/{number:int}/comments/{comment_id:int}/hide",
        guards=[member_with("facilitator")],
        name="member_hide_comment",
    )
    async def hide_comment(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
        comment_id: Id,
    ) -> Template | Redirect:
        form = await read_form(request, HIDE_FIELDS)
        reason = _limited(form, "reason", 2_000, required=N_("Say why you hide it."))
        status = 422
        if form.ok:
            try:
                await discussion.hide_comment(
                    db_session, caller.group, number, caller.logged_in_user, comment_id, reason
                )
            except LedgerError as error:
                status = status_of(error)
                form.fail_with(error, HIDE_FIELDS)
        if not form.ok:
            return await self._proposal_page(
                request,
                db_session,
                caller,
                number,
                talk_form=form,
                talk=f"hide-{comment_id}",
                status=status,
            )
        return _done_at(caller, number, "hidden", comment_id)

    @post(
        "/m/{group:str}/proposals/{number:int}/remind",
        guards=[member_with("facilitator")],
        name="member_remind",
    )
    async def remind(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: ProposalNumber,
    ) -> Template | Redirect:
        try:
            reminded = await discussion.remind(db_session, caller.group, number)
        except LedgerError as error:
            form = Form()
            form.fail("remind", str(error))
            return await self._proposal_page(
                request, db_session, caller, number, action_form=form, status=status_of(error)
            )
        if reminded:
            send_mail_soon(request)
        return await _done(
            db_session, caller, number, "reminded" if reminded else "nobody_to_remind"
        )

    async def _proposal_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        number: int,
        *,
        talk_form: Form | None = None,
        talk: str = "",
        respond_form: Form | None = None,
        amend_form: Form | None = None,
        action_form: Form | None = None,
        status: int = 200,
        done: str = "",
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        language = visitor_language(request)
        translate = translations(language).gettext
        proposal = await service.get_proposal(db_session, group, number)
        names = await proposal_queries.names_visible(db_session, group, member=True)
        shown = await proposal_queries.proposal_out(
            db_session, group, proposal, show_names=names, viewer=caller.user_id
        )
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
        if caller.user_id is not None:  # what told the member of it is now read
            await notify.mark_read_about(db_session, caller.user_id, group.id, number)
        # An urgent proposal that passed early keeps its round open for confirmation.
        round_open = service.round_is_open(proposal, round_)
        may_respond = round_open and caller.user_id in service.eligible_of(round_)
        payment = await _payment(db_session, group, proposal, fmt)
        claim = await claims.claim_of(db_session, proposal)
        comments = comment_views(
            await discussion.comments_out(
                db_session,
                proposal,
                show_names=True,
                member=True,
                facilitator=caller.may("facilitator"),
            )
        )
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
            money=money_text(version, fmt),
            body=render_markdown(version.body),
            this_round=round_out,
            round_open=round_open,
            next_step=next_step(proposal, round_out, fmt),
            earliest_close=fmt.moment(
                rules.earliest_close_at(service.rules_of(round_), round_.opened_at)
            ),
            status_label=STATUS_LABELS.get(proposal.status, proposal.status),
            notes=decision_notes(
                shown, fmt, paid=await _paid_text(db_session, group, proposal, fmt)
            ),
            positions={key: translate(label) for key, label in POSITION_LABELS.items()},
            mine=mine,
            may_respond=may_respond,
            claim=claim,
            claimant_is_me=claim is not None and claim.claimant_id == caller.user_id,
            why_not_eligible=(
                _why_not_eligible(caller, round_, fmt, language)
                if round_open and not may_respond
                else ""
            ),
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
            not_responded=await discussion.not_responded(db_session, group, proposal),
            may_remind=round_open and caller.may("facilitator"),
            comments=comments,
            comment_total=comment_count(comments),
            may_hide=caller.may("facilitator"),
            talk_form=talk_form or Form(),
            talk=talk,
            public_comments=(await discussion.settings_of(db_session, group)).public_comments,
        )


def _why_not_eligible(caller: Caller, round_: Round, fmt: Formatter, language: str) -> str:
    """Why a member sees no response form on an open round: the round's members were fixed
    when it opened."""
    opened = fmt.moment(round_.opened_at)
    joined = caller.membership.joined_at if caller.membership else None
    if joined is not None and joined > round_.opened_at:
        return said(
            N_(
                "You joined on %(joined)s, after round %(round)s opened on %(opened)s: a round "
                "counts the members of the group when it opens, so you cannot respond to this "
                "one. You can take part in its next round (after an amendment) and in every "
                "proposal from now on."
            ),
            language,
            joined=fmt.moment(joined),
            round=round_.number,
            opened=opened,
        )
    return said(
        N_(
            "Round %(round)s opened on %(opened)s and counts only the members of that moment, "
            "so you cannot respond to it."
        ),
        language,
        round=round_.number,
        opened=opened,
    )


async def _claim_receipt_response(request: Request[Any, Any, Any], claim: Claim) -> Response[bytes]:
    if claim.receipt_erased_at is not None:
        raise Erased(
            f"This receipt was erased on {claim.receipt_erased_at.date().isoformat()} with the "
            "data of the member who filed the claim; its hash stays."
        )
    try:
        content = await anyio.to_thread.run_sync(store_of(request).get, claim.sha256)
    except FileNotFoundError:
        raise NotFoundException("This claim's receipt is not in the store.") from None
    extension = claim.content_type.rsplit("/", 1)[-1]
    return Response(
        content,
        media_type=claim.content_type,
        headers={
            "Content-Disposition": f'inline; filename="{claim.sha256}.{extension}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _fund_options(db_session: AsyncSession, caller: Caller) -> list[tuple[str, str]]:
    funds: list[Fund] = await ledger_service.list_funds(db_session, caller.group)
    return [(fund.slug, fund.name) for fund in funds]


async def _paid_text(
    db_session: AsyncSession, group: Group, proposal: Proposal, fmt: Formatter
) -> str:
    """The money paid under the proposal, formatted; empty when none was."""
    version = service.current_version(proposal)
    if version.fund is None:
        return ""
    paid = (await service.paid(db_session, group, [proposal.number])).get(proposal.number, 0)
    return fmt.money(paid, version.fund.currency) if paid else ""


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


def _done_at(caller: Caller, number: int, what: str, comment_id: int) -> Redirect:
    """Back to the proposal's page, at the comment just written, edited or hidden."""
    return see_other(f"/m/{caller.group.slug}/proposals/{number}?done={what}#comment-{comment_id}")


# --- decision rules (admins) -------------------------------------------------------------


class RulesPages(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/m/{group:str}/rules", guards=[member_with("admin")], name="rules")
    async def rules_page(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        current, public_names = await proposals.get_rules(db_session, caller.group)
        form = rules_form(current, public_names)
        if await proposals.policy_room_committed(db_session, caller.group):
            form.values["policy_room_committed"] = "on"
        if await proposals.hides_tallies(db_session, caller.group):
            form.values["hide_tally_until_close"] = "on"
        talk = await discussion.settings_of(db_session, caller.group)
        form.values["public_comments"] = "on" if talk.public_comments else ""
        form.values["reminder_hours"] = str(talk.reminder_hours)
        form.values["publish_receipts"] = "on" if caller.group.publish_receipts else ""
        tiers = proposals.tiers_json(
            caller.group, await proposals.get_tiers(db_session, caller.group)
        )
        form.values.update(tiers_form_values(tiers))
        saved = request.query_params.get("saved") == "1"
        return _rules_page(request, caller, form, saved=saved)

    @post("/m/{group:str}/rules", guards=[member_with("admin")], name="rules_submit")
    async def save_rules(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, RULE_FIELDS + TIER_FIELDS)
        # Left empty: the reminder time stays as it is.
        reminder_hours = (
            _whole(
                form, "reminder_hours", minimum=0, maximum=decision_rules.MAX_OPEN_HOURS, example=24
            )
            if form.value("reminder_hours")
            else None
        )
        changes = rules_from_form(form)
        tiers, rows = tiers_from_form(form)
        if changes is not None and form.ok:
            try:
                await proposals.set_rules(
                    db_session, caller.group, changes, form.value("public_names") == "on"
                )
                await proposals.set_policy_room_committed(
                    db_session, caller.group, form.value("policy_room_committed") == "on"
                )
                await proposals.set_hides_tallies(
                    db_session, caller.group, form.value("hide_tally_until_close") == "on"
                )
                await discussion.set_settings(
                    db_session,
                    caller.group,
                    public_comments=form.value("public_comments") == "on",
                    reminder_hours=reminder_hours,
                )
                await proposals.set_tiers(db_session, caller.group, tiers)
                await ledger_attachments.publish_receipts(
                    db_session, caller.group, form.value("publish_receipts") == "on"
                )
            except LedgerError as error:
                form.fail(_tier_field(error.field, rows), str(error))
        if changes is None or not form.ok:
            # Nothing of a refused form is kept (the request's transaction rolls back).
            return _rules_page(request, caller, form, status=422)
        return see_other(f"/m/{caller.group.slug}/rules?saved=1")


def _rules_page(
    request: Request[Any, Any, Any],
    caller: Caller,
    form: Form,
    *,
    status: int = 200,
    saved: bool = False,
) -> Template:
    return settings_page(
        request,
        "member/rules.html",
        caller,
        form,
        status=status,
        saved=saved,
        tier_rows=range(TIER_ROWS),
    )


# --- the rules form -------------------------------------------------------------------------
# Shares are shown and typed as percentages (people say "half", "50 %", not "0.5"); the
# rules keep them as decimal strings, exactly (CONTRACT section 5).

RULE_FIELDS = (
    "quorum",
    "min_open_hours",
    "blocks_to_stop",
    "max_stand_aside_share",
    "min_support_share",
    "close_when_all_responded",
    "exclude_beneficiary",
    "fallback",
    "fallback_rounds",
    "fallback_share",
    "public_names",
    "policy_room_committed",
    "hide_tally_until_close",
    "public_comments",
    "reminder_hours",
    "publish_receipts",
)
_PERCENT = re.compile(r"([0-9]{1,3})(?:[.,]([0-9]{1,4}))?")
_WHOLE = re.compile(r"[0-9]{1,6}")


def _percent_text(share: object) -> str:
    """``"0.125"`` as ``"12.5"``."""
    text = format(Decimal(str(share)) * 100, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def rules_form(current: decision_rules.DecisionRules, public_names: bool) -> Form:
    """The form filled in with the group's rules as they are."""
    data = current.to_json()
    fallback = current.fallback
    values = {
        "quorum": _percent_text(data["quorum"]),
        "min_open_hours": str(current.min_open_hours),
        "blocks_to_stop": str(current.blocks_to_stop),
        "max_stand_aside_share": _percent_text(data["max_stand_aside_share"]),
        "min_support_share": _percent_text(data["min_support_share"]),
        "close_when_all_responded": "on" if current.close_when_all_responded else "",
        "exclude_beneficiary": "on" if current.exclude_beneficiary else "",
        "fallback": "on" if fallback else "",
        "fallback_rounds": str(fallback.after_blocked_rounds) if fallback else "2",
        "fallback_share": _percent_text(fallback.to_json()["agree_share"]) if fallback else "75",
        "public_names": "on" if public_names else "",
    }
    return Form(values=values)


def _share(form: Form, name: str, *, minimum: int = 0) -> str | None:
    """A percentage typed in the form, as the rules' decimal share (``"50"`` -> ``"0.5"``)."""
    text = form.value(name).removesuffix("%").strip()
    example = "75" if minimum else "50"
    if not text:
        form.fail(
            name,
            N_("Enter a percentage from %(minimum)s to 100, such as %(example)s."),
            minimum=minimum,
            example=example,
        )
        return None
    if not _PERCENT.fullmatch(text):
        form.fail(
            name,
            N_(
                "Write a percentage from %(minimum)s to 100 with digits, such as %(example)s "
                "or 62.5 (at most 4 decimals)."
            ),
            minimum=minimum,
            example=example,
        )
        return None
    value = Decimal(text.replace(",", "."))
    if not minimum <= value <= 100:
        form.fail(name, N_("Choose a percentage from %(minimum)s to 100."), minimum=minimum)
        return None
    share = format(value / 100, "f")
    return share.rstrip("0").rstrip(".") if "." in share else share


def _whole(form: Form, name: str, *, minimum: int, maximum: int, example: int) -> int | None:
    text = form.value(name)
    if not text:
        form.fail(name, N_("Enter a whole number, such as %(example)s."), example=example)
        return None
    if not _WHOLE.fullmatch(text) or not minimum <= int(text) <= maximum:
        form.fail(
            name,
            N_("Enter a whole number from %(minimum)s to %(maximum)s."),
            minimum=minimum,
            maximum=f"{maximum:,}",
        )
        return None
    return int(text)


# The table of rules by amount: a few rows of the form; a row is used when a way of
# deciding is chosen, and its fields are named after their place (``tier_0_up_to``).
TIER_ROWS = 5
_TIER_COLUMNS = ("up_to", "mode", "hours", "quorum", "urgent")
TIER_FIELDS = tuple(f"tier_{row}_{column}" for row in range(TIER_ROWS) for column in _TIER_COLUMNS)
_TIER_ERROR = re.compile(r"tiers\[([0-9]+)\]\.([a-z_]+)")
_TIER_COLUMN_OF = {"min_deadline_hours": "hours", "urgent_agreements": "urgent"}


def tiers_form_values(tiers: list[dict[str, object]]) -> dict[str, str]:
    """The form's rows filled in with the group's table of tiers."""
    values: dict[str, str] = {}
    for row, tier in enumerate(tiers[:TIER_ROWS]):
        mode = str(tier["mode"])
        values[f"tier_{row}_up_to"] = str(tier.get("up_to") or "")
        values[f"tier_{row}_mode"] = mode
        values[f"tier_{row}_hours"] = str(tier["min_deadline_hours"])
        values[f"tier_{row}_quorum"] = "" if mode == "lazy" else _percent_text(tier["quorum"])
        urgent = tier.get("urgent_agreements")
        values[f"tier_{row}_urgent"] = "" if urgent is None else str(urgent)
    return values


def tiers_from_form(form: Form) -> tuple[list[dict[str, object]], list[int]]:
    """The table the form asks for (as ``set_tiers`` takes it) and the form row of each tier;
    the table's own checks (``proposals.rules.tiers_from_json``) say what is wrong."""
    tiers: list[dict[str, object]] = []
    rows: list[int] = []
    for row in range(TIER_ROWS):
        mode = form.value(f"tier_{row}_mode")
        if not mode:
            continue
        tier: dict[str, object] = {"mode": mode}
        if up_to := form.value(f"tier_{row}_up_to"):
            tier["up_to"] = up_to.replace(",", "")
        if form.value(f"tier_{row}_hours"):
            tier["min_deadline_hours"] = _whole(
                form,
                f"tier_{row}_hours",
                minimum=0,
                maximum=decision_rules.MAX_OPEN_HOURS,
                example=24,
            )
        if form.value(f"tier_{row}_quorum"):
            tier["quorum"] = _share(form, f"tier_{row}_quorum")
        if form.value(f"tier_{row}_urgent"):
            tier["urgent_agreements"] = _whole(
                form, f"tier_{row}_urgent", minimum=1, maximum=999, example=2
            )
        tiers.append(tier)
        rows.append(row)
    return tiers, rows


def _tier_field(field: str | None, rows: list[int]) -> str:
    """The form field an error of the table names (``tiers[1].up_to`` -> its row's field)."""
    named = _TIER_ERROR.fullmatch(field or "")
    if named is None or int(named.group(1)) >= len(rows):
        return "" if field not in RULE_FIELDS else str(field)
    column = _TIER_COLUMN_OF.get(named.group(2), named.group(2))
    return f"tier_{rows[int(named.group(1))]}_{column}" if column in _TIER_COLUMNS else ""


def rules_from_form(form: Form) -> dict[str, object] | None:
    """The rules the form asks for (as ``set_rules`` takes them), or None with the form's
    errors next to their fields."""
    changes: dict[str, object] = {
        "quorum": _share(form, "quorum"),
        "min_open_hours": _whole(
            form, "min_open_hours", minimum=0, maximum=decision_rules.MAX_OPEN_HOURS, example=48
        ),
        "blocks_to_stop": _whole(form, "blocks_to_stop", minimum=1, maximum=999, example=1),
        "max_stand_aside_share": _share(form, "max_stand_aside_share"),
        "min_support_share": _share(form, "min_support_share"),
        "close_when_all_responded": form.value("close_when_all_responded") == "on",
        "exclude_beneficiary": form.value("exclude_beneficiary") == "on",
        "fallback": None,
    }
    if form.value("fallback") == "on":
        rounds = _whole(form, "fallback_rounds", minimum=1, maximum=99, example=2)
        share = _share(form, "fallback_share", minimum=50)
        changes["fallback"] = {"after_blocked_rounds": rounds, "agree_share": share}
    return changes if form.ok else None

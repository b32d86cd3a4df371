"""The members' web app: logging in and out, the dashboard, a group's home for members,
recording money (stewards) and managing members and roles (admins).

Every form carries the CSRF token; a form that does not pass comes back with its errors
next to the fields and the input kept; one that passes redirects with 303.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import (
    Caller,
    authenticate,
    check_password,
    count_login_attempt,
    end_session,
    expired_session_cookie,
    forget_login_attempts,
    provide_caller,
    provide_user,
    session_cookie,
    session_cookie_name,
    start_session,
)
from app.db import commit_so_far, keep_changes
from app.deps import CurrentCaller, CurrentNotary, CurrentUser, DbSession
from app.errors import status_of
from app.guards import logged_in, member_with
from app.limits import Limiter, client_address, wait_outside_turn
from app.settings import Settings
from app.web import proposal_views, queries
from app.web.admin import invites_section
from app.web.forms import (
    ENTRY_FORMS,
    FORM_ID,
    MAX_SEQ,
    Form,
    entry_from_form,
    new_form_id,
    read_form,
    safe_next,
)
from app.web.templating import CSRF_COOKIE, Formatter, page, see_other
from app.web.views import KIND_LABELS, entry_view, fund_view
from ledger import groups, service
from ledger.errors import IdempotencyMismatch, LedgerError
from ledger.groups import ROLES, utcnow
from ledger.idempotency import record_entry_once
from ledger.models import Membership, User
from ledger.schemas import DisbursementIn, FundIn
from proposals.service import authorise_payment, committed_by_fund

RECENT_ENTRIES = 5


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# --- logging in and out ------------------------------------------------------------------


class LoginPages(Controller):
    include_in_schema = False

    @get("/login", name="login")
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        next_path: Annotated[str, QueryParameter(name="next", max_length=500)] = "",
    ) -> Template | Redirect:
        target = safe_next(next_path)
        if await authenticate(request) is not None:
            return Redirect(target, status_code=303)
        return page(request, "member/login.html", form=Form(), next=target)

    @post("/login", name="login_submit")
    async def login(
        self, request: Request[Any, Any, Any], db_session: DbSession
    ) -> Template | Redirect:
        form = await read_form(request, ("email", "password", "next"))
        target = safe_next(form.value("next"))
        email = form.value("email").lower()
        password = (await request.form()).get("password") or ""
        form.values.pop("password", None)  # never sent back
        settings = _settings(request)
        now = utcnow()
        if not email:
            form.fail("email", "Enter your e-mail address.")
        if not password:
            form.fail("password", "Enter your password.")
        if not form.ok:
            return page(request, "member/login.html", form=form, next=target, status_code=400)
        limiter = Limiter.of(settings)
        address = client_address(request, settings.trusted_networks)
        # Counted and committed before the password is checked: racing attempts each get a
        # count of their own, and a failed one stays counted although its answer is a 400.
        turn = await count_login_attempt(db_session, limiter, email, address, now=now)
        await commit_so_far(request)
        if turn.refused_for is not None:
            wait = turn.refused_for
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            form.fail(
                "",
                "Too many failed attempts to log in. For your safety, please wait "
                f"{minutes} minute{'s' if minutes != 1 else ''} before you try again.",
            )
            return page(
                request,
                "member/login.html",
                form=form,
                next=target,
                status_code=429,
                headers={"Retry-After": str(max(1, int(wait.total_seconds())))},
            )
        # Someone is guessing at this account from elsewhere: slower, never refused.
        await wait_outside_turn(request, turn.delay)
        user = await check_password(db_session, email, str(password))
        if user is None:
            form.fail("", "The e-mail address or the password is not right.")
            return page(request, "member/login.html", form=form, next=target, status_code=400)
        await forget_login_attempts(db_session, limiter, email, address, now=utcnow())
        cookie_name = session_cookie_name(settings)
        token = await start_session(db_session, user, replacing=request.cookies.get(cookie_name))
        response = see_other(target, cookies=[session_cookie(settings, token)])
        # A fresh CSRF token comes with the next page, tied to nothing from before the login.
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    @post("/logout", name="logout")
    async def logout(self, request: Request[Any, Any, Any], db_session: DbSession) -> Redirect:
        settings = _settings(request)
        token = request.cookies.get(session_cookie_name(settings))
        if token:
            await end_session(db_session, token)
        return see_other("/", cookies=[expired_session_cookie(settings)])


# --- the members' pages ------------------------------------------------------------------


class MemberPages(Controller):
    include_in_schema = False
    dependencies = {
        "caller": Provide(provide_caller, sync_to_thread=False),
        "user": Provide(provide_user, sync_to_thread=False),
    }

    @get("/m", guards=[logged_in], name="dashboard")
    async def dashboard(
        self, request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser
    ) -> Template:
        fmt = Formatter.for_group(None, _settings(request))
        return page(
            request,
            "member/dashboard.html",
            groups=await queries.member_groups(db_session, user.id),
            awaiting=await proposal_views.awaiting_response(db_session, user.id, fmt),
            notifications=await proposal_views.my_notifications(db_session, user.id, fmt),
            fmt=fmt,
        )

    @get(
        "/m/{group:str}", guards=[member_with("member")], name="group_home", closes_due_rounds=True
    )
    async def group_home(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        fund: Annotated[str, QueryParameter(max_length=64)] = "",
    ) -> Template:
        group = caller.group
        fmt = Formatter.for_group(group, _settings(request))
        funds = await service.list_funds(db_session, group)
        committed = await committed_by_fund(db_session, group)
        entries, _ = await service.list_entries(db_session, group, limit=RECENT_ENTRIES)
        links = await queries.reversal_links(db_session, group, entries)
        reader = caller.logged_in_user.id
        return page(
            request,
            "member/group.html",
            group=group,
            fmt=fmt,
            caller=caller,
            roles=caller.roles,
            held_roles=caller.membership.roles.split() if caller.membership else [],
            funds=[fund_view(f, fmt, committed.get(f.id, 0)) for f in funds],
            entries=[entry_view(e, fmt, links) for e in entries],
            members=await groups.list_members(db_session, group.id),
            awaiting=await proposal_views.awaiting_response(db_session, reader, fmt, group),
            open_proposals=await proposal_views.open_proposals(db_session, group, fmt, reader),
            decided=await proposal_views.recent_decisions(db_session, group, fmt, reader),
            created_fund=next((f.name for f in funds if f.slug == fund), ""),
        )

    # --- recording money (stewards) ----------------------------------------------------

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
    ) -> Template:
        _check_kind(kind)
        form = Form(values={"form_id": new_form_id()})
        if kind == "reversal" and seq is not None:
            form.values["reverses"] = str(seq)
        if kind == "payment" and proposal is not None:
            # "Record a payment under this proposal": its fund comes with it.
            form.values["proposal"] = str(proposal)
            await _fund_of_proposal(db_session, caller, form)
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
        )
        form = await read_form(request, fields)
        funds = {f.slug: f for f in await service.list_funds(db_session, group)}
        today = utcnow().astimezone(Formatter.for_group(group, _settings(request)).zone).date()
        decided_in = _decided_in(form) if kind == "payment" else None
        if decided_in is not None and not form.value("fund"):
            await _fund_of_proposal(db_session, caller, form)
        entry_in = entry_from_form(kind, form, funds, today, _settings(request).date_window)
        if entry_in is None:
            return await self._record_page(request, db_session, caller, kind, form, status=422)
        if isinstance(entry_in, DisbursementIn) and decided_in is not None:
            entry_in = msgspec.structs.replace(entry_in, proposal=decided_in)
        form_id = form.value("form_id")
        record: dict[str, Any] = {
            "notary": notary,
            "authority": authorise_payment,
            "dates": _settings(request).date_window,
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
                "This form was sent before with other details. Check them and send it "
                "again to record a new entry.",
            )
            return await self._record_page(request, db_session, caller, kind, form, status=409)
        except LedgerError as error:
            # Corrected and sent again, the form is a new request.
            form.values["form_id"] = new_form_id()
            form.fail_with(error, fields)
            return await self._record_page(
                request, db_session, caller, kind, form, status=status_of(error)
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
        fmt = Formatter.for_group(group, _settings(request))
        funds = await service.list_funds(db_session, group)
        committed = await committed_by_fund(db_session, group)
        done = await service.find_entry(db_session, group, recorded) if recorded else None
        return page(
            request,
            "member/record.html",
            status_code=status,
            group=group,
            fmt=fmt,
            caller=caller,
            kind=kind,
            kinds=[(k, KIND_LABELS[v]) for k, v in ENTRY_FORMS.items()],
            form=form,
            funds=[fund_view(f, fmt, committed.get(f.id, 0)) for f in funds],
            payable=await proposal_views.payable_proposals(db_session, group, fmt)
            if kind == "payment"
            else [],
            done=entry_view(done, fmt) if done else None,
            today=utcnow().astimezone(fmt.zone).date().isoformat(),
        )

    # --- funds (stewards) ----------------------------------------------------------------

    @get("/m/{group:str}/funds/new", guards=[member_with("steward")], name="fund_form")
    async def fund_form(self, request: Request[Any, Any, Any], caller: CurrentCaller) -> Template:
        return page(request, "member/fund.html", group=caller.group, caller=caller, form=Form())

    @post("/m/{group:str}/funds/new", guards=[member_with("steward")], name="fund_submit")
    async def create_fund(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, ("name", "slug", "allow_negative"))
        name = " ".join(form.value("name").split())
        slug = form.value("slug") or _slugify(name)
        form.values["slug"] = slug
        if not name:
            form.fail("name", "Give the fund a name, such as Rent relief.")
        elif len(name) > 120:
            form.fail("name", "Keep the name to 120 characters or fewer.")
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
            return page(
                request,
                "member/fund.html",
                status_code=422,
                group=caller.group,
                caller=caller,
                form=form,
            )
        return see_other(f"/m/{caller.group.slug}?fund={slug}")

    # --- members and roles (admins) ------------------------------------------------------

    @get("/m/{group:str}/members", guards=[member_with("admin")], name="members")
    async def members(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        done: FromQuery[str] = "",
    ) -> Template:
        return await self._members_page(request, db_session, caller, Form(), done=done)

    @post("/m/{group:str}/members", guards=[member_with("admin")], name="member_add")
    async def add_member(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, ("email",), lists=("roles",))
        email = form.value("email")
        roles = _chosen_roles(form)
        user: User | None = None
        if not email:
            form.fail("email", "Enter the e-mail address they log in with.")
        else:
            try:
                email = groups.check_email(email)
                user = await groups.find_user(db_session, email)
            except LedgerError as error:
                form.fail("email", str(error))
            if form.ok and user is None:
                # Invites (a one-time join link) will go here once they exist.
                form.fail("email", f"No one has an account with {email} yet.")
        present = user and await groups.active_membership(db_session, caller.group.id, user.id)
        if user is not None and present:
            form.fail("email", f"{user.name} is a member already; change their roles below.")
        if not form.ok or user is None:
            return await self._members_page(request, db_session, caller, form, status=422)
        await groups.add_member(db_session, caller.group, user, roles)
        return _members_done(caller, "added")

    @post(
        "/m/{group:str}/members/{member_id:int}/roles",
        guards=[member_with("admin")],
        name="member_roles",
    )
    async def change_roles(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        member_id: FromPath[int],
    ) -> Template | Redirect:
        form = await read_form(request, (), lists=("roles",))
        roles = _chosen_roles(form)
        membership = await _membership(db_session, caller, member_id)
        try:
            # The ledger refuses to take the admin role from the group's last admin.
            await groups.add_member(db_session, caller.group, membership.user, roles)
        except LedgerError as error:
            form.fail(f"member-{member_id}", str(error))
            return await self._members_page(
                request, db_session, caller, form, status=status_of(error)
            )
        return _members_done(caller, "updated")

    @post(
        "/m/{group:str}/members/{member_id:int}/remove",
        guards=[member_with("admin")],
        name="member_remove",
    )
    async def remove_member(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        member_id: FromPath[int],
    ) -> Template | Redirect:
        await _membership(db_session, caller, member_id)
        try:
            await groups.remove_member(db_session, caller.group, member_id)
        except LedgerError as error:
            form = Form()
            form.fail(f"member-{member_id}", str(error))
            return await self._members_page(
                request, db_session, caller, form, status=status_of(error)
            )
        if caller.membership is not None and caller.membership.id == member_id:
            return see_other("/m")
        return _members_done(caller, "removed")

    async def _members_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: Caller,
        form: Form,
        *,
        status: int = 200,
        done: FromQuery[str] = "",
    ) -> Template:
        # Invites are app.web.admin's, which imports this module: imported here, not above.
        invites = await invites_section(request, db_session, caller)
        return invites.shown_on(
            page(
                request,
                "member/members.html",
                status_code=status,
                group=caller.group,
                caller=caller,
                form=form,
                roles=ROLES,
                members=await groups.list_members(db_session, caller.group.id),
                done=_DONE_MESSAGES.get(done, ""),
                invites=invites,
            )
        )


_DONE_MESSAGES = {
    "added": "The member was added.",
    "updated": "The roles were saved.",
    "removed": "The member was removed. Their past entries and responses stay.",
}


def _members_done(caller: Caller, what: str) -> Redirect:
    return see_other(f"/m/{caller.group.slug}/members?done={what}")


def _recorded(slug: str, kind: str, seq: int) -> Redirect:
    return see_other(f"/m/{slug}/record/{kind}?recorded={seq}")


def _decided_in(form: Form) -> int | None:
    """The proposal a payment is made under (the ledger checks what it authorises)."""
    text = form.value("proposal").lstrip("#")
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_SEQ:
        form.fail("proposal", "Choose one of the proposals listed.")
        return None
    return int(text)


async def _fund_of_proposal(db_session: AsyncSession, caller: Caller, form: Form) -> None:
    """Fill in the fund of the chosen proposal, when it is one still waiting for payment."""
    fmt = Formatter()
    for payable in await proposal_views.payable_proposals(db_session, caller.group, fmt):
        if str(payable.number) == form.value("proposal").lstrip("#"):
            form.values["fund"] = payable.fund_slug


def _check_kind(kind: str) -> None:
    from litestar.exceptions import NotFoundException

    if kind not in ENTRY_FORMS:
        raise NotFoundException(f"There is no form for {kind!r}.")


def _chosen_roles(form: Form) -> list[str]:
    return [role for role in ROLES if form.has("roles", role)] or ["member"]


async def _membership(db_session: DbSession, caller: Caller, member_id: int) -> Membership:
    from litestar.exceptions import NotFoundException

    if not 0 < member_id <= MAX_SEQ:
        raise NotFoundException(f"Group {caller.group.slug!r} has no member {member_id}.")
    result = await db_session.scalars(
        select(Membership).where(
            Membership.id == member_id,
            Membership.group_id == caller.group.id,
            Membership.removed_at.is_(None),
        )
    )
    membership = result.one_or_none()
    if membership is None:
        raise NotFoundException(f"Group {caller.group.slug!r} has no member {member_id}.")
    return membership


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if slug and not slug[0].isalpha():
        slug = "fund-" + slug
    return slug[:64].rstrip("-")

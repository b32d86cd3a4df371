"""The admins' pages: invites (one-time join links) and the group's decision rules; and the
join page that an invite link opens.

An invite's link is shown once, right after it is made: the form redirects (POST-redirect-
GET) and the link travels to the members page in a short-lived cookie that only that page
reads and clears. The database keeps only the token's digest, so the link cannot be shown
again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.groups import join_link
from app.auth import (
    Caller,
    authenticate,
    check_password,
    count_login_attempt,
    forget_login_attempts,
    hash_password,
    provide_caller,
    session_cookie,
    session_cookie_name,
    start_session,
    uses_https,
)
from app.db import commit_so_far
from app.deps import CurrentCaller, DbSession
from app.errors import status_of
from app.guards import member_with
from app.limits import Limiter, client_address, wait_outside_turn
from app.passwords import MIN_LENGTH, weak_password_reason
from app.settings import Settings
from app.web.forms import MAX_SEQ, Form, read_form
from app.web.templating import CSRF_COOKIE, page, see_other
from ledger import groups
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.groups import MAX_INVITE_DAYS, ROLES, utcnow
from ledger.models import Invite, Membership, User
from proposals import rules as decision_rules
from proposals import service as proposals

# The new invite's token, on its way to the members page (see the module's doc).
NEW_INVITE_COOKIE = "cp_new_invite"
INVITE_DAY_CHOICES = (1, 3, 7, 14, MAX_INVITE_DAYS)
# A join page's address holds the invite's secret: it is never sent on, nor kept.
_JOIN_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# --- invites on the members page (admins) -------------------------------------------------


@dataclass
class InvitesSection:
    """What the members page shows of invites: the open ones, and a new link just made."""

    open: list[Invite]
    new_link: str = ""
    notice: str = ""
    cookie_path: str = ""
    day_choices: tuple[int, ...] = INVITE_DAY_CHOICES
    roles: tuple[str, ...] = ROLES

    def shown_on(self, response: Template) -> Template:
        """The response that shows the page; a new link is shown once, then forgotten."""
        if self.cookie_path:
            response.delete_cookie(NEW_INVITE_COOKIE, path=self.cookie_path)
        return response


def _members_path(slug: str) -> str:
    return f"/m/{slug}/members"


async def invites_section(
    request: Request[Any, Any, Any], db_session: AsyncSession, caller: Caller
) -> InvitesSection:
    """The invites part of ``/m/{group}/members`` (called by that page's handler)."""
    group = caller.group
    section = InvitesSection(open=await groups.list_invites(db_session, group, open_only=True))
    token = request.cookies.get(NEW_INVITE_COOKIE, "")
    if token:
        section.cookie_path = _members_path(group.slug)
        invite = await groups.find_invite(db_session, token)
        if (
            invite is not None
            and invite.group_id == group.id
            and groups.invite_state(invite) == "open"
        ):
            section.new_link = join_link(_settings(request), token)
    done = request.query_params.get("done", "")
    if done == "invited" and not section.new_link:
        section.notice = (
            "The invite was made. Its link is shown only once: if you did not copy it, "
            "revoke the invite and make a new one."
        )
    elif done == "invite-revoked":
        section.notice = "The invite was revoked: its link no longer works."
    return section


def _new_invite_cookie(settings: Settings, slug: str, token: str) -> Cookie:
    return Cookie(
        key=NEW_INVITE_COOKIE,
        value=token,
        path=_members_path(slug),
        max_age=600,
        secure=uses_https(settings),
        httponly=True,
        samesite="strict",
    )


class AdminPages(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @post("/m/{group:str}/invites", guards=[member_with("admin")], name="invite_create")
    async def create_invite(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Redirect:
        # Every field is a choice (checkboxes, a list of durations): whatever else arrives
        # was not typed by a person, and is refused as a whole.
        form = await read_form(request, ("days",), lists=("roles",))
        unknown = sorted(set(form.lists["roles"]) - set(ROLES))
        if unknown:
            raise InvalidInput(f"Unknown role(s) {', '.join(unknown)}.", field="roles")
        days = form.value("days")
        if days not in {str(choice) for choice in INVITE_DAY_CHOICES}:
            raise InvalidInput("Choose how long the link works.", field="days")
        assert caller.user is not None  # the guard let a logged-in admin through
        _, token = await groups.create_invite(
            db_session, caller.group, caller.user, form.lists["roles"], days=int(days)
        )
        cookie = _new_invite_cookie(_settings(request), caller.group.slug, token)
        return see_other(
            f"{_members_path(caller.group.slug)}?done=invited#invites",
            cookies=[cookie],
        )

    @post(
        "/m/{group:str}/invites/{invite_id:int}/revoke",
        guards=[member_with("admin")],
        name="invite_revoke",
    )
    async def revoke_invite(
        self, db_session: DbSession, caller: CurrentCaller, invite_id: FromPath[int]
    ) -> Redirect:
        if not 0 < invite_id <= MAX_SEQ:
            raise NotFound(f"Group {caller.group.slug!r} has no invite {invite_id}.")
        await groups.revoke_invite(db_session, caller.group, invite_id)
        return see_other(f"{_members_path(caller.group.slug)}?done=invite-revoked#invites")

    # --- decision rules -----------------------------------------------------------------

    @get("/m/{group:str}/rules", guards=[member_with("admin")], name="rules")
    async def rules_page(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        current, public_names = await proposals.get_rules(db_session, caller.group)
        saved = request.query_params.get("saved") == "1"
        return _rules_page(request, caller, rules_form(current, public_names), saved=saved)

    @post("/m/{group:str}/rules", guards=[member_with("admin")], name="rules_submit")
    async def save_rules(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, RULE_FIELDS)
        changes = rules_from_form(form)
        if changes is not None:
            try:
                await proposals.set_rules(
                    db_session, caller.group, changes, form.value("public_names") == "on"
                )
            except LedgerError as error:
                form.fail("", str(error))
        if changes is None or not form.ok:
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
    return page(
        request,
        "member/rules.html",
        status_code=status,
        group=caller.group,
        caller=caller,
        form=form,
        saved=saved,
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
        form.fail(name, f"Enter a percentage from {minimum} to 100, such as {example}.")
        return None
    if not _PERCENT.fullmatch(text):
        form.fail(
            name,
            f"Write a percentage from {minimum} to 100 with digits, such as {example} or 62.5 "
            "(at most 4 decimals).",
        )
        return None
    value = Decimal(text.replace(",", "."))
    if not minimum <= value <= 100:
        form.fail(name, f"Choose a percentage from {minimum} to 100.")
        return None
    share = format(value / 100, "f")
    return share.rstrip("0").rstrip(".") if "." in share else share


def _whole(form: Form, name: str, *, minimum: int, maximum: int, example: int) -> int | None:
    text = form.value(name)
    if not text:
        form.fail(name, f"Enter a whole number, such as {example}.")
        return None
    if not _WHOLE.fullmatch(text) or not minimum <= int(text) <= maximum:
        form.fail(name, f"Enter a whole number from {minimum} to {maximum:,}.")
        return None
    return int(text)


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


# --- the join page (anyone with the link) ---------------------------------------------------


@dataclass
class JoinView:
    """What the join page shows: the invite (or why it cannot be used) and who is asking."""

    token: str
    invite: Invite | None
    user: User | None
    membership: Membership | None = None
    problem: str = ""
    form: Form = field(default_factory=Form)


# The one answer to a new-account form whose address has an account (unless it comes with
# that account's password): it must not say which addresses have accounts.
_CANNOT_MAKE_ACCOUNT = (
    "These details cannot make a new account. If you have an account, log in to join with "
    "it; if not, check the e-mail address."
)


class JoinPages(Controller):
    include_in_schema = False

    @get("/join/{token:str}", name="join")
    async def join_page(
        self, request: Request[Any, Any, Any], db_session: DbSession, token: FromPath[str]
    ) -> Template:
        view = await _join_view(db_session, token, await authenticate(request))
        return _join_page(request, view, status=_join_status(view))

    @post("/join/{token:str}", name="join_submit")
    async def join(
        self, request: Request[Any, Any, Any], db_session: DbSession, token: FromPath[str]
    ) -> Template | Redirect:
        user = await authenticate(request)
        view = await _join_view(db_session, token, user)
        if view.invite is None or view.problem or view.membership is not None:
            return _join_page(request, view, status=_join_status(view))
        slug = view.invite.group.slug
        if user is not None:
            try:
                await groups.accept_invite(db_session, token, user)
            except LedgerError as error:
                return await _refused(request, db_session, token, user, error)
            return see_other(f"/m/{slug}")
        return await _join_with_new_account(request, db_session, view, slug)


async def _join_view(db_session: AsyncSession, token: str, user: User | None) -> JoinView:
    view = JoinView(token=token, invite=await groups.find_invite(db_session, token), user=user)
    if view.invite is None:
        view.problem = (
            "This invite link is not valid. Check that the whole link was copied, or ask an "
            "admin of the group for a new one."
        )
        return view
    if user is not None:
        view.membership = await groups.active_membership(db_session, view.invite.group_id, user.id)
    if view.membership is None:
        view.problem = groups.invite_refusal(view.invite) or ""
    return view


def _join_status(view: JoinView) -> int:
    if view.invite is None:
        return 404
    return 410 if view.problem else 200  # used, revoked or expired: gone for good


def _join_page(request: Request[Any, Any, Any], view: JoinView, *, status: int = 200) -> Template:
    invite = view.invite
    return page(
        request,
        "member/join.html",
        status_code=status,
        headers=_JOIN_HEADERS,
        view=view,
        invite=invite,
        group=invite.group if invite is not None else None,
        form=view.form,
        min_password=MIN_LENGTH,
    )


async def _refused(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    token: str,
    user: User | None,
    error: LedgerError,
) -> Template:
    """The invite went while this request was on its way (someone used it a moment before):
    nothing of this request is kept, and the page says why."""
    await db_session.rollback()
    view = await _join_view(db_session, token, user)
    if view.problem:
        return _join_page(request, view, status=_join_status(view))
    view.problem = str(error)
    return _join_page(request, view, status=status_of(error))


async def _join_with_new_account(
    request: Request[Any, Any, Any], db_session: AsyncSession, view: JoinView, slug: str
) -> Template | Redirect:
    """Someone new: their account, then the membership, then a session, in one step."""
    form = view.form = await read_form(request, ("name", "email"))
    password = str((await request.form()).get("password") or "")  # as typed, never shown
    name, email = form.value("name"), form.value("email")
    if not name:
        form.fail("name", "Enter your name as the group knows you.")
    if not email:
        form.fail("email", "Enter your e-mail address; you log in with it.")
    for field_name in ("name", "email"):
        if form.value(field_name) and not form.error(field_name):
            try:
                if field_name == "name":
                    groups.check_name(name)
                else:
                    email = groups.check_email(email)
            except LedgerError as error:
                form.fail(field_name, str(error))
    if reason := weak_password_reason(password, email=email, name=name):
        form.fail("password", reason)
    if not form.ok:
        return _join_page(request, view, status=422)
    if await groups.find_user(db_session, email) is not None:
        return await _join_with_existing_account(request, db_session, view, slug, email, password)
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    try:
        user = await groups.create_user(
            db_session, email=email, name=name, password_hash=password_hash
        )
        await groups.accept_invite(db_session, view.token, user)
    except LedgerError as error:
        if error.field not in ("name", "email"):
            return await _refused(request, db_session, view.token, None, error)
        # Someone took this e-mail address a moment ago: answered as any taken address.
        await db_session.rollback()
        fresh = await _join_view(db_session, view.token, None)
        fresh.form = form
        if error.field == "email":
            form.fail("", _CANNOT_MAKE_ACCOUNT)
            return _join_page(request, fresh, status=422)
        form.fail_with(error, ("name", "email"))
        return _join_page(request, fresh, status=status_of(error))
    return await _logged_in_as(request, db_session, user, slug)


async def _join_with_existing_account(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    view: JoinView,
    slug: str,
    email: str,
    password: str,
) -> Template | Redirect:
    """The new-account form, filled in with an address that has an account: that account's
    own password joins with it, as logging in would; anything else gets the answer a wrong
    login gets and counts against the same limits. So the form tells nobody which addresses
    have accounts that the login form does not tell them either."""
    settings = _settings(request)
    limiter, address = Limiter.of(settings), client_address(request, settings.trusted_networks)
    # As on the login form: counted and kept before the password is checked.
    turn = await count_login_attempt(db_session, limiter, email, address, now=utcnow())
    await commit_so_far(request)
    user = None
    if turn.refused_for is None:
        await wait_outside_turn(request, turn.delay)
        user = await check_password(db_session, email, password)
    if user is None:
        view.form.fail("", _CANNOT_MAKE_ACCOUNT)
        return _join_page(request, view, status=422)
    await forget_login_attempts(db_session, limiter, email, address, now=utcnow())
    try:
        await groups.accept_invite(db_session, view.token, user)
    except LedgerError as error:
        return await _refused(request, db_session, view.token, None, error)
    return await _logged_in_as(request, db_session, user, slug)


async def _logged_in_as(
    request: Request[Any, Any, Any], db_session: AsyncSession, user: User, slug: str
) -> Redirect:
    """Log the browser in as ``user`` (a new session id) and go to the group."""
    settings = _settings(request)
    cookie_name = session_cookie_name(settings)
    token = await start_session(db_session, user, replacing=request.cookies.get(cookie_name))
    response = see_other(f"/m/{slug}", cookies=[session_cookie(settings, token)])
    # As at login: a fresh CSRF token comes with the next page.
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response

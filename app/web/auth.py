"""Logging in and out, setting a new password by e-mail, and joining a group with an
invite link.

An invite's link is shown once, right after it is made (see ``app.web.members``); the join
page it opens lets a person join with their account or make one. A join page's address
holds the invite's secret: it is never sent on, nor kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import (
    authenticate,
    check_password,
    count_login_attempt,
    end_session,
    expired_session_cookie,
    forget_login_attempts,
    hash_password,
    session_cookie,
    session_cookie_name,
    start_session,
)
from app.db import commit_so_far
from app.deps import DbSession, settings_of
from app.errors import status_of
from app.i18n import available_languages
from app.limits import Limiter, client_address, wait_outside_turn
from app.mail import SmtpSettings, send_now
from app.password_reset import (
    RESET_LIFETIME,
    count_reset_request,
    find_reset,
    finish_reset,
    reset_message,
    start_reset,
)
from app.passwords import MIN_LENGTH, weak_password_reason
from app.web.forms import (
    Form,
    read_form,
    safe_next,
    said,
)
from app.web.language import LANGUAGE_COOKIE, visitor_language
from app.web.templating import CSRF_COOKIE, language_cookie, page, see_other
from ledger import groups
from ledger.errors import LedgerError
from ledger.groups import utcnow
from ledger.models import Invite, Membership, User
from ledger.words import N_

# A join page's address holds the invite's secret: it is never sent on, nor kept.
_JOIN_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


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
        done = request.query_params.get("reset") == "done"
        return page(request, "member/login.html", form=Form(), next=target, reset_done=done)

    @post("/login", name="login_submit")
    async def login(
        self, request: Request[Any, Any, Any], db_session: DbSession
    ) -> Template | Redirect:
        form = await read_form(request, ("email", "password", "next"))
        target = safe_next(form.value("next"))
        email = form.value("email").lower()
        password = (await request.form()).get("password") or ""
        form.values.pop("password", None)  # never sent back
        settings = settings_of(request)
        now = utcnow()
        if not email:
            form.fail("email", N_("Enter your e-mail address."))
        if not password:
            form.fail("password", N_("Enter your password."))
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
                N_(
                    "Too many failed attempts to log in. For your safety, please wait "
                    "1 minute before you try again."
                )
                if minutes == 1
                else N_(
                    "Too many failed attempts to log in. For your safety, please wait "
                    "%(minutes)s minutes before you try again."
                ),
                minutes=minutes,
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
            form.fail("", N_("The e-mail address or the password is not right."))
            return page(request, "member/login.html", form=form, next=target, status_code=400)
        await forget_login_attempts(db_session, limiter, email, address, now=utcnow())
        cookie_name = session_cookie_name(settings)
        token = await start_session(db_session, user, replacing=request.cookies.get(cookie_name))
        cookies = [session_cookie(settings, token)]
        # The member's language and the browser's picked one meet: a language picked before
        # logging in becomes the member's (their e-mails follow it), and a member who picked
        # one on another browser reads it here too.
        picked = request.cookies.get(LANGUAGE_COOKIE)
        offered = available_languages()
        if picked in offered and user.language is None:
            user.language = picked
        elif not picked and user.language in offered:
            cookies.append(language_cookie(str(user.language)))
        response = see_other(target, cookies=cookies)
        # A fresh CSRF token comes with the next page, tied to nothing from before the login.
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    @post("/logout", name="logout")
    async def logout(self, request: Request[Any, Any, Any], db_session: DbSession) -> Redirect:
        settings = settings_of(request)
        token = request.cookies.get(session_cookie_name(settings))
        if token:
            await end_session(db_session, token)
        return see_other("/", cookies=[expired_session_cookie(settings)])


# --- a forgotten password ----------------------------------------------------------------

# A reset page's address holds the link's secret: never sent on, nor kept.
_RESET_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
_RESET_SENT = N_(
    "If an account has this address, an e-mail with a link to set a new password is on its "
    "way. The link works once, within %(minutes)s minutes. No e-mail? Check the address and "
    "your spam folder, or ask again."
)
_RESET_GONE = N_(
    "This link cannot set a password: it was used already, a newer link replaced it, or it "
    "expired. Ask for a new one."
)


class PasswordPages(Controller):
    include_in_schema = False

    @get("/password/forgot", name="password_forgot")
    async def forgot_form(self, request: Request[Any, Any, Any]) -> Template:
        return _forgot_page(request, Form())

    @post("/password/forgot", name="password_forgot_submit")
    async def forgot(self, request: Request[Any, Any, Any], db_session: DbSession) -> Template:
        settings = settings_of(request)
        smtp = SmtpSettings.from_settings(settings)
        form = await read_form(request, ("email",))
        email = form.value("email").strip().lower()
        if smtp is None:  # the page says to ask an admin
            return _forgot_page(request, form)
        if not email:
            form.fail("email", N_("Enter the e-mail address you log in with."))
            return _forgot_page(request, form, status=422)
        now = utcnow()
        limiter = Limiter.of(settings)
        address = client_address(request, settings.trusted_networks)
        wait = await count_reset_request(db_session, limiter, email, address, now=now)
        await commit_so_far(request)
        if wait is not None:
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            form.fail(
                "",
                N_(
                    "Too many requests for a new password. Please wait 1 minute before you "
                    "ask again."
                )
                if minutes == 1
                else N_(
                    "Too many requests for a new password. Please wait %(minutes)s minutes "
                    "before you ask again."
                ),
                minutes=minutes,
            )
            return _forgot_page(
                request,
                form,
                status=429,
                headers={"Retry-After": str(max(1, int(wait.total_seconds())))},
            )
        started = await start_reset(db_session, email, now=now)
        background = None
        if started is not None:
            user, token = started
            subject, body = reset_message(user.name, f"{settings.base_url}/password/reset/{token}")
            # Sent after the answer, so the answer takes as long whether or not the address
            # has an account (the reset is committed before the answer goes out).
            background = BackgroundTask(
                send_now, smtp, user.email, subject, body, f"reset-{token[:12]}", settings.host
            )
        minutes = int(RESET_LIFETIME.total_seconds() // 60)
        answer = page(
            request,
            "member/password_forgot.html",
            form=Form(),
            mail=True,
            sent=said(_RESET_SENT, visitor_language(request), minutes=minutes),
        )
        answer.background = background
        return answer

    @get("/password/reset/{token:str}", name="password_reset")
    async def reset_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, token: FromPath[str]
    ) -> Template:
        found = await find_reset(db_session, token)
        return _reset_page(request, token, Form(), gone=found is None)

    @post("/password/reset/{token:str}", name="password_reset_submit")
    async def reset(
        self, request: Request[Any, Any, Any], db_session: DbSession, token: FromPath[str]
    ) -> Template | Redirect:
        found = await find_reset(db_session, token)
        if found is None:
            return _reset_page(request, token, Form(), gone=True)
        user = await db_session.get(User, found.user_id)
        assert user is not None
        form = Form(language=visitor_language(request))
        password = str((await request.form()).get("password") or "")  # never shown again
        if reason := weak_password_reason(password, email=user.email, name=user.name):
            form.fail("password", reason)
            return _reset_page(request, token, form, status=422)
        password_hash = await anyio.to_thread.run_sync(hash_password, password)
        if await finish_reset(db_session, token, password_hash) is None:
            return _reset_page(request, token, Form(), gone=True)  # spent a moment ago
        response = see_other("/login?reset=done")
        response.headers.update(_RESET_HEADERS)
        return response


def _forgot_page(
    request: Request[Any, Any, Any],
    form: Form,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    mail = SmtpSettings.from_settings(settings_of(request)) is not None
    return page(
        request,
        "member/password_forgot.html",
        status_code=status,
        headers=headers,
        form=form,
        mail=mail,
        sent="",
    )


def _reset_page(
    request: Request[Any, Any, Any],
    token: str,
    form: Form,
    *,
    gone: bool = False,
    status: int = 200,
) -> Template:
    return page(
        request,
        "member/password_reset.html",
        status_code=404 if gone else status,
        headers=_RESET_HEADERS,
        form=form,
        token=token,
        problem=said(_RESET_GONE, visitor_language(request)) if gone else "",
        min_password=MIN_LENGTH,
    )


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
_CANNOT_MAKE_ACCOUNT = N_(
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
        view.problem = N_(
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
        problem=said(view.problem, visitor_language(request)) if view.problem else "",
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
        form.fail("name", N_("Enter your name as the group knows you."))
    if not email:
        form.fail("email", N_("Enter your e-mail address; you log in with it."))
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
    settings = settings_of(request)
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
    settings = settings_of(request)
    cookie_name = session_cookie_name(settings)
    token = await start_session(db_session, user, replacing=request.cookies.get(cookie_name))
    response = see_other(f"/m/{slug}", cookies=[session_cookie(settings, token)])
    # As at login: a fresh CSRF token comes with the next page.
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response

"""A group's members: the admins' page of members, roles and invites (one-time join links),
and each member's notification settings.

An invite's link is shown once, right after it is made: the form redirects (POST-redirect-
GET) and the link travels to the members page in a short-lived cookie that only that page
reads and clears. The database keeps only the token's digest, so the link cannot be shown
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.groups import join_link
from app.auth import (
    Caller,
    provide_caller,
    uses_https,
)
from app.deps import CurrentCaller, DbSession, settings_of
from app.errors import status_of
from app.guards import member_with
from app.i18n import SOURCE_LANGUAGE, available_languages, translations
from app.jobs import forget_erased_files_after_commit
from app.mail import SmtpSettings
from app.settings import Settings
from app.web.forms import (
    MAX_SEQ,
    Form,
    read_form,
)
from app.web.language import visitor_language
from app.web.templating import languages_offered, page, see_other, settings_page
from ledger import groups
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.groups import MAX_INVITE_DAYS, ROLES
from ledger.models import Invite, Membership, User
from ledger.words import N_
from proposals import claims, notify
from proposals.models import NotificationPreference

# The new invite's token, on its way to the members page (see the module's doc).
NEW_INVITE_COOKIE = "cp_new_invite"
INVITE_DAY_CHOICES = (1, 3, 7, 14, MAX_INVITE_DAYS)

MODE_LABELS = {
    "none": N_("No e-mail: I read them on my dashboard"),
    "each": N_("An e-mail for each one"),
    "daily": N_("One e-mail a day with all of them (a daily digest)"),
}


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
            section.new_link = join_link(settings_of(request), token)
    done = request.query_params.get("done", "")
    if done == "invited" and not section.new_link:
        section.notice = N_(
            "The invite was made. Its link is shown only once: if you did not copy it, "
            "revoke the invite and make a new one."
        )
    elif done == "invite-revoked":
        section.notice = N_("The invite was revoked: its link no longer works.")
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


class MemberPages(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

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
            form.fail("email", N_("Enter the e-mail address they log in with."))
        else:
            try:
                email = groups.check_email(email)
                user = await groups.find_user(db_session, email)
            except LedgerError as error:
                form.fail("email", str(error))
            if form.ok and user is None:
                # Invites (a one-time join link) will go here once they exist.
                form.fail("email", N_("No one has an account with %(email)s yet."), email=email)
        present = user and await groups.active_membership(db_session, caller.group.id, user.id)
        if user is not None and present:
            form.fail(
                "email",
                N_("%(name)s is a member already; change their roles below."),
                name=user.name,
            )
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
            form = Form(language=visitor_language(request))
            form.fail(f"member-{member_id}", str(error))
            return await self._members_page(
                request, db_session, caller, form, status=status_of(error)
            )
        if caller.membership is not None and caller.membership.id == member_id:
            return see_other("/m")
        return _members_done(caller, "removed")

    @get(
        "/m/{group:str}/members/{member_id:int}/erase",
        guards=[member_with("admin")],
        name="member_erase_confirm",
    )
    async def erase_confirm(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        member_id: FromPath[int],
    ) -> Template:
        membership = await _membership(db_session, caller, member_id)
        return await _erase_page(request, db_session, caller, membership, Form())

    @post(
        "/m/{group:str}/members/{member_id:int}/erase",
        guards=[member_with("admin")],
        name="member_erase",
    )
    async def erase(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        member_id: FromPath[int],
    ) -> Template | Redirect:
        """Erase the member's personal data kept here: their claims' receipts (as
        ``DELETE /api/groups/{g}/members/{id}/personal-data``)."""
        membership = await _membership(db_session, caller, member_id)
        form = await read_form(request, ("confirm",))
        if form.value("confirm") != "yes":
            form.fail("confirm", N_("Tick the box to confirm that the files go for good."))
            return await _erase_page(request, db_session, caller, membership, form, status=422)
        await claims.erase_receipts(db_session, caller.group, membership.user_id)
        forget_erased_files_after_commit(request)
        return _members_done(caller, "erased")

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
        cookie = _new_invite_cookie(settings_of(request), caller.group.slug, token)
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
        form = Form(
            values={
                "mode": row.mode if row else "none",
                "language": caller.logged_in_user.language or SOURCE_LANGUAGE,
            }
        )
        return self._notifications_page(request, caller, form, saved=done == "saved")

    @post(
        "/m/{group:str}/notifications",
        guards=[member_with("member")],
        name="notification_settings_submit",
    )
    async def save_notification_settings(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template | Redirect:
        form = await read_form(request, ("mode", "language"))
        language = form.value("language")
        if language and language not in available_languages():
            form.fail("language", N_("Choose one of the languages offered."))
        elif language:  # the language of their e-mails and inbox, in every group
            caller.logged_in_user.language = language
        if not form.value("mode"):
            form.fail("mode", N_("Choose how you want to hear of them."))
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
        translate = translations(visitor_language(request)).gettext
        return settings_page(
            request,
            "member/notifications.html",
            caller,
            form,
            status=status,
            modes={mode: translate(label) for mode, label in MODE_LABELS.items()},
            # Stewards, facilitators and admins hear of new requests (``notify_stewards``).
            hears_of_requests=caller.may("steward") or caller.may("facilitator"),
            languages=languages_offered(),
            mail_sent=SmtpSettings.from_settings(settings_of(request)) is not None,
            saved=saved,
        )


_DONE_MESSAGES = {
    "added": N_("The member was added."),
    "updated": N_("The roles were saved."),
    "removed": N_("The member was removed. Their past entries and responses stay."),
    "erased": N_("The member's claims' receipts were erased; their hashes stay in the log."),
}


async def _erase_page(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    caller: Caller,
    membership: Membership,
    form: Form,
    *,
    status: int = 200,
) -> Template:
    filed = [
        claim
        for claim in await claims.claims_of(db_session, caller.group)
        if claim.claimant_id == membership.user_id
    ]
    return page(
        request,
        "member/member_erase.html",
        status_code=status,
        group=caller.group,
        caller=caller,
        form=form,
        member=membership,
        receipts=len([claim for claim in filed if claim.receipt_erased_at is None]),
        erased=len([claim for claim in filed if claim.receipt_erased_at is not None]),
    )


def _members_done(caller: Caller, what: str) -> Redirect:
    return see_other(f"/m/{caller.group.slug}/members?done={what}")


def _chosen_roles(form: Form) -> list[str]:
    return [role for role in ROLES if form.has("roles", role)] or ["member"]


async def _membership(db_session: DbSession, caller: Caller, member_id: int) -> Membership:

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

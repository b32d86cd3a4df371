"""Groups, members and the caller."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import Provide
from litestar.params import JSONBody

from app.api.schemas import (
    GroupIn,
    GroupOut,
    InboxLineOut,
    InviteCreated,
    InviteIn,
    InviteOut,
    MemberIn,
    MemberOut,
    MeOut,
)
from app.auth import provide_caller, provide_user
from app.deps import CurrentCaller, CurrentUser, DbSession, Id, settings_of
from app.guards import require_user, requires
from app.jobs import forget_erased_files_after_commit
from app.presenters.proposals import notification_target
from app.settings import Settings
from ledger import groups
from ledger.errors import InvalidInput, NotFound
from ledger.models import Group, Invite, Membership
from proposals import claims, notify
from proposals import queries as proposal_queries


def group_out(group: Group) -> GroupOut:
    return GroupOut(
        slug=group.slug,
        name=group.name,
        currency=group.currency,
        description=group.description,
        public=group.public,
        created_at=group.created_at,
    )


def member_out(membership: Membership) -> MemberOut:
    return MemberOut(
        id=membership.id,
        name=membership.user.name,
        roles=membership.roles.split(),
        joined_at=membership.joined_at,
    )


def invite_out(invite: Invite) -> InviteOut:
    return InviteOut(
        id=invite.id,
        roles=invite.roles.split(),
        status=groups.invite_state(invite),
        created_by=invite.creator.name,
        created_at=invite.created_at,
        expires_at=invite.expires_at,
        used_at=invite.used_at,
        used_by=invite.user.name if invite.user is not None else None,
        revoked_at=invite.revoked_at,
    )


def join_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/join/{token}"


class MeController(Controller):
    path = "/api/me"
    tags = ["Members"]
    dependencies = {"user": Provide(provide_user, sync_to_thread=False)}

    @get(guards=[require_user], summary="The calling user")
    async def me(self, user: CurrentUser) -> MeOut:
        return MeOut(id=user.id, email=user.email, name=user.name)

    @get(
        "/notifications",
        guards=[require_user],
        summary="My inbox: one line per open proposal and per other notification, newest "
        "first, each read or unread",
    )
    async def inbox(self, db_session: DbSession, user: CurrentUser) -> list[InboxLineOut]:
        lines = await proposal_queries.inbox(
            db_session,
            user.id,
        )
        return [
            InboxLineOut(
                id=line.notification.id,
                group=line.group.slug,
                kind=line.notification.kind,
                subject=line.notification.subject,
                created_at=line.notification.created_at,
                unread=line.unread,
                proposal=line.proposal.number if line.proposal is not None else None,
                url=notification_target(line.notification, line.group.slug),
            )
            for line in lines
        ]

    @post(
        "/notifications/{notification_id:int}/read",
        guards=[require_user],
        status_code=204,
        summary="Mark a line of my inbox read (a proposal's line: all its notifications)",
    )
    async def mark_read(
        self, db_session: DbSession, user: CurrentUser, notification_id: Id
    ) -> None:
        if await notify.mark_read(db_session, user.id, notification_id) is None:
            raise NotFound(f"You have no notification {notification_id}.")

    @post(
        "/notifications/read",
        guards=[require_user],
        status_code=204,
        summary="Mark my whole inbox read",
    )
    async def mark_all_read(self, db_session: DbSession, user: CurrentUser) -> None:
        await notify.mark_all_read(db_session, user.id)


class GroupController(Controller):
    path = "/api/groups"
    tags = ["Groups"]
    dependencies = {
        "caller": Provide(provide_caller, sync_to_thread=False),
        "user": Provide(provide_user, sync_to_thread=False),
    }

    @post(guards=[require_user], summary="Create a group; the caller becomes its admin")
    async def create_group(
        self, db_session: DbSession, user: CurrentUser, data: JSONBody[GroupIn]
    ) -> GroupOut:
        group = await groups.create_group(
            db_session,
            slug=data.slug,
            name=data.name,
            currency=data.currency,
            admin=user,
            description=data.description,
            public=data.public,
        )
        return group_out(group)

    @get("/{group:str}", guards=[requires("member")], summary="A group")
    async def get_group(self, caller: CurrentCaller) -> GroupOut:
        return group_out(caller.group)

    @get("/{group:str}/members", guards=[requires("member")], summary="The group's members")
    async def list_members(self, db_session: DbSession, caller: CurrentCaller) -> list[MemberOut]:
        return [member_out(m) for m in await groups.list_members(db_session, caller.group.id)]

    @post(
        "/{group:str}/members",
        guards=[requires("admin")],
        summary="Add a member or change a member's roles",
    )
    async def add_member(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[MemberIn]
    ) -> MemberOut:
        user = await groups.find_user(db_session, data.email)
        if user is None:
            raise InvalidInput(
                f"No user has the e-mail {data.email}; invite them instead.", field="email"
            )
        membership = await groups.add_member(db_session, caller.group, user, data.roles)
        return member_out(membership)

    @delete(
        "/{group:str}/members/{member_id:int}",
        guards=[requires("admin")],
        summary="Remove a member (their past responses and entries stay)",
    )
    async def remove_member(
        self, db_session: DbSession, caller: CurrentCaller, member_id: Id
    ) -> None:
        await groups.remove_member(db_session, caller.group, member_id)

    @delete(
        "/{group:str}/members/{member_id:int}/personal-data",
        guards=[requires("admin")],
        summary="Erase a member's personal data: the files of their claims' receipts",
        description=(
            "The receipts of every claim the member filed in the group are erased: their "
            "files leave the store once this is committed, wherever they were attached; the "
            "claims, the payments and the receipts' leaves and hashes stay, and the pages "
            "say when they were erased. The member may be current or removed."
        ),
    )
    async def erase_member_data(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        member_id: Id,
    ) -> None:
        membership = await db_session.get(Membership, member_id)
        if membership is None or membership.group_id != caller.group.id:
            raise NotFound(f"Group {caller.group.slug!r} has no member {member_id}.")
        await claims.erase_receipts(db_session, caller.group, membership.user_id)
        forget_erased_files_after_commit(request)

    @post(
        "/{group:str}/invites",
        guards=[requires("admin")],
        summary="Invite someone: a one-time join link (its token is shown once)",
    )
    async def create_invite(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        data: JSONBody[InviteIn],
    ) -> InviteCreated:
        assert caller.user is not None  # the admin guard let a member through
        invite, token = await groups.create_invite(
            db_session, caller.group, caller.user, data.roles, days=data.expires_in_days
        )
        settings = settings_of(request)
        return InviteCreated(
            id=invite.id,
            link=join_link(settings, token),
            token=token,
            roles=invite.roles.split(),
            expires_at=invite.expires_at,
        )

    @get(
        "/{group:str}/invites",
        guards=[requires("admin")],
        summary="The group's invites, newest first (without their tokens)",
    )
    async def list_invites(self, db_session: DbSession, caller: CurrentCaller) -> list[InviteOut]:
        return [invite_out(i) for i in await groups.list_invites(db_session, caller.group)]

    @delete(
        "/{group:str}/invites/{invite_id:int}",
        guards=[requires("admin")],
        summary="Revoke an invite: its link stops working (an invite used already cannot be)",
    )
    async def revoke_invite(
        self, db_session: DbSession, caller: CurrentCaller, invite_id: Id
    ) -> None:
        await groups.revoke_invite(db_session, caller.group, invite_id)

"""Every guard, API and pages alike: who may call a route.

A guard resolves the caller and the group named in the path once (``app.auth``), and
leaves them in the request's state as a ``Caller`` for the handler. A private group answers
404 to anyone who is not a member, so its existence does not leak. The pages' guards send
someone who is not logged in to the login form instead of answering 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from sqlalchemy import select

from app.auth import Caller, authenticate, request_session, resolve_caller
from ledger.groups import has_role
from ledger.models import Group
from proposals.models import GroupRules

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


async def require_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: any logged-in user."""
    if await authenticate(connection) is None:
        raise NotAuthorizedException("Log in or send a bearer token.")


def requires(role: str) -> Guard:
    """Guard: a member of the path's group with ``role`` (``admin`` implies every role)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user, group, membership = await resolve_caller(connection, logged_in=True)
        if membership is None:
            if not group.public:
                raise NotFoundException(f"There is no group {group.slug!r}.")
            raise PermissionDeniedException(f"You are not a member of {group.slug!r}.")
        if not has_role(membership.roles, role):
            raise PermissionDeniedException(f"This needs the {role} role in {group.slug!r}.")
        connection.state.cp_caller = Caller(user, group, membership)

    return guard


async def public_or_member(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: anyone may read a public group's ledger; a private one only its members."""
    user, group, membership = await resolve_caller(connection, logged_in=False)
    if membership is None and not group.public:
        raise NotFoundException(f"There is no group {group.slug!r}.")
    connection.state.cp_caller = Caller(user, group, membership)


async def discussion_readers(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: a group's discussions are for its members (answering as ``requires("member")``
    does), unless a public group made them public: then anyone may read them, as its
    proposals."""
    try:
        await requires("member")(connection, handler)
    except (NotAuthorizedException, PermissionDeniedException) as refused:
        if not await _discussions_public(connection):
            raise
        try:
            await public_or_member(connection, handler)
        except (NotAuthorizedException, NotFoundException):
            raise refused from None


async def _discussions_public(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    public = await request_session(connection).scalar(
        select(GroupRules.public_comments)
        .join(Group, Group.id == GroupRules.group_id)
        .where(Group.slug == connection.path_params["group"], Group.public.is_(True))
    )
    return bool(public)


async def steward_or_facilitator(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: the group's stewards and facilitators (and admins)."""
    try:
        await requires("steward")(connection, handler)
    except PermissionDeniedException:
        await requires("facilitator")(connection, handler)


# --- pages ---------------------------------------------------------------------------------


class LoginRequired(NotAuthorizedException):
    """A members' page asked for by someone not logged in: they are sent to log in."""


def login_redirect(request: Request[Any, Any, Any], _: LoginRequired) -> Redirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect("/login", query_params={"next": target}, status_code=303)


async def logged_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if await authenticate(connection) is None:
        raise LoginRequired("Log in to see this page.")


def member_with(role: str) -> Guard:
    """Guard of a group's members' page: log in first, then the role (``requires``)."""
    check = requires(role)

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        await logged_in(connection, handler)
        await check(connection, handler)

    return guard


async def steward_or_facilitator_page(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: log in first, then be a steward or a facilitator of the group."""
    await logged_in(connection, handler)
    await steward_or_facilitator(connection, handler)


def may_read_files(caller: Caller) -> bool:
    """Members read the group's receipts; everyone else when the group publishes them
    (that a receipt exists, and its hash, is public wherever the ledger is)."""
    return caller.membership is not None or caller.group.publish_receipts

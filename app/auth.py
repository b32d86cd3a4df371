"""Who is calling, and may they? Bearer tokens for scripts; role guards for every route.

A guard resolves the caller and the group named in the path once, and leaves them in the
request's state as a ``Caller`` for the handler. A private group answers 404 to anyone who
is not a member, so its existence does not leak.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiToken
from ledger.groups import active_membership, find_group, has_role, utcnow
from ledger.models import Group, Membership, User

TOKEN_PREFIX = "cp_"  # noqa: S105  (a prefix that makes leaked tokens easy to spot)
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_token(session: AsyncSession, user: User, label: str = "") -> str:
    """Create an API token and return it; only its digest is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id, label=label[:120], token_hash=token_digest(token), created_at=utcnow()
        )
    )
    await session.flush()
    return token


def request_session(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession:
    """The request's own database session (the one the handler gets, one transaction)."""
    config = connection.app.state.alchemy_config
    session: AsyncSession = config.provide_session(connection.app.state, connection.scope)
    return session


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The calling user, None when anonymous; a wrong token is refused outright."""
    cached = connection.scope.get("state", {}).get("cp_user", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    user: User | None = None
    header = connection.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("Use 'Authorization: Bearer <token>'.")
        session = request_session(connection)
        result = await session.scalars(
            select(ApiToken).where(
                ApiToken.token_hash == token_digest(token.strip()), ApiToken.revoked_at.is_(None)
            )
        )
        api_token = result.one_or_none()
        if api_token is None:
            raise NotAuthorizedException("The bearer token is not valid.")
        user = api_token.user
    connection.state.cp_user = user
    return user


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user, the group of the path and their membership of it."""

    user: User | None
    group: Group
    membership: Membership | None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


async def require_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: any logged-in user."""
    if await authenticate(connection) is None:
        raise NotAuthorizedException("Log in or send a bearer token.")


def requires(role: str) -> Guard:
    """Guard: a member of the path's group with ``role`` (``admin`` implies every role)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = await authenticate(connection)
        if user is None:
            raise NotAuthorizedException("Log in or send a bearer token.")
        group, membership = await _group_and_membership(connection, user)
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
    user = await authenticate(connection)
    group, membership = await _group_and_membership(connection, user)
    if membership is None and not group.public:
        raise NotFoundException(f"There is no group {group.slug!r}.")
    connection.state.cp_caller = Caller(user, group, membership)


async def _group_and_membership(
    connection: ASGIConnection[Any, Any, Any, Any], user: User | None
) -> tuple[Group, Membership | None]:
    slug = connection.path_params["group"]
    session = request_session(connection)
    group = await find_group(session, slug)
    if group is None:
        raise NotFoundException(f"There is no group {slug!r}.")
    membership = await active_membership(session, group.id, user.id) if user else None
    return group, membership


def provide_caller(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    caller: Caller = request.state.cp_caller
    return caller


def provide_user(request: ASGIConnection[Any, Any, Any, Any]) -> User:
    user: User | None = request.state.get("cp_user")
    if user is None:  # only reachable without the require_user guard: a wiring bug
        raise NotAuthorizedException("Log in or send a bearer token.")
    return user

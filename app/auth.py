"""Who is calling: bearer tokens for scripts, a session cookie for browsers, passwords and
the login limits; the caller and their membership of the path's group, resolved once for
the guards (``app.guards``, which decide who may call a route)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, NotFoundException
from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.limits import (
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_ACCOUNT_AND_ADDRESS,
    LOGIN_PER_ADDRESS,
    Limiter,
    login_delay,
)
from app.models import ApiToken, WebSession
from app.settings import Settings
from ledger.groups import ROLES, group_and_membership, has_role, utcnow
from ledger.loaded import DriverQuery, column_names, current, table_of
from ledger.models import Group, Membership, User
from ledger.rules import SLUG

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


# Built once, with a bound parameter: SQLAlchemy then keeps its cache key between requests.
_TOKEN = select(ApiToken).where(
    ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None)
)


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The calling user, None when anonymous; a wrong token is refused outright.

    A bearer token wins over a session cookie; without one, the browser's session cookie
    (a missing, expired or unknown one just means anonymous)."""
    cached = connection.scope.get("state", {}).get("cp_user", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    user: User | None = None
    token_hash = _bearer_token_hash(connection)
    if token_hash is not None:
        session = request_session(connection)
        result = await session.scalars(_TOKEN, {"token_hash": token_hash})
        api_token = result.one_or_none()
        if api_token is None:
            raise NotAuthorizedException(_INVALID_TOKEN)
        user = api_token.user
    else:
        cookie = connection.cookies.get(session_cookie_name(connection.app.state.settings))
        if cookie:
            user = await session_user(request_session(connection), cookie)
    connection.state.cp_user = user
    return user


_INVALID_TOKEN = "The bearer token is not valid."  # noqa: S105  (a message, not a secret)


def _bearer_token_hash(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The digest of the request's bearer token, None without an Authorization header."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    # Present but empty is malformed, not absent: any Authorization header exempts a
    # request from the CSRF check, so it must never be served as the browser's session.
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("Use 'Authorization: Bearer <token>'.")
    return token_digest(token.strip())


# --- browser sessions --------------------------------------------------------------------
# A random token in an HttpOnly cookie; the database keeps its SHA-256, the user and the
# expiry, so every worker process sees the same sessions and logging out ends one for all.

SESSION_LIFETIME = timedelta(days=14)
SESSION_COOKIE = "cp_session"
# Verified against when the e-mail is unknown, so a wrong e-mail costs what a wrong password
# does and the timing tells nobody which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def uses_https(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def session_cookie_name(settings: Settings) -> str:
    """``__Host-`` pins the cookie to our exact host over HTTPS (browsers refuse it else)."""
    return f"__Host-{SESSION_COOKIE}" if uses_https(settings) else SESSION_COOKIE


def session_cookie(settings: Settings, token: str) -> Cookie:
    return Cookie(
        key=session_cookie_name(settings),
        value=token,
        path="/",
        max_age=int(SESSION_LIFETIME.total_seconds()),
        secure=uses_https(settings),
        httponly=True,
        samesite="lax",
    )


def expired_session_cookie(settings: Settings) -> Cookie:
    cookie = session_cookie(settings, "")
    cookie.max_age = 0
    return cookie


async def session_user(session: AsyncSession, token: str) -> User | None:
    result = await session.scalars(
        select(WebSession).where(
            WebSession.token_hash == token_digest(token), WebSession.expires_at > utcnow()
        )
    )
    web_session = result.one_or_none()
    return web_session.user if web_session else None


async def start_session(session: AsyncSession, user: User, *, replacing: str | None) -> str:
    """Log a browser in with a new session id (the one it had before, if any, ends), and
    sweep expired sessions. Returns the token for the cookie."""
    now = utcnow()
    if replacing:
        await end_session(session, replacing)
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    await session.flush()
    return token


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_digest(token)))


# --- logging in --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginTurn:
    """What the limits say about one login attempt, counted before its password is checked:
    refused for a while (``refused_for``), or checked after ``delay`` seconds."""

    refused_for: timedelta | None
    delay: float


async def count_login_attempt(
    session: AsyncSession, limiter: Limiter, email: str, address: str, *, now: datetime
) -> LoginTurn:
    """Count an attempt against its account and address together, its address, and its
    account, in one atomic step (``app.limits``). Too many from one address, or from one
    address on one account, are refused for the rest of the window; many on one account
    from many addresses only slow down, so its owner still gets in from elsewhere."""
    email = email.strip().lower()
    pair, by_address, account = await limiter.hit(
        session,
        now,
        (LOGIN_PER_ACCOUNT_AND_ADDRESS, f"{email}\x00{address}"),
        (LOGIN_PER_ADDRESS, address),
        (LOGIN_PER_ACCOUNT, email),
    )
    waits = [tally.wait(now) for tally in (pair, by_address) if tally.exceeded]
    if waits:
        return LoginTurn(max(waits), 0.0)
    return LoginTurn(None, login_delay(account.hits))


async def forget_login_attempts(
    session: AsyncSession, limiter: Limiter, email: str, address: str, *, now: datetime
) -> None:
    """The right password: its attempt does not count, nor the earlier ones of this
    address on this account (the others stay: they may be someone else's guesses)."""
    email = email.strip().lower()
    await limiter.forget(session, LOGIN_PER_ACCOUNT_AND_ADDRESS, f"{email}\x00{address}")
    await limiter.refund(session, now, LOGIN_PER_ADDRESS, address)
    await limiter.refund(session, now, LOGIN_PER_ACCOUNT, email)


async def check_password(session: AsyncSession, email: str, password: str) -> User | None:
    """The user when the e-mail and password match, else None (in the same time either way).
    The hash is checked in a worker thread: Argon2 is meant to be slow."""
    result = await session.scalars(select(User).where(User.email == email.strip().lower()))
    user = result.one_or_none()
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    matches = await anyio.to_thread.run_sync(password_matches, stored, password)
    return user if matches and user is not None and user.password_hash else None


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user, the group of the path and their membership of it."""

    user: User | None
    group: Group
    membership: Membership | None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def logged_in_user(self) -> User:
        """The caller's user, on a route whose guard let only logged-in callers through."""
        assert self.user is not None, "a route for members needs a guard that logs them in"
        return self.user

    @property
    def roles(self) -> list[str]:
        """The roles the caller holds in the group, in ``ROLES`` order (``admin`` implies
        every role); none for a visitor."""
        held = self.membership.roles if self.membership else ""
        return [role for role in ROLES if has_role(held, role)]

    def may(self, role: str) -> bool:
        """Whether the caller holds ``role`` in the group."""
        return self.membership is not None and has_role(self.membership.roles, role)


async def _group_and_membership(
    connection: ASGIConnection[Any, Any, Any, Any], user: User | None
) -> tuple[Group, Membership | None]:
    slug = connection.path_params["group"]
    session = request_session(connection)
    group, membership = await group_and_membership(session, slug, user)
    if group is None:
        raise NotFoundException(f"There is no group {slug!r}.")
    return group, membership


async def resolve_caller(
    connection: ASGIConnection[Any, Any, Any, Any], *, logged_in: bool
) -> tuple[User | None, Group, Membership | None]:
    """The caller, the path's group and the caller's membership of it (``logged_in``: an
    anonymous caller is refused before the group is looked up). With a bearer token the
    three come from one query: every API call to a group's routes needs them all."""
    slug = connection.path_params["group"]
    token_hash = (
        _bearer_token_hash(connection)
        if "cp_user" not in connection.scope.get("state", {})
        else None
    )
    if token_hash is None or not SLUG.fullmatch(slug):
        user = await authenticate(connection)
        if user is None and logged_in:
            raise NotAuthorizedException("Log in or send a bearer token.")
        return (user, *await _group_and_membership(connection, user))
    session = request_session(connection)
    rows = await _TOKEN_GROUP_AND_MEMBERSHIP.rows(session, token_hash=token_hash, slug=slug)
    if not rows:
        raise NotAuthorizedException(_INVALID_TOKEN)
    # The session's objects of the rows, as the ORM would have loaded them.
    row = rows[0]
    user = current(session, User, dict(zip(_USER, row[:_GROUP_AT], strict=True)))
    connection.state.cp_user = user
    if row[_GROUP_AT] is None:
        raise NotFoundException(f"There is no group {slug!r}.")
    group = current(session, Group, dict(zip(_GROUP, row[_GROUP_AT:_MEMBERSHIP_AT], strict=True)))
    membership = None
    if row[_MEMBERSHIP_AT] is not None:
        values = dict(zip(_MEMBERSHIP, row[_MEMBERSHIP_AT:], strict=True))
        membership = current(session, Membership, {**values, "user": user})
    return user, group, membership


# _TOKEN, then ledger.groups' group-and-membership query, as one, sent to the driver: the
# ORM's loading of these three rows cost a request to a group some 300 us of CPU.
_USER = column_names(User)
_GROUP = column_names(Group)
_MEMBERSHIP = column_names(Membership)
_GROUP_AT = len(_USER)
_MEMBERSHIP_AT = _GROUP_AT + len(_GROUP)
_COLUMNS = [*table_of(User).columns, *table_of(Group).columns, *table_of(Membership).columns]
_TOKEN_GROUP_AND_MEMBERSHIP = DriverQuery(
    select(*_COLUMNS)
    .select_from(ApiToken)
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(Group, Group.slug == bindparam("slug"))
    .outerjoin(
        Membership,
        (Membership.group_id == Group.id)
        & (Membership.user_id == ApiToken.user_id)
        & Membership.removed_at.is_(None),
    )
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None)),
    _COLUMNS,
)


def provide_caller(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    caller: Caller = request.state.cp_caller
    return caller


def provide_user(request: ASGIConnection[Any, Any, Any, Any]) -> User:
    user: User | None = request.state.get("cp_user")
    if user is None:  # only reachable without the require_user guard: a wiring bug
        raise NotAuthorizedException("Log in or send a bearer token.")
    return user

"""Setting a new password by e-mail, for a member who forgot theirs.

A reset is a random token sent to the account's address as a link. Only its SHA-256 is
stored; it works once, for ``RESET_LIFETIME``, and a newer request for the same account
retires the older links. Asking answers the same whether or not the address has an account
(the e-mail goes out after the answer, so not even the time tells), and is rate-limited per
address and per account like logging in (``app.limits``). A new password ends every session
of the account, since whoever knew the old one may be logged in.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import token_digest
from app.limits import RESET_PER_ACCOUNT, RESET_PER_ADDRESS, Limiter
from app.models import PasswordReset, WebSession
from ledger.groups import utcnow
from ledger.models import User

RESET_LIFETIME = timedelta(hours=1)


async def count_reset_request(
    session: AsyncSession, limiter: Limiter, email: str, address: str, *, now: datetime
) -> timedelta | None:
    """Count a request for a reset link; how long to wait when there were too many (counted
    for any address, so a refusal says nothing about which addresses have accounts)."""
    by_address, by_account = await limiter.hit(
        session, now, (RESET_PER_ADDRESS, address), (RESET_PER_ACCOUNT, email.strip().lower())
    )
    waits = [tally.wait(now) for tally in (by_address, by_account) if tally.exceeded]
    return max(waits) if waits else None


async def start_reset(
    session: AsyncSession, email: str, *, now: datetime | None = None
) -> tuple[User, str] | None:
    """A new reset link's token for the account with this address (None: no such account,
    which the caller must not reveal). Earlier unused links of the account stop working."""
    now = now or utcnow()
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        return None
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    await session.execute(delete(PasswordReset).where(PasswordReset.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + RESET_LIFETIME,
        )
    )
    await session.flush()
    return user, token


async def find_reset(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> PasswordReset | None:
    """The reset a link's token opens, if it is unused and not expired."""
    now = now or utcnow()
    return await session.scalar(
        select(PasswordReset).where(
            PasswordReset.token_hash == token_digest(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
    )


async def finish_reset(
    session: AsyncSession, token: str, password_hash: str, *, now: datetime | None = None
) -> User | None:
    """Set the new password and spend the link (None: the link is not valid any more).
    The link is spent by one statement, so two tabs sending it at once cannot both win."""
    now = now or utcnow()
    spent = await session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == token_digest(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordReset.user_id)
    )
    user_id = spent.scalar_one_or_none()
    if user_id is None:
        return None
    user = await session.get(User, user_id)
    assert user is not None  # users are never deleted
    user.password_hash = password_hash
    await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    await session.flush()
    return user


def reset_message(name: str, link: str) -> tuple[str, str]:
    """The e-mail's subject and body."""
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    return (
        "Set a new Common Purse password",
        f"Hello {name},\n\n"
        "Someone (we hope you) asked to set a new password for your Common Purse account.\n"
        f"Open this link to choose one. It works once, within {minutes} minutes:\n\n"
        f"{link}\n\n"
        "If you did not ask, ignore this e-mail: your password stays as it is.\n",
    )

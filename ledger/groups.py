"""Groups, the people in them and their roles, and the invites that let people join."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value

from ledger.canonical import ZERO_HASH, has_control_characters, nfc
from ledger.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from ledger.models import Group, Invite, LogState, Membership, User
from ledger.money import check_currency
from ledger.places import default_place
from ledger.rules import SLUG, check_slug

ROLES = ("member", "steward", "facilitator", "admin")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{1,63}")


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_roles(roles: list[str] | tuple[str, ...] | set[str]) -> str:
    """Store roles as a sorted, space-separated set; every role implies ``member``."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput(
            f"Unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}.", field="roles"
        )
    return " ".join(role for role in ROLES if role in set(roles) | {"member"})


def has_role(roles: str, role: str) -> bool:
    """``admin`` implies every role; every role implies ``member``."""
    held = roles.split()
    return role in held or "admin" in held


def check_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidInput(f"{email!r} is not an e-mail address.", field="email")
    return email


def check_name(name: str, *, field: str = "name", max_length: int = 120) -> str:
    name = nfc(" ".join(name.split()))
    if has_control_characters(name):
        raise InvalidInput("A name cannot hold control characters.", field=field)
    if not name or len(name) > max_length:
        raise InvalidInput(f"A name is 1-{max_length} characters.", field=field)
    return name


async def create_user(
    session: AsyncSession, *, email: str, name: str, password_hash: str | None
) -> User:
    email = check_email(email)
    if await find_user(session, email) is not None:
        raise AlreadyExists(f"A user with the e-mail {email} exists already.", field="email")
    user = User(
        email=email, name=check_name(name), password_hash=password_hash, created_at=utcnow()
    )
    session.add(user)
    await session.flush()
    return user


async def find_user(session: AsyncSession, email: str) -> User | None:
    if has_control_characters(email):
        return None  # no address holds one (and a NUL must not reach the database)
    result = await session.scalars(select(User).where(User.email == email.strip().lower()))
    return result.one_or_none()


async def get_user(session: AsyncSession, email: str) -> User:
    user = await find_user(session, email)
    if user is None:
        raise NotFound(f"No user has the e-mail {email}.", field="email")
    return user


async def create_group(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    currency: str,
    admin: User,
    description: str = "",
    public: bool = True,
) -> Group:
    check_slug(slug)
    check_currency(currency)
    if await find_group(session, slug) is not None:
        raise AlreadyExists(f"The group slug {slug!r} is taken.", field="slug")
    now = utcnow()
    description = nfc(description.strip())
    if has_control_characters(description, multiline=True):
        raise InvalidInput("The description cannot hold control characters.", field="description")
    group = Group(
        slug=slug,
        name=check_name(name),
        currency=currency,
        description=description,
        public=public,
        created_at=now,
    )
    session.add(group)
    await session.flush()
    session.add(LogState(group_id=group.id, size=0, head_hash=ZERO_HASH))
    # Every group holds its money somewhere: one default place, so a group with one
    # account never chooses (``ledger.places``).
    session.add(default_place(group, now))
    session.add(
        Membership(
            group_id=group.id, user_id=admin.id, roles=normalise_roles(["admin"]), joined_at=now
        )
    )
    await session.flush()
    return group


async def find_group(session: AsyncSession, slug: str) -> Group | None:
    if not SLUG.fullmatch(slug):
        return None  # no group has such a slug (and a NUL must not reach the database)
    result = await session.scalars(select(Group).where(Group.slug == slug))
    return result.one_or_none()


async def get_group(session: AsyncSession, slug: str) -> Group:
    group = await find_group(session, slug)
    if group is None:
        raise NotFound(f"There is no group {slug!r}.")
    return group


async def active_membership(
    session: AsyncSession, group_id: int, user_id: int
) -> Membership | None:
    result = await session.scalars(
        select(Membership).where(
            Membership.group_id == group_id,
            Membership.user_id == user_id,
            Membership.removed_at.is_(None),
        )
    )
    return result.one_or_none()


# Built once: every guarded request runs it, and a statement object reused with bound
# parameters skips most of SQLAlchemy's per-call work (its cache key is kept).
_GROUP_AND_MEMBERSHIP = (
    select(Group, Membership)
    .outerjoin(
        Membership,
        (Membership.group_id == Group.id)
        & (Membership.user_id == bindparam("user_id"))
        & Membership.removed_at.is_(None),
    )
    .where(Group.slug == bindparam("slug"))
    .options(lazyload(Membership.user))  # the caller has the user: no need to join it again
)


async def group_and_membership(
    session: AsyncSession, slug: str, user: User | None
) -> tuple[Group | None, Membership | None]:
    """The group of ``slug`` and the user's active membership of it, in one query (every
    guarded request asks for both)."""
    if not SLUG.fullmatch(slug):
        return None, None
    if user is None:
        return await find_group(session, slug), None
    row = (
        await session.execute(_GROUP_AND_MEMBERSHIP, {"slug": slug, "user_id": user.id})
    ).one_or_none()
    if row is None:
        return None, None
    group, membership = row
    if membership is not None:
        set_committed_value(membership, "user", user)
    return group, membership


async def list_members(session: AsyncSession, group_id: int) -> list[Membership]:
    result = await session.scalars(
        select(Membership)
        .where(Membership.group_id == group_id, Membership.removed_at.is_(None))
        .order_by(Membership.id)
    )
    return list(result)


async def add_member(
    session: AsyncSession, group: Group, user: User, roles: list[str] | tuple[str, ...]
) -> Membership:
    """Add a person to a group, or give a present (or former) member the given roles."""
    stored = normalise_roles(roles)
    result = await session.scalars(
        select(Membership).where(Membership.group_id == group.id, Membership.user_id == user.id)
    )
    membership = result.one_or_none()
    if membership is None:
        membership = Membership(
            group_id=group.id, user_id=user.id, roles=stored, joined_at=utcnow()
        )
        session.add(membership)
    else:
        # A former admin's row still says "admin": only a present admin can be the last one.
        present = membership.removed_at is None
        if present and has_role(membership.roles, "admin") and "admin" not in stored.split():
            await _keep_an_admin(session, group)
        if membership.removed_at is not None:
            # Rejoining is joining anew: rounds opened before today do not count them.
            membership.joined_at = utcnow()
            membership.removed_at = None
        membership.roles = stored
    await session.flush()
    return membership


async def remove_member(session: AsyncSession, group: Group, membership_id: int) -> Membership:
    result = await session.scalars(
        select(Membership).where(
            Membership.id == membership_id,
            Membership.group_id == group.id,
            Membership.removed_at.is_(None),
        )
    )
    membership = result.one_or_none()
    if membership is None:
        raise NotFound(f"Group {group.slug!r} has no member {membership_id}.")
    if has_role(membership.roles, "admin"):
        await _keep_an_admin(session, group)
    membership.removed_at = utcnow()
    await session.flush()
    return membership


async def _keep_an_admin(session: AsyncSession, group: Group) -> None:
    """Refuse to take away the group's last admin: nobody could manage it afterwards."""
    admins = [m for m in await list_members(session, group.id) if has_role(m.roles, "admin")]
    if len(admins) <= 1:
        raise Conflict("A group needs an admin: make someone else admin first.")


# --- invites -----------------------------------------------------------------------------
# A one-time link to join a group with some roles. The token is shown once; only its
# SHA-256 is kept. An invite is open until it is used, revoked or expires, whichever first.

INVITE_DAYS = 7
MAX_INVITE_DAYS = 30
InviteState = Literal["open", "used", "revoked", "expired"]
_NOT_AN_INVITE = (
    "This invite link is not valid. Check that the whole link was copied, or ask an admin "
    "of the group for a new one."
)


def invite_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invite_state(invite: Invite, now: datetime | None = None) -> InviteState:
    if invite.used_at is not None:
        return "used"
    if invite.revoked_at is not None:
        return "revoked"
    if invite.expires_at <= (now or utcnow()):
        return "expired"
    return "open"


def invite_refusal(invite: Invite, now: datetime | None = None) -> str | None:
    """Why the invite cannot be used (for the person holding the link), or None if it can."""
    ask = f"ask an admin of {invite.group.name} for a new one."
    return {
        "open": None,
        "used": f"This invite link has been used already; each link works once. Please {ask}",
        "revoked": f"This invite link was withdrawn by the group. If you should join, {ask}",
        "expired": f"This invite link has expired. Please {ask}",
    }[invite_state(invite, now)]


async def create_invite(
    session: AsyncSession,
    group: Group,
    created_by: User,
    roles: list[str] | tuple[str, ...],
    *,
    days: int = INVITE_DAYS,
    now: datetime | None = None,
) -> tuple[Invite, str]:
    """A new invite to ``group`` with ``roles``, open for ``days``; returns it and its token
    (the only time the token exists outside the link)."""
    if isinstance(days, bool) or not 1 <= days <= MAX_INVITE_DAYS:
        raise InvalidInput(
            f"An invite link works for 1 to {MAX_INVITE_DAYS} days.", field="expires_in_days"
        )
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    invite = Invite(
        group=group,
        token_hash=invite_digest(token),
        roles=normalise_roles(roles),
        creator=created_by,
        created_at=now,
        expires_at=now + timedelta(days=days),
        user=None,
    )
    session.add(invite)
    await session.flush()
    return invite, token


async def find_invite(session: AsyncSession, token: str) -> Invite | None:
    """The invite of a link's token, whatever its state; None for a token never issued."""
    if not token or len(token) > 200:
        return None
    result = await session.scalars(select(Invite).where(Invite.token_hash == invite_digest(token)))
    return result.one_or_none()


async def open_invite(session: AsyncSession, token: str, *, now: datetime | None = None) -> Invite:
    """The invite of a token that can still be used; NotFound or Conflict say why not."""
    invite = await find_invite(session, token)
    if invite is None:
        raise NotFound(_NOT_AN_INVITE)
    refusal = invite_refusal(invite, now)
    if refusal is not None:
        raise Conflict(refusal)
    return invite


async def accept_invite(
    session: AsyncSession, token: str, user: User, *, now: datetime | None = None
) -> tuple[Membership, bool]:
    """``user`` joins the invite's group with its roles; returns the membership and whether
    they joined just now.

    Someone who is a member already stays as they are and the invite stays open (it was
    meant for someone else). Only one person can ever use an invite: it is claimed by one
    conditional UPDATE, which two racing accepts cannot both pass (PostgreSQL re-checks
    the condition after the first commits; SQLite runs write transactions one at a time).
    """
    now = now or utcnow()
    invite = await find_invite(session, token)
    if invite is None:
        raise NotFound(_NOT_AN_INVITE)
    present = await active_membership(session, invite.group_id, user.id)
    if present is not None:
        return present, False
    claimed = await session.execute(
        update(Invite)
        .where(
            Invite.id == invite.id,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
            Invite.expires_at > now,
        )
        .values(used_at=now, used_by=user.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(invite)
    if not isinstance(claimed, CursorResult) or claimed.rowcount != 1:
        if invite.used_by == user.id:  # their own click a moment ago (a double submit)
            present = await active_membership(session, invite.group_id, user.id)
            if present is not None:
                return present, False
        raise Conflict(invite_refusal(invite, now) or _NOT_AN_INVITE)
    return await add_member(session, invite.group, user, invite.roles.split()), True


async def list_invites(
    session: AsyncSession, group: Group, *, open_only: bool = False, now: datetime | None = None
) -> list[Invite]:
    """The group's invites, newest first (only those that can still be used: ``open_only``)."""
    query = select(Invite).where(Invite.group_id == group.id)
    if open_only:
        query = query.where(
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
            Invite.expires_at > (now or utcnow()),
        )
    result = await session.scalars(query.order_by(Invite.id.desc()))
    return list(result)


async def revoke_invite(
    session: AsyncSession, group: Group, invite_id: int, *, now: datetime | None = None
) -> Invite:
    """Withdraw an invite so its link no longer works. Revoking twice is harmless; an invite
    that was used cannot be revoked (remove the member instead)."""
    result = await session.scalars(
        select(Invite).where(Invite.id == invite_id, Invite.group_id == group.id)
    )
    invite = result.one_or_none()
    if invite is None:
        raise NotFound(f"Group {group.slug!r} has no invite {invite_id}.")
    # Conditional, like accepting: an invite being used at this moment stays used.
    await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(invite)
    if invite.used_at is not None:
        who = invite.user.name if invite.user is not None else "someone"
        raise Conflict(
            f"This invite was used already by {who}; to undo that, remove them as a member."
        )
    return invite

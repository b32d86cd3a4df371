"""Groups, the people in them and their roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.canonical import ZERO_HASH, has_control_characters, nfc
from ledger.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from ledger.models import Group, LogState, Membership, User
from ledger.money import check_currency
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
        if has_role(membership.roles, "admin") and "admin" not in stored.split():
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

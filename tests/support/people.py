"""People and a group to test with: one person per role, each with an API token."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import create_token
from ledger import groups, service
from ledger.models import Group, User
from ledger.schemas import DonationIn, FundIn
from proposals import service as proposals
from proposals import support
from proposals.models import SupportRequest
from proposals.schemas import PolicyIn, ProposalIn


@dataclass
class Person:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """A group "rent-fund" (EUR, public) with two funds and one person per role, plus an
    outsider who belongs to no group."""

    group: Group
    slug: str
    admin: Person
    steward: Person
    facilitator: Person
    member: Person
    outsider: Person

    async def fresh_group(self, session: AsyncSession) -> Group:
        """The group re-read (after a rollback has expired the loaded object)."""
        return await groups.get_group(session, self.slug)


async def make_person(session: AsyncSession, name: str) -> Person:
    user = await groups.create_user(
        session, email=f"{name}@example.org", name=name.title(), password_hash=None
    )
    return Person(user, await create_token(session, user, "tests"))


async def build_world(
    session: AsyncSession, *, slug: str = "rent-fund", public: bool = True
) -> World:
    people = {
        name: await make_person(session, f"{name}-{slug}")
        for name in ("admin", "steward", "facilitator", "member", "outsider")
    }
    group = await groups.create_group(
        session,
        slug=slug,
        name="Rent Fund",
        currency="EUR",
        admin=people["admin"].user,
        public=public,
    )
    for role in ("steward", "facilitator", "member"):
        await groups.add_member(session, group, people[role].user, [role])
    await service.create_fund(session, group, FundIn(slug="rent-relief", name="Rent relief"))
    await service.create_fund(session, group, FundIn(slug="groceries", name="Groceries"))
    await session.commit()
    return World(group=group, slug=group.slug, **people)


async def ask_for_support(session: AsyncSession, world: World) -> SupportRequest:
    form = support.AskForm(need="Rent for March", email="asker@example.org", consent=True)
    return await support.ask(session, world.group, form)


async def fill(session: AsyncSession, world: World, count: int = 6) -> None:
    for i in range(count):
        await service.record_entry(
            session,
            world.group,
            DonationIn(fund="rent-relief", amount=f"{10 + i}.00", memo=f"gift {i + 1}"),
            recorded_by=world.steward.user.id,
        )
    await session.commit()


async def adopt_policies(
    session: AsyncSession,
    group: Group,
    funds: Iterable[str],
    *,
    max_per_payment: str = "100000.00",
    max_per_month: str = "1000000.00",
    purpose: str = "Everyday payments",
    **terms: object,
) -> dict[str, int]:
    """A spending policy per fund that all the group's members agreed to (every payment
    needs a decision); their numbers by fund. Wide limits by default, for tests about
    something else than the limits. Not committed."""
    members = await groups.list_members(session, group.id)
    admin = next(m.user for m in members if "admin" in m.roles.split())
    numbers: dict[str, int] = {}
    for fund in funds:
        proposal = await proposals.create_proposal(
            session,
            group,
            admin,
            ProposalIn(
                title=f"Standing policy: {purpose}",
                kind="policy",
                policy=PolicyIn(
                    fund=fund,
                    max_per_payment=max_per_payment,
                    max_per_month=max_per_month,
                    purpose=purpose,
                    **terms,  # type: ignore[arg-type]
                ),
            ),
        )
        for member in members:
            await proposals.respond(session, group, proposal.number, member.user, "agree", "")
        numbers[fund] = proposal.number
    return numbers


async def adopt_policy(
    session: AsyncSession, world: World, *, fund: str = "rent-relief", **terms: object
) -> int:
    """``adopt_policies`` for one fund of the world, committed; its number."""
    numbers = await adopt_policies(session, await world.fresh_group(session), [fund], **terms)  # type: ignore[arg-type]
    await session.commit()
    return numbers[fund]

"""Invites: one-time join links made by admins (API), and the join page that a link opens.

A link works once, for the roles and the days the admin chose; the database keeps only its
token's digest. Someone new creates an account on the join page; someone logged in joins
with one POST; someone with an account who is not logged in goes to log in and comes back.
A used, expired, revoked or made-up link is refused clearly and changes nothing, also when
two people race for one link.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.limits import LOGIN_PER_ACCOUNT_AND_ADDRESS
from app.models import RateCounter
from app.settings import Settings
from ledger import groups
from ledger.errors import Conflict, NotFound
from ledger.groups import utcnow
from ledger.models import Invite, Membership, User
from tests.support.clients import PASSWORD, browser, csrf_of, give_password, post_form, text_of
from tests.support.people import Person, World, make_person

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
NEW_PASSWORD = "a long enough password"


async def make_invite(
    session: AsyncSession,
    world: World,
    roles: tuple[str, ...] = ("member",),
    *,
    now: datetime | None = None,
) -> tuple[Invite, str]:
    group = await world.fresh_group(session)
    admin = await session.get(User, world.admin.user.id)
    assert admin is not None
    invite, token = await groups.create_invite(session, group, admin, list(roles), now=now)
    await session.commit()
    return invite, token


async def state_of_people(session: AsyncSession) -> dict[str, Any]:
    """Who exists, who belongs where with which roles, and which invites are used."""
    users = sorted(await session.scalars(select(User.email)))
    members = sorted(
        (m.group_id, m.user_id, m.roles, m.removed_at is None)
        for m in await session.scalars(select(Membership))
    )
    invites = sorted(
        (i.id, i.used_at is None, i.used_by, i.revoked_at is None)
        for i in await session.scalars(select(Invite))
    )
    await session.commit()  # end the read: on SQLite it holds the write lock
    return {"users": users, "members": members, "invites": invites}


async def roles_of(session: AsyncSession, world: World, user_id: int) -> str | None:
    result = await session.scalars(
        select(Membership)
        .where(
            Membership.group_id == world.group.id,
            Membership.user_id == user_id,
            Membership.removed_at.is_(None),
        )
        # The requests changed rows that this session may hold already.
        .execution_options(populate_existing=True)
    )
    membership = result.one_or_none()
    await session.commit()
    return membership.roles if membership else None


# --- the API ---------------------------------------------------------------------------------


async def test_admin_makes_lists_and_revokes_invites_through_the_api(
    client: Client, world: World, session: AsyncSession
) -> None:
    url = f"/api/groups/{world.slug}/invites"
    before = utcnow()
    made = await client.post(url, json={"roles": ["steward"]}, headers=world.admin.headers)
    assert made.status_code == 201, made.text
    body = made.json()
    token = body["token"]
    assert body["link"] == f"http://testserver.local/join/{token}"
    assert body["roles"] == ["member", "steward"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=7) <= expires - before <= timedelta(days=7, minutes=1)
    short = await client.post(url, json={"expires_in_days": 1}, headers=world.admin.headers)
    assert short.status_code == 201
    assert short.json()["roles"] == ["member"]

    # Only the token's digest is kept, never the token.
    rows = list(await session.scalars(select(Invite).order_by(Invite.id)))
    await session.commit()
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in repr(vars(row)) for row in rows)

    listed = await client.get(url, headers=world.admin.headers)
    assert listed.status_code == 200
    invites = listed.json()
    assert [i["id"] for i in invites] == [short.json()["id"], body["id"]]  # newest first
    assert all("token" not in i and "link" not in i for i in invites)
    assert invites[1]["status"] == "open"
    assert invites[1]["roles"] == ["member", "steward"]
    assert invites[1]["created_by"] == world.admin.user.name
    assert invites[1]["used_by"] is None

    revoked = await client.delete(f"{url}/{body['id']}", headers=world.admin.headers)
    assert revoked.status_code == 204
    again = await client.delete(f"{url}/{body['id']}", headers=world.admin.headers)
    assert again.status_code == 204  # revoking twice is harmless
    statuses = {
        i["id"]: i["status"] for i in (await client.get(url, headers=world.admin.headers)).json()
    }
    assert statuses == {body["id"]: "revoked", short.json()["id"]: "open"}
    assert (await client.get(f"/join/{token}", headers=HTML)).status_code == 410


async def test_the_openapi_schema_describes_the_invite_routes(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    invites = schema["paths"]["/api/groups/{group}/invites"]
    assert {"get", "post"} <= set(invites)
    assert "delete" in schema["paths"]["/api/groups/{group}/invites/{invite_id}"]
    components = schema["components"]["schemas"]
    assert {"roles", "expires_in_days"} <= set(components["InviteIn"]["properties"])
    assert {"link", "token", "expires_at", "roles"} <= set(
        components["InviteCreated"]["properties"]
    )


async def test_only_admins_make_see_or_revoke_invites(
    client: Client, world: World, session: AsyncSession
) -> None:
    invite, _ = await make_invite(session, world)
    url = f"/api/groups/{world.slug}/invites"
    for person in (world.member, world.steward, world.facilitator, world.outsider):
        made = await client.post(url, json={}, headers=person.headers)
        assert made.status_code == 403, made.text
        assert (await client.get(url, headers=person.headers)).status_code == 403
        gone = await client.delete(f"{url}/{invite.id}", headers=person.headers)
        assert gone.status_code == 403
    assert (await client.post(url, json={})).status_code == 401
    count = await session.scalar(select(func.count()).select_from(Invite))
    await session.commit()
    assert count == 1
    listed = (await client.get(url, headers=world.admin.headers)).json()
    assert [i["status"] for i in listed] == ["open"]


async def test_an_invite_that_was_used_cannot_be_revoked(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    invite, token = await make_invite(session, world)
    outsider = await session.get(User, world.outsider.user.id)
    assert outsider is not None
    await groups.accept_invite(session, token, outsider)
    await session.commit()
    refused = await client.delete(
        f"/api/groups/{world.slug}/invites/{invite.id}", headers=world.admin.headers
    )
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "This invite was used already by Outsider-Rent-Fund; to undo that, remove them as a member."
    )
    listed = await client.get(f"/api/groups/{world.slug}/invites", headers=world.admin.headers)
    assert listed.json()[0]["status"] == "used"
    assert listed.json()[0]["used_by"] == "Outsider-Rent-Fund"
    assert listed.json()[0]["revoked_at"] is None


async def test_an_invite_of_another_group_cannot_be_revoked_here(
    client: Client, world: World, session: AsyncSession
) -> None:
    from tests.support.people import build_world

    other = await build_world(session, slug="other-purse")
    invite, token = await make_invite(session, other)
    refused = await client.delete(
        f"/api/groups/{world.slug}/invites/{invite.id}", headers=world.admin.headers
    )
    assert refused.status_code == 404
    assert (await client.get(f"/join/{token}", headers=HTML)).status_code == 200


# --- joining -----------------------------------------------------------------------------------


async def test_someone_new_creates_an_account_on_the_join_page_and_joins(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    invite, token = await make_invite(session, world, ("steward",))
    async with browser(settings) as newcomer:
        page = await newcomer.get(f"/join/{token}", headers=HTML)
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        text = text_of(page.text)
        assert "Join Rent Fund" in text
        assert "You will be a member and a steward." in text
        assert "Create my account and join" in text
        assert f'href="/login?next=/join/{token}"' in page.text
        joined = await newcomer.post(
            f"/join/{token}",
            data={
                "_csrf_token": csrf_of(page.text),
                "name": "  Ada   Lovelace ",
                "email": "Ada@Example.org",
                "password": NEW_PASSWORD,
            },
            follow_redirects=False,
        )
        assert joined.status_code == 303, joined.text
        assert joined.headers["location"] == f"/m/{world.slug}"
        cookies = joined.headers.get_list("set-cookie")
        assert any(c.startswith("cp_session=") and "HttpOnly" in c for c in cookies)
        home = await newcomer.get(f"/m/{world.slug}", headers=HTML)
        assert home.status_code == 200
        assert "You are a member and a steward of Rent Fund." in text_of(home.text)
        me = (await newcomer.get("/api/me")).json()
        assert me == {"id": me["id"], "email": "ada@example.org", "name": "Ada Lovelace"}
    user = await groups.get_user(session, "ada@example.org")
    assert (user.password_hash or "").startswith("$argon2")
    await session.refresh(invite)
    await session.commit()
    assert invite.used_by == user.id
    assert invite.used_at is not None
    assert await roles_of(session, world, user.id) == "member steward"
    # The link worked once.
    async with browser(settings) as late:
        again = await late.get(f"/join/{token}", headers=HTML)
        assert again.status_code == 410
        assert "This invite link has been used already" in text_of(again.text)


async def test_the_new_account_form_explains_mistakes_and_keeps_the_input(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world)
    before = await state_of_people(session)
    url = f"/join/{token}"
    async with browser(settings) as newcomer:
        empty = await post_form(newcomer, url, {})
        assert empty.status_code == 422
        text = text_of(empty.text)
        assert "Please check the form" in text
        assert "Enter your name as the group knows you." in text
        assert "Enter your e-mail address; you log in with it." in text
        assert "Choose a password of at least 10 characters." in text
        assert 'id="error-name"' in empty.text

        short = await post_form(
            newcomer, url, {"name": "Bo", "email": "not-an-address", "password": "short"}
        )
        assert short.status_code == 422
        text = text_of(short.text)
        assert "'not-an-address' is not an e-mail address." in text
        assert "Choose a password of at least 10 characters." in text
        assert 'value="Bo"' in short.text
        assert 'value="not-an-address"' in short.text
        assert "short" not in re.findall(r'value="([^"]*)"', short.text)  # never sent back

        weak = await post_form(
            newcomer, url, {"name": "Bo", "email": "bo@example.org", "password": "aaaaaaaaaa"}
        )
        assert weak.status_code == 422
        assert "This password is too easy to guess." in text_of(weak.text)

        control = await post_form(
            newcomer, url, {"name": "Bo\x07", "email": "bo@example.org", "password": NEW_PASSWORD}
        )
        assert control.status_code == 422
        assert "A name cannot hold control characters." in text_of(control.text)
    assert await state_of_people(session) == before


async def test_someone_logged_in_joins_with_one_post(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world, ("facilitator",))
    await give_password(session, world.outsider)
    async with browser(settings, world.outsider) as outsider:
        page = await outsider.get(f"/join/{token}", headers=HTML)
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Join Rent Fund as Outsider-Rent-Fund" in text
        assert "Create my account" not in text
        joined = await outsider.post(
            f"/join/{token}",
            data={"_csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert joined.status_code == 303
        assert joined.headers["location"] == f"/m/{world.slug}"
        home = await outsider.get(joined.headers["location"], headers=HTML)
        assert "You are a member and a facilitator of Rent Fund." in text_of(home.text)
    assert await roles_of(session, world, world.outsider.user.id) == "member facilitator"


async def test_someone_with_an_account_logs_in_and_comes_back_to_join(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world)
    await give_password(session, world.outsider)
    async with browser(settings) as visitor:
        page = await visitor.get(f"/join/{token}", headers=HTML)
        login_link = re.search(r'href="(/login\?next=[^"]+)"', page.text)
        assert login_link
        login = await visitor.get(login_link.group(1), headers=HTML)
        assert login.status_code == 200
        assert f'name="next" value="/join/{token}"' in login.text
        logged_in = await visitor.post(
            "/login",
            data={
                "_csrf_token": csrf_of(login.text),
                "email": world.outsider.user.email,
                "password": PASSWORD,
                "next": f"/join/{token}",
            },
            follow_redirects=False,
        )
        assert logged_in.status_code == 303
        assert logged_in.headers["location"] == f"/join/{token}"
        back = await visitor.get(logged_in.headers["location"], headers=HTML)
        assert "Join Rent Fund as Outsider-Rent-Fund" in text_of(back.text)
        joined = await visitor.post(
            f"/join/{token}", data={"_csrf_token": csrf_of(back.text)}, follow_redirects=False
        )
        assert joined.status_code == 303
    assert await roles_of(session, world, world.outsider.user.id) == "member"


async def test_a_member_opening_an_invite_stays_as_they_are_and_the_invite_stays_open(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world, ("admin",))
    await give_password(session, world.member)
    before = await state_of_people(session)
    async with browser(settings, world.member) as member:
        page = await member.get(f"/join/{token}", headers=HTML)
        assert page.status_code == 200
        assert "You are a member of Rent Fund already" in text_of(page.text)
        again = await member.post(
            f"/join/{token}", data={"_csrf_token": csrf_of(page.text)}, headers=HTML
        )
        assert again.status_code == 200
        assert "You are a member of Rent Fund already" in text_of(again.text)
    assert await state_of_people(session) == before
    member_user = await session.get(User, world.member.user.id)
    assert member_user is not None
    membership, joined = await groups.accept_invite(session, token, member_user)
    await session.commit()
    assert (membership.roles, joined) == ("member", False)
    assert await state_of_people(session) == before


async def test_a_former_admin_rejoins_by_invite_with_the_roles_of_the_invite(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    group = await world.fresh_group(session)
    steward = await session.get(User, world.steward.user.id)
    assert steward is not None
    made_admin = await groups.add_member(session, group, steward, ["admin"])
    await groups.remove_member(session, group, made_admin.id)
    await session.commit()
    _, token = await make_invite(session, world, ("member",))
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as former:
        page = await former.get(f"/join/{token}", headers=HTML)
        assert "Join Rent Fund" in text_of(page.text)
        joined = await former.post(
            f"/join/{token}", data={"_csrf_token": csrf_of(page.text)}, follow_redirects=False
        )
        assert joined.status_code == 303, joined.text
    assert await roles_of(session, world, world.steward.user.id) == "member"
    count = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.group_id == world.group.id, Membership.user_id == steward.id)
    )
    await session.commit()
    assert count == 1  # the same row, back again


# --- links that do not work --------------------------------------------------------------------


async def closed_invites(session: AsyncSession, world: World) -> dict[str, str]:
    """A token for each way an invite stops working, and one never issued."""
    _, used = await make_invite(session, world)
    early = await make_person(session, "early")
    await groups.accept_invite(session, used, early.user)
    _, expired = await make_invite(session, world, now=utcnow() - timedelta(days=7, seconds=1))
    revoked_invite, revoked = await make_invite(session, world)
    await groups.revoke_invite(session, await world.fresh_group(session), revoked_invite.id)
    await session.commit()
    return {
        "used": used,
        "expired": expired,
        "revoked": revoked,
        "never issued": "x" * 43,
        "empty-ish": "-",
        "very long": "y" * 500,
    }


REFUSALS = {
    "used": (410, "This invite link has been used already; each link works once."),
    "expired": (410, "This invite link has expired. Please ask an admin of Rent Fund"),
    "revoked": (410, "This invite link was withdrawn by the group."),
    "never issued": (404, "This invite link is not valid."),
    "empty-ish": (404, "This invite link is not valid."),
    "very long": (404, "This invite link is not valid."),
}


async def test_used_expired_revoked_and_made_up_links_are_refused_and_change_nothing(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    tokens = await closed_invites(session, world)
    await give_password(session, world.outsider)
    before = await state_of_people(session)
    async with browser(settings, world.outsider) as outsider, browser(settings) as stranger:
        for kind, token in tokens.items():
            status, message = REFUSALS[kind]
            for client in (outsider, stranger):
                page = await client.get(f"/join/{token}", headers=HTML)
                assert page.status_code == status, (kind, page.text)
                text = text_of(page.text)
                assert "This invite link cannot be used" in text, kind
                assert message in text, (kind, text)
                assert "Create my account" not in text
                # The page has no form to send; a browser's cookie holds the token all the same.
                posted = await client.post(
                    f"/join/{token}",
                    data={
                        "_csrf_token": client.cookies["csrftoken"],
                        "name": "Mallory",
                        "email": "mallory@example.org",
                        "password": NEW_PASSWORD,
                    },
                    headers=HTML,
                )
                assert posted.status_code == status, (kind, posted.text)
                assert message in text_of(posted.text)
    assert await state_of_people(session) == before


async def test_the_service_refuses_closed_invites_with_its_own_errors(
    world: World, session: AsyncSession
) -> None:
    tokens = await closed_invites(session, world)
    before = await state_of_people(session)
    outsider = await session.get(User, world.outsider.user.id)
    assert outsider is not None
    for kind in ("used", "expired", "revoked"):
        with pytest.raises(Conflict, match=re.escape(REFUSALS[kind][1])):
            await groups.accept_invite(session, tokens[kind], outsider)
        with pytest.raises(Conflict):
            await groups.open_invite(session, tokens[kind])
    with pytest.raises(NotFound):
        await groups.accept_invite(session, tokens["never issued"], outsider)
    await session.commit()  # keeps whatever the refusals did: nothing
    assert await roles_of(session, world, outsider.id) is None
    assert await state_of_people(session) == before


async def test_a_join_without_the_csrf_token_is_refused(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world)
    await give_password(session, world.outsider)
    before = await state_of_people(session)
    async with browser(settings, world.outsider) as outsider, browser(settings) as stranger:
        await outsider.get(f"/join/{token}")
        await stranger.get(f"/join/{token}")
        refused = await outsider.post(f"/join/{token}", data={}, headers=HTML)
        assert refused.status_code == 403
        forged = await outsider.post(f"/join/{token}", data={"_csrf_token": "f" * 64}, headers=HTML)
        assert forged.status_code == 403
        anonymous = await stranger.post(
            f"/join/{token}",
            data={"name": "Eve", "email": "eve@example.org", "password": NEW_PASSWORD},
            headers=HTML,
        )
        assert anonymous.status_code == 403
    assert await state_of_people(session) == before


# --- one link, one person, even when two race ---------------------------------------------------


async def test_two_racing_accepts_use_an_invite_once(
    world: World, session: AsyncSession, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    invite, token = await make_invite(session, world, ("steward",))
    first_user = await make_person(session, "first")
    second_user = await make_person(session, "second")
    await session.commit()
    claimed = asyncio.Event()

    async def accept(person: Person, *, wait: bool) -> str:
        async with session_maker() as racer:
            user = await racer.get(User, person.user.id)
            assert user is not None
            if wait:
                # Start once the other has claimed the invite and not yet committed.
                await claimed.wait()
            try:
                _, joined = await groups.accept_invite(racer, token, user)
            except Conflict as error:
                await racer.rollback()
                return str(error)
            claimed.set()
            await asyncio.sleep(0.2)  # hold the claim open while the other tries
            await racer.commit()
            return "joined" if joined else "already"

    outcomes = await asyncio.gather(accept(first_user, wait=False), accept(second_user, wait=True))
    assert outcomes[0] == "joined"
    assert outcomes[1].startswith("This invite link has been used already")
    await session.refresh(invite)
    await session.commit()
    assert invite.used_by == first_user.user.id
    assert await roles_of(session, world, first_user.user.id) == "member steward"
    assert await roles_of(session, world, second_user.user.id) is None


async def test_two_browsers_racing_for_one_link_get_one_membership(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world)
    other = await make_person(session, "racer")
    await session.commit()
    await give_password(session, world.outsider, other)
    async with browser(settings, world.outsider) as one, browser(settings, other) as two:
        tokens = [csrf_of((await c.get(f"/join/{token}", headers=HTML)).text) for c in (one, two)]
        answers = await asyncio.gather(
            *(
                c.post(
                    f"/join/{token}",
                    data={"_csrf_token": t},
                    headers=HTML,
                    follow_redirects=False,
                )
                for c, t in zip((one, two), tokens, strict=True)
            )
        )
    assert sorted(a.status_code for a in answers) == [303, 410]
    refused = next(a for a in answers if a.status_code == 410)
    assert "This invite link has been used already" in text_of(refused.text)
    members = {
        person.user.id: await roles_of(session, world, person.user.id)
        for person in (world.outsider, other)
    }
    assert sorted(members.values(), key=str) == [None, "member"]


async def test_a_double_click_on_join_is_one_membership_and_no_error(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world)
    await give_password(session, world.outsider)
    async with browser(settings, world.outsider) as outsider:
        csrf = csrf_of((await outsider.get(f"/join/{token}", headers=HTML)).text)
        answers = await asyncio.gather(
            *(
                outsider.post(
                    f"/join/{token}",
                    data={"_csrf_token": csrf},
                    headers=HTML,
                    follow_redirects=False,
                )
                for _ in range(2)
            )
        )
    # One joins; the other finds them a member already (either order).
    assert sorted(a.status_code for a in answers) in ([200, 303], [303, 303])
    count = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == world.outsider.user.id)
    )
    await session.commit()
    assert count == 1


# --- where a login may lead ------------------------------------------------------------------

OPEN_REDIRECTS = (
    "//evil.example/steal",
    "https://evil.example/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/" + "a" * 600,
)


@pytest.mark.parametrize("target", OPEN_REDIRECTS, ids=repr)
async def test_a_login_never_leads_off_the_site(
    client: Client, world: World, session: AsyncSession, target: str
) -> None:
    await give_password(session, world.outsider)
    landed = await post_form(
        client,
        "/login",
        {"email": world.outsider.user.email, "password": PASSWORD, "next": target},
    )
    assert landed.status_code == 303
    assert landed.headers["location"] == "/m"
    # Whoever is logged in already is sent on at once: to the same safe place.
    again = await client.get("/login", params={"next": target}, follow_redirects=False)
    if len(target) > 500:
        assert again.status_code == 400  # longer than any path of ours: refused outright
    else:
        assert again.status_code == 303
        assert again.headers["location"] == "/m"


async def test_a_login_from_a_join_page_comes_back_to_it_and_nowhere_else(
    client: Client, world: World, session: AsyncSession
) -> None:
    _, token = await make_invite(session, world)
    login = await client.get(f"/login?next=/join/{token}", headers=HTML)
    assert f'name="next" value="/join/{token}"' in login.text
    tampered = await client.get("/login?next=//evil.example/join/x", headers=HTML)
    assert 'name="next" value="/m"' in tampered.text


async def test_the_join_form_tells_nobody_which_addresses_have_accounts(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    """An address that has an account gets, on the new-account form, the answer any address
    a new account cannot use gets: not "there is an account". Each try counts as a failed
    login for that address, so the form is no faster a way to probe than the login form."""
    await give_password(session, world.member)
    _, token = await make_invite(session, world)
    before = await state_of_people(session)
    url = f"/join/{token}"
    async with browser(settings) as prober:
        taken = await post_form(
            prober, url, {"name": "Bo", "email": world.member.user.email, "password": NEW_PASSWORD}
        )
        assert taken.status_code == 422
        text = text_of(taken.text)
        assert "These details cannot make a new account." in text
        assert "already" not in text
        assert NEW_PASSWORD not in taken.text
        counted = await session.scalar(select(func.max(RateCounter.hits)))
        await session.commit()
        assert counted == 1  # counted as a failed login would be
        for i in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.most):
            guess = f"a guess long enough to try {i}"
            await post_form(
                prober, url, {"name": "Bo", "email": world.member.user.email, "password": guess}
            )
        # Past the login limit even the right password waits, as on the login form.
        right = await post_form(
            prober, url, {"name": "Bo", "email": world.member.user.email, "password": PASSWORD}
        )
        assert right.status_code == 422
    assert await state_of_people(session) == before


async def test_someone_with_an_account_who_fills_in_the_new_account_form_joins_with_it(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.outsider)
    _, token = await make_invite(session, world, ("facilitator",))
    async with browser(settings) as outsider:
        joined = await post_form(
            outsider,
            f"/join/{token}",
            {"name": "Whoever", "email": world.outsider.user.email, "password": PASSWORD},
        )
        assert joined.status_code == 303, joined.text
        assert joined.headers["location"] == f"/m/{world.slug}"
        me = (await outsider.get("/api/me")).json()
        assert me["email"] == world.outsider.user.email
        assert me["name"] == world.outsider.user.name  # the account is theirs, unchanged
    assert await roles_of(session, world, world.outsider.user.id) == "member facilitator"

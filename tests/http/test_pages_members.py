"""The members' pages: the dashboard, a group's home, recording money, funds, members and
roles. Every form: CSRF, validation next to the fields with the input kept, roles, 303."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger import groups
from ledger.models import Entry, Membership
from tests.support.clients import browser, csrf_of, give_password, post_form, text_of
from tests.support.people import Person, World, adopt_policy, build_world, make_person

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


async def entry_count(session: AsyncSession) -> int:
    count = int(await session.scalar(select(func.count()).select_from(Entry)) or 0)
    await session.commit()  # end the read: on SQLite it holds the write lock
    return count


async def membership_of(session: AsyncSession, world: World, person: Person) -> Membership:
    membership = await groups.active_membership(session, world.group.id, person.user.id)
    assert membership is not None
    await session.commit()  # end the read: on SQLite it holds the write lock
    return membership


async def balances(client: Client, world: World) -> dict[str, str]:
    funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    return {fund["slug"]: fund["balance"] for fund in funds}


async def record_form(client: Client, world: World, kind: str, data: dict[str, str]) -> Any:
    return await post_form(client, f"/m/{world.slug}/record/{kind}", data)


async def test_dashboard_lists_my_groups_with_my_roles(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    other = await build_world(session, slug="second-fund", public=False)
    await groups.add_member(
        session, await other.fresh_group(session), world.steward.user, ["admin"]
    )
    await session.commit()
    await give_password(session, world.steward, world.outsider)
    async with browser(settings, world.steward) as client:
        page = await client.get("/m", headers=HTML)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        text = text_of(page.text)
        assert "Your groups" in text
        assert "Rent Fund" in text
        assert 'href="/m/rent-fund"' in page.text
        assert 'href="/m/second-fund"' in page.text
        assert "Private" in text
        assert "steward" in text
        assert "admin" in text
    async with browser(settings, world.outsider) as client:
        text = text_of((await client.get("/m", headers=HTML)).text)
        assert "You are not a member of any group yet." in text


async def test_group_home_shows_what_each_role_may_do(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward, world.admin, world.outsider)
    async with browser(settings, world.member) as client:
        page = await client.get(f"/m/{world.slug}", headers=HTML)
        assert page.status_code == 200
        text = text_of(page.text)
        assert "You are a member of Rent Fund." in text
        assert "Record a donation" not in text
        assert "Members and roles" not in text
        assert "Rent relief €0.00 €0.00 €0.00" in text
        assert "Members (4)" in text
        assert "Steward-Rent-Fund" in text
    async with browser(settings, world.steward) as client:
        text = text_of((await client.get(f"/m/{world.slug}", headers=HTML)).text)
        assert "Record a donation" in text
        assert "Open a new fund" in text
        assert "Members and roles" not in text
    async with browser(settings, world.admin) as client:
        text = text_of((await client.get(f"/m/{world.slug}", headers=HTML)).text)
        assert "Members and roles" in text
        assert "Record a payment" in text
    async with browser(settings, world.outsider) as client:
        refused = await client.get(f"/m/{world.slug}", headers=HTML)
        assert refused.status_code == 403
        assert "You cannot do this here" in refused.text


# --- recording money ---------------------------------------------------------------------------


async def test_steward_records_a_donation_and_a_payment_through_the_forms(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    policy = await adopt_policy(session, world, purpose="Rent top-ups")
    async with browser(settings, world.steward) as steward:
        form = await steward.get(f"/m/{world.slug}/record/donation", headers=HTML)
        assert form.status_code == 200
        assert 'name="_csrf_token"' in form.text
        assert 'name="form_id"' in form.text
        donated = await record_form(
            steward,
            world,
            "donation",
            {
                "fund": "rent-relief",
                "amount": "250.00",
                "occurred_on": "2026-01-15",
                "counterparty": "Bakery on 5th",
                "memo": "Benefit gig",
            },
        )
        assert donated.status_code == 303
        # Entry 1 of the log is the decision that adopted the policy.
        assert donated.headers["location"] == f"/m/{world.slug}/record/donation?recorded=2"
        done = await steward.get(donated.headers["location"], headers=HTML)
        text = text_of(done.text)
        assert "Recorded as entry #2: Donation of €250.00 to Rent relief." in text
        form = await steward.get(f"/m/{world.slug}/record/payment", headers=HTML)
        assert (
            f'<option value="{policy}">#{policy} Standing policy: Rent top-ups: €1,000,000.00 '
            "left this month, at most €100,000.00 a payment</option>" in form.text
        )
        unauthorised = await record_form(
            steward, world, "payment", {"fund": "rent-relief", "amount": "80.50"}
        )
        assert unauthorised.status_code == 409
        assert "A payment needs a decision" in text_of(unauthorised.text)
        assert 'id="error-proposal"' in unauthorised.text
        paid = await record_form(
            steward,
            world,
            "payment",
            {
                "policy": str(policy),
                "fund": "",
                "amount": "80.50",
                "counterparty": "R-17",
                "memo": "Rent",
            },
        )
        assert paid.status_code == 303
        assert paid.headers["location"].endswith("/record/payment?recorded=3")
    assert await balances(client, world) == {"rent-relief": "169.50", "groceries": "0.00"}
    public = text_of((await client.get(f"/g/{world.slug}", headers=HTML)).text)
    assert "Donation of €250.00 to Rent relief" in public
    assert "Payment of €80.50 from Rent relief" in public
    assert "From: Bakery on 5th" in public
    assert "To: R-17" in public
    entries = list(
        await session.scalars(select(Entry).where(Entry.kind != "decision").order_by(Entry.seq))
    )
    assert [e.recorded_by for e in entries] == [world.steward.user.id] * 2
    assert str(entries[0].occurred_on) == "2026-01-15"


async def test_record_forms_refuse_a_post_without_the_csrf_token(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        await steward.get(f"/m/{world.slug}/record/donation")
        for kind in ("donation", "payment", "transfer", "reversal"):
            refused = await steward.post(
                f"/m/{world.slug}/record/{kind}",
                data={"fund": "groceries", "amount": "1.00"},
                headers=HTML,
                follow_redirects=False,
            )
            assert refused.status_code == 403, kind
            assert "text/html" in refused.headers["content-type"]
        forged = await steward.post(
            f"/m/{world.slug}/record/donation",
            data={"_csrf_token": "f" * 128, "fund": "groceries", "amount": "1.00"},
            follow_redirects=False,
        )
        assert forged.status_code == 403
    assert await entry_count(session) == 0


async def test_record_form_shows_errors_next_to_fields_and_keeps_the_input(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        response = await record_form(
            steward,
            world,
            "donation",
            {
                "fund": "",
                "amount": "12,50",
                "occurred_on": "2999-01-01",
                "counterparty": "Line one\nline two",
                "memo": "m" * 501,
            },
        )
        assert response.status_code == 422
        text = text_of(response.text)
        assert "Please check the form" in text
        assert "Choose a fund." in text
        assert "2999-01-01 is outside the dates the ledger accepts: from 1970-01-01" in text
        assert "Write this on one line." in text
        assert "Keep this to 500 characters or fewer (it has 501)." in text
        assert 'value="12,50"' in response.text
        assert 'value="2999-01-01"' in response.text
        assert 'aria-invalid="true"' in response.text
        assert 'id="error-fund"' in response.text
        assert 'aria-describedby="error-fund"' in response.text
        amount = await record_form(
            steward, world, "donation", {"fund": "groceries", "amount": "12,50"}
        )
        assert amount.status_code == 422
        assert "is not an amount" in text_of(amount.text)
        assert '<option value="groceries" selected>' in amount.text
        precise = await record_form(
            steward, world, "donation", {"fund": "groceries", "amount": "1.005"}
        )
        assert "EUR amounts have at most 2 decimal(s)" in text_of(precise.text)
        empty = await record_form(steward, world, "donation", {"fund": "groceries", "amount": ""})
        assert "Enter an amount, such as 12.50." in text_of(empty.text)
    assert await entry_count(session) == 0


async def test_a_payment_beyond_the_fund_is_refused_next_to_the_amount(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    policy = await adopt_policy(session, world, fund="groceries")
    async with browser(settings, world.steward) as steward:
        await record_form(steward, world, "donation", {"fund": "groceries", "amount": "10.00"})
        refused = await record_form(
            steward,
            world,
            "payment",
            {"fund": "groceries", "amount": "10.01", "memo": "Food", "policy": str(policy)},
        )
        assert refused.status_code == 409
        text = text_of(refused.text)
        assert "The fund 'Groceries' holds 10.00 EUR; this entry needs 10.01." in text
        assert re.search(r'id="error-amount"', refused.text)
        assert 'value="10.01"' in refused.text
        assert ">Food</textarea>" in refused.text
    assert await entry_count(session) == 1 + 1  # and the decision adopting the policy


async def test_transfers_and_reversals_through_the_forms(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        await record_form(steward, world, "donation", {"fund": "groceries", "amount": "30.00"})
        same = await record_form(
            steward,
            world,
            "transfer",
            {"from_fund": "groceries", "to_fund": "groceries", "amount": "5.00"},
        )
        assert same.status_code == 422
        assert "Choose a different fund from the first." in text_of(same.text)
        moved = await record_form(
            steward,
            world,
            "transfer",
            {"from_fund": "groceries", "to_fund": "rent-relief", "amount": "12.00"},
        )
        assert moved.status_code == 303
        assert await balances(client, world) == {"rent-relief": "12.00", "groceries": "18.00"}
        prefilled = await steward.get(f"/m/{world.slug}/record/reversal?seq=2", headers=HTML)
        assert 'value="2"' in prefilled.text
        no_reason = await record_form(steward, world, "reversal", {"reverses": "2", "memo": ""})
        assert no_reason.status_code == 422
        assert "Say why the entry is reversed." in text_of(no_reason.text)
        undone = await record_form(
            steward, world, "reversal", {"reverses": "#2", "memo": "Wrong fund"}
        )
        assert undone.status_code == 303
        assert await balances(client, world) == {"rent-relief": "0.00", "groceries": "30.00"}
        again = await record_form(steward, world, "reversal", {"reverses": "2", "memo": "Again"})
        assert again.status_code == 409
        assert "Entry 2 has been reversed already." in text_of(again.text)
        missing = await record_form(steward, world, "reversal", {"reverses": "99", "memo": "x"})
        assert missing.status_code == 422
        assert "There is no entry 99 to reverse." in text_of(missing.text)


async def test_the_same_form_sent_twice_records_once(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        page = await steward.get(f"/m/{world.slug}/record/donation", headers=HTML)
        form_id = re.search(r'name="form_id" value="([^"]+)"', page.text)
        assert form_id
        data = {
            "_csrf_token": csrf_of(page.text),
            "form_id": form_id.group(1),
            "fund": "groceries",
            "amount": "7.00",
        }
        url = f"/m/{world.slug}/record/donation"
        first = await steward.post(url, data=data, follow_redirects=False)
        second = await steward.post(url, data=data, follow_redirects=False)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        assert await entry_count(session) == 1
        changed = await steward.post(url, data={**data, "amount": "8.00"}, headers=HTML)
        assert changed.status_code == 409
        assert "This form was sent before with other details." in text_of(changed.text)
        assert form_id.group(1) not in changed.text  # a fresh form id to send it anew
        assert await entry_count(session) == 1


async def test_only_stewards_may_record_money(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.facilitator, world.outsider)
    for person in (world.member, world.facilitator, world.outsider):
        async with browser(settings, person) as client:
            page = await client.get(f"/m/{world.slug}/record/donation", headers=HTML)
            assert page.status_code == 403
            token = csrf_of(page.text)  # the error page's logout form carries a token
            refused = await client.post(
                f"/m/{world.slug}/record/donation",
                data={"_csrf_token": token, "fund": "groceries", "amount": "1.00"},
                headers=HTML,
            )
            assert refused.status_code == 403
            reason = (
                "You are not a member of 'rent-fund'."
                if person is world.outsider
                else "This needs the steward role in 'rent-fund'."
            )
            assert reason in text_of(refused.text)
    assert await entry_count(session) == 0


async def test_an_unknown_form_kind_is_not_found(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        response = await steward.get(f"/m/{world.slug}/record/gift", headers=HTML)
        assert response.status_code == 404
        big = await steward.get(f"/m/{world.slug}/record/donation?recorded={10**30}", headers=HTML)
        assert big.status_code == 400


# --- funds -------------------------------------------------------------------------------------


async def test_steward_opens_a_fund_and_the_form_explains_mistakes(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward, world.member)
    async with browser(settings, world.steward) as steward:
        created = await post_form(
            steward, f"/m/{world.slug}/funds/new", {"name": "  School  shoes ", "slug": ""}
        )
        assert created.status_code == 303
        assert created.headers["location"] == f"/m/{world.slug}?fund=school-shoes"
        home = await steward.get(created.headers["location"], headers=HTML)
        assert "The fund School shoes was created." in text_of(home.text)
        taken = await post_form(
            steward, f"/m/{world.slug}/funds/new", {"name": "Groceries 2", "slug": "groceries"}
        )
        assert taken.status_code == 422
        assert "has a fund 'groceries' already" in text_of(taken.text)
        assert 'value="Groceries 2"' in taken.text
        bad = await post_form(
            steward, f"/m/{world.slug}/funds/new", {"name": "", "slug": "Not A Slug"}
        )
        assert bad.status_code == 422
        assert "Give the fund a name" in text_of(bad.text)
    funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    assert [f["slug"] for f in funds] == ["rent-relief", "groceries", "school-shoes"]
    async with browser(settings, world.member) as member:
        refused = await member.get(f"/m/{world.slug}/funds/new", headers=HTML)
        assert refused.status_code == 403


# --- members and roles -------------------------------------------------------------------------


async def test_admin_adds_a_member_changes_roles_and_removes_them(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    newcomer = await make_person(session, "newcomer")
    await session.commit()
    await give_password(session, world.admin)
    url = f"/m/{world.slug}/members"
    async with browser(settings, world.admin) as admin:
        page = await admin.get(url, headers=HTML)
        assert page.status_code == 200
        assert world.steward.user.email in page.text
        added = await post_form(
            admin, url, {"email": newcomer.user.email.upper(), "roles": "steward"}
        )
        assert added.status_code == 303
        assert added.headers["location"] == f"{url}?done=added"
        assert "The member was added." in text_of((await admin.get(added.headers["location"])).text)
        membership = await membership_of(session, world, newcomer)
        assert membership.roles == "member steward"
        again = await post_form(admin, url, {"email": newcomer.user.email})
        assert again.status_code == 422
        assert "is a member already" in text_of(again.text)
        unknown = await post_form(admin, url, {"email": "ghost@example.org"})
        assert unknown.status_code == 422
        assert "No one has an account with ghost@example.org yet." in text_of(unknown.text)
        assert 'value="ghost@example.org"' in unknown.text
        malformed = await post_form(admin, url, {"email": "not-an-address"})
        assert "is not an e-mail address" in text_of(malformed.text)

        token = csrf_of((await admin.get(url)).text)
        changed = await admin.post(
            f"{url}/{membership.id}/roles",
            data={"_csrf_token": token, "roles": ["facilitator", "admin"]},
            follow_redirects=False,
        )
        assert changed.status_code == 303
        await session.refresh(membership)
        await session.commit()
        assert membership.roles == "member facilitator admin"
        removed = await admin.post(
            f"{url}/{membership.id}/remove", data={"_csrf_token": token}, follow_redirects=False
        )
        assert removed.status_code == 303
        await session.refresh(membership)
        await session.commit()
        assert membership.removed_at is not None
        gone = await admin.post(
            f"{url}/{membership.id}/remove", data={"_csrf_token": token}, headers=HTML
        )
        assert gone.status_code == 404


async def test_the_last_admin_cannot_be_demoted_or_removed(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    url = f"/m/{world.slug}/members"
    admin_membership = await membership_of(session, world, world.admin)
    async with browser(settings, world.admin) as admin:
        token = csrf_of((await admin.get(url)).text)
        demoted = await admin.post(
            f"{url}/{admin_membership.id}/roles",
            data={"_csrf_token": token, "roles": "steward"},
            headers=HTML,
        )
        assert demoted.status_code == 409
        assert "A group needs an admin: make someone else admin first." in text_of(demoted.text)
        removed = await admin.post(
            f"{url}/{admin_membership.id}/remove", data={"_csrf_token": token}, headers=HTML
        )
        assert removed.status_code == 409
        assert "A group needs an admin: make someone else admin first." in text_of(removed.text)
    await session.refresh(admin_membership)
    assert admin_membership.roles == "member admin"
    assert admin_membership.removed_at is None


async def test_only_admins_manage_members(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    membership = await membership_of(session, world, world.member)
    async with browser(settings, world.steward) as steward:
        page = await steward.get(f"/m/{world.slug}/members", headers=HTML)
        assert page.status_code == 403
        token = csrf_of(page.text)
        for action in ("roles", "remove"):
            refused = await steward.post(
                f"/m/{world.slug}/members/{membership.id}/{action}",
                data={"_csrf_token": token, "roles": "admin"},
                headers=HTML,
            )
            assert refused.status_code == 403
        added = await steward.post(
            f"/m/{world.slug}/members",
            data={"_csrf_token": token, "email": world.outsider.user.email},
            headers=HTML,
        )
        assert added.status_code == 403
    await session.refresh(membership)
    assert membership.roles == "member"
    count = await session.scalar(
        select(func.count()).select_from(Membership).where(Membership.group_id == world.group.id)
    )
    assert count == 4

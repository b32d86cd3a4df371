"""The members' pages of decisions: propose, respond, amend, close, withdraw; what awaits my
response; and paying under a passed proposal from the payment form. Every form: CSRF,
errors next to the fields with the input kept, role refusals, 303 to the result."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.groups import utcnow
from ledger.models import Entry
from proposals import service
from proposals.models import Proposal, Response
from proposals.schemas import ProposalIn
from tests.support.clients import browser, csrf_of, give_password, post_form, proposal_url, propose
from tests.support.clients import text_of as spaced_text_of
from tests.support.people import World, build_world

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
BLOCK_REASON = "Three months is more than we promised; make it 80 and I agree."


def text_of(html: str) -> str:
    """The page's text as read: tags dropped, no space left before punctuation."""
    return re.sub(r" ([.,:;)])", r"\1", spaced_text_of(html))


async def act(
    client: Client, world: World, number: int, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Send one of a proposal page's forms, with the page's CSRF token."""
    return await post_form(
        client,
        proposal_url(world, f"/{number}/{action}"),
        data or {},
        form_url=proposal_url(world, f"/{number}"),
    )


async def respond(
    client: Client, world: World, number: int, position: str, reason: str = ""
) -> httpx.Response:
    return await act(client, world, number, "respond", {"position": position, "reason": reason})


async def proposal_row(session: AsyncSession, world: World, number: int = 1) -> Proposal | None:
    found = (
        await session.scalars(
            select(Proposal)
            .where(Proposal.group_id == world.group.id, Proposal.number == number)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    await session.commit()  # end the read: on SQLite it holds the write lock
    return found


async def count(session: AsyncSession, table: Any) -> int:
    total = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    await session.commit()
    return total


async def page_text(client: Client, path: str) -> str:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 200, response.text
    return text_of(response.text)


# --- proposing ---------------------------------------------------------------------------------


async def test_a_member_proposes_and_the_body_is_shown_as_safe_markdown(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        form = await member.get(proposal_url(world, "/new"), headers=HTML)
        assert form.status_code == 200
        assert 'name="_csrf_token"' in form.text
        assert '<option value="rent-relief">Rent relief</option>' in form.text
        assert "at least 48 hours" in text_of(form.text)
        created = await propose(
            member,
            world,
            body="Three months of **arrears**.\n\n<script>alert(1)</script>\n\n- rent\n- fees",
            closes_at="2099-03-31T18:00",
        )
        assert created.status_code == 303, created.text
        assert created.headers["location"] == proposal_url(world, "/1?done=proposed")
        shown = await member.get(created.headers["location"], headers=HTML)
        assert shown.status_code == 200
        text = text_of(shown.text)
        assert "Your proposal is open." in text
        assert "Rent for R-17 in March" in text
        assert "Pays €100.00 from Rent relief to R-17." in text
        assert "<strong>arrears</strong>" in shown.text
        assert "<li>rent</li>" in shown.text
        assert "<script>alert(1)</script>" not in shown.text
        assert "Round 1: open until Mar 31, 2099" in text
        assert "0 of 4 (2 needed)" in text
    row = await proposal_row(session, world)
    assert row is not None
    assert row.author_id == world.member.user.id
    assert service.current_version(row).amount == 10_000
    assert service.current_round(row).closes_at.isoformat() == "2099-03-31T18:00:00+00:00"


async def test_a_proposal_without_money_needs_only_a_title(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        created = await propose(
            steward, world, title="Meet on Thursdays", body="", fund="", amount="", counterparty=""
        )
        assert created.status_code == 303
        text = await page_text(steward, proposal_url(world, "/1"))
        assert "Meet on Thursdays" in text
        assert "Pays" not in text
        assert "No details were written." in text


async def test_the_propose_form_shows_errors_next_to_fields_and_keeps_the_input(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        empty = await propose(member, world, title="", body="Kept body", closes_at="tomorrow")
        assert empty.status_code == 422
        text = text_of(empty.text)
        assert "Please check the form" in text
        assert "Give the proposal a title." in text
        assert "Write the deadline as YYYY-MM-DD HH:MM" in text
        assert 'id="error-title"' in empty.text
        assert 'aria-describedby="hint-title error-title"' in empty.text
        assert ">Kept body</textarea>" in empty.text
        assert 'value="tomorrow"' in empty.text
        assert 'value="R-17"' in empty.text

        long = await propose(member, world, title="t" * 201, counterparty="R-1\nR-2")
        assert long.status_code == 422
        assert "Keep this to 200 characters or fewer (it has 201)." in text_of(long.text)
        assert 'id="error-counterparty"' in long.text

        amount = await propose(member, world, amount="12,50")
        assert amount.status_code == 422
        assert "is not an amount" in text_of(amount.text)
        assert 'id="error-amount"' in amount.text
        assert 'value="12,50"' in amount.text
        assert '<option value="rent-relief" selected>' in amount.text

        no_amount = await propose(member, world, amount="")
        assert no_amount.status_code == 422
        assert "names both a fund and an amount" in text_of(no_amount.text)
        assert 'id="error-amount"' in no_amount.text

        unknown = await propose(member, world, fund="holidays")
        assert unknown.status_code == 422
        assert "has no fund 'holidays'" in text_of(unknown.text)

        soon = utcnow() + timedelta(hours=2)
        early = await propose(member, world, closes_at=soon.strftime("%Y-%m-%dT%H:%M"))
        assert early.status_code == 422
        assert "A round stays open at least 48 hours: choose a deadline after" in text_of(
            early.text
        )
        assert 'id="error-closes_at"' in early.text
        for beyond in ("9999-12-31T23:59-05:00", "0001-01-01T00:00+05:00"):
            far = await propose(member, world, closes_at=beyond)
            assert far.status_code == 422
            assert "Choose a deadline in the next few months." in text_of(far.text)
    assert await count(session, Proposal) == 0


# --- responding --------------------------------------------------------------------------------


async def test_members_respond_and_can_change_their_response(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.member) as member:
        assert (await propose(member, world)).status_code == 303
    async with browser(settings, world.steward) as steward:
        page = await steward.get(proposal_url(world, "/1"), headers=HTML)
        assert "You have not responded in this round yet." in text_of(page.text)
        assert 'type="radio" name="position" value="block"' in page.text
        agreed = await respond(steward, world, 1, "agree")
        assert agreed.status_code == 303
        assert agreed.headers["location"] == proposal_url(world, "/1?done=responded")
        text = await page_text(steward, agreed.headers["location"])
        assert "Your response was recorded." in text
        assert "You responded: Agree." in text
        assert "1 of 4 (2 needed)" in text
        assert "Steward-Rent-Fund: Agree" in text
        changed = await respond(steward, world, 1, "concern", "Is R-17 behind on April too?")
        assert changed.status_code == 303
        text = await page_text(steward, proposal_url(world, "/1"))
        assert "You responded: Agree with a concern: Is R-17 behind on April too?" in text
        assert "1 of 4 (2 needed)" in text
    assert await count(session, Response) == 2


async def test_a_block_needs_a_reason_said_next_to_the_field(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.facilitator)
    async with browser(settings, world.member) as member:
        await propose(member, world)
    async with browser(settings, world.facilitator) as facilitator:
        bare = await respond(facilitator, world, 1, "block", "")
        assert bare.status_code == 422
        text = text_of(bare.text)
        assert "A block needs a reason the group can answer" in text
        assert 'id="error-reason"' in bare.text
        assert 'value="block" checked' in bare.text  # the choice is kept
        short = await respond(facilitator, world, 1, "block", "no  way")
        assert short.status_code == 422
        assert ">no  way</textarea>" in short.text
        nothing = await respond(facilitator, world, 1, "", "Some words")
        assert nothing.status_code == 422
        assert "Choose your response." in text_of(nothing.text)
        assert 'id="error-position"' in nothing.text
        bogus = await respond(facilitator, world, 1, "veto", "")
        assert bogus.status_code == 422
        blocked = await respond(facilitator, world, 1, "block", BLOCK_REASON)
        assert blocked.status_code == 303
    assert await count(session, Response) == 1


async def test_a_member_who_joined_after_the_round_opened_cannot_respond(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    from ledger import groups

    await give_password(session, world.member, world.outsider)
    async with browser(settings, world.member) as member:
        await propose(member, world)
    await groups.add_member(session, await world.fresh_group(session), world.outsider.user, [])
    await session.commit()
    async with browser(settings, world.outsider) as late:
        page = await late.get(proposal_url(world, "/1"), headers=HTML)
        assert page.status_code == 200
        assert 'action="/m/rent-fund/proposals/1/respond"' not in page.text
        # The page says why there is no form, rather than leaving the member to guess.
        shown = text_of(page.text)
        assert "after round 1 opened" in shown
        assert "so you cannot respond to this one" in shown
        refused = await respond(late, world, 1, "agree")
        assert refused.status_code == 409
        assert "Only members who belonged to the group when this round opened" in text_of(
            refused.text
        )
    assert await count(session, Response) == 0


# --- amending, closing, withdrawing ------------------------------------------------------------


async def test_the_amend_form_explains_mistakes_and_keeps_the_input(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        await propose(member, world)
        page = await member.get(proposal_url(world, "/1"), headers=HTML)
        assert 'name="amend_reason"' in page.text
        assert 'value="Rent for R-17 in March"' in page.text  # the form starts from the text
        same = {
            "title": "Rent for R-17 in March",
            "body": "Three months of **arrears**.",
            "fund": "rent-relief",
            "amount": "100.00",
            "counterparty": "R-17",
        }
        no_reason = await act(member, world, 1, "amend", {**same, "amount": "80.00"})
        assert no_reason.status_code == 422
        assert "Say why you amend it" in text_of(no_reason.text)
        assert 'id="error-amend_reason"' in no_reason.text
        assert 'value="80.00"' in no_reason.text
        unchanged = await act(member, world, 1, "amend", {**same, "amend_reason": "Nothing"})
        assert unchanged.status_code == 422
        assert "The amendment changes nothing." in text_of(unchanged.text)
        assert ">Nothing</textarea>" in unchanged.text
        no_money = await act(
            member, world, 1, "amend", {**same, "fund": "", "amount": "", "amend_reason": "x"}
        )
        assert no_money.status_code == 422
        assert "withdraw it and propose again" in text_of(no_money.text)
        bad_amount = await act(
            member, world, 1, "amend", {**same, "amount": "lots", "amend_reason": "More"}
        )
        assert bad_amount.status_code == 422
        assert 'id="error-amount"' in bad_amount.text
        title_only = await act(
            member,
            world,
            1,
            "amend",
            {**same, "title": "March rent for R-17", "amend_reason": "Typo"},
        )
        assert title_only.status_code == 303
        assert title_only.headers["location"] == proposal_url(world, "/1?done=amended")
        text = await page_text(member, proposal_url(world, "/1"))
        assert "March rent for R-17" in text
        assert "Round 1: open" in text  # a title fix keeps the round
        assert "Version 2" in text
        assert "changed the title. Why: Typo" in text


async def test_only_the_author_or_a_facilitator_may_amend_and_only_the_author_withdraw(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward, world.facilitator)
    async with browser(settings, world.member) as member:
        await propose(member, world)
    change = {
        "title": "Rent for R-17 in March",
        "body": "Two months.",
        "fund": "rent-relief",
        "amount": "100.00",
        "counterparty": "R-17",
        "amend_reason": "Shorter",
    }
    async with browser(settings, world.steward) as steward:
        page = await steward.get(proposal_url(world, "/1"), headers=HTML)
        assert 'action="/m/rent-fund/proposals/1/amend"' not in page.text
        assert 'action="/m/rent-fund/proposals/1/withdraw"' not in page.text
        assert 'action="/m/rent-fund/proposals/1/close"' not in page.text
        for action, data in (("amend", change), ("withdraw", {}), ("close", {})):
            refused = await act(steward, world, 1, action, data)
            assert refused.status_code == 403, action
            assert "You cannot do this here" in refused.text
        assert "Only the author or a facilitator can amend" in text_of(
            (await act(steward, world, 1, "amend", change)).text
        )
        assert "Only the author can withdraw" in text_of(
            (await act(steward, world, 1, "withdraw")).text
        )
        assert "This needs the facilitator role" in text_of(
            (await act(steward, world, 1, "close")).text
        )
    async with browser(settings, world.facilitator) as facilitator:
        page = await facilitator.get(proposal_url(world, "/1"), headers=HTML)
        assert 'action="/m/rent-fund/proposals/1/amend"' in page.text
        assert 'action="/m/rent-fund/proposals/1/withdraw"' not in page.text
        amended = await act(facilitator, world, 1, "amend", change)
        assert amended.status_code == 303
        refused = await act(facilitator, world, 1, "withdraw")
        assert refused.status_code == 403
    row = await proposal_row(session, world)
    assert row is not None
    assert row.status == "open"
    assert len(row.versions) == 2
    assert len(row.rounds) == 2  # the body changed: a new round


async def test_a_facilitator_closes_a_round_when_the_rules_allow_it(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward, world.facilitator)
    async with browser(settings, world.member) as member:
        await propose(member, world)
        await respond(member, world, 1, "agree")
    async with browser(settings, world.steward) as steward:
        await respond(steward, world, 1, "agree")
    async with browser(settings, world.facilitator) as facilitator:
        page = await facilitator.get(proposal_url(world, "/1"), headers=HTML)
        assert "Close round 1 now" in text_of(page.text)
        early = await act(facilitator, world, 1, "close")
        assert early.status_code == 409
        assert "This round can close from" in text_of(early.text)
        assert 'id="error-close"' in early.text
        assert (await proposal_row(session, world)).status == "open"  # type: ignore[union-attr]
        await service.set_rules(
            session, await world.fresh_group(session), {"min_open_hours": 0}, None
        )
        await session.commit()
        # Rounds keep the rules they opened with: a new proposal gets the new ones.
        await propose(facilitator, world, title="Buy a kettle", fund="", amount="")
        await respond(facilitator, world, 2, "agree")
        await respond(facilitator, world, 1, "agree")
    async with browser(settings, world.member) as member:
        await respond(member, world, 2, "concern", "Who keeps it clean?")
    async with browser(settings, world.facilitator) as facilitator:
        closed = await act(facilitator, world, 2, "close")
        assert closed.status_code == 303
        assert closed.headers["location"] == proposal_url(world, "/2?done=closed")
        text = await page_text(facilitator, closed.headers["location"])
        assert "The round was closed." in text
        assert "Round 1: closed" in text
        assert "Outcome: Passed" in text
        assert "Close round" not in text
        again = await act(facilitator, world, 2, "close")
        assert again.status_code == 409
        assert "Proposal 2 is passed." in text_of(again.text)
    assert (await proposal_row(session, world, 2)).status == "passed"  # type: ignore[union-attr]


async def test_the_author_withdraws_and_then_nobody_can_respond(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.member) as member:
        await propose(member, world)
        withdrawn = await act(member, world, 1, "withdraw")
        assert withdrawn.status_code == 303
        assert withdrawn.headers["location"] == proposal_url(world, "/1?done=withdrawn")
        text = await page_text(member, withdrawn.headers["location"])
        assert "The proposal was withdrawn." in text
        assert "Withdrawn" in text
        assert "This round ended when the author withdrew the proposal." in text
        again = await act(member, world, 1, "withdraw")
        assert again.status_code == 409
        assert "Proposal 1 is withdrawn." in text_of(again.text)
    async with browser(settings, world.steward) as steward:
        page = await steward.get(proposal_url(world, "/1"), headers=HTML)
        assert 'action="/m/rent-fund/proposals/1/respond"' not in page.text
        late = await respond(steward, world, 1, "agree")
        assert late.status_code == 409
        assert "Proposal 1 is withdrawn." in text_of(late.text)


async def test_a_round_past_its_deadline_is_closed_when_its_page_is_read(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    group = await world.fresh_group(session)
    member = await session.get(type(world.member.user), world.member.user.id)
    assert member is not None
    await service.create_proposal(
        session,
        group,
        member,
        ProposalIn(title="Paint the door"),
        now=utcnow() - timedelta(days=8),
    )
    await session.commit()
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        home = await page_text(steward, f"/m/{world.slug}")
        assert "Recently decided" in home
        assert "#1 Paint the door" in home
        text = await page_text(steward, proposal_url(world, "/1"))
        assert "Not passed" in text
        assert "Outcome: Not passed for lack of a quorum" in text
    assert (await proposal_row(session, world)).status == "not_passed"  # type: ignore[union-attr]


# --- CSRF, outsiders and missing proposals ---------------------------------------------------


async def test_every_proposal_form_refuses_a_post_without_the_csrf_token(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        await propose(member, world)
        await member.get(proposal_url(world, "/1"))
        for tail, data in (
            ("/new", {"title": "Sneaky"}),
            ("/1/respond", {"position": "agree"}),
            ("/1/amend", {"title": "Sneaky", "amend_reason": "x"}),
            ("/1/close", {}),
            ("/1/withdraw", {}),
        ):
            refused = await member.post(
                proposal_url(world, tail), data=data, headers=HTML, follow_redirects=False
            )
            assert refused.status_code == 403, tail
            assert "text/html" in refused.headers["content-type"]
        forged = await member.post(
            proposal_url(world, "/1/respond"),
            data={"_csrf_token": "f" * 128, "position": "agree"},
            follow_redirects=False,
        )
        assert forged.status_code == 403
    assert await count(session, Proposal) == 1
    assert await count(session, Response) == 0
    row = await proposal_row(session, world)
    assert row is not None
    assert row.status == "open"
    assert len(row.versions) == 1


async def test_outsiders_get_403_in_a_public_group_and_404_in_a_private_one(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    hidden = await build_world(session, slug="hidden-fund", public=False)
    await give_password(session, world.member, world.outsider, hidden.member)
    async with browser(settings, world.member) as member:
        assert (await propose(member, world)).status_code == 303
    async with browser(settings, hidden.member) as member:
        assert (await propose(member, hidden)).status_code == 303
    async with browser(settings, world.outsider) as outsider:
        for path in (proposal_url(world, "/new"), proposal_url(world, "/1")):
            assert (await outsider.get(path, headers=HTML)).status_code == 403, path
        for path in (proposal_url(hidden, "/new"), proposal_url(hidden, "/1")):
            assert (await outsider.get(path, headers=HTML)).status_code == 404, path
        token = csrf_of((await outsider.get("/m", headers=HTML)).text)
        for target in (world, hidden):
            refused = await outsider.post(
                proposal_url(target, "/1/respond"),
                data={"_csrf_token": token, "position": "agree"},
                headers=HTML,
            )
            assert refused.status_code == (403 if target is world else 404)
    async with browser(settings, world.member) as member:
        missing = await member.get(proposal_url(world, "/99"), headers=HTML)
        assert missing.status_code == 404
        assert "Page not found" in missing.text
        huge = await member.get(proposal_url(world, f"/{10**30}"), headers=HTML)
        assert huge.status_code in (400, 404)
        answer = await post_form(
            member,
            proposal_url(world, "/99/respond"),
            {"position": "agree"},
            form_url=proposal_url(world, "/1"),
        )
        assert answer.status_code == 404
    async with browser(settings) as anonymous:
        sent = await anonymous.get(proposal_url(world, "/1"), follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"].startswith("/login?next=")
    assert await count(session, Response) == 0


# --- what awaits my response ----------------------------------------------------------------


async def test_awaiting_your_response_appears_and_disappears(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    async with browser(settings, world.steward) as steward:
        before = await page_text(steward, "/m")
        assert "Nothing awaits your response." in before
    async with browser(settings, world.member) as member:
        await propose(member, world)
        mine = await page_text(member, "/m")
        assert "Awaiting your response (1)" in mine  # the author counts in the round too
        assert "yours" in mine
    async with browser(settings, world.steward) as steward:
        dashboard = await steward.get("/m", headers=HTML)
        text = text_of(dashboard.text)
        assert "Awaiting your response (1)" in text
        assert "#1 Rent for R-17 in March" in text
        assert "Rent Fund · €100.00 from Rent relief · open until" in text
        assert 'href="/m/rent-fund/proposals/1#respond"' in dashboard.text
        home = await page_text(steward, f"/m/{world.slug}")
        assert "Awaiting your response (1)" in home
        assert "Open proposals" in home
        assert "0 of 4 members have responded" in home
        assert "Propose" in home
        await respond(steward, world, 1, "stand_aside")
        after = await page_text(steward, "/m")
        assert "Awaiting your response" not in after
        assert "Nothing awaits your response." in after
        home = await page_text(steward, f"/m/{world.slug}")
        assert "Awaiting your response" not in home
        assert "#1 Rent for R-17 in March" in home  # still open for the others
        assert "1 of 4 members have responded" in home
        spanish = await page_text(steward, f"/m/{world.slug}?lang=es")
        assert "1 de 4 miembros han respondido" in spanish
    async with browser(settings, world.member) as member:
        assert "Awaiting your response (1)" in await page_text(member, "/m")
        await act(member, world, 1, "withdraw")
        assert "Awaiting your response" not in await page_text(member, "/m")
        home = await page_text(member, f"/m/{world.slug}")
        assert "No proposal is open." in home
        assert "Recently decided" in home


async def test_the_group_home_offers_to_propose_and_lists_blocked_proposals(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        home = await member.get(f"/m/{world.slug}", headers=HTML)
        assert 'href="/m/rent-fund/proposals/new"' in home.text
        assert 'href="/m/rent-fund/notifications"' in home.text
        assert "No proposal is open." in text_of(home.text)


# --- the whole life of a proposal, through the forms ------------------------------------------


async def record(client: Client, world: World, kind: str, data: dict[str, str]) -> Any:
    return await post_form(client, f"/m/{world.slug}/record/{kind}", data)


async def test_the_whole_life_of_a_proposal_through_the_forms(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    people = (world.member, world.steward, world.facilitator, world.admin)
    await give_password(session, *people)

    # The member proposes; the facilitator blocks with a reason; the others agree.
    async with browser(settings, world.member) as member:
        assert (await propose(member, world)).status_code == 303
        await respond(member, world, 1, "agree")
    async with browser(settings, world.facilitator) as facilitator:
        assert (await respond(facilitator, world, 1, "block", BLOCK_REASON)).status_code == 303
    for person in (world.steward, world.admin):
        async with browser(settings, person) as other:
            assert (await respond(other, world, 1, "agree")).status_code == 303
    row = await proposal_row(session, world)
    assert row is not None
    assert row.status == "blocked"

    # The author sees it blocked, amends it to answer the block, and a new round opens.
    async with browser(settings, world.member) as member:
        home = await page_text(member, f"/m/{world.slug}")
        assert "blocked: the author can amend it" in home
        page = await page_text(member, proposal_url(world, "/1"))
        assert "Outcome: Blocked by 1 member." in page
        assert f"Facilitator-Rent-Fund: Block: {BLOCK_REASON}" in page
        amended = await act(
            member,
            world,
            1,
            "amend",
            {
                "title": "Rent for R-17 in March",
                "body": "Two months of arrears, as promised.",
                "fund": "rent-relief",
                "amount": "80.00",
                "counterparty": "R-17",
                "amend_reason": "Cut to 80 as the block asked.",
            },
        )
        assert amended.status_code == 303
        page = await page_text(member, proposal_url(world, "/1"))
        assert "Round 2: open until" in page
        assert "Concerns to answer" in page
        assert f"Block (Facilitator-Rent-Fund): {BLOCK_REASON}" in page
        assert "Why it was amended: Cut to 80 as the block asked." in page
        assert "changed the text and amount" in page
        assert "Pays €80.00 from Rent relief to R-17." in page
        assert "0 of 4 (2 needed)" in page  # the responses were cleared
        assert (await respond(member, world, 1, "agree")).status_code == 303

    # Everyone agrees now: the round closes by itself and the proposal passes.
    for person in (world.facilitator, world.steward, world.admin):
        async with browser(settings, person) as other:
            assert (await respond(other, world, 1, "agree")).status_code == 303
    row = await proposal_row(session, world)
    assert row is not None
    assert row.status == "passed"

    # The steward pays under the decision, from the payment form.
    async with browser(settings, world.steward) as steward:
        page = await steward.get(proposal_url(world, "/1"), headers=HTML)
        text = text_of(page.text)
        assert "Authorised €80.00 Paid so far €0.00 Left to pay €80.00" in text
        assert 'href="/m/rent-fund/record/payment?proposal=1"' in page.text
        home = await page_text(steward, f"/m/{world.slug}")
        assert "Rent relief €0.00 €80.00" in home  # committed by the decision
        donated = await record(
            steward, world, "donation", {"fund": "rent-relief", "amount": "200.00"}
        )
        assert donated.status_code == 303
        # Opened from the decision, the form carries what the group decided: the fund and
        # the recipient fixed, the amount left to pay proposed.
        form = await steward.get(f"/m/{world.slug}/record/payment?proposal=1", headers=HTML)
        assert (
            "Paying under proposal 1: Rent for R-17 in March The group decided to pay €80.00 "
            "from Rent relief to R-17; €80.00 is left to pay." in text_of(form.text)
        )
        assert '<input type="hidden" name="proposal" value="1">' in form.text
        assert '<input type="hidden" name="fund" value="rent-relief">' in form.text
        assert 'name="amount" type="text" value="80.00"' in form.text
        assert (
            'name="counterparty" type="text" value="R-17" autocomplete="off" maxlength="64" '
            "readonly" in form.text
        )
        elsewhere = await record(
            steward, world, "payment", {"proposal": "1", "amount": "5.00", "counterparty": "R-77"}
        )
        assert elsewhere.status_code == 409
        assert "Proposal 1 pays R-17; this payment names R-77." in text_of(elsewhere.text)
        assert 'id="error-counterparty"' in elsewhere.text
        paid = await record(
            steward,
            world,
            "payment",
            {"proposal": "1", "fund": "", "amount": "50.00", "counterparty": "R-17"},
        )
        assert paid.status_code == 303, paid.text
        text = await page_text(steward, proposal_url(world, "/1"))
        assert "Authorised €80.00 Paid so far €50.00 Left to pay €30.00" in text
        over = await record(
            steward,
            world,
            "payment",
            {"proposal": "1", "fund": "rent-relief", "amount": "40.00", "memo": "Rest of rent"},
        )
        assert over.status_code == 409
        text = text_of(over.text)
        assert "Proposal 1 has 30.00 EUR left to pay; this payment is 40.00." in text
        assert 'id="error-amount"' in over.text
        assert 'value="40.00"' in over.text
        assert '<input type="hidden" name="proposal" value="1">' in over.text
        assert ">Rest of rent</textarea>" in over.text
        rest = await record(steward, world, "payment", {"proposal": "1", "amount": "30.00"})
        assert rest.status_code == 303
        form = await steward.get(f"/m/{world.slug}/record/payment", headers=HTML)
        assert "No passed proposal waits for payment" in form.text
        text = await page_text(steward, proposal_url(world, "/1"))
        assert "Left to pay €0.00" in text
        assert "Record a payment under this proposal" not in text
    entries = list(await session.scalars(select(Entry).order_by(Entry.seq)))
    await session.commit()
    # Each closed round of proposal 1 (blocked, then passed) is a decision of the log.
    assert [(e.kind, e.proposal_number) for e in entries] == [
        ("decision", 1),
        ("decision", 1),
        ("donation", None),
        ("disbursement", 1),
        ("disbursement", 1),
    ]
    verified = await client.get(f"/api/groups/{world.slug}/verify")
    assert verified.json()["ok"] is True


async def test_a_payment_under_a_proposal_it_does_not_match_is_refused_next_to_the_field(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward, world.member)
    async with browser(settings, world.member) as member:
        await propose(member, world, title="Talk it over", fund="", amount="")
    async with browser(settings, world.steward) as steward:
        await record(steward, world, "donation", {"fund": "groceries", "amount": "20.00"})
        not_a_number = await record(
            steward, world, "payment", {"proposal": "one", "fund": "groceries", "amount": "5.00"}
        )
        assert not_a_number.status_code == 422
        assert "Choose one of the proposals listed." in text_of(not_a_number.text)
        assert 'id="error-proposal"' in not_a_number.text
        open_one = await record(
            steward, world, "payment", {"proposal": "1", "fund": "groceries", "amount": "5.00"}
        )
        assert open_one.status_code == 409
        assert "only a passed proposal to pay money authorises a payment" in text_of(open_one.text)
        assert 'id="error-proposal"' in open_one.text
        missing = await record(
            steward, world, "payment", {"proposal": "7", "fund": "groceries", "amount": "5.00"}
        )
        assert missing.status_code == 409
        assert "There is no proposal 7." in text_of(missing.text)
    assert await count(session, Entry) == 1

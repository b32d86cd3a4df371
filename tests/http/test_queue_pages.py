"""The stewards' queue as pages: the list, a request's page (every showing of the person's
details logged), notes, turning a request into a proposal, declining, marking as paid and
erasing; CSRF, errors next to the fields with the input kept, and who may see what."""

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
from proposals import personal, support
from proposals.models import DetailsRead, Proposal, RequestDetails, RequestNote, SupportRequest
from tests.http.test_pages_scale import statements_sent
from tests.support.clients import browser, everyone_agrees, give_password, post_form, text_of
from tests.support.people import Person, World, build_world

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
PERSON = {
    "name": "Ximena Oyelaran-Petrov",
    "phone": "+34 699 818 272",
    "email": "ximena.op@example.net",
}
NEED = "Two months of rent after losing my job at the laundry."


async def ask(
    session: AsyncSession, world: World, *, urgency: str = "urgent", ago: timedelta = timedelta(0)
) -> SupportRequest:
    """A request as the ask form makes it."""
    form = support.AskForm(
        need=NEED, amount="300", urgency=urgency, language="es", consent=True, **PERSON
    )
    request = await support.ask(session, world.group, form, now=utcnow() - ago)
    await session.commit()
    return request


def page_of(world: World, request: SupportRequest, tail: str = "") -> str:
    return f"/m/{world.slug}/requests/{request.id}{tail}"


async def readers(session: AsyncSession, request: SupportRequest) -> list[int]:
    rows = await session.scalars(
        select(DetailsRead.user_id)
        .where(DetailsRead.request_id == request.id)
        .order_by(DetailsRead.id)
    )
    found = list(rows)
    await session.commit()  # end the read: on SQLite it holds the write lock
    return found


async def reread(session: AsyncSession, request: SupportRequest) -> SupportRequest:
    found = await session.get(SupportRequest, request.id, populate_existing=True)
    assert found is not None
    await session.commit()
    return found


async def count(session: AsyncSession, model: Any) -> int:
    number = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    await session.commit()
    return number


async def act(
    client: Client, world: World, request: SupportRequest, action: str, data: dict[str, str]
) -> httpx.Response:
    """Send one of the request page's forms, with the token of the page (a logged read)."""
    return await post_form(
        client, page_of(world, request, f"/{action}"), data, form_url=page_of(world, request)
    )


async def fund_money(client: Client, world: World, amount: str = "500.00") -> None:
    response = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={"kind": "donation", "fund": "rent-relief", "amount": amount},
    )
    assert response.status_code == 201, response.text


async def propose(
    client: Client, world: World, request: SupportRequest, **fields: str
) -> httpx.Response:
    data = {
        "title": f"Rent support for {request.pseudonym}",
        "summary": "Two months of rent after a job loss.",
        "fund": "rent-relief",
        "amount": "300.00",
        **fields,
    }
    return await act(client, world, request, "propose", data)


# --- the list ------------------------------------------------------------------------------


async def test_the_queue_lists_open_requests_first_most_urgent_and_oldest_first(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    soon_old = await ask(session, world, urgency="normal", ago=timedelta(days=6))
    urgent_new = await ask(session, world, urgency="urgent", ago=timedelta(hours=3))
    urgent_old = await ask(session, world, urgency="urgent", ago=timedelta(days=2))
    low = await ask(session, world, urgency="low", ago=timedelta(days=9))
    declined = await ask(session, world, urgency="urgent", ago=timedelta(days=20))
    await support.decline(session, declined, "Sorry, not this month.")
    await session.commit()
    await give_password(session, world.facilitator)
    async with browser(settings, world.facilitator) as client:
        page = await client.get(f"/m/{world.slug}/requests", headers=HTML)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    order = re.findall(r"R-[0-9A-Z]{4}", page.text)
    assert order == [
        urgent_old.pseudonym,
        urgent_new.pseudonym,
        soon_old.pseudonym,
        low.pseudonym,
        declined.pseudonym,
    ]
    text = text_of(page.text)
    assert "Waiting for an answer (4)" in text
    assert "Proposed, paid or declined (1)" in text
    assert f"{urgent_old.pseudonym} Urgent 2 days ago" in text
    assert f"{soon_old.pseudonym} Soon 6 days ago" in text
    assert f"{low.pseudonym} Not urgent 1 week ago" in text
    assert f"{declined.pseudonym} Urgent 3 weeks ago" in text
    assert "Being discussed" not in text
    assert "New" in text
    assert "Declined" in text
    assert "€300.00" in text
    assert f'href="/m/{world.slug}/requests/{urgent_old.id}"' in page.text
    # The list holds no personal details, so reading it is no read of them.
    for secret in (*PERSON.values(), NEED):
        assert secret not in page.text
    assert await count(session, DetailsRead) == 0


async def test_answered_requests_are_listed_newest_first_fifty_at_a_time(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    waiting = await ask(session, world, urgency="low", ago=timedelta(days=60))
    answered = []
    for days in range(53, 0, -1):
        request = await ask(session, world, urgency="normal", ago=timedelta(days=days))
        await support.decline(session, request, "Sorry, not this month.")
        answered.append(request)
    await session.commit()
    newest_first = [request.pseudonym for request in reversed(answered)]
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as client:
        page = await client.get(f"/m/{world.slug}/requests", headers=HTML)
        assert page.status_code == 200, page.text
        text = text_of(page.text)
        assert "Waiting for an answer (1)" in text
        assert "Proposed, paid or declined (53)" in text
        assert "Newest first." in text
        assert re.findall(r"R-[0-9A-Z]{4}", page.text) == [waiting.pseudonym, *newest_first[:50]]
        older = f"/m/{world.slug}/requests?before={answered[3].id}#answered"
        assert f'href="{older}"' in page.text
        assert "Newest requests" not in text

        second = await client.get(older.split("#")[0], headers=HTML)
        assert re.findall(r"R-[0-9A-Z]{4}", second.text) == [waiting.pseudonym, *newest_first[50:]]
        assert "Older requests" not in text_of(second.text)
        assert f'href="/m/{world.slug}/requests#answered"' in second.text
        for bad in ("0", "x", "9" * 20):  # past the largest id the database keeps, too
            refused = await client.get(f"/m/{world.slug}/requests?before={bad}", headers=HTML)
            assert refused.status_code == 400, bad


async def test_the_group_page_links_the_queue_for_stewards_and_facilitators_only(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward, world.facilitator, world.member)
    link = f'href="/m/{world.slug}/requests"'
    for person, shown in ((world.steward, True), (world.facilitator, True), (world.member, False)):
        async with browser(settings, person) as client:
            page = await client.get(f"/m/{world.slug}", headers=HTML)
        assert (link in page.text) is shown, person.user.name
        assert ("Requests for support" in page.text) is shown


# --- a request's page ------------------------------------------------------------------------


async def test_a_requests_page_shows_the_details_and_every_showing_is_logged(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await give_password(session, world.steward, world.facilitator)
    async with browser(settings, world.steward) as client:
        first = await client.get(page_of(world, request), headers=HTML)
        await client.get(page_of(world, request), headers=HTML)
    async with browser(settings, world.facilitator) as client:
        third = await client.get(page_of(world, request), headers=HTML)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    text = text_of(first.text)
    for secret in (*PERSON.values(), NEED):
        assert secret in text
    assert f"Request {request.pseudonym}" in text
    # Opening it moved it on: someone is looking at it.
    assert "Being discussed · Urgent · received" in text
    assert "asked for €300.00 · prefers Español" in text
    assert 'href="tel:+34699818272"' in first.text
    assert "Who opened this page (1 time)" in text
    assert "Who opened this page (3 times)" in text_of(third.text)
    assert "Steward-Rent-Fund" in text_of(third.text)
    assert await readers(session, request) == [
        world.steward.user.id,
        world.steward.user.id,
        world.facilitator.user.id,
    ]
    assert (await reread(session, request)).status == "discussing"


async def test_notes_are_added_kept_private_and_an_empty_one_is_refused_next_to_the_field(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await give_password(session, world.facilitator)
    async with browser(settings, world.facilitator) as client:
        added = await act(
            client, world, request, "notes", {"text": "Called her.\nCall back Monday."}
        )
        assert added.status_code == 303
        assert added.headers["location"] == page_of(world, request, "?done=noted")
        shown = await client.get(added.headers["location"], headers=HTML)
        assert "Your note was added." in text_of(shown.text)
        assert "Called her.<br>Call back Monday." in shown.text
        assert "Facilitator-Rent-Fund" in text_of(shown.text)
        empty = await act(client, world, request, "notes", {"text": "   "})
        assert empty.status_code == 422
        assert '<p class="field-error" id="error-text">' in empty.text
        assert "Write the note first." in text_of(empty.text)
        long = await act(client, world, request, "notes", {"text": "x" * 4001})
        assert long.status_code == 422
        assert "x" * 4001 in long.text  # the input is kept
    notes = [note.text for note in await personal.notes_of(session, request.id)]
    await session.commit()
    assert notes == ["Called her.\nCall back Monday."]
    # Every showing of the page was logged, the refused ones too: the three forms' pages,
    # the page after the note, and the two error pages.
    assert len(await readers(session, request)) == 6


# --- turning a request into a proposal ----------------------------------------------------------


async def test_a_steward_turns_a_request_into_a_proposal_to_its_code(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        form = await steward.get(page_of(world, request), headers=HTML)
        # The form starts with a title by code and the amount asked for.
        assert f'value="Support for {request.pseudonym}"' in form.text
        spanish = await steward.get(page_of(world, request, "?lang=es"), headers=HTML)
        assert f'value="Apoyo para {request.pseudonym}"' in spanish.text
        assert 'value="300.00"' in form.text
        proposed = await propose(steward, world, request)
        assert proposed.status_code == 303, proposed.text
        assert proposed.headers["location"] == page_of(world, request, "?done=proposed")
        shown = text_of((await steward.get(proposed.headers["location"], headers=HTML)).text)
    assert "The request is now a proposal" in shown
    assert f"Proposal #1 pays {request.pseudonym}; it is open." in shown
    assert (await reread(session, request)).status == "proposed"
    public = await client.get(f"/api/groups/{world.slug}/proposals/1")
    assert public.status_code == 200
    assert request.pseudonym in public.text
    assert "Two months of rent after a job loss." in public.text
    assert "300.00" in public.text
    for secret in PERSON.values():
        assert secret not in public.text


async def test_a_summary_with_the_persons_details_is_refused_next_to_it_and_kept(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await give_password(session, world.steward)
    reads_before = 0
    async with browser(settings, world.steward) as steward:
        for summary in (
            f"Rent for {PERSON['name']} and her kids",
            "Call 699 818 272 before paying",
            f"Receipt to {PERSON['email'].upper()}",
        ):
            refused = await propose(steward, world, request, summary=summary)
            assert refused.status_code == 422, summary
            assert '<p class="field-error" id="error-summary">' in refused.text
            assert "without the person's name, phone or e-mail" in text_of(refused.text)
            assert summary in refused.text  # the input is kept
            assert 'aria-invalid="true"' in refused.text
        named = await propose(steward, world, request, title=f"Rent for {PERSON['name']}")
        assert named.status_code == 422
        assert 'id="error-title"' in named.text
        for fields, wrong in (
            ({"amount": "3,00"}, "amount"),
            ({"amount": "0"}, "amount"),
            ({"fund": "no-such-fund"}, "fund"),
            ({"fund": ""}, "fund"),
            ({"title": ""}, "title"),
        ):
            refused = await propose(steward, world, request, **fields)
            assert refused.status_code == 422, fields
            assert f'id="error-{wrong}"' in refused.text, fields
        reads_before = len(await readers(session, request))
    assert await count(session, Proposal) == 0
    assert (await reread(session, request)).status == "discussing"
    # Each form page and each refusal's page showed the details: all logged (2 per try).
    assert reads_before == 2 * 9
    assert (await client.get(f"/api/groups/{world.slug}/proposals")).json() == []


async def test_a_facilitator_may_not_propose_or_mark_paid_but_may_decline(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await give_password(session, world.facilitator)
    async with browser(settings, world.facilitator) as client:
        shown = text_of((await client.get(page_of(world, request), headers=HTML)).text)
        assert "A steward turns a request into a proposal." in shown
        assert (await propose(client, world, request)).status_code == 403
        assert (await act(client, world, request, "paid", {})).status_code == 403
        declined = await act(client, world, request, "decline", {"message": ""})
        assert declined.status_code == 303
    assert await count(session, Proposal) == 0


# --- declining, paying -----------------------------------------------------------------------


async def test_declining_sends_a_kind_message_to_the_persons_page(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    message = "We are so sorry: the fund is empty until May. Please ask again then."
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        declined = await act(steward, world, request, "decline", {"message": message})
        assert declined.status_code == 303
        assert declined.headers["location"] == page_of(world, request, "?done=declined")
        shown = text_of((await steward.get(declined.headers["location"], headers=HTML)).text)
        assert "The request was declined." in shown
        assert message in shown
        assert "Decline the request" not in shown  # closed: no more actions
        again = await act(steward, world, request, "decline", {"message": "Again"})
        assert again.status_code == 409
        assert "This request is declined already." in text_of(again.text)
        other = await ask(session, world)
        default = await act(steward, world, other, "decline", {"message": ""})
        assert default.status_code == 303
        shown = text_of((await steward.get(default.headers["location"], headers=HTML)).text)
        # Without a message the person reads the group's default sentence in the language
        # they asked in (Spanish here), and so does the steward's page that quotes it.
        sorry = "Lo sentimos: el grupo no puede ayudar con esta solicitud ahora."
        assert f"The person reads this on their page: {sorry}" in shown
    status = await client.get(f"/g/{world.slug}/ask/{request.reference}", headers=HTML)
    assert message in text_of(status.text)
    theirs = await client.get(f"/g/{world.slug}/ask/{other.reference}", headers=HTML)
    assert sorry in text_of(theirs.text)
    assert "We are sorry" not in text_of(theirs.text)
    assert (await reread(session, request)).status == "declined"


async def test_marking_paid_needs_the_authorised_payment_in_the_ledger(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await fund_money(client, world)
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        assert (await propose(steward, world, request)).status_code == 303
        early = await act(steward, world, request, "paid", {})
        assert early.status_code == 409
        assert '<p class="field-error" id="error-paid">' in early.text
        assert "Record the authorised payment in the ledger first." in text_of(early.text)
        await everyone_agrees(client, world, 1)
        passed = text_of((await steward.get(page_of(world, request), headers=HTML)).text)
        assert "it is passed" in passed
        assert "this request shows as paid" in passed
        assert "Mark as paid" not in passed
        paid = await client.post(
            f"/api/groups/{world.slug}/entries",
            headers=world.steward.headers,
            json={
                "kind": "disbursement",
                "fund": "rent-relief",
                "amount": "300.00",
                "proposal": 1,
                "counterparty": request.pseudonym,
            },
        )
        assert paid.status_code == 201, paid.text
        # Paid in the ledger is paid: the page says so and offers no "Mark as paid".
        settled = text_of((await steward.get(page_of(world, request), headers=HTML)).text)
        assert "The authorised money has been paid" in settled
        assert "Mark as paid" not in settled
        marked = await act(steward, world, request, "paid", {})
        assert marked.status_code == 303
        assert marked.headers["location"] == page_of(world, request, "?done=paid")
        shown = text_of((await steward.get(marked.headers["location"], headers=HTML)).text)
        assert "The request is marked as paid." in shown
        assert "Mark as paid" not in shown
    assert (await reread(session, request)).status == "paid"
    status = await client.get(f"/g/{world.slug}/ask/{request.reference}", headers=HTML)
    assert "El dinero ya se ha pagado." in text_of(status.text)  # in the language they chose


# --- erasing -------------------------------------------------------------------------------


async def test_erasing_asks_for_confirmation_then_removes_the_details_for_good(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await give_password(session, world.facilitator)
    erase_url = page_of(world, request, "/erase")
    async with browser(settings, world.facilitator) as client:
        await act(client, world, request, "notes", {"text": "She works nights."})
        confirm = await client.get(erase_url, headers=HTML)
        assert confirm.status_code == 200
        assert f"Erase the details of {request.pseudonym}?" in text_of(confirm.text)
        for secret in PERSON.values():
            assert secret not in confirm.text  # the confirmation shows no details
        unconfirmed = await post_form(client, erase_url, {})
        assert unconfirmed.status_code == 422
        assert '<p class="field-error" id="error-confirm">' in unconfirmed.text
        assert await count(session, RequestDetails) == 1
        erased = await post_form(client, erase_url, {"confirm": "yes"})
        assert erased.status_code == 303
        assert erased.headers["location"] == page_of(world, request, "?done=erased")
        shown = await client.get(erased.headers["location"], headers=HTML)
        text = text_of(shown.text)
        assert "The person's details and the notes were erased." in text
        assert f"The code {request.pseudonym}, the proposal and the ledger stay" in text
        for secret in (*PERSON.values(), NEED, "She works nights."):
            assert secret not in shown.text
        assert "Add the note" not in text
        again = await post_form(client, erase_url, {"confirm": "yes"})
        assert again.status_code == 409
        assert "These details were erased already." in text_of(again.text)
    assert await count(session, RequestDetails) == 0
    assert await count(session, RequestNote) == 0
    assert (await reread(session, request)).erased_at is not None


# --- CSRF and who may see what ---------------------------------------------------------------


async def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as client:
        await client.get(page_of(world, request), headers=HTML)
        for action, data in (
            ("notes", {"text": "A note"}),
            ("decline", {"message": "No"}),
            ("erase", {"confirm": "yes"}),
            ("propose", {"title": "T", "fund": "rent-relief", "amount": "1.00"}),
        ):
            for token in ({"_csrf_token": "forged"}, {}):
                refused = await client.post(
                    page_of(world, request, f"/{action}"),
                    data={**token, **data},
                    headers=HTML,
                    follow_redirects=False,
                )
                assert refused.status_code == 403, (action, token)
    assert await count(session, RequestNote) == 0
    assert await count(session, Proposal) == 0
    assert await count(session, RequestDetails) == 1
    assert (await reread(session, request)).status == "discussing"


async def test_members_outsiders_and_anonymous_visitors_cannot_read_requests(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    public_other = await build_world(session, slug="other-pod")
    private_other = await build_world(session, slug="quiet-pod", public=False)
    theirs = await ask(session, private_other)
    await give_password(
        session,
        world.member,
        world.outsider,
        world.steward,
        public_other.steward,
        private_other.steward,
    )
    urls = [
        f"/m/{world.slug}/requests",
        page_of(world, request),
        page_of(world, request, "/erase"),
    ]
    refused: list[tuple[Person, int]] = [
        (world.member, 403),
        (world.outsider, 403),
        (public_other.steward, 403),
    ]
    for person, status in refused:
        async with browser(settings, person) as client:
            for url in urls:
                response = await client.get(url, headers=HTML)
                assert response.status_code == status, (
                    person.user.name,
                    url,
                    text_of(response.text)[:300],
                )
                assert "You cannot do this here" in response.text
                assert PERSON["name"] not in response.text
    async with browser(settings) as anonymous:
        for url in urls:
            response = await anonymous.get(url, headers=HTML, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
    # A private group's queue does not exist for those outside it; and a steward of
    # another group finds none of its requests through their own group's pages.
    async with browser(settings, world.steward) as client:
        hidden = await client.get(f"/m/{private_other.slug}/requests", headers=HTML)
        assert hidden.status_code == 404
        hidden = await client.get(page_of(private_other, theirs), headers=HTML)
        assert hidden.status_code == 404
    async with browser(settings, private_other.steward) as client:
        crossed = await client.get(f"/m/{private_other.slug}/requests/{request.id}", headers=HTML)
        assert crossed.status_code == 404
        assert PERSON["name"] not in crossed.text
    assert await readers(session, request) == []
    assert await readers(session, theirs) == []


async def test_the_queue_shows_what_became_of_proposed_requests_in_the_same_reads_for_any_number(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    """A request proposed to the group shows the proposal's outcome, and "Paid" once the
    ledger holds the payment. The statuses are read together: the page sends as many
    statements for two such requests as for six."""
    await fund_money(client, world, "5000.00")
    await give_password(session, world.steward)

    async def proposed_and_passed(paid: bool) -> SupportRequest:
        request = await ask(session, world)
        async with browser(settings, world.steward) as steward:
            assert (await propose(steward, world, request)).status_code == 303
        number = (await reread(session, request)).proposal_id
        assert number is not None
        proposal = await session.get(Proposal, number)
        assert proposal is not None
        await session.commit()
        await everyone_agrees(client, world, proposal.number)
        if paid:
            payment = await client.post(
                f"/api/groups/{world.slug}/entries",
                headers=world.steward.headers,
                json={
                    "kind": "disbursement",
                    "fund": "rent-relief",
                    "amount": "300.00",
                    "proposal": proposal.number,
                    "counterparty": request.pseudonym,
                },
            )
            assert payment.status_code == 201, payment.text
        return request

    async def queue_read() -> tuple[str, int]:
        async with browser(settings, world.steward) as steward:
            with statements_sent(steward.app.state.alchemy_config.engine_instance) as sent:
                page = await steward.get(f"/m/{world.slug}/requests", headers=HTML)
        assert page.status_code == 200, page.text
        return text_of(page.text), len(sent)

    first = [await proposed_and_passed(paid) for paid in (True, False)]
    text, statements = await queue_read()
    assert f"{first[0].pseudonym} Urgent" in text
    assert "Paid" in text
    assert "Decided: passed" in text
    more = [await proposed_and_passed(paid) for paid in (True, False, True, False)]
    text, more_statements = await queue_read()
    for request in more:
        assert request.pseudonym in text
    assert text.count("Decided: passed") == 3
    assert more_statements == statements

"""On their private status page, the person who asked adds information, withdraws the
request, or erases their details now; each is confirmed, kept in the request's history,
and the stewards see it."""

from __future__ import annotations

import re

from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from proposals.models import RequestDetails, RequestEvent, SupportRequest
from tests.http.test_ask_pages import form_token, submit
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


async def asked(client: Client, world: World, **fields: str) -> tuple[str, str]:
    """The status page's address and a CSRF token for its forms."""
    _, token = await form_token(client, world.slug, **fields)
    sent = await submit(client, world.slug, token)
    assert sent.status_code == 303, sent.text
    status_path = sent.headers["location"].split("?")[0]
    page = await client.get(status_path, headers=HTML)
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return status_path, csrf.group(1)


async def act(client: Client, path: str, token: str, **data: str) -> Response:
    return await client.post(
        path, data={"_csrf_token": token, **data}, headers=HTML, follow_redirects=False
    )


async def events(session: AsyncSession) -> list[str]:
    kinds = list(await session.scalars(select(RequestEvent.kind).order_by(RequestEvent.id)))
    await session.commit()
    return kinds


async def test_the_person_adds_information_and_the_stewards_read_it(
    client: Client, world: World, session: AsyncSession
) -> None:
    path, token = await asked(client, world)
    added = await act(client, f"{path}/add", token, information="The landlord's bill is 610 EUR")
    assert added.status_code == 303
    assert added.headers["location"] == f"{path}?done=added"
    page = await client.get(added.headers["location"], headers=HTML)
    assert "what you added has reached" in page.text
    assert await events(session) == ["added"]

    queue = await client.get(f"/m/{world.slug}/requests", headers=world.steward.headers)
    assert "The person added information" in queue.text
    listed = (
        await client.get(f"/api/groups/{world.slug}/requests", headers=world.steward.headers)
    ).json()
    shown = (
        await client.get(
            f"/api/groups/{world.slug}/requests/{listed[0]['id']}", headers=world.steward.headers
        )
    ).json()
    assert shown["notes"][0]["text"] == "The landlord's bill is 610 EUR"
    assert shown["notes"][0]["author"] == "The person who asked"
    request_page = await client.get(
        f"/m/{world.slug}/requests/{listed[0]['id']}", headers=world.steward.headers
    )
    assert "What the person did" in request_page.text
    assert "The landlord&#39;s bill is 610 EUR" in request_page.text


async def test_an_empty_addition_is_refused_in_the_persons_language(
    client: Client, world: World, session: AsyncSession
) -> None:
    path, token = await asked(client, world)
    row = (await session.scalars(select(SupportRequest))).one()
    row.language = "es"
    await session.commit()
    refused = await act(client, f"{path}/add", token, information="  ")
    assert refused.status_code == 422
    assert "Escribe lo que quieres añadir." in refused.text
    assert await events(session) == []


async def test_withdrawing_needs_confirmation_then_closes_the_request(
    client: Client, world: World, session: AsyncSession
) -> None:
    path, token = await asked(client, world)
    unconfirmed = await act(client, f"{path}/withdraw", token)
    assert unconfirmed.status_code == 422
    assert "tick the box" in unconfirmed.text
    assert await events(session) == []

    withdrawn = await act(client, f"{path}/withdraw", token, confirm="yes")
    assert withdrawn.status_code == 303
    page = await client.get(f"{path}?done=withdrawn", headers=HTML)
    assert "Your request is withdrawn" in page.text
    assert "You withdrew this request" in page.text
    assert f"{path}/withdraw" not in page.text  # nothing more to withdraw
    row = (await session.scalars(select(SupportRequest))).one()
    assert row.status == "withdrawn"
    assert row.closed_at is not None
    await session.commit()
    assert await events(session) == ["withdrawn"]
    queue = await client.get(f"/m/{world.slug}/requests", headers=world.steward.headers)
    assert "Withdrawn by the person" in queue.text

    again = await act(client, f"{path}/add", token, information="one more thing")
    assert again.status_code == 409


async def test_the_person_erases_their_details_now(
    client: Client, world: World, session: AsyncSession
) -> None:
    path, token = await asked(client, world)
    assert (await act(client, f"{path}/erase", token)).status_code == 422
    erased = await act(client, f"{path}/erase", token, confirm="yes")
    assert erased.status_code == 303
    page = await client.get(f"{path}?done=erased", headers=HTML)
    assert "Your details are erased" in page.text
    assert f"{path}/erase" not in page.text
    assert (await session.scalars(select(RequestDetails))).first() is None
    row = (await session.scalars(select(SupportRequest))).one()
    assert row.erased_at is not None
    await session.commit()
    assert await events(session) == ["erased"]
    queue = await client.get(f"/m/{world.slug}/requests", headers=world.steward.headers)
    assert "The person erased their details" in queue.text
    assert (await act(client, f"{path}/erase", token, confirm="yes")).status_code == 409


async def test_the_actions_need_the_forms_token_and_the_right_reference(
    client: Client, world: World, session: AsyncSession
) -> None:
    path, token = await asked(client, world)
    forged = await client.post(
        f"{path}/withdraw", data={"confirm": "yes"}, headers=HTML, follow_redirects=False
    )
    assert forged.status_code == 403
    wrong = await act(client, f"/g/{world.slug}/ask/not-a-reference/withdraw", token, confirm="yes")
    assert wrong.status_code == 404
    assert await events(session) == []


async def test_the_person_may_leave_an_address_to_be_told_of_changes(
    client: Client, world: World, session: AsyncSession
) -> None:
    path, token = await asked(client, world)
    page = await client.get(path, headers=HTML)
    assert "leave an e-mail address" in page.text
    refused = await act(client, f"{path}/follow", token, updates_email="not an address")
    assert refused.status_code == 422
    assert "check the e-mail address" in refused.text
    followed = await act(client, f"{path}/follow", token, updates_email="me@example.net")
    assert followed.status_code == 303
    page = await client.get(f"{path}?done=follows", headers=HTML)
    assert "we will send you an e-mail each time" in page.text
    assert "me@example.net" not in page.text
    assert f"{path}/follow" not in page.text
    assert await events(session) == ["follows"]

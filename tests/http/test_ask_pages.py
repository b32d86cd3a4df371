"""The ask form and the status page, as a person without an account uses them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from babel.dates import format_date
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.limits import ASK_PER_ADDRESS
from app.models import RateCounter
from proposals.models import SupportRequest
from tests.support.people import World, build_world

Client = AsyncTestClient[Litestar]
PERSON = {"name": "Tomasz Wiśniewski", "phone": "0612 345 678", "email": "tomasz.w@example.net"}


async def form_token(client: Client, slug: str, **headers: str) -> tuple[str, str]:
    page = await client.get(f"/g/{slug}/ask", headers={"Accept": "text/html", **headers})
    assert page.status_code == 200, page.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return page.text, token.group(1)


async def submit(client: Client, slug: str, token: str, **fields: Any) -> Any:
    data = {
        "_csrf_token": token,
        "need": "Food for my two children this week",
        "urgency": "urgent",
        "consent": "yes",
        "language": "en",
        **PERSON,
        **fields,
    }
    return await client.post(
        f"/g/{slug}/ask", data=data, headers={"Accept": "text/html"}, follow_redirects=False
    )


async def count(session: AsyncSession, model: Any) -> int:
    number = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    await session.commit()  # end the read: on SQLite it holds the write lock
    return number


async def test_a_person_asks_and_follows_their_request_privately(
    client: Client, world: World, session: AsyncSession
) -> None:
    page, token = await form_token(client, world.slug)
    assert "Who sees this, and for how long" in page
    assert "90 days" in page
    sent = await submit(client, world.slug, token)
    assert sent.status_code == 303, sent.text
    status_url = sent.headers["location"]
    assert status_url.startswith(f"/g/{world.slug}/ask/")
    status = await client.get(status_url, headers={"Accept": "text/html"})
    assert status.status_code == 200
    assert status.headers["referrer-policy"] == "no-referrer"
    pseudonym = re.search(r"R-[0-9A-Z]{4}", status.text)
    assert pseudonym is not None
    assert "Received" in status.text
    for secret in PERSON.values():
        assert secret not in status.text
    # Another reference of the same group shows nothing.
    assert (
        await client.get(f"/g/{world.slug}/ask/not-a-reference", headers={"Accept": "text/html"})
    ).status_code == 404


async def test_the_form_speaks_spanish(client: Client, world: World) -> None:
    page, _ = await form_token(client, world.slug, **{"Accept-Language": "es-ES,es;q=0.9"})
    assert "¿Qué necesitas?" in page
    assert '<html lang="es">' in page
    page = (await client.get(f"/g/{world.slug}/ask?lang=en")).text
    assert "What do you need?" in page
    assert '<html lang="en">' in page


async def test_a_request_made_in_spanish_is_followed_in_spanish(
    client: Client, world: World
) -> None:
    _, token = await form_token(client, world.slug, **{"Accept-Language": "es"})
    sent = await submit(client, world.slug, token, language="es")
    assert sent.status_code == 303, sent.text
    status = await client.get(sent.headers["location"], headers={"Accept": "text/html"})
    assert '<html lang="es">' in status.text
    assert "Recibida" in status.text
    # Dates in Spanish too: the month of today in Spanish, not in English.
    spanish_month = format_date(date.today(), "MMM", locale="es")
    english_month = format_date(date.today(), "MMM", locale="en")
    assert spanish_month in status.text
    if spanish_month.lower() != english_month.lower():
        assert f"{english_month} " not in status.text


async def test_missing_contact_is_shown_next_to_the_field_and_the_input_kept(
    client: Client, world: World, session: AsyncSession
) -> None:
    _, token = await form_token(client, world.slug)
    response = await submit(client, world.slug, token, phone="", email="", via_member="")
    assert response.status_code == 422
    assert 'id="error-phone"' in response.text
    assert "Food for my two children this week" in response.text
    assert await count(session, SupportRequest) == 0


async def test_a_post_without_the_csrf_token_is_refused(
    client: Client, world: World, session: AsyncSession
) -> None:
    await form_token(client, world.slug)
    response = await submit(client, world.slug, "forged")
    assert response.status_code == 403
    assert await count(session, SupportRequest) == 0


async def test_the_honeypot_refuses_robots_stores_nothing_and_counts_them(
    client: Client, world: World, session: AsyncSession
) -> None:
    _, token = await form_token(client, world.slug)
    response = await submit(client, world.slug, token, website="http://spam.example")
    assert response.status_code == 400
    assert "could not be sent" in response.text
    assert await count(session, SupportRequest) == 0
    # Counted against the address and the group all the same, as a flood would be.
    assert await count(session, RateCounter) == 2
    for _ in range(ASK_PER_ADDRESS.most):
        await submit(client, world.slug, token, website="http://spam.example")
    refused = await submit(client, world.slug, token)
    assert refused.status_code == 429
    assert await count(session, SupportRequest) == 0


async def test_a_flood_is_refused_with_a_clear_message_and_stores_nothing_more(
    client: Client, world: World, session: AsyncSession
) -> None:
    _, token = await form_token(client, world.slug)
    limit = ASK_PER_ADDRESS.most
    for _ in range(limit):
        assert (await submit(client, world.slug, token)).status_code == 303
    refused = await submit(client, world.slug, token)
    assert refused.status_code == 429
    assert "wait an hour" in refused.text
    assert await count(session, SupportRequest) == limit


async def test_a_private_group_takes_requests_only_when_it_chose_to(
    client: Client, session: AsyncSession
) -> None:
    private = await build_world(session, slug="quiet-pod", public=False)
    assert (
        await client.get("/g/quiet-pod/ask", headers={"Accept": "text/html"})
    ).status_code == 404
    response = await client.put(
        "/api/groups/quiet-pod/support-settings",
        headers=private.admin.headers,
        json={"ask_enabled": True},
    )
    assert response.status_code == 200
    page = await client.get("/g/quiet-pod/ask", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert (await client.get("/g/quiet-pod", headers={"Accept": "text/html"})).status_code == 404


@pytest.mark.parametrize("payload", ['<script>alert("x")</script>', '"><img src=x onerror=1>'])
async def test_what_a_person_writes_is_escaped_for_the_stewards(
    client: Client, world: World, payload: str
) -> None:
    _, token = await form_token(client, world.slug)
    response = await submit(
        client, world.slug, token, phone="", email="", via_member=payload, need=payload
    )
    assert response.status_code == 303
    queue = (
        await client.get(f"/api/groups/{world.slug}/requests", headers=world.steward.headers)
    ).json()
    shown = await client.get(
        f"/api/groups/{world.slug}/requests/{queue[0]['id']}", headers=world.steward.headers
    )
    assert shown.json()["details"]["need"] == payload


@pytest.mark.parametrize(
    ("language", "typed", "shown"),
    [
        ("es", "60,50", "60,50\u00a0€"),
        ("es", "60,50 €", "60,50\u00a0€"),
        ("es", "1.234,50", "1234,50\u00a0€"),
        ("en", "60.50", "€60.50"),
        ("en", "€60.50", "€60.50"),
    ],
)
async def test_an_amount_is_typed_and_shown_the_way_the_persons_language_writes_it(
    client: Client, world: World, session: AsyncSession, language: str, typed: str, shown: str
) -> None:
    _, token = await form_token(client, world.slug)
    sent = await submit(client, world.slug, token, language=language, amount=typed)
    assert sent.status_code == 303, sent.text
    stored = await session.scalar(select(SupportRequest.amount))
    await session.commit()
    assert stored == 6050 if "60" in typed else stored == 123450
    status = await client.get(sent.headers["location"], headers={"Accept": "text/html"})
    assert shown in status.text or shown.replace("1234", "1.234") in status.text


async def test_an_amount_that_reads_as_none_is_refused_in_the_persons_language(
    client: Client, world: World, session: AsyncSession
) -> None:
    _, token = await form_token(client, world.slug)
    refused = await submit(client, world.slug, token, language="es", amount="sesenta")
    assert refused.status_code == 422, refused.text
    assert "Escribe la cantidad con números, como 120 o 120,50" in refused.text
    assert await count(session, SupportRequest) == 0

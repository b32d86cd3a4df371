"""Clients for tests: the racing client, and a browser's way of using the pages (its own
cookies, the CSRF token of each form, logging in)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from html import unescape
from typing import Any

import httpx
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.settings import Settings
from ledger.models import User
from tests.support.people import Person, World

Client = AsyncTestClient[Litestar]
PASSWORD = "correct horse battery staple"
# Argon2 is slow on purpose (some 0.13 s a check here), and the suite logs in hundreds of
# times: the test people's hash is a real Argon2id hash with light parameters, which the
# check reads from the hash itself. The app's own hashes (hash_password) keep the strong
# defaults, and tests/http/test_login.py logs in against one of them.
_PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
BASE_URL = "http://testserver.local"
_CSRF = re.compile(r'name="_csrf_token" value="([^"]*)"')


async def give_password(session: AsyncSession, *people: Person) -> None:
    for person in people:
        user = await session.get(User, person.user.id)
        assert user is not None
        user.password_hash = _PASSWORD_HASH
    await session.commit()


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    assert match.group(1), "the page's CSRF token is empty"
    return unescape(match.group(1))


async def form_token(client: Client, url: str) -> str:
    page = await client.get(url, headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def post_form(
    client: Client, url: str, data: dict[str, str], *, form_url: str | None = None
) -> httpx.Response:
    """POST a form the way a browser does: first GET the page for its CSRF token."""
    token = await form_token(client, form_url or url)
    return await client.post(
        url,
        data={"_csrf_token": token, **data},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )


async def log_in(client: Client, person: Person, *, next_path: str = "/m") -> httpx.Response:
    response = await post_form(
        client,
        "/login",
        {"email": person.user.email, "password": PASSWORD, "next": next_path},
    )
    assert response.status_code == 303, response.text
    return response


@asynccontextmanager
async def browser(settings: Settings, person: Person | None = None) -> AsyncIterator[Client]:
    """A browser of its own: its own cookies, and its own app instance, as a second worker
    process would be (a test client runs its app in an event loop of its own, and a
    database connection pool must not be shared between loops). Logged in as ``person``."""
    async with AsyncTestClient(app=create_app(settings), base_url=BASE_URL) as client:
        if person is not None:
            await log_in(client, person)
        yield client


def text_of(html: str) -> str:
    """The page's text with tags dropped and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def racing_client(settings: Settings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """A client whose requests really overlap: a new app serves them on the test's event loop
    (the test client serves one request at a time, however they are gathered)."""
    return in_loop_client(create_app(settings))


@asynccontextmanager
async def in_loop_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` running (its lifespan) and a client calling it on the test's event loop."""
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://testserver.local",
        ) as client,
    ):
        yield client


@asynccontextmanager
async def calling_from(app: Litestar, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` running, and a client whose requests come from ``address`` (the peer of
    the connection, as the server sees it)."""
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)),  # type: ignore[arg-type]
            base_url="http://testserver.local",
        ) as client,
    ):
        yield client


async def propose(client: Client, world: World, **fields: str) -> httpx.Response:
    data = {
        "title": "Rent for R-17 in March",
        "body": "Three months of **arrears**.",
        "fund": "rent-relief",
        "amount": "100.00",
        "counterparty": "R-17",
        "closes_at": "",
        **fields,
    }
    return await post_form(client, proposal_url(world, "/new"), data)


def proposal_url(world: World, tail: str = "") -> str:
    return f"/m/{world.slug}/proposals{tail}"


async def standing_policy(client: httpx.AsyncClient, world: World, fund: str) -> int:
    """The number of a spending policy in force for ``fund``, adopted through the API by
    everyone's agreement if there is none yet (every payment needs a decision)."""
    listed = (await client.get(f"/api/groups/{world.slug}/policies")).json()
    for policy in listed:
        if policy["fund"] == fund and policy["status"] == "in_force":
            number: int = policy["number"]
            return number
    proposed = await client.post(
        f"/api/groups/{world.slug}/proposals",
        headers=world.admin.headers,
        json={
            "title": f"Everyday payments from {fund}",
            "kind": "policy",
            "policy": {
                "fund": fund,
                "max_per_payment": "10000.00",
                "max_per_month": "100000.00",
                "purpose": "Everyday payments",
            },
        },
    )
    assert proposed.status_code == 201, proposed.text
    number = proposed.json()["number"]
    await everyone_agrees(client, world, number)
    return number


async def everyone_agrees(client: httpx.AsyncClient, world: World, number: int) -> None:
    """Every member of the world agrees to proposal ``number`` through the API: it passes."""
    for person in (world.admin, world.steward, world.facilitator, world.member):
        agreed = await client.post(
            f"/api/groups/{world.slug}/proposals/{number}/responses",
            headers=person.headers,
            json={"position": "agree"},
        )
        assert agreed.status_code == 201, agreed.text


async def record_entry(
    client: httpx.AsyncClient, world: World, body: dict[str, Any]
) -> dict[str, Any]:
    """Record an entry through the API as the world's steward; a payment that names no
    decision is made under a standing policy of its fund (``standing_policy``)."""
    if body["kind"] == "disbursement" and "proposal" not in body and "policy" not in body:
        body = {**body, "policy": await standing_policy(client, world, body["fund"])}
    response = await client.post(
        f"/api/groups/{world.slug}/entries", json=body, headers=world.steward.headers
    )
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry

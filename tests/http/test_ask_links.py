"""Asking is easy to find: every public page of a group that takes requests links to its
form, in the visitor's language, and the ask pages carry the group's navigation."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.people import World, build_world

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"?]+)', html))


async def test_the_directory_and_every_public_page_link_to_the_ask_form(
    client: Client, world: World
) -> None:
    ask = f"/g/{world.slug}/ask"
    for path in ("/", f"/g/{world.slug}", f"/g/{world.slug}/ledger", f"/g/{world.slug}/proposals"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert ask in links(page.text), path
        assert "Ask for support" in page.text


async def test_the_group_page_links_to_its_audit_statement(client: Client, world: World) -> None:
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    assert f"/g/{world.slug}/audit.pdf" in links(page.text)


async def test_the_ask_link_speaks_the_visitors_language(client: Client, world: World) -> None:
    page = await client.get("/", headers={**HTML, "Accept-Language": "es-ES,es;q=0.9"})
    assert re.search(r'href="/g/rent-fund/ask" lang="es"[^>]*>Pedir apoyo<', page.text)
    group = await client.get(f"/g/{world.slug}", headers={**HTML, "Accept-Language": "es"})
    assert ">Pedir apoyo</a>" in group.text


async def test_the_ask_pages_carry_the_groups_navigation(client: Client, world: World) -> None:
    english = await client.get(f"/g/{world.slug}/ask", headers=HTML)
    found = links(english.text)
    assert {f"/g/{world.slug}", f"/g/{world.slug}/ledger", f"/g/{world.slug}/proposals"} <= found
    assert re.search(r'href="/g/rent-fund/ask" aria-current="page"', english.text)
    spanish = await client.get(f"/g/{world.slug}/ask?lang=es", headers=HTML)
    assert ">Resumen</a>" in spanish.text
    assert ">Decisiones</a>" in spanish.text


async def test_a_private_groups_ask_page_shows_outsiders_no_other_page(
    client: Client, session: AsyncSession
) -> None:
    private = await build_world(session, slug="quiet-pod", public=False)
    response = await client.put(
        "/api/groups/quiet-pod/support-settings",
        headers=private.admin.headers,
        json={"ask_enabled": True},
    )
    assert response.status_code == 200
    page = await client.get("/g/quiet-pod/ask", headers=HTML)
    assert page.status_code == 200
    assert "/g/quiet-pod/ledger" not in links(page.text)
    assert "/g/quiet-pod" not in links(page.text)
    assert "/g/quiet-pod/ask" in links(page.text)

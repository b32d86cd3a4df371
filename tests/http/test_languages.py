"""Every page reads in the visitor's language: the picker's choice, else the browser's."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def test_a_page_follows_the_browsers_language_and_says_it_varies(
    client: Client, world: World
) -> None:
    english = await client.get("/")
    assert '<html lang="en">' in english.text
    assert ">Groups</a>" in english.text
    spanish = await client.get("/", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert '<html lang="es">' in spanish.text
    assert ">Grupos</a>" in spanish.text
    assert "Saltar al contenido principal" in spanish.text
    # A shared cache keeps one copy per language.
    assert "Accept-Language" in spanish.headers["vary"]


async def test_the_picker_remembers_the_choice_and_goes_back(client: Client, world: World) -> None:
    page = (await client.get(f"/g/{world.slug}")).text
    assert f'href="/language?to=es&amp;next=/g/{world.slug}"' in page
    assert 'lang="es" hreflang="es">Español</a>' in page
    chosen = await client.get(
        "/language", params={"to": "es", "next": f"/g/{world.slug}"}, follow_redirects=False
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"/g/{world.slug}"
    assert "lang=es" in chosen.headers["set-cookie"]
    # The cookie wins over the browser's language, on every page after.
    page = await client.get(f"/g/{world.slug}", headers={"Accept-Language": "en"})
    assert '<html lang="es">' in page.text
    assert 'aria-current="true">Español</a>' in page.text


async def test_the_picker_goes_back_only_to_this_site_and_knows_its_languages(
    client: Client, world: World
) -> None:
    away = await client.get(
        "/language", params={"to": "es", "next": "//evil.example/"}, follow_redirects=False
    )
    assert away.headers["location"] == "/"
    unknown = await client.get("/language", params={"to": "xx"}, headers={"Accept": "text/html"})
    assert unknown.status_code == 400
    assert "xx" in unknown.text
    assert "set-cookie" not in unknown.headers or "lang=" not in unknown.headers["set-cookie"]


async def test_an_error_page_speaks_the_visitors_language(client: Client, world: World) -> None:
    missing = await client.get("/g/no-such-group", headers={"Accept-Language": "es"})
    assert missing.status_code == 404
    assert '<html lang="es">' in missing.text
    assert "Página no encontrada" in missing.text
    assert "Ver los grupos con cuentas abiertas" in missing.text

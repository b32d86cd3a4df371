"""The public pages in Spanish: their words from the catalogue, money and days the Spanish
way ("12.345,50 €", "5 ene 2024"), and none of the English the templates were written in."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.clients import record_entry, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
SPANISH = {"Accept": "text/html", "Accept-Language": "es-ES,es;q=0.9"}
ENGLISH = {"Accept": "text/html", "Accept-Language": "en"}
BIG_DONATION = {
    "kind": "donation",
    "fund": "rent-relief",
    "amount": "12345.50",
    "occurred_on": "2024-01-05",
    "memo": "Herencia de una vecina",
}


def no_english(text: str, *phrases: str) -> None:
    for phrase in phrases:
        assert phrase not in text, phrase


async def propose(client: Client, world: World) -> dict[str, Any]:
    response = await client.post(
        f"/api/groups/{world.slug}/proposals",
        json={
            "title": "Alquiler de R-17",
            "body": "R-17 lleva **dos meses** de retraso.",
            "fund": "rent-relief",
            "amount": "300.00",
            "counterparty": "R-17",
        },
        headers=world.member.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_the_group_page_in_spanish(client: Client, world: World) -> None:
    await record_entry(client, world, BIG_DONATION)
    page = await client.get(f"/g/{world.slug}", headers=SPANISH)
    assert page.status_code == 200
    text = text_of(page.text)
    assert '<html lang="es">' in page.text
    for words in (
        "Dinero del grupo",
        "Sello de integridad",
        "Asientos más recientes",
        "Donativo de 12.345,50 € a Rent relief",
        "Informe de auditoría",
        "Saldo a lo largo del tiempo",
        "5 ene 2024",
    ):
        assert words in text, words
    no_english(
        text,
        "Money held",
        "Integrity seal",
        "Newest entries",
        "Donation of",
        "Audit statement",
        "Balance over time",
        "€12,345.50",
        "Jan 2024",
    )
    # No English age ("5 days ago"); "ago" alone is Spanish's August ("2 ago 2025").
    assert not re.search(r"[a-z] ago\b", text), re.search(r".{40}[a-z] ago\b", text)
    # The same page in English reads as it always did.
    english = text_of((await client.get(f"/g/{world.slug}", headers=ENGLISH)).text)
    assert "Donation of €12,345.50 to Rent relief" in english
    assert "Money held" in english


async def test_the_ledger_page_in_spanish_with_its_filters_errors(
    client: Client, world: World
) -> None:
    await record_entry(client, world, BIG_DONATION)
    page = await client.get(f"/g/{world.slug}/ledger?fund=rent-relief", headers=SPANISH)
    assert page.status_code == 200
    text = text_of(page.text)
    for words in (
        "Libro de cuentas",
        "Todos los asientos de",
        "Asiento n.º 1",
        "+12.345,50 €",
        "Rent relief después: 12.345,50 €",
        "Mostrar asientos",
        "Herencia de una vecina",
    ):
        assert words in text, words
    no_english(text, "Every entry of", "Entry #", "Show entries", "after:", "All funds")
    refused = await client.get(f"/g/{world.slug}/ledger?from=31-01-2024", headers=SPANISH)
    assert refused.status_code == 400
    assert "Escribe la fecha como AAAA-MM-DD" in text_of(refused.text)


async def test_a_proposal_page_in_spanish(client: Client, world: World) -> None:
    await record_entry(client, world, BIG_DONATION)
    proposal = await propose(client, world)
    page = await client.get(f"/g/{world.slug}/proposals/{proposal['number']}", headers=SPANISH)
    assert page.status_code == 200
    text = text_of(page.text)
    for words in (
        "Propuesta 1",
        "Pago de un fondo",
        "Qué se propone",
        "En resumen",
        "Cantidad 300,00 €",
        "Rondas de respuestas",
        "Ronda 1",
        "Recuento en directo",
        "Necesita",  # what happens next, said in Spanish
    ):
        assert words in text, words
    no_english(
        text,
        "What is proposed",
        "In short",
        "Rounds of responses",
        "Live tally",
        "Payment from a fund",
        "Needs ",
        "€300.00",
    )
    english = text_of((await client.get(f"/g/{world.slug}/proposals/1", headers=ENGLISH)).text)
    assert "Amount €300.00" in english
    assert "Needs " in english


async def test_a_bad_day_at_the_period_picker_is_explained_in_spanish(
    client: Client, world: World
) -> None:
    bad = await client.get(f"/g/{world.slug}/audit.pdf?from=2026-13-40", headers=SPANISH)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    text = text_of(bad.text)
    assert "desde: '2026-13-40' no es un día del calendario (escríbelo AAAA-MM-DD)." in text
    assert "is not a day" not in text
    backwards = await client.get(
        f"/g/{world.slug}/audit.pdf?from=2026-01-02&to=2026-01-01", headers=SPANISH
    )
    assert "«desde» no puede ser posterior a «hasta»" in text_of(backwards.text)
